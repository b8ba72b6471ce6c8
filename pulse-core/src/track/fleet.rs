//! Several LiteLLM processes (uvicorn workers behind separate ports,
//! containers, Kubernetes pods), each scraped on its own: one [`Tracker`]
//! per target, and one [`Observation`] per round.
//!
//! A target is known by its name (`host:port` of its URL, like Prometheus'
//! `instance` label). The rules:
//!
//! - Each target's series are counted by its own tracker under rules 1–6,
//!   so a pod restarting under the same name is that tracker seeing a
//!   reset, never a new member.
//! - A target first observed after the fleet's first round joins under
//!   rule 7 ([`Tracker::joining`], told the fleet's previous round).
//! - A target that is not observed in a round (it failed, or discovery no
//!   longer lists it) keeps its tracker: what it counted is already in the
//!   stored sums, and its next good observation covers the gap, as after a
//!   failed scrape. [`Fleet::forget_older_than`] drops it with its series.
//! - [`merge_round`] adds one round's observations: deltas, breakdown,
//!   latency deltas, series counts and live values (gauges such as in-flight
//!   requests are per process) add up. Every target's series carry exactly
//!   one key per dimension, so per dimension the merged breakdown still sums
//!   to the merged deltas; the `instance` dimension has one key per target.

use std::collections::BTreeMap;

use super::{Observation, Tracker, TrackerState};
use crate::catalog::Catalog;
use crate::expo::Exposition;

/// One tracker per scrape target, and the time of the fleet's last round.
#[derive(Debug)]
pub struct Fleet {
    catalog: Catalog,
    members: BTreeMap<String, Tracker>,
    /// When the fleet last counted (its latest merged round).
    last_round_ms: Option<i64>,
    /// The seed members hash their remembered lines with.
    #[cfg(feature = "memo")]
    line_seed: u64,
}

impl Fleet {
    /// A fleet with no history: every target's first observation in the
    /// first round is a baseline.
    pub fn new(catalog: Catalog) -> Fleet {
        Fleet {
            catalog,
            members: BTreeMap::new(),
            last_round_ms: None,
            #[cfg(feature = "memo")]
            line_seed: 0,
        }
    }

    /// A fleet that continues from persisted per-target states. The fleet's
    /// last round is the latest of their observations.
    pub fn from_states(catalog: Catalog, states: Vec<(String, TrackerState)>) -> Fleet {
        let mut fleet = Fleet::new(catalog);
        for (name, state) in states {
            fleet.last_round_ms = fleet.last_round_ms.max(state.last_at_ms);
            let tracker = Tracker::from_state_as(fleet.catalog.clone(), state, &name);
            fleet.members.insert(name, tracker);
        }
        fleet
    }

    /// The fleet's latest merged round, if any.
    pub fn last_round_ms(&self) -> Option<i64> {
        self.last_round_ms
    }

    /// The tracker of `target`, if it was ever observed.
    pub fn member(&self, target: &str) -> Option<&Tracker> {
        self.members.get(target)
    }

