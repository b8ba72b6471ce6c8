//! The JSON shapes of the API (wire types), built from domain values.
//!
//! Field names and order follow the Python reference's responses. Every
//! number goes through [`num`], so it is a JSON float without summation noise
//! (`0.0`, never `0` nor `0.15000000000000002`).

use chrono_tz::Tz;
use pulse_core::catalog::{Dimension, Metric, MetricValues, input_cached_pct};
use pulse_core::window::format_rfc3339;
use serde_json::{Map, Value, json};

use pulse_core::budget::{Budget, Scope, Threshold, forecast_exceeds, reached};

use crate::alerts::litellm::LitellmBudget;
use crate::store::{AlertRecord, BudgetMeasure, HistoryRow};

/// The three rolling windows of the reference: since local midnight, Monday, the 1st.
pub const WINDOW_SUFFIXES: [&str; 3] = ["daily", "weekly", "monthly"];

/// Metrics shown per model and per breakdown key: every counter (the gauge
/// has no per-model value).
pub fn counters() -> impl Iterator<Item = Metric> {
    Metric::ALL.into_iter().filter(|m| !m.is_gauge())
}

/// A float as a JSON number, cleaned of summation noise. Non-finite values
/// (which sums of finite deltas never produce) become `null`.
pub fn num(x: f64) -> Value {
    Value::from(pulse_core::num::clean(x))
}

/// `last_scrape`: ISO-8601 with the zone's offset, or null.
pub fn timestamp(ms: Option<i64>, tz: Tz) -> Value {
    ms.map_or(Value::Null, |ms| Value::String(format_rfc3339(ms, tz)))
}

/// All-time and window sums for the flat summary.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Sum of every stored delta.
    pub all_time: MetricValues,
    /// Since local midnight, Monday 00:00, the 1st 00:00.
    pub windows: [MetricValues; 3],
}

/// The flat `/api/v1/metrics` object.
///
/// Un-suffixed values are all-time sums (they survive LiteLLM restarts and
/// retention purges). `in_flight_requests` is the live gauge, and its windows
/// are `0.0`: a gauge has no sum over time.
pub fn summary(
    totals: &Totals,
    live: Option<&MetricValues>,
    last_scrape: Option<i64>,
    source: &str,
    error: Option<&str>,
    tz: Tz,
) -> Value {
    let mut out = Map::new();
    for metric in Metric::REFERENCE {
        let name = metric.name();
        if metric.is_gauge() {
            out.insert(name.into(), num(live.map_or(0.0, |v| v.get(metric))));
            for suffix in WINDOW_SUFFIXES {
                out.insert(format!("{name}_{suffix}"), num(0.0));
            }
        } else {
            out.insert(name.into(), num(totals.all_time.get(metric)));
            for (suffix, w) in WINDOW_SUFFIXES.iter().zip(&totals.windows) {
                out.insert(format!("{name}_{suffix}"), num(w.get(metric)));
            }
        }
    }
    insert_cached_pct(&mut out, &totals.all_time, &totals.windows);
    out.insert("last_scrape".into(), timestamp(last_scrape, tz));
    out.insert("source".into(), Value::String(source.to_owned()));
    if let Some(e) = error {
        out.insert("error".into(), Value::String(e.to_owned()));
    }
    Value::Object(out)
}

fn insert_cached_pct(
    out: &mut Map<String, Value>,
    all: &MetricValues,
    windows: &[MetricValues; 3],
) {
    let pct = |v: &MetricValues| {
        input_cached_pct(v.get(Metric::InputCachedTokens), v.get(Metric::InputTokens))
    };
    out.insert("input_cached_pct".into(), num(pct(all)));
    for (suffix, w) in WINDOW_SUFFIXES.iter().zip(windows) {
        out.insert(format!("input_cached_pct_{suffix}"), num(pct(w)));
    }
}

/// Names accepted by `/api/v1/metrics/{name}` (each also with a window suffix).
pub fn metric_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Metric::REFERENCE.iter().map(|m| m.name()).collect();
    names.push("input_cached_pct");
    names
}

