//! `cargo xtask bench-alloc`: the global allocator of `litellm-pulse`, the
//! C library's (the baseline, feature `pulse-host/system-alloc`) and mimalloc
//! (the default), in the glibc and the static musl build: four binaries side
//! by side in the same run.
//!
//! Each binary serves on 127.0.0.1 and scrapes the test kit's fake LiteLLM
//! serving the demo's [`Simulator`] (two days of LiteLLM-shaped traffic, then
//! live) every `--interval` seconds, into a fresh database. The bench reads
//! `VmRSS` from `/proc` after the first scrape and `--idle` seconds without a
//! request, then sends `GET /api/v1/metrics` (or `--path`) over `--connections` keep-alive
//! HTTP/1.1 connections for `--seconds` (a thread per connection, writing the
//! request and reading the `Content-Length` body, so the client stays cheap),
//! then reads `VmRSS` again after another `--idle` seconds and the peak
//! (`VmHWM`). `RssAnon` is printed beside each `VmRSS`: the rest is the
//! binary's own mapped pages (9–12 MB), which no
//! allocator changes. The binaries run one at a time, in a rotating order over
//! `--runs`, so they never share the two cores; every figure is a range over
//! the runs, and every ratio is taken within a run.
//!
//! `--smaps` prints the idle process's resident memory per mapping, `--env`
//! passes `NAME=value` to the binaries (e.g. `MIMALLOC_PURGE_DELAY=0`). The
//! server's CPU over the load is printed in cores beside the req/s.
//! `--bin LABEL=PATH` (repeatable) measures another binary in the same
//! rotation, as one more column: a kept build of the previous commit or
//! profile beside the new one (`--only` narrows the four builds).
//!
//! The musl binaries are built as `cargo xtask dist` builds them (musl-gcc);
//! the features only change `pulse-host`, so the four builds share one target
//! directory per target without rebuilding each other's dependencies. The
//! binaries are copied to `target/bench/alloc/`; the default build is made
//! last, so `target/*/release/litellm-pulse` is the shipped one afterwards.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use pulse_testkit::fake::{FakeLiteLlm, Options};
use pulse_testkit::simulator::{Live, Simulator};

use crate::benchkit::{Killed, cpu_seconds, each_option_or_flag, name_value, proc_field};
use crate::cmd::{cargo, root, run};
use crate::dist::{self, Arch};

/// The goals for both builds.
const GOAL_REQ_S: f64 = 25_000.0;
const GOAL_IDLE_MB: f64 = 10.0;
/// The path the goals are for, and the one the load requests unless `--path`.
const DEFAULT_PATH: &str = "/api/v1/metrics";

/// Which C library the binary links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Libc {
    Glibc,
    Musl,
}

/// Which global allocator the binary has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Alloc {
    System,
    Mimalloc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Build {
    libc: Libc,
    alloc: Alloc,
}

impl Build {
    /// The baselines first: the default build is made last.
    const ALL: [Build; 4] = [
        Build::new(Libc::Glibc, Alloc::System),
        Build::new(Libc::Musl, Alloc::System),
        Build::new(Libc::Glibc, Alloc::Mimalloc),
        Build::new(Libc::Musl, Alloc::Mimalloc),
    ];

    const fn new(libc: Libc, alloc: Alloc) -> Build {
        Build { libc, alloc }
    }

