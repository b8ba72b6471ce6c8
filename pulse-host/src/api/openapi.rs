//! The OpenAPI 3.1 document served at `/openapi.json`.
//!
//! Written by hand, with the per-metric fields generated from the catalog so
//! the document cannot forget a metric. The API tests check every endpoint's
//! real response against these schemas (`check::validate`, compiled for tests
//! only).

use pulse_core::catalog::{Dimension, Histogram, Metric};
use pulse_core::window::Window;
use serde_json::{Map, Value, json};

use super::latency::{DEFAULT_HISTOGRAM, Stat};
use super::views::{WINDOW_SUFFIXES, counters};

/// The scrape targets' states, by `instance` name.
fn targets_schema() -> Value {
    let ts = json!({ "type": ["string", "null"], "format": "date-time" });
    json!({ "type": "array", "items": { "type": "object", "properties": {
        "instance": { "type": "string", "description": "host:port, the key of the instance dimension" },
        "url": { "type": "string" },
        "listed": { "type": "boolean", "description": "in the configuration or the latest DNS answer" },
        "fresh": { "type": "boolean" },
        "last_attempt": ts, "last_success": ts,
        "last_error": { "type": ["string", "null"] },
        "consecutive_failures": { "type": "integer" },
        "last_duration_ms": { "type": ["number", "null"] },
        "series": { "type": "integer" }, "latency_series": { "type": "integer" },
        "scrapes_ok": { "type": "integer" }, "scrapes_failed": { "type": "integer" },
    }, "required": ["instance", "url", "listed", "fresh", "last_attempt", "last_success", "last_error", "consecutive_failures", "last_duration_ms", "series", "latency_series", "scrapes_ok", "scrapes_failed"], "additionalProperties": false } })
}

#[cfg(test)]
mod check;
#[cfg(test)]
pub use check::validate;

fn number() -> Value {
    json!({ "type": "number" })
}

fn timestamp_or_null() -> Value {
    json!({ "type": ["string", "null"], "format": "date-time", "description": "ISO-8601 with the configured zone's offset" })
}

fn object(props: Map<String, Value>, required: Vec<String>, closed: bool) -> Value {
    let mut o = json!({ "type": "object", "properties": props, "required": required });
    if closed {
        o["additionalProperties"] = Value::Bool(false);
    }
    o
}

/// The flat summary of `/api/v1/metrics`.
fn summary_schema() -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    let mut add = |props: &mut Map<String, Value>, name: String| {
        props.insert(name.clone(), number());
        required.push(name);
    };
    for metric in Metric::REFERENCE {
        add(&mut props, metric.name().to_owned());
        for s in WINDOW_SUFFIXES {
            add(&mut props, format!("{}_{s}", metric.name()));
        }
    }
    add(&mut props, "input_cached_pct".into());
    for s in WINDOW_SUFFIXES {
        add(&mut props, format!("input_cached_pct_{s}"));
    }
    props.insert("last_scrape".into(), timestamp_or_null());
    required.push("last_scrape".into());
    props.insert(
        "source".into(),
        json!({ "type": "string", "description": "the metrics URL without credentials" }),
    );
    required.push("source".into());
    props.insert("error".into(), json!({ "type": "string", "description": "present only while the latest scrape or database write failed" }));
    object(props, required, true)
}

fn per_key_schema(first: &str) -> Value {
    let mut props = Map::new();
    let mut required = vec![first.to_owned()];
    props.insert(first.into(), json!({ "type": "string" }));
    for metric in counters() {
        props.insert(metric.name().into(), number());
        required.push(metric.name().into());
        for s in WINDOW_SUFFIXES {
            props.insert(format!("{}_{s}", metric.name()), number());
            required.push(format!("{}_{s}", metric.name()));
        }
    }
    props.insert("input_cached_pct".into(), number());
    required.push("input_cached_pct".into());
    for s in WINDOW_SUFFIXES {
        props.insert(format!("input_cached_pct_{s}"), number());
        required.push(format!("input_cached_pct_{s}"));
    }
    object(props, required, true)
}

