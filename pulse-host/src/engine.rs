//! Reading LiteLLM's counters from a Prometheus-compatible engine
//! (`LITELLM_PULSE_PROMETHEUS_URL`): the HTTP client, the typed decoding of
//! the API's JSON, and the backfill of a first start.
//!
//! The rules — which names to ask for, how an answer becomes the tracker's
//! input, the step plan, the clock an answer is judged by — are
//! `pulse_core::engine`'s; this file only moves bytes and types. Each
//! interval is one instant query (`POST /api/v1/query`, form-encoded: the
//! query names every tracked sample and is long) at the host's "now"; the
//! answer goes through `pipeline::prepare_parts`, the path of a scraped
//! body. Every failure is an [`EngineError`] naming the endpoint and the
//! field, recorded like a failed scrape; nothing in an answer can panic.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use pulse_core::engine::{self, Labels, MAX_POINTS_PER_SERIES, RangeChunk, Selector};
use pulse_core::track::Fleet;
use reqwest::header::{ACCEPT, HeaderValue};
use reqwest::{Client, Url};
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::app::App;
use crate::config::Settings;
use crate::pipeline::{Input, Part, Pending, persist_batch, prepare_parts};
use crate::scrape::describe;

/// Steps per backfill range query: a week of 15-minute steps, well under
/// the engines' 11,000 points per series, and an answer of a few MB for a
/// thousand series.
const BACKFILL_CHUNK_STEPS: u32 = 7 * 96;
/// How far back the backfill looks when pulse keeps everything
/// (`LITELLM_PULSE_DB_RETENTION_DAYS=0`): five years.
const BACKFILL_MAX_MS: i64 = 5 * 366 * 86_400_000;
/// Probe steps over the retention, to find where the engine's data begins.
const PROBE_POINTS: i64 = 1000;

/// How pulse authenticates to the engine. `Debug` shows only the kind.
#[derive(Clone, PartialEq, Eq)]
pub enum EngineAuth {
    /// No `Authorization` header.
    None,
    /// HTTP basic auth.
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
}

impl std::fmt::Debug for EngineAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EngineAuth::None => "None",
            EngineAuth::Basic { .. } => "Basic(<redacted>)",
            EngineAuth::Bearer(_) => "Bearer(<redacted>)",
        })
    }
}

/// Where and how to read from the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSettings {
    /// The API's base URL (before `/api/v1/…`), without credentials.
    pub url: Url,
    /// The user's label matchers.
    pub selector: Selector,
    /// Credentials.
    pub auth: EngineAuth,
    /// The backfill's step (`pulse_core::engine::BACKFILL_STEP_MS` but in tests).
    pub backfill_step_ms: i64,
}

/// Why a query failed. Messages never contain credentials.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// The engine could not be reached.
    #[error("cannot reach the Prometheus API: {0}")]
    Connect(String),
    /// No complete answer within the scrape timeout.
    #[error("Prometheus API timed out after {0:.1} s")]
    Timeout(f64),
    /// A non-2xx answer without the API's error JSON.
    #[error("{endpoint} answered HTTP {status}")]
    Status {
        /// `/api/v1/query` or `/api/v1/query_range`.
        endpoint: &'static str,
        /// The HTTP status.
        status: u16,
    },
    /// `"status":"error"`: the engine refused the query.
    #[error("{endpoint} answered an error ({kind}): {message}")]
    Refused {
        /// The endpoint.
        endpoint: &'static str,
        /// `errorType`.
        kind: String,
        /// `error`.
        message: String,
    },
    /// Not the API's JSON, or a field of the wrong shape.
    #[error("{endpoint}: not a Prometheus API answer: {detail}")]
    Decode {
        /// The endpoint.
        endpoint: &'static str,
        /// What serde said, with the line and column.
        detail: String,
    },
    /// A well-formed answer of another result type than the query gives.
    #[error("{endpoint}: expected resultType {want}, got {got}")]
    ResultType {
        /// The endpoint.
        endpoint: &'static str,
        /// What pulse asked for.
        want: &'static str,
        /// What came.
        got: &'static str,
    },
    /// A value or timestamp that is not a number.
    #[error("{endpoint}: {field} is not a number: {value:?}")]
    Number {
        /// The endpoint.
        endpoint: &'static str,
        /// Where, e.g. `data.result[3].value[1]`.
        field: String,
        /// What it held.
        value: String,
    },
    /// The answer grew past `LITELLM_PULSE_MAX_BODY_BYTES`.
    #[error("{endpoint}: answer exceeds the limit of {limit} bytes (LITELLM_PULSE_MAX_BODY_BYTES)")]
    TooLarge {
        /// The endpoint.
        endpoint: &'static str,
        /// The cap.
        limit: u64,
    },
    /// Anything else (a client that cannot be built).
    #[error("Prometheus API: {0}")]
    Other(String),
}

