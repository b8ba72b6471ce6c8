//! The fake LiteLLM: one HTTP/1.1 server on loopback for every test and the demo.
//!
//! It behaves as LiteLLM's `/metrics` does: a Bearer key is checked before
//! anything else (when one is set), `/metrics` answers 307 with an absolute
//! URL to `/metrics/`, and `/metrics/` answers what a [`Responder`] says.
//! Responders here: [`Script`] (a queue of canned replies), [`Sequence`] (a
//! list the test switches between, e.g. the real captures with their dates);
//! the fault suite, the demo and others bring their own.
//!
//! It is built on plain threads and sockets, not an HTTP library, so it can
//! misbehave at the byte level ([`Delivery`]: slow, truncated, chunked and
//! cut, unbounded, stalled, a redirect loop) and refuse connections
//! ([`Responder::refuse_connections`]), and so the host can ship it (the
//! demo) without another HTTP stack.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use crate::exposition::{CONTENT_TYPE, http_date, http_date_ms};

/// How the bytes of a [`Reply`] leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// All of it, with a `content-length`.
    Whole,
    /// All of it, with a `content-length`, after waiting this long.
    After(Duration),
    /// A `content-length` for all of it, half the body, then the connection closes.
    Truncated,
    /// Chunked encoding, half the body in one chunk, then the connection closes.
    ChunkedAbort,
    /// All of it without a length, ended by closing the connection.
    Unbounded,
    /// A `content-length` for all of it, half the body, silence for this
    /// long, then the rest.
    Stall(Duration),
    /// Not the reply at all: a 307 from `/metrics/` to itself.
    RedirectLoop,
}

/// One answer of `/metrics/`.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    /// The `content-encoding` of `body`, e.g. `gzip`.
    pub encoding: Option<String>,
    pub body: Vec<u8>,
    /// The `Date` header; the current time when `None`, as any server sends.
    pub date: Option<String>,
    pub delivery: Delivery,
}

impl Reply {
    /// A 200 with a Prometheus text body, as LiteLLM answers.
    pub fn prom(body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            content_type: CONTENT_TYPE.to_owned(),
            encoding: None,
            body: body.into(),
            date: None,
            delivery: Delivery::Whole,
        }
    }

    /// Any other answer.
    pub fn other(status: u16, content_type: &str, body: &str) -> Reply {
        Reply {
            status,
            content_type: content_type.to_owned(),
            ..Reply::prom(body)
        }
    }

    /// The same answer, sent by a target whose clock reads `ms` (whole
    /// seconds, as HTTP dates have).
    pub fn dated(mut self, ms: i64) -> Reply {
        self.date = Some(http_date_ms(ms));
        self
    }

    /// The same answer, with its `Date` header as given.
    pub fn with_date(mut self, date: impl Into<String>) -> Reply {
        self.date = Some(date.into());
        self
    }

    /// The same answer, delivered as `delivery` says.
    pub fn with_delivery(mut self, delivery: Delivery) -> Reply {
        self.delivery = delivery;
        self
    }
}

/// What stands behind `/metrics/`.
pub trait Responder: Send + 'static {
    /// What [`Responder::reply`] hands back to [`Responder::delivered`].
    type Receipt: Send;

    /// The answer to one authorized request for `/metrics/`, taken under the
    /// fake's lock, so the state it shows and the receipt agree.
    fn reply(&mut self) -> (Reply, Self::Receipt);

    /// Called once a [`Delivery::Whole`] reply has been written completely:
    /// from then on the client has all of it.
    fn delivered(&mut self, _receipt: Self::Receipt) {}

    /// While true, the port is closed and connections are refused.
    fn refuse_connections(&self) -> bool {
        false
    }
}

/// How the fake guards and routes, beside what it answers.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The Bearer key LiteLLM wants; every request without it gets 401.
    pub key: Option<String>,
    /// Where `/metrics` redirects to, when not to this server's `/metrics/`.
    pub redirect_to: Option<String>,
    /// Where to listen, when not on a free port of 127.0.0.1; e.g. several
    /// fakes on 127.0.0.2, 127.0.0.3 … with the same port, as pods of one
    /// Service. Port 0 picks a free one.
    pub bind: Option<SocketAddr>,
}

impl Options {
    /// No key, the usual redirect.
    pub fn open() -> Options {
        Options::default()
    }

