//! End to end: the release `litellm-pulse` binary against a fake LiteLLM that
//! serves the real captures in order — an idle proxy, 01 → 02 → 02b, a
//! LiteLLM restart (03), 04 — through a 307 redirect and a Bearer key, with a
//! 1 s scrape interval. Then the same sequence with pulse itself restarted
//! (SIGTERM, start again on the same database) half-way.
//!
//! The captures are served unchanged, with the `Date` LiteLLM sent with each
//! (from 2026-11-27) while pulse's clock reads today: `_created` stamps are
//! judged against the target's clock, so a proxy whose clock is days off
//! (or captures replayed later) still counts every request exactly once.

mod e2e_support;

use e2e_support::{FakeLiteLlm, Pulse};
use pulse_testkit::{Reply, capture, capture_date};
use serde_json::Value;

const KEY: &str = "sk-e2e-5ecret-key-0123";
const URL_PASSWORD: &str = "url-pa55word-xyz";

/// The idle body of capture 03 stands for the freshly started proxy.
const SEQUENCE: [&str; 6] = [
    "03-after-restart-before-traffic",
    "01-after-batch1",
    "02-after-batch2",
    "02b-after-batch2-streams-drained",
    "03-after-restart-before-traffic",
    "04-after-restart-batch3",
];

/// The captures as LiteLLM sent them, with their `Date` headers. The idle
/// stand-in has no header of its own at the start: it is dated one minute
/// before capture 00, like `SEQUENCE[0]` of the host's in-process tests.
fn bodies() -> Vec<Reply> {
    SEQUENCE
        .iter()
        .enumerate()
        .map(|(i, c)| {
            Reply::prom(capture(&format!("{c}.prom"))).with_date(if i == 0 {
                "Fri, 27 Nov 2026 10:06:38 GMT".to_owned()
            } else {
                capture_date(c)
            })
        })
        .collect()
}

fn envs<'a>(metrics_url: &'a str, db: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("LITELLM_PULSE_METRICS_URL", metrics_url),
        ("LITELLM_PULSE_METRICS_API_KEY", KEY),
        ("LITELLM_PULSE_SCRAPE_INTERVAL", "1"),
        ("LITELLM_PULSE_PORT", "0"),
        ("LITELLM_PULSE_HOST", "127.0.0.1"),
        ("LITELLM_PULSE_DB_PATH", db),
        ("LITELLM_PULSE_TIMEZONE", "America/New_York"),
        ("LITELLM_PULSE_LOG_LEVEL", "debug"),
    ]
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a float in {v}"))
}

/// Every endpoint, read for leaks after each run.
const ENDPOINTS: [&str; 20] = [
    "/",
    "/api/v1/metrics",
    "/api/v1/metrics/requests",
    "/api/v1/metrics/cost",
    "/api/v1/history",
    "/api/v1/history?limit=50",
    "/api/v1/models",
    "/api/v1/breakdown?by=key",
    "/api/v1/breakdown?by=key&window=all",
    "/api/v1/series",
    "/api/v1/series?metric=requests&window=24h",
    "/api/v2/summary",
    "/raw",
    "/health",
    "/readyz",
    "/livez",
    "/metrics",
    "/openapi.json",
    "/dashboard/",
    "/dashboard/app.js",
];

