//! Chart buckets: local hours, days, weeks and months, or fixed UTC steps.

use chrono_tz::Tz;

use super::local::{self, MAX_MS, MIN_MS};
use super::{Period, TimeRange};

/// One hour in milliseconds.
const HOUR_MS: i64 = 3_600_000;

/// The most buckets [`bucket_edges`] and [`bucketize`] produce for one range.
///
/// A range that needs more (an hourly chart over centuries, a 1 ms step over
/// a year) is cut after this many buckets rather than exhausting memory.
pub const MAX_BUCKETS: usize = 1 << 20;

/// The width of the buckets the host stores deltas in: 15 minutes.
///
/// Every local midnight of every zone from 2000 to 2030 falls on a multiple
/// of this step in UTC (tested over all of `chrono_tz::TZ_VARIANTS`), so day,
/// week and month sums can be answered from 15-minute rows without splitting
/// a row across two local days. Checked once over 1970-2000 as well: the only
/// exceptions since 1970 are Africa/Monrovia (-00:44:30) until 1972-01-07 and
/// Pacific/Kiritimati (-10:40) until 1979-10-01.
pub const STORAGE_BUCKET_MS: i64 = 15 * 60 * 1000;

/// The start of the 15-minute UTC storage bucket that holds `ts_ms`.
///
/// Floors towards negative infinity. Saturates at `i64::MIN` for the few
/// instants within 15 minutes of it.
pub fn storage_bucket(ts_ms: i64) -> i64 {
    fixed_floor(ts_ms, STORAGE_BUCKET_MS)
}

/// The width of chart buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Local clock hours. A bucket never straddles an offset change, so a
    /// repeated hour (fall-back) gives two buckets and a 30-minute shift
    /// (Australia/Lord_Howe) gives two half-hour buckets.
    Hour,
    /// Local days, from the first instant of each date.
    Day,
    /// Local weeks, starting Monday.
    Week,
    /// Local calendar months.
    Month,
    /// A fixed number of milliseconds, aligned to the Unix epoch in UTC and
    /// ignoring the zone. Values below 1 are treated as 1.
    Fixed(i64),
}

impl From<Period> for Step {
    fn from(p: Period) -> Self {
        match p {
            Period::Day => Step::Day,
            Period::Week => Step::Week,
            Period::Month => Step::Month,
        }
    }
}

impl Step {
    /// The calendar period of a day, week or month step.
    fn period(self) -> Option<Period> {
        match self {
            Step::Day => Some(Period::Day),
            Step::Week => Some(Period::Week),
            Step::Month => Some(Period::Month),
            Step::Hour | Step::Fixed(_) => None,
        }
    }
}

/// One day of 24 hours in milliseconds.
const DAY_MS: i64 = 24 * HOUR_MS;

/// A local day shortened by a one-hour shift to summer time.
const SHORT_DAY_MS: i64 = 23 * HOUR_MS;

/// Ranges up to this long are charted in hours by default.
const HOURLY_UP_TO_MS: i64 = 2 * DAY_MS;

/// Ranges up to this long (and longer than [`HOURLY_UP_TO_MS`]) are charted
/// in days by default; longer ones in months.
const DAILY_UP_TO_MS: i64 = 120 * DAY_MS;

impl Step {
    /// The step a chart of `range` uses when the caller names none: local
    /// hours up to two days, local days up to 120 days, local months beyond.
    /// An empty range is charted in hours.
    pub const fn default_for(range: TimeRange) -> Step {
        let len = range.len_ms();
        if len <= HOURLY_UP_TO_MS {
            Step::Hour
        } else if len <= DAILY_UP_TO_MS {
            Step::Day
        } else {
            Step::Month
        }
    }

    /// The shortest bucket of this step in ms: the width of a fixed step;
    /// half an hour for local hours (Australia/Lord_Howe shifts by 30
    /// minutes); 23 hours for a day, 7 and 28 such days for a week and a
    /// month (a one-hour spring-forward). Historic shifts of several hours
    /// made a few shorter days, which [`max_bucket_count`] ignores.
    pub const fn shortest_bucket_ms(self) -> i64 {
        match self {
            Step::Fixed(ms) if ms > 1 => ms,
            Step::Fixed(_) => 1,
            Step::Hour => HOUR_MS / 2,
            Step::Day => SHORT_DAY_MS,
            Step::Week => 7 * SHORT_DAY_MS,
            Step::Month => 28 * SHORT_DAY_MS,
        }
    }
}

