//! The delivery task: sends the outbox's due rows to their channels.
//!
//! It runs beside the scraper and the API and shares nothing with them but
//! the store thread, for short jobs (read the due rows, record each result,
//! ask when the next one is due); it sleeps until then or until a scrape
//! was stored. The HTTP requests happen here, each bounded by
//! [`TIMEOUT`]. A receiver that is down, slow or answers 500 therefore
//! delays only other deliveries. Failed attempts are retried with
//! exponential backoff ([`backoff_ms`]) until [`GIVE_UP_AFTER_MS`] after the
//! decision; every attempt sends the same idempotency key.
//!
//! At-least-once: a crash between a receiver's 2xx and the store recording
//! it sends the alert again on restart, with the same key.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{AlertConfig, AlertEvent, Channel, format};
use crate::app::App;
use crate::store::{Attempt, DueDelivery};

/// Per-request timeout.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Failed deliveries are retried for a day after the decision.
pub const GIVE_UP_AFTER_MS: i64 = 24 * 3_600_000;
/// The longest sleep between two looks at the outbox. The task otherwise
/// sleeps until the next retry is due or a scrape stored something, so an
/// idle pulse does not wake the store thread every second.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// The first retry's delay; each further one doubles, up to [`MAX_BACKOFF_MS`].
const FIRST_BACKOFF_MS: i64 = 15_000;
/// The longest delay between two attempts.
const MAX_BACKOFF_MS: i64 = 3_600_000;

/// The delay after the `attempts`-th failed attempt (1-based).
pub fn backoff_ms(attempts: u32) -> i64 {
    let doublings = attempts.saturating_sub(1).min(20);
    FIRST_BACKOFF_MS
        .saturating_mul(1_i64 << doublings)
        .min(MAX_BACKOFF_MS)
}

/// The HTTP client for receivers: a timeout, no redirects (a webhook URL
/// that redirects is a misconfiguration, and following it could leak the
/// body elsewhere).
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("litellm-pulse/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Sends `event` to `channel`. The error never contains the URL.
pub async fn send(
    client: &reqwest::Client,
    channel: &Channel,
    event: &AlertEvent,
) -> Result<(), String> {
    let out = format::outgoing(channel, event);
    let mut req = client.post(channel.url.clone()).body(out.body);
    for (name, value) in out.headers {
        req = req.header(name, value);
    }
    match req.send().await {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) => Err(format!("answered HTTP {}", resp.status().as_u16())),
        Err(e) => Err(crate::scrape::describe(&e.without_url())),
    }
}

/// What to record after a failed attempt at `now_ms`.
pub fn after_failure(d: &DueDelivery, now_ms: i64, error: String) -> Attempt {
    let next_ms = now_ms.saturating_add(backoff_ms(d.attempts.saturating_add(1)));
    if next_ms > d.created_ms.saturating_add(GIVE_UP_AFTER_MS) {
        Attempt::GaveUp { error }
    } else {
        Attempt::Retry { error, next_ms }
    }
}

/// Sends every due delivery once; returns how many were attempted.
pub async fn deliver_due(app: &App, client: &reqwest::Client) -> usize {
    let now = app.clock.now_ms();
    let due = match app.store.call(move |s| s.due_deliveries(now, 64)).await {
        Ok(Ok(due)) => due,
        Ok(Err(e)) | Err(e) => {
            tracing::warn!("cannot read due alert deliveries: {e}");
            return 0;
        }
    };
    let config: Arc<AlertConfig> = app.alert_config();
    let count = due.len();
    for d in due {
        let attempt = match config.channel(&d.channel) {
            None => Attempt::GaveUp {
                error: "the channel is no longer configured".into(),
            },
            Some(channel) => match send(client, channel, &d.event).await {
                Ok(()) => Attempt::Delivered,
                Err(e) => after_failure(&d, app.clock.now_ms(), e),
            },
        };
        match &attempt {
            Attempt::Delivered => {
                tracing::info!(alert = %d.event.key, channel = %d.channel, "alert delivered");
            }
            Attempt::Retry { error, .. } => tracing::warn!(
                alert = %d.event.key,
                channel = %d.channel,
                "alert delivery failed, will retry: {error}"
            ),
            Attempt::GaveUp { error } => tracing::error!(
                alert = %d.event.key,
                channel = %d.channel,
                "alert delivery failed, giving up: {error}"
            ),
        }
        app.count_delivery(&d.channel, &attempt);
        let at = app.clock.now_ms();
        let (id, channel) = (d.alert_id, d.channel.clone());
        let recorded = app
            .store
            .call(move |s| s.record_attempt(id, &channel, at, &attempt))
            .await;
        if let Ok(Err(e)) | Err(e) = recorded {
            tracing::warn!("cannot record an alert delivery: {e}");
        }
    }
    count
}

