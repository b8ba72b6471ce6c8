//! Ranges of whole local dates, as a date picker gives them (`YYYY-MM-DD`).

use chrono::NaiveDate;
use chrono_tz::Tz;
use thiserror::Error;

use super::{Period, TimeRange, local};

/// Dates that do not make a range of local days.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DateRangeError {
    /// Text that is not a calendar date written `YYYY-MM-DD`.
    #[error("invalid date {text:?}: expected YYYY-MM-DD")]
    Invalid {
        /// The text as given.
        text: String,
    },
    /// The last date comes before the first.
    #[error("the last date {last} is before the first date {first}")]
    Reversed {
        /// The first date as given.
        first: String,
        /// The last date as given.
        last: String,
    },
}

/// The local days from `first` to `last`, both included, in `tz`: from the
/// first instant of `first` to the first instant of the day after `last`.
///
/// Dates are written `YYYY-MM-DD` (what an HTML date input gives). Day starts
/// follow the module's rules (the first of two midnights, the end of a gap),
/// so the range is exactly the union of those days' [`period_range`]s. A
/// date the zone skipped is an empty day, not an error.
///
/// ```
/// use pulse_core::window::{Tz, date_range, format_rfc3339};
/// let r = date_range("2026-03-28", "2026-03-29", Tz::Europe__Berlin).unwrap();
/// assert_eq!(format_rfc3339(r.start_ms, Tz::Europe__Berlin), "2026-03-28T00:00:00+01:00");
/// assert_eq!(format_rfc3339(r.end_ms, Tz::Europe__Berlin), "2026-03-30T00:00:00+02:00");
/// assert_eq!(r.len_ms(), 47 * 3_600_000);
/// ```
///
/// [`period_range`]: super::period_range
pub fn date_range(first: &str, last: &str, tz: Tz) -> Result<TimeRange, DateRangeError> {
    let (from, to) = (parse_date(first)?, parse_date(last)?);
    if to < from {
        return Err(DateRangeError::Reversed {
            first: first.to_owned(),
            last: last.to_owned(),
        });
    }
    Ok(TimeRange::new(
        local::day_start(from, tz),
        local::next_start(to, tz, Period::Day),
    ))
}

/// A `YYYY-MM-DD` date (four-digit year, surrounding whitespace ignored).
fn parse_date(text: &str) -> Result<NaiveDate, DateRangeError> {
    let invalid = || DateRangeError::Invalid {
        text: text.to_owned(),
    };
    let t = text.trim().as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        t[range].iter().try_fold(0u32, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    if t.len() != 10 || t[4] != b'-' || t[7] != b'-' {
        return Err(invalid());
    }
    let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return Err(invalid());
    };
    // A four-digit year always fits an i32.
    let year = i32::try_from(y).map_err(|_| invalid())?;
    NaiveDate::from_ymd_opt(year, m, d)
        .filter(|_| year >= 1)
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::super::{period_range, window_range};
    use super::*;
    use crate::window::Window;

    #[test]
    fn one_date_is_that_local_day() {
        let tz = Tz::Asia__Kathmandu;
        let noon = crate::window::parse_rfc3339("2026-11-20T12:00:00+05:45").unwrap();
        let day = period_range(noon, tz, Period::Day, 0);
        assert_eq!(date_range("2026-11-20", "2026-11-20", tz), Ok(day));
        assert_eq!(date_range(" 2026-11-20 ", "2026-11-20", tz), Ok(day));
    }

    #[test]
    fn a_range_tiles_its_days_across_dst() {
        let tz = Tz::America__New_York;
        let r = date_range("2026-11-01", "2026-11-07", tz).unwrap();
        let mut at = r.start_ms;
        for _ in 0..7 {
            let day = period_range(at, tz, Period::Day, 0);
            assert_eq!(day.start_ms, at);
            at = day.end_ms;
        }
        assert_eq!(at, r.end_ms);
        // One day has 25 hours (fall-back on 2026-11-01).
        assert_eq!(r.len_ms(), 7 * 86_400_000 + 3_600_000);
        assert_eq!(window_range(&Window::Range(r), 0, tz), r);
    }

    #[test]
    fn a_skipped_date_is_an_empty_day() {
        // Pacific/Apia skipped 2011-12-30 entirely.
        let tz = Tz::Pacific__Apia;
        let r = date_range("2011-12-30", "2011-12-30", tz).unwrap();
        assert!(r.is_empty());
        let two = date_range("2011-12-29", "2011-12-31", tz).unwrap();
        assert_eq!(two.len_ms(), 2 * 86_400_000);
    }

    #[test]
    fn bad_dates_are_refused_with_the_text() {
        for bad in [
            "",
            "2026-1-01",
            "2026-02-30",
            "26-01-01",
            "0000-01-01",
            "2026/01/01",
            "２０２６-01-01",
            "-202-01-01",
            "2026-01-01T00:00",
        ] {
            assert_eq!(
                date_range(bad, "2026-01-01", Tz::UTC),
                Err(DateRangeError::Invalid {
                    text: bad.to_owned()
                }),
                "{bad:?}"
            );
        }
        assert_eq!(
            date_range("2026-01-02", "2026-01-01", Tz::UTC),
            Err(DateRangeError::Reversed {
                first: "2026-01-02".to_owned(),
                last: "2026-01-01".to_owned()
            })
        );
    }

    #[test]
    fn the_last_supported_date_saturates() {
        let r = date_range("9999-12-31", "9999-12-31", Tz::Pacific__Kiritimati).unwrap();
        assert!(r.start_ms <= r.end_ms);
        let r = date_range("0001-01-01", "0001-01-01", Tz::UTC).unwrap();
        assert!(r.start_ms <= r.end_ms);
    }
}
