//! `cargo xtask <task>`: project automation that needs more than cargo.
//!
//! Tasks:
//! - `gen-body <path> [--bytes N] [--seed S]`: writes the deterministic
//!   LiteLLM-shaped benchmark body (default 10 MiB), so other benchmarks
//!   (the wasm/Node one) measure the same bytes.
//! - `bench-parser [--bytes N] [--runs N] [--criterion]`: times our parser and
//!   the Python reference (`litellm-pulse==0.3.0` from PyPI, in a venv under
//!   `target/bench/venv`) on the same body and prints MB/s and the ratio.
//! - `setup`: installs the Rust targets, the pinned wasm-bindgen CLI, wasm-pack,
//!   zig and cargo-zigbuild, and (as root) the Debian packages the tests run.
//! - `demo [ARGS]`: builds the dashboard and runs `litellm-pulse demo` (the README's run command).
//! - `test`: every check CI runs (the README's test command); `test --quick`:
//!   formatting, clippy, unit and pure integration tests, without web/dist.
//! - `web`: builds pulse-wasm's packages and the dashboard into `web/dist`.
//! - `musl`, `arm64`: build the Docker image's static binary for x86_64 or
//!   aarch64 and check it (static, `--version`, serve, healthcheck; arm64 under qemu).
//! - `dist <amd64|arm64> <out>`: the Dockerfile's build of that binary, copied to `out`.
//! - `backtest [--from RFC3339] [--months N] [--zone ZONE] [--seed S]`: the
//!   month forecast replayed on the demo's simulated traffic (error after day 5, 10, 20).
//! - `bench-scale [--scrapes N] [--runs N] …`: one target with 100,000
//!   tracked series (a 54 MB body, 10 % growing per scrape), the baseline
//!   build (`--baseline-rev`) and this tree's side by side: CPU per scrape,
//!   peak RSS, database and WAL size, bytes written per scrape, and ratios;
//!   the database per table and index (dbstat). `--clock-step 900 --scrapes 97`
//!   moves pulse's clock 15 minutes per scrape: a simulated day of buckets.
//! - `bench-fleet [--targets N] [--rounds N] [--runs N] …`: 100 targets × 1,000
//!   series every 15 s against one target with the same 100,000 series, the
//!   same build: CPU % of one core per 15 s, peak RSS, database + WAL.
//! - `bench-alloc [--runs N] [--seconds S] [--connections C] …`: the C
//!   library's allocator and mimalloc in the glibc and the static musl build,
//!   side by side: idle RSS before and after a load, and `/api/v1/metrics` req/s
//!   with the server's CPU; `--smaps` prints the idle memory per mapping,
//!   `--bin LABEL=PATH` adds another binary (e.g. a kept baseline) to the rotation.
//! - `time-parser <path> [--runs N]`: used by `bench-parser`; times
//!   `pulse_core::parse` and `scan_sample_totals` in this (release) process.
#![allow(clippy::print_stdout, reason = "a command-line tool reports on stdout")]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::cmd::{cargo, read, root, run};

mod alloc;
mod backtest;
mod benchkit;
mod cmd;
mod dist;
mod fleet_bench;
mod flow;
mod scale;
#[cfg(test)]
mod tidy;

use pulse_testkit::body::litellm_body;

/// Default size of the benchmark body.
const DEFAULT_BYTES: usize = 10 * 1024 * 1024;
/// Seed of the benchmark body; the criterion bench uses the same.
const DEFAULT_SEED: u64 = 42;
/// The Python release we compare against.
const REFERENCE: &str = "litellm-pulse==0.3.0";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        print_usage();
        return Ok(());
    };
    match task.as_str() {
        "setup" => flow::setup(),
        "demo" => flow::demo(rest),
        "test" => flow::test(rest),
        "web" => flow::build_web(),
        "musl" => dist::musl(),
        "arm64" => dist::arm64(),
        "dist" => dist::dist(rest),
        "gen-body" => gen_body(rest),
        "backtest" => backtest::run(rest),
        "bench-parser" => bench_parser(rest),
        "bench-scale" => scale::bench_scale(rest),
        "bench-fleet" => fleet_bench::bench_fleet(rest),
        "bench-alloc" => alloc::bench_alloc(rest),
        "time-parser" => time_parser(rest),
        "help" | "--help" | "-h" => {
            print_usage();
            Ok(())
        }
        other => {
            print_usage();
            bail!("unknown task {other:?}")
        }
    }
}