const QUERY: &str = "/api/v1/query";
const QUERY_RANGE: &str = "/api/v1/query_range";

// --- the API's JSON, typed ---------------------------------------------------

#[derive(Deserialize)]
struct Envelope {
    status: Status,
    data: Option<Data>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Status {
    Success,
    Error,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Vector(Vec<InstantSeries>),
    Matrix(Vec<RangeSeries>),
    Scalar(IgnoredAny),
    String(IgnoredAny),
}

impl Data {
    fn kind(&self) -> &'static str {
        match self {
            Data::Vector(_) => "vector",
            Data::Matrix(_) => "matrix",
            Data::Scalar(_) => "scalar",
            Data::String(_) => "string",
        }
    }
}

#[derive(Deserialize)]
struct InstantSeries {
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

#[derive(Deserialize)]
struct RangeSeries {
    metric: BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

/// A series' labels as the engine answered them, `__name__` among them.
pub type OwnedLabels = Vec<(String, String)>;

/// An instant query's answer: each series' labels (`__name__` among them)
/// and value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Vector {
    /// Labels and value per series.
    pub series: Vec<(OwnedLabels, f64)>,
}

impl Vector {
    /// The tracker's input.
    pub fn exposition(&self) -> pulse_core::Exposition<'_> {
        engine::exposition(self.series.iter().map(|(l, v)| (l.as_slice(), *v)))
    }
}

/// A range query's answer: each series' labels and its points (ms, value).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Matrix {
    /// Labels and points per series.
    pub series: Vec<(OwnedLabels, Vec<(i64, f64)>)>,
}

impl Matrix {
    /// Per step time, the series (index) and value it has there.
    pub fn by_step(&self) -> BTreeMap<i64, Vec<(usize, f64)>> {
        let mut steps: BTreeMap<i64, Vec<(usize, f64)>> = BTreeMap::new();
        for (i, (_, points)) in self.series.iter().enumerate() {
            for &(t, v) in points {
                steps.entry(t).or_default().push((i, v));
            }
        }
        steps
    }

    /// The tracker's input for one step of [`Matrix::by_step`].
    pub fn exposition<'a>(&'a self, step: &[(usize, f64)]) -> pulse_core::Exposition<'a> {
        engine::exposition(step.iter().filter_map(|&(i, v)| {
            self.series
                .get(i)
                .map(|(labels, _)| (labels.as_slice() as &Labels, v))
        }))
    }
}

fn number(
    endpoint: &'static str,
    field: impl Fn() -> String,
    text: &str,
) -> Result<f64, EngineError> {
    engine::parse_value(text).ok_or_else(|| EngineError::Number {
        endpoint,
        field: field(),
        value: text.to_owned(),
    })
}

fn time_ms(endpoint: &'static str, field: impl Fn() -> String, s: f64) -> Result<i64, EngineError> {
    engine::seconds_to_ms(s).ok_or_else(|| EngineError::Number {
        endpoint,
        field: field(),
        value: format!("{s:e}"),
    })
}

