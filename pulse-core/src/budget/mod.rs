//! Budgets: a spending limit per local period, the thresholds that warn
//! before it is reached, forecasts of where the period will end, and the
//! rules that decide which alert is due, each exactly once.
//!
//! Everything here is pure. The host passes in what it knows (the budget
//! from its config, "now", the time zone, the spend so far from its store and
//! the identities of the alerts it has already recorded) and gets back what
//! to record next. The host owns the config file, the outbox table and the
//! delivery; this module owns every rule.
//!
//! **How the host uses it, once per scrape and budget:**
//! 1. [`Budget::period_at`] gives the current [`BudgetPeriod`]: its range
//!    (to sum the spend in) and its [`PeriodKey`] (to look up fired alerts).
//! 2. [`forecast()`] projects the end-of-period value from the store's
//!    15-minute buckets ([`History`]).
//! 3. [`budget_alerts`] returns the alerts that are due and not yet fired;
//!    the host inserts them into its outbox keyed by [`AlertId::key`] in the
//!    same transaction as the scrape. A repeat of the same decision yields the
//!    same key, so a unique index makes a second insert a no-op.
//!
//! **Invariants.**
//! - An alert's identity is (subject, period key, kind, threshold), nothing
//!   else: no timestamps, no amounts. It is stable across restarts, replicas
//!   and config reloads that keep the budget's name and period.
//! - A threshold alert is due when the spend *reaches* the threshold
//!   (`spent ≥ limit × percent / 100`, both sides rounded by
//!   [`crate::num::clean`] so float noise cannot decide), and at most once per
//!   period key. A new period has a new key, so every threshold re-arms.
//! - Every jump fires one alert per threshold it crosses (lowest first), never
//!   one alert standing for several: each identity then has exactly one
//!   decision, and a crash between two crossings can neither hide the lower
//!   one nor repeat it.
//!
//! Submodules: [`period`](mod@period) (period ranges and keys),
//! [`alert`](mod@alert) (threshold and forecast decisions, identities),
//! [`history`](mod@history) (the store's buckets as input),
//! [`forecast`](mod@forecast) (projection, "How forecasts work"),
//! [`backtest`](mod@backtest) (forecast error on a past month),
//! [`spike`](mod@spike) (the spend spike rule).

pub mod alert;
pub mod backtest;
pub mod forecast;
pub mod history;
pub mod period;
pub mod spike;

use std::fmt;

use thiserror::Error;

use crate::catalog::{Dimension, Metric};
use crate::window::{Period, Tz};

pub use alert::{
    AlertId, AlertKind, BudgetAlert, budget_alerts, crossed_between, forecast_exceeds, reached,
};
pub use backtest::{BACKTEST_DAYS, BacktestRow, backtest_month};
pub use forecast::{Forecast, ForecastParams, HourSlot, Season, SlotRate, forecast};
pub use history::History;
pub use period::{BudgetPeriod, PeriodKey, current_period};
pub use spike::{HourSum, Spike, SpikeRule, hourly_sums, spikes};

/// The thresholds a budget gets when none are given: 50, 80, 90 and 100 %.
pub const DEFAULT_THRESHOLDS: [f64; 4] = [50.0, 80.0, 90.0, 100.0];

/// The largest threshold accepted, in percent of the limit.
pub const MAX_THRESHOLD_PERCENT: f64 = 1_000_000.0;

/// What a budget counts: everything, or one value of one breakdown dimension.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// All spend, whatever the model, key, team or user.
    All,
    /// Only the series whose `dimension` key (as
    /// [`crate::catalog::dimension_key`] computes it) equals the string.
    One(Dimension, String),
}

impl fmt::Display for Scope {
    /// `all`, or `dimension=value` (e.g. `team=research`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::All => f.write_str("all"),
            Scope::One(dim, key) => write!(f, "{dim}={key}"),
        }
    }
}

/// A threshold: a share of the budget's limit, in hundredths of a percent.
///
/// Stored as an integer so that thresholds compare, sort, hash and print
/// exactly: 80 % is `Threshold(8000)` and prints `80`; 12.5 % prints `12.5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Threshold(u32);

