//! Prometheus text format 0.0.4 and OpenMetrics 1.0 text parser.
//!
//! Why it is shaped this way: a scraper must never lose a whole scrape to one
//! odd line, and must never take an HTML error page for an empty exposition.
//! So a bad line becomes a [`LineError`] and parsing goes on, while a body
//! that is not exposition text at all is a [`BodyError`].
//!
//! The parser borrows from the body: names and label values are slices of
//! it. A label value's escapes are validated here and decoded on access
//! ([`Label::value`](crate::expo::Label::value)), so parsing allocates nothing
//! per label. All labels live in one flat vector ([`Exposition::labels`]),
//! so a body costs a handful of allocations, not one per sample.
//!
//! Families follow the announced metadata: a `# TYPE`/`# HELP`/`# UNIT` line
//! starts a family, and the samples that follow belong to it while their name
//! is the family name or the family name plus a suffix its type allows
//! (`_total`/`_created` for counters, `_bucket`/`_count`/`_sum`/`_created` for
//! histograms, `_gcount`/`_gsum` for gauge histograms, `_count`/`_sum`/
//! `_created` for summaries, `_info` for info). Any other sample starts an
//! implicit `Unknown` family named after it.
//!
//! The format is OpenMetrics when the body has a `# EOF` line; that decides
//! how timestamps are read (float seconds instead of integer milliseconds).
//! Exemplars (` # {labels} value [timestamp]`) are validated and skipped.
//!
//! Where the formats differ in what a label value may hold, each is read by
//! its own rule: OpenMetrics keeps a backslash before any character other
//! than `\`, `"` and `n` as written (its `BS normal-char`), the text format
//! rejects it. Neither judges semantics (counter values, bucket order,
//! grouping): that is the strict mode, `validate` (feature `validate`).

mod lex;
#[cfg(test)]
mod tests;

use std::ops::Range;

use memchr::memchr;

use crate::error::{BodyError, LineError, LineErrorKind};
use crate::expo::{Exposition, Family, Format, Label, MetricType, Sample};
pub(crate) use lex::parse_value;
pub(crate) use lex::unescape_label;
use lex::{Hints, Line, OmFlag, SampleLine, lex_line};
pub use lex::{is_label_name, is_metric_name};

/// Parses an exposition body.
///
/// Returns `Err` only when the body as a whole is not exposition text
/// (empty, HTML, JSON, or not one valid line); individual bad lines are
/// reported in [`Exposition::errors`]. A body with only `# HELP`/`# TYPE`
/// lines and no samples (an idle LiteLLM) is valid.
///
/// ```
/// let expo = pulse_core::parse::parse("# TYPE x_total counter\nx_total{model=\"a\"} 2.0\n").unwrap();
/// assert_eq!(expo.samples[0].value, 2.0);
/// assert_eq!(expo.label(&expo.samples[0], "model").as_deref(), Some("a"));
/// ```
pub fn parse(body: &str) -> Result<Exposition<'_>, BodyError> {
    parse_src(Src::Str(body))
}

/// Parses an exposition body given as bytes, as received from the network.
///
/// A line that is not valid UTF-8 becomes a [`LineErrorKind::InvalidUtf8`]
/// error and the rest of the body still parses.
pub fn parse_bytes(body: &[u8]) -> Result<Exposition<'_>, BodyError> {
    parse_src(Src::of(body))
}

/// The sum of sample values per sample name, in first-seen order.
///
/// This is what the Python reference's `/raw` returns, without its parsing
/// faults: NaN samples are skipped (a name whose samples are all NaN is
/// absent) and infinities propagate.
pub fn sample_totals<'a>(expo: &Exposition<'a>) -> Vec<(&'a str, f64)> {
    let mut totals = Totals::default();
    for s in &expo.samples {
        totals.add(s.name, s.value);
    }
    totals.out
}

/// The sum of sample values per family name, in first-seen order:
/// histogram buckets, `_count`, `_sum` and `_created` samples count toward
/// their family, and a family split in the body sums into one entry. The
/// rules of [`sample_totals`] apply (NaN skipped, infinities propagate).
pub fn family_totals<'a>(expo: &Exposition<'a>) -> Vec<(&'a str, f64)> {
    let mut totals = Totals::default();
    for family in &expo.families {
        for s in expo.samples_of(family) {
            totals.add(family.name, s.value);
        }
    }
    totals.out
}