/// The `snapshots` array of `/api/v1/history` (rows oldest first).
pub fn history(rows: &[HistoryRow], tz: Tz) -> Vec<Value> {
    rows.iter()
        .map(|row| {
            let mut out = Map::new();
            out.insert(
                "timestamp".into(),
                Value::String(format_rfc3339(row.at_ms, tz)),
            );
            out.insert("is_reset".into(), Value::Bool(row.is_reset));
            for metric in Metric::REFERENCE {
                let name = metric.name();
                out.insert(name.into(), num(row.live.get(metric)));
                out.insert(format!("{name}_delta"), num(row.deltas.get(metric)));
            }
            Value::Object(out)
        })
        .collect()
}

/// One key's sums: all time and the three windows.
#[derive(Debug, Clone, Default)]
pub struct KeyTotals {
    /// All time.
    pub all_time: MetricValues,
    /// Day, week, month.
    pub windows: [MetricValues; 3],
}

/// Joins per-key sums of all time and the three windows into one list sorted by key.
pub fn join_keys(
    all_time: Vec<(String, MetricValues)>,
    windows: [Vec<(String, MetricValues)>; 3],
) -> Vec<(String, KeyTotals)> {
    let mut map: std::collections::BTreeMap<String, KeyTotals> = Default::default();
    for (key, v) in all_time {
        map.entry(key).or_default().all_time = v;
    }
    for (i, list) in windows.into_iter().enumerate() {
        for (key, v) in list {
            if let Some(slot) = map.entry(key).or_default().windows.get_mut(i) {
                *slot = v;
            }
        }
    }
    map.into_iter().collect()
}

/// One entry of `/api/v1/models`. Keys without a model (`""`, e.g. rejected
/// `/metrics` calls) are left out by the caller.
pub fn model(name: &str, t: &KeyTotals) -> Value {
    let mut out = Map::new();
    out.insert("model".into(), Value::String(name.to_owned()));
    for metric in counters() {
        out.insert(metric.name().into(), num(t.all_time.get(metric)));
    }
    for (suffix, w) in WINDOW_SUFFIXES.iter().zip(&t.windows) {
        for metric in counters() {
            out.insert(format!("{}_{suffix}", metric.name()), num(w.get(metric)));
        }
    }
    insert_cached_pct(&mut out, &t.all_time, &t.windows);
    Value::Object(out)
}

/// How a breakdown key is shown: `""` (no value for this dimension) is "(none)".
pub fn key_name(key: &str) -> &str {
    if key.is_empty() { "(none)" } else { key }
}

/// `/api/v1/breakdown`: one object per key, most expensive first, ties by name.
pub fn breakdown(dim: Dimension, mut rows: Vec<(String, MetricValues)>) -> Vec<Value> {
    rows.sort_by(|(ka, a), (kb, b)| {
        let (ca, cb) = (
            pulse_core::num::clean(a.get(Metric::Cost)),
            pulse_core::num::clean(b.get(Metric::Cost)),
        );
        cb.total_cmp(&ca)
            .then_with(|| key_name(ka).cmp(key_name(kb)))
    });
    rows.iter()
        .map(|(key, v)| {
            let mut out = Map::new();
            out.insert("name".into(), Value::String(key_name(key).to_owned()));
            out.insert(dim.name().into(), Value::String(key.clone()));
            for metric in counters() {
                out.insert(metric.name().into(), num(v.get(metric)));
            }
            out.insert(
                "input_cached_pct".into(),
                num(input_cached_pct(
                    v.get(Metric::InputCachedTokens),
                    v.get(Metric::InputTokens),
                )),
            );
            Value::Object(out)
        })
        .collect()
}

/// One window's sums for `/api/v2/summary`.
pub fn window_object(v: &MetricValues) -> Value {
    let mut out = Map::new();
    for metric in counters() {
        out.insert(metric.name().into(), num(v.get(metric)));
    }
    out.insert(
        "input_cached_pct".into(),
        num(input_cached_pct(
            v.get(Metric::InputCachedTokens),
            v.get(Metric::InputTokens),
        )),
    );
    Value::Object(out)
}

