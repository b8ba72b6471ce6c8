//! The names of windows and periods: the one grammar the HTTP API, the
//! dashboard and the JS bindings parse, and the list of names they offer.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use super::{Period, Window};

impl Period {
    /// Every period, shortest first.
    pub const ALL: [Period; 3] = [Period::Day, Period::Week, Period::Month];
}

/// Text that does not name a [`Period`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown period {text:?}: expected day, week or month")]
pub struct PeriodParseError {
    /// The text as given.
    pub text: String,
}

impl FromStr for Period {
    type Err = PeriodParseError;

    /// Accepts, case-insensitively: `day`/`daily`, `week`/`weekly` and
    /// `month`/`monthly`, the same words [`Window`] and
    /// [`Step`](super::Step) accept for them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "day" | "daily" => Ok(Period::Day),
            "week" | "weekly" => Ok(Period::Week),
            "month" | "monthly" => Ok(Period::Month),
            _ => Err(PeriodParseError { text: s.to_owned() }),
        }
    }
}

impl fmt::Display for Period {
    /// `day`, `week` or `month`, which [`Period::from_str`] parses back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        })
    }
}

impl Window {
    /// The window names offered to users (the HTTP API's `window` parameter,
    /// its documentation and error messages), in the order they are listed.
    ///
    /// Each parses with [`Window::from_str`]; so do the aliases (`this_week`,
    /// `daily`, …) and any other `<n>h` or `<n>d`, which are not listed.
    pub const NAMES: [&'static str; 11] = [
        "today",
        "yesterday",
        "week",
        "last_week",
        "month",
        "last_month",
        "24h",
        "7d",
        "30d",
        "90d",
        "all",
    ];
}

/// Text that does not name a [`Window`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "unknown window {text:?}; expected today, yesterday, this_week, last_week, \
     this_month, last_month, <n>h, <n>d or all"
)]
pub struct WindowParseError {
    /// The text as given.
    pub text: String,
}

impl FromStr for Window {
    type Err = WindowParseError;

    /// Accepts, case-insensitively: `today`/`day`/`daily`, `yesterday`,
    /// `week`/`weekly`/`this_week`, `last_week`, `month`/`monthly`/`this_month`,
    /// `last_month`, `<n>h` (e.g. `24h`), `<n>d` (e.g. `7d`) with n ≥ 1, and
    /// `all`/`all_time`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim().to_ascii_lowercase();
        let window = match text.as_str() {
            "today" | "day" | "daily" => Window::Today,
            "yesterday" => Window::Yesterday,
            "week" | "weekly" | "this_week" => Window::ThisWeek,
            "last_week" => Window::LastWeek,
            "month" | "monthly" | "this_month" => Window::ThisMonth,
            "last_month" => Window::LastMonth,
            "all" | "all_time" => Window::AllTime,
            other => {
                let count = |digits: &str| {
                    // Only plain digits: no sign, no spaces, no "0".
                    digits
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                        .then(|| digits.parse::<u32>().ok())
                        .flatten()
                        .filter(|&n| n > 0)
                };
                if let Some(n) = other.strip_suffix('h').and_then(count) {
                    Window::LastHours(n)
                } else if let Some(n) = other.strip_suffix('d').and_then(count) {
                    Window::LastDays(n)
                } else {
                    return Err(WindowParseError { text: s.to_owned() });
                }
            }
        };
        Ok(window)
    }
}

impl fmt::Display for Window {
    /// The canonical name, which [`Window::from_str`] parses back; a
    /// [`Window::Range`] is written `start_ms..end_ms`, which it does not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Window::Today => f.write_str("today"),
            Window::Yesterday => f.write_str("yesterday"),
            Window::ThisWeek => f.write_str("this_week"),
            Window::LastWeek => f.write_str("last_week"),
            Window::ThisMonth => f.write_str("this_month"),
            Window::LastMonth => f.write_str("last_month"),
            Window::LastHours(n) => write!(f, "{n}h"),
            Window::LastDays(n) => write!(f, "{n}d"),
            Window::AllTime => f.write_str("all_time"),
            Window::Range(r) => write!(f, "{}..{}", r.start_ms, r.end_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::TimeRange;

    #[test]
    fn period_names() {
        let rows: [(&str, Option<Period>); 12] = [
            ("day", Some(Period::Day)),
            ("daily", Some(Period::Day)),
            (" Day ", Some(Period::Day)),
            ("week", Some(Period::Week)),
            ("WEEKLY", Some(Period::Week)),
            ("month", Some(Period::Month)),
            ("monthly", Some(Period::Month)),
            ("", None),
            ("days", None),
            ("1d", None),
            ("year", None),
            ("this_week", None),
        ];
        for (text, want) in rows {
            assert_eq!(text.parse::<Period>().ok(), want, "{text:?}");
        }
        for p in Period::ALL {
            assert_eq!(p.to_string().parse(), Ok(p), "{p}");
        }
        assert_eq!(
            "year".parse::<Period>().unwrap_err().to_string(),
            "unknown period \"year\": expected day, week or month"
        );
    }

    #[test]
    fn every_offered_name_parses_and_displays_back() {
        for name in Window::NAMES {
            let w: Window = name.parse().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(w.to_string().parse(), Ok(w), "{name}");
        }
        assert_eq!(Window::Range(TimeRange::new(1, 2)).to_string(), "1..2");
    }
}
