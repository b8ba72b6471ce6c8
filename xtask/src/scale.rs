//! `cargo xtask bench-scale`: one target with many tracked series, the
//! baseline build and this tree's build side by side in the same run.
//!
//! Each build scrapes the fake LiteLLM of pulse-testkit serving
//! [`ScaleBody`] rounds (100,000 series with `_created`, about 54 MB, 10 %
//! of the series growing per round at the defaults). The scrape loop of
//! pulse is sequential, so when request `k` arrives, scrape `k − 1` has been
//! parsed, tracked and committed: that is when the bench reads the process'
//! CPU time, peak RSS (`VmHWM`) and bytes written (`wchar`, all `write`
//! calls: the database, its WAL and logs) from `/proc`, the database and WAL
//! sizes, and pulse's own `litellm_pulse_scrape_duration_seconds` (fetch,
//! parse and track). The builds run one after the other, in alternating
//! order over `--runs`, so they do not share the two cores; every figure is
//! printed as a range over the runs with the ratio new / baseline.
//!
//! The baseline is built from `--baseline-rev` (default: the merge base of
//! the scale work, 1649e85) in a `git worktree` under the system's temp
//! directory, with its own target directory, once.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use pulse_testkit::fake::{FakeLiteLlm, Options, Reply, Responder};
use pulse_testkit::scale::ScaleBody;

use crate::cmd::{cargo, read, root, run};

/// The commit the scale work started from.
const BASELINE_REV: &str = "1649e85";

/// What the bench reads after one scrape.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    cpu_s: f64,
    hwm_kb: u64,
    wchar: u64,
    db_bytes: u64,
    wal_bytes: u64,
    scrape_s: Option<f64>,
}

/// One build's run.
#[derive(Debug, Clone, Default)]
struct RunResult {
    /// The first scrape (every series new).
    first_cpu_s: f64,
    /// Median CPU seconds of the later scrapes.
    cpu_s: f64,
    /// Median of pulse's own scrape duration over the later scrapes.
    scrape_s: f64,
    peak_rss_mb: f64,
    db_mb: f64,
    wal_mb: f64,
    /// Median bytes written per later scrape, MB.
    written_mb: f64,
}

struct Shared {
    pid: Option<u32>,
    port: u16,
    db: PathBuf,
    samples: Vec<Sample>,
    last_cpu_s: f64,
    last_wchar: u64,
}

/// Serves the pre-generated rounds and reads the figures of the scrape before each request.
struct Bench {
    bodies: Receiver<Vec<u8>>,
    served: u64,
    scrapes: u64,
    shared: Arc<Mutex<Shared>>,
}

impl Responder for Bench {
    type Receipt = ();