    fn name(self) -> &'static str {
        match (self.libc, self.alloc) {
            (Libc::Glibc, Alloc::System) => "glibc + system",
            (Libc::Musl, Alloc::System) => "musl + system",
            (Libc::Glibc, Alloc::Mimalloc) => "glibc + mimalloc",
            (Libc::Musl, Alloc::Mimalloc) => "musl + mimalloc",
        }
    }

    fn file_name(self) -> String {
        format!(
            "litellm-pulse-{}-{}",
            match self.libc {
                Libc::Glibc => "glibc",
                Libc::Musl => "musl",
            },
            match self.alloc {
                Alloc::System => "system",
                Alloc::Mimalloc => "mimalloc",
            }
        )
    }

    fn features(self) -> &'static [&'static str] {
        match self.alloc {
            Alloc::System => &["--features", "pulse-host/system-alloc"],
            Alloc::Mimalloc => &[],
        }
    }

    /// Builds this binary and copies it to `dir`.
    fn make(self, dir: &Path) -> Result<PathBuf> {
        let built = match self.libc {
            Libc::Glibc => {
                run(cargo()
                    .args(["build", "--release", "--locked", "-p", "pulse-host"])
                    .args(self.features()))?;
                dist::target_dir().join("release/litellm-pulse")
            }
            Libc::Musl => dist::build_with(Arch::Amd64, self.features())?,
        };
        let to = dir.join(self.file_name());
        std::fs::copy(&built, &to)
            .with_context(|| format!("copying {} to {}", built.display(), to.display()))?;
        Ok(to)
    }
}

struct Opts {
    runs: usize,
    seconds: u64,
    connections: usize,
    idle: u64,
    interval: u64,
    no_build: bool,
    /// Print the idle process's memory per mapping (`/proc/PID/smaps`).
    smaps: bool,
    /// Extra environment for the binaries (`NAME=value`, e.g. `MIMALLOC_PURGE_DELAY=0`).
    env: Vec<(String, String)>,
    /// Only these builds (by file name suffix, e.g. `musl-mimalloc`); all when empty.
    only: Vec<String>,
    /// More binaries to measure in the same rotation (`LABEL=PATH`), e.g. a
    /// kept baseline build beside a changed one.
    extra: Vec<(String, PathBuf)>,
    /// The path the load requests (`/api/v1/metrics` unless `--path`).
    path: String,
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        runs: 3,
        seconds: 10,
        connections: 8,
        idle: 10,
        interval: 15,
        no_build: false,
        smaps: false,
        env: Vec::new(),
        only: Vec::new(),
        extra: Vec::new(),
        path: DEFAULT_PATH.to_owned(),
    };
    each_option_or_flag(args, &["--no-build", "--smaps"], |name, v| {
        match name {
            "--runs" => o.runs = v.parse()?,
            "--seconds" => o.seconds = v.parse()?,
            "--connections" => o.connections = v.parse()?,
            "--idle" => o.idle = v.parse()?,
            "--interval" => o.interval = v.parse()?,
            "--no-build" => o.no_build = true,
            "--smaps" => o.smaps = true,
            "--env" => {
                let (k, val) = name_value(v, "NAME=value")?;
                o.env.push((k.to_owned(), val.to_owned()));
            }
            "--path" => {
                if !v.starts_with('/') || v.contains(char::is_whitespace) {
                    bail!("not an absolute path without spaces");
                }
                o.path = v.to_owned();
            }
            "--only" => o.only.extend(v.split(',').map(str::to_owned)),
            "--bin" => {
                let (label, path) = name_value(v, "LABEL=PATH")?;
                o.extra.push((label.to_owned(), PathBuf::from(path)));
            }
            other => bail!("unknown option {other}"),
        }
        Ok(())
    })?;
    if o.seconds == 0 || o.connections == 0 || o.interval == 0 {
        bail!("--seconds, --connections and --interval must be at least 1");
    }
    o.runs = o.runs.max(1);
    Ok(o)
}

/// One binary's run.
#[derive(Debug, Clone, Copy, Default)]
struct RunResult {
    /// `VmRSS` MB after the first scrape and `--idle` seconds.
    idle_mb: f64,
    /// `RssAnon` MB then: the heap and stacks, without the binary's mapped pages.
    idle_anon_mb: f64,
    /// `GET` of the loaded path (`--path`) per second over the load.
    req_s: f64,
    /// The server's CPU (user + system) over the load, in cores.
    server_cores: f64,
    /// `VmRSS` MB `--idle` seconds after the load.
    after_mb: f64,
    /// `RssAnon` MB then.
    after_anon_mb: f64,
    /// `VmHWM` MB at the end.
    peak_mb: f64,
}

