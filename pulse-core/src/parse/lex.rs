//! Line lexer: turns one line of exposition text into a [`Line`].
//!
//! It knows nothing about families; the driver in the parent module groups
//! samples. Labels are pushed onto the caller's flat vector only when
//! `DECODE` is true, so the totals scanner validates labels without storing
//! them. Escapes are validated here and decoded later, by [`Label::value`].

use std::borrow::Cow;

use memchr::{memchr_iter, memchr2};

use crate::error::LineErrorKind;
use crate::expo::{Label, MetricType};

/// One lexed line.
#[derive(Debug, PartialEq)]
pub(super) enum Line<'a> {
    /// Empty or whitespace only.
    Blank,
    /// A `#` comment that is not metadata.
    Comment,
    /// `# HELP name text` (text still escaped).
    Help(&'a str, &'a str),
    /// `# TYPE name type`.
    Type(&'a str, MetricType),
    /// `# UNIT name unit`.
    Unit(&'a str, &'a str),
    /// `# EOF`.
    Eof,
    /// A sample; its labels were pushed onto the label vector when decoding.
    Sample(SampleLine<'a>),
}

/// The parts of a sample line other than its labels.
#[derive(Debug, PartialEq)]
pub(super) struct SampleLine<'a> {
    pub(super) name: &'a str,
    pub(super) value: f64,
    pub(super) timestamp_ms: Option<i64>,
}

/// The names seen on the previous sample line.
///
/// Consecutive lines nearly always repeat the metric name and the label
/// names in the same order, so comparing against them a word at a time is
/// much cheaper than classifying every byte; a miss falls back to the scan.
#[derive(Default)]
pub(super) struct Hints<'a> {
    name: NameHint<'a>,
    labels: Vec<NameHint<'a>>,
}

/// A predicted name with its first eight bytes as a (masked) word.
#[derive(Default, Clone, Copy)]
struct NameHint<'a> {
    name: &'a str,
    head: u64,
    mask: u64,
}

impl<'a> NameHint<'a> {
    fn new(name: &'a str) -> Self {
        let b = name.as_bytes();
        let n = b.len().min(8);
        let mut w = [0u8; 8];
        w[..n].copy_from_slice(&b[..n]);
        NameHint {
            name,
            head: u64::from_le_bytes(w),
            mask: if n == 8 {
                u64::MAX
            } else {
                (1u64 << (n * 8)) - 1
            },
        }
    }

    /// True when `hay` starts with this name.
    #[inline(always)]
    fn matches(&self, hay: &[u8]) -> bool {
        let needle = self.name.as_bytes();
        let n = needle.len();
        if n == 0 || hay.len() < n {
            return false;
        }
        if hay.len() < 8 {
            return &hay[..n] == needle;
        }
        if word(hay, 0) & self.mask != self.head {
            return false;
        }
        let mut at = 8;
        while at + 8 <= n {
            if word(hay, at) != word(needle, at) {
                return false;
            }
            at += 8;
        }
        // The last word may overlap the previous one.
        at >= n || word(hay, n - 8) == word(needle, n - 8)
    }
}

/// Eight bytes of `s` from `at` as a little-endian word.
#[inline(always)]
fn word(s: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Most label sets are shorter; longer ones simply are not predicted.
const MAX_HINTED_LABELS: usize = 64;

/// Whether the body is OpenMetrics, decided on first need.
///
/// Only timestamps read differently in the two formats, and most bodies
/// have none, so the search for a `# EOF` line runs only when the first
/// timestamp is met.
pub(super) struct OmFlag<'a> {
    body: &'a [u8],
    known: Option<bool>,
}

impl<'a> OmFlag<'a> {
    /// An undecided flag for `body`.
    pub(super) fn new(body: &'a [u8]) -> Self {
        OmFlag { body, known: None }
    }

