//! The static binaries the Docker image ships, built and checked without Docker.
//!
//! `cargo xtask dist <arch> <out>` is how the Dockerfile builds its binary, and
//! `cargo xtask musl` / `cargo xtask arm64` build the same binaries the same way and
//! check them: `file` says static and the right machine, and the binary (under
//! `qemu-aarch64-static` when it is foreign) prints its version, serves, and its
//! `healthcheck` subcommand exits 0 while it serves and 1 once it is gone, as the
//! image's HEALTHCHECK does.
//!
//! x86_64 on an x86_64 machine is built with Debian's `musl-gcc` (the binary every
//! end-to-end test runs), with its relative relocations packed (DT_RELR, checked
//! with `readelf -d`); every other pair is cross-compiled with cargo-zigbuild,
//! whose `zig cc` compiles the C inside (SQLite, ring) for the target. Both tools
//! come from PyPI at the versions pinned here.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cmd::{cargo, probe, read, root, run};

/// The `ziglang` release from PyPI whose `zig cc` cross-compiles the C dependencies.
pub const ZIGLANG: &str = "0.15.2";
/// The `cargo-zigbuild` release from PyPI (a prebuilt binary wheel; the crate of the same version).
pub const CARGO_ZIGBUILD: &str = "0.24.0";

/// A machine the image is built for, named as Docker's `TARGETARCH` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    Amd64,
    Arm64,
}

impl Arch {
    /// Docker's name (`TARGETARCH`) or Rust's (`std::env::consts::ARCH`).
    pub fn parse(name: &str) -> Result<Arch> {
        match name {
            "amd64" | "x86_64" => Ok(Arch::Amd64),
            "arm64" | "aarch64" => Ok(Arch::Arm64),
            other => bail!("no static build for {other:?} (amd64 or arm64)"),
        }
    }

    /// The machine this xtask runs on.
    fn host() -> Option<Arch> {
        Arch::parse(std::env::consts::ARCH).ok()
    }

    /// The Rust target of the static binary.
    pub fn triple(self) -> &'static str {
        match self {
            Arch::Amd64 => "x86_64-unknown-linux-musl",
            Arch::Arm64 => "aarch64-unknown-linux-musl",
        }
    }

    /// How `file` names the machine.
    fn file_says(self) -> &'static str {
        match self {
            Arch::Amd64 => "x86-64",
            Arch::Arm64 => "ARM aarch64",
        }
    }

    /// Debian's user-mode emulator for this machine (package `qemu-user-static`).
    fn qemu(self) -> &'static str {
        match self {
            Arch::Amd64 => "qemu-x86_64-static",
            Arch::Arm64 => "qemu-aarch64-static",
        }
    }

    /// Whether this machine builds it with `musl-gcc` rather than cargo-zigbuild.
    fn with_musl_gcc(self) -> bool {
        self == Arch::Amd64 && Arch::host() == Some(Arch::Amd64)
    }
}

/// Cargo's target directory (`CARGO_TARGET_DIR` may move it out of the checkout).
pub fn target_dir() -> PathBuf {
    root().join(std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into()))
}

/// Where the release build of `arch` leaves the binary.
pub fn bin_path(arch: Arch) -> PathBuf {
    target_dir()
        .join(arch.triple())
        .join("release/litellm-pulse")
}

/// The venv `cargo xtask setup` installs ziglang and cargo-zigbuild into.
fn zig_venv() -> PathBuf {
    target_dir().join("tools/zig")
}

/// Whether the pinned cargo-zigbuild and zig are what `dir` (or `PATH`, for `None`) runs.
fn zig_tools_in(dir: Option<&Path>) -> bool {
    let at = |name: &str| dir.map_or_else(|| PathBuf::from(name), |d| d.join(name));
    probe(at("cargo-zigbuild"), &["--version"]).as_deref()
        == Some(&format!("cargo-zigbuild {CARGO_ZIGBUILD}"))
        && probe(at("python3"), &["-m", "ziglang", "version"]).as_deref() == Some(ZIGLANG)
}

