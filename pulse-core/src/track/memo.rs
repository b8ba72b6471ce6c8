//! The line memo: what each remembered line of the previous body meant.
//!
//! Between two scrapes of a busy proxy most lines do not change: at 100,000
//! series with 10 % of them growing, nine lines in ten are byte-identical to
//! a line of the previous body, and in the same order (exporters write their
//! series in a stable order). Lexing such a line again, sorting and
//! encoding its labels and looking its series up by them gives the same
//! series as last time, so the tracker remembers, per line in body order
//! (with a seeded 128-bit hash of its bytes), what it resolved to: the
//! line's name and value, its series' identity hash and the `_created` line
//! it paired with. [`Tracker::parse_body`] walks the remembered lines beside
//! the body (a line matches the next remembered line or one a few further
//! on, so a new, changed or vanished line only costs a short look ahead; a
//! body in another order is simply lexed) and skips lexing the lines it
//! finds, and [`Tracker::observe_parsed`] counts them through the same
//! [`Tracker::counter_delta`] rules as any other line, without their labels.
//! The memo is read in order, never probed at random: on a body of 58 MB,
//! probing a hash map per line cost as much as lexing the line.
//!
//! Why it gives the same answer as [`Tracker::observe`] (a property test
//! holds it to that, `tests.rs`): a remembered value line is only taken as
//! the series it was when
//! - the `_created` line that comes first for its name and labels in this
//!   body is the very line it paired with last time (or there is none, and
//!   there was none), so its identity is the same;
//! - that identity's series is still stored under the hash it had, with no
//!   other series colliding on it (forgetting series empties the memo, so a
//!   stored series under that hash is the one it was).
//!
//! Otherwise the line is lexed again and counted the ordinary way. Only
//! lines that lexed without error, start with their name and carry no
//! timestamp are remembered, and only in a body of the same format
//! (OpenMetrics or text), so an unlexed line means exactly what it meant.
//! A line is forgotten when a body no longer has it.
//!
//! The hash is XXH3-128 under a seed the host draws at start-up
//! ([`Tracker::set_line_seed`]), so label values a client chooses cannot be
//! crafted to collide with another line.

use super::Tracker;
use super::observe::Scratch;
use crate::catalog::{Catalog, NameRole};
use crate::error::BodyError;
use crate::expo::{Exposition, Label};
use crate::parse::{self, LineKey, NOT_RECALLED};

/// What a remembered line meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Meaning {
    /// A gauge's value line: its value is all that counts.
    Gauge,
    /// A counter's value line that resolved to the series `id`.
    Value,
    /// A `_created` line indexed for its counter.
    Created,
}

/// One remembered line.
#[derive(Debug, Clone, Copy)]
pub(super) struct Memo {
    /// For [`Meaning::Value`]: the hash of the `_created` line it paired
    /// with, when `paired`.
    pub(super) created_line: u128,
    pub(super) value: f64,
    /// Hash of the counter's name and labels (see `identity.rs`).
    pub(super) base_hash: u64,
    /// For [`Meaning::Value`]: the series' identity hash.
    pub(super) id: u64,
    pub(super) name_len: u32,
    pub(super) meaning: Meaning,
    pub(super) paired: bool,
}

/// How many remembered lines past the expected one a line is looked for.
const LOOK_AHEAD: usize = 8;

/// Every remembered line of one tracker.
#[derive(Debug, Default, Clone)]
pub(super) struct LineMemo {
    /// The remembered lines of the previous body, in body order, by hash.
    pub(super) lines: Vec<(u128, Memo)>,
    /// The lines of the body observed last, by sample, until
    /// [`LineMemo::settle`] makes them the remembered `lines`: each the
    /// position in `lines` of the line it was recognised as ([`KEPT`]),
    /// its position in `fresh` ([`FRESH`]), or [`NOT_KEPT`]. A line
    /// recognised unchanged costs 4 bytes here rather than a copy of its
    /// memo (64), and the copy is made once the body is gone: at 100,000
    /// series a scrape no longer holds the old and the new memo (13 MB
    /// each) beside the body and its parse.
    pending: Option<Vec<u32>>,
    /// The memos of the body observed last that are not in `lines`, by hash.
    fresh: Vec<(u128, Memo)>,
    /// The format of the body the lines were remembered from.
    pub(super) openmetrics: Option<bool>,
    /// How many labels the next body's lexed lines are expected to have
    /// (as many as the previous body's had): what its parse reserves room
    /// for, its recalled lines carrying none.
    pub(super) lexed_labels: usize,
    pub(super) seed: u64,
}

