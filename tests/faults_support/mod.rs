//! Helpers of the fault-injection suite: a model of LiteLLM workers served by
//! the test kit's fake (which can misbehave at the byte level), the release
//! binary as a child process, and a raw HTTP/1.1 client.
//!
//! The fake renders its body from a small model of counters, so a test knows
//! exactly what was served: every complete good answer is recorded, and
//! [`FakeLiteLlm::expected`] is the increase served since pulse's baseline.
#![allow(dead_code, reason = "each test uses a different subset")]

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::MutexGuard;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pulse_testkit::exposition::{CounterRow, Kind, TextWriter};
use pulse_testkit::{Delivery, Options, Reply, Responder};
use serde_json::Value;

/// Pulse's per-scrape timeout in every case, in seconds.
pub const SCRAPE_TIMEOUT_S: f64 = 0.6;
/// How long a slow or stalled answer waits: well beyond the timeout.
pub const SLOW: Duration = Duration::from_millis(2500);
/// The body cap given to pulse in every case.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How the fake answers its next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The rendered counters, as LiteLLM would.
    Good,
    /// Not listening at all: connections are refused.
    Down,
    /// The good body, but only after [`SLOW`].
    Slow,
    /// This status with a short text body.
    Status(u16),
    /// `/metrics/` redirects to itself.
    RedirectLoop,
    /// 200 with an HTML login page.
    Html,
    /// 200 with a JSON object.
    Json,
    /// 200 with an empty body.
    Empty,
    /// The good body cut in half below a `Content-Length` for all of it.
    Truncated,
    /// Chunked encoding, half the body, then the connection closes.
    ChunkedAbort,
    /// A valid but oversized body (beyond [`MAX_BODY_BYTES`]), no length.
    TooLarge,
    /// Half the body, then silence for [`SLOW`].
    Stall,
}

/// One labelled counter pair (requests and spend) of one LiteLLM worker.
#[derive(Debug, Clone)]
struct Series {
    model: String,
    requests: u64,
    /// Spend in millionths of a dollar, so sums are exact integers here.
    cost_micros: u64,
    created: f64,
    visible: bool,
    /// Reset by a restart and not incremented since: gets a new `_created`.
    restarted: bool,
}

/// One LiteLLM process: its series and how much traffic it has counted in
/// total (across its own restarts).
#[derive(Debug, Clone)]
struct Worker {
    series: Vec<Series>,
    cum_requests: u64,
    cum_cost: u64,
}

/// The values of one served body: per model, (requests, cost in micros).
pub type Served = BTreeMap<String, (u64, u64)>;

/// The LiteLLM workers behind the test kit's fake, and what they served.
struct Workers {
    mode: Mode,
    workers: Vec<Worker>,
    with_created: bool,
    /// Alternate the answering worker on every good answer.
    bounce: bool,
    next_worker: usize,
    /// Complete good answers.
    served: u64,
    /// Per worker, cumulative traffic at its first and latest good answer.
    first: Vec<Option<(u64, u64)>>,
    last: Vec<Option<(u64, u64)>>,
    /// Every good body, in order.
    log: Vec<Served>,
}

/// What a good answer held: the worker, its cumulative traffic and the
/// values in the body.
type Receipt = (usize, (u64, u64), Served);

impl Responder for Workers {
    type Receipt = Option<Receipt>;

