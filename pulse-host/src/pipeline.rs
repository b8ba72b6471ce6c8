//! From a scraped body to a stored scrape: parse → track → record.
//!
//! The live scraper and the demo backfill both go through [`prepare`] and
//! [`Pending::persist`], so the demo's history is made exactly like real history.
//!
//! Invariant: the tracker's baseline only moves on a body that parsed. A failed
//! scrape records an error and nothing else, so the next good scrape's delta
//! still covers every increase since the last good one.

use pulse_core::Exposition;
use pulse_core::track::{Fleet, Observation, ParsedBody, StateChanges};

use crate::alerts::litellm::LitellmBudget;
use crate::store::{ScrapeOutcome, ScrapeRecord, Store, StoreError};

/// A good scrape that is tracked but maybe not yet stored.
#[derive(Debug, Clone)]
pub struct Pending {
    /// When the scrape started, ms since the epoch.
    pub at_ms: i64,
    /// How long fetching and parsing took.
    pub duration_ms: f64,
    /// What the tracker made of it.
    pub observation: Observation,
    /// Per-sample-name totals of the body, for `/raw`.
    pub raw: Vec<(String, f64)>,
    /// What each target's tracker changed with this round (and with every
    /// round folded into it), by target name, for restart recovery: it
    /// leaves the trackers here, so it must reach the database with this
    /// round or a later one.
    pub states: Vec<(String, StateChanges)>,
    /// LiteLLM's own budget gauges in this body.
    pub litellm_budgets: Vec<LitellmBudget>,
}

/// Parses `body` of the one target `target` and makes it a round of
/// `fleet` ([`prepare_parts`] with one part). On a body that is not
/// exposition text the fleet is left untouched, so the target's next good
/// scrape covers the gap.
pub fn prepare(
    fleet: &mut Fleet,
    target: &str,
    body: &[u8],
    at_ms: i64,
    target_now_ms: Option<i64>,
    started: std::time::Instant,
) -> Result<Pending, pulse_core::BodyError> {
    let parsed = fleet.parse_body(target, body)?;
    let part = Part {
        target,
        input: Input::Body(&parsed),
        target_now_ms,
    };
    prepare_parts(fleet, &[part], at_ms, started).ok_or(pulse_core::BodyError::Empty)
}

/// One target's parsed answer in a round.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a, 'b> {
    /// The target's name.
    pub target: &'a str,
    /// Its answer.
    pub input: Input<'a, 'b>,
    /// The target's own clock when it answered.
    pub target_now_ms: Option<i64>,
}

/// A target's answer, as the tracker takes it.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a, 'b> {
    /// A scraped body, parsed with the target's line memo
    /// ([`Fleet::parse_body`]).
    Body(&'a ParsedBody<'b>),
    /// An exposition built by `pulse_core::engine` from a
    /// Prometheus-compatible engine's answer.
    Expo(&'a Exposition<'b>),
}

/// Feeds one round's parsed answers to their targets' trackers and merges
/// them into one [`Pending`] (the core's [`Fleet::finish_round`]); `None`
/// when there is none. The rest of [`prepare`] and of the scrape loop's
/// rounds (`app.rs`), shared with the
/// answers of a Prometheus-compatible engine (`engine.rs`), which arrive as
/// one exposition whose series carry the engine's `instance` labels.
///
/// Raw totals add up over the targets. LiteLLM's budget gauges come from
/// its database, which every replica shares, so the first target's are
/// taken, not a sum.
pub fn prepare_parts(
    fleet: &mut Fleet,
    parts: &[Part<'_, '_>],
    at_ms: i64,
    started: std::time::Instant,
) -> Option<Pending> {
    let mut observations = Vec::with_capacity(parts.len());
    let mut raw: std::collections::BTreeMap<String, f64> = Default::default();
    let mut litellm_budgets = None;
    for p in parts {
        // A parsed body's exposition has every name and value, and the
        // labels of every untracked sample (the budget gauges among them).
        let expo = match p.input {
            Input::Body(body) => {
                observations.push(fleet.observe_parsed(p.target, body, at_ms, p.target_now_ms));
                body.exposition()
            }
            Input::Expo(expo) => {
                observations.push(fleet.observe(p.target, expo, at_ms, p.target_now_ms));
                expo
            }
        };
        for (name, value) in pulse_core::parse::sample_totals(expo) {
            *raw.entry(name.to_owned()).or_insert(0.0) += value;
        }
        if litellm_budgets.is_none() {
            litellm_budgets = Some(crate::alerts::litellm::extract(expo));
        }
    }
    let observation = fleet.finish_round(at_ms, observations)?;
    let states = parts
        .iter()
        .filter_map(|p| Some((p.target.to_owned(), fleet.take_changes(p.target)?)))
        .collect();
    Some(Pending {
        litellm_budgets: litellm_budgets.unwrap_or_default(),
        at_ms,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        observation,
        raw: raw.into_iter().collect(),
        states,
    })
}

/// Stores many tracked scrapes, oldest first, in one transaction.
pub fn persist_batch(store: &mut Store, batch: &[Pending]) -> Result<(), StoreError> {
    let recs: Vec<ScrapeRecord<'_>> = batch.iter().map(Pending::record).collect();
    let litellm = batch.last().map(|p| p.litellm_budgets.as_slice());
    store.record_batch_with(&recs, litellm)
}

impl Pending {
    /// Stores this scrape in one transaction.
    pub fn persist(&self, store: &mut Store) -> Result<(), StoreError> {
        store.record_batch_with(
            std::slice::from_ref(&self.record()),
            Some(&self.litellm_budgets),
        )
    }

