//! The parsed form of one exposition body: families, samples and labels.
//!
//! Everything borrows from the scraped body. Labels of all samples live in one
//! flat vector and each sample refers to its range, so parsing a body costs a
//! handful of allocations, not one per sample. Label values stay as written
//! and are decoded on access ([`Label::value`]).

use std::borrow::Cow;
use std::ops::Range;

use crate::error::LineError;

/// The text format a body was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text exposition format 0.0.4.
    PrometheusText,
    /// OpenMetrics 1.0 text (recognised by its `# EOF` terminator).
    OpenMetrics,
}

/// The type a family announces in its `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// `counter`: only ever grows, except when the process restarts.
    Counter,
    /// `gauge`: a current value that may go up and down.
    Gauge,
    /// `histogram`: `_bucket`, `_sum`, `_count` (and `_created`) samples.
    Histogram,
    /// OpenMetrics `gaugehistogram`.
    GaugeHistogram,
    /// `summary`: quantiles, `_sum`, `_count`.
    Summary,
    /// OpenMetrics `info`.
    Info,
    /// OpenMetrics `stateset`.
    StateSet,
    /// `untyped` / `unknown`, or no `# TYPE` line at all.
    Unknown,
}

impl MetricType {
    /// The keyword used in `# TYPE` lines (the Prometheus text spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "untyped",
        }
    }
}

/// One `name="value"` pair.
///
/// A label parsed from a body keeps its value as written and decodes the
/// escapes only when [`Label::value`] is called: escapes are rare, and
/// decoding them while parsing cost an allocation per escaped value and a
/// destructor pass over every label. Without owned data a label is `Copy`.
#[derive(Clone, Copy)]
pub struct Label<'a> {
    /// Label name, e.g. `requested_model`.
    pub name: &'a str,
    /// The value, still escaped when `escaped` is true.
    value: &'a str,
    /// `value` holds backslash escapes (validated by the lexer).
    escaped: bool,
}

impl<'a> Label<'a> {
    /// A label with an already decoded value.
    pub fn new(name: &'a str, value: &'a str) -> Self {
        Label {
            name,
            value,
            escaped: false,
        }
    }

    /// A label whose value is exposition text between the quotes; `escaped`
    /// says it holds escapes, each of them valid.
    pub(crate) fn from_raw(name: &'a str, value: &'a str, escaped: bool) -> Self {
        Label {
            name,
            value,
            escaped,
        }
    }

    /// The value as written between the quotes, and whether it holds escapes.
    ///
    /// When it does, they are `\\`, `\"` and `\n`, and in OpenMetrics also
    /// a backslash before any other character, which stands for itself.
    ///
    /// ```
    /// let expo = pulse_core::parse::parse("x{a=\"q\\\"\",b=\"p\"} 1\n").unwrap();
    /// let labels = expo.labels_of(&expo.samples[0]);
    /// assert_eq!(labels[0].written(), ("q\\\"", true));
    /// assert_eq!(labels[0].value(), "q\"");
    /// assert_eq!(labels[1].written(), ("p", false));
    /// ```
    pub fn written(&self) -> (&'a str, bool) {
        (self.value, self.escaped)
    }

    /// The value with `\\`, `\"` and `\n` decoded (any other backslash is
    /// kept); borrowed unless it had escapes.
    #[inline]
    pub fn value(&self) -> Cow<'a, str> {
        if self.escaped {
            Cow::Owned(crate::parse::unescape_label(self.value))
        } else {
            Cow::Borrowed(self.value)
        }
    }
}

impl PartialEq for Label<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && (self.value == other.value && self.escaped == other.escaped
                // `\z` and `\\z` are written differently and mean the same.
                || (self.escaped || other.escaped) && self.value() == other.value())
    }
}

impl Eq for Label<'_> {}

impl std::fmt::Debug for Label<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Label")
            .field("name", &self.name)
            .field("value", &self.value())
            .finish()
    }
}

/// One metric family: a `# TYPE` (and optional `# HELP`/`# UNIT`) block.
#[derive(Debug, Clone, PartialEq)]
pub struct Family<'a> {
    /// Family name exactly as written in its `# TYPE`/`# HELP` line
    /// (or the sample name for samples that came without metadata).
    pub name: &'a str,
    /// Announced type.
    pub kind: MetricType,
    /// `# HELP` text with escapes decoded, if present.
    pub help: Option<Cow<'a, str>>,
    /// OpenMetrics `# UNIT`, if present.
    pub unit: Option<&'a str>,
    /// The range of [`Exposition::samples`] that belongs to this family.
    pub samples: Range<u32>,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// Sample name, e.g. `litellm_spend_metric_total` or `..._created`.
    pub name: &'a str,
    /// The range of [`Exposition::labels`] holding this sample's labels, in written order.
    pub labels: Range<u32>,
    /// The value (may be NaN or ±Inf).
    pub value: f64,
    /// Optional timestamp, in milliseconds since the Unix epoch
    /// (OpenMetrics seconds are converted). `None` also for an OpenMetrics
    /// timestamp beyond the ±9.2e15 s that `i64` milliseconds hold.
    pub timestamp_ms: Option<i64>,
    /// Index of the owning family in [`Exposition::families`].
    pub family: u32,
    /// 1-based line number in the body.
    pub line: u32,
}

/// A parsed body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Exposition<'a> {
    /// Which syntax the body used.
    pub format: Option<Format>,
    /// Families in the order they appeared.
    pub families: Vec<Family<'a>>,
    /// All samples, grouped by family, in the order they appeared.
    pub samples: Vec<Sample<'a>>,
    /// Flat storage for every sample's labels.
    pub labels: Vec<Label<'a>>,
    /// Lines that could not be parsed; parsing went on after each.
    pub errors: Vec<LineError>,
}

impl<'a> Exposition<'a> {
    /// The labels of `sample`.
    pub fn labels_of(&self, sample: &Sample<'a>) -> &[Label<'a>] {
        self.labels
            .get(sample.labels.start as usize..sample.labels.end as usize)
            .unwrap_or(&[])
    }

    /// The decoded value of label `name` on `sample`, if present.
    pub fn label(&self, sample: &Sample<'a>, name: &str) -> Option<Cow<'a, str>> {
        self.labels_of(sample)
            .iter()
            .find(|l| l.name == name)
            .map(Label::value)
    }

    /// The family that owns `sample`.
    pub fn family_of(&self, sample: &Sample<'a>) -> Option<&Family<'a>> {
        self.families.get(sample.family as usize)
    }

    /// The samples of `family`.
    pub fn samples_of(&self, family: &Family<'a>) -> &[Sample<'a>] {
        self.samples
            .get(family.samples.start as usize..family.samples.end as usize)
            .unwrap_or(&[])
    }
}