/// `PATH` with the pinned cargo-zigbuild first (cargo-zigbuild finds zig as
/// `python3 -m ziglang` beside it).
fn zig_path() -> Result<OsString> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let venv_bin = zig_venv().join("bin");
    if zig_tools_in(Some(&venv_bin)) {
        let mut dirs = vec![venv_bin];
        dirs.extend(std::env::split_paths(&path));
        return std::env::join_paths(dirs).context("joining PATH");
    }
    if zig_tools_in(None) {
        return Ok(path);
    }
    bail!("cargo-zigbuild {CARGO_ZIGBUILD} with zig {ZIGLANG} is missing: run `cargo xtask setup`")
}

/// Installs the pinned ziglang and cargo-zigbuild from PyPI into a venv under
/// `target/tools`, unless they are there or on `PATH` already.
pub fn install_zig() -> Result<()> {
    if zig_path().is_ok() {
        return Ok(());
    }
    let venv = zig_venv();
    if !venv.join("bin/python3").exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    run(Command::new(venv.join("bin/python3")).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        &format!("ziglang=={ZIGLANG}"),
        &format!("cargo-zigbuild=={CARGO_ZIGBUILD}"),
    ]))?;
    zig_path().map(drop)
}

/// Builds the release binary of `arch` the way the Dockerfile does; returns its path.
pub fn build(arch: Arch) -> Result<PathBuf> {
    build_with(arch, &[])
}

/// [`build`] with more cargo arguments (`bench-alloc` adds `--features`).
pub fn build_with(arch: Arch, extra: &[&str]) -> Result<PathBuf> {
    let mut c = build_command(arch)?;
    c.args(extra);
    let started = Instant::now();
    run(&mut c)?;
    eprintln!(
        "built {} in {:.0} s",
        arch.triple(),
        started.elapsed().as_secs_f64()
    );
    Ok(bin_path(arch))
}

/// The rustflags of the x86_64 binary built with `musl-gcc`: it stays
/// position-independent (ASLR) but packs its relative relocations. chrono-tz's
/// zone tables alone hold ~35,000 pointers, whose RELA entries (24 bytes each,
/// 1.2 MB in all) were paged in at every start; as DT_RELR they take 19 KB.
/// zig 0.15's `cc` (the arm64 build, and x86_64 built elsewhere) rejects the
/// flag, so those keep RELA. ARCHITECTURE.md, "Binary size and idle memory".
const PACKED_RELOCATIONS: &str = "-C link-arg=-Wl,-z,pack-relative-relocs";

/// The cargo command that builds the release binary of `arch`.
fn build_command(arch: Arch) -> Result<Command> {
    let mut c = cargo();
    if arch.with_musl_gcc() {
        // GNU ld (>= 2.38) packs the relative relocations (DT_RELR, applied
        // by musl >= 1.2.4 at start): see [`PACKED_RELOCATIONS`].
        c.arg("build")
            .env("CC_x86_64_unknown_linux_musl", "musl-gcc")
            .env(
                "CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS",
                PACKED_RELOCATIONS,
            );
    } else {
        c.arg("zigbuild").env("PATH", zig_path()?);
    }
    c.args(["--release", "--locked", "--target", arch.triple()])
        .args(["-p", "pulse-host"]);
    Ok(c)
}

/// The arm64 image's binary, built at the lowest CPU priority while the
/// caller does other work (CI runs the end-to-end tests meanwhile, which
/// mostly wait on servers and leave cores idle). It has its own target
/// directory, as cargo locks one for the whole of a `cargo test`, and its
/// own log, printed when [`Background::check`] collects it.
pub struct Background {
    child: Child,
    log: PathBuf,
    dir: PathBuf,
    started: Instant,
}

/// Starts [`Background`]'s build of the arm64 binary.
pub fn arm64_in_background() -> Result<Background> {
    let arch = Arch::Arm64;
    let dir = target_dir().join("arm64");
    let log = target_dir().join("arm64-build.log");
    let inner = build_command(arch)?;
    let mut c = Command::new("nice");
    c.args(["-n", "19"])
        .arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(root())
        .env("CARGO_TARGET_DIR", &dir);
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let out = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    eprintln!(
        "\n$ (in the background, log in {}) CARGO_TARGET_DIR={} nice -n 19 cargo zigbuild … {}",
        log.display(),
        dir.display(),
        arch.triple()
    );
    let child = c
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .context("starting the arm64 build")?;
    Ok(Background {
        child,
        log,
        dir,
        started: Instant::now(),
    })
}

