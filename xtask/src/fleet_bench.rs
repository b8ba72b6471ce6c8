//! `cargo xtask bench-fleet`: a fleet of small targets against one big
//! target with the same series, both scraped by the same build.
//!
//! The fleet is `--targets` fake LiteLLMs of pulse-testkit (default 100), each
//! on its own loopback port serving a [`ScaleBody`] of 1,000 series (20 keys ×
//! 10 models × 5 families, `_created` on, 10 % growing per round), with keys
//! numbered apart so that together they hold the label sets of the one big
//! target's body (2,000 keys: 100,000 series, about 58 MB). pulse follows the
//! fleet through a comma-separated `--metrics-url` with `--scrape-interval 15`
//! (`--interval` for quick runs). Every body of every round is generated
//! before pulse starts, in this process.
//!
//! A round starts when the first target gets its request for it: the bench
//! then reads pulse's CPU time (`/proc/PID/stat`). Round 0 (every series new,
//! plus start-up) is reported alone; rounds 1 to `--rounds` are the measured
//! ones: CPU % of one core = their CPU seconds / (rounds × 15 s), what the
//! issue's goal (under 10 % for 100 × 1,000 series every 15 s) is about. The
//! two configurations run one after the other, alternating over `--runs`;
//! every figure is a range over the runs with the ratio fleet / one target.
//! The fakes poll their listeners (100 threads waking every 5 ms in this
//! process), which loads the shared cores a little but is not pulse's CPU.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use pulse_testkit::fake::{FakeLiteLlm, Options, Reply, Responder};
use pulse_testkit::scale::ScaleBody;

use crate::benchkit::{
    Compare, Pulse, alternate, cpu_seconds, each_option, file_len, free_port, median, peak_rss_mb,
    scrape_duration, this_build, wait_for, wal_of,
};
use crate::cmd::root;

/// The interval the goal is stated for.
const GOAL_INTERVAL_S: f64 = 15.0;

/// Read when a round starts.
#[derive(Debug, Clone, Copy)]
struct Mark {
    cpu_s: f64,
    at: Instant,
    /// pulse's own duration of the round before.
    scrape_s: Option<f64>,
}

/// The marks of one run, shared by all its targets.
struct Marks {
    pid: u32,
    port: u16,
    /// `marks[i]`: when round `i + 1` started.
    marks: Vec<Mark>,
}

/// One target: its bodies, one per round, then 503.
struct Target {
    bodies: Vec<Vec<u8>>,
    served: usize,
    marks: Arc<Mutex<Marks>>,
}

impl Responder for Target {
    type Receipt = ();

    fn reply(&mut self) -> (Reply, ()) {
        let round = self.served;
        self.served += 1;
        if round > 0 {
            let mut m = self.marks.lock().unwrap_or_else(PoisonError::into_inner);
            // The first target asked for this round marks its start.
            if m.marks.len() == round - 1 {
                let mark = Mark {
                    cpu_s: cpu_seconds(m.pid).unwrap_or(0.0),
                    at: Instant::now(),
                    scrape_s: scrape_duration(m.port),
                };
                m.marks.push(mark);
            }
        }
        match self.bodies.get_mut(round) {
            Some(body) => (Reply::prom(std::mem::take(body)), ()),
            None => (Reply::other(503, "text/plain", "bench over"), ()),
        }
    }
}

struct Opts {
    targets: usize,
    keys: usize,
    models: usize,
    every: usize,
    rounds: usize,
    runs: usize,
    interval: u64,
    bin: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        targets: 100,
        keys: 20,
        models: 10,
        every: 10,
        rounds: 6,
        runs: 2,
        interval: 15,
        bin: None,
    };
    each_option(args, |name, v| {
        match name {
            "--targets" => o.targets = v.parse()?,
            "--keys" => o.keys = v.parse()?,
            "--models" => o.models = v.parse()?,
            "--every" => o.every = v.parse()?,
            "--rounds" => o.rounds = v.parse()?,
            "--runs" => o.runs = v.parse()?,
            "--interval" => o.interval = v.parse()?,
            "--bin" => o.bin = Some(v.into()),
            other => bail!("unknown option {other}"),
        }
        Ok(())
    })?;
    if o.targets < 2 || o.rounds < 1 || o.interval < 1 || o.keys < 1 {
        bail!("needs --targets >= 2, --rounds >= 1, --interval >= 1 and --keys >= 1");
    }
    o.runs = o.runs.max(1);
    Ok(o)
}

/// One configuration's run.
#[derive(Debug, Clone, Copy, Default)]
struct RunResult {
    /// Round 0: every series new, and pulse's start-up.
    first_cpu_s: f64,
    /// Median CPU seconds of rounds 1..=K.
    round_cpu_s: f64,
    /// CPU seconds of rounds 1..=K over K × 15 s, in % of one core.
    cpu_pct_15s: f64,
    /// The same over the measured wall time.
    cpu_pct_wall: f64,
    /// Median of pulse's own round duration over rounds 1..=K.
    scrape_s: f64,
    peak_rss_mb: f64,
    db_mb: f64,
    wal_mb: f64,
}

/// The bodies of rounds `0..=rounds` of each target.
fn bodies(parts: &[ScaleBody], rounds: usize) -> Vec<Vec<Vec<u8>>> {
    parts
        .iter()
        .map(|b| (0..=rounds as u64).map(|r| b.round(r)).collect())
        .collect()
}