    /// True when the body has a `# EOF` line.
    pub(super) fn get(&mut self) -> bool {
        *self
            .known
            .get_or_insert_with(|| detect_openmetrics(self.body))
    }
}

/// True when some line of `body` is `# EOF` (blanks allowed around the
/// tokens, as the lexer allows them).
///
/// It looks at each `#` rather than searching for "EOF": memchr's substring
/// searcher is 1.6 KB of the gzipped .wasm, and this runs only for bodies
/// whose samples carry timestamps. Each check stops at the first byte that
/// is not a blank, so the scan stays linear.
fn detect_openmetrics(body: &[u8]) -> bool {
    let blank = |c: &&u8| c.is_ascii_whitespace() && **c != b'\n';
    memchr_iter(b'#', body).any(|pos| {
        let first = body[..pos]
            .iter()
            .rev()
            .find(|c| !blank(c))
            .is_none_or(|&c| c == b'\n');
        let mut rest = body[pos + 1..].iter();
        first
            && rest.by_ref().find(|c| !blank(c)) == Some(&b'E')
            && rest.next() == Some(&b'O')
            && rest.next() == Some(&b'F')
            && rest.find(|c| !blank(c)).is_none_or(|&c| c == b'\n')
    })
}

/// Bit 0: may start a metric name; bit 1: may continue a metric name;
/// bit 2: may start a label name; bit 3: may continue a label name.
const NAME_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let alpha = b.is_ascii_alphabetic() || b == b'_';
        let digit = b.is_ascii_digit();
        let mut v = 0;
        if alpha || b == b':' {
            v |= 1;
        }
        if alpha || digit || b == b':' {
            v |= 2;
        }
        if alpha {
            v |= 4;
        }
        if alpha || digit {
            v |= 8;
        }
        t[c] = v;
        c += 1;
    }
    t
};

const METRIC_START: u8 = 1;
const METRIC_CONT: u8 = 2;
const LABEL_START: u8 = 4;
const LABEL_CONT: u8 = 8;

#[inline(always)]
pub(super) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Index of the first byte at or after `i` that is not a space or tab.
///
/// Well-formed bodies rarely have blanks where this is called, so the
/// check of the first byte is inlined and the loop is not.
#[inline(always)]
fn skip_blank(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(&c) if is_blank(c) => skip_blank_loop(b, i),
        _ => i,
    }
}

#[inline(never)]
fn skip_blank_loop(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_blank(b[i]) {
        i += 1;
    }
    i
}

/// Index just past the name that starts at `i`, or `i` if there is none.
#[inline(always)]
fn scan_name(b: &[u8], i: usize, start: u8, cont: u8) -> usize {
    match b.get(i) {
        Some(&c) if NAME_CLASS[c as usize] & start != 0 => {}
        _ => return i,
    }
    let rest = &b[i + 1..];
    let len = rest
        .iter()
        .position(|&c| NAME_CLASS[c as usize] & cont == 0)
        .unwrap_or(rest.len());
    i + 1 + len
}

/// True when `s` is a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn is_metric_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && scan_name(b, 0, METRIC_START, METRIC_CONT) == b.len()
}

/// True when `s` is a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && scan_name(b, 0, LABEL_START, LABEL_CONT) == b.len()
}

/// Lexes one line (without its line terminator; a trailing `\r` is allowed).
///
/// With `DECODE`, the sample's labels are appended to `labels`; on error the
/// caller truncates `labels` back to its previous length.
#[inline]
pub(super) fn lex_line<'a, const DECODE: bool>(
    line: &'a str,
    openmetrics: &mut OmFlag<'_>,
    labels: &mut Vec<Label<'a>>,
    hints: &mut Hints<'a>,
) -> Result<Line<'a>, LineErrorKind> {
    let b = line.as_bytes();
    let i = skip_blank(b, 0);
    match b.get(i) {
        None | Some(b'\r') if rest_is_blank(b, i) => Ok(Line::Blank),
        Some(b'#') => lex_comment(line, i + 1),
        _ => lex_sample::<DECODE>(line, i, openmetrics, labels, hints).map(Line::Sample),
    }
}