    /// The body and what it holds are taken together, under the fake's
    /// lock, so traffic added while it is being sent cannot be recorded as served.
    fn reply(&mut self) -> (Reply, Option<Receipt>) {
        let w = self.next_worker;
        let worker = &self.workers[w];
        let snapshot: Served = worker
            .series
            .iter()
            .filter(|x| x.visible)
            .map(|x| (x.model.clone(), (x.requests, x.cost_micros)))
            .collect();
        let receipt = (w, (worker.cum_requests, worker.cum_cost), snapshot);
        let body = render(worker, self.with_created);
        let reply = match self.mode {
            // Recorded as served only once the whole answer left.
            Mode::Good | Mode::Down => return (Reply::prom(body), Some(receipt)),
            Mode::Slow => Reply::prom(body).with_delivery(Delivery::After(SLOW)),
            Mode::Status(code) => {
                let text = match code {
                    401 => "\"Unauthorized access to metrics endpoint\"",
                    _ => "upstream error",
                };
                Reply::other(code, "text/plain", text)
            }
            Mode::RedirectLoop => Reply::prom("").with_delivery(Delivery::RedirectLoop),
            Mode::Html => Reply::other(
                200,
                "text/html",
                "<!doctype html><html><body>Sign in</body></html>",
            ),
            Mode::Json => {
                Reply::other(200, "application/json", "{\"detail\":\"metrics disabled\"}")
            }
            Mode::Empty => Reply::prom(""),
            Mode::Truncated => Reply::prom(body).with_delivery(Delivery::Truncated),
            Mode::ChunkedAbort => Reply::prom(body).with_delivery(Delivery::ChunkedAbort),
            Mode::TooLarge => {
                // Valid exposition text: the real body, then comments.
                let mut big = body;
                let pad = "# padding padding padding padding padding padding padding\n";
                while big.len() <= 3 * MAX_BODY_BYTES {
                    big.push_str(pad);
                }
                // No length: the cap must cut the stream, not just the header.
                Reply::prom(big).with_delivery(Delivery::Unbounded)
            }
            Mode::Stall => Reply::prom(body).with_delivery(Delivery::Stall(SLOW)),
        };
        (reply, None)
    }

    fn delivered(&mut self, receipt: Option<Receipt>) {
        let Some((w, cum, snapshot)) = receipt else {
            return;
        };
        if self.first[w].is_none() {
            self.first[w] = Some(cum);
        }
        self.last[w] = Some(cum);
        self.log.push(snapshot);
        self.served += 1;
        if self.bounce {
            self.next_worker = (w + 1) % self.workers.len();
        }
    }

    fn refuse_connections(&self) -> bool {
        self.mode == Mode::Down
    }
}

/// The controllable fake LiteLLM: the test kit's server in front of
/// [`Workers`].
pub struct FakeLiteLlm {
    pub addr: SocketAddr,
    fake: pulse_testkit::FakeLiteLlm<Workers>,
}

/// Seconds since the epoch, with a fraction, like LiteLLM's `_created`.
pub fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

impl FakeLiteLlm {
    /// Starts `workers` LiteLLM workers, each with one series per model
    /// holding `initial` requests (and 1000 µ$ each) of traffic from before
    /// pulse. Each worker's series were created at a different time.
    pub fn start(
        workers: usize,
        models: &[&str],
        initial: u64,
        with_created: bool,
        mode: Mode,
    ) -> FakeLiteLlm {
        let t0 = now_s();
        let workers = (0..workers)
            .map(|w| Worker {
                series: models
                    .iter()
                    .map(|m| Series {
                        model: (*m).to_owned(),
                        requests: initial,
                        cost_micros: initial * 1000,
                        created: t0 - 600.0 + 37.25 * w as f64,
                        visible: true,
                        restarted: false,
                    })
                    .collect(),
                cum_requests: initial * models.len() as u64,
                cum_cost: initial * 1000 * models.len() as u64,
            })
            .collect::<Vec<_>>();
        let n = workers.len();
        let state = Workers {
            mode,
            workers,
            with_created,
            bounce: false,
            next_worker: 0,
            served: 0,
            first: vec![None; n],
            last: vec![None; n],
            log: Vec::new(),
        };
        let fake = pulse_testkit::FakeLiteLlm::start(state, Options::open()).unwrap();
        FakeLiteLlm {
            addr: fake.addr,
            fake,
        }
    }

