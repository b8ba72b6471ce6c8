//! The spend spike rule: an hour far above the same hour on recent days.
//!
//! **Rule.** Local clock hour `H` of date `D` is a spike when its spend
//! `v` satisfies both
//!
//! ```text
//! v > factor × median(spend in hour H of each of the dates D-1 … D-days)
//! v > min_abs
//! ```
//!
//! with `factor` = 3, `days` = 7 and `min_abs` = 1.0 (in the metric's unit)
//! unless configured ([`SpikeRule`]). Only baseline hours the history covers
//! count: with 2 days of history the median is over 2 values, and an hour
//! with no covered baseline hour at all is never a spike. A quiet baseline
//! hour counts as 0, so a median of 0 makes any hour above `min_abs` a
//! spike: that is what `min_abs` is for.
//!
//! Hours are local clock hours keyed by (date, hour), so "14:00" means the
//! same wall-clock hour every day across daylight-saving changes. The
//! repeated hour of a fall-back night is one key holding both hours' spend;
//! the skipped hour of a spring-forward night has no key (and is not a
//! baseline value). Each spike's alert identity is
//! [`AlertId::spike`](super::AlertId::spike) with the hour's
//! [`PeriodKey::hour`], so it fires once per hour even while the hour is
//! still filling up and every scrape re-checks it.

use chrono::NaiveDate;
use rustc_hash::FxHashMap;

use crate::num::clean;
use crate::window::{TimeRange, Tz};

use super::history::History;
use super::period::{PeriodKey, local_time};

/// The parameters of the spike rule (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpikeRule {
    /// How many times the baseline median an hour must exceed. Default 3.
    pub factor: f64,
    /// How many previous days form the baseline. Default 7.
    pub days: u32,
    /// The least spend in an hour that can be a spike, in the metric's
    /// unit. Default 1.0.
    pub min_abs: f64,
}

impl Default for SpikeRule {
    fn default() -> Self {
        SpikeRule {
            factor: 3.0,
            days: 7,
            min_abs: 1.0,
        }
    }
}

/// The spend in one local clock hour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HourSum {
    /// The local date.
    pub date: NaiveDate,
    /// The local clock hour, 0 to 23.
    pub hour: u32,
    /// The spend in that hour.
    pub value: f64,
}

/// An hour the rule flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Spike {
    /// The hour's key (`2026-03-08T14`), for [`AlertId::spike`](super::AlertId::spike).
    pub key: PeriodKey,
    /// The hour's spend.
    pub value: f64,
    /// The median of the baseline hours.
    pub median: f64,
    /// How many baseline hours the median is over (1 to `days`).
    pub baseline_hours: usize,
}

/// The spend per local clock hour of the 15-minute buckets of `history`
/// whose buckets lie wholly in `range` and in the covered span, in time
/// order, with a zero for every covered hour without spend.
///
/// An hour partly covered (the current one, or the first of the history)
/// holds what its covered buckets hold.
pub fn hourly_sums(history: &History<'_>, range: TimeRange, tz: Tz) -> Vec<HourSum> {
    let values = history.bucket_values(range);
    let mut index: FxHashMap<(NaiveDate, u32), usize> = FxHashMap::default();
    let mut hours: Vec<HourSum> = Vec::new();
    for start in history.whole_slots(range) {
        let (date, hour) = local_time(start, tz);
        let value = values.get(&start).copied().unwrap_or(0.0);
        let i = *index.entry((date, hour)).or_insert_with(|| {
            hours.push(HourSum {
                date,
                hour,
                value: 0.0,
            });
            hours.len() - 1
        });
        hours[i].value += value;
    }
    for h in &mut hours {
        h.value = clean(h.value);
    }
    hours
}

/// The hours of `hours` that are spikes under `rule`, in input order.
///
/// `hours` is a complete record, as [`hourly_sums`] makes it: an hour absent
/// from it is unknown, not zero. Repeated (date, hour) rows are added up.
///
/// ```
/// use chrono::NaiveDate;
/// use pulse_core::budget::{HourSum, SpikeRule, spikes};
/// let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
/// let rows: Vec<HourSum> = (1..=8)
///     .map(|d| HourSum { date: day(d), hour: 14, value: if d == 8 { 9.0 } else { 2.0 } })
///     .collect();
/// let found = spikes(&SpikeRule::default(), &rows);
/// assert_eq!(found.len(), 1);
/// assert_eq!(found[0].key.as_str(), "2026-03-08T14");
/// assert_eq!((found[0].value, found[0].median, found[0].baseline_hours), (9.0, 2.0, 7));
/// ```
pub fn spikes(rule: &SpikeRule, hours: &[HourSum]) -> Vec<Spike> {
    let mut by_hour: FxHashMap<(NaiveDate, u32), f64> = FxHashMap::default();
    let mut order: Vec<(NaiveDate, u32)> = Vec::new();
    for h in hours {
        let value = if h.value.is_finite() { h.value } else { 0.0 };
        by_hour
            .entry((h.date, h.hour))
            .and_modify(|v| *v += value)
            .or_insert_with(|| {
                order.push((h.date, h.hour));
                value
            });
    }
    let mut found = Vec::new();
    for (date, hour) in order {
        let value = clean(by_hour[&(date, hour)]);
        let mut baseline: Vec<f64> = (1..=u64::from(rule.days))
            .filter_map(|k| date.checked_sub_days(chrono::Days::new(k)))
            .filter_map(|d| by_hour.get(&(d, hour)).copied())
            .collect();
        let Some(median) = median(&mut baseline) else {
            continue;
        };
        if value > rule.factor * median && value > rule.min_abs {
            found.push(Spike {
                key: PeriodKey::hour(date, hour),
                value,
                median,
                baseline_hours: baseline.len(),
            });
        }
    }
    found
}