fn print_usage() {
    println!(
        "usage: cargo xtask <task>\n\n\
         tasks:\n  \
         demo [ARGS]                              build the dashboard and run `litellm-pulse demo`\n  \
         test [--quick]                           run every check CI runs (--quick: fmt, clippy, unit tests)\n  \
         setup                                    install the tools the two commands above need\n  \
         web                                      build pulse-wasm and web/dist\n  \
         musl | arm64                             build and check the image's static x86_64 | aarch64 binary\n  \
         dist <amd64|arm64> <out>                 build that binary as the Dockerfile does, copy it to <out>\n  \
         gen-body <path> [--bytes N] [--seed S]   write the LiteLLM-shaped benchmark body\n  \
         backtest [--months N] [--zone Z]         the month forecast on the demo's simulated traffic\n  \
         bench-parser [--bytes N] [--runs N] [--criterion]\n                                           \
         compare our parser with the Python reference\n  \
         time-parser <path> [--runs N]            time our parser on a file (run in release)\n  \
         bench-scale [--scrapes N] [--runs N] [--keys N] [--models N] [--every N] [--interval S]\n             \
         [--clock-step S] [--bin P] [--baseline-bin P | --baseline-rev R]\n                                           \
         100k tracked series: the baseline build and this one side by side;\n                                           \
         --clock-step 900 --scrapes 97: a simulated day, database per table\n  \
         bench-fleet [--targets N] [--keys N] [--rounds N] [--runs N] [--interval S] [--bin P]\n                                           \
         100 targets x 1,000 series vs one target with the same 100k series\n  \
         bench-alloc [--runs N] [--seconds S] [--connections C] [--idle S] [--no-build]\n             \
         [--only glibc-mimalloc,musl-system,...] [--smaps] [--env NAME=value] [--bin LABEL=PATH] [--path P]\n                                           \
         system allocator vs mimalloc, glibc and musl: idle RSS and req/s of /api/v1/metrics (or P)"
    );
}

/// Parsed `--name value` options and positional arguments.
struct Opts {
    positional: Vec<String>,
    bytes: usize,
    seed: u64,
    runs: usize,
    criterion: bool,
}

fn parse_opts(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        positional: Vec::new(),
        bytes: DEFAULT_BYTES,
        seed: DEFAULT_SEED,
        runs: 50,
        criterion: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .with_context(|| format!("{name} needs a value"))
                .cloned()
        };
        match a.as_str() {
            "--bytes" => o.bytes = value("--bytes")?.parse().context("--bytes")?,
            "--seed" => o.seed = value("--seed")?.parse().context("--seed")?,
            "--runs" => o.runs = value("--runs")?.parse().context("--runs")?,
            "--criterion" => o.criterion = true,
            s if s.starts_with("--") => bail!("unknown option {s}"),
            s => o.positional.push(s.to_string()),
        }
    }
    o.runs = o.runs.max(1);
    Ok(o)
}

fn write_body(path: &Path, bytes: usize, seed: u64) -> Result<usize> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let body = litellm_body(bytes, seed);
    std::fs::write(path, &body).with_context(|| format!("writing {}", path.display()))?;
    Ok(body.len())
}

fn gen_body(args: &[String]) -> Result<()> {
    let o = parse_opts(args)?;
    let [path] = o.positional.as_slice() else {
        bail!("usage: cargo xtask gen-body <path> [--bytes N] [--seed S]");
    };
    let n = write_body(Path::new(path), o.bytes, o.seed)?;
    println!("wrote {n} bytes to {path}");
    Ok(())
}

