//! Exposition writer: the inverse of [`crate::parse()`].
//!
//! Used for round-trip tests, the host's own `/metrics` endpoint and the
//! LiteLLM simulator. Values are written with Rust's shortest round-trip
//! float formatting, so `parse(write(x))` gives back the same bits.
//!
//! Two entry points: [`write_exposition`] / [`write_openmetrics`] write a
//! parsed [`Exposition`], and [`Writer`] builds a body from scratch.
//! Names are written as given; callers pass valid metric and label names
//! (see [`crate::parse::is_metric_name`]).

use std::fmt::Write as _;

use memchr::memchr3;

use crate::expo::{Exposition, Family, Format, MetricType};

/// Writes `expo` in Prometheus text format 0.0.4 to `out`.
///
/// Families that came without metadata (implicit `Unknown` families) are
/// written without a `# TYPE` line, so they parse back the same way.
pub fn write_exposition(expo: &Exposition<'_>, out: &mut String) {
    write_as(expo, Format::PrometheusText, out);
}

/// Writes `expo` in OpenMetrics 1.0 text to `out`, ending with `# EOF`.
///
/// Timestamps are written as seconds with millisecond precision.
/// OpenMetrics naming rules (counter families without `_total`) are the
/// caller's business: names are written as they are in `expo`.
pub fn write_openmetrics(expo: &Exposition<'_>, out: &mut String) {
    write_as(expo, Format::OpenMetrics, out);
}

fn write_as(expo: &Exposition<'_>, format: Format, out: &mut String) {
    let om = format == Format::OpenMetrics;
    for family in &expo.families {
        let samples = expo.samples_of(family);
        if needs_header(family, samples.first().map(|s| s.name)) {
            write_family_header(out, family.name, family.kind, family.help.as_deref(), om);
            if let Some(unit) = family.unit {
                write_unit(out, family.name, unit);
            }
        }
        for s in samples {
            let labels = expo.labels_of(s).iter().map(|l| (l.name, l.value()));
            write_sample(out, s.name, labels, s.value, s.timestamp_ms, om);
        }
    }
    if om {
        out.push_str("# EOF\n");
    }
}

/// A family needs metadata lines unless it is exactly what a sample without
/// metadata would start: `Unknown`, no help, no unit, named after its first sample.
fn needs_header(f: &Family<'_>, first_sample: Option<&str>) -> bool {
    !(f.kind == MetricType::Unknown
        && f.help.is_none()
        && f.unit.is_none()
        && first_sample == Some(f.name))
}

/// Builds an exposition body line by line.
///
/// ```
/// use pulse_core::write::Writer;
/// use pulse_core::MetricType;
///
/// let mut out = String::new();
/// let mut w = Writer::new(&mut out);
/// w.family("litellm_spend_metric_total", MetricType::Counter, Some("Spend"));
/// w.sample("litellm_spend_metric_total", &[("model", "gpt-4o")], 1.5, None);
/// w.finish();
/// assert_eq!(
///     out.lines().collect::<Vec<_>>(),
///     [
///         "# HELP litellm_spend_metric_total Spend",
///         "# TYPE litellm_spend_metric_total counter",
///         "litellm_spend_metric_total{model=\"gpt-4o\"} 1.5",
///     ]
/// );
/// ```
#[derive(Debug)]
pub struct Writer<'o> {
    out: &'o mut String,
    openmetrics: bool,
}

impl<'o> Writer<'o> {
    /// A writer of Prometheus text format 0.0.4, appending to `out`.
    pub fn new(out: &'o mut String) -> Self {
        Writer {
            out,
            openmetrics: false,
        }
    }

    /// A writer of OpenMetrics 1.0 text, appending to `out`; call
    /// [`Writer::finish`] to end the body with `# EOF`.
    pub fn openmetrics(out: &'o mut String) -> Self {
        Writer {
            out,
            openmetrics: true,
        }
    }

    /// Starts a family: its `# HELP` (if any) and `# TYPE` lines.
    pub fn family(&mut self, name: &str, kind: MetricType, help: Option<&str>) -> &mut Self {
        write_family_header(self.out, name, kind, help, self.openmetrics);
        self
    }

    /// Writes a `# UNIT` line for the family just started.
    pub fn unit(&mut self, name: &str, unit: &str) -> &mut Self {
        write_unit(self.out, name, unit);
        self
    }

    /// Writes one sample line. Label values are escaped; `timestamp_ms` is
    /// milliseconds since the epoch.
    pub fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: f64,
        timestamp_ms: Option<i64>,
    ) -> &mut Self {
        write_sample(
            self.out,
            name,
            labels.iter().copied(),
            value,
            timestamp_ms,
            self.openmetrics,
        );
        self
    }

    /// Ends the body (`# EOF` in OpenMetrics; nothing in text format).
    pub fn finish(self) {
        if self.openmetrics {
            self.out.push_str("# EOF\n");
        }
    }
}

fn write_family_header(
    out: &mut String,
    name: &str,
    kind: MetricType,
    help: Option<&str>,
    om: bool,
) {
    if let Some(help) = help {
        out.push_str("# HELP ");
        out.push_str(name);
        out.push(' ');
        escape_help(out, help, om);
        out.push('\n');
    }
    out.push_str("# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(match kind {
        MetricType::Unknown if om => "unknown",
        other => other.as_str(),
    });
    out.push('\n');
}

fn write_unit(out: &mut String, name: &str, unit: &str) {
    out.push_str("# UNIT ");
    out.push_str(name);
    out.push(' ');
    out.push_str(unit);
    out.push('\n');
}

