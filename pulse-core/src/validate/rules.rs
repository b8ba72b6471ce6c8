//! The semantic rules: families, metric points, values and timestamps.
//!
//! Lines come from [`syntax`](super::syntax); this module keeps the
//! current family, groups its samples into metrics (label sets) and metric
//! points (a label set at one timestamp), and checks each rule where it can
//! first be decided: per sample as it arrives, per family when it ends.

use std::borrow::Cow;

use rustc_hash::{FxHashMap, FxHashSet};

use super::number::{Decimal, go_float, om_number};
use super::syntax::{self, Labels, Line, Meta, MetaKind, Sample};
use super::{Problem, ProblemKind};
use crate::expo::MetricType;

/// The most label-name and label-value characters an exemplar may have.
const EXEMPLAR_MAX_CHARS: usize = 128;

/// Runs every rule over `body`.
pub(super) fn check(body: &[u8], om: bool) -> Vec<Problem> {
    let mut c = Checker {
        om,
        problems: Vec::new(),
        family: None,
        families: FxHashMap::default(),
        reserved: FxHashMap::default(),
    };
    let mut content = body;
    if let Some(rest) = body.strip_prefix(b"\xEF\xBB\xBF") {
        c.problem(
            1,
            ProblemKind::ByteOrderMark,
            "the body starts with a byte order mark, which must not be used",
        );
        content = rest;
    }
    let mut pieces: Vec<&[u8]> = content.split(|&b| b == b'\n').collect();
    let ends_with_newline = content.last() == Some(&b'\n');
    if ends_with_newline || content.is_empty() {
        pieces.pop();
    }
    let last = u32::try_from(pieces.len().max(1)).unwrap_or(u32::MAX);
    let mut eof = false;
    let mut after_eof_reported = false;
    for (i, raw) in pieces.iter().enumerate() {
        let no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if eof {
            if !after_eof_reported {
                c.problem(
                    no,
                    ProblemKind::ContentAfterEof,
                    "content after `# EOF`: it must be the last line",
                );
                after_eof_reported = true;
            }
            continue;
        }
        let Ok(mut line) = std::str::from_utf8(raw) else {
            c.problem(no, ProblemKind::InvalidUtf8, "the line is not valid UTF-8");
            c.break_family();
            continue;
        };
        if let Some(stripped) = line.strip_suffix('\r') {
            c.problem(
                no,
                ProblemKind::CarriageReturn,
                "the line ends with a carriage return: lines end with `\\n` alone",
            );
            line = stripped;
        }
        let lexed = if om {
            syntax::om_line(line)
        } else {
            syntax::text_line(line)
        };
        match lexed {
            Ok(Line::Eof) => eof = true,
            Ok(Line::Blank | Line::Comment) => {}
            Ok(Line::Meta(meta)) => c.meta(no, meta),
            Ok(Line::Sample(sample)) => c.sample(no, sample),
            Err((kind, message)) => {
                c.problem(no, kind, message);
                c.break_family();
            }
        }
    }
    c.finish_family();
    if om && !eof {
        c.problem(
            last,
            ProblemKind::MissingEof,
            "the body does not end with `# EOF`",
        );
    }
    if !om && !content.is_empty() && !ends_with_newline {
        c.problem(
            last,
            ProblemKind::MissingFinalNewline,
            "the last line must end with a line feed",
        );
    }
    c.problems
}

/// A label set as a map key: decoded, sorted by name.
type Key = Vec<(String, String)>;

fn key_of(labels: &Labels<'_>, skip: Option<&str>) -> Key {
    let mut key: Key = labels
        .iter()
        .filter(|(n, _)| Some(*n) != skip)
        .map(|(n, v)| ((*n).to_owned(), v.to_string()))
        .collect();
    key.sort();
    key
}

fn show(key: &Key) -> String {
    if key.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = key.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", parts.join(","))
}

fn label<'l>(labels: &'l Labels<'_>, name: &str) -> Option<&'l Cow<'l, str>> {
    labels.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
}

