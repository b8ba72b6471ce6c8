//! End to end: `GET /api/v1/export` and `litellm-pulse export` of the
//! release binary over a year of history.
//!
//! The year is written as a Python litellm-pulse 0.3.0 database (`scrapes`
//! and `model_snapshots`, one scrape every 15 minutes, four models, one with a
//! hostile name), which the binary imports on start like any user's old
//! file; costs are multiples of 1/128, so every sum is exact whatever its
//! order. Checked: the CSV parses with the `csv` crate and sums to the API's
//! all-time totals and breakdown; NDJSON gives the same numbers; the
//! server's resident memory (`VmRSS`) while streaming the year stays within
//! a few MB of its peak while streaming one day; the subcommand writes the
//! very bytes the endpoint sends.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pulse_tests::process::{Running, pulse_command};
use serde_json::Value;

const MODELS: [&str; 4] = [
    "gpt-4o",
    "claude-3-5-haiku",
    "=HYPERLINK(\"http://evil.test\",\"x\"),1\n\"2\"",
    "local/llama",
];

/// 2025-12-01T00:00:00Z and a year of 15-minute scrapes after it.
const FIRST_S: i64 = 1_764_547_200;
const SCRAPES: i64 = 365 * 96;
const EVERY_S: i64 = 900;
const TZ: &str = "Europe/Berlin";

/// Largest growth of the server's RSS allowed while exporting a year over
/// exporting a day.
const RSS_SLACK_KB: u64 = 6 * 1024;

