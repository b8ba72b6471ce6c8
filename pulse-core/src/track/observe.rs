//! One observation, in three passes over the body:
//! [`Tracker::find_tracked`] picks the tracked samples and, per metric, the
//! name that counts; [`index_created`] indexes the `_created` values of those
//! names; [`Tracker::count_values`] turns the value samples into live values,
//! deltas and the breakdown, and the histogram and health counter samples
//! into [`LatencyDeltas`].

use std::collections::hash_map::Entry as Slot;

use super::identity::{IdMap, encode_base, encode_created};
use super::latency::SeriesCounts;
#[cfg(feature = "memo")]
use super::memo::{LineMemo, Meaning, Memo};
use super::memo::{Lines, labels_of};
use super::observation::sort_breakdown;
#[cfg(feature = "latency")]
use super::observe_latency::LatencySlot;
use super::{BreakdownDelta, Entry, Kind, LatencyDeltas, Observation, Tracker};
use crate::catalog::{Catalog, Dimension, Metric, MetricValues, NameRole};
use crate::expo::{Exposition, Label};
use crate::fastmap::FastMap;
use crate::parse::same_name;

/// Tolerance for `_created` against the previous observation time: LiteLLM's
/// clock and the scraper's may differ slightly, and an HTTP `Date` is
/// truncated to whole seconds.
const CREATED_TOLERANCE_MS: i64 = 1000;

/// Relative fall below which a lower value is taken as float noise, not a
/// reset: counting a whole counter again for a 1-ulp difference would be far
/// worse than ignoring a restart that landed within 10^-12 of the old value.
const FALL_TOLERANCE: f64 = 1e-12;

/// Per metric, the rank of the best-ranked of its sample names present in
/// the body (`u8::MAX` when none is): only that name counts.
type BestRanks = [u8; Metric::COUNT];

/// Interned key per dimension of one series.
pub(super) type DimKeys = [u32; Dimension::COUNT];

/// A tracked sample found in a body.
#[derive(Clone, Copy)]
pub(super) struct Hit {
    pub(super) sample: u32,
    pub(super) role: NameRole,
}

/// Buffers reused from one observation to the next.
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) hits: Vec<Hit>,
    pub(super) order: Vec<u32>,
    pub(super) key: Vec<u8>,
    /// Encoded identities of the `_created` samples, back to back.
    arena: Vec<u8>,
    /// Counter identity hash → `arena` range (or [`RECALLED`] when it is
    /// checked against its line's labels instead), `_created` value and
    /// sample index.
    created: IdMap<(u32, u32, f64, u32)>,
    created_overflow: Vec<(u64, u32, u32, f64, u32)>,
    breakdown: FastMap<(Dimension, u32, Metric), f64>,
    /// Identity of a histogram or health series without `le`, to find its `_created`.
    #[cfg(feature = "latency")]
    pub(super) created_key: Vec<u8>,
    #[cfg(feature = "latency")]
    pub(super) latency: FastMap<(LatencySlot, Dimension, u32), f64>,
    /// Every histogram bucket bound (`le` bits) in the body.
    #[cfg(feature = "latency")]
    pub(super) les: FastMap<(crate::catalog::Histogram, u64), ()>,
    /// The lines of the previous body and what they meant.
    #[cfg(feature = "memo")]
    pub(super) memo: LineMemo,
}

/// The `arena` range of a `_created` sample whose identity is encoded only
/// when a lookup needs it (a counter's, with the feature `memo`).
#[cfg(feature = "memo")]
const RECALLED: u32 = u32::MAX;

/// What a lookup of `_created` needs besides the scratch buffers (only a
/// recognised line's, with the feature `memo`).
#[cfg_attr(not(feature = "memo"), allow(dead_code))]
pub(super) struct CreatedCtx<'x, 'a> {
    pub(super) catalog: &'x Catalog,
    pub(super) expo: &'x Exposition<'a>,
    pub(super) lines: Option<&'x Lines<'x, 'a>>,
}