/// The sample-name suffixes a type allows, OpenMetrics or text 0.0.4.
fn suffixes(kind: MetricType, om: bool) -> &'static [&'static str] {
    match (kind, om) {
        (MetricType::Counter, true) => &["_total", "_created"],
        (MetricType::Histogram, true) => &["_bucket", "_count", "_sum", "_created"],
        (MetricType::GaugeHistogram, _) => &["_bucket", "_gcount", "_gsum"],
        (MetricType::Summary, true) => &["", "_count", "_sum", "_created"],
        (MetricType::Info, _) => &["_info"],
        (MetricType::Histogram, false) => &["_bucket", "_count", "_sum"],
        (MetricType::Summary, false) => &["", "_count", "_sum"],
        _ => &[""],
    }
}

fn type_name(kind: MetricType, om: bool) -> &'static str {
    match (kind, om) {
        (MetricType::Unknown, true) => "unknown",
        _ => kind.as_str(),
    }
}

/// One bucket of a histogram metric point.
struct Bucket {
    le: f64,
    value: f64,
    line: u32,
}

/// The samples of one metric point (a label set at one timestamp) of a
/// histogram, gauge histogram or summary.
#[derive(Default)]
struct Point {
    labels: Key,
    last_line: u32,
    buckets: Vec<Bucket>,
    count: Option<f64>,
    sum: Option<f64>,
    quantiles: Vec<(f64, u32)>,
}

/// The family being read.
struct Family<'a> {
    name: &'a str,
    first_line: u32,
    kind: MetricType,
    type_line: Option<u32>,
    help_line: Option<u32>,
    unit_line: Option<u32>,
    /// A non-empty unit.
    unit: Option<&'a str>,
    samples: u32,
    /// A line of this family did not parse: point rules would guess.
    broken: bool,
    /// Its name appeared before: already reported, no clash check.
    reopened: bool,
    group: Option<Key>,
    group_ts: Option<Option<Decimal>>,
    groups: FxHashSet<Key>,
    series: FxHashSet<(String, Key, Option<Decimal>)>,
    points: Vec<Point>,
    point_index: FxHashMap<(Key, Option<Decimal>), usize>,
}

struct Checker<'a> {
    om: bool,
    problems: Vec<Problem>,
    family: Option<Family<'a>>,
    /// Family names seen, with their first line.
    families: FxHashMap<&'a str, u32>,
    /// Sample names each family can produce, with the family's name.
    reserved: FxHashMap<String, &'a str>,
}

impl<'a> Checker<'a> {
    fn problem(&mut self, line: u32, kind: ProblemKind, message: impl Into<String>) {
        self.problems.push(Problem {
            line,
            kind,
            message: message.into(),
        });
    }

    fn break_family(&mut self) {
        if let Some(f) = &mut self.family {
            f.broken = true;
        }
    }

    fn start_family(&mut self, name: &'a str, line: u32, kind: MetricType) {
        self.finish_family();
        let mut reopened = false;
        if let Some(&first) = self.families.get(name) {
            self.problem(
                line,
                ProblemKind::FamilyInterleaved,
                format!(
                    "metric family {name} already appeared on line {first}: a family's lines must form one uninterrupted group"
                ),
            );
            reopened = true;
        } else {
            self.families.insert(name, line);
        }
        if self.om && name.starts_with('_') {
            self.problem(
                line,
                ProblemKind::ReservedName,
                format!("metric family names beginning with `_` are reserved: {name}"),
            );
        }
        self.family = Some(Family {
            name,
            first_line: line,
            kind,
            type_line: None,
            help_line: None,
            unit_line: None,
            unit: None,
            samples: 0,
            broken: false,
            reopened,
            group: None,
            group_ts: None,
            groups: FxHashSet::default(),
            series: FxHashSet::default(),
            points: Vec::new(),
            point_index: FxHashMap::default(),
        });
    }