/// The same result as `sample_totals(&parse(body)?)`, computed without
/// decoding or storing labels (they are still validated, so exactly the same
/// lines count).
pub fn scan_sample_totals(body: &str) -> Result<Vec<(&str, f64)>, BodyError> {
    let src = Src::Str(body);
    classify(src.bytes())?;
    let mut v = TotalsVisitor {
        totals: Totals::default(),
        no_labels: Vec::new(),
    };
    drive(src, &mut v)?;
    Ok(v.totals.out)
}

/// The body, as checked text or as bytes that may hold invalid lines.
#[derive(Clone, Copy)]
enum Src<'a> {
    Str(&'a str),
    Bytes(&'a [u8]),
}

impl<'a> Src<'a> {
    /// Checked text when all of `body` is UTF-8, else its bytes.
    fn of(body: &'a [u8]) -> Src<'a> {
        match std::str::from_utf8(body) {
            Ok(s) => Src::Str(s),
            Err(_) => Src::Bytes(body),
        }
    }

    fn bytes(self) -> &'a [u8] {
        match self {
            Src::Str(s) => s.as_bytes(),
            Src::Bytes(b) => b,
        }
    }

    /// The line at `r` as text, or its bytes when it is not UTF-8.
    #[inline(always)]
    fn line(self, r: Range<usize>) -> Result<&'a str, &'a [u8]> {
        match self {
            // Ranges end at `\n` or at the end, so they are char boundaries.
            Src::Str(s) => s.get(r.clone()).ok_or_else(|| &s.as_bytes()[r]),
            Src::Bytes(b) => {
                let raw = &b[r];
                std::str::from_utf8(raw).map_err(|_| raw)
            }
        }
    }
}

fn parse_src(src: Src<'_>) -> Result<Exposition<'_>, BodyError> {
    let mut v = ExpoVisitor::with_capacity(src.bytes().len());
    drive_expo(src, &mut v, |v| &mut v.expo)?;
    Ok(v.expo)
}

/// Classifies the body, drives `v` over it and sets the format of the
/// exposition it builds (`expo_of(v)`).
fn drive_expo<'a, V: Visitor<'a>>(
    src: Src<'a>,
    v: &mut V,
    expo_of: impl FnOnce(&mut V) -> &mut Exposition<'a>,
) -> Result<(), BodyError> {
    classify(src.bytes())?;
    let eof = drive(src, v)?;
    expo_of(v).format = Some(if eof {
        Format::OpenMetrics
    } else {
        Format::PrometheusText
    });
    Ok(())
}

/// Rejects bodies that are clearly not exposition text.
fn classify(body: &[u8]) -> Result<(), BodyError> {
    let mut rest = body.trim_ascii_start();
    // A UTF-8 byte order mark is not content.
    if let Some(r) = rest.strip_prefix(b"\xEF\xBB\xBF") {
        rest = r.trim_ascii_start();
    }
    match rest.first() {
        None => Err(BodyError::Empty),
        Some(b'<') => Err(BodyError::Html),
        Some(b'{' | b'[' | b'"') => Err(BodyError::Json),
        Some(_) => Ok(()),
    }
}

/// Iterates over the line ranges of a body (without the `\n`).
struct LineRanges<'a> {
    body: &'a [u8],
    pos: usize,
}

impl Iterator for LineRanges<'_> {
    type Item = Range<usize>;

    #[inline(always)]
    fn next(&mut self) -> Option<Range<usize>> {
        if self.pos >= self.body.len() {
            return None;
        }
        let start = self.pos;
        let end = match memchr(b'\n', &self.body[start..]) {
            Some(i) => start + i,
            None => self.body.len(),
        };
        self.pos = end + 1;
        Some(start..end)
    }
}

