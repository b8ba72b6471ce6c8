//! `cargo xtask setup | test | demo`: the README's two commands, one entry point for CI.
//!
//! Everything a fresh machine lacks is installed here, so `.ci/run`, a newcomer and a
//! developer run the same steps. Nothing is downloaded outside the package registries.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs a command in `dir`, echoing it, failing on a non-zero exit.
pub fn run(dir: &Path, program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result<()> {
    eprintln!("\n$ {program} {}", args.join(" "));
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{program}`"))?;
    if !status.success() {
        bail!("`{program} {}` failed with {status}", args.join(" "));
    }
    Ok(())
}

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The exact `wasm-bindgen` version pinned in Cargo.lock; the CLI must match it.
pub fn pinned_wasm_bindgen() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).context("reading Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\""
            && let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
        {
            return Ok(v.trim_end_matches('"').to_string());
        }
    }
    bail!("wasm-bindgen is not in Cargo.lock")
}

/// Installs the Rust targets, the pinned wasm-bindgen CLI, wasm-pack and the npm packages.
pub fn setup() -> Result<()> {
    let root = root();
    run(
        &root,
        "rustup",
        &[
            "target",
            "add",
            "wasm32-unknown-unknown",
            "x86_64-unknown-linux-musl",
        ],
        &[],
    )?;
    let want = pinned_wasm_bindgen()?;
    let have = output("wasm-bindgen", &["--version"]).unwrap_or_default();
    if !have.ends_with(&want) {
        run(
            &root,
            "cargo",
            &[
                "install",
                "wasm-bindgen-cli",
                "--version",
                &format!("={want}"),
            ],
            &[],
        )?;
    }
    if output("wasm-pack", &["--version"]).is_none() {
        run(&root, "cargo", &["install", "wasm-pack"], &[])?;
    }
    for (tool, pkg) in [("chromium", "chromium"), ("musl-gcc", "musl-tools")] {
        if output("sh", &["-c", &format!("command -v {tool}")]).is_none() {
            eprintln!(
                "warning: `{tool}` is missing; install Debian's `{pkg}` (`sudo apt-get install {pkg}`)"
            );
        }
    }
    Ok(())
}

fn npm_ci(dir: &Path) -> Result<()> {
    // `npm ci` is exact and offline-safe once node_modules matches the lock file.
    if dir.join("node_modules/.package-lock.json").exists() {
        return Ok(());
    }
    run(dir, "npm", &["ci", "--no-audit", "--no-fund"], &[])
}

/// Builds the three wasm packages and the dashboard into `web/dist` (embedded by the host).
pub fn build_web() -> Result<()> {
    let root = root();
    npm_ci(&root.join("web"))?;
    run(&root, "bash", &["pulse-wasm/scripts/build.sh"], &[])?;
    run(&root, "npm", &["--prefix", "web", "run", "build"], &[])
}

/// `cargo xtask demo`: builds everything and starts `litellm-pulse demo`.
pub fn demo(extra: &[String]) -> Result<()> {
    setup()?;
    build_web()?;
    let root = root();
    let mut args = vec!["run", "--release", "-p", "pulse-host", "--", "demo"];
    args.extend(extra.iter().map(String::as_str));
    run(&root, "cargo", &args, &[])
}

/// `cargo xtask test`: every check CI runs, in the order that fails fastest.
pub fn test() -> Result<()> {
    setup()?;
    let root = root();
    let deny = [("RUSTDOCFLAGS", "-D warnings")];
    run(&root, "cargo", &["fmt", "--all", "--check"], &[])?;
    // The host embeds web/dist, so the dashboard is built before any host compile.
    build_web()?;
    run(
        &root,
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    // The purity invariant: the core (and its bindings) build for the browser.
    run(
        &root,
        "cargo",
        &[
            "build",
            "--locked",
            "-p",
            "pulse-core",
            "-p",
            "pulse-wasm",
            "--target",
            "wasm32-unknown-unknown",
        ],
        &[],
    )?;
    // The wasm-only tests (`#![cfg(target_arch = "wasm32")]`) are invisible to the native clippy run.
    run(
        &root,
        "cargo",
        &[
            "clippy",
            "--locked",
            "-p",
            "pulse-wasm",
            "--all-targets",
            "--target",
            "wasm32-unknown-unknown",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    // One release build serves every end-to-end test: the static musl binary the
    // Dockerfile ships (checked to be static, to serve and to pass its healthcheck).
    musl()?;
    let bin = musl_bin(&root).to_string_lossy().to_string();
    let bin_env = [
        ("PULSE_BIN", bin.as_str()),
        ("LITELLM_PULSE_BIN", bin.as_str()),
    ];
    run(
        &root,
        "cargo",
        &["test", "--workspace", "--locked"],
        &bin_env,
    )?;
    // The "never panics on any bytes" properties again, with many cases in release mode.
    run(
        &root,
        "cargo",
        &[
            "test",
            "--release",
            "--locked",
            "-p",
            "pulse-tests",
            "--test",
            "parser",
            "never_panic",
        ],
        &[("PROPTEST_CASES", "200000")],
    )?;
    run(
        &root,
        "cargo",
        &["doc", "--workspace", "--no-deps", "--locked"],
        &deny,
    )?;
    run(
        &root,
        "wasm-pack",
        &["test", "--node", "--mode", "no-install", "pulse-wasm"],
        &[],
    )?;
    run(&root, "node", &["--test", "tests/node/"], &[])?;
    run(&root, "node", &["--test", "tests/browser/"], &bin_env)?;
    Ok(())
}

/// Where `cargo xtask musl` leaves the static binary (cargo's target dir,
/// which `CARGO_TARGET_DIR` may move out of the checkout).
fn musl_bin(root: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    root.join(target)
        .join("x86_64-unknown-linux-musl/release/litellm-pulse")
}

/// `cargo xtask musl`: the static binary the Dockerfile ships, checked without Docker.
///
/// Builds `litellm-pulse` for `x86_64-unknown-linux-musl`, proves with `file` and `ldd`
/// that it is static, starts it, and runs its `healthcheck` subcommand against it
/// (exit 0 while it serves, exit 1 once it is gone), as the image's HEALTHCHECK does.
pub fn musl() -> Result<()> {
    let root = root();
    run(
        &root,
        "cargo",
        &[
            "build",
            "--release",
            "--locked",
            "--target",
            "x86_64-unknown-linux-musl",
            "-p",
            "pulse-host",
        ],
        &[("CC_x86_64_unknown_linux_musl", "musl-gcc")],
    )?;
    let bin = musl_bin(&root);
    let bin_s = bin.to_string_lossy().to_string();
    let file = output("file", &[&bin_s]).context("`file` is needed to check the binary")?;
    eprintln!("{file}");
    if !(file.contains("statically linked") || file.contains("static-pie linked")) {
        bail!("{} is not static: {file}", bin.display());
    }
    // ldd exits non-zero for a static binary; its message is what matters.
    let ldd = Command::new("ldd")
        .arg(&bin)
        .output()
        .context("running ldd")?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&ldd.stdout),
        String::from_utf8_lossy(&ldd.stderr)
    );
    eprintln!("ldd: {}", said.trim());
    if !(said.contains("not a dynamic executable") || said.contains("statically linked")) {
        bail!("ldd sees dynamic dependencies: {said}");
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let port_s = port.to_string();
    let data = std::env::temp_dir().join(format!("pulse-musl-{}", std::process::id()));
    std::fs::create_dir_all(&data)?;
    let db = data.join("pulse.db");
    let db_s = db.to_string_lossy().to_string();
    // The target is a closed port: the server must serve (and be live) even so.
    let mut child = Command::new(&bin)
        .args(["--host", "127.0.0.1", "--port", &port_s, "--db-path", &db_s])
        .args(["--metrics-url", "http://127.0.0.1:9/metrics/"])
        .spawn()
        .context("starting the static binary")?;
    let healthcheck = |want_ok: bool| -> Result<()> {
        for _ in 0..50 {
            let ok = Command::new(&bin)
                .args(["healthcheck", "--host", "127.0.0.1", "--port", &port_s])
                .status()?
                .success();
            if ok == want_ok {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        bail!(
            "healthcheck never reported {}",
            if want_ok { "healthy" } else { "unhealthy" }
        )
    };
    let served = healthcheck(true);
    child.kill().ok();
    child.wait().ok();
    served?;
    healthcheck(false)?;
    std::fs::remove_dir_all(&data).ok();
    eprintln!("static musl binary: ok (file, ldd, serve, healthcheck)");
    Ok(())
}