fn snapshot_schema() -> Value {
    let mut props = Map::new();
    let mut required = vec!["timestamp".to_owned(), "is_reset".to_owned()];
    props.insert(
        "timestamp".into(),
        json!({ "type": "string", "format": "date-time" }),
    );
    props.insert("is_reset".into(), json!({ "type": "boolean" }));
    for metric in Metric::REFERENCE {
        props.insert(metric.name().into(), number());
        props.insert(format!("{}_delta", metric.name()), number());
        required.push(metric.name().into());
        required.push(format!("{}_delta", metric.name()));
    }
    object(props, required, true)
}

fn window_sums_schema() -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for metric in counters() {
        props.insert(metric.name().into(), number());
        required.push(metric.name().to_owned());
    }
    props.insert("input_cached_pct".into(), number());
    required.push("input_cached_pct".into());
    props.insert(
        "cost_forecast".into(),
        json!({ "type": "number", "description": "today, week and month only: the projected cost at the window's end (see README, How forecasts work)" }),
    );
    object(props, required, true)
}

fn number_or_null() -> Value {
    json!({ "type": ["number", "null"] })
}

/// The generic webhook's body, also each entry of `/api/v1/alerts`.
fn alert_event_schema() -> Value {
    json!({
        "type": "object",
        "description": "The JSON body of every generic webhook request. Sent with `Idempotency-Key` (equal to `idempotency_key`) and, when the channel has a secret, `X-Pulse-Signature: sha256=<hex>` = HMAC-SHA256 of the exact body bytes.",
        "properties": {
            "idempotency_key": { "type": "string", "pattern": "^[0-9a-f]{32}$", "description": "the same on every delivery of one decision: drop repeats by it" },
            "key": { "type": "string", "description": "the decision's identity, kind:period:threshold:subject" },
            "kind": { "type": "string", "enum": ["threshold", "forecast", "spike", "scrape_down", "scrape_recovered", "litellm_budget", "test"] },
            "subject": { "type": "string", "description": "the budget's name, `spend`, `scrape`, or the LiteLLM entity" },
            "period": { "type": "string", "description": "period key (2026-03, 2026-W10, 2026-03-08, 2026-03-08T14) or the outage start" },
            "threshold": number_or_null(),
            "title": { "type": "string" },
            "message": { "type": "string" },
            "value": number_or_null(),
            "limit": number_or_null(),
            "projected": number_or_null(),
            "metric": { "type": ["string", "null"] },
            "created_at": { "type": "string", "format": "date-time" },
        },
        "required": ["idempotency_key", "key", "kind", "subject", "period", "threshold", "title", "message", "value", "limit", "projected", "metric", "created_at"],
        "additionalProperties": false,
    })
}

fn budget_schema() -> Value {
    let mut dims: Vec<Value> = Dimension::ALL
        .iter()
        .map(|d| Value::from(d.name()))
        .collect();
    dims.push(Value::Null);
    json!({
        "type": "object",
        "properties": {
            "name": { "type": "string" },
            "scope": { "type": "string", "description": "`all` or `dimension=value`" },
            "scope_dimension": { "type": ["string", "null"], "enum": dims },
            "scope_value": { "type": ["string", "null"] },
            "metric": { "type": "string" },
            "period": { "type": "string", "enum": ["day", "week", "month"] },
            "period_key": { "type": "string" },
            "period_start": { "type": "string", "format": "date-time", "description": "local, with the zone's offset" },
            "period_end": { "type": "string", "format": "date-time", "description": "exclusive: the next period's start" },
            "spent": number(), "limit": number(), "percent": number(),
            "forecast": { "type": "number", "description": "projected value at the period's end" },
            "forecast_percent": number(),
            "forecast_warning": { "type": "boolean" },
            "thresholds": { "type": "array", "items": { "type": "object", "properties": { "percent": number(), "amount": number(), "reached": { "type": "boolean" } }, "required": ["percent", "amount", "reached"], "additionalProperties": false } },
            "state": { "type": "string", "enum": ["ok", "warning", "forecast_over", "over"] },
        },
        "required": ["name", "scope", "scope_dimension", "scope_value", "metric", "period", "period_key", "period_start", "period_end", "spent", "limit", "percent", "forecast", "forecast_percent", "forecast_warning", "thresholds", "state"],
        "additionalProperties": false,
    })
}

