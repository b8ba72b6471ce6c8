//! Home Assistant over MQTT: retained discovery configs, an availability
//! topic with a last will, and the states after each scrape.
//!
//! The publisher is its own task. The scrape loop only bumps a counter in a
//! `watch` channel ([`crate::app::App::scraped`]), which keeps nothing but the
//! latest value, so a broker that is slow or down never delays a scrape and
//! no backlog of old states builds up. The task reconnects with exponential
//! backoff; on every connection it announces `online` and publishes the
//! configs and the current states again (all retained).
//!
//! `discovery` (entities, topics, payloads) and `states` (values taken from
//! the API's own functions) are pure or read-only; this file holds the IO.

mod discovery;
mod settings;
mod states;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, LastWill, MqttOptions, Packet, QoS,
    TlsConfiguration, Transport,
};
use tokio::sync::watch;

use self::discovery::{Entity, Kind, OFFLINE, ONLINE, Topics};
pub use self::settings::MqttSettings;
use self::states::Reading;
use crate::app::App;

/// First wait after a failed connection; doubled up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Requests the client may queue for the connection (configs and states of
/// a few thousand models on a first round).
const QUEUE: usize = 8192;
/// How long shutdown waits to say `offline` before leaving the will to it.
const GOODBYE: Duration = Duration::from_secs(2);

/// Publishes to the broker until `shutdown` turns true, then says `offline`.
pub async fn run(app: Arc<App>, settings: MqttSettings, mut shutdown: watch::Receiver<bool>) {
    let topics = Topics::new(&settings.prefix, &settings.base_topic);
    let (client, mut events) = AsyncClient::new(options(&settings, &topics), QUEUE);
    let mut scraped = app.scraped.subscribe();
    let mut out = Outbox {
        client,
        topics,
        announced: HashSet::new(),
        dynamic: BTreeSet::new(),
    };
    let mut connected = false;
    let mut backoff = MIN_BACKOFF;
    let mut last_error: Option<String> = None;
    tracing::info!(
        "publishing to Home Assistant over MQTT: {} (discovery prefix {}, base topic {}{})",
        settings.shown,
        settings.prefix,
        settings.base_topic,
        settings
            .ca_file
            .as_ref()
            .map(|f| format!(", trusting the CA in {}", f.display()))
            .unwrap_or_default()
    );
    loop {
        // The select only picks what happened; handling it outside keeps no
        // borrow of the shutdown channel across an await.
        let step = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => Step::Stop,
            changed = scraped.changed() => match changed {
                Ok(()) => Step::Scraped,
                Err(_) => Step::Stop,
            },
            event = events.poll() => Step::Event(event),
        };
        match step {
            Step::Stop => break,
            // States wait for the connection; the latest is sent on connect.
            Step::Scraped if connected => out.publish_states(&app).await,
            Step::Scraped => {}
            Step::Event(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                connected = true;
                backoff = MIN_BACKOFF;
                last_error = None;
                tracing::info!("connected to the MQTT broker {}", settings.shown);
                out.on_connect();
                out.publish_states(&app).await;
            }
            Step::Event(Ok(Event::Incoming(Packet::Publish(p)))) => {
                out.on_retained(&p.topic, &p.payload);
            }
            Step::Event(Ok(_)) => {}
            Step::Event(Err(e)) => {
                connected = false;
                let msg = settings.scrub(&describe(&e));
                if last_error.as_deref() != Some(msg.as_str()) {
                    tracing::warn!(
                        "MQTT broker {}: {msg}; retrying with backoff",
                        settings.shown
                    );
                } else {
                    tracing::debug!("MQTT broker {}: {msg}", settings.shown);
                }
                last_error = Some(msg);
                let wait = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                let stopped = tokio::select! {
                    _ = tokio::time::sleep(wait) => false,
                    _ = shutdown.wait_for(|stop| *stop) => true,
                };
                if stopped {
                    break;
                }
            }
        }
    }
    if connected {
        goodbye(&out, &mut events).await;
    }
}

/// What woke the publisher.
enum Step {
    Stop,
    Scraped,
    Event(Result<Event, ConnectionError>),
}

/// Client options: id, credentials, keep-alive, TLS and the last will.
fn options(settings: &MqttSettings, topics: &Topics) -> MqttOptions {
    let id = format!("litellm-pulse-{}", topics.node);
    let mut o = MqttOptions::new(id, settings.host.clone(), settings.port);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_clean_session(true);
    if !settings.username.is_empty() || !settings.password.is_empty() {
        o.set_credentials(settings.username.clone(), settings.password.clone());
    }
    o.set_last_will(LastWill::new(
        topics.availability(),
        OFFLINE,
        QoS::AtLeastOnce,
        true,
    ));
    if settings.tls {
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            Arc::new(tls_config(&settings.ca_certs)),
        )));
    }
    o
}

/// rustls with ring (no OpenSSL, builds static for musl) and the Mozilla
/// root certificates, as the scraper's HTTP client uses, or only the
/// certificates of `LITELLM_PULSE_MQTT_CA_FILE` when it is given (a broker
/// with a certificate from a private CA, common at home).
fn tls_config(ca_certs: &[rustls::pki_types::CertificateDer<'static>]) -> rustls::ClientConfig {
    let roots = if ca_certs.is_empty() {
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned())
    } else {
        // Checked when the settings were resolved: every one parses.
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(ca_certs.iter().cloned());
        roots
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = match rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(b) => b,
        // Only a provider without any safe protocol version fails here.
        Err(_) => rustls::ClientConfig::builder_with_protocol_versions(rustls::DEFAULT_VERSIONS),
    };
    builder.with_root_certificates(roots).with_no_client_auth()
}