    /// Every known target's name, sorted.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.members.keys().map(String::as_str)
    }

    /// Observes one target's body (see
    /// [`Tracker::observe_with_target_clock`]): a new target's tracker is a
    /// baseline before the first round and joins (rule 7) after it. Its
    /// series without an `instance` label have `target` as their `instance`
    /// key.
    pub fn observe(
        &mut self,
        target: &str,
        expo: &Exposition<'_>,
        at_ms: i64,
        target_now_ms: Option<i64>,
    ) -> Observation {
        self.member_mut(target)
            .observe_with_target_clock(expo, at_ms, target_now_ms)
    }

    /// The tracker of `target`, made when it is new: a baseline before the
    /// first round, joining (rule 7) after it.
    fn member_mut(&mut self, target: &str) -> &mut Tracker {
        let catalog = &self.catalog;
        let last_round = self.last_round_ms;
        #[cfg(feature = "memo")]
        let seed = self.line_seed;
        self.members.entry(target.to_owned()).or_insert_with(|| {
            let mut t = match last_round {
                Some(since) => Tracker::joining(catalog.clone(), since),
                None => Tracker::new(catalog.clone()),
            };
            t.instance = target.into();
            #[cfg(feature = "memo")]
            t.set_line_seed(seed);
            t
        })
    }

    /// Seeds the hash every member remembers its lines by
    /// ([`Tracker::set_line_seed`]), now and for members to come.
    #[cfg(feature = "memo")]
    pub fn set_line_seed(&mut self, seed: u64) {
        self.line_seed = seed;
        for t in self.members.values_mut() {
            t.set_line_seed(seed);
        }
    }

    /// Parses `target`'s body with its tracker's line memo
    /// ([`Tracker::parse_body`]); a target not observed yet remembers nothing.
    #[cfg(feature = "memo")]
    pub fn parse_body<'a>(
        &mut self,
        target: &str,
        body: &'a [u8],
    ) -> Result<super::ParsedBody<'a>, crate::BodyError> {
        match self.members.get_mut(target) {
            Some(t) => t.parse_body(body),
            None => super::memo::LineMemo::seeded(self.line_seed).parse(body, &self.catalog),
        }
    }

    /// [`Tracker::settle_memo`] of every target: call it once a round's
    /// bodies are dropped.
    #[cfg(feature = "memo")]
    pub fn settle_memos(&mut self) {
        for t in self.members.values_mut() {
            t.settle_memo();
        }
    }

    /// [`Fleet::observe`] of a body parsed by [`Fleet::parse_body`].
    #[cfg(feature = "memo")]
    pub fn observe_parsed(
        &mut self,
        target: &str,
        body: &super::ParsedBody<'_>,
        at_ms: i64,
        target_now_ms: Option<i64>,
    ) -> Observation {
        self.member_mut(target)
            .observe_parsed(body, at_ms, target_now_ms)
    }

    /// Merges one round's observations ([`merge_round`]) and makes `at_ms`
    /// the fleet's previous round for targets that join later. `None` when
    /// no target was observed (the round then does not count as one).
    pub fn finish_round(&mut self, at_ms: i64, parts: Vec<Observation>) -> Option<Observation> {
        let merged = merge_round(at_ms, parts)?;
        self.last_round_ms = Some(at_ms);
        Some(merged)
    }

    /// Each target's state, sorted by name, to persist.
    pub fn export_states(&self) -> Vec<(String, TrackerState)> {
        self.members
            .iter()
            .map(|(name, t)| (name.clone(), t.export_state()))
            .collect()
    }

    /// The state of `target`, if it was ever observed.
    pub fn export_state(&self, target: &str) -> Option<TrackerState> {
        self.members.get(target).map(Tracker::export_state)
    }

    /// What changed in `target`'s tracker since the previous call
    /// ([`Tracker::take_changes`]), if it was ever observed: what a host
    /// persists per round.
    pub fn take_changes(&mut self, target: &str) -> Option<super::StateChanges> {
        self.members.get_mut(target).map(Tracker::take_changes)
    }

    /// Forgets series not seen since `cutoff_ms` in every tracker, and the
    /// targets not observed since then (a target that comes back later
    /// joins again, rule 7). Returns the forgotten targets' names, sorted,
    /// so a host drops their saved states too.
    pub fn forget_older_than(&mut self, cutoff_ms: i64) -> Vec<String> {
        let mut forgotten = Vec::new();
        self.members.retain(|name, t| {
            let keep = t.last_at_ms().is_some_and(|at| at >= cutoff_ms);
            if !keep {
                forgotten.push(name.clone());
            }
            keep
        });
        for t in self.members.values_mut() {
            t.forget_older_than(cutoff_ms);
        }
        forgotten.sort();
        forgotten
    }
}

/// One round of a fleet as one observation at `at_ms`: deltas, breakdown,
/// latency deltas, series counts and live values add up; the result is a
/// baseline only when every part was. `None` for an empty round.
///
/// Per dimension the breakdown sums to the deltas when each part's does,
/// since sums of sums are sums (up to float rounding).
pub fn merge_round(at_ms: i64, parts: Vec<Observation>) -> Option<Observation> {
    let mut parts = parts.into_iter();
    let mut merged = parts.next()?;
    for part in parts {
        let mut live = merged.live;
        for (metric, value) in part.live.iter() {
            live.add(metric, value);
        }
        merged.absorb_earlier(part);
        merged.live = live;
    }
    merged.at_ms = at_ms;
    Some(merged)
}

#[cfg(test)]
mod tests;
