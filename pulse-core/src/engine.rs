//! Reading the tracked counters from a Prometheus-compatible engine
//! (Prometheus, VictoriaMetrics, Thanos, Mimir) instead of scraping LiteLLM.
//!
//! The engine already scrapes every LiteLLM replica and keeps each raw
//! counter series with the labels it adds (`instance`, `job`, `pod`, …).
//! Pulse asks it, through the standard HTTP API, for exactly the sample names
//! the [`Catalog`] reads ([`instant_query`]), turns the answer into an
//! [`Exposition`] ([`exposition`]) and feeds that to the same
//! [`Tracker`](crate::track::Tracker) a direct scrape goes to. The engine's
//! labels stay in every series' identity, so two replicas are two series and
//! the counting rules 1–6 of [`crate::track`] apply to each on its own.
//!
//! # What an engine answer can and cannot show
//!
//! - An instant query at time `t` answers each series' latest sample within
//!   the engine's lookback ([`LOOKBACK_MS`], five minutes by default), so a
//!   value may be up to one engine scrape interval old: what LiteLLM counted
//!   since the engine last scraped it shows up in a later observation.
//!   Nothing the engine never scraped can be counted (e.g. traffic between
//!   the engine's last scrape of a replica and that replica's restart).
//! - `_created` (rule 4) only reaches the engine when it scrapes the text
//!   format 0.0.4, where `X_created` is a sample of its own; over OpenMetrics
//!   Prometheus 2.x keeps it out of the stored series. Without `_created` a
//!   restart is seen when a counter falls (rule 3).
//! - `_created` is LiteLLM's clock, and a series a replica created shortly
//!   before pulse's previous observation may not have been in the engine's
//!   answer yet. So an observation from an engine is judged with the target
//!   clock [`answer_clock_ms`] (its time minus the lookback): a series first
//!   seen now counts in full when it was created within the lookback before
//!   the previous observation, and is adopted (delta 0, rule 6) only when it
//!   is older than that.
//! - The backfill ([`backfill_plan`]) reads a range query in 15-minute steps,
//!   and each step is one observation. A restart whose counter grows back
//!   above its old value within one step looks like plain growth and
//!   undercounts by the old value, unless the series has `_created` (then
//!   the new `_created` is a new series, rule 4, and the step is exact). A
//!   restart that falls below the old value is a reset and is counted from
//!   the new value (rule 3), missing only what the old process counted
//!   after the earlier step.

use thiserror::Error;

use crate::catalog::Catalog;
use crate::expo::{Exposition, Family, Label, MetricType, Sample};
use crate::parse::is_label_name;

/// Prometheus' default lookback delta: an instant query answers a series'
/// latest sample up to this much older than the query time.
pub const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// The backfill's step: the storage bucket width, so each 15-minute bucket
/// of the history gets one observation.
pub const BACKFILL_STEP_MS: i64 = 15 * 60 * 1000;

/// Points per series a Prometheus range query may return at most; larger
/// ranges are split into chunks ([`backfill_plan`]).
pub const MAX_POINTS_PER_SERIES: u32 = 11_000;

/// The label an engine answer carries the sample name in.
pub const NAME_LABEL: &str = "__name__";

/// How a [`Matcher`] compares a label's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `=~` (a regular expression, matched by the engine)
    Re,
    /// `!~`
    NotRe,
}

impl MatchOp {
    /// The operator as PromQL writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Eq => "=",
            MatchOp::Ne => "!=",
            MatchOp::Re => "=~",
            MatchOp::NotRe => "!~",
        }
    }
}

/// One label matcher of a [`Selector`], e.g. `job="litellm"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// The label name.
    pub name: String,
    /// The comparison.
    pub op: MatchOp,
    /// The value, unescaped.
    pub value: String,
}

/// The user's series selector, e.g. `{job="litellm", namespace=~"prod|eu"}`:
/// label matchers added to every query. The sample names are pulse's own
/// choice, so `__name__` is not allowed in it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    matchers: Vec<Matcher>,
}

/// Why a selector was refused: what was wrong and at which character
/// (1-based) of the text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("at character {at}: {what}")]
pub struct SelectorError {
    /// 1-based character position.
    pub at: usize,
    /// What was expected or wrong there.
    pub what: String,
}

