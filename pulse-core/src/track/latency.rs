//! What one scrape changed in the latency histograms and the deployment
//! health counters, and how two consecutive ones fold into one.

use crate::catalog::{Dimension, HealthCounter, Histogram};
use crate::latency::{Bucket, add_buckets};
use crate::sort::sort_stable_by;

/// Latency and health increases of one scrape, kept apart from the metric
/// deltas so that those, and their series counts, mean what they always did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencyDeltas {
    /// Histogram increases per dimension key, sorted by histogram,
    /// dimension, key; only keys whose histogram changed.
    pub histograms: Vec<HistogramDelta>,
    /// Non-zero health counter increases per dimension key, sorted by
    /// counter, dimension, key.
    pub health: Vec<HealthDelta>,
    /// Resets, new, vanished and adopted series among the histogram and
    /// health counter series (the metric series are counted in
    /// [`super::Observation`]).
    pub series: SeriesCounts,
}

/// How many series one observation found reset, new, vanished or adopted
/// (rules 3 to 6 of [`crate::track`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeriesCounts {
    /// Series found reset.
    pub resets: u32,
    /// Series seen for the first time.
    pub new_series: u32,
    /// Series seen in the previous observation but absent from this one.
    pub vanished_series: u32,
    /// Series first seen now but created before the previous observation.
    pub adopted_series: u32,
}

impl SeriesCounts {
    fn add(&mut self, other: SeriesCounts) {
        self.resets = self.resets.saturating_add(other.resets);
        self.new_series = self.new_series.saturating_add(other.new_series);
        self.vanished_series = self.vanished_series.saturating_add(other.vanished_series);
        self.adopted_series = self.adopted_series.saturating_add(other.adopted_series);
    }
}

/// The increase of one histogram for one key of one dimension: the sum over
/// its series of each sample's increase.
///
/// `buckets` stay cumulative (each counts the new observations at or below
/// its `le`), so deltas add up over scrapes and keys, and
/// [`crate::latency::bucket_quantile`] reads them as they are. Every `le`
/// of the histogram in the scraped body is listed, also when its increase
/// is 0.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramDelta {
    /// The histogram.
    pub histogram: Histogram,
    /// The dimension.
    pub dimension: Dimension,
    /// The key (`""` when the series carries none).
    pub key: String,
    /// Increase of each cumulative bucket, sorted by `le` (`+Inf` last).
    pub buckets: Vec<Bucket>,
    /// Increase of `_count`: new observations.
    pub count: f64,
    /// Increase of `_sum`: their total, in seconds.
    pub sum: f64,
}

/// The increase of one health counter for one key of one dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthDelta {
    /// The counter.
    pub counter: HealthCounter,
    /// The dimension.
    pub dimension: Dimension,
    /// The key.
    pub key: String,
    /// The increase.
    pub delta: f64,
}

impl HistogramDelta {
    fn slot(&self) -> (Histogram, Dimension, &str) {
        (self.histogram, self.dimension, &self.key)
    }
}

impl HealthDelta {
    fn slot(&self) -> (HealthCounter, Dimension, &str) {
        (self.counter, self.dimension, &self.key)
    }
}

/// Sorts histogram deltas by histogram, dimension, key.
pub(super) fn sort_histograms(v: &mut Vec<HistogramDelta>) {
    sort_stable_by(v, |a, b| a.slot().cmp(&b.slot()));
}

/// Sorts health deltas by counter, dimension, key.
pub(super) fn sort_health(v: &mut Vec<HealthDelta>) {
    sort_stable_by(v, |a, b| a.slot().cmp(&b.slot()));
}

impl LatencyDeltas {
    /// True when nothing changed and no series was counted.
    pub fn is_empty(&self) -> bool {
        self.histograms.is_empty()
            && self.health.is_empty()
            && self.series == SeriesCounts::default()
    }

    /// Folds `earlier`, the latency deltas of the observation just before,
    /// into these (see [`super::Observation::absorb_earlier`]): increases
    /// and series counts add up, the order stays the documented one.
    pub fn absorb_earlier(&mut self, earlier: LatencyDeltas) {
        self.series.add(earlier.series);

        let mut all = earlier.histograms;
        all.append(&mut self.histograms);
        sort_histograms(&mut all);
        let mut merged: Vec<HistogramDelta> = Vec::with_capacity(all.len());
        for d in all {
            match merged.last_mut() {
                Some(last) if last.slot() == d.slot() => {
                    add_buckets(&mut last.buckets, &d.buckets);
                    last.count += d.count;
                    last.sum += d.sum;
                }
                _ => merged.push(d),
            }
        }
        self.histograms = merged;

        let mut all = earlier.health;
        all.append(&mut self.health);
        sort_health(&mut all);
        let mut merged: Vec<HealthDelta> = Vec::with_capacity(all.len());
        for d in all {
            match merged.last_mut() {
                Some(last) if last.slot() == d.slot() => last.delta += d.delta,
                _ => merged.push(d),
            }
        }
        self.health = merged;
    }
}