    /// Wants `Authorization: Bearer {key}` on every request.
    pub fn key(key: &str) -> Options {
        Options {
            key: Some(key.to_owned()),
            ..Options::default()
        }
    }

    /// The same options, listening on `addr` (see [`Options::bind`]).
    pub fn bind(mut self, addr: SocketAddr) -> Options {
        self.bind = Some(addr);
        self
    }
}

/// What the fake saw, whatever the responder.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// The `Authorization` header of every request for `/metrics/` (None when absent).
    pub auth_seen: Vec<Option<String>>,
    /// Requests rejected for a wrong or missing key.
    pub auth_failures: u64,
    /// Authorized requests for `/metrics/`, however they were answered.
    pub hits: u64,
}

struct Shared<R> {
    responder: Mutex<R>,
    seen: Mutex<Seen>,
    options: Options,
}

/// A running fake LiteLLM; it stops when dropped.
pub struct FakeLiteLlm<R: Responder> {
    pub addr: SocketAddr,
    shared: Arc<Shared<R>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<R: Responder> FakeLiteLlm<R> {
    /// Starts serving on a free loopback port, or where `options.bind` says.
    pub fn start(responder: R, options: Options) -> std::io::Result<FakeLiteLlm<R>> {
        let bind = options
            .bind
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = TcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            responder: Mutex::new(responder),
            seen: Mutex::new(Seen::default()),
            options,
        });
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let shared = Arc::clone(&shared);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("fake-litellm".into())
                .spawn(move || accept_loop(listener, addr, &shared, &stop))?
        };
        Ok(FakeLiteLlm {
            addr,
            shared,
            stop,
            acceptor: Some(acceptor),
        })
    }

    /// The URL to scrape (answered with a 307 to `/metrics/`).
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    /// The responder, to change what comes next or read what it served.
    pub fn lock(&self) -> MutexGuard<'_, R> {
        lock(&self.shared.responder)
    }

    /// What the fake saw so far.
    pub fn seen(&self) -> Seen {
        lock(&self.shared.seen).clone()
    }
}

impl<R: Responder> Drop for FakeLiteLlm<R> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
    }
}

