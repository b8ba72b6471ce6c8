//! Helpers of the end-to-end tests: the release binary as a child process, a
//! fake LiteLLM serving the real captures, and an HTTP client.
#![allow(dead_code, reason = "each e2e test file uses a different subset")]

use std::net::SocketAddr;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use warp::Filter;
use warp::http::{Response, StatusCode};
use warp::hyper::body::Bytes;

use pulse_tests::process::Running;
pub use pulse_tests::process::pulse_command;

/// One answer of the fake: a body and the `Date` it is sent with (the
/// current time when `None`, as any HTTP server does).
#[derive(Debug, Clone)]
pub struct Answer {
    pub body: String,
    pub date: Option<String>,
}

/// The fake LiteLLM: `/metrics` → 307 → `/metrics/`, Bearer key required,
/// serving the current answer of a list the test advances.
pub struct FakeLiteLlm {
    pub addr: SocketAddr,
    state: Arc<Mutex<FakeState>>,
}

struct FakeState {
    bodies: Vec<Answer>,
    current: usize,
    served: Vec<u32>,
    auth_failures: u32,
}

impl FakeLiteLlm {
    /// Starts serving `bodies[0]` on a free loopback port.
    pub async fn start(bodies: Vec<Answer>, key: &'static str) -> FakeLiteLlm {
        let n = bodies.len();
        let state = Arc::new(Mutex::new(FakeState {
            bodies,
            current: 0,
            served: vec![0; n],
            auth_failures: 0,
        }));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let st = Arc::clone(&state);
        let route = warp::path::full()
            .and(warp::header::optional::<String>("authorization"))
            .map(move |path: warp::path::FullPath, auth: Option<String>| {
                let mut s = st.lock().unwrap();
                // LiteLLM checks the key first, then redirects.
                if auth.as_deref() != Some(&format!("Bearer {key}")) {
                    s.auth_failures += 1;
                    return Response::builder()
                        .status(StatusCode::UNAUTHORIZED)
                        .header("content-type", "application/json")
                        .body(Bytes::from_static(
                            b"\"Unauthorized access to metrics endpoint\"",
                        ))
                        .unwrap();
                }
                match path.as_str() {
                    "/metrics" => Response::builder()
                        .status(StatusCode::TEMPORARY_REDIRECT)
                        .header("location", format!("http://{addr}/metrics/"))
                        .body(Bytes::new())
                        .unwrap(),
                    "/metrics/" => {
                        let i = s.current;
                        s.served[i] += 1;
                        let answer = &s.bodies[i];
                        let mut r = Response::builder()
                            .header("content-type", "text/plain; version=0.0.4; charset=utf-8");
                        if let Some(d) = &answer.date {
                            r = r.header("date", d);
                        }
                        r.body(Bytes::from(answer.body.clone())).unwrap()
                    }
                    _ => Response::builder().status(404).body(Bytes::new()).unwrap(),
                }
            });
        tokio::spawn(warp::serve(route).incoming(listener).run());
        FakeLiteLlm { addr, state }
    }

    /// Switches to body `i` and waits until a scrape has fully processed it:
    /// the second request for it can only start after the first one's
    /// scrape (and database write) finished.
    pub async fn advance_to(&self, i: usize) {
        self.state.lock().unwrap().current = i;
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.state.lock().unwrap().served[i] < 2 {
            assert!(
                Instant::now() < deadline,
                "body {i} was not scraped twice within 15 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Requests rejected for a wrong or missing key.
    pub fn auth_failures(&self) -> u32 {
        self.state.lock().unwrap().auth_failures
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