impl Threshold {
    /// The threshold at `percent` % of the limit.
    ///
    /// `None` unless `percent` is finite, above 0, at most
    /// [`MAX_THRESHOLD_PERCENT`] and has at most two decimals.
    ///
    /// ```
    /// use pulse_core::budget::Threshold;
    /// assert_eq!(Threshold::from_percent(80.0).unwrap().to_string(), "80");
    /// assert_eq!(Threshold::from_percent(12.5).unwrap().to_string(), "12.5");
    /// assert!(Threshold::from_percent(0.0).is_none());
    /// assert!(Threshold::from_percent(33.333).is_none());
    /// ```
    pub fn from_percent(percent: f64) -> Option<Threshold> {
        if !(percent.is_finite() && percent > 0.0 && percent <= MAX_THRESHOLD_PERCENT) {
            return None;
        }
        let hundredths = (percent * 100.0).round();
        if (percent * 100.0 - hundredths).abs() > 1e-6 || hundredths < 1.0 {
            return None;
        }
        // In 1..=1e8 after the checks above, so the cast is exact.
        Some(Threshold(hundredths as u32))
    }

    /// The threshold in hundredths of a percent (80 % is 8000).
    pub fn hundredths(self) -> u32 {
        self.0
    }

    /// The threshold in percent.
    pub fn percent(self) -> f64 {
        f64::from(self.0) / 100.0
    }

    /// The spend at which a budget of `limit` reaches this threshold.
    pub fn amount(self, limit: f64) -> f64 {
        crate::num::clean(limit * f64::from(self.0) / 10_000.0)
    }
}

impl fmt::Display for Threshold {
    /// The percent without a sign or trailing zeros: `80`, `12.5`, `33.33`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Integer arithmetic only: float formatting would grow the wasm build.
        let (whole, frac) = (self.0 / 100, self.0 % 100);
        match frac {
            0 => write!(f, "{whole}"),
            f10 if f10 % 10 == 0 => write!(f, "{whole}.{}", f10 / 10),
            _ => write!(f, "{whole}.{frac:02}"),
        }
    }
}

/// The fields of a budget, as the host's config gives them, before validation.
///
/// [`BudgetSpec::new`] fills in the defaults; [`Budget::new`] validates.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetSpec {
    /// A unique, non-empty name. Part of every alert identity.
    pub name: String,
    /// What is counted. Default: [`Scope::All`].
    pub scope: Scope,
    /// The counted metric. Default: [`Metric::Cost`]; any counter is
    /// accepted (`tokens`, `requests`, …), a gauge is not.
    pub metric: Metric,
    /// The local calendar period the limit applies to.
    pub period: Period,
    /// The limit per period, in the metric's unit; finite and above 0.
    pub limit: f64,
    /// Thresholds in percent of the limit. Default: [`DEFAULT_THRESHOLDS`].
    /// Any order; duplicates are dropped.
    pub thresholds: Vec<f64>,
    /// Whether to warn once per period when the forecast exceeds the limit.
    /// Default: `true`.
    pub forecast_warning: bool,
}

impl BudgetSpec {
    /// A spec with the defaults: all spend, cost, 50/80/90/100 %, forecast
    /// warning on.
    pub fn new(name: impl Into<String>, period: Period, limit: f64) -> BudgetSpec {
        BudgetSpec {
            name: name.into(),
            scope: Scope::All,
            metric: Metric::Cost,
            period,
            limit,
            thresholds: DEFAULT_THRESHOLDS.to_vec(),
            forecast_warning: true,
        }
    }
}

/// The budget field an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BudgetField {
    /// `name`.
    Name,
    /// `metric`.
    Metric,
    /// `limit`.
    Limit,
    /// `thresholds`.
    Thresholds,
}

impl BudgetField {
    /// The field's name as a config file spells it.
    pub fn name(self) -> &'static str {
        match self {
            BudgetField::Name => "name",
            BudgetField::Metric => "metric",
            BudgetField::Limit => "limit",
            BudgetField::Thresholds => "thresholds",
        }
    }
}

