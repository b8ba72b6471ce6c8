//! Text format 0.0.4 as LiteLLM writes it (Python's prometheus_client), and
//! the HTTP `Date` values that come with it.
//!
//! Every generated body in the workspace goes through [`TextWriter`]: the
//! benchmark body, the simulator's and the fault suite's fake. Values are
//! written as Python's `repr` (`floatToGoString`), so `1.0`, `4.96713728e+08`
//! and `+Inf` look as in the real captures, and they parse back to the same bits.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The `content-type` LiteLLM answers `/metrics/` with.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// An HTTP `Date` value (IMF-fixdate, `Sun, 29 Nov 2026 08:30:36 GMT`).
pub fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

/// [`http_date`] of `ms` since the epoch (whole seconds, as HTTP dates have).
pub fn http_date_ms(ms: i64) -> String {
    let ms = u64::try_from(ms).expect("an HTTP date after 1970");
    http_date(UNIX_EPOCH + Duration::from_millis(ms))
}

/// Python `repr` of a float as prometheus_client's `floatToGoString` prints it.
pub fn py_float(v: f64) -> String {
    if v == f64::INFINITY {
        return "+Inf".into();
    }
    let abs = v.abs();
    let s = if v == v.trunc() && abs < 1e16 {
        format!("{v:.1}")
    } else if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        // Python writes a two-digit, signed exponent: 1.35e-05.
        let e = format!("{v:e}");
        let (m, exp) = e.split_once('e').unwrap_or((&e, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        format!("{m}e{sign}{digits:0>2}")
    } else {
        format!("{v:?}")
    };
    // Go switches to an exponent for more than 6 integer digits.
    if let Some(dot) = s.find('.')
        && v > 0.0
        && dot > 6
        && !s.contains('e')
    {
        let digits = format!("{}{}", &s[..dot], &s[dot + 1..]);
        let mantissa = digits.trim_end_matches('0');
        let mantissa = if mantissa.len() > 1 {
            format!("{}.{}", &mantissa[..1], &mantissa[1..])
        } else {
            format!("{mantissa}.0")
        };
        return format!("{mantissa}e+0{}", dot - 1);
    }
    s
}

/// The labels of an unlabelled sample.
pub const NO_LABELS: [(&str, &str); 0] = [];

/// The `# TYPE` of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One labelled counter: its labels (raw values, escaped when written), its
/// value and its `_created` stamp in seconds.
#[derive(Debug, Clone, Copy)]
pub struct CounterRow<'a, L> {
    pub labels: &'a [(L, String)],
    pub value: f64,
    pub created_s: f64,
}

/// Builds a body in LiteLLM's text format.
#[derive(Debug, Default)]
pub struct TextWriter {
    out: String,
}

impl TextWriter {
    /// An empty body with room for `bytes`.
    pub fn with_capacity(bytes: usize) -> TextWriter {
        TextWriter {
            out: String::with_capacity(bytes),
        }
    }

    /// Starts a family: its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Self {
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        for c in help.chars() {
            match c {
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                c => self.out.push(c),
            }
        }
        let _ = writeln!(self.out, "\n# TYPE {name} {}", kind.as_str());
        self
    }

    /// One sample line; label values are escaped.
    pub fn sample<'l, V: AsRef<str>>(
        &mut self,
        name: &str,
        labels: impl IntoIterator<Item = (&'l str, V)>,
        value: f64,
    ) -> &mut Self {
        self.out.push_str(name);
        let mut open = false;
        for (label, v) in labels {
            self.out.push(if open { ',' } else { '{' });
            open = true;
            self.out.push_str(label);
            self.out.push_str("=\"");
            escape_label(&mut self.out, v.as_ref());
            self.out.push('"');
        }
        if open {
            self.out.push('}');
        }
        self.out.push(' ');
        self.out.push_str(&py_float(value));
        self.out.push('\n');
        self
    }

    /// A labelled counter as prometheus_client writes it: the `{base}_total`
    /// family, then the `{base}_created` gauge family with the same labels
    /// (only once the counter has a child, as LiteLLM does).
    pub fn counter<L: AsRef<str>>(
        &mut self,
        base: &str,
        help: &str,
        rows: &[CounterRow<'_, L>],
    ) -> &mut Self {
        let total = format!("{base}_total");
        self.family(&total, Kind::Counter, help);
        for r in rows {
            self.sample(&total, pairs(r.labels), r.value);
        }
        if !rows.is_empty() {
            let created = format!("{base}_created");
            self.family(&created, Kind::Gauge, help);
            for r in rows {
                self.sample(&created, pairs(r.labels), r.created_s);
            }
        }
        self
    }

    /// The body written so far.
    pub fn finish(self) -> String {
        self.out
    }
}

fn pairs<L: AsRef<str>>(labels: &[(L, String)]) -> impl Iterator<Item = (&str, &str)> {
    labels.iter().map(|(n, v)| (n.as_ref(), v.as_str()))
}

/// Escapes `\`, `"` and newline in a label value.
fn escape_label(out: &mut String, v: &str) {
    if !v.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_look_like_python() {
        for (v, s) in [
            (1.0, "1.0"),
            (2250.0, "2250.0"),
            (4.96713728e8, "4.96713728e+08"),
            (1.35e-5, "1.35e-05"),
            (9.223372036854776e18, "9.223372036854776e+18"),
            (0.15, "0.15"),
            (f64::INFINITY, "+Inf"),
            (1.7957743123e9, "1.7957743123e+09"),
        ] {
            assert_eq!(py_float(v), s);
        }
    }

    #[test]
    fn counters_come_with_created_twins_and_escaped_labels() {
        let labels = vec![("team_alias", "Beta \"quoted\"\\\nTeam".to_owned())];
        let mut w = TextWriter::default();
        w.counter(
            "x",
            "Help \\ text",
            &[CounterRow {
                labels: &labels,
                value: 3.0,
                created_s: 1.5e9,
            }],
        );
        w.counter::<&str>("y", "Empty", &[]);
        assert_eq!(
            w.finish(),
            "# HELP x_total Help \\\\ text\n# TYPE x_total counter\n\
             x_total{team_alias=\"Beta \\\"quoted\\\"\\\\\\nTeam\"} 3.0\n\
             # HELP x_created Help \\\\ text\n# TYPE x_created gauge\n\
             x_created{team_alias=\"Beta \\\"quoted\\\"\\\\\\nTeam\"} 1.5e+09\n\
             # HELP y_total Empty\n# TYPE y_total counter\n"
        );
    }

    #[test]
    fn http_dates_are_imf_fixdates() {
        assert_eq!(
            http_date_ms(1_795_774_098_000),
            "Fri, 27 Nov 2026 10:08:18 GMT"
        );
        assert_eq!(
            http_date_ms(1_795_774_098_999),
            "Fri, 27 Nov 2026 10:08:18 GMT"
        );
    }
}
