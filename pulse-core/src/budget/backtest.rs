//! How good the forecast is on a month that is over: forecasts made after
//! day 5, 10 and 20 against the month's real end.
//!
//! Pure and deterministic, so the demo or a test can print the table for
//! any stored or simulated month.

use crate::num::clean;
use crate::window::{Period, TimeRange, Tz, period_range, sum_in_range};

use super::forecast::{ForecastParams, forecast};
use super::history::History;

/// The days after which [`backtest_month`] forecasts by default.
pub const BACKTEST_DAYS: [u32; 3] = [5, 10, 20];

/// One forecast of a backtest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BacktestRow {
    /// The forecast was made at the end of this local day of the month.
    pub day: u32,
    /// When: the first instant of day `day + 1`.
    pub made_at_ms: i64,
    /// The month's spend up to then.
    pub spent: f64,
    /// The projected month end.
    pub projected: f64,
    /// The real month end.
    pub actual: f64,
    /// `projected - actual`.
    pub error: f64,
    /// `error / actual × 100`, `None` when the month spent nothing.
    pub error_pct: Option<f64>,
}

/// Replays forecasts of the local month that contains `month_ms`.
///
/// For each day `d` of `days` that ends inside the month, the forecast is
/// made at the first instant of day `d + 1` from the buckets before that
/// instant only (the history's coverage is cut there too), with
/// [`ForecastParams::for_period`]`(Month)`, and compared with the sum of the
/// month's buckets. `history` should cover the month and, for the look-back,
/// the weeks before it.
pub fn backtest_month(
    history: &History<'_>,
    month_ms: i64,
    tz: Tz,
    days: &[u32],
) -> Vec<BacktestRow> {
    let month = period_range(month_ms, tz, Period::Month, 0);
    let in_month = |range: TimeRange| {
        let cut = TimeRange::new(
            range.start_ms.max(history.covered.start_ms),
            range.end_ms.min(history.covered.end_ms),
        );
        sum_in_range(history.buckets, cut)
    };
    let actual = in_month(month);
    let params = ForecastParams::for_period(Period::Month);
    days.iter()
        .filter_map(|&day| {
            let made_at =
                period_range(month.start_ms, tz, Period::Day, i32::try_from(day).ok()?).start_ms;
            if made_at >= month.end_ms || made_at <= month.start_ms {
                return None;
            }
            let spent = in_month(TimeRange::new(month.start_ms, made_at));
            let past = History::new(
                TimeRange::new(
                    history.covered.start_ms,
                    history.covered.end_ms.min(made_at),
                ),
                history.buckets,
            );
            let projected = forecast(month, made_at, spent, &past, tz, &params).projected;
            let error = clean(projected - actual);
            Some(BacktestRow {
                day,
                made_at_ms: made_at,
                spent,
                projected,
                actual,
                error,
                error_pct: (actual != 0.0).then(|| error / actual * 100.0),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, Timelike};

    use super::*;
    use crate::window::{STORAGE_BUCKET_MS, parse_rfc3339, parse_tz};

    const Q: i64 = STORAGE_BUCKET_MS;

    /// Spend per 15-minute bucket: busy weekday office hours, a trickle at
    /// night and on weekends, and (when `growth`) 1 % more per day.
    fn synthetic(from: i64, to: i64, tz: Tz, growth: bool) -> Vec<(i64, f64)> {
        let origin = from;
        (from / Q..to / Q)
            .map(|i| {
                let ts = i * Q;
                let local = chrono::DateTime::from_timestamp_millis(ts)
                    .unwrap()
                    .with_timezone(&tz);
                let weekday = local.weekday().num_days_from_monday() < 5;
                let base = match (weekday, local.hour()) {
                    (true, 9..=17) => 1.0,
                    (true, _) => 0.125,
                    (false, _) => 0.0625,
                };
                let days = ((ts - origin) / 86_400_000) as f64;
                (
                    ts,
                    if growth {
                        base * (1.0 + 0.01 * days)
                    } else {
                        base
                    },
                )
            })
            .collect()
    }

    #[test]
    fn a_repeating_week_is_forecast_exactly() {
        let tz = parse_tz("Europe/Berlin").unwrap();
        // May 2026: no clock change in the month or the four weeks before.
        let month_ms = parse_rfc3339("2026-05-15T12:00:00+02:00").unwrap();
        let month = period_range(month_ms, tz, Period::Month, 0);
        let from = month.start_ms - 5 * 7 * 86_400_000;
        let rows = synthetic(from, month.end_ms, tz, false);
        let history = History::new(TimeRange::new(from, month.end_ms), &rows);
        let table = backtest_month(&history, month_ms, tz, &BACKTEST_DAYS);
        assert_eq!(table.iter().map(|r| r.day).collect::<Vec<_>>(), [5, 10, 20]);
        for row in &table {
            assert!(row.error.abs() < 1e-9, "{row:?}");
            assert_eq!(row.actual, sum_in_range(&rows, month));
            assert!(row.spent < row.actual);
            let made = chrono::DateTime::from_timestamp_millis(row.made_at_ms)
                .unwrap()
                .with_timezone(&tz);
            assert_eq!((made.day(), made.hour()), (row.day + 1, 0));
        }
    }

    #[test]
    fn growth_is_underestimated_less_as_the_month_goes_on() {
        let tz = parse_tz("America/New_York").unwrap();
        // March 2026 has the spring-forward day in it.
        let month_ms = parse_rfc3339("2026-03-15T12:00:00-04:00").unwrap();
        let month = period_range(month_ms, tz, Period::Month, 0);
        let from = month.start_ms - 5 * 7 * 86_400_000;
        let rows = synthetic(from, month.end_ms, tz, true);
        let history = History::new(TimeRange::new(from, month.end_ms), &rows);
        let table = backtest_month(&history, month_ms, tz, &[5, 10, 20, 31, 0]);
        assert_eq!(
            table.len(),
            3,
            "day 31 ends at the month end and day 0 at its start"
        );
        let errors: Vec<f64> = table.iter().map(|r| r.error_pct.unwrap()).collect();
        assert!(errors.iter().all(|&e| e < 0.0), "{errors:?}");
        assert!(errors[0] < errors[1] && errors[1] < errors[2], "{errors:?}");
        assert!(errors[0] > -20.0, "{errors:?}");
    }

    #[test]
    fn an_empty_month_has_no_percentage() {
        let month_ms = parse_rfc3339("2026-02-10T00:00:00Z").unwrap();
        let history = History::new(TimeRange::new(0, month_ms * 2), &[]);
        let table = backtest_month(&history, month_ms, Tz::UTC, &BACKTEST_DAYS);
        assert_eq!(table.len(), 3);
        assert!(
            table
                .iter()
                .all(|r| r.error == 0.0 && r.error_pct.is_none())
        );
    }
}