    fn meta(&mut self, no: u32, meta: Meta<'a>) {
        let current = self.family.as_ref().is_some_and(|f| f.name == meta.name);
        if !current {
            self.start_family(meta.name, no, MetricType::Unknown);
        }
        let om = self.om;
        let Some(f) = self.family.as_mut() else {
            return;
        };
        let (keyword, seen) = match meta.what {
            MetaKind::Type(_) => ("TYPE", f.type_line),
            MetaKind::Help => ("HELP", f.help_line),
            MetaKind::Unit(_) => ("UNIT", f.unit_line),
        };
        let name = f.name;
        let after_samples = f.samples > 0;
        match meta.what {
            MetaKind::Type(kind) => {
                f.type_line.get_or_insert(no);
                if seen.is_none() {
                    f.kind = kind;
                }
            }
            MetaKind::Help => {
                f.help_line.get_or_insert(no);
            }
            MetaKind::Unit(unit) => {
                f.unit_line.get_or_insert(no);
                if seen.is_none() && !unit.is_empty() {
                    f.unit = Some(unit);
                }
            }
        }
        if after_samples {
            let rule = if om {
                "metadata must come before the family's samples"
            } else {
                "HELP and TYPE lines must come before the metric's samples"
            };
            self.problem(
                no,
                ProblemKind::MetadataAfterSamples,
                format!("# {keyword} {name} after samples of {name}: {rule}"),
            );
        } else if let Some(first) = seen {
            self.problem(
                no,
                ProblemKind::DuplicateMetadata,
                format!("a second # {keyword} line for {name} (the first is on line {first})"),
            );
        }
    }

    fn sample(&mut self, no: u32, s: Sample<'a>) {
        let om = self.om;
        let (fits, bare) = match &self.family {
            Some(f) => {
                let allowed = suffixes(f.kind, om);
                let fits = s
                    .name
                    .strip_prefix(f.name)
                    .is_some_and(|suffix| allowed.contains(&suffix));
                (fits, s.name == f.name && !allowed.contains(&""))
            }
            None => (false, false),
        };
        if bare {
            if let Some(f) = &mut self.family {
                f.samples += 1;
                f.broken = true;
                let (name, kind) = (f.name, f.kind);
                let names: Vec<String> = suffixes(kind, om)
                    .iter()
                    .map(|x| format!("{name}{x}"))
                    .collect();
                self.problem(
                    no,
                    ProblemKind::WrongSuffix,
                    format!(
                        "a sample of {} {name} must be named {}, not {name}",
                        type_name(kind, om),
                        names.join(" or ")
                    ),
                );
            }
            return;
        }
        if !fits {
            self.start_family(s.name, no, MetricType::Unknown);
        }
        let Some(mut f) = self.family.take() else {
            return;
        };
        f.samples += 1;
        self.check_sample(&mut f, no, &s);
        self.family = Some(f);
    }

    fn check_sample(&mut self, f: &mut Family<'a>, no: u32, s: &Sample<'a>) {
        let om = self.om;
        if let Some(dup) = first_duplicate(&s.labels) {
            self.problem(
                no,
                ProblemKind::DuplicateLabelName,
                format!("label {dup} appears twice: label names must be unique in a label set"),
            );
            f.broken = true;
            return;
        }
        if om {
            for (n, _) in &s.labels {
                if n.starts_with('_') {
                    self.problem(
                        no,
                        ProblemKind::ReservedName,
                        format!("label names beginning with `_` are reserved: {n}"),
                    );
                }
            }
        }
        let suffix = &s.name[f.name.len()..];
        let kind = f.kind;
        self.check_exemplar(f, no, s, suffix);
        self.check_value(f, no, s, suffix);

        // Which label makes samples of one metric point differ.
        let point_label = match (kind, suffix) {
            (MetricType::Histogram | MetricType::GaugeHistogram, "_bucket") => Some("le"),
            (MetricType::Summary, "") => Some("quantile"),
            (MetricType::StateSet, _) => Some(f.name),
            _ => None,
        };
        if om {
            self.check_grouping(f, no, s, point_label);
        }
        let series = (
            s.name.to_owned(),
            key_of(&s.labels, None),
            if om { s.timestamp.clone() } else { None },
        );
        if f.series.contains(&series) {
            let when = if om && s.timestamp.is_some() {
                " at the same timestamp"
            } else {
                ""
            };
            self.problem(
                no,
                ProblemKind::DuplicateSample,
                format!(
                    "duplicate sample {}{}{when}: each line must have a unique name and label set",
                    s.name,
                    show(&series.1)
                ),
            );
        } else {
            f.series.insert(series);
        }
        if matches!(
            kind,
            MetricType::Histogram | MetricType::GaugeHistogram | MetricType::Summary
        ) {
            self.collect_point(f, no, s, suffix, point_label);
        }
    }

