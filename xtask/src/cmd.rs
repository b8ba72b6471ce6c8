//! Running programs: the one place that knows the workspace root, echoes a
//! command before it runs and turns a non-zero exit into an error.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `program`, to be run in the workspace root.
pub fn cmd(program: impl AsRef<OsStr>) -> Command {
    let mut c = Command::new(program);
    c.current_dir(root());
    c
}

/// Cargo, as the one running xtask (the toolchain rust-toolchain.toml pins).
pub fn cargo() -> Command {
    cmd(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// How a command reads in the log: its environment changes, program and arguments.
fn shown(c: &Command) -> String {
    let envs = c.get_envs().filter_map(|(k, v)| {
        let (k, v) = (k.to_string_lossy(), v?.to_string_lossy());
        // A changed PATH is the inherited one with a directory put first.
        Some(match v.split_once(':') {
            Some((first, _)) if k == "PATH" => format!("PATH={first}:$PATH"),
            _ => format!("{k}={v}"),
        })
    });
    let program = Path::new(c.get_program())
        .file_name()
        .unwrap_or(c.get_program())
        .to_string_lossy()
        .into_owned();
    let args = c.get_args().map(|a| a.to_string_lossy().into_owned());
    envs.chain([program])
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `c` with the terminal as its output, echoing it first; fails on a non-zero exit.
pub fn run(c: &mut Command) -> Result<()> {
    let line = shown(c);
    eprintln!("\n$ {line}");
    let started = std::time::Instant::now();
    let status = c
        .status()
        .with_context(|| format!("cannot start `{line}`"))?;
    let took = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("`{line}` failed with {status} after {took:.0} s");
    }
    // Where CI's time goes, a line per step (grep the log for "took").
    eprintln!("took {took:.1} s: {line}");
    Ok(())
}

/// Runs `c` quietly and returns its standard output; fails with everything it
/// printed on a non-zero exit.
pub fn read(c: &mut Command) -> Result<String> {
    let line = shown(c);
    let out = c
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start `{line}`"))?;
    if !out.status.success() {
        bail!(
            "`{line}` failed with {}:\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// What `program args` prints when it is installed and succeeds; `None` otherwise.
pub fn probe(program: impl AsRef<OsStr>, args: &[&str]) -> Option<String> {
    read(Command::new(program).args(args)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_shown_with_its_environment() {
        let mut c = Command::new("/usr/bin/cargo");
        c.args(["build", "-p", "pulse-host"])
            .env("CC_x", "musl-gcc");
        assert_eq!(shown(&c), "CC_x=musl-gcc cargo build -p pulse-host");
        c.env("PATH", "/opt/zig/bin:/usr/bin:/bin");
        assert!(
            shown(&c).contains(" PATH=/opt/zig/bin:$PATH cargo "),
            "{}",
            shown(&c)
        );
    }

    #[test]
    fn read_returns_stdout_and_fails_with_the_output() {
        assert_eq!(
            read(Command::new("sh").args(["-c", "echo hi"])).unwrap(),
            "hi"
        );
        let e = read(Command::new("sh").args(["-c", "echo told; exit 3"])).unwrap_err();
        assert!(e.to_string().contains("told"), "{e}");
        assert!(probe("no-such-program-here", &["--version"]).is_none());
    }
}
