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
//! # Speed
//!
//! `observe` runs on every scrape of bodies of several MB. Each tracked
//! sample is encoded once into a reusable buffer; the state is keyed by a
//! 64-bit hash of that encoding, checked against the stored bytes, so known
//! series cost no allocation. `_created` values are matched through one hash
//! map per body that holds only tracked families.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::collections::hash_map::Entry as Slot;
use std::hash::{BuildHasherDefault, Hasher};

use crate::catalog::{Catalog, Dimension, Metric, MetricValues, NameRole, dimension_value};
use crate::expo::{Exposition, Label};

/// Tolerance for `_created` against the previous observation time: LiteLLM's
/// clock and the scraper's may differ slightly, and an HTTP `Date` is
/// truncated to whole seconds.
const CREATED_TOLERANCE_MS: i64 = 1000;

/// Relative fall below which a lower value is taken as float noise, not a
/// reset: counting a whole counter again for a 1-ulp difference would be far
/// worse than ignoring a restart that landed within 10^-12 of the old value.
const FALL_TOLERANCE: f64 = 1e-12;

/// Version written into [`TrackerState::version`].
///
/// Still 1 after [`TrackerState::last_target_ms`] was added: that field
/// defaults to `None`, so an older state reads as one whose latest
/// observation had no target clock, and the next observation falls back to
/// the scraper's clock once.
pub const STATE_VERSION: u32 = 1;

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
    /// Every remembered counter series, sorted by sample, labels, created.
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

/// Hasher for keys that already are 64-bit hashes.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// A `HashMap` with FxHash (rustc-hash) for the tracker's and catalog's maps.
///
/// Not SipHash: its code is 0.7 KB of the gzipped .wasm, and it gave no
/// flooding resistance here anyway (identity hashes used fixed keys). A
/// collision costs a lookup in a short overflow list, never a wrong answer.
pub(crate) type FastMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// Labels as persisted: `(name, value)` sorted by name.
type OwnedLabels = Vec<(String, String)>;

