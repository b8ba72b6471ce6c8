//! The alert config file: TOML → [`AlertConfig`], or one error naming the
//! file, line, column and field.
//!
//! Two stages, like the flags: serde reads what the user wrote
//! (`deny_unknown_fields`, spans kept), then every budget goes through the
//! core's [`Budget::new`], whose typed field error is placed at that field's
//! span. The file is read once at start-up and again on SIGHUP; a bad file
//! at start-up stops pulse with exit code 2, a bad file on reload keeps the
//! old config.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pulse_core::budget::{
    Budget, BudgetError, BudgetField, BudgetSpec, Scope, SpikeRule, Threshold,
};
use pulse_core::catalog::{Dimension, Metric};
use pulse_core::window::Period;
use serde::Deserialize;
use toml::Spanned;

use super::{AlertConfig, Channel, ChannelKind};

/// Why a config file was refused: where, which field, what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {field}: {message}", path.display())]
pub struct ConfigFileError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line (0 when the file could not be read).
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The field (key) the error is about, or the table when there is none.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    budget: Vec<BudgetTable>,
    #[serde(default)]
    channel: Vec<ChannelTable>,
    spike: Option<SpikeTable>,
    scrape_down: Option<ScrapeDownTable>,
    litellm_budgets: Option<LitellmTable>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LitellmTable {
    thresholds: Option<Spanned<Vec<f64>>>,
}

/// The thresholds of LiteLLM's own budgets when `[litellm_budgets]` lists none.
pub const DEFAULT_LITELLM_THRESHOLDS: [f64; 2] = [80.0, 100.0];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetTable {
    name: Spanned<String>,
    scope: Option<Spanned<toml::Value>>,
    metric: Option<Spanned<String>>,
    period: Option<Spanned<String>>,
    limit: Spanned<f64>,
    thresholds: Option<Spanned<Vec<f64>>>,
    forecast: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelTable {
    name: Spanned<String>,
    #[serde(rename = "type")]
    kind: Spanned<String>,
    url: Spanned<String>,
    secret: Option<Spanned<String>>,
    priority: Option<Spanned<toml::Value>>,
    tags: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpikeTable {
    factor: Option<Spanned<f64>>,
    days: Option<Spanned<u32>>,
    min_abs: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScrapeDownTable {
    minutes: Spanned<u32>,
}

/// Reads and validates the file at `path`, adding the
/// `LITELLM_PULSE_MONTHLY_BUDGET` shortcut when given.
pub fn load(path: Option<&Path>, monthly: Option<f64>) -> Result<AlertConfig, ConfigFileError> {
    let mut config = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigFileError {
                path: path.to_owned(),
                line: 0,
                column: 0,
                field: "(file)".into(),
                message: format!("cannot read: {e}"),
            })?;
            parse(path, &text)?
        }
        None => AlertConfig::default(),
    };
    if let Some(limit) = monthly {
        add_monthly(&mut config, limit)?;
    }
    Ok(config)
}

/// The name of the budget `LITELLM_PULSE_MONTHLY_BUDGET` declares.
pub const MONTHLY_BUDGET_NAME: &str = "monthly";

fn add_monthly(config: &mut AlertConfig, limit: f64) -> Result<(), ConfigFileError> {
    let env_error = |message: String| ConfigFileError {
        path: PathBuf::from("LITELLM_PULSE_MONTHLY_BUDGET"),
        line: 1,
        column: 1,
        field: "limit".into(),
        message,
    };
    if config
        .budgets
        .iter()
        .any(|b| b.name() == MONTHLY_BUDGET_NAME)
    {
        return Err(env_error(format!(
            "the config file already has a budget named {MONTHLY_BUDGET_NAME:?}"
        )));
    }
    let budget = Budget::new(BudgetSpec::new(MONTHLY_BUDGET_NAME, Period::Month, limit))
        .map_err(|e| env_error(e.kind.to_string()))?;
    config.budgets.push(budget);
    Ok(())
}

