//! Latency and health: `GET /api/v1/latency` (quantiles, mean, error rate,
//! fallbacks and cooldowns per key of a window) and the latency metrics of
//! `/api/v1/series` (one quantile or mean per chart bucket).
//!
//! Every number comes from the core: quantiles and means from
//! [`BucketCounts`] (Prometheus' `histogram_quantile`), the error rate from
//! [`pulse_core::latency::error_rate`], windows and chart buckets from
//! [`pulse_core::window`]. The store only sums bucket rows between the
//! bounds those give; this module picks the numbers and shapes the JSON.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use pulse_core::catalog::{Dimension, HealthCounter, Histogram, Metric, MetricValues};
use pulse_core::latency::{BucketCounts, HealthValues, error_rate};
use pulse_core::window::{self, TimeRange};
use serde_json::{Map, Value, json};
use warp::Rejection;
use warp::http::{Response, StatusCode};
use warp::hyper::body::Bytes;

use super::handlers::{
    ChartQuery, MAX_SERIES_POINTS, checked_edges, db, from_first_bucket, parse_chart_query,
    parse_dimension, starts_before_data,
};
use super::views::{self, num};
use super::{ApiError, json_response};
use crate::app::App;

type Reply = Result<Response<Bytes>, Rejection>;

/// The histogram read when `histogram` is absent: the whole request as the
/// proxy saw it.
pub const DEFAULT_HISTOGRAM: Histogram = Histogram::RequestLatency;

/// What a latency chart shows per bucket: `/api/v1/series?metric=latency_p90`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    /// `latency_p50`: the median.
    P50,
    /// `latency_p90`: the 90th percentile.
    P90,
    /// `latency_p99`: the 99th percentile.
    P99,
    /// `latency_mean`: `_sum / _count`.
    Mean,
}

impl Stat {
    /// Every latency metric of `/api/v1/series`.
    pub const ALL: [Stat; 4] = [Stat::P50, Stat::P90, Stat::P99, Stat::Mean];

    /// The `metric` name.
    pub fn name(self) -> &'static str {
        match self {
            Stat::P50 => "latency_p50",
            Stat::P90 => "latency_p90",
            Stat::P99 => "latency_p99",
            Stat::Mean => "latency_mean",
        }
    }

    /// The latency metric called `name`, if it is one.
    pub fn from_metric(name: &str) -> Option<Stat> {
        Stat::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The value of one (merged) histogram; NaN without observations.
    fn of(self, c: &BucketCounts) -> f64 {
        match self {
            Stat::P50 => c.quantile(0.5),
            Stat::P90 => c.quantile(0.9),
            Stat::P99 => c.quantile(0.99),
            Stat::Mean => c.mean(),
        }
    }
}

/// Parses `histogram` (a [`Histogram`] name, default [`DEFAULT_HISTOGRAM`]).
pub fn parse_histogram(q: &HashMap<String, String>) -> Result<Histogram, ApiError> {
    let Some(name) = q.get("histogram") else {
        return Ok(DEFAULT_HISTOGRAM);
    };
    Histogram::from_name(name).ok_or_else(|| {
        let all: Vec<&str> = Histogram::ALL.iter().map(|h| h.name()).collect();
        ApiError::bad_request(format!(
            "histogram must be one of {}, got {name:?}",
            all.join(", ")
        ))
    })
}

/// `range`, or for `window=all` the range from the first stored latency
/// bucket of `histogram` on.
fn stored_range(
    s: &crate::store::Store,
    histogram: Histogram,
    range: TimeRange,
) -> Result<TimeRange, crate::store::StoreError> {
    Ok(if starts_before_data(range) {
        from_first_bucket(range, s.first_latency_bucket(histogram)?)
    } else {
        range
    })
}

/// Everything one key of `/api/v1/latency` is made of.
#[derive(Default)]
struct KeyFigures {
    latency: BucketCounts,
    health: HealthValues,
    sums: MetricValues,
}

