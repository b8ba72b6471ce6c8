//! In-process tests of every endpoint: `warp::test` against the routes, with
//! a temporary SQLite store fed through the real pipeline with the real
//! LiteLLM captures (an idle proxy, then 01 → 02 → 02b → restart 03 → 04).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use pulse_core::catalog::Metric;
use pulse_core::track::Fleet;
use serde_json::Value;

use super::openapi;
use crate::app::App;
use crate::clock::Clock;
use crate::config::Cli;
use crate::pipeline::prepare;
use crate::store::{Store, StoreHandle};

/// Capture file and the UTC instant it was taken (MANIFEST.tsv). The idle
/// body of capture 03 stands for the freshly started proxy before batch 1.
pub const SEQUENCE: [(&str, &str); 6] = [
    ("03-after-restart-before-traffic", "2026-11-27T10:06:38Z"),
    ("01-after-batch1", "2026-11-27T10:08:19.671Z"),
    ("02-after-batch2", "2026-11-27T10:09:51.292Z"),
    (
        "02b-after-batch2-streams-drained",
        "2026-11-27T10:10:46.219Z",
    ),
    (
        "03-after-restart-before-traffic",
        "2026-11-27T10:11:04.527Z",
    ),
    ("04-after-restart-batch3", "2026-11-27T10:11:08.890Z"),
];

/// "Now" for the tests: a few minutes after the last capture.
const NOW: &str = "2026-11-27T10:15:00Z";

fn ms(t: &str) -> i64 {
    pulse_core::window::parse_rfc3339(t).unwrap()
}

/// A capture of [`SEQUENCE`] (named without `.prom`) as bytes.
pub fn capture(name: &str) -> Vec<u8> {
    pulse_testkit::capture_bytes(&format!("{name}.prom"))
}

