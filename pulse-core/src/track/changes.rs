//! What changed in a tracker since it last handed its changes out, so a host
//! persists per scrape in proportion to what changed rather than the whole
//! [`TrackerState`](super::TrackerState).
//!
//! A series is *dirty* when it is new, its value changed (bitwise), or its
//! `last_seen_ms` is due for a refresh: `last_seen_ms` only serves
//! [`Tracker::forget_older_than`] (cutoffs of days), so it is handed out
//! again only after [`SEEN_REFRESH_MS`] give or take half, staggered per
//! series by its identity hash so that idle series do not all fall due in
//! the same scrape. Forgotten series come out as removals.
//!
//! Applying every [`StateChanges`] in order to the state persisted before the
//! first one yields [`Tracker::export_state`] exactly, except for the
//! `last_seen_ms` of series seen since their last refresh; the tracker's
//! tests prove it. A host that cannot store a `StateChanges` keeps it and
//! folds it into the next with [`StateChanges::absorb_earlier`], so none is lost.

use std::collections::HashSet;

use super::Tracker;
use super::identity::{Key, SharedKey, read_label};
use super::state::{EXPORTED_VERSION, SeriesState, TrackerState};

/// About how often an unchanged series that is still seen has its
/// `last_seen_ms` handed out again (each series between half and the whole).
pub const SEEN_REFRESH_MS: i64 = 3_600_000;

/// Whether a series whose `last_seen_ms` was last handed out at `taken_ms` is
/// due again at `now_ms`: after between half and all of [`SEEN_REFRESH_MS`],
/// fixed per series by its identity hash `id`.
pub(super) fn seen_is_due(id: u64, taken_ms: i64, now_ms: i64) -> bool {
    let half = SEEN_REFRESH_MS / 2;
    let spread = i64::try_from(id % half.unsigned_abs()).unwrap_or(0);
    now_ms.saturating_sub(taken_ms) >= half + spread
}

/// A series' identity: sample name, labels sorted by name, `_created`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SeriesKey {
    /// Sample name.
    pub sample: String,
    /// Labels sorted by name.
    pub labels: Vec<(String, String)>,
    /// The `_created` timestamp in seconds, when LiteLLM exposed one.
    pub created: Option<f64>,
}

/// A series' identity as the tracker keeps it, read in place: shared with
/// the tracker rather than copied, so the change set of a first scrape
/// (every series new) costs a pointer per series, not its labels. Two
/// identities are equal when sample, labels and `_created` (by its bits, as
/// the tracker compares it) are.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SeriesIdentity(pub(super) SharedKey);

impl SeriesIdentity {
    /// The identity of `sample` with `labels` (sorted by name) and `created`.
    pub fn new(sample: &str, labels: &[(String, String)], created: Option<f64>) -> SeriesIdentity {
        SeriesIdentity(Key::owned(sample, labels, created).into())
    }

    /// The sample name.
    pub fn sample(&self) -> &str {
        self.0.sample()
    }

    /// The labels, sorted by name.
    pub fn labels(&self) -> IdentityLabels<'_> {
        let (left, key) = self.0.labels();
        IdentityLabels { key, pos: 4, left }
    }

    /// The `_created` timestamp in seconds, when LiteLLM exposed one.
    pub fn created(&self) -> Option<f64> {
        self.0.created()
    }

    /// The identity as owned strings.
    pub fn to_key(&self) -> SeriesKey {
        // A loop, not `labels().map(..).collect()`: trackers export their
        // state through here, and this is smaller in the .wasm.
        let mut labels = self.labels();
        let mut owned = Vec::new();
        while let Some((n, v)) = labels.next_label() {
            owned.push((n.to_owned(), v.to_owned()));
        }
        SeriesKey {
            sample: self.sample().to_owned(),
            labels: owned,
            created: self.created(),
        }
    }
}

impl std::fmt::Debug for SeriesIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.to_key().fmt(f)
    }
}

impl From<&SeriesKey> for SeriesIdentity {
    fn from(k: &SeriesKey) -> SeriesIdentity {
        SeriesIdentity::new(&k.sample, &k.labels, k.created)
    }
}

impl From<SeriesKey> for SeriesIdentity {
    fn from(k: SeriesKey) -> SeriesIdentity {
        SeriesIdentity::from(&k)
    }
}

/// The labels of a [`SeriesIdentity`], `(name, value)` sorted by name.
#[derive(Debug, Clone)]
pub struct IdentityLabels<'k> {
    key: &'k [u8],
    pos: usize,
    left: u32,
}

impl<'k> IdentityLabels<'k> {
    /// The next label, as [`Iterator::next`] returns it.
    fn next_label(&mut self) -> Option<(&'k str, &'k str)> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let label = read_label(self.key, &mut self.pos);
        if label.is_none() {
            self.left = 0;
        }
        label
    }
}

impl<'k> Iterator for IdentityLabels<'k> {
    type Item = (&'k str, &'k str);

