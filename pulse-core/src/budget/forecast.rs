//! Where a period will end: spent so far plus, for every hour still to
//! come, the rate of the same local hour in recent weeks.
//!
//! # How forecasts work
//!
//! ```text
//! projected = spent so far + Σ over the time left in the period of
//!             (rate of that hour's slot) × (hours of that slot still to come)
//! ```
//!
//! 1. **Slots.** Every instant has a slot: its local hour of the week
//!    (Monday 00–01 … Sunday 23–24, 168 slots) for week and month budgets, or
//!    its local hour of the day (24 slots) for day budgets ([`Season`]).
//! 2. **Rates.** The look-back window is the last `lookback_weeks` weeks
//!    (default 4) before now, cut to what the store covers. A slot's rate is
//!    the spend in the window's 15-minute buckets of that slot divided by the
//!    hours those buckets span: the mean of "Mondays 14:00–15:00" over the
//!    last four Mondays, in spend per hour. Quiet buckets count as zero, so
//!    nights and weekends keep their low rates instead of borrowing the
//!    working day's.
//! 3. **Fallback.** A slot the window never saw (less than a week of
//!    history, or none) uses the average hourly rate of the period so far:
//!    `spent / hours elapsed since the period started` (0 at its first
//!    instant).
//! 4. **Time left.** From now to the period's end, cut at the 15-minute
//!    grid; the piece of the current bucket counts pro rata. A 23- or 25-hour
//!    day simply has one slot fewer or more to add.
//!
//! **Checking one by hand.** A month budget, now = Friday 2026-03-20 12:00
//! UTC. Every weekday 09:00–17:00 of the last four weeks cost $4 per hour,
//! all other hours nothing, so March so far cost 14 working days × $32 +
//! 3 hours × $4 = $460. Left: the rest of the 20th (12–17, 5 hours) and the
//! 23rd–27th and 30th–31st (7 days × 8 hours) = 61 hours at $4; projected =
//! 460 + 244 = $704, which is exactly what March will cost. A straight line
//! (460 / 19.5 days × 31 days) says $731, and on Sunday night (480 / 21.96
//! days × 31 days) $678: it moves with the weekday of "now", the slots do not.
//!
//! [`Forecast`] returns the inputs beside the result (window, fallback rate,
//! the rate of each slot still to come and how many hours of it remain), so
//! the API can show the arithmetic.

use chrono::{DateTime, Datelike, Timelike, Weekday};

use crate::num::clean;
use crate::window::{MAX_BUCKETS, Period, STORAGE_BUCKET_MS, TimeRange, Tz, storage_bucket};

use super::history::History;

const HOUR_MS: f64 = 3_600_000.0;
const WEEK_MS: i64 = 7 * 86_400_000;

/// How instants are grouped into slots that share a rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Season {
    /// The local hour of the day (24 slots): the default for day budgets.
    HourOfDay,
    /// The local hour of the week (168 slots): the default for week and
    /// month budgets, so weekends keep their own rate.
    HourOfWeek,
}

impl Season {
    /// The default season for a budget period.
    pub fn for_period(p: Period) -> Season {
        match p {
            Period::Day => Season::HourOfDay,
            Period::Week | Period::Month => Season::HourOfWeek,
        }
    }
}

/// The parameters of [`forecast`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ForecastParams {
    /// How slots are formed.
    pub season: Season,
    /// How many weeks before now the rates come from (at least 1 is used).
    pub lookback_weeks: u32,
}

impl ForecastParams {
    /// The look-back of 4 weeks used unless configured otherwise.
    pub const DEFAULT_LOOKBACK_WEEKS: u32 = 4;

    /// The defaults for a budget period: [`Season::for_period`], 4 weeks.
    pub fn for_period(p: Period) -> ForecastParams {
        ForecastParams {
            season: Season::for_period(p),
            lookback_weeks: Self::DEFAULT_LOOKBACK_WEEKS,
        }
    }
}

impl Default for ForecastParams {
    /// Hour of the week, 4 weeks (the month defaults).
    fn default() -> Self {
        ForecastParams::for_period(Period::Month)
    }
}

/// A slot: a local hour of the day, and of the week when `weekday` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HourSlot {
    /// The local weekday ([`Season::HourOfWeek`]) or `None` ([`Season::HourOfDay`]).
    pub weekday: Option<Weekday>,
    /// The local clock hour, 0 to 23.
    pub hour: u32,
}

