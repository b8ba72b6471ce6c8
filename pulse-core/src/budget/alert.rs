//! Which budget alerts are due, and their identities.
//!
//! **Rule.** In a period with key `K`, threshold `t` of budget `B` is due
//! when the spend reaches it ([`reached`]) and the alert
//! `threshold:K:t:B` has not been recorded yet. The forecast warning
//! `forecast:K:-:B` is due when the budget wants it, the spend has not
//! reached the limit yet, the projection exceeds the limit
//! ([`forecast_exceeds`]), and it has not been recorded yet.
//!
//! The caller tells [`budget_alerts`] what it has recorded through a
//! predicate over [`AlertId`]s, typically a lookup in its outbox, so the
//! decision survives restarts: nothing in memory has to be right. For a
//! caller that only knows the spend before and after a scrape,
//! [`crossed_between`] gives the same answer as long as the spend in a period
//! never decreases.
//!
//! One alert per threshold: a jump from 40 % to 95 % yields the 50, 80 and
//! 90 % alerts, lowest first. The host may show or deliver them together,
//! but records each identity.

use std::fmt;

use crate::num::clean;

use super::period::{BudgetPeriod, PeriodKey};
use super::{Budget, Threshold};

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlertKind {
    /// The spend reached a threshold of the limit.
    Threshold(Threshold),
    /// The forecast says the limit will be exceeded before the period ends.
    Forecast,
    /// An hour's spend far above the same hour on recent days
    /// ([`crate::budget::spike`]).
    Spike,
}

impl AlertKind {
    /// `threshold`, `forecast` or `spike`.
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::Threshold(_) => "threshold",
            AlertKind::Forecast => "forecast",
            AlertKind::Spike => "spike",
        }
    }

    /// The threshold of a threshold alert.
    pub fn threshold(self) -> Option<Threshold> {
        match self {
            AlertKind::Threshold(t) => Some(t),
            AlertKind::Forecast | AlertKind::Spike => None,
        }
    }
}

/// The identity of an alert: the same decision always has the same id.
///
/// It holds no time and no amount, only what the alert is about, so a repeat
/// of the decision (another scrape above the threshold, a restart, a second
/// replica) produces an equal id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AlertId {
    /// The budget's name, or for spike alerts the name the host gives the
    /// watched series.
    pub subject: String,
    /// The budget period, or for spike alerts the local hour
    /// ([`PeriodKey::hour`]).
    pub period: PeriodKey,
    /// What happened.
    pub kind: AlertKind,
}

impl AlertId {
    /// The id of `budget`'s threshold `t` in `period`.
    pub fn threshold(budget: &Budget, period: &PeriodKey, t: Threshold) -> AlertId {
        AlertId {
            subject: budget.name().to_owned(),
            period: period.clone(),
            kind: AlertKind::Threshold(t),
        }
    }

    /// The id of `budget`'s forecast warning in `period`.
    pub fn forecast(budget: &Budget, period: &PeriodKey) -> AlertId {
        AlertId {
            subject: budget.name().to_owned(),
            period: period.clone(),
            kind: AlertKind::Forecast,
        }
    }

    /// The id of a spike of `subject` in the local hour `hour`.
    pub fn spike(subject: &str, hour: &PeriodKey) -> AlertId {
        AlertId {
            subject: subject.to_owned(),
            period: hour.clone(),
            kind: AlertKind::Spike,
        }
    }

    /// The id as text: `kind:period:threshold:subject`, with `-` for no
    /// threshold, e.g. `threshold:2026-03:80:team-a` or
    /// `forecast:2026-W10:-:all`.
    ///
    /// The first three parts never contain `:`, so the text names exactly
    /// one id whatever the subject holds. Meant as the outbox's unique key.
    pub fn key(&self) -> String {
        let threshold = match self.kind.threshold() {
            Some(t) => t.to_string(),
            None => "-".to_owned(),
        };
        format!(
            "{}:{}:{threshold}:{}",
            self.kind.name(),
            self.period,
            self.subject
        )
    }

    /// A 32-hex-digit digest of [`AlertId::key`] (128-bit FNV-1a of its UTF-8
    /// bytes), safe in HTTP headers whatever the subject: the idempotency key
    /// a receiver uses to drop a repeated delivery.
    ///
    /// ```
    /// use pulse_core::budget::{AlertId, PeriodKey};
    /// use chrono::NaiveDate;
    /// let hour = PeriodKey::hour(NaiveDate::from_ymd_opt(2026, 3, 8).unwrap(), 14);
    /// let id = AlertId::spike("spend", &hour);
    /// assert_eq!(id.key(), "spike:2026-03-08T14:-:spend");
    /// assert_eq!(id.idempotency_key().len(), 32);
    /// ```
    pub fn idempotency_key(&self) -> String {
        format!("{:032x}", fnv1a_128(self.key().as_bytes()))
    }
}