/// The most whole buckets of `step` that fit in `range`, in any zone: the
/// range's length over the step's [shortest bucket](Step::shortest_bucket_ms),
/// 0 for an empty range. A chart of the range has at most two more, the
/// partial buckets at its ends.
///
/// It costs the same for any range, so a caller can refuse a chart that would
/// be too large before computing a single edge; [`bucket_edges`] gives the
/// exact buckets. Dividing by the shortest bucket overestimates long ranges,
/// up to twice for hours.
pub const fn max_bucket_count(range: TimeRange, step: Step) -> u64 {
    // Both are positive, so the quotient is too.
    (range.len_ms() / step.shortest_bucket_ms()).unsigned_abs()
}

/// Floors `ts_ms` to a multiple of `step` (at least 1), saturating at `i64::MIN`.
fn fixed_floor(ts_ms: i64, step: i64) -> i64 {
    let step = step.max(1);
    ts_ms.saturating_sub(ts_ms.rem_euclid(step))
}

/// The start of the local hour bucket holding `ts_ms` (clamped).
fn hour_floor(ts_ms: i64, tz: Tz) -> i64 {
    let ts = local::clamp(ts_ms);
    let off = local::offset_ms(ts, tz);
    let wall = ts + off;
    // The first hour of the supported range is cut at its start.
    let candidate = (wall - wall.rem_euclid(HOUR_MS) - off).max(MIN_MS);
    if local::offset_ms(candidate, tz) == off {
        return candidate;
    }
    // The offset changed inside this clock hour: the bucket starts at the change.
    // Search for the first instant of (candidate, ts] that has ts's offset.
    let (mut lo, mut hi) = (candidate, ts);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if local::offset_ms(mid, tz) == off {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// The next local hour edge after `edge`: the next whole clock hour, or an
/// earlier offset change.
fn next_hour_edge(edge: i64, tz: Tz) -> i64 {
    let off = local::offset_ms(edge, tz);
    let wall = edge + off;
    let candidate = wall - wall.rem_euclid(HOUR_MS) + HOUR_MS - off;
    if local::offset_ms(candidate - 1, tz) == off {
        return candidate;
    }
    // The offset changes before the next clock hour; that change is an edge.
    // Search for the first instant of (edge, candidate) with another offset.
    let (mut lo, mut hi) = (edge, candidate - 1);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if local::offset_ms(mid, tz) == off {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// The start of the bucket that holds `ts_ms`.
///
/// Hour, day, week and month buckets are local to `tz`; instants outside
/// [`MIN_MS`]..=[`MAX_MS`] are clamped into it first, so the
/// result saturates there. `Fixed` buckets are plain UTC arithmetic.
pub fn bucket_start(ts_ms: i64, tz: Tz, step: Step) -> i64 {
    match step {
        Step::Fixed(ms) => fixed_floor(ts_ms, ms),
        Step::Hour => hour_floor(ts_ms, tz),
        Step::Day | Step::Week | Step::Month => {
            let p = step.period().unwrap_or(Period::Day);
            local::day_start(local::current_key(ts_ms, tz, p), tz)
        }
    }
}

/// The start of the hour or fixed bucket after the one starting at `edge`,
/// or `None` when there is none inside the supported range.
fn next_edge(edge: i64, tz: Tz, step: Step) -> Option<i64> {
    let next = match step {
        Step::Fixed(ms) => edge.checked_add(ms.max(1))?,
        _ if edge >= MAX_MS => return None,
        _ => next_hour_edge(edge, tz),
    };
    // Local edges stop at the supported range; its last bucket holds the rest.
    let inside = matches!(step, Step::Fixed(_)) || next <= MAX_MS;
    (next > edge && inside).then_some(next)
}

/// Collects bucket starts from `first` while `next` yields starts before `end`.
///
/// Returns the starts and the end of the last bucket: `end` unless the list
/// was cut at [`MAX_BUCKETS`].
fn collect_edges(
    first: i64,
    end: i64,
    mut next: impl FnMut(i64) -> Option<i64>,
) -> (Vec<i64>, i64) {
    let mut edge = first;
    let mut edges = vec![edge];
    while let Some(n) = next(edge) {
        if n >= end {
            break;
        }
        if edges.len() == MAX_BUCKETS {
            return (edges, n);
        }
        edges.push(n);
        edge = n;
    }
    (edges, end)
}

/// The bucket starts covering `range` and the end of the last bucket.
fn edges_and_end(range: TimeRange, tz: Tz, step: Step) -> (Vec<i64>, i64) {
    if range.start_ms >= range.end_ms {
        return (Vec::new(), range.end_ms);
    }
    let first = bucket_start(range.start_ms, tz, step);
    let Some(p) = step.period() else {
        return collect_edges(first, range.end_ms, |edge| next_edge(edge, tz, step));
    };
    // Walk the period keys rather than re-deriving each key from its edge.
    let mut key = local::current_key(range.start_ms, tz, p);
    collect_edges(first, range.end_ms, |edge| {
        // A skipped date gives the same start as the next one; step over it.
        for _ in 0..4 {
            key = local::step_key(key, p, 1)?;
            let start = local::day_start(key, tz);
            if start > edge {
                return (start <= MAX_MS).then_some(start);
            }
        }
        None
    })
}

/// The starts of the buckets that cover `range`, strictly increasing.
///
/// The first is `bucket_start(range.start_ms)`, which may lie before the
/// range; each later one is the next bucket start before `range.end_ms`. A
/// date a zone skipped (Pacific/Apia, 2011-12-30) has no bucket. Empty for an
/// empty range; at most [`MAX_BUCKETS`] long.
pub fn bucket_edges(range: TimeRange, tz: Tz, step: Step) -> Vec<i64> {
    edges_and_end(range, tz, step).0
}

/// Sums point values into the buckets covering `range`.
///
/// Returns the bucket starts (as [`bucket_edges`]) and one sum per bucket.
/// Points outside `range` and non-finite values are ignored. Runs in
/// O(points + buckets) when the points are sorted by time; an unsorted point
/// costs a binary search.
pub fn bucketize(
    points: &[(i64, f64)],
    range: TimeRange,
    tz: Tz,
    step: Step,
) -> (Vec<i64>, Vec<f64>) {
    let (edges, end) = edges_and_end(range, tz, step);
    let mut sums = vec![0.0; edges.len()];
    // The first edge is above the range start only when the start was clamped.
    let first = edges.first().map_or(end, |&e| e.max(range.start_ms));
    let mut cursor = 0;
    for &(ts, value) in points {
        if ts < first || ts >= end || !value.is_finite() {
            continue;
        }
        // Sorted input stays in the same bucket or moves to the next one.
        let fits = |i: usize| edges[i] <= ts && edges.get(i + 1).is_none_or(|&next| ts < next);
        if !fits(cursor) {
            cursor = if cursor + 1 < edges.len() && fits(cursor + 1) {
                cursor + 1
            } else {
                // Every point kept is at or after edges[0], so this is >= 1.
                edges.partition_point(|&e| e <= ts).saturating_sub(1)
            };
        }
        if let Some(sum) = sums.get_mut(cursor) {
            *sum += value;
        }
    }
    (edges, sums)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_floor_handles_negatives_and_extremes() {
        assert_eq!(fixed_floor(-1, 900_000), -900_000);
        assert_eq!(fixed_floor(899_999, 900_000), 0);
        assert_eq!(fixed_floor(i64::MIN, 900_000), i64::MIN);
        assert_eq!(fixed_floor(5, 0), 5);
        assert_eq!(fixed_floor(5, -7), 5);
    }

    #[test]
    fn bucketize_unsorted_points_use_binary_search() {
        let range = TimeRange::new(0, 4 * HOUR_MS);
        let points = [
            (3 * HOUR_MS + 1, 1.0),
            (0, 2.0),
            (2 * HOUR_MS, 4.0),
            (4 * HOUR_MS, 100.0),
            (-1, 100.0),
            (HOUR_MS, f64::NAN),
            (HOUR_MS + 5, 8.0),
        ];
        let (edges, sums) = bucketize(&points, range, Tz::UTC, Step::Hour);
        assert_eq!(edges, vec![0, HOUR_MS, 2 * HOUR_MS, 3 * HOUR_MS]);
        assert_eq!(sums, vec![2.0, 8.0, 4.0, 1.0]);
    }

    #[test]
    fn default_steps_by_range_length() {
        let day = 24 * HOUR_MS;
        let rows = [
            (0, Step::Hour),
            (HOUR_MS, Step::Hour),
            (2 * day, Step::Hour),
            (2 * day + 1, Step::Day),
            (30 * day, Step::Day),
            (120 * day, Step::Day),
            (120 * day + 1, Step::Month),
            (MAX_MS - MIN_MS, Step::Month),
        ];
        for (len, want) in rows {
            let range = TimeRange::new(1_000, 1_000 + len);
            assert_eq!(Step::default_for(range), want, "{len} ms");
        }
        assert_eq!(Step::default_for(TimeRange::new(5, -5)), Step::Hour);
    }

    #[test]
    fn max_bucket_counts_divide_by_the_shortest_bucket() {
        let day = 24 * HOUR_MS;
        let rows = [
            // (range length, step, bound)
            (0, Step::Hour, 0),
            (-5, Step::Day, 0),
            (HOUR_MS, Step::Hour, 2),
            (day, Step::Hour, 48),
            (day, Step::Day, 1),
            (23 * HOUR_MS, Step::Day, 1),
            (23 * HOUR_MS - 1, Step::Day, 0),
            (7 * day, Step::Week, 1),
            (365 * day, Step::Month, 13),
            (day, Step::Fixed(900_000), 96),
            (10, Step::Fixed(0), 10),
            (10, Step::Fixed(-3), 10),
            (i64::MAX, Step::Fixed(1), i64::MAX as u64),
        ];
        for (len, step, want) in rows {
            let range = TimeRange::new(0, len);
            assert_eq!(max_bucket_count(range, step), want, "{len} ms, {step}");
        }
    }

    #[test]
    fn max_bucket_counts_bound_the_real_buckets() {
        // Zones with 30-minute shifts, skipped dates, 45-minute offsets and
        // ordinary summer time; ranges of a few buckets up to years.
        let zones = [
            "Australia/Lord_Howe",
            "Pacific/Apia",
            "Pacific/Chatham",
            "Europe/Berlin",
            "America/New_York",
            "UTC",
        ];
        let day = 24 * HOUR_MS;
        // 2011-01-01T00:00:00Z, Apia's skipped 2011-12-30 inside the year.
        let start = 1_293_840_000_000;
        let rows = [
            (Step::Hour, 3 * HOUR_MS),
            (Step::Hour, 400 * day),
            (Step::Day, 3 * day),
            (Step::Day, 400 * day),
            (Step::Week, 3 * 7 * day),
            (Step::Week, 400 * day),
            (Step::Month, 100 * day),
            (Step::Month, 800 * day),
            (Step::Fixed(900_000), day),
        ];
        for zone in zones {
            let tz: Tz = zone.parse().unwrap();
            for (step, len) in rows {
                let range = TimeRange::new(start, start + len);
                let real = bucket_edges(range, tz, step).len() as u64;
                let bound = max_bucket_count(range, step);
                assert!(
                    real <= bound + 2,
                    "{zone} {step} {len}: {real} > {bound} + 2"
                );
                assert!(
                    bound <= 2 * real + 2,
                    "{zone} {step} {len}: {bound} vs {real}"
                );
            }
        }
    }

    #[test]
    fn truncated_edges_do_not_absorb_later_points() {
        let range = TimeRange::new(0, i64::MAX);
        let last = (MAX_BUCKETS as i64 - 1) * 10;
        let points = [(0, 1.0), (last + 9, 2.0), (last + 10, 4.0)];
        let (edges, sums) = bucketize(&points, range, Tz::UTC, Step::Fixed(10));
        assert_eq!(edges.len(), MAX_BUCKETS);
        assert_eq!(edges.last().copied(), Some(last));
        assert_eq!(sums[0], 1.0);
        assert_eq!(sums[MAX_BUCKETS - 1], 2.0);
        assert_eq!(sums.iter().sum::<f64>(), 3.0);
    }

    #[test]
    fn stored_steps_are_calendar_steps_or_whole_buckets() {
        let splits = |t: &str| Err(StoredStepError::SplitsBuckets { text: t.to_owned() });
        for (text, want) in [
            ("1h", Ok(Step::Hour)),
            ("daily", Ok(Step::Day)),
            ("1mo", Ok(Step::Month)),
            ("15m", Ok(Step::Fixed(STORAGE_BUCKET_MS))),
            ("2h", Ok(Step::Fixed(7_200_000))),
            ("900s", Ok(Step::Fixed(STORAGE_BUCKET_MS))),
            ("5m", splits("5m")),
            ("20m", splits("20m")),
            ("1000ms", splits("1000ms")),
        ] {
            assert_eq!(Step::parse_stored(text), want, "{text}");
        }
        assert!(matches!(
            Step::parse_stored("5y"),
            Err(StoredStepError::Unknown(_))
        ));
        assert!(
            Step::parse_stored("5m")
                .unwrap_err()
                .to_string()
                .contains("multiple of 15m")
        );
    }
}

/// A step name that [`Step::from_str`](std::str::FromStr) rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown step {text:?}: use hour, day, week, month (or 1h, 1d, 1w, 1mo) or a fixed width such as 15m, 90s, 2h"
)]
pub struct StepParseError {
    /// The rejected text.
    pub text: String,
}

/// A step that [`Step::parse_stored`] rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoredStepError {
    /// Not a step at all.
    #[error(transparent)]
    Unknown(#[from] StepParseError),
    /// A fixed width that splits the storage buckets.
    #[error("a fixed step must be a multiple of 15m (the storage bucket), got {text:?}")]
    SplitsBuckets {
        /// The rejected text.
        text: String,
    },
}

impl Step {
    /// A step for charts over stored history: any [`Step`] name, but a
    /// [`Step::Fixed`] width must be a whole number of
    /// [`STORAGE_BUCKET_MS`] buckets, since history is stored per bucket
    /// and a narrower or ragged step would show buckets it cannot split.
    ///
    /// ```
    /// use pulse_core::window::Step;
    /// assert_eq!(Step::parse_stored("30m"), Ok(Step::Fixed(1_800_000)));
    /// assert!(Step::parse_stored("20m").is_err());
    /// ```
    pub fn parse_stored(text: &str) -> Result<Step, StoredStepError> {
        match text.parse::<Step>()? {
            Step::Fixed(ms) if ms % STORAGE_BUCKET_MS != 0 => Err(StoredStepError::SplitsBuckets {
                text: text.to_owned(),
            }),
            step => Ok(step),
        }
    }
}

/// The one grammar for step names, shared by the HTTP API and the JS bindings.
///
/// `hour`/`hourly`/`1h`, `day`/`daily`/`1d`, `week`/`weekly`/`1w` and
/// `month`/`monthly`/`1mo` are local calendar steps; any other `<n><unit>`
/// with unit `ms`, `s`, `m`, `h` or `d` is a [`Step::Fixed`] width (so `2h` is
/// a fixed two hours, while `1h` is a local clock hour).
impl std::str::FromStr for Step {
    type Err = StepParseError;

    fn from_str(text: &str) -> Result<Step, StepParseError> {
        let t = text.trim().to_ascii_lowercase();
        match t.as_str() {
            "hour" | "hourly" | "1h" => return Ok(Step::Hour),
            "day" | "daily" | "1d" => return Ok(Step::Day),
            "week" | "weekly" | "1w" => return Ok(Step::Week),
            "month" | "monthly" | "1mo" => return Ok(Step::Month),
            _ => {}
        }
        let err = || StepParseError {
            text: text.to_owned(),
        };
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        let (num, unit) = t.split_at(digits);
        let n: i64 = num.parse().map_err(|_| err())?;
        let unit_ms = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(err()),
        };
        n.checked_mul(unit_ms)
            .filter(|ms| *ms > 0)
            .map(Step::Fixed)
            .ok_or_else(err)
    }
}

/// The canonical name, which parses back to the same step.
impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Step::Hour => f.write_str("1h"),
            Step::Day => f.write_str("1d"),
            Step::Week => f.write_str("1w"),
            Step::Month => f.write_str("1mo"),
            Step::Fixed(ms) if ms > 0 && ms % 60_000 == 0 => write!(f, "{}m", ms / 60_000),
            Step::Fixed(ms) if ms > 0 && ms % 1_000 == 0 => write!(f, "{}s", ms / 1_000),
            Step::Fixed(ms) => write!(f, "{}ms", ms.max(1)),
        }
    }
}