    fn check_exemplar(&mut self, f: &Family<'a>, no: u32, s: &Sample<'a>, suffix: &str) {
        let Some(ex) = &s.exemplar else {
            return;
        };
        let allowed = matches!(
            (f.kind, suffix),
            (MetricType::Counter, "_total")
                | (
                    MetricType::Histogram | MetricType::GaugeHistogram,
                    "_bucket"
                )
        );
        if !allowed {
            self.problem(
                no,
                ProblemKind::ExemplarNotAllowed,
                format!(
                    "{} may not have an exemplar: only counter _total samples and histogram buckets may",
                    s.name
                ),
            );
        }
        if let Some(dup) = first_duplicate(&ex.labels) {
            self.problem(
                no,
                ProblemKind::DuplicateLabelName,
                format!("exemplar label {dup} appears twice"),
            );
        }
        let chars: usize = ex
            .labels
            .iter()
            .map(|(n, v)| n.chars().count() + v.chars().count())
            .sum();
        if chars > EXEMPLAR_MAX_CHARS {
            self.problem(
                no,
                ProblemKind::ExemplarTooLong,
                format!(
                    "the exemplar's label names and values have {chars} characters, more than {EXEMPLAR_MAX_CHARS}"
                ),
            );
        }
        if allowed
            && suffix == "_bucket"
            && let Some(le) = label(&s.labels, "le").and_then(|v| om_number(v))
            && ex.value > le
        {
            self.problem(
                no,
                ProblemKind::ExemplarOutOfRange,
                format!(
                    "the exemplar's value {} is above the bucket's le {le}",
                    ex.value
                ),
            );
        }
    }