/// One observation in progress: what it judges series against, fixed
/// before its first sample, and how many series it has seen so far.
pub(super) struct Round {
    at_ms: i64,
    target_now_ms: Option<i64>,
    /// The previous observation's time; `None` makes this one the baseline.
    prev_at: Option<i64>,
    /// This observation is the baseline of the [`Kind::Latency`] series.
    latency_baseline: bool,
    /// This is a fleet member's first observation (rule 7).
    joining: bool,
    /// A `_created` (in ms) before this predates the previous observation (rule 6).
    created_threshold_ms: i64,
    /// The previous observation's number.
    prev_gen: u64,
    /// This observation's number.
    generation: u64,
    /// Known series the previous observation saw and this one sees again, per [`Kind`].
    still_seen: [u32; 2],
    /// Series this observation sees, per [`Kind`].
    seen_now: [u32; 2],
    /// Resets, new and adopted series so far, per [`Kind`].
    counts: [SeriesCounts; 2],
}

/// The identity of one counter sample, see [`super::identity`].
pub(super) struct Identity<'k> {
    pub(super) kind: Kind,
    pub(super) key: &'k [u8],
    pub(super) id: u64,
    /// Hash of name and labels without `_created`.
    pub(super) base_hash: u64,
    pub(super) created: Option<f64>,
}

