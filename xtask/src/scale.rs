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

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use pulse_testkit::fake::{FakeLiteLlm, Options, Reply, Responder};
use pulse_testkit::scale::ScaleBody;

use crate::benchkit::{
    Compare, DbStat, Pulse, alternate, cpu_seconds, each_option, file_len, free_port, median,
    peak_rss_mb, print_dbstat, proc_field, scrape_duration, this_build, wait_for, wal_of,
};
use crate::cmd::{read, root, run};

/// The commit the scale work started from.
const BASELINE_REV: &str = "1649e85";

/// A UTC day in milliseconds.
const DAY_MS: i64 = 86_400_000;

/// What the bench reads after one scrape.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    cpu_s: f64,
    hwm_mb: f64,
    wchar: u64,
    db_bytes: u64,
    wal_bytes: u64,
    scrape_s: Option<f64>,
}

/// What the 15-minute buckets of a finished run hold.
#[derive(Debug, Clone, Copy, Default)]
struct Buckets {
    /// Distinct bucket starts in `pulse_buckets`.
    starts: u64,
    /// Distinct UTC days in `pulse_buckets_day`.
    days: u64,
    /// Rows of `pulse_buckets`.
    rows: u64,
    /// Distinct (breakdown series, metric) pairs over all buckets: what each
    /// bucket would hold if every pair changed in it.
    pairs: u64,
}

impl Buckets {
    fn read(db: &Path) -> Result<Buckets> {
        let conn = rusqlite::Connection::open(db)?;
        let n = |sql: &str| -> Result<u64> {
            let v: i64 = conn.query_row(sql, [], |r| r.get(0))?;
            Ok(u64::try_from(v).unwrap_or(0))
        };
        Ok(Buckets {
            starts: n("SELECT COUNT(DISTINCT start_ms) FROM pulse_buckets")?,
            days: n("SELECT COUNT(DISTINCT start_ms) FROM pulse_buckets_day")?,
            rows: n("SELECT COUNT(*) FROM pulse_buckets")?,
            pairs: n(
                "SELECT COUNT(*) FROM (SELECT DISTINCT series_id, metric_id FROM pulse_buckets)",
            )?,
        })
    }
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
    /// The database per table and index after the run.
    stat: DbStat,
    buckets: Buckets,
}

impl RunResult {
    /// Database + WAL had the run scraped every 60 s over the same simulated
    /// time (`span_s`), estimated from its own per-row sizes: the scrape
    /// rows it did not write, and the bucket rows of the (series, metric)
    /// pairs that did not change in a bucket's only scrape but would have
    /// among its fifteen.
    fn at_60s_mb(&self, scrapes: u64, span_s: u64) -> f64 {
        let s = &self.stat;
        let scrape_rows = s.rows_of("pulse_scrapes").max(1);
        let per_scrape =
            (s.of("pulse_scrapes") + s.of("pulse_scrapes_at")) as f64 / scrape_rows as f64;
        let more_scrapes = (span_s / 60).saturating_sub(scrapes) as f64;
        let b = &self.buckets;
        let per_bucket_row =
            (s.of("pulse_buckets") + s.of("pulse_buckets_start")) as f64 / b.rows.max(1) as f64;
        let missing = (b.pairs * b.starts).saturating_sub(b.rows) as f64;
        self.db_mb + self.wal_mb + (more_scrapes * per_scrape + missing * per_bucket_row) / 1e6
    }
}

struct Shared {
    pid: Option<u32>,
    port: u16,
    db: PathBuf,
    samples: Vec<Sample>,
    last_cpu_s: f64,
    last_wchar: u64,
}

/// pulse's clock in a simulated day, set through the test clock file.
struct SimClock {
    path: PathBuf,
    /// The simulated time of scrape 1 (ms since the epoch).
    day_start_ms: i64,
    step_ms: i64,
    /// The offset written last.
    offset_ms: i64,
}

impl SimClock {
    /// Scrape 1 lands 5 s after the next UTC midnight: scrape 0 is the
    /// baseline (no deltas), one step before, so with a 900 s step scrapes
    /// 1 to 96 fill the 96 buckets of one UTC day.
    fn new(path: PathBuf, step_s: u64) -> SimClock {
        let now = system_ms();
        SimClock {
            path,
            day_start_ms: (now.div_euclid(DAY_MS) + 1) * DAY_MS + 5_000,
            step_ms: i64::try_from(step_s).unwrap_or(DAY_MS) * 1000,
            offset_ms: 0,
        }
    }