fn write_sample<'l, V: AsRef<str>>(
    out: &mut String,
    name: &str,
    labels: impl Iterator<Item = (&'l str, V)>,
    value: f64,
    timestamp_ms: Option<i64>,
    om: bool,
) {
    out.push_str(name);
    let mut open = false;
    for (lname, lvalue) in labels {
        out.push(if open { ',' } else { '{' });
        open = true;
        out.push_str(lname);
        out.push_str("=\"");
        escape_label(out, lvalue.as_ref());
        out.push('"');
    }
    if open {
        out.push('}');
    }
    out.push(' ');
    write_value(out, value);
    if let Some(ms) = timestamp_ms {
        out.push(' ');
        if om {
            // Seconds with exactly three decimals, computed on integers so
            // no float rounding creeps in.
            let abs = ms.unsigned_abs();
            let sign = if ms < 0 { "-" } else { "" };
            let _ = write!(out, "{sign}{}.{:03}", abs / 1000, abs % 1000);
        } else {
            let _ = write!(out, "{ms}");
        }
    }
    out.push('\n');
}

/// Writes a value so that it parses back to the same bits (NaN as `NaN`).
pub fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        // Debug is the shortest round-trip form and uses an exponent for
        // very large and very small magnitudes (`1e300`, not 301 digits).
        let _ = write!(out, "{v:?}");
    }
}

/// Escapes `\`, `"` and newline in a label value.
fn escape_label(out: &mut String, v: &str) {
    if memchr3(b'\\', b'"', b'\n', v.as_bytes()).is_none() {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Escapes `\` and newline in help text (and `"` in OpenMetrics).
fn escape_help(out: &mut String, v: &str, om: bool) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if om => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    #[test]
    fn values_round_trip_bit_exactly() {
        for v in [
            0.0,
            -0.0,
            1.0,
            13.0,
            0.1,
            1.9999999999999998e-05,
            9.223372036854776e18,
            1e300,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            let mut s = String::from("x ");
            write_value(&mut s, v);
            let e = parse(&s).unwrap();
            assert_eq!(e.samples[0].value.to_bits(), v.to_bits(), "{s}");
        }
        let mut s = String::new();
        write_value(&mut s, f64::NAN);
        assert_eq!(s, "NaN");
    }

    #[test]
    fn builder_escapes_and_timestamps() {
        let mut out = String::new();
        let mut w = Writer::new(&mut out);
        w.family("a", MetricType::Gauge, Some("back\\slash\nnew \"q\""));
        w.sample("a", &[("v", "q\"\\\n}")], f64::INFINITY, Some(-1500));
        w.sample("a", &[], 2.0, None);
        w.finish();
        assert_eq!(
            out,
            "# HELP a back\\\\slash\\nnew \"q\"\n# TYPE a gauge\na{v=\"q\\\"\\\\\\n}\"} +Inf -1500\na 2.0\n"
        );
        let e = parse(&out).unwrap();
        assert_eq!(
            e.families[0].help.as_deref(),
            Some("back\\slash\nnew \"q\"")
        );
        assert_eq!(e.label(&e.samples[0], "v").as_deref(), Some("q\"\\\n}"));
        assert_eq!(e.samples[0].timestamp_ms, Some(-1500));
    }

    #[test]
    fn openmetrics_mode() {
        let mut out = String::new();
        let mut w = Writer::openmetrics(&mut out);
        w.family("req", MetricType::Counter, None)
            .unit("req", "requests")
            .sample("req_total", &[], 1.0, Some(1_700_000_000_123))
            .sample("req_created", &[], 1.7e9, Some(-1));
        w.family("u", MetricType::Unknown, Some("say \"hi\""));
        w.finish();
        assert_eq!(
            out,
            "# TYPE req counter\n# UNIT req requests\nreq_total 1.0 1700000000.123\n\
             req_created 1700000000.0 -0.001\n# HELP u say \\\"hi\\\"\n# TYPE u unknown\n# EOF\n"
        );
        let e = parse(&out).unwrap();
        assert!(e.errors.is_empty());
        assert_eq!(e.families[0].unit, Some("requests"));
        assert_eq!(e.families[0].samples, 0..2);
        assert_eq!(e.samples[0].timestamp_ms, Some(1_700_000_000_123));
        assert_eq!(e.samples[1].timestamp_ms, Some(-1));
        assert_eq!(e.families[1].help.as_deref(), Some("say \"hi\""));
    }

    #[test]
    fn exposition_round_trip_keeps_implicit_families_implicit() {
        let body = "a 1.0\n# HELP b B\nb 2.0\n# TYPE c untyped\n# TYPE d counter\nd_total{x=\"1\"} 3.0 17\n";
        let e = parse(body).unwrap();
        let mut out = String::new();
        write_exposition(&e, &mut out);
        assert_eq!(
            out,
            "a 1.0\n# HELP b B\n# TYPE b untyped\nb 2.0\n# TYPE c untyped\n# TYPE d counter\nd_total{x=\"1\"} 3.0 17\n"
        );
        let back = parse(&out).unwrap();
        assert_eq!(back.families, e.families);
        let mut om = String::new();
        write_openmetrics(&e, &mut om);
        assert!(om.ends_with("d_total{x=\"1\"} 3.0 0.017\n# EOF\n"));
        let back = parse(&om).unwrap();
        assert_eq!(back.samples[2].timestamp_ms, Some(17));
    }
}
