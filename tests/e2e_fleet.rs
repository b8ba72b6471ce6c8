//! Many LiteLLM processes against the release binary: three fake LiteLLM
//! replicas on 127.0.0.2, 127.0.0.3 and 127.0.0.4 with one port (the pods
//! of one Service), scraped as a comma-separated `LITELLM_PULSE_METRICS_URL`
//! or found by DNS discovery through a DNS server the test runs.
//!
//! Replicas get traffic, restart (their counters fall to zero under a new
//! `_created`), refuse connections and come back, and pulse itself
//! restarts in the middle. After every step the all-time and window totals
//! and the `instance` breakdown must be exactly what each replica served
//! since pulse first saw it ([`Replica::expected`]), and `/health`,
//! `/readyz` and `/api/v1/targets` must show each target's own state.
//!
//! Run: `cargo build --release -p pulse-host && PULSE_BIN=$PWD/target/release/litellm-pulse
//! cargo test -p pulse-tests --test e2e_fleet`.

mod faults_support;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use faults_support::{Pulse, PulseOpts, now_s};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, Record, RecordType, rdata::A};
use pulse_testkit::exposition::{CounterRow, TextWriter};
use pulse_testkit::{FakeLiteLlm, Options, Reply, Responder};
use serde_json::Value;

const MODELS: [&str; 2] = ["gpt-4o-mini", "claude-haiku"];

/// One model's counters (requests and spend) on one replica.
#[derive(Debug, Clone)]
struct Series {
    requests: u64,
    /// Spend in millionths of a dollar, so sums are exact integers here.
    cost_micros: u64,
    created: f64,
}

/// One LiteLLM process: its series, all the traffic it ever counted
/// (across its restarts), and that total at the first and the latest answer
/// pulse received completely.
#[derive(Debug)]
struct Replica {
    down: bool,
    series: Vec<Series>,
    cum: (u64, u64),
    first: Option<(u64, u64)>,
    last: Option<(u64, u64)>,
    /// Counted although served before `first` (a series created since the
    /// fleet's previous round when the replica joined, rule 7).
    credit: (u64, u64),
    served: u64,
}

impl Responder for Replica {
    type Receipt = (u64, u64);

    fn reply(&mut self) -> (Reply, (u64, u64)) {
        (Reply::prom(render(&self.series)), self.cum)
    }

    fn delivered(&mut self, cum: (u64, u64)) {
        self.first.get_or_insert(cum);
        self.last = Some(cum);
        self.served += 1;
    }

    fn refuse_connections(&self) -> bool {
        self.down
    }
}

/// A LiteLLM-shaped body: requests and spend per model, with `_created`.
fn render(series: &[Series]) -> String {
    let labels: Vec<Vec<(&str, String)>> = MODELS
        .iter()
        .map(|m| {
            vec![
                ("api_key_alias", "None".to_owned()),
                ("hashed_api_key", "abc123".to_owned()),
                ("requested_model", (*m).to_owned()),
                ("team", "None".to_owned()),
            ]
        })
        .collect();
    let mut w = TextWriter::default();
    for family in [
        "litellm_proxy_total_requests_metric",
        "litellm_spend_metric",
    ] {
        let rows: Vec<CounterRow<'_, &str>> = series
            .iter()
            .zip(&labels)
            .map(|(s, labels)| CounterRow {
                labels,
                value: if family == "litellm_spend_metric" {
                    s.cost_micros as f64 / 1e6
                } else {
                    s.requests as f64
                },
                created_s: s.created,
            })
            .collect();
        w.counter(family, "Total", &rows);
    }
    w.finish()
}