    fn next(&mut self) -> Option<(&'k str, &'k str)> {
        self.next_label()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

/// One new or changed series of a [`StateChanges`].
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesChange {
    /// Which series.
    pub identity: SeriesIdentity,
    /// The latest value seen.
    pub value: f64,
    /// When the series was last seen (milliseconds since the Unix epoch).
    pub last_seen_ms: i64,
}

impl SeriesChange {
    /// The series as [`TrackerState::series`] has it.
    pub fn to_state(&self) -> SeriesState {
        let SeriesKey {
            sample,
            labels,
            created,
        } = self.identity.to_key();
        SeriesState {
            sample,
            labels,
            created,
            value: self.value,
            last_seen_ms: self.last_seen_ms,
        }
    }
}

impl From<&SeriesState> for SeriesChange {
    fn from(s: &SeriesState) -> SeriesChange {
        SeriesChange {
            identity: SeriesIdentity::new(&s.sample, &s.labels, s.created),
            value: s.value,
            last_seen_ms: s.last_seen_ms,
        }
    }
}

impl From<SeriesState> for SeriesChange {
    fn from(s: SeriesState) -> SeriesChange {
        SeriesChange::from(&s)
    }
}

/// The tracker's state changes since the previous [`Tracker::take_changes`].
#[derive(Debug, Clone, PartialEq)]
pub struct StateChanges {
    /// Everything persisted before is replaced: [`StateChanges::upserts`]
    /// is the whole series list (a tracker that did not continue from a state).
    pub replace_all: bool,
    /// [`TrackerState::version`] after the change.
    pub version: u32,
    /// [`TrackerState::observations`] after the change.
    pub observations: u64,
    /// [`TrackerState::last_at_ms`] after the change.
    pub last_at_ms: Option<i64>,
    /// [`TrackerState::last_target_ms`] after the change.
    pub last_target_ms: Option<i64>,
    /// New and changed series.
    pub upserts: Vec<SeriesChange>,
    /// Series to drop, none of them in `upserts`.
    pub removed: Vec<SeriesIdentity>,
}

impl SeriesState {
    /// This series' identity.
    pub fn key(&self) -> SeriesKey {
        SeriesKey {
            sample: self.sample.clone(),
            labels: self.labels.clone(),
            created: self.created,
        }
    }
}

impl StateChanges {
    /// Changes that replace whatever was persisted with `state`.
    pub fn full(state: TrackerState) -> StateChanges {
        StateChanges {
            replace_all: true,
            version: state.version,
            observations: state.observations,
            last_at_ms: state.last_at_ms,
            last_target_ms: state.last_target_ms,
            upserts: state.series.iter().map(SeriesChange::from).collect(),
            removed: Vec::new(),
        }
    }

    /// Folds `earlier` (taken before `self`) into `self`, so that applying
    /// the result equals applying `earlier` and then `self`.
    pub fn absorb_earlier(&mut self, earlier: StateChanges) {
        if self.replace_all {
            return;
        }
        let mut upserts = Vec::new();
        let mut removed = Vec::new();
        {
            let later = self.touched();
            for s in earlier.upserts {
                if !later.contains(&*s.identity.0) {
                    upserts.push(s);
                }
            }
            for k in earlier.removed {
                if !later.contains(&*k.0) {
                    removed.push(k);
                }
            }
        }
        self.replace_all = earlier.replace_all;
        self.upserts.append(&mut upserts);
        self.removed.append(&mut removed);
    }

    /// Every series these changes upsert or remove.
    fn touched(&self) -> HashSet<&Key> {
        self.upserts
            .iter()
            .map(|s| &*s.identity.0)
            .chain(self.removed.iter().map(|k| &*k.0))
            .collect()
    }

    /// Applies these changes to `state` (what a store does with them).
    pub fn apply_to(&self, state: &mut TrackerState) {
        if self.replace_all {
            state.series.clear();
        }
        let drop = self.touched();
        state
            .series
            .retain(|s| !drop.contains(&Key::owned(&s.sample, &s.labels, s.created)));
        state
            .series
            .extend(self.upserts.iter().map(SeriesChange::to_state));
        super::state::sort_series(&mut state.series);
        state.version = self.version;
        state.observations = self.observations;
        state.last_at_ms = self.last_at_ms;
        state.last_target_ms = self.last_target_ms;
    }
}

impl Tracker {
    /// What changed since the previous call (or since [`Tracker::new`] /
    /// [`Tracker::from_state`]): new and changed series, forgotten series
    /// and the scalar header. Cheap when little changed: nothing is copied
    /// for a clean series, and a changed one's identity is shared with the
    /// tracker, not copied. [`Tracker::export_state`] is unaffected.
    pub fn take_changes(&mut self) -> StateChanges {
        let mut upserts = Vec::new();
        let entries = self
            .series
            .values_mut()
            .chain(self.overflow.iter_mut().map(|(_, e)| e));
        for e in entries {
            if !e.dirty {
                continue;
            }
            e.dirty = false;
            e.taken_seen_ms = e.last_seen_ms;
            upserts.push(SeriesChange {
                identity: SeriesIdentity(SharedKey::clone(&e.key)),
                value: e.value,
                last_seen_ms: e.last_seen_ms,
            });
        }
        let removed = std::mem::take(&mut self.removed)
            .into_iter()
            .map(SeriesIdentity)
            .collect();
        StateChanges {
            replace_all: std::mem::replace(&mut self.replace_all, false),
            version: EXPORTED_VERSION,
            observations: self.observations,
            last_at_ms: self.last_at_ms,
            last_target_ms: self.last_target_ms,
            upserts,
            removed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::track::tests::{CLAUDE, GPT, Line, REQ, REQ_CREATED, body, tracker};

    /// Scrapes with growth, an idle series, a restart and a vanished series.
    fn scrapes() -> Vec<Vec<Line<'static>>> {
        vec![
            vec![(REQ, GPT, 5.0), (REQ_CREATED, GPT, 0.5), (REQ, CLAUDE, 1.0)],
            vec![(REQ, GPT, 7.0), (REQ_CREATED, GPT, 0.5), (REQ, CLAUDE, 1.0)],
            vec![(REQ, GPT, 7.0), (REQ_CREATED, GPT, 0.5)],
            vec![(REQ, GPT, 2.0), (REQ_CREATED, GPT, 3.5), (REQ, CLAUDE, 4.0)],
            vec![(REQ, GPT, 2.0), (REQ_CREATED, GPT, 3.5), (REQ, CLAUDE, 4.0)],
        ]
    }

    /// The exported state with every `last_seen_ms` cleared: the one field
    /// changes hand out lazily.
    fn without_seen(mut s: TrackerState) -> TrackerState {
        for x in &mut s.series {
            x.last_seen_ms = 0;
        }
        s
    }

    #[test]
    fn applied_changes_rebuild_the_exported_state() {
        let mut t = tracker();
        let mut persisted = TrackerState {
            version: 0,
            observations: 0,
            last_at_ms: None,
            last_target_ms: None,
            series: Vec::new(),
        };
        for (i, s) in scrapes().iter().enumerate() {
            t.observe(&body(s), 1000 * (i as i64 + 1));
            if i == 2 {
                t.forget_older_than(2500);
            }
            let c = t.take_changes();
            assert_eq!(c.replace_all, i == 0);
            c.apply_to(&mut persisted);
            assert_eq!(
                without_seen(persisted.clone()),
                without_seen(t.export_state())
            );
        }
        // An unchanged body changes nothing but the header.
        t.observe(&body(&scrapes()[4]), 9000);
        let c = t.take_changes();
        assert!(c.upserts.is_empty() && c.removed.is_empty(), "{c:?}");
        assert_eq!(c.observations, 6);
    }

    #[test]
    fn folded_changes_equal_applying_both() {
        for fold_from in 0..scrapes().len() {
            let mut t = tracker();
            let mut one_by_one = Tracker::new(Catalog::litellm()).export_state();
            let mut folded = one_by_one.clone();
            let mut pending: Option<StateChanges> = None;
            for (i, s) in scrapes().iter().enumerate() {
                t.observe(&body(s), 1000 * (i as i64 + 1));
                if i == 2 {
                    t.forget_older_than(2500);
                }
                let c = t.take_changes();
                c.apply_to(&mut one_by_one);
                if i < fold_from {
                    c.apply_to(&mut folded);
                    continue;
                }
                let mut c = c;
                if let Some(earlier) = pending.take() {
                    c.absorb_earlier(earlier);
                }
                pending = Some(c);
            }
            if let Some(c) = pending {
                c.apply_to(&mut folded);
            }
            assert_eq!(folded, one_by_one, "folded from scrape {fold_from}");
        }
    }

    #[test]
    fn a_restored_tracker_hands_out_only_what_changes_and_what_it_dropped() {
        let mut t = tracker();
        t.observe(&body(&scrapes()[0]), 1000);
        let mut state = t.export_state();
        state.series.push(SeriesState {
            sample: "something_else_total".into(),
            labels: vec![],
            created: None,
            value: 1.0,
            last_seen_ms: 1000,
        });
        let mut r = Tracker::from_state(Catalog::litellm(), state);
        let c = r.take_changes();
        assert!(!c.replace_all);
        assert!(c.upserts.is_empty());
        assert_eq!(c.removed.len(), 1);
        assert_eq!(c.removed[0].sample(), "something_else_total");
        r.observe(&body(&scrapes()[1]), 2000);
        let c = r.take_changes();
        assert_eq!(c.upserts.len(), 1, "{c:?}");
        assert_eq!(c.upserts[0].value, 7.0);
    }

    #[test]
    fn seen_refresh_is_staggered_within_half_to_whole_interval() {
        let half = SEEN_REFRESH_MS / 2;
        for id in [0u64, 1, 12345, u64::MAX, 0xdead_beef_dead_beef] {
            assert!(!seen_is_due(id, 0, half - 1));
            assert!(seen_is_due(id, 0, SEEN_REFRESH_MS));
        }
        // Different series fall due at different times.
        let due_at = |id: u64| (0..=SEEN_REFRESH_MS / 1000).find(|s| seen_is_due(id, 0, s * 1000));
        assert_ne!(due_at(1), due_at(2_000_000));
    }
}