/// The median (mean of the middle two for an even count), `None` when empty.
fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some(clean((values[n / 2 - 1] + values[n / 2]) / 2.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::{STORAGE_BUCKET_MS, parse_rfc3339, parse_tz};

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    /// Hour 14 on March 1..=n with the given values.
    fn rows(values: &[f64]) -> Vec<HourSum> {
        values
            .iter()
            .enumerate()
            .map(|(i, &value)| HourSum {
                date: day(i as u32 + 1),
                hour: 14,
                value,
            })
            .collect()
    }

    fn keys(found: &[Spike]) -> Vec<&str> {
        found.iter().map(|s| s.key.as_str()).collect()
    }

    #[test]
    fn rule_from_rows() {
        let rule = SpikeRule::default();
        // (hour 14 on March 1, 2, …; spike keys)
        let rows_and_want: [(&[f64], &[&str]); 8] = [
            // No baseline for the first day, then 6.1 > 3 × 2.
            (&[50.0, 2.0, 2.0, 6.1], &["2026-03-04T14"]),
            // Exactly three times the median is not a spike.
            (&[2.0, 2.0, 2.0, 6.0], &[]),
            // Quiet baseline: anything above min_abs is a spike, at most min_abs is not.
            (&[0.0, 0.0, 1.0], &[]),
            (&[0.0, 0.0, 1.5], &["2026-03-03T14"]),
            // The median ignores one earlier outlier: 2 2 2 2 2 2 40 → median 2.
            (
                &[2.0, 2.0, 2.0, 40.0, 2.0, 2.0, 2.0, 7.0],
                &["2026-03-04T14", "2026-03-08T14"],
            ),
            // Only the previous 7 days count: day 1's 100 has dropped out by day 9.
            (
                &[100.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 3.5],
                &["2026-03-09T14"],
            ),
            // Even count: median of 1 and 3 is 2.
            (&[1.0, 3.0, 6.5], &["2026-03-03T14"]),
            // Non-finite values count as 0.
            (&[f64::NAN, 0.0, 5.0], &["2026-03-03T14"]),
        ];
        for (values, want) in rows_and_want {
            assert_eq!(keys(&spikes(&rule, &rows(values))), want, "{values:?}");
        }
        let found = spikes(&rule, &rows(&[2.0, 2.0, 6.1]));
        assert_eq!((found[0].median, found[0].baseline_hours), (2.0, 2));
        // Another hour of the day is another baseline.
        let mut mixed = rows(&[2.0, 2.0]);
        mixed.push(HourSum {
            date: day(3),
            hour: 15,
            value: 9.0,
        });
        assert!(spikes(&rule, &mixed).is_empty());
        // Parameters: factor 2 and min_abs 10.
        let loose = SpikeRule {
            factor: 2.0,
            days: 7,
            min_abs: 10.0,
        };
        assert_eq!(
            keys(&spikes(&loose, &rows(&[5.0, 5.0, 10.5]))),
            ["2026-03-03T14"]
        );
        assert!(spikes(&loose, &rows(&[1.0, 1.0, 9.0])).is_empty());
    }

    #[test]
    fn hourly_sums_follow_the_local_clock() {
        let tz = parse_tz("America/New_York").unwrap();
        let q = STORAGE_BUCKET_MS;
        let start = parse_rfc3339("2026-11-01T00:00:00-04:00").unwrap();
        let end = parse_rfc3339("2026-11-01T04:00:00-05:00").unwrap();
        // 1.0 in every bucket of the 25-hour day's first five hours, one row missing.
        let rows: Vec<(i64, f64)> = (start / q..end / q)
            .filter(|&i| i != start / q + 1)
            .map(|i| (i * q, 1.0))
            .collect();
        let history = History::new(TimeRange::new(start, end), &rows);
        let hours = hourly_sums(&history, TimeRange::new(i64::MIN, i64::MAX), tz);
        let got: Vec<(u32, f64)> = hours.iter().map(|h| (h.hour, h.value)).collect();
        // 00:00 lost one bucket; 01:00 happened twice.
        assert_eq!(got, [(0, 3.0), (1, 8.0), (2, 4.0), (3, 4.0)]);
        assert!(
            hours
                .iter()
                .all(|h| h.date == NaiveDate::from_ymd_opt(2026, 11, 1).unwrap())
        );
        // Kathmandu's hours start at :15 UTC.
        let tz = parse_tz("Asia/Kathmandu").unwrap();
        let from = parse_rfc3339("2026-03-08T14:00:00+05:45").unwrap();
        let rows = [(from, 1.0), (from + 3 * q, 2.0), (from + 4 * q, 4.0)];
        let history = History::new(TimeRange::new(from, from + 8 * q), &rows);
        let got: Vec<(u32, f64)> = hourly_sums(&history, TimeRange::new(from, from + 8 * q), tz)
            .iter()
            .map(|h| (h.hour, h.value))
            .collect();
        assert_eq!(got, [(14, 3.0), (15, 4.0)]);
    }
}