impl HourSlot {
    /// The slot of the instant `ts_ms` in `tz`.
    pub fn of(ts_ms: i64, tz: Tz, season: Season) -> HourSlot {
        let local = DateTime::from_timestamp_millis(ts_ms)
            .unwrap_or_default()
            .with_timezone(&tz);
        HourSlot {
            weekday: match season {
                Season::HourOfWeek => Some(local.weekday()),
                Season::HourOfDay => None,
            },
            hour: local.hour(),
        }
    }

    /// Orders slots from Monday 00:00 on.
    fn order(self) -> u32 {
        self.weekday.map_or(0, |d| d.num_days_from_monday()) * 24 + self.hour
    }
}

/// The rate used for one slot still to come.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlotRate {
    /// The slot.
    pub slot: HourSlot,
    /// Spend per hour used for it.
    pub rate_per_hour: f64,
    /// Hours of this slot the look-back window observed (0: the fallback
    /// rate was used).
    pub observed_hours: f64,
    /// Hours of this slot left in the period.
    pub remaining_hours: f64,
}

/// A projection and the inputs that produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// The period projected.
    pub period: TimeRange,
    /// "Now", moved into the period if it was outside.
    pub now_ms: i64,
    /// The spend so far, as given.
    pub spent: f64,
    /// The projected value at the period's end (cleaned of float noise).
    pub projected: f64,
    /// The parameters used.
    pub params: ForecastParams,
    /// The look-back window actually read: the last weeks before now, cut to
    /// the history's coverage (empty when there is none).
    pub window: TimeRange,
    /// The period's average rate so far, used for slots without history.
    pub fallback_rate_per_hour: f64,
    /// Hours from now to the period's end.
    pub remaining_hours: f64,
    /// Of those, the hours priced at the fallback rate.
    pub fallback_hours: f64,
    /// Each slot still to come, in week order from Monday 00:00.
    pub slots: Vec<SlotRate>,
}

/// Projects the value at the end of `period` (see the module docs).
///
/// `spent` is the value in `[period.start_ms, now_ms)`, as the store sums it;
/// `history` holds the store's 15-minute buckets (the current period's
/// included, they are part of the recent weeks). `now_ms` is clamped into the
/// period: at or after its end the projection is `spent`.
///
/// ```
/// use pulse_core::budget::{ForecastParams, History, forecast};
/// use pulse_core::window::{TimeRange, Tz};
/// const H: i64 = 3_600_000;
/// // Two weeks of history at 1.0 per 15 minutes (4 per hour).
/// let buckets: Vec<(i64, f64)> = (0..14 * 96).map(|i| (i * H / 4, 1.0)).collect();
/// let history = History::new(TimeRange::new(0, 14 * 24 * H), &buckets);
/// // A 10-hour period, 4 hours gone with 16 spent: 6 hours left at 4 per hour.
/// let period = TimeRange::new(10 * 24 * H, 10 * 24 * H + 10 * H);
/// let f = forecast(period, period.start_ms + 4 * H, 16.0, &history, Tz::UTC, &ForecastParams::default());
/// assert_eq!(f.projected, 40.0);
/// ```
pub fn forecast(
    period: TimeRange,
    now_ms: i64,
    spent: f64,
    history: &History<'_>,
    tz: Tz,
    params: &ForecastParams,
) -> Forecast {
    let now = now_ms.clamp(period.start_ms, period.end_ms.max(period.start_ms));
    let elapsed_hours = now.saturating_sub(period.start_ms) as f64 / HOUR_MS;
    let fallback = if elapsed_hours > 0.0 {
        spent / elapsed_hours
    } else {
        0.0
    };

    let lookback = i64::from(params.lookback_weeks.max(1)).saturating_mul(WEEK_MS);
    let window = TimeRange::new(
        now.saturating_sub(lookback).max(history.covered.start_ms),
        now.min(history.covered.end_ms),
    );
    let observed = observe(history, window, tz, params.season);

    let mut slots: Vec<SlotRate> = Vec::new();
    for (t, end) in pieces(TimeRange::new(now, period.end_ms)) {
        let slot = HourSlot::of(t, tz, params.season);
        let hours = (end - t) as f64 / HOUR_MS;
        match slots.iter_mut().find(|s| s.slot == slot) {
            Some(s) => s.remaining_hours += hours,
            None => {
                let (value, seen_hours) = observed
                    .iter()
                    .find(|o| o.0 == slot)
                    .map_or((0.0, 0.0), |o| (o.1, o.2));
                let rate_per_hour = if seen_hours > 0.0 {
                    value / seen_hours
                } else {
                    fallback
                };
                slots.push(SlotRate {
                    slot,
                    rate_per_hour,
                    observed_hours: seen_hours,
                    remaining_hours: hours,
                });
            }
        }
    }
    slots.sort_by_key(|s| s.slot.order());

    let remaining_hours = period.end_ms.max(now).saturating_sub(now) as f64 / HOUR_MS;
    let fallback_hours = slots
        .iter()
        .filter(|s| s.observed_hours == 0.0)
        .map(|s| s.remaining_hours)
        .sum();
    let to_come: f64 = slots
        .iter()
        .map(|s| s.rate_per_hour * s.remaining_hours)
        .sum();
    Forecast {
        period,
        now_ms: now,
        spent,
        projected: clean(spent + to_come),
        params: *params,
        window,
        fallback_rate_per_hour: fallback,
        remaining_hours,
        fallback_hours,
        slots,
    }
}

