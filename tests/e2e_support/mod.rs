//! Helpers of the end-to-end tests: the release binary as a child process, the
//! test kit's fake LiteLLM serving the real captures in turn, and an HTTP client.
#![allow(dead_code, reason = "each e2e test file uses a different subset")]

use std::net::SocketAddr;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use pulse_testkit::{Options, Reply, Sequence};
use serde_json::Value;

use pulse_tests::process::Running;
pub use pulse_tests::process::pulse_command;

/// The fake LiteLLM of the end-to-end tests: a Bearer key, `/metrics` → 307
/// → `/metrics/`, serving the current reply of a list the test advances.
pub struct FakeLiteLlm {
    pub addr: SocketAddr,
    fake: pulse_testkit::FakeLiteLlm<Sequence>,
}

impl FakeLiteLlm {
    /// Starts serving `replies[0]` on a free loopback port.
    pub fn start(replies: Vec<Reply>, key: &str) -> FakeLiteLlm {
        let fake = pulse_testkit::FakeLiteLlm::start(Sequence::new(replies), Options::key(key))
            .expect("the fake LiteLLM starts");
        FakeLiteLlm {
            addr: fake.addr,
            fake,
        }
    }

    /// Switches to reply `i` and waits until a scrape has fully processed it:
    /// the second request for it can only start after the first one's
    /// scrape (and database write) finished.
    pub async fn advance_to(&self, i: usize) {
        self.fake.lock().switch_to(i);
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.fake.lock().served(i) < 2 {
            assert!(
                Instant::now() < deadline,
                "body {i} was not scraped twice within 15 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Requests rejected for a wrong or missing key.
    pub fn auth_failures(&self) -> u64 {
        self.fake.seen().auth_failures
    }
}

/// A running `litellm-pulse` child process.
pub struct Pulse {
    proc: Running,
    pub addr: SocketAddr,
}

impl Pulse {
    /// Starts the binary with `args` and `envs` (and nothing else of ours in
    /// its environment) and waits for its listening line.
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Pulse {
        let mut cmd = pulse_command();
        cmd.args(args).envs(envs.iter().copied());
        let proc = Running::spawn(cmd);
        Pulse {
            addr: proc.addr,
            proc,
        }
    }

    /// GET `path`: status, parsed JSON (Null when not JSON) and the raw body.
    pub async fn get(&self, path: &str) -> (u16, Value, String) {
        let url = format!("http://{}{path}", self.addr);
        let resp = reqwest::get(&url)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, json, text)
    }

    /// Everything the process wrote so far.
    pub fn log(&self) -> String {
        self.proc.log()
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(self) -> (ExitStatus, String) {
        self.proc.terminate()
    }
}