impl Tracker {
    /// [`Tracker::observe_with_target_clock`], with the scratch buffers taken
    /// out of the tracker so the passes can borrow both.
    pub(super) fn observe_with<'a>(
        &mut self,
        expo: &Exposition<'a>,
        at_ms: i64,
        target_now_ms: Option<i64>,
        sc: &mut Scratch,
        lines: Option<&Lines<'_, 'a>>,
    ) -> Observation {
        let mut round = self.start_round(at_ms, target_now_ms);
        let best = self.find_tracked(expo, &mut sc.hits);
        index_created(&self.catalog, expo, lines, &best, sc);
        let mut obs = Observation {
            at_ms,
            baseline: round.prev_at.is_none(),
            resets: 0,
            new_series: 0,
            vanished_series: 0,
            adopted_series: 0,
            live: MetricValues::default(),
            deltas: MetricValues::default(),
            breakdown: Vec::new(),
            latency: LatencyDeltas::default(),
        };
        self.count_values(expo, lines, &best, &mut round, sc, &mut obs);
        self.end_round(&mut round, &mut obs);
        obs.breakdown = self.breakdown(&sc.breakdown);
        #[cfg(feature = "latency")]
        self.latency_deltas(sc, &mut obs.latency);
        obs
    }

    /// Fixes what this observation judges series against (rule 6's threshold).
    fn start_round(&self, at_ms: i64, target_now_ms: Option<i64>) -> Round {
        let prev_at = self.last_at_ms;
        // The time `_created` is compared with: the target's clock when both
        // observations have it, else ours (rule 6).
        let created_threshold_ms = match (self.last_target_ms, target_now_ms) {
            (Some(prev_target), Some(_)) => prev_target,
            _ => prev_at.unwrap_or(i64::MIN),
        }
        .saturating_sub(CREATED_TOLERANCE_MS);
        Round {
            at_ms,
            target_now_ms,
            prev_at,
            latency_baseline: self.latency_baseline,
            joining: self.joining,
            created_threshold_ms,
            prev_gen: self.observations,
            generation: self.observations + 1,
            still_seen: [0; 2],
            seen_now: [0; 2],
            counts: [SeriesCounts::default(); 2],
        }
    }

    /// Pass 1: fills `hits` with the samples the catalog tracks and returns,
    /// per metric, the best-ranked name present.
    fn find_tracked(&self, expo: &Exposition<'_>, hits: &mut Vec<Hit>) -> BestRanks {
        hits.clear();
        let mut best = [u8::MAX; Metric::COUNT];
        // Samples of one family come together, and a counter's value and
        // `_created` lines often alternate (Python's client writes them in
        // pairs): the two latest names are looked up once per run.
        let mut recent: [Option<(&str, Option<NameRole>)>; 2] = [None, None];
        for (i, s) in expo.samples.iter().enumerate() {
            let role = match recent {
                [Some((name, role)), _] if same_name(name, s.name) => role,
                [_, Some((name, role))] if same_name(name, s.name) => {
                    recent.swap(0, 1);
                    role
                }
                _ => {
                    let role = self.catalog.role_of(s.name);
                    recent = [Some((s.name, role)), recent[0]];
                    role
                }
            };
            let Some(role) = role else { continue };
            let Ok(sample) = u32::try_from(i) else { break };
            if let NameRole::Value { metric, rank } = role {
                let b = &mut best[metric.index()];
                *b = (*b).min(rank);
            }
            hits.push(Hit { sample, role });
        }
        best
    }

    /// Pass 3: adds every value sample of a chosen name to `obs`: gauges to
    /// the live values, counters through [`Tracker::counter_delta`] to the
    /// live values, deltas and breakdown sums.
    fn count_values<'a>(
        &mut self,
        expo: &Exposition<'a>,
        lines: Option<&Lines<'_, 'a>>,
        best: &BestRanks,
        round: &mut Round,
        sc: &mut Scratch,
        obs: &mut Observation,
    ) {
        sc.breakdown.clear();
        #[cfg(feature = "latency")]
        self.count_latency_values(expo, lines, round, sc);
        let mut relexed: Vec<Label<'a>> = Vec::new();
        for i in 0..sc.hits.len() {
            let hit = sc.hits[i];
            let NameRole::Value { metric, rank } = hit.role else {
                continue;
            };
            if rank != best[metric.index()] {
                continue;
            }
            let Some(s) = expo.samples.get(hit.sample as usize) else {
                continue;
            };
            if metric.is_gauge() {
                if s.value.is_finite() {
                    obs.live.add(metric, s.value);
                }
                #[cfg(feature = "memo")]
                if sc.recall(lines, hit.sample, Meaning::Gauge).is_none() {
                    sc.remember(lines, hit.sample, memo_of(s.name, s.value, Meaning::Gauge));
                }
                continue;
            }
            #[cfg(feature = "memo")]
            let counted = match self.recall_counter(expo, lines, hit.sample, round, sc) {
                Some(counted) => counted,
                None => self.count_counter(expo, lines, hit.sample, round, sc, &mut relexed),
            };
            #[cfg(not(feature = "memo"))]
            let counted = self.count_counter(expo, lines, hit.sample, round, sc, &mut relexed);
            let Some((delta, dims)) = counted else {
                continue;
            };
            obs.live.add(metric, s.value);
            if delta != 0.0 {
                obs.deltas.add(metric, delta);
                for d in Dimension::ALL {
                    *sc.breakdown
                        .entry((d, dims[d.index()], metric))
                        .or_insert(0.0) += delta;
                }
            }
        }
    }

    /// One counter value sample, from its labels: its identity, its
    /// `_created`, and [`Tracker::counter_delta`]. Remembers its line.
    fn count_counter<'a>(
        &mut self,
        expo: &Exposition<'a>,
        lines: Option<&Lines<'_, 'a>>,
        sample: u32,
        round: &mut Round,
        sc: &mut Scratch,
        relexed: &mut Vec<Label<'a>>,
    ) -> Option<(f64, DimKeys)> {
        let s = expo.samples.get(sample as usize)?;
        let labels = labels_of(expo, lines, sample, relexed)?;
        sc.key.clear();
        let base_hash = encode_base(&mut sc.key, &mut sc.order, s.name, labels);
        let ctx = CreatedCtx {
            catalog: &self.catalog,
            expo,
            lines,
        };
        let created = lookup_created(sc, &ctx, &sc.key, base_hash);
        let id = encode_created(&mut sc.key, base_hash, created.map(|c| c.0));
        let identity = Identity {
            kind: Kind::Metric,
            key: &sc.key,
            id,
            base_hash,
            created: created.map(|c| c.0),
        };
        let counted = self.counter_delta(round, &identity, labels, s.value);
        #[cfg(feature = "memo")]
        if let Some(l) = lines
            && self.find_mut(id, &sc.key, created.map(|c| c.0)).is_some()
        {
            let paired = created.and_then(|c| l.key(c.1)).filter(|k| k.keyed);
            let memo = Memo {
                created_line: paired.map_or(0, |k| k.hash),
                base_hash,
                id,
                paired: paired.is_some(),
                ..memo_of(s.name, s.value, Meaning::Value)
            };
            // An unkeyed `_created` line cannot be checked next time.
            if created.is_none() || paired.is_some() {
                sc.remember(lines, sample, memo);
            }
        }
        counted
    }

    /// A counter value sample whose line was recognised, counted as the
    /// series it was last time when that still holds (see `memo.rs`);
    /// `None` when it must be counted from its labels.
    #[cfg(feature = "memo")]
    fn recall_counter(
        &mut self,
        expo: &Exposition<'_>,
        lines: Option<&Lines<'_, '_>>,
        sample: u32,
        round: &mut Round,
        sc: &mut Scratch,
    ) -> Option<Option<(f64, DimKeys)>> {
        let l = lines?;
        let s = expo.samples.get(sample as usize)?;
        let m = sc.recall(lines, sample, Meaning::Value)?;
        let first = sc.created.get(&m.base_hash).map(|c| c.3);
        let same_created = match first {
            None => !m.paired,
            Some(c) => {
                m.paired
                    && l.key(c)
                        .is_some_and(|k| k.keyed && k.hash == m.created_line)
            }
        };
        if !same_created || self.overflow.iter().any(|(h, _)| *h == m.id) {
            return None;
        }
        let e = self.series.get_mut(&m.id)?;
        if e.base_hash != m.base_hash || e.kind != Kind::Metric {
            return None;
        }
        Some(seen_again(e, round, m.id, s.value))
    }

    /// The increase of one counter sample and its dimension keys, or `None`
    /// when it does not count: a repeat of a series in the same body, or an
    /// unusable value (NaN, infinite or negative; rule 3).
    pub(super) fn counter_delta(
        &mut self,
        round: &mut Round,
        identity: &Identity<'_>,
        labels: &[Label<'_>],
        value: f64,
    ) -> Option<(f64, DimKeys)> {
        if let Some(e) = self.find_mut(identity.id, identity.key, identity.created) {
            return seen_again(e, round, identity.id, value);
        }
        let k = identity.kind.index();
        if !(value.is_finite() && value >= 0.0) {
            return None;
        }
        let key = self.shared.key(identity.key, identity.created)?;
        let delta = self.first_sighting_delta(round, identity, value);
        let dims = self.dims_of(labels);
        round.seen_now[k] += 1;
        self.insert(
            identity.id,
            Entry {
                kind: identity.kind,
                key,
                value,
                last_seen_ms: round.at_ms,
                seen_gen: round.generation,
                dims,
                base_hash: identity.base_hash,
                dirty: true,
                taken_seen_ms: round.at_ms,
            },
        );
        Some((delta, dims))
    }

    /// Rules 2, 4 and 6: what a series seen for the first time contributes.
    fn first_sighting_delta(&self, round: &mut Round, identity: &Identity<'_>, value: f64) -> f64 {
        let counts = &mut round.counts[identity.kind.index()];
        let baseline = identity.kind == Kind::Latency && round.latency_baseline;
        match (round.prev_at, identity.created) {
            (None, _) => {
                counts.new_series += 1;
                0.0
            }
            _ if baseline => {
                counts.new_series += 1;
                0.0
            }
            (Some(_), None) if round.joining => {
                // Rule 7: a joining member's series without `_created`.
                counts.new_series += 1;
                0.0
            }
            (Some(_), Some(c)) if c * 1000.0 < round.created_threshold_ms as f64 => {
                counts.adopted_series += 1;
                0.0
            }
            (Some(_), _) => {
                // A known name and labels under a new `_created`: a restart.
                if self
                    .base_counts
                    .get(&identity.base_hash)
                    .is_some_and(|n| *n > 0)
                {
                    counts.resets += 1;
                } else {
                    counts.new_series += 1;
                }
                value
            }
        }
    }

    /// Counts the vanished series (rule 5) and makes this observation the
    /// previous one.
    fn end_round(&mut self, round: &mut Round, obs: &mut Observation) {
        for k in [Kind::Metric, Kind::Latency] {
            let i = k.index();
            round.counts[i].vanished_series = self.prev_seen[i].saturating_sub(round.still_seen[i]);
        }
        let [metric, latency] = round.counts;
        obs.resets = metric.resets;
        obs.new_series = metric.new_series;
        obs.vanished_series = metric.vanished_series;
        obs.adopted_series = metric.adopted_series;
        obs.latency.series = latency;
        self.prev_seen = round.seen_now;
        self.latency_baseline = false;
        self.joining = false;
        self.observations = round.generation;
        self.last_at_ms = Some(round.at_ms);
        self.last_target_ms = round.target_now_ms;
    }

    /// The breakdown sums with their keys spelled out, in the documented order.
    fn breakdown(&self, sums: &FastMap<(Dimension, u32, Metric), f64>) -> Vec<BreakdownDelta> {
        let mut breakdown: Vec<BreakdownDelta> = sums
            .iter()
            .map(|(&(dimension, key, metric), &delta)| BreakdownDelta {
                dimension,
                key: self.keys.get(key).to_owned(),
                metric,
                delta,
            })
            .collect();
        sort_breakdown(&mut breakdown);
        breakdown
    }
}