/// True when everything from `i` on is blank (spaces, tabs, a final `\r`).
fn rest_is_blank(b: &[u8], i: usize) -> bool {
    b[i.min(b.len())..]
        .iter()
        .all(|&c| is_blank(c) || c == b'\r')
}

/// The next blank-separated token starting at `i` (after skipping blanks):
/// `(start, end)`.
#[inline(always)]
fn token(b: &[u8], i: usize) -> (usize, usize) {
    let s = skip_blank(b, i);
    let mut e = s;
    while e < b.len() && !is_blank(b[e]) && b[e] != b'\r' {
        e += 1;
    }
    (s, e)
}

/// Lexes a comment line; `i` is just after the `#`.
fn lex_comment(line: &str, i: usize) -> Result<Line<'_>, LineErrorKind> {
    let b = line.as_bytes();
    let (ks, ke) = token(b, i);
    let keyword = &line[ks..ke];
    match keyword {
        "HELP" | "TYPE" | "UNIT" => {}
        "EOF" => {
            return Ok(if rest_is_blank(b, ke) {
                Line::Eof
            } else {
                Line::Comment
            });
        }
        _ => return Ok(Line::Comment),
    }
    let meta_err = if keyword == "TYPE" {
        LineErrorKind::InvalidTypeLine
    } else {
        LineErrorKind::InvalidMetadataLine
    };
    let (ns, ne) = token(b, ke);
    let name = &line[ns..ne];
    if !is_metric_name(name) {
        return Err(meta_err);
    }
    // The text is everything after one separating blank, up to a final `\r`.
    let mut end = b.len();
    if end > ne && b[end - 1] == b'\r' {
        end -= 1;
    }
    let text_start = if ne < end { ne + 1 } else { end };
    let text = &line[text_start..end];
    match keyword {
        "HELP" => Ok(Line::Help(name, text)),
        "UNIT" => Ok(Line::Unit(name, text.trim_matches([' ', '\t']))),
        _ => {
            let kind = match text.trim_matches([' ', '\t']) {
                "counter" => MetricType::Counter,
                "gauge" => MetricType::Gauge,
                "histogram" => MetricType::Histogram,
                "gaugehistogram" => MetricType::GaugeHistogram,
                "summary" => MetricType::Summary,
                "info" => MetricType::Info,
                "stateset" => MetricType::StateSet,
                "untyped" | "unknown" => MetricType::Unknown,
                _ => return Err(LineErrorKind::InvalidTypeLine),
            };
            Ok(Line::Type(name, kind))
        }
    }
}

