//! Per-series counter semantics: turning LiteLLM's ever-growing counters into
//! exact, never-negative deltas per scrape.
//!
//! LiteLLM keeps one counter per label set and never pre-aggregates, so the
//! tracker follows every series on its own and sums the per-series
//! increases. Working per series is what makes restarts, vanishing series and
//! several workers answering in turn come out right; the reference compared
//! sums and got all three wrong (its faults 1, 7 and 9).
//!
//! # Rules
//!
//! 1. Only samples whose name the [`Catalog`] tracks count. A series is the
//!    sample name, its full label set (sorted by name) and its `_created`
//!    timestamp when LiteLLM exposes one (`X_created{L}` for `X_total{L}`).
//! 2. The first observation is a baseline: every series is stored, all deltas are 0.
//! 3. A known series that grew contributes the growth; one that fell was
//!    reset and contributes its new value. NaN, infinite and negative values
//!    are ignored (the stored value stays). A fall smaller than one part in
//!    10^12 is rounding noise (a stored value that went through a lossy float
//!    round trip), not a restart: it counts 0.
//! 4. The same name and labels with a different `_created` is a different
//!    series: LiteLLM restarted, even if the new value is above the old one.
//! 5. A series that vanishes contributes nothing and is remembered, so one
//!    that comes back later is not counted twice, until
//!    [`Tracker::forget_older_than`] drops it.
//! 6. A series seen for the first time after the baseline:
//!    - without `_created`, contributes its whole value: it appeared since the
//!      last scrape. Without `_created` a restart whose counters grow back above
//!      the old values within one interval looks like plain growth (an
//!      undercount), and workers answering in turn cannot be told apart;
//!    - created at or after the previous observation (1 s tolerance),
//!      contributes its whole value;
//!    - created before the previous observation, is *adopted* as a baseline
//!      with delta 0: it existed when we last looked but we did not see it,
//!      because another LiteLLM worker answered then (several workers
//!      without `PROMETHEUS_MULTIPROC_DIR` answer `/metrics` in turn) or an
//!      earlier scrape failed. Increases such a series had before its first
//!      sighting cannot be known.
//!
//!    `_created` is LiteLLM's clock, so it is compared with LiteLLM's clock
//!    when both this and the previous observation carry it (the HTTP `Date`
//!    of the answer, see [`Tracker::observe_with_target_clock`]), and with the
//!    scraper's `at_ms` otherwise. With the scraper's clock, a LiteLLM on
//!    another host whose clock is more than 1 s behind makes genuinely new
//!    series look old (adopted, their first value lost), and one ahead makes
//!    another worker's series look new (counted twice). `Date` has whole
//!    seconds, truncated, so its 1 s tolerance also covers the truncation.
//!
//! 7. A member of a [`Fleet`] (several LiteLLM processes, each scraped on
//!    its own) first seen after the fleet's first round is neither a
//!    baseline nor a continuation: its tracker ([`Tracker::joining`]) takes
//!    the fleet's previous round as its previous observation. A series with
//!    `_created` at or after that round (1 s tolerance, on the scraper's
//!    clock since the member has no earlier `Date`) contributes its whole
//!    value: all of it was made since the fleet last counted. One created
//!    before is adopted (rule 6): the member existed then, unseen, and what it
//!    counted before cannot be told from LiteLLM's history. A series without
//!    `_created` (multiprocess mode) is a baseline, delta 0, as on rule 2:
//!    counting it whole would put a long-running pod's history into one
//!    scrape. So a new pod loses at most what its `_created`-less counters
//!    made before its first scrape, and never counts anything twice.
//!
//! With rules 1, 5 and 6, scrapes answered alternately by two workers with no
//! traffic give zero deltas, and traffic on either worker is counted once,
//! because each worker's series has its own `_created`. In multiprocess mode
//! LiteLLM sums its workers itself and exposes no `_created`, so only rule 3
//! applies: a restart is seen only when a counter falls, and a worker that
//! dies takes its share out of the sums, which then looks like a reset.
//!
//! Gauges (`in_flight_requests`) have no deltas; their live value is the sum
//! over their series in the latest body.
//!
//! # Histograms and health counters
//!
//! Every `_bucket{le}`, `_sum` and `_count` sample of a latency
//! [`Histogram`](crate::catalog::Histogram) is a cumulative counter, and so
//! is every deployment [`HealthCounter`](crate::catalog::HealthCounter)
//! sample: the tracker follows each as a series under rules 1 to 6, with
//! the histogram's `_created` (`X_created{L}` for `X_bucket{L, le}`,
//! `X_sum{L}` and `X_count{L}`) as the `_created` of all its samples. So a
//! restart, a vanished or returning series and workers answering in turn
//! come out as they do for counters. Their increases are summed per
//! dimension key (per `le` for buckets) into [`LatencyDeltas`], apart from
//! the metric deltas, and their series are counted apart too
//! ([`LatencyDeltas::series`], [`Tracker::latency_series_len`]).
//! [`TrackerState`] carries their series (version 2); a tracker restored
//! from a version 1 state takes its next observation as their baseline
//! (delta 0), never as LiteLLM's whole history at once.
//!
//! # Speed
//!
//! `observe` runs on every scrape of bodies of several MB. Each tracked
//! sample is encoded once into a reusable buffer; the state is keyed by a
//! 64-bit hash of that encoding, checked against the stored bytes, so known
//! series cost no allocation. `_created` values are matched through one hash
//! map per body that holds only tracked families.
//!
//! # Layout
//!
//! - this file: the [`Tracker`] and the series it remembers;
//! - `observe.rs`: one observation, in three named passes over the body;
//! - `observe_latency.rs`: its third pass for histogram and health counter samples;
//! - `identity.rs`: which samples are the same series (the encoded key and its hash);
//! - `fleet.rs`: [`Fleet`], one tracker per scrape target, and the merge of
//!   one round's observations (rule 7);
//! - `observation.rs`: [`Observation`], and folding two consecutive ones into one;
//! - `latency.rs`: [`LatencyDeltas`], the histogram and health part of an observation;
//! - `state.rs`: [`TrackerState`], export and import;
//! - `changes.rs`: [`StateChanges`], only what changed since the last
//!   persisted state, so a host writes per scrape in proportion to what changed.

