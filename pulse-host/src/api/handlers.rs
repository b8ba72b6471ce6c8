//! One function per endpoint. Each asks the store thread for sums (never on
//! the async executor), shapes them with `views` and raises [`ApiError`] for
//! anything the caller got wrong.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use chrono_tz::Tz;
use pulse_core::catalog::{Dimension, Metric};
use pulse_core::fresh;
use pulse_core::window::{self, Step, TimeRange, Window};
use serde_json::{Map, Value, json};
use warp::Rejection;
use warp::http::{Response, StatusCode};
use warp::hyper::body::Bytes;

use super::cache::BodyKey;
use super::views::{self, KeyTotals, Totals};
use super::{ApiError, json_response};
use crate::app::{App, Live};
use crate::config::Settings;
use crate::store::{Store, StoreError};

/// Default `limit` of `/api/v1/history`, as in the reference.
pub const DEFAULT_HISTORY_LIMIT: usize = 168;
/// Most points per series a chart request may ask for.
pub const MAX_SERIES_POINTS: usize = 5_000;

type Reply = Result<Response<Bytes>, Rejection>;

/// Runs `f` on the store thread; both kinds of failure become a 503.
pub(super) async fn db<R: Send + 'static>(
    app: &App,
    f: impl FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
) -> Result<R, Rejection> {
    match app.store.call(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) | Err(e) => Err(ApiError::unavailable(e).into()),
    }
}

fn ok(body: &Value) -> Reply {
    Ok(json_response(StatusCode::OK, body))
}

/// The reference's day, week and month windows in the configured zone.
fn current_windows(now_ms: i64, tz: Tz) -> [TimeRange; 3] {
    [Window::Today, Window::ThisWeek, Window::ThisMonth]
        .map(|w| window::window_range(&w, now_ms, tz))
}

pub(crate) async fn totals(app: &App) -> Result<Totals, Rejection> {
    totals_in(app, current_windows(app.clock.now_ms(), app.settings.tz)).await
}

async fn totals_in(app: &App, ranges: [TimeRange; 3]) -> Result<Totals, Rejection> {
    db(app, move |s| {
        Ok(Totals {
            all_time: s.all_time()?,
            windows: [
                s.window_totals(ranges[0])?,
                s.window_totals(ranges[1])?,
                s.window_totals(ranges[2])?,
            ],
        })
    })
    .await
}

pub(crate) fn summary_value(app: &App, totals: &Totals, live: &Live) -> Value {
    views::summary(
        totals,
        live.live.as_ref(),
        live.last_success_ms,
        &app.settings.source,
        live.error().as_deref(),
        app.settings.tz,
    )
}

/// `GET /`: the dashboard for browsers, the JSON summary for everything else
/// (0.2.x clients polled `/`). Either answer says it varies with `Accept`,
/// so a cache in front never gives one to the other.
pub async fn root(
    accept: Option<String>,
    if_none_match: Option<String>,
    accept_encoding: Option<String>,
    app: Arc<App>,
) -> Reply {
    let mut resp = if accept.is_some_and(|a| a.contains("text/html")) {
        let req = crate::dashboard::Conditions {
            if_none_match: if_none_match.as_deref(),
            accept_encoding: accept_encoding.as_deref(),
        };
        crate::dashboard::page(req).map_err(ApiError::from)?
    } else {
        metrics(app).await?
    };
    resp.headers_mut().append(
        warp::http::header::VARY,
        warp::http::HeaderValue::from_static("accept"),
    );
    Ok(resp)
}