/// A [`LineMemo::pending`] line that is not remembered.
const NOT_KEPT: u32 = u32::MAX;
/// Marks a [`LineMemo::pending`] position in `fresh`.
const FRESH: u32 = 1 << 31;
/// The positions below [`FRESH`] are in `lines`.
const KEPT: u32 = FRESH - 1;

/// A body parsed with its tracker's line memo ([`Tracker::parse_body`]),
/// ready for [`Tracker::observe_parsed`].
#[derive(Debug)]
pub struct ParsedBody<'a> {
    expo: Exposition<'a>,
    lines: Vec<LineKey>,
    body: &'a [u8],
    openmetrics: bool,
}

impl<'a> ParsedBody<'a> {
    /// The parsed body. Every sample has its name and value, and every
    /// rejected line is in [`Exposition::errors`]; but the samples of
    /// tracked metrics whose line the tracker remembered, and every value
    /// and `_created` sample of a tracked counter, carry **no labels**
    /// (names, values, gauges and untracked samples are whole: what
    /// [`crate::parse::sample_totals`] and LiteLLM's budget gauges need).
    pub fn exposition(&self) -> &Exposition<'a> {
        &self.expo
    }

    /// How many samples were recognised from the memo instead of lexed.
    pub fn remembered(&self) -> usize {
        self.lines
            .iter()
            .filter(|k| k.recalled != NOT_RECALLED)
            .count()
    }
}

/// The lines of the body being observed, for the tracker's passes.
pub(super) struct Lines<'b, 'a>(&'b ParsedBody<'a>);

impl<'a> Lines<'_, 'a> {
    /// The key of sample `i`'s line.
    pub(super) fn key(&self, i: u32) -> Option<&LineKey> {
        self.0.lines.get(i as usize)
    }

    /// The hash of sample `i`'s line and its position in the memo, when
    /// it was recognised, not lexed.
    pub(super) fn recalled(&self, i: u32) -> Option<(u128, u32)> {
        self.key(i)
            .filter(|k| k.recalled != NOT_RECALLED)
            .map(|k| (k.hash, k.recalled))
    }

    /// True when sample `i`'s line was lexed without keeping its labels.
    pub(super) fn deferred(&self, i: u32) -> bool {
        self.key(i).is_some_and(|k| k.deferred)
    }

    /// Lexes sample `i`'s line again, for its labels.
    pub(super) fn relex(&self, i: u32, labels: &mut Vec<Label<'a>>) -> bool {
        let Some(k) = self.key(i) else { return false };
        let Some(raw) = self.0.body.get(k.start as usize..k.end as usize) else {
            return false;
        };
        // The line was UTF-8 when it was parsed.
        let Ok(line) = std::str::from_utf8(raw) else {
            return false;
        };
        parse::relex(line, self.0.openmetrics, labels)
    }
}

/// The labels of sample `i`: from the exposition, or lexed again into
/// `buf` when its line was recognised.
pub(super) fn labels_of<'x, 'a>(
    expo: &'x Exposition<'a>,
    lines: Option<&Lines<'_, 'a>>,
    i: u32,
    buf: &'x mut Vec<Label<'a>>,
) -> Option<&'x [Label<'a>]> {
    match lines {
        Some(l) if l.recalled(i).is_some() || l.deferred(i) => {
            buf.clear();
            l.relex(i, buf).then_some(buf.as_slice())
        }
        _ => Some(expo.labels_of(expo.samples.get(i as usize)?)),
    }
}

impl Tracker {
    /// Seeds the hash lines are remembered by (the host passes a random
    /// number drawn at start-up). Forgets every remembered line.
    pub fn set_line_seed(&mut self, seed: u64) {
        self.scratch.memo = LineMemo::seeded(seed);
    }