    fn check_value(&mut self, f: &Family<'a>, no: u32, s: &Sample<'a>, suffix: &str) {
        use MetricType as T;
        let om = self.om;
        let v = s.value;
        let name = s.name;
        // (may not be NaN, may not be negative, must be an integer)
        let counter_like = match (f.kind, suffix) {
            (T::Counter, "_total") => Some((true, true, false)),
            (T::Histogram, "_bucket" | "_count") => Some((true, true, true)),
            (T::Histogram, "_sum") => Some((true, true, false)),
            (T::GaugeHistogram, "_bucket" | "_gcount") => Some((true, true, true)),
            (T::GaugeHistogram, "_gsum") => Some((true, false, false)),
            (T::Summary, "_count") => Some((true, true, true)),
            (T::Summary, "_sum") => Some((true, true, false)),
            _ => None,
        };
        if om && let Some((no_nan, no_negative, integer)) = counter_like {
            if no_nan && v.is_nan() {
                self.problem(
                    no,
                    ProblemKind::NanValue,
                    format!("{name} is NaN: a counter-like value must not be NaN"),
                );
            } else if no_negative && v < 0.0 {
                self.problem(
                    no,
                    ProblemKind::NegativeValue,
                    format!("{name} is {v}: a counter-like value must not be negative"),
                );
            } else if integer && v.fract() != 0.0 {
                self.problem(
                    no,
                    ProblemKind::NonIntegerValue,
                    format!("{name} is {v}: count and bucket values must be integers"),
                );
            }
        }
        match (f.kind, suffix) {
            (T::Histogram | T::GaugeHistogram, "_bucket") => match label(&s.labels, "le") {
                None => self.problem(
                    no,
                    ProblemKind::MissingLabel,
                    format!("histogram bucket {name} has no le label"),
                ),
                Some(le) => {
                    if self.bound(le).is_none() {
                        self.problem(
                            no,
                            ProblemKind::InvalidLabelValue,
                            format!(
                                "le={le:?} is not a bucket threshold (a number, not NaN; +Inf written as \"+Inf\")"
                            ),
                        );
                    }
                }
            },
            (T::Histogram | T::GaugeHistogram, _) if om && label(&s.labels, "le").is_some() => {
                self.problem(
                    no,
                    ProblemKind::ReservedLabel,
                    format!("{name} has an le label: a histogram's metric label set must not"),
                );
            }
            (T::Summary, "") => match label(&s.labels, "quantile") {
                None => self.problem(
                    no,
                    ProblemKind::MissingLabel,
                    format!("summary quantile sample {name} has no quantile label"),
                ),
                Some(q) => {
                    let ok = self.bound(q).is_some_and(|x| (0.0..=1.0).contains(&x));
                    if !ok {
                        self.problem(
                            no,
                            ProblemKind::InvalidLabelValue,
                            format!("quantile={q:?} is not a number between 0 and 1"),
                        );
                    } else if om && v < 0.0 {
                        self.problem(
                            no,
                            ProblemKind::NegativeValue,
                            format!("{name} is {v}: quantile values must not be negative"),
                        );
                    }
                }
            },
            (T::Summary, _) if om && label(&s.labels, "quantile").is_some() => {
                self.problem(
                    no,
                    ProblemKind::ReservedLabel,
                    format!("{name} has a quantile label: only the quantile samples may"),
                );
            }
            (T::StateSet, _) => {
                if label(&s.labels, f.name).is_none() {
                    self.problem(
                        no,
                        ProblemKind::MissingLabel,
                        format!(
                            "stateset sample {name} has no label {} naming its state",
                            f.name
                        ),
                    );
                }
                if v != 0.0 && v != 1.0 {
                    self.problem(
                        no,
                        ProblemKind::StateSetValue,
                        format!("{name} is {v}: a state's value must be 0 or 1"),
                    );
                }
            }
            (T::Info, _) if v != 1.0 => {
                self.problem(
                    no,
                    ProblemKind::InfoValue,
                    format!("{name} is {v}: an info sample's value must be 1"),
                );
            }
            _ => {}
        }
    }

    /// An `le` or `quantile` value as a number: the format's number syntax,
    /// not NaN, and positive infinity written as `+Inf` (OpenMetrics).
    fn bound(&self, text: &str) -> Option<f64> {
        let x = if self.om {
            om_number(text)?
        } else {
            go_float(text)?
        };
        if x.is_nan() || (self.om && x == f64::INFINITY && text != "+Inf") {
            return None;
        }
        Some(x)
    }

