//! The export against `/api/v1/series` and `/api/v1/breakdown`: `warp::test`
//! against the routes, over a store written through [`Store::record_batch`]
//! with six weeks of scrapes across the New York fall-back, every dimension
//! and hostile keys. CSV is read back with the `csv` crate, NDJSON with
//! serde_json, and every bucket must equal the series value exactly.

use std::collections::BTreeMap;
use std::sync::Arc;

use pulse_core::catalog::{Dimension, Metric, MetricValues};
use pulse_core::track::{BreakdownDelta, Observation, StateChanges, TrackerState};
use pulse_core::window::parse_rfc3339;
use serde_json::Value;

use super::csv_text;
use crate::api::views::counters;
use crate::app::App;
use crate::clock::Clock;
use crate::config::Cli;
use crate::store::{ScrapeOutcome, ScrapeRecord, Store, StoreHandle};

/// Label text a caller of LiteLLM controls: a formula, CSV syntax, a line
/// break, quotes and non-ASCII.
const HOSTILE: &str = "=HYPERLINK(\"http://x.test/?a,b\",\"c\")\r\n\"q\",é";

/// Keys of every dimension; `""` is a series without the label.
const KEYS: [&str; 5] = ["gpt-4o", HOSTILE, "", "+1 555", "@team,a"];

const START: &str = "2026-10-10T00:00:00Z";
const NOW: &str = "2026-11-21T10:20:00Z";
const TZ: &str = "America/New_York";

fn ms(t: &str) -> i64 {
    parse_rfc3339(t).unwrap()
}

/// One scrape every 20 minutes from [`START`] to [`NOW`]: integer requests
/// and tokens, costs in 1/64 (exact in binary, so sums cannot depend on
/// their order), each dimension's keys in turn.
fn observations() -> Vec<Observation> {
    let mut out = Vec::new();
    let mut at = ms(START);
    let mut i = 0usize;
    while at < ms(NOW) {
        let n = (i % 4) as f64;
        let cost = ((i * 7) % 23) as f64 / 64.0;
        let tokens = 17.0 * n + (i % 3) as f64;
        let mut deltas = MetricValues::default();
        deltas.set(Metric::Requests, n);
        deltas.set(Metric::Cost, cost);
        deltas.set(Metric::Tokens, tokens);
        deltas.set(
            Metric::FailedRequests,
            f64::from(u8::from(i.is_multiple_of(9))),
        );
        let mut breakdown = Vec::new();
        for (d, dim) in Dimension::ALL.into_iter().enumerate() {
            let key = KEYS[(i + d) % KEYS.len()];
            for (metric, delta) in [
                (Metric::Requests, n),
                (Metric::Cost, cost),
                (Metric::Tokens, tokens),
            ] {
                breakdown.push(BreakdownDelta {
                    dimension: dim,
                    key: key.to_owned(),
                    metric,
                    delta,
                });
            }
        }
        let mut live = deltas;
        live.set(Metric::InFlightRequests, 1.0);
        out.push(Observation {
            at_ms: at,
            baseline: false,
            resets: 0,
            new_series: 0,
            vanished_series: 0,
            adopted_series: 0,
            live,
            deltas,
            breakdown,
            latency: Default::default(),
        });
        at += 20 * 60_000;
        i += 1;
    }
    out
}

async fn app() -> Arc<App> {
    let (settings, _) = <Cli as clap::Parser>::try_parse_from(["litellm-pulse", "--timezone", TZ])
        .unwrap()
        .resolve(|_| None)
        .unwrap();
    let mut store = Store::open_memory(10);
    let obs = observations();
    let state = TrackerState {
        version: pulse_core::track::STATE_VERSION,
        observations: obs.len() as u64,
        last_at_ms: obs.last().map(|o| o.at_ms),
        last_target_ms: None,
        series: Vec::new(),
    };
    let raw = vec![("x_total".to_owned(), 1.0)];
    let states = [("litellm:4000".to_owned(), StateChanges::full(state))];
    let recs: Vec<ScrapeRecord<'_>> = obs
        .iter()
        .map(|o| ScrapeRecord {
            at_ms: o.at_ms,
            duration_ms: 1.0,
            outcome: ScrapeOutcome::Ok {
                observation: o,
                raw: &raw,
                states: &states,
            },
        })
        .collect();
    store.record_batch(&recs).unwrap();
    App::new(settings, StoreHandle::spawn(store), Clock::Fixed(ms(NOW)))
        .await
        .unwrap()
}