/// A connection error in words (never with credentials: the client does
/// not know them in text form, and the caller scrubs anyway).
fn describe(e: &ConnectionError) -> String {
    match e {
        ConnectionError::ConnectionRefused(code) => {
            format!("connection refused ({code:?}): check the user name and password")
        }
        other => other.to_string(),
    }
}

/// Publishes `offline` and disconnects, within [`GOODBYE`].
async fn goodbye(out: &Outbox, events: &mut EventLoop) {
    let _ = out
        .client
        .try_publish(out.topics.availability(), QoS::AtLeastOnce, true, OFFLINE);
    let _ = out.client.try_disconnect();
    let _ = tokio::time::timeout(GOODBYE, async {
        while let Ok(event) = events.poll().await {
            if matches!(event, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                break;
            }
        }
    })
    .await;
}

/// The client and what this connection has announced.
struct Outbox {
    client: AsyncClient,
    topics: Topics,
    /// Config topics published on this connection.
    announced: HashSet<String>,
    /// Object ids of dynamic entities (every [`discovery::Family`]: models,
    /// budgets) with a retained config on the broker, published by us or
    /// found retained from an earlier process.
    dynamic: BTreeSet<String>,
}

impl Outbox {
    /// A new connection: announce `online`, listen for retained configs of
    /// dynamic entities, and publish every config again.
    fn on_connect(&mut self) {
        self.announced.clear();
        let _ = self.send(self.topics.availability(), ONLINE.into());
        let filter = self.topics.dynamic_configs_filter();
        if let Err(e) = self.client.try_subscribe(filter, QoS::AtLeastOnce) {
            tracing::warn!("MQTT: cannot subscribe to the retained configs: {e}");
        }
    }

    /// A config from the broker: a dynamic entity announced earlier (maybe
    /// by an earlier process, with a budget or model that is gone now) or
    /// removed.
    fn on_retained(&mut self, topic: &str, payload: &[u8]) {
        if let Some(id) = self.topics.dynamic_config_object(topic) {
            if payload.is_empty() {
                self.dynamic.remove(id);
            } else {
                self.dynamic.insert(id.to_owned());
            }
        }
    }

    /// Reads the current values and publishes them.
    async fn publish_states(&mut self, app: &App) {
        match states::readings(app).await {
            Ok(readings) => self.publish(&readings),
            Err(e) => tracing::warn!("MQTT: cannot read the current values: {e}"),
        }
    }

    /// Configs not yet announced, every state, and an empty retained config
    /// (and state) for each dynamic entity that is gone: a model without
    /// counts this month, a budget no longer configured.
    fn publish(&mut self, readings: &[Reading]) {
        for r in readings {
            let config = self.topics.config(&r.entity);
            if !self.announced.contains(&config) {
                let payload = self.topics.config_payload(&r.entity).to_string();
                if self.send(config.clone(), payload.into_bytes()) {
                    self.announced.insert(config);
                }
            }
            let _ = self.send(self.topics.state(&r.entity), r.state.clone().into_bytes());
            if r.entity.family().is_some() {
                self.dynamic.insert(r.entity.object_id.clone());
            }
        }
        let current: HashSet<&str> = readings
            .iter()
            .map(|r| r.entity.object_id.as_str())
            .collect();
        let gone: Vec<String> = self
            .dynamic
            .iter()
            .filter(|id| !current.contains(id.as_str()))
            .cloned()
            .collect();
        for id in gone {
            let e = Entity::new(&id, "", Kind::Money);
            let config = self.topics.config(&e);
            if !self.send(config.clone(), Vec::new()) {
                continue;
            }
            let _ = self.send(self.topics.state(&e), Vec::new());
            self.announced.remove(&config);
            self.dynamic.remove(&id);
        }
    }

    /// Queues one retained QoS 1 message; a full queue drops it (the next
    /// scrape sends it again) and returns false.
    fn send(&self, topic: String, payload: Vec<u8>) -> bool {
        match self
            .client
            .try_publish(topic, QoS::AtLeastOnce, true, payload)
        {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!("MQTT: message dropped: {e}");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtts_builds_a_rustls_client_with_ring_and_no_process_default() {
        // No process-wide provider is installed: the config names ring itself.
        let config = tls_config(&[]);
        assert!(config.crypto_provider().cipher_suites.len() > 1);
        let settings =
            MqttSettings::resolve("mqtts://u:p@broker.example", "homeassistant", "lp", None)
                .unwrap()
                .unwrap();
        let o = options(&settings, &Topics::new("homeassistant", "lp"));
        assert!(matches!(o.transport(), Transport::Tls(_)));
        assert_eq!(o.broker_address(), ("broker.example".to_owned(), 8883));
        let will = o.last_will().unwrap();
        assert_eq!(
            (will.topic.as_str(), &will.message[..], will.retain),
            ("lp/status", &b"offline"[..], true)
        );
        assert_eq!(o.client_id(), "litellm-pulse-lp");
    }
}
