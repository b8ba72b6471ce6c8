//! Fetching LiteLLM's `/metrics`: one HTTP GET with the key, redirects, gzip
//! and a body cap. Nothing here interprets the body; see `pipeline`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, DATE, HeaderMap, HeaderValue};
use reqwest::{Client, StatusCode, Url, redirect};

use crate::config::Settings;

/// What a scraper asks for: Prometheus text first, OpenMetrics as a fallback.
pub const ACCEPT_HEADER: &str =
    "text/plain;version=0.0.4;q=1.0, application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1";

/// Most redirects followed before giving up (LiteLLM needs one).
const MAX_REDIRECTS: usize = 5;

/// Why a scrape failed. The messages are shown in `/health` and the API, so
/// they never contain the URL's credentials or the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScrapeError {
    /// The target could not be reached (DNS, refused, TLS, reset).
    #[error("cannot reach the metrics URL: {0}")]
    Connect(String),
    /// No complete answer within the timeout.
    #[error("scrape timed out after {0:.1} s")]
    Timeout(f64),
    /// An answer other than 2xx.
    #[error("metrics URL answered HTTP {0}")]
    Status(u16),
    /// The body grew past the configured cap.
    #[error("body exceeds the limit of {0} bytes (LITELLM_PULSE_MAX_BODY_BYTES)")]
    TooLarge(u64),
    /// A 2xx answer whose body is not exposition text.
    #[error("not Prometheus text: {0}")]
    Body(#[from] pulse_core::BodyError),
    /// Anything else reqwest reported (redirect loops, decoding).
    #[error("scrape failed: {0}")]
    Other(String),
    /// A query of the Prometheus-compatible engine failed (engine mode).
    #[error("{0}")]
    Engine(#[from] crate::engine::EngineError),
}

/// A 2xx answer: the decompressed body and the target's own clock.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    /// The body, decompressed.
    pub body: Vec<u8>,
    /// The answer's `Date` header (the target's clock when it answered, whole
    /// seconds, ms since the epoch); `None` when absent or malformed.
    pub target_now_ms: Option<i64>,
}

/// Parses an HTTP `Date` (`Fri, 27 Nov 2026 10:08:18 GMT`). The obsolete
/// RFC 850 and asctime forms are not accepted: no current server sends them,
/// and a date we cannot read only means falling back to our own clock.
pub fn parse_http_date(value: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc2822(value.trim())
        .ok()
        .map(|t| t.timestamp_millis())
}

/// An HTTP client bound to one target.
#[derive(Debug, Clone)]
pub struct Scraper {
    client: Client,
    url: Url,
    timeout: Duration,
    max_body_bytes: u64,
    /// The length of the previous body, shared by the clones: the next
    /// body's buffer is sized from it when the answer has no
    /// `content-length` (LiteLLM's `/metrics` is chunked), so a 58 MB body
    /// is not grown by doubling, copied a dozen times on the way.
    last_len: Arc<AtomicU64>,
}

/// The capacity to receive a body into: its `content-length`, else the
/// previous body's length and a sixteenth more, else 64 KiB; never more than
/// the cap.
fn body_capacity(content_length: Option<u64>, last_len: u64, max_body_bytes: u64) -> usize {
    let want = content_length.unwrap_or(match last_len {
        0 => 64 * 1024,
        n => n.saturating_add(n / 16),
    });
    usize::try_from(want.min(max_body_bytes)).unwrap_or(usize::MAX)
}

impl Scraper {
    /// Builds the client from the settings (key, TLS verification, timeout)
    /// for the first metrics URL.
    pub fn new(settings: &Settings) -> Result<Scraper, ScrapeError> {
        Scraper::for_url(settings, &settings.metrics_url)
    }