/// Three replicas on 127.0.0.2–4, one port.
struct Replicas {
    fakes: Vec<FakeLiteLlm<Replica>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Replicas {
    /// Each with `initial` requests per model (and 1000 µ$ each) from before
    /// pulse, created ten minutes ago.
    fn start(initial: u64) -> Replicas {
        let replica = || Replica {
            down: false,
            series: MODELS
                .iter()
                .map(|_| Series {
                    requests: initial,
                    cost_micros: initial * 1000,
                    created: now_s() - 600.0,
                })
                .collect(),
            cum: (initial * 2, initial * 2000),
            first: None,
            last: None,
            credit: (0, 0),
            served: 0,
        };
        for _attempt in 0..20 {
            let at = |last: u8, port: u16| SocketAddr::from(([127, 0, 0, last], port));
            let first = FakeLiteLlm::start(replica(), Options::open().bind(at(2, 0)))
                .expect("a fake LiteLLM on 127.0.0.2");
            let port = first.addr.port();
            // The same port may be taken on another address: try another one.
            let others: Result<Vec<_>, _> = [3, 4]
                .into_iter()
                .map(|last| FakeLiteLlm::start(replica(), Options::open().bind(at(last, port))))
                .collect();
            if let Ok(others) = others {
                let mut fakes = vec![first];
                fakes.extend(others);
                return Replicas { fakes };
            }
        }
        panic!("no port free on 127.0.0.2, 127.0.0.3 and 127.0.0.4");
    }

    fn port(&self) -> u16 {
        self.fakes[0].addr.port()
    }

    /// `host:port` of replica `r`, as pulse names its target.
    fn instance(&self, r: usize) -> String {
        self.fakes[r].addr.to_string()
    }

    fn urls(&self) -> String {
        let urls: Vec<String> = self.fakes.iter().map(|f| f.url()).collect();
        urls.join(",")
    }

    fn state(&self, r: usize) -> MutexGuard<'_, Replica> {
        self.fakes[r].lock()
    }

    /// `requests` requests costing `cost_micros` µ$ on `model` of replica `r`.
    fn traffic(&self, r: usize, model: usize, requests: u64, cost_micros: u64) {
        let mut s = self.state(r);
        s.series[model].requests += requests;
        s.series[model].cost_micros += cost_micros;
        s.cum.0 += requests;
        s.cum.1 += cost_micros;
    }

    /// Replica `r` restarts: every series starts again from zero, created now.
    fn restart(&self, r: usize) {
        let mut s = self.state(r);
        for x in &mut s.series {
            *x = Series {
                requests: 0,
                cost_micros: 0,
                created: now_s(),
            };
        }
    }

    /// Replica `r` refuses connections (down) or listens again.
    fn set_down(&self, r: usize, down: bool) {
        self.state(r).down = down;
    }

    fn served(&self, r: usize) -> u64 {
        self.state(r).served
    }