fn accept_loop<R: Responder>(
    listener: TcpListener,
    addr: SocketAddr,
    shared: &Arc<Shared<R>>,
    stop: &AtomicBool,
) {
    let mut listener = Some(listener);
    while !stop.load(Ordering::SeqCst) {
        let down = lock(&shared.responder).refuse_connections();
        if down && listener.is_some() {
            // Closing the socket makes the port refuse connections.
            listener = None;
        } else if !down && listener.is_none() {
            // std sets SO_REUSEADDR, so the same port binds again at once.
            match TcpListener::bind(addr).and_then(|l| l.set_nonblocking(true).map(|()| l)) {
                Ok(l) => listener = Some(l),
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            }
        }
        let Some(l) = &listener else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        match l.accept() {
            Ok((stream, _)) => {
                let shared = Arc::clone(shared);
                std::thread::spawn(move || {
                    let _ = handle(stream, addr, &shared);
                });
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// The path and the `Authorization` header of a request.
fn read_head(stream: &mut TcpStream) -> std::io::Result<(String, Option<String>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 64 * 1024 {
            return Err(ErrorKind::InvalidData.into());
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines = text.lines();
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("/")
        .to_owned();
    let auth = lines.find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("authorization")
            .then(|| v.trim().to_owned())
    });
    Ok((path, auth))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        307 => "Temporary Redirect",
        401 => "Unauthorized",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

/// The status line and headers, up to and including the blank line.
fn head(status: u16, reply: &Reply, length: Option<usize>, extra: &str) -> String {
    let date = reply
        .date
        .clone()
        .unwrap_or_else(|| http_date(SystemTime::now()));
    let mut h = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: {}\r\ndate: {date}\r\nconnection: close\r\n",
        reason(status),
        reply.content_type
    );
    if let Some(e) = &reply.encoding {
        h.push_str(&format!("content-encoding: {e}\r\n"));
    }
    if let Some(n) = length {
        h.push_str(&format!("content-length: {n}\r\n"));
    }
    h.push_str(extra);
    h.push_str("\r\n");
    h
}

fn redirect(stream: &mut TcpStream, location: &str) -> std::io::Result<()> {
    let r = Reply::other(307, "text/plain", "");
    let h = head(307, &r, Some(0), &format!("location: {location}\r\n"));
    stream.write_all(h.as_bytes())
}

fn simple(stream: &mut TcpStream, reply: &Reply) -> std::io::Result<()> {
    let h = head(reply.status, reply, Some(reply.body.len()), "");
    stream.write_all(h.as_bytes())?;
    stream.write_all(&reply.body)
}

fn handle<R: Responder>(
    mut stream: TcpStream,
    addr: SocketAddr,
    shared: &Shared<R>,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let (path, auth) = read_head(&mut stream)?;
    {
        let mut seen = lock(&shared.seen);
        if path == "/metrics/" {
            seen.auth_seen.push(auth.clone());
        }
        // LiteLLM checks the key before anything else, redirect included.
        if let Some(key) = &shared.options.key
            && auth.as_deref() != Some(&format!("Bearer {key}"))
        {
            seen.auth_failures += 1;
            drop(seen);
            let r = Reply::other(
                401,
                "application/json",
                "\"Unauthorized access to metrics endpoint\"",
            );
            return simple(&mut stream, &r);
        }
        if path == "/metrics/" {
            seen.hits += 1;
        }
    }
    match path.as_str() {
        "/metrics" => {
            let to = shared
                .options
                .redirect_to
                .clone()
                .unwrap_or_else(|| format!("http://{addr}/metrics/"));
            return redirect(&mut stream, &to);
        }
        "/metrics/" => {}
        _ => {
            let r = Reply::other(404, "application/json", "{\"detail\":\"Not Found\"}");
            return simple(&mut stream, &r);
        }
    }
    let (reply, receipt) = lock(&shared.responder).reply();
    let body = &reply.body;
    let half = &body[..body.len() / 2];
    match reply.delivery {
        Delivery::Whole => {
            simple(&mut stream, &reply)?;
            stream.flush()?;
            // Only once the whole answer left: the client has it all.
            lock(&shared.responder).delivered(receipt);
            Ok(())
        }
        Delivery::After(wait) => {
            std::thread::sleep(wait);
            simple(&mut stream, &reply)
        }
        Delivery::Truncated => {
            let h = head(reply.status, &reply, Some(body.len()), "");
            stream.write_all(h.as_bytes())?;
            stream.write_all(half)?;
            stream.flush()?;
            stream.shutdown(Shutdown::Both)
        }
        Delivery::ChunkedAbort => {
            let h = head(reply.status, &reply, None, "transfer-encoding: chunked\r\n");
            stream.write_all(h.as_bytes())?;
            stream.write_all(format!("{:x}\r\n", half.len()).as_bytes())?;
            stream.write_all(half)?;
            stream.write_all(b"\r\n")?;
            stream.flush()?;
            stream.shutdown(Shutdown::Both)
        }
        Delivery::Unbounded => {
            let h = head(reply.status, &reply, None, "");
            stream.write_all(h.as_bytes())?;
            stream.write_all(body)
        }
        Delivery::Stall(wait) => {
            let h = head(reply.status, &reply, Some(body.len()), "");
            stream.write_all(h.as_bytes())?;
            stream.write_all(half)?;
            stream.flush()?;
            std::thread::sleep(wait);
            stream.write_all(&body[body.len() / 2..])
        }
        Delivery::RedirectLoop => redirect(&mut stream, &format!("http://{addr}/metrics/")),
    }
}

/// A queue of canned replies, one per request; a 503 once it is empty.
#[derive(Debug, Clone, Default)]
pub struct Script {
    pub queue: VecDeque<Reply>,
}

impl Script {
    pub fn new(replies: impl IntoIterator<Item = Reply>) -> Script {
        Script {
            queue: replies.into_iter().collect(),
        }
    }
}

impl Responder for Script {
    type Receipt = ();

    fn reply(&mut self) -> (Reply, ()) {
        let next = self.queue.pop_front();
        (
            next.unwrap_or_else(|| Reply::other(503, "text/plain", "script exhausted")),
            (),
        )
    }
}

/// A list of replies and the one currently served (the test switches), with
/// how often each was served completely.
#[derive(Debug, Clone)]
pub struct Sequence {
    replies: Vec<Reply>,
    current: usize,
    served: Vec<u32>,
}

impl Sequence {
    /// Serves `replies[0]` first.
    pub fn new(replies: Vec<Reply>) -> Sequence {
        let served = vec![0; replies.len()];
        Sequence {
            replies,
            current: 0,
            served,
        }
    }

    /// Serves reply `i` from now on.
    pub fn switch_to(&mut self, i: usize) {
        assert!(i < self.replies.len(), "no reply {i}");
        self.current = i;
    }

    /// How often reply `i` was served completely.
    pub fn served(&self, i: usize) -> u32 {
        self.served[i]
    }
}

impl Responder for Sequence {
    type Receipt = usize;

    fn reply(&mut self) -> (Reply, usize) {
        (self.replies[self.current].clone(), self.current)
    }

    fn delivered(&mut self, i: usize) {
        self.served[i] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GET `path` with an optional Bearer key; the raw answer.
    fn get(addr: SocketAddr, path: &str, key: Option<&str>) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        let auth = key.map_or(String::new(), |k| format!("Authorization: Bearer {k}\r\n"));
        write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn checks_the_key_first_then_redirects_then_answers() {
        let fake = FakeLiteLlm::start(
            Script::new([Reply::prom("x_total 1.0\n").dated(1_795_774_098_000)]),
            Options::key("sk-1"),
        )
        .unwrap();
        let denied = get(fake.addr, "/metrics", None);
        assert!(denied.starts_with("HTTP/1.1 401 "), "{denied}");
        let moved = get(fake.addr, "/metrics", Some("sk-1"));
        assert!(moved.starts_with("HTTP/1.1 307 "), "{moved}");
        assert!(
            moved.contains(&format!("location: http://{}/metrics/\r\n", fake.addr)),
            "{moved}"
        );
        let ok = get(fake.addr, "/metrics/", Some("sk-1"));
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(
            ok.contains("date: Fri, 27 Nov 2026 10:08:18 GMT\r\n"),
            "{ok}"
        );
        assert!(ok.ends_with("\r\n\r\nx_total 1.0\n"), "{ok}");
        let empty = get(fake.addr, "/metrics/", Some("sk-1"));
        assert!(empty.starts_with("HTTP/1.1 503 "), "{empty}");
        let seen = fake.seen();
        assert_eq!(seen.auth_failures, 1);
        assert_eq!(seen.hits, 2);
        assert_eq!(seen.auth_seen.len(), 2);
    }

    #[test]
    fn a_sequence_counts_complete_answers_and_faults_cut_them() {
        let fake = FakeLiteLlm::start(
            Sequence::new(vec![
                Reply::prom("a 1.0\n"),
                Reply::prom("b 2.0\n").with_delivery(Delivery::Truncated),
            ]),
            Options::open(),
        )
        .unwrap();
        assert!(get(fake.addr, "/metrics/", None).ends_with("a 1.0\n"));
        fake.lock().switch_to(1);
        let cut = get(fake.addr, "/metrics/", None);
        assert!(
            cut.contains("content-length: 6\r\n") && cut.ends_with("\r\n\r\nb 2"),
            "{cut}"
        );
        let served = {
            let seq = fake.lock();
            (seq.served(0), seq.served(1))
        };
        assert_eq!(served, (1, 0));
        assert!(get(fake.addr, "/other", None).starts_with("HTTP/1.1 404 "));
    }

    #[test]
    fn fakes_share_a_port_on_other_loopback_addresses() {
        let reply = |b: &str| Sequence::new(vec![Reply::prom(b.to_owned())]);
        let first = FakeLiteLlm::start(
            reply("a 1.0\n"),
            Options::open().bind("127.0.0.2:0".parse().unwrap()),
        )
        .unwrap();
        assert_eq!(first.addr.ip().to_string(), "127.0.0.2");
        let same_port = SocketAddr::from(([127, 0, 0, 3], first.addr.port()));
        let second = FakeLiteLlm::start(reply("b 2.0\n"), Options::open().bind(same_port)).unwrap();
        assert_eq!(second.addr, same_port);
        assert!(get(first.addr, "/metrics/", None).ends_with("a 1.0\n"));
        assert!(get(second.addr, "/metrics/", None).ends_with("b 2.0\n"));
        let moved = get(second.addr, "/metrics", None);
        assert!(
            moved.contains(&format!("location: http://{same_port}/metrics/\r\n")),
            "{moved}"
        );
    }
}
