//! Day, week and month windows and chart buckets in an IANA time zone.
//!
//! All instants are `i64` milliseconds since the Unix epoch (UTC) and ranges
//! are half-open `[start, end)`. "Now" is always an argument: the core never
//! reads the clock.
//!
//! **Invariants.**
//! - A local day starts at the first instant that belongs to its date: the
//!   first of two midnights after a fall-back at 24:00, the end of the gap
//!   after a spring-forward at 24:00. A date the zone skipped entirely
//!   (Pacific/Apia, 2011-12-30) is an empty range and never a bucket.
//! - Periods tile time: each period ends where the next one starts, so every
//!   instant belongs to exactly one day, one week (from Monday) and one month.
//! - Nothing panics for any `i64`. Calendar functions clamp instants to
//!   [`MIN_MS`]..=[`MAX_MS`] (UTC years 1 to 9999), so their results saturate
//!   there; chrono's own range (±262,000 years) is never reached.

mod bucket;
mod cover;
mod dates;
mod local;
mod names;
mod zone;

pub use chrono_tz::{TZ_VARIANTS, Tz};

pub use bucket::{
    MAX_BUCKETS, STORAGE_BUCKET_MS, Step, StepParseError, StoredStepError, bucket_edges,
    bucket_start, bucketize, max_bucket_count, storage_bucket,
};
pub use cover::{CoverPiece, UTC_DAY_MS, cover, utc_day};
pub use dates::{DateRangeError, date_range};
pub use local::{MAX_MS, MIN_MS};
pub use names::{PeriodParseError, WindowParseError};
pub use zone::{TimeParseError, UnknownZone, format_rfc3339, parse_rfc3339, parse_tz};

/// How many skipped (empty) periods [`period_range`] steps over at most.
const MAX_EMPTY_SKIPS: usize = 4;

/// A calendar period in the local zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// A local date, from its first instant.
    Day,
    /// Monday 00:00 local to the next Monday 00:00.
    Week,
    /// The 1st 00:00 local to the next 1st 00:00.
    Month,
}

/// A half-open span of time `[start_ms, end_ms)` in ms since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeRange {
    /// The first instant inside the range.
    pub start_ms: i64,
    /// The first instant after the range.
    pub end_ms: i64,
}

impl TimeRange {
    /// A range from `start_ms` (inclusive) to `end_ms` (exclusive).
    pub const fn new(start_ms: i64, end_ms: i64) -> Self {
        TimeRange { start_ms, end_ms }
    }

    /// Whether `ts_ms` lies inside the range.
    pub const fn contains(&self, ts_ms: i64) -> bool {
        self.start_ms <= ts_ms && ts_ms < self.end_ms
    }

    /// Whether the range holds no instant.
    pub const fn is_empty(&self) -> bool {
        self.start_ms >= self.end_ms
    }

    /// The length in milliseconds (0 when empty), saturating at `i64::MAX`.
    pub const fn len_ms(&self) -> i64 {
        if self.is_empty() {
            0
        } else {
            self.end_ms.saturating_sub(self.start_ms)
        }
    }
}

/// The start of the local day, week or month that contains `now_ms`.
///
/// `now_ms` is clamped to [`MIN_MS`]..=[`MAX_MS`].
pub fn period_start(now_ms: i64, tz: Tz, p: Period) -> i64 {
    local::day_start(local::current_key(now_ms, tz, p), tz)
}