    /// [`Scraper::new`] for the target `url` (the key applies to every target).
    pub fn for_url(settings: &Settings, url: &Url) -> Result<Scraper, ScrapeError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(ACCEPT_HEADER));
        let mut url = url.clone();
        if let Some(key) = &settings.api_key {
            let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                ScrapeError::Other(
                    "the metrics API key contains characters not allowed in a header".into(),
                )
            })?;
            // Marked sensitive so that no debug output of the request shows it.
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
            // The key wins over credentials in the URL: one Authorization header only.
            let _ = url.set_password(None);
            let _ = url.set_username("");
        }
        // reqwest drops Authorization (and cookies) itself whenever a redirect
        // changes host or port; the policy only bounds the number of hops.
        let client = Client::builder()
            .default_headers(headers)
            .redirect(redirect::Policy::limited(MAX_REDIRECTS))
            .referer(false)
            .timeout(settings.scrape_timeout)
            .danger_accept_invalid_certs(!settings.verify_ssl)
            .user_agent(concat!("litellm-pulse/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ScrapeError::Other(describe(&e.without_url())))?;
        Ok(Scraper {
            client,
            url,
            timeout: settings.scrape_timeout,
            max_body_bytes: settings.max_body_bytes,
            last_len: Arc::default(),
        })
    }

    /// GETs the target and returns the (decompressed) body of a 2xx answer
    /// with the answer's `Date`.
    pub async fn fetch(&self) -> Result<Fetched, ScrapeError> {
        let mut resp = self
            .client
            .get(self.url.clone())
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(ScrapeError::Status(status_code(status)));
        }
        let target_now_ms = resp
            .headers()
            .get(DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date);
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_body_bytes)
        {
            return Err(ScrapeError::TooLarge(self.max_body_bytes));
        }
        let mut body = Vec::with_capacity(body_capacity(
            resp.content_length(),
            self.last_len.load(Relaxed),
            self.max_body_bytes,
        ));
        // Streamed so that an endless or huge body is cut off at the cap.
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.classify(e))? {
            if (body.len() + chunk.len()) as u64 > self.max_body_bytes {
                return Err(ScrapeError::TooLarge(self.max_body_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        self.last_len.store(body.len() as u64, Relaxed);
        Ok(Fetched {
            body,
            target_now_ms,
        })
    }

    fn classify(&self, err: reqwest::Error) -> ScrapeError {
        if err.is_timeout() {
            ScrapeError::Timeout(self.timeout.as_secs_f64())
        } else if err.is_connect() {
            ScrapeError::Connect(describe(&err.without_url()))
        } else {
            ScrapeError::Other(describe(&err.without_url()))
        }
    }
}

fn status_code(status: StatusCode) -> u16 {
    status.as_u16()
}

/// The error and its causes on one line. reqwest's own message is generic
/// ("error sending request"); the cause says what actually went wrong.
pub(crate) fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = cause.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use super::*;
    use warp::Filter;

    use pulse_testkit::{FakeLiteLlm, Options, Reply, Script};

    #[test]
    fn a_body_without_a_length_is_received_into_the_previous_bodys_size() {
        const MB: u64 = 1 << 20;
        // (content-length, previous body, cap) -> capacity
        let rows = [
            (Some(5 * MB), 0, 64 * MB, 5 * MB),
            (Some(5 * MB), 9 * MB, 64 * MB, 5 * MB),
            (Some(100 * MB), 0, 64 * MB, 64 * MB),
            (None, 0, 64 * MB, 64 * 1024),
            (None, 16 * MB, 64 * MB, 17 * MB),
            (None, 63 * MB, 64 * MB, 64 * MB),
            (None, 0, 1024, 1024),
        ];
        for (length, last, cap, want) in rows {
            assert_eq!(
                body_capacity(length, last, cap) as u64,
                want,
                "{length:?} {last} {cap}"
            );
        }
    }

    use crate::testutil::settings_for;

    fn fake(key: Option<&str>, replies: Vec<Reply>) -> FakeLiteLlm<Script> {
        let options = key.map_or_else(Options::open, Options::key);
        FakeLiteLlm::start(Script::new(replies), options).unwrap()
    }

    #[tokio::test]
    async fn follows_the_307_and_keeps_the_key_on_the_same_origin() {
        let s = fake(
            Some("sk-test"),
            vec![Reply::prom(b"x_total 1.0\n".to_vec())],
        );
        let addr = s.addr;
        let settings = settings_for(
            &format!("http://{addr}/metrics"),
            &["--metrics-api-key", "sk-test"],
        );
        let body = Scraper::new(&settings).unwrap().fetch().await.unwrap().body;
        assert_eq!(body, b"x_total 1.0\n");
        assert_eq!(s.seen().auth_seen, vec![Some("Bearer sk-test".to_owned())]);
    }

    #[tokio::test]
    async fn drops_the_key_when_a_redirect_leaves_the_origin() {
        // The second server is another origin (another port): it must not see the key.
        let other = fake(None, vec![Reply::prom(b"x_total 1.0\n".to_vec())]);
        let options = Options {
            redirect_to: Some(format!("http://{}/metrics/", other.addr)),
            ..Options::open()
        };
        let first = FakeLiteLlm::start(Script::default(), options).unwrap();
        let addr = first.addr;
        let settings = settings_for(
            &format!("http://{addr}/metrics"),
            &["--metrics-api-key", "sk-secret"],
        );
        let body = Scraper::new(&settings).unwrap().fetch().await.unwrap().body;
        assert_eq!(body, b"x_total 1.0\n");
        assert_eq!(other.seen().auth_seen, vec![None]);
    }

    #[tokio::test]
    async fn accepts_gzip_and_caps_the_body() {
        let plain = b"x_total 1.0\n".repeat(200);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        let mut canned = Reply::prom(gz);
        canned.encoding = Some("gzip".to_owned());
        let s = fake(None, vec![canned.clone(), canned]);
        let addr = s.addr;
        let settings = settings_for(&format!("http://{addr}/metrics/"), &[]);
        assert_eq!(
            Scraper::new(&settings).unwrap().fetch().await.unwrap().body,
            plain
        );
        // The cap applies to the decoded size (2400 bytes here), not the wire size.
        let small = settings_for(
            &format!("http://{addr}/metrics/"),
            &["--max-body-bytes", "2000"],
        );
        assert_eq!(
            Scraper::new(&small).unwrap().fetch().await,
            Err(ScrapeError::TooLarge(2000))
        );
    }

    #[tokio::test]
    async fn failures_are_classified_without_credentials() {
        let s = fake(
            Some("sk-k"),
            vec![Reply::other(502, "text/html", "<html>bad gateway</html>")],
        );
        let addr = s.addr;
        let url = format!("http://user:hunter2@{addr}/metrics/");
        // Wrong key: 401 from LiteLLM.
        let settings = settings_for(&url, &["--metrics-api-key", "sk-wrong"]);
        assert_eq!(
            Scraper::new(&settings).unwrap().fetch().await,
            Err(ScrapeError::Status(401))
        );
        let settings = settings_for(&url, &["--metrics-api-key", "sk-k"]);
        assert_eq!(
            Scraper::new(&settings).unwrap().fetch().await,
            Err(ScrapeError::Status(502))
        );
        // Nothing listens on port 9 of loopback.
        let settings = settings_for("http://user:hunter2@127.0.0.1:9/metrics", &[]);
        let err = Scraper::new(&settings).unwrap().fetch().await.unwrap_err();
        assert!(matches!(err, ScrapeError::Connect(_)), "{err:?}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn http_dates_are_read_as_the_targets_clock() {
        // Capture 01's real header.
        assert_eq!(
            parse_http_date("Fri, 27 Nov 2026 10:08:18 GMT"),
            Some(1_795_774_098_000)
        );
        assert_eq!(
            parse_http_date(" Fri, 27 Nov 2026 10:08:18 +0000 "),
            Some(1_795_774_098_000)
        );
        for bad in [
            "",
            "yesterday",
            "Friday, 27-Nov-26 10:08:18 GMT",
            "Fri Nov 27 10:08:18 2026",
            "Fri, 32 Nov 2026 10:08:18 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn returns_the_date_of_the_answer_after_the_redirect() {
        let canned =
            Reply::prom(b"x_total 1.0\n".to_vec()).with_date("Fri, 27 Nov 2026 10:09:50 GMT");
        let s = fake(None, vec![canned]);
        let addr = s.addr;
        let settings = settings_for(&format!("http://{addr}/metrics"), &[]);
        let fetched = Scraper::new(&settings).unwrap().fetch().await.unwrap();
        assert_eq!(fetched.target_now_ms, Some(1_795_774_190_000));
        // Without one set, the server's own current Date arrives.
        let s = fake(None, vec![Reply::prom(b"x_total 1.0\n".to_vec())]);
        let addr = s.addr;
        let settings = settings_for(&format!("http://{addr}/metrics/"), &[]);
        let before = chrono::Utc::now().timestamp_millis();
        let fetched = Scraper::new(&settings).unwrap().fetch().await.unwrap();
        let date = fetched.target_now_ms.unwrap();
        assert!(
            before - 1000 <= date && date <= chrono::Utc::now().timestamp_millis(),
            "{date}"
        );
    }

    #[tokio::test]
    async fn sends_the_prometheus_accept_header() {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(None));
        let seen2 = Arc::clone(&seen);
        let route = warp::header::<String>("accept").map(move |a: String| {
            *seen2.lock().unwrap() = Some(a);
            "x_total 1.0\n"
        });
        tokio::spawn(warp::serve(route).incoming(listener).run());
        let settings = settings_for(&format!("http://{addr}/"), &[]);
        Scraper::new(&settings).unwrap().fetch().await.unwrap();
        assert_eq!(seen.lock().unwrap().as_deref(), Some(ACCEPT_HEADER));
    }
}
