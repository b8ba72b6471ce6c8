//! Strict line grammars: the OpenMetrics 1.0 ABNF, exactly (single spaces,
//! no trailing blanks, `# EOF`), and the text format 0.0.4 rules (blanks
//! and tabs between tokens, only three escapes, integer millisecond
//! timestamps).

use std::borrow::Cow;

use super::ProblemKind;
use super::number::{Decimal, go_float, go_int64, om_number, om_real};
use crate::expo::MetricType;

/// One line, as the strict grammar reads it.
#[derive(Debug)]
pub(super) enum Line<'a> {
    /// An empty line (text 0.0.4 ignores it).
    Blank,
    /// A text 0.0.4 comment that is not metadata.
    Comment,
    /// `# EOF`.
    Eof,
    /// `# TYPE`, `# HELP` or `# UNIT`.
    Meta(Meta<'a>),
    /// A sample line.
    Sample(Sample<'a>),
}

/// A metadata line.
#[derive(Debug)]
pub(super) struct Meta<'a> {
    pub(super) name: &'a str,
    pub(super) what: MetaKind<'a>,
}

/// Which metadata, with its value.
#[derive(Debug)]
pub(super) enum MetaKind<'a> {
    Type(MetricType),
    Help,
    Unit(&'a str),
}

/// Labels with decoded values, in written order.
pub(super) type Labels<'a> = Vec<(&'a str, Cow<'a, str>)>;

/// A sample line.
#[derive(Debug)]
pub(super) struct Sample<'a> {
    pub(super) name: &'a str,
    pub(super) labels: Labels<'a>,
    pub(super) value: f64,
    /// As written: OpenMetrics seconds, or text 0.0.4 milliseconds.
    pub(super) timestamp: Option<Decimal>,
    pub(super) exemplar: Option<Exemplar<'a>>,
}

/// An OpenMetrics exemplar.
#[derive(Debug)]
pub(super) struct Exemplar<'a> {
    pub(super) labels: Labels<'a>,
    pub(super) value: f64,
}

/// Why a line does not follow the grammar.
pub(super) type Bad = (ProblemKind, String);

fn bad<T>(kind: ProblemKind, message: impl Into<String>) -> Result<T, Bad> {
    Err((kind, message.into()))
}

fn is_metric_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_metric_char(c: u8) -> bool {
    is_metric_start(c) || c.is_ascii_digit()
}

fn is_label_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_label_char(c: u8) -> bool {
    is_label_start(c) || c.is_ascii_digit()
}

/// The end of the metric name starting at `i` (`i` when there is none).
fn metric_name_end(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(&c) if is_metric_start(c) => {}
        _ => return i,
    }
    let mut e = i + 1;
    while e < b.len() && is_metric_char(b[e]) {
        e += 1;
    }
    e
}

fn label_name_end(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(&c) if is_label_start(c) => {}
        _ => return i,
    }
    let mut e = i + 1;
    while e < b.len() && is_label_char(b[e]) {
        e += 1;
    }
    e
}

fn quote(s: &str) -> String {
    let short: String = s.chars().take(40).collect();
    if short.len() < s.len() {
        format!("{short:?}…")
    } else {
        format!("{short:?}")
    }
}

// ---------------------------------------------------------------- OpenMetrics

/// Lexes one OpenMetrics line (without its `\n`).
pub(super) fn om_line(line: &str) -> Result<Line<'_>, Bad> {
    if line.is_empty() {
        return bad(
            ProblemKind::BlankLine,
            "blank line: the OpenMetrics grammar has no empty lines",
        );
    }
    if line.starts_with('#') {
        return om_comment(line);
    }
    om_sample(line).map(Line::Sample)
}