/// Parses the text of a config file (`path` only names it in errors).
pub fn parse(path: &Path, text: &str) -> Result<AlertConfig, ConfigFileError> {
    let at = |span: Range<usize>, field: &str, message: String| {
        let (line, column) = line_col(text, span.start);
        ConfigFileError {
            path: path.to_owned(),
            line,
            column,
            field: field.to_owned(),
            message,
        }
    };
    let doc: FileDoc = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let field = field_at(text, span.clone());
        at(span, &field, e.message().trim().to_owned())
    })?;

    let mut config = AlertConfig::default();
    for table in doc.budget {
        let name = table.name.get_ref().clone();
        if config.budgets.iter().any(|b| b.name() == name) {
            return Err(at(
                table.name.span(),
                "name",
                format!("duplicate budget name {name:?}"),
            ));
        }
        let mut spec = BudgetSpec::new(name, Period::Month, *table.limit.get_ref());
        if let Some(scope) = &table.scope {
            spec.scope = parse_scope(scope.get_ref()).map_err(|m| at(scope.span(), "scope", m))?;
        }
        if let Some(metric) = &table.metric {
            spec.metric = Metric::from_name(metric.get_ref().trim()).ok_or_else(|| {
                at(
                    metric.span(),
                    "metric",
                    format!(
                        "unknown metric {:?}: expected cost, tokens, requests or another counter",
                        metric.get_ref()
                    ),
                )
            })?;
        }
        if let Some(period) = &table.period {
            spec.period = Period::from_str(period.get_ref())
                .map_err(|e| at(period.span(), "period", e.to_string()))?;
        }
        if let Some(t) = &table.thresholds {
            spec.thresholds = t.get_ref().clone();
        }
        if let Some(f) = table.forecast {
            spec.forecast_warning = f;
        }
        let budget = Budget::new(spec).map_err(|e: BudgetError| {
            let span = match e.field {
                BudgetField::Name => table.name.span(),
                BudgetField::Metric => table.metric.as_ref().map_or(0..0, Spanned::span),
                BudgetField::Thresholds => table.thresholds.as_ref().map_or(0..0, Spanned::span),
                _ => table.limit.span(),
            };
            at(span, e.field.name(), e.kind.to_string())
        })?;
        config.budgets.push(budget);
    }

    for table in doc.channel {
        let name = table.name.get_ref().trim().to_owned();
        if name.is_empty() {
            return Err(at(table.name.span(), "name", "must not be empty".into()));
        }
        if config.channels.iter().any(|c| c.name == name) {
            return Err(at(
                table.name.span(),
                "name",
                format!("duplicate channel name {name:?}"),
            ));
        }
        let kind = match table.kind.get_ref().as_str() {
            "webhook" => ChannelKind::Webhook,
            "slack" => ChannelKind::Slack,
            "discord" => ChannelKind::Discord,
            "ntfy" => ChannelKind::Ntfy,
            other => {
                return Err(at(
                    table.kind.span(),
                    "type",
                    format!(
                        "unknown channel type {other:?}: expected webhook, slack, discord or ntfy"
                    ),
                ));
            }
        };
        // The URL is a secret: the message never repeats it.
        let url = reqwest::Url::parse(table.url.get_ref().trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| at(table.url.span(), "url", "not an http(s) URL".into()))?;
        if let Some(secret) = &table.secret
            && kind != ChannelKind::Webhook
        {
            return Err(at(
                secret.span(),
                "secret",
                "only a webhook channel signs its body".into(),
            ));
        }
        let priority = match &table.priority {
            None => None,
            Some(p) if kind != ChannelKind::Ntfy => {
                return Err(at(
                    p.span(),
                    "priority",
                    "only an ntfy channel has a priority".into(),
                ));
            }
            Some(p) => Some(parse_priority(p.get_ref()).map_err(|m| at(p.span(), "priority", m))?),
        };
        config.channels.push(Channel {
            name,
            kind,
            url,
            secret: table.secret.map(|s| s.into_inner()),
            priority,
            tags: table.tags.unwrap_or_default(),
        });
    }

    if let Some(spike) = doc.spike {
        let mut rule = SpikeRule::default();
        if let Some(f) = spike.factor {
            if !(f.get_ref().is_finite() && *f.get_ref() >= 1.0) {
                return Err(at(
                    f.span(),
                    "factor",
                    "must be a number of at least 1".into(),
                ));
            }
            rule.factor = *f.get_ref();
        }
        if let Some(d) = spike.days {
            if !(1..=28).contains(d.get_ref()) {
                return Err(at(d.span(), "days", "must be from 1 to 28".into()));
            }
            rule.days = *d.get_ref();
        }
        if let Some(m) = spike.min_abs {
            if !(m.get_ref().is_finite() && *m.get_ref() >= 0.0) {
                return Err(at(
                    m.span(),
                    "min_abs",
                    "must be a number of at least 0".into(),
                ));
            }
            rule.min_abs = *m.get_ref();
        }
        config.spike = Some(rule);
    }
    if let Some(down) = doc.scrape_down {
        if *down.minutes.get_ref() == 0 {
            return Err(at(
                down.minutes.span(),
                "minutes",
                "must be at least 1".into(),
            ));
        }
        config.scrape_down_minutes = Some(*down.minutes.get_ref());
    }
    if let Some(table) = doc.litellm_budgets {
        let given = table
            .thresholds
            .as_ref()
            .map(|t| (t.get_ref().clone(), t.span()));
        let (list, span) = given.unwrap_or((DEFAULT_LITELLM_THRESHOLDS.to_vec(), 0..0));
        let mut thresholds = Vec::new();
        for p in &list {
            thresholds.push(Threshold::from_percent(*p).ok_or_else(|| {
                at(
                    span.clone(),
                    "thresholds",
                    format!("{p} is not a threshold: expected a percent above 0 with at most two decimals"),
                )
            })?);
        }
        if thresholds.is_empty() {
            return Err(at(
                span,
                "thresholds",
                "must list at least one threshold".into(),
            ));
        }
        thresholds.sort_unstable();
        thresholds.dedup();
        config.litellm_thresholds = Some(thresholds);
    }
    Ok(config)
}

