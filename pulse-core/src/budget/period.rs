//! The budget period an instant falls in, and the key that names it.
//!
//! Ranges come from [`crate::window::period_range`], so a budget period is
//! exactly the dashboard's day, week or month: local, half-open, 23 or 25
//! hours on a daylight-saving day, and tiling time without gaps.
//!
//! The [`PeriodKey`] is the period's first local date, written so that a
//! person recognises it: `2026-03-08` (day), `2026-W10` (ISO week, which
//! starts on Monday like pulse's weeks) and `2026-03` (month). Keys are part
//! of alert identities: when the key changes, every threshold re-arms.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Timelike};

use crate::window::{Period, TimeRange, Tz, period_range};

/// A stable name for one budget period (or, for spikes, one local hour).
///
/// Keys of one kind of period sort in time order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeriodKey(String);

impl PeriodKey {
    /// The key of the period of kind `p` whose first local date is `first`.
    pub fn of(first: NaiveDate, p: Period) -> PeriodKey {
        PeriodKey(match p {
            Period::Day => date_text(first),
            Period::Week => {
                let week = first.iso_week();
                format!("{:04}-W{:02}", week.year(), week.week())
            }
            Period::Month => format!("{:04}-{:02}", first.year(), first.month()),
        })
    }

    /// The key of a local clock hour: `2026-03-08T14`.
    pub fn hour(date: NaiveDate, hour: u32) -> PeriodKey {
        PeriodKey(format!("{}T{hour:02}", date_text(date)))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PeriodKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `YYYY-MM-DD`, with integer formatting only.
fn date_text(d: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// One budget period: what it is, when it runs, and its key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BudgetPeriod {
    /// Day, week or month.
    pub period: Period,
    /// From the period's first instant (inclusive) to the next period's
    /// first instant (exclusive), in ms since the epoch.
    pub range: TimeRange,
    /// The period's name, see [`PeriodKey`].
    pub key: PeriodKey,
}

/// The local period of kind `period` that contains `now_ms` in `tz`.
///
/// `now_ms` is clamped to [`crate::window::MIN_MS`]..=[`crate::window::MAX_MS`].
///
/// ```
/// use pulse_core::budget::current_period;
/// use pulse_core::window::{Period, parse_rfc3339, parse_tz};
/// let tz = parse_tz("America/New_York").unwrap();
/// let now = parse_rfc3339("2026-03-08T12:00:00-04:00").unwrap();
/// let day = current_period(Period::Day, now, tz);
/// assert_eq!(day.key.as_str(), "2026-03-08");
/// assert_eq!(day.range.len_ms(), 23 * 3_600_000);
/// assert_eq!(current_period(Period::Week, now, tz).key.as_str(), "2026-W10");
/// assert_eq!(current_period(Period::Month, now, tz).key.as_str(), "2026-03");
/// ```
pub fn current_period(period: Period, now_ms: i64, tz: Tz) -> BudgetPeriod {
    let range = period_range(now_ms, tz, period, 0);
    // The first instant of a period always shows its first date on the local
    // clock, even after a gap or a repeated hour at midnight.
    let first = local_time(range.start_ms, tz).0;
    BudgetPeriod {
        period,
        range,
        key: PeriodKey::of(first, period),
    }
}

/// The local date and clock hour of an instant.
pub(crate) fn local_time(ts_ms: i64, tz: Tz) -> (NaiveDate, u32) {
    // Out-of-range instants (beyond ±262,000 years) read as the epoch; the
    // callers only pass clamped or stored instants.
    let local = DateTime::from_timestamp_millis(ts_ms)
        .unwrap_or_default()
        .with_timezone(&tz);
    (local.date_naive(), local.hour())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::{parse_rfc3339, parse_tz};

    const HOUR: i64 = 3_600_000;

    #[test]
    fn keys_and_lengths() {
        // (zone, instant, period, key, hours in the period)
        let rows = [
            (
                "America/New_York",
                "2026-03-08T01:59:00-05:00",
                Period::Day,
                "2026-03-08",
                23,
            ),
            (
                "America/New_York",
                "2026-11-01T23:59:00-05:00",
                Period::Day,
                "2026-11-01",
                25,
            ),
            (
                "America/New_York",
                "2026-11-02T00:00:00-05:00",
                Period::Day,
                "2026-11-02",
                24,
            ),
            (
                "Europe/Berlin",
                "2026-03-29T12:00:00+02:00",
                Period::Week,
                "2026-W13",
                7 * 24 - 1,
            ),
            (
                "Europe/Berlin",
                "2026-03-30T00:00:00+02:00",
                Period::Week,
                "2026-W14",
                7 * 24,
            ),
            (
                "Europe/Berlin",
                "2026-03-01T00:00:00+01:00",
                Period::Month,
                "2026-03",
                31 * 24 - 1,
            ),
            (
                "Europe/Berlin",
                "2026-02-28T23:59:59+01:00",
                Period::Month,
                "2026-02",
                28 * 24,
            ),
            // ISO week 1 of 2027 starts on Monday 2027-01-04; 2026-12-31 is in 2026-W53.
            (
                "UTC",
                "2026-12-31T10:00:00Z",
                Period::Week,
                "2026-W53",
                7 * 24,
            ),
            (
                "UTC",
                "2027-01-04T00:00:00Z",
                Period::Week,
                "2027-W01",
                7 * 24,
            ),
            (
                "Asia/Kathmandu",
                "2026-01-01T00:00:00+05:45",
                Period::Day,
                "2026-01-01",
                24,
            ),
            (
                "Asia/Kathmandu",
                "2025-12-31T23:59:59+05:45",
                Period::Day,
                "2025-12-31",
                24,
            ),
            (
                "Australia/Eucla",
                "2026-06-15T00:00:00+08:45",
                Period::Month,
                "2026-06",
                30 * 24,
            ),
            (
                "Pacific/Kiritimati",
                "2026-01-01T00:00:00+14:00",
                Period::Month,
                "2026-01",
                31 * 24,
            ),
            (
                "Pacific/Kiritimati",
                "2025-12-31T23:59:59+14:00",
                Period::Month,
                "2025-12",
                31 * 24,
            ),
            // Lord Howe shifts by 30 minutes: a 23.5-hour day.
            (
                "Australia/Lord_Howe",
                "2026-10-04T12:00:00+11:00",
                Period::Day,
                "2026-10-04",
                23,
            ),
            // Apia skipped 2011-12-30: the day before lasts 24 hours, the next starts on the 31st.
            (
                "Pacific/Apia",
                "2011-12-29T23:59:59-10:00",
                Period::Day,
                "2011-12-29",
                24,
            ),
            (
                "Pacific/Apia",
                "2011-12-31T00:00:00+14:00",
                Period::Day,
                "2011-12-31",
                24,
            ),
        ];
        for (zone, at, period, key, hours) in rows {
            let tz = parse_tz(zone).unwrap();
            let now = parse_rfc3339(at).unwrap();
            let p = current_period(period, now, tz);
            assert_eq!(p.key.as_str(), key, "{zone} {at}");
            assert!(p.range.contains(now), "{zone} {at}");
            let len = p.range.len_ms();
            if zone == "Australia/Lord_Howe" {
                assert_eq!(len, hours * HOUR + HOUR / 2, "{zone} {at}");
            } else {
                assert_eq!(len, hours * HOUR, "{zone} {at}");
            }
            // The next period has another key and starts where this one ends.
            let next = current_period(period, p.range.end_ms, tz);
            assert_ne!(next.key, p.key);
            assert!(next.key > p.key);
            assert_eq!(next.range.start_ms, p.range.end_ms);
        }
    }

    #[test]
    fn hour_keys() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        assert_eq!(PeriodKey::hour(d, 4).as_str(), "2026-03-08T04");
        assert_eq!(PeriodKey::hour(d, 23).to_string(), "2026-03-08T23");
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        let tz = parse_tz("Pacific/Kiritimati").unwrap();
        for now in [i64::MIN, i64::MAX, 0] {
            for p in [Period::Day, Period::Week, Period::Month] {
                let bp = current_period(p, now, tz);
                assert!(!bp.key.as_str().is_empty());
            }
        }
    }
}