fn reference(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/seed-0.3.0-responses")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

struct Fixture {
    app: Arc<App>,
    _dir: tempfile::TempDir,
}

/// `serve`'s settings in Kathmandu with `args`, on a database in a new
/// temporary directory.
fn kathmandu_settings(args: &[&str]) -> (crate::config::Settings, tempfile::TempDir) {
    let mut all = vec!["litellm-pulse", "--timezone", "Asia/Kathmandu"];
    all.extend_from_slice(args);
    let (mut settings, _) = <Cli as clap::Parser>::try_parse_from(all)
        .unwrap()
        .resolve(|_| None)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    settings.db_path = dir.path().join("pulse.db");
    (settings, dir)
}

async fn fixture_with(args: &[&str], steps: usize) -> Fixture {
    let (settings, dir) = kathmandu_settings(args);
    let mut store = Store::open(&settings.db_path, settings.history_size);
    let mut tracker = Fleet::new(settings.catalog.clone());
    for (name, at) in SEQUENCE.iter().take(steps) {
        let p = prepare(
            &mut tracker,
            "litellm:4000",
            &capture(name),
            ms(at),
            None,
            Instant::now(),
        )
        .unwrap();
        p.persist(&mut store).unwrap();
    }
    let app = App::new(settings, StoreHandle::spawn(store), Clock::Fixed(ms(NOW)))
        .await
        .unwrap();
    Fixture { app, _dir: dir }
}

async fn fixture() -> Fixture {
    fixture_with(&[], SEQUENCE.len()).await
}

async fn get(app: &Arc<App>, path: &str) -> (u16, Value) {
    let resp = warp::test::request()
        .path(path)
        .reply(&super::routes(Arc::clone(app)))
        .await;
    let status = resp.status().as_u16();
    let body = serde_json::from_slice(resp.body()).unwrap_or_else(|e| {
        panic!(
            "{path}: not JSON ({e}): {:?}",
            String::from_utf8_lossy(resp.body())
        )
    });
    (status, body)
}

fn f(v: &Value, key: &str) -> f64 {
    v.get(key)
        .unwrap_or_else(|| panic!("missing {key}"))
        .as_f64()
        .unwrap()
}

/// Checks a response against its documented 200 schema.
fn assert_documented(path_template: &str, body: &Value) {
    let doc = openapi::document();
    let schema = doc
        .pointer(&format!(
            "/paths/{}/get/responses/200/content/application~1json/schema",
            path_template.replace('/', "~1")
        ))
        .unwrap_or_else(|| panic!("{path_template} is not documented"));
    let errors = openapi::validate(&doc, schema, body, path_template);
    assert!(errors.is_empty(), "{errors:#?}");
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(|k| k.as_str()).collect()
}

#[tokio::test]
async fn summary_has_exact_all_time_totals_across_the_restart() {
    let fx = fixture().await;
    let (status, v) = get(&fx.app, "/api/v1/metrics").await;
    assert_eq!(status, 200);
    // 67 requests by 02b, then 8 after LiteLLM's restart: 75, never less.
    assert_eq!(f(&v, "requests"), 75.0);
    assert_eq!(f(&v, "failed_requests"), 26.0);
    assert_eq!(f(&v, "tokens"), 1354.0);
    assert_eq!(f(&v, "input_tokens"), 472.0);
    assert_eq!(f(&v, "output_tokens"), 882.0);
    assert_eq!(f(&v, "cost"), 0.000355);
    assert_eq!(f(&v, "reasoning_tokens"), 0.0);
    assert_eq!(f(&v, "cache_misses"), 18.0);
    // Everything happened today in Kathmandu (10:15 UTC is 16:00 there).
    for m in ["requests", "tokens", "cost"] {
        for s in ["daily", "weekly", "monthly"] {
            assert_eq!(f(&v, &format!("{m}_{s}")), f(&v, m), "{m}_{s}");
        }
    }
    // The gauge is LiteLLM's live value; its windows are 0.0.
    assert_eq!(f(&v, "in_flight_requests"), 1.0);
    assert_eq!(f(&v, "in_flight_requests_daily"), 0.0);
    assert_eq!(f(&v, "input_cached_pct"), 0.0);
    assert_eq!(v["last_scrape"], "2026-11-27T15:56:08.890+05:45");
    assert_eq!(v["source"], "http://litellm:4000/metrics/");
    assert!(v.get("error").is_none());
    assert_documented("/api/v1/metrics", &v);
}

/// The summary body as served, from the cache when its key holds.
async fn summary_bytes(app: &App) -> warp::hyper::body::Bytes {
    super::handlers::summary_body(app).await.unwrap()
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap()
}

#[tokio::test]
async fn the_cached_summary_changes_exactly_when_a_scrape_lands_or_a_window_passes() {
    let (settings, _dir) = kathmandu_settings(&[]);
    let mut store = Store::open(&settings.db_path, settings.history_size);
    let mut tracker = Fleet::new(settings.catalog.clone());
    let mut scrape = |i: usize| {
        let (name, at) = SEQUENCE[i];
        prepare(
            &mut tracker,
            "litellm:4000",
            &capture(name),
            ms(at),
            None,
            Instant::now(),
        )
        .unwrap()
    };
    // Up to LiteLLM's restart: 67 requests, all on Friday 2026-11-27.
    for i in 0..5 {
        scrape(i).persist(&mut store).unwrap();
    }
    let last = scrape(5);
    // 10:15Z is 16:00 in Kathmandu (+05:45).
    let now = Arc::new(std::sync::atomic::AtomicI64::new(ms(NOW)));
    let set_now = |t: &str| now.store(ms(t), std::sync::atomic::Ordering::SeqCst);
    let app = App::new(
        settings,
        StoreHandle::spawn(store),
        Clock::Manual(Arc::clone(&now)),
    )
    .await
    .unwrap();
    let requests = |body: &[u8]| {
        let v = json_of(body);
        [
            "requests",
            "requests_daily",
            "requests_weekly",
            "requests_monthly",
        ]
        .map(|k| f(&v, k))
    };

    let first = summary_bytes(&app).await;
    assert_eq!(requests(&first), [67.0; 4]);
    let (_, served) = get(&app, "/api/v1/metrics").await;
    assert_eq!(served, json_of(&first));
    // Within the same 15-minute bucket: the very same bytes, not rebuilt.
    set_now("2026-11-27T10:29:59.999Z");
    assert_eq!(summary_bytes(&app).await.as_ptr(), first.as_ptr());
    // The next bucket begins: built again, with the same numbers.
    set_now("2026-11-27T10:30:00.001Z");
    let next = summary_bytes(&app).await;
    assert_ne!(next.as_ptr(), first.as_ptr());
    assert_eq!(next, first);
    assert_eq!(summary_bytes(&app).await.as_ptr(), next.as_ptr());

    // A scrape lands: 8 more requests after the restart.
    app.store
        .call(move |s| last.persist(s))
        .await
        .unwrap()
        .unwrap();
    let landed = summary_bytes(&app).await;
    assert_eq!(requests(&landed), [75.0; 4]);
    assert_eq!(f(&json_of(&landed), "cost"), 0.000355);
    // The store's write is not the scraper status: last_scrape moves when it does.
    assert_eq!(
        json_of(&landed)["last_scrape"],
        "2026-11-27T15:56:04.527+05:45"
    );
    app.update(|l| l.last_success_ms = Some(ms(SEQUENCE[5].1)));
    let status = summary_bytes(&app).await;
    assert_eq!(
        json_of(&status)["last_scrape"],
        "2026-11-27T15:56:08.890+05:45"
    );
    assert_eq!(requests(&status), [75.0; 4]);

    // Local midnight, Monday and the 1st, each to the millisecond.
    for (at, want) in [
        ("2026-11-27T18:14:59.999Z", [75.0; 4]),
        ("2026-11-27T18:15:00Z", [75.0, 0.0, 75.0, 75.0]),
        ("2026-11-29T18:14:59.999Z", [75.0, 0.0, 75.0, 75.0]),
        ("2026-11-29T18:15:00Z", [75.0, 0.0, 0.0, 75.0]),
        ("2026-11-30T18:14:59.999Z", [75.0, 0.0, 0.0, 75.0]),
        ("2026-11-30T18:15:00Z", [75.0, 0.0, 0.0, 0.0]),
    ] {
        set_now(at);
        assert_eq!(requests(&summary_bytes(&app).await), want, "at {at}");
        let (_, served) = get(&app, "/api/v1/metrics").await;
        assert_eq!(
            requests(&serde_json::to_vec(&served).unwrap()),
            want,
            "served at {at}"
        );
    }
}

#[tokio::test]
async fn numbers_are_floats_without_noise() {
    let fx = fixture().await;
    let resp = warp::test::request()
        .path("/api/v1/metrics")
        .reply(&super::routes(Arc::clone(&fx.app)))
        .await;
    let text = String::from_utf8(resp.body().to_vec()).unwrap();
    assert!(text.contains("\"requests\":75.0"), "{text}");
    assert!(text.contains("\"reasoning_tokens\":0.0"), "{text}");
    assert!(text.contains("\"cost\":0.000355"), "{text}");
    assert!(!text.contains("0000000000"), "{text}");
}

#[tokio::test]
async fn summary_fields_match_the_reference_in_name_order_and_type() {
    let fx = fixture().await;
    let (_, ours) = get(&fx.app, "/api/v1/metrics").await;
    let theirs = reference("api_v1_metrics.json");
    assert_eq!(keys(&ours), keys(&theirs));
    for (k, v) in theirs.as_object().unwrap() {
        let same = match v {
            Value::Number(_) => ours[k].is_f64(),
            Value::String(_) => ours[k].is_string(),
            _ => false,
        };
        assert!(same, "{k}: {v} vs {}", ours[k]);
    }
}

#[tokio::test]
async fn one_metric_and_unknown_metric() {
    let fx = fixture().await;
    let (status, v) = get(&fx.app, "/api/v1/metrics/cost_daily").await;
    assert_eq!(status, 200);
    assert_eq!(keys(&v), keys(&reference("api_v1_metrics_cost_daily.json")));
    assert_eq!(v["name"], "cost_daily");
    assert_eq!(f(&v, "value"), 0.000355);
    let (_, v) = get(&fx.app, "/api/v1/metrics/requests").await;
    assert_eq!(f(&v, "value"), 75.0);
    assert_documented("/api/v1/metrics/{name}", &v);
    let (status, v) = get(&fx.app, "/api/v1/metrics/bogus").await;
    assert_eq!(status, 404);
    assert_eq!(v["error"], "Unknown metric: bogus");
    let available: Vec<&str> = v["available"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    let theirs = reference("metric_unknown.json");
    for name in theirs["available"].as_array().unwrap() {
        assert!(available.contains(&name.as_str().unwrap()), "{name}");
    }
    let (status, _) = get(&fx.app, "/api/v1/metrics/requests_hourly").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn history_is_oldest_first_with_reference_fields() {
    let fx = fixture().await;
    let (status, v) = get(&fx.app, "/api/v1/history?limit=3").await;
    assert_eq!(status, 200);
    assert_eq!(keys(&v), vec!["snapshots", "count", "source"]);
    assert_eq!(v["count"], 3);
    assert_eq!(v["source"], "sqlite");
    let snaps = v["snapshots"].as_array().unwrap();
    let times: Vec<&str> = snaps
        .iter()
        .map(|s| s["timestamp"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        [
            "2026-11-27T15:55:46.219+05:45",
            "2026-11-27T15:56:04.527+05:45",
            "2026-11-27T15:56:08.890+05:45"
        ]
    );
    // 02b: LiteLLM's own counter and the delta since 02.
    assert_eq!(f(&snaps[0], "requests"), 67.0);
    assert_eq!(f(&snaps[0], "requests_delta"), 3.0);
    assert_eq!(f(&snaps[0], "in_flight_requests"), 1.0);
    // 03: every series vanished; nothing is lost or negative.
    assert_eq!(f(&snaps[1], "requests"), 0.0);
    assert_eq!(f(&snaps[1], "requests_delta"), 0.0);
    // 04: counted from zero.
    assert_eq!(f(&snaps[2], "requests"), 8.0);
    assert_eq!(f(&snaps[2], "requests_delta"), 8.0);
    let theirs = reference("api_v1_history_limit5.json");
    assert_eq!(keys(&snaps[0]), keys(&theirs["snapshots"][0]));
    assert_documented("/api/v1/history", &v);
    let (_, v) = get(&fx.app, "/api/v1/history").await;
    assert_eq!(v["count"], 6);
}

#[tokio::test]
async fn history_limit_outside_range_is_a_400() {
    let fx = fixture_with(&["--history-max-limit", "500"], 2).await;
    for bad in ["0", "-1", "abc", "501", "1.5", ""] {
        let (status, v) = get(&fx.app, &format!("/api/v1/history?limit={bad}")).await;
        assert_eq!(status, 400, "limit={bad}");
        assert!(v["error"].as_str().unwrap().contains("1 to 500"), "{v}");
    }
    let (status, v) = get(&fx.app, "/api/v1/history?limit=500").await;
    assert_eq!(status, 200);
    assert_eq!(v["count"], 2);
}

#[tokio::test]
async fn models_are_per_requested_model_and_sorted() {
    let fx = fixture().await;
    let (status, v) = get(&fx.app, "/api/v1/models").await;
    assert_eq!(status, 200);
    let models = v["models"].as_array().unwrap();
    let names: Vec<&str> = models
        .iter()
        .map(|m| m["model"].as_str().unwrap())
        .collect();
    let get_model = |n: &str| models.iter().find(|m| m["model"] == n).unwrap();
    // cache_misses carries no requested_model, so it is keyed by the underlying model.
    assert_eq!(
        names,
        [
            "claude-3-5-haiku-20241022",
            "claude-haiku",
            "flaky-model",
            "gpt-4o-mini",
            "limited-model",
            "local-llama",
            "meta-llama/Llama-3.1-8B-Instruct",
            "other"
        ]
    );
    assert_eq!(
        f(get_model("claude-3-5-haiku-20241022"), "cache_misses"),
        7.0
    );
    assert_eq!(f(get_model("claude-3-5-haiku-20241022"), "requests"), 0.0);
    let mini = get_model("gpt-4o-mini");
    assert_eq!(f(mini, "requests"), 36.0);
    assert_eq!(f(mini, "failed_requests"), 9.0);
    assert_eq!(f(mini, "tokens"), 738.0);
    assert_eq!(f(mini, "cost"), 0.0003249);
    assert_eq!(f(mini, "cost_daily"), 0.0003249);
    assert_eq!(f(mini, "deployment_requests"), 36.0);
    assert_eq!(f(mini, "deployment_success"), 27.0);
    assert_eq!(f(mini, "deployment_failures"), 9.0);
    assert_eq!(f(mini, "cache_misses"), 8.0);
    let llama = get_model("local-llama");
    assert_eq!(f(llama, "requests"), 8.0);
    assert_eq!(f(llama, "cost"), 0.0000301);
    assert_eq!(f(llama, "tokens"), 189.0);
    let haiku = get_model("claude-haiku");
    assert_eq!(f(haiku, "requests"), 14.0);
    assert_eq!(f(haiku, "tokens"), 427.0);
    assert_eq!(f(haiku, "cost"), 0.0);
    assert_eq!(f(get_model("flaky-model"), "failed_requests"), 8.0);
    // The reference's per-model fields are all present with the same types.
    let theirs = &reference("api_v1_models.json")["models"][1];
    for (k, val) in theirs.as_object().unwrap() {
        assert_eq!(val.is_string(), mini[k].is_string(), "{k}");
        assert_eq!(val.is_f64(), mini[k].is_f64(), "{k}");
    }
    assert_documented("/api/v1/models", &v);
}

#[tokio::test]
async fn raw_is_the_last_good_body_summed() {
    let fx = fixture().await;
    let (status, v) = get(&fx.app, "/raw").await;
    assert_eq!(status, 200);
    assert_eq!(f(&v, "litellm_proxy_total_requests_metric_total"), 8.0);
    assert_eq!(f(&v, "litellm_in_flight_requests"), 1.0);
    assert_eq!(f(&v, "litellm_spend_metric_total"), 0.0000455);
    assert_documented("/raw", &v);
}

#[tokio::test]
async fn health_starting_ok_and_degraded() {
    let fx = fixture_with(&[], 0).await;
    let (status, v) = get(&fx.app, "/health").await;
    assert_eq!(
        (status, v.clone()),
        (
            200,
            serde_json::json!({ "status": "starting", "timezone": "Asia/Kathmandu", "scrape_interval": 60, "stale_after": 180, "fresh": false, "targets": [] })
        )
    );
    assert_eq!(
        keys(&v),
        [
            "status",
            "timezone",
            "scrape_interval",
            "stale_after",
            "fresh",
            "targets"
        ]
    );
    assert_documented("/health", &v);

    let fx = fixture().await;
    let (_, v) = get(&fx.app, "/health").await;
    // The reference's body, then the four fields the dashboard reads. The
    // last scrape (10:11:08.890) is 3 min 51 s before NOW: more than three
    // 60 s intervals, so not fresh.
    let mut expected = reference("health.json");
    expected["timezone"] = "Asia/Kathmandu".into();
    expected["scrape_interval"] = 60.into();
    expected["stale_after"] = 180.into();
    expected["fresh"] = false.into();
    expected["targets"] = serde_json::json!([]);
    assert_eq!(v, expected);
    assert_eq!(
        keys(&v),
        [
            "status",
            "timezone",
            "scrape_interval",
            "stale_after",
            "fresh",
            "targets"
        ]
    );
    // Fresh up to exactly three intervals, by the rule /readyz applies.
    fx.app
        .update(|l| l.last_success_ms = Some(ms(NOW) - 180_000));
    let (_, v) = get(&fx.app, "/health").await;
    assert_eq!(
        (v["status"].as_str(), v["fresh"].as_bool()),
        (Some("ok"), Some(true))
    );
    let (status, _) = get(&fx.app, "/readyz").await;
    assert_eq!(status, 200);
    fx.app
        .update(|l| l.last_success_ms = Some(ms(NOW) - 180_001));
    let (_, v) = get(&fx.app, "/health").await;
    assert_eq!(v["fresh"], false);
    let (status, _) = get(&fx.app, "/readyz").await;
    assert_eq!(status, 503);
    fx.app.update(|l| {
        l.last_success_ms = Some(ms("2026-11-27T10:11:08.890Z"));
        l.last_error = Some("metrics URL answered HTTP 502".into());
        l.consecutive_failures = 2;
    });
    let (status, v) = get(&fx.app, "/health").await;
    assert_eq!(status, 200);
    assert_eq!(keys(&v)[0], "status");
    assert_eq!(v["status"], "degraded");
    assert_eq!(v["error"], "metrics URL answered HTTP 502");
    assert_eq!(v["consecutive_failures"], 2);
    assert_eq!(v["last_scrape"], "2026-11-27T15:56:08.890+05:45");
    assert_eq!(
        keys(&v),
        [
            "status",
            "error",
            "last_scrape",
            "last_attempt",
            "consecutive_failures",
            "timezone",
            "scrape_interval",
            "stale_after",
            "fresh",
            "targets"
        ]
    );
    assert_documented("/health", &v);
    // The summary shows the error too, and keeps its numbers.
    let (_, s) = get(&fx.app, "/api/v1/metrics").await;
    assert_eq!(s["error"], "metrics URL answered HTTP 502");
    assert_eq!(f(&s, "requests"), 75.0);
    assert_documented("/api/v1/metrics", &s);
}

#[tokio::test]
async fn root_serves_html_to_browsers_and_json_to_the_rest() {
    crate::dashboard::require_built();
    let fx = fixture().await;
    let routes = super::routes(Arc::clone(&fx.app));
    let html = warp::test::request()
        .path("/")
        .header("accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
        .reply(&routes)
        .await;
    assert_eq!(html.status(), 200);
    assert_eq!(html.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(
        html.headers()["content-security-policy"],
        crate::dashboard::CSP
    );
    assert_eq!(html.headers()["cache-control"], "no-cache");
    assert!(String::from_utf8_lossy(html.body()).contains("id=\"cards\""));
    let varies = |r: &warp::http::Response<_>| {
        r.headers()
            .get_all("vary")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    // One URL, two answers: a cache in front must key them by `Accept`.
    assert_eq!(varies(&html), ["accept-encoding", "accept"]);
    let json = request(&fx.app, "/", None).await;
    assert_eq!(json.headers()["content-type"], "application/json");
    assert_eq!(varies(&json), ["accept"]);
    let (status, v) = get(&fx.app, "/").await;
    assert_eq!(status, 200);
    assert_eq!(f(&v, "requests"), 75.0);
}

async fn request(
    app: &Arc<App>,
    path: &str,
    inm: Option<&str>,
) -> warp::http::Response<warp::hyper::body::Bytes> {
    let mut req = warp::test::request().path(path);
    if let Some(tag) = inm {
        req = req.header("if-none-match", tag);
    }
    req.reply(&super::routes(Arc::clone(app))).await
}

#[tokio::test]
async fn dashboard_files_have_their_types_and_the_page_its_policy() {
    crate::dashboard::require_built();
    let fx = fixture().await;
    let page = request(&fx.app, "/dashboard/", None).await;
    assert_eq!(page.status(), 200);
    let h = page.headers();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(
        h["content-security-policy"],
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    assert_eq!(h["cache-control"], "no-cache");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(String::from_utf8_lossy(page.body()).contains("id=\"cards\""));

    let redirect = request(&fx.app, "/dashboard", None).await;
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/dashboard/");

    for (path, mime) in [
        ("/dashboard/app.js", "text/javascript; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/dashboard/style.css", "text/css; charset=utf-8"),
        ("/vendor/uPlot.min.css", "text/css; charset=utf-8"),
        (
            "/dashboard/pkg/pulse_wasm.js",
            "text/javascript; charset=utf-8",
        ),
        ("/dashboard/pkg/pulse_wasm_bg.wasm", "application/wasm"),
        ("/pkg/pulse_wasm_bg.wasm", "application/wasm"),
        ("/index.html", "text/html; charset=utf-8"),
    ] {
        let resp = request(&fx.app, path, None).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.headers()["content-type"], mime, "{path}");
        let etag = resp.headers()["etag"].to_str().unwrap();
        // A strong tag: the quoted hex SHA-256 of the file.
        assert_eq!(etag.len(), 66, "{path}: {etag}");
        assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{etag}");
        if mime.starts_with("text/html") {
            assert_eq!(resp.headers()["cache-control"], "no-cache");
        } else {
            assert_eq!(
                resp.headers()["cache-control"],
                "public, max-age=3600",
                "{path}"
            );
            // The page's policy (with its script and wasm allowances) is for pages only.
            assert_ne!(
                resp.headers()
                    .get("content-security-policy")
                    .map(|v| v.to_str().unwrap()),
                Some(crate::dashboard::CSP),
                "{path}"
            );
        }
    }
    let wasm = request(&fx.app, "/dashboard/pkg/pulse_wasm_bg.wasm", None).await;
    assert_eq!(&wasm.body()[..4], b"\0asm");
}

#[tokio::test]
async fn a_known_etag_gets_304_without_a_body() {
    crate::dashboard::require_built();
    let fx = fixture().await;
    for path in [
        "/dashboard/pkg/pulse_wasm_bg.wasm",
        "/dashboard/",
        "/app.js",
    ] {
        let first = request(&fx.app, path, None).await;
        let tag = first.headers()["etag"].to_str().unwrap().to_owned();
        let again = request(&fx.app, path, Some(&tag)).await;
        assert_eq!(again.status(), 304, "{path}");
        assert!(again.body().is_empty());
        assert_eq!(again.headers()["etag"], tag.as_str());
        let listed = request(&fx.app, path, Some(&format!("\"other\", W/{tag}"))).await;
        assert_eq!(listed.status(), 304, "{path}");
        let stale = request(&fx.app, path, Some("\"0000\"")).await;
        assert_eq!(stale.status(), 200, "{path}");
        assert_eq!(stale.body(), first.body());
    }
    // The page negotiated at `/` revalidates too.
    let tag = request(&fx.app, "/dashboard/", None).await.headers()["etag"].clone();
    let resp = warp::test::request()
        .path("/")
        .header("accept", "text/html")
        .header("if-none-match", tag)
        .reply(&super::routes(Arc::clone(&fx.app)))
        .await;
    assert_eq!(resp.status(), 304);
}

#[tokio::test]
async fn path_traversal_is_a_404() {
    let fx = fixture().await;
    for path in [
        "/dashboard/../../etc/passwd",
        "/dashboard/../Cargo.toml",
        "/../../etc/passwd",
        "/dashboard/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/dashboard/%2e%2e/%2e%2e/etc/passwd",
        "/%2e%2e%2fCargo.toml",
        "/dashboard/..%2f..%2fpulse-host%2fCargo.toml",
        "/dashboard/pkg/..%2f..%2f..%2fCargo.toml",
        "/dashboard/%252e%252e%252fCargo.toml",
        "/dashboard/..%5c..%5cCargo.toml",
        "/dashboard/pkg//pulse_wasm.js",
        "/dashboard/nope.js",
        "/etc/passwd",
    ] {
        let resp = request(&fx.app, path, None).await;
        assert_eq!(resp.status(), 404, "{path}");
        assert_eq!(resp.headers()["content-type"], "application/json", "{path}");
    }
}

#[tokio::test]
async fn breakdown_sorted_by_cost_then_name() {
    let fx = fixture().await;
    let (status, v) = get(&fx.app, "/api/v1/breakdown?by=model&window=today").await;
    assert_eq!(status, 200);
    let rows = v.as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "gpt-4o-mini",
            "local-llama",
            "(none)",
            "claude-3-5-haiku-20241022",
            "claude-haiku",
            "flaky-model",
            "limited-model",
            "meta-llama/Llama-3.1-8B-Instruct",
            "other"
        ]
    );
    assert_eq!(f(&rows[0], "cost"), 0.0003249);
    assert_eq!(f(&rows[2], "requests"), 3.0);
    // Per-key sums add up to the totals.
    let requests: f64 = rows.iter().map(|r| f(r, "requests")).sum();
    assert_eq!(requests, 75.0);
    assert_documented("/api/v1/breakdown", &v);
    let (_, all) = get(&fx.app, "/api/v1/breakdown?by=provider&window=all").await;
    let providers: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(providers[0], "openai");
    let (_, yesterday) = get(&fx.app, "/api/v1/breakdown?window=yesterday").await;
    assert_eq!(yesterday, Value::Array(vec![]));
    for bad in ["by=colour", "window=fortnight"] {
        let (status, v) = get(&fx.app, &format!("/api/v1/breakdown?{bad}")).await;
        assert_eq!(status, 400, "{bad}");
        assert!(v["error"].is_string());
    }
}

#[tokio::test]
async fn series_buckets_in_local_hours() {
    let fx = fixture().await;
    let (status, v) = get(
        &fx.app,
        "/api/v1/series?metric=requests&window=today&step=1h",
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_documented("/api/v1/series", &v);
    let t = v["t"].as_array().unwrap();
    // Today in Kathmandu: 00:00 local up to now (16:00 local), one bucket per hour.
    assert_eq!(t.len(), 17);
    assert_eq!(t[0], ms("2026-11-26T18:15:00Z"));
    let values = v["series"][0]["values"].as_array().unwrap();
    assert_eq!(v["series"][0]["key"], "total");
    // 10:06-10:11 UTC is 15:51-15:56 local: all in the last bucket.
    assert_eq!(values[15].as_f64(), Some(75.0));
    assert_eq!(values[16].as_f64(), Some(0.0));
    let sum: f64 = values.iter().map(|x| x.as_f64().unwrap()).sum();
    assert_eq!(sum, 75.0);

    let (_, v) = get(
        &fx.app,
        "/api/v1/series?metric=cost&window=today&step=1d&by=model&tz=UTC",
    )
    .await;
    assert_eq!(v["tz"], "UTC");
    assert_eq!(v["t"], serde_json::json!([ms("2026-11-27T00:00:00Z")]));
    let mini = v["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "gpt-4o-mini")
        .unwrap();
    assert_eq!(mini["values"], serde_json::json!([0.0003249]));
    assert_documented("/api/v1/series", &v);

    let (_, v) = get(
        &fx.app,
        "/api/v1/series?metric=requests&from=2026-11-27T10:00:00Z&to=2026-11-27T10:30:00Z&step=15m",
    )
    .await;
    assert_eq!(
        v["t"],
        serde_json::json!([ms("2026-11-27T10:00:00Z"), ms("2026-11-27T10:15:00Z")])
    );
    assert_eq!(v["series"][0]["values"], serde_json::json!([75.0, 0.0]));
    // An offset's unescaped `+` arrives as a space; it still parses.
    let (status, v) = get(
        &fx.app,
        "/api/v1/series?metric=requests&from=2026-11-27T15:45:00+05:45&to=2026-11-27T16:15:00+05:45&step=15m",
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["series"][0]["values"], serde_json::json!([75.0, 0.0]));

    for bad in [
        "metric=bogus",
        "step=7m",
        "tz=Mars/Base",
        "from=yesterday",
        "from=10&to=5",
        "step=15m&window=90d&metric=cost&by=model&from=0",
    ] {
        let (status, v) = get(&fx.app, &format!("/api/v1/series?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {v}");
    }
}

#[tokio::test]
async fn summary_v2_nests_windows_for_dot_paths() {
    let fx = fixture().await;
    let (status, v) = get(&fx.app, "/api/v2/summary").await;
    assert_eq!(status, 200);
    assert_eq!(f(&v["today"], "requests"), 75.0);
    assert_eq!(f(&v["month"], "cost"), 0.000355);
    assert_eq!(f(&v["all_time"], "deployment_requests"), 72.0);
    assert_eq!(f(&v, "in_flight_requests"), 1.0);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["timezone"], "Asia/Kathmandu");
    assert_eq!(v["scrape_interval"], 60);
    assert_eq!(
        keys(&v),
        [
            "today",
            "week",
            "month",
            "all_time",
            "in_flight_requests",
            "last_scrape",
            "status",
            "error",
            "timezone",
            "scrape_interval"
        ]
    );
    assert_documented("/api/v2/summary", &v);
    let fx = fixture_with(&["--scrape-interval", "15"], 0).await;
    let (_, v) = get(&fx.app, "/api/v2/summary").await;
    assert_eq!(v["scrape_interval"], 15);
    assert_eq!(v["status"], "starting");
    assert_documented("/api/v2/summary", &v);
    // An undocumented or mistyped field would fail the checks above.
    let doc = openapi::document();
    let schema = &doc["paths"]["/api/v2/summary"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    let mut wrong = v.clone();
    wrong["scrape_interval"] = "15".into();
    assert_eq!(openapi::validate(&doc, schema, &wrong, "s").len(), 1);
}

#[tokio::test]
async fn own_metrics_is_parseable_exposition() {
    let fx = fixture().await;
    let resp = warp::test::request()
        .path("/metrics")
        .reply(&super::routes(Arc::clone(&fx.app)))
        .await;
    assert_eq!(resp.status(), 200);
    let text = String::from_utf8(resp.body().to_vec()).unwrap();
    let expo = pulse_core::parse::parse(&text).unwrap();
    assert!(expo.errors.is_empty(), "{:?}", expo.errors);
    let value = |name: &str| {
        expo.samples
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.value)
    };
    assert_eq!(value("litellm_pulse_requests_total"), Some(75.0));
    assert_eq!(value("litellm_pulse_cost_total"), Some(0.000355));
    assert_eq!(value("litellm_pulse_in_flight_requests"), Some(1.0));
    assert_eq!(value("litellm_pulse_up"), Some(1.0));
}

#[tokio::test]
async fn probes() {
    let fx = fixture().await;
    let (status, v) = get(&fx.app, "/livez").await;
    assert_eq!((status, v["status"].as_str()), (200, Some("ok")));
    // Last success 10:11:08.89, now 10:15: older than 3 × 60 s.
    let (status, v) = get(&fx.app, "/readyz").await;
    assert_eq!(status, 503);
    assert!(v["error"].as_str().unwrap().contains("3 intervals"));
    let fx = fixture_with(&["--scrape-interval", "120"], SEQUENCE.len()).await;
    let (status, _) = get(&fx.app, "/readyz").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn errors_are_json_with_security_headers() {
    let fx = fixture().await;
    let routes = super::routes(Arc::clone(&fx.app));
    for (method, path, status) in [
        ("GET", "/nope", 404),
        ("GET", "/api/v1/unknown", 404),
        ("POST", "/api/v1/metrics", 405),
        ("GET", "/api/v1/metrics", 200),
        ("GET", "/openapi.json", 200),
    ] {
        let resp = warp::test::request()
            .method(method)
            .path(path)
            .reply(&routes)
            .await;
        assert_eq!(resp.status().as_u16(), status, "{method} {path}");
        let h = resp.headers();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["content-type"], "application/json");
        let v: Value = serde_json::from_slice(resp.body()).unwrap();
        if status != 200 {
            assert!(v["error"].is_string());
        }
    }
}

#[tokio::test]
async fn openapi_documents_every_route() {
    let fx = fixture().await;
    let (_, doc) = get(&fx.app, "/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    // The token is documented as optional, and /livez never needs it.
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    assert_eq!(
        doc["security"],
        serde_json::json!([{}, { "bearerAuth": [] }])
    );
    assert_eq!(
        doc["paths"]["/livez"]["get"]["security"],
        serde_json::json!([])
    );
    let paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    for p in [
        "/api/v1/metrics",
        "/api/v1/metrics/{name}",
        "/api/v1/history",
        "/api/v1/models",
        "/api/v1/breakdown",
        "/api/v1/series",
        "/api/v2/summary",
        "/api/v1/budgets",
        "/api/v1/alerts",
        "/raw",
        "/health",
        "/livez",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains(&p), "{p}");
    }
    // A wrong type is caught by the validator (so the checks above can fail).
    let errors = openapi::validate(
        &doc,
        &doc["components"]["schemas"]["WindowSums"],
        &serde_json::json!({ "requests": 1 }),
        "x",
    );
    assert!(errors.iter().any(|e| e.contains("expected")), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("missing cost")),
        "{errors:?}"
    );
}

#[test]
fn every_reference_metric_is_in_the_summary_schema() {
    let doc = openapi::document();
    for m in Metric::REFERENCE {
        assert!(
            doc.pointer(&format!(
                "/components/schemas/Summary/properties/{}_monthly",
                m.name()
            ))
            .is_some()
        );
    }
}

/// `path` with optional extra headers, as a client would send it.
async fn request_with(
    app: &Arc<App>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> warp::http::Response<warp::hyper::body::Bytes> {
    let mut req = warp::test::request().method(method).path(path);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.reply(&super::routes(Arc::clone(app))).await
}

fn body_json(resp: &warp::http::Response<warp::hyper::body::Bytes>) -> Value {
    serde_json::from_slice(resp.body()).unwrap()
}

#[tokio::test]
async fn a_configured_token_guards_everything_but_livez() {
    crate::dashboard::require_built();
    let fx = fixture_with(&["--api-token", "tok-3f9a"], SEQUENCE.len()).await;
    for path in [
        "/",
        "/api/v1/metrics",
        "/api/v1/history",
        "/api/v2/summary",
        "/health",
        "/readyz",
        "/raw",
        "/metrics",
        "/openapi.json",
        "/dashboard/",
        "/nope",
    ] {
        for auth in [
            None,
            Some("Bearer wrong"),
            Some("Bearer tok-3f9"),
            Some("Bearer tok-3f9aa"),
            Some("Basic tok-3f9a"),
            Some("tok-3f9a"),
        ] {
            let headers: Vec<(&str, &str)> =
                auth.map(|a| ("authorization", a)).into_iter().collect();
            let resp = request_with(&fx.app, "GET", path, &headers).await;
            assert_eq!(resp.status(), 401, "{path} {auth:?}");
            assert_eq!(resp.headers()["www-authenticate"], "Bearer");
            assert_eq!(resp.headers()["content-type"], "application/json");
            assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
            assert_eq!(
                body_json(&resp)["error"],
                "missing or wrong API token (send Authorization: Bearer <token>)"
            );
        }
    }
    let open = request_with(&fx.app, "GET", "/livez", &[]).await;
    assert_eq!(open.status(), 200);
    for auth in ["Bearer tok-3f9a", "bearer tok-3f9a", "BEARER  tok-3f9a "] {
        let resp = request_with(
            &fx.app,
            "GET",
            "/api/v1/metrics",
            &[("authorization", auth)],
        )
        .await;
        assert_eq!(resp.status(), 200, "{auth}");
        assert_eq!(body_json(&resp)["requests"], 75.0);
    }
    let page = request_with(
        &fx.app,
        "GET",
        "/dashboard/",
        &[("authorization", "Bearer tok-3f9a")],
    )
    .await;
    assert_eq!(page.status(), 200);
    // Unknown paths stay 404 for an authorised client.
    let resp = request_with(
        &fx.app,
        "GET",
        "/nope",
        &[("authorization", "Bearer tok-3f9a")],
    )
    .await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn without_a_token_nothing_asks_for_one() {
    let fx = fixture().await;
    let resp = request_with(&fx.app, "GET", "/api/v1/metrics", &[]).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("www-authenticate").is_none());
}

#[test]
fn token_comparison_needs_every_byte() {
    use super::constant_time_eq;
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"ab"));
    assert!(!constant_time_eq(b"ab", b"abc"));
    assert!(!constant_time_eq(b"", b"a"));
    assert!(!constant_time_eq(b"a", b""));
    assert!(constant_time_eq(b"", b""));
    assert_eq!(super::bearer("Bearer  x y "), Some("x y"));
    assert_eq!(super::bearer("Token x"), None);
    assert_eq!(super::bearer("Bearer"), None);
}

#[tokio::test]
async fn cors_is_off_unless_configured() {
    let fx = fixture().await;
    let resp = request_with(
        &fx.app,
        "GET",
        "/api/v1/metrics",
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    let pre = request_with(
        &fx.app,
        "OPTIONS",
        "/api/v1/metrics",
        &[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "GET"),
        ],
    )
    .await;
    assert_eq!(pre.status(), 405);
    assert!(pre.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn configured_origins_may_read_the_api_with_the_token() {
    let fx = fixture_with(
        &[
            "--cors-origins",
            "https://home.example, http://ha.local:8123",
            "--api-token",
            "tok",
        ],
        SEQUENCE.len(),
    )
    .await;
    // A preflight carries no token and is answered by the CORS layer.
    let pre = request_with(
        &fx.app,
        "OPTIONS",
        "/api/v1/metrics",
        &[
            ("origin", "http://ha.local:8123"),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "authorization"),
        ],
    )
    .await;
    assert_eq!(pre.status(), 200);
    assert_eq!(
        pre.headers()["access-control-allow-origin"],
        "http://ha.local:8123"
    );
    let get = request_with(
        &fx.app,
        "GET",
        "/api/v1/metrics",
        &[
            ("origin", "https://home.example"),
            ("authorization", "Bearer tok"),
        ],
    )
    .await;
    assert_eq!(get.status(), 200);
    assert_eq!(
        get.headers()["access-control-allow-origin"],
        "https://home.example"
    );
    assert_eq!(body_json(&get)["requests"], 75.0);
    let other = request_with(
        &fx.app,
        "GET",
        "/api/v1/metrics",
        &[
            ("origin", "https://evil.example"),
            ("authorization", "Bearer tok"),
        ],
    )
    .await;
    assert_eq!(other.status(), 403);
    assert!(other.headers().get("access-control-allow-origin").is_none());
    assert_eq!(
        body_json(&other)["error"],
        "origin not allowed (see LITELLM_PULSE_CORS_ORIGINS)"
    );
}

#[tokio::test]
async fn any_origin_when_configured_as_star() {
    let fx = fixture_with(&["--cors-origins", "*"], SEQUENCE.len()).await;
    let get = request_with(
        &fx.app,
        "GET",
        "/api/v1/metrics",
        &[("origin", "https://anything.example")],
    )
    .await;
    assert_eq!(get.status(), 200);
    // warp echoes the caller's origin, which is what `*` allows.
    assert_eq!(
        get.headers()["access-control-allow-origin"],
        "https://anything.example"
    );
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    crate::dashboard::require_built();
    let fx = fixture().await;
    for (path, status) in [
        ("/api/v1/metrics", 200),
        ("/livez", 200),
        ("/openapi.json", 200),
        ("/raw", 200),
        ("/metrics", 200),
        ("/nope", 404),
        ("/api/v1/history?limit=abc", 400),
        ("/dashboard/", 200),
        ("/dashboard/app.js", 200),
    ] {
        let resp = request_with(&fx.app, "GET", path, &[]).await;
        assert_eq!(resp.status(), status, "{path}");
        let h = resp.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        if path == "/dashboard/" {
            assert_eq!(csp, crate::dashboard::CSP);
        } else {
            assert_eq!(csp, "default-src 'none'; frame-ancestors 'none'", "{path}");
        }
    }
    let post = request_with(&fx.app, "POST", "/api/v1/metrics", &[]).await;
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["x-frame-options"], "DENY");
}

#[test]
fn series_steps_use_the_core_grammar_in_whole_storage_buckets() {
    use super::handlers::parse_step;
    use pulse_core::window::Step;
    assert_eq!(parse_step("1h"), Ok(Step::Hour));
    assert_eq!(parse_step("daily"), Ok(Step::Day));
    assert_eq!(parse_step("1mo"), Ok(Step::Month));
    assert_eq!(parse_step("30m"), Ok(Step::Fixed(1_800_000)));
    assert_eq!(parse_step("2h"), Ok(Step::Fixed(7_200_000)));
    // Finer than (or not a multiple of) the 15-minute storage bucket cannot be answered.
    assert!(parse_step("5m").unwrap_err().contains("multiple of 15m"));
    assert!(parse_step("20m").is_err());
    assert!(parse_step("5y").unwrap_err().contains("unknown step"));
}

/// The capture sequence stored with alert rules in force, as `serve` runs it.
async fn alert_fixture(config: &str) -> Fixture {
    let (settings, dir) = kathmandu_settings(&[]);
    let config = crate::alerts::config::parse(std::path::Path::new("t.toml"), config).unwrap();
    let mut store = Store::open(&settings.db_path, settings.history_size);
    store.set_alert_rules(Some(crate::store::AlertRules {
        config: Arc::new(config.clone()),
        tz: settings.tz,
    }));
    let mut tracker = Fleet::new(settings.catalog.clone());
    for (name, at) in SEQUENCE {
        let p = prepare(
            &mut tracker,
            "litellm:4000",
            &capture(name),
            ms(at),
            None,
            Instant::now(),
        )
        .unwrap();
        p.persist(&mut store).unwrap();
    }
    let app = App::new(settings, StoreHandle::spawn(store), Clock::Fixed(ms(NOW)))
        .await
        .unwrap();
    app.set_alert_config(config).await.unwrap();
    Fixture { app, _dir: dir }
}

const ALERT_CONFIG: &str = r#"
[[budget]]
name = "all spend"
limit = 0.0003

[[budget]]
name = "mini tokens"
scope = { model = "gpt-4o-mini" }
metric = "tokens"
period = "day"
limit = 1000000
thresholds = [80]

[[channel]]
name = "ops"
type = "webhook"
url = "http://127.0.0.1:9/secret-hook-path"
secret = "hook-secret-value"
"#;

#[tokio::test]
async fn budgets_show_period_spend_forecast_and_state() {
    let fx = alert_fixture(ALERT_CONFIG).await;
    let (status, v) = get(&fx.app, "/api/v1/budgets").await;
    assert_eq!(status, 200);
    assert_documented("/api/v1/budgets", &v);
    let all = &v["budgets"][0];
    assert_eq!(all["name"], "all spend");
    assert_eq!(all["scope"], "all");
    assert_eq!(all["period"], "month");
    assert_eq!(all["period_key"], "2026-11");
    assert_eq!(all["period_start"], "2026-11-01T00:00:00+05:45");
    assert_eq!(all["period_end"], "2026-12-01T00:00:00+05:45");
    assert_eq!(f(all, "spent"), 0.000355);
    assert_eq!(f(all, "limit"), 0.0003);
    assert_eq!(all["state"], "over");
    assert!(f(all, "forecast") >= 0.000355);
    let reached: Vec<bool> = all["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["reached"].as_bool().unwrap())
        .collect();
    assert_eq!(reached, [true, true, true, true]);
    let mini = &v["budgets"][1];
    assert_eq!(mini["scope"], "model=gpt-4o-mini");
    assert_eq!(mini["scope_dimension"], "model");
    assert_eq!(mini["period_key"], "2026-11-27");
    assert_eq!(mini["state"], "ok");
    assert!(f(mini, "spent") > 0.0);
    // LiteLLM's own gauges: the captures report keys and users without a budget.
    let litellm = v["litellm_budgets"].as_array().unwrap();
    assert!(!litellm.is_empty());
    assert!(
        litellm
            .iter()
            .all(|b| b["has_budget"] == false && b["remaining"].is_null())
    );
}

#[tokio::test]
async fn alerts_list_the_outbox_with_delivery_state_and_no_secrets() {
    let fx = alert_fixture(ALERT_CONFIG).await;
    let (status, v) = get(&fx.app, "/api/v1/alerts").await;
    assert_eq!(status, 200);
    assert_documented("/api/v1/alerts", &v);
    let keys: Vec<&str> = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap())
        .collect();
    // Each threshold once, although several scrapes were above them.
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "threshold:2026-11:100:all spend",
            "threshold:2026-11:50:all spend",
            "threshold:2026-11:80:all spend",
            "threshold:2026-11:90:all spend"
        ]
    );
    let first = &v["alerts"][0];
    assert_eq!(first["deliveries"][0]["channel"], "ops");
    assert_eq!(first["deliveries"][0]["state"], "pending");
    assert_eq!(
        v["channels"],
        serde_json::json!([{ "name": "ops", "type": "webhook" }])
    );
    let text = v.to_string();
    assert!(!text.contains("secret-hook-path") && !text.contains("hook-secret-value"));
    let (status, v) = get(&fx.app, "/api/v1/alerts?limit=0").await;
    assert_eq!(status, 400);
    assert!(v["error"].as_str().unwrap().contains("limit"));
    let (_, v) = get(&fx.app, "/api/v1/alerts?limit=2").await;
    assert_eq!(v["count"], 2);
}

#[tokio::test]
async fn summary_v2_carries_cost_forecasts() {
    let fx = fixture().await;
    let (_, v) = get(&fx.app, "/api/v2/summary").await;
    for w in ["today", "week", "month"] {
        let spent = f(&v[w], "cost");
        let projected = f(&v[w], "cost_forecast");
        assert!(projected >= spent, "{w}: {projected} < {spent}");
    }
    assert!(v["all_time"].get("cost_forecast").is_none());
    assert_documented("/api/v2/summary", &v);
    // Without budgets the lists are empty, and still documented.
    let (_, b) = get(&fx.app, "/api/v1/budgets").await;
    assert_eq!(b["budgets"], serde_json::json!([]));
    assert_documented("/api/v1/budgets", &b);
    let (_, a) = get(&fx.app, "/api/v1/alerts").await;
    assert_eq!(a["count"], 0);
    assert_documented("/api/v1/alerts", &a);
}

/// Every Homepage `field:` and Home Assistant `value_json.…` path in the
/// README names a value the endpoint its snippet reads answers with, so the
/// documented widgets and sensors keep working (budgets configured, so the
/// `budgets[0]` paths resolve too).
#[tokio::test]
async fn readme_snippets_read_values_the_api_answers_with() {
    let fx = alert_fixture(ALERT_CONFIG).await;
    let readme = include_str!("../../../README.md");
    let mut checked = 0;
    let mut url: Option<String> = None;
    for line in readme.lines() {
        let line = line.trim();
        if let Some(rest) = line
            .strip_prefix("url: ")
            .or_else(|| line.strip_prefix("- resource: "))
            .and_then(|u| u.strip_prefix("http://litellm-pulse:8000"))
        {
            url = Some(rest.to_owned());
            continue;
        }
        let path = if let Some(field) = line.strip_prefix("- field: ") {
            field.trim().to_owned()
        } else if let Some(t) = line.strip_prefix("value_template: \"{{ value_json") {
            // `.month.cost_forecast }}`, `.budgets[0].percent | round(1) }}`, `[0].name if …`
            t.split([' ', '|', '}']).next().unwrap_or("").to_owned()
        } else {
            continue;
        };
        let endpoint = url
            .clone()
            .expect("a snippet names its URL before its fields");
        let (status, body) = get(&fx.app, &endpoint).await;
        assert_eq!(status, 200, "{endpoint}");
        let mut v = &body;
        for part in path.trim_start_matches('.').split('.') {
            let (key, index) = match part.split_once('[') {
                Some((k, i)) => (k, i.trim_end_matches(']').parse::<usize>().ok()),
                None => (part, None),
            };
            if !key.is_empty() {
                v = &v[key];
            }
            if let Some(i) = index {
                v = &v[i];
            }
        }
        assert!(
            !v.is_null(),
            "README reads {endpoint} {path}, which is missing: {body}"
        );
        checked += 1;
    }
    // Homepage's three fields and two budget fields, Home Assistant's sensors.
    assert!(checked >= 10, "only {checked} snippet values found");
}

/// `/api/v1/latency` and the latency metrics of `/api/v1/series`, checked
/// against plain readings: the expected numbers are read from the capture
/// text with string search (or from generated observations), and the
/// quantile is the documented interpolation written out as a loop,
/// independent of the parser, the tracker, the store and `pulse_core::latency`.
mod latency {
    use std::collections::BTreeMap;

    use pulse_testkit::plain::{plain_label, plain_quantile};

    use super::*;

    const FAMILY: &str = "litellm_request_total_latency_metric";
    const MODELS: [&str; 3] = ["claude-haiku", "gpt-4o-mini", "local-llama"];

    /// Per (requested model, `le` or `""`), the sum of the samples of
    /// `sample` in `body`.
    fn plain_sums(body: &str, sample: &str) -> BTreeMap<(String, String), f64> {
        let prefix = format!("{sample}{{");
        let mut out = BTreeMap::new();
        for line in body.lines().filter(|l| l.starts_with(&prefix)) {
            let model = plain_label(line, "requested_model").unwrap_or("");
            let le = plain_label(line, "le").unwrap_or("");
            let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
            *out.entry((model.to_owned(), le.to_owned())).or_insert(0.0) += value;
        }
        out
    }

    /// Adds `b` into `a`.
    fn add(a: &mut BTreeMap<(String, String), f64>, b: BTreeMap<(String, String), f64>) {
        for (k, v) in b {
            *a.entry(k).or_insert(0.0) += v;
        }
    }

    /// `model`'s cumulative `(le, count)`, sorted by `le`.
    fn cumulative(sums: &BTreeMap<(String, String), f64>, model: &str) -> Vec<(f64, f64)> {
        let mut out: Vec<(f64, f64)> = sums
            .iter()
            .filter(|((m, _), _)| m == model)
            .map(|((_, le), c)| {
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                };
                (le, *c)
            })
            .collect();
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }

    /// `a` and `b` agree to the 12 significant digits the API prints.
    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-10 * a.abs().max(b.abs()).max(1e-300)
    }

    fn row<'v>(v: &'v Value, key: &str) -> &'v Value {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .unwrap_or_else(|| panic!("no row {key}: {v}"))
    }

    #[tokio::test]
    async fn quantiles_per_model_match_a_plain_reading_of_the_captures() {
        let fx = fixture().await;
        // The idle proxy, 01 → 02 → 02b (one process), then a restart and
        // 04, whose histograms count whole: the window holds 02b + 04.
        let text = |name: &str| String::from_utf8(capture(name)).unwrap();
        let (c02b, c04) = (
            text("02b-after-batch2-streams-drained"),
            text("04-after-restart-batch3"),
        );
        let mut buckets = plain_sums(&c02b, &format!("{FAMILY}_bucket"));
        add(&mut buckets, plain_sums(&c04, &format!("{FAMILY}_bucket")));
        let mut sums = plain_sums(&c02b, &format!("{FAMILY}_sum"));
        add(&mut sums, plain_sums(&c04, &format!("{FAMILY}_sum")));
        let success_name = "litellm_deployment_success_responses_total";
        let failure_name = "litellm_deployment_failure_responses_total";
        let mut success = plain_sums(&c02b, success_name);
        add(&mut success, plain_sums(&c04, success_name));
        let mut failure = plain_sums(&c02b, failure_name);
        add(&mut failure, plain_sums(&c04, failure_name));

        let (status, v) = get(&fx.app, "/api/v1/latency?by=model&window=today").await;
        assert_eq!(status, 200, "{v}");
        assert_documented("/api/v1/latency", &v);
        assert_eq!(v["histogram"], "request_latency");
        assert_eq!(v["by"], "model");
        let mut checked = 0;
        for model in MODELS {
            let cum = cumulative(&buckets, model);
            let r = row(&v, model);
            let count = cum.last().unwrap().1;
            assert_eq!(f(r, "count"), count, "{model}");
            let sum = sums[&(model.to_owned(), String::new())];
            assert!(close(f(r, "mean"), sum / count), "{model} mean {r}");
            for (q, name) in [(0.5, "p50"), (0.9, "p90"), (0.99, "p99")] {
                let (got, want) = (f(r, name), plain_quantile(q, &cum));
                assert!(close(got, want), "{model} {name}: {got} vs {want}");
                checked += 1;
            }
        }
        assert_eq!(checked, 9);
        // Every key's error rate is failures / (successes + failures) of the
        // deployment counters in the text.
        let rows = v["rows"].as_array().unwrap();
        assert!(rows.len() >= MODELS.len());
        let mut with_failures = 0;
        for r in rows {
            let key = r["key"].as_str().unwrap();
            let pick = |m: &BTreeMap<(String, String), f64>| {
                m.get(&(key.to_owned(), String::new()))
                    .copied()
                    .unwrap_or(0.0)
            };
            let (s, fl) = (pick(&success), pick(&failure));
            assert_eq!(f(r, "deployment_success"), s, "{key}");
            assert_eq!(f(r, "deployment_failures"), fl, "{key}");
            let want = if s + fl == 0.0 { 0.0 } else { fl / (s + fl) };
            assert!(close(f(r, "error_rate"), want), "{key}: {r}");
            with_failures += usize::from(fl > 0.0);
            // No capture has a fallback or a cooldown sample.
            assert_eq!(f(r, "fallbacks"), 0.0);
            assert_eq!(f(r, "cooled_down"), 0.0);
        }
        assert!(with_failures >= 2, "{v}");
        let flaky = row(&v, "flaky-model");
        assert_eq!(f(flaky, "error_rate"), 1.0);
        // No latency observation: no quantile, but the failures count.
        assert!(flaky["p50"].is_null());
        assert_eq!(f(flaky, "count"), 0.0);

        // The total: every model's observations in one histogram.
        let (_, t) = get(&fx.app, "/api/v1/latency?by=total&window=today").await;
        assert_documented("/api/v1/latency", &t);
        let total_rows = t["rows"].as_array().unwrap();
        assert_eq!(total_rows.len(), 1);
        let mut all = BTreeMap::new();
        for ((_, le), c) in &buckets {
            *all.entry(("*".to_owned(), le.clone())).or_insert(0.0) += c;
        }
        let cum = cumulative(&all, "*");
        assert_eq!(f(&total_rows[0], "count"), cum.last().unwrap().1);
        assert!(close(f(&total_rows[0], "p90"), plain_quantile(0.9, &cum)));
        let s: f64 = success.values().sum();
        let fl: f64 = failure.values().sum();
        assert!(close(f(&total_rows[0], "error_rate"), fl / (s + fl)));
        assert_eq!(f(&total_rows[0], "requests"), 75.0);
    }

    #[tokio::test]
    async fn other_histograms_windows_and_bad_parameters() {
        let fx = fixture().await;
        let text = |name: &str| String::from_utf8(capture(name)).unwrap();
        for (name, family) in [
            ("llm_api_latency", "litellm_llm_api_latency_metric"),
            (
                "time_to_first_token",
                "litellm_llm_api_time_to_first_token_metric",
            ),
            ("queue_time", "litellm_request_queue_time_seconds"),
        ] {
            let mut buckets = plain_sums(
                &text("02b-after-batch2-streams-drained"),
                &format!("{family}_bucket"),
            );
            add(
                &mut buckets,
                plain_sums(
                    &text("04-after-restart-batch3"),
                    &format!("{family}_bucket"),
                ),
            );
            let (status, v) = get(
                &fx.app,
                &format!("/api/v1/latency?histogram={name}&window=month"),
            )
            .await;
            assert_eq!(status, 200, "{v}");
            assert_documented("/api/v1/latency", &v);
            assert_eq!(v["histogram"], name);
            for model in MODELS {
                let cum = cumulative(&buckets, model);
                let got = f(row(&v, model), "p99");
                assert!(close(got, plain_quantile(0.99, &cum)), "{name} {model}");
            }
        }
        // Yesterday had no traffic: no rows.
        let (_, v) = get(&fx.app, "/api/v1/latency?window=yesterday").await;
        assert_eq!(v["rows"], serde_json::json!([]));
        assert_documented("/api/v1/latency", &v);
        // `all` starts at the first stored latency bucket.
        let (_, v) = get(&fx.app, "/api/v1/latency?window=all&tz=UTC").await;
        assert_eq!(v["from"], "2026-11-27T10:00:00+00:00");
        assert_eq!(f(row(&v, "gpt-4o-mini"), "count"), {
            let (_, today) = get(&fx.app, "/api/v1/latency").await;
            f(row(&today, "gpt-4o-mini"), "count")
        });
        for bad in [
            "histogram=bogus",
            "by=colour",
            "window=fortnight",
            "from=10&to=5",
            "tz=Mars/Base",
        ] {
            let (status, v) = get(&fx.app, &format!("/api/v1/latency?{bad}")).await;
            assert_eq!(status, 400, "{bad}: {v}");
            assert!(v["error"].is_string());
        }
        let (status, _) = get(&fx.app, "/api/v1/series?metric=latency_p90&histogram=x").await;
        assert_eq!(status, 400);
    }

    #[tokio::test]
    async fn series_charts_the_quantile_of_each_bucket() {
        let fx = fixture().await;
        let (_, table) = get(&fx.app, "/api/v1/latency?by=model").await;
        let (status, v) = get(
            &fx.app,
            "/api/v1/series?metric=latency_p90&by=model&from=2026-11-27T10:00:00Z&to=2026-11-27T10:30:00Z&step=15m",
        )
        .await;
        assert_eq!(status, 200, "{v}");
        assert_documented("/api/v1/series", &v);
        assert_eq!(v["metric"], "latency_p90");
        assert_eq!(v["histogram"], "request_latency");
        assert_eq!(
            v["t"],
            serde_json::json!([ms("2026-11-27T10:00:00Z"), ms("2026-11-27T10:15:00Z")])
        );
        // Every capture is in the 10:00 bucket; 10:15 has no observation.
        for model in MODELS {
            let s = v["series"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["key"] == model)
                .unwrap();
            let values = s["values"].as_array().unwrap();
            assert_eq!(values[0], row(&table, model)["p90"], "{model}");
            assert!(values[1].is_null(), "{model}");
        }
        // The total over today's hours: one bucket with every observation.
        let (_, total) = get(&fx.app, "/api/v1/latency?by=total").await;
        for stat in ["p50", "p99", "mean"] {
            let (status, v) = get(
                &fx.app,
                &format!("/api/v1/series?metric=latency_{stat}&window=today&step=1h"),
            )
            .await;
            assert_eq!(status, 200, "{v}");
            assert_documented("/api/v1/series", &v);
            let values = v["series"][0]["values"].as_array().unwrap();
            assert_eq!(v["series"][0]["key"], "total");
            assert_eq!(values.len(), 17);
            // 10:06-10:11 UTC is 15:51-15:56 in Kathmandu.
            assert_eq!(values[15], total["rows"][0][stat], "{stat}");
            let others = values.iter().enumerate().filter(|(i, _)| *i != 15);
            assert!(others.clone().all(|(_, x)| x.is_null()), "{stat}: {v}");
        }
    }

    /// A deterministic stream of latencies in seconds, spread over LiteLLM's
    /// usual range (a few ms to a minute).
    struct Latencies(u64);

    impl Latencies {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let unit = (self.0 >> 11) as f64 / (1u64 << 53) as f64;
            0.003 * (20_000f64).powf(unit)
        }
    }

    const LES: [f64; 10] = [0.005, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 60.0];

    /// One body with every model's observations so far and its counters.
    fn generated_body(seen: &BTreeMap<&str, Vec<f64>>, counters: &[(&str, &str, f64)]) -> String {
        let mut out = format!("# TYPE {FAMILY} histogram\n");
        for (model, obs) in seen {
            let labels = format!("api_provider=\"p\",requested_model=\"{model}\"");
            for le in LES {
                let n = obs.iter().filter(|&&x| x <= le).count();
                out.push_str(&format!(
                    "{FAMILY}_bucket{{{labels},le=\"{le:?}\"}} {n}.0\n"
                ));
            }
            out.push_str(&format!(
                "{FAMILY}_bucket{{{labels},le=\"+Inf\"}} {}.0\n",
                obs.len()
            ));
            out.push_str(&format!("{FAMILY}_count{{{labels}}} {}.0\n", obs.len()));
            out.push_str(&format!(
                "{FAMILY}_sum{{{labels}}} {:?}\n",
                obs.iter().sum::<f64>()
            ));
        }
        for (sample, model, value) in counters {
            out.push_str(&format!(
                "{sample}{{requested_model=\"{model}\"}} {value:?}\n"
            ));
        }
        out
    }

    /// Brute force: cumulative counts of `obs` at every bound.
    fn brute(obs: &[f64]) -> Vec<(f64, f64)> {
        let mut out: Vec<(f64, f64)> = LES
            .iter()
            .map(|&le| (le, obs.iter().filter(|&&x| x <= le).count() as f64))
            .collect();
        out.push((f64::INFINITY, obs.len() as f64));
        out
    }

    #[tokio::test]
    async fn generated_histograms_match_a_brute_force_computation() {
        let (mut settings, _) = <Cli as clap::Parser>::try_parse_from(["litellm-pulse"])
            .unwrap()
            .resolve(|_| None)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        settings.db_path = dir.path().join("pulse.db");
        let mut store = Store::open(&settings.db_path, settings.history_size);
        let mut tracker = Fleet::new(settings.catalog.clone());
        let start = ms("2026-03-02T12:00:00Z");
        let minute = 60_000;
        let mut latencies = Latencies(7);
        let mut seen: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        // Per 15-minute bucket and model, the observations stored there.
        let mut per_bucket: BTreeMap<(i64, &str), Vec<f64>> = BTreeMap::new();
        let empty = generated_body(&seen, &[]);
        let p = prepare(
            &mut tracker,
            "litellm:4000",
            empty.as_bytes(),
            start,
            None,
            Instant::now(),
        )
        .unwrap();
        p.persist(&mut store).unwrap();
        let (mut ok, mut failed, mut fallbacks, mut cooled) = (0.0, 0.0, 0.0, 0.0);
        // Twelve scrapes five minutes apart: four 15-minute buckets.
        for i in 1..=12i64 {
            let at = start + i * 5 * minute;
            let bucket = start + i * 5 / 15 * 15 * minute;
            for (model, n) in [("fast", 3 + i % 4), ("slow", 1 + i % 3)] {
                for _ in 0..n {
                    let x = if model == "slow" {
                        latencies.next() * 3.0
                    } else {
                        latencies.next()
                    };
                    seen.entry(model).or_default().push(x);
                    per_bucket.entry((bucket, model)).or_default().push(x);
                }
            }
            ok += 3.0;
            failed += (i % 2) as f64;
            fallbacks += (i % 3 == 0) as u8 as f64;
            cooled += (i % 5 == 0) as u8 as f64;
            let body = generated_body(
                &seen,
                &[
                    ("litellm_deployment_success_responses_total", "slow", ok),
                    ("litellm_deployment_failure_responses_total", "slow", failed),
                    (
                        "litellm_deployment_successful_fallbacks_total",
                        "slow",
                        fallbacks,
                    ),
                    (
                        "litellm_deployment_failed_fallbacks_total",
                        "slow",
                        1.0 + i as f64,
                    ),
                    ("litellm_deployment_cooled_down_total", "slow", cooled),
                ],
            );
            let p = prepare(
                &mut tracker,
                "litellm:4000",
                body.as_bytes(),
                at,
                None,
                Instant::now(),
            )
            .unwrap();
            p.persist(&mut store).unwrap();
        }
        let now = start + 13 * 5 * minute;
        let app = App::new(settings, StoreHandle::spawn(store), Clock::Fixed(now))
            .await
            .unwrap();
        let range = format!("from={start}&to={now}");
        let (status, v) = get(&app, &format!("/api/v1/latency?{range}")).await;
        assert_eq!(status, 200, "{v}");
        assert_documented("/api/v1/latency", &v);
        for model in ["fast", "slow"] {
            let r = row(&v, model);
            let cum = brute(&seen[model]);
            assert_eq!(f(r, "count"), seen[model].len() as f64);
            let mean = seen[model].iter().sum::<f64>() / seen[model].len() as f64;
            assert!(close(f(r, "mean"), mean), "{model}");
            for (q, name) in [(0.5, "p50"), (0.9, "p90"), (0.99, "p99")] {
                let (got, want) = (f(r, name), plain_quantile(q, &cum));
                assert!(close(got, want), "{model} {name}: {got} vs {want}");
            }
        }
        let slow = row(&v, "slow");
        // The first failures sample (1 at scrape 1) is new and counts whole;
        // so do the first fallback samples.
        assert_eq!(f(slow, "deployment_failures"), 6.0);
        assert_eq!(f(slow, "deployment_success"), 36.0);
        assert!(close(f(slow, "error_rate"), 6.0 / 42.0));
        assert_eq!(f(slow, "successful_fallbacks"), 4.0);
        assert_eq!(f(slow, "failed_fallbacks"), 13.0);
        assert_eq!(f(slow, "fallbacks"), 17.0);
        assert_eq!(f(slow, "cooled_down"), 2.0);
        assert_eq!(f(row(&v, "fast"), "error_rate"), 0.0);

        // The chart: per 15-minute bucket, the quantile of that bucket's
        // observations; per 30 minutes, of the two buckets' together.
        for (step, width) in [("15m", 15), ("30m", 30)] {
            let (status, v) = get(
                &app,
                &format!("/api/v1/series?metric=latency_p90&by=model&{range}&step={step}&tz=UTC"),
            )
            .await;
            assert_eq!(status, 200, "{v}");
            assert_documented("/api/v1/series", &v);
            let t: Vec<i64> = v["t"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_i64().unwrap())
                .collect();
            for model in ["fast", "slow"] {
                let s = v["series"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["key"] == model)
                    .unwrap();
                let mut nonnull = 0;
                for (i, edge) in t.iter().enumerate() {
                    let obs: Vec<f64> = per_bucket
                        .iter()
                        .filter(|((b, m), _)| {
                            *m == model && *b >= *edge && *b < edge + width * minute
                        })
                        .flat_map(|(_, o)| o.iter().copied())
                        .collect();
                    let got = &s["values"][i];
                    if obs.is_empty() {
                        assert!(got.is_null(), "{model} {step} {i}");
                    } else {
                        let want = plain_quantile(0.9, &brute(&obs));
                        assert!(close(got.as_f64().unwrap(), want), "{model} {step} {i}");
                        nonnull += 1;
                    }
                }
                assert!(nonnull >= 2, "{model} {step}: {v}");
            }
        }
    }
}