impl fmt::Display for BudgetField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum BudgetErrorKind {
    /// The name is empty or only whitespace.
    #[error("must not be empty")]
    Empty,
    /// The metric is a gauge, which has no spend to add up.
    #[error("{0} is a gauge; a budget needs a counter such as cost, tokens or requests")]
    Gauge(Metric),
    /// The limit is zero, negative, NaN or infinite.
    #[error("must be a finite number above 0, got {0}")]
    Limit(f64),
    /// The threshold list is empty.
    #[error("must list at least one threshold")]
    NoThresholds,
    /// A threshold is not a percent [`Threshold::from_percent`] accepts.
    #[error(
        "{0} is not a threshold: expected a percent above 0 and at most 1000000, \
         with at most two decimals"
    )]
    Threshold(f64),
}

/// A budget that failed validation: which budget, which field, what is wrong.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("budget {budget:?}: {field}: {kind}")]
pub struct BudgetError {
    /// The budget's name as given (possibly empty).
    pub budget: String,
    /// The offending field.
    pub field: BudgetField,
    /// What is wrong with it.
    pub kind: BudgetErrorKind,
}

/// A validated budget: a limit on one metric, per local period.
///
/// Built only through [`Budget::new`], so its invariants hold: the name is
/// not blank, the limit is finite and above 0, the metric is a counter, and
/// the thresholds are non-empty, ascending and distinct.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    name: String,
    scope: Scope,
    metric: Metric,
    period: Period,
    limit: f64,
    thresholds: Vec<Threshold>,
    forecast_warning: bool,
}

impl Budget {
    /// Validates a spec.
    ///
    /// ```
    /// use pulse_core::budget::{Budget, BudgetField, BudgetSpec};
    /// use pulse_core::window::Period;
    /// let b = Budget::new(BudgetSpec::new("all", Period::Month, 100.0)).unwrap();
    /// assert_eq!(b.thresholds().len(), 4);
    /// let err = Budget::new(BudgetSpec::new("all", Period::Month, -1.0)).unwrap_err();
    /// assert_eq!(err.field, BudgetField::Limit);
    /// assert_eq!(err.to_string(), "budget \"all\": limit: must be a finite number above 0, got -1");
    /// ```
    pub fn new(spec: BudgetSpec) -> Result<Budget, BudgetError> {
        let fail = |field, kind| BudgetError {
            budget: spec.name.clone(),
            field,
            kind,
        };
        if spec.name.trim().is_empty() {
            return Err(fail(BudgetField::Name, BudgetErrorKind::Empty));
        }
        if spec.metric.is_gauge() {
            return Err(fail(
                BudgetField::Metric,
                BudgetErrorKind::Gauge(spec.metric),
            ));
        }
        if !(spec.limit.is_finite() && spec.limit > 0.0) {
            return Err(fail(BudgetField::Limit, BudgetErrorKind::Limit(spec.limit)));
        }
        if spec.thresholds.is_empty() {
            return Err(fail(BudgetField::Thresholds, BudgetErrorKind::NoThresholds));
        }
        let mut thresholds = Vec::with_capacity(spec.thresholds.len());
        for &percent in &spec.thresholds {
            match Threshold::from_percent(percent) {
                Some(t) => thresholds.push(t),
                None => {
                    return Err(fail(
                        BudgetField::Thresholds,
                        BudgetErrorKind::Threshold(percent),
                    ));
                }
            }
        }
        thresholds.sort_unstable();
        thresholds.dedup();
        Ok(Budget {
            name: spec.name,
            scope: spec.scope,
            metric: spec.metric,
            period: spec.period,
            limit: spec.limit,
            thresholds,
            forecast_warning: spec.forecast_warning,
        })
    }

    /// The budget's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the budget counts.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The counted metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// The local calendar period.
    pub fn period(&self) -> Period {
        self.period
    }

    /// The limit per period (finite, above 0).
    pub fn limit(&self) -> f64 {
        self.limit
    }

    /// The thresholds, ascending and distinct (never empty).
    pub fn thresholds(&self) -> &[Threshold] {
        &self.thresholds
    }

    /// Whether a forecast above the limit warns.
    pub fn forecast_warning(&self) -> bool {
        self.forecast_warning
    }

    /// `spent` as a percent of the limit (not rounded, may exceed 100).
    pub fn percent_of_limit(&self, spent: f64) -> f64 {
        spent / self.limit * 100.0
    }