    /// Sets the clock so that `scrape`, which reads it a few seconds from
    /// now (at its tick), sees its simulated time plus those seconds: the
    /// real time a run takes does not add up over the scrapes. Atomic, as
    /// pulse reads the file on every call.
    fn set(&mut self, scrape: u64) -> std::io::Result<()> {
        let k = i64::try_from(scrape).unwrap_or(0);
        self.offset_ms = self.day_start_ms + (k - 1) * self.step_ms - system_ms();
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, self.offset_ms.to_string())?;
        std::fs::rename(&tmp, &self.path)
    }
}

fn system_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}

/// Serves the pre-generated rounds and reads the figures of the scrape before each request.
struct Bench {
    bodies: Receiver<Vec<u8>>,
    served: u64,
    scrapes: u64,
    shared: Arc<Mutex<Shared>>,
    clock: Option<SimClock>,
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
                    hwm_mb: peak_rss_mb(pid),
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
        let scrape = self.served;
        self.served += 1;
        // pulse read "now" for this scrape before asking: the next one gets the next step.
        let date = self.clock.as_mut().map(|c| {
            let now = system_ms() + c.offset_ms;
            c.set(scrape + 1).ok();
            now
        });
        if self.served > self.scrapes {
            return (Reply::other(503, "text/plain", "bench over"), ());
        }
        match self.bodies.recv() {
            Ok(body) => {
                let reply = Reply::prom(body);
                let reply = match date {
                    Some(d) => reply.dated(d),
                    None => reply,
                };
                (reply, ())
            }
            Err(_) => (Reply::other(503, "text/plain", "no body"), ()),
        }
    }
}

struct Opts {
    scrapes: u64,
    runs: usize,
    keys: usize,
    models: usize,
    every: usize,
    interval: u64,
    /// Seconds pulse's clock moves per scrape (the test clock file), if any.
    clock_step: Option<u64>,
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
        clock_step: None,
        rev: BASELINE_REV.to_owned(),
        base_bin: None,
        new_bin: None,
    };
    each_option(args, |name, v| {
        match name {
            "--scrapes" => o.scrapes = v.parse()?,
            "--runs" => o.runs = v.parse()?,
            "--keys" => o.keys = v.parse()?,
            "--models" => o.models = v.parse()?,
            "--every" => o.every = v.parse()?,
            "--interval" => o.interval = v.parse()?,
            "--clock-step" => o.clock_step = Some(v.parse()?),
            "--baseline-rev" => o.rev = v.to_owned(),
            "--baseline-bin" => o.base_bin = Some(v.into()),
            "--bin" => o.new_bin = Some(v.into()),
            other => bail!("unknown option {other}"),
        }
        Ok(())
    })?;
    if o.scrapes < 3 {
        bail!("--scrapes must be at least 3");
    }
    if o.clock_step == Some(0) {
        bail!("--clock-step must be at least 1 second");
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
    let port = free_port()?;
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
    let clock_path = dir.join("clock");
    let mut clock = o
        .clock_step
        .map(|step| SimClock::new(clock_path.clone(), step));
    if let Some(c) = &mut clock {
        c.set(0)?;
    }
    let fake = FakeLiteLlm::start(
        Bench {
            bodies: rx,
            served: 0,
            scrapes: o.scrapes,
            shared: Arc::clone(&shared),
            clock,
        },
        Options::open(),
    )?;
    let url = fake.url();
    let mut pulse = Pulse {
        bin,
        port,
        db: &db,
        metrics_url: &url,
        interval_s: o.interval,
        env: Vec::new(),
    };
    if o.clock_step.is_some() {
        pulse
            .env
            .push(("LITELLM_PULSE_TEST_CLOCK_FILE", clock_path.as_os_str()));
    }
    let mut child = pulse.spawn()?;
    {
        let mut s = shared.lock().unwrap_or_else(PoisonError::into_inner);
        s.pid = Some(child.0.id());
        s.last_cpu_s = cpu_seconds(child.0.id()).unwrap_or(0.0);
    }
    // A slow build's scrapes outlast the interval; ticks missed meanwhile are skipped.
    let deadline =
        Instant::now() + Duration::from_secs(o.interval * (o.scrapes + 4) + 20 * o.scrapes + 120);
    let scrapes = usize::try_from(o.scrapes).unwrap_or(usize::MAX);
    wait_for(&mut child, deadline, scrapes, "scrapes", || {
        shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .samples
            .len()
    })
    .with_context(|| format!("{label}: {}", bin.display()))?;
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
        peak_rss_mb: last.hwm_mb,
        db_mb: mb(last.db_bytes),
        wal_mb: mb(last.wal_bytes),
        written_mb: median(later.iter().map(|s| mb(s.wchar)).collect()),
        stat: DbStat::read(&db)?,
        buckets: Buckets::read(&db)?,
    };
    eprintln!(
        "{label}: first {:.3} s, per scrape {:.3} s, peak RSS {:.1} MB, db {:.1} + WAL {:.1} MB, {:?}",
        result.first_cpu_s,
        result.cpu_s,
        result.peak_rss_mb,
        result.db_mb,
        result.wal_mb,
        result.buckets
    );
    std::fs::remove_dir_all(&dir).ok();
    Ok(result)
}