    /// Waits for `n` more complete answers of each of `replicas`. Three
    /// settle a change: the first may have been taken before it, the third
    /// is only requested once the round of the second was stored.
    fn wait_served(&self, replicas: &[usize], n: u64) {
        let targets: Vec<u64> = replicas.iter().map(|&r| self.served(r) + n).collect();
        let deadline = Instant::now() + Duration::from_secs(20);
        for (&r, &target) in replicas.iter().zip(&targets) {
            while self.served(r) < target {
                assert!(
                    Instant::now() < deadline,
                    "replica {r} was not scraped {n} more times within 20 s"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn settle(&self, replicas: &[usize]) {
        self.wait_served(replicas, 3);
    }

    /// What pulse must have counted for replica `r`: its traffic between
    /// the first and the latest answer pulse received, plus its credit.
    fn expected(&self, r: usize) -> (u64, u64) {
        let s = self.state(r);
        let (f, l) = (s.first.unwrap_or_default(), s.last.unwrap_or_default());
        (l.0 - f.0 + s.credit.0, l.1 - f.1 + s.credit.1)
    }

    /// Asserts totals and the `instance` breakdown (all time and today)
    /// against [`Replicas::expected`] of every replica.
    fn assert_counted(&self, pulse: &Pulse, context: &str) {
        let per: BTreeMap<String, (u64, u64)> = (0..self.fakes.len())
            .map(|r| (self.instance(r), self.expected(r)))
            .filter(|(_, e)| *e != (0, 0))
            .collect();
        let total = per
            .values()
            .fold((0, 0), |acc, e| (acc.0 + e.0, acc.1 + e.1));
        pulse.assert_totals(total.0, total.1, context);
        for window in ["all", "today"] {
            let rows = pulse.json(&format!("/api/v1/breakdown?by=instance&window={window}"));
            let got: BTreeMap<String, (u64, u64)> = rows
                .as_array()
                .unwrap_or_else(|| panic!("{context}: breakdown {rows}"))
                .iter()
                .map(|row| {
                    let requests = row["requests"].as_f64().unwrap();
                    let cost = row["cost"].as_f64().unwrap();
                    let key = row["instance"].as_str().unwrap().to_owned();
                    assert_eq!(requests.fract(), 0.0, "{context}: {row}");
                    (key, (requests as u64, (cost * 1e6).round() as u64))
                })
                .filter(|(_, e)| *e != (0, 0))
                .collect();
            assert_eq!(got, per, "{context}: by=instance&window={window}");
            // Exact cost per instance, not only after rounding to µ$.
            for row in rows.as_array().unwrap() {
                let key = row["instance"].as_str().unwrap();
                let want = per.get(key).map_or(0.0, |e| e.1 as f64 / 1e6);
                assert_eq!(row["cost"].as_f64(), Some(want), "{context}: {row}");
            }
        }
    }
}

/// `/api/v1/targets`' entry for `instance`.
fn target(pulse: &Pulse, instance: &str) -> Value {
    let t = pulse.json("/api/v1/targets");
    t["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["instance"] == instance)
        .cloned()
        .unwrap_or_else(|| panic!("no target {instance} in {t}"))
}

/// Waits until `f` holds for pulse's `/api/v1/targets` entry of `instance`.
fn wait_target(pulse: &Pulse, instance: &str, what: &str, f: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let t = target(pulse, instance);
        if f(&t) {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "{instance} not {what} within 20 s: {t}\n{}",
            pulse.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_listed_fleet_counts_each_replica_through_restarts_outages_and_a_pulse_restart() {
    let fleet = Replicas::start(5);
    let dir = tempfile::tempdir().unwrap();
    let opts = PulseOpts::new(fleet.urls(), dir.path().join("pulse.db"));
    let pulse = Pulse::start(&opts);
    let all = [0, 1, 2];
    fleet.settle(&all);
    // The 30 requests from before pulse are the baselines.
    fleet.assert_counted(&pulse, "baseline");
    pulse.assert_totals(0, 0, "baseline");

    fleet.traffic(0, 0, 3, 4500);
    fleet.traffic(1, 1, 7, 1250);
    fleet.traffic(2, 0, 2, 333);
    fleet.traffic(2, 1, 1, 10_001);
    fleet.settle(&all);
    assert_eq!(
        (0..3).map(|r| fleet.expected(r)).collect::<Vec<_>>(),
        [(3, 4500), (7, 1250), (3, 10_334)]
    );
    fleet.assert_counted(&pulse, "traffic on each");
    let targets = pulse.json("/api/v1/targets");
    assert_eq!(targets["targets"].as_array().unwrap().len(), 3, "{targets}");
    for r in all {
        let t = target(&pulse, &fleet.instance(r));
        assert_eq!(t["listed"], true, "{t}");
        assert_eq!(t["fresh"], true, "{t}");
        assert!(t["last_error"].is_null(), "{t}");
        assert_eq!(t["series"], 4, "{t}");
    }
    assert_eq!(pulse.get("/readyz").status, 200);

    // Replica 1 restarts under the same address: a reset, not a new member.
    fleet.restart(1);
    fleet.traffic(1, 0, 4, 800);
    fleet.traffic(0, 1, 1, 50);
    fleet.settle(&all);
    assert_eq!(fleet.expected(1), (11, 2050));
    fleet.assert_counted(&pulse, "after replica 1 restarted");
    let resets = pulse.own_metric("litellm_pulse_counter_resets_total");
    assert!(resets >= 1.0, "resets {resets}");
    assert_eq!(
        pulse.json("/api/v1/targets")["targets"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Replica 2 vanishes; the others keep counting, pulse stays up.
    let down = fleet.instance(2);
    fleet.set_down(2, true);
    fleet.traffic(2, 0, 6, 600); // counted once it is back
    fleet.traffic(0, 0, 2, 200);
    let t = wait_target(&pulse, &down, "stale", |t| t["fresh"] == false);
    let error = t["last_error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains("connect"), "{t}");
    assert!(t["last_success"].is_string(), "{t}");
    assert_eq!(t["listed"], true);
    let health = pulse.json("/health");
    let listed = health["targets"].as_array().unwrap();
    let h = listed.iter().find(|x| x["instance"] == down.as_str());
    assert_eq!(h.map(|h| h["last_error"].clone()), Some(Value::from(error)));
    assert_eq!(health["status"], "degraded", "{health}");
    fleet.settle(&[0, 1]);
    fleet.assert_counted(&pulse, "replica 2 down");
    assert_eq!(fleet.expected(0), (6, 4750));
    // Pulse's own /metrics, per target.
    let up = |i: &str| pulse.own_metric(&format!("litellm_pulse_target_up{{instance=\"{i}\"}}"));
    assert_eq!((up(&fleet.instance(0)), up(&down)), (1.0, 0.0));
    let failed =
        format!("litellm_pulse_target_scrapes_total{{instance=\"{down}\",result=\"error\"}}");
    assert!(pulse.own_metric(&failed) >= 3.0);
    let streak = format!("litellm_pulse_target_consecutive_failures{{instance=\"{down}\"}}");
    assert!(pulse.own_metric(&streak) >= 3.0);
    // Every listed target must be fresh (the default quorum).
    let ready = pulse.get("/readyz");
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert!(ready.body.contains("targets"), "{}", ready.body);

    // Pulse restarts while replica 2 is down, with a quorum of two.
    let log = pulse.terminate();
    assert!(!log.contains("panicked"), "{log}");
    fleet.traffic(0, 1, 5, 5555); // while pulse is away
    fleet.traffic(1, 1, 1, 1);
    let pulse = Pulse::start(&opts.clone().with_env("LITELLM_PULSE_READY_QUORUM", "2"));
    fleet.settle(&[0, 1]);
    fleet.assert_counted(&pulse, "after pulse restarted");
    assert_eq!(fleet.expected(0), (11, 10_305));
    assert_eq!(fleet.expected(1), (12, 2051));
    let ready = pulse.get("/readyz");
    assert_eq!(ready.status, 200, "{}", ready.body);
    let t = target(&pulse, &down);
    assert!(t["last_error"].is_string(), "{t}");
    assert!(t["last_success"].is_null(), "{t}");

    // Replica 2 comes back: its next answer covers the outage exactly.
    fleet.traffic(2, 1, 1, 1);
    fleet.set_down(2, false);
    fleet.settle(&all);
    assert_eq!(fleet.expected(2), (10, 10_935));
    fleet.assert_counted(&pulse, "replica 2 back");
    let t = target(&pulse, &down);
    assert!(t["last_error"].is_null(), "{t}");
    assert_eq!(pulse.json("/health")["status"], "ok");
    let log = pulse.terminate();
    assert!(!log.contains("panicked"), "{log}");
}

/// A DNS server for one name, answering the A records the test sets, over
/// UDP on a free port of 127.0.0.1. Every other name is NXDOMAIN.
struct Dns {
    addr: SocketAddr,
    records: Arc<Mutex<Vec<Ipv4Addr>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Dns {
    fn start(name: &str) -> Dns {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let records = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let name = name.trim_end_matches('.').to_owned();
        let thread = {
            let records = Arc::clone(&records);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut buf = [0u8; 1500];
                while !stop.load(Ordering::SeqCst) {
                    let Ok((n, from)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    let Ok(query) = Message::from_vec(&buf[..n]) else {
                        continue;
                    };
                    let answer = answer(&query, &name, &lock(&records));
                    if let Ok(bytes) = answer.to_vec() {
                        let _ = socket.send_to(&bytes, from);
                    }
                }
            })
        };
        Dns {
            addr,
            records,
            stop,
            thread: Some(thread),
        }
    }

    /// The A records of the name from now on.
    fn set(&self, ips: &[Ipv4Addr]) {
        *lock(&self.records) = ips.to_vec();
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The answer to `query`: A records of `name` (TTL 0, so nothing caches
/// them), no AAAA records, NXDOMAIN for other names.
fn answer(query: &Message, name: &str, ips: &[Ipv4Addr]) -> Message {
    let mut out = Message::response(query.metadata.id, query.metadata.op_code);
    out.metadata.recursion_desired = query.metadata.recursion_desired;
    out.metadata.recursion_available = true;
    out.metadata.authoritative = true;
    for q in &query.queries {
        out.add_query(q.clone());
        let asked = q.name().to_ascii();
        let ours = asked.trim_end_matches('.').eq_ignore_ascii_case(name);
        if !ours {
            out.metadata.response_code = ResponseCode::NXDomain;
            continue;
        }
        if q.query_type() == RecordType::A {
            for ip in ips {
                out.add_answer(Record::from_rdata(q.name().clone(), 0, RData::A(A(*ip))));
            }
        }
    }
    out
}

#[test]
fn dns_discovery_follows_replicas_that_join_and_leave() {
    let fleet = Replicas::start(40);
    let dns = Dns::start("litellm.test");
    let ip = |r: usize| match fleet.fakes[r].addr.ip() {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(_) => unreachable!("the replicas are on 127.0.0.x"),
    };
    dns.set(&[ip(0), ip(1)]);
    let dir = tempfile::tempdir().unwrap();
    // The URL list is replaced by discovery.
    let unused = "http://127.0.0.1:9/metrics".to_owned();
    let opts = PulseOpts::new(unused, dir.path().join("pulse.db"))
        .with_env(
            "LITELLM_PULSE_DISCOVER",
            &format!("dns:litellm.test:{}", fleet.port()),
        )
        .with_env("LITELLM_PULSE_DNS_SERVER", &dns.addr.to_string());
    let pulse = Pulse::start(&opts);
    fleet.settle(&[0, 1]);
    assert_eq!(fleet.served(2), 0, "replica 2 is not in DNS yet");
    fleet.traffic(0, 0, 3, 3000);
    fleet.traffic(1, 1, 2, 20);
    fleet.settle(&[0, 1]);
    fleet.assert_counted(&pulse, "two replicas");
    assert_eq!(
        pulse.json("/api/v1/targets")["targets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Replica 2 appears after start. Its model 0 series is ten minutes old:
    // its 40 requests are its baseline. Its model 1 series restarted just
    // now, after the fleet's previous round: all of it counts (rule 7).
    {
        let mut s = fleet.state(2);
        s.series[1] = Series {
            requests: 0,
            cost_micros: 0,
            created: now_s(),
        };
    }
    fleet.traffic(2, 1, 4, 444);
    fleet.state(2).credit = (4, 444);
    dns.set(&[ip(0), ip(1), ip(2)]);
    fleet.settle(&[0, 1, 2]);
    fleet.traffic(2, 0, 1, 1000);
    fleet.settle(&[0, 1, 2]);
    assert_eq!(fleet.expected(2), (5, 1444));
    fleet.assert_counted(&pulse, "replica 2 joined");
    let t = target(&pulse, &fleet.instance(2));
    assert_eq!(t["listed"], true, "{t}");
    assert_eq!(t["url"], format!("http://{}/metrics", fleet.instance(2)));

    // Replica 0 leaves DNS: it keeps what it counted, and is not scraped.
    dns.set(&[ip(1), ip(2)]);
    wait_target(&pulse, &fleet.instance(0), "unlisted", |t| {
        t["listed"] == false
    });
    let before = fleet.served(0);
    fleet.traffic(0, 0, 9, 9000); // not seen while it is not listed
    fleet.traffic(1, 0, 1, 1);
    fleet.settle(&[1, 2]);
    assert!(fleet.served(0) <= before + 1, "replica 0 still scraped");
    assert_eq!(fleet.expected(0), (3, 3000));
    fleet.assert_counted(&pulse, "replica 0 left");
    assert_eq!(
        pulse.get("/readyz").status,
        200,
        "only listed targets count"
    );

    // It comes back: compared with its last values, nothing counted twice.
    dns.set(&[ip(0), ip(1), ip(2)]);
    fleet.settle(&[0, 1, 2]);
    assert_eq!(fleet.expected(0), (12, 12_000));
    fleet.assert_counted(&pulse, "replica 0 back");
    let log = pulse.terminate();
    assert!(!log.contains("panicked"), "{log}");
}