/// What the driver reports to a consumer of lexed lines.
trait Visitor<'a> {
    /// The flat label vector the lexer appends to.
    fn labels(&mut self) -> &mut Vec<Label<'a>>;
    /// Lexes one line, decoding labels into [`Visitor::labels`] or not.
    fn lex(
        &mut self,
        line: &'a str,
        openmetrics: &mut OmFlag<'_>,
        hints: &mut Hints<'a>,
    ) -> Result<Line<'a>, LineErrorKind>;
    /// A `# HELP`, `# TYPE` or `# UNIT` line.
    fn meta(&mut self, line: Line<'a>);
    /// A sample whose labels start at `labels_start`.
    fn sample(&mut self, s: SampleLine<'a>, labels_start: usize, line: u32);
    /// A rejected line.
    fn error(&mut self, e: LineError);
}

/// Runs the lexer over every line and applies the body-level rules
/// (`# EOF`, "no valid line at all"). Returns whether a `# EOF` line was
/// seen.
fn drive<'a, V: Visitor<'a>>(src: Src<'a>, v: &mut V) -> Result<bool, BodyError> {
    let mut openmetrics = OmFlag::new(src.bytes());
    let mut hints = Hints::default();
    let mut eof = false;
    let mut any_valid = false;
    let mut first_error: Option<LineError> = None;
    let mut first_comment: Option<LineError> = None;
    let mut no: u32 = 0;
    let mut report = |v: &mut V, e: LineError| {
        if first_error.is_none() {
            first_error = Some(e.clone());
        }
        v.error(e);
    };
    for range in (LineRanges {
        body: src.bytes(),
        pos: 0,
    }) {
        no = no.saturating_add(1);
        let line = match src.line(range) {
            Ok(line) => line,
            Err(raw) => {
                let e = line_error(
                    no,
                    LineErrorKind::InvalidUtf8,
                    &String::from_utf8_lossy(raw),
                );
                report(v, e);
                continue;
            }
        };
        if eof {
            if !line.trim_ascii().is_empty() {
                report(v, line_error(no, LineErrorKind::AfterEof, line));
            }
            continue;
        }
        let mark = v.labels().len();
        match v.lex(line, &mut openmetrics, &mut hints) {
            Ok(Line::Sample(s)) => {
                any_valid = true;
                v.sample(s, mark, no);
            }
            Ok(Line::Blank) => {}
            Ok(Line::Comment) => {
                if first_comment.is_none() {
                    first_comment = Some(line_error(no, LineErrorKind::CommentsOnly, line));
                }
            }
            Ok(Line::Eof) => {
                any_valid = true;
                eof = true;
            }
            Ok(meta) => {
                any_valid = true;
                v.meta(meta);
            }
            Err(kind) => {
                v.labels().truncate(mark);
                report(v, line_error(no, kind, line));
            }
        }
    }
    if any_valid {
        return Ok(eof);
    }
    match first_error.or(first_comment) {
        Some(e) => Err(BodyError::NoValidLines(e)),
        None => Err(BodyError::Empty),
    }
}

/// Builds a [`LineError`] with the start of the line as its snippet.
fn line_error(line: u32, kind: LineErrorKind, text: &str) -> LineError {
    let text = text.strip_suffix('\r').unwrap_or(text);
    LineError {
        line,
        kind,
        snippet: text.chars().take(80).collect(),
    }
}

/// Saturating conversion for the `u32` indexes of the data model.
#[inline(always)]
fn idx(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Builds the full [`Exposition`].
struct ExpoVisitor<'a> {
    expo: Exposition<'a>,
    /// The last family was started by a sample, not by metadata.
    implicit: bool,
}

impl<'a> ExpoVisitor<'a> {
    fn with_capacity(body_len: usize) -> Self {
        Self::with_capacities(body_len, None)
    }

    /// [`ExpoVisitor::with_capacity`], reserving room for `labels` labels
    /// when given instead of the estimate from the body's length.
    fn with_capacities(body_len: usize, labels: Option<usize>) -> Self {
        let labels = labels.unwrap_or(body_len / BODY_BYTES_PER_LABEL + 4);
        let expo = Exposition {
            format: None,
            families: Vec::with_capacity(body_len / 2048 + 4),
            samples: Vec::with_capacity(body_len / 256 + 4),
            labels: Vec::with_capacity(labels),
            errors: Vec::new(),
        };
        ExpoVisitor {
            expo,
            implicit: false,
        }
    }

    /// The family a metadata line for `name` applies to: the current one if
    /// it was announced for the same name and has no samples yet, else a new one.
    fn meta_family(&mut self, name: &'a str) -> &mut Family<'a> {
        let n = idx(self.expo.samples.len());
        let reuse = !self.implicit
            && self
                .expo
                .families
                .last()
                .is_some_and(|f| f.name == name && f.samples.is_empty());
        if !reuse {
            self.expo.families.push(Family {
                name,
                kind: MetricType::Unknown,
                help: None,
                unit: None,
                samples: n..n,
            });
            self.implicit = false;
        }
        let last = self.expo.families.len() - 1;
        &mut self.expo.families[last]
    }
}

/// True when a sample called `name` belongs to family `f`.
#[inline(always)]
fn belongs(f: &Family<'_>, implicit: bool, name: &str) -> bool {
    let Some(suffix) = name.strip_prefix(f.name) else {
        return false;
    };
    if suffix.is_empty() {
        return true;
    }
    if implicit {
        return false;
    }
    match f.kind {
        MetricType::Counter => matches!(suffix, "_total" | "_created"),
        MetricType::Histogram => matches!(suffix, "_bucket" | "_count" | "_sum" | "_created"),
        MetricType::GaugeHistogram => matches!(suffix, "_bucket" | "_gcount" | "_gsum"),
        MetricType::Summary => matches!(suffix, "_count" | "_sum" | "_created"),
        MetricType::Info => suffix == "_info",
        MetricType::Gauge | MetricType::StateSet | MetricType::Unknown => false,
    }
}

impl<'a> Visitor<'a> for ExpoVisitor<'a> {
    #[inline(always)]
    fn labels(&mut self) -> &mut Vec<Label<'a>> {
        &mut self.expo.labels
    }

    #[inline(always)]
    fn lex(
        &mut self,
        line: &'a str,
        openmetrics: &mut OmFlag<'_>,
        hints: &mut Hints<'a>,
    ) -> Result<Line<'a>, LineErrorKind> {
        lex_line::<true>(line, openmetrics, &mut self.expo.labels, hints)
    }

    fn meta(&mut self, line: Line<'a>) {
        match line {
            Line::Help(name, text) => self.meta_family(name).help = Some(lex::unescape_help(text)),
            Line::Type(name, kind) => self.meta_family(name).kind = kind,
            Line::Unit(name, unit) => self.meta_family(name).unit = Some(unit),
            _ => {}
        }
    }

    #[inline(always)]
    fn sample(&mut self, s: SampleLine<'a>, labels_start: usize, line: u32) {
        let expo = &mut self.expo;
        let fits = expo
            .families
            .last()
            .is_some_and(|f| belongs(f, self.implicit, s.name));
        if !fits {
            let n = idx(expo.samples.len());
            expo.families.push(Family {
                name: s.name,
                kind: MetricType::Unknown,
                help: None,
                unit: None,
                samples: n..n,
            });
            self.implicit = true;
        }
        let family = expo.families.len() - 1;
        expo.samples.push(Sample {
            name: s.name,
            labels: idx(labels_start)..idx(expo.labels.len()),
            value: s.value,
            timestamp_ms: s.timestamp_ms,
            family: idx(family),
            line,
        });
        let end = idx(expo.samples.len());
        expo.families[family].samples.end = end;
    }

    fn error(&mut self, e: LineError) {
        self.expo.errors.push(e);
    }
}