impl Background {
    /// Waits for the build, then checks the binary as `cargo xtask arm64` does.
    pub fn check(mut self) -> Result<()> {
        let status = self.child.wait().context("waiting for the arm64 build")?;
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        eprintln!("\n{}", tail.join("\n"));
        let took = self.started.elapsed().as_secs_f64();
        if !status.success() {
            bail!(
                "the arm64 build failed with {status} after {took:.0} s (log: {})",
                self.log.display()
            );
        }
        eprintln!("took {took:.1} s: the arm64 build in the background");
        let arch = Arch::Arm64;
        check(
            arch,
            &self.dir.join(arch.triple()).join("release/litellm-pulse"),
        )
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // Killed if the run stopped before collecting it.
        if matches!(self.child.try_wait(), Ok(None)) {
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
}

/// `cargo xtask dist <amd64|arm64> <out>`: the Dockerfile's build, copied to `out`.
pub fn dist(args: &[String]) -> Result<()> {
    let [arch, out] = args else {
        bail!("usage: cargo xtask dist <amd64|arm64> <out>");
    };
    let bin = build(Arch::parse(arch)?)?;
    if let Some(dir) = Path::new(out).parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::copy(&bin, out).with_context(|| format!("copying {} to {out}", bin.display()))?;
    Ok(())
}

/// `cargo xtask musl`: the x86_64 image's binary, built and checked.
pub fn musl() -> Result<()> {
    let bin = build(Arch::Amd64)?;
    check(Arch::Amd64, &bin)
}

/// `cargo xtask arm64`: the arm64 image's binary, built and checked under qemu.
pub fn arm64() -> Result<()> {
    let bin = build(Arch::Arm64)?;
    check(Arch::Arm64, &bin)
}

/// Whether `file`'s description says a static binary for `arch`.
fn is_static_for(file: &str, arch: Arch) -> bool {
    (file.contains("statically linked") || file.contains("static-pie linked"))
        && file.contains(arch.file_says())
}

/// `bin` as a command: itself on its own machine, under qemu on another.
fn exec(arch: Arch, bin: &Path) -> Command {
    if Arch::host() == Some(arch) {
        Command::new(bin)
    } else {
        let mut c = Command::new(arch.qemu());
        c.arg(bin);
        c
    }
}

/// Proves `bin` is a static `arch` binary that serves and passes its healthcheck.
fn check(arch: Arch, bin: &Path) -> Result<()> {
    let file = read(Command::new("file").arg(bin)).context("`file` checks the binary")?;
    eprintln!("{file}");
    if !is_static_for(&file, arch) {
        bail!("{} is not a static {arch:?} binary: {file}", bin.display());
    }
    if Arch::host() == Some(arch) {
        // ldd exits non-zero for a static binary; its message is what matters.
        let ldd = Command::new("ldd")
            .arg(bin)
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
    }
    if arch.with_musl_gcc() {
        let dynamic = read(Command::new("readelf").arg("-d").arg(bin))
            .context("`readelf -d` lists the binary's dynamic section")?;
        if !dynamic.contains("(RELR)") {
            bail!(
                "{} has no packed relative relocations (DT_RELR)",
                bin.display()
            );
        }
        eprintln!("relocations: packed (DT_RELR)");
    }
    let version = read(exec(arch, bin).arg("--version"))?;
    eprintln!("--version: {version}");
    if !version.starts_with("litellm-pulse ") {
        bail!("unexpected --version output: {version}");
    }
    serve_and_healthcheck(arch, bin)?;
    eprintln!(
        "static {} binary: ok (file, version, serve, healthcheck)",
        arch.triple()
    );
    Ok(())
}

/// Starts `bin` against a closed target port and runs its `healthcheck` subcommand:
/// healthy while it serves (a live server even without LiteLLM), unhealthy once stopped.
fn serve_and_healthcheck(arch: Arch, bin: &Path) -> Result<()> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port()
        .to_string();
    let data = tempdir(arch)?;
    let db = data.join("pulse.db");
    let child = exec(arch, bin)
        .args(["--host", "127.0.0.1", "--port", &port, "--db-path"])
        .arg(&db)
        .args(["--metrics-url", "http://127.0.0.1:9/metrics/"])
        .stdout(Stdio::null())
        .spawn()
        .context("starting the static binary")?;
    let mut server = Stopped(child);
    let healthcheck = |want_ok: bool| -> Result<Duration> {
        let started = Instant::now();
        // Under qemu every start of the binary takes a while: give it time.
        while started.elapsed() < Duration::from_secs(60) {
            let ok = exec(arch, bin)
                .args(["healthcheck", "--host", "127.0.0.1", "--port", &port])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?
                .success();
            if ok == want_ok {
                return Ok(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bail!(
            "healthcheck never reported {}",
            if want_ok { "healthy" } else { "unhealthy" }
        )
    };
    let served = healthcheck(true)?;
    eprintln!(
        "healthcheck while serving on 127.0.0.1:{port}: exit 0 after {:.1} s",
        served.as_secs_f64()
    );
    server.stop();
    healthcheck(false)?;
    eprintln!("healthcheck after the server stopped: exit 1");
    std::fs::remove_dir_all(&data).ok();
    Ok(())
}

/// A fresh directory for the smoke test's database.
fn tempdir(arch: Arch) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("pulse-{}-{}", arch.triple(), std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// A started server, killed when the check ends, also on an error.
struct Stopped(Child);

impl Stopped {
    fn stop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_and_rust_names_pick_the_same_target() {
        assert_eq!(
            Arch::parse("arm64").unwrap().triple(),
            "aarch64-unknown-linux-musl"
        );
        assert_eq!(Arch::parse("aarch64").unwrap(), Arch::Arm64);
        assert_eq!(
            Arch::parse("amd64").unwrap().triple(),
            "x86_64-unknown-linux-musl"
        );
        assert!(Arch::parse("riscv64").is_err());
    }

    /// The Dockerfile builds with the toolchain, targets, zig and cargo-zigbuild
    /// that rust-toolchain.toml and this module pin, so the image ships what CI checked.
    #[test]
    fn the_dockerfile_pins_what_ci_builds_with() {
        let read = |name: &str| std::fs::read_to_string(root().join(name)).unwrap();
        let (toolchain, dockerfile) = (read("rust-toolchain.toml"), read("Dockerfile"));
        let channel = toolchain
            .lines()
            .find_map(|l| l.strip_prefix("channel = \""))
            .and_then(|v| v.strip_suffix('"'))
            .expect("rust-toolchain.toml names its channel");
        assert!(
            dockerfile.contains(&format!(" rust:{channel}-")),
            "the Dockerfile's rust image is not {channel}"
        );
        assert!(dockerfile.contains(&format!("\nARG ZIGLANG={ZIGLANG}\n")));
        assert!(dockerfile.contains(&format!("\nARG CARGO_ZIGBUILD={CARGO_ZIGBUILD}\n")));
        let targets = dockerfile
            .lines()
            .find_map(|l| l.strip_prefix("RUN rustup target add "))
            .expect("the Dockerfile adds the targets");
        for triple in [Arch::Amd64.triple(), Arch::Arm64.triple()] {
            assert!(targets.contains(triple), "the Dockerfile lacks {triple}");
            assert!(
                toolchain.contains(&format!("\"{triple}\"")),
                "rust-toolchain.toml lacks {triple}"
            );
        }
    }

    #[test]
    fn file_output_must_say_static_and_the_machine() {
        let arm = "litellm-pulse: ELF 64-bit LSB executable, ARM aarch64, version 1 (SYSV), \
                   statically linked, stripped";
        let pie = "litellm-pulse: ELF 64-bit LSB pie executable, x86-64, version 1 (SYSV), \
                   static-pie linked, stripped";
        let dynamic = "litellm-pulse: ELF 64-bit LSB pie executable, ARM aarch64, version 1 \
                       (SYSV), dynamically linked, interpreter /lib/ld-linux-aarch64.so.1";
        assert!(is_static_for(arm, Arch::Arm64));
        assert!(!is_static_for(arm, Arch::Amd64));
        assert!(is_static_for(pie, Arch::Amd64));
        assert!(!is_static_for(dynamic, Arch::Arm64));
    }
}
