//! Time zone names and RFC 3339 text.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Offset, Timelike};
use chrono_tz::{TZ_VARIANTS, Tz};
use thiserror::Error;

use super::local;

/// A time zone name that is not in the IANA tz database.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown time zone {name:?}; expected an IANA name such as \"Europe/Berlin\" or \"UTC\"")]
pub struct UnknownZone {
    /// The name as given.
    pub name: String,
}

/// Text that is not an RFC 3339 date-time.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid RFC 3339 date-time {text:?}: {reason}")]
pub struct TimeParseError {
    /// The text as given.
    pub text: String,
    /// What the parser objected to.
    pub reason: String,
}

/// Resolves an IANA zone name (`"America/New_York"`, `"UTC"`).
///
/// Surrounding whitespace is ignored. An exact name is preferred; otherwise a
/// case-insensitive match is accepted, because settings are often typed by
/// hand (`"europe/berlin"`).
pub fn parse_tz(name: &str) -> Result<Tz, UnknownZone> {
    let trimmed = name.trim();
    if let Ok(tz) = trimmed.parse::<Tz>() {
        return Ok(tz);
    }
    TZ_VARIANTS
        .iter()
        .copied()
        .find(|tz| tz.name().eq_ignore_ascii_case(trimmed))
        .ok_or_else(|| UnknownZone {
            name: name.to_owned(),
        })
}

/// Formats an instant in `tz` as RFC 3339 with the zone's offset, e.g.
/// `"2026-11-27T05:08:03.275-05:00"`.
///
/// Milliseconds are written only when non-zero (`"2026-11-27T05:08:03-05:00"`),
/// and UTC is written `+00:00`, as Python's `isoformat()` does. Instants are
/// clamped from [`MIN_MS`](super::MIN_MS) to one past [`MAX_MS`](super::MAX_MS) (the end of
/// the last supported period), so the year always has four digits. Offsets with seconds (local mean time before about 1900) cannot be
/// written in RFC 3339; such instants are written in UTC instead.
pub fn format_rfc3339(ts_ms: i64, tz: Tz) -> String {
    let utc = local::utc(ts_ms);
    let local_dt = utc.with_timezone(&tz);
    let mut offset = local_dt.offset().fix().local_minus_utc();
    let wall = if offset % 60 == 0 {
        local_dt.naive_local()
    } else {
        offset = 0;
        utc.naive_utc()
    };
    let mut out = String::with_capacity(29);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        wall.year(),
        wall.month(),
        wall.day(),
        wall.hour(),
        wall.minute(),
        wall.second()
    );
    let millis = utc.timestamp_subsec_millis();
    if millis != 0 {
        let _ = write!(out, ".{millis:03}");
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let minutes = offset.unsigned_abs() / 60;
    let _ = write!(out, "{sign}{:02}:{:02}", minutes / 60, minutes % 60);
    out
}

/// Parses an RFC 3339 date-time (`"2026-03-29T03:00:00+02:00"`, `"…Z"`) to
/// milliseconds since the epoch. Digits below the millisecond are dropped
/// (floored).
pub fn parse_rfc3339(text: &str) -> Result<i64, TimeParseError> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|dt| dt.timestamp_millis())
        .map_err(|e| TimeParseError {
            text: text.to_owned(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_tz_exact_and_case_insensitive() {
        assert_eq!(parse_tz("Europe/Berlin"), Ok(Tz::Europe__Berlin));
        assert_eq!(parse_tz(" america/new_york "), Ok(Tz::America__New_York));
        assert_eq!(parse_tz("UTC"), Ok(Tz::UTC));
        assert_eq!(
            parse_tz("Mars/Olympus"),
            Err(UnknownZone {
                name: "Mars/Olympus".to_owned()
            })
        );
        assert!(parse_tz("").is_err());
    }

    #[test]
    fn lmt_offsets_fall_back_to_utc_text() {
        // Europe/Amsterdam used +00:19:32 local mean time in 1900.
        let ts = parse_rfc3339("1900-06-01T12:00:00Z").unwrap();
        assert_eq!(
            format_rfc3339(ts, Tz::Europe__Amsterdam),
            "1900-06-01T12:00:00+00:00"
        );
    }
}
