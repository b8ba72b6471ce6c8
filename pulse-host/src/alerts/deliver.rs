//! The delivery task: sends the outbox's due rows to their channels.
//!
//! It runs beside the scraper and the API and shares nothing with them but
//! the store thread, for two short jobs per attempt (read the due rows,
//! record the result); the HTTP requests happen here, each bounded by
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
/// How often due rows are looked for.
const POLL: Duration = Duration::from_secs(1);
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
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
        deliver_due(&app, &client).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
