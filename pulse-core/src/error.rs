//! Typed errors. Every parse error says where (line) and why (kind).

use thiserror::Error;

/// Why one line of an exposition body was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineErrorKind {
    /// The metric name is missing or contains a character outside `[a-zA-Z0-9_:]`.
    InvalidMetricName,
    /// A label name is missing or invalid.
    InvalidLabelName,
    /// A label value did not start with `"` or never ended.
    UnterminatedLabelValue,
    /// A backslash escape other than `\\`, `\"`, `\n` in a text-format body
    /// (OpenMetrics keeps any other escape as written).
    InvalidEscape,
    /// The label block is malformed (missing `=`, `,` or `}`).
    MalformedLabels,
    /// The value is missing or is not a Go-syntax float.
    InvalidValue,
    /// The timestamp is not an integer (text) or a number (OpenMetrics).
    InvalidTimestamp,
    /// The exemplar after `#` is malformed.
    InvalidExemplar,
    /// Unexpected text after the value/timestamp.
    TrailingGarbage,
    /// A `# TYPE` line names an unknown type or is incomplete.
    InvalidTypeLine,
    /// A `# HELP` or `# UNIT` line is incomplete.
    InvalidMetadataLine,
    /// Content after `# EOF`.
    AfterEof,
    /// The line is not valid UTF-8.
    InvalidUtf8,
    /// The body has only plain `#` comments: no sample and no metadata line.
    CommentsOnly,
}

impl std::fmt::Display for LineErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            LineErrorKind::InvalidMetricName => "invalid metric name",
            LineErrorKind::InvalidLabelName => "invalid label name",
            LineErrorKind::UnterminatedLabelValue => "unterminated label value",
            LineErrorKind::InvalidEscape => "invalid escape sequence in label value",
            LineErrorKind::MalformedLabels => "malformed label set",
            LineErrorKind::InvalidValue => "invalid sample value",
            LineErrorKind::InvalidTimestamp => "invalid timestamp",
            LineErrorKind::InvalidExemplar => "invalid exemplar",
            LineErrorKind::TrailingGarbage => "unexpected text after the sample",
            LineErrorKind::InvalidTypeLine => "invalid # TYPE line",
            LineErrorKind::InvalidMetadataLine => "invalid # HELP or # UNIT line",
            LineErrorKind::AfterEof => "content after # EOF",
            LineErrorKind::InvalidUtf8 => "line is not valid UTF-8",
            LineErrorKind::CommentsOnly => "only comments: no sample and no # HELP/# TYPE line",
        };
        f.write_str(s)
    }
}

/// One rejected line. Parsing continues after it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {kind}: {snippet:?}")]
pub struct LineError {
    /// 1-based line number.
    pub line: u32,
    /// What was wrong.
    pub kind: LineErrorKind,
    /// The start of the offending line (at most 80 characters), for messages.
    pub snippet: String,
}

/// The body as a whole is not exposition text; the scrape counts as failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BodyError {
    /// Nothing but whitespace.
    #[error("empty body")]
    Empty,
    /// Looks like an HTML page (an error page from a proxy or login wall).
    #[error("body is an HTML page, not Prometheus text")]
    Html,
    /// Looks like JSON (e.g. LiteLLM's 401 body is a JSON string).
    #[error("body is JSON, not Prometheus text")]
    Json,
    /// No line parsed as a sample or metadata; carries the first line error.
    #[error("no valid exposition line; first problem: {0}")]
    NoValidLines(LineError),
}
