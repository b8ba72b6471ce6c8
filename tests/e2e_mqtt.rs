//! End to end: the release `litellm-pulse` binary publishing Home Assistant
//! MQTT discovery to a real Mosquitto broker (Debian's `mosquitto` package),
//! with a password file, on a random loopback port. A test client subscribes
//! the way Home Assistant does (`homeassistant/#` and the state topics) and
//! checks the retained configs, the states against `/api/v1/metrics`, the
//! last will, a broker restart, wrong credentials and a model that leaves;
//! the spend forecasts and budget entities against `/api/v2/summary` and
//! `/api/v1/budgets`, and a budget that leaves (SIGHUP, restart); and
//! `mqtts://` to a TLS listener whose certificate a test CA signed.

mod e2e_support;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use e2e_support::{FakeLiteLlm, pulse_command};
use pulse_testkit::{Reply, capture, capture_date};
use pulse_tests::process::{Running, free_port};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use tokio::sync::mpsc;

const KEY: &str = "sk-e2e-mqtt-key-0123";
const USER: &str = "homeassistant";
const PASSWORD: &str = "mqtt-pa55word-Zq9";
const PREFIX: &str = "homeassistant";
const BASE: &str = "litellm-pulse";

/// The fixed sensors and the `/api/v1/metrics` field each one copies.
const FIXED: [(&str, &str); 9] = [
    ("spend_today", "cost_daily"),
    ("spend_week", "cost_weekly"),
    ("spend_month", "cost_monthly"),
    ("spend_all_time", "cost"),
    ("requests_today", "requests_daily"),
    ("requests_all_time", "requests"),
    ("tokens_today", "tokens_daily"),
    ("tokens_all_time", "tokens"),
    ("in_flight", "in_flight_requests"),
];

// --- the broker -----------------------------------------------------------

/// A Mosquitto broker on 127.0.0.1 with a password file (and, when asked,
/// a second, TLS listener); killed on drop.
struct Broker {
    dir: tempfile::TempDir,
    port: u16,
    /// The TLS listener's port, when there is one.
    tls_port: Option<u16>,
    child: Option<Child>,
}

/// Runs `openssl` (Debian's `openssl` package) in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test CA (`ca.pem`) and a server certificate for 127.0.0.1 it signed
/// (`server.pem`, `server.key`), in `dir`.
fn make_certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=litellm-pulse test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

impl Broker {
    fn start() -> Broker {
        Broker::start_with(false)
    }

    /// With `tls`, a second listener speaks TLS with a server certificate
    /// signed by the CA in [`Broker::ca_file`].
    fn start_with(tls: bool) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let passwd = dir.path().join("passwd");
        let ok = Command::new("mosquitto_passwd")
            .args(["-b", "-c"])
            .arg(&passwd)
            .args([USER, PASSWORD])
            .status()
            .expect("mosquitto_passwd (apt-get install mosquitto)");
        assert!(ok.success());
        let conf = dir.path().join("mosquitto.conf");
        let mut text = format!(
            "allow_anonymous false\npassword_file {}\npersistence false\nuser root\n\
             log_dest stderr\nlistener {port} 127.0.0.1\n",
            passwd.display()
        );
        let tls_port = tls.then(|| {
            make_certificates(dir.path());
            let tls_port = free_port();
            let file = |name: &str| dir.path().join(name).display().to_string();
            text.push_str(&format!(
                "listener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n",
                file("ca.pem"),
                file("server.pem"),
                file("server.key")
            ));
            tls_port
        });
        std::fs::write(&conf, text).unwrap();
        let mut broker = Broker {
            dir,
            port,
            tls_port,
            child: None,
        };
        broker.up();
        broker
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("mosquitto.conf")
    }

    /// Starts the process and waits until the port accepts connections.
    fn up(&mut self) {
        let child = Command::new(mosquitto_bin())
            .arg("-c")
            .arg(self.conf())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (apt-get install mosquitto)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in std::iter::once(self.port).chain(self.tls_port) {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "mosquitto did not listen");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// The test CA's certificate (PEM), with a TLS listener.
    fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Kills the process (a crash, from the clients' point of view).
    fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self, password: &str) -> String {
        format!("mqtt://{USER}:{password}@127.0.0.1:{}", self.port)
    }
}

