//! Fault injection against the release binary: a fake LiteLLM that fails in
//! every way we know of between scrapes, pulse killed at random moments, a
//! corrupt database, a full disk, and abuse of the HTTP API.
//!
//! Every scrape case ends with exact all-time and window totals of requests
//! and cost against what the fake actually served since pulse's baseline
//! (`FakeLiteLlm::expected`), and with pulse still answering `/livez`. Pulse
//! runs with a 1 s interval and a 0.6 s timeout; waits poll the fake's
//! answers or pulse's own `/metrics`, never a fixed sleep.
//!
//! Run: `cargo build --release -p pulse-host && cargo test -p pulse-tests
//! --test e2e_faults -- --test-threads 2`.
//!
//! The system clock stepping between scrapes is driven through the binary's
//! hidden test clock: `LITELLM_PULSE_TEST_CLOCK_FILE` names a file holding a
//! signed offset in ms, added to the system clock and re-read on every call
//! (`Clock::OffsetFile` in pulse-host's app.rs).

mod faults_support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use faults_support::{FakeLiteLlm, Mode, Pulse, PulseOpts, Rng, Served, http_get, raw_request};

const MODELS: [&str; 2] = ["gpt-4o-mini", "claude-haiku"];

fn db_in(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("pulse.db")
}

/// Runs `cases` on their own threads and reports every failure by name.
fn parallel(cases: Vec<(String, Box<dyn FnOnce() + Send>)>) {
    let handles: Vec<_> = cases
        .into_iter()
        .map(|(name, f)| (name, std::thread::spawn(f)))
        .collect();
    let failed: Vec<String> = handles
        .into_iter()
        .filter_map(|(name, h)| h.join().is_err().then_some(name))
        .collect();
    assert!(failed.is_empty(), "failed cases: {failed:?}");
}

/// History rows stored so far.
fn history_count(pulse: &Pulse) -> u64 {
    pulse.json("/api/v1/history?limit=10000")["count"]
        .as_u64()
        .unwrap()
}

/// Good scrapes → a fault for two scrapes → good again. The fault must be
/// visible in `/health` and the API, add no history row and no count, and
/// recovery must count exactly the traffic since the last good scrape.
fn fault_cycle(mode: Mode, error: &str) {
    let fake = FakeLiteLlm::start(1, &MODELS, 5, true, Mode::Good);
    let dir = tempfile::tempdir().unwrap();
    let pulse = Pulse::start(&PulseOpts::new(fake.url(), db_in(&dir)));
    fake.settle();
    // The 10 requests from before pulse are its baseline, not new traffic.
    pulse.assert_totals(0, 0, "baseline");
    fake.traffic(0, 0, 3, 4500);
    fake.traffic(0, 1, 2, 1250);
    fake.settle();
    pulse.assert_totals(5, 5750, "before the fault");
    let rows = history_count(&pulse);

    fake.set_mode(mode);
    fake.traffic(0, 0, 4, 2000);
    pulse.wait_failures(2);
    let health = pulse.json("/health");
    assert_eq!(health["status"], "degraded", "{mode:?}: {health}");
    let msg = health["error"].as_str().unwrap_or_default();
    eprintln!("{mode:?}: /health error {msg:?}");
    assert!(msg.contains(error), "{mode:?}: {msg:?} lacks {error:?}");
    let m = pulse.json("/api/v1/metrics");
    assert_eq!(m["error"].as_str(), Some(msg), "{mode:?}: {m}");
    // Nothing invented while failing, and no zero rows written.
    pulse.assert_totals(5, 5750, &format!("{mode:?} while failing"));
    assert_eq!(history_count(&pulse), rows, "{mode:?}: rows while failing");

    fake.traffic(0, 1, 1, 333);
    fake.set_mode(Mode::Good);
    fake.settle();
    let health = pulse.json("/health");
    assert_eq!(health["status"], "ok", "{mode:?}: {health}");
    assert_eq!(fake.expected(), (10, 8083));
    pulse.assert_totals(10, 8083, &format!("{mode:?} after recovery"));
}