impl Selector {
    /// Parses a PromQL label-matcher list: empty, `{}`, `{job="litellm"}`,
    /// `{a="x", b!="y", c=~"z.*", d!~'w'}` (the braces may be left out).
    /// Values are quoted with `"`, `'` or `` ` `` (raw); `\"`, `\'`, `\\`,
    /// `\n`, `\t` are decoded in the first two.
    ///
    /// ```
    /// use pulse_core::engine::{MatchOp, Selector};
    /// let s = Selector::parse(r#"{job="litellm", pod=~"lite.*"}"#).unwrap();
    /// assert_eq!(s.matchers()[1].op, MatchOp::Re);
    /// assert!(Selector::parse(r#"{__name__="x"}"#).is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Selector, SelectorError> {
        let chars: Vec<char> = text.chars().collect();
        let mut p = Cursor { chars, pos: 0 };
        p.skip_space();
        let braced = p.eat('{');
        let mut matchers = Vec::new();
        loop {
            p.skip_space();
            match p.peek() {
                None if !braced => break,
                Some('}') if braced => {
                    p.pos += 1;
                    break;
                }
                None => return Err(p.error("expected `}`")),
                _ => {}
            }
            let at = p.pos + 1;
            let m = p.matcher()?;
            if m.name == NAME_LABEL {
                return Err(SelectorError {
                    at,
                    what: "__name__ cannot be selected: pulse chooses the metric names".into(),
                });
            }
            matchers.push(m);
            p.skip_space();
            if !p.eat(',') {
                match p.peek() {
                    Some('}') if braced => {}
                    None if !braced => {}
                    _ => return Err(p.error("expected `,` or the end of the selector")),
                }
            }
        }
        p.skip_space();
        if p.peek().is_some() {
            return Err(p.error("unexpected text after the selector"));
        }
        Ok(Selector { matchers })
    }

    /// The matchers, in the order written.
    pub fn matchers(&self) -> &[Matcher] {
        &self.matchers
    }
}

impl std::fmt::Display for Selector {
    /// The selector as PromQL, values double-quoted: `{job="litellm"}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.matchers.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write_matcher(f, &m.name, m.op, &m.value)?;
        }
        f.write_str("}")
    }
}

fn write_matcher(
    f: &mut impl std::fmt::Write,
    name: &str,
    op: MatchOp,
    value: &str,
) -> std::fmt::Result {
    f.write_str(name)?;
    f.write_str(op.as_str())?;
    f.write_char('"')?;
    for c in value.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '"' => f.write_str("\\\"")?,
            '\n' => f.write_str("\\n")?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

struct Cursor {
    chars: Vec<char>,
    pos: usize,
}

impl Cursor {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn error(&self, what: &str) -> SelectorError {
        let found = match self.peek() {
            Some(c) => format!("{what}, found {c:?}"),
            None => format!("{what}, found the end"),
        };
        SelectorError {
            at: self.pos + 1,
            what: found,
        }
    }

    fn matcher(&mut self) -> Result<Matcher, SelectorError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        if !is_label_name(&name) {
            self.pos = start;
            return Err(self.error("expected a label name"));
        }
        self.skip_space();
        let op = if self.eat('=') {
            if self.eat('~') {
                MatchOp::Re
            } else {
                MatchOp::Eq
            }
        } else if self.eat('!') {
            if self.eat('=') {
                MatchOp::Ne
            } else if self.eat('~') {
                MatchOp::NotRe
            } else {
                return Err(self.error("expected `!=` or `!~`"));
            }
        } else {
            return Err(self.error("expected `=`, `!=`, `=~` or `!~`"));
        };
        self.skip_space();
        let value = self.quoted()?;
        Ok(Matcher { name, op, value })
    }

    fn quoted(&mut self) -> Result<String, SelectorError> {
        let quote = match self.peek() {
            Some(q @ ('"' | '\'' | '`')) => q,
            _ => return Err(self.error("expected a quoted value")),
        };
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(SelectorError {
                    at: open + 1,
                    what: "the quoted value is not closed".into(),
                });
            };
            self.pos += 1;
            if c == quote {
                return Ok(out);
            }
            if c == '\\' && quote != '`' {
                let escaped = match self.peek() {
                    Some('\\') => '\\',
                    Some('"') => '"',
                    Some('\'') => '\'',
                    Some('n') => '\n',
                    Some('t') => '\t',
                    _ => return Err(self.error("unknown escape after `\\`")),
                };
                self.pos += 1;
                out.push(escaped);
            } else {
                out.push(c);
            }
        }
    }
}

