//! The release `litellm-pulse` binary as a child process, shared by the
//! end-to-end and fault-injection tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// The binary under test: `$PULSE_BIN`, which `cargo xtask test` sets to the
/// static release binary it has just built and checked.
///
/// Without it (a bare `cargo test`), the first end-to-end test to ask stops the
/// whole test process with one line saying what to run, instead of every test
/// panicking on its own. No fallback to `target/release`: a stale binary there
/// would be tested in silence.
pub fn pulse_bin() -> PathBuf {
    static CHECKED: OnceLock<PathBuf> = OnceLock::new();
    CHECKED
        .get_or_init(|| {
            let found = std::env::var_os("PULSE_BIN")
                .map(PathBuf::from)
                .filter(|p| p.is_file());
            found.unwrap_or_else(|| stop(&missing_binary_line(std::env::var_os("PULSE_BIN"))))
        })
        .clone()
}

/// The one line a bare `cargo test` prints when the end-to-end tests have no binary.
fn missing_binary_line(pulse_bin: Option<std::ffi::OsString>) -> String {
    match pulse_bin {
        None => "the end-to-end tests need the release binary: run `cargo xtask test` \
                 (or set PULSE_BIN to a built litellm-pulse)"
            .to_string(),
        Some(p) => format!(
            "PULSE_BIN={} is not a file: run `cargo xtask test` (or build litellm-pulse there)",
            Path::new(&p).display()
        ),
    }
}

/// Writes `line` past libtest's output capture and ends the test process.
fn stop(line: &str) -> ! {
    // `eprintln!` would be captured (and lost) with the test that called us.
    let _ = writeln!(std::io::stderr(), "\nerror: {line}");
    std::process::exit(2)
}

/// `pulse_bin()` as a command whose environment holds none of the
/// `LITELLM_PULSE_*` variables of the test runner.
pub fn pulse_command() -> Command {
    let mut cmd = Command::new(pulse_bin());
    scrub_env(&mut cmd);
    cmd
}

/// Removes the test runner's `LITELLM_PULSE_*` variables from `cmd`, so a
/// developer's own settings cannot leak into a test.
pub fn scrub_env(cmd: &mut Command) {
    for (k, _) in std::env::vars() {
        if k.starts_with("LITELLM_PULSE_") {
            cmd.env_remove(k);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A reader thread that panicked must not hide the log from the assertion.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running server: its address and everything it has logged.
pub struct Running {
    child: Child,
    /// Where it listens (parsed from its `listening on http://…` line).
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Running {
    /// Spawns `cmd` with piped output and waits (20 s at most) for its
    /// listening line; panics with the log when it exits or never listens.
    pub fn spawn(mut cmd: Command) -> Running {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn litellm-pulse");
        let log = Arc::new(Mutex::new(String::new()));
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().expect("piped stdout"));
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().expect("piped stderr"));
        for stream in [out, err] {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut l = lock(&log);
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = loop {
            if let Some(addr) = listening_addr(&lock(&log)) {
                break addr;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("litellm-pulse exited with {status}:\n{}", lock(&log));
            }
            assert!(
                Instant::now() < deadline,
                "litellm-pulse did not start:\n{}",
                lock(&log)
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Running { child, addr, log }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process wrote so far.
    pub fn log(&self) -> String {
        lock(&self.log).clone()
    }

    /// Sends SIGKILL and reaps the process.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits (15 s at most) for the exit; returns the exit
    /// status and the whole log.
    pub fn terminate(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(ok.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for litellm-pulse") {
                // Let the reader threads drain the pipes.
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.log());
            }
            assert!(
                Instant::now() < deadline,
                "no exit within 15 s of SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listening_addr(log: &str) -> Option<SocketAddr> {
    let start = log.find("listening on http://")? + "listening on http://".len();
    let rest = &log[start..];
    let end = rest.find('/')?;
    rest[..end].parse().ok()
}

/// A port on 127.0.0.1 that was free a moment ago, for a server a test starts.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[cfg(test)]
mod tests {
    use super::{listening_addr, missing_binary_line};

    #[test]
    fn a_missing_binary_names_the_command_to_run() {
        assert!(missing_binary_line(None).contains("run `cargo xtask test`"));
        let set = missing_binary_line(Some("/nowhere/litellm-pulse".into()));
        assert!(set.contains("/nowhere/litellm-pulse") && set.contains("cargo xtask test"));
        assert!(!set.contains('\n'));
    }

    #[test]
    fn listening_line_gives_the_address() {
        let log = "INFO starting\nINFO listening on http://127.0.0.1:40123/ (dashboard)\n";
        assert_eq!(
            listening_addr(log),
            Some("127.0.0.1:40123".parse().unwrap())
        );
        assert_eq!(listening_addr("INFO starting\n"), None);
        assert_eq!(listening_addr("listening on http://not-an-addr/"), None);
    }
}
