//! Serves the API's warp filter over HTTP/1.1 through hyper directly, because
//! warp's own server exposes neither a header read timeout nor header limits.
//!
//! Limits, each answered before any handler runs:
//! - a request head not complete within [`HEADER_READ_TIMEOUT`] closes the
//!   connection; the same timer runs while a keep-alive connection waits for
//!   its next request, so idle and slowloris connections are both closed;
//! - a request line longer than hyper's URI limit (64 KiB) is a 414;
//! - headers larger than [`MAX_HEADER_BYTES`] are a 431 (hyper answers 431
//!   itself when the head outgrows [`READ_BUF_BYTES`] or has over 100 fields).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use warp::Reply;
use warp::http::{Request, StatusCode};
use warp::hyper::body::Incoming;
use warp::hyper::server::conn::http1;
use warp::hyper::service::Service;
use warp::reply::Response;

use crate::api;
use crate::app::App;

/// Time a client has to send a complete request head, and the longest a
/// keep-alive connection may sit idle between requests.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest total size of the request's header fields (names, values and
/// separators).
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// hyper's read buffer per connection. Larger than its 64 KiB URI limit, so a
/// long URL is parsed to the end and answered 414 rather than 431.
pub const READ_BUF_BYTES: usize = 128 * 1024;

/// Size of the header fields as they were sent: `name: value\r\n` each.
pub fn header_bytes(headers: &warp::http::HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

/// A service that answers 431 for oversized headers and hands everything
/// else to the wrapped one.
#[derive(Debug, Clone)]
struct LimitHeaders<S>(S);

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S> Service<Request<Incoming>> for LimitHeaders<S>
where
    S: Service<Request<Incoming>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        if header_bytes(req.headers()) > MAX_HEADER_BYTES {
            let body = json!({
                "error": format!("request headers exceed {MAX_HEADER_BYTES} bytes")
            });
            let resp = api::with_security_headers(api::json_response(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                &body,
            ));
            return Box::pin(std::future::ready(Ok(resp.into_response())));
        }
        Box::pin(self.0.call(req))
    }
}

/// Accepts connections on `listener` and serves the API on each until
/// `shutdown` resolves; then stops accepting and waits for open connections
/// to finish their current request.
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) {
    let svc = LimitHeaders(TowerToHyperService::new(warp::service(api::routes(app))));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(READ_BUF_BYTES)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_error(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let conn = builder.serve_connection(TokioIo::new(stream), svc.clone());
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Timeouts and clients that hang up are routine, not errors.
            if let Err(e) = conn.await {
                tracing::debug!("connection closed: {e}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Per-connection failures are ignored; anything else (out of file
/// descriptors) backs off so the loop does not spin.
async fn accept_error(e: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::warn!("accepting a connection failed: {e}");
    tokio::time::sleep(Duration::from_millis(200)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bytes_counts_names_values_and_separators() {
        let mut h = warp::http::HeaderMap::new();
        h.insert("host", "x".parse().unwrap());
        h.insert("x-big", "a".repeat(100).parse().unwrap());
        // "host: x\r\n" is 9 bytes, "x-big: " + 100 + "\r\n" is 109.
        assert_eq!(header_bytes(&h), 118);
    }
}
