//! What one scrape changed.

use crate::catalog::{Dimension, Metric, MetricValues};
use crate::sort::sort_stable_by;

/// What one scrape changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// When the body was scraped (milliseconds since the Unix epoch).
    pub at_ms: i64,
    /// First observation of this target: every series was stored, all deltas are 0.
    pub baseline: bool,
    /// Series found reset: value fell, or a new `_created` beside a known one.
    pub resets: u32,
    /// Series seen for the first time (all of them on the baseline).
    pub new_series: u32,
    /// Series seen in the previous observation but absent from this one.
    pub vanished_series: u32,
    /// Series first seen now but created before the previous observation,
    /// taken as a baseline (another worker answered, see the module docs).
    pub adopted_series: u32,
    /// LiteLLM's current values: per metric, the sum over the series in this body.
    pub live: MetricValues,
    /// Increases since the previous observation (0 for gauges).
    pub deltas: MetricValues,
    /// Non-zero deltas per dimension key, sorted by dimension, key, metric.
    /// Per dimension they sum to [`Observation::deltas`].
    pub breakdown: Vec<BreakdownDelta>,
}

/// The increase of one metric for one key of one dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakdownDelta {
    /// The dimension.
    pub dimension: Dimension,
    /// The key (`""` when the series carries none, see [`crate::catalog::dimension_key`]).
    pub key: String,
    /// The metric.
    pub metric: Metric,
    /// The increase.
    pub delta: f64,
}

impl BreakdownDelta {
    /// What the breakdown is sorted and summed by.
    fn slot(&self) -> (Dimension, &str, Metric) {
        (self.dimension, &self.key, self.metric)
    }
}

/// Sorts a breakdown by dimension, key, metric, the order
/// [`Observation::breakdown`] documents.
pub(super) fn sort_breakdown(breakdown: &mut Vec<BreakdownDelta>) {
    sort_stable_by(breakdown, |a, b| a.slot().cmp(&b.slot()));
}