/// Per slot seen in `window`: (spend, hours observed).
fn observe(
    history: &History<'_>,
    window: TimeRange,
    tz: Tz,
    season: Season,
) -> Vec<(HourSlot, f64, f64)> {
    let values = history.bucket_values(window);
    let mut observed: Vec<(HourSlot, f64, f64)> = Vec::new();
    for start in history.whole_slots(window) {
        let slot = HourSlot::of(start, tz, season);
        let value = values.get(&start).copied().unwrap_or(0.0);
        let hours = STORAGE_BUCKET_MS as f64 / HOUR_MS;
        match observed.iter_mut().find(|o| o.0 == slot) {
            Some(o) => {
                o.1 += value;
                o.2 += hours;
            }
            None => observed.push((slot, value, hours)),
        }
    }
    observed
}

/// `range` cut at the 15-minute storage grid: `(start, end)` pieces, at most
/// [`MAX_BUCKETS`] of them.
fn pieces(range: TimeRange) -> impl Iterator<Item = (i64, i64)> {
    let mut t = range.start_ms;
    std::iter::from_fn(move || {
        if t >= range.end_ms {
            return None;
        }
        let end = storage_bucket(t)
            .saturating_add(STORAGE_BUCKET_MS)
            .min(range.end_ms);
        let piece = (t, end);
        t = end;
        Some(piece)
    })
    .take(MAX_BUCKETS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::current_period;
    use crate::window::{parse_rfc3339, parse_tz};

    const H: i64 = 3_600_000;
    const Q: i64 = STORAGE_BUCKET_MS;

    fn at(text: &str) -> i64 {
        parse_rfc3339(text).unwrap()
    }

    /// Buckets over `range` with `per_hour(ts)` spend per hour at each bucket.
    fn buckets(range: TimeRange, per_hour: impl Fn(i64) -> f64) -> Vec<(i64, f64)> {
        (range.start_ms / Q..range.end_ms / Q)
            .map(|i| (i * Q, per_hour(i * Q) / 4.0))
            .filter(|b| b.1 != 0.0)
            .collect()
    }

    fn sum(rows: &[(i64, f64)], range: TimeRange) -> f64 {
        crate::window::sum_in_range(rows, range)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn flat_rate_is_an_exact_line() {
        // (zone, now, period)
        let rows = [
            ("UTC", "2026-03-10T12:00:00Z", Period::Month),
            (
                "America/New_York",
                "2026-03-10T12:07:00-04:00",
                Period::Month,
            ),
            ("Asia/Kathmandu", "2026-06-03T01:00:00+05:45", Period::Week),
            (
                "Australia/Lord_Howe",
                "2026-10-04T09:00:00+11:00",
                Period::Day,
            ),
            (
                "Pacific/Kiritimati",
                "2026-01-31T23:50:00+14:00",
                Period::Month,
            ),
        ];
        for (zone, now, period) in rows {
            let tz = parse_tz(zone).unwrap();
            let now = at(now);
            let p = current_period(period, now, tz).range;
            let covered = TimeRange::new(now - 6 * WEEK_MS, now);
            let rows = buckets(covered, |_| 2.0);
            let spent = 2.0 * (now - p.start_ms) as f64 / H as f64;
            let f = forecast(
                p,
                now,
                spent,
                &History::new(covered, &rows),
                tz,
                &ForecastParams::for_period(period),
            );
            let want = 2.0 * p.len_ms() as f64 / H as f64;
            assert!(
                close(f.projected, want),
                "{zone}: {} vs {want}",
                f.projected
            );
            assert_eq!(f.fallback_hours, 0.0, "{zone}");
            assert!(close(f.remaining_hours, (p.end_ms - now) as f64 / H as f64));
        }
    }

    #[test]
    fn the_weekly_pattern_is_respected() {
        // The worked example of the module docs: $4/h on weekdays 09–17 UTC.
        let tz = Tz::UTC;
        let per_hour = |ts: i64| {
            let s = HourSlot::of(ts, tz, Season::HourOfWeek);
            let weekday = s.weekday.is_some_and(|d| d.num_days_from_monday() < 5);
            if weekday && (9..17).contains(&s.hour) {
                4.0
            } else {
                0.0
            }
        };
        let now = at("2026-03-20T12:00:00Z");
        let p = current_period(Period::Month, now, tz).range;
        let covered = TimeRange::new(now - 5 * WEEK_MS, now);
        let rows = buckets(covered, per_hour);
        let spent = sum(&rows, TimeRange::new(p.start_ms, now));
        assert_eq!(spent, 460.0);
        let f = forecast(
            p,
            now,
            spent,
            &History::new(covered, &rows),
            tz,
            &ForecastParams::default(),
        );
        assert_eq!(f.projected, 704.0);
        assert_eq!(f.projected, sum(&buckets(p, per_hour), p));
        assert_eq!(f.slots.len(), 168);
        let monday_10 = f
            .slots
            .iter()
            .find(|s| s.slot.weekday == Some(Weekday::Mon) && s.slot.hour == 10)
            .unwrap();
        let used = (
            monday_10.rate_per_hour,
            monday_10.observed_hours,
            monday_10.remaining_hours,
        );
        assert_eq!(used, (4.0, 4.0, 2.0));
        // Sunday night: the line would say 678, the slots still say 704.
        let sunday = at("2026-03-22T23:00:00Z");
        let covered = TimeRange::new(covered.start_ms, sunday);
        let rows = buckets(covered, per_hour);
        let spent = sum(&rows, TimeRange::new(p.start_ms, sunday));
        assert_eq!(spent, 480.0);
        let history = History::new(covered, &rows);
        let f = forecast(p, sunday, spent, &history, tz, &ForecastParams::default());
        assert_eq!(f.projected, 704.0);
        // The hour-of-day season averages weekends into working hours: 20 of
        // the last 28 days worked, so 4 × 20/28 per hour for 9 days × 8 hours.
        let daily = ForecastParams {
            season: Season::HourOfDay,
            lookback_weeks: 4,
        };
        let f = forecast(p, sunday, spent, &history, tz, &daily);
        assert!(
            close(f.projected, 480.0 + 72.0 * 4.0 * 20.0 / 28.0),
            "{}",
            f.projected
        );
    }

    #[test]
    fn without_history() {
        let tz = Tz::UTC;
        let now = at("2026-03-11T00:00:00Z");
        let p = current_period(Period::Month, now, tz).range;
        // Covered but quiet: nothing more will be spent.
        let quiet = History::new(TimeRange::new(now - 5 * WEEK_MS, now), &[]);
        let f = forecast(p, now, 30.0, &quiet, tz, &ForecastParams::default());
        assert_eq!((f.projected, f.fallback_hours), (30.0, 0.0));
        // Nothing covered: the period's own rate, 30 in 10 days → 93 in 31.
        let none = History::new(TimeRange::new(now, now), &[]);
        let f = forecast(p, now, 30.0, &none, tz, &ForecastParams::default());
        assert_eq!(f.projected, 93.0);
        assert_eq!(f.fallback_rate_per_hour, 0.125);
        assert_eq!(f.fallback_hours, f.remaining_hours);
        assert!(f.window.is_empty());
        // At the first instant there is no rate at all; after the end, no time left.
        assert_eq!(
            forecast(p, p.start_ms, 0.0, &none, tz, &ForecastParams::default()).projected,
            0.0
        );
        assert_eq!(
            forecast(p, p.end_ms + H, 7.0, &none, tz, &ForecastParams::default()).projected,
            7.0
        );
    }

    #[test]
    fn partial_history_mixes_slots_and_fallback() {
        // Three days of history at 1/h; a week budget on day 4 of the week.
        let tz = Tz::UTC;
        let now = at("2026-03-12T00:00:00Z"); // Thursday
        let p = current_period(Period::Week, now, tz).range;
        let covered = TimeRange::new(at("2026-03-09T00:00:00Z"), now);
        let rows = buckets(covered, |_| 1.0);
        let f = forecast(
            p,
            now,
            72.0,
            &History::new(covered, &rows),
            tz,
            &ForecastParams::default(),
        );
        // Thu–Sun were never seen: fallback rate 72 / 72 h = 1/h. The result is the line.
        assert_eq!(f.fallback_hours, 96.0);
        assert_eq!(f.projected, 168.0);
    }

    #[test]
    fn dst_days_have_their_own_length() {
        let tz = parse_tz("America/New_York").unwrap();
        // (now, hours in the day)
        for (now, hours) in [
            ("2026-03-08T00:30:00-05:00", 23.0),
            ("2026-11-01T00:30:00-04:00", 25.0),
        ] {
            let now = at(now);
            let p = current_period(Period::Day, now, tz).range;
            let covered = TimeRange::new(now - 4 * WEEK_MS, now);
            let rows = buckets(covered, |_| 1.0);
            let spent = sum(&rows, TimeRange::new(p.start_ms, now));
            assert_eq!(spent, 0.5);
            let f = forecast(
                p,
                now,
                spent,
                &History::new(covered, &rows),
                tz,
                &ForecastParams::for_period(Period::Day),
            );
            assert_eq!(f.projected, hours);
            // The repeated 01:00 hour counts twice, the skipped 02:00 not at all.
            let one = f.slots.iter().find(|s| s.slot.hour == 1).unwrap();
            assert_eq!(one.remaining_hours, if hours == 25.0 { 2.0 } else { 1.0 });
            assert_eq!(f.slots.iter().any(|s| s.slot.hour == 2), hours != 23.0);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// For any zone, period, "now" and non-negative history: the
        /// projection is finite and at least the spend so far, and the slots
        /// account for exactly the time left.
        #[test]
        fn projection_accounts_for_the_time_left(
            zone in 0..6usize,
            period in proptest::prop_oneof![
                proptest::strategy::Just(Period::Day),
                proptest::strategy::Just(Period::Week),
                proptest::strategy::Just(Period::Month)
            ],
            now in 946_684_800_000i64..1_893_456_000_000,
            values in proptest::collection::vec(0.0f64..5.0, 0..400),
            spent in 0.0f64..1000.0,
        ) {
            let zones = ["America/New_York", "Asia/Kathmandu", "Australia/Eucla",
                         "Pacific/Kiritimati", "Australia/Lord_Howe", "Europe/London"];
            let tz = parse_tz(zones[zone]).unwrap();
            let p = current_period(period, now, tz).range;
            let covered = TimeRange::new(now - 3 * WEEK_MS, now);
            // Spread the values over the covered span, several per bucket at times.
            let rows: Vec<(i64, f64)> = values
                .iter()
                .enumerate()
                .map(|(i, &v)| (covered.start_ms + (i as i64 * 7_919_000) % (3 * WEEK_MS), v))
                .collect();
            let f = forecast(p, now, spent, &History::new(covered, &rows), tz, &ForecastParams::for_period(period));
            proptest::prop_assert!(f.projected.is_finite());
            proptest::prop_assert!(f.projected >= crate::num::clean(spent));
            let slot_hours: f64 = f.slots.iter().map(|s| s.remaining_hours).sum();
            proptest::prop_assert!(close(slot_hours, f.remaining_hours));
            proptest::prop_assert!(close(f.remaining_hours, (p.end_ms - now) as f64 / H as f64));
            proptest::prop_assert!(f.fallback_hours <= f.remaining_hours + 1e-9);
        }
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let tz = parse_tz("Pacific/Apia").unwrap();
        let rows = [
            (0, f64::NAN),
            (Q, f64::INFINITY),
            (i64::MIN, 1.0),
            (i64::MAX, 1.0),
        ];
        let all = TimeRange::new(i64::MIN, i64::MAX);
        for period in [
            TimeRange::new(5, 5),
            TimeRange::new(10, 0),
            TimeRange::new(0, 40 * H),
        ] {
            for now in [i64::MIN, 3 * H, i64::MAX] {
                let f = forecast(
                    period,
                    now,
                    1.0,
                    &History::new(all, &rows),
                    tz,
                    &ForecastParams::default(),
                );
                assert!(f.projected.is_finite());
            }
        }
    }
}