/// Sums per sample name in first-seen order.
#[derive(Default)]
struct Totals<'a> {
    out: Vec<(&'a str, f64)>,
    index: crate::fastmap::FastMap<&'a str, usize>,
    /// Index of the previous name: consecutive samples usually share it.
    last: usize,
    /// With `memo` (the host's scrape path), the name before that too:
    /// Python's client writes a counter's `_total` and `_created` lines
    /// alternately, which missed the one-name cache on every line. Off in
    /// the wasm, whose size budget it would cost 0.27 KB.
    #[cfg(feature = "memo")]
    before: usize,
}

impl<'a> Totals<'a> {
    #[inline(always)]
    fn add(&mut self, name: &'a str, value: f64) {
        if value.is_nan() {
            return;
        }
        if let Some(entry) = self.out.get_mut(self.last)
            && same_name(entry.0, name)
        {
            entry.1 += value;
            return;
        }
        #[cfg(feature = "memo")]
        if let Some(entry) = self.out.get_mut(self.before)
            && same_name(entry.0, name)
        {
            entry.1 += value;
            std::mem::swap(&mut self.last, &mut self.before);
            return;
        }
        let out = &mut self.out;
        let i = *self.index.entry(name).or_insert_with(|| {
            out.push((name, 0.0));
            out.len() - 1
        });
        out[i].1 += value;
        #[cfg(feature = "memo")]
        {
            self.before = self.last;
        }
        self.last = i;
    }
}

/// Computes totals without building an [`Exposition`].
struct TotalsVisitor<'a> {
    totals: Totals<'a>,
    /// Stays empty: the lexer does not push labels when not decoding.
    no_labels: Vec<Label<'a>>,
}

