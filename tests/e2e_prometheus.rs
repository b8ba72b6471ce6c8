//! End to end: pulse reading a fleet of LiteLLM replicas through a real
//! Prometheus and a real VictoriaMetrics (Debian's `prometheus` and
//! `victoria-metrics` packages), on random loopback ports.
//!
//! Three fake replicas (the test kit's fake LiteLLM, one port each) serve
//! growing counters; both engines scrape them every second. Replica 2 runs
//! without `_created` (LiteLLM's multiprocess mode) and restarts before pulse
//! starts, so the backfill must see the fall (rule 3); replica 1 restarts
//! with a new `_created` while pulse reads live (rule 4). Each pulse starts
//! on an empty database, backfills the engine's history (in 1 s steps, the
//! hidden test setting; 15 minutes otherwise), then queries every second.
//! The all-time and daily totals of every pulse must equal what the replicas
//! counted after the engines' first scrape of them (that first value is the
//! baseline, as a direct scrape's first body is).
//!
//! Every restart happens at least two engine scrapes after the replica's last
//! increase, so no reset hides inside one step and the totals are exact.
//! A third pulse scrapes the same replicas directly (a comma-separated
//! `LITELLM_PULSE_METRICS_URL`), from before the first traffic: all three
//! must agree on the totals and on the `instance` breakdown, where the
//! engines' `instance` label and the direct target's name are both the
//! replica's `host:port`.

mod e2e_support;

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e_support::Pulse;
use pulse_testkit::exposition::{CounterRow, TextWriter};
use pulse_testkit::{FakeLiteLlm, Options, Reply, Responder};
use pulse_tests::process::free_port;
use serde_json::Value;

/// One LiteLLM replica: two counters of one model, and when its process started.
struct Replica {
    requests: f64,
    spend: f64,
    /// `_created` of its series (seconds); `None` in multiprocess mode.
    created_s: Option<f64>,
}

impl Replica {
    fn body(&self) -> String {
        let labels = [
            ("requested_model", "gpt-4o-mini".to_owned()),
            ("team", "core".to_owned()),
        ];
        let mut w = TextWriter::with_capacity(1024);
        for (base, value) in [
            ("litellm_proxy_total_requests_metric", self.requests),
            ("litellm_spend_metric", self.spend),
        ] {
            let row = CounterRow {
                labels: &labels,
                value,
                created_s: self.created_s.unwrap_or(0.0),
            };
            if self.created_s.is_some() {
                w.counter(base, "help", &[row]);
            } else {
                let total = format!("{base}_total");
                w.family(&total, pulse_testkit::exposition::Kind::Counter, "help");
                w.sample(&total, labels.iter().map(|(n, v)| (*n, v.as_str())), value);
            }
        }
        w.finish()
    }
}

impl Responder for Replica {
    type Receipt = ();

    fn reply(&mut self) -> (Reply, ()) {
        (Reply::prom(self.body()), ())
    }
}

fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The fleet and what it counted since the engines' first scrape.
struct Fleet {
    replicas: Vec<FakeLiteLlm<Replica>>,
    requests: f64,
    spend: f64,
    /// What each replica counted: `(requests, spend)`.
    counted: Vec<(f64, f64)>,
}

impl Fleet {
    fn start() -> Fleet {
        // Processes that have run for an hour (their `_created` is old), and
        // replica 2 in multiprocess mode (no `_created`), fresh: the
        // backfill's first step with data may hold only some replicas, and a
        // series without `_created` first seen later counts its whole value
        // (rule 6; documented in the README), so it starts at zero.
        let replicas = (0..3)
            .map(|i| {
                let fresh = i == 2;
                let replica = Replica {
                    requests: if fresh { 0.0 } else { 10.0 * (i as f64 + 1.0) },
                    spend: if fresh { 0.0 } else { 0.5 * (i as f64 + 1.0) },
                    created_s: (i != 2).then(|| now_s() - 3600.0),
                };
                FakeLiteLlm::start(replica, Options::open()).unwrap()
            })
            .collect();
        Fleet {
            replicas,
            requests: 0.0,
            spend: 0.0,
            counted: vec![(0.0, 0.0); 3],
        }
    }