fn om_comment(line: &str) -> Result<Line<'_>, Bad> {
    if line == "# EOF" {
        return Ok(Line::Eof);
    }
    let keyword = ["TYPE", "HELP", "UNIT"]
        .into_iter()
        .find(|k| line.get(2..6) == Some(*k) && line.starts_with("# "));
    let Some(keyword) = keyword else {
        let message = if line.trim_end().ends_with("EOF") || line.starts_with("# EOF") {
            format!(
                "{} is not the `# EOF` line: it must be exactly `# EOF`",
                quote(line)
            )
        } else {
            format!(
                "{}: apart from `# TYPE`, `# HELP`, `# UNIT` and the final `# EOF`, no line may begin with `#`",
                quote(line)
            )
        };
        return bad(ProblemKind::InvalidComment, message);
    };
    let rest = &line[6..];
    let Some(rest) = rest.strip_prefix(' ') else {
        return bad(
            ProblemKind::InvalidMetadata,
            format!("`# {keyword}` must be followed by one space and a metric name"),
        );
    };
    let b = rest.as_bytes();
    let ne = metric_name_end(b, 0);
    if ne == 0 {
        return bad(
            ProblemKind::InvalidMetadata,
            format!(
                "`# {keyword}` needs a valid metric name, found {}",
                quote(rest)
            ),
        );
    }
    let name = &rest[..ne];
    let Some(text) = rest[ne..].strip_prefix(' ') else {
        let what = match keyword {
            "TYPE" => "a type",
            "HELP" => "the help text (which may be empty)",
            _ => "the unit (which may be empty)",
        };
        return bad(
            ProblemKind::InvalidMetadata,
            format!("`# {keyword} {name}` must be followed by one space and {what}"),
        );
    };
    let what = match keyword {
        "TYPE" => MetaKind::Type(match text {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "summary" => MetricType::Summary,
            "info" => MetricType::Info,
            "stateset" => MetricType::StateSet,
            "unknown" => MetricType::Unknown,
            _ => {
                return bad(
                    ProblemKind::InvalidMetadata,
                    format!(
                        "unknown OpenMetrics type {}: counter, gauge, histogram, gaugehistogram, summary, info, stateset or unknown",
                        quote(text)
                    ),
                );
            }
        }),
        "HELP" => {
            check_om_escaped(text, "help text")?;
            MetaKind::Help
        }
        _ => {
            if !text.bytes().all(is_metric_char) {
                return bad(
                    ProblemKind::InvalidMetadata,
                    format!(
                        "unit {} may only hold the characters of a metric name",
                        quote(text)
                    ),
                );
            }
            MetaKind::Unit(text)
        }
    };
    Ok(Line::Meta(Meta { name, what }))
}

/// Checks an ABNF `escaped-string` that runs to the end of the line.
fn check_om_escaped(text: &str, what: &str) -> Result<(), Bad> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                return bad(
                    ProblemKind::InvalidEscape,
                    format!("a `\"` in the {what} must be escaped as `\\\"`"),
                );
            }
            b'\\' if i + 1 == b.len() => {
                return bad(
                    ProblemKind::InvalidEscape,
                    format!("the {what} ends with a lone backslash (write `\\\\`)"),
                );
            }
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    Ok(())
}

fn om_sample(line: &str) -> Result<Sample<'_>, Bad> {
    let b = line.as_bytes();
    let ne = metric_name_end(b, 0);
    if ne == 0 {
        return bad(
            ProblemKind::InvalidMetricName,
            format!("{} does not start with a valid metric name", quote(line)),
        );
    }
    let name = &line[..ne];
    let mut i = ne;
    let mut labels = Vec::new();
    if b.get(i) == Some(&b'{') {
        i = om_labels(line, i + 1, &mut labels)?;
    }
    match b.get(i) {
        Some(b' ') => i += 1,
        None => {
            return bad(
                ProblemKind::InvalidValue,
                format!("sample {name} has no value"),
            );
        }
        Some(_) if i == ne => {
            return bad(
                ProblemKind::InvalidMetricName,
                format!("{} is not a valid metric name", quote(token(line, 0))),
            );
        }
        Some(_) => {
            return bad(
                ProblemKind::MalformedLabels,
                "the label set must be followed by one space and the value",
            );
        }
    }
    let vtok = token(line, i);
    let value = om_number(vtok).ok_or_else(|| {
        (
            ProblemKind::InvalidValue,
            format!(
                "{} is not an OpenMetrics number (a decimal or exponent float that fits a double, +Inf, -Inf or NaN)",
                quote(vtok)
            ),
        )
    })?;
    i += vtok.len();
    let mut timestamp = None;
    let mut exemplar = None;
    if i < b.len() {
        i += 1; // the space before the timestamp or the exemplar
        let rest = &line[i..];
        if rest.starts_with('#') {
            exemplar = Some(om_exemplar(line, i)?);
        } else {
            let ttok = token(line, i);
            if ttok.is_empty() {
                return bad(
                    ProblemKind::TrailingText,
                    "more than one space, or a trailing space, after the value",
                );
            }
            timestamp = Some(om_timestamp(ttok)?);
            i += ttok.len();
            if i < b.len() {
                if !line[i..].starts_with(" #") {
                    return bad(
                        ProblemKind::TrailingText,
                        format!("unexpected {} after the timestamp", quote(&line[i..])),
                    );
                }
                exemplar = Some(om_exemplar(line, i + 1)?);
            }
        }
    }
    Ok(Sample {
        name,
        labels,
        value,
        timestamp,
        exemplar,
    })
}