impl fmt::Display for AlertId {
    /// The same text as [`AlertId::key`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// 128-bit FNV-1a: tiny, dependency-free and fixed forever, which is what an
/// idempotency key needs (it is not a defence against forged ids).
fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    bytes.iter().fold(OFFSET, |hash, &b| {
        (hash ^ u128::from(b)).wrapping_mul(PRIME)
    })
}

/// A due budget alert: its identity and the numbers to show with it.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetAlert {
    /// The identity to record and to send as the idempotency key.
    pub id: AlertId,
    /// The spend in the period when the alert became due.
    pub spent: f64,
    /// The budget's limit.
    pub limit: f64,
    /// The projected end-of-period value, when a forecast was given.
    pub projected: Option<f64>,
}

/// The thresholds of `budget` that `spent` has reached, ascending.
///
/// `spent` reaches `t` when `clean(spent) ≥ t.amount(limit)` (both rounded by
/// [`crate::num::clean`]): a spend of exactly 80.0 reaches 80 % of 100, and
/// `0.1 + 0.2` reaches 30 % of 1. NaN reaches nothing.
pub fn reached(budget: &Budget, spent: f64) -> impl Iterator<Item = Threshold> + '_ {
    let spent = clean(spent);
    budget
        .thresholds()
        .iter()
        .copied()
        .filter(move |t| spent >= t.amount(budget.limit()))
}

/// The thresholds reached by `after` but not by `before`, ascending: what a
/// scrape that moved the period's spend from `before` to `after` crossed.
///
/// Over a period whose spend never decreases, each threshold is returned by
/// exactly one scrape (the first that reaches it); a burst of scrapes above
/// it returns nothing more. A caller that can read its records should prefer
/// [`budget_alerts`], which also holds when the spend is corrected downwards.
pub fn crossed_between(budget: &Budget, before: f64, after: f64) -> Vec<Threshold> {
    let already: Vec<Threshold> = reached(budget, before).collect();
    reached(budget, after)
        .filter(|t| !already.contains(t))
        .collect()
}

/// Whether a projected end-of-period value exceeds the budget's limit
/// (strictly, after [`crate::num::clean`]).
pub fn forecast_exceeds(budget: &Budget, projected: f64) -> bool {
    clean(projected) > budget.limit()
}