struct Reply {
    status: u16,
    headers: warp::http::HeaderMap,
    body: Vec<u8>,
}

async fn get(app: &Arc<App>, path: &str) -> Reply {
    let resp = warp::test::request()
        .path(path)
        .reply(&crate::api::routes(Arc::clone(app)))
        .await;
    Reply {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.body().to_vec(),
    }
}

async fn get_json(app: &Arc<App>, path: &str) -> Value {
    let r = get(app, path).await;
    assert_eq!(
        r.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&r.body)
    );
    serde_json::from_slice(&r.body).unwrap()
}

/// An export's rows: `(key, start)` → (end, metric name → value).
type Rows = BTreeMap<(String, String), (String, BTreeMap<String, f64>)>;

/// Reads a CSV export with the `csv` crate, undoing the formula guard.
fn read_csv(body: &[u8]) -> (Vec<String>, Rows) {
    let mut reader = csv::Reader::from_reader(body);
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let mut rows = Rows::new();
    for record in reader.records() {
        let record = record.unwrap();
        assert_eq!(record.len(), header.len());
        let key = record[2].to_owned();
        let key = match key.strip_prefix('\'') {
            Some(k) if csv_text(k) == key => k.to_owned(),
            _ => key,
        };
        let values = header[3..]
            .iter()
            .zip(record.iter().skip(3))
            .map(|(m, v)| (m.clone(), v.parse::<f64>().unwrap()))
            .collect();
        let old = rows.insert((key, record[0].to_owned()), (record[1].to_owned(), values));
        assert!(old.is_none(), "a (key, start) pair twice");
    }
    (header, rows)
}

/// Reads an NDJSON export with serde_json.
fn read_ndjson(body: &[u8]) -> (Vec<String>, Rows) {
    let text = std::str::from_utf8(body).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'));
    let mut header = Vec::new();
    let mut rows = Rows::new();
    for line in text.lines() {
        let Value::Object(obj) = serde_json::from_str::<Value>(line).unwrap() else {
            panic!("not an object: {line}");
        };
        header = obj.keys().cloned().collect();
        let values = obj
            .iter()
            .skip(3)
            .map(|(m, v)| (m.clone(), v.as_f64().unwrap()))
            .collect();
        let key = obj["key"].as_str().unwrap().to_owned();
        let start = obj["start"].as_str().unwrap().to_owned();
        rows.insert(
            (key, start),
            (obj["end"].as_str().unwrap().to_owned(), values),
        );
    }
    (header, rows)
}

async fn export(app: &Arc<App>, format: &str, query: &str) -> (Vec<String>, Rows) {
    let r = get(app, &format!("/api/v1/export?format={format}&{query}")).await;
    assert_eq!(
        r.status,
        200,
        "{query}: {}",
        String::from_utf8_lossy(&r.body)
    );
    match format {
        "csv" => read_csv(&r.body),
        _ => read_ndjson(&r.body),
    }
}

/// The by-parameter of every breakdown and the total.
fn every_by() -> Vec<Option<Dimension>> {
    std::iter::once(None)
        .chain(Dimension::ALL.into_iter().map(Some))
        .collect()
}

fn by_param(by: Option<Dimension>) -> String {
    by.map_or(String::new(), |d| format!("&by={}", d.name()))
}

/// Every bucket of `series` equals the export's row for it (a missing row
/// of a breakdown stands for zeros), and the export has no other rows.
///
/// `window=all` starts at the first stored bucket of the metrics asked
/// for, so there each metric is exported on its own (`metric=`) to start
/// where its series starts.
async fn assert_matches_series(app: &Arc<App>, format: &str, query: &str, by: Option<Dimension>) {
    let q = format!("{query}{}", by_param(by));
    let (header, all_rows) = export(app, format, &q).await;
    let metrics: Vec<String> = counters().map(|m| m.name().to_owned()).collect();
    assert_eq!(header[..3], ["start", "end", "key"]);
    assert_eq!(header[3..], metrics[..]);
    let per_metric = query.contains("window=all");
    let mut matched = std::collections::BTreeSet::new();
    for metric in counters() {
        let rows = if per_metric {
            export(app, format, &format!("{q}&metric={}", metric.name()))
                .await
                .1
        } else {
            all_rows.clone()
        };
        let s = get_json(app, &format!("/api/v1/series?metric={}&{q}", metric.name())).await;
        let t: Vec<i64> = serde_json::from_value(s["t"].clone()).unwrap();
        let from = ms(s["from"].as_str().unwrap());
        let tz = pulse_core::window::parse_tz(s["tz"].as_str().unwrap()).unwrap();
        for series in s["series"].as_array().unwrap() {
            let key = series["key"].as_str().unwrap();
            for (i, v) in series["values"].as_array().unwrap().iter().enumerate() {
                let start = pulse_core::window::format_rfc3339(t[i].max(from), tz);
                let row = (key.to_owned(), start);
                let got = rows.get(&row).map(|(_, vals)| vals[metric.name()]);
                let want = v.as_f64().unwrap();
                match got {
                    Some(got) => {
                        assert_eq!(got, want, "{q} {metric} {row:?}");
                        matched.insert(row);
                    }
                    None => assert!(
                        by.is_some() && want == 0.0,
                        "{q} {metric} {row:?}: no row for {want}"
                    ),
                }
            }
        }
    }
    if !per_metric {
        // Every row is a bucket of some series.
        assert_eq!(
            matched.len(),
            all_rows.len(),
            "{q}: rows the series do not have"
        );
    }
    if by.is_none() && !per_metric {
        let s = get_json(app, &format!("/api/v1/series?metric=cost&{q}")).await;
        assert_eq!(all_rows.len(), s["t"].as_array().unwrap().len(), "{q}");
    }
}

