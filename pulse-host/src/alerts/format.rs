//! What each channel receives: the request body and headers for an
//! [`AlertEvent`].
//!
//! - **webhook**: the event as JSON; `X-Pulse-Signature: sha256=<hex>` is
//!   the HMAC-SHA256 of the exact body bytes with the channel's secret.
//! - **slack**: an incoming-webhook message (`text` plus a section block).
//! - **discord**: a webhook message (`content` plus one embed).
//! - **ntfy**: a plain-text POST to the topic URL with `Title`, `Priority`
//!   and `Tags` headers.
//!
//! Every request carries `Idempotency-Key` with the event's key, and every
//! JSON body carries it too.

use hmac::{KeyInit, Mac};
use serde_json::json;

use super::{AlertEvent, Channel, ChannelKind};

/// One request to send: headers and body (the URL is the channel's).
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Header name and value pairs.
    pub headers: Vec<(&'static str, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// `sha256=<hex>` of HMAC-SHA256(`secret`, `body`).
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this never fails.
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Keeps a header value to visible ASCII (ntfy's `Title` is a header).
fn header_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// The ntfy priority of an event when the channel sets none.
fn default_priority(event: &AlertEvent) -> u8 {
    match event.kind.as_str() {
        "threshold" if event.threshold.is_some_and(|t| t >= 100.0) => 5,
        "threshold" | "scrape_down" | "spike" | "litellm_budget" => 4,
        _ => 3,
    }
}

/// The request `channel` gets for `event`.
pub fn outgoing(channel: &Channel, event: &AlertEvent) -> Outgoing {
    let key = event.idempotency_key.clone();
    let json_headers = |body: &[u8]| {
        let mut h = vec![
            ("content-type", "application/json".to_owned()),
            ("idempotency-key", key.clone()),
        ];
        if let Some(secret) = &channel.secret {
            h.push(("x-pulse-signature", signature(secret, body)));
        }
        h
    };
    match channel.kind {
        ChannelKind::Webhook => {
            let body = serde_json::to_vec(event).unwrap_or_default();
            Outgoing {
                headers: json_headers(&body),
                body,
            }
        }
        ChannelKind::Slack => {
            let text = format!("*{}*\n{}", event.title, event.message);
            let body = serde_json::to_vec(&json!({
                "text": text,
                "blocks": [
                    { "type": "section", "text": { "type": "mrkdwn", "text": text } },
                    { "type": "context", "elements": [ { "type": "mrkdwn", "text": format!("litellm-pulse · {} · idempotency key {}", event.kind, key) } ] }
                ],
                "idempotency_key": key,
            }))
            .unwrap_or_default();
            Outgoing {
                headers: json_headers(&body),
                body,
            }
        }
        ChannelKind::Discord => {
            let color = match event.kind.as_str() {
                "scrape_recovered" | "test" => 0x2e_cc_71,
                "forecast" => 0xf1_c4_0f,
                _ => 0xe7_4c_3c,
            };
            let body = serde_json::to_vec(&json!({
                "content": event.title,
                "embeds": [{
                    "title": event.title,
                    "description": event.message,
                    "color": color,
                    "footer": { "text": format!("litellm-pulse · idempotency key {key}") },
                }],
                "allowed_mentions": { "parse": [] },
            }))
            .unwrap_or_default();
            Outgoing {
                headers: json_headers(&body),
                body,
            }
        }
        ChannelKind::Ntfy => {
            let priority = channel.priority.unwrap_or_else(|| default_priority(event));
            let mut headers = vec![
                ("content-type", "text/plain; charset=utf-8".to_owned()),
                ("idempotency-key", key.clone()),
                ("title", header_text(&event.title)),
                ("priority", priority.to_string()),
            ];
            let tags = if channel.tags.is_empty() {
                vec!["litellm-pulse".to_owned(), event.kind.clone()]
            } else {
                channel.tags.clone()
            };
            headers.push(("tags", header_text(&tags.join(","))));
            Outgoing {
                headers,
                body: format!("{}\n\nidempotency key {key}", event.message).into_bytes(),
            }
        }
    }
}

/// A test message for `notify-test`.
pub fn test_event(created_at: String) -> AlertEvent {
    let key = format!("test:{created_at}:-:notify-test");
    AlertEvent {
        idempotency_key: super::host_idempotency_key(&key),
        key,
        kind: "test".into(),
        subject: "notify-test".into(),
        period: created_at.clone(),
        threshold: None,
        title: "litellm-pulse test message".into(),
        message: "If you can read this, litellm-pulse can reach this channel.".into(),
        value: None,
        limit: None,
        projected: None,
        metric: None,
        created_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(kind: ChannelKind, secret: Option<&str>) -> Channel {
        Channel {
            name: "c".into(),
            kind,
            url: reqwest::Url::parse("https://h.example/x").unwrap(),
            secret: secret.map(str::to_owned),
            priority: None,
            tags: Vec::new(),
        }
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        let sig = signature("Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let event = test_event("2026-03-01T00:00:00+00:00".into());
        let out = outgoing(&channel(ChannelKind::Webhook, Some("k")), &event);
        let got = out
            .headers
            .iter()
            .find(|h| h.0 == "x-pulse-signature")
            .unwrap();
        assert_eq!(got.1, signature("k", &out.body));
        let unsigned = outgoing(&channel(ChannelKind::Webhook, None), &event);
        assert!(unsigned.headers.iter().all(|h| h.0 != "x-pulse-signature"));
    }

    #[test]
    fn every_format_carries_the_idempotency_key() {
        let event = test_event("2026-03-01T00:00:00+00:00".into());
        for kind in [
            ChannelKind::Webhook,
            ChannelKind::Slack,
            ChannelKind::Discord,
            ChannelKind::Ntfy,
        ] {
            let out = outgoing(&channel(kind, None), &event);
            assert!(
                out.headers
                    .iter()
                    .any(|h| h.0 == "idempotency-key" && h.1 == event.idempotency_key),
                "{kind:?}"
            );
            let body = String::from_utf8(out.body).unwrap();
            assert!(body.contains(&event.idempotency_key), "{kind:?}: {body}");
        }
    }
}