/// `GET /api/v1/metrics`.
pub async fn metrics(app: Arc<App>) -> Reply {
    let body = summary_body(&app).await?;
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// The serialised `/api/v1/metrics` body, from the cache while the data,
/// the scraper status and the windows for "now" are those it was built
/// from (`api::cache`). Each part of the key is read before what the body
/// is built from.
pub(crate) async fn summary_body(app: &App) -> Result<Bytes, Rejection> {
    let data = app.store.generation();
    let live_version = app.live_version();
    let ranges = current_windows(app.clock.now_ms(), app.settings.tz);
    let key = BodyKey::new(data, live_version, &ranges);
    if let Some(body) = app.summary_body.get(&key) {
        return Ok(body);
    }
    let totals = totals_in(app, ranges).await?;
    let value = summary_value(app, &totals, &app.live());
    let body = Bytes::from(serde_json::to_vec(&value).unwrap_or_else(|_| b"{}".to_vec()));
    app.summary_body.put(key, body.clone());
    Ok(body)
}

/// `GET /api/v1/metrics/{name}`: one field of the summary.
pub async fn metric(name: String, app: Arc<App>) -> Reply {
    let base = views::WINDOW_SUFFIXES
        .iter()
        .find_map(|s| name.strip_suffix(&format!("_{s}")))
        .unwrap_or(&name);
    if !views::metric_names().contains(&base) {
        return Ok(json_response(
            StatusCode::NOT_FOUND,
            &views::unknown_metric(&name),
        ));
    }
    let totals = totals(&app).await?;
    let live = app.live();
    let summary = summary_value(&app, &totals, &live);
    let value = summary.get(&name).cloned().unwrap_or(Value::Null);
    ok(&json!({
        "name": name,
        "value": value,
        "last_scrape": views::timestamp(live.last_success_ms, app.settings.tz),
    }))
}

/// Parses `limit` (default 168). Anything but an integer in `1..=max` is a
/// 400 in every mode (the reference returned everything or nothing: fault 12).
pub fn parse_limit(q: &HashMap<String, String>, max: usize) -> Result<usize, ApiError> {
    let Some(raw) = q.get("limit") else {
        return Ok(DEFAULT_HISTORY_LIMIT.min(max));
    };
    match raw.trim().parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_request(format!(
            "limit must be an integer from 1 to {max}, got {raw:?}"
        ))),
    }
}

/// `GET /api/v1/history?limit=168`.
pub async fn history(q: HashMap<String, String>, app: Arc<App>) -> Reply {
    let limit = parse_limit(&q, app.settings.history_max_limit)?;
    let rows = db(&app, move |s| s.history(limit)).await?;
    let snapshots = views::history(&rows, app.settings.tz);
    let count = snapshots.len();
    // The reference's field order: snapshots, count, source.
    let mut out = Map::new();
    out.insert("snapshots".into(), Value::Array(snapshots));
    out.insert("count".into(), Value::from(count));
    out.insert("source".into(), Value::from(app.store_mode.as_str()));
    ok(&Value::Object(out))
}

pub(crate) async fn key_totals(
    app: &App,
    dim: Dimension,
) -> Result<Vec<(String, KeyTotals)>, Rejection> {
    let ranges = current_windows(app.clock.now_ms(), app.settings.tz);
    let (all, day, week, month) = db(app, move |s| {
        Ok((
            s.all_time_breakdown(dim)?,
            s.window_breakdown(dim, ranges[0])?,
            s.window_breakdown(dim, ranges[1])?,
            s.window_breakdown(dim, ranges[2])?,
        ))
    })
    .await?;
    Ok(views::join_keys(all, [day, week, month]))
}

/// `GET /api/v1/models`: per model, sorted by name. Series without a model
/// (rejected `/metrics` calls) are not a model and are left out.
pub async fn models(app: Arc<App>) -> Reply {
    let rows = key_totals(&app, Dimension::Model).await?;
    let models: Vec<Value> = rows
        .iter()
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, t)| views::model(k, t))
        .collect();
    ok(&json!({
        "models": models,
        "last_scrape": views::timestamp(app.live().last_success_ms, app.settings.tz),
    }))
}

/// `GET /raw`: every sample name of the last good scrape, summed.
pub async fn raw(app: Arc<App>) -> Reply {
    let last = db(&app, |s| s.last_raw()).await?;
    let mut out = Map::new();
    for (name, value) in last.map(|(_, v)| v).unwrap_or_default() {
        out.insert(name, views::num(value));
    }
    ok(&Value::Object(out))
}

/// `GET /health`: `ok`, `starting` (no scrape yet) or `degraded` (the latest
/// scrape or database write failed). Always HTTP 200 so that existing
/// monitors keep reading the body; probes use `/livez` and `/readyz`.
pub async fn health(app: Arc<App>) -> Reply {
    ok(&health_value(
        &app.live(),
        &app.settings,
        app.clock.now_ms(),
    ))
}