fn om_timestamp(tok: &str) -> Result<Decimal, Bad> {
    match (om_real(tok), Decimal::parse(tok)) {
        (Some(_), Some(d)) => Ok(d),
        _ => bad(
            ProblemKind::InvalidTimestamp,
            format!(
                "{} is not a timestamp (a decimal or exponent number of seconds; no NaN or Inf)",
                quote(tok)
            ),
        ),
    }
}

/// The token (up to the next space) starting at `i`.
fn token(line: &str, i: usize) -> &str {
    let rest = &line[i.min(line.len())..];
    match rest.find(' ') {
        Some(e) => &rest[..e],
        None => rest,
    }
}

/// Lexes `# {labels} value [timestamp]`; `i` is at the `#`.
fn om_exemplar(line: &str, i: usize) -> Result<Exemplar<'_>, Bad> {
    let b = line.as_bytes();
    let malformed = |m: &str| -> Result<Exemplar<'_>, Bad> {
        bad(
            ProblemKind::InvalidExemplar,
            format!("malformed exemplar: {m} (an exemplar is ` # {{labels}} value [timestamp]`)"),
        )
    };
    if line.get(i..i + 3) != Some("# {") {
        return malformed("expected `# {` after the sample");
    }
    let mut labels = Vec::new();
    let mut p = om_labels(line, i + 3, &mut labels).map_err(|(_, m)| {
        (
            ProblemKind::InvalidExemplar,
            format!("malformed exemplar labels: {m}"),
        )
    })?;
    if b.get(p) != Some(&b' ') {
        return malformed("expected one space and a value after its labels");
    }
    p += 1;
    let vtok = token(line, p);
    let Some(value) = om_number(vtok) else {
        return malformed(&format!("{} is not a number", quote(vtok)));
    };
    p += vtok.len();
    if p < b.len() {
        p += 1;
        let ttok = token(line, p);
        if ttok.is_empty() || om_real(ttok).is_none() {
            return malformed(&format!("{} is not a timestamp", quote(ttok)));
        }
        p += ttok.len();
        if p < b.len() {
            return malformed("unexpected text after its timestamp");
        }
    }
    Ok(Exemplar { labels, value })
}

/// Lexes `[label *(COMMA label)] "}"` from `i` (just after `{`); returns the
/// index after `}`.
fn om_labels<'a>(line: &'a str, mut i: usize, out: &mut Labels<'a>) -> Result<usize, Bad> {
    let b = line.as_bytes();
    if b.get(i) == Some(&b'}') {
        return Ok(i + 1);
    }
    loop {
        let ne = label_name_end(b, i);
        if ne == i {
            return bad(
                ProblemKind::InvalidLabelName,
                format!(
                    "expected a label name ([a-zA-Z_][a-zA-Z0-9_]*) at {}",
                    quote(&line[i..])
                ),
            );
        }
        let name = &line[i..ne];
        if b.get(ne) != Some(&b'=') || b.get(ne + 1) != Some(&b'"') {
            return bad(
                ProblemKind::MalformedLabels,
                format!("label {name} must be followed by `=\"`"),
            );
        }
        let (value, end) = om_label_value(line, ne + 2).ok_or_else(|| {
            (
                ProblemKind::MalformedLabels,
                format!("the value of label {name} is not terminated by `\"`"),
            )
        })?;
        out.push((name, value));
        match b.get(end) {
            Some(b',') if b.get(end + 1) == Some(&b'}') => {
                return bad(
                    ProblemKind::MalformedLabels,
                    "a comma must be followed by another label (no trailing comma in OpenMetrics)",
                );
            }
            Some(b',') => i = end + 1,
            Some(b'}') => return Ok(end + 1),
            _ => {
                return bad(
                    ProblemKind::MalformedLabels,
                    format!("label {name} must be followed by `,` or `}}` (no spaces)"),
                );
            }
        }
    }
}