    fn state(&self) -> MutexGuard<'_, Workers> {
        self.fake.lock()
    }

    /// The URL pulse scrapes (LiteLLM answers it with a 307 to `/metrics/`).
    pub fn url(&self) -> String {
        self.fake.url()
    }

    /// Switches the behaviour of the next requests.
    pub fn set_mode(&self, mode: Mode) {
        self.state().mode = mode;
    }

    /// Alternates the answering worker on each good answer (several
    /// LiteLLM workers without a shared multiprocess directory).
    pub fn set_bounce(&self, on: bool) {
        self.state().bounce = on;
    }

    /// Makes worker `w` answer next (and every time while not bouncing).
    pub fn set_worker(&self, w: usize) {
        self.state().next_worker = w;
    }

    /// `requests` requests costing `cost_micros` µ$ in total on model
    /// `series` of worker `w`. A series hidden by a restart reappears, created
    /// now, as LiteLLM creates a series on its first increment.
    pub fn traffic(&self, w: usize, series: usize, requests: u64, cost_micros: u64) {
        let mut s = self.state();
        let with_created = s.with_created;
        let worker = &mut s.workers[w];
        let x = &mut worker.series[series];
        if x.restarted && with_created {
            x.created = now_s();
        }
        x.restarted = false;
        x.visible = true;
        x.requests += requests;
        x.cost_micros += cost_micros;
        worker.cum_requests += requests;
        worker.cum_cost += cost_micros;
    }

    /// LiteLLM worker `w` restarts: every labelled series vanishes (values
    /// back to zero) until traffic brings it back with a new `_created`.
    pub fn restart(&self, w: usize) {
        let mut s = self.state();
        for x in &mut s.workers[w].series {
            x.visible = false;
            x.restarted = true;
            x.requests = 0;
            x.cost_micros = 0;
        }
    }

    /// Hides or shows one series of worker `w` without changing it.
    pub fn set_visible(&self, w: usize, series: usize, visible: bool) {
        self.state().workers[w].series[series].visible = visible;
    }

    /// Requests for `/metrics/` so far (good or not).
    pub fn hits(&self) -> u64 {
        self.fake.seen().hits
    }

    /// Complete good answers so far.
    pub fn served(&self) -> u64 {
        self.state().served
    }

    /// Every good body served, in order.
    pub fn log(&self) -> Vec<Served> {
        self.state().log.clone()
    }

    /// Waits for `n` more good answers.
    pub fn wait_served(&self, n: u64) {
        let target = self.served() + n;
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.served() < target {
            assert!(
                Instant::now() < deadline,
                "the fake was not scraped {n} more times within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until pulse has fully processed a good answer of the current
    /// state: pulse scrapes one at a time, so a second good answer can only
    /// be requested after the first one's scrape (and write) finished.
    pub fn settle(&self) {
        self.wait_served(2);
    }

    /// Forgets the baselines: the next good answer is pulse's new baseline
    /// (after its database was replaced).
    pub fn rebaseline(&self) {
        let mut s = self.state();
        s.first.iter_mut().for_each(|f| *f = None);
        s.last.iter_mut().for_each(|f| *f = None);
    }

    /// The increase served since pulse's baseline: per worker, its
    /// cumulative traffic at its latest good answer minus at its first
    /// (requests, cost in µ$). Traffic not served yet is not included.
    pub fn expected(&self) -> (u64, u64) {
        let s = self.state();
        let mut out = (0, 0);
        for (f, l) in s.first.iter().zip(&s.last) {
            if let (Some(f), Some(l)) = (f, l) {
                out.0 += l.0 - f.0;
                out.1 += l.1 - f.1;
            }
        }
        out
    }

    /// Traffic of all workers since they started (served or not).
    pub fn cumulative(&self) -> (u64, u64) {
        let s = self.state();
        s.workers.iter().fold((0, 0), |acc, w| {
            (acc.0 + w.cum_requests, acc.1 + w.cum_cost)
        })
    }
}

/// A LiteLLM-shaped body: requests and spend per model, with `_created`
/// when enabled, plus an untracked gauge so a body without labelled series
/// (right after a restart) is still valid exposition text.
fn render(worker: &Worker, with_created: bool) -> String {
    let labels = |m: &str| -> Vec<(&'static str, String)> {
        vec![
            ("api_key_alias", "None".to_owned()),
            ("end_user", "None".to_owned()),
            ("hashed_api_key", "abc123".to_owned()),
            ("requested_model", m.to_owned()),
            ("team", "None".to_owned()),
            ("user", "default_user_id".to_owned()),
        ]
    };
    let visible: Vec<&Series> = worker.series.iter().filter(|x| x.visible).collect();
    let label_sets: Vec<_> = visible.iter().map(|x| labels(&x.model)).collect();
    let mut w = TextWriter::default();
    w.family("python_info", Kind::Gauge, "Python platform information")
        .sample(
            "python_info",
            [("implementation", "CPython"), ("major", "3")],
            1.0,
        );
    for family in [
        "litellm_proxy_total_requests_metric",
        "litellm_spend_metric",
    ] {
        let value = |x: &Series| {
            if family == "litellm_spend_metric" {
                x.cost_micros as f64 / 1e6
            } else {
                x.requests as f64
            }
        };
        let rows: Vec<CounterRow<'_, &str>> = visible
            .iter()
            .zip(&label_sets)
            .map(|(x, labels)| CounterRow {
                labels,
                value: value(x),
                created_s: x.created,
            })
            .collect();
        if with_created {
            w.counter(family, "Total", &rows);
        } else {
            let total = format!("{family}_total");
            w.family(&total, Kind::Counter, "Total");
            for r in &rows {
                w.sample(&total, r.labels.iter().map(|(n, v)| (*n, v)), r.value);
            }
        }
    }
    w.finish()
}

/// Days since 1970-01-01 → (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The local calendar date `(year, month, day, weekday)` in a fixed UTC
/// offset of `offset_h` hours, `shift_ms` after now; weekday 0 is Monday.
pub fn local_date(offset_h: i64, shift_ms: i64) -> (i64, i64, i64, i64) {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let days = (ms + shift_ms + offset_h * 3_600_000).div_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    (y, m, d, (days + 3).rem_euclid(7))
}

/// The UTC offset in hours of a zone named by [`noon_zone`].
pub fn zone_offset_h(zone: &str) -> i64 {
    match zone.strip_prefix("Etc/GMT") {
        Some("") => 0,
        // POSIX sign: Etc/GMT-5 is UTC+5.
        Some(rest) => -rest.parse::<i64>().unwrap(),
        None => panic!("not a noon_zone name: {zone}"),
    }
}

/// A zone whose local time is near noon now, so that "today" holds the
/// whole run whenever the suite runs (fixed offsets, no DST).
pub fn noon_zone() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let hour = (secs % 86_400 / 3600) as i64;
    let offset = 12 - hour; // -11..=12
    match offset {
        0 => "Etc/GMT".to_owned(),
        // POSIX-style names: Etc/GMT-5 is five hours *ahead* of UTC.
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    }
}

use pulse_tests::process::{Running, scrub_env};
pub use pulse_tests::process::{pulse_bin, pulse_command};

/// A raw HTTP response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Resp {
    /// The body as JSON (Null when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Sends `request` bytes as is and reads the answer until the server closes.
pub fn raw_request(addr: SocketAddr, request: &[u8]) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(request)?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    parse_response(&buf).ok_or_else(|| std::io::Error::new(ErrorKind::InvalidData, "no response"))
}