/// The `/health` body for a scraper status at `now_ms`. The reference's
/// fields come first; `timezone`, `scrape_interval` (seconds), `stale_after`
/// (seconds) and `fresh` close every variant so the dashboard can show how it
/// counts days and whether the numbers are current, by the core's one
/// freshness rule ([`pulse_core::fresh`]), the same `/readyz` applies.
pub fn health_value(live: &Live, settings: &Settings, now_ms: i64) -> Value {
    let tz = settings.tz;
    let mut out = match live.error() {
        None if live.last_success_ms.is_some() => json!({ "status": "ok" }),
        None => json!({ "status": "starting" }),
        Some(error) => json!({
            "status": "degraded",
            "error": error,
            "last_scrape": views::timestamp(live.last_success_ms, tz),
            "last_attempt": views::timestamp(live.last_attempt_ms, tz),
            "consecutive_failures": live.consecutive_failures,
        }),
    };
    if let Value::Object(map) = &mut out {
        map.insert("timezone".into(), Value::from(tz.name()));
        map.insert(
            "scrape_interval".into(),
            Value::from(settings.scrape_interval.as_secs()),
        );
        let interval_ms = interval_ms(settings);
        map.insert(
            "stale_after".into(),
            Value::from(fresh::stale_after_ms(interval_ms) / 1000),
        );
        map.insert(
            "fresh".into(),
            Value::from(fresh::is_fresh(live.last_success_ms, now_ms, interval_ms)),
        );
        map.insert("targets".into(), targets_value(live, settings, now_ms));
    }
    out
}

/// Each scrape target's state (`/health`'s `targets`, `/api/v1/targets`).
pub fn targets_value(live: &Live, settings: &Settings, now_ms: i64) -> Value {
    let tz = settings.tz;
    let interval_ms = interval_ms(settings);
    Value::Array(
        live.targets
            .iter()
            .map(|(name, t)| {
                json!({
                    "instance": name,
                    "url": t.url,
                    "listed": t.listed,
                    "fresh": fresh::is_fresh(t.last_success_ms, now_ms, interval_ms),
                    "last_attempt": views::timestamp(t.last_attempt_ms, tz),
                    "last_success": views::timestamp(t.last_success_ms, tz),
                    "last_error": t.last_error,
                    "consecutive_failures": t.consecutive_failures,
                    "last_duration_ms": t.last_duration_ms,
                    "series": t.series,
                    "latency_series": t.latency_series,
                    "scrapes_ok": t.scrapes_ok,
                    "scrapes_failed": t.scrapes_failed,
                })
            })
            .collect(),
    )
}

/// `GET /api/v1/targets`: every scrape target's state.
pub async fn targets(app: Arc<App>) -> Reply {
    ok(&json!({
        "targets": targets_value(&app.live(), &app.settings, app.clock.now_ms()),
        "ready_quorum": app.settings.ready_quorum,
    }))
}

/// The scrape interval in milliseconds.
fn interval_ms(settings: &Settings) -> i64 {
    i64::try_from(settings.scrape_interval.as_millis()).unwrap_or(i64::MAX)
}

/// `GET /readyz`: 200 when the store answers and the last successful scrape
/// is fresh ([`pulse_core::fresh`]: within three intervals), else 503 with the reason.
pub async fn readyz(app: Arc<App>) -> Reply {
    let store_ok = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        app.store.call(|s| s.mode()),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    let live = app.live();
    let now_ms = app.clock.now_ms();
    let interval = interval_ms(&app.settings);
    // Every listed target fresh (or a quorum); before the first round lists
    // any, the fleet's last success (restored from the database) decides.
    let listed = live.listed_successes();
    let fresh = if listed.is_empty() {
        fresh::is_fresh(live.last_success_ms, now_ms, interval)
    } else {
        fresh::fleet_ready(&listed, now_ms, interval, app.settings.ready_quorum)
    };
    let reason = if !store_ok {
        Some("the database does not answer".to_owned())
    } else if let Some(e) = &live.store_error {
        Some(format!("database write failed: {e}"))
    } else if !fresh {
        Some(match &live.last_error {
            Some(e) => format!("no successful scrape within 3 intervals: {e}"),
            None => "no successful scrape within 3 intervals".to_owned(),
        })
    } else {
        None
    };
    Ok(match reason {
        None => json_response(StatusCode::OK, &json!({ "status": "ready" })),
        Some(r) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({ "status": "not_ready", "error": r }),
        ),
    })
}

pub fn parse_dimension(q: &HashMap<String, String>) -> Result<Dimension, ApiError> {
    let by = q.get("by").map_or("model", |s| s.as_str());
    Dimension::from_name(by).ok_or_else(|| {
        let all: Vec<&str> = Dimension::ALL.iter().map(|d| d.name()).collect();
        ApiError::bad_request(format!("by must be one of {}, got {by:?}", all.join(", ")))
    })
}