/// A stored series `e` (identity hash `id`) seen again with `value`: its
/// increase and dimension keys, or `None` when it does not count (see
/// [`Tracker::counter_delta`]).
fn seen_again(e: &mut Entry, round: &mut Round, id: u64, value: f64) -> Option<(f64, DimKeys)> {
    if e.seen_gen == round.generation {
        // The same series twice in one body: count it once.
        return None;
    }
    let k = e.kind.index();
    if e.seen_gen == round.prev_gen {
        round.still_seen[k] += 1;
    }
    round.seen_now[k] += 1;
    e.seen_gen = round.generation;
    e.last_seen_ms = round.at_ms;
    if !e.dirty && super::changes::seen_is_due(id, e.taken_seen_ms, round.at_ms) {
        e.dirty = true;
    }
    if !(value.is_finite() && value >= 0.0) {
        return None;
    }
    let delta = growth(e.value, value, &mut round.counts[k].resets);
    if e.value.to_bits() != value.to_bits() {
        e.dirty = true;
    }
    e.value = value;
    Some((delta, e.dims))
}

/// A memo of a line named `name` (which it starts with) holding `value`.
#[cfg(feature = "memo")]
fn memo_of(name: &str, value: f64, meaning: Meaning) -> Memo {
    Memo {
        created_line: 0,
        value,
        base_hash: 0,
        id: 0,
        name_len: u32::try_from(name.len()).unwrap_or(u32::MAX),
        meaning,
        paired: false,
    }
}