/// One remembered series.
#[derive(Debug, Clone)]
struct Entry {
    /// Encoded identity (see [`push_base`]), to check hash hits.
    key: Box<[u8]>,
    value: f64,
    last_seen_ms: i64,
    /// The observation number that last saw the series.
    seen_gen: u64,
    /// Interned key per dimension.
    dims: [u32; Dimension::COUNT],
    /// Hash of name and labels without `_created`.
    base_hash: u64,
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

/// A tracked sample found in a body.
#[derive(Clone, Copy)]
struct Hit {
    sample: u32,
    role: NameRole,
}

/// Buffers reused from one observation to the next.
#[derive(Default)]
struct Scratch {
    hits: Vec<Hit>,
    order: Vec<u32>,
    key: Vec<u8>,
    arena: Vec<u8>,
    created: IdMap<(u32, u32, f64)>,
    created_overflow: Vec<(u64, u32, u32, f64)>,
    breakdown: FastMap<(Dimension, u32, Metric), f64>,
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
    observations: u64,
    last_at_ms: Option<i64>,
    /// The target's clock at the latest observation, when it sent one.
    last_target_ms: Option<i64>,
    /// Stored series seen by the latest observation.
    prev_seen: u32,
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

fn push_str(buf: &mut Vec<u8>, s: &str) {
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

/// Encodes name and labels (in `order`, or as written when `order` is empty):
/// length-prefixed, so distinct series never share an encoding.
fn push_base(buf: &mut Vec<u8>, name: &str, labels: &[Label<'_>], order: &[u32]) {
    push_str(buf, name);
    let count = u32::try_from(labels.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&count.to_le_bytes());
    if order.is_empty() {
        for l in labels {
            push_str(buf, l.name);
            push_str(buf, &l.value());
        }
    } else {
        for &i in order {
            if let Some(l) = labels.get(i as usize) {
                push_str(buf, l.name);
                push_str(buf, &l.value());
            }
        }
    }
}

/// Appends the `_created` part of the identity.
fn push_created(buf: &mut Vec<u8>, created: Option<f64>) {
    match created {
        None => buf.push(0),
        Some(c) => {
            buf.push(1);
            buf.extend_from_slice(&c.to_bits().to_le_bytes());
        }
    }
}

/// Fills `order` with the label positions sorted by name, or leaves it empty
/// when the labels are already sorted (prometheus_client always sorts them).
fn sort_order(labels: &[Label<'_>], order: &mut Vec<u32>) {
    order.clear();
    if labels.windows(2).all(|w| w[0].name <= w[1].name) {
        return;
    }
    let sorted = stable_order(labels.len(), &|a, b| labels[a].name.cmp(labels[b].name));
    order.extend(
        sorted
            .into_iter()
            .map(|i| u32::try_from(i).unwrap_or(u32::MAX)),
    );
}

/// Sorts `v` stably by `cmp`, through [`stable_order`].
fn sort_stable_by<T>(v: &mut Vec<T>, cmp: impl Fn(&T, &T) -> Ordering) {
    let order = {
        let items = v.as_slice();
        stable_order(items.len(), &|a, b| cmp(&items[a], &items[b]))
    };
    let mut slots: Vec<Option<T>> = v.drain(..).map(Some).collect();
    v.extend(order.into_iter().filter_map(|i| slots[i].take()));
}

/// The positions `0..n` in stable sorted order (bottom-up merge sort).
///
/// One non-generic sort over positions serves every sort in this module:
/// std's sort is monomorphised per element type and comparator, which cost
/// about 25 KB of WebAssembly for three cold sorts of at most a few
/// thousand items.
#[inline(never)]
fn stable_order(n: usize, cmp: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut from: Vec<usize> = (0..n).collect();
    let mut to = vec![0; n];
    let mut width = 1;
    while width < n {
        let mut start = 0;
        while start < n {
            let mid = (start + width).min(n);
            let end = (start + 2 * width).min(n);
            let (mut l, mut r) = (start, mid);
            for slot in &mut to[start..end] {
                // Take from the left run on ties: that keeps the sort stable.
                let take_left = r == end || (l < mid && cmp(from[l], from[r]) != Ordering::Greater);
                if take_left {
                    *slot = from[l];
                    l += 1;
                } else {
                    *slot = from[r];
                    r += 1;
                }
            }
            start = end;
        }
        std::mem::swap(&mut from, &mut to);
        width *= 2;
    }
    from
}

/// A series identity hash: FxHash of the encoded identity, spread by a
/// splitmix64 finish because [`IdMap`] uses it as is.
fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(bytes);
    mix(h.finish())
}

/// splitmix64 finaliser, to fold `_created` into an identity hash.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn identity_hash(base_hash: u64, created: Option<f64>) -> u64 {
    match created {
        None => base_hash,
        Some(c) => base_hash ^ mix(c.to_bits()),
    }
}

/// Reads a length-prefixed string written by [`push_str`].
fn read_str<'k>(key: &'k [u8], pos: &mut usize) -> Option<&'k str> {
    let len_bytes: [u8; 4] = key.get(*pos..*pos + 4)?.try_into().ok()?;
    let len = u32::from_le_bytes(len_bytes) as usize;
    let s = key.get(*pos + 4..*pos + 4 + len)?;
    *pos += 4 + len;
    std::str::from_utf8(s).ok()
}

/// Decodes an identity written by [`push_base`] and [`push_created`].
fn decode_key(key: &[u8]) -> Option<(String, OwnedLabels, Option<f64>)> {
    let mut pos = 0;
    let name = read_str(key, &mut pos)?.to_owned();
    let count_bytes: [u8; 4] = key.get(pos..pos + 4)?.try_into().ok()?;
    pos += 4;
    let count = u32::from_le_bytes(count_bytes);
    let mut labels = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let n = read_str(key, &mut pos)?.to_owned();
        let v = read_str(key, &mut pos)?.to_owned();
        labels.push((n, v));
    }
    let created = match key.get(pos)? {
        0 => None,
        _ => {
            let bits: [u8; 8] = key.get(pos + 1..pos + 9)?.try_into().ok()?;
            Some(f64::from_bits(u64::from_le_bytes(bits)))
        }
    };
    Some((name, labels, created))
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
            observations: 0,
            last_at_ms: None,
            last_target_ms: None,
            prev_seen: 0,
            scratch: Scratch::default(),
        }
    }

    /// The catalog this tracker follows.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Number of remembered counter series.
    pub fn series_len(&self) -> usize {
        self.series.len() + self.overflow.len()
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

    fn find_mut(&mut self, id: u64, key: &[u8]) -> Option<&mut Entry> {
        match self.series.get_mut(&id) {
            Some(e) if *e.key == *key => Some(e),
            Some(_) => self
                .overflow
                .iter_mut()
                .find(|(h, e)| *h == id && *e.key == *key)
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
            dims[d.index()] = self.keys.intern(&dimension_value(d, labels));
        }
        dims
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
        let obs = self.observe_with(expo, at_ms, target_now_ms, &mut scratch);
        self.scratch = scratch;
        obs
    }

    fn observe_with(
        &mut self,
        expo: &Exposition<'_>,
        at_ms: i64,
        target_now_ms: Option<i64>,
        sc: &mut Scratch,
    ) -> Observation {
        let prev_at = self.last_at_ms;
        let baseline = prev_at.is_none();
        // The time `_created` is compared with: the target's clock when both
        // observations have it, else ours (rule 6).
        let created_threshold_ms = match (self.last_target_ms, target_now_ms) {
            (Some(prev_target), Some(_)) => prev_target,
            _ => prev_at.unwrap_or(i64::MIN),
        }
        .saturating_sub(CREATED_TOLERANCE_MS);
        let prev_gen = self.observations;
        let generation = self.observations + 1;

        // Pass 1: find tracked samples and, per metric, the best-ranked name present.
        sc.hits.clear();
        let mut best_rank = [u8::MAX; Metric::COUNT];
        let mut last: Option<(&str, Option<NameRole>)> = None;
        for (i, s) in expo.samples.iter().enumerate() {
            let role = match last {
                Some((name, role)) if name == s.name => role,
                _ => {
                    let role = self.catalog.role_of(s.name);
                    last = Some((s.name, role));
                    role
                }
            };
            let Some(role) = role else { continue };
            let Ok(sample) = u32::try_from(i) else { break };
            if let NameRole::Value { metric, rank } = role {
                let best = &mut best_rank[metric.index()];
                *best = (*best).min(rank);
            }
            sc.hits.push(Hit { sample, role });
        }

        // Pass 2: index the `_created` values of the chosen names by counter identity.
        sc.arena.clear();
        sc.created.clear();
        sc.created_overflow.clear();
        for hit in &sc.hits {
            let NameRole::Created { metric, rank } = hit.role else {
                continue;
            };
            if rank != best_rank[metric.index()] {
                continue;
            }
            let Some(s) = expo.samples.get(hit.sample as usize) else {
                continue;
            };
            if !s.value.is_finite() {
                continue;
            }
            let Some(value_name) = self.catalog.sample_names(metric).get(rank as usize) else {
                continue;
            };
            let labels = expo.labels_of(s);
            sort_order(labels, &mut sc.order);
            let start = sc.arena.len();
            push_base(&mut sc.arena, value_name, labels, &sc.order);
            let end = sc.arena.len();
            let (Ok(start32), Ok(end32)) = (u32::try_from(start), u32::try_from(end)) else {
                break;
            };
            let h = hash_bytes(&sc.arena[start..end]);
            match sc.created.entry(h) {
                Slot::Vacant(slot) => {
                    slot.insert((start32, end32, s.value));
                }
                Slot::Occupied(_) => sc.created_overflow.push((h, start32, end32, s.value)),
            }
        }

        // Pass 3: the value samples.
        let mut obs = Observation {
            at_ms,
            baseline,
            resets: 0,
            new_series: 0,
            vanished_series: 0,
            adopted_series: 0,
            live: MetricValues::default(),
            deltas: MetricValues::default(),
            breakdown: Vec::new(),
        };
        sc.breakdown.clear();
        let mut still_seen = 0u32;
        let mut seen_now = 0u32;
        for hit in &sc.hits {
            let NameRole::Value { metric, rank } = hit.role else {
                continue;
            };
            if rank != best_rank[metric.index()] {
                continue;
            }
            let Some(s) = expo.samples.get(hit.sample as usize) else {
                continue;
            };
            let value = s.value;
            if metric.is_gauge() {
                if value.is_finite() {
                    obs.live.add(metric, value);
                }
                continue;
            }
            let labels = expo.labels_of(s);
            sort_order(labels, &mut sc.order);
            sc.key.clear();
            push_base(&mut sc.key, s.name, labels, &sc.order);
            let base_hash = hash_bytes(&sc.key);
            let created = lookup_created(sc, base_hash);
            push_created(&mut sc.key, created);
            let id = identity_hash(base_hash, created);
            let usable = value.is_finite() && value >= 0.0;

            let (delta, dims) = if let Some(e) = self.find_mut(id, &sc.key) {
                if e.seen_gen == generation {
                    // The same series twice in one body: count it once.
                    continue;
                }
                if e.seen_gen == prev_gen {
                    still_seen += 1;
                }
                seen_now += 1;
                e.seen_gen = generation;
                e.last_seen_ms = at_ms;
                if !usable {
                    continue;
                }
                let delta = if value >= e.value {
                    value - e.value
                } else if value >= e.value - e.value * FALL_TOLERANCE {
                    // Rounding noise of a stored value, not a restart.
                    0.0
                } else {
                    obs.resets += 1;
                    value
                };
                e.value = value;
                (delta, e.dims)
            } else {
                if !usable {
                    continue;
                }
                let delta = match (prev_at, created) {
                    (None, _) => {
                        obs.new_series += 1;
                        0.0
                    }
                    (Some(_), Some(c)) if c * 1000.0 < created_threshold_ms as f64 => {
                        obs.adopted_series += 1;
                        0.0
                    }
                    (Some(_), _) => {
                        if self.base_counts.get(&base_hash).is_some_and(|n| *n > 0) {
                            obs.resets += 1;
                        } else {
                            obs.new_series += 1;
                        }
                        value
                    }
                };
                let dims = self.dims_of(labels);
                seen_now += 1;
                self.insert(
                    id,
                    Entry {
                        key: sc.key.as_slice().into(),
                        value,
                        last_seen_ms: at_ms,
                        seen_gen: generation,
                        dims,
                        base_hash,
                    },
                );
                (delta, dims)
            };
            obs.live.add(metric, value);
            if delta != 0.0 {
                obs.deltas.add(metric, delta);
                for d in Dimension::ALL {
                    *sc.breakdown
                        .entry((d, dims[d.index()], metric))
                        .or_insert(0.0) += delta;
                }
            }
        }

        obs.vanished_series = self.prev_seen.saturating_sub(still_seen);
        self.prev_seen = seen_now;
        self.observations = generation;
        self.last_at_ms = Some(at_ms);
        self.last_target_ms = target_now_ms;

        let mut breakdown: Vec<BreakdownDelta> = sc
            .breakdown
            .iter()
            .map(|(&(dimension, key, metric), &delta)| BreakdownDelta {
                dimension,
                key: self.keys.get(key).to_owned(),
                metric,
                delta,
            })
            .collect();
        sort_stable_by(&mut breakdown, |a, b| {
            (a.dimension, &a.key, a.metric).cmp(&(b.dimension, &b.key, b.metric))
        });
        obs.breakdown = breakdown;
        obs
    }

    /// The state to persist; [`Tracker::from_state`] continues from it exactly.
    pub fn export_state(&self) -> TrackerState {
        let mut series: Vec<SeriesState> = self
            .series
            .values()
            .chain(self.overflow.iter().map(|(_, e)| e))
            .filter_map(|e| {
                let (sample, labels, created) = decode_key(&e.key)?;
                Some(SeriesState {
                    sample,
                    labels,
                    created,
                    value: e.value,
                    last_seen_ms: e.last_seen_ms,
                })
            })
            .collect();
        sort_stable_by(&mut series, |a, b| {
            (&a.sample, &a.labels)
                .cmp(&(&b.sample, &b.labels))
                .then(a.created.partial_cmp(&b.created).unwrap_or(Ordering::Equal))
        });
        TrackerState {
            version: STATE_VERSION,
            observations: self.observations,
            last_at_ms: self.last_at_ms,
            last_target_ms: self.last_target_ms,
            series,
        }
    }

    /// A tracker that continues from `state`. Series whose sample name
    /// `catalog` does not track (any more), gauges and non-finite values are
    /// dropped.
    pub fn from_state(catalog: Catalog, state: TrackerState) -> Tracker {
        let mut t = Tracker::new(catalog);
        t.observations = state.observations;
        t.last_at_ms = state.last_at_ms;
        t.last_target_ms = state.last_target_ms;
        let mut key = Vec::new();
        let mut order = Vec::new();
        for s in state.series {
            let Some(metric) = t.catalog.metric_of(&s.sample) else {
                continue;
            };
            if metric.is_gauge() || !(s.value.is_finite() && s.value >= 0.0) {
                continue;
            }
            let labels: Vec<Label<'_>> = s.labels.iter().map(|(n, v)| Label::new(n, v)).collect();
            sort_order(&labels, &mut order);
            key.clear();
            push_base(&mut key, &s.sample, &labels, &order);
            let base_hash = hash_bytes(&key);
            push_created(&mut key, s.created);
            let id = identity_hash(base_hash, s.created);
            if t.find_mut(id, &key).is_some() {
                continue;
            }
            let seen_gen = if state.observations > 0 && Some(s.last_seen_ms) == state.last_at_ms {
                t.prev_seen += 1;
                state.observations
            } else {
                0
            };
            let dims = t.dims_of(&labels);
            t.insert(
                id,
                Entry {
                    key: key.as_slice().into(),
                    value: s.value,
                    last_seen_ms: s.last_seen_ms,
                    seen_gen,
                    dims,
                    base_hash,
                },
            );
        }
        t
    }

    /// Forgets series not seen since `cutoff_ms` (the host passes e.g. now −
    /// 7 days). A forgotten series that comes back is new again (rule 6).
    pub fn forget_older_than(&mut self, cutoff_ms: i64) {
        let current = self.observations;
        let mut removed_seen = 0u32;
        let mut removed_bases: Vec<u64> = Vec::new();
        let mut keep = |e: &Entry| {
            if e.last_seen_ms >= cutoff_ms {
                return true;
            }
            if current > 0 && e.seen_gen == current {
                removed_seen += 1;
            }
            removed_bases.push(e.base_hash);
            false
        };
        self.series.retain(|_, e| keep(e));
        self.overflow.retain(|(_, e)| keep(e));
        self.prev_seen = self.prev_seen.saturating_sub(removed_seen);
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

/// The `_created` value indexed for the counter identity in `sc.key`.
fn lookup_created(sc: &Scratch, base_hash: u64) -> Option<f64> {
    let matches = |start: u32, end: u32| {
        sc.arena.get(start as usize..end as usize) == Some(sc.key.as_slice())
    };
    match sc.created.get(&base_hash) {
        Some(&(start, end, value)) if matches(start, end) => Some(value),
        Some(_) => sc
            .created_overflow
            .iter()
            .find(|&&(h, start, end, _)| h == base_hash && matches(start, end))
            .map(|&(_, _, _, value)| value),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expo::{Family, MetricType, Sample};

    #[test]
    fn stable_order_keeps_ties_in_input_order() {
        let keys = [3, 1, 3, 2, 1, 0, 3];
        let order = stable_order(keys.len(), &|a, b| keys[a].cmp(&keys[b]));
        assert_eq!(order, vec![5, 1, 4, 3, 0, 2, 6]);
        assert!(stable_order(0, &|_, _| Ordering::Equal).is_empty());
        assert_eq!(stable_order(1, &|_, _| Ordering::Equal), vec![0]);
    }

    proptest::proptest! {
        #[test]
        fn sort_stable_by_matches_std_stable_sort(v in proptest::collection::vec((0u8..8, 0u16..1000), 0..300)) {
            let mut ours = v.clone();
            sort_stable_by(&mut ours, |a, b| a.0.cmp(&b.0));
            let mut std_sorted = v;
            std_sorted.sort_by_key(|x| x.0);
            proptest::prop_assert_eq!(ours, std_sorted);
        }
    }

    const REQ: &str = "litellm_proxy_total_requests_metric_total";
    const REQ_CREATED: &str = "litellm_proxy_total_requests_metric_created";
    const SPEND: &str = "litellm_spend_metric_total";

    type Line<'a> = (&'a str, &'a [(&'a str, &'a str)], f64);

    /// Builds an exposition from `(sample name, labels, value)` lines.
    fn body<'a>(lines: &[Line<'a>]) -> Exposition<'a> {
        let mut e = Exposition::default();
        for (i, (name, labels, value)) in lines.iter().enumerate() {
            let start = e.labels.len() as u32;
            for (n, v) in labels.iter() {
                e.labels.push(Label::new(n, v));
            }
            e.samples.push(Sample {
                name,
                labels: start..e.labels.len() as u32,
                value: *value,
                timestamp_ms: None,
                family: 0,
                line: i as u32 + 1,
            });
        }
        e.families.push(Family {
            name: "all",
            kind: MetricType::Unknown,
            help: None,
            unit: None,
            samples: 0..e.samples.len() as u32,
        });
        e
    }

    const GPT: &[(&str, &str)] = &[("requested_model", "gpt"), ("api_provider", "openai")];
    const CLAUDE: &[(&str, &str)] = &[("requested_model", "claude"), ("api_provider", "anthropic")];

    fn tracker() -> Tracker {
        Tracker::new(Catalog::litellm())
    }

    #[test]
    fn first_observation_is_a_baseline() {
        let mut t = tracker();
        let o = t.observe(
            &body(&[(REQ, GPT, 5.0), (REQ, CLAUDE, 2.0), (SPEND, GPT, 0.5)]),
            1000,
        );
        assert!(o.baseline);
        assert_eq!(o.new_series, 3);
        assert_eq!(o.deltas, MetricValues::default());
        assert!(o.breakdown.is_empty());
        assert_eq!(o.live.get(Metric::Requests), 7.0);
        assert_eq!(o.live.get(Metric::Cost), 0.5);
        assert_eq!(t.series_len(), 3);
    }

    #[test]
    fn growth_and_reset_by_value_fall() {
        let mut t = tracker();
        t.observe(&body(&[(REQ, GPT, 5.0), (REQ, CLAUDE, 2.0)]), 1000);
        let o = t.observe(&body(&[(REQ, GPT, 8.0), (REQ, CLAUDE, 2.0)]), 2000);
        assert!(!o.baseline);
        assert_eq!((o.resets, o.new_series, o.vanished_series), (0, 0, 0));
        assert_eq!(o.deltas.get(Metric::Requests), 3.0);
        let o = t.observe(&body(&[(REQ, GPT, 1.0), (REQ, CLAUDE, 4.0)]), 3000);
        assert_eq!(o.resets, 1);
        assert_eq!(o.deltas.get(Metric::Requests), 3.0);
        assert_eq!(o.live.get(Metric::Requests), 5.0);
    }

    #[test]
    fn nan_inf_and_negative_values_are_ignored() {
        let mut t = tracker();
        t.observe(&body(&[(REQ, GPT, 5.0)]), 1000);
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0] {
            let o = t.observe(&body(&[(REQ, GPT, bad), (REQ, CLAUDE, bad)]), 2000);
            assert_eq!(o.deltas.get(Metric::Requests), 0.0);
            assert_eq!(o.live.get(Metric::Requests), 0.0);
            assert_eq!((o.resets, o.new_series, o.vanished_series), (0, 0, 0));
        }
        assert_eq!(t.series_len(), 1);
        let o = t.observe(&body(&[(REQ, GPT, 7.0)]), 3000);
        assert_eq!(o.deltas.get(Metric::Requests), 2.0);
        assert_eq!(o.resets, 0);
    }

    #[test]
    fn a_one_ulp_fall_is_noise_not_a_reset() {
        let mut t = tracker();
        let v: f64 = 0.00028440000000000003;
        t.observe(
            &body(&[(SPEND, GPT, f64::from_bits(v.to_bits() + 1))]),
            1000,
        );
        let o = t.observe(&body(&[(SPEND, GPT, v)]), 2000);
        assert_eq!((o.resets, o.deltas.get(Metric::Cost)), (0, 0.0));
        let o = t.observe(&body(&[(SPEND, GPT, v + 0.0001)]), 3000);
        assert_eq!(o.deltas.get(Metric::Cost), (v + 0.0001) - v);
        let o = t.observe(&body(&[(SPEND, GPT, v)]), 4000);
        assert_eq!((o.resets, o.deltas.get(Metric::Cost)), (1, v));
    }

    #[test]
    fn a_new_created_is_a_reset_even_when_the_value_grew() {
        let mut t = tracker();
        t.observe(
            &body(&[(REQ, GPT, 5.0), (REQ_CREATED, GPT, 100.0)]),
            200_000,
        );
        let o = t.observe(
            &body(&[(REQ, GPT, 9.0), (REQ_CREATED, GPT, 250.0)]),
            300_000,
        );
        assert_eq!(o.resets, 1);
        assert_eq!(o.new_series, 0);
        assert_eq!(o.vanished_series, 1);
        assert_eq!(o.deltas.get(Metric::Requests), 9.0);
        // The restarted series then grows normally.
        let o = t.observe(
            &body(&[(REQ, GPT, 10.0), (REQ_CREATED, GPT, 250.0)]),
            400_000,
        );
        assert_eq!(o.deltas.get(Metric::Requests), 1.0);
        assert_eq!((o.resets, o.vanished_series), (0, 0));
    }

    #[test]
    fn created_may_come_before_or_after_its_counter() {
        let lines_after = [(REQ, GPT, 5.0), (REQ_CREATED, GPT, 100.0)];
        let lines_before = [(REQ_CREATED, GPT, 100.0), (REQ, GPT, 5.0)];
        let mut a = tracker();
        let mut b = tracker();
        a.observe(&body(&lines_after), 1000);
        b.observe(&body(&lines_before), 1000);
        assert_eq!(a.export_state(), b.export_state());
        assert_eq!(a.export_state().series[0].created, Some(100.0));
    }

    #[test]
    fn label_order_does_not_change_identity() {
        let mut t = tracker();
        t.observe(
            &body(&[
                (REQ, &[("a", "1"), ("b", "2")], 5.0),
                (REQ_CREATED, &[("b", "2"), ("a", "1")], 100.0),
            ]),
            1000,
        );
        let o = t.observe(
            &body(&[
                (REQ, &[("b", "2"), ("a", "1")], 6.0),
                (REQ_CREATED, &[("a", "1"), ("b", "2")], 100.0),
            ]),
            2000,
        );
        assert_eq!(o.deltas.get(Metric::Requests), 1.0);
        assert_eq!((o.new_series, o.adopted_series, o.resets), (0, 0, 0));
        assert_eq!(
            t.export_state().series[0].labels,
            [
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "2".to_owned())
            ]
        );
    }

    #[test]
    fn a_series_that_vanishes_and_returns_is_counted_once() {
        let mut t = tracker();
        t.observe(&body(&[(REQ, GPT, 5.0), (REQ, CLAUDE, 2.0)]), 1000);
        let o = t.observe(&body(&[(REQ, GPT, 6.0)]), 2000);
        assert_eq!(o.vanished_series, 1);
        assert_eq!(o.deltas.get(Metric::Requests), 1.0);
        let o = t.observe(&body(&[(REQ, GPT, 6.0)]), 3000);
        assert_eq!(o.vanished_series, 0);
        let o = t.observe(&body(&[(REQ, GPT, 6.0), (REQ, CLAUDE, 3.0)]), 4000);
        assert_eq!(o.deltas.get(Metric::Requests), 1.0);
        assert_eq!((o.new_series, o.resets), (0, 0));
        let claude: Vec<&BreakdownDelta> = o
            .breakdown
            .iter()
            .filter(|b| b.dimension == Dimension::Model)
            .collect();
        assert_eq!(claude.len(), 1);
        assert_eq!((claude[0].key.as_str(), claude[0].delta), ("claude", 1.0));
    }

    #[test]
    fn new_series_without_created_count_whole() {
        let mut t = tracker();
        t.observe(&body(&[(REQ, GPT, 5.0)]), 1000);
        let o = t.observe(&body(&[(REQ, GPT, 5.0), (REQ, CLAUDE, 4.0)]), 2000);
        assert_eq!(o.new_series, 1);
        assert_eq!(o.deltas.get(Metric::Requests), 4.0);
    }

    #[test]
    fn created_decides_between_new_and_adopted() {
        let mut t = tracker();
        // Previous observation at 1_000_000 ms: the threshold is 999 s.
        t.observe(&body(&[(REQ, GPT, 5.0)]), 1_000_000);
        let fresh = &[("requested_model", "fresh")][..];
        let edge = &[("requested_model", "edge")][..];
        let old = &[("requested_model", "old")][..];
        let o = t.observe(
            &body(&[
                (REQ, fresh, 3.0),
                (REQ_CREATED, fresh, 1000.5),
                (REQ, edge, 4.0),
                (REQ_CREATED, edge, 999.0),
                (REQ, old, 50.0),
                (REQ_CREATED, old, 998.999),
            ]),
            1_060_000,
        );
        assert_eq!(o.new_series, 2);
        assert_eq!(o.adopted_series, 1);
        assert_eq!(o.deltas.get(Metric::Requests), 7.0);
        assert_eq!(o.live.get(Metric::Requests), 57.0);
        // The adopted series counts its growth from then on.
        let o = t.observe(
            &body(&[
                (REQ, GPT, 5.0),
                (REQ, old, 52.0),
                (REQ_CREATED, old, 998.999),
            ]),
            1_120_000,
        );
        assert_eq!(o.deltas.get(Metric::Requests), 2.0);
        assert_eq!(o.vanished_series, 2);
    }

    /// Pulse's clock at the previous scrape, for the target-clock tests.
    const PULSE_PREV: i64 = 1_800_000_000_000;
    const FIVE_MIN: i64 = 300_000;

    #[test]
    fn a_target_clock_behind_ours_still_counts_new_series() {
        let target_prev = PULSE_PREV - FIVE_MIN;
        // Created 30 s after the previous scrape, on the target's clock.
        let created = (target_prev + 30_000) as f64 / 1000.0;
        let scrape = [
            (REQ, GPT, 5.0),
            (REQ, CLAUDE, 3.0),
            (REQ_CREATED, CLAUDE, created),
        ];
        let mut t = tracker();
        t.observe_with_target_clock(&body(&[(REQ, GPT, 5.0)]), PULSE_PREV, Some(target_prev));
        assert_eq!(t.last_target_ms(), Some(target_prev));
        let o = t.observe_with_target_clock(
            &body(&scrape),
            PULSE_PREV + 60_000,
            Some(target_prev + 60_000),
        );
        assert_eq!((o.new_series, o.adopted_series), (1, 0));
        assert_eq!(o.deltas.get(Metric::Requests), 3.0);
        // Judged on pulse's clock, the same series looks 4.5 minutes old.
        let mut t = tracker();
        t.observe(&body(&[(REQ, GPT, 5.0)]), PULSE_PREV);
        let o = t.observe(&body(&scrape), PULSE_PREV + 60_000);
        assert_eq!((o.new_series, o.adopted_series), (0, 1));
        assert_eq!(o.deltas.get(Metric::Requests), 0.0);
    }

    #[test]
    fn a_target_clock_ahead_of_ours_still_adopts_another_workers_series() {
        let target_prev = PULSE_PREV + FIVE_MIN;
        // Worker B's series is 100 s old at the previous scrape (target's
        // clock), which on pulse's clock is 200 s in the future.
        let created = (target_prev - 100_000) as f64 / 1000.0;
        let worker_a = [(REQ, GPT, 5.0), (REQ_CREATED, GPT, 1000.0)];
        let worker_b = [(REQ, CLAUDE, 40.0), (REQ_CREATED, CLAUDE, created)];
        let mut t = tracker();
        t.observe_with_target_clock(&body(&worker_a), PULSE_PREV, Some(target_prev));
        let o = t.observe_with_target_clock(
            &body(&worker_b),
            PULSE_PREV + 60_000,
            Some(target_prev + 60_000),
        );
        assert_eq!(
            (o.new_series, o.adopted_series, o.vanished_series),
            (0, 1, 1)
        );
        assert_eq!(o.deltas, MetricValues::default());
        // Judged on pulse's clock, its 40 requests would be counted again.
        let mut t = tracker();
        t.observe(&body(&worker_a), PULSE_PREV);
        let o = t.observe(&body(&worker_b), PULSE_PREV + 60_000);
        assert_eq!((o.new_series, o.adopted_series), (1, 0));
        assert_eq!(o.deltas.get(Metric::Requests), 40.0);
    }

    #[test]
    fn the_target_clock_threshold_keeps_one_second_of_tolerance() {
        // The previous `Date` said 1_800_000_000 s: the threshold is 1 s before.
        let target_prev = 1_800_000_000_000;
        let fresh = &[("requested_model", "fresh")][..];
        let edge = &[("requested_model", "edge")][..];
        let old = &[("requested_model", "old")][..];
        let mut t = tracker();
        t.observe_with_target_clock(&body(&[]), PULSE_PREV - FIVE_MIN, Some(target_prev));
        let o = t.observe_with_target_clock(
            &body(&[
                (REQ, fresh, 3.0),
                (REQ_CREATED, fresh, 1_800_000_000.5),
                (REQ, edge, 4.0),
                (REQ_CREATED, edge, 1_799_999_999.0),
                (REQ, old, 50.0),
                (REQ_CREATED, old, 1_799_999_998.999),
            ]),
            PULSE_PREV,
            Some(target_prev + 60_000),
        );
        assert_eq!((o.new_series, o.adopted_series), (2, 1));
        assert_eq!(o.deltas.get(Metric::Requests), 7.0);
    }

    #[test]
    fn without_a_target_clock_on_both_sides_pulses_clock_decides() {
        // The target is 5 minutes behind; a series born 30 s after the
        // previous scrape is adopted whenever one side lacks the target clock.
        let target_prev = PULSE_PREV - FIVE_MIN;
        let created = (target_prev + 30_000) as f64 / 1000.0;
        let scrape = [(REQ, CLAUDE, 3.0), (REQ_CREATED, CLAUDE, created)];
        for (prev_target, now_target) in [
            (None, Some(target_prev + 60_000)),
            (Some(target_prev), None),
            (None, None),
        ] {
            let mut t = tracker();
            t.observe_with_target_clock(&body(&[]), PULSE_PREV, prev_target);
            let o = t.observe_with_target_clock(&body(&scrape), PULSE_PREV + 60_000, now_target);
            assert_eq!(o.adopted_series, 1, "{prev_target:?} {now_target:?}");
            assert_eq!(o.deltas.get(Metric::Requests), 0.0);
            assert_eq!(t.last_target_ms(), now_target);
        }
    }

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

    /// Two workers without a shared multiprocess dir answer in turn (fault 7).
    #[test]
    fn worker_bounce_gives_zero_then_exact_traffic() {
        let worker_a = |n: f64| {
            vec![
                (REQ, GPT, n),
                (REQ_CREATED, GPT, 100.0),
                (SPEND, GPT, n * 0.25),
                ("litellm_spend_metric_created", GPT, 100.0),
            ]
        };
        let worker_b = |n: f64| {
            vec![
                (REQ, GPT, n),
                (REQ_CREATED, GPT, 130.0),
                (SPEND, GPT, n * 0.25),
                ("litellm_spend_metric_created", GPT, 130.0),
            ]
        };
        let mut t = tracker();
        let o = t.observe(&body(&worker_a(150.0)), 600_000);
        assert!(o.baseline);
        let o = t.observe(&body(&worker_b(60.0)), 660_000);
        assert_eq!(o.adopted_series, 2);
        assert_eq!(o.deltas, MetricValues::default());
        for (i, scrape) in [worker_a(150.0), worker_b(60.0), worker_a(150.0)]
            .iter()
            .enumerate()
        {
            let o = t.observe(&body(scrape), 720_000 + 60_000 * i as i64);
            assert_eq!(o.deltas, MetricValues::default(), "scrape {i}");
            assert_eq!(o.vanished_series, 2);
            assert_eq!((o.resets, o.new_series, o.adopted_series), (0, 0, 0));
        }
        // 4 requests on B, then 2 on A.
        let o = t.observe(&body(&worker_b(64.0)), 900_000);
        assert_eq!(o.deltas.get(Metric::Requests), 4.0);
        assert_eq!(o.deltas.get(Metric::Cost), 1.0);
        let o = t.observe(&body(&worker_a(152.0)), 960_000);
        assert_eq!(o.deltas.get(Metric::Requests), 2.0);
        assert_eq!(o.deltas.get(Metric::Cost), 0.5);
        let o = t.observe(&body(&worker_b(64.0)), 1_020_000);
        assert_eq!(o.deltas, MetricValues::default());
    }

    #[test]
    fn gauges_have_live_values_but_no_deltas() {
        let mut t = tracker();
        let g = "litellm_in_flight_requests";
        t.observe(
            &body(&[(g, &[("pid", "1")], 2.0), (g, &[("pid", "2")], 3.0)]),
            1000,
        );
        let o = t.observe(
            &body(&[(g, &[("pid", "1")], 1.0), (g, &[("pid", "2")], 7.0)]),
            2000,
        );
        assert_eq!(o.live.get(Metric::InFlightRequests), 8.0);
        assert_eq!(o.deltas.get(Metric::InFlightRequests), 0.0);
        assert!(o.breakdown.is_empty());
        assert_eq!(t.series_len(), 0);
    }

    #[test]
    fn the_first_listed_name_wins() {
        let new_name = "litellm_total_tokens_metric_total";
        let old_name = "litellm_total_tokens_total";
        let mut t = tracker();
        t.observe(&body(&[(old_name, GPT, 100.0)]), 1000);
        let o = t.observe(&body(&[(old_name, GPT, 130.0)]), 2000);
        assert_eq!(o.deltas.get(Metric::Tokens), 30.0);
        let o = t.observe(
            &body(&[(old_name, GPT, 500.0), (new_name, GPT, 40.0)]),
            3000,
        );
        // Only the new name counts: a series first seen, without `_created`.
        assert_eq!(o.live.get(Metric::Tokens), 40.0);
        assert_eq!(o.deltas.get(Metric::Tokens), 40.0);
        assert_eq!(o.vanished_series, 1);
    }

    #[test]
    fn duplicate_lines_count_once() {
        let mut t = tracker();
        t.observe(&body(&[(REQ, GPT, 5.0)]), 1000);
        let o = t.observe(&body(&[(REQ, GPT, 7.0), (REQ, GPT, 7.0)]), 2000);
        assert_eq!(o.deltas.get(Metric::Requests), 2.0);
        assert_eq!(o.live.get(Metric::Requests), 7.0);
    }

    #[test]
    fn managed_batch_created_uses_created_created() {
        let catalog = Catalog::litellm()
            .with_override(Metric::Requests, "litellm_managed_batch_created_total")
            .unwrap();
        let mut t = Tracker::new(catalog);
        let name = "litellm_managed_batch_created_total";
        let created = "litellm_managed_batch_created_created";
        t.observe(&body(&[(name, GPT, 2.0), (created, GPT, 50.0)]), 100_000);
        let o = t.observe(&body(&[(name, GPT, 3.0), (created, GPT, 50.0)]), 200_000);
        assert_eq!(o.deltas.get(Metric::Requests), 1.0);
        assert_eq!(t.export_state().series[0].created, Some(50.0));
    }

    #[test]
    fn breakdown_is_sorted_and_sums_to_the_totals() {
        let team_a = &[
            ("requested_model", "gpt"),
            ("team_alias", "A"),
            ("api_key_alias", "k1"),
        ][..];
        let team_b = &[
            ("requested_model", "gpt"),
            ("team", "t-b"),
            ("hashed_api_key", "h2"),
        ][..];
        let none = &[("requested_model", "None")][..];
        let mut t = tracker();
        t.observe(
            &body(&[(REQ, team_a, 1.0), (REQ, team_b, 1.0), (SPEND, team_a, 1.0)]),
            1000,
        );
        let o = t.observe(
            &body(&[
                (REQ, team_a, 4.0),
                (REQ, team_b, 3.0),
                (SPEND, team_a, 1.5),
                (REQ, none, 2.0),
            ]),
            2000,
        );
        assert_eq!(o.deltas.get(Metric::Requests), 7.0);
        assert_eq!(o.deltas.get(Metric::Cost), 0.5);
        let got: Vec<(Dimension, &str, Metric, f64)> = o
            .breakdown
            .iter()
            .map(|b| (b.dimension, b.key.as_str(), b.metric, b.delta))
            .collect();
        use Dimension as D;
        use Metric as M;
        assert_eq!(
            got,
            [
                (D::Model, "", M::Requests, 2.0),
                (D::Model, "gpt", M::Requests, 5.0),
                (D::Model, "gpt", M::Cost, 0.5),
                (D::Key, "", M::Requests, 2.0),
                (D::Key, "h2", M::Requests, 2.0),
                (D::Key, "k1", M::Requests, 3.0),
                (D::Key, "k1", M::Cost, 0.5),
                (D::Team, "", M::Requests, 2.0),
                (D::Team, "A", M::Requests, 3.0),
                (D::Team, "A", M::Cost, 0.5),
                (D::Team, "t-b", M::Requests, 2.0),
                (D::User, "", M::Requests, 7.0),
                (D::User, "", M::Cost, 0.5),
                (D::EndUser, "", M::Requests, 7.0),
                (D::EndUser, "", M::Cost, 0.5),
                (D::Provider, "", M::Requests, 7.0),
                (D::Provider, "", M::Cost, 0.5),
            ]
        );
    }

    #[test]
    fn forgotten_series_are_new_again() {
        let mut t = tracker();
        t.observe(&body(&[(REQ, GPT, 5.0), (REQ, CLAUDE, 2.0)]), 1000);
        t.observe(&body(&[(REQ, GPT, 6.0)]), 2000);
        t.forget_older_than(1500);
        assert_eq!(t.series_len(), 1);
        let o = t.observe(&body(&[(REQ, GPT, 6.0), (REQ, CLAUDE, 3.0)]), 3000);
        assert_eq!(o.new_series, 1);
        assert_eq!(o.deltas.get(Metric::Requests), 3.0);
        // Forgetting a series seen last time does not make it count as vanished twice.
        t.forget_older_than(3001);
        assert_eq!(t.series_len(), 0);
        let o = t.observe(&body(&[]), 4000);
        assert_eq!(o.vanished_series, 0);
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

    #[test]
    fn keys_decode_back() {
        let mut key = Vec::new();
        let labels = [Label::new("z", "ünï \"q\"")];
        push_base(&mut key, "n", &labels, &[]);
        push_created(&mut key, Some(1.5));
        assert_eq!(
            decode_key(&key),
            Some((
                "n".to_owned(),
                vec![("z".to_owned(), "ünï \"q\"".to_owned())],
                Some(1.5)
            ))
        );
        assert_eq!(decode_key(&key[..key.len() - 1]), None);
    }
}