fn parse_window(q: &HashMap<String, String>, default: &str) -> Result<Window, ApiError> {
    let w = q.get("window").map_or(default, |s| s.as_str());
    Window::from_str(w).map_err(|_| {
        let [first @ .., last] = Window::NAMES;
        ApiError::bad_request(format!(
            "window must be {} or {last}, got {w:?}",
            first.join(", ")
        ))
    })
}

/// `GET /api/v1/breakdown?by=model&window=today`: a sorted array (most
/// expensive first), ready for Homepage's dynamic list.
pub async fn breakdown(q: HashMap<String, String>, app: Arc<App>) -> Reply {
    let dim = parse_dimension(&q)?;
    let win = parse_window(&q, "today")?;
    let rows = if matches!(win, Window::AllTime) {
        db(&app, move |s| s.all_time_breakdown(dim)).await?
    } else {
        let range = window::window_range(&win, app.clock.now_ms(), app.settings.tz);
        db(&app, move |s| s.window_breakdown(dim, range)).await?
    };
    ok(&Value::Array(views::breakdown(dim, rows)))
}

/// Parses `step` as a chart over stored history takes it ([`Step::parse_stored`]).
pub fn parse_step(s: &str) -> Result<Step, String> {
    Step::parse_stored(s).map_err(|e| e.to_string())
}

/// An instant given as RFC 3339, as a date (`YYYY-MM-DD`: the first instant
/// of that local date in `tz`) or as milliseconds since the epoch.
fn parse_instant(name: &str, s: &str, tz: Tz) -> Result<i64, ApiError> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms.clamp(window::MIN_MS, window::MAX_MS));
    }
    if let Ok(day) = window::date_range(s, s, tz) {
        return Ok(day.start_ms);
    }
    // An unescaped `+` of an offset arrives as a space after URL decoding.
    window::parse_rfc3339(&s.replace(' ', "+")).map_err(|_| {
        ApiError::bad_request(format!(
            "{name} must be RFC 3339, a date (YYYY-MM-DD) or milliseconds since the epoch, got {s:?}"
        ))
    })
}

/// The part of a chart query that `/api/v1/series` and `/api/v1/export`
/// share: what to break down by, the zone, the range and the step.
#[derive(Debug, Clone, Copy)]
pub struct ChartQuery {
    /// The dimension, or `None` for the total.
    pub by: Option<Dimension>,
    /// The zone buckets and timestamps are local to.
    pub tz: Tz,
    /// The range asked for; it starts before the epoch for `window=all`
    /// until [`from_first_bucket`] moves it.
    pub range: TimeRange,
    /// The bucket width.
    pub step: Step,
}

/// Parses `by` (absent, empty or `total`: the total), `tz` (default
/// `default_tz`), `from`/`to` (or `window`, default `24h`) and `step`
/// (default by the range's length), and refuses ranges that would need
/// clearly more than `max_points` buckets before any is computed.
pub fn parse_chart_query(
    q: &HashMap<String, String>,
    default_tz: Tz,
    now: i64,
    max_points: usize,
) -> Result<ChartQuery, ApiError> {
    let by = match q.get("by").map(|s| s.as_str()) {
        None | Some("") | Some("total") => None,
        Some(_) => Some(parse_dimension(q)?),
    };
    let tz = match q.get("tz") {
        None => default_tz,
        Some(name) => window::parse_tz(name)
            .map_err(|_| ApiError::bad_request(format!("unknown time zone {name:?}")))?,
    };
    let range = match (q.get("from"), q.get("to")) {
        (Some(from), to) => {
            let start_ms = parse_instant("from", from, tz)?;
            let end_ms = match to {
                Some(t) => parse_instant("to", t, tz)?,
                None => now,
            };
            TimeRange { start_ms, end_ms }
        }
        (None, Some(_)) => return Err(ApiError::bad_request("to needs from")),
        (None, None) => window::window_range(&parse_window(q, "24h")?, now, tz),
    };
    if range.end_ms <= range.start_ms {
        return Err(ApiError::bad_request(
            "the range is empty: to must be after from",
        ));
    }
    let step = match q.get("step") {
        Some(s) => parse_step(s).map_err(ApiError::bad_request)?,
        None => Step::default_for(range),
    };
    // A cheap bound before any bucket is computed, so a huge range costs
    // nothing. A range from before the epoch ("all") is charted from the
    // first stored bucket, so it is bounded from the epoch. The bound can be
    // twice the real count (hours), hence the slack.
    let stored = TimeRange::new(range.start_ms.max(0), range.end_ms);
    let estimate = window::max_bucket_count(stored, step);
    if estimate > 2 * max_points as u64 {
        return Err(ApiError::bad_request(format!(
            "about {estimate} points requested, at most {max_points}: use a larger step"
        )));
    }
    Ok(ChartQuery {
        by,
        tz,
        range,
        step,
    })
}

