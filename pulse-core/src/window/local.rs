//! Local-calendar primitives: where a zone's days, weeks and months begin, as
//! UTC milliseconds.
//!
//! Everything here works on a clamped instant, so chrono's limited range can
//! never make these functions fail or panic.

use chrono::{
    DateTime, Datelike, Days, LocalResult, Months, NaiveDate, NaiveTime, Offset, TimeZone, Utc,
};
use chrono_tz::{GapInfo, Tz};

use super::Period;

/// The earliest instant the calendar functions work with: 0001-01-02T00:00:00Z.
///
/// One day after the start of year 1, so that the local time of this instant
/// is still in year 1 in every zone (offsets stay within ±1 day).
pub const MIN_MS: i64 = -62_135_510_400_000;

/// The latest instant the calendar functions work with: 9999-12-30T23:59:59.999Z.
///
/// One day before the end of year 9999, for the same reason as [`MIN_MS`].
pub const MAX_MS: i64 = 253_402_214_399_999;

/// The end of the supported range: the first instant after [`MAX_MS`].
pub(crate) const END_MS: i64 = MAX_MS + 1;

/// How many times the period search may step to a neighbouring period.
///
/// One step is enough for every zone in the tz database; the bound only keeps
/// a corrupt zone from looping.
const MAX_ADJUST: usize = 4;

/// Clamps an instant into the supported range [`MIN_MS`, `MAX_MS`].
pub(crate) fn clamp(ts_ms: i64) -> i64 {
    ts_ms.clamp(MIN_MS, MAX_MS)
}

/// The instant as a chrono UTC date-time, clamped to [`MIN_MS`]..=[`END_MS`]
/// so that the end of the last supported period can still be shown.
pub(crate) fn utc(ts_ms: i64) -> DateTime<Utc> {
    // Clamped instants are always representable, so the default is never used.
    DateTime::from_timestamp_millis(ts_ms.clamp(MIN_MS, END_MS)).unwrap_or_default()
}

/// The zone's total UTC offset (standard plus daylight saving) at an instant, in ms.
pub(crate) fn offset_ms(ts_ms: i64, tz: Tz) -> i64 {
    let offset = tz.offset_from_utc_datetime(&utc(ts_ms).naive_utc());
    i64::from(offset.fix().local_minus_utc()) * 1000
}

/// The local calendar date of an instant.
pub(crate) fn local_date(ts_ms: i64, tz: Tz) -> NaiveDate {
    utc(ts_ms).with_timezone(&tz).date_naive()
}

/// The first instant that belongs to a local date.
///
/// When midnight happens twice (a fall-back at 24:00), this is the first
/// midnight. When midnight does not exist (a spring-forward at 24:00), it is
/// the end of the gap. When the whole date was skipped (Pacific/Apia,
/// 2011-12-30), it is the start of the next date that exists, so the skipped
/// date is an empty range. Saturates to [`MIN_MS`]..=[`END_MS`], so the first
/// and last supported periods are cut at the limits.
pub(crate) fn day_start(date: NaiveDate, tz: Tz) -> i64 {
    let midnight = date.and_time(NaiveTime::MIN);
    let start = match tz.from_local_datetime(&midnight) {
        LocalResult::Single(dt) => dt.timestamp_millis(),
        LocalResult::Ambiguous(a, b) => a.timestamp_millis().min(b.timestamp_millis()),
        LocalResult::None => GapInfo::new(&midnight, &tz)
            .and_then(|gap| gap.end)
            .map(|end| end.timestamp_millis())
            // A gap without an end only exists at the limits of the tz data;
            // reading midnight with the offset in force then is the best guess.
            .unwrap_or_else(|| {
                let guess = midnight.and_utc().timestamp_millis();
                guess - offset_ms(guess, tz)
            }),
    };
    start.clamp(MIN_MS, END_MS)
}

/// The first local date of the period that contains `date`.
pub(crate) fn period_key(date: NaiveDate, p: Period) -> NaiveDate {
    match p {
        Period::Day => date,
        Period::Week => {
            let back = u64::from(date.weekday().num_days_from_monday());
            date.checked_sub_days(Days::new(back)).unwrap_or(date)
        }
        Period::Month => date.with_day(1).unwrap_or(date),
    }
}

/// The first date of the period `n` periods after (or before, if negative) `key`.
///
/// `None` when the result would leave chrono's date range.
pub(crate) fn step_key(key: NaiveDate, p: Period, n: i64) -> Option<NaiveDate> {
    let magnitude = n.unsigned_abs();
    match p {
        Period::Day | Period::Week => {
            let days = if p == Period::Week {
                magnitude.checked_mul(7)?
            } else {
                magnitude
            };
            if n >= 0 {
                key.checked_add_days(Days::new(days))
            } else {
                key.checked_sub_days(Days::new(days))
            }
        }
        Period::Month => {
            let months = Months::new(u32::try_from(magnitude).ok()?);
            if n >= 0 {
                key.checked_add_months(months)
            } else {
                key.checked_sub_months(months)
            }
        }
    }
}

/// The start of the period after the one starting on `key`.
///
/// Saturates at [`END_MS`].
pub(crate) fn next_start(key: NaiveDate, tz: Tz, p: Period) -> i64 {
    step_key(key, p, 1).map_or(END_MS, |next| day_start(next, tz))
}

/// The first date of the period that contains the instant.
///
/// Periods are half-open `[day_start(key), day_start(next key))`, so an instant
/// in a repeated hour after a fall-back at midnight belongs to the new day
/// even though its wall clock still shows the old date.
pub(crate) fn current_key(ts_ms: i64, tz: Tz, p: Period) -> NaiveDate {
    let ts = clamp(ts_ms);
    let mut key = period_key(local_date(ts, tz), p);
    for _ in 0..MAX_ADJUST {
        if day_start(key, tz) <= ts {
            break;
        }
        match step_key(key, p, -1) {
            Some(prev) => key = prev,
            None => break,
        }
    }
    for _ in 0..MAX_ADJUST {
        match step_key(key, p, 1) {
            Some(next) if day_start(next, tz) <= ts => key = next,
            _ => break,
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_the_documented_instants() {
        let min = DateTime::parse_from_rfc3339("0001-01-02T00:00:00Z").unwrap();
        let max = DateTime::parse_from_rfc3339("9999-12-30T23:59:59.999Z").unwrap();
        assert_eq!(min.timestamp_millis(), MIN_MS);
        assert_eq!(max.timestamp_millis(), MAX_MS);
    }

    #[test]
    fn clamp_saturates_and_keeps_inner_values() {
        assert_eq!(clamp(i64::MIN), MIN_MS);
        assert_eq!(clamp(i64::MAX), MAX_MS);
        assert_eq!(clamp(1_700_000_000_000), 1_700_000_000_000);
    }

    #[test]
    fn step_key_saturates_to_none() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        assert_eq!(step_key(d, Period::Month, i64::MAX), None);
        assert_eq!(step_key(d, Period::Week, i64::MIN), None);
        // Month arithmetic clamps to the last day, but keys are always the 1st.
        let m = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        assert_eq!(
            step_key(m, Period::Month, 1),
            NaiveDate::from_ymd_opt(2026, 2, 1)
        );
    }
}
