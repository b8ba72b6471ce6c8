//! `GET /api/v1/export`: every bucket of a range as CSV or NDJSON, streamed,
//! and the [`Plan`] that the `export` subcommand writes from too.
//!
//! Why it is shaped this way:
//! - **The same numbers as `/api/v1/series`.** The query is parsed by the
//!   same [`parse_chart_query`], a range from before the epoch starts at the
//!   first stored bucket ([`from_first_bucket`]), and every value is a
//!   [`window::bucketize`] sum of the same 15-minute rows, written through
//!   [`views::num`]. The host computes no window or bucket itself.
//! - **Constant memory.** The bucket starts are computed once (8 bytes a
//!   bucket, at most [`MAX_EXPORT_BUCKETS`]); the rows are read and written a
//!   page at a time: whole buckets spanning about [`PAGE_SPAN_MS`]. Each page
//!   is one job on the store thread, so scrapes and other requests run
//!   between pages, and the response holds at most [`PAGES_IN_FLIGHT`] pages
//!   that the client has not read yet.
//! - **Errors before the first byte are JSON.** The query is checked and the
//!   first page read before the response starts, so a bad query is a 400 and
//!   an unavailable database a 503 through [`super::recover`]. A store error
//!   after that aborts the body: the client sees a truncated transfer, never a
//!   short file that looks complete.
//!
//! Columns: `start,end,key`, then one column per metric, in [`Metric::ALL`]
//! order without the gauge (or as listed in `metric=`). `start` and `end`
//! are the part of the bucket inside the range, in RFC 3339 with the zone's
//! offset. `key` is `total` without `by`, else the key (`(none)` for series
//! without one). Rows go by time, then by key. Without `by` every bucket has
//! a row; with `by`, a key's row is left out where all its values are 0.
//!
//! CSV is RFC 4180 (the `csv` crate quotes commas, quotes and line breaks).
//! Keys are label text chosen by whoever calls LiteLLM, so a key starting
//! with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`
//! in CSV: a spreadsheet then shows it as text instead of running it as a
//! formula (OWASP's advice on CSV injection). NDJSON keys are verbatim.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use chrono_tz::Tz;
use pulse_core::catalog::Metric;
use pulse_core::window::{self, TimeRange};
use serde_json::{Map, Value, json};
use warp::Rejection;
use warp::http::HeaderValue;
use warp::hyper::body::Bytes;

use super::ApiError;
use super::handlers::{
    ChartQuery, checked_edges, from_first_bucket, parse_chart_query, starts_before_data,
};
use super::views;
use crate::app::App;
use crate::store::{MetricPoints, Store, StoreError};

/// Most buckets one export may have: five years of 15-minute buckets.
pub const MAX_EXPORT_BUCKETS: usize = 5 * 366 * 96;
/// A page holds whole buckets and spans at least this long (or to the end).
pub const PAGE_SPAN_MS: i64 = 86_400_000;
/// Pages read ahead of a slow client, at most.
pub const PAGES_IN_FLIGHT: usize = 2;

/// The two formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV with a header row.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

impl Format {
    fn parse(q: &HashMap<String, String>) -> Result<Format, ApiError> {
        match q.get("format").map_or("csv", |s| s.as_str()) {
            "csv" => Ok(Format::Csv),
            "ndjson" => Ok(Format::Ndjson),
            other => Err(ApiError::bad_request(format!(
                "format must be csv or ndjson, got {other:?}"
            ))),
        }
    }

    /// The `Content-Type` of the body.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Ndjson => "application/x-ndjson",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        }
    }
}

/// A checked export query, before the store is asked anything.
#[derive(Debug, Clone)]
pub struct Request {
    format: Format,
    metrics: Vec<Metric>,
    chart: ChartQuery,
}

/// Parses an export query: `format` (`csv`, the default, or `ndjson`),
/// `metric` (a comma-separated list; every counter when absent) and the
/// chart parameters of `/api/v1/series` (`by`, `from`, `to`, `window`,
/// `step`, `tz`). `now` ends a range without `to`.
pub fn parse_request(
    q: &HashMap<String, String>,
    default_tz: Tz,
    now: i64,
) -> Result<Request, ApiError> {
    let format = Format::parse(q)?;
    let metrics = match q.get("metric").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => views::counters().collect(),
        Some(list) => parse_metrics(list)?,
    };
    let chart = parse_chart_query(q, default_tz, now, MAX_EXPORT_BUCKETS)?;
    Ok(Request {
        format,
        metrics,
        chart,
    })
}