    /// What the store records for this scrape.
    fn record(&self) -> ScrapeRecord<'_> {
        ScrapeRecord {
            at_ms: self.at_ms,
            duration_ms: self.duration_ms,
            outcome: ScrapeOutcome::Ok {
                observation: &self.observation,
                raw: &self.raw,
                states: &self.states,
            },
        }
    }

    /// Folds `self` (older) into `later`, for when the write queue is full:
    /// the deltas move to the later scrape's time, nothing is lost or counted
    /// twice (the rules are [`Observation::absorb_earlier`] and
    /// [`StateChanges::absorb_earlier`]).
    pub fn merge_into(self, later: &mut Pending) {
        later.observation.absorb_earlier(self.observation);
        later.duration_ms = later.duration_ms.max(self.duration_ms);
        // Per target; a target the later round did not observe still has its
        // changes to store.
        for (name, earlier) in self.states {
            match later.states.iter_mut().find(|(n, _)| *n == name) {
                Some((_, changes)) => changes.absorb_earlier(earlier),
                None => later.states.push((name, earlier)),
            }
        }
    }
}

/// Good scrapes waiting to be stored, oldest first. Bounded: past `cap`, the
/// two oldest are merged so that a long database outage costs bounded memory.
#[derive(Debug, Default)]
pub struct Queue {
    items: std::collections::VecDeque<Pending>,
    cap: usize,
}

impl Queue {
    /// An empty queue holding at most `cap` (≥ 2) scrapes.
    pub fn new(cap: usize) -> Queue {
        Queue {
            items: Default::default(),
            cap: cap.max(2),
        }
    }

    /// Adds the newest scrape.
    pub fn push(&mut self, p: Pending) {
        self.items.push_back(p);
        while self.items.len() > self.cap {
            if let (Some(oldest), Some(next)) = (self.items.pop_front(), self.items.front_mut()) {
                oldest.merge_into(next);
            }
        }
    }

    /// Number of scrapes waiting.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when everything is stored.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Stores queued scrapes in order until one fails; returns that error.
    /// Each stored scrape leaves the queue, so none is written twice.
    pub fn flush(&mut self, store: &mut Store) -> Result<(), StoreError> {
        while let Some(front) = self.items.front() {
            front.persist(store)?;
            self.items.pop_front();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::api::tests::{SEQUENCE, capture};
    use pulse_core::catalog::{Catalog, Dimension, Metric};

    fn ms(t: &str) -> i64 {
        pulse_core::window::parse_rfc3339(t).unwrap()
    }

    fn pendings() -> Vec<Pending> {
        let mut fleet = Fleet::new(Catalog::litellm());
        SEQUENCE
            .iter()
            .map(|(name, at)| {
                prepare(
                    &mut fleet,
                    "t:1",
                    &capture(name),
                    ms(at),
                    None,
                    Instant::now(),
                )
                .unwrap()
            })
            .collect()
    }

    fn model_delta(p: &Pending, key: &str, m: Metric) -> f64 {
        p.observation
            .breakdown
            .iter()
            .filter(|d| d.dimension == Dimension::Model && d.key == key && d.metric == m)
            .map(|d| d.delta)
            .sum()
    }

    #[test]
    fn a_body_that_is_not_exposition_leaves_the_tracker_alone() {
        let mut tracker = Fleet::new(Catalog::litellm());
        prepare(
            &mut tracker,
            "t:1",
            &capture(SEQUENCE[0].0),
            ms(SEQUENCE[0].1),
            None,
            Instant::now(),
        )
        .unwrap();
        let before = tracker.export_states();
        let err = prepare(
            &mut tracker,
            "t:1",
            b"<html><body>502</body></html>",
            ms(SEQUENCE[1].1),
            None,
            Instant::now(),
        );
        assert_eq!(err.unwrap_err(), pulse_core::BodyError::Html);
        assert_eq!(tracker.export_states(), before);
    }

    #[test]
    fn merging_queued_scrapes_keeps_every_delta_once() {
        let mut all = pendings();
        let p04 = all.pop().unwrap();
        let p03 = all.pop().unwrap();
        let p02b = all.pop().unwrap();
        let mut later = p04.clone();
        p03.clone().merge_into(&mut later);
        p02b.clone().merge_into(&mut later);
        for m in Metric::ALL {
            let sum = p02b.observation.deltas.get(m)
                + p03.observation.deltas.get(m)
                + p04.observation.deltas.get(m);
            assert_eq!(later.observation.deltas.get(m), sum, "{m}");
        }
        assert_eq!(later.observation.deltas.get(Metric::Requests), 11.0);
        assert_eq!(
            model_delta(&later, "gpt-4o-mini", Metric::Requests),
            4.0 + model_delta(&p02b, "gpt-4o-mini", Metric::Requests)
        );
        assert_eq!(later.at_ms, p04.at_ms);
        assert_eq!(later.observation.live, p04.observation.live);
        // No duplicate (dimension, key, metric) entries after a merge.
        let mut keys: Vec<_> = later
            .observation
            .breakdown
            .iter()
            .map(|d| (d.dimension, d.key.clone(), d.metric))
            .collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n);
    }

    #[test]
    fn a_full_queue_merges_the_oldest() {
        let mut q = Queue::new(2);
        let all = pendings();
        let total: f64 = all
            .iter()
            .map(|p| p.observation.deltas.get(Metric::Requests))
            .sum();
        for p in all {
            q.push(p);
        }
        assert_eq!(q.len(), 2);
        let queued: f64 = q
            .items
            .iter()
            .map(|p| p.observation.deltas.get(Metric::Requests))
            .sum();
        assert_eq!(queued, total);
        assert_eq!(total, 75.0);
    }
}
