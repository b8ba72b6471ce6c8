//! Budgets and alerts against the release binary: a fake LiteLLM whose spend
//! grows past a budget's thresholds, a webhook receiver started by the test,
//! pulse killed with SIGKILL at random moments around the crossings, a month
//! rollover, a receiver that is down for a while, a bad config file at
//! start-up and on SIGHUP.
//!
//! Run: `cargo build --release -p pulse-host && PULSE_BIN=$PWD/target/release/litellm-pulse
//! cargo test -p pulse-tests --test e2e_alerts`.

mod faults_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faults_support::{FakeLiteLlm, Mode, Pulse, PulseOpts, Rng};
use pulse_tests::process::pulse_command;
use serde_json::Value;

/// One POST the receiver got.
#[derive(Debug, Clone)]
struct Got {
    idempotency_key: String,
    body: Value,
}

/// A webhook receiver on plain threads: answers 500 to the first
/// `fail_first` requests, 200 after that, and records every request.
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    fn start(fail_first: usize) -> Receiver {
        Receiver::start_on("127.0.0.1:0".parse().unwrap(), fail_first)
    }

    /// The receiver on `addr` (a port that was closed until now, for a
    /// receiver that comes back).
    fn start_on(addr: SocketAddr, fail_first: usize) -> Receiver {
        let listener = TcpListener::bind(addr).unwrap();
        let addr = listener.local_addr().unwrap();
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let failures = Arc::new(AtomicUsize::new(fail_first));
        let seen = Arc::clone(&got);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0usize;
                let mut key = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':') {
                        match name.trim().to_ascii_lowercase().as_str() {
                            "content-length" => length = value.trim().parse().unwrap_or(0),
                            "idempotency-key" => key = value.trim().to_owned(),
                            _ => {}
                        }
                    }
                }
                let mut body = vec![0u8; length];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                let fail = failures
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                seen.lock().unwrap().push(Got {
                    idempotency_key: key,
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                });
                let status = if fail {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Receiver { addr, got }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

fn config(receiver: SocketAddr, budget_name: &str) -> String {
    format!(
        "[[budget]]\nname = \"{budget_name}\"\nlimit = 0.01\nforecast = false\n\n\
         [[channel]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://{receiver}/hook\"\n\
         secret = \"e2e-secret\"\n"
    )
}

fn opts(fake: &FakeLiteLlm, dir: &Path, config: &Path) -> PulseOpts {
    PulseOpts::new(fake.url(), dir.join("pulse.db"))
        .with_env("LITELLM_PULSE_CONFIG", config.to_str().unwrap())
}

/// Waits up to `secs` for `check` to hold.
fn wait_for(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "not within {secs} s: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `/api/v1/alerts`' alerts by key: (idempotency key, delivery state).
fn recorded(pulse: &Pulse) -> BTreeMap<String, (String, String)> {
    let v = pulse.json("/api/v1/alerts?limit=1000");
    let list = v["alerts"].as_array().unwrap();
    let map: BTreeMap<String, (String, String)> = list
        .iter()
        .map(|a| {
            (
                a["key"].as_str().unwrap().to_owned(),
                (
                    a["idempotency_key"].as_str().unwrap().to_owned(),
                    a["deliveries"][0]["state"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect();
    // Recorded once: no key appears twice.
    assert_eq!(map.len(), list.len(), "{v}");
    map
}

#[test]
fn alerts_survive_sigkill_around_crossings_and_rearm_next_month() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(1);
    let cfg = dir.path().join("pulse.toml");
    std::fs::write(&cfg, config(receiver.addr, "team")).unwrap();
    let clock = dir.path().join("clock");
    std::fs::write(&clock, "0").unwrap();
    let fake = FakeLiteLlm::start(1, &["gpt-4o-mini"], 1, true, Mode::Good);
    let opts = opts(&fake, dir.path(), &cfg)
        .with_env("LITELLM_PULSE_TEST_CLOCK_FILE", clock.to_str().unwrap());
    let mut pulse = Pulse::start(&opts);
    fake.settle();

    // $0.001 per step: 50 % at step 5, 80 % at 8, 90 % at 9, 100 % at 10.
    let mut rng = Rng(0x5eed_a1e7);
    for step in 1..=12 {
        fake.traffic(0, 0, 1, 1000);
        if rng.range(0, 3) == 0 {
            // Kill pulse somewhere between just before and well after the
            // scrape that sees this step.
            std::thread::sleep(Duration::from_millis(rng.range(0, 1500)));
            pulse.kill9();
            pulse = Pulse::start(&opts);
        }
        fake.settle();
        let _ = step;
    }
    pulse.assert_totals(12, 12_000, "after the steps");
    let want: BTreeSet<String> = ["50", "80", "90", "100"]
        .iter()
        .map(|t| format!("threshold:{t}:team"))
        .collect();
    let strip = |key: &str| {
        // threshold:<period>:<t>:team → threshold:<t>:team
        let parts: Vec<&str> = key.splitn(4, ':').collect();
        format!("{}:{}:{}", parts[0], parts[2], parts[3])
    };
    // Every alert delivered (the receiver's first answer is a 500: its
    // retry comes 15 s later).
    wait_for(60, "every alert delivered", || {
        let r = recorded(&pulse);
        r.len() == 4 && r.values().all(|(_, state)| state == "delivered")
    });
    let first = recorded(&pulse);
    let got_keys: BTreeSet<String> = first.keys().map(|k| strip(k)).collect();
    assert_eq!(got_keys, want);
    // At least once, and a repeat carries the identical idempotency key.
    let got = receiver.got();
    for (key, (idem, _)) in &first {
        let copies: Vec<&Got> = got.iter().filter(|g| g.body["key"] == *key).collect();
        assert!(!copies.is_empty(), "{key} never arrived");
        assert!(
            copies
                .iter()
                .all(|g| g.idempotency_key == *idem && g.body["idempotency_key"] == *idem),
            "{key}: {copies:?}"
        );
    }
    // The first answer was a 500, so that alert was sent again.
    assert!(got.len() > first.len(), "{got:?}");

    // A restart in mid-period repeats nothing.
    pulse.kill9();
    let pulse = Pulse::start(&opts);
    fake.traffic(0, 0, 1, 1000);
    fake.settle();
    assert_eq!(recorded(&pulse).len(), 4);

    // 32 days later it is another month: every threshold re-arms.
    std::fs::write(&clock, (32 * 86_400_000_i64).to_string()).unwrap();
    fake.settle();
    for _ in 0..11 {
        fake.traffic(0, 0, 1, 1000);
    }
    fake.settle();
    wait_for(30, "the next month's alerts delivered", || {
        let r = recorded(&pulse);
        r.len() == 8 && r.values().all(|(_, state)| state == "delivered")
    });
    let all = recorded(&pulse);
    let periods: BTreeSet<&str> = all.keys().map(|k| k.split(':').nth(1).unwrap()).collect();
    assert_eq!(periods.len(), 2, "{all:?}");
    let budgets = pulse.json("/api/v1/budgets");
    assert_eq!(budgets["budgets"][0]["state"], "over", "{budgets}");
    pulse.terminate();
}

#[test]
fn a_receiver_that_is_down_gets_its_alerts_when_it_returns_and_delays_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on: connections are refused until the receiver starts.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let cfg = dir.path().join("pulse.toml");
    std::fs::write(&cfg, config(addr, "down")).unwrap();
    let fake = FakeLiteLlm::start(1, &["gpt-4o-mini"], 1, true, Mode::Good);
    let opts = opts(&fake, dir.path(), &cfg);
    let pulse = Pulse::start(&opts);
    fake.settle();
    for _ in 0..10 {
        fake.traffic(0, 0, 1, 1000);
    }
    fake.settle();
    pulse.assert_totals(10, 10_000, "the crossings, receiver down");
    // Every alert is recorded and its delivery failed at least once.
    wait_for(30, "a failed attempt for every alert", || {
        let v = pulse.json("/api/v1/alerts?limit=100");
        let list = v["alerts"].as_array().unwrap().clone();
        list.len() == 4
            && list.iter().all(|a| {
                let d = &a["deliveries"][0];
                d["state"] == "pending"
                    && d["attempts"].as_u64() >= Some(1)
                    && d["last_error"].as_str().is_some_and(|e| !e.is_empty())
            })
    });
    // Meanwhile scrapes are stored on time and the API answers at once.
    fake.traffic(0, 0, 1, 1000);
    fake.settle();
    let asked = Instant::now();
    pulse.assert_totals(11, 11_000, "scraping while the receiver is down");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    let failing = recorded(&pulse);

    // The receiver returns on the same address: the next retry delivers.
    let receiver = Receiver::start_on(addr, 0);
    wait_for(
        90,
        "every alert delivered after the receiver returned",
        || {
            recorded(&pulse)
                .values()
                .all(|(_, state)| state == "delivered")
        },
    );
    let got = receiver.got();
    for (key, (idem, _)) in &failing {
        assert!(
            got.iter()
                .any(|g| g.body["key"] == *key && g.idempotency_key == *idem),
            "{key} was not delivered with its idempotency key: {got:?}"
        );
    }
    assert_eq!(recorded(&pulse).len(), 4);
    pulse.terminate();
}

#[test]
fn a_bad_config_stops_start_up_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[[budget]]\nname = \"a\"\nlimit = 10\nlimt = 3\n",
            "pulse.toml:4:1: limt: unknown field `limt`",
        ),
        (
            "[[budget]]\nname = \"a\"\nlimit = -10\n",
            "pulse.toml:3:9: limit: must be a finite number above 0, got -10",
        ),
        (
            "[[budget]]\nname = \"a\"\nlimit = 1\nscope = { tean = \"x\" }\n",
            "pulse.toml:4:9: scope: unknown scope \"tean\"",
        ),
    ];
    for (text, want) in cases {
        let cfg = dir.path().join("pulse.toml");
        std::fs::write(&cfg, text).unwrap();
        let out = pulse_command()
            .env("LITELLM_PULSE_CONFIG", &cfg)
            .env("LITELLM_PULSE_DB_PATH", dir.path().join("p.db"))
            .env("LITELLM_PULSE_PORT", "0")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(want), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
    // The env shortcut is judged by the same rules.
    let out = pulse_command()
        .env("LITELLM_PULSE_MONTHLY_BUDGET", "-5")
        .env("LITELLM_PULSE_DB_PATH", dir.path().join("p.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LITELLM_PULSE_MONTHLY_BUDGET"));
}

fn budget_names(pulse: &Pulse) -> Vec<String> {
    pulse.json("/api/v1/budgets")["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_owned())
        .collect()
}

fn sighup(pulse: &Pulse) {
    let ok = Command::new("kill")
        .args(["-HUP", &pulse.pid().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn sighup_applies_a_good_file_and_keeps_the_old_one_on_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(0);
    let cfg = dir.path().join("pulse.toml");
    std::fs::write(&cfg, config(receiver.addr, "first")).unwrap();
    let fake = FakeLiteLlm::start(1, &["gpt-4o-mini"], 1, true, Mode::Good);
    let pulse = Pulse::start(&opts(&fake, dir.path(), &cfg));
    assert_eq!(budget_names(&pulse), ["first"]);

    std::fs::write(&cfg, config(receiver.addr, "second")).unwrap();
    sighup(&pulse);
    wait_for(10, "the good file applied", || {
        budget_names(&pulse) == ["second"]
    });

    std::fs::write(&cfg, "[[budget]]\nname = \"third\"\nlimit = \"lots\"\n").unwrap();
    sighup(&pulse);
    wait_for(10, "the bad file logged", || {
        pulse.log().contains("alert config not reloaded")
    });
    assert!(
        pulse.log().contains("pulse.toml:3:9: limit"),
        "{}",
        pulse.log()
    );
    assert_eq!(budget_names(&pulse), ["second"]);
    // Still serving and scraping.
    fake.settle();
    let log = pulse.terminate();
    assert!(!log.contains("e2e-secret"), "{log}");
}

#[test]
fn notify_test_reports_each_channel() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(0);
    let cfg = dir.path().join("pulse.toml");
    let text = format!(
        "{}\n[[channel]]\nname = \"gone\"\ntype = \"ntfy\"\nurl = \"http://127.0.0.1:9/secret-topic\"\n",
        config(receiver.addr, "b")
    );
    std::fs::write(&cfg, text).unwrap();
    let run = |args: &[&str]| {
        pulse_command()
            .arg("notify-test")
            .args(args)
            .env("LITELLM_PULSE_CONFIG", &cfg)
            .output()
            .unwrap()
    };
    let out = run(&["--channel", "hook"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(stdout.trim(), "ok      hook (webhook)");
    let got = receiver.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body["kind"], "test");
    assert_eq!(got[0].idempotency_key, got[0].body["idempotency_key"]);

    let out = run(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("ok      hook (webhook)"), "{stdout}");
    assert!(stdout.contains("FAILED  gone (ntfy): "), "{stdout}");
    assert!(!stdout.contains("secret-topic"), "{stdout}");
    let out = run(&["--channel", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no channel named \"nope\""));
}