    /// Parses `body` like [`crate::parse::parse_bytes`], except that lines
    /// byte-identical to a line this tracker remembered from the previous
    /// body are not lexed (see the module docs). Observe the result with
    /// [`Tracker::observe_parsed`].
    pub fn parse_body<'a>(&mut self, body: &'a [u8]) -> Result<ParsedBody<'a>, BodyError> {
        self.scratch.memo.settle();
        self.scratch.memo.parse(body, &self.catalog)
    }

    /// Remembers the lines of the body observed last, for the next
    /// [`Tracker::parse_body`]. Call it once that body is dropped:
    /// [`Tracker::observe_parsed`] leaves the new memo as references into
    /// the old one, and settling it copies them (13 MB at 100,000 series),
    /// which the next `parse_body` does otherwise, beside the next body.
    pub fn settle_memo(&mut self) {
        self.scratch.memo.settle();
    }

    /// [`Tracker::observe_with_target_clock`] of a body parsed by
    /// [`Tracker::parse_body`]: the same observation, and the lines of this
    /// body are remembered for the next one.
    pub fn observe_parsed(
        &mut self,
        body: &ParsedBody<'_>,
        at_ms: i64,
        target_now_ms: Option<i64>,
    ) -> super::Observation {
        let mut sc = std::mem::take(&mut self.scratch);
        // Lines of a body observed before this one (parsed elsewhere) are
        // remembered first; `body` was parsed against them or checks its
        // recalled lines' hashes (see `Scratch::recall`).
        sc.memo.settle();
        if sc.memo.openmetrics != Some(body.openmetrics) {
            sc.memo.lines.clear();
            sc.memo.openmetrics = Some(body.openmetrics);
        }
        let lines = Lines(body);
        // Room for the lines remembered anew at once, not grown by
        // doubling: every line of a body nothing of which was recognised (a
        // first body), else the lines the memo had less those recognised
        // (the changed ones). Not every line that was not recognised: most
        // of a LiteLLM body are histogram buckets, which it never keeps.
        let recognised = body.remembered();
        let expected = if recognised == 0 {
            body.lines.len()
        } else {
            sc.memo.lines.len().saturating_sub(recognised)
        };
        sc.memo.fresh = Vec::with_capacity(expected.min(body.lines.len() - recognised));
        sc.memo.pending = Some(vec![NOT_KEPT; body.lines.len()]);
        let obs = self.observe_with(&body.expo, at_ms, target_now_ms, &mut sc, Some(&lines));
        let memo = &mut sc.memo;
        // After a body lexed whole (a first scrape), assume an eighth of
        // its labels' lines change by the next one.
        let labels = body.expo.labels.len();
        memo.lexed_labels = if body.remembered() > 0 {
            labels
        } else {
            labels / 8
        };
        self.scratch = sc;
        obs
    }
}

impl LineMemo {
    /// A memo of nothing, hashing lines under `seed`.
    pub(super) fn seeded(seed: u64) -> LineMemo {
        LineMemo {
            seed,
            ..LineMemo::default()
        }
    }