impl<'a> Visitor<'a> for TotalsVisitor<'a> {
    #[inline(always)]
    fn labels(&mut self) -> &mut Vec<Label<'a>> {
        &mut self.no_labels
    }

    #[inline(always)]
    fn lex(
        &mut self,
        line: &'a str,
        openmetrics: &mut OmFlag<'_>,
        hints: &mut Hints<'a>,
    ) -> Result<Line<'a>, LineErrorKind> {
        lex_line::<false>(line, openmetrics, &mut self.no_labels, hints)
    }

    fn meta(&mut self, _line: Line<'a>) {}

    #[inline(always)]
    fn sample(&mut self, s: SampleLine<'a>, _labels_start: usize, _line: u32) {
        self.totals.add(s.name, s.value);
    }

    fn error(&mut self, _e: LineError) {}
}

/// Bytes of a LiteLLM body per label: its lines are 300-600 bytes with ~15
/// labels of ~25 bytes (what a parse reserves labels by; smaller exporters
/// just grow the vector).
pub(crate) const BODY_BYTES_PER_LABEL: usize = 28;

/// What [`parse_memo`] notes of each sample line, in sample order.
#[cfg(feature = "memo")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineKey {
    /// A seeded 128-bit hash of the whole line (0 when not `keyed`).
    pub(crate) hash: u128,
    /// Byte range of the line in the body.
    pub(crate) start: u32,
    pub(crate) end: u32,
    /// The line starts with its metric name, has no timestamp, and the body
    /// is short enough for `u32` offsets: it can be remembered.
    pub(crate) keyed: bool,
    /// The position in the memo of the line it was recognised as (it was
    /// not lexed, its sample carries no labels), or [`NOT_RECALLED`].
    pub(crate) recalled: u32,
    /// The line was lexed (checked) without keeping its labels, because its
    /// name is one whose labels only the tracker reads, lexing it again.
    pub(crate) deferred: bool,
}

/// [`LineKey::recalled`] of a line that was lexed.
#[cfg(feature = "memo")]
pub(crate) const NOT_RECALLED: u32 = u32::MAX;

/// `a == b`, by address first: a memo parse hands the samples of a run of
/// one name the same `&str` (`MemoVisitor::sample`). Without `memo` (the
/// wasm) a plain comparison, to spare its size budget.
#[inline(always)]
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    #[cfg(feature = "memo")]
    if std::ptr::eq(a, b) {
        return true;
    }
    a == b
}

/// The 128-bit hash of a line under `seed`.
#[cfg(feature = "memo")]
pub(crate) fn line_hash(line: &[u8], seed: u64) -> u128 {
    xxhash_rust::xxh3::xxh3_128_with_seed(line, seed)
}

/// True when the body has a `# EOF` line (OpenMetrics): label escapes and
/// timestamps read differently then, so a remembered line only stands for
/// itself in a body of the same format.
#[cfg(feature = "memo")]
pub(crate) fn is_openmetrics(body: &[u8]) -> bool {
    OmFlag::new(body).get()
}