fn litellm_budget_schema() -> Value {
    json!({
        "type": "object",
        "description": "LiteLLM's own budget gauges (litellm_remaining_<entity>_budget_metric, …_max_budget_metric, …_budget_remaining_hours_metric); +Inf (no budget) is null",
        "properties": {
            "entity": { "type": "string", "enum": crate::alerts::litellm::ENTITIES },
            "name": { "type": "string" },
            "labels": { "type": "string" },
            "remaining": number_or_null(),
            "max_budget": number_or_null(),
            "remaining_hours": number_or_null(),
            "used_percent": number_or_null(),
            "has_budget": { "type": "boolean" },
        },
        "required": ["entity", "name", "labels", "remaining", "max_budget", "remaining_hours", "used_percent", "has_budget"],
        "additionalProperties": false,
    })
}

fn alert_record_schema() -> Value {
    let mut schema = alert_event_schema();
    schema["description"] = Value::from("a recorded alert and its delivery state per channel");
    schema["properties"]["id"] = json!({ "type": "integer" });
    schema["properties"]["deliveries"] = json!({ "type": "array", "items": { "type": "object", "properties": {
        "channel": { "type": "string" },
        "state": { "type": "string", "enum": ["pending", "delivered", "failed"] },
        "attempts": { "type": "integer", "minimum": 0 },
        "next_attempt_at": timestamp_or_null(), "delivered_at": timestamp_or_null(), "failed_at": timestamp_or_null(),
        "last_error": { "type": ["string", "null"] },
    }, "required": ["channel", "state", "attempts", "next_attempt_at", "delivered_at", "failed_at", "last_error"], "additionalProperties": false } });
    if let Some(req) = schema["required"].as_array_mut() {
        req.push(Value::from("id"));
        req.push(Value::from("deliveries"));
    }
    schema
}

fn breakdown_item_schema() -> Value {
    let mut props = Map::new();
    let mut required = vec!["name".to_owned()];
    props.insert(
        "name".into(),
        json!({ "type": "string", "description": "the key, or \"(none)\"" }),
    );
    for dim in Dimension::ALL {
        props.insert(dim.name().into(), json!({ "type": "string", "description": "the raw key (only the requested dimension is present)" }));
    }
    for metric in counters() {
        props.insert(metric.name().into(), number());
        required.push(metric.name().to_owned());
    }
    props.insert("input_cached_pct".into(), number());
    required.push("input_cached_pct".into());
    object(props, required, true)
}

/// One key of `/api/v1/latency`.
fn latency_row_schema() -> Value {
    let quantile = |what: &str| json!({ "type": ["number", "null"], "description": format!("{what}, in seconds, by linear interpolation within the histogram bucket that holds it (Prometheus' histogram_quantile); null without observations") });
    let mut props = Map::new();
    props.insert(
        "key".into(),
        json!({ "type": "string", "description": "the key, \"(none)\", or \"total\"" }),
    );
    props.insert(
        "count".into(),
        json!({ "type": "number", "description": "observations in the window" }),
    );
    props.insert("mean".into(), json!({ "type": ["number", "null"], "description": "sum / count, in seconds; null without observations" }));
    props.insert("p50".into(), quantile("median"));
    props.insert("p90".into(), quantile("90th percentile"));
    props.insert("p99".into(), quantile("99th percentile"));
    for (name, what) in [
        ("requests", "requests answered by the proxy"),
        ("failed_requests", "the failed subset of requests"),
        ("deployment_success", "successful deployment responses"),
        ("deployment_failures", "failed deployment responses"),
        (
            "error_rate",
            "deployment_failures / (deployment_success + deployment_failures), 0 to 1; 0 without traffic",
        ),
        ("fallbacks", "successful_fallbacks + failed_fallbacks"),
        ("cooled_down", "times a deployment was put in cooldown"),
        (
            "successful_fallbacks",
            "requests that succeeded on a fallback model",
        ),
        ("failed_fallbacks", "fallbacks that were tried and failed"),
    ] {
        props.insert(
            name.into(),
            json!({ "type": "number", "description": what }),
        );
    }
    let required: Vec<String> = props.keys().cloned().collect();
    object(props, required, true)
}

fn timezone() -> Value {
    json!({ "type": "string", "description": "the configured IANA time zone; days, weeks and months are counted in it" })
}

fn scrape_interval() -> Value {
    json!({ "type": "integer", "minimum": 1, "description": "seconds between scrapes" })
}

fn error_schema() -> Value {
    json!({ "type": "object", "properties": { "error": { "type": "string" } }, "required": ["error"] })
}