/// `cost,tokens` → those metrics, in that order, each once.
fn parse_metrics(list: &str) -> Result<Vec<Metric>, ApiError> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim) {
        let metric = Metric::from_name(name)
            .ok_or_else(|| ApiError::bad_request(format!("unknown metric {name:?}")))?;
        if metric.is_gauge() {
            return Err(ApiError::bad_request(format!(
                "{name} is a gauge: it has no sums over time to export"
            )));
        }
        if !out.contains(&metric) {
            out.push(metric);
        }
    }
    Ok(out)
}

impl Request {
    /// Resolves the range on `store` ("all" starts at the first stored
    /// bucket) and computes the bucket starts.
    pub fn plan(self, store: &Store) -> Result<Plan, ApiError> {
        let mut range = self.chart.range;
        if starts_before_data(range) {
            let first = store
                .first_bucket_ms(&self.metrics)
                .map_err(ApiError::unavailable)?;
            range = from_first_bucket(range, first);
        }
        let edges = checked_edges(range, self.chart.tz, self.chart.step, MAX_EXPORT_BUCKETS)?;
        Ok(Plan {
            format: self.format,
            metrics: self.metrics,
            chart: ChartQuery {
                range,
                ..self.chart
            },
            edges,
        })
    }
}

/// An export ready to be written page by page.
#[derive(Debug, Clone)]
pub struct Plan {
    format: Format,
    metrics: Vec<Metric>,
    /// The query, with the range resolved.
    chart: ChartQuery,
    /// Every bucket start, from [`window::bucket_edges`].
    edges: Vec<i64>,
}

/// One key's sums of a page: one row per bucket, one value per metric.
type KeySums = (String, Vec<Vec<f64>>);

impl Plan {
    /// The response's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// `litellm-pulse-<by or total>-<first local date>-<last local date>.<ext>`;
    /// the dates are those of the range's ends, cut from their RFC 3339 text.
    pub fn file_name(&self) -> String {
        let date = |ms: i64| {
            let text = window::format_rfc3339(ms, self.chart.tz);
            text.get(..10).unwrap_or(&text).to_owned()
        };
        format!(
            "litellm-pulse-{}-{}-{}.{}",
            self.chart.by.map_or("total", |d| d.name()),
            date(self.chart.range.start_ms),
            date(self.chart.range.end_ms),
            self.format.extension()
        )
    }

    /// The buckets `[first, end)` of the page starting at bucket `first`:
    /// whole buckets spanning at least [`PAGE_SPAN_MS`], or up to the last.
    fn page_end(&self, first: usize) -> usize {
        let start = self.edges.get(first).copied().unwrap_or(i64::MAX);
        self.edges
            .iter()
            .skip(first + 1)
            .position(|&e| e.saturating_sub(start) >= PAGE_SPAN_MS)
            .map_or(self.edges.len(), |i| first + 1 + i)
    }

    /// Where bucket `i` starts and ends inside the range.
    fn bucket_span(&self, i: usize) -> TimeRange {
        let range = self.chart.range;
        let start = self
            .edges
            .get(i)
            .map_or(range.end_ms, |&e| e.max(range.start_ms));
        let end = self
            .edges
            .get(i + 1)
            .map_or(range.end_ms, |&e| e.min(range.end_ms));
        TimeRange::new(start, end)
    }

    /// Appends the page starting at bucket `first` to `out` (the header
    /// row first, for CSV) and returns where the next page starts, or `None`
    /// after the last.
    pub fn write_page(
        &self,
        store: &Store,
        first: usize,
        out: &mut Vec<u8>,
    ) -> Result<Option<usize>, StoreError> {
        if first == 0 && self.format == Format::Csv {
            self.write_header(out);
        }
        if first >= self.edges.len() {
            return Ok(None);
        }
        let end = self.page_end(first);
        let page = TimeRange::new(
            self.bucket_span(first).start_ms,
            self.bucket_span(end - 1).end_ms,
        );
        let sums = self.page_sums(store.export_points(page, self.chart.by)?, page, end - first);
        for bucket in 0..end - first {
            let span = self.bucket_span(first + bucket);
            for (key, per_bucket) in &sums {
                let values = &per_bucket[bucket];
                if self.chart.by.is_some() && values.iter().all(|v| *v == 0.0) {
                    continue;
                }
                self.write_row(out, span, key, values);
            }
        }
        Ok((end < self.edges.len()).then_some(end))
    }