#[tokio::test]
async fn every_bucket_equals_the_series_for_every_by_and_both_formats() {
    let app = app().await;
    // Hours across the fall-back (a 25-hour day: many pages), days and
    // months over everything stored, and a range that cuts buckets.
    let queries = [
        "from=2026-10-30&to=2026-11-03&step=hour",
        "from=2026-10-01&to=2026-11-22&step=day",
        "window=all&step=month",
        "from=2026-10-31T13:07:00-04:00&to=2026-11-02T09:00:00Z&step=2h",
    ];
    for query in queries {
        for by in every_by() {
            for format in ["csv", "ndjson"] {
                assert_matches_series(&app, format, query, by).await;
            }
        }
    }
}

#[tokio::test]
async fn all_time_sums_equal_the_breakdown_and_the_totals_exactly() {
    let app = app().await;
    for format in ["csv", "ndjson"] {
        for by in every_by() {
            let (_, rows) = export(&app, format, &format!("window=all{}", by_param(by))).await;
            let mut sums: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
            for ((key, _), (_, values)) in &rows {
                for (m, v) in values {
                    *sums
                        .entry(key.clone())
                        .or_default()
                        .entry(m.clone())
                        .or_default() += v;
                }
            }
            let want: Vec<(String, Value)> = match by {
                None => {
                    let m = get_json(&app, "/api/v2/summary").await;
                    vec![("total".to_owned(), m["all_time"].clone())]
                }
                Some(d) => {
                    let b = get_json(
                        &app,
                        &format!("/api/v1/breakdown?by={}&window=all", d.name()),
                    )
                    .await;
                    b.as_array()
                        .unwrap()
                        .iter()
                        .map(|item| (item["name"].as_str().unwrap().to_owned(), item.clone()))
                        .collect()
                }
            };
            assert_eq!(sums.len(), want.len(), "{format} {by:?}");
            for (key, expected) in want {
                for metric in counters() {
                    let got = sums[&key][metric.name()];
                    assert_eq!(
                        got,
                        expected[metric.name()].as_f64().unwrap(),
                        "{format} {by:?} {key:?} {metric}"
                    );
                }
                assert!(sums[&key]["cost"] > 0.0);
            }
        }
    }
}

#[tokio::test]
async fn hostile_keys_survive_csv_quoting_and_are_guarded_against_formulas() {
    let app = app().await;
    let r = get(&app, "/api/v1/export?by=model&window=all&step=month").await;
    let text = String::from_utf8(r.body.clone()).unwrap();
    // The formula guard: the field starts with a quote, then the apostrophe.
    assert!(text.contains("\"'=HYPERLINK(\"\"http://x.test/?a,b\"\""));
    assert!(text.contains(",\"'@team,a\","));
    assert!(text.contains(",'+1 555,"));
    assert!(text.contains(",(none),"));
    let mut reader = csv::Reader::from_reader(r.body.as_slice());
    let keys: std::collections::BTreeSet<String> =
        reader.records().map(|r| r.unwrap()[2].to_owned()).collect();
    let guarded: std::collections::BTreeSet<String> = [
        format!("'{HOSTILE}"),
        "gpt-4o".to_owned(),
        "(none)".to_owned(),
        "'+1 555".to_owned(),
        "'@team,a".to_owned(),
    ]
    .into();
    assert_eq!(keys, guarded);
    // NDJSON keys are verbatim.
    let (_, rows) = export(&app, "ndjson", "by=model&window=all&step=month").await;
    assert!(rows.keys().any(|(k, _)| k == HOSTILE));
    assert_eq!(csv_text("-3"), "'-3");
    assert_eq!(csv_text("a=b"), "a=b");
}