/// Parses like [`parse_bytes`], except that a sample line whose hash
/// `recall` knows (returning its position in the memo, its name's length
/// and its value) is not lexed: its sample gets that name and value and no
/// labels; and a lexed line whose name `defer` picks keeps no labels
/// ([`LineKey::deferred`]).
/// Returns the exposition and a [`LineKey`] per sample.
///
/// `recall` must only know lines that lexed without error in a body of the
/// same format (see [`is_openmetrics`]) and had no timestamp; the tracker's
/// line memo keeps to that. `labels` is how many labels to reserve room
/// for (by default, as many as a body of lexed LiteLLM lines has).
#[cfg(feature = "memo")]
pub(crate) fn parse_memo<'a, F, D>(
    body: &'a [u8],
    seed: u64,
    labels: Option<usize>,
    recall: F,
    defer: D,
) -> Result<(Exposition<'a>, Vec<LineKey>), BodyError>
where
    F: FnMut(u128) -> Option<(u32, u32, f64)>,
    D: FnMut(&'a str) -> bool,
{
    let mut v = MemoVisitor {
        inner: ExpoVisitor::with_capacities(body.len(), labels),
        base: body.as_ptr() as usize,
        small: u32::try_from(body.len()).is_ok(),
        seed,
        recall,
        defer,
        lines: Vec::with_capacity(body.len() / 256 + 4),
        pending: None,
        names: [""; 2],
    };
    drive_expo(Src::of(body), &mut v, |v| &mut v.inner.expo)?;
    Ok((v.inner.expo, v.lines))
}

/// Lexes one sample line again, appending its labels to `labels`; false
/// when it does not lex (it always did when it was remembered).
#[cfg(feature = "memo")]
pub(crate) fn relex<'a>(line: &'a str, openmetrics: bool, labels: &mut Vec<Label<'a>>) -> bool {
    let fmt: &[u8] = if openmetrics { b"# EOF\n" } else { b"" };
    let mut flag = OmFlag::new(fmt);
    let mark = labels.len();
    match lex_line::<true>(line, &mut flag, labels, &mut Hints::default()) {
        Ok(Line::Sample(_)) => true,
        _ => {
            labels.truncate(mark);
            false
        }
    }
}

/// [`ExpoVisitor`] that skips lexing the lines its `recall` knows and keeps
/// no labels of the lines its `defer` picks.
#[cfg(feature = "memo")]
struct MemoVisitor<'a, F, D> {
    inner: ExpoVisitor<'a>,
    /// Address of the body's first byte, to turn lines into offsets.
    base: usize,
    /// The body fits `u32` offsets.
    small: bool,
    seed: u64,
    recall: F,
    defer: D,
    lines: Vec<LineKey>,
    /// The key of the line being lexed, for [`Visitor::sample`].
    pending: Option<LineKey>,
    /// The two latest distinct sample names, most recent first.
    names: [&'a str; 2],
}

#[cfg(feature = "memo")]
impl<'a, F, D> Visitor<'a> for MemoVisitor<'a, F, D>
where
    F: FnMut(u128) -> Option<(u32, u32, f64)>,
    D: FnMut(&'a str) -> bool,
{
    #[inline(always)]
    fn labels(&mut self) -> &mut Vec<Label<'a>> {
        &mut self.inner.expo.labels
    }

    #[inline(always)]
    fn lex(
        &mut self,
        line: &'a str,
        openmetrics: &mut OmFlag<'_>,
        hints: &mut Hints<'a>,
    ) -> Result<Line<'a>, LineErrorKind> {
        self.pending = None;
        let b = line.as_bytes();
        if self.small && b.first().is_some_and(|&c| c != b'#' && !lex::is_blank(c)) {
            let start = line.as_ptr() as usize - self.base;
            let hash = line_hash(b, self.seed);
            let mut key = LineKey {
                hash,
                start: idx(start),
                end: idx(start + b.len()),
                keyed: true,
                recalled: NOT_RECALLED,
                deferred: false,
            };
            if let Some((at, name_len, value)) = (self.recall)(hash)
                && let Some(name) = line.get(..name_len as usize)
            {
                key.recalled = at;
                self.pending = Some(key);
                return Ok(Line::Sample(SampleLine {
                    name,
                    value,
                    timestamp_ms: None,
                }));
            }
            self.pending = Some(key);
            // The lexer names the sample; a deferred one's labels go again.
            let mark = self.inner.expo.labels.len();
            let lexed = self.inner.lex(line, openmetrics, hints);
            if let Ok(Line::Sample(s)) = &lexed
                && (self.defer)(s.name)
                && let Some(k) = &mut self.pending
            {
                k.deferred = true;
                self.inner.expo.labels.truncate(mark);
            }
            return lexed;
        }
        self.inner.lex(line, openmetrics, hints)
    }

    fn meta(&mut self, line: Line<'a>) {
        self.inner.meta(line);
    }

    #[inline(always)]
    fn sample(&mut self, mut s: SampleLine<'a>, labels_start: usize, line: u32) {
        // A name equal to one of the two before it becomes that very `&str`
        // (compared now, while its line is in the cache), so the passes that
        // compare names later ([`same_name`]) mostly do not read the body's
        // 58 MB again.
        if s.name == self.names[0] {
            s.name = self.names[0];
        } else if s.name == self.names[1] {
            s.name = self.names[1];
            self.names.swap(0, 1);
        } else {
            self.names = [s.name, self.names[0]];
        }
        let mut key = self.pending.take().unwrap_or(LineKey {
            hash: 0,
            start: 0,
            end: 0,
            keyed: false,
            recalled: NOT_RECALLED,
            deferred: false,
        });
        key.keyed &= s.timestamp_ms.is_none();
        self.lines.push(key);
        self.inner.sample(s, labels_start, line);
    }

    fn error(&mut self, e: LineError) {
        self.inner.error(e);
    }
}