    /// Metrics must not be interleaved, and each metric's timestamps must
    /// be all present or all absent and must not go backwards.
    fn check_grouping(
        &mut self,
        f: &mut Family<'a>,
        no: u32,
        s: &Sample<'a>,
        point_label: Option<&str>,
    ) {
        // An info sample's labels mix the metric's and the info's own: its
        // metrics cannot be told apart, so the family is one group.
        let group = if f.kind == MetricType::Info {
            Key::new()
        } else {
            key_of(&s.labels, point_label)
        };
        if f.group.as_ref() == Some(&group) {
            if let Some(previous) = &f.group_ts {
                if previous.is_some() != s.timestamp.is_some() {
                    self.problem(
                        no,
                        ProblemKind::TimestampMix,
                        format!(
                            "{}{} mixes samples with and without a timestamp",
                            f.name,
                            show(&group)
                        ),
                    );
                } else if let (Some(p), Some(t)) = (previous, &s.timestamp)
                    && t < p
                    && f.kind != MetricType::Info
                {
                    self.problem(
                        no,
                        ProblemKind::TimestampOrder,
                        format!(
                            "the timestamps of {}{} go backwards: a metric's points must have increasing timestamps",
                            f.name,
                            show(&group)
                        ),
                    );
                }
            }
        } else {
            if f.groups.contains(&group) {
                self.problem(
                    no,
                    ProblemKind::MetricInterleaved,
                    format!(
                        "{}{} appears again after another metric: metrics must not be interleaved",
                        f.name,
                        show(&group)
                    ),
                );
            }
            f.groups.insert(group.clone());
            f.group = Some(group);
        }
        f.group_ts = Some(s.timestamp.clone());
    }

    fn collect_point(
        &mut self,
        f: &mut Family<'a>,
        no: u32,
        s: &Sample<'a>,
        suffix: &str,
        point_label: Option<&str>,
    ) {
        let strip = if f.kind == MetricType::Summary {
            "quantile"
        } else {
            "le"
        };
        let labels = key_of(&s.labels, point_label.or(Some(strip)));
        let pk = (labels.clone(), s.timestamp.clone());
        let i = match f.point_index.get(&pk) {
            Some(&i) => i,
            None => {
                f.points.push(Point {
                    labels,
                    ..Point::default()
                });
                f.point_index.insert(pk, f.points.len() - 1);
                f.points.len() - 1
            }
        };
        let bound = match suffix {
            "_bucket" => label(&s.labels, "le").and_then(|v| self.bound(v)),
            "" => label(&s.labels, "quantile").and_then(|v| self.bound(v)),
            _ => None,
        };
        let p = &mut f.points[i];
        p.last_line = no;
        match suffix {
            "_bucket" => match bound {
                Some(le) => p.buckets.push(Bucket {
                    le,
                    value: s.value,
                    line: no,
                }),
                None => f.broken = true,
            },
            "_count" | "_gcount" => p.count = Some(s.value),
            "_sum" | "_gsum" => p.sum = Some(s.value),
            "" => match bound {
                Some(q) => p.quantiles.push((q, no)),
                None => f.broken = true,
            },
            _ => {}
        }
    }

    fn finish_family(&mut self) {
        let Some(f) = self.family.take() else {
            return;
        };
        let om = self.om;
        if om && let (Some(unit), Some(line)) = (f.unit, f.unit_line) {
            if !f.name.ends_with(&format!("_{unit}")) {
                self.problem(
                    line,
                    ProblemKind::UnitMismatch,
                    format!(
                        "unit {unit}: the family name {} must end with _{unit}",
                        f.name
                    ),
                );
            }
            if matches!(f.kind, MetricType::Info | MetricType::StateSet) {
                self.problem(
                    line,
                    ProblemKind::UnitNotAllowed,
                    format!(
                        "{} is a {}: its unit must be empty",
                        f.name,
                        type_name(f.kind, om)
                    ),
                );
            }
        }
        if !f.reopened {
            let mut clash = None;
            for suffix in suffixes(f.kind, om).iter().chain([""].iter()) {
                let sample_name = format!("{}{suffix}", f.name);
                if let Some(other) = self.reserved.get(&sample_name) {
                    if *other != f.name && clash.is_none() {
                        clash = Some((sample_name.clone(), *other));
                    }
                } else {
                    self.reserved.insert(sample_name, f.name);
                }
            }
            if let Some((sample_name, other)) = clash {
                self.problem(
                    f.first_line,
                    ProblemKind::NameClash,
                    format!(
                        "family {} clashes with family {other}: both can have samples named {sample_name}",
                        f.name
                    ),
                );
            }
        }
        if !f.broken {
            match f.kind {
                MetricType::Histogram | MetricType::GaugeHistogram => self.check_histogram(&f),
                MetricType::Summary if !om => self.check_quantile_order(&f),
                _ => {}
            }
        }
    }