/// `field` (e.g. `VmRSS:`) of `/proc/PID/status`, in MB.
fn status_mb(pid: u32, field: &str) -> Result<f64> {
    let kb = proc_field(&format!("/proc/{pid}/status"), field)
        .with_context(|| format!("no {field} in /proc/{pid}/status"))?;
    Ok(kb as f64 / 1024.0)
}

/// A keep-alive HTTP/1.1 client of one path, reading `Content-Length` bodies.
struct Client {
    stream: TcpStream,
    request: Vec<u8>,
    buf: Vec<u8>,
}

impl Client {
    fn connect(port: u16, path: &str) -> Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Client {
            stream,
            request: format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").into_bytes(),
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    /// Sends the request and reads the whole response; returns its status and body.
    fn get(&mut self) -> Result<(u16, &[u8])> {
        self.stream.write_all(&self.request)?;
        self.buf.clear();
        let mut chunk = [0u8; 16 * 1024];
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                bail!("the server closed the connection mid-response");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).context("response head")?;
        let (status, length) = parse_head(head)?;
        while self.buf.len() < head_end + length {
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                bail!("the server closed the connection mid-body");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        if self.buf.len() > head_end + length {
            bail!("more bytes than Content-Length said (no pipelining here)");
        }
        Ok((status, &self.buf[head_end..]))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The status code and `Content-Length` of a response head.
fn parse_head(head: &str) -> Result<(u16, usize)> {
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.strip_prefix("HTTP/1.1 "))
        .and_then(|l| l.get(..3))
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("not an HTTP/1.1 response: {head:?}"))?;
    let length = lines
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .with_context(|| format!("no Content-Length (chunked?) in {head:?}"))?;
    Ok((status, length))
}

/// `GET path` over `connections` keep-alive connections for `seconds`: requests per second.
fn load(port: u16, path: &str, connections: usize, seconds: u64) -> Result<f64> {
    let mut clients = (0..connections)
        .map(|_| Client::connect(port, path))
        .collect::<Result<Vec<_>>>()?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let counts = std::thread::scope(|s| {
        let workers: Vec<_> = clients
            .iter_mut()
            .map(|c| {
                s.spawn(move || -> Result<u64> {
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        let (status, _) = c.get()?;
                        if status != 200 {
                            bail!("GET {path} answered {status}");
                        }
                        n += 1;
                    }
                    Ok(n)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .map_err(|_| anyhow::anyhow!("a load thread panicked"))?
            })
            .collect::<Result<Vec<u64>>>()
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    Ok(counts.iter().sum::<u64>() as f64 / elapsed)
}

/// Waits until `/health` says the first scrape succeeded.
fn wait_healthy(port: u16, child: &mut Killed, label: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(status) = child.0.try_wait()? {
            bail!("{label}: the binary exited with {status}");
        }
        let ok = Client::connect(port, "/health")
            .and_then(|mut c| {
                let (status, body) = c.get()?;
                Ok(status == 200 && find(body, b"\"status\":\"ok\"").is_some())
            })
            .unwrap_or(false);
        if ok {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{label}: no successful scrape within 60 s")
}

/// Runs `bin` once: idle, load, idle again.
fn measure(bin: &Path, label: &str, o: &Opts, fake_url: &str) -> Result<RunResult> {
    let slug: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let dir = root().join(format!(
        "target/bench/alloc/run-{slug}-{}",
        std::process::id()
    ));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--db-path")
        .arg(dir.join("pulse.db"))
        .args(["--metrics-url", fake_url])
        .args(["--scrape-interval", &o.interval.to_string()])
        .env("LITELLM_PULSE_LOG_LEVEL", "warn")
        .envs(o.env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let mut child = Killed(child);
    let pid = child.0.id();
    wait_healthy(port, &mut child, label)?;
    std::thread::sleep(Duration::from_secs(o.idle));
    let idle_mb = status_mb(pid, "VmRSS:")?;
    let idle_anon_mb = status_mb(pid, "RssAnon:")?;
    if o.smaps {
        print_smaps(pid, label)?;
    }
    let cpu_before = cpu_seconds(pid).unwrap_or(0.0);
    let started = Instant::now();
    let req_s =
        load(port, &o.path, o.connections, o.seconds).with_context(|| format!("{label}: load"))?;
    let server_cores =
        (cpu_seconds(pid).unwrap_or(0.0) - cpu_before) / started.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(o.idle));
    let after_mb = status_mb(pid, "VmRSS:")?;
    let after_anon_mb = status_mb(pid, "RssAnon:")?;
    let peak_mb = status_mb(pid, "VmHWM:")?;
    if let Some(status) = child.0.try_wait()? {
        bail!("{label}: the binary exited with {status} during the run");
    }
    drop(child);
    std::fs::remove_dir_all(&dir).ok();
    let r = RunResult {
        idle_mb,
        idle_anon_mb,
        req_s,
        server_cores,
        after_mb,
        after_anon_mb,
        peak_mb,
    };
    eprintln!(
        "{label}: {:.0} req/s (server {:.2} cores), idle {:.1} MB, after load {:.1} MB, peak {:.1} MB",
        r.req_s, r.server_cores, r.idle_mb, r.after_mb, r.peak_mb
    );
    Ok(r)
}

/// One group of mappings in `/proc/PID/smaps`: resident and anonymous kB.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct MapUse {
    rss_kb: u64,
    anon_kb: u64,
    count: usize,
}

/// `smaps` text summed per mapping name (the path, `[stack]`, or `[anon]` for
/// unnamed ones), largest resident first.
fn smaps_groups(text: &str) -> Vec<(String, MapUse)> {
    let mut groups: std::collections::BTreeMap<String, MapUse> = Default::default();
    let mut current = String::new();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let Some(first) = parts.next() else { continue };
        if first.contains('-') && !first.ends_with(':') {
            // A mapping's header: range perms offset dev inode [name].
            let name = parts.nth(4).unwrap_or("[anon]");
            current = name.to_owned();
            groups.entry(current.clone()).or_default().count += 1;
            continue;
        }
        let kb = parts
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        match first {
            "Rss:" => groups.entry(current.clone()).or_default().rss_kb += kb,
            "Anonymous:" => groups.entry(current.clone()).or_default().anon_kb += kb,
            _ => {}
        }
    }
    let mut v: Vec<_> = groups.into_iter().filter(|(_, u)| u.rss_kb > 0).collect();
    v.sort_by_key(|(_, u)| std::cmp::Reverse(u.rss_kb));
    v
}

/// Prints the idle process's resident memory per mapping and its threads.
fn print_smaps(pid: u32, label: &str) -> Result<()> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps"))
        .with_context(|| format!("reading /proc/{pid}/smaps"))?;
    let threads = proc_field(&format!("/proc/{pid}/status"), "Threads:").unwrap_or(0);
    eprintln!("{label}: idle, {threads} threads; resident kB per mapping (anonymous of it):");
    for (name, u) in smaps_groups(&text) {
        eprintln!(
            "  {:>7} ({:>6}) {:>3} map(s) {name}",
            u.rss_kb, u.anon_kb, u.count
        );
    }
    Ok(())
}

fn lo_hi(xs: impl IntoIterator<Item = f64>) -> (f64, f64) {
    xs.into_iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        })
}

