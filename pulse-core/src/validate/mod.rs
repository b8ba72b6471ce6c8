//! Strict validation: every MUST of OpenMetrics 1.0, and the rules of the
//! Prometheus text format 0.0.4 for bodies in that format.
//!
//! Why a second reader: [`parse`](mod@crate::parse) is built for scraping. It
//! is fast, reports a bad line and uses the rest, and never judges the
//! semantics of what it reads. Someone who writes an exporter wants the
//! opposite: every problem, each with its line, the way
//! `promtool check metrics` reports them. So this module reads the body
//! again with the exact grammar (single spaces, no trailing blanks, the
//! ABNF's number syntax, `# EOF` once at the end) and then applies the
//! semantic rules per family and per metric point: counter values and
//! suffixes, histogram buckets, summaries, statesets, info, exemplars,
//! units, metadata placement, grouping and timestamps.
//!
//! The problems are typed ([`ProblemKind`]) and carry a message that says
//! what is wrong. It lives behind the `validate` feature, so the scraper
//! and the main WebAssembly build do not carry it.

mod number;
mod rules;
mod syntax;
#[cfg(test)]
mod tests;

pub use crate::expo::Format;

macro_rules! problem_kinds {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// What kind of rule a [`Problem`] breaks. [`ProblemKind::as_str`]
        /// gives a stable name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ProblemKind {
            $($(#[$doc])* $name,)*
        }

        impl ProblemKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [ProblemKind] = &[$(ProblemKind::$name,)*];

            /// The stable name of the kind, e.g. `"MissingInfBucket"`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ProblemKind::$name => stringify!($name),)*
                }
            }
        }
    };
}

problem_kinds! {
    /// A line is not valid UTF-8.
    InvalidUtf8,
    /// The body starts with a byte order mark.
    ByteOrderMark,
    /// A line ends with a carriage return.
    CarriageReturn,
    /// An empty line in OpenMetrics.
    BlankLine,
    /// A text 0.0.4 body whose last line does not end with `\n`.
    MissingFinalNewline,
    /// An OpenMetrics body without `# EOF`.
    MissingEof,
    /// Anything after `# EOF`.
    ContentAfterEof,
    /// An OpenMetrics line beginning with `#` that is not metadata or `# EOF`.
    InvalidComment,
    /// A malformed `# TYPE`, `# HELP` or `# UNIT` line.
    InvalidMetadata,
    /// A metric name outside `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    InvalidMetricName,
    /// A label name outside `[a-zA-Z_][a-zA-Z0-9_]*`.
    InvalidLabelName,
    /// A label set with missing or extra `=`, `"`, `,` or `}`.
    MalformedLabels,
    /// A backslash escape the format does not allow.
    InvalidEscape,
    /// A sample value that is not a number of the format.
    InvalidValue,
    /// A timestamp that is not a timestamp of the format.
    InvalidTimestamp,
    /// A malformed exemplar.
    InvalidExemplar,
    /// Extra spaces or text at the end of a sample line.
    TrailingText,
    /// An OpenMetrics metric family or label name beginning with `_`.
    ReservedName,
    /// The same label name twice in one label set.
    DuplicateLabelName,
    /// More than one `# TYPE`, `# HELP` or `# UNIT` line for a family.
    DuplicateMetadata,
    /// A metadata line after samples of its family.
    MetadataAfterSamples,
    /// A metric family that appears again after another one.
    FamilyInterleaved,
    /// Two families whose sample names can clash.
    NameClash,
    /// A metric (label set) that appears again after another one.
    MetricInterleaved,
    /// A sample name whose suffix its family's type does not allow.
    WrongSuffix,
    /// A unit that is not the suffix of the family name.
    UnitMismatch,
    /// A unit on an info or stateset family.
    UnitNotAllowed,
    /// NaN where a counter-like value is required.
    NanValue,
    /// A negative value where a counter-like value is required.
    NegativeValue,
    /// A fractional count or bucket value.
    NonIntegerValue,
    /// A sample without a label its type requires (`le`, `quantile`, the state).
    MissingLabel,
    /// An `le` or `quantile` label whose value is not allowed.
    InvalidLabelValue,
    /// A label name the type reserves (`le`, `quantile`) on another sample.
    ReservedLabel,
    /// Histogram buckets not in increasing `le` order, or a repeated `le`.
    BucketOrder,
    /// A bucket value below the previous bucket's (buckets are cumulative).
    BucketNotCumulative,
    /// A histogram metric point without an `le="+Inf"` bucket.
    MissingInfBucket,
    /// A `_count`/`_gcount` that differs from the `+Inf` bucket.
    CountMismatch,
    /// `_sum` without `_count`, or `_count` without `_sum` (and `_g…`).
    SumCountPairing,
    /// A histogram with negative buckets and a `_sum`.
    SumWithNegativeBuckets,
    /// A negative `_gsum` without negative buckets.
    NegativeGsum,
    /// Text 0.0.4 summary quantiles not in increasing order.
    QuantileOrder,
    /// A stateset sample whose value is not 0 or 1.
    StateSetValue,
    /// An info sample whose value is not 1.
    InfoValue,
    /// An exemplar on a sample that may not have one.
    ExemplarNotAllowed,
    /// Exemplar label names and values longer than 128 characters.
    ExemplarTooLong,
    /// A bucket exemplar whose value is above the bucket's `le`.
    ExemplarOutOfRange,
    /// Samples of one metric with and without timestamps.
    TimestampMix,
    /// Timestamps of one metric that go backwards.
    TimestampOrder,
    /// Two samples with the same name, labels (and timestamp).
    DuplicateSample,
}

