//! The tracker's state as plain data, to persist and continue from after a
//! restart of the host.

use std::cmp::Ordering;
use std::sync::Arc;

use super::identity::{Shared, encode_base, encode_created};
use super::{Entry, Kind, SeriesIdentity, SeriesKey, Tracker};
use crate::catalog::{Catalog, NameRole};
use crate::expo::Label;
use crate::sort::sort_stable_by;

/// Version written into [`TrackerState::version`] by a tracker that follows
/// the latency histograms (the `latency` feature).
///
/// - 1: the series are those of the metrics. Still 1 after
///   [`TrackerState::last_target_ms`] was added: that field defaults to
///   `None`, so an older state reads as one whose latest observation had no
///   target clock, and the next observation falls back to the scraper's
///   clock once.
/// - 2: the series include the histogram and health counter series. The
///   layout is that of 1; only what the list holds changed.
///
/// [`Tracker::from_state`] reads both. From a version 1 state the next
/// observation is the baseline of the histogram and health counter series
/// (stored with delta 0), since their values at the latest observation are
/// unknown: counting them whole would put LiteLLM's whole history in one
/// scrape when it exposes no `_created` (its multiprocess mode).
pub const STATE_VERSION: u32 = 2;

/// What this build writes: without the `latency` feature the series are
/// those of the metrics only, which is version 1.
pub(super) const EXPORTED_VERSION: u32 = if cfg!(feature = "latency") {
    STATE_VERSION
} else {
    1
};

/// Everything a [`Tracker`] needs to continue after a restart of the host.
///
/// The floats must come back bit for bit: SQLite `REAL` and JavaScript's
/// `JSON.parse` do; `serde_json` needs its `float_roundtrip` feature, since
/// its default parser may be one ulp off. A value one ulp off is harmless
/// (rule 3), but a `_created` one ulp off makes the series a new identity,
/// adopted with delta 0, so the increase until the next scrape is lost.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TrackerState {
    /// Format version, [`STATE_VERSION`].
    pub version: u32,
    /// Number of observations so far.
    pub observations: u64,
    /// Time of the latest observation.
    pub last_at_ms: Option<i64>,
    /// The target's own clock when it answered the latest observation (its
    /// HTTP `Date`), when known. Absent in states written before it existed.
    #[cfg_attr(feature = "serde", serde(default))]
    pub last_target_ms: Option<i64>,
    /// Every remembered counter series (metric counters, histogram samples
    /// and health counters), sorted by sample, labels, created.
    pub series: Vec<SeriesState>,
}

/// One remembered counter series.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SeriesState {
    /// Sample name, e.g. `litellm_spend_metric_total`.
    pub sample: String,
    /// Labels sorted by name.
    pub labels: Vec<(String, String)>,
    /// The `_created` timestamp in seconds, when LiteLLM exposed one.
    pub created: Option<f64>,
    /// The latest value seen.
    pub value: f64,
    /// When the series was last seen (milliseconds since the Unix epoch).
    pub last_seen_ms: i64,
}

/// Sorts series as [`TrackerState::series`] keeps them: by sample, labels, created.
pub(super) fn sort_series(series: &mut Vec<SeriesState>) {
    sort_stable_by(series, |a, b| {
        (&a.sample, &a.labels)
            .cmp(&(&b.sample, &b.labels))
            .then(a.created.partial_cmp(&b.created).unwrap_or(Ordering::Equal))
    });
}

impl Tracker {
    /// The state to persist; [`Tracker::from_state`] continues from it exactly.
    pub fn export_state(&self) -> TrackerState {
        let mut series: Vec<SeriesState> = self
            .entries()
            .map(|e| {
                let SeriesKey {
                    sample,
                    labels,
                    created,
                } = SeriesIdentity(Arc::clone(&e.key)).to_key();
                SeriesState {
                    sample,
                    labels,
                    created,
                    value: e.value,
                    last_seen_ms: e.last_seen_ms,
                }
            })
            .collect();
        sort_series(&mut series);
        TrackerState {
            version: EXPORTED_VERSION,
            observations: self.observations,
            last_at_ms: self.last_at_ms,
            last_target_ms: self.last_target_ms,
            series,
        }
    }

    /// A tracker that continues from `state`. Series whose sample name
    /// `catalog` does not track (any more), gauges and non-finite values are
    /// dropped. A version 1 state makes the next observation the baseline
    /// of the histogram and health counter series (see [`STATE_VERSION`]).
    pub fn from_state(catalog: Catalog, state: TrackerState) -> Tracker {
        Tracker::from_state_as(catalog, state, "")
    }