fn cases(list: &[(Mode, &'static str)]) -> Vec<(String, Box<dyn FnOnce() + Send>)> {
    list.iter()
        .map(|&(mode, error)| {
            let f: Box<dyn FnOnce() + Send> = Box::new(move || fault_cycle(mode, error));
            (format!("{mode:?}"), f)
        })
        .collect()
}

#[test]
fn transport_faults_are_reported_and_lose_nothing() {
    parallel(cases(&[
        (Mode::Down, "Connection refused"),
        (Mode::Slow, "scrape timed out after 0.6 s"),
        (Mode::Stall, "scrape timed out after 0.6 s"),
        (
            Mode::RedirectLoop,
            "scrape failed: error following redirect: too many redirects",
        ),
        (Mode::Truncated, "end of file before message length reached"),
        (Mode::ChunkedAbort, "unexpected EOF during chunk"),
        (
            Mode::TooLarge,
            "body exceeds the limit of 65536 bytes (LITELLM_PULSE_MAX_BODY_BYTES)",
        ),
    ]));
}

#[test]
fn bad_answers_are_reported_and_lose_nothing() {
    parallel(cases(&[
        (Mode::Status(401), "metrics URL answered HTTP 401"),
        (Mode::Status(403), "metrics URL answered HTTP 403"),
        (Mode::Status(404), "metrics URL answered HTTP 404"),
        (Mode::Status(500), "metrics URL answered HTTP 500"),
        (
            Mode::Html,
            "not Prometheus text: body is an HTML page, not Prometheus text",
        ),
        (
            Mode::Json,
            "not Prometheus text: body is JSON, not Prometheus text",
        ),
        (Mode::Empty, "not Prometheus text: empty body"),
    ]));
}

#[test]
fn target_down_at_start_then_up() {
    let fake = FakeLiteLlm::start(1, &MODELS, 5, true, Mode::Down);
    let dir = tempfile::tempdir().unwrap();
    let pulse = Pulse::start(&PulseOpts::new(fake.url(), db_in(&dir)));
    pulse.wait_failures(2);
    let health = pulse.json("/health");
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(
        health["error"]
            .as_str()
            .unwrap()
            .starts_with("cannot reach the metrics URL"),
        "{health}"
    );
    assert_eq!(history_count(&pulse), 0);
    pulse.assert_totals(0, 0, "down at start");
    // Traffic before pulse ever saw the proxy cannot be told from older traffic.
    fake.traffic(0, 0, 2, 100);
    fake.set_mode(Mode::Good);
    fake.settle();
    pulse.assert_totals(0, 0, "first good scrape is the baseline");
    fake.traffic(0, 1, 6, 6006);
    fake.settle();
    assert_eq!(fake.expected(), (6, 6006));
    pulse.assert_totals(6, 6006, "after the target came up");
    assert_eq!(pulse.json("/health")["status"], "ok");
}

#[test]
fn litellm_restarts_and_vanishing_series() {
    let restart = || {
        let fake = FakeLiteLlm::start(1, &MODELS, 5, true, Mode::Good);
        let dir = tempfile::tempdir().unwrap();
        let pulse = Pulse::start(&PulseOpts::new(fake.url(), db_in(&dir)));
        fake.settle();
        fake.traffic(0, 0, 3, 300);
        fake.settle();
        pulse.assert_totals(3, 300, "before the restart");
        // Every labelled series vanishes.
        fake.restart(0);
        fake.settle();
        pulse.assert_totals(3, 300, "restarted, no traffic yet");
        // Back with small values and a new `_created`; 12 is above the 8 the
        // series had before, which only `_created` tells apart from growth.
        fake.traffic(0, 0, 12, 1200);
        fake.traffic(0, 1, 1, 7);
        fake.settle();
        assert_eq!(fake.expected(), (16, 1507));
        pulse.assert_totals(16, 1507, "after the restart");
    };
    let vanish = || {
        let fake = FakeLiteLlm::start(1, &MODELS, 5, true, Mode::Good);
        let dir = tempfile::tempdir().unwrap();
        let pulse = Pulse::start(&PulseOpts::new(fake.url(), db_in(&dir)));
        fake.settle();
        fake.set_visible(0, 1, false);
        fake.wait_served(3);
        // Growth while it was away counts once, when it returns.
        fake.traffic(0, 1, 4, 4444);
        fake.set_visible(0, 1, true);
        fake.traffic(0, 0, 1, 1);
        fake.settle();
        fake.set_visible(0, 1, false);
        fake.wait_served(2);
        fake.set_visible(0, 1, true);
        fake.settle();
        assert_eq!(fake.expected(), (5, 4445));
        pulse.assert_totals(5, 4445, "a series vanished twice");
    };
    parallel(vec![
        ("restart".into(), Box::new(restart)),
        ("vanish".into(), Box::new(vanish)),
    ]);
}

/// Rule 3 of pulse-core's tracker, applied to the served bodies: a counter
/// that grew adds the growth, one that fell (or is new) adds its value.
/// This is all pulse can do without `_created`.
fn counted_without_created(log: &[Served]) -> (u64, u64) {
    let mut known: BTreeMap<(String, bool), u64> = BTreeMap::new();
    let mut total = (0, 0);
    for (i, body) in log.iter().enumerate() {
        for (model, &(req, cost)) in body {
            for (is_req, v) in [(true, req), (false, cost)] {
                let delta = match known.insert((model.clone(), is_req), v) {
                    _ if i == 0 => 0,
                    Some(old) if v >= old => v - old,
                    _ => v,
                };
                if is_req {
                    total.0 += delta;
                } else {
                    total.1 += delta;
                }
            }
        }
    }
    total
}

#[test]
fn workers_answering_in_turn() {
    let with_created = || {
        let fake = FakeLiteLlm::start(2, &MODELS, 5, true, Mode::Good);
        fake.set_bounce(true);
        let dir = tempfile::tempdir().unwrap();
        let pulse = Pulse::start(&PulseOpts::new(fake.url(), db_in(&dir)));
        fake.wait_served(4);
        // Each worker's series have their own `_created`: no traffic, zero.
        pulse.assert_totals(0, 0, "bounce without traffic");
        fake.traffic(1, 0, 3, 30);
        fake.wait_served(4);
        pulse.assert_totals(3, 30, "traffic on worker 1");
        fake.traffic(0, 1, 2, 22);
        fake.wait_served(4);
        assert_eq!(fake.expected(), (5, 52));
        pulse.assert_totals(5, 52, "traffic on both workers");
    };
    let without_created = || {
        // Worker 1 has served 7 more requests than worker 0.
        let fake = FakeLiteLlm::start(2, &MODELS, 5, false, Mode::Good);
        fake.traffic(1, 0, 7, 700);
        fake.set_bounce(true);
        let dir = tempfile::tempdir().unwrap();
        let pulse = Pulse::start(&PulseOpts::new(fake.url(), db_in(&dir)));
        fake.wait_served(6);
        fake.set_bounce(false);
        fake.settle();
        // Documented limitation (pulse-core track/mod.rs, rule 6): without
        // `_created` the two workers' series are one series whose value
        // jumps between 5 and 12; every fall is taken for a restart and
        // every rise for traffic, so pulse counts traffic that never
        // happened. The count is exactly rule 3 applied to what was served.
        let log = fake.log();
        let counted = counted_without_created(&log);
        let switches = log.windows(2).filter(|w| w[0] != w[1]).count() as u64;
        assert!(switches >= 5, "{switches} switches");
        assert!(counted.0 > 0, "no traffic yet counted {counted:?}");
        assert_eq!(fake.expected(), (0, 0));
        pulse.assert_totals(counted.0, counted.1, "bounce without _created");
    };
    parallel(vec![
        ("with _created".into(), Box::new(with_created)),
        ("without _created".into(), Box::new(without_created)),
    ]);
}

#[test]
fn created_disabled_with_restarts() {
    let fake = FakeLiteLlm::start(1, &MODELS, 5, false, Mode::Good);
    let dir = tempfile::tempdir().unwrap();
    let pulse = Pulse::start(&PulseOpts::new(fake.url(), db_in(&dir)));
    fake.settle();
    fake.traffic(0, 0, 3, 300);
    fake.settle();
    pulse.assert_totals(3, 300, "before the restart");
    // Restart, back with values below the old ones: a fall is a reset.
    fake.restart(0);
    fake.traffic(0, 0, 2, 200);
    fake.settle();
    assert_eq!(fake.expected(), (5, 500));
    pulse.assert_totals(5, 500, "restart seen as a fall");
    assert!(pulse.own_metric("litellm_pulse_counter_resets_total") >= 1.0);
    // Documented limitation: a restart whose counter grows back above the
    // old value (2 → 0 → 10) between two scrapes looks like growth of 8;
    // only `_created` could reveal the 10. Pulse undercounts by the old 2.
    fake.restart(0);
    fake.traffic(0, 0, 10, 1000);
    fake.settle();
    assert_eq!(fake.expected(), (15, 1500));
    pulse.assert_totals(13, 1300, "restart hidden by growth");
}

#[test]
fn sigkill_at_random_moments_loses_and_doubles_nothing() {
    const SEED: u64 = 0x5EED_2026_0005;
    let fake = Arc::new(FakeLiteLlm::start(1, &["a", "b", "c"], 5, true, Mode::Good));
    let dir = tempfile::tempdir().unwrap();
    let opts = PulseOpts::new(fake.url(), db_in(&dir));
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let (fake, stop) = (Arc::clone(&fake), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut rng = Rng(SEED ^ 0xFF);
            while !stop.load(Ordering::SeqCst) {
                let s = rng.range(0, 3) as usize;
                fake.traffic(0, s, rng.range(1, 4), rng.range(1, 5000));
                std::thread::sleep(Duration::from_millis(rng.range(50, 400)));
            }
        })
    };
    let mut rng = Rng(SEED);
    let first = Pulse::start(&opts);
    fake.settle();
    first.kill9();
    let mut kills = 1;
    for _ in 0..12 {
        let pulse = Pulse::start(&opts);
        std::thread::sleep(Duration::from_millis(rng.range(0, 2200)));
        pulse.kill9();
        kills += 1;
    }
    stop.store(true, Ordering::SeqCst);
    traffic.join().unwrap();
    let pulse = Pulse::start(&opts);
    fake.settle();
    let (req, cost) = fake.expected();
    assert!(req > 20, "too little traffic: {req}");
    pulse.assert_totals(
        req,
        cost,
        &format!("after {kills} SIGKILLs (seed {SEED:#x})"),
    );
}