fn mb_per_s(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

/// Times our parser in this process; meant to run as a release build.
fn time_parser(args: &[String]) -> Result<()> {
    let o = parse_opts(args)?;
    let [path] = o.positional.as_slice() else {
        bail!("usage: cargo xtask time-parser <path> [--runs N]");
    };
    let body = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let expo = pulse_core::parse::parse(&body).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(e) = expo.errors.first() {
        bail!("the body has {} bad lines, first: {e}", expo.errors.len());
    }
    println!(
        "samples={} labels={} families={}",
        expo.samples.len(),
        expo.labels.len(),
        expo.families.len()
    );
    drop(expo);
    let best = |f: &dyn Fn()| {
        (0..o.runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let parse = best(&|| {
        std::hint::black_box(pulse_core::parse::parse(std::hint::black_box(&body)).ok());
    });
    let scan = best(&|| {
        std::hint::black_box(
            pulse_core::parse::scan_sample_totals(std::hint::black_box(&body)).ok(),
        );
    });
    println!(
        "parse_seconds={parse:.6} parse_mb_s={:.1}",
        mb_per_s(body.len(), parse)
    );
    println!(
        "scan_seconds={scan:.6} scan_mb_s={:.1}",
        mb_per_s(body.len(), scan)
    );
    Ok(())
}

/// The value of `key=` in `text`, if present.
fn field(text: &str, key: &str) -> Option<f64> {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

/// The Python that times the reference: best of `runs` calls.
const PY_TIMER: &str = r#"
import sys, time
from litellm_pulse.parser import parse_prometheus_text
text = open(sys.argv[1], encoding="utf-8").read()
runs = int(sys.argv[2])
best = float("inf")
for _ in range(runs):
    t = time.perf_counter()
    totals = parse_prometheus_text(text)
    best = min(best, time.perf_counter() - t)
print(f"names={len(totals)} seconds={best:.6f}")
"#;

/// Sets up the venv with the reference and times it; `None` with a reason
/// when that is not possible (no Python, no network).
fn time_python(root: &Path, body: &Path, runs: usize) -> Result<f64> {
    let venv = root.join("target/bench/venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    if read(Command::new(&python).args(["-c", "import litellm_pulse.parser"])).is_err() {
        run(Command::new(&python).args(["-m", "pip", "install", "--quiet", REFERENCE]))?;
    }
    let out = read(
        Command::new(&python)
            .args(["-c", PY_TIMER])
            .arg(body)
            .arg(runs.to_string()),
    )?;
    println!("python: {out}");
    field(&out, "seconds").context("no timing in the Python output")
}

fn bench_parser(args: &[String]) -> Result<()> {
    let o = parse_opts(args)?;
    let root = root();
    let body_path = root.join("target/bench/litellm-10mb.prom");
    let bytes = write_body(&body_path, o.bytes, DEFAULT_SEED)?;
    println!("body: {} ({bytes} bytes)", body_path.display());

    println!("building and timing pulse-core (release) ...");
    let ours = read(
        cargo()
            .args(["run", "--quiet", "--release", "-p", "xtask", "--"])
            .arg("time-parser")
            .arg(&body_path)
            .args(["--runs", &o.runs.to_string()]),
    )?;
    println!("rust:   {}", ours.replace('\n', "\n        "));
    let parse_s = field(&ours, "parse_seconds").context("no parse timing")?;
    let scan_s = field(&ours, "scan_seconds").context("no scan timing")?;

    // The Python parser takes seconds per run on 10 MB; a few runs suffice.
    let python = time_python(&root, &body_path, o.runs.min(5));

    println!();
    println!("{:<44} {:>10} {:>10}", "parser (same body)", "ms", "MB/s");
    let row = |name: &str, s: f64| {
        println!("{name:<44} {:>10.2} {:>10.1}", s * 1e3, mb_per_s(bytes, s));
    };
    row("pulse_core::parse (labels decoded)", parse_s);
    row("pulse_core::scan_sample_totals", scan_s);
    match python {
        Ok(py_s) => {
            row("python litellm_pulse.parser (0.3.0)", py_s);
            println!();
            println!(
                "parse is {:.1}x the Python reference's speed",
                py_s / parse_s
            );
            println!("scan_sample_totals is {:.1}x", py_s / scan_s);
        }
        Err(e) => println!("python reference: not measured: {e:#}"),
    }

    if o.criterion {
        run(cargo().args(["bench", "-p", "pulse-core", "--bench", "parse"]))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_from_key_value_output() {
        let out = "samples=3 labels=4\nparse_seconds=0.004000 parse_mb_s=2500.0\n";
        assert_eq!(field(out, "parse_seconds"), Some(0.004));
        assert_eq!(field(out, "parse_mb_s"), Some(2500.0));
        assert_eq!(field(out, "scan_seconds"), None);
    }

    #[test]
    fn generated_body_is_deterministic_and_valid() {
        let a = litellm_body(200_000, 7);
        let b = litellm_body(200_000, 7);
        assert_eq!(a, b);
        assert_ne!(a, litellm_body(200_000, 8));
        let expo = pulse_core::parse::parse(&a).unwrap();
        assert!(expo.errors.is_empty(), "{:?}", expo.errors.first());
        assert!((150_000..260_000).contains(&a.len()), "{}", a.len());
    }
}