#[cfg(test)]
mod step_name_tests {
    use super::Step;

    #[test]
    fn step_names_parse() {
        assert_eq!("day".parse(), Ok(Step::Day));
        assert_eq!("Hourly".parse(), Ok(Step::Hour));
        assert_eq!("1h".parse(), Ok(Step::Hour));
        assert_eq!("1mo".parse(), Ok(Step::Month));
        assert_eq!("1w".parse(), Ok(Step::Week));
        assert_eq!("15m".parse(), Ok(Step::Fixed(900_000)));
        assert_eq!("60s".parse(), Ok(Step::Fixed(60_000)));
        assert_eq!("2h".parse(), Ok(Step::Fixed(7_200_000)));
        assert_eq!("250ms".parse(), Ok(Step::Fixed(250)));
        for bad in ["0m", "m", "5y", "-5m", "99999999999999999999d", ""] {
            assert!(bad.parse::<Step>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn step_names_round_trip() {
        for step in [
            Step::Hour,
            Step::Day,
            Step::Week,
            Step::Month,
            Step::Fixed(900_000),
            Step::Fixed(3_600_000),
            Step::Fixed(90_000),
            Step::Fixed(1_500),
            Step::Fixed(250),
        ] {
            assert_eq!(step.to_string().parse(), Ok(step), "{step}");
        }
        assert_eq!(Step::Fixed(900_000).to_string(), "15m");
    }
}