    /// Sums of every key and metric per bucket of a page, by the core's
    /// [`window::bucketize`]; the total has a row of zeros when nothing is
    /// stored.
    fn page_sums(
        &self,
        points: Vec<(String, MetricPoints)>,
        page: TimeRange,
        buckets: usize,
    ) -> Vec<KeySums> {
        let ChartQuery { by, tz, step, .. } = self.chart;
        let mut out: Vec<KeySums> = Vec::with_capacity(points.len().max(1));
        for (key, per_metric) in points {
            let mut rows = vec![vec![0.0; self.metrics.len()]; buckets];
            for (col, metric) in self.metrics.iter().enumerate() {
                let pts = &per_metric[metric.index()];
                if pts.is_empty() {
                    continue;
                }
                let (_, sums) = window::bucketize(pts, page, tz, step);
                for (row, sum) in rows.iter_mut().zip(sums) {
                    row[col] = sum;
                }
            }
            let key = match by {
                None => "total".to_owned(),
                Some(_) => views::key_name(&key).to_owned(),
            };
            out.push((key, rows));
        }
        if by.is_none() && out.is_empty() {
            out.push((
                "total".to_owned(),
                vec![vec![0.0; self.metrics.len()]; buckets],
            ));
        }
        out
    }

    fn write_header(&self, out: &mut Vec<u8>) {
        let mut header = vec!["start", "end", "key"];
        header.extend(self.metrics.iter().map(|m| m.name()));
        write_csv(out, header);
    }

    fn write_row(&self, out: &mut Vec<u8>, span: TimeRange, key: &str, values: &[f64]) {
        let tz = self.chart.tz;
        let (start, end) = (
            window::format_rfc3339(span.start_ms, tz),
            window::format_rfc3339(span.end_ms, tz),
        );
        match self.format {
            Format::Csv => {
                let numbers: Vec<String> =
                    values.iter().map(|v| views::num(*v).to_string()).collect();
                let key = csv_text(key);
                let mut record = vec![start.as_str(), end.as_str(), &*key];
                record.extend(numbers.iter().map(String::as_str));
                write_csv(out, record);
            }
            Format::Ndjson => {
                let mut row = Map::new();
                row.insert("start".into(), Value::String(start));
                row.insert("end".into(), Value::String(end));
                row.insert("key".into(), Value::String(key.to_owned()));
                for (metric, v) in self.metrics.iter().zip(values) {
                    row.insert(metric.name().into(), views::num(*v));
                }
                // Writing a JSON object into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *out, &Value::Object(row));
                out.push(b'\n');
            }
        }
    }
}

/// `text` as a CSV field a spreadsheet shows as text: a leading `'` before
/// `=`, `+`, `-`, `@`, a tab or a carriage return (see the module docs).
pub fn csv_text(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

/// Appends one RFC 4180 record to `out`.
fn write_csv<'a>(out: &mut Vec<u8>, fields: impl IntoIterator<Item = &'a str>) {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(&mut *out);
    // Writing into a Vec cannot fail.
    let _ = writer.write_record(fields);
    let _ = writer.flush();
}