/// Rule 3: the increase of a known series from its stored value to `value`.
/// A fall is a reset, counted in `resets`, and contributes the new value.
fn growth(stored: f64, value: f64, resets: &mut u32) -> f64 {
    if value >= stored {
        value - stored
    } else if value >= stored - stored * FALL_TOLERANCE {
        // Rounding noise of a stored value, not a restart.
        0.0
    } else {
        *resets += 1;
        value
    }
}

/// Pass 2: indexes the `_created` values of the chosen names by the identity
/// of their counter (its name and labels), for [`lookup_created`]; the
/// lines it indexes are remembered for the next body.
fn index_created<'a>(
    catalog: &Catalog,
    expo: &Exposition<'a>,
    lines: Option<&Lines<'_, 'a>>,
    best: &BestRanks,
    sc: &mut Scratch,
) {
    sc.arena.clear();
    sc.created.clear();
    sc.created_overflow.clear();
    let mut relexed: Vec<Label<'a>> = Vec::new();
    for i in 0..sc.hits.len() {
        let hit = sc.hits[i];
        let Some(value_name) = created_value_name(catalog, hit.role, best) else {
            continue;
        };
        let Some(s) = expo.samples.get(hit.sample as usize) else {
            continue;
        };
        if !s.value.is_finite() {
            continue;
        }
        #[cfg(feature = "memo")]
        let metric_created = matches!(hit.role, NameRole::Created { .. });
        #[cfg(feature = "memo")]
        if metric_created && let Some(m) = sc.recall(lines, hit.sample, Meaning::Created) {
            insert_created(sc, m.base_hash, RECALLED, RECALLED, s.value, hit.sample);
            continue;
        }
        let Some(labels) = labels_of(expo, lines, hit.sample, &mut relexed) else {
            continue;
        };
        #[cfg(feature = "memo")]
        if metric_created {
            // Checked against its labels on a hit, like a recognised line's
            // (`recalled_key_is`), instead of keeping its identity in the
            // arena: every counter's `_created` in a first scrape of 100,000
            // series would hold 40 MB there, beside the tracker's own copies.
            sc.key.clear();
            let h = encode_base(&mut sc.key, &mut sc.order, value_name, labels);
            insert_created(sc, h, RECALLED, RECALLED, s.value, hit.sample);
            let memo = Memo {
                base_hash: h,
                ..memo_of(s.name, s.value, Meaning::Created)
            };
            sc.remember(lines, hit.sample, memo);
            continue;
        }
        let start = sc.arena.len();
        let h = encode_base(&mut sc.arena, &mut sc.order, value_name, labels);
        let end = sc.arena.len();
        let (Ok(start32), Ok(end32)) = (u32::try_from(start), u32::try_from(end)) else {
            break;
        };
        insert_created(sc, h, start32, end32, s.value, hit.sample);
    }
}