    /// [`Tracker::from_state`] for the fleet member `instance` (the key of
    /// its series without an `instance` label).
    pub(super) fn from_state_as(catalog: Catalog, state: TrackerState, instance: &str) -> Tracker {
        let mut t = Tracker::new(catalog);
        t.instance = instance.into();
        t.replace_all = false;
        t.latency_baseline = state.version < 2;
        t.observations = state.observations;
        t.last_at_ms = state.last_at_ms;
        t.last_target_ms = state.last_target_ms;
        let mut key = Vec::new();
        let mut order = Vec::new();
        for s in state.series {
            let labels: Vec<Label<'_>> = s.labels.iter().map(|(n, v)| Label::new(n, v)).collect();
            key.clear();
            let base_hash = encode_base(&mut key, &mut order, &s.sample, &labels);
            let id = encode_created(&mut key, base_hash, s.created);
            let usable = s.value.is_finite() && s.value >= 0.0;
            if !(usable && t.catalog.tracks_series(&s.sample)) {
                // Dropped here, so dropped from the persisted state too.
                t.removed.extend(Shared::alone(&key, s.created));
                continue;
            }
            let kind = match t.catalog.role_of(&s.sample) {
                Some(NameRole::Value { .. }) => Kind::Metric,
                _ => Kind::Latency,
            };
            if t.find_mut(id, &key, s.created).is_some() {
                continue;
            }
            let Some(stored) = t.shared.key(&key, s.created) else {
                continue;
            };
            // Series the latest observation saw count as seen by it, so the
            // next observation reports the same vanished series as it would have.
            let seen_gen = if state.observations > 0 && Some(s.last_seen_ms) == state.last_at_ms {
                t.prev_seen[kind.index()] += 1;
                state.observations
            } else {
                0
            };
            let dims = t.dims_of(&labels);
            t.insert(
                id,
                Entry {
                    kind,
                    key: stored,
                    value: s.value,
                    last_seen_ms: s.last_seen_ms,
                    seen_gen,
                    dims,
                    base_hash,
                    dirty: false,
                    taken_seen_ms: s.last_seen_ms,
                },
            );
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Metric;
    use crate::track::tests::{
        CLAUDE, FIVE_MIN, GPT, Line, PULSE_PREV, REQ, REQ_CREATED, body, tracker,
    };

    #[test]
    fn the_target_clock_survives_a_state_round_trip() {
        let target_prev = PULSE_PREV - FIVE_MIN;
        let created = (target_prev + 30_000) as f64 / 1000.0;
        let mut t = tracker();
        t.observe_with_target_clock(&body(&[(REQ, GPT, 5.0)]), PULSE_PREV, Some(target_prev));
        let state = t.export_state();
        assert_eq!(state.last_target_ms, Some(target_prev));
        let mut resumed = Tracker::from_state(Catalog::litellm(), state);
        assert_eq!(resumed.last_target_ms(), Some(target_prev));
        let o = resumed.observe_with_target_clock(
            &body(&[
                (REQ, GPT, 5.0),
                (REQ, CLAUDE, 3.0),
                (REQ_CREATED, CLAUDE, created),
            ]),
            PULSE_PREV + 60_000,
            Some(target_prev + 60_000),
        );
        assert_eq!((o.new_series, o.adopted_series), (1, 0));
        assert_eq!(o.deltas.get(Metric::Requests), 3.0);
    }

    #[test]
    fn state_round_trip_continues_exactly() {
        let scrapes: Vec<Vec<Line<'static>>> = vec![
            vec![(REQ, GPT, 5.0), (REQ_CREATED, GPT, 0.5), (REQ, CLAUDE, 1.0)],
            vec![(REQ, GPT, 7.0), (REQ_CREATED, GPT, 0.5)],
            vec![(REQ, GPT, 9.0), (REQ_CREATED, GPT, 0.5), (REQ, CLAUDE, 4.0)],
            vec![(REQ, GPT, 2.0), (REQ_CREATED, GPT, 3.5), (REQ, CLAUDE, 4.0)],
        ];
        for split in 0..=scrapes.len() {
            let mut whole = tracker();
            let mut first = tracker();
            for (i, s) in scrapes.iter().enumerate().take(split) {
                whole.observe(&body(s), 1000 * (i as i64 + 1));
                first.observe(&body(s), 1000 * (i as i64 + 1));
            }
            let state = first.export_state();
            let mut resumed = Tracker::from_state(Catalog::litellm(), state.clone());
            assert_eq!(resumed.export_state(), state);
            for (i, s) in scrapes.iter().enumerate().skip(split) {
                let at = 1000 * (i as i64 + 1);
                assert_eq!(resumed.observe(&body(s), at), whole.observe(&body(s), at));
            }
        }
    }

    #[test]
    fn from_state_drops_untracked_and_gauge_series() {
        let state = TrackerState {
            version: STATE_VERSION,
            observations: 3,
            last_at_ms: Some(5000),
            last_target_ms: None,
            series: vec![
                SeriesState {
                    sample: "litellm_in_flight_requests".into(),
                    labels: vec![],
                    created: None,
                    value: 1.0,
                    last_seen_ms: 5000,
                },
                SeriesState {
                    sample: "something_else_total".into(),
                    labels: vec![],
                    created: None,
                    value: 1.0,
                    last_seen_ms: 5000,
                },
                SeriesState {
                    sample: REQ.into(),
                    labels: vec![("requested_model".into(), "gpt".into())],
                    created: None,
                    value: 4.0,
                    last_seen_ms: 5000,
                },
            ],
        };
        let mut t = Tracker::from_state(Catalog::litellm(), state);
        assert_eq!(t.series_len(), 1);
        let o = t.observe(&body(&[]), 6000);
        assert!(!o.baseline);
        assert_eq!(o.vanished_series, 1);
    }
}