/// Lexes a sample line whose metric name starts at `i`.
#[inline(always)]
fn lex_sample<'a, const DECODE: bool>(
    line: &'a str,
    i: usize,
    openmetrics: &mut OmFlag<'_>,
    labels: &mut Vec<Label<'a>>,
    hints: &mut Hints<'a>,
) -> Result<SampleLine<'a>, LineErrorKind> {
    let b = line.as_bytes();
    let hinted = i + hints.name.name.len();
    let (name, ne) = if hints.name.matches(&b[i..])
        && b.get(hinted)
            .is_none_or(|&c| NAME_CLASS[c as usize] & METRIC_CONT == 0)
    {
        (hints.name.name, hinted)
    } else {
        let ne = scan_name(b, i, METRIC_START, METRIC_CONT);
        if ne == i {
            return Err(LineErrorKind::InvalidMetricName);
        }
        let name = &line[i..ne];
        hints.name = NameHint::new(name);
        (name, ne)
    };
    let mut p = skip_blank(b, ne);
    if b.get(p) == Some(&b'{') {
        p = lex_labels::<DECODE>(line, p + 1, labels, &mut hints.labels, openmetrics)?;
    } else if p == ne && p < b.len() && b[p] != b'\r' {
        // A character that can neither continue the name nor end it.
        return Err(LineErrorKind::InvalidMetricName);
    }
    let (vs, ve) = token(b, p);
    if vs == ve {
        return Err(LineErrorKind::InvalidValue);
    }
    let value = parse_value(&line[vs..ve]).ok_or(LineErrorKind::InvalidValue)?;
    let (ts, te) = token(b, ve);
    let mut timestamp_ms = None;
    let mut rest = ts;
    if ts < te && b[ts] != b'#' {
        let tok = &line[ts..te];
        timestamp_ms = if openmetrics.get() {
            read_om_timestamp(tok)?
        } else {
            Some(
                tok.parse::<i64>()
                    .map_err(|_| LineErrorKind::InvalidTimestamp)?,
            )
        };
        rest = skip_blank(b, te);
    }
    match b.get(rest) {
        None => {}
        Some(b'#') => lex_exemplar(line, rest + 1, openmetrics)?,
        Some(_) if rest_is_blank(b, rest) => {}
        Some(_) => return Err(LineErrorKind::TrailingGarbage),
    }
    Ok(SampleLine {
        name,
        value,
        timestamp_ms,
    })
}

/// Validates an OpenMetrics exemplar ` # {labels} value [timestamp]`; `i` is
/// just after the `#`.
fn lex_exemplar(line: &str, i: usize, openmetrics: &mut OmFlag<'_>) -> Result<(), LineErrorKind> {
    let b = line.as_bytes();
    let p = skip_blank(b, i);
    if p == i || b.get(p) != Some(&b'{') {
        return Err(LineErrorKind::InvalidExemplar);
    }
    let mut none = Vec::new();
    let p = lex_labels::<false>(line, p + 1, &mut none, &mut Vec::new(), openmetrics)
        .map_err(|_| LineErrorKind::InvalidExemplar)?;
    let (vs, ve) = token(b, p);
    if vs == ve || parse_value(&line[vs..ve]).is_none() {
        return Err(LineErrorKind::InvalidExemplar);
    }
    let (ts, te) = token(b, ve);
    if ts < te && read_om_timestamp(&line[ts..te]).is_err() {
        return Err(LineErrorKind::InvalidExemplar);
    }
    if !rest_is_blank(b, te) {
        return Err(LineErrorKind::InvalidExemplar);
    }
    Ok(())
}