/// Final checks shared by both runs; returns the numbers to compare.
async fn check_final(pulse: &Pulse) -> (Value, Value) {
    let (status, m, _) = pulse.get("/api/v1/metrics").await;
    assert_eq!(status, 200);
    // 67 requests by 02b, then 8 after LiteLLM's restart.
    assert_eq!(num(&m, "requests"), 75.0, "{m}");
    assert_eq!(num(&m, "requests_daily"), 75.0);
    assert_eq!(num(&m, "failed_requests"), 26.0);
    assert_eq!(num(&m, "tokens"), 1354.0);
    assert_eq!(num(&m, "input_tokens"), 472.0);
    assert_eq!(num(&m, "output_tokens"), 882.0);
    assert_eq!(num(&m, "cost"), 0.000355);
    assert_eq!(num(&m, "cache_misses"), 18.0);
    assert_eq!(num(&m, "in_flight_requests"), 1.0);
    assert!(m.get("error").is_none(), "{m}");
    assert!(m["source"].as_str().unwrap().ends_with("/metrics"));

    let (_, models, _) = pulse.get("/api/v1/models").await;
    let find = |name: &str| {
        models["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["model"] == name)
            .unwrap_or_else(|| panic!("no {name} in {models}"))
            .clone()
    };
    let mini = find("gpt-4o-mini");
    assert_eq!(num(&mini, "requests"), 36.0);
    assert_eq!(num(&mini, "cost"), 0.0003249);
    assert_eq!(num(&mini, "tokens"), 738.0);
    assert_eq!(num(&find("claude-haiku"), "requests"), 14.0);
    assert_eq!(num(&find("local-llama"), "cost"), 0.0000301);

    // The first scrape of 04 counted LiteLLM's restart (new `_created`
    // stamps): 8 requests from zero. Every body is scraped at least twice.
    let (_, hist, _) = pulse.get("/api/v1/history?limit=50").await;
    assert_eq!(hist["source"], "sqlite");
    let snaps = hist["snapshots"].as_array().unwrap();
    let resets: Vec<&Value> = snaps.iter().filter(|s| s["is_reset"] == true).collect();
    assert_eq!(resets.len(), 1, "{hist}");
    assert_eq!(num(resets[0], "requests"), 8.0);
    assert_eq!(num(resets[0], "requests_delta"), 8.0);
    let deltas: f64 = snaps.iter().map(|s| num(s, "requests_delta")).sum();
    assert_eq!(deltas, 75.0);
    assert!(snaps.iter().all(|s| num(s, "requests_delta") >= 0.0));
    assert_eq!(num(snaps.last().unwrap(), "requests"), 8.0);

    let (_, mut health, _) = pulse.get("/health").await;
    // The one target's own state, then the fleet's.
    let targets = health
        .as_object_mut()
        .and_then(|h| h.remove("targets"))
        .unwrap_or_default();
    assert_eq!(targets.as_array().map(Vec::len), Some(1), "{targets}");
    assert!(
        !targets.to_string().contains(URL_PASSWORD),
        "the target's URL keeps no password: {targets}"
    );
    assert_eq!(targets[0]["fresh"], true, "{targets}");
    assert_eq!(targets[0]["last_error"], Value::Null, "{targets}");
    assert_eq!(
        health,
        serde_json::json!({ "status": "ok", "timezone": "America/New_York", "scrape_interval": 1, "stale_after": 3, "fresh": true })
    );
    let (status, _, _) = pulse.get("/readyz").await;
    assert_eq!(status, 200);

    let mut m = m;
    // Times and the fake's port differ between runs; the numbers must not.
    m.as_object_mut().unwrap().remove("last_scrape");
    m.as_object_mut().unwrap().remove("source");
    (m, models["models"].clone())
}

fn assert_no_secrets(what: &str, text: &str) {
    assert!(!text.contains(KEY), "the API key leaked in {what}");
    assert!(
        !text.contains("5ecret"),
        "part of the API key leaked in {what}"
    );
    assert!(
        !text.contains(URL_PASSWORD),
        "the URL password leaked in {what}"
    );
}

/// GETs every endpoint: each answers (200, or 503 for `/readyz` before a
/// good scrape) and none holds a secret.
async fn assert_no_secrets_anywhere(pulse: &Pulse) {
    for path in ENDPOINTS {
        let (status, _, body) = pulse.get(path).await;
        let ok = status == 200 || (path == "/readyz" && status == 503);
        assert!(ok, "{path}: {status} {body}");
        assert!(!body.is_empty(), "{path}: empty");
        assert_no_secrets(path, &body);
    }
}

/// The database file (and its WAL, if any) holds no secret either.
fn assert_no_secrets_in_db(db: &str) {
    for suffix in ["", "-wal", "-journal"] {
        let path = format!("{db}{suffix}");
        if let Ok(bytes) = std::fs::read(&path) {
            assert_no_secrets(&path, &String::from_utf8_lossy(&bytes));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_in_sequence_and_through_a_pulse_restart() {
    let fake = FakeLiteLlm::start(bodies(), KEY);
    let url = format!("http://pulse:{URL_PASSWORD}@{}/metrics", fake.addr);
    let dir = tempfile::tempdir().unwrap();

    // Run 1: one uninterrupted pulse.
    let db1 = dir.path().join("one.db");
    let db1 = db1.to_str().unwrap();
    let pulse = Pulse::start(&[], &envs(&url, db1));
    for i in 0..SEQUENCE.len() {
        fake.advance_to(i).await;
        if i == 3 {
            let (_, m, _) = pulse.get("/api/v1/metrics").await;
            assert_eq!(num(&m, "requests"), 67.0, "by 02b: {m}");
            assert_eq!(num(&m, "in_flight_requests"), 1.0);
        }
        if i == 4 {
            // LiteLLM restarted: its series are gone, our totals are not.
            let (_, m, _) = pulse.get("/api/v1/metrics").await;
            assert_eq!(num(&m, "requests"), 67.0);
        }
    }
    let (metrics_one, models_one) = check_final(&pulse).await;
    assert_no_secrets_anywhere(&pulse).await;
    let (status, log) = pulse.terminate();
    assert!(status.success(), "exit {status}:\n{log}");
    assert_no_secrets("the log", &log);
    assert_no_secrets_in_db(db1);
    assert!(log.contains("scraped"), "debug log has the scrapes:\n{log}");
    assert_eq!(fake.auth_failures(), 0);

    // Run 2: the same captures, pulse stopped with SIGTERM after 02 and
    // started again on the same database.
    let fake = FakeLiteLlm::start(bodies(), KEY);
    let url = format!("http://pulse:{URL_PASSWORD}@{}/metrics", fake.addr);
    let db2 = dir.path().join("two.db");
    let db2 = db2.to_str().unwrap();
    let pulse = Pulse::start(&[], &envs(&url, db2));
    for i in 0..3 {
        fake.advance_to(i).await;
    }
    let (_, m, _) = pulse.get("/api/v1/metrics").await;
    assert_eq!(num(&m, "requests"), 64.0);
    let (status, log) = pulse.terminate();
    assert!(status.success(), "exit {status}:\n{log}");
    assert_no_secrets("the log", &log);

    let pulse = Pulse::start(&[], &envs(&url, db2));
    // The restored process knows its last scrape before scraping again.
    let (_, m, _) = pulse.get("/api/v1/metrics").await;
    assert_eq!(num(&m, "requests"), 64.0);
    for i in 3..SEQUENCE.len() {
        fake.advance_to(i).await;
    }
    let (metrics_two, models_two) = check_final(&pulse).await;
    assert_eq!(metrics_two, metrics_one);
    assert_eq!(models_two, models_one);
    assert_no_secrets_anywhere(&pulse).await;
    let (status, log) = pulse.terminate();
    assert!(status.success(), "exit {status}:\n{log}");
    assert_no_secrets("the log", &log);
    assert_no_secrets_in_db(db2);
    assert_eq!(fake.auth_failures(), 0);
}

/// LiteLLM rejects pulse's key (401) on every scrape: the failure shows in
/// `/health` and the API, and neither the key nor the URL password appears
/// in any answer, the debug log or the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_key_leaks_nowhere() {
    let fake = FakeLiteLlm::start(bodies(), "sk-the-proxy-wants-another-key");
    let url = format!("http://user:{URL_PASSWORD}@{}/metrics", fake.addr);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rejected.db");
    let db = db.to_str().unwrap();
    let pulse = Pulse::start(&[], &envs(&url, db));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while fake.auth_failures() < 3 {
        assert!(std::time::Instant::now() < deadline, "{}", pulse.log());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (status, health, _) = pulse.get("/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["error"], "metrics URL answered HTTP 401", "{health}");
    let (_, m, _) = pulse.get("/api/v1/metrics").await;
    assert_eq!(m["error"], "metrics URL answered HTTP 401", "{m}");
    assert_eq!(num(&m, "requests"), 0.0);
    assert_no_secrets_anywhere(&pulse).await;
    let (status, log) = pulse.terminate();
    assert!(status.success(), "exit {status}:\n{log}");
    assert!(
        log.contains("HTTP 401"),
        "the log shows the failure:\n{log}"
    );
    assert_no_secrets("the log", &log);
    assert_no_secrets_in_db(db);
}

#[test]
fn a_malformed_number_is_a_usage_error_naming_the_setting() {
    let out = e2e_support::pulse_command()
        .env("LITELLM_PULSE_SCRAPE_INTERVAL", "sixty")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--scrape-interval"), "{err}");
    assert!(err.contains("sixty"), "{err}");
}

#[test]
fn help_and_version() {
    let out = e2e_support::pulse_command()
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("litellm-pulse "));
    let out = e2e_support::pulse_command().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for env in [
        "LITELLM_PULSE_METRICS_URL",
        "LITELLM_PULSE_SCRAPE_INTERVAL",
        "LITELLM_PULSE_VERIFY_SSL",
        "LITELLM_PULSE_DB_RETENTION_DAYS",
        "LITELLM_PULSE_TIMEZONE",
        "LITELLM_PULSE_MAX_BODY_BYTES",
    ] {
        assert!(help.contains(env), "{env} missing from --help");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let pulse = Pulse::start(
        &[],
        &[
            ("LITELLM_PULSE_METRICS_URL", "http://127.0.0.1:9/metrics"),
            ("LITELLM_PULSE_PORT", "0"),
            ("LITELLM_PULSE_HOST", "127.0.0.1"),
            ("LITELLM_PULSE_DB_PATH", db.to_str().unwrap()),
        ],
    );
    let port = pulse.addr.port().to_string();
    let ok = e2e_support::pulse_command()
        .args(["healthcheck", "--port", &port])
        .status()
        .unwrap();
    assert!(ok.success());
    // The target is down: /health says so, and keeps HTTP 200.
    let mut health = Value::Null;
    for _ in 0..60 {
        let (status, h, _) = pulse.get("/health").await;
        assert_eq!(status, 200);
        health = h;
        if health["status"] == "degraded" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(
        health["error"]
            .as_str()
            .unwrap()
            .starts_with("cannot reach the metrics URL"),
        "{health}"
    );
    drop(pulse);
    let down = e2e_support::pulse_command()
        .args(["healthcheck", "--port", &port])
        .status()
        .unwrap();
    assert_eq!(down.code(), Some(1));
}