/// `"all"`, or a table with exactly one dimension key: `{ model = "gpt-4o" }`.
fn parse_scope(v: &toml::Value) -> Result<Scope, String> {
    let dims: Vec<&str> = Dimension::ALL.iter().map(|d| d.name()).collect();
    let expected = format!(
        "expected \"all\" or a table with one of {} (e.g. {{ model = \"gpt-4o\" }})",
        dims.join(", ")
    );
    match v {
        toml::Value::String(s) if s == "all" => Ok(Scope::All),
        toml::Value::Table(t) if t.len() == 1 => {
            let (k, value) = t.iter().next().ok_or_else(|| expected.clone())?;
            let dim = Dimension::from_name(k)
                .ok_or_else(|| format!("unknown scope {k:?}: {expected}"))?;
            match value {
                toml::Value::String(s) => Ok(Scope::One(dim, s.clone())),
                _ => Err(format!("the {k} of a scope must be a string")),
            }
        }
        _ => Err(format!("unknown scope: {expected}")),
    }
}

/// ntfy's priority: 1–5 or its names.
fn parse_priority(v: &toml::Value) -> Result<u8, String> {
    let err = || "expected 1 to 5, or min, low, default, high, urgent".to_owned();
    match v {
        toml::Value::Integer(n) if (1..=5).contains(n) => u8::try_from(*n).map_err(|_| err()),
        toml::Value::String(s) => match s.as_str() {
            "min" => Ok(1),
            "low" => Ok(2),
            "default" => Ok(3),
            "high" => Ok(4),
            "urgent" | "max" => Ok(5),
            _ => Err(err()),
        },
        _ => Err(err()),
    }
}

/// 1-based line and character column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// The key an error span is about: the key of `key = value` on the span's
/// line when the span is the value, else the spanned text itself (an
/// unknown key), else the table header.
fn field_at(text: &str, span: Range<usize>) -> String {
    let start = span.start.min(text.len());
    let line_start = text
        .get(..start)
        .and_then(|s| s.rfind('\n'))
        .map_or(0, |i| i + 1);
    let line_end = text
        .get(start..)
        .and_then(|s| s.find('\n'))
        .map_or(text.len(), |i| start + i);
    let line = text.get(line_start..line_end).unwrap_or("");
    let prefix = text.get(line_start..start).unwrap_or("");
    let key = |s: &str| s.trim().trim_matches('"').to_owned();
    if let Some((k, _)) = prefix.split_once('=') {
        return key(k);
    }
    if let Some((k, _)) = line.split_once('=') {
        return key(k);
    }
    let spanned = text.get(span.clone()).unwrap_or("").trim();
    if !spanned.is_empty() && spanned.len() < 64 {
        return key(spanned.trim_start_matches('[').trim_end_matches(']'));
    }
    "(document)".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(Path::new("pulse.toml"), text)
            .unwrap_err()
            .to_string()
    }

    const GOOD: &str = r#"
[[budget]]
name = "all-spend"
limit = 100

[[budget]]
name = "gpt-4o daily"
scope = { model = "gpt-4o" }
metric = "tokens"
period = "day"
limit = 2_000_000
thresholds = [80, 100]
forecast = false

[[channel]]
name = "ops"
type = "webhook"
url = "https://hooks.example/pulse"
secret = "s3cret-value"

[[channel]]
name = "phone"
type = "ntfy"
url = "https://ntfy.sh/my-topic"
priority = "high"
tags = ["moneybag"]

[spike]
factor = 4

[scrape_down]
minutes = 10