/// Decodes an OpenMetrics label value from `i` (after the opening quote):
/// `\\`, `\"` and `\n` are escapes, and a backslash before any other
/// character stands for itself (`BS normal-char`). Returns the value and
/// the index after the closing quote.
fn om_label_value(line: &str, i: usize) -> Option<(Cow<'_, str>, usize)> {
    let b = line.as_bytes();
    let mut j = i;
    let mut escaped = false;
    while j < b.len() {
        match b[j] {
            b'"' => break,
            b'\\' => {
                escaped = true;
                j += 2;
            }
            _ => j += 1,
        }
    }
    if j >= b.len() {
        return None;
    }
    let raw = &line[i..j];
    let value = if escaped {
        Cow::Owned(crate::parse::unescape_label(raw))
    } else {
        Cow::Borrowed(raw)
    };
    Some((value, j + 1))
}

// ------------------------------------------------------------- text 0.0.4

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_blank(b[i]) {
        i += 1;
    }
    i
}

/// The blank-separated token at `i` and the index after it.
fn text_token(line: &str, i: usize) -> (&str, usize) {
    let b = line.as_bytes();
    let s = skip_blanks(b, i);
    let mut e = s;
    while e < b.len() && !is_blank(b[e]) {
        e += 1;
    }
    (&line[s..e], e)
}

/// Lexes one text 0.0.4 line (without its `\n`).
pub(super) fn text_line(line: &str) -> Result<Line<'_>, Bad> {
    let b = line.as_bytes();
    let i = skip_blanks(b, 0);
    match b.get(i) {
        None => Ok(Line::Blank),
        Some(b'#') => text_comment(line, i + 1),
        Some(_) => text_sample(line, i).map(Line::Sample),
    }
}

fn text_comment(line: &str, i: usize) -> Result<Line<'_>, Bad> {
    let (keyword, ke) = text_token(line, i);
    if keyword != "HELP" && keyword != "TYPE" {
        return Ok(Line::Comment);
    }
    let (name, ne) = text_token(line, ke);
    if name.is_empty() {
        return bad(
            ProblemKind::InvalidMetadata,
            format!("`# {keyword}` needs a metric name"),
        );
    }
    if metric_name_end(name.as_bytes(), 0) != name.len() {
        return bad(
            ProblemKind::InvalidMetadata,
            format!(
                "`# {keyword}` names {}, not a valid metric name",
                quote(name)
            ),
        );
    }
    if keyword == "HELP" {
        let text = &line[skip_blanks(line.as_bytes(), ne)..];
        let b = text.as_bytes();
        let mut k = 0;
        while k < b.len() {
            if b[k] == b'\\' {
                match b.get(k + 1) {
                    Some(b'\\' | b'n') => k += 2,
                    _ => {
                        return bad(
                            ProblemKind::InvalidEscape,
                            "a backslash in HELP text must be escaped as `\\\\` (the only escapes are `\\\\` and `\\n`)",
                        );
                    }
                }
            } else {
                k += 1;
            }
        }
        return Ok(Line::Meta(Meta {
            name,
            what: MetaKind::Help,
        }));
    }
    let (word, te) = text_token(line, ne);
    let kind = match word {
        "counter" => MetricType::Counter,
        "gauge" => MetricType::Gauge,
        "histogram" => MetricType::Histogram,
        "summary" => MetricType::Summary,
        "untyped" => MetricType::Unknown,
        "" => {
            return bad(
                ProblemKind::InvalidMetadata,
                format!("`# TYPE {name}` needs a type"),
            );
        }
        _ => {
            return bad(
                ProblemKind::InvalidMetadata,
                format!(
                    "unknown text-format type {}: counter, gauge, histogram, summary or untyped",
                    quote(word)
                ),
            );
        }
    };
    if !text_token(line, te).0.is_empty() {
        return bad(
            ProblemKind::InvalidMetadata,
            "a `# TYPE` line has exactly two tokens after TYPE",
        );
    }
    Ok(Line::Meta(Meta {
        name,
        what: MetaKind::Type(kind),
    }))
}