#[test]
fn a_corrupt_database_is_moved_aside() {
    let fake = FakeLiteLlm::start(1, &MODELS, 5, true, Mode::Good);
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let opts = PulseOpts::new(fake.url(), db.clone());
    let pulse = Pulse::start(&opts);
    fake.settle();
    fake.traffic(0, 0, 3, 300);
    fake.settle();
    pulse.assert_totals(3, 300, "before");
    pulse.terminate();

    let len = std::fs::metadata(&db).unwrap().len() as usize;
    let mut rng = Rng(42);
    let garbage: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
    std::fs::write(&db, &garbage).unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("pulse.db{suffix}")));
    }

    fake.rebaseline();
    let pulse = Pulse::start(&opts);
    fake.settle();
    assert!(
        pulse.log().contains("moved it aside and started a new one"),
        "{}",
        pulse.log()
    );
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| {
            n.starts_with("pulse.db.corrupt-") && !n.ends_with("-wal") && !n.ends_with("-shm")
        })
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read(dir.path().join(&aside[0])).unwrap(), garbage);
    assert_eq!(pulse.json("/api/v1/history")["source"], "sqlite");
    // A fresh database: the old totals are in the file moved aside.
    pulse.assert_totals(0, 0, "fresh database");
    fake.traffic(0, 1, 2, 20);
    fake.settle();
    assert_eq!(fake.expected(), (2, 20));
    pulse.assert_totals(2, 20, "fresh database after traffic");
    assert_eq!(pulse.json("/health")["status"], "ok");
}

