//! What one scrape changed, and how two consecutive ones fold into one.

use super::LatencyDeltas;
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
    /// Latency histogram and deployment health increases, with their own
    /// series counts (the counts above are those of the metric series).
    pub latency: LatencyDeltas,
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

impl Observation {
    /// Folds `earlier`, the observation just before this one, into this one,
    /// as if one scrape had covered both: deltas, breakdown and series counts
    /// add up, so nothing is lost or counted twice. The time and the live
    /// values stay this one's (they are the latest); the result is a baseline
    /// only when both were.
    ///
    /// The breakdown stays as documented: one entry per dimension, key and
    /// metric, sorted by them; so do the latency deltas.
    pub fn absorb_earlier(&mut self, earlier: Observation) {
        self.latency.absorb_earlier(earlier.latency);
        for (metric, delta) in earlier.deltas.iter() {
            self.deltas.add(metric, delta);
        }
        self.baseline &= earlier.baseline;
        self.resets = self.resets.saturating_add(earlier.resets);
        self.new_series = self.new_series.saturating_add(earlier.new_series);
        self.vanished_series = self.vanished_series.saturating_add(earlier.vanished_series);
        self.adopted_series = self.adopted_series.saturating_add(earlier.adopted_series);

        let mut all = earlier.breakdown;
        all.append(&mut self.breakdown);
        sort_breakdown(&mut all);
        let mut merged: Vec<BreakdownDelta> = Vec::with_capacity(all.len());
        for d in all {
            match merged.last_mut() {
                Some(last) if last.slot() == d.slot() => last.delta += d.delta,
                _ => merged.push(d),
            }
        }
        self.breakdown = merged;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::catalog::Catalog;
    use crate::track::Tracker;
    use crate::track::tests::{CLAUDE, GPT, REQ, SPEND, body};

    fn delta(dimension: Dimension, key: &str, metric: Metric, delta: f64) -> BreakdownDelta {
        BreakdownDelta {
            dimension,
            key: key.to_owned(),
            metric,
            delta,
        }
    }

    fn observation(at_ms: i64, breakdown: Vec<BreakdownDelta>) -> Observation {
        Observation {
            at_ms,
            baseline: false,
            resets: 0,
            new_series: 0,
            vanished_series: 0,
            adopted_series: 0,
            live: MetricValues::default(),
            deltas: MetricValues::default(),
            breakdown,
            latency: LatencyDeltas::default(),
        }
    }

    fn slots(o: &Observation) -> Vec<(Dimension, &str, Metric)> {
        o.breakdown.iter().map(BreakdownDelta::slot).collect()
    }

    fn assert_sorted_without_repeats(o: &Observation) {
        let slots = slots(o);
        assert!(
            slots.windows(2).all(|w| w[0] < w[1]),
            "not strictly sorted: {slots:?}"
        );
    }

    #[test]
    fn counts_and_deltas_add_and_the_later_time_and_live_values_stay() {
        let mut earlier = observation(1000, vec![]);
        earlier.resets = 1;
        earlier.new_series = 2;
        earlier.vanished_series = 3;
        earlier.adopted_series = 4;
        earlier.deltas.set(Metric::Requests, 5.0);
        earlier.deltas.set(Metric::Cost, 0.25);
        earlier.live.set(Metric::Requests, 50.0);
        let mut later = observation(2000, vec![]);
        later.resets = 10;
        later.new_series = 20;
        later.vanished_series = 30;
        later.adopted_series = 40;
        later.deltas.set(Metric::Requests, 7.0);
        later.live.set(Metric::Requests, 57.0);
        later.absorb_earlier(earlier);
        assert_eq!(later.at_ms, 2000);
        assert_eq!(
            (
                later.resets,
                later.new_series,
                later.vanished_series,
                later.adopted_series
            ),
            (11, 22, 33, 44)
        );
        assert_eq!(later.deltas.get(Metric::Requests), 12.0);
        assert_eq!(later.deltas.get(Metric::Cost), 0.25);
        assert_eq!(later.live.get(Metric::Requests), 57.0);
        assert_eq!(later.live.get(Metric::Cost), 0.0);
    }

    #[test]
    fn the_result_is_a_baseline_only_when_both_were() {
        for (earlier, later, both) in [
            (true, true, true),
            (true, false, false),
            (false, true, false),
            (false, false, false),
        ] {
            let mut e = observation(1000, vec![]);
            e.baseline = earlier;
            let mut l = observation(2000, vec![]);
            l.baseline = later;
            l.absorb_earlier(e);
            assert_eq!(l.baseline, both, "earlier {earlier}, later {later}");
        }
    }

    #[test]
    fn equal_breakdown_slots_sum_and_the_result_is_sorted() {
        use Dimension as D;
        use Metric as M;
        let earlier = observation(
            1000,
            vec![
                delta(D::Model, "gpt", M::Requests, 2.0),
                delta(D::Model, "gpt", M::Cost, 0.5),
                delta(D::Team, "A", M::Requests, 2.0),
            ],
        );
        let mut later = observation(
            2000,
            vec![
                delta(D::Model, "claude", M::Requests, 1.0),
                delta(D::Model, "gpt", M::Requests, 3.0),
                delta(D::Key, "k1", M::Requests, 4.0),
                delta(D::Team, "A", M::Requests, 4.0),
            ],
        );
        later.absorb_earlier(earlier);
        assert_eq!(
            later.breakdown,
            [
                delta(D::Model, "claude", M::Requests, 1.0),
                delta(D::Model, "gpt", M::Requests, 5.0),
                delta(D::Model, "gpt", M::Cost, 0.5),
                delta(D::Key, "k1", M::Requests, 4.0),
                delta(D::Team, "A", M::Requests, 6.0),
            ]
        );
    }

    #[test]
    fn merged_tracker_observations_keep_the_order_of_a_fresh_one() {
        let mut t = Tracker::new(Catalog::litellm());
        t.observe(&body(&[(REQ, GPT, 1.0)]), 1000);
        let earlier = t.observe(&body(&[(REQ, GPT, 3.0), (SPEND, GPT, 0.5)]), 2000);
        let mut later = t.observe(
            &body(&[(REQ, GPT, 4.0), (SPEND, GPT, 0.75), (REQ, CLAUDE, 2.0)]),
            3000,
        );
        later.absorb_earlier(earlier);
        // A fresh tracker that saw the first and the last scrape only.
        let mut direct = Tracker::new(Catalog::litellm());
        direct.observe(&body(&[(REQ, GPT, 1.0)]), 1000);
        let whole = direct.observe(
            &body(&[(REQ, GPT, 4.0), (SPEND, GPT, 0.75), (REQ, CLAUDE, 2.0)]),
            3000,
        );
        assert_sorted_without_repeats(&later);
        assert_eq!(later.breakdown, whole.breakdown);
        assert_eq!(later.deltas, whole.deltas);
    }

    /// A breakdown with one entry per slot, from `(dimension, key, metric)` indices.
    fn breakdown_of(entries: &BTreeMap<(usize, usize, usize), u32>) -> Vec<BreakdownDelta> {
        const KEYS: [&str; 3] = ["", "a", "b"];
        entries
            .iter()
            .map(|(&(d, k, m), &n)| {
                delta(
                    Dimension::ALL[d],
                    KEYS[k],
                    Metric::ALL[m],
                    f64::from(n) / 8.0,
                )
            })
            .collect()
    }

    fn entries() -> impl Strategy<Value = BTreeMap<(usize, usize, usize), u32>> {
        proptest::collection::btree_map(
            (0..Dimension::COUNT, 0usize..3, 0..Metric::COUNT),
            1u32..10_000,
            0..40,
        )
    }

    fn sum_by_slot(breakdowns: &[&[BreakdownDelta]]) -> BTreeMap<(Dimension, String, Metric), f64> {
        let mut sums = BTreeMap::new();
        for b in breakdowns {
            for d in *b {
                *sums
                    .entry((d.dimension, d.key.clone(), d.metric))
                    .or_insert(0.0) += d.delta;
            }
        }
        sums
    }

    proptest! {
        #[test]
        fn merging_then_summing_equals_summing_both(
            earlier_entries in entries(),
            later_entries in entries(),
            earlier_deltas in proptest::collection::vec(0u32..10_000, Metric::COUNT),
            later_deltas in proptest::collection::vec(0u32..10_000, Metric::COUNT),
        ) {
            let mut earlier = observation(1000, breakdown_of(&earlier_entries));
            let mut later = observation(2000, breakdown_of(&later_entries));
            // Breakdowns come sorted from the tracker; the merge must not rely on it.
            later.breakdown.reverse();
            for (i, m) in Metric::ALL.into_iter().enumerate() {
                earlier.deltas.set(m, f64::from(earlier_deltas[i]) / 8.0);
                later.deltas.set(m, f64::from(later_deltas[i]) / 8.0);
            }
            let expected = sum_by_slot(&[&earlier.breakdown, &later.breakdown]);
            let mut merged = later.clone();
            merged.absorb_earlier(earlier.clone());

            for m in Metric::ALL {
                prop_assert_eq!(merged.deltas.get(m), earlier.deltas.get(m) + later.deltas.get(m));
            }
            prop_assert_eq!(sum_by_slot(&[&merged.breakdown]), expected.clone());
            let expected_slots: Vec<(Dimension, &str, Metric)> =
                expected.keys().map(|(d, k, m)| (*d, k.as_str(), *m)).collect();
            prop_assert_eq!(slots(&merged), expected_slots);
        }
    }
}