    /// The budget's period that contains `now_ms` in `tz`: see
    /// [`current_period`].
    pub fn period_at(&self, now_ms: i64, tz: Tz) -> BudgetPeriod {
        current_period(self.period, now_ms, tz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> BudgetSpec {
        BudgetSpec::new("team-a", Period::Month, 100.0)
    }

    #[test]
    fn defaults() {
        let b = Budget::new(spec()).unwrap();
        assert_eq!(b.name(), "team-a");
        assert_eq!(b.scope(), &Scope::All);
        assert_eq!(b.metric(), Metric::Cost);
        assert_eq!(b.period(), Period::Month);
        assert_eq!(b.limit(), 100.0);
        let shown: Vec<String> = b.thresholds().iter().map(|t| t.to_string()).collect();
        assert_eq!(shown, ["50", "80", "90", "100"]);
        assert!(b.forecast_warning());
        assert_eq!(b.percent_of_limit(25.0), 25.0);
    }

    #[test]
    fn thresholds_are_sorted_and_deduplicated() {
        let mut s = spec();
        s.thresholds = vec![100.0, 12.5, 80.0, 100.0, 150.0, 12.50];
        let b = Budget::new(s).unwrap();
        let shown: Vec<String> = b.thresholds().iter().map(|t| t.to_string()).collect();
        assert_eq!(shown, ["12.5", "80", "100", "150"]);
    }

    #[test]
    fn errors_name_the_field() {
        type Edit = fn(&mut BudgetSpec);
        let rows: [(Edit, BudgetField, &str); 11] = [
            (
                |s| s.name = String::new(),
                BudgetField::Name,
                "must not be empty",
            ),
            (
                |s| s.name = " \t".into(),
                BudgetField::Name,
                "must not be empty",
            ),
            (|s| s.limit = 0.0, BudgetField::Limit, "above 0, got 0"),
            (|s| s.limit = -5.0, BudgetField::Limit, "above 0, got -5"),
            (|s| s.limit = f64::NAN, BudgetField::Limit, "got NaN"),
            (|s| s.limit = f64::INFINITY, BudgetField::Limit, "got inf"),
            (
                |s| s.thresholds.clear(),
                BudgetField::Thresholds,
                "at least one",
            ),
            (
                |s| s.thresholds = vec![50.0, 0.0],
                BudgetField::Thresholds,
                "0 is not",
            ),
            (
                |s| s.thresholds = vec![-10.0],
                BudgetField::Thresholds,
                "-10 is not",
            ),
            (
                |s| s.thresholds = vec![f64::NAN],
                BudgetField::Thresholds,
                "NaN is not",
            ),
            (
                |s| s.metric = Metric::InFlightRequests,
                BudgetField::Metric,
                "gauge",
            ),
        ];
        for (edit, field, text) in rows {
            let mut s = spec();
            edit(&mut s);
            let err = Budget::new(s).unwrap_err();
            assert_eq!(err.field, field, "{err}");
            assert!(err.to_string().contains(text), "{err}");
            assert!(
                err.to_string().contains(&format!(": {}: ", field.name())),
                "{err}"
            );
        }
    }

    #[test]
    fn threshold_text_and_amounts() {
        let rows = [
            (80.0, "80", 8000, 80.0),
            (12.5, "12.5", 1250, 12.5),
            (33.33, "33.33", 3333, 33.33),
            (0.01, "0.01", 1, 0.01),
            (250.0, "250", 25000, 250.0),
        ];
        for (percent, text, hundredths, amount) in rows {
            let t = Threshold::from_percent(percent).unwrap();
            assert_eq!(t.to_string(), text);
            assert_eq!(t.hundredths(), hundredths);
            assert_eq!(t.percent(), percent);
            assert_eq!(t.amount(100.0), amount);
        }
        // Float noise in the product is cleaned: 0.3 × 30 % is 0.09.
        assert_eq!(Threshold::from_percent(30.0).unwrap().amount(0.3), 0.09);
        for bad in [0.0, -1.0, 0.001, 1e7, f64::NAN, f64::INFINITY, 1.005] {
            assert_eq!(Threshold::from_percent(bad), None, "{bad}");
        }
    }

    #[test]
    fn scope_text() {
        assert_eq!(Scope::All.to_string(), "all");
        assert_eq!(
            Scope::One(Dimension::Team, "research".into()).to_string(),
            "team=research"
        );
    }
}