/// Reads an answer's JSON: the data of a success, or the engine's error.
fn envelope(endpoint: &'static str, status: u16, body: &[u8]) -> Result<Data, EngineError> {
    let parsed: Result<Envelope, _> = serde_json::from_slice(body);
    let env = match parsed {
        Ok(env) => env,
        Err(_) if !(200..300).contains(&status) => {
            return Err(EngineError::Status { endpoint, status });
        }
        Err(e) => {
            return Err(EngineError::Decode {
                endpoint,
                detail: e.to_string(),
            });
        }
    };
    let ok = (200..300).contains(&status);
    match (env.status, env.data) {
        (Status::Error, _) => Err(EngineError::Refused {
            endpoint,
            kind: env.error_type.unwrap_or_default(),
            message: env.error.unwrap_or_default(),
        }),
        (Status::Success, _) if !ok => Err(EngineError::Status { endpoint, status }),
        (Status::Success, Some(data)) => Ok(data),
        (Status::Success, None) => Err(EngineError::Decode {
            endpoint,
            detail: "\"status\":\"success\" without \"data\"".into(),
        }),
    }
}

/// Decodes an instant query's answer (`resultType` vector).
pub fn decode_vector(status: u16, body: &[u8]) -> Result<Vector, EngineError> {
    let endpoint = QUERY;
    let series = match envelope(endpoint, status, body)? {
        Data::Vector(series) => series,
        other => {
            return Err(EngineError::ResultType {
                endpoint,
                want: "vector",
                got: other.kind(),
            });
        }
    };
    let mut out = Vector {
        series: Vec::with_capacity(series.len()),
    };
    for (i, s) in series.into_iter().enumerate() {
        let value = number(
            endpoint,
            || format!("data.result[{i}].value[1]"),
            &s.value.1,
        )?;
        time_ms(endpoint, || format!("data.result[{i}].value[0]"), s.value.0)?;
        out.series.push((s.metric.into_iter().collect(), value));
    }
    Ok(out)
}

/// Decodes a range query's answer (`resultType` matrix).
pub fn decode_matrix(status: u16, body: &[u8]) -> Result<Matrix, EngineError> {
    let endpoint = QUERY_RANGE;
    let series = match envelope(endpoint, status, body)? {
        Data::Matrix(series) => series,
        other => {
            return Err(EngineError::ResultType {
                endpoint,
                want: "matrix",
                got: other.kind(),
            });
        }
    };
    let mut out = Matrix {
        series: Vec::with_capacity(series.len()),
    };
    for (i, s) in series.into_iter().enumerate() {
        let mut points = Vec::with_capacity(s.values.len());
        for (j, (t, v)) in s.values.iter().enumerate() {
            let t = time_ms(endpoint, || format!("data.result[{i}].values[{j}][0]"), *t)?;
            let v = number(endpoint, || format!("data.result[{i}].values[{j}][1]"), v)?;
            points.push((t, v));
        }
        out.series.push((s.metric.into_iter().collect(), points));
    }
    Ok(out)
}

// --- the client -----------------------------------------------------------------

/// An HTTP client bound to one engine.
#[derive(Debug, Clone)]
pub struct EngineClient {
    client: Client,
    settings: EngineSettings,
    /// The instant query of every tracked name with the user's matchers.
    query: String,
    timeout: Duration,
    max_body_bytes: u64,
}

impl EngineClient {
    /// The name this engine goes by as the fleet's one target (`host:port`
    /// of its URL); the series it answers with carry their own `instance`.
    pub fn target_name(&self) -> String {
        crate::config::target_name(&self.settings.url)
    }
}

/// Seconds as the API takes them (ms precision).
fn api_time(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let a = ms.unsigned_abs();
    format!("{sign}{}.{:03}", a / 1000, a % 1000)
}