/// Lexes a label set; `i` is just after the `{`. Returns the index just
/// after the closing `}`.
///
/// The common case (no blanks, predicted names) tests each expected byte
/// once; blanks and surprises take the slower branches.
#[inline(always)]
fn lex_labels<'a, const DECODE: bool>(
    line: &'a str,
    i: usize,
    labels: &mut Vec<Label<'a>>,
    hints: &mut Vec<NameHint<'a>>,
    openmetrics: &mut OmFlag<'_>,
) -> Result<usize, LineErrorKind> {
    let b = line.as_bytes();
    let mut p = i;
    let mut k = 0;
    loop {
        // The `=` right after a predicted name proves the name ends there;
        // the predicted slice has the same text, so it is used as the name.
        let (name, ne) = match hints.get(k) {
            Some(h) if h.matches(&b[p..]) && b.get(p + h.name.len()) == Some(&b'=') => {
                (h.name, p + h.name.len())
            }
            _ => match b.get(p) {
                Some(b'}') => return Ok(p + 1),
                Some(b' ' | b'\t') => {
                    p = skip_blank(b, p);
                    continue;
                }
                None => return Err(LineErrorKind::MalformedLabels),
                Some(_) => {
                    let ne = scan_name(b, p, LABEL_START, LABEL_CONT);
                    if ne == p {
                        return Err(LineErrorKind::InvalidLabelName);
                    }
                    let name = &line[p..ne];
                    let hint = NameHint::new(name);
                    if k < hints.len() {
                        hints[k] = hint;
                    } else if k < MAX_HINTED_LABELS {
                        hints.push(hint);
                    }
                    (name, ne)
                }
            },
        };
        k += 1;
        let mut q = ne;
        if b.get(q) != Some(&b'=') {
            q = skip_blank(b, q);
            if b.get(q) != Some(&b'=') {
                // A character glued to the name that cannot be part of it
                // makes the name invalid; anything else is a missing `=`.
                return Err(match b.get(ne) {
                    Some(b' ' | b'\t' | b'=' | b',' | b'}' | b'"' | b'\r') | None => {
                        LineErrorKind::MalformedLabels
                    }
                    Some(_) => LineErrorKind::InvalidLabelName,
                });
            }
        }
        q += 1;
        if b.get(q) != Some(&b'"') {
            q = skip_blank(b, q);
            if b.get(q) != Some(&b'"') {
                return Err(LineErrorKind::UnterminatedLabelValue);
            }
        }
        let vs = q + 1;
        let (ve, escaped, other) = scan_label_value(b, vs)?;
        // OpenMetrics keeps a backslash before any other character as
        // written (`BS normal-char`); text 0.0.4 has only the three escapes.
        if other && !allows_other_escapes(openmetrics) {
            return Err(LineErrorKind::InvalidEscape);
        }
        if DECODE {
            labels.push(Label::from_raw(name, &line[vs..ve], escaped));
        }
        let mut r = ve + 1;
        loop {
            match b.get(r) {
                Some(b',') => {
                    p = r + 1;
                    break;
                }
                Some(b'}') => return Ok(r + 1),
                Some(b' ' | b'\t') => r = skip_blank(b, r),
                _ => return Err(LineErrorKind::MalformedLabels),
            }
        }
    }
}

/// True when the body is OpenMetrics, whose label values may hold a
/// backslash before any character. Out of line: such escapes are rare, and
/// the format check must not weigh on the label loop.
#[cold]
#[inline(never)]
fn allows_other_escapes(openmetrics: &mut OmFlag<'_>) -> bool {
    openmetrics.get()
}