mod changes;
mod fleet;
mod identity;
mod latency;
#[cfg(feature = "memo")]
mod memo;
#[cfg(not(feature = "memo"))]
#[path = "memo_off.rs"]
mod memo;
#[cfg(all(test, feature = "memo"))]
mod memo_tests;
mod observation;
mod observe;
#[cfg(feature = "latency")]
mod observe_latency;
mod state;
#[cfg(test)]
mod tests;

use std::collections::hash_map::Entry as Slot;

use crate::catalog::{Catalog, Dimension, dimension_value};
use crate::expo::{Exposition, Label};

use identity::{IdMap, Shared, SharedKey};
use observe::Scratch;

pub use changes::{
    IdentityLabels, SEEN_REFRESH_MS, SeriesChange, SeriesIdentity, SeriesKey, StateChanges,
};
pub use fleet::{Fleet, merge_round};
pub use latency::{HealthDelta, HistogramDelta, LatencyDeltas, SeriesCounts};
#[cfg(feature = "memo")]
pub use memo::ParsedBody;
pub use observation::{BreakdownDelta, Observation};
pub use state::{STATE_VERSION, SeriesState, TrackerState};

use crate::fastmap::FastMap;

/// What a series carries: a metric's counter, or a histogram or health
/// counter sample. Each kind has its own series counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Metric,
    Latency,
}

impl Kind {
    fn index(self) -> usize {
        self as usize
    }
}

/// One remembered series.
#[derive(Debug, Clone)]
struct Entry {
    kind: Kind,
    /// Identity (see [`identity::Key`]), to check hash hits; shared with
    /// the [`StateChanges`] that hand the series out, so a change set of
    /// every series copies no label.
    key: SharedKey,
    value: f64,
    last_seen_ms: i64,
    /// The observation number that last saw the series.
    seen_gen: u64,
    /// Interned key per dimension.
    dims: [u32; Dimension::COUNT],
    /// Hash of name and labels without `_created`.
    base_hash: u64,
    /// Changed since the last [`Tracker::take_changes`] (value, `_created`
    /// identity, or a `last_seen_ms` due for a refresh).
    dirty: bool,
    /// `last_seen_ms` as the last [`Tracker::take_changes`] handed it out.
    taken_seen_ms: i64,
}