/// Runs `bin` against one fake per entry of `parts` for `o.rounds` rounds after the first.
fn measure(bin: &Path, parts: &[ScaleBody], o: &Opts, label: &str) -> Result<RunResult> {
    let dir = root().join(format!("target/bench/fleet-{label}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("pulse.db");
    let port = free_port()?;
    let t0 = Instant::now();
    let all = bodies(parts, o.rounds);
    eprintln!(
        "{label}: generated {} bodies ({:.0} MB) in {:.1} s",
        all.len() * (o.rounds + 1),
        all.iter().flatten().map(Vec::len).sum::<usize>() as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    let marks = Arc::new(Mutex::new(Marks {
        pid: 0,
        port,
        marks: Vec::new(),
    }));
    let mut fakes = Vec::with_capacity(all.len());
    for b in all {
        fakes.push(FakeLiteLlm::start(
            Target {
                bodies: b,
                served: 0,
                marks: Arc::clone(&marks),
            },
            Options::open(),
        )?);
    }
    let urls: Vec<String> = fakes.iter().map(FakeLiteLlm::url).collect();
    let urls = urls.join(",");
    // The fakes' lock is taken before pulse can ask: set the pid first.
    let mut child = {
        let mut m = marks.lock().unwrap_or_else(PoisonError::into_inner);
        let child = Pulse {
            bin,
            port,
            db: &db,
            metrics_url: &urls,
            interval_s: o.interval,
            env: Vec::new(),
        }
        .spawn()?;
        m.pid = child.0.id();
        child
    };
    let start_cpu = cpu_seconds(child.0.id()).unwrap_or(0.0);
    let deadline = Instant::now() + Duration::from_secs(o.interval * (o.rounds as u64 + 4) + 120);
    wait_for(&mut child, deadline, o.rounds + 1, "rounds", || {
        marks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .marks
            .len()
    })
    .with_context(|| format!("{label}: {}", bin.display()))?;
    let peak_rss_mb = peak_rss_mb(child.0.id());
    let (db_bytes, wal_bytes) = (file_len(&db), file_len(&wal_of(&db)));
    child.stop();
    drop(fakes);
    let m = marks
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .marks
        .clone();
    let k = o.rounds;
    let per_round: Vec<f64> = m.windows(2).map(|w| w[1].cpu_s - w[0].cpu_s).collect();
    let total = m[k].cpu_s - m[0].cpu_s;
    let wall = (m[k].at - m[0].at).as_secs_f64();
    let result = RunResult {
        first_cpu_s: m[0].cpu_s - start_cpu,
        round_cpu_s: median(per_round),
        cpu_pct_15s: 100.0 * total / (k as f64 * GOAL_INTERVAL_S),
        cpu_pct_wall: 100.0 * total / wall,
        scrape_s: median(m[1..].iter().filter_map(|x| x.scrape_s).collect()),
        peak_rss_mb,
        db_mb: db_bytes as f64 / 1e6,
        wal_mb: wal_bytes as f64 / 1e6,
    };
    eprintln!("{label}: {result:?}");
    std::fs::remove_dir_all(&dir).ok();
    Ok(result)
}

/// `cargo xtask bench-fleet`.
pub fn bench_fleet(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let bin = this_build(o.bin.as_deref())?;
    let fleet: Vec<ScaleBody> = (0..o.targets)
        .map(|t| ScaleBody::keys_from(t * o.keys, o.keys, o.models, 5, o.every))
        .collect();
    let one = [ScaleBody::new(o.targets * o.keys, o.models, 5, o.every)];
    println!(
        "fleet: {} targets x {} series ({} keys x {} models x 5 families, _created on, {:.2} MB, \
         {} growing per round); one target: the same {} series in one {:.1} MB body",
        o.targets,
        fleet[0].series(),
        o.keys,
        o.models,
        fleet[0].round(1).len() as f64 / 1e6,
        fleet[0].changing_per_round(),
        one[0].series(),
        one[0].round(1).len() as f64 / 1e6,
    );
    println!(
        "1 + {} rounds every {} s, {} run(s) alternating; build {}",
        o.rounds,
        o.interval,
        o.runs,
        bin.display()
    );
    let (ones, fleets) = alternate(
        o.runs,
        || measure(&bin, &one, &o, "one"),
        || measure(&bin, &fleet, &o, "fleet"),
    )?;
    println!();
    let cmp = Compare {
        left: "one target",
        right: "fleet",
    };
    cmp.header("per configuration (range over runs)");
    type Field = fn(&RunResult) -> f64;
    let mut rows: Vec<(&str, Field)> = vec![
        ("round 0, CPU s (all series new, start-up)", |r| {
            r.first_cpu_s
        }),
        ("per round, CPU s (median of rounds 1..)", |r| r.round_cpu_s),
        ("per round, pulse's own duration s (median)", |r| r.scrape_s),
        ("CPU % of one core per 15 s (rounds 1..)", |r| r.cpu_pct_15s),
    ];
    if o.interval != 15 {
        rows.push(("CPU % of one core at this interval", |r| r.cpu_pct_wall));
    }
    rows.extend([
        ("peak RSS MB (VmHWM)", (|r| r.peak_rss_mb) as Field),
        ("database MB after the rounds", |r| r.db_mb),
        ("WAL MB after the rounds", |r| r.wal_mb),
        ("database + WAL MB", |r| r.db_mb + r.wal_mb),
    ]);
    for (name, f) in rows {
        let c = |v: &[RunResult]| v.iter().map(f).collect::<Vec<_>>();
        cmp.row(name, &c(&ones), &c(&fleets));
    }
    println!(
        "\nCPU % per 15 s = CPU seconds of the measured rounds / (rounds x 15 s); \
         goal: {} targets x {} series every 15 s under 10 % of one core",
        o.targets,
        fleet[0].series()
    );
    Ok(())
}