/// The whole local period `offset` periods away from the one containing
/// `now_ms`: 0 is the current one, -1 the previous (yesterday, last week, last
/// month), 1 the next.
///
/// The range ends where the following period starts. If the period `offset`
/// calendar steps away has no instants (a date the zone skipped, such as
/// 2011-12-30 in Pacific/Apia), the next non-empty one further in the same
/// direction is returned, so "yesterday" on Apia's 2011-12-31 is 2011-12-29.
/// Offsets beyond the supported years give the first or last supported period.
pub fn period_range(now_ms: i64, tz: Tz, p: Period, offset: i32) -> TimeRange {
    let first = local::current_key(MIN_MS, tz, p);
    let last = local::current_key(MAX_MS, tz, p);
    let current = local::current_key(now_ms, tz, p);
    let mut key = match local::step_key(current, p, i64::from(offset)) {
        Some(key) => key.clamp(first, last),
        None if offset < 0 => first,
        None => last,
    };
    let direction = if offset < 0 { -1 } else { 1 };
    let mut range = TimeRange::new(local::day_start(key, tz), local::next_start(key, tz, p));
    for _ in 0..MAX_EMPTY_SKIPS {
        if !range.is_empty() {
            break;
        }
        match local::step_key(key, p, direction) {
            Some(next) => key = next,
            None => break,
        }
        range = TimeRange::new(local::day_start(key, tz), local::next_start(key, tz, p));
    }
    range
}

/// A named reporting window, relative to "now".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    /// From local midnight to now.
    Today,
    /// The whole previous local day.
    Yesterday,
    /// From Monday 00:00 local to now.
    ThisWeek,
    /// The whole previous local week (Monday to Monday).
    LastWeek,
    /// From the 1st 00:00 local to now.
    ThisMonth,
    /// The whole previous local month.
    LastMonth,
    /// The last `n` hours (of 3,600,000 ms) up to now.
    LastHours(u32),
    /// The last `n` days of 24 hours up to now (elapsed time, not calendar days).
    LastDays(u32),
    /// Everything up to now, from [`MIN_MS`].
    AllTime,
    /// A fixed range, returned as is.
    Range(TimeRange),
}

/// The sum of the values of `points` (`(timestamp_ms, value)`) that lie in
/// `range` (half-open), cleaned of float summation noise ([`crate::num::clean`]).
///
/// ```
/// use pulse_core::window::{TimeRange, sum_in_range};
/// let points = [(0, 0.1), (10, 0.2), (20, 4.0), (-1, 8.0)];
/// assert_eq!(sum_in_range(&points, TimeRange::new(0, 20)), 0.3);
/// assert_eq!(sum_in_range(&points, TimeRange::new(0, 21)), 4.3);
/// assert_eq!(sum_in_range(&points, TimeRange::new(5, 5)), 0.0);
/// ```
pub fn sum_in_range(points: &[(i64, f64)], range: TimeRange) -> f64 {
    let sum: f64 = points
        .iter()
        .filter(|(t, _)| range.contains(*t))
        .map(|(_, v)| v)
        .sum();
    crate::num::clean(sum)
}

/// The range a window covers at `now_ms` in `tz`.
///
/// Windows that run up to now (`Today`, `ThisWeek`, `ThisMonth`, `LastHours`,
/// `LastDays`, `AllTime`) end at `now_ms + 1`, so a sample stamped exactly
/// `now_ms` counts and the range is never empty. `Yesterday`, `LastWeek` and
/// `LastMonth` are whole periods from [`period_range`]. `AllTime` starts at
/// [`MIN_MS`]. `now_ms` is clamped to [`MIN_MS`]..=[`MAX_MS`] first; `Range`
/// is returned unchanged.
pub fn window_range(w: &Window, now_ms: i64, tz: Tz) -> TimeRange {
    let now = local::clamp(now_ms);
    let up_to_now = |start_ms: i64| TimeRange::new(start_ms.max(MIN_MS), now + 1);
    match *w {
        Window::Today => up_to_now(period_start(now, tz, Period::Day)),
        Window::ThisWeek => up_to_now(period_start(now, tz, Period::Week)),
        Window::ThisMonth => up_to_now(period_start(now, tz, Period::Month)),
        Window::Yesterday => period_range(now, tz, Period::Day, -1),
        Window::LastWeek => period_range(now, tz, Period::Week, -1),
        Window::LastMonth => period_range(now, tz, Period::Month, -1),
        Window::LastHours(n) => up_to_now(now - i64::from(n) * 3_600_000),
        Window::LastDays(n) => up_to_now(now - i64::from(n) * 86_400_000),
        Window::AllTime => up_to_now(MIN_MS),
        Window::Range(r) => r,
    }
}