/// A database path under a regular file cannot be created: pulse keeps
/// counting in memory.
fn start_with_unusable_db() -> (FakeLiteLlm, tempfile::TempDir, Pulse) {
    let fake = FakeLiteLlm::start(1, &MODELS, 5, true, Mode::Good);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let pulse = Pulse::start(&PulseOpts::new(fake.url(), file.join("pulse.db")));
    fake.settle();
    (fake, dir, pulse)
}

#[test]
fn an_unusable_database_path_falls_back_to_memory() {
    let (fake, _dir, pulse) = start_with_unusable_db();
    assert!(
        pulse
            .log()
            .contains("cannot use the database file; keeping data in memory only"),
        "{}",
        pulse.log()
    );
    assert_eq!(pulse.json("/api/v1/history")["source"], "memory");
    assert_eq!(
        pulse.own_metric("litellm_pulse_store_ok{mode=\"memory\"}"),
        1.0
    );
    fake.traffic(0, 0, 4, 40);
    fake.settle();
    pulse.assert_totals(4, 40, "in memory");
}

#[test]
fn an_unusable_database_path_shows_in_health() {
    let (_fake, _dir, pulse) = start_with_unusable_db();
    let health = pulse.json("/health");
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(
        health["error"]
            .as_str()
            .is_some_and(|e| e.contains("database")),
        "{health}"
    );
    let m = pulse.json("/api/v1/metrics");
    assert!(
        m["error"].as_str().is_some_and(|e| e.contains("database")),
        "{m}"
    );
}

fn prlimit_fsize(pid: u32, limit: &str) {
    let ok = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={limit}")])
        .status()
        .expect("prlimit (util-linux)");
    assert!(ok.success(), "prlimit --fsize={limit}");
}