/// Dimension keys, stored once however many series share them.
#[derive(Debug, Clone, Default)]
struct Interner {
    ids: FastMap<Box<str>, u32>,
    strings: Vec<Box<str>>,
}

impl Interner {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = u32::try_from(self.strings.len()).unwrap_or(u32::MAX);
        self.strings.push(s.into());
        self.ids.insert(s.into(), id);
        id
    }

    fn get(&self, id: u32) -> &str {
        self.strings.get(id as usize).map_or("", |s| s)
    }
}

/// Follows every tracked series of one scrape target and turns each scrape
/// into an [`Observation`]. See the module docs for the rules.
pub struct Tracker {
    catalog: Catalog,
    series: IdMap<Entry>,
    /// Entries whose identity hash collided with a different stored series.
    overflow: Vec<(u64, Entry)>,
    /// How many stored series share each name-and-labels hash.
    base_counts: IdMap<u32>,
    keys: Interner,
    /// The sample names and label sets of the stored identities.
    shared: Shared,
    observations: u64,
    last_at_ms: Option<i64>,
    /// The target's clock at the latest observation, when it sent one.
    last_target_ms: Option<i64>,
    /// Stored series seen by the latest observation, per [`Kind`].
    prev_seen: [u32; 2],
    /// The next observation is the baseline of the [`Kind::Latency`] series
    /// (after a state without them, see [`Tracker::from_state`]).
    latency_baseline: bool,
    /// The next observation is a fleet member's first (rule 7): series
    /// without `_created` are its baseline.
    joining: bool,
    /// The `instance` key of series that carry no `instance` label: a fleet
    /// member's target name ([`Fleet`]); `""` otherwise.
    instance: Box<str>,
    /// Identities of series forgotten since the last [`Tracker::take_changes`].
    removed: Vec<SharedKey>,
    /// The next [`Tracker::take_changes`] replaces everything persisted (a
    /// tracker that did not continue from a state).
    replace_all: bool,
    scratch: Scratch,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("observations", &self.observations)
            .field("last_at_ms", &self.last_at_ms)
            .field("last_target_ms", &self.last_target_ms)
            .field("series", &self.series_len())
            .finish_non_exhaustive()
    }
}

impl Tracker {
    /// A tracker with no history: its first observation is a baseline.
    pub fn new(catalog: Catalog) -> Tracker {
        Tracker {
            catalog,
            series: IdMap::default(),
            overflow: Vec::new(),
            base_counts: IdMap::default(),
            keys: Interner::default(),
            shared: Shared::default(),
            observations: 0,
            last_at_ms: None,
            last_target_ms: None,
            prev_seen: [0; 2],
            latency_baseline: false,
            joining: false,
            instance: Box::default(),
            removed: Vec::new(),
            replace_all: true,
            scratch: Scratch::default(),
        }
    }

    /// A tracker for a fleet member first seen after the fleet's observation
    /// at `since_ms` (rule 7): its first observation judges `_created` against
    /// `since_ms`, so series created since count whole and older ones are
    /// adopted, and takes series without `_created` as a baseline.
    pub fn joining(catalog: Catalog, since_ms: i64) -> Tracker {
        let mut t = Tracker::new(catalog);
        t.last_at_ms = Some(since_ms);
        t.joining = true;
        t
    }

    /// The catalog this tracker follows.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Number of remembered counter series of metrics.
    pub fn series_len(&self) -> usize {
        self.entries().filter(|e| e.kind == Kind::Metric).count()
    }

    /// Number of remembered histogram and health counter series.
    pub fn latency_series_len(&self) -> usize {
        self.entries().filter(|e| e.kind == Kind::Latency).count()
    }

    /// Number of observations so far.
    pub fn observations(&self) -> u64 {
        self.observations
    }

    /// Time of the latest observation.
    pub fn last_at_ms(&self) -> Option<i64> {
        self.last_at_ms
    }

    /// The target's own clock at the latest observation, when it sent one.
    pub fn last_target_ms(&self) -> Option<i64> {
        self.last_target_ms
    }

    /// Takes in one scraped body seen at `at_ms` and says what it changed.
    ///
    /// The same as [`Tracker::observe_with_target_clock`] without a target clock.
    pub fn observe(&mut self, expo: &Exposition<'_>, at_ms: i64) -> Observation {
        self.observe_with_target_clock(expo, at_ms, None)
    }