fn get(summary: &str, schema: Value, params: Value, errors: &[(&str, &str)]) -> Value {
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({ "description": "OK", "content": { "application/json": { "schema": schema } } }),
    );
    for (code, why) in errors {
        responses.insert(
            (*code).into(),
            json!({ "description": why, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }),
        );
    }
    json!({ "get": { "summary": summary, "parameters": params, "responses": responses } })
}

fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false, "schema": schema, "description": description })
}

/// The document.
pub fn document() -> Value {
    let dims: Vec<&str> = Dimension::ALL.iter().map(|d| d.name()).collect();
    let mut metrics: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
    metrics.extend(Stat::ALL.iter().map(|s| s.name()));
    let histograms: Vec<&str> = Histogram::ALL.iter().map(|h| h.name()).collect();
    let histogram_param = query(
        "histogram",
        json!({ "type": "string", "enum": histograms, "default": DEFAULT_HISTOGRAM.name() }),
        "latency histogram (latency metrics only): request_latency is the whole request, llm_api_latency the provider call, time_to_first_token until the first streamed token, overhead_latency the proxy's own share, queue_time waiting in its queue",
    );
    let reference: Vec<&str> = Metric::REFERENCE.iter().map(|m| m.name()).collect();
    let window_param = query(
        "window",
        json!({ "type": "string", "examples": Window::NAMES }),
        "reporting window in the configured zone",
    );
    let status = json!({ "type": "string", "enum": ["ok", "starting", "degraded"] });
    let mut paths = Map::new();
    paths.insert(
        "/api/v1/metrics".into(),
        get(
            "All-time totals and day/week/month windows",
            json!({ "$ref": "#/components/schemas/Summary" }),
            json!([]),
            &[("503", "database unavailable")],
        ),
    );
    paths.insert(
        "/api/v1/metrics/{name}".into(),
        get(
            "One field of the summary",
            json!({ "type": "object", "properties": { "name": { "type": "string" }, "value": number(), "last_scrape": timestamp_or_null() }, "required": ["name", "value", "last_scrape"], "additionalProperties": false }),
            json!([{ "name": "name", "in": "path", "required": true, "schema": { "type": "string" }, "description": "a metric name, optionally with _daily, _weekly or _monthly" }]),
            &[("404", "unknown metric; the body lists the available names")],
        ),
    );
    paths.insert(
        "/api/v1/history".into(),
        get(
            "The latest scrapes, oldest first",
            json!({ "type": "object", "properties": { "snapshots": { "type": "array", "items": { "$ref": "#/components/schemas/Snapshot" } }, "count": { "type": "integer" }, "source": { "type": "string", "enum": ["sqlite", "memory"] } }, "required": ["snapshots", "count", "source"], "additionalProperties": false }),
            json!([query("limit", json!({ "type": "integer", "minimum": 1, "default": 168 }), "number of scrapes")]),
            &[("400", "limit is not an integer in range")],
        ),
    );
    paths.insert(
        "/api/v1/models".into(),
        get(
            "Per-model totals and windows, sorted by model",
            json!({ "type": "object", "properties": { "models": { "type": "array", "items": { "$ref": "#/components/schemas/Model" } }, "last_scrape": timestamp_or_null() }, "required": ["models", "last_scrape"], "additionalProperties": false }),
            json!([]),
            &[],
        ),
    );
    paths.insert(
        "/api/v1/breakdown".into(),
        get(
            "Sums per key of a dimension, most expensive first",
            json!({ "type": "array", "items": { "$ref": "#/components/schemas/BreakdownItem" } }),
            json!([
                query(
                    "by",
                    json!({ "type": "string", "enum": dims, "default": "model" }),
                    "dimension"
                ),
                window_param.clone()
            ]),
            &[("400", "unknown dimension or window")],
        ),
    );
    paths.insert(
        "/api/v1/series".into(),
        get(
            "Chart data: one value per local bucket",
            json!({ "type": "object", "properties": {
                "metric": { "type": "string" }, "by": { "type": ["string", "null"] }, "step": { "type": "string" }, "tz": { "type": "string" },
                "from": { "type": "string", "format": "date-time" }, "to": { "type": "string", "format": "date-time" },
                "t": { "type": "array", "items": { "type": "integer" }, "description": "bucket starts, ms since the epoch" },
                "histogram": { "type": "string", "enum": histograms.clone(), "description": "present for the latency metrics" },
                "series": { "type": "array", "items": { "type": "object", "properties": { "key": { "type": "string" }, "values": { "type": "array", "items": { "type": ["number", "null"], "description": "null: no observation in the bucket (latency metrics only)" } } }, "required": ["key", "values"], "additionalProperties": false } }
            }, "required": ["metric", "by", "step", "tz", "from", "to", "t", "series"], "additionalProperties": false }),
            json!([
                query("metric", json!({ "type": "string", "enum": metrics, "default": "cost" }), "metric; latency_p50, latency_p90, latency_p99 and latency_mean are per bucket of the histogram merged over it (see /api/v1/latency)"),
                histogram_param.clone(),
                query("by", json!({ "type": "string", "enum": dims }), "split by a dimension"),
                query("step", json!({ "type": "string", "examples": ["15m", "1h", "1d", "1w", "1mo", "2h"] }), "bucket width: hour/1h, day/1d, week/1w, month/1mo are local calendar buckets; a fixed width (15m, 2h, …) must be a multiple of 15m (default from the range)"),
                query("tz", json!({ "type": "string" }), "IANA zone (default: the configured one)"),
                query("from", json!({ "type": "string" }), "RFC 3339 or ms since the epoch"),
                query("to", json!({ "type": "string" }), "RFC 3339 or ms since the epoch"),
                window_param,
            ]),
            &[("400", "invalid parameter or too many points")],
        ),
    );
    paths.insert("/api/v1/export".into(), super::export::openapi_path());
    paths.insert(
        "/api/v1/latency".into(),
        get(
            "Latency quantiles, error rate, fallbacks and cooldowns per key of a window",
            json!({ "type": "object", "properties": {
                "histogram": { "type": "string", "enum": histograms },
                "by": { "type": ["string", "null"], "description": "the dimension, null for by=total" },
                "tz": { "type": "string" },
                "from": { "type": "string", "format": "date-time" }, "to": { "type": "string", "format": "date-time" },
                "rows": { "type": "array", "items": { "$ref": "#/components/schemas/LatencyRow" }, "description": "sorted by key; one row named total for by=total" }
            }, "required": ["histogram", "by", "tz", "from", "to", "rows"], "additionalProperties": false }),
            json!([
                query("by", json!({ "type": "string", "enum": dims.iter().copied().chain(["total"]).collect::<Vec<_>>(), "default": "model" }), "dimension, or total"),
                histogram_param,
                query("window", json!({ "type": "string", "examples": Window::NAMES, "default": "today" }), "reporting window in the zone"),
                query("from", json!({ "type": "string" }), "RFC 3339 or ms since the epoch (instead of window)"),
                query("to", json!({ "type": "string" }), "RFC 3339 or ms since the epoch (default: now)"),
                query("tz", json!({ "type": "string" }), "IANA zone (default: the configured one)"),
            ]),
            &[("400", "invalid parameter"), ("503", "database unavailable")],
        ),
    );
    paths.insert(
        "/api/v2/summary".into(),
        get(
            "Nested windows for Homepage dot paths",
            json!({ "type": "object", "properties": {
                "today": { "$ref": "#/components/schemas/WindowSums" }, "week": { "$ref": "#/components/schemas/WindowSums" },
                "month": { "$ref": "#/components/schemas/WindowSums" }, "all_time": { "$ref": "#/components/schemas/WindowSums" },
                "in_flight_requests": number(), "last_scrape": timestamp_or_null(), "status": status.clone(),
                "error": { "type": ["string", "null"] },
                "timezone": timezone(), "scrape_interval": scrape_interval()
            }, "required": ["today", "week", "month", "all_time", "in_flight_requests", "last_scrape", "status", "error", "timezone", "scrape_interval"], "additionalProperties": false }),
            json!([]),
            &[],
        ),
    );
    paths.insert(
        "/api/v1/budgets".into(),
        get(
            "Budgets: period, spend, forecast, thresholds and state; LiteLLM's own budgets",
            json!({ "type": "object", "properties": {
                "budgets": { "type": "array", "items": { "$ref": "#/components/schemas/Budget" } },
                "litellm_budgets": { "type": "array", "items": { "$ref": "#/components/schemas/LitellmBudget" } },
                "timezone": timezone(),
                "now": { "type": "string", "format": "date-time" },
            }, "required": ["budgets", "litellm_budgets", "timezone", "now"], "additionalProperties": false }),
            json!([]),
            &[("503", "database unavailable")],
        ),
    );
    paths.insert(
        "/api/v1/alerts".into(),
        get(
            "Recorded alerts, newest first, with delivery status per channel",
            json!({ "type": "object", "properties": {
                "alerts": { "type": "array", "items": { "$ref": "#/components/schemas/AlertRecord" } },
                "count": { "type": "integer" },
                "channels": { "type": "array", "items": { "type": "object", "properties": { "name": { "type": "string" }, "type": { "type": "string", "enum": ["webhook", "slack", "discord", "ntfy"] } }, "required": ["name", "type"], "additionalProperties": false } },
            }, "required": ["alerts", "count", "channels"], "additionalProperties": false }),
            json!([query("limit", json!({ "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 }), "number of alerts")]),
            &[("400", "limit is not an integer in range")],
        ),
    );
    paths.insert(
        "/api/v1/targets".into(),
        get(
            "Each scrape target's state (LITELLM_PULSE_METRICS_URL's list or LITELLM_PULSE_DISCOVER's records)",
            json!({ "type": "object", "properties": {
                "targets": targets_schema(),
                "ready_quorum": { "type": ["integer", "null"], "description": "targets that must be fresh for /readyz; null: all listed ones" },
            }, "required": ["targets", "ready_quorum"], "additionalProperties": false }),
            json!([]),
            &[],
        ),
    );
    paths.insert(
        "/raw".into(),
        get(
            "Sample-name totals of the last good scrape",
            json!({ "type": "object", "additionalProperties": { "type": ["number", "null"] } }),
            json!([]),
            &[],
        ),
    );
    paths.insert(
        "/health".into(),
        get(
            "Scrape status (always HTTP 200)",
            json!({ "type": "object", "properties": { "status": status, "error": { "type": "string" }, "last_scrape": timestamp_or_null(), "last_attempt": timestamp_or_null(), "consecutive_failures": { "type": "integer" }, "timezone": timezone(), "scrape_interval": scrape_interval(), "stale_after": { "type": "integer", "minimum": 0, "description": "seconds after the last successful scrape at which the numbers count as stale (three scrape intervals; /readyz applies the same rule)" }, "fresh": { "type": "boolean", "description": "a scrape succeeded within `stale_after` seconds" }, "targets": targets_schema() }, "required": ["status", "timezone", "scrape_interval", "stale_after", "fresh", "targets"], "additionalProperties": false }),
            json!([]),
            &[],
        ),
    );
    let mut livez = get(
        "Liveness",
        json!({ "type": "object", "properties": { "status": { "type": "string" } }, "required": ["status"] }),
        json!([]),
        &[],
    );
    // Open even when a token is configured.
    livez["get"]["security"] = json!([]);
    paths.insert("/livez".into(), livez);
    paths.insert(
        "/readyz".into(),
        get("Readiness: the database answers and every listed target (or LITELLM_PULSE_READY_QUORUM of them) was scraped within 3 intervals", json!({ "type": "object", "properties": { "status": { "type": "string" } }, "required": ["status"] }), json!([]), &[("503", "not ready")]),
    );
    paths.insert(
        "/metrics".into(),
        json!({ "get": { "summary": "Pulse's own Prometheus metrics", "responses": { "200": { "description": "text format 0.0.4", "content": { "text/plain": { "schema": { "type": "string" } } } } } } }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "LiteLLM Pulse",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!("Usage and spend of a LiteLLM proxy. Reference metric names: {}.", reference.join(", ")),
        },
        "paths": paths,
        // Optional: the empty requirement applies when no token is configured.
        "security": [{}, { "bearerAuth": [] }],
        "components": {
          "securitySchemes": {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "Required only when LITELLM_PULSE_API_TOKEN is set; then every path but /livez answers 401 without it.",
            },
          },
          "schemas": {
            "Summary": summary_schema(),
            "Snapshot": snapshot_schema(),
            "Model": per_key_schema("model"),
            "BreakdownItem": breakdown_item_schema(),
            "WindowSums": window_sums_schema(),
            "Budget": budget_schema(),
            "LitellmBudget": litellm_budget_schema(),
            "AlertEvent": alert_event_schema(),
            "AlertRecord": alert_record_schema(),
            "LatencyRow": latency_row_schema(),
            "Error": error_schema(),
        } },
    })
}