/// Delivers until `shutdown` turns true.
pub async fn run(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let client = match client() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(
                "cannot build the HTTP client for alerts: {}",
                crate::scrape::describe(&e)
            );
            return;
        }
    };
    loop {
        deliver_due(&app, &client).await;
        let next = match app.store.call(|s| s.next_delivery_ms()).await {
            Ok(Ok(next)) => next,
            _ => None,
        };
        let wait = next.map_or(MAX_SLEEP, |at| {
            let ms = at.saturating_sub(app.clock.now_ms()).max(0);
            Duration::from_millis(u64::try_from(ms).unwrap_or(0)).min(MAX_SLEEP)
        });
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = app.outbox_changed.notified() => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::net::SocketAddr;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::time::Instant;

    use hmac::{KeyInit, Mac};
    use warp::Filter;
    use warp::http::HeaderMap;
    use warp::hyper::body::Bytes;

    use super::*;
    use crate::alerts::ChannelKind;
    use crate::api::tests::{SEQUENCE, capture};
    use crate::app::Runner;
    use crate::clock::Clock;
    use crate::store::{Store, StoreHandle};
    use crate::testutil::settings_for;
    use pulse_testkit::{FakeLiteLlm, Options, Reply, Script};

    /// One request a receiver got.
    #[derive(Debug, Clone)]
    struct Received {
        path: String,
        headers: HeaderMap,
        body: Bytes,
    }

    impl Received {
        fn header(&self, name: &str) -> &str {
            self.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        }
        fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).unwrap()
        }
    }

    type Log = Arc<Mutex<Vec<Received>>>;

    /// A receiver on a free port: records every POST, waits `delay`, then
    /// answers the next status of `statuses` (200 once they run out).
    async fn receiver(statuses: &[u16], delay: Duration) -> (SocketAddr, Log) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let log: Log = Arc::default();
        let queue = Arc::new(Mutex::new(
            statuses.iter().copied().collect::<VecDeque<u16>>(),
        ));
        let seen = Arc::clone(&log);
        let route = warp::post()
            .and(warp::path::full())
            .and(warp::header::headers_cloned())
            .and(warp::body::bytes())
            .then(
                move |path: warp::path::FullPath, headers: HeaderMap, body: Bytes| {
                    let (seen, queue) = (Arc::clone(&seen), Arc::clone(&queue));
                    async move {
                        seen.lock().unwrap().push(Received {
                            path: path.as_str().to_owned(),
                            headers,
                            body,
                        });
                        tokio::time::sleep(delay).await;
                        let status = queue.lock().unwrap().pop_front().unwrap_or(200);
                        warp::reply::with_status(
                            "ok",
                            warp::http::StatusCode::from_u16(status).unwrap(),
                        )
                    }
                },
            );
        tokio::spawn(warp::serve(route).incoming(listener).run());
        (addr, log)
    }

    fn channel(kind: ChannelKind, addr: SocketAddr, secret: Option<&str>) -> Channel {
        Channel {
            name: kind.name().into(),
            kind,
            url: reqwest::Url::parse(&format!("http://{addr}/hook/{}", kind.name())).unwrap(),
            secret: secret.map(str::to_owned),
            priority: None,
            tags: Vec::new(),
        }
    }

    fn event() -> AlertEvent {
        AlertEvent {
            idempotency_key: "0123456789abcdef0123456789abcdef".into(),
            key: "threshold:2026-03:80:team <a>".into(),
            kind: "threshold".into(),
            subject: "team <a>".into(),
            period: "2026-03".into(),
            threshold: Some(80.0),
            title: "Budget team <a> reached 80 %".into(),
            message: "team <a>: $85.00 of $100.00 (85 %) in month 2026-03".into(),
            value: Some(85.0),
            limit: Some(100.0),
            projected: Some(120.0),
            metric: Some("cost".into()),
            created_at: "2026-03-20T12:00:00+00:00".into(),
        }
    }

    #[tokio::test]
    async fn each_channel_format_reaches_a_real_receiver() {
        let (addr, log) = receiver(&[], Duration::ZERO).await;
        let client = client().unwrap();
        let e = event();
        for kind in [
            ChannelKind::Webhook,
            ChannelKind::Slack,
            ChannelKind::Discord,
            ChannelKind::Ntfy,
        ] {
            let secret = (kind == ChannelKind::Webhook).then_some("hook-secret");
            send(&client, &channel(kind, addr, secret), &e)
                .await
                .unwrap();
        }
        let got = log.lock().unwrap().clone();
        assert_eq!(got.len(), 4);
        for r in &got {
            assert_eq!(r.header("idempotency-key"), e.idempotency_key, "{}", r.path);
        }

        // Webhook: the event itself, signed with HMAC-SHA256 of the body.
        let hook = &got[0];
        assert_eq!(hook.path, "/hook/webhook");
        assert_eq!(hook.header("content-type"), "application/json");
        let back: AlertEvent = serde_json::from_slice(&hook.body).unwrap();
        assert_eq!(back, e);
        let sig = hook.header("x-pulse-signature");
        let hex = sig.strip_prefix("sha256=").unwrap();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"hook-secret").unwrap();
        mac.update(&hook.body);
        mac.verify_slice(&bytes).unwrap();

        // Slack: `text` and blocks; Discord: `content` and an embed.
        let slack = got[1].json();
        assert!(
            slack["text"]
                .as_str()
                .unwrap()
                .contains("Budget team <a> reached 80 %")
        );
        assert_eq!(slack["blocks"][0]["type"], "section");
        assert!(got[1].headers.get("x-pulse-signature").is_none());
        let discord = got[2].json();
        assert_eq!(discord["embeds"][0]["title"], e.title);
        assert_eq!(discord["embeds"][0]["description"], e.message);
        assert_eq!(discord["allowed_mentions"]["parse"], serde_json::json!([]));

        // ntfy: plain text with Title, Priority and Tags headers.
        let ntfy = &got[3];
        assert_eq!(ntfy.header("title"), e.title);
        assert_eq!(ntfy.header("priority"), "4");
        assert_eq!(ntfy.header("tags"), "litellm-pulse,threshold");
        assert!(String::from_utf8_lossy(&ntfy.body).starts_with(&e.message));
    }

    #[tokio::test]
    async fn errors_never_show_the_url() {
        let (addr, _) = receiver(&[503], Duration::ZERO).await;
        let client = client().unwrap();
        let mut c = channel(ChannelKind::Slack, addr, None);
        c.url =
            reqwest::Url::parse(&format!("http://{addr}/services/T000/B000/XXXXSECRET")).unwrap();
        let err = send(&client, &c, &event()).await.unwrap_err();
        assert_eq!(err, "answered HTTP 503");
        // A refused connection: the message names no host, path or token.
        c.url = reqwest::Url::parse("http://127.0.0.1:9/services/T000/B000/XXXXSECRET").unwrap();
        let err = send(&client, &c, &event()).await.unwrap_err();
        assert!(
            !err.contains("XXXXSECRET") && !err.contains("/services"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_failing_receiver_gets_the_alert_once_it_recovers_and_never_holds_up_scraping() {
        // The receiver answers 500 once, then 200, each after 1.5 s.
        let (hook, log) = receiver(&[500], Duration::from_millis(1500)).await;
        let fake = FakeLiteLlm::start(Script::default(), Options::open()).unwrap();
        let settings = settings_for(&format!("http://{}/metrics/", fake.addr), &[]);
        let now = Arc::new(AtomicI64::new(0));
        let store = StoreHandle::spawn(Store::open_memory(100));
        let app = App::new(settings.clone(), store, Clock::Manual(Arc::clone(&now)))
            .await
            .unwrap();
        let text = format!(
            "[[budget]]\nname = \"tiny\"\nlimit = 0.00001\nthresholds = [50]\nforecast = false\n\n\
             [[channel]]\nname = \"ops\"\ntype = \"webhook\"\nurl = \"http://{hook}/hook\"\n"
        );
        let config = super::super::config::parse(std::path::Path::new("t.toml"), &text).unwrap();
        app.set_alert_config(config).await.unwrap();
        let mut runner = Runner::new(Arc::clone(&app)).await;
        let ms = |t: &str| pulse_core::window::parse_rfc3339(t).unwrap();
        let step = |i: usize| {
            fake.lock()
                .queue
                .push_back(Reply::prom(capture(SEQUENCE[i].0)).dated(ms(SEQUENCE[i].1)));
            now.store(ms(SEQUENCE[i].1), Ordering::SeqCst);
        };
        step(0);
        runner.scrape_once().await;
        step(1);
        runner.scrape_once().await;
        let history = app
            .store
            .call(|s| s.alert_history(10))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(history.len(), 1);
        let key = history[0].event.idempotency_key.clone();

        // Deliver in the background while the next scrape runs.
        let client = client().unwrap();
        let delivery = {
            let app = Arc::clone(&app);
            let client = client.clone();
            tokio::spawn(async move { deliver_due(&app, &client).await })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        step(2);
        let started = Instant::now();
        runner.scrape_once().await;
        assert!(
            started.elapsed() < Duration::from_millis(1000),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(app.live().scrapes_ok, 3);
        assert_eq!(delivery.await.unwrap(), 1);
        let history = app
            .store
            .call(|s| s.alert_history(10))
            .await
            .unwrap()
            .unwrap();
        let state = &history[0].deliveries[0];
        assert_eq!(
            (
                state.attempts,
                state.delivered_ms,
                state.last_error.as_deref()
            ),
            (1, None, Some("answered HTTP 500"))
        );
        // Not due before the backoff has passed; delivered once it has.
        assert_eq!(deliver_due(&app, &client).await, 0);
        now.fetch_add(backoff_ms(1), Ordering::SeqCst);
        assert_eq!(deliver_due(&app, &client).await, 1);
        let history = app
            .store
            .call(|s| s.alert_history(10))
            .await
            .unwrap()
            .unwrap();
        let state = &history[0].deliveries[0];
        assert_eq!(state.attempts, 2);
        assert!(state.delivered_ms.is_some());
        assert_eq!(deliver_due(&app, &client).await, 0);
        let got = log.lock().unwrap().clone();
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|r| r.header("idempotency-key") == key));
        assert_eq!(got[0].body, got[1].body);
        let counts = app.live().deliveries["ops"];
        assert_eq!(
            (counts.delivered, counts.failed, counts.given_up),
            (1, 1, 0)
        );
        let metrics = crate::selfmetrics::render(
            &app.live(),
            &Default::default(),
            crate::store::StoreMode::Memory,
            Duration::ZERO,
        );
        assert!(
            metrics.contains(
                "litellm_pulse_alert_deliveries_total{channel=\"ops\",result=\"failed\"} 1"
            ),
            "{metrics}"
        );
    }

    #[test]
    fn backoff_doubles_up_to_an_hour_and_gives_up_after_a_day() {
        assert_eq!(backoff_ms(1), 15_000);
        assert_eq!(backoff_ms(2), 30_000);
        assert_eq!(backoff_ms(5), 240_000);
        assert_eq!(backoff_ms(12), 3_600_000);
        assert_eq!(backoff_ms(u32::MAX), 3_600_000);
        let d = DueDelivery {
            alert_id: 1,
            channel: "c".into(),
            attempts: 3,
            created_ms: 0,
            event: format::test_event("t".into()),
        };
        assert_eq!(
            after_failure(&d, 1_000, "x".into()),
            Attempt::Retry {
                error: "x".into(),
                next_ms: 1_000 + 120_000
            }
        );
        assert_eq!(
            after_failure(&d, GIVE_UP_AFTER_MS - 1_000, "x".into()),
            Attempt::GaveUp { error: "x".into() }
        );
    }
}