    /// Like [`Tracker::observe`], with the target's own clock at the time it
    /// answered (e.g. its HTTP `Date` header, ms since epoch; `None` when
    /// unknown).
    ///
    /// When this and the previous observation both have a target clock,
    /// `_created` is judged against the previous one (rule 6), so a skew
    /// between LiteLLM's host and the scraper's does not matter.
    pub fn observe_with_target_clock(
        &mut self,
        expo: &Exposition<'_>,
        at_ms: i64,
        target_now_ms: Option<i64>,
    ) -> Observation {
        let mut scratch = std::mem::take(&mut self.scratch);
        let obs = self.observe_with(expo, at_ms, target_now_ms, &mut scratch, None);
        self.scratch = scratch;
        obs
    }

    /// Forgets series not seen since `cutoff_ms` (the host passes e.g. now −
    /// 7 days). A forgotten series that comes back is new again (rule 6).
    pub fn forget_older_than(&mut self, cutoff_ms: i64) {
        let current = self.observations;
        let mut removed_seen = [0u32; 2];
        let mut removed_bases: Vec<u64> = Vec::new();
        let removed_keys = &mut self.removed;
        let mut keep = |e: &Entry| {
            if e.last_seen_ms >= cutoff_ms {
                return true;
            }
            if current > 0 && e.seen_gen == current {
                removed_seen[e.kind.index()] += 1;
            }
            removed_bases.push(e.base_hash);
            removed_keys.push(e.key.clone());
            false
        };
        self.series.retain(|_, e| keep(e));
        self.overflow.retain(|(_, e)| keep(e));
        // A remembered line names its series by identity hash alone, which
        // only holds while no stored series has gone (see `memo.rs`).
        #[cfg(feature = "memo")]
        if !removed_bases.is_empty() {
            self.scratch.memo.forget();
        }
        for (prev, removed) in self.prev_seen.iter_mut().zip(removed_seen) {
            *prev = prev.saturating_sub(removed);
        }
        for b in removed_bases {
            if let Some(n) = self.base_counts.get_mut(&b) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.base_counts.remove(&b);
                }
            }
        }
        // Move collided entries whose primary slot is now free back to it.
        let overflow = std::mem::take(&mut self.overflow);
        for (id, e) in overflow {
            match self.series.entry(id) {
                Slot::Vacant(slot) => {
                    slot.insert(e);
                }
                Slot::Occupied(_) => self.overflow.push((id, e)),
            }
        }
        self.compact_keys();
        self.shared.prune();
    }

    /// Every remembered series.
    fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.series
            .values()
            .chain(self.overflow.iter().map(|(_, e)| e))
    }

    /// The stored series with identity hash `id` and identity `key`
    /// (encoded with `created`).
    fn find_mut(&mut self, id: u64, key: &[u8], created: Option<f64>) -> Option<&mut Entry> {
        match self.series.get_mut(&id) {
            Some(e) if e.key.is(key, created) => Some(e),
            Some(_) => self
                .overflow
                .iter_mut()
                .find(|(h, e)| *h == id && e.key.is(key, created))
                .map(|(_, e)| e),
            None => None,
        }
    }

    fn insert(&mut self, id: u64, entry: Entry) {
        *self.base_counts.entry(entry.base_hash).or_insert(0) += 1;
        match self.series.entry(id) {
            Slot::Vacant(slot) => {
                slot.insert(entry);
            }
            Slot::Occupied(_) => self.overflow.push((id, entry)),
        }
    }

    fn dims_of(&mut self, labels: &[Label<'_>]) -> [u32; Dimension::COUNT] {
        let mut dims = [0; Dimension::COUNT];
        for d in Dimension::ALL {
            let value = dimension_value(d, labels);
            let key = match d {
                Dimension::Instance if value.is_empty() => &self.instance,
                _ => value.as_ref(),
            };
            dims[d.index()] = self.keys.intern(key);
        }
        dims
    }

    /// Drops dimension keys no remembered series uses any more.
    fn compact_keys(&mut self) {
        let mut fresh = Interner::default();
        let old = std::mem::take(&mut self.keys);
        let entries = self
            .series
            .values_mut()
            .chain(self.overflow.iter_mut().map(|(_, e)| e));
        for e in entries {
            for d in &mut e.dims {
                *d = fresh.intern(old.get(*d));
            }
        }
        self.keys = fresh;
    }
}
