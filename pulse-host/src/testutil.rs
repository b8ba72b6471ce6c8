//! A scripted fake LiteLLM for tests: `/metrics` answers 307 to `/metrics/`
//! (absolute URL, as LiteLLM does), which answers the next scripted response
//! when the Bearer key matches, and records the Authorization headers seen.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use warp::Filter;
use warp::http::{Response, StatusCode};
use warp::hyper::body::Bytes;

/// One scripted answer of `/metrics/`.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub content_type: &'static str,
    pub encoding: Option<&'static str>,
    pub body: Vec<u8>,
    /// The `Date` header; hyper sends the current time when `None`.
    pub date: Option<String>,
}

impl Canned {
    pub fn prom(body: Vec<u8>) -> Canned {
        Canned {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            encoding: None,
            body,
            date: None,
        }
    }

    /// The same answer, sent by a target whose clock reads `ms` (whole seconds,
    /// as HTTP dates have).
    pub fn dated(mut self, ms: i64) -> Canned {
        self.date = Some(pulse_testkit::http_date_ms(ms));
        self
    }

    pub fn other(status: u16, content_type: &'static str, body: &str) -> Canned {
        Canned {
            status,
            content_type,
            encoding: None,
            body: body.as_bytes().to_vec(),
            date: None,
        }
    }
}

/// The fake's shared state.
#[derive(Debug, Default)]
pub struct Script {
    pub queue: VecDeque<Canned>,
    /// Authorization header of every request to `/metrics/` (None when absent).
    pub auth_seen: Vec<Option<String>>,
    /// Where `/metrics` redirects to, when not the same server.
    pub redirect_to: Option<String>,
}

/// Starts the fake on a free loopback port.
pub async fn fake_litellm(key: Option<&'static str>, script: Arc<Mutex<Script>>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    // warp's path filters ignore a trailing slash, so the exact path decides.
    let route = warp::path::full()
        .and(warp::header::optional::<String>("authorization"))
        .map(move |path: warp::path::FullPath, auth: Option<String>| {
            let mut s = script.lock().unwrap();
            match path.as_str() {
                "/metrics" => {
                    let to = s
                        .redirect_to
                        .clone()
                        .unwrap_or(format!("http://{addr}/metrics/"));
                    return Response::builder()
                        .status(StatusCode::TEMPORARY_REDIRECT)
                        .header("location", to)
                        .body(Bytes::new())
                        .unwrap();
                }
                "/metrics/" => {}
                _ => return Response::builder().status(404).body(Bytes::new()).unwrap(),
            }
            s.auth_seen.push(auth.clone());
            if let Some(k) = key
                && auth.as_deref() != Some(&format!("Bearer {k}"))
            {
                return Response::builder()
                    .status(401)
                    .header("content-type", "application/json")
                    .body(Bytes::from_static(
                        b"\"Unauthorized access to metrics endpoint\"",
                    ))
                    .unwrap();
            }
            let c =
                s.queue
                    .pop_front()
                    .unwrap_or(Canned::other(503, "text/plain", "script exhausted"));
            let mut r = Response::builder()
                .status(c.status)
                .header("content-type", c.content_type);
            if let Some(e) = c.encoding {
                r = r.header("content-encoding", e);
            }
            if let Some(d) = c.date {
                r = r.header("date", d);
            }
            r.body(Bytes::from(c.body)).unwrap()
        });
    tokio::spawn(warp::serve(route).incoming(listener).run());
    addr
}

/// Settings for scraping `url`, with everything else at its default.
pub fn settings_for(url: &str, extra: &[&str]) -> crate::config::Settings {
    let mut args = vec![
        "litellm-pulse",
        "--metrics-url",
        url,
        "--scrape-timeout",
        "2",
    ];
    args.extend_from_slice(extra);
    <crate::config::Cli as clap::Parser>::try_parse_from(args)
        .unwrap()
        .resolve(|_| None)
        .unwrap()
        .0
}