/// Writes the Python reference's tables with a year of scrapes.
fn write_python_year(path: &Path) {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE scrapes (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, is_reset INTEGER,
             raw_requests REAL, delta_requests REAL, raw_tokens REAL, delta_tokens REAL,
             raw_cost REAL, delta_cost REAL);
         CREATE TABLE model_snapshots (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, model TEXT,
             metric TEXT, raw REAL, delta REAL, is_reset INTEGER);",
    )
    .unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut scrape = tx
            .prepare(
                "INSERT INTO scrapes (ts, is_reset, raw_requests, delta_requests, raw_tokens, \
                 delta_tokens, raw_cost, delta_cost) VALUES (?1, 0, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .unwrap();
        let mut model = tx
            .prepare(
                "INSERT INTO model_snapshots (ts, model, metric, raw, delta, is_reset) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 0)",
            )
            .unwrap();
        let mut raw = [[0.0f64; 3]; MODELS.len()];
        for h in 0..SCRAPES {
            let ts = FIRST_S + h * EVERY_S;
            let mut total = [0.0f64; 3];
            for (m, name) in MODELS.iter().enumerate() {
                let i = h as usize * MODELS.len() + m;
                let requests = (i % 5) as f64;
                let deltas = [
                    requests,
                    requests * 37.0 + (i % 11) as f64,
                    ((i * 13) % 97) as f64 / 128.0,
                ];
                for (k, metric) in ["requests", "tokens", "cost"].into_iter().enumerate() {
                    raw[m][k] += deltas[k];
                    total[k] += deltas[k];
                    model
                        .execute(rusqlite::params![ts, name, metric, raw[m][k], deltas[k]])
                        .unwrap();
                }
            }
            let sum = |k: usize| raw.iter().map(|r| r[k]).sum::<f64>();
            scrape
                .execute(rusqlite::params![
                    ts,
                    sum(0),
                    total[0],
                    sum(1),
                    total[1],
                    sum(2),
                    total[2]
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn envs(db: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("LITELLM_PULSE_DB_PATH", db.display().to_string()),
        ("LITELLM_PULSE_TIMEZONE", TZ.to_owned()),
        ("LITELLM_PULSE_DB_RETENTION_DAYS", "0".to_owned()),
    ]
}

fn start(db: &Path) -> Running {
    let mut cmd = pulse_command();
    cmd.envs(envs(db))
        // Nothing listens there: scrapes fail fast and store only their status.
        .env("LITELLM_PULSE_METRICS_URL", "http://127.0.0.1:9/metrics")
        .env("LITELLM_PULSE_SCRAPE_INTERVAL", "3600")
        .env("LITELLM_PULSE_PORT", "0")
        .env("LITELLM_PULSE_HOST", "127.0.0.1");
    Running::spawn(cmd)
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Downloads `url` while sampling the server's RSS every millisecond;
/// returns the body, the peak RSS in kB and the time taken.
async fn download_sampled(
    client: &reqwest::Client,
    url: &str,
    pid: u32,
) -> (Vec<u8>, u64, Duration) {
    let done = Arc::new(AtomicBool::new(false));
    // Sampled before and after as well: a download may end before the
    // sampler thread first runs (a day's export takes ~3 ms).
    let peak = Arc::new(AtomicU64::new(rss_kb(pid)));
    let sampler = {
        let (done, peak) = (Arc::clone(&done), Arc::clone(&peak));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kb(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let t0 = Instant::now();
    let resp = client.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    let body = resp.bytes().await.unwrap().to_vec();
    let took = t0.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    peak.fetch_max(rss_kb(pid), Ordering::Relaxed);
    (body, peak.load(Ordering::Relaxed), took)
}

/// Per key, per metric column: the sum of a CSV export's rows (the
/// formula guard's leading `'` removed).
fn csv_sums(body: &[u8]) -> BTreeMap<String, BTreeMap<String, f64>> {
    let mut reader = csv::Reader::from_reader(body);
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header[..3], ["start", "end", "key"]);
    let mut sums: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for record in reader.records() {
        let record = record.unwrap();
        let key = record[2]
            .strip_prefix("'=")
            .map_or(record[2].to_owned(), |k| format!("={k}"));
        let entry = sums.entry(key).or_default();
        for (name, v) in header[3..].iter().zip(record.iter().skip(3)) {
            *entry.entry(name.clone()).or_default() += v.parse::<f64>().unwrap();
        }
    }
    sums
}

async fn json(client: &reqwest::Client, url: &str) -> Value {
    let body = client.get(url).send().await.unwrap().bytes().await.unwrap();
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_streams_in_flat_memory_and_sums_to_the_api_totals() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pulse.db");
    write_python_year(&db);
    let started = Instant::now();
    let pulse = start(&db);
    let import_s = started.elapsed().as_secs_f64();
    let base = format!("http://{}", pulse.addr);
    let client = reqwest::Client::new();

    // The API's own totals.
    let summary = json(&client, &format!("{base}/api/v1/metrics")).await;
    let breakdown = json(
        &client,
        &format!("{base}/api/v1/breakdown?by=model&window=all"),
    )
    .await;
    assert_eq!(breakdown.as_array().unwrap().len(), MODELS.len());

    // A day, twice (the first warms SQLite's page cache and the allocator),
    // then the year, of 15-minute buckets per model.
    let export = |from: &str, to: &str| {
        format!("{base}/api/v1/export?format=csv&by=model&step=15m&from={from}&to={to}")
    };
    let day = export("2026-06-01", "2026-06-02");
    let _ = download_sampled(&client, &day, pulse.pid()).await;
    let (day_body, day_peak, day_took) = download_sampled(&client, &day, pulse.pid()).await;
    let year = export("2025-12-01", "2026-12-02");
    let (year_body, year_peak, year_took) = download_sampled(&client, &year, pulse.pid()).await;
    let rows = year_body.iter().filter(|&&b| b == b'\n').count();
    eprintln!(
        "import+start {import_s:.1} s; day: {} bytes in {:.3} s, peak RSS {day_peak} kB; \
         year: {} bytes ({rows} lines) in {:.3} s, peak RSS {year_peak} kB",
        day_body.len(),
        day_took.as_secs_f64(),
        year_body.len(),
        year_took.as_secs_f64()
    );
    // Far more than the slack: a server that collected the body would fail.
    assert!(year_body.len() > 200 * day_body.len());
    assert!(year_body.len() as u64 > 2 * RSS_SLACK_KB * 1024);
    assert!(
        year_peak <= day_peak + RSS_SLACK_KB,
        "RSS grew from {day_peak} kB (a day) to {year_peak} kB (a year)"
    );

    // The year parses and sums to the all-time breakdown, key by key, exactly.
    let sums = csv_sums(&year_body);
    assert_eq!(sums.len(), MODELS.len());
    for item in breakdown.as_array().unwrap() {
        let name = item["name"].as_str().unwrap();
        for metric in ["requests", "tokens", "cost"] {
            assert_eq!(
                sums[name][metric],
                item[metric].as_f64().unwrap(),
                "{name:?} {metric}"
            );
        }
    }
    // The total, in months over everything stored, sums to the all-time totals.
    let (total, _, _) = download_sampled(
        &client,
        &format!("{base}/api/v1/export?window=all&step=month"),
        pulse.pid(),
    )
    .await;
    let total = csv_sums(&total);
    for metric in ["requests", "tokens", "cost"] {
        assert_eq!(
            total["total"][metric],
            summary[metric].as_f64().unwrap(),
            "{metric}"
        );
        assert!(total["total"][metric] > 0.0);
    }

    // NDJSON: the same numbers, keys verbatim.
    let ndjson = client
        .get(format!(
            "{base}/api/v1/export?format=ndjson&by=model&step=month&window=all"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(ndjson.headers()["content-type"], "application/x-ndjson");
    let text = ndjson.text().await.unwrap();
    let mut cost: BTreeMap<String, f64> = BTreeMap::new();
    for line in text.lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        *cost
            .entry(row["key"].as_str().unwrap().to_owned())
            .or_default() += row["cost"].as_f64().unwrap();
    }
    for item in breakdown.as_array().unwrap() {
        assert_eq!(
            cost[item["name"].as_str().unwrap()],
            item["cost"].as_f64().unwrap()
        );
    }

    // The subcommand, on the same file while the server runs: the same bytes.
    let t0 = Instant::now();
    let out = pulse_command()
        .envs(envs(&db))
        .args([
            "export", "--format", "csv", "--by", "model", "--step", "15m",
        ])
        .args(["--from", "2025-12-01", "--to", "2026-12-02"])
        .output()
        .unwrap();
    let cli_took = t0.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout == year_body,
        "the subcommand wrote other bytes than the endpoint"
    );
    eprintln!("cli export of the year: {:.3} s", cli_took.as_secs_f64());

    let (status, log) = pulse.terminate();
    assert!(status.success(), "{log}");
}

#[test]
fn the_subcommand_refuses_bad_flags_and_missing_databases() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here.db");
    let out = pulse_command()
        .envs(envs(&missing))
        .args(["export", "--by", "planet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("by must be one of"));
    let out = pulse_command()
        .envs(envs(&missing))
        .args(["export", "--from", "2026-11-01", "--to", "2026-12-02"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing-here.db"));
    assert!(out.stdout.is_empty());
    // A cron job never creates the file it was meant to read.
    assert!(!missing.exists());
}