/// The body of a 404 for an unknown metric name (the reference's shape).
pub fn unknown_metric(name: &str) -> Value {
    json!({ "error": format!("Unknown metric: {name}"), "available": metric_names() })
}

/// A budget's state word: `over` (spend above the limit), `warning` (a
/// threshold reached), `forecast_over` (the forecast exceeds the limit) or
/// `ok`, each by the core's rules.
pub fn budget_state(budget: &Budget, spent: f64, projected: f64) -> &'static str {
    if forecast_exceeds(budget, spent) {
        "over"
    } else if reached(budget, spent).next().is_some() {
        "warning"
    } else if budget.forecast_warning() && forecast_exceeds(budget, projected) {
        "forecast_over"
    } else {
        "ok"
    }
}

/// One entry of `/api/v1/budgets`' `budgets`.
pub fn budget(budget: &Budget, m: &BudgetMeasure, tz: Tz) -> Value {
    let (dimension, value) = match budget.scope() {
        Scope::All => (Value::Null, Value::Null),
        Scope::One(d, v) => (Value::from(d.name()), Value::from(v.as_str())),
    };
    let reached_now: Vec<Threshold> = reached(budget, m.spent).collect();
    let thresholds: Vec<Value> = budget
        .thresholds()
        .iter()
        .map(|t| {
            json!({
                "percent": t.percent(),
                "amount": num(t.amount(budget.limit())),
                "reached": reached_now.contains(t),
            })
        })
        .collect();
    let projected = m.forecast.projected;
    json!({
        "name": budget.name(),
        "scope": budget.scope().to_string(),
        "scope_dimension": dimension,
        "scope_value": value,
        "metric": budget.metric().name(),
        "period": budget.period().to_string(),
        "period_key": m.period.key.as_str(),
        "period_start": format_rfc3339(m.period.range.start_ms, tz),
        "period_end": format_rfc3339(m.period.range.end_ms, tz),
        "spent": num(m.spent),
        "limit": num(budget.limit()),
        "percent": num(budget.percent_of_limit(m.spent)),
        "forecast": num(projected),
        "forecast_percent": num(budget.percent_of_limit(projected)),
        "forecast_warning": budget.forecast_warning(),
        "thresholds": thresholds,
        "state": budget_state(budget, m.spent, projected),
    })
}

/// One entry of `/api/v1/budgets`' `litellm_budgets`. Infinite gauges
/// ("no budget") are `null`.
pub fn litellm_budget(b: &LitellmBudget) -> Value {
    let opt = |v: Option<f64>| v.map_or(Value::Null, num);
    let used_percent = match (b.max_budget, b.remaining) {
        (Some(max), Some(rem)) if max > 0.0 => num((max - rem) / max * 100.0),
        _ => Value::Null,
    };
    json!({
        "entity": b.entity,
        "name": b.name,
        "labels": b.ident,
        "remaining": opt(b.remaining),
        "max_budget": opt(b.max_budget),
        "remaining_hours": opt(b.remaining_hours),
        "used_percent": used_percent,
        "has_budget": b.has_budget(),
    })
}

/// One entry of `/api/v1/alerts`.
pub fn alert(rec: &AlertRecord, tz: Tz) -> Value {
    let mut out = match serde_json::to_value(&rec.event) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    out.insert("id".into(), Value::from(rec.id));
    let deliveries: Vec<Value> = rec
        .deliveries
        .iter()
        .map(|d| {
            let state = if d.delivered_ms.is_some() {
                "delivered"
            } else if d.failed_ms.is_some() {
                "failed"
            } else {
                "pending"
            };
            json!({
                "channel": d.channel,
                "state": state,
                "attempts": d.attempts,
                "next_attempt_at": timestamp(d.next_attempt_ms, tz),
                "delivered_at": timestamp(d.delivered_ms, tz),
                "failed_at": timestamp(d.failed_ms, tz),
                "last_error": d.last_error,
            })
        })
        .collect();
    out.insert("deliveries".into(), Value::Array(deliveries));
    Value::Object(out)
}
