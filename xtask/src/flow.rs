//! `cargo xtask setup | test [--quick] | demo | web`: the README's two commands, one entry
//! point for CI.
//!
//! Everything a fresh machine lacks is installed here, so `.ci/run`, a newcomer and a
//! developer run the same steps. Nothing is downloaded outside the package registries.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cmd::{cargo, cmd, probe, read, root, run};
use crate::dist;

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

/// Whether a program is on `PATH`.
fn on_path(program: &str) -> bool {
    probe("sh", &["-c", &format!("command -v {program}")]).is_some()
}

/// Debian packages for the missing programs among `(program, package)`: installed with
/// apt-get when this runs as root (as `.ci/run` does), otherwise named in a warning.
fn apt_install(wanted: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(program, _)| !on_path(program))
        .map(|&(_, package)| package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let root_user = probe("id", &["-u"]).as_deref() == Some("0");
    if !(root_user && on_path("apt-get")) {
        eprintln!(
            "warning: missing Debian packages: {0} (`sudo apt-get install {0}`)",
            missing.join(" ")
        );
        return Ok(());
    }
    eprintln!("\n$ apt-get install {}", missing.join(" "));
    let apt = |args: &[&str]| {
        read(
            Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    apt(&["update", "-qq"])?;
    apt(&[
        &["install", "-y", "-qq", "--no-install-recommends"],
        missing.as_slice(),
    ]
    .concat())?;
    Ok(())
}

/// `cargo xtask setup`: everything `cargo xtask test` needs: the tools of the
/// dashboard build, zig and cargo-zigbuild, and the Debian packages the tests run.
pub fn setup() -> Result<()> {
    web_tools()?;
    // The targets of the static binaries the image ships (rust-toolchain.toml lists them).
    run(cmd("rustup").args([
        "target",
        "add",
        dist::Arch::Amd64.triple(),
        dist::Arch::Arm64.triple(),
    ]))?;
    dist::install_zig()?;
    apt_install(&[
        ("chromium", "chromium"),
        ("musl-gcc", "musl-tools"),
        ("file", "file"),
        ("qemu-aarch64-static", "qemu-user-static"),
        // The broker of the Home Assistant over MQTT end-to-end test, and the
        // certificates of its TLS listener.
        ("mosquitto", "mosquitto"),
        ("openssl", "openssl"),
        // The engines of the Prometheus-source end-to-end test.
        ("prometheus", "prometheus"),
        ("victoria-metrics", "victoria-metrics"),
    ])
}

/// What `cargo xtask web` (and so the demo) needs: the wasm target, the pinned
/// wasm-bindgen CLI and wasm-pack. (The toolchain itself is rust-toolchain.toml's.)
fn web_tools() -> Result<()> {
    run(cmd("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    let want = pinned_wasm_bindgen()?;
    let have = probe("wasm-bindgen", &["--version"]).unwrap_or_default();
    if !have.ends_with(&want) {
        run(cargo().args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            &format!("={want}"),
        ]))?;
    }
    if probe("wasm-pack", &["--version"]).is_none() {
        run(cargo().args(["install", "wasm-pack"]))?;
    }
    Ok(())
}

fn npm_ci(dir: &str) -> Result<()> {
    // `npm ci` is exact and offline-safe once node_modules matches the lock file.
    if root()
        .join(dir)
        .join("node_modules/.package-lock.json")
        .exists()
    {
        return Ok(());
    }
    run(cmd("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(root().join(dir)))
}

/// Builds the three wasm packages and the dashboard into `web/dist` (embedded by the host).
pub fn build_web() -> Result<()> {
    npm_ci("web")?;
    run(cmd("bash").arg("pulse-wasm/scripts/build.sh"))?;
    run(cmd("npm").args(["--prefix", "web", "run", "build"]))
}

/// `cargo xtask demo`: builds everything and starts `litellm-pulse demo`.
pub fn demo(extra: &[String]) -> Result<()> {
    web_tools()?;
    build_web()?;
    run(cargo()
        .args(["run", "--release", "-p", "pulse-host", "--", "demo"])
        .args(extra))
}

/// `cargo clippy` over every target with warnings denied; `extra` picks the crates and target.
fn clippy(extra: &[&str]) -> Result<()> {
    run(cargo().args(["clippy", "--locked"]).args(extra).args([
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))
}

/// `cargo xtask test [--quick]`.
pub fn test(args: &[String]) -> Result<()> {
    match args {
        [] => test_all(),
        [quick] if quick == "--quick" => test_quick(),
        _ => bail!("usage: cargo xtask test [--quick]"),
    }
}

/// The integration tests that need no binary: pure functions over the real captures.
const PURE_INTEGRATION_TESTS: [&str; 6] =
    ["--test", "parser", "--test", "tracker", "--test", "windows"];

/// The host's unit tests that serve the dashboard and so need `web/dist` (without it
/// the page is a 503 "not built"): the quick run skips them when it is missing;
/// `cargo xtask test` builds it and runs them.
/// A test of `xtask` below holds this list to the tests that call
/// `dashboard::require_built`.
const NEED_WEB_DIST: [&str; 7] = [
    "the_dashboard_is_the_built_web_dist",
    "each_file_goes_gzipped_to_who_takes_gzip_and_plain_to_the_rest",
    "dashboard_files_have_their_types_and_the_page_its_policy",
    "root_serves_html_to_browsers_and_json_to_the_rest",
    "a_known_etag_gets_304_without_a_body",
    "every_response_carries_the_security_headers",
    "a_configured_token_guards_everything_but_livez",
];

/// `cargo xtask test --quick`: formatting, clippy and the unit and pure integration
/// tests, in minutes on a warm build. It needs no web/dist, wasm tools, npm or
/// release build (the host compiles without the dashboard), so it runs anywhere
/// cargo does; `cargo xtask test` is the whole of CI.
fn test_quick() -> Result<()> {
    run(cargo().args(["fmt", "--all", "--check"]))?;
    clippy(&["--workspace"])?;
    let mut unit = cargo();
    unit.args(["test", "--locked", "--workspace", "--lib", "--bins"]);
    if !root().join("web/dist").is_dir() {
        eprintln!(
            "\nweb/dist is not built (`cargo xtask web`): skipping the {} host tests that serve the page",
            NEED_WEB_DIST.len()
        );
        unit.arg("--");
        for name in NEED_WEB_DIST {
            unit.args(["--skip", name]);
        }
    }
    run(&mut unit)?;
    run(cargo()
        .args(["test", "--locked", "-p", "pulse-tests"])
        .args(PURE_INTEGRATION_TESTS))?;
    eprintln!("\nquick checks passed (the whole suite: `cargo xtask test`)");
    Ok(())
}

/// `cargo xtask test`: every check CI runs, in the order that fails fastest.
fn test_all() -> Result<()> {
    setup()?;
    run(cargo().args(["fmt", "--all", "--check"]))?;
    // The host embeds web/dist, so the dashboard is built before any host compile.
    build_web()?;
    clippy(&["--workspace"])?;
    // The purity invariant: the core (and its bindings) build for the browser.
    run(cargo().args([
        "build",
        "--locked",
        "-p",
        "pulse-core",
        "-p",
        "pulse-wasm",
        "-p",
        "pulse-wasm-validate",
        "--target",
        "wasm32-unknown-unknown",
    ]))?;
    // The wasm-only tests (`#![cfg(target_arch = "wasm32")]`) are invisible to the native clippy run.
    clippy(&[
        "-p",
        "pulse-wasm",
        "-p",
        "pulse-wasm-validate",
        "--target",
        "wasm32-unknown-unknown",
    ])?;
    // One release build serves every end-to-end test: the static musl binary the
    // Dockerfile ships (checked to be static, to serve and to pass its healthcheck).
    dist::musl()?;
    // The arm64 image's binary, cross-compiled while the tests run and
    // smoke-tested under qemu at the end.
    let arm64 = dist::arm64_in_background()?;
    let bin = dist::bin_path(dist::Arch::Amd64);
    let with_bin = |c: &mut Command| {
        c.env("PULSE_BIN", &bin).env("LITELLM_PULSE_BIN", &bin);
    };
    let mut all = cargo();
    all.args(["test", "--workspace", "--locked"]);
    with_bin(&mut all);
    run(&mut all)?;
    // The core as the wasm build has it (no line memo, no latency pass): the
    // workspace run unifies the core's features with the host's, so its
    // `memo_off` paths are tested only here.
    run(cargo().args([
        "test",
        "--locked",
        "-p",
        "pulse-core",
        "--no-default-features",
        "--lib",
    ]))?;
    // The "never panics on any bytes" properties again, with many cases in
    // release mode (without the end-to-end tests' dependencies, which only
    // they need).
    run(cargo()
        .args(["test", "--release", "--locked", "-p", "pulse-tests"])
        .args(["--no-default-features", "--test", "parser", "never_panic"])
        .env("PROPTEST_CASES", "200000"))?;
    run(cargo()
        .args(["doc", "--workspace", "--no-deps", "--locked"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    run(cmd("wasm-pack").args(["test", "--node", "--mode", "no-install", "pulse-wasm"]))?;
    run(cmd("node").args(["--test", "tests/node/"]))?;
    let mut browser = cmd("node");
    browser.args(["--test", "tests/browser/"]);
    with_bin(&mut browser);
    run(&mut browser)?;
    arm64.check()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    /// The names of the functions in `dir`'s Rust files (recursively) whose
    /// body calls `dashboard::require_built()`.
    fn callers_of_require_built(dir: &Path, found: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                callers_of_require_built(&path, found);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let mut current = None;
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                if let Some((_, rest)) = line.split_once("fn ") {
                    current = rest.split(['(', '<']).next().map(str::to_owned);
                } else if line.contains("require_built();") {
                    found.extend(current.clone());
                }
            }
        }
    }

    #[test]
    fn the_quick_run_skips_exactly_the_host_tests_that_need_web_dist() {
        let mut callers = BTreeSet::new();
        callers_of_require_built(&root().join("pulse-host/src"), &mut callers);
        let listed: BTreeSet<String> = NEED_WEB_DIST.iter().map(|&s| s.to_owned()).collect();
        // Without web/dist a test missing from the list would stop the
        // quick run (`require_built` exits), and a stale name skips nothing.
        assert_eq!(callers, listed);
    }
}