#[cfg(all(test, feature = "latency"))]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, Metric};
    use crate::track::Tracker;
    use crate::track::tests::{GPT, Line, REQ, body, tracker};

    const BUCKET: &str = "litellm_request_total_latency_metric_bucket";
    const SUM: &str = "litellm_request_total_latency_metric_sum";
    const COUNT: &str = "litellm_request_total_latency_metric_count";
    const CREATED: &str = "litellm_request_total_latency_metric_created";
    const FALLBACKS: &str = "litellm_deployment_successful_fallbacks_total";

    const LE_1: &[(&str, &str)] = &[
        ("api_provider", "openai"),
        ("le", "1.0"),
        ("requested_model", "gpt"),
    ];
    const LE_INF: &[(&str, &str)] = &[
        ("api_provider", "openai"),
        ("le", "+Inf"),
        ("requested_model", "gpt"),
    ];
    const INF: f64 = f64::INFINITY;

    /// One GPT series of the request latency histogram: `fast` observations
    /// at or below 1 s out of `count`, their `sum`, and its `_created`.
    fn latency(fast: f64, count: f64, sum: f64, created: Option<f64>) -> Vec<Line<'static>> {
        let mut lines = vec![
            (BUCKET, LE_1, fast),
            (BUCKET, LE_INF, count),
            (COUNT, GPT, count),
            (SUM, GPT, sum),
        ];
        if let Some(c) = created {
            lines.push((CREATED, GPT, c));
        }
        lines
    }

    fn model(o: &super::super::Observation) -> Vec<&HistogramDelta> {
        o.latency
            .histograms
            .iter()
            .filter(|d| d.dimension == Dimension::Model)
            .collect()
    }

    fn gpt(buckets: &[(f64, f64)], count: f64, sum: f64) -> HistogramDelta {
        HistogramDelta {
            histogram: Histogram::RequestLatency,
            dimension: Dimension::Model,
            key: "gpt".to_owned(),
            buckets: buckets
                .iter()
                .map(|&(le, count)| Bucket { le, count })
                .collect(),
            count,
            sum,
        }
    }

    #[test]
    fn histogram_samples_are_tracked_as_counters_with_their_own_counts() {
        let mut t = tracker();
        let mut first = latency(1.0, 2.0, 1.5, None);
        first.push((REQ, GPT, 2.0));
        let o = t.observe(&body(&first), 1000);
        assert!(o.latency.histograms.is_empty());
        assert_eq!(o.latency.series.new_series, 4);
        assert_eq!(o.new_series, 1, "metric series are counted apart");
        assert_eq!((t.series_len(), t.latency_series_len()), (1, 4));

        let o = t.observe(&body(&latency(3.0, 5.0, 4.0, None)), 2000);
        assert_eq!(model(&o), [&gpt(&[(1.0, 2.0), (INF, 3.0)], 3.0, 2.5)]);
        // Every dimension gets the same sums, under its own key.
        assert_eq!(o.latency.histograms.len(), Dimension::COUNT);
        assert_eq!(o.vanished_series, 1);
        assert_eq!(o.latency.series.vanished_series, 0);
        assert_eq!(o.deltas.get(Metric::Requests), 0.0);
    }

    #[test]
    fn zero_bucket_increases_stay_and_unchanged_histograms_are_left_out() {
        let mut t = tracker();
        t.observe(&body(&latency(1.0, 2.0, 1.5, None)), 1000);
        let o = t.observe(&body(&latency(1.0, 3.0, 6.5, None)), 2000);
        assert_eq!(model(&o), [&gpt(&[(1.0, 0.0), (INF, 1.0)], 1.0, 5.0)]);
        let o = t.observe(&body(&latency(1.0, 3.0, 6.5, None)), 3000);
        assert!(o.latency.histograms.is_empty());
    }

    #[test]
    fn a_histogram_that_falls_was_reset() {
        let mut t = tracker();
        t.observe(&body(&latency(4.0, 5.0, 9.0, None)), 1000);
        let o = t.observe(&body(&latency(1.0, 1.0, 0.5, None)), 2000);
        assert_eq!(o.latency.series.resets, 4);
        assert_eq!(o.resets, 0);
        assert_eq!(model(&o), [&gpt(&[(1.0, 1.0), (INF, 1.0)], 1.0, 0.5)]);
    }

    #[test]
    fn a_new_created_resets_every_sample_of_the_histogram() {
        let mut t = tracker();
        t.observe(&body(&latency(1.0, 2.0, 1.0, Some(0.5))), 1000);
        // LiteLLM restarted and already served more than before.
        let o = t.observe(&body(&latency(2.0, 3.0, 2.0, Some(1.5))), 2000);
        assert_eq!(o.latency.series.resets, 4);
        assert_eq!(model(&o), [&gpt(&[(1.0, 2.0), (INF, 3.0)], 3.0, 2.0)]);
        // The old series vanished; the new one grows from here.
        let o = t.observe(&body(&latency(2.0, 4.0, 3.0, Some(1.5))), 3000);
        assert_eq!(o.latency.series.vanished_series, 0);
        assert_eq!(model(&o), [&gpt(&[(1.0, 0.0), (INF, 1.0)], 1.0, 1.0)]);
    }

    #[test]
    fn another_workers_histogram_is_adopted_and_a_new_one_counts_whole() {
        let mut t = tracker();
        t.observe(&body(&[]), 10_000);
        let o = t.observe(&body(&latency(1.0, 2.0, 1.0, Some(5.0))), 20_000);
        assert_eq!(o.latency.series.adopted_series, 4);
        assert!(o.latency.histograms.is_empty());
        let mut t = tracker();
        t.observe(&body(&[]), 10_000);
        let o = t.observe(&body(&latency(1.0, 2.0, 1.0, Some(15.0))), 20_000);
        assert_eq!(o.latency.series.new_series, 4);
        assert_eq!(model(&o), [&gpt(&[(1.0, 1.0), (INF, 2.0)], 2.0, 1.0)]);
    }

    #[test]
    fn health_counters_give_deltas_per_key() {
        let mut t = tracker();
        let fb: &[(&str, &str)] = &[("fallback_model", "claude"), ("requested_model", "gpt")];
        t.observe(&body(&[(FALLBACKS, fb, 1.0)]), 1000);
        let o = t.observe(&body(&[(FALLBACKS, fb, 3.0)]), 2000);
        let by_model: Vec<&HealthDelta> = o
            .latency
            .health
            .iter()
            .filter(|d| d.dimension == Dimension::Model)
            .collect();
        assert_eq!(
            by_model,
            [&HealthDelta {
                counter: HealthCounter::SuccessfulFallbacks,
                dimension: Dimension::Model,
                key: "gpt".to_owned(),
                delta: 2.0
            }]
        );
        assert_eq!(t.latency_series_len(), 1);
    }

    #[test]
    fn merged_observations_equal_one_that_covered_both() {
        let scrapes = [
            latency(1.0, 2.0, 1.0, None),
            latency(2.0, 4.0, 3.0, None),
            latency(5.0, 6.0, 4.0, None),
        ];
        let mut t = tracker();
        t.observe(&body(&scrapes[0]), 1000);
        let earlier = t.observe(&body(&scrapes[1]), 2000);
        let mut later = t.observe(&body(&scrapes[2]), 3000);
        later.absorb_earlier(earlier);
        let mut direct = tracker();
        direct.observe(&body(&scrapes[0]), 1000);
        let whole = direct.observe(&body(&scrapes[2]), 3000);
        assert_eq!(later.latency.histograms, whole.latency.histograms);
    }

    #[test]
    fn histogram_series_survive_a_state_round_trip() {
        let mut t = tracker();
        t.observe(&body(&latency(1.0, 2.0, 1.0, Some(0.5))), 1000);
        let state = t.export_state();
        assert_eq!(state.series.len(), 4);
        let mut resumed = Tracker::from_state(Catalog::litellm(), state.clone());
        assert_eq!(resumed.export_state(), state);
        assert_eq!(resumed.latency_series_len(), 4);
        let next = latency(2.0, 4.0, 3.0, Some(0.5));
        assert_eq!(
            resumed.observe(&body(&next), 2000),
            t.observe(&body(&next), 2000)
        );
    }

    #[test]
    fn a_version_1_state_makes_the_next_observation_the_histogram_baseline() {
        let mut t = tracker();
        let mut first = latency(1.0, 2.0, 1.0, None);
        first.push((REQ, GPT, 2.0));
        t.observe(&body(&first), 1000);
        let mut state = t.export_state();
        assert_eq!(state.version, 2);
        // What a tracker without histograms wrote: the metric series only.
        state.version = 1;
        state.series.retain(|s| s.sample == REQ);
        let mut resumed = Tracker::from_state(Catalog::litellm(), state);
        assert_eq!(resumed.latency_series_len(), 0);
        // Without `_created` (LiteLLM's multiprocess mode) these would be new
        // series counted whole: LiteLLM's whole history in one scrape.
        let mut second = latency(3.0, 9.0, 5.0, None);
        second.push((REQ, GPT, 3.0));
        let o = resumed.observe(&body(&second), 2000);
        assert!(!o.baseline);
        assert_eq!(o.deltas.get(Metric::Requests), 1.0);
        assert!(o.latency.histograms.is_empty());
        assert_eq!(o.latency.series.new_series, 4);
        let o = resumed.observe(&body(&latency(4.0, 10.0, 6.0, None)), 3000);
        assert_eq!(model(&o), [&gpt(&[(1.0, 1.0), (INF, 1.0)], 1.0, 1.0)]);
    }
}