#[test]
fn a_full_disk_keeps_scrapes_in_memory_until_space_returns() {
    // RLIMIT_FSIZE set on the running process stands for a full disk: every
    // file write fails with EFBIG (SIGXFSZ is ignored, as ENOSPC sends no
    // signal), and raising the limit again is space coming back.
    let fake = FakeLiteLlm::start(1, &MODELS, 5, true, Mode::Good);
    let dir = tempfile::tempdir().unwrap();
    let mut opts = PulseOpts::new(fake.url(), db_in(&dir));
    opts.ignore_sigxfsz = true;
    let pulse = Pulse::start(&opts);
    fake.settle();
    fake.traffic(0, 0, 3, 300);
    fake.settle();
    pulse.assert_totals(3, 300, "before the disk filled");

    prlimit_fsize(pulse.pid(), "0:unlimited");
    fake.traffic(0, 1, 2, 20);
    fake.wait_served(3);
    let health = pulse.json("/health");
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(
        health["error"]
            .as_str()
            .unwrap()
            .starts_with("database write failed: "),
        "{health}"
    );
    let m = pulse.json("/api/v1/metrics");
    assert_eq!(m["error"], health["error"]);
    assert!(pulse.own_metric("litellm_pulse_pending_writes") >= 1.0);
    assert_eq!(
        pulse.own_metric("litellm_pulse_store_ok{mode=\"sqlite\"}"),
        0.0
    );
    // Scraping goes on; the API reads the stored totals meanwhile.
    assert_eq!(pulse.own_metric("litellm_pulse_up"), 1.0);
    pulse.assert_totals(3, 300, "while the disk is full");

    prlimit_fsize(pulse.pid(), "unlimited:unlimited");
    fake.traffic(0, 0, 1, 1);
    fake.settle();
    assert_eq!(pulse.json("/health")["status"], "ok");
    assert_eq!(pulse.own_metric("litellm_pulse_pending_writes"), 0.0);
    assert_eq!(fake.expected(), (6, 321));
    pulse.assert_totals(6, 321, "after space returned");
    // And it is on disk: a restarted pulse reads the same totals.
    pulse.terminate();
    let pulse = Pulse::start(&opts);
    pulse.assert_totals(6, 321, "after a restart");
}

/// A pulse with a few counted requests, for the API abuse tests.
fn api_target() -> (FakeLiteLlm, tempfile::TempDir, Pulse) {
    let fake = FakeLiteLlm::start(1, &MODELS, 5, true, Mode::Good);
    let dir = tempfile::tempdir().unwrap();
    let pulse = Pulse::start(&PulseOpts::new(fake.url(), db_in(&dir)));
    fake.settle();
    fake.traffic(0, 0, 2, 20);
    fake.settle();
    (fake, dir, pulse)
}