/// The one query that reads every sample name the catalog tracks, with the
/// user's matchers: `{__name__=~"a|b|…",job="litellm"}`. As an instant query
/// it gives the current values; as a range query, the backfill.
///
/// Metric names hold only `[a-zA-Z0-9_:]`, so the alternation needs no
/// regex escaping. The query is long (tens of names): send it in a POST
/// form body, not in the URL.
pub fn instant_query(catalog: &Catalog, selector: &Selector) -> String {
    let mut q = String::from("{");
    let names = catalog.read_names().join("|");
    // Writing into a String cannot fail.
    let _ = write_matcher(&mut q, NAME_LABEL, MatchOp::Re, &names);
    for m in selector.matchers() {
        q.push(',');
        let _ = write_matcher(&mut q, &m.name, m.op, &m.value);
    }
    q.push('}');
    q
}

/// A sample value as an engine's JSON writes it (Go's float syntax as a
/// string: `"1.5"`, `"1e+06"`, `"NaN"`, `"+Inf"`, `"-Inf"`); `None` for
/// anything else.
pub fn parse_value(text: &str) -> Option<f64> {
    crate::parse::parse_value(text)
}

/// An engine timestamp (seconds since the epoch, possibly with a fraction;
/// Prometheus writes ms precision) as ms; `None` when not finite or out of
/// range.
pub fn seconds_to_ms(seconds: f64) -> Option<i64> {
    let ms = (seconds * 1000.0).round();
    // i64 holds every whole float in this range exactly.
    (ms.is_finite() && ms.abs() < 9.0e15).then_some(ms as i64)
}

/// The target clock an observation of an engine answer at `at_ms` is
/// judged with (see the module docs): its time minus [`LOOKBACK_MS`].
pub fn answer_clock_ms(at_ms: i64) -> i64 {
    at_ms.saturating_sub(LOOKBACK_MS)
}

/// One series of an engine answer: its labels, the sample name among them
/// as `__name__`.
pub type Labels = [(String, String)];

/// Builds the [`Exposition`] the tracker reads from series of an engine
/// answer with one value each: the name from `__name__`, every other label
/// (the engine's `instance`, `job`, … included) as a label. Samples are
/// grouped by name into untyped families, as a body without metadata would
/// parse. A series without a `__name__` (a function's result, which pulse
/// never asks for) is left out.
pub fn exposition<'a>(series: impl IntoIterator<Item = (&'a Labels, f64)>) -> Exposition<'a> {
    let mut rows: Vec<(&'a str, &'a Labels, f64)> = series
        .into_iter()
        .filter_map(|(labels, value)| {
            let name = labels.iter().find(|(n, _)| n == NAME_LABEL)?;
            Some((name.1.as_str(), labels, value))
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    let mut expo = Exposition::default();
    for (i, (name, labels, value)) in rows.into_iter().enumerate() {
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        let new_family = expo.families.last().is_none_or(|f| f.name != name);
        if new_family {
            expo.families.push(Family {
                name,
                kind: MetricType::Unknown,
                help: None,
                unit: None,
                samples: index..index,
            });
        }
        let family = u32::try_from(expo.families.len() - 1).unwrap_or(u32::MAX);
        if let Some(f) = expo.families.last_mut() {
            f.samples.end = index + 1;
        }
        let first = u32::try_from(expo.labels.len()).unwrap_or(u32::MAX);
        expo.labels.extend(
            labels
                .iter()
                .filter(|(n, _)| n != NAME_LABEL)
                .map(|(n, v)| Label::new(n, v)),
        );
        let end = u32::try_from(expo.labels.len()).unwrap_or(u32::MAX);
        expo.samples.push(Sample {
            name,
            labels: first..end,
            value,
            timestamp_ms: None,
            family,
            line: index + 1,
        });
    }
    expo
}

/// One range query of the backfill: every step from `start_ms` to `end_ms`
/// (both included), `step_ms` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeChunk {
    /// First step.
    pub start_ms: i64,
    /// Last step.
    pub end_ms: i64,
    /// Distance of two steps.
    pub step_ms: i64,
}

