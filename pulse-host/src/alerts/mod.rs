//! Budgets and alerts, the host side.
//!
//! Every rule (periods, thresholds, forecasts, spikes, alert identities) is
//! `pulse_core::budget`'s. This module owns what the core leaves to a host:
//! the config file ([`config`]), the shape of an alert as it is stored and
//! sent ([`AlertEvent`]), the channel formats ([`format`](mod@format)) and the delivery
//! task ([`deliver`]). The decisions themselves are taken inside the scrape
//! transaction by the store's outbox (`store/outbox.rs`), so a crash can
//! neither lose nor repeat one.

use std::fmt;

use pulse_core::budget::{Budget, SpikeRule, Threshold};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use sha2::Digest;

pub mod config;
pub mod deliver;
pub mod format;
pub mod litellm;

/// What the config file (and the env shortcut) declares.
#[derive(Clone, Default)]
pub struct AlertConfig {
    /// Pulse's budgets, in file order (names unique).
    pub budgets: Vec<Budget>,
    /// Where alerts go (names unique).
    pub channels: Vec<Channel>,
    /// The spend spike rule, when `[spike]` is present.
    pub spike: Option<SpikeRule>,
    /// Minutes without a good scrape before a scrape-down alert, when
    /// `[scrape_down]` is present.
    pub scrape_down_minutes: Option<u32>,
    /// Thresholds of LiteLLM's own budgets, in percent used, when
    /// `[litellm_budgets]` is present.
    pub litellm_thresholds: Option<Vec<Threshold>>,
}

impl fmt::Debug for AlertConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertConfig")
            .field(
                "budgets",
                &self.budgets.iter().map(Budget::name).collect::<Vec<_>>(),
            )
            .field("channels", &self.channels)
            .field("spike", &self.spike)
            .field("scrape_down_minutes", &self.scrape_down_minutes)
            .field("litellm_thresholds", &self.litellm_thresholds)
            .finish()
    }
}

impl AlertConfig {
    /// The channel called `name`.
    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.name == name)
    }
}

/// A channel's message format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    /// The generic JSON webhook ([`AlertEvent`] as the body).
    Webhook,
    /// A Slack incoming webhook.
    Slack,
    /// A Discord webhook.
    Discord,
    /// An ntfy topic URL.
    Ntfy,
}

impl ChannelKind {
    /// `webhook`, `slack`, `discord` or `ntfy`.
    pub fn name(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Slack => "slack",
            ChannelKind::Discord => "discord",
            ChannelKind::Ntfy => "ntfy",
        }
    }
}

/// One place alerts are sent. The URL and the secret are secrets: they are
/// never logged, shown in responses or put in error messages, and `Debug`
/// leaves them out.
#[derive(Clone)]
pub struct Channel {
    /// The channel's unique name.
    pub name: String,
    /// Its format.
    pub kind: ChannelKind,
    /// Where to POST.
    pub url: Url,
    /// HMAC-SHA256 key for `X-Pulse-Signature` (webhooks only).
    pub secret: Option<String>,
    /// ntfy priority 1–5.
    pub priority: Option<u8>,
    /// ntfy tags.
    pub tags: Vec<String>,
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &"<redacted>")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("priority", &self.priority)
            .field("tags", &self.tags)
            .finish()
    }
}

/// An alert as stored in the outbox and sent to a generic webhook: the body
/// of every webhook request (documented as `AlertEvent` in the OpenAPI
/// document).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// The receiver's de-duplication key: equal for a repeated delivery of
    /// the same decision, also sent as the `Idempotency-Key` header.
    pub idempotency_key: String,
    /// The decision's identity (`kind:period:threshold:subject`), the
    /// outbox's unique key.
    pub key: String,
    /// `threshold`, `forecast`, `spike`, `scrape_down`, `scrape_recovered`,
    /// `litellm_budget` or `test`.
    pub kind: String,
    /// The budget's name, `spend` for spikes, `scrape` for scrape alerts, or
    /// the LiteLLM budget's entity.
    pub subject: String,
    /// The period key (`2026-03`, `2026-W10`, `2026-03-08`, an hour
    /// `2026-03-08T14`) or the outage's start.
    pub period: String,
    /// The threshold in percent, for threshold alerts.
    pub threshold: Option<f64>,
    /// A one-line title.
    pub title: String,
    /// A human-readable sentence.
    pub message: String,
    /// The value the decision saw (spend so far, the hour's spend, the
    /// remaining LiteLLM budget), when there is one.
    pub value: Option<f64>,
    /// The budget's limit, when there is one.
    pub limit: Option<f64>,
    /// The projected end-of-period value, when there is one.
    pub projected: Option<f64>,
    /// The metric counted (`cost`, `tokens`, …), when there is one.
    pub metric: Option<String>,
    /// When the decision was taken (RFC 3339 with the configured zone's offset).
    pub created_at: String,
}

/// The idempotency key of an alert the host names itself (scrape down and
/// recovered, LiteLLM budgets): 32 hex digits of SHA-256 of its key. Budget,
/// forecast and spike alerts use the core's [`pulse_core::budget::AlertId::idempotency_key`].
pub fn host_idempotency_key(key: &str) -> String {
    let digest = sha2::Sha256::digest(key.as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_keys_are_32_hex_digits_and_stable() {
        let k = host_idempotency_key("scrape_down:1772323200000:-:scrape");
        assert_eq!(k.len(), 32);
        assert!(k.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(
            k,
            host_idempotency_key("scrape_down:1772323200000:-:scrape")
        );
        assert_ne!(
            k,
            host_idempotency_key("scrape_down:1772323200001:-:scrape")
        );
    }
}