    fn targets(&self) -> Vec<String> {
        self.replicas.iter().map(|r| r.addr.to_string()).collect()
    }

    /// Traffic on replica `i`.
    fn traffic(&mut self, i: usize, requests: f64, spend: f64) {
        let mut r = self.replicas[i].lock();
        r.requests += requests;
        r.spend += spend;
        self.requests += requests;
        self.spend += spend;
        self.counted[i].0 += requests;
        self.counted[i].1 += spend;
    }

    fn urls(&self) -> Vec<String> {
        self.replicas.iter().map(FakeLiteLlm::url).collect()
    }

    /// Replica `i` restarts: its counters start again from zero (with a new
    /// `_created` when it has one).
    fn restart(&mut self, i: usize) {
        let mut r = self.replicas[i].lock();
        r.requests = 0.0;
        r.spend = 0.0;
        if r.created_s.is_some() {
            r.created_s = Some(now_s());
        }
    }
}

/// A Prometheus-compatible engine as a child process; killed on drop.
struct Engine {
    name: &'static str,
    addr: SocketAddr,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Engine {
    fn scrape_config(dir: &Path, targets: &[String]) -> std::path::PathBuf {
        let list = targets
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let path = dir.join("scrape.yml");
        std::fs::write(
            &path,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  \
                 - job_name: litellm\n    metrics_path: /metrics/\n    static_configs:\n      \
                 - targets: [{list}]\n"
            ),
        )
        .unwrap();
        path
    }

    fn prometheus(targets: &[String]) -> Engine {
        let dir = tempfile::tempdir().unwrap();
        let config = Engine::scrape_config(dir.path(), targets);
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut cmd = Command::new("prometheus");
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"));
        Engine::spawn("prometheus", cmd, addr, dir)
    }

    fn victoria_metrics(targets: &[String]) -> Engine {
        let dir = tempfile::tempdir().unwrap();
        let config = Engine::scrape_config(dir.path(), targets);
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut cmd = Command::new("victoria-metrics");
        cmd.arg(format!(
            "-storageDataPath={}",
            dir.path().join("data").display()
        ))
        .arg(format!("-httpListenAddr={addr}"))
        .arg(format!("-promscrape.config={}", config.display()))
        // Answer the newest samples at once (the default hides the last
        // 30 s), and never serve a range query from its cache.
        .arg("-search.latencyOffset=0s")
        .arg("-search.disableCache");
        Engine::spawn("victoria-metrics", cmd, addr, dir)
    }