/// Whether `range` starts before the epoch ("all"), so that it is charted
/// from the first stored bucket instead.
pub fn starts_before_data(range: TimeRange) -> bool {
    range.start_ms == i64::MIN || range.start_ms < 0
}

/// `range` starting at `first`, the first stored bucket (a day before its
/// end when nothing is stored), and never empty.
pub fn from_first_bucket(range: TimeRange, first: Option<i64>) -> TimeRange {
    let start_ms = first
        .unwrap_or(range.end_ms.saturating_sub(86_400_000))
        .min(range.end_ms - 1);
    TimeRange { start_ms, ..range }
}

/// The bucket starts of `range`, or a 400 when there are more than `max`.
pub fn checked_edges(
    range: TimeRange,
    tz: Tz,
    step: Step,
    max: usize,
) -> Result<Vec<i64>, ApiError> {
    let edges = window::bucket_edges(range, tz, step);
    if edges.len() > max {
        return Err(ApiError::bad_request(format!(
            "{} points requested, at most {max}: use a larger step",
            edges.len()
        )));
    }
    Ok(edges)
}

/// `GET /api/v1/series?metric=cost&window=7d&step=1d&by=model&tz=...`
/// (or `from`/`to` instead of `window`): compact arrays for charts, bucketed
/// in local hours or days by pulse-core. The latency metrics
/// (`latency_p50`, …) are answered by [`super::latency::series`].
pub async fn series(q: HashMap<String, String>, app: Arc<App>) -> Reply {
    let metric_name = q.get("metric").map_or("cost", |s| s.as_str());
    if let Some(stat) = super::latency::Stat::from_metric(metric_name) {
        return super::latency::series(stat, q, app).await;
    }
    let metric = Metric::from_name(metric_name)
        .ok_or_else(|| ApiError::bad_request(format!("unknown metric {metric_name:?}")))?;
    let ChartQuery {
        by,
        tz,
        range,
        step,
    } = parse_chart_query(&q, app.settings.tz, app.clock.now_ms(), MAX_SERIES_POINTS)?;
    let points = db(&app, move |s| {
        let mut range = range;
        if starts_before_data(range) {
            // "all": start at the first stored bucket rather than at the epoch.
            let first = s
                .bucket_points(metric, range, None)?
                .iter()
                .flat_map(|(_, pts)| pts.first().map(|p| p.0))
                .min();
            range = from_first_bucket(range, first);
        }
        Ok((range, s.bucket_points(metric, range, by)?))
    })
    .await?;
    let (range, points) = points;
    let edges = checked_edges(range, tz, step, MAX_SERIES_POINTS)?;
    let mut series = Vec::new();
    for (key, pts) in &points {
        let (_, values) = window::bucketize(pts, range, tz, step);
        let key = match by {
            None => "total".to_owned(),
            Some(_) => views::key_name(key).to_owned(),
        };
        series.push(json!({ "key": key, "values": values.iter().map(|v| views::num(*v)).collect::<Vec<_>>() }));
    }
    if by.is_none() && series.is_empty() {
        series.push(json!({ "key": "total", "values": vec![views::num(0.0); edges.len()] }));
    }
    ok(&json!({
        "metric": metric.name(),
        "by": by.map(|d| d.name()),
        "step": step.to_string(),
        "tz": tz.name(),
        "from": window::format_rfc3339(range.start_ms, tz),
        "to": window::format_rfc3339(range.end_ms, tz),
        "t": edges,
        "series": series,
    }))
}

/// `GET /api/v2/summary`: nested windows for Homepage dot paths
/// (`today.cost`, `month.tokens`, `month.cost_forecast`, ...).
pub async fn summary_v2(app: Arc<App>) -> Reply {
    ok(&summary_v2_value(&app).await?)
}