/// `lo-hi` with `digits` decimals, or one number when they print the same.
fn range(xs: impl IntoIterator<Item = f64>, digits: usize) -> String {
    let (lo, hi) = lo_hi(xs);
    if lo > hi {
        // No runs (a build left out by `--only`).
        return "-".to_owned();
    }
    let (a, b) = (format!("{lo:.digits$}"), format!("{hi:.digits$}"));
    if a == b { a } else { format!("{a}-{b}") }
}

type Field = fn(&RunResult) -> f64;

const FIELDS: [(&str, Field, usize); 7] = [
    ("req/s GET the path", |r| r.req_s, 0),
    ("  server CPU, cores", |r| r.server_cores, 2),
    ("idle RSS MB after start", |r| r.idle_mb, 1),
    ("  of it anonymous (RssAnon)", |r| r.idle_anon_mb, 1),
    ("idle RSS MB after the load", |r| r.after_mb, 1),
    ("  of it anonymous (RssAnon)", |r| r.after_anon_mb, 1),
    ("peak RSS MB (VmHWM)", |r| r.peak_mb, 1),
];

/// `cargo xtask bench-alloc`.
pub fn bench_alloc(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let dir = root().join("target/bench/alloc");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let wanted = |b: Build| {
        o.only.is_empty()
            || o.only
                .iter()
                .any(|w| b.file_name().ends_with(&format!("-{w}")))
    };
    let mut bins = Build::ALL
        .iter()
        .map(|&b| {
            if !wanted(b) {
                Ok(None)
            } else if o.no_build {
                let bin = dir.join(b.file_name());
                if !bin.exists() {
                    bail!("--no-build: {} is missing", bin.display());
                }
                Ok(Some(bin))
            } else {
                b.make(&dir).map(Some)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let mut labels: Vec<String> = Build::ALL.iter().map(|b| b.name().to_owned()).collect();
    for (label, path) in &o.extra {
        if !path.exists() {
            bail!("--bin {label}: {} is missing", path.display());
        }
        labels.push(label.clone());
        bins.push(Some(path.clone()));
    }

    // The demo's simulated proxy, two days in, advanced to the wall clock on each scrape.
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    };
    let sim = Simulator::new(now_ms() - 2 * 86_400_000, chrono_tz::Tz::UTC, 0x5eed_cafe);
    let fake = FakeLiteLlm::start(
        Live::new(Arc::new(Mutex::new(sim)), now_ms),
        Options::open(),
    )?;
    let url = fake.url();

    println!(
        "{} run(s): per binary, the first scrape and {} s idle, then GET {} over {} \
         keep-alive connections for {} s, then {} s idle; scrapes every {} s",
        o.runs, o.idle, o.path, o.connections, o.seconds, o.idle, o.interval
    );
    let mut results: Vec<Vec<RunResult>> = vec![Vec::new(); bins.len()];
    for run in 0..o.runs {
        for k in 0..bins.len() {
            let i = (k + run) % bins.len();
            if let Some(bin) = &bins[i] {
                results[i].push(measure(bin, &labels[i], &o, &url)?);
            }
        }
    }
    drop(fake);

    println!();
    print!("{:<28}", "range over runs");
    for label in &labels {
        print!(" {label:>17}");
    }
    println!();
    for (name, f, digits) in FIELDS {
        print!("{name:<28}");
        for r in &results {
            print!(" {:>17}", range(r.iter().map(f), digits));
        }
        println!();
    }

    let index = |b: Build| Build::ALL.iter().position(|&x| x == b).unwrap_or(0);
    let pairs = [
        (
            "glibc: mimalloc / system",
            Build::new(Libc::Glibc, Alloc::Mimalloc),
            Build::new(Libc::Glibc, Alloc::System),
        ),
        (
            "musl: mimalloc / system",
            Build::new(Libc::Musl, Alloc::Mimalloc),
            Build::new(Libc::Musl, Alloc::System),
        ),
        (
            "musl+mimalloc / glibc+system",
            Build::new(Libc::Musl, Alloc::Mimalloc),
            Build::new(Libc::Glibc, Alloc::System),
        ),
    ];
    println!();
    print!("{:<28}", "ratio (within a run)");
    for (name, _, _) in pairs {
        print!(" {name:>28}");
    }
    println!();
    for (field, f, _) in FIELDS {
        print!("{field:<28}");
        for (_, new, base) in pairs {
            let (n, b) = (&results[index(new)], &results[index(base)]);
            let ratios = n.iter().zip(b).map(|(n, b)| f(n) / f(b));
            print!(" {:>28}", format!("{}x", range(ratios, 2)));
        }
        println!();
    }

    if o.path != DEFAULT_PATH {
        println!(
            "\n(the goals are for GET {DEFAULT_PATH}, not judged for {})",
            o.path
        );
        return Ok(());
    }
    println!("\ngoals: >= {GOAL_REQ_S:.0} req/s and <= {GOAL_IDLE_MB:.0} MB idle RSS, both builds");
    for b in [
        Build::new(Libc::Glibc, Alloc::Mimalloc),
        Build::new(Libc::Musl, Alloc::Mimalloc),
    ] {
        let r = &results[index(b)];
        if r.is_empty() {
            continue;
        }
        let (req_lo, _) = lo_hi(r.iter().map(|r| r.req_s));
        let (_, idle_hi) = lo_hi(r.iter().map(|r| r.idle_mb.max(r.after_mb)));
        println!(
            "  {:<17} slowest run {req_lo:.0} req/s ({}), most idle RSS {idle_hi:.1} MB ({})",
            b.name(),
            if req_lo >= GOAL_REQ_S {
                "met"
            } else {
                "NOT met"
            },
            if idle_hi <= GOAL_IDLE_MB {
                "met"
            } else {
                "NOT met"
            },
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_head_gives_status_and_length() {
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 42\r\n\r\n";
        assert_eq!(parse_head(head).unwrap(), (200, 42));
        let head = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(parse_head(head).unwrap(), (404, 0));
        let chunked = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        assert!(parse_head(chunked).is_err());
        assert!(parse_head("HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\n").is_err());
    }

    #[test]
    fn env_and_extra_binaries_are_name_value_pairs() {
        let args: Vec<String> = [
            "--env",
            "MIMALLOC_PURGE_DELAY=0",
            "--bin",
            "old=target/bench/old",
            "--smaps",
        ]
        .map(str::to_owned)
        .into();
        let o = parse(&args).unwrap();
        assert_eq!(o.env, [("MIMALLOC_PURGE_DELAY".to_owned(), "0".to_owned())]);
        assert_eq!(
            o.extra,
            [("old".to_owned(), PathBuf::from("target/bench/old"))]
        );
        assert!(o.smaps);
        assert!(parse(&["--env".to_owned(), "NOVALUE".to_owned()]).is_err());
        assert!(parse(&["--bin".to_owned(), "nolabel".to_owned()]).is_err());
        assert_eq!(o.path, "/api/v1/metrics");
        let path = |p: &str| parse(&["--path".to_owned(), p.to_owned()]).map(|o| o.path);
        assert_eq!(
            path("/api/v1/history?period=day").unwrap(),
            "/api/v1/history?period=day"
        );
        assert!(path("api/v1/history").is_err());
        assert!(path("/a b").is_err());
    }

    #[test]
    fn smaps_sum_per_mapping_name() {
        let text = "\
5555-5556 r-xp 00000000 08:01 42 /usr/bin/litellm-pulse
Rss:                 400 kB
Anonymous:             0 kB
5557-5558 rw-p 00001000 08:01 42 /usr/bin/litellm-pulse
Rss:                  12 kB
Anonymous:             8 kB
7f00-7f10 rw-p 00000000 00:00 0
Rss:                 100 kB
Anonymous:           100 kB
7ffd-7ffe rw-p 00000000 00:00 0 [stack]
Rss:                   8 kB
Anonymous:             8 kB
";
        let g = smaps_groups(text);
        let names: Vec<&str> = g.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["/usr/bin/litellm-pulse", "[anon]", "[stack]"]);
        assert_eq!(
            g[0].1,
            MapUse {
                rss_kb: 412,
                anon_kb: 8,
                count: 2
            }
        );
        assert_eq!(g[1].1.anon_kb, 100);
    }

    #[test]
    fn ranges_print_one_number_when_the_runs_agree() {
        assert_eq!(range([1.04, 1.01], 1), "1.0");
        assert_eq!(range([9.7, 12.26, 10.0], 1), "9.7-12.3");
        assert_eq!(range([25_000.4, 29_000.0], 0), "25000-29000");
        assert_eq!(range([], 1), "-");
    }

    #[test]
    fn the_default_build_is_made_last() {
        let last = Build::ALL.iter().rposition(|b| b.libc == Libc::Musl);
        assert_eq!(last.map(|i| Build::ALL[i].alloc), Some(Alloc::Mimalloc));
        let last = Build::ALL.iter().rposition(|b| b.libc == Libc::Glibc);
        assert_eq!(last.map(|i| Build::ALL[i].alloc), Some(Alloc::Mimalloc));
    }
}