#[test]
fn bad_query_values_are_400_with_a_json_error() {
    let (_fake, _dir, pulse) = api_target();
    for path in [
        "/api/v1/history?limit=-1",
        "/api/v1/history?limit=0",
        "/api/v1/history?limit=99999999999999999999",
        "/api/v1/history?limit=abc",
        "/api/v1/history?limit=10081",
        "/api/v1/history?limit=1.5",
        "/api/v1/history?limit=",
        "/api/v1/breakdown?window=bogus",
        "/api/v1/breakdown?by=bogus",
        "/api/v1/breakdown?window=-1",
        "/api/v1/series?window=bogus",
        "/api/v1/series?by=bogus",
        "/api/v1/series?metric=bogus",
        "/api/v1/series?from=notatime",
        "/api/v1/series?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
        "/api/v1/series?to=2026-01-01T00:00:00Z",
        "/api/v1/series?step=0",
        "/api/v1/series?step=-1h",
        "/api/v1/series?tz=Not/AZone",
        "/api/v1/series?window=all&step=15m&from=-99999999999999999",
    ] {
        let r = pulse.get(path);
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert!(
            r.json()["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path}: {}",
            r.body
        );
        assert!(r.head.contains("content-type: application/json"), "{path}");
    }
    pulse.assert_totals(2, 20, "after bad queries");
}

#[test]
fn unknown_paths_and_traversal_are_404_json() {
    let (_fake, _dir, pulse) = api_target();
    for path in [
        "/nope",
        "/api/v1/nope",
        "/api/v3/metrics",
        "/api/v1/metrics/bogus",
        "/api/v1/metrics/requests/extra",
        "/dashboard/../../etc/passwd",
        "/dashboard/%2e%2e/%2e%2e/etc/passwd",
        "/dashboard/..%2f..%2fetc%2fpasswd",
        "/dashboard/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/dashboard/..%5c..%5cetc%5cpasswd",
        "/..%2f..%2f..%2fetc%2fpasswd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/dashboard/%252e%252e/%252e%252e/etc/passwd",
        "/dashboard/....//....//etc/passwd",
        "/etc/passwd",
    ] {
        let r = pulse.get(path);
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert!(
            r.json()["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path}: {}",
            r.body
        );
        assert!(!r.body.contains("root:"), "{path}: {}", r.body);
    }
    pulse.assert_totals(2, 20, "after unknown paths");
}

#[test]
fn oversized_requests_are_rejected_without_harm() {
    let (_fake, _dir, pulse) = api_target();
    let long_url = format!("/api/v1/metrics?x={}", "a".repeat(100 * 1024));
    let r = http_get(pulse.addr, &long_url).unwrap();
    assert_eq!(r.status, 414, "{}", r.head);
    // A 1 MB header is beyond hyper's read buffer.
    let huge = format!(
        "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(1024 * 1024)
    );
    let r = raw_request(pulse.addr, huge.as_bytes()).unwrap();
    assert_eq!(r.status, 431, "{}", r.head);
    // 40 KB of header: over pulse's 32 KiB header cap, inside hyper's buffer.
    let big = format!(
        "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(40 * 1024)
    );
    let r = raw_request(pulse.addr, big.as_bytes()).unwrap();
    assert_eq!(r.status, 431, "{}", r.head);
    assert!(
        r.head.contains("x-content-type-options: nosniff"),
        "{}",
        r.head
    );
    // Ordinary requests on the same server still work.
    assert_eq!(pulse.get("/livez").status, 200);
    // Garbage instead of HTTP.
    let r = raw_request(pulse.addr, b"\x16\x03\x01\x02\x00garbage\r\n\r\n");
    assert!(r.map(|r| r.status == 400).unwrap_or(true));
    pulse.assert_totals(2, 20, "after oversized requests");
}

#[test]
fn a_100_kb_header_is_rejected_with_431() {
    let (_fake, _dir, pulse) = api_target();
    let big = format!(
        "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let r = raw_request(pulse.addr, big.as_bytes()).unwrap();
    assert_eq!(r.status, 431, "{}", r.head);
}

/// Seconds until the server closes a connection that sends `dribble`
/// bytes one per second (nothing when empty), up to `limit`.
fn seconds_until_closed(
    addr: std::net::SocketAddr,
    dribble: &[u8],
    limit: Duration,
) -> Option<f64> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let start = Instant::now();
    let mut next = 0;
    let mut buf = [0u8; 512];
    while start.elapsed() < limit {
        if next < dribble.len() && start.elapsed() >= Duration::from_secs(next as u64) {
            if s.write_all(&dribble[next..=next]).is_err() {
                return Some(start.elapsed().as_secs_f64());
            }
            next += 1;
        }
        match s.read(&mut buf) {
            // Closed, or an error answer (408/400) before closing.
            Ok(_) => return Some(start.elapsed().as_secs_f64()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(start.elapsed().as_secs_f64()),
        }
    }
    None
}

const SLOWLORIS: &[u8] = b"GET /api/v1/metrics HTTP/1.1\r\nHost: x\r\nX-A: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

#[test]
fn idle_and_slow_clients_do_not_block_others() {
    let (_fake, _dir, pulse) = api_target();
    let addr = pulse.addr;
    let idle = std::thread::spawn(move || seconds_until_closed(addr, b"", Duration::from_secs(6)));
    let slow =
        std::thread::spawn(move || seconds_until_closed(addr, SLOWLORIS, Duration::from_secs(6)));
    // Thirty idle connections more, held open meanwhile.
    let held: Vec<TcpStream> = (0..30).map(|_| TcpStream::connect(addr).unwrap()).collect();
    for _ in 0..10 {
        let t = Instant::now();
        let r = pulse.get("/livez");
        assert_eq!(r.status, 200);
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        std::thread::sleep(Duration::from_millis(300));
    }
    pulse.assert_totals(2, 20, "with idle and slow clients");
    drop(held);
    // Both are closed after the 10 s header read timeout, beyond this test.
    let (idle, slow) = (idle.join().unwrap(), slow.join().unwrap());
    eprintln!("idle connection closed after {idle:?} s, slowloris after {slow:?} s");
}

#[test]
fn idle_and_slow_connections_are_closed_within_30_s() {
    let (_fake, _dir, pulse) = api_target();
    let addr = pulse.addr;
    let idle = std::thread::spawn(move || seconds_until_closed(addr, b"", Duration::from_secs(35)));
    let slow =
        std::thread::spawn(move || seconds_until_closed(addr, SLOWLORIS, Duration::from_secs(35)));
    let idle = idle.join().unwrap();
    let slow = slow.join().unwrap();
    eprintln!("idle connection closed after {idle:?} s, slowloris after {slow:?} s");
    // Pulse's header read timeout is 10 s; the bound leaves room for a busy machine.
    assert!(
        idle.is_some_and(|s| (9.5..=15.0).contains(&s)),
        "idle: {idle:?}"
    );
    assert!(
        slow.is_some_and(|s| (9.5..=15.0).contains(&s)),
        "slowloris: {slow:?}"
    );
}

/// Sets the binary's test clock offset (re-read on every clock call).
fn step_clock(file: &std::path::Path, offset_ms: i64) {
    std::fs::write(file, offset_ms.to_string()).unwrap();
}

/// Requests and cost (in µ$) of the all-time value and the three windows,
/// after checking that no metric of any window is negative.
fn windows(pulse: &Pulse, context: &str) -> [(u64, u64); 4] {
    let m = pulse.json("/api/v1/metrics");
    for (k, v) in m.as_object().unwrap() {
        if ["_daily", "_weekly", "_monthly"]
            .iter()
            .any(|s| k.ends_with(s))
        {
            assert!(
                v.as_f64().is_none_or(|x| x >= 0.0),
                "{context}: {k} = {v} in {m}"
            );
        }
    }
    ["", "_daily", "_weekly", "_monthly"].map(|suffix| {
        let r = m[format!("requests{suffix}")].as_f64().unwrap();
        let c = m[format!("cost{suffix}")].as_f64().unwrap();
        (r as u64, (c * 1e6).round() as u64)
    })
}

/// Every `*_delta` of the history is non-negative; returns the sums of
/// the request and cost (µ$) deltas.
fn history_deltas(pulse: &Pulse, context: &str) -> (u64, u64) {
    let h = pulse.json("/api/v1/history?limit=10000");
    let mut sums = (0.0, 0.0);
    for row in h["snapshots"].as_array().unwrap() {
        for (k, v) in row.as_object().unwrap() {
            if k.ends_with("_delta") {
                assert!(
                    v.as_f64().is_none_or(|x| x >= 0.0),
                    "{context}: {k} = {v} in {row}"
                );
            }
        }
        sums.0 += row["requests_delta"].as_f64().unwrap();
        sums.1 += row["cost_delta"].as_f64().unwrap();
    }
    (sums.0 as u64, (sums.1 * 1e6).round() as u64)
}

#[test]
fn the_clock_stepping_back_and_forward_neither_loses_nor_doubles() {
    const BACK: i64 = -2 * 3_600_000;
    const FORWARD: i64 = 26 * 3_600_000;
    let fake = FakeLiteLlm::start(1, &MODELS, 5, true, Mode::Good);
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock-offset-ms");
    step_clock(&clock, 0);
    let opts = PulseOpts::new(fake.url(), db_in(&dir))
        .with_env("LITELLM_PULSE_TEST_CLOCK_FILE", clock.to_str().unwrap());
    // Local time is about noon: -2 h stays today, +26 h is tomorrow.
    let offset_h = faults_support::zone_offset_h(&opts.tz);
    let pulse = Pulse::start(&opts);
    assert!(pulse.log().contains("TEST CLOCK ACTIVE"), "{}", pulse.log());
    fake.settle();
    assert_eq!(windows(&pulse, "baseline"), [(0, 0); 4]);

    // A: today, on the true clock.
    fake.traffic(0, 0, 3, 3000);
    fake.traffic(0, 1, 2, 500);
    fake.settle();
    assert_eq!(windows(&pulse, "A"), [(5, 3500); 4]);

    // B: two hours back. A's rows now lie after "now": they stay in the
    // all-time total and leave the windows (which end at now) until the
    // clock passes them again; nothing is counted again or negative.
    step_clock(&clock, BACK);
    fake.settle();
    assert_eq!(
        windows(&pulse, "just after the step back"),
        [(5, 3500), (0, 0), (0, 0), (0, 0)]
    );
    fake.traffic(0, 0, 4, 2000);
    fake.settle();
    assert_eq!(
        windows(&pulse, "B"),
        [(9, 5500), (4, 2000), (4, 2000), (4, 2000)]
    );
    assert_eq!(history_deltas(&pulse, "B"), (9, 5500));

    // C: 26 hours ahead, on the next local day. The day holds only what
    // was scraped after the jump; the week and month also hold A and B
    // unless the jump crossed into a new one.
    let (today, tomorrow) = (
        faults_support::local_date(offset_h, 0),
        faults_support::local_date(offset_h, FORWARD),
    );
    assert_ne!(today.2, tomorrow.2, "+26 h must land on another local day");
    let new_week = tomorrow.3 == 0;
    let new_month = tomorrow.1 != today.1;
    step_clock(&clock, FORWARD);
    fake.settle();
    let before = |new: bool| if new { (0, 0) } else { (9, 5500) };
    assert_eq!(
        windows(&pulse, "just after the jump forward"),
        [(9, 5500), (0, 0), before(new_week), before(new_month)]
    );
    fake.traffic(0, 1, 3, 1200);
    fake.settle();
    let with_c = |new: bool| if new { (3, 1200) } else { (12, 6700) };
    assert_eq!(
        windows(&pulse, "C"),
        [(12, 6700), (3, 1200), with_c(new_week), with_c(new_month)]
    );
    assert_eq!(history_deltas(&pulse, "C"), (12, 6700));

    // D: back to the true clock. C's rows lie tomorrow, out of every
    // window until then; A and B are today again.
    step_clock(&clock, 0);
    fake.settle();
    assert_eq!(
        windows(&pulse, "just after the step back to 0"),
        [(12, 6700), (9, 5500), (9, 5500), (9, 5500)]
    );
    fake.traffic(0, 0, 1, 100);
    fake.settle();
    assert_eq!(fake.expected(), (13, 6800));
    assert_eq!(
        windows(&pulse, "D"),
        [(13, 6800), (10, 5600), (10, 5600), (10, 5600)]
    );
    assert_eq!(history_deltas(&pulse, "D"), (13, 6800));
    assert_eq!(pulse.get("/livez").status, 200);
    assert_eq!(pulse.json("/health")["status"], "ok");
}

/// `GET path` with an `Authorization` header.
fn get_with_auth(pulse: &Pulse, path: &str, auth: &str) -> faults_support::Resp {
    let addr = pulse.addr;
    raw_request(
        addr,
        format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap()
}

#[test]
fn the_api_token_guards_everything_but_livez() {
    let fake = FakeLiteLlm::start(1, &MODELS, 5, true, Mode::Good);
    let dir = tempfile::tempdir().unwrap();
    let opts = PulseOpts::new(fake.url(), db_in(&dir)).with_env("LITELLM_PULSE_API_TOKEN", "t0ken");
    let pulse = Pulse::start(&opts);
    fake.settle();
    fake.traffic(0, 0, 2, 20);
    fake.settle();

    let live = pulse.get("/livez");
    assert_eq!(live.status, 200, "{}", live.body);
    assert_eq!(live.json()["status"], "ok");
    for path in ["/api/v1/metrics", "/health", "/raw", "/api/v2/summary"] {
        let r = pulse.get(path);
        assert_eq!(r.status, 401, "{path} without a token: {}", r.body);
        assert!(r.json()["error"].is_string(), "{path}: {}", r.body);
        assert!(!r.body.contains("t0ken"), "{path}: {}", r.body);
        for bad in ["Bearer t0ke", "Bearer t0ken2", "Basic t0ken", "t0ken"] {
            let r = get_with_auth(&pulse, path, bad);
            assert_eq!(r.status, 401, "{path} with {bad:?}: {}", r.body);
        }
    }
    let r = get_with_auth(&pulse, "/api/v1/metrics", "Bearer t0ken");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["requests"].as_f64(), Some(2.0), "{}", r.body);
    assert_eq!(r.json()["cost"].as_f64(), Some(0.00002), "{}", r.body);

    // The container's HEALTHCHECK runs with the same environment.
    let status = faults_support::pulse_command()
        .args(["healthcheck", "--port", &pulse.addr.port().to_string()])
        .env("LITELLM_PULSE_API_TOKEN", "t0ken")
        .env("LITELLM_PULSE_HOST", "127.0.0.1")
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(!pulse.log().contains("t0ken"), "{}", pulse.log());
}