/// The response body: pages from the producer task, in order.
struct Chunks(tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl futures_core::Stream for Chunks {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// `GET /api/v1/export?format=csv&by=model&from=…&to=…&step=…` (see the
/// module docs).
pub async fn export(
    q: HashMap<String, String>,
    app: Arc<App>,
) -> Result<warp::reply::Response, Rejection> {
    let request = parse_request(&q, app.settings.tz, app.clock.now_ms())?;
    let first = app
        .store
        .call(move |s| -> Result<_, ApiError> {
            let plan = request.plan(s)?;
            let mut chunk = Vec::new();
            let next = plan
                .write_page(s, 0, &mut chunk)
                .map_err(ApiError::unavailable)?;
            Ok((plan, chunk, next))
        })
        .await;
    let (plan, chunk, next) = match first {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return Err(e.into()),
        Err(e) => return Err(ApiError::unavailable(e).into()),
    };
    let (tx, rx) = tokio::sync::mpsc::channel(PAGES_IN_FLIGHT);
    // The channel is empty and has room for one.
    let _ = tx.try_send(Ok(Bytes::from(chunk)));
    let disposition = format!("attachment; filename=\"{}\"", plan.file_name());
    let content_type = plan.format().content_type();
    if let Some(next) = next {
        tokio::spawn(produce(app, Arc::new(plan), next, tx));
    }
    let mut resp = warp::Reply::into_response(warp::reply::stream(Chunks(rx)));
    let headers = resp.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert("content-disposition", v);
    }
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// Reads the pages from `next` on, one store job each, waiting for room in
/// the channel before reading the next; stops when the client goes away.
async fn produce(
    app: Arc<App>,
    plan: Arc<Plan>,
    mut next: usize,
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    loop {
        let Ok(permit) = tx.reserve().await else {
            return;
        };
        let p = Arc::clone(&plan);
        let page = app
            .store
            .call(move |s| {
                let mut chunk = Vec::new();
                p.write_page(s, next, &mut chunk).map(|n| (chunk, n))
            })
            .await;
        match page {
            Ok(Ok((chunk, n))) => {
                permit.send(Ok(Bytes::from(chunk)));
                match n {
                    Some(n) => next = n,
                    None => return,
                }
            }
            Ok(Err(e)) | Err(e) => {
                tracing::warn!(error = %e, "export stopped: the database failed mid-way");
                permit.send(Err(std::io::Error::other(e.to_string())));
                return;
            }
        }
    }
}

/// The `/api/v1/export` entry of the OpenAPI document.
pub fn openapi_path() -> Value {
    let dims: Vec<&str> = pulse_core::catalog::Dimension::ALL
        .iter()
        .map(|d| d.name())
        .collect();
    let metrics: Vec<&str> = views::counters().map(|m| m.name()).collect();
    let query = |name: &str, schema: Value, description: &str| json!({ "name": name, "in": "query", "required": false, "schema": schema, "description": description });
    let error =
        json!({ "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } });
    json!({ "get": {
        "summary": "Every bucket of a range as CSV or NDJSON, streamed (the numbers of /api/v1/series)",
        "description": "Columns: start, end (the bucket's part inside the range, RFC 3339 with the zone's offset), key (`total` without `by`; `(none)` for series without the label), then one column per metric in the order listed in `metric` (default: every counter in catalog order). Rows go by time, then key; with `by`, rows whose values are all 0 are left out. In CSV a key starting with =, +, -, @, tab or CR gets a leading ' so spreadsheets show it as text; NDJSON keys are verbatim.",
        "parameters": [
            query("format", json!({ "type": "string", "enum": ["csv", "ndjson"], "default": "csv" }), "body format"),
            query("metric", json!({ "type": "string", "examples": [metrics.join(","), "cost,tokens"] }), "comma-separated metric columns (default: every counter)"),
            query("by", json!({ "type": "string", "enum": dims }), "one row per key of a dimension (default: the total)"),
            query("step", json!({ "type": "string", "examples": ["15m", "1h", "1d", "1w", "1mo"] }), "bucket width, as in /api/v1/series"),
            query("tz", json!({ "type": "string" }), "IANA zone (default: the configured one)"),
            query("from", json!({ "type": "string" }), "RFC 3339, a date YYYY-MM-DD (local midnight) or ms since the epoch"),
            query("to", json!({ "type": "string" }), "RFC 3339, a date YYYY-MM-DD (local midnight, excluded) or ms since the epoch; default now"),
            query("window", json!({ "type": "string", "examples": window::Window::NAMES }), "instead of from/to"),
        ],
        "responses": {
            "200": {
                "description": "the rows; `Content-Disposition: attachment` names the file",
                "content": {
                    "text/csv": { "schema": { "type": "string" } },
                    "application/x-ndjson": { "schema": { "type": "string" } },
                },
            },
            "400": { "description": "invalid parameter or too many buckets", "content": error.clone() },
            "503": { "description": "database unavailable", "content": error },
        },
    } })
}

#[cfg(test)]
mod tests;