[litellm_budgets]
thresholds = [90]
"#;

    #[test]
    fn a_good_file_resolves() {
        let c = parse(Path::new("pulse.toml"), GOOD).unwrap();
        assert_eq!(c.budgets.len(), 2);
        assert_eq!(c.budgets[0].period(), Period::Month);
        assert_eq!(c.budgets[0].limit(), 100.0);
        assert_eq!(c.budgets[1].scope().to_string(), "model=gpt-4o");
        assert_eq!(c.budgets[1].metric(), Metric::Tokens);
        assert!(!c.budgets[1].forecast_warning());
        assert_eq!(c.channels.len(), 2);
        assert_eq!(c.channels[1].priority, Some(4));
        assert_eq!(c.spike.unwrap().factor, 4.0);
        assert_eq!(c.spike.unwrap().days, 7);
        assert_eq!(c.scrape_down_minutes, Some(10));
        assert_eq!(
            c.litellm_thresholds,
            Some(vec![Threshold::from_percent(90.0).unwrap()])
        );
        // Secrets stay out of debug output.
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("hooks.example"),
            "{shown}"
        );
    }

    #[test]
    fn errors_name_file_line_column_and_field() {
        let rows: [(&str, &str); 12] = [
            (
                "[[budget]]\nname = \"a\"\nlimit = 10\nlimt = 3\n",
                "pulse.toml:4:1: limt: unknown field `limt`",
            ),
            (
                "[[budget]]\nname = \"a\"\nlimit = \"ten\"\n",
                "pulse.toml:3:9: limit: invalid type: string \"ten\", expected f64",
            ),
            (
                "[[budget]]\nname = \"a\"\nlimit = -5\n",
                "pulse.toml:3:9: limit: must be a finite number above 0, got -5",
            ),
            (
                "[[budget]]\nname = \"a\"\nlimit = 5\nscope = { tean = \"x\" }\n",
                "pulse.toml:4:9: scope: unknown scope \"tean\"",
            ),
            (
                "[[budget]]\nname = \"a\"\nlimit = 5\nscope = \"everything\"\n",
                "pulse.toml:4:9: scope: unknown scope: expected \"all\"",
            ),
            (
                "[[budget]]\nname = \"a\"\nlimit = 5\n\n[[budget]]\nname = \"a\"\nlimit = 6\n",
                "pulse.toml:6:8: name: duplicate budget name \"a\"",
            ),
            (
                "[[budget]]\nname = \"a\"\nlimit = 5\nthresholds = [80, 0]\n",
                "pulse.toml:4:14: thresholds: 0 is not a threshold",
            ),
            (
                "[[budget]]\nname = \"a\"\nlimit = 5\nmetric = \"in_flight_requests\"\n",
                "pulse.toml:4:10: metric: in_flight_requests is a gauge",
            ),
            (
                "[[budget]]\nname = \"a\"\nlimit = 5\nperiod = \"year\"\n",
                "pulse.toml:4:10: period: unknown period \"year\"",
            ),
            (
                "[[channel]]\nname = \"x\"\ntype = \"pager\"\nurl = \"https://h/\"\n",
                "pulse.toml:3:8: type: unknown channel type \"pager\"",
            ),
            (
                "[[channel]]\nname = \"x\"\ntype = \"webhook\"\nurl = \"not a url https://secret/\"\n",
                "pulse.toml:4:7: url: not an http(s) URL",
            ),
            (
                "[scrape_down]\nminutes = 0\n",
                "pulse.toml:2:11: minutes: must be at least 1",
            ),
        ];
        for (text, want) in rows {
            let got = err(text);
            assert!(got.starts_with(want), "{text:?}\n got: {got}\nwant: {want}");
            assert!(!got.contains("secret/"), "{got}");
        }
    }

    #[test]
    fn the_env_shortcut_adds_a_monthly_budget() {
        let c = load(None, Some(100.0)).unwrap();
        assert_eq!(c.budgets.len(), 1);
        assert_eq!(c.budgets[0].name(), MONTHLY_BUDGET_NAME);
        assert_eq!(c.budgets[0].period(), Period::Month);
        assert_eq!(c.budgets[0].scope(), &Scope::All);
        let bad = load(None, Some(-1.0)).unwrap_err();
        assert_eq!(
            bad.to_string(),
            "LITELLM_PULSE_MONTHLY_BUDGET:1:1: limit: must be a finite number above 0, got -1"
        );
        let missing = load(Some(Path::new("/nonexistent/pulse.toml")), None).unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("/nonexistent/pulse.toml:0:0: (file): cannot read")
        );
    }
}