impl RangeChunk {
    /// Number of steps in the chunk.
    pub fn steps(&self) -> i64 {
        (self.end_ms - self.start_ms) / self.step_ms + 1
    }
}

/// The backfill's range queries: steps on multiples of `step_ms` (15-minute
/// edges for [`BACKFILL_STEP_MS`]) from the first at or after `from_ms` to
/// the last at or before `now_ms`, split into chunks of at most
/// `max_points` steps (the engine's per-series limit,
/// [`MAX_POINTS_PER_SERIES`], or less to bound the answer's size). Each step
/// becomes one observation; the first step with data is the baseline.
/// Empty when no step fits or an argument is not positive.
///
/// ```
/// use pulse_core::engine::{backfill_plan, RangeChunk};
/// let plan = backfill_plan(1_000, 10_000, 2_000, 3);
/// assert_eq!(plan, [
///     RangeChunk { start_ms: 2_000, end_ms: 6_000, step_ms: 2_000 },
///     RangeChunk { start_ms: 8_000, end_ms: 10_000, step_ms: 2_000 },
/// ]);
/// ```
pub fn backfill_plan(from_ms: i64, now_ms: i64, step_ms: i64, max_points: u32) -> Vec<RangeChunk> {
    if step_ms <= 0 || max_points == 0 {
        return Vec::new();
    }
    let first = from_ms.div_euclid(step_ms) * step_ms
        + if from_ms.rem_euclid(step_ms) == 0 {
            0
        } else {
            step_ms
        };
    let last = now_ms.div_euclid(step_ms) * step_ms;
    let span = i64::from(max_points) * step_ms;
    let mut plan = Vec::new();
    let mut start = first;
    while start <= last {
        let end = (start + span - step_ms).min(last);
        plan.push(RangeChunk {
            start_ms: start,
            end_ms: end,
            step_ms,
        });
        start = end + step_ms;
    }
    plan
}