#[tokio::test]
async fn headers_name_the_format_and_the_file() {
    let app = app().await;
    let r = get(
        &app,
        "/api/v1/export?by=team&from=2026-11-01&to=2026-11-08&step=day",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        r.headers["content-disposition"],
        "attachment; filename=\"litellm-pulse-team-2026-11-01-2026-11-08.csv\""
    );
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    let (_, rows) = read_csv(&r.body);
    // Local days in New York: the fall-back day has 25 hours.
    let first = rows
        .iter()
        .find(|((_, start), _)| start == "2026-11-01T00:00:00-04:00")
        .unwrap();
    assert_eq!(first.1.0, "2026-11-02T00:00:00-05:00");
    let r = get(&app, "/api/v1/export?format=ndjson&window=7d").await;
    assert_eq!(r.headers["content-type"], "application/x-ndjson");
    assert_eq!(
        r.headers["content-disposition"],
        "attachment; filename=\"litellm-pulse-total-2026-11-14-2026-11-21.ndjson\""
    );
}

#[tokio::test]
async fn chosen_metrics_come_in_the_order_given() {
    let app = app().await;
    let (header, rows) = export(&app, "csv", "metric=cost,requests,cost&window=30d").await;
    assert_eq!(header, ["start", "end", "key", "cost", "requests"]);
    let (_, all) = export(&app, "csv", "window=30d").await;
    for (k, (_, values)) in &rows {
        assert_eq!(values["cost"], all[k].1["cost"]);
        assert_eq!(values["requests"], all[k].1["requests"]);
    }
}

#[tokio::test]
async fn bad_queries_are_json_errors_before_any_row() {
    let app = app().await;
    for (query, needle) in [
        ("format=xlsx", "format must be csv or ndjson"),
        ("metric=in_flight_requests", "gauge"),
        ("metric=bogus", "unknown metric"),
        ("by=planet", "by must be one of"),
        ("from=2026-11-02&to=2026-11-01", "the range is empty"),
        ("from=yesterday", "a date (YYYY-MM-DD)"),
        (
            "from=1970-01-01&to=2026-01-01&step=15m",
            "use a larger step",
        ),
        ("step=5m", "multiple of 15m"),
    ] {
        let r = get(&app, &format!("/api/v1/export?{query}")).await;
        assert_eq!(r.status, 400, "{query}");
        assert_eq!(r.headers["content-type"], "application/json");
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let msg = body["error"].as_str().unwrap();
        assert!(msg.contains(needle), "{query}: {msg}");
    }
}

#[tokio::test]
async fn an_empty_store_exports_zero_rows_of_the_total_only() {
    let (settings, _) = <Cli as clap::Parser>::try_parse_from(["litellm-pulse"])
        .unwrap()
        .resolve(|_| None)
        .unwrap();
    let app = App::new(
        settings,
        StoreHandle::spawn(Store::open_memory(5)),
        Clock::Fixed(ms(NOW)),
    )
    .await
    .unwrap();
    let (_, rows) = export(&app, "csv", "from=2026-11-20&to=2026-11-21&step=hour").await;
    assert_eq!(rows.len(), 24);
    assert!(rows.values().all(|(_, v)| v.values().all(|x| *x == 0.0)));
    let (_, rows) = export(&app, "ndjson", "by=model&window=all").await;
    assert!(rows.is_empty());
    // `all` over nothing is the day before now, as in /api/v1/series.
    let (_, rows) = export(&app, "csv", "window=all&step=day").await;
    assert_eq!(rows.len(), 2);
}

#[test]
fn the_openapi_document_describes_both_formats_and_every_parameter() {
    let doc = crate::api::openapi::document();
    let get = &doc["paths"]["/api/v1/export"]["get"];
    let content = get["responses"]["200"]["content"].as_object().unwrap();
    assert!(content.contains_key("text/csv") && content.contains_key("application/x-ndjson"));
    let params: Vec<&str> = get["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        params,
        [
            "format", "metric", "by", "step", "tz", "from", "to", "window"
        ]
    );
    assert_eq!(
        get["responses"]["400"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Error"
    );
}