fn text_sample(line: &str, i: usize) -> Result<Sample<'_>, Bad> {
    let b = line.as_bytes();
    let ne = metric_name_end(b, i);
    if ne == i || b.get(ne).is_some_and(|&c| !is_blank(c) && c != b'{') {
        return bad(
            ProblemKind::InvalidMetricName,
            format!(
                "{} is not a valid metric name",
                quote(text_token(line, i).0)
            ),
        );
    }
    let name = &line[i..ne];
    let mut p = skip_blanks(b, ne);
    let mut labels = Vec::new();
    if b.get(p) == Some(&b'{') {
        p = text_labels(line, p + 1, &mut labels)?;
        if b.get(p).is_some_and(|&c| !is_blank(c)) {
            return bad(
                ProblemKind::MalformedLabels,
                "the label set must be followed by a blank and the value",
            );
        }
    }
    let (vtok, ve) = text_token(line, p);
    if vtok.is_empty() {
        return bad(
            ProblemKind::InvalidValue,
            format!("sample {name} has no value"),
        );
    }
    let value = go_float(vtok).ok_or_else(|| {
        (
            ProblemKind::InvalidValue,
            format!(
                "{} is not a float (Go ParseFloat syntax, in range)",
                quote(vtok)
            ),
        )
    })?;
    let (ttok, te) = text_token(line, ve);
    let mut timestamp = None;
    if !ttok.is_empty() {
        if go_int64(ttok).is_none() {
            return bad(
                ProblemKind::InvalidTimestamp,
                format!(
                    "{} is not a timestamp (an int64 of milliseconds since the epoch)",
                    quote(ttok)
                ),
            );
        }
        timestamp = Decimal::parse(ttok.trim_start_matches('+'));
        let (more, _) = text_token(line, te);
        if !more.is_empty() {
            return bad(
                ProblemKind::TrailingText,
                format!("unexpected {} after the timestamp", quote(more)),
            );
        }
    }
    Ok(Sample {
        name,
        labels,
        value,
        timestamp,
        exemplar: None,
    })
}

/// Lexes a text 0.0.4 label set from `i` (after `{`): blanks between
/// tokens and a trailing comma are allowed. Returns the index after `}`.
fn text_labels<'a>(line: &'a str, mut i: usize, out: &mut Labels<'a>) -> Result<usize, Bad> {
    let b = line.as_bytes();
    loop {
        i = skip_blanks(b, i);
        if b.get(i) == Some(&b'}') {
            return Ok(i + 1);
        }
        let ne = label_name_end(b, i);
        if ne == i {
            return bad(
                ProblemKind::InvalidLabelName,
                format!(
                    "expected a label name ([a-zA-Z_][a-zA-Z0-9_]*) at {}",
                    quote(&line[i..])
                ),
            );
        }
        let name = &line[i..ne];
        let eq = skip_blanks(b, ne);
        let q = skip_blanks(b, eq + 1);
        if b.get(eq) != Some(&b'=') || b.get(q) != Some(&b'"') {
            return bad(
                ProblemKind::MalformedLabels,
                format!("label {name} must be followed by `=` and a quoted value"),
            );
        }
        let (value, end) = text_label_value(line, q + 1, name)?;
        out.push((name, value));
        let n = skip_blanks(b, end);
        match b.get(n) {
            Some(b',') => i = n + 1,
            Some(b'}') => return Ok(n + 1),
            _ => {
                return bad(
                    ProblemKind::MalformedLabels,
                    format!("label {name} must be followed by `,` or `}}`"),
                );
            }
        }
    }
}

fn text_label_value<'a>(line: &'a str, i: usize, name: &str) -> Result<(Cow<'a, str>, usize), Bad> {
    let b = line.as_bytes();
    let mut j = i;
    let mut escaped = false;
    while j < b.len() && b[j] != b'"' {
        if b[j] == b'\\' {
            match b.get(j + 1) {
                Some(b'\\' | b'"' | b'n') => {}
                Some(_) => {
                    return bad(
                        ProblemKind::InvalidEscape,
                        format!(
                            "the value of label {name} has a backslash that is not `\\\\`, `\\\"` or `\\n`"
                        ),
                    );
                }
                None => break,
            }
            escaped = true;
            j += 2;
        } else {
            j += 1;
        }
    }
    if j >= b.len() {
        return bad(
            ProblemKind::MalformedLabels,
            format!("the value of label {name} is not terminated by `\"`"),
        );
    }
    let raw = &line[i..j];
    let value = if escaped {
        Cow::Owned(crate::parse::unescape_label(raw))
    } else {
        Cow::Borrowed(raw)
    };
    Ok((value, j + 1))
}