/// `GET /api/v1/latency?by=model&window=today&histogram=request_latency`
/// (or `from`/`to`, `tz`): per key, the quantiles and mean of the window's
/// merged histogram, the request and deployment counts, the error rate,
/// fallbacks and cooldowns. `by=total` gives one row for everything.
pub async fn latency(q: HashMap<String, String>, app: Arc<App>) -> Reply {
    let histogram = parse_histogram(&q)?;
    let dim = match q.get("by").map(String::as_str) {
        Some("total") => None,
        _ => Some(parse_dimension(&q)?),
    };
    // The range is the series' one; only the default window differs.
    let mut range_q = q.clone();
    range_q.remove("by");
    range_q.remove("step");
    if !range_q.contains_key("from") {
        range_q
            .entry("window".to_owned())
            .or_insert_with(|| "today".to_owned());
    }
    let ChartQuery { tz, range, .. } = parse_chart_query(
        &range_q,
        app.settings.tz,
        app.clock.now_ms(),
        MAX_SERIES_POINTS,
    )?;
    let read = dim.unwrap_or(Dimension::Model);
    let (range, latency, health, sums) = db(&app, move |s| {
        let range = stored_range(s, histogram, range)?;
        Ok((
            range,
            s.latency_by_key(histogram, Some(read), range)?,
            s.health_by_key(read, range)?,
            s.window_breakdown(read, range)?,
        ))
    })
    .await?;
    let mut keys: BTreeMap<String, KeyFigures> = BTreeMap::new();
    // Without `by`, every key of the model dimension adds to the one total.
    let slot = |key: String| if dim.is_some() { key } else { String::new() };
    for (key, c) in latency {
        let k = keys.entry(slot(key)).or_default();
        k.latency.add(&c.buckets, c.count, c.sum);
    }
    for (key, h) in health {
        let k = keys.entry(slot(key)).or_default();
        for counter in HealthCounter::ALL {
            k.health.add(counter, h.get(counter));
        }
    }
    for (key, v) in sums {
        let traffic = [
            Metric::Requests,
            Metric::DeploymentSuccess,
            Metric::DeploymentFailures,
        ]
        .iter()
        .any(|&m| v.get(m) != 0.0);
        if dim.is_none() || traffic || keys.contains_key(&key) {
            let k = keys.entry(slot(key)).or_default();
            for (m, x) in v.iter() {
                k.sums.add(m, x);
            }
        }
    }
    if dim.is_none() {
        keys.entry(String::new()).or_default();
    }
    let rows: Vec<Value> = keys
        .iter()
        .map(|(key, k)| {
            let name = match dim {
                Some(_) => views::key_name(key),
                None => "total",
            };
            row(name, k)
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "histogram": histogram.name(),
            "by": dim.map(Dimension::name),
            "tz": tz.name(),
            "from": window::format_rfc3339(range.start_ms, tz),
            "to": window::format_rfc3339(range.end_ms, tz),
            "rows": rows,
        }),
    ))
}

/// One row of `/api/v1/latency`.
fn row(key: &str, k: &KeyFigures) -> Value {
    let s = k.latency.summary();
    let success = k.sums.get(Metric::DeploymentSuccess);
    let failures = k.sums.get(Metric::DeploymentFailures);
    let mut out = Map::new();
    out.insert("key".into(), Value::from(key));
    out.insert("count".into(), num(s.count));
    out.insert("mean".into(), num(s.mean));
    out.insert("p50".into(), num(s.p50));
    out.insert("p90".into(), num(s.p90));
    out.insert("p99".into(), num(s.p99));
    out.insert("requests".into(), num(k.sums.get(Metric::Requests)));
    out.insert(
        "failed_requests".into(),
        num(k.sums.get(Metric::FailedRequests)),
    );
    out.insert("deployment_success".into(), num(success));
    out.insert("deployment_failures".into(), num(failures));
    out.insert("error_rate".into(), num(error_rate(success, failures)));
    out.insert("fallbacks".into(), num(k.health.fallbacks()));
    for counter in HealthCounter::ALL {
        out.insert(counter.name().into(), num(k.health.get(counter)));
    }
    Value::Object(out)
}

/// `/api/v1/series?metric=latency_p90&histogram=…` (`by`, `window` or
/// `from`/`to`, `step`, `tz` as for every metric): per chart bucket, `stat`
/// of the histogram merged from the 15-minute buckets inside it; `null`
/// where it had no observation.
pub async fn series(stat: Stat, q: HashMap<String, String>, app: Arc<App>) -> Reply {
    let histogram = parse_histogram(&q)?;
    let ChartQuery {
        by,
        tz,
        range,
        step,
    } = parse_chart_query(&q, app.settings.tz, app.clock.now_ms(), MAX_SERIES_POINTS)?;
    let (range, points) = db(&app, move |s| {
        let range = stored_range(s, histogram, range)?;
        Ok((range, s.latency_points(histogram, by, range)?))
    })
    .await?;
    let edges = checked_edges(range, tz, step, MAX_SERIES_POINTS)?;
    let mut series = Vec::new();
    for (key, pts) in &points {
        let mut charted = vec![BucketCounts::default(); edges.len()];
        for (start, counts) in pts {
            // The chart bucket holding this storage bucket, as the core says.
            let edge = window::bucket_start(*start, tz, step);
            if let Ok(i) = edges.binary_search(&edge) {
                charted[i].add(&counts.buckets, counts.count, counts.sum);
            }
        }
        let key = match by {
            None => "total",
            Some(_) => views::key_name(key),
        };
        let values: Vec<Value> = charted.iter().map(|c| num(stat.of(c))).collect();
        series.push(json!({ "key": key, "values": values }));
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "metric": stat.name(),
            "histogram": histogram.name(),
            "by": by.map(Dimension::name),
            "step": step.to_string(),
            "tz": tz.name(),
            "from": window::format_rfc3339(range.start_ms, tz),
            "to": window::format_rfc3339(range.end_ms, tz),
            "t": edges,
            "series": series,
        }),
    ))
}