/// `cargo xtask bench-scale`.
pub fn bench_scale(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let base = match &o.base_bin {
        Some(b) => b.clone(),
        None => baseline_binary(&o.rev)?,
    };
    let new = this_build(o.new_bin.as_deref())?;
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
    if let Some(step) = o.clock_step {
        println!(
            "simulated time: pulse's clock (LITELLM_PULSE_TEST_CLOCK_FILE) moves {step} s per scrape; \
             scrape 0 (the baseline, no deltas) is one step before the next UTC midnight, the {} \
             scrapes after it span {:.2} days from 00:00:05",
            o.scrapes - 1,
            ((o.scrapes - 1) * step) as f64 / 86_400.0
        );
    }
    // The revision names the baseline only when it was built from it.
    let rev = match o.base_bin {
        Some(_) => String::new(),
        None => format!(" ({})", o.rev),
    };
    println!(
        "baseline: {}{rev}\nnew:      {}",
        base.display(),
        new.display()
    );
    let version = |b: &Path| read(Command::new(b).arg("--version")).unwrap_or_default();
    println!("versions: {} / {}", version(&base), version(&new));
    let (bases, news) = alternate(
        o.runs,
        || measure(&base, &body, &o, "baseline"),
        || measure(&new, &body, &o, "new"),
    )?;
    println!();
    let cmp = Compare {
        left: "baseline",
        right: "new",
    };
    cmp.header("per build (range over runs)");
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
    let column = |v: &[RunResult], f: Field| v.iter().map(f).collect::<Vec<f64>>();
    for (name, f) in rows {
        cmp.row(name, &column(&bases, f), &column(&news, f));
    }
    if let Some(step) = o.clock_step {
        // The simulated time with deltas: scrape 0 is the baseline.
        let span = (o.scrapes - 1) * step;
        let at_60 = |v: &[RunResult]| {
            v.iter()
                .map(|r| r.at_60s_mb(o.scrapes, span))
                .collect::<Vec<_>>()
        };
        cmp.row(
            "database + WAL MB at 60 s scrapes (estimate)",
            &at_60(&bases),
            &at_60(&news),
        );
        type Count = fn(&RunResult) -> u64;
        let counts: [(&str, Count); 5] = [
            ("15-minute buckets written", |r| r.buckets.starts),
            ("UTC days in pulse_buckets_day", |r| r.buckets.days),
            ("pulse_buckets rows", |r| r.buckets.rows),
            ("  (series, metric) pairs x buckets", |r| {
                r.buckets.pairs * r.buckets.starts
            }),
            ("pulse_scrapes rows", |r| r.stat.rows_of("pulse_scrapes")),
        ];
        for (name, f) in counts {
            let c = |v: &[RunResult]| v.iter().map(|r| f(r) as f64).collect::<Vec<_>>();
            cmp.row(name, &c(&bases), &c(&news));
        }
        println!(
            "\nEach scrape is the only one in its 15-minute bucket. The body grows series i in round r \
             when i % {every} == r % {every}, i.e. one model of every key per round: each bucket gets a \
             row for every key, team, user, provider and end user (all change in every round) but for \
             one model of {models} (at the default --keys/--models/--every), where {per_bucket} scrapes at 60 s would touch them all. The \
             estimate adds those bucket rows and the scrape rows of 60 s scrapes ({} instead of {}) at \
             each run's own bytes per row.",
            span / 60,
            o.scrapes,
            every = o.every,
            models = o.models,
            per_bucket = step / 60,
        );
    }
    println!();
    print_dbstat(&cmp, &stats(&bases), &stats(&news));
    println!(
        "\nbody size {:.1} MB; goals: per scrape <= 0.120 s, peak RSS <= 120 MB, database <= 30 MB after a day",
        size as f64 / 1e6
    );
    Ok(())
}

fn stats(v: &[RunResult]) -> Vec<DbStat> {
    v.iter().map(|r| r.stat.clone()).collect()
}