impl std::fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}: {message}")]
pub struct Problem {
    /// 1-based line number (the last line for problems of the whole body).
    pub line: u32,
    /// Which rule.
    pub kind: ProblemKind,
    /// What is wrong, for people.
    pub message: String,
}

/// The result of a validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The format the body was checked as.
    pub format: Format,
    /// Every problem, in line order.
    pub problems: Vec<Problem>,
}

impl Report {
    /// True when the body broke no rule.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Validates a body, as OpenMetrics when it has a `# EOF` line (see
/// [`detect_format`]), else as text 0.0.4.
///
/// ```
/// let report = pulse_core::validate::validate("# TYPE a counter\na_total -1\n# EOF\n");
/// assert_eq!(report.problems[0].line, 2);
/// assert_eq!(report.problems[0].kind, pulse_core::validate::ProblemKind::NegativeValue);
/// assert!(pulse_core::validate::validate("# TYPE a counter\na_total 1\n# EOF\n").is_valid());
/// ```
pub fn validate(body: &str) -> Report {
    validate_bytes(body.as_bytes())
}

/// [`validate`] for bytes as received; lines that are not UTF-8 are problems.
pub fn validate_bytes(body: &[u8]) -> Report {
    validate_as(body, detect_format(body))
}

/// Validates a body as the given format.
pub fn validate_as(body: &[u8], format: Format) -> Report {
    let mut problems = rules::check(body, format == Format::OpenMetrics);
    problems.sort_by_key(|p| p.line);
    Report { format, problems }
}

/// OpenMetrics when some line starts with `# EOF` (or `#EOF`), or when the
/// body is empty (an empty OpenMetrics body lacks its `# EOF`); otherwise
/// the Prometheus text format 0.0.4.
pub fn detect_format(body: &[u8]) -> Format {
    if body.trim_ascii().is_empty() {
        return Format::OpenMetrics;
    }
    let eof = body.split(|&c| c == b'\n').any(|line| {
        line.strip_prefix(b"#")
            .is_some_and(|rest| rest.trim_ascii_start().starts_with(b"EOF"))
    });
    if eof {
        Format::OpenMetrics
    } else {
        Format::PrometheusText
    }
}