/// `GET path` with `Connection: close`.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<Resp> {
    raw_request(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

fn parse_response(buf: &[u8]) -> Option<Resp> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let raw = &buf[end + 4..];
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked { dechunk(raw) } else { raw.to_vec() };
    Some(Resp {
        status,
        head,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..i])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || raw.len() < i + 2 + size {
            break;
        }
        out.extend_from_slice(&raw[i + 2..i + 2 + size]);
        raw = &raw[(i + 4 + size).min(raw.len())..];
    }
    out
}

/// How to start pulse.
#[derive(Debug, Clone)]
pub struct PulseOpts {
    pub metrics_url: String,
    pub db_path: PathBuf,
    pub tz: String,
    /// Run under `sh` with SIGXFSZ ignored, so a file-size limit set later
    /// with `prlimit --pid` fails writes (EFBIG, like a full disk) instead
    /// of killing the process.
    pub ignore_sigxfsz: bool,
    /// More variables, set last (they override the defaults above).
    pub env: Vec<(String, String)>,
}

impl PulseOpts {
    pub fn new(metrics_url: String, db_path: PathBuf) -> PulseOpts {
        PulseOpts {
            metrics_url,
            db_path,
            tz: noon_zone(),
            ignore_sigxfsz: false,
            env: Vec::new(),
        }
    }