/// `application/x-www-form-urlencoded` of `pairs`.
fn form(pairs: &[(&str, &str)]) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, NON_ALPHANUMERIC),
                utf8_percent_encode(v, NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

impl EngineClient {
    /// Builds the client (TLS verification and timeout as for scrapes).
    pub fn new(settings: &Settings, engine: &EngineSettings) -> Result<EngineClient, EngineError> {
        let client = Client::builder()
            .timeout(settings.scrape_timeout)
            .danger_accept_invalid_certs(!settings.verify_ssl)
            .referer(false)
            .user_agent(concat!("litellm-pulse/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| EngineError::Other(describe(&e.without_url())))?;
        Ok(EngineClient {
            client,
            query: engine::instant_query(&settings.catalog, &engine.selector),
            settings: engine.clone(),
            timeout: settings.scrape_timeout,
            max_body_bytes: settings.max_body_bytes,
        })
    }

    fn endpoint_url(&self, endpoint: &str) -> Url {
        let mut url = self.settings.url.clone();
        let path = format!("{}{endpoint}", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url
    }

    /// POSTs `params` to `endpoint`: the status and the body (capped).
    async fn post(
        &self,
        endpoint: &'static str,
        params: &[(&str, &str)],
    ) -> Result<(u16, Vec<u8>), EngineError> {
        let mut req = self
            .client
            .post(self.endpoint_url(endpoint))
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header(
                reqwest::header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .body(form(params));
        req = match &self.settings.auth {
            EngineAuth::None => req,
            EngineAuth::Basic { user, password } => req.basic_auth(user, Some(password)),
            EngineAuth::Bearer(token) => req.bearer_auth(token),
        };
        let classify = |e: reqwest::Error| {
            if e.is_timeout() {
                EngineError::Timeout(self.timeout.as_secs_f64())
            } else if e.is_connect() {
                EngineError::Connect(describe(&e.without_url()))
            } else {
                EngineError::Other(describe(&e.without_url()))
            }
        };
        let mut resp = req.send().await.map_err(classify)?;
        let status = resp.status().as_u16();
        let too_large = EngineError::TooLarge {
            endpoint,
            limit: self.max_body_bytes,
        };
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_body_bytes)
        {
            return Err(too_large);
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(classify)? {
            if (body.len() + chunk.len()) as u64 > self.max_body_bytes {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }

    /// The current value of every tracked series at `at_ms`.
    pub async fn instant(&self, at_ms: i64) -> Result<Vector, EngineError> {
        let time = api_time(at_ms);
        let (status, body) = self
            .post(QUERY, &[("query", &self.query), ("time", &time)])
            .await?;
        decode_vector(status, &body)
    }

    /// Every tracked series at each step of `chunk`.
    async fn range(&self, query: &str, chunk: RangeChunk) -> Result<Matrix, EngineError> {
        let (start, end, step) = (
            api_time(chunk.start_ms),
            api_time(chunk.end_ms),
            api_time(chunk.step_ms),
        );
        let (status, body) = self
            .post(
                QUERY_RANGE,
                &[
                    ("query", query),
                    ("start", &start),
                    ("end", &end),
                    ("step", &step),
                ],
            )
            .await?;
        decode_matrix(status, &body)
    }

    /// Where the backfill starts: a coarse range query over the retention
    /// says in which probe step the engine's data of the tracked series
    /// begins (whether any series had a sample in each step's window). With
    /// no hit, data can only begin after the last probe step (at or before
    /// now), so the backfill starts there.
    async fn data_start(&self, earliest_ms: i64, now_ms: i64) -> Result<i64, EngineError> {
        let step = self.settings.backfill_step_ms.max(1);
        let probe_step = ((now_ms - earliest_ms) / PROBE_POINTS).div_euclid(step) * step + step;
        let query = format!("count(last_over_time({}[{}ms]))", self.query, probe_step);
        let plan = engine::backfill_plan(earliest_ms, now_ms, probe_step, MAX_POINTS_PER_SERIES);
        let mut last = earliest_ms;
        for chunk in plan {
            let m = self.range(&query, chunk).await?;
            if let Some((&first, _)) = m.by_step().iter().next() {
                return Ok(engine::backfill_start(first, probe_step, earliest_ms));
            }
            last = chunk.end_ms;
        }
        Ok(last)
    }
}

/// The first start in engine mode: reads the engine's history of the
/// tracked series from its oldest data (within pulse's retention) to
/// `now_ms` in steps of `pulse_core::engine::BACKFILL_STEP_MS`, each step one observation of
/// the fleet (one target, the engine), stored a chunk per transaction through the path the demo's
/// backfill and every scrape take. Steps before the first with data are
/// skipped (that one is the baseline). Returns the number of observations.
pub async fn backfill(
    app: &App,
    client: &EngineClient,
    fleet: &mut Fleet,
    now_ms: i64,
) -> Result<usize, EngineError> {
    let target = client.target_name();
    let lookback = app.settings.retention.map_or(BACKFILL_MAX_MS, |r| {
        i64::try_from(r.as_millis()).unwrap_or(BACKFILL_MAX_MS)
    });
    let from = client.data_start(now_ms - lookback, now_ms).await?;
    let step_ms = client.settings.backfill_step_ms;
    let mut stored = 0;
    for chunk in engine::backfill_plan(from, now_ms, step_ms, BACKFILL_CHUNK_STEPS) {
        let started = Instant::now();
        let matrix = client.range(&client.query, chunk).await?;
        let steps = matrix.by_step();
        let mut batch: Vec<Pending> = Vec::new();
        let mut t = chunk.start_ms;
        while t <= chunk.end_ms {
            let found = steps.get(&t).map_or(&[][..], Vec::as_slice);
            if !(found.is_empty() && fleet.member(&target).is_none()) {
                let expo = matrix.exposition(found);
                let part = Part {
                    target: &target,
                    input: Input::Expo(&expo),
                    target_now_ms: Some(engine::answer_clock_ms(t)),
                };
                batch.extend(prepare_parts(fleet, &[part], t, started));
            }
            t += chunk.step_ms;
        }
        if batch.is_empty() {
            continue;
        }
        let n = batch.len();
        let res = app.store.call(move |s| persist_batch(s, &batch)).await;
        match res {
            Ok(Ok(())) => stored += n,
            Ok(Err(e)) => return Err(EngineError::Other(format!("storing the backfill: {e}"))),
            Err(e) => return Err(EngineError::Other(format!("storing the backfill: {e}"))),
        }
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../tests/fixtures/engine/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn real_answers_of_both_engines_decode() {
        for engine in ["prometheus", "victoriametrics"] {
            let v = decode_vector(200, &fixture(&format!("{engine}-vector.json"))).unwrap();
            assert_eq!(v.series.len(), 4, "{engine}");
            let expo = v.exposition();
            let names: Vec<&str> = expo.samples.iter().map(|s| s.name).collect();
            assert_eq!(
                names,
                [
                    "litellm_request_total_latency_metric_bucket",
                    "litellm_request_total_latency_metric_bucket",
                    "litellm_spend_metric_created",
                    "litellm_spend_metric_total",
                ],
                "{engine}"
            );
            let spend = &expo.samples[3];
            assert_eq!(spend.value, 1.5);
            assert_eq!(
                expo.label(spend, "instance").as_deref(),
                Some("127.0.0.1:19101")
            );
            assert_eq!(expo.label(spend, "job").as_deref(), Some("litellm"));
            assert_eq!(expo.label(spend, "__name__"), None);
            assert_eq!(expo.samples[2].value, 1.7e9);

            let m = decode_matrix(200, &fixture(&format!("{engine}-matrix.json"))).unwrap();
            assert_eq!(m.series.len(), 4, "{engine}");
            let steps = m.by_step();
            assert!(steps.len() >= 2, "{engine}: {steps:?}");
            assert!(steps.values().all(|s| s.len() == 4), "{engine}");
            let (_, first) = steps.iter().next().unwrap();
            let expo = m.exposition(first);
            assert_eq!(expo.samples.len(), 4);

            let empty = decode_vector(200, &fixture(&format!("{engine}-empty.json"))).unwrap();
            assert!(empty.series.is_empty());
            let bad = decode_vector(400, &fixture(&format!("{engine}-bad-query.json")));
            assert!(
                matches!(&bad, Err(EngineError::Refused { endpoint: QUERY, kind, message }) if !kind.is_empty() && message.contains("query")),
                "{engine}: {bad:?}"
            );
        }
        // Prometheus answers `1+1` with a scalar; VictoriaMetrics with a
        // vector of one series without a name, which carries no sample.
        let scalar = decode_vector(200, &fixture("prometheus-scalar.json"));
        assert_eq!(
            scalar.unwrap_err().to_string(),
            "/api/v1/query: expected resultType vector, got scalar"
        );
        let vm = decode_vector(200, &fixture("victoriametrics-scalar.json")).unwrap();
        assert!(vm.exposition().samples.is_empty());
        let as_range = decode_matrix(200, &fixture("prometheus-vector.json"));
        assert_eq!(
            as_range.unwrap_err().to_string(),
            "/api/v1/query_range: expected resultType matrix, got vector"
        );
    }

    #[test]
    fn bad_answers_are_typed_errors_naming_the_field() {
        let rows: [(u16, &str, &str); 11] = [
            (
                200,
                "",
                "/api/v1/query: not a Prometheus API answer: EOF while parsing a value at line 1 column 0",
            ),
            (
                200,
                "<html>502</html>",
                "/api/v1/query: not a Prometheus API answer: expected value at line 1 column 1",
            ),
            (502, "<html>502</html>", "/api/v1/query answered HTTP 502"),
            (
                200,
                r#"{"status":"success"}"#,
                "/api/v1/query: not a Prometheus API answer: \"status\":\"success\" without \"data\"",
            ),
            (
                200,
                r#"{"status":"maybe","data":null}"#,
                "/api/v1/query: not a Prometheus API answer: unknown variant `maybe`, expected `success` or `error` at line 1 column 17",
            ),
            (
                200,
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}}"#,
                "/api/v1/query: data.result[0].value[1] is not a number: \"x\"",
            ),
            (
                200,
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1e300,"1"]}]}}"#,
                "/api/v1/query: data.result[0].value[0] is not a number: \"1e300\"",
            ),
            (
                200,
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":1},"value":[1,"1"]}]}}"#,
                "/api/v1/query: not a Prometheus API answer: invalid type: integer `1`, expected a string at line 1 column 76",
            ),
            (
                200,
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1]}]}}"#,
                "/api/v1/query: not a Prometheus API answer: invalid length 1, expected a tuple of size 2 at line 1 column 84",
            ),
            (
                200,
                r#"{"status":"success","data":{"resultType":"histogram","result":[]}}"#,
                "/api/v1/query: not a Prometheus API answer: unknown variant `histogram`, expected one of `vector`, `matrix`, `scalar`, `string` at line 1 column 52",
            ),
            (
                422,
                r#"{"status":"error","errorType":"execution","error":"too many points"}"#,
                "/api/v1/query answered an error (execution): too many points",
            ),
        ];
        for (status, body, want) in rows {
            let got = decode_vector(status, body.as_bytes()).unwrap_err();
            assert_eq!(got.to_string(), want, "{body}");
        }
        let got = decode_matrix(
            200,
            br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,"NaN"],[3,"z"]]}]}}"#,
        )
        .unwrap_err();
        assert_eq!(
            got.to_string(),
            "/api/v1/query_range: data.result[0].values[2][1] is not a number: \"z\""
        );
    }

    #[test]
    fn forms_and_times_are_encoded_for_the_api() {
        assert_eq!(api_time(1_700_000_000_781), "1700000000.781");
        assert_eq!(api_time(-1), "-0.001");
        assert_eq!(
            form(&[("query", "{a=~\"x|y\"}"), ("time", "1.5")]),
            "query=%7Ba%3D%7E%22x%7Cy%22%7D&time=1%2E5"
        );
        let auth = EngineAuth::Basic {
            user: "u".into(),
            password: "pw-secret".into(),
        };
        assert!(!format!("{auth:?}").contains("pw-secret"));
        assert!(!format!("{:?}", EngineAuth::Bearer("tok-secret".into())).contains("tok-secret"));
    }
}