/// The name of the counter whose `_created` a sample with `role` is, when
/// it is one that counts.
fn created_value_name<'c>(
    catalog: &'c Catalog,
    role: NameRole,
    best: &BestRanks,
) -> Option<&'c str> {
    match role {
        NameRole::Created { metric, rank } if rank == best[metric.index()] => catalog
            .sample_names(metric)
            .get(rank as usize)
            .map(|n| n.as_str()),
        NameRole::HistogramCreated { histogram } => Some(histogram.family()),
        NameRole::HealthCreated { counter } => Some(counter.family()),
        _ => None,
    }
}

/// Adds one `_created` sample to the index; the first for a hash wins the
/// map's slot, later ones go to the overflow list in body order.
fn insert_created(sc: &mut Scratch, h: u64, start: u32, end: u32, value: f64, sample: u32) {
    match sc.created.entry(h) {
        Slot::Vacant(slot) => {
            slot.insert((start, end, value, sample));
        }
        Slot::Occupied(_) => sc.created_overflow.push((h, start, end, value, sample)),
    }
}

/// The `_created` value indexed for the counter identity `key` (name and
/// labels, whose hash is `base_hash`), with the index of its sample.
pub(super) fn lookup_created(
    sc: &Scratch,
    ctx: &CreatedCtx<'_, '_>,
    key: &[u8],
    base_hash: u64,
) -> Option<(f64, u32)> {
    let matches = |start: u32, end: u32, sample: u32| {
        #[cfg(feature = "memo")]
        if start == RECALLED {
            return recalled_key_is(ctx, sample, key);
        }
        #[cfg(not(feature = "memo"))]
        let _ = (ctx, sample);
        sc.arena.get(start as usize..end as usize) == Some(key)
    };
    match sc.created.get(&base_hash) {
        Some(&(start, end, value, sample)) if matches(start, end, sample) => Some((value, sample)),
        Some(_) => sc
            .created_overflow
            .iter()
            .find(|&&(h, start, end, _, sample)| h == base_hash && matches(start, end, sample))
            .map(|&(_, _, _, value, sample)| (value, sample)),
        None => None,
    }
}

#[cfg(feature = "memo")]
/// True when the counter's `_created` sample `sample` belongs to the counter
/// identity `key`: its line is lexed again for that when it was recognised,
/// not lexed.
fn recalled_key_is(ctx: &CreatedCtx<'_, '_>, sample: u32, key: &[u8]) -> bool {
    let Some(s) = ctx.expo.samples.get(sample as usize) else {
        return false;
    };
    let Some(role) = ctx.catalog.role_of(s.name) else {
        return false;
    };
    let value_name = match role {
        NameRole::Created { metric, rank } => ctx.catalog.sample_names(metric).get(rank as usize),
        _ => None,
    };
    let Some(value_name) = value_name else {
        return false;
    };
    let mut labels = Vec::new();
    let Some(labels) = labels_of(ctx.expo, ctx.lines, sample, &mut labels) else {
        return false;
    };
    let mut own = Vec::with_capacity(key.len());
    encode_base(&mut own, &mut Vec::new(), value_name, labels);
    own == key
}