/// Finds the closing quote of a label value starting at `i`. Returns its
/// index, whether the value contains escapes, and whether one of them is a
/// backslash before a character other than `\`, `"` and `n` (valid in
/// OpenMetrics, where it stands for itself; invalid in the text format).
#[inline(always)]
fn scan_label_value(b: &[u8], mut i: usize) -> Result<(usize, bool, bool), LineErrorKind> {
    let mut escaped = false;
    let mut other = false;
    loop {
        let Some(j) = find_quote_or_backslash(b, i) else {
            return Err(LineErrorKind::UnterminatedLabelValue);
        };
        if b[j] == b'"' {
            return Ok((j, escaped, other));
        }
        escaped = true;
        match b.get(j + 1) {
            Some(b'\\' | b'"' | b'n') => {}
            Some(_) => other = true,
            None => return Err(LineErrorKind::UnterminatedLabelValue),
        }
        // The byte after the backslash is skipped; when it starts a
        // multi-byte character, the rest are continuation bytes.
        i = j + 2;
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Sets the high bit of each zero byte of `x`. Bits above the lowest zero
/// byte may be false positives, so only the lowest set bit is meaningful.
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(LO) & !x & HI
}

/// Index of the first `"` or `\` at or after `i`.
///
/// Label values are short (10-70 bytes), where sixteen bytes at a time in
/// two registers beat a SIMD call; long values go to memchr.
#[inline(always)]
fn find_quote_or_backslash(b: &[u8], i: usize) -> Option<usize> {
    let mut rest = b.get(i..)?;
    let mut at = i;
    let limit = i + 128;
    while let Some((pair, tail)) = rest.split_first_chunk::<16>() {
        let (lo, hi) = pair.split_at(8);
        let m_lo = special_bytes(lo);
        let m_hi = special_bytes(hi);
        if m_lo | m_hi != 0 {
            return Some(if m_lo != 0 {
                at + (m_lo.trailing_zeros() / 8) as usize
            } else {
                at + 8 + (m_hi.trailing_zeros() / 8) as usize
            });
        }
        at += 16;
        rest = tail;
        if at >= limit {
            return memchr2(b'"', b'\\', rest).map(|k| at + k);
        }
    }
    rest.iter()
        .position(|&c| c == b'"' || c == b'\\')
        .map(|k| at + k)
}

/// High bit set in each byte of the eight-byte `chunk` that may be `"` or
/// `\`; the lowest set bit is exact.
#[inline(always)]
fn special_bytes(chunk: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(chunk);
    let x = u64::from_le_bytes(w);
    zero_bytes(x ^ (LO * u64::from(b'"'))) | zero_bytes(x ^ (LO * u64::from(b'\\')))
}

/// Decodes `\\`, `\"` and `\n` in one left-to-right pass; a backslash
/// before any other character is kept as written (OpenMetrics'
/// `BS normal-char`). The input was validated by [`scan_label_value`], so
/// no backslash ends it, and the text between escapes is copied in runs.
pub(crate) fn unescape_label(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(k) = rest.find('\\') {
        out.push_str(&rest[..k]);
        match rest.as_bytes().get(k + 1) {
            Some(b'n') => out.push('\n'),
            Some(&c @ (b'\\' | b'"')) => out.push(char::from(c)),
            _ => {
                // Kept: the backslash now, the character with the next run.
                out.push('\\');
                rest = rest.get(k + 1..).unwrap_or("");
                continue;
            }
        }
        rest = rest.get(k + 2..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// Decodes `# HELP` text: `\\`, `\n` and `\"` (OpenMetrics); any other
/// backslash is kept as written, because help text is informational.
pub(super) fn unescape_help(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('n') => {
                    out.push('\n');
                    chars.next();
                }
                Some('\\') => {
                    out.push('\\');
                    chars.next();
                }
                Some('"') => {
                    out.push('"');
                    chars.next();
                }
                _ => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Exact powers of ten representable as `f64` (10^0 ..= 10^22).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses a sample value with Go `strconv.ParseFloat` syntax (decimal,
/// exponent, `NaN`, `Inf`, `+Inf`, `-Inf`, `Infinity`, any case).
///
/// Hexadecimal floats (`0x1p-2`), which Go also accepts, are rejected: no
/// exposition writer emits them.
#[inline]
pub(crate) fn parse_value(tok: &str) -> Option<f64> {
    if let Some(v) = parse_simple_decimal(tok.as_bytes()) {
        return Some(v);
    }
    crate::num::parse_f64(tok)
}

/// Fast path for short plain decimals such as `13.0`, `-2.5` or `1.35e-05`:
/// a mantissa below 2^53 and a power of ten up to 10^22 are both exact, so
/// one IEEE multiplication or division is correctly rounded (Clinger).
/// Returns `None` when the input needs the general parser.
#[inline(always)]
fn parse_simple_decimal(b: &[u8]) -> Option<f64> {
    let (neg, mut i) = match b.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let mut mant: u64 = 0;
    let mut digits = 0u32;
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        mant = mant.wrapping_mul(10).wrapping_add(u64::from(b[i] - b'0'));
        digits += 1;
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0i32;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let fs = i;
        while i < b.len() && b[i].is_ascii_digit() {
            mant = mant.wrapping_mul(10).wrapping_add(u64::from(b[i] - b'0'));
            digits += 1;
            i += 1;
        }
        frac_digits = (i - fs) as i32;
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    // 15 digits always fit below 2^53; longer mantissas take the slow path.
    if digits > 15 {
        return None;
    }
    let mut exp = -frac_digits;
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        let eneg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let es = i;
        let mut e: i32 = 0;
        while i < b.len() && b[i].is_ascii_digit() && i - es < 4 {
            e = e * 10 + i32::from(b[i] - b'0');
            i += 1;
        }
        if i == es {
            return None;
        }
        exp += if eneg { -e } else { e };
    }
    if i != b.len() {
        return None;
    }
    let m = mant as f64;
    let v = if exp == 0 {
        m
    } else if (1..=22).contains(&exp) {
        m * POW10[exp as usize]
    } else if (-22..0).contains(&exp) {
        m / POW10[(-exp) as usize]
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

/// Parses an OpenMetrics timestamp (float seconds) into milliseconds;
/// `None` when it is invalid or beyond what `i64` milliseconds hold.
#[cfg(test)]
fn parse_om_timestamp(tok: &str) -> Option<i64> {
    read_om_timestamp(tok).ok().flatten()
}

/// Reads an OpenMetrics timestamp (float seconds) as milliseconds.
///
/// A finite number beyond the ±9.2e15 s that `i64` milliseconds hold (the
/// grammar allows `12345678901234567890.1234567890`) is a valid timestamp
/// without a millisecond value: `Ok(None)`, and the sample is kept.
fn read_om_timestamp(tok: &str) -> Result<Option<i64>, LineErrorKind> {
    let secs = parse_value(tok).ok_or(LineErrorKind::InvalidTimestamp)?;
    if !secs.is_finite() {
        return Err(LineErrorKind::InvalidTimestamp);
    }
    let ms = (secs * 1000.0).round();
    // i64::MAX is not exactly representable; stay strictly inside the range.
    Ok((ms.abs() < 9.2e18).then_some(ms as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_decimal_agrees_with_std() {
        for s in [
            "0",
            "13.0",
            "-2.5",
            "1.35e-05",
            "5.4e-05",
            "0.0001557",
            "+7",
            ".5",
            "5.",
            "1e22",
            "123456789012345",
            "1e-22",
            "9.999e+21",
            "0.1",
            "0.3",
            "2.0E3",
            "-0.0",
        ] {
            let fast = parse_simple_decimal(s.as_bytes());
            let slow: f64 = s.parse().unwrap();
            assert_eq!(fast.map(f64::to_bits), Some(slow.to_bits()), "{s}");
        }
        for s in [
            "",
            "-",
            ".",
            "e5",
            "1e",
            "1e+",
            "1.2.3",
            "12abc",
            "1234567890123456",
            "1e23",
            "1e-23",
            "NaN",
            "+Inf",
            "1e00001",
        ] {
            assert_eq!(parse_simple_decimal(s.as_bytes()), None, "{s}");
        }
    }

    #[test]
    fn value_syntax() {
        assert!(parse_value("NaN").unwrap().is_nan());
        assert_eq!(parse_value("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_value("-Inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_value("Inf"), Some(f64::INFINITY));
        assert_eq!(
            parse_value("9.223372036854776e+18"),
            Some(9.223372036854776e18)
        );
        assert_eq!(
            parse_value("1.7957743134908388e+09"),
            Some(1.7957743134908388e9)
        );
        assert_eq!(parse_value("12abc"), None);
        assert_eq!(parse_value("1_000"), None);
        assert_eq!(parse_value(""), None);
    }

    #[test]
    fn om_timestamps() {
        assert_eq!(
            parse_om_timestamp("1520879607.789"),
            Some(1_520_879_607_789)
        );
        assert_eq!(parse_om_timestamp("-1.5"), Some(-1500));
        assert_eq!(parse_om_timestamp("NaN"), None);
        assert_eq!(parse_om_timestamp("1e300"), None);
    }

    #[test]
    fn names() {
        assert!(is_metric_name("a:b_c9"));
        assert!(is_metric_name(":x"));
        assert!(!is_metric_name("9x"));
        assert!(!is_metric_name(""));
        assert!(is_label_name("_le"));
        assert!(!is_label_name("a:b"));
    }
}