    /// Adds one more variable for the process.
    pub fn with_env(mut self, key: &str, value: &str) -> PulseOpts {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// A running `litellm-pulse`.
pub struct Pulse {
    proc: Running,
    pub addr: SocketAddr,
}

impl Pulse {
    /// Starts the binary and waits for its listening line.
    pub fn start(opts: &PulseOpts) -> Pulse {
        let mut cmd = if opts.ignore_sigxfsz {
            let mut c = Command::new("sh");
            // An ignored signal stays ignored across exec.
            c.args(["-c", "trap '' XFSZ; exec \"$0\""]).arg(pulse_bin());
            scrub_env(&mut c);
            c
        } else {
            pulse_command()
        };
        let timeout = SCRAPE_TIMEOUT_S.to_string();
        let max_body = MAX_BODY_BYTES.to_string();
        cmd.envs([
            ("LITELLM_PULSE_METRICS_URL", opts.metrics_url.as_str()),
            ("LITELLM_PULSE_SCRAPE_INTERVAL", "1"),
            ("LITELLM_PULSE_SCRAPE_TIMEOUT", timeout.as_str()),
            ("LITELLM_PULSE_MAX_BODY_BYTES", max_body.as_str()),
            ("LITELLM_PULSE_PORT", "0"),
            ("LITELLM_PULSE_HOST", "127.0.0.1"),
            ("LITELLM_PULSE_TIMEZONE", opts.tz.as_str()),
            ("LITELLM_PULSE_LOG_LEVEL", "info"),
        ]);
        cmd.env("LITELLM_PULSE_DB_PATH", &opts.db_path);
        cmd.envs(opts.env.iter().map(|(k, v)| (k, v)));
        let proc = Running::spawn(cmd);
        Pulse {
            addr: proc.addr,
            proc,
        }
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Everything the process logged so far.
    pub fn log(&self) -> String {
        self.proc.log()
    }

    /// GET `path`; panics (with the log) when pulse does not answer.
    pub fn get(&self, path: &str) -> Resp {
        http_get(self.addr, path)
            .unwrap_or_else(|e| panic!("GET {path}: {e}\nlog:\n{}", self.log()))
    }

    /// GET `path` as JSON, expecting 200.
    pub fn json(&self, path: &str) -> Value {
        let r = self.get(path);
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        r.json()
    }

    /// One sample of pulse's own `/metrics`, e.g.
    /// `litellm_pulse_scrapes_total{result="error"}`.
    pub fn own_metric(&self, sample: &str) -> f64 {
        let body = self.get("/metrics").body;
        body.lines()
            .find_map(|l| {
                let (name, v) = l.rsplit_once(' ')?;
                (name == sample).then(|| v.parse().ok())?
            })
            .unwrap_or_else(|| panic!("no {sample} in\n{body}"))
    }

    /// Waits until pulse has recorded `n` more failed scrapes.
    pub fn wait_failures(&self, n: u64) {
        let key = "litellm_pulse_scrapes_total{result=\"error\"}";
        let target = self.own_metric(key) + n as f64;
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.own_metric(key) < target {
            assert!(
                Instant::now() < deadline,
                "no {n} failed scrapes within 20 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Asserts the all-time and window totals of requests and cost, and
    /// that pulse is alive.
    pub fn assert_totals(&self, requests: u64, cost_micros: u64, context: &str) {
        let m = self.json("/api/v1/metrics");
        let cost = cost_micros as f64 / 1e6;
        for suffix in ["", "_daily", "_weekly", "_monthly"] {
            assert_eq!(
                m[format!("requests{suffix}")].as_f64(),
                Some(requests as f64),
                "{context}: requests{suffix} in {m}"
            );
            assert_eq!(
                m[format!("cost{suffix}")].as_f64(),
                Some(cost),
                "{context}: cost{suffix} in {m}"
            );
        }
        let live = self.get("/livez");
        assert_eq!(live.status, 200, "{context}: /livez {}", live.body);
    }

    /// Sends SIGKILL and reaps the process.
    pub fn kill9(self) {
        self.proc.kill9();
    }

    /// Sends SIGTERM and waits for a clean exit; returns the log.
    pub fn terminate(self) -> String {
        let (status, log) = self.proc.terminate();
        assert!(status.success(), "exit {status}:\n{log}");
        log
    }
}

/// A small seeded generator (SplitMix64): the kill test is reproducible.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo)
    }
}