/// Where the backfill starts: the data's oldest step found by a coarse probe
/// (a range query at `probe_step_ms` whose first step with data is
/// `first_probe_hit_ms`) can hold samples up to one probe step and one
/// lookback earlier, so the backfill reads from there, but never before
/// `earliest_ms` (the retention).
pub fn backfill_start(first_probe_hit_ms: i64, probe_step_ms: i64, earliest_ms: i64) -> i64 {
    first_probe_hit_ms
        .saturating_sub(probe_step_ms)
        .saturating_sub(LOOKBACK_MS)
        .max(earliest_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Metric;
    use crate::track::Tracker;

    #[test]
    fn selectors_parse_in_every_spelling() {
        let rows: [(&str, &str); 9] = [
            ("", "{}"),
            ("  {} ", "{}"),
            (r#"{job="litellm"}"#, r#"{job="litellm"}"#),
            (r#"job="litellm""#, r#"{job="litellm"}"#),
            (
                r#"{ job = "litellm" , ns!~'dev|test', pod=~`lite\.*`, }"#,
                r#"{job="litellm",ns!~"dev|test",pod=~"lite\\.*"}"#,
            ),
            (r#"{a!="x\"y\\z"}"#, r#"{a!="x\"y\\z"}"#),
            (r#"{a='it\'s'}"#, r#"{a="it's"}"#),
            (r#"{a="tab\there"}"#, "{a=\"tab\there\"}"),
            (r#"{_a1="ünï"}"#, r#"{_a1="ünï"}"#),
        ];
        for (text, shown) in rows {
            let s = Selector::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(s.to_string(), shown, "{text}");
            assert_eq!(Selector::parse(&s.to_string()), Ok(s), "{text}");
        }
    }

    #[test]
    fn bad_selectors_say_where_and_what() {
        let rows: [(&str, usize, &str); 10] = [
            ("{", 2, "expected `}`"),
            (r#"{job="x""#, 9, "expected `,` or the end"),
            (r#"{job="x}"#, 6, "not closed"),
            (r#"{job=x}"#, 6, "expected a quoted value"),
            (r#"{job~"x"}"#, 5, "expected `=`"),
            (r#"{1job="x"}"#, 2, "expected a label name"),
            (r#"{job!"x"}"#, 6, "expected `!=` or `!~`"),
            (r#"{__name__=~"x"}"#, 2, "__name__ cannot"),
            (r#"{a="x"} b"#, 9, "unexpected text"),
            (r#"{a="\q"}"#, 6, "unknown escape"),
        ];
        for (text, at, what) in rows {
            let e = Selector::parse(text).unwrap_err();
            assert_eq!(e.at, at, "{text}: {e}");
            assert!(e.what.contains(what), "{text}: {e}");
        }
    }

    #[test]
    fn the_query_asks_for_every_name_the_tracker_reads_and_the_selector() {
        let catalog = Catalog::litellm();
        let sel = Selector::parse(r#"{job="litellm",pod=~"a\"b"}"#).unwrap();
        let q = instant_query(&catalog, &sel);
        assert!(q.starts_with("{__name__=~\""), "{q}");
        assert!(q.ends_with(r#"",job="litellm",pod=~"a\"b"}"#), "{q}");
        let mut names = vec![
            "litellm_spend_metric_total",
            "litellm_spend_metric_created",
            "litellm_in_flight_requests",
            "litellm_total_tokens_created",
        ];
        // Latency and health series are only tracked with `latency`.
        let latency = [
            "litellm_request_total_latency_metric_bucket",
            "litellm_deployment_cooled_down_created",
        ];
        if cfg!(feature = "latency") {
            names.extend(latency);
        } else {
            for name in latency {
                assert!(!q.contains(name), "{name} in {q}");
            }
        }
        for name in names {
            assert!(q.contains(&format!("|{name}|")), "{name} in {q}");
        }
        let overridden = catalog
            .with_override(Metric::Cost, "my_spend_total")
            .unwrap();
        let q = instant_query(&overridden, &Selector::default());
        assert!(q.contains("|my_spend_created|") && !q.contains("litellm_spend_metric"));
        assert!(q.ends_with("\"}"), "{q}");
    }

    #[test]
    fn engine_values_and_times_read_like_go_writes_them() {
        let rows: [(&str, Option<f64>); 8] = [
            ("1.5", Some(1.5)),
            ("1e+06", Some(1e6)),
            ("0.30000000000000004", Some(0.1 + 0.2)),
            ("+Inf", Some(f64::INFINITY)),
            ("-Inf", Some(f64::NEG_INFINITY)),
            ("", None),
            ("1,5", None),
            ("twelve", None),
        ];
        for (text, want) in rows {
            assert_eq!(parse_value(text), want, "{text}");
        }
        assert!(parse_value("NaN").is_some_and(f64::is_nan));
        assert_eq!(seconds_to_ms(1_700_000_000.781), Some(1_700_000_000_781));
        assert_eq!(seconds_to_ms(1_700_000_000.0), Some(1_700_000_000_000));
        assert_eq!(seconds_to_ms(f64::NAN), None);
        assert_eq!(seconds_to_ms(1e300), None);
        assert_eq!(answer_clock_ms(1_000_000), 700_000);
    }

    fn series(rows: &[(&str, &[(&str, &str)])]) -> Vec<Vec<(String, String)>> {
        rows.iter()
            .map(|(name, labels)| {
                let mut l = vec![(NAME_LABEL.to_owned(), (*name).to_owned())];
                l.extend(
                    labels
                        .iter()
                        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
                );
                l
            })
            .collect()
    }

    #[test]
    fn an_answer_becomes_the_exposition_a_body_would_parse_to() {
        let s = series(&[
            ("b_total", &[("instance", "r2"), ("model", "m")]),
            ("a_total", &[("instance", "r1")]),
            ("b_total", &[("instance", "r1"), ("model", "m")]),
            ("", &[]),
        ]);
        let mut no_name = s[3].clone();
        no_name.remove(0);
        let values = [2.0, 1.0, 3.0];
        let expo = exposition(
            s[..3]
                .iter()
                .map(Vec::as_slice)
                .zip(values)
                .chain([(no_name.as_slice(), 9.0)]),
        );
        let mut text = String::new();
        crate::write::write_exposition(&expo, &mut text);
        assert_eq!(
            text,
            "a_total{instance=\"r1\"} 1.0\nb_total{instance=\"r2\",model=\"m\"} 2.0\n\
             b_total{instance=\"r1\",model=\"m\"} 3.0\n"
        );
        let parsed = crate::parse::parse(&text).unwrap();
        assert_eq!(expo.families, parsed.families);
        assert_eq!(expo.samples, parsed.samples);
        assert_eq!(expo.labels, parsed.labels);
    }

    #[test]
    fn replicas_are_separate_series_and_created_pairs_within_one() {
        // Two replicas with the same model label: a restart of r2 (new
        // `_created`, lower value) counts its new value, r1 grows by 2.
        let answer = |r1: f64, r2: f64, r2_created: &str| {
            let s = series(&[
                (
                    "litellm_spend_metric_total",
                    &[("instance", "r1"), ("model", "m")],
                ),
                (
                    "litellm_spend_metric_created",
                    &[("instance", "r1"), ("model", "m")],
                ),
                (
                    "litellm_spend_metric_total",
                    &[("instance", "r2"), ("model", "m")],
                ),
                (
                    "litellm_spend_metric_created",
                    &[("instance", "r2"), ("model", "m")],
                ),
            ]);
            let created: f64 = r2_created.parse().unwrap();
            (s, [r1, 100.0, r2, created])
        };
        let mut tracker = Tracker::new(Catalog::litellm());
        let t0 = 1_000_000_000;
        let (s, v) = answer(10.0, 20.0, "200");
        let obs = tracker.observe_with_target_clock(
            &exposition(s.iter().map(Vec::as_slice).zip(v)),
            t0,
            Some(answer_clock_ms(t0)),
        );
        assert!(obs.baseline);
        assert_eq!(tracker.series_len(), 2);
        // r2 restarted 10 s before the previous observation, and the engine
        // had not scraped it yet then: its new series still counts in full.
        let restart_s = (t0 - 10_000) / 1000;
        let (s, v) = answer(12.0, 5.0, &restart_s.to_string());
        let t1 = t0 + 60_000;
        let obs = tracker.observe_with_target_clock(
            &exposition(s.iter().map(Vec::as_slice).zip(v)),
            t1,
            Some(answer_clock_ms(t1)),
        );
        assert_eq!(obs.deltas.get(Metric::Cost), 2.0 + 5.0);
        assert_eq!(obs.resets, 1);
    }

    #[test]
    fn the_backfill_plan_is_aligned_whole_and_chunked() {
        const Q: i64 = BACKFILL_STEP_MS;
        let day = 86_400_000;
        let now = 20 * day + 7 * 60_000;
        // 90 days at 15 minutes: 8640 steps fit one chunk of 11,000.
        let plan = backfill_plan(now - 90 * day, now, Q, MAX_POINTS_PER_SERIES);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].start_ms, now - 90 * day - 7 * 60_000 + Q);
        assert_eq!(plan[0].end_ms, now - 7 * 60_000);
        assert_eq!(plan[0].steps(), 90 * 96);
        // A year in chunks of a week: every step once, in order, no gaps.
        let plan = backfill_plan(now - 365 * day, now, Q, 7 * 96);
        let steps: i64 = plan.iter().map(RangeChunk::steps).sum();
        assert_eq!(steps, 365 * 96);
        assert!(plan.windows(2).all(|w| w[1].start_ms == w[0].end_ms + Q));
        assert!(
            plan.iter()
                .all(|c| c.steps() <= 7 * 96 && c.start_ms % Q == 0)
        );
        // An aligned start is a step itself; nothing fits, or bad arguments: no plan.
        assert_eq!(backfill_plan(Q, Q, Q, 5)[0].steps(), 1);
        assert!(backfill_plan(Q + 1, 2 * Q - 1, Q, 5).is_empty());
        assert!(backfill_plan(0, day, 0, 5).is_empty());
        assert!(backfill_plan(0, day, Q, 0).is_empty());
        assert_eq!(backfill_start(10 * day, day, 0), 9 * day - LOOKBACK_MS);
        assert_eq!(backfill_start(10 * day, day, 9 * day), 9 * day);
    }
}