/// The `/api/v2/summary` body (also the source of the MQTT forecasts).
pub(crate) async fn summary_v2_value(app: &App) -> Result<Value, Rejection> {
    let totals = totals(app).await?;
    let (now, tz) = (app.clock.now_ms(), app.settings.tz);
    let forecasts = db(app, move |s| s.cost_forecasts(now, tz)).await?;
    let live = app.live();
    let status = health_value(&live, &app.settings, app.clock.now_ms());
    let window = |i: usize| {
        let mut w = views::window_object(&totals.windows[i]);
        if let Value::Object(map) = &mut w {
            map.insert("cost_forecast".into(), views::num(forecasts[i]));
        }
        w
    };
    Ok(json!({
        "today": window(0),
        "week": window(1),
        "month": window(2),
        "all_time": views::window_object(&totals.all_time),
        "in_flight_requests": views::num(live.live.map_or(0.0, |v| v.get(Metric::InFlightRequests))),
        "last_scrape": views::timestamp(live.last_success_ms, app.settings.tz),
        "status": status.get("status").cloned().unwrap_or(Value::Null),
        "error": live.error(),
        "timezone": app.settings.tz.name(),
        "scrape_interval": app.settings.scrape_interval.as_secs(),
    }))
}

/// `GET /api/v1/budgets`: pulse's budgets (period, spend, forecast,
/// thresholds, state) and LiteLLM's own budget gauges.
pub async fn budgets(app: Arc<App>) -> Reply {
    ok(&budgets_value(&app).await?)
}

/// The `/api/v1/budgets` body (also the source of the MQTT budget entities).
pub(crate) async fn budgets_value(app: &App) -> Result<Value, Rejection> {
    let config = app.alert_config();
    let (now, tz) = (app.clock.now_ms(), app.settings.tz);
    let budgets = config.budgets.clone();
    let (measures, litellm) = db(app, move |s| {
        Ok((s.budget_measures(&budgets, now, tz)?, s.litellm_budgets()?))
    })
    .await?;
    let list: Vec<Value> = config
        .budgets
        .iter()
        .zip(&measures)
        .map(|(b, m)| views::budget(b, m, tz))
        .collect();
    Ok(json!({
        "budgets": list,
        "litellm_budgets": litellm.iter().map(views::litellm_budget).collect::<Vec<_>>(),
        "timezone": tz.name(),
        "now": window::format_rfc3339(now, tz),
    }))
}

/// Default and largest `limit` of `/api/v1/alerts`.
pub const ALERTS_LIMIT: (usize, usize) = (100, 1000);

/// `GET /api/v1/alerts?limit=100`: recorded alerts, newest first, with
/// their delivery state per channel.
pub async fn alerts(q: HashMap<String, String>, app: Arc<App>) -> Reply {
    let (default, max) = ALERTS_LIMIT;
    let limit = match q.get("limit") {
        None => default,
        Some(raw) => match raw.trim().parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "limit must be an integer from 1 to {max}, got {raw:?}"
                ))
                .into());
            }
        },
    };
    let records = db(&app, move |s| s.alert_history(limit)).await?;
    let tz = app.settings.tz;
    let channels: Vec<Value> = app
        .alert_config()
        .channels
        .iter()
        .map(|c| json!({ "name": c.name, "type": c.kind.name() }))
        .collect();
    ok(&json!({
        "alerts": records.iter().map(|r| views::alert(r, tz)).collect::<Vec<_>>(),
        "count": records.len(),
        "channels": channels,
    }))
}

/// `GET /metrics`: Pulse's own Prometheus exposition.
pub async fn own_metrics(app: Arc<App>) -> Reply {
    let all_time = db(&app, |s| s.all_time()).await?;
    let body = crate::selfmetrics::render(
        &app.live(),
        &all_time,
        app.store_mode,
        app.started.elapsed(),
    );
    let mut resp = Response::new(Bytes::from(body));
    resp.headers_mut().insert(
        "content-type",
        warp::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_window_lists_the_offered_names() {
        let q = HashMap::from([("window".to_owned(), "fortnight".to_owned())]);
        let err = parse_window(&q, "today").unwrap_err();
        assert_eq!(
            err.body["error"],
            "window must be today, yesterday, week, last_week, month, last_month, 24h, 7d, 30d, \
             90d or all, got \"fortnight\""
        );
    }
}
