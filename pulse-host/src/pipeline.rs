//! From a scraped body to a stored scrape: parse → track → record.
//!
//! The live scraper and the demo backfill both go through [`prepare`] and
//! [`Pending::persist`], so the demo's history is made exactly like real history.
//!
//! Invariant: the tracker's baseline only moves on a body that parsed. A failed
//! scrape records an error and nothing else, so the next good scrape's delta
//! still covers every increase since the last good one.

use pulse_core::track::{Observation, StateChanges, Tracker};

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
    /// What the tracker changed with this scrape (and with every scrape
    /// folded into it), for restart recovery: it leaves the tracker here, so
    /// it must reach the database with this scrape or a later one.
    pub state: StateChanges,
    /// LiteLLM's own budget gauges in this body.
    pub litellm_budgets: Vec<LitellmBudget>,
}

/// Parses `body` and feeds it to the tracker. On a body that is not
/// exposition text the tracker is left untouched.
///
/// `target_now_ms` is the target's own clock when it answered (its HTTP
/// `Date`): `_created` stamps are LiteLLM's clock, so the tracker judges them
/// against it rather than against `at_ms` when it has it.
pub fn prepare(
    tracker: &mut Tracker,
    body: &[u8],
    at_ms: i64,
    target_now_ms: Option<i64>,
    started: std::time::Instant,
) -> Result<Pending, pulse_core::BodyError> {
    let expo = pulse_core::parse::parse_bytes(body)?;
    let observation = tracker.observe_with_target_clock(&expo, at_ms, target_now_ms);
    let raw = pulse_core::parse::sample_totals(&expo)
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    let litellm_budgets = crate::alerts::litellm::extract(&expo);
    Ok(Pending {
        litellm_budgets,
        at_ms,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        observation,
        raw,
        state: tracker.take_changes(),
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
                state: &self.state,
            },
        }
    }

    /// Folds `self` (older) into `later`, for when the write queue is full:
    /// the deltas move to the later scrape's time, nothing is lost or counted
    /// twice (the rules are [`Observation::absorb_earlier`] and
    /// [`StateChanges::absorb_earlier`]).
    pub fn merge_into(self, later: &mut Pending) {
        later.observation.absorb_earlier(self.observation);
        later.state.absorb_earlier(self.state);
        later.duration_ms = later.duration_ms.max(self.duration_ms);
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

    use pulse_core::catalog::{Catalog, Dimension, Metric};
    use pulse_core::track::Tracker;

    use super::*;
    use crate::api::tests::{SEQUENCE, capture};

    fn ms(t: &str) -> i64 {
        pulse_core::window::parse_rfc3339(t).unwrap()
    }

    fn pendings() -> Vec<Pending> {
        let mut tracker = Tracker::new(Catalog::litellm());
        SEQUENCE
            .iter()
            .map(|(name, at)| {
                prepare(&mut tracker, &capture(name), ms(at), None, Instant::now()).unwrap()
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
        let mut tracker = Tracker::new(Catalog::litellm());
        prepare(
            &mut tracker,
            &capture(SEQUENCE[0].0),
            ms(SEQUENCE[0].1),
            None,
            Instant::now(),
        )
        .unwrap();
        let before = tracker.export_state();
        let err = prepare(
            &mut tracker,
            b"<html><body>502</body></html>",
            ms(SEQUENCE[1].1),
            None,
            Instant::now(),
        );
        assert_eq!(err.unwrap_err(), pulse_core::BodyError::Html);
        assert_eq!(tracker.export_state(), before);
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