    fn spawn(
        name: &'static str,
        mut cmd: Command,
        addr: SocketAddr,
        dir: tempfile::TempDir,
    ) -> Engine {
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{name} (apt-get install prometheus victoria-metrics): {e}")
            });
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "{name} did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Engine {
            name,
            addr,
            child,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many replicas' request counters the engine holds now.
    async fn replicas_seen(&self) -> usize {
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v1/query", self.url()))
            .form(&[("query", "litellm_proxy_total_requests_metric_total")])
            .send()
            .await;
        let Ok(resp) = resp else { return 0 };
        let json: Value =
            serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or(Value::Null);
        json["data"]["result"].as_array().map_or(0, Vec::len)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a pulse reads from.
enum Source<'a> {
    /// Through a Prometheus-compatible engine.
    Engine(&'a Engine),
    /// Scraping these `/metrics` URLs itself.
    Direct(&'a [String]),
}

/// Starts pulse on an empty database reading from `source`, every second.
fn run_pulse(source: &Source<'_>, dir: &Path) -> Pulse {
    let db = dir.join(match source {
        Source::Engine(e) => format!("{}.db", e.name),
        Source::Direct(_) => "direct.db".to_owned(),
    });
    let db = db.to_str().unwrap().to_owned();
    let mut envs: Vec<(&str, String)> = vec![
        ("LITELLM_PULSE_DB_PATH", db),
        ("LITELLM_PULSE_SCRAPE_INTERVAL", "1".into()),
        ("LITELLM_PULSE_PORT", "0".into()),
        ("LITELLM_PULSE_HOST", "127.0.0.1".into()),
        ("LITELLM_PULSE_LOG_LEVEL", "info".into()),
        // A day of retention: the backfill's probe looks back one day.
        ("LITELLM_PULSE_DB_RETENTION_DAYS", "1".into()),
    ];
    match source {
        Source::Engine(e) => {
            envs.push(("LITELLM_PULSE_PROMETHEUS_URL", e.url()));
            envs.push((
                "LITELLM_PULSE_PROMETHEUS_SELECTOR",
                r#"{job="litellm"}"#.into(),
            ));
            envs.push(("LITELLM_PULSE_PROMETHEUS_BACKFILL_STEP", "1".into()));
        }
        Source::Direct(urls) => envs.push(("LITELLM_PULSE_METRICS_URL", urls.join(","))),
    }
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Pulse::start(&[], &envs)
}

async fn wait_for(what: &str, secs: u64, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done().await {
        assert!(Instant::now() < deadline, "{what} within {secs} s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `(instance, requests, cost)` of every row of the all-time `instance` breakdown, sorted.
async fn by_instance(pulse: &Pulse) -> Vec<(String, f64, f64)> {
    let (status, rows, body) = pulse.get("/api/v1/breakdown?by=instance&window=all").await;
    assert_eq!(status, 200, "{body}");
    let mut out: Vec<(String, f64, f64)> = rows
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|r| {
            (
                r["instance"].as_str().unwrap_or_default().to_owned(),
                r["requests"].as_f64().unwrap_or(f64::NAN),
                r["cost"].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// `(requests, cost, requests_daily, cost_daily)` of `/api/v1/metrics`.
async fn totals(pulse: &Pulse) -> (f64, f64, f64, f64) {
    let (status, m, body) = pulse.get("/api/v1/metrics").await;
    assert_eq!(status, 200, "{body}");
    let f = |k: &str| m[k].as_f64().unwrap_or(f64::NAN);
    (
        f("requests"),
        f("cost"),
        f("requests_daily"),
        f("cost_daily"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulse_through_prometheus_and_victoria_metrics_counts_the_fleet_exactly() {
    let mut fleet = Fleet::start();
    let targets = fleet.targets();
    let engines = [
        Engine::prometheus(&targets),
        Engine::victoria_metrics(&targets),
    ];
    for e in &engines {
        wait_for(
            &format!("{} scrapes all three replicas", e.name),
            30,
            async || e.replicas_seen().await == 3,
        )
        .await;
    }
    // Both engines hold every replica's first value: the baseline.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let day = (now_s() / 86_400.0).floor();
    // Pulse scraping the replicas itself, from before the first traffic.
    let dir = tempfile::tempdir().unwrap();
    let urls = fleet.urls();
    let direct = run_pulse(&Source::Direct(&urls), dir.path());
    wait_for(
        "the direct pulse's baseline of every replica",
        30,
        async || {
            let (_, body, _) = direct.get("/api/v1/targets").await;
            body["targets"]
                .as_array()
                .is_some_and(|a| a.len() == 3 && a.iter().all(|t| t["last_success"].is_string()))
        },
    )
    .await;

    // Before pulse: traffic on every replica, then replica 2 (no `_created`)
    // restarts and counts again: the backfill must see the fall.
    for round in 0..3 {
        fleet.traffic(0, 3.0, 0.25);
        fleet.traffic(1, 2.0, 0.125);
        fleet.traffic(2, 5.0 + f64::from(round), 0.5);
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    fleet.restart(2);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    fleet.traffic(2, 4.0, 0.375);
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let pulses: Vec<Pulse> = engines
        .iter()
        .map(|e| run_pulse(&Source::Engine(e), dir.path()))
        .collect();
    for p in &pulses {
        wait_for("the backfill", 30, async || {
            p.log().contains("backfilled the engine's history")
        })
        .await;
    }
    // The backfill alone already holds what was counted so far.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (p, e) in pulses.iter().zip(&engines) {
        let (requests, cost, ..) = totals(p).await;
        assert_eq!(
            (requests, cost),
            (fleet.requests, fleet.spend),
            "{} backfill:\n{}",
            e.name,
            p.log()
        );
        let (_, history, _) = p.get("/api/v1/history?limit=10000").await;
        let snaps = history["snapshots"].as_array().cloned().unwrap_or_default();
        assert!(
            snaps.len() >= 12,
            "{}: {} backfilled steps",
            e.name,
            snaps.len()
        );
        // The stored steps add up to the totals.
        let at: Vec<&str> = snaps
            .iter()
            .filter_map(|s| s["timestamp"].as_str())
            .collect();
        assert_eq!(at.len(), snaps.len());
        let deltas: f64 = snaps
            .iter()
            .map(|s| s["requests_delta"].as_f64().unwrap_or(f64::NAN))
            .sum();
        assert_eq!(deltas, requests, "{}", e.name);
    }

    // Live: more traffic, then replica 1 restarts with a new `_created`.
    for _ in 0..2 {
        fleet.traffic(0, 1.0, 0.25);
        fleet.traffic(1, 7.0, 1.0);
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    fleet.restart(1);
    fleet.traffic(1, 2.0, 0.5);
    fleet.traffic(2, 1.0, 0.125);
    // Two engine scrapes and two pulse queries later, everything is seen.
    tokio::time::sleep(Duration::from_millis(4000)).await;

    // Daily totals are today's (UTC): equal to all-time unless the test crossed midnight.
    let same_day = day == (now_s() / 86_400.0).floor();
    for (p, e) in pulses.iter().zip(&engines) {
        let (requests, cost, requests_daily, cost_daily) = totals(p).await;
        let log = p.log();
        assert_eq!(
            (requests, cost),
            (fleet.requests, fleet.spend),
            "{}:\n{log}",
            e.name
        );
        if same_day {
            assert_eq!((requests_daily, cost_daily), (requests, cost), "{}", e.name);
        }
        let (_, health, _) = p.get("/health").await;
        assert_eq!(health["status"], "ok", "{}: {health}", e.name);
    }
    // Pulse in direct mode agrees, and so does every replica's own row.
    let (requests, cost, requests_daily, cost_daily) = totals(&direct).await;
    assert_eq!(
        (requests, cost),
        (fleet.requests, fleet.spend),
        "direct:\n{}",
        direct.log()
    );
    if same_day {
        assert_eq!((requests_daily, cost_daily), (requests, cost), "direct");
    }
    let mut expected: Vec<(String, f64, f64)> = fleet
        .targets()
        .into_iter()
        .zip(&fleet.counted)
        .map(|(t, &(r, c))| (t, r, c))
        .collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(by_instance(&direct).await, expected, "direct by instance");
    for (p, e) in pulses.iter().zip(&engines) {
        assert_eq!(by_instance(p).await, expected, "{} by instance", e.name);
    }
    let (status, log) = direct.terminate();
    assert!(status.success(), "{log}");
    assert_eq!(
        fleet.requests,
        9.0 + 6.0 + 18.0 + 4.0 + 2.0 + 14.0 + 2.0 + 1.0
    );
    for p in pulses {
        let (status, log) = p.terminate();
        assert!(status.success(), "{log}");
    }
}