/// The alerts of `budget` due now and not yet recorded.
///
/// - `period`: the current period ([`Budget::period_at`]).
/// - `spent`: the budget's spend in `period.range` so far.
/// - `projected`: the forecast's end-of-period value
///   ([`crate::budget::Forecast::projected`]), or `None` when there is none.
/// - `is_recorded`: whether an alert with this id was already recorded (in
///   any earlier scrape, before any restart).
///
/// Returns the threshold alerts in ascending order, then the forecast
/// warning. The forecast warning is due only when [`Budget::forecast_warning`]
/// is on and the spend is still below the limit: once the limit is reached
/// the 100 % threshold (if listed) says more than a forecast.
///
/// ```
/// use std::collections::HashSet;
/// use pulse_core::budget::{Budget, BudgetSpec, budget_alerts};
/// use pulse_core::window::{Period, Tz};
/// let budget = Budget::new(BudgetSpec::new("all", Period::Month, 100.0)).unwrap();
/// let period = budget.period_at(1_772_323_200_000, Tz::UTC); // 2026-03-01
/// let mut outbox = HashSet::new();
/// let due = budget_alerts(&budget, &period, 85.0, Some(120.0), |id| outbox.contains(&id.key()));
/// let keys: Vec<String> = due.iter().map(|a| a.id.key()).collect();
/// assert_eq!(keys, ["threshold:2026-03:50:all", "threshold:2026-03:80:all", "forecast:2026-03:-:all"]);
/// outbox.extend(keys);
/// // The next scrape, still at 85: nothing new.
/// assert!(budget_alerts(&budget, &period, 85.5, Some(121.0), |id| outbox.contains(&id.key())).is_empty());
/// ```
pub fn budget_alerts(
    budget: &Budget,
    period: &BudgetPeriod,
    spent: f64,
    projected: Option<f64>,
    is_recorded: impl Fn(&AlertId) -> bool,
) -> Vec<BudgetAlert> {
    let alert = |id| BudgetAlert {
        id,
        spent,
        limit: budget.limit(),
        projected,
    };
    let mut due: Vec<BudgetAlert> = reached(budget, spent)
        .map(|t| AlertId::threshold(budget, &period.key, t))
        .filter(|id| !is_recorded(id))
        .map(alert)
        .collect();
    let below_limit = clean(spent) < budget.limit();
    if let Some(p) = projected
        && budget.forecast_warning()
        && below_limit
        && forecast_exceeds(budget, p)
    {
        let id = AlertId::forecast(budget, &period.key);
        if !is_recorded(&id) {
            due.push(alert(id));
        }
    }
    due
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use proptest::prelude::*;

    use super::*;
    use crate::budget::{BudgetSpec, current_period};
    use crate::window::{Period, Tz, parse_tz};

    fn budget(limit: f64, thresholds: &[f64]) -> Budget {
        let mut spec = BudgetSpec::new("b", Period::Month, limit);
        spec.thresholds = thresholds.to_vec();
        Budget::new(spec).unwrap()
    }

    fn shown(ts: &[Threshold]) -> Vec<String> {
        ts.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn crossings_from_rows() {
        let b = budget(100.0, &[50.0, 80.0, 90.0, 100.0]);
        // (before, after, crossed)
        let rows: [(f64, f64, &[&str]); 10] = [
            (0.0, 49.99, &[]),
            (0.0, 50.0, &["50"]),
            (49.0, 50.0, &["50"]),
            (50.0, 60.0, &[]),
            (40.0, 95.0, &["50", "80", "90"]),
            (0.0, 250.0, &["50", "80", "90", "100"]),
            (100.0, 250.0, &[]),
            (79.0, 80.00000000000001, &["80"]),
            (95.0, 90.0, &[]),
            (f64::NAN, 60.0, &["50"]),
        ];
        for (before, after, want) in rows {
            assert_eq!(
                shown(&crossed_between(&b, before, after)),
                want,
                "{before} -> {after}"
            );
        }
        // Float noise never decides: 0.1 + 0.2 is 30 % of 1.
        let small = budget(1.0, &[30.0]);
        assert_eq!(shown(&crossed_between(&small, 0.1, 0.1 + 0.2)), ["30"]);
        assert!(reached(&small, f64::NAN).next().is_none());
    }

    #[test]
    fn keys_are_stable_and_distinct() {
        let b = budget(100.0, &[80.0, 12.5]);
        let p = PeriodKey::of(
            chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            Period::Month,
        );
        let t80 = AlertId::threshold(&b, &p, Threshold::from_percent(80.0).unwrap());
        let t125 = AlertId::threshold(&b, &p, Threshold::from_percent(12.5).unwrap());
        let fc = AlertId::forecast(&b, &p);
        assert_eq!(t80.key(), "threshold:2026-03:80:b");
        assert_eq!(t125.key(), "threshold:2026-03:12.5:b");
        assert_eq!(fc.to_string(), "forecast:2026-03:-:b");
        // Pinned: a change here would make receivers accept repeats after an upgrade.
        assert_eq!(fnv1a_128(b""), 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d);
        assert_eq!(fnv1a_128(b"a"), 0xd228_cb69_6f1a_8caf_7891_2b70_4e4a_8964);
        let keys: HashSet<String> = [&t80, &t125, &fc]
            .iter()
            .map(|id| id.idempotency_key())
            .collect();
        assert_eq!(keys.len(), 3);
        assert!(
            keys.iter()
                .all(|k| k.len() == 32 && k.bytes().all(|c| c.is_ascii_hexdigit()))
        );
        // Subjects with the separator cannot collide with other parts.
        let odd = AlertId::spike("x:threshold", &p);
        assert_eq!(odd.key(), "spike:2026-03:-:x:threshold");
    }

    #[test]
    fn forecast_warning_rules() {
        let period = current_period(Period::Month, 1_772_323_200_000, Tz::UTC);
        let none = |_: &AlertId| false;
        let kinds = |alerts: Vec<BudgetAlert>| -> Vec<String> {
            alerts.iter().map(|a| a.id.key()).collect()
        };
        let b = budget(100.0, &[100.0]);
        // (spent, projected, due keys)
        let rows: [(f64, Option<f64>, &[&str]); 6] = [
            (10.0, Some(100.0), &[]),
            (10.0, Some(100.5), &["forecast:2026-03:-:b"]),
            (10.0, None, &[]),
            (10.0, Some(f64::NAN), &[]),
            (100.0, Some(150.0), &["threshold:2026-03:100:b"]),
            (99.0, Some(150.0), &["forecast:2026-03:-:b"]),
        ];
        for (spent, projected, want) in rows {
            assert_eq!(
                kinds(budget_alerts(&b, &period, spent, projected, none)),
                want
            );
        }
        let mut spec = BudgetSpec::new("b", Period::Month, 100.0);
        spec.forecast_warning = false;
        let quiet = Budget::new(spec).unwrap();
        assert!(budget_alerts(&quiet, &period, 10.0, Some(500.0), none).is_empty());
        let fired = |id: &AlertId| id.kind == AlertKind::Forecast;
        assert!(budget_alerts(&b, &period, 10.0, Some(500.0), fired).is_empty());
    }

    /// Zones with daylight saving, :30/:45 offsets, +14, a 30-minute shift and a skipped day.
    const ZONES: [&str; 10] = [
        "UTC",
        "America/New_York",
        "Europe/London",
        "Australia/Sydney",
        "Asia/Kathmandu",
        "Asia/Kolkata",
        "Australia/Eucla",
        "Pacific/Kiritimati",
        "Australia/Lord_Howe",
        "Pacific/Apia",
    ];

    fn periods() -> impl Strategy<Value = Period> {
        prop_oneof![Just(Period::Day), Just(Period::Week), Just(Period::Month)]
    }

    /// One scrape: the time since the previous one and the spend it adds.
    fn scrapes() -> impl Strategy<Value = Vec<(i64, f64)>> {
        let gap = prop_oneof![
            4 => 1_000i64..900_000,           // seconds to 15 minutes
            2 => 900_000i64..21_600_000,      // up to 6 hours
            1 => 21_600_000i64..3_000_000_000 // up to ~35 days: skips periods
        ];
        let spend = prop_oneof![2 => Just(0.0), 5 => 0.0f64..8.0, 1 => 8.0f64..60.0];
        prop::collection::vec((gap, spend), 1..300)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Replays scrapes like the host does (the outbox is a set of keys)
        /// and checks, per period: each threshold the spend reaches fires
        /// exactly once, at the first scrape that reaches it; no other
        /// threshold fires; `crossed_between` agrees.
        #[test]
        fn thresholds_fire_exactly_once_per_period(
            zone in 0..ZONES.len(),
            period in periods(),
            start in 946_684_800_000i64..1_893_456_000_000, // 2000..2030
            steps in scrapes(),
            limit in prop_oneof![Just(100.0), 0.5f64..500.0],
        ) {
            let tz: Tz = parse_tz(ZONES[zone]).unwrap();
            let mut spec = BudgetSpec::new("p", period, limit);
            spec.thresholds = vec![100.0, 50.0, 80.0, 90.0, 12.5, 150.0];
            spec.forecast_warning = false;
            let b = Budget::new(spec).unwrap();

            let mut outbox: HashSet<String> = HashSet::new();
            // Per period key: (range, spend so far, fired thresholds with their scrape index).
            let mut seen: BTreeMap<PeriodKey, (crate::window::TimeRange, f64)> = BTreeMap::new();
            let mut fired: Vec<(PeriodKey, Threshold, usize)> = Vec::new();
            let mut now = start;
            let mut current: Option<BudgetPeriod> = None;
            for (i, &(gap, spend)) in steps.iter().enumerate() {
                now += gap;
                let p = b.period_at(now, tz);
                prop_assert!(p.range.contains(now));
                if let Some(prev) = &current {
                    // A key changes exactly when the range does, and only forwards.
                    prop_assert_eq!(prev.key == p.key, prev.range == p.range);
                    prop_assert!(prev.key <= p.key);
                    prop_assert!(prev.range.end_ms <= p.range.start_ms || prev.range == p.range);
                }
                let entry = seen.entry(p.key.clone()).or_insert((p.range, 0.0));
                prop_assert_eq!(entry.0, p.range);
                let before = entry.1;
                entry.1 += spend;
                let after = entry.1;
                let due = budget_alerts(&b, &p, after, None, |id| outbox.contains(&id.key()));
                let due_thresholds: Vec<Threshold> =
                    due.iter().filter_map(|a| a.id.kind.threshold()).collect();
                prop_assert_eq!(&due_thresholds, &crossed_between(&b, before, after));
                for a in due {
                    prop_assert!(outbox.insert(a.id.key()), "fired twice: {}", a.id);
                    fired.push((p.key.clone(), a.id.kind.threshold().unwrap(), i));
                }
                current = Some(p);
            }
            for (key, (_, total)) in &seen {
                let want: Vec<Threshold> = reached(&b, *total).collect();
                let got: Vec<Threshold> =
                    fired.iter().filter(|f| &f.0 == key).map(|f| f.1).collect();
                prop_assert_eq!(got, want, "period {}", key);
            }
        }
    }
}