/// Debian puts the broker in /usr/sbin, which a non-root PATH may lack.
fn mosquitto_bin() -> PathBuf {
    let sbin = PathBuf::from("/usr/sbin/mosquitto");
    if sbin.is_file() {
        sbin
    } else {
        PathBuf::from("mosquitto")
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.down();
    }
}

// --- a subscriber like Home Assistant -------------------------------------

/// One delivered message.
#[derive(Debug, Clone)]
struct Msg {
    payload: Vec<u8>,
    retain: bool,
}

/// A client subscribed to the discovery prefix and pulse's topics; keeps the
/// latest message per topic and every message in order.
struct Subscriber {
    rx: mpsc::UnboundedReceiver<(String, Msg)>,
    latest: HashMap<String, Msg>,
    all: Vec<(String, Msg)>,
    _client: AsyncClient,
    task: tokio::task::JoinHandle<()>,
}

impl Subscriber {
    async fn connect(port: u16) -> Subscriber {
        // Each subscriber its own id: the broker drops the older of two
        // connections with the same one.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "ha-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut opts = MqttOptions::new(id, "127.0.0.1", port);
        opts.set_credentials(USER, PASSWORD);
        opts.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut events) = AsyncClient::new(opts, 64);
        client
            .subscribe(format!("{PREFIX}/#"), QoS::AtLeastOnce)
            .await
            .unwrap();
        client
            .subscribe(format!("{BASE}/#"), QoS::AtLeastOnce)
            .await
            .unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let msg = Msg {
                            payload: p.payload.to_vec(),
                            retain: p.retain,
                        };
                        if tx.send((p.topic.clone(), msg)).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Subscriber {
            rx,
            latest: HashMap::new(),
            all: Vec::new(),
            _client: client,
            task,
        }
    }

    /// Takes what has arrived so far.
    fn drain(&mut self) {
        while let Ok((topic, msg)) = self.rx.try_recv() {
            self.latest.insert(topic.clone(), msg.clone());
            self.all.push((topic, msg));
        }
    }

    /// Waits (15 s at most) until `ok` holds for the latest messages.
    async fn until(&mut self, what: &str, mut ok: impl FnMut(&HashMap<String, Msg>) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            self.drain();
            if ok(&self.latest) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within 15 s; latest: {:#?}",
                self.latest
                    .iter()
                    .map(|(t, m)| (t, String::from_utf8_lossy(&m.payload)))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The first message delivered on `topic`.
    fn first(&self, topic: &str) -> Option<&Msg> {
        self.all.iter().find(|(t, _)| t == topic).map(|(_, m)| m)
    }

    fn text(&self, topic: &str) -> Option<String> {
        self.latest
            .get(topic)
            .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// --- pulse and the fake LiteLLM -------------------------------------------

const SEQUENCE: [&str; 3] = [
    "03-after-restart-before-traffic",
    "01-after-batch1",
    "02-after-batch2",
];

fn fake() -> FakeLiteLlm {
    let replies = SEQUENCE
        .iter()
        .enumerate()
        .map(|(i, c)| {
            Reply::prom(capture(&format!("{c}.prom"))).with_date(if i == 0 {
                "Fri, 27 Nov 2026 10:06:38 GMT".to_owned()
            } else {
                capture_date(c)
            })
        })
        .collect();
    FakeLiteLlm::start(replies, KEY)
}

fn start_pulse(fake: &FakeLiteLlm, mqtt_url: &str, dir: &Path) -> Running {
    start_pulse_with(fake, mqtt_url, dir, &[])
}

/// [`start_pulse`] with more settings.
fn start_pulse_with(
    fake: &FakeLiteLlm,
    mqtt_url: &str,
    dir: &Path,
    extra: &[(&str, String)],
) -> Running {
    let mut cmd = pulse_command();
    cmd.envs([
        (
            "LITELLM_PULSE_METRICS_URL",
            format!("http://{}/metrics", fake.addr),
        ),
        ("LITELLM_PULSE_METRICS_API_KEY", KEY.to_owned()),
        ("LITELLM_PULSE_SCRAPE_INTERVAL", "1".to_owned()),
        ("LITELLM_PULSE_PORT", "0".to_owned()),
        ("LITELLM_PULSE_HOST", "127.0.0.1".to_owned()),
        (
            "LITELLM_PULSE_DB_PATH",
            dir.join("pulse.db").display().to_string(),
        ),
        ("LITELLM_PULSE_LOG_LEVEL", "debug".to_owned()),
        ("LITELLM_PULSE_MQTT_URL", mqtt_url.to_owned()),
        (
            "LITELLM_PULSE_TEST_CLOCK_FILE",
            dir.join("clock").display().to_string(),
        ),
    ]);
    cmd.envs(extra.iter().map(|(k, v)| (k, v)));
    Running::spawn(cmd)
}

async fn get(addr: SocketAddr, path: &str) -> (Value, String) {
    let text = reqwest::get(format!("http://{addr}{path}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (serde_json::from_str(&text).unwrap_or(Value::Null), text)
}

fn state_topic(object: &str) -> String {
    format!("{BASE}/state/{object}")
}

fn config_topic(component: &str, object: &str) -> String {
    format!("{PREFIX}/{component}/litellm_pulse/{object}/config")
}

/// Whether every fixed state equals its `/api/v1/metrics` number exactly.
fn states_match(latest: &HashMap<String, Msg>, metrics: &Value) -> bool {
    FIXED.iter().all(|(object, field)| {
        let Some(msg) = latest.get(&state_topic(object)) else {
            return false;
        };
        let state: Option<f64> = std::str::from_utf8(&msg.payload)
            .ok()
            .and_then(|s| s.parse().ok());
        state.is_some() && state == metrics[field].as_f64()
    })
}

/// Waits until the states equal `/api/v1/metrics` (read again each round,
/// since a scrape may land between the two reads).
async fn states_equal_the_api(sub: &mut Subscriber, addr: SocketAddr) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (metrics, _) = get(addr, "/api/v1/metrics").await;
        sub.drain();
        if states_match(&sub.latest, &metrics) {
            return metrics;
        }
        assert!(
            Instant::now() < deadline,
            "states never equalled /api/v1/metrics {metrics}:\n{:#?}",
            FIXED
                .iter()
                .map(|(o, _)| (o, sub.text(&state_topic(o))))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn model_configs(latest: &HashMap<String, Msg>) -> Vec<(String, Msg)> {
    let head = format!("{PREFIX}/sensor/litellm_pulse/model_");
    let mut out: Vec<(String, Msg)> = latest
        .iter()
        .filter(|(t, _)| t.starts_with(&head))
        .map(|(t, m)| (t.clone(), m.clone()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

// --- the tests ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_states_last_will_broker_restart_and_a_model_leaving() {
    let started = Instant::now();
    let mut broker = Broker::start();
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let url = broker.url(PASSWORD);
    let pulse = start_pulse(&fake, &url, dir.path());
    // The idle body first: the first scrape is a baseline.
    fake.advance_to(0).await;
    fake.advance_to(1).await;

    // A new subscriber gets every config retained, and the states equal the API.
    let mut ha = Subscriber::connect(broker.port).await;
    let metrics = states_equal_the_api(&mut ha, pulse.addr).await;
    assert!(metrics["cost"].as_f64().unwrap() > 0.0, "{metrics}");
    ha.until("online", |l| {
        l.get(&format!("{BASE}/status"))
            .is_some_and(|m| m.payload == b"online" && m.retain)
    })
    .await;
    ha.until("model configs", |l| !model_configs(l).is_empty())
        .await;
    for (object, _) in FIXED {
        let msg = &ha.latest[&config_topic("sensor", object)];
        assert!(msg.retain, "{object}: config not retained");
        // Every state is retained too (a restarted Home Assistant sees
        // values at once): the first delivery is the retained one.
        assert!(ha.first(&state_topic(object)).unwrap().retain, "{object}");
    }
    let spend: Value =
        serde_json::from_slice(&ha.latest[&config_topic("sensor", "spend_today")].payload).unwrap();
    assert_eq!(spend["unique_id"], "litellm_pulse_spend_today");
    assert_eq!(spend["device_class"], "monetary");
    assert_eq!(spend["state_class"], "total");
    assert_eq!(spend["unit_of_measurement"], "USD");
    assert_eq!(spend["state_topic"], "litellm-pulse/state/spend_today");
    assert_eq!(spend["availability_topic"], "litellm-pulse/status");
    assert_eq!(spend["device"]["identifiers"][0], "litellm_pulse");
    assert_eq!(spend["device"]["name"], "LiteLLM Pulse");
    let tokens: Value =
        serde_json::from_slice(&ha.latest[&config_topic("sensor", "tokens_all_time")].payload)
            .unwrap();
    assert_eq!(tokens["state_class"], "total_increasing");
    let fresh = &ha.latest[&config_topic("binary_sensor", "scrape_fresh")];
    assert!(fresh.retain);
    assert_eq!(ha.text(&state_topic("scrape_fresh")).as_deref(), Some("ON"));
    // Per model: the name as text, the spend today as /api/v1/models has it.
    let (models, _) = get(pulse.addr, "/api/v1/models").await;
    for (topic, msg) in model_configs(&ha.latest) {
        assert!(msg.retain, "{topic}");
        let config: Value = serde_json::from_slice(&msg.payload).unwrap();
        let name = config["name"].as_str().unwrap();
        let model = name.strip_prefix("Spend today ").unwrap();
        let api = models["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["model"] == model)
            .unwrap_or_else(|| panic!("{model} not in /api/v1/models"));
        let state = ha.text(config["state_topic"].as_str().unwrap()).unwrap();
        assert_eq!(
            state.parse::<f64>().ok(),
            api["cost_daily"].as_f64(),
            "{model}"
        );
    }
    drop(ha);

    // The broker goes away: scraping goes on, and pulse publishes again
    // once it is back (the broker keeps nothing: persistence is off).
    broker.down();
    let (before, _) = get(pulse.addr, "/api/v1/metrics").await;
    fake.advance_to(2).await;
    let (after, _) = get(pulse.addr, "/api/v1/metrics").await;
    assert!(
        after["requests"].as_f64() > before["requests"].as_f64(),
        "scraping stopped while the broker was down: {before} → {after}"
    );
    broker.up();
    let mut ha = Subscriber::connect(broker.port).await;
    states_equal_the_api(&mut ha, pulse.addr).await;
    ha.until("online after the broker restart", |l| {
        l.get(&format!("{BASE}/status"))
            .is_some_and(|m| m.payload == b"online")
    })
    .await;
    ha.until("configs after the broker restart", |l| {
        l.get(&config_topic("sensor", "spend_month"))
            .is_some_and(|m| !m.payload.is_empty())
    })
    .await;

    // SIGKILL: the broker publishes the last will.
    pulse.kill9();
    ha.until("offline (last will)", |l| {
        l.get(&format!("{BASE}/status"))
            .is_some_and(|m| m.payload == b"offline")
    })
    .await;
    let pulse = start_pulse(&fake, &url, dir.path());
    ha.until("online after restart", |l| {
        l.get(&format!("{BASE}/status"))
            .is_some_and(|m| m.payload == b"online")
    })
    .await;
    states_equal_the_api(&mut ha, pulse.addr).await;

    // 40 days later no model has counts in this month's breakdown: each
    // model entity gets an empty retained config (removed in Home Assistant).
    let models_before = model_configs(&ha.latest);
    assert!(!models_before.is_empty());
    std::fs::write(dir.path().join("clock"), (40 * 86_400_000_i64).to_string()).unwrap();
    ha.until("empty configs for the models", |l| {
        model_configs(l).iter().all(|(_, m)| m.payload.is_empty())
    })
    .await;
    let mut late = Subscriber::connect(broker.port).await;
    late.until("the fixed configs, retained", |l| {
        l.get(&config_topic("sensor", "spend_today"))
            .is_some_and(|m| m.retain)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    late.drain();
    assert!(
        model_configs(&late.latest).is_empty(),
        "removed models are still retained: {:?}",
        model_configs(&late.latest)
    );

    let (_, log) = pulse.terminate();
    assert!(!log.contains(PASSWORD), "the password was logged:\n{log}");
    ha.until("offline on a clean stop", |l| {
        l.get(&format!("{BASE}/status"))
            .is_some_and(|m| m.payload == b"offline")
    })
    .await;
    eprintln!("e2e_mqtt main scenario: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_logged_without_the_password_and_never_stop_scraping() {
    let broker = Broker::start();
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let wrong = "wrong-Hunter2-pw";
    let pulse = start_pulse(&fake, &broker.url(wrong), dir.path());
    fake.advance_to(0).await;
    fake.advance_to(1).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !pulse.log().contains("connection refused") {
        assert!(
            Instant::now() < deadline,
            "no refusal logged:\n{}",
            pulse.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (metrics, _) = get(pulse.addr, "/api/v1/metrics").await;
    assert!(metrics["requests"].as_f64().unwrap() > 0.0, "{metrics}");
    for path in ["/health", "/api/v1/metrics", "/api/v2/summary"] {
        let (_, body) = get(pulse.addr, path).await;
        assert!(!body.contains(wrong), "{path}: {body}");
    }
    let (_, log) = pulse.terminate();
    assert!(log.contains("MQTT broker mqtt://127.0.0.1:"), "{log}");
    assert!(!log.contains(wrong), "the password was logged:\n{log}");
}

// --- forecasts and budgets ---------------------------------------------------

/// The spend forecasts and the `/api/v2/summary` window each one copies.
const FORECASTS: [(&str, &str); 3] = [
    ("spend_forecast_today", "today"),
    ("spend_forecast_week", "week"),
    ("spend_forecast_month", "month"),
];

/// Where the frozen test clock stands: `now` for pulse, so forecasts (which
/// move with every millisecond) can be compared exactly.
const FROZEN_NOW: &str = "=1795775400000"; // 2026-11-27T10:30:00Z

/// The non-empty retained sensor config whose entity is called `name`.
fn config_named(latest: &HashMap<String, Msg>, name: &str) -> Option<(String, Value)> {
    let head = format!("{PREFIX}/sensor/litellm_pulse/");
    latest.iter().find_map(|(topic, msg)| {
        if !topic.starts_with(&head) || msg.payload.is_empty() {
            return None;
        }
        let config: Value = serde_json::from_slice(&msg.payload).ok()?;
        (config["name"] == name).then(|| (topic.clone(), config))
    })
}

/// The latest state of the entity configured as `config`, as a number.
fn state_of(latest: &HashMap<String, Msg>, config: &Value) -> Option<f64> {
    let msg = latest.get(config["state_topic"].as_str()?)?;
    std::str::from_utf8(&msg.payload).ok()?.parse().ok()
}

/// The retained configs of budget entities with a payload.
fn budget_configs(latest: &HashMap<String, Msg>) -> Vec<String> {
    let head = format!("{PREFIX}/sensor/litellm_pulse/budget_");
    let mut out: Vec<String> = latest
        .iter()
        .filter(|(t, m)| t.starts_with(&head) && !m.payload.is_empty())
        .map(|(t, _)| t.clone())
        .collect();
    out.sort();
    out
}

/// Why the forecast and budget states differ from the API's bodies, if they do.
fn forecast_and_budget_mismatch(
    latest: &HashMap<String, Msg>,
    summary: &Value,
    budgets: &Value,
) -> Option<String> {
    for (object, window) in FORECASTS {
        let state: Option<f64> = latest
            .get(&state_topic(object))
            .and_then(|m| std::str::from_utf8(&m.payload).ok()?.parse().ok());
        let api = summary[window]["cost_forecast"].as_f64();
        if state.is_none() || state != api {
            return Some(format!("{object}: {state:?} ≠ {api:?}"));
        }
    }
    let list = budgets["budgets"].as_array()?;
    for b in list {
        let name = b["name"].as_str()?;
        for (suffix, field) in [("used", "percent"), ("forecast", "forecast_percent")] {
            let entity = format!("Budget {name} {suffix}");
            let Some((_, config)) = config_named(latest, &entity) else {
                return Some(format!("no config for {entity}"));
            };
            let (state, api) = (state_of(latest, &config), b[field].as_f64());
            if state.is_none() || state != api {
                return Some(format!("{entity}: {state:?} ≠ {api:?}"));
            }
        }
    }
    let configs = budget_configs(latest);
    (configs.len() != 2 * list.len())
        .then(|| format!("{} budgets, budget configs {configs:?}", list.len()))
}

/// Waits until the forecast and budget states equal `/api/v2/summary` and
/// `/api/v1/budgets` exactly; returns both bodies.
async fn budget_states_equal_the_api(sub: &mut Subscriber, addr: SocketAddr) -> (Value, Value) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (summary, _) = get(addr, "/api/v2/summary").await;
        let (budgets, _) = get(addr, "/api/v1/budgets").await;
        sub.drain();
        let Some(why) = forecast_and_budget_mismatch(&sub.latest, &summary, &budgets) else {
            return (summary, budgets);
        };
        assert!(
            Instant::now() < deadline,
            "forecast and budget states never equalled the API: {why}\n{summary}\n{budgets}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn sighup(pulse: &Running) {
    let ok = Command::new("kill")
        .args(["-HUP", &pulse.pid().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

const BUDGETS_TOML: &str = r#"
[[budget]]
name = "all spend"
limit = 0.05

[[budget]]
name = "daily tokens"
metric = "tokens"
period = "day"
limit = 1000
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forecasts_and_budgets_equal_the_api_and_removed_budgets_are_cleared() {
    let broker = Broker::start();
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("clock"), FROZEN_NOW).unwrap();
    let toml = dir.path().join("budgets.toml");
    std::fs::write(&toml, BUDGETS_TOML).unwrap();
    let url = broker.url(PASSWORD);
    let config = ("LITELLM_PULSE_CONFIG", toml.display().to_string());
    let monthly = ("LITELLM_PULSE_MONTHLY_BUDGET", "2.5".to_owned());
    let pulse = start_pulse_with(&fake, &url, dir.path(), &[config.clone(), monthly]);
    fake.advance_to(0).await;
    fake.advance_to(1).await;
    fake.advance_to(2).await;

    let mut ha = Subscriber::connect(broker.port).await;
    states_equal_the_api(&mut ha, pulse.addr).await;
    let (summary, budgets) = budget_states_equal_the_api(&mut ha, pulse.addr).await;
    assert!(
        summary["month"]["cost_forecast"].as_f64().unwrap()
            > summary["month"]["cost"].as_f64().unwrap(),
        "{summary}"
    );
    let names: Vec<&str> = budgets["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["all spend", "daily tokens", "monthly"]);
    assert!(
        budgets["budgets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["percent"].as_f64() > Some(0.0)),
        "{budgets}"
    );

    // The discovery payloads.
    for (object, _) in FORECASTS {
        let msg = &ha.latest[&config_topic("sensor", object)];
        assert!(msg.retain, "{object}");
        let c: Value = serde_json::from_slice(&msg.payload).unwrap();
        assert_eq!(c["unique_id"], format!("litellm_pulse_{object}"));
        assert_eq!(c["device_class"], "monetary", "{c}");
        assert_eq!(c["unit_of_measurement"], "USD");
        // Home Assistant allows only `total` with `monetary`; a forecast is none.
        assert!(c.get("state_class").is_none(), "{c}");
        assert_eq!(c["availability_topic"], "litellm-pulse/status");
        assert_eq!(c["device"]["identifiers"][0], "litellm_pulse");
    }
    for name in &names {
        let (topic, used) = config_named(&ha.latest, &format!("Budget {name} used")).unwrap();
        assert!(ha.latest[&topic].retain, "{topic}");
        let object = topic.split('/').nth(3).unwrap();
        assert!(object.starts_with("budget_"), "{topic}");
        assert_eq!(used["unique_id"], format!("litellm_pulse_{object}"));
        assert_eq!(used["state_topic"], format!("{BASE}/state/{object}"));
        assert_eq!(used["unit_of_measurement"], "%");
        assert_eq!(used["state_class"], "measurement");
        assert!(used.get("device_class").is_none(), "{used}");
        assert_eq!(used["device"]["name"], "LiteLLM Pulse");
        let (topic, forecast) =
            config_named(&ha.latest, &format!("Budget {name} forecast")).unwrap();
        assert!(ha.latest[&topic].retain, "{topic}");
        assert_eq!(forecast["unit_of_measurement"], "%");
        assert!(forecast.get("state_class").is_none(), "{forecast}");
    }
    let gone_on_reload: Vec<String> = ["used", "forecast"]
        .iter()
        .map(|s| {
            config_named(&ha.latest, &format!("Budget daily tokens {s}"))
                .unwrap()
                .0
        })
        .collect();
    let gone_on_restart: Vec<String> = ["used", "forecast"]
        .iter()
        .map(|s| {
            config_named(&ha.latest, &format!("Budget monthly {s}"))
                .unwrap()
                .0
        })
        .collect();

    // SIGHUP with a budget removed: its configs become empty (Home Assistant
    // removes the entities) and, retained, replace the old ones on the
    // broker (a late subscriber gets none); the others stay. A live
    // delivery carries no retain flag, so the late subscriber checks that.
    std::fs::write(
        &toml,
        BUDGETS_TOML
            .split("[[budget]]\nname = \"daily")
            .next()
            .unwrap(),
    )
    .unwrap();
    sighup(&pulse);
    ha.until("empty configs for the removed budget", |l| {
        gone_on_reload
            .iter()
            .all(|t| l.get(t).is_some_and(|m| m.payload.is_empty()))
    })
    .await;
    let (_, budgets) = budget_states_equal_the_api(&mut ha, pulse.addr).await;
    assert_eq!(budgets["budgets"].as_array().unwrap().len(), 2);
    let mut late = Subscriber::connect(broker.port).await;
    late.until("the remaining budgets, retained", |l| {
        budget_configs(l).len() == 4
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    late.drain();
    assert!(
        gone_on_reload.iter().all(|t| !late.latest.contains_key(t)),
        "{:?}",
        budget_configs(&late.latest)
    );
    drop(late);

    // A restart without the monthly budget: the new process finds its
    // configs retained from the earlier run and clears them.
    pulse.kill9();
    let pulse = start_pulse_with(&fake, &url, dir.path(), &[config]);
    ha.until("empty configs for the budget gone over a restart", |l| {
        gone_on_restart
            .iter()
            .all(|t| l.get(t).is_some_and(|m| m.payload.is_empty()))
    })
    .await;
    let (_, budgets) = budget_states_equal_the_api(&mut ha, pulse.addr).await;
    assert_eq!(budgets["budgets"][0]["name"], "all spend");
    let mut late = Subscriber::connect(broker.port).await;
    late.until("the one budget left, retained", |l| {
        budget_configs(l).len() == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    late.drain();
    assert_eq!(
        budget_configs(&late.latest).len(),
        2,
        "{:?}",
        budget_configs(&late.latest)
    );
    let (_, log) = pulse.terminate();
    assert!(!log.contains(PASSWORD), "the password was logged:\n{log}");
}

// --- mqtts:// -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_with_a_private_ca_and_no_credentials_in_the_log() {
    let broker = Broker::start_with(true);
    let fake = fake();
    let url = format!(
        "mqtts://{USER}:{PASSWORD}@127.0.0.1:{}",
        broker.tls_port.unwrap()
    );

    // Without the CA file the broker's certificate is not trusted (Mozilla
    // roots only): logged, without credentials, and retried.
    let dir = tempfile::tempdir().unwrap();
    let untrusting = start_pulse(&fake, &url, dir.path());
    let deadline = Instant::now() + Duration::from_secs(15);
    while !untrusting.log().contains("MQTT broker mqtts://127.0.0.1:") {
        assert!(
            Instant::now() < deadline,
            "no TLS failure logged:\n{}",
            untrusting.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, log) = untrusting.terminate();
    assert!(log.to_lowercase().contains("certificate"), "{log}");
    assert!(!log.contains("connected to the MQTT broker"), "{log}");
    assert!(!log.contains(PASSWORD), "the password was logged:\n{log}");

    // With the test CA: connected over TLS, discovery and states as over TCP.
    let dir = tempfile::tempdir().unwrap();
    let ca = (
        "LITELLM_PULSE_MQTT_CA_FILE",
        broker.ca_file().display().to_string(),
    );
    let pulse = start_pulse_with(&fake, &url, dir.path(), &[ca]);
    fake.advance_to(0).await;
    fake.advance_to(1).await;
    // The test's own subscriber uses the broker's plain listener.
    let mut ha = Subscriber::connect(broker.port).await;
    let metrics = states_equal_the_api(&mut ha, pulse.addr).await;
    assert!(metrics["cost"].as_f64().unwrap() > 0.0, "{metrics}");
    ha.until("online over TLS", |l| {
        l.get(&format!("{BASE}/status"))
            .is_some_and(|m| m.payload == b"online" && m.retain)
    })
    .await;
    let spend: Value =
        serde_json::from_slice(&ha.latest[&config_topic("sensor", "spend_month")].payload).unwrap();
    assert_eq!(spend["device_class"], "monetary");
    let (_, log) = pulse.terminate();
    assert!(
        log.contains("connected to the MQTT broker mqtts://127.0.0.1:"),
        "{log}"
    );
    assert!(log.contains("trusting the CA in"), "{log}");
    for secret in [PASSWORD, &format!("{USER}:{PASSWORD}")] {
        assert!(!log.contains(secret), "a credential was logged:\n{log}");
    }
    ha.until("offline on a clean stop", |l| {
        l.get(&format!("{BASE}/status"))
            .is_some_and(|m| m.payload == b"offline")
    })
    .await;
}