    fn check_histogram(&mut self, f: &Family<'a>) {
        let om = self.om;
        let gauge = f.kind == MetricType::GaugeHistogram;
        let (count_name, sum_name) = if gauge {
            ("_gcount", "_gsum")
        } else {
            ("_count", "_sum")
        };
        for p in &f.points {
            let what = format!("{}{}", f.name, show(&p.labels));
            let mut previous: Option<&Bucket> = None;
            for b in &p.buckets {
                if let Some(prev) = previous {
                    if b.le <= prev.le {
                        self.problem(
                            b.line,
                            ProblemKind::BucketOrder,
                            format!(
                                "bucket le={} of {what} follows le={}: buckets must be sorted by increasing le, each le once",
                                b.le, prev.le
                            ),
                        );
                    } else if om && b.value < prev.value {
                        self.problem(
                            b.line,
                            ProblemKind::BucketNotCumulative,
                            format!(
                                "bucket le={} of {what} is {}, less than the {} of le={}: buckets are cumulative",
                                b.le, b.value, prev.value, prev.le
                            ),
                        );
                    }
                }
                previous = Some(b);
            }
            let inf = p.buckets.iter().find(|b| b.le == f64::INFINITY);
            match inf {
                None => self.problem(
                    p.last_line,
                    ProblemKind::MissingInfBucket,
                    format!("{what} has no bucket with le=\"+Inf\""),
                ),
                Some(inf) => {
                    if let Some(count) = p.count
                        && count != inf.value
                        && !(count.is_nan() && inf.value.is_nan())
                    {
                        self.problem(
                            p.last_line,
                            ProblemKind::CountMismatch,
                            format!(
                                "{}{count_name} is {count} but the +Inf bucket of {what} is {}: they must be equal",
                                f.name, inf.value
                            ),
                        );
                    }
                }
            }
            if !om {
                continue;
            }
            if p.sum.is_some() != p.count.is_some() {
                let (has, lacks) = if p.sum.is_some() {
                    (sum_name, count_name)
                } else {
                    (count_name, sum_name)
                };
                self.problem(
                    p.last_line,
                    ProblemKind::SumCountPairing,
                    format!(
                        "{what} has {}{has} but no {}{lacks}: a sum requires the count, and the count the sum",
                        f.name, f.name
                    ),
                );
            }
            let negative_buckets = p.buckets.iter().any(|b| b.le < 0.0);
            if !gauge && negative_buckets && p.sum.is_some() {
                self.problem(
                    p.last_line,
                    ProblemKind::SumWithNegativeBuckets,
                    format!(
                        "{what} has negative buckets, so it must not have {}_sum",
                        f.name
                    ),
                );
            }
            if gauge && !negative_buckets && p.sum.is_some_and(|s| s < 0.0) {
                self.problem(
                    p.last_line,
                    ProblemKind::NegativeGsum,
                    format!(
                        "{}_gsum of {what} is negative but no bucket is: gsum may only be negative with negative buckets",
                        f.name
                    ),
                );
            }
        }
    }

    fn check_quantile_order(&mut self, f: &Family<'a>) {
        for p in &f.points {
            for pair in p.quantiles.windows(2) {
                if pair[1].0 <= pair[0].0 {
                    self.problem(
                        pair[1].1,
                        ProblemKind::QuantileOrder,
                        format!(
                            "quantile {} of {}{} follows {}: quantiles must appear in increasing order",
                            pair[1].0,
                            f.name,
                            show(&p.labels),
                            pair[0].0
                        ),
                    );
                }
            }
        }
    }
}

fn first_duplicate<'l>(labels: &Labels<'l>) -> Option<&'l str> {
    let mut seen = FxHashSet::default();
    labels.iter().map(|(n, _)| *n).find(|n| !seen.insert(*n))
}