    /// Makes the lines of the body observed last the remembered lines (the
    /// previous ones are freed, not kept as room for the next body: 13 MB
    /// at 200,000 lines, for the whole time between two scrapes). Nothing
    /// to do when that is done already.
    pub(super) fn settle(&mut self) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let fresh = std::mem::take(&mut self.fresh);
        let pick = |&p: &u32| match p {
            NOT_KEPT => None,
            p if p & FRESH != 0 => fresh.get((p & KEPT) as usize),
            p => self.lines.get(p as usize),
        };
        let mut next = Vec::with_capacity(pending.iter().filter_map(pick).count());
        next.extend(pending.iter().filter_map(pick).copied());
        self.lines = next;
    }

    /// Whether nothing waits for [`LineMemo::settle`], and how many lines
    /// are remembered.
    #[cfg(test)]
    pub(super) fn settled_lines(&self) -> Option<usize> {
        self.pending.is_none().then_some(self.lines.len())
    }

    /// Forgets every remembered line, settled or not.
    pub(super) fn forget(&mut self) {
        self.lines.clear();
        self.pending = None;
        self.fresh.clear();
    }

    /// [`Tracker::parse_body`] with this memo and the tracker's `catalog`.
    pub(super) fn parse<'a>(
        &self,
        body: &'a [u8],
        catalog: &Catalog,
    ) -> Result<ParsedBody<'a>, BodyError> {
        let openmetrics = parse::is_openmetrics(body);
        let usable = self.openmetrics == Some(openmetrics);
        let remembered: &[(u128, Memo)] = if usable { &self.lines } else { &[] };
        // The remembered line expected next.
        let mut cursor = 0;
        // With lines to recall, most of the body is not lexed: reserve for
        // the labels expected (and a margin), not for every line's (83 MB
        // on a 58 MB body); a body that changed more grows the vector.
        // Without, only the lines of gauges, histograms and untracked
        // samples keep labels (see `defer` below): an eighth of the room
        // every line's labels would take, grown as needed.
        let labels = if remembered.is_empty() {
            body.len() / parse::BODY_BYTES_PER_LABEL / 8 + 1024
        } else {
            self.lexed_labels + self.lexed_labels / 4 + 1024
        };
        let recall = |hash| {
            let ahead = remembered.get(cursor..)?;
            let k = ahead
                .iter()
                .take(LOOK_AHEAD)
                .position(|(h, _)| *h == hash)?;
            let at = cursor + k;
            cursor = at + 1;
            let m = &remembered[at].1;
            Some((u32::try_from(at).ok()?, m.name_len, m.value))
        };
        // A counter's value and `_created` lines keep no labels: the tracker
        // lexes such a line again when it needs them, and a first scrape of
        // 100,000 series does not hold 2 million labels (83 MB) at once.
        let mut last: Option<(&'a str, bool)> = None;
        let defer = |name: &'a str| match last {
            Some((n, d)) if n == name => d,
            _ => {
                let d = labels_deferred(catalog.role_of(name));
                last = Some((name, d));
                d
            }
        };
        let (expo, lines) = parse::parse_memo(body, self.seed, Some(labels), recall, defer)?;
        Ok(ParsedBody {
            expo,
            lines,
            body,
            openmetrics,
        })
    }
}

/// True for the names whose lines a memo parse keeps no labels of: the
/// value and `_created` samples of tracked counters, which only the tracker
/// reads (through [`labels_of`]). Gauges keep theirs (the host reads
/// LiteLLM's budget gauges from the parse), and so do histograms.
fn labels_deferred(role: Option<NameRole>) -> bool {
    match role {
        Some(NameRole::Value { metric, .. }) => !metric.is_gauge(),
        Some(NameRole::Created { .. }) => true,
        _ => false,
    }
}

impl Scratch {
    /// Remembers sample `i`'s line (when it can be) as `memo` for the next
    /// body.
    pub(super) fn remember(&mut self, lines: Option<&Lines<'_, '_>>, i: u32, memo: Memo) {
        let line_memo = &mut self.memo;
        if let Some(k) = lines.and_then(|l| l.key(i))
            && k.keyed
            && let Some(slot) = (line_memo.pending.as_mut()).and_then(|p| p.get_mut(i as usize))
            && let Ok(at) = u32::try_from(line_memo.fresh.len())
            && at < FRESH
        {
            *slot = FRESH | at;
            line_memo.fresh.push((k.hash, memo));
        }
    }

    /// The remembered meaning of sample `i`'s line, when it was recognised
    /// and is still remembered as `meaning`; it is remembered for the next
    /// body too.
    pub(super) fn recall(
        &mut self,
        lines: Option<&Lines<'_, '_>>,
        i: u32,
        meaning: Meaning,
    ) -> Option<Memo> {
        let (hash, at) = lines?.recalled(i)?;
        let (h, m) = *self.memo.lines.get(at as usize)?;
        if h != hash || m.meaning != meaning {
            return None;
        }
        if let Some(slot) = (self.memo.pending.as_mut()).and_then(|p| p.get_mut(i as usize))
            && at < FRESH
        {
            *slot = at;
        }
        Some(m)
    }
}