    fn reply(&mut self) -> (Reply, ()) {
        if self.served > 0 {
            let mut s = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(pid) = s.pid {
                let cpu = cpu_seconds(pid).unwrap_or(0.0);
                let wchar = proc_field(&format!("/proc/{pid}/io"), "wchar:").unwrap_or(0);
                let sample = Sample {
                    cpu_s: cpu - s.last_cpu_s,
                    hwm_kb: proc_field(&format!("/proc/{pid}/status"), "VmHWM:").unwrap_or(0),
                    wchar: wchar.saturating_sub(s.last_wchar),
                    db_bytes: file_len(&s.db),
                    wal_bytes: file_len(&wal_of(&s.db)),
                    scrape_s: scrape_duration(s.port),
                };
                s.last_cpu_s = cpu;
                s.last_wchar = wchar;
                s.samples.push(sample);
            }
        }
        self.served += 1;
        if self.served > self.scrapes {
            return (Reply::other(503, "text/plain", "bench over"), ());
        }
        match self.bodies.recv() {
            Ok(body) => (Reply::prom(body), ()),
            Err(_) => (Reply::other(503, "text/plain", "no body"), ()),
        }
    }
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

fn wal_of(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

/// `field` (e.g. `VmHWM:`) of a `/proc` file with `name: value` lines.
fn proc_field(path: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// User plus system CPU seconds of `pid` (`/proc/PID/stat`, 100 ticks a second).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// pulse's own duration of its latest scrape, from its `/metrics`.
fn scrape_duration(port: u16) -> Option<f64> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("litellm_pulse_scrape_duration_seconds "))?
        .trim()
        .parse()
        .ok()
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Opts {
    scrapes: u64,
    runs: usize,
    keys: usize,
    models: usize,
    every: usize,
    interval: u64,
    rev: String,
    base_bin: Option<PathBuf>,
    new_bin: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        scrapes: 12,
        runs: 2,
        keys: 2_000,
        models: 10,
        every: 10,
        interval: 3,
        rev: BASELINE_REV.to_owned(),
        base_bin: None,
        new_bin: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut v = || {
            it.next()
                .with_context(|| format!("{a} needs a value"))
                .cloned()
        };
        match a.as_str() {
            "--scrapes" => o.scrapes = v()?.parse().context("--scrapes")?,
            "--runs" => o.runs = v()?.parse().context("--runs")?,
            "--keys" => o.keys = v()?.parse().context("--keys")?,
            "--models" => o.models = v()?.parse().context("--models")?,
            "--every" => o.every = v()?.parse().context("--every")?,
            "--interval" => o.interval = v()?.parse().context("--interval")?,
            "--baseline-rev" => o.rev = v()?,
            "--baseline-bin" => o.base_bin = Some(v()?.into()),
            "--bin" => o.new_bin = Some(v()?.into()),
            other => bail!("unknown option {other}"),
        }
    }
    if o.scrapes < 3 {
        bail!("--scrapes must be at least 3");
    }
    o.runs = o.runs.max(1);
    Ok(o)
}

/// The release binary of `rev`, built once in a worktree under the temp directory.
fn baseline_binary(rev: &str) -> Result<PathBuf> {
    let tmp = std::env::temp_dir();
    let tree = tmp.join(format!("pulse-base-{rev}"));
    let target = tmp.join("pulse-base-target");
    let bin = target.join("release/litellm-pulse");
    if !tree.exists() {
        run(Command::new("git")
            .current_dir(root())
            .args(["worktree", "add", "--detach"])
            .arg(&tree)
            .arg(rev))?;
    }
    run(Command::new("cargo")
        .current_dir(&tree)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTUP_TOOLCHAIN")
        .args(["build", "--release", "-p", "pulse-host"]))?;
    Ok(bin)
}

/// Runs `bin` for `o.scrapes` scrapes of the scale body.
fn measure(bin: &Path, body: &ScaleBody, o: &Opts, label: &str) -> Result<RunResult> {
    let dir = root().join(format!("target/bench/scale-{label}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("pulse.db");
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let (tx, rx) = sync_channel::<Vec<u8>>(1);
    let gen_body = body.clone();
    let scrapes = o.scrapes;
    let generator = std::thread::spawn(move || {
        for r in 0..scrapes {
            if tx.send(gen_body.round(r)).is_err() {
                break;
            }
        }
    });
    let shared = Arc::new(Mutex::new(Shared {
        pid: None,
        port,
        db: db.clone(),
        samples: Vec::new(),
        last_cpu_s: 0.0,
        last_wchar: 0,
    }));
    let fake = FakeLiteLlm::start(
        Bench {
            bodies: rx,
            served: 0,
            scrapes: o.scrapes,
            shared: Arc::clone(&shared),
        },
        Options::open(),
    )?;
    let child = Command::new(bin)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--db-path",
        ])
        .arg(&db)
        .args(["--metrics-url", &fake.url()])
        .args(["--scrape-interval", &o.interval.to_string()])
        .env("LITELLM_PULSE_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let mut child = Killed(child);
    {
        let mut s = shared.lock().unwrap_or_else(PoisonError::into_inner);
        s.pid = Some(child.0.id());
        s.last_cpu_s = cpu_seconds(child.0.id()).unwrap_or(0.0);
    }
    let deadline = Instant::now() + Duration::from_secs(o.interval * (o.scrapes + 4) + 120);
    loop {
        let n = shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .samples
            .len() as u64;
        if n >= o.scrapes {
            break;
        }
        if Instant::now() > deadline {
            bail!("{label}: only {n} of {} scrapes in time", o.scrapes);
        }
        if let Some(status) = child.0.try_wait()? {
            bail!("{label}: {} exited with {status}", bin.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.stop();
    drop(fake);
    generator.join().ok();
    let samples = shared
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .samples
        .clone();
    let later = &samples[1..];
    let last = samples.last().copied().unwrap_or_default();
    let mb = |b: u64| b as f64 / 1e6;
    let result = RunResult {
        first_cpu_s: samples[0].cpu_s,
        cpu_s: median(later.iter().map(|s| s.cpu_s).collect()),
        scrape_s: median(later.iter().filter_map(|s| s.scrape_s).collect()),
        peak_rss_mb: last.hwm_kb as f64 / 1024.0,
        db_mb: mb(last.db_bytes),
        wal_mb: mb(last.wal_bytes),
        written_mb: median(later.iter().map(|s| mb(s.wchar)).collect()),
    };
    eprintln!("{label}: {result:?}");
    std::fs::remove_dir_all(&dir).ok();
    Ok(result)
}

/// A started pulse, killed when the bench ends, also on an error.
struct Killed(Child);

impl Killed {
    fn stop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `cargo xtask bench-scale`.
pub fn bench_scale(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let base = match &o.base_bin {
        Some(b) => b.clone(),
        None => baseline_binary(&o.rev)?,
    };
    let new = match &o.new_bin {
        Some(b) => b.clone(),
        None => {
            run(cargo().args(["build", "--release", "-p", "pulse-host"]))?;
            crate::dist::target_dir().join("release/litellm-pulse")
        }
    };
    let body = ScaleBody::new(o.keys, o.models, 5, o.every);
    let size = body.round(1).len();
    println!(
        "scale body: {} series ({} keys x {} models x 5 families, _created on), {:.1} MB, \
         {} series growing per scrape; {} scrapes every {} s, {} run(s)",
        body.series(),
        o.keys,
        o.models,
        size as f64 / 1e6,
        body.changing_per_round(),
        o.scrapes,
        o.interval,
        o.runs
    );
    println!(
        "baseline: {} ({})\nnew:      {}",
        base.display(),
        o.rev,
        new.display()
    );
    let version = |b: &Path| read(Command::new(b).arg("--version")).unwrap_or_default();
    println!("versions: {} / {}", version(&base), version(&new));
    let mut bases = Vec::new();
    let mut news = Vec::new();
    for run in 0..o.runs {
        if run % 2 == 0 {
            bases.push(measure(&base, &body, &o, "baseline")?);
            news.push(measure(&new, &body, &o, "new")?);
        } else {
            news.push(measure(&new, &body, &o, "new")?);
            bases.push(measure(&base, &body, &o, "baseline")?);
        }
    }
    println!();
    println!(
        "{:<44} {:>17} {:>17} {:>15}",
        "per build (range over runs)", "baseline", "new", "new / baseline"
    );
    type Field = fn(&RunResult) -> f64;
    let rows: [(&str, Field); 8] = [
        ("first scrape, CPU s (all series new)", |r| r.first_cpu_s),
        ("per scrape, CPU s (median)", |r| r.cpu_s),
        ("per scrape, pulse's own duration s", |r| r.scrape_s),
        ("peak RSS MB (VmHWM)", |r| r.peak_rss_mb),
        ("database MB after the scrapes", |r| r.db_mb),
        ("WAL MB after the scrapes", |r| r.wal_mb),
        ("database + WAL MB", |r| r.db_mb + r.wal_mb),
        ("bytes written per scrape MB (median)", |r| r.written_mb),
    ];
    for (name, f) in rows {
        let range = |v: &[RunResult]| {
            let xs: Vec<f64> = v.iter().map(f).collect();
            let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if (hi - lo).abs() < 1e-9 {
                format!("{lo:.3}")
            } else {
                format!("{lo:.3}-{hi:.3}")
            }
        };
        let ratios: Vec<f64> = bases.iter().zip(&news).map(|(b, n)| f(n) / f(b)).collect();
        let rlo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let rhi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        println!(
            "{name:<44} {:>17} {:>17} {:>15}",
            range(&bases),
            range(&news),
            if (rhi - rlo).abs() < 1e-3 {
                format!("{rlo:.3}x")
            } else {
                format!("{rlo:.3}-{rhi:.3}x")
            }
        );
    }
    println!(
        "\nbody size {:.1} MB; goals: per scrape <= 0.120 s, peak RSS <= 120 MB, database <= 30 MB after a day",
        size as f64 / 1e6
    );
    Ok(())
}
