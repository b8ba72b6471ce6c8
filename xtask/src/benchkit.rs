//! What the process benches (`bench-scale`, `bench-fleet`) share: reading a
//! running pulse from `/proc` and its `/metrics`, starting and killing it,
//! medians, the side-by-side table of ranges and ratios, and the size of a
//! database per table and index (SQLite's `dbstat`).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cmd::{cargo, run};

/// Length of a file, 0 when it does not exist.
pub fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

/// The WAL file beside an SQLite database.
pub fn wal_of(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

/// `field` (e.g. `VmHWM:`) of a `/proc` file with `name: value` lines.
pub fn proc_field(path: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Peak RSS (`VmHWM`) of `pid` in MB (MiB, as `/proc` counts kB).
pub fn peak_rss_mb(pid: u32) -> f64 {
    proc_field(&format!("/proc/{pid}/status"), "VmHWM:").unwrap_or(0) as f64 / 1024.0
}

/// User plus system CPU seconds of `pid` (`/proc/PID/stat`, 100 ticks a second).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// pulse's own duration of its latest scrape round, from its `/metrics`.
pub fn scrape_duration(port: u16) -> Option<f64> {
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

/// The median (the upper one of an even count); NaN for none.
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A free port on 127.0.0.1.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Calls `set(name, value)` for each `--name value` pair of `args`.
pub fn each_option(args: &[String], set: impl FnMut(&str, &str) -> Result<()>) -> Result<()> {
    each_option_or_flag(args, &[], set)
}

/// [`each_option`], where the names in `flags` take no value (`set` gets "").
pub fn each_option_or_flag(
    args: &[String],
    flags: &[&str],
    mut set: impl FnMut(&str, &str) -> Result<()>,
) -> Result<()> {
    let mut it = args.iter();
    while let Some(name) = it.next() {
        if flags.contains(&name.as_str()) {
            set(name, "").with_context(|| name.clone())?;
            continue;
        }
        let value = it.next().with_context(|| format!("{name} needs a value"))?;
        set(name, value).with_context(|| format!("{name} {value}"))?;
    }
    Ok(())
}

/// A `NAME=value` option's two sides (`what` names the shape in the error).
pub fn name_value<'v>(v: &'v str, what: &str) -> Result<(&'v str, &'v str)> {
    v.split_once('=')
        .with_context(|| format!("{v}: not {what}"))
}

/// The binary to measure: `given`, or this tree's release build, built now.
pub fn this_build(given: Option<&Path>) -> Result<PathBuf> {
    match given {
        Some(b) => Ok(b.to_owned()),
        None => {
            run(cargo().args(["build", "--release", "-p", "pulse-host"]))?;
            Ok(crate::dist::target_dir().join("release/litellm-pulse"))
        }
    }
}

/// Waits until `done()` reaches `want`, pulse exits or `deadline` passes.
pub fn wait_for(
    child: &mut Killed,
    deadline: Instant,
    want: usize,
    what: &str,
    done: impl Fn() -> usize,
) -> Result<()> {
    loop {
        let n = done();
        if n >= want {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {n} of {want} {what} in time");
        }
        if let Some(status) = child.0.try_wait()? {
            bail!("pulse exited with {status} after {n} {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// How a bench starts pulse.
pub struct Pulse<'a> {
    pub bin: &'a Path,
    pub port: u16,
    pub db: &'a Path,
    /// `--metrics-url`: one URL or a comma-separated list.
    pub metrics_url: &'a str,
    pub interval_s: u64,
    /// Extra environment, e.g. the test clock file.
    pub env: Vec<(&'a str, &'a OsStr)>,
}

impl Pulse<'_> {
    /// Starts it, quiet (warnings only, output discarded).
    pub fn spawn(&self) -> Result<Killed> {
        let child = Command::new(self.bin)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--db-path")
            .arg(self.db)
            .args(["--metrics-url", self.metrics_url])
            .args(["--scrape-interval", &self.interval_s.to_string()])
            .env("LITELLM_PULSE_LOG_LEVEL", "warn")
            .envs(self.env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        Ok(Killed(child))
    }
}

/// `runs` results of `left` and of `right`, one after the other and in
/// alternating order, so neither side always runs on the warmer (or busier)
/// machine; they never share the two cores.
pub fn alternate<T>(
    runs: usize,
    mut left: impl FnMut() -> Result<T>,
    mut right: impl FnMut() -> Result<T>,
) -> Result<(Vec<T>, Vec<T>)> {
    let (mut lefts, mut rights) = (Vec::new(), Vec::new());
    for run in 0..runs {
        if run % 2 == 0 {
            lefts.push(left()?);
            rights.push(right()?);
        } else {
            rights.push(right()?);
            lefts.push(left()?);
        }
    }
    Ok((lefts, rights))
}

/// A started pulse, killed when the bench ends, also on an error.
pub struct Killed(pub Child);

impl Killed {
    pub fn stop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `lo` or `lo-hi` of `xs`.
fn range(xs: &[f64]) -> String {
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // Counts without decimals, anything else with three.
    let counts = xs
        .iter()
        .all(|x| x.fract() == 0.0 && x.abs() >= 1.0 && x.abs() < 1e15);
    let num = |x: f64| {
        if counts {
            format!("{x:.0}")
        } else {
            format!("{x:.3}")
        }
    };
    if xs.is_empty() {
        "-".to_owned()
    } else if (hi - lo).abs() < 1e-9 {
        num(lo)
    } else {
        format!("{}-{}", num(lo), num(hi))
    }
}

/// Two configurations side by side, one row per figure: the range of each
/// over the runs and the range of the per-run ratio right / left.
pub struct Compare {
    pub left: &'static str,
    pub right: &'static str,
}

impl Compare {
    pub fn header(&self, title: &str) {
        println!(
            "{title:<46} {:>17} {:>17} {:>18}",
            self.left,
            self.right,
            format!("{} / {}", self.right, self.left)
        );
    }

    /// One figure: `left[i]` and `right[i]` come from the same run.
    pub fn row(&self, name: &str, left: &[f64], right: &[f64]) {
        let ratios: Vec<f64> = left
            .iter()
            .zip(right)
            .map(|(l, r)| r / l)
            .filter(|x| x.is_finite())
            .collect();
        let rlo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let rhi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let ratio = if ratios.is_empty() {
            "-".to_owned()
        } else if (rhi - rlo).abs() < 1e-3 {
            format!("{rlo:.3}x")
        } else {
            format!("{rlo:.3}-{rhi:.3}x")
        };
        println!(
            "{name:<46} {:>17} {:>17} {ratio:>18}",
            range(left),
            range(right)
        );
    }
}

/// Where the bytes of an SQLite database are, read with `dbstat` (the
/// logical database: the file with its WAL applied).
#[derive(Debug, Clone, Default)]
pub struct DbStat {
    /// Bytes of pages per table or index (`SUM(pgsize)`), by name.
    pub bytes: BTreeMap<String, u64>,
    /// Rows per table.
    pub rows: BTreeMap<String, u64>,
    /// `page_count × page_size`.
    pub total: u64,
    /// Bytes in free pages.
    pub free: u64,
}

impl DbStat {
    /// Opens `db` (after pulse has stopped) and reads it.
    pub fn read(db: &Path) -> Result<DbStat> {
        let conn = rusqlite::Connection::open(db).with_context(|| format!("{}", db.display()))?;
        let mut out = DbStat::default();
        let mut q = conn.prepare("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")?;
        let rows = q.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (name, bytes) = row?;
            out.bytes.insert(name, u64::try_from(bytes).unwrap_or(0));
        }
        let mut q = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?;
        let tables: Vec<String> = q
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for t in tables {
            // Names from the database's own catalog, quoted.
            let n: i64 = conn.query_row(
                &format!("SELECT COUNT(*) FROM \"{}\"", t.replace('"', "\"\"")),
                [],
                |r| r.get(0),
            )?;
            out.rows.insert(t, u64::try_from(n).unwrap_or(0));
        }
        let pragma = |name: &str| -> Result<u64> {
            let v: i64 = conn.pragma_query_value(None, name, |r| r.get(0))?;
            Ok(u64::try_from(v).unwrap_or(0))
        };
        let page = pragma("page_size")?;
        out.total = pragma("page_count")? * page;
        out.free = pragma("freelist_count")? * page;
        Ok(out)
    }

    /// Bytes of `name` (0 when absent).
    pub fn of(&self, name: &str) -> u64 {
        self.bytes.get(name).copied().unwrap_or(0)
    }

    /// Rows of table `name` (0 when absent).
    pub fn rows_of(&self, name: &str) -> u64 {
        self.rows.get(name).copied().unwrap_or(0)
    }
}

/// Per table and index, MB in `left` and `right` side by side (each a run's
/// [`DbStat`]), the largest first, with the row count of tables.
pub fn print_dbstat(cmp: &Compare, left: &[DbStat], right: &[DbStat]) {
    let mut names: BTreeMap<&str, u64> = BTreeMap::new();
    for s in left.iter().chain(right) {
        for (n, b) in &s.bytes {
            let e = names.entry(n.as_str()).or_default();
            *e = (*e).max(*b);
        }
    }
    let mut names: Vec<(&str, u64)> = names.into_iter().collect();
    names.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mb = |b: u64| b as f64 / 1e6;
    cmp.header("database MB per table / index (dbstat)");
    for (name, _) in names {
        let l: Vec<f64> = left.iter().map(|s| mb(s.of(name))).collect();
        let r: Vec<f64> = right.iter().map(|s| mb(s.of(name))).collect();
        let rows = |v: &[DbStat]| {
            v.iter()
                .find_map(|s| s.rows.get(name))
                .map_or(String::new(), |n| format!("{n}"))
        };
        let label = match (rows(left), rows(right)) {
            (a, b) if a.is_empty() && b.is_empty() => format!("  {name}"),
            (a, b) => format!("  {name} ({}/{} rows)", or_dash(&a), or_dash(&b)),
        };
        cmp.row(&label, &l, &r);
    }
    let free = |v: &[DbStat]| v.iter().map(|s| mb(s.free)).collect::<Vec<_>>();
    cmp.row("  (free pages)", &free(left), &free(right));
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_take_a_value_and_flags_none() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let mut seen = Vec::new();
        each_option_or_flag(
            &args(&["--smaps", "--runs", "3", "--no-build"]),
            &["--smaps", "--no-build"],
            |n, v| {
                seen.push(format!("{n}={v}"));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, ["--smaps=", "--runs=3", "--no-build="]);
        let e = each_option(&args(&["--runs"]), |_, _| Ok(())).unwrap_err();
        assert_eq!(e.to_string(), "--runs needs a value");
        // Without the flag list a flag takes the next word as its value.
        let e = each_option(&args(&["--smaps", "--runs"]), |_, v| {
            anyhow::ensure!(v.parse::<u32>().is_ok(), "not a number");
            Ok(())
        })
        .unwrap_err();
        assert_eq!(format!("{e:#}"), "--smaps --runs: not a number");
        assert_eq!(name_value("A=b=c", "NAME=value").unwrap(), ("A", "b=c"));
        assert_eq!(
            name_value("nolabel", "LABEL=PATH").unwrap_err().to_string(),
            "nolabel: not LABEL=PATH"
        );
    }

    #[test]
    fn medians_and_ranges() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 3.0);
        assert!(median(Vec::new()).is_nan());
        assert_eq!(range(&[1.5, 1.5]), "1.500");
        assert_eq!(range(&[2.0, 1.5]), "1.500-2.000");
        assert_eq!(range(&[96.0, 97.0]), "96-97");
        assert_eq!(range(&[]), "-");
    }

    #[test]
    fn dbstat_counts_tables_and_indexes() {
        let dir = std::env::temp_dir().join(format!("xtask-dbstat-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("t.db");
        std::fs::remove_file(&db).ok();
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT); CREATE INDEX t_b ON t (b);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
             INSERT INTO t SELECT i, printf('%040d', i) FROM n;",
        )
        .unwrap();
        drop(conn);
        let s = DbStat::read(&db).unwrap();
        assert_eq!(s.rows_of("t"), 2000);
        assert!(s.of("t") > 80_000, "{:?}", s.bytes);
        assert!(s.of("t_b") > 80_000, "{:?}", s.bytes);
        assert_eq!(s.bytes.values().sum::<u64>(), s.total);
        std::fs::remove_dir_all(&dir).ok();
    }
}
