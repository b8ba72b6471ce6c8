//! Home Assistant's MQTT discovery: the entities pulse offers, their topics
//! and their config payloads. Pure: no IO, no clock.
//!
//! Each entity has its own retained config topic
//! (`<prefix>/<component>/<node>/<object>/config`) and carries the same
//! `device` block, so Home Assistant groups them under one device
//! ("LiteLLM Pulse") while a single entity can still be removed with an
//! empty retained config (with one device-wide config, an empty payload
//! would remove the whole device).

use serde_json::{Value, json};

/// The device's name in Home Assistant.
pub const DEVICE_NAME: &str = "LiteLLM Pulse";
/// Currency of every money entity: LiteLLM reports spend in US dollars.
pub const CURRENCY: &str = "USD";
/// Availability payloads (the last will is [`OFFLINE`]).
pub const ONLINE: &str = "online";
/// See [`ONLINE`].
pub const OFFLINE: &str = "offline";
/// Object ids of per-model entities start with this.
pub const MODEL_PREFIX: &str = "model_";

/// Which Home Assistant platform an entity belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// A numeric sensor.
    Sensor,
    /// An on/off sensor (`ON`/`OFF`).
    BinarySensor,
}

impl Component {
    /// The platform's name in topics.
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Sensor => "sensor",
            Component::BinarySensor => "binary_sensor",
        }
    }
}

/// What an entity measures, which decides its classes and unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Spend in [`CURRENCY`]: `monetary`, `total`.
    Money,
    /// A counter that only grows (per window it restarts at zero, which Home
    /// Assistant's `total_increasing` reads as a new cycle).
    Count(&'static str),
    /// A current value (`measurement`).
    Gauge(&'static str),
    /// Whether the latest good scrape is recent (binary, `connectivity`).
    Fresh,
}

/// One entity: its object id (unique under the node), its display name (any
/// text, shown as text) and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    /// Slug: `[a-z0-9_]+`.
    pub object_id: String,
    /// Shown in Home Assistant after the device name.
    pub name: String,
    /// Classes and unit.
    pub kind: Kind,
}

impl Entity {
    /// A fixed entity.
    pub fn new(object_id: &str, name: &str, kind: Kind) -> Entity {
        Entity {
            object_id: object_id.to_owned(),
            name: name.to_owned(),
            kind,
        }
    }

    /// The spend of one model today. The object id is a slug of the name
    /// plus a hash of the exact name, so two names with the same slug
    /// (`gpt-4`, `gpt_4`) stay two entities; the name stays as given.
    pub fn model_spend_today(model: &str) -> Entity {
        Entity {
            object_id: format!("{MODEL_PREFIX}{}_spend_today", model_slug(model)),
            name: format!("Spend today {model}"),
            kind: Kind::Money,
        }
    }

    /// Its platform.
    pub fn component(&self) -> Component {
        match self.kind {
            Kind::Fresh => Component::BinarySensor,
            _ => Component::Sensor,
        }
    }

    /// Whether this entity comes and goes with a model.
    pub fn is_model(&self) -> bool {
        self.object_id.starts_with(MODEL_PREFIX)
    }
}

/// Topic names of one publisher (a discovery prefix and a base topic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    /// Discovery prefix (`homeassistant`).
    pub prefix: String,
    /// Base topic (`litellm-pulse`).
    pub base: String,
    /// Slug of the base topic: node id and `unique_id` prefix.
    pub node: String,
}

impl Topics {
    /// Topics under `prefix` and `base`.
    pub fn new(prefix: &str, base: &str) -> Topics {
        Topics {
            prefix: prefix.to_owned(),
            base: base.to_owned(),
            node: slugify(base),
        }
    }

    /// Retained `online`/`offline`.
    pub fn availability(&self) -> String {
        format!("{}/status", self.base)
    }

    /// Retained state of one entity.
    pub fn state(&self, e: &Entity) -> String {
        format!("{}/state/{}", self.base, e.object_id)
    }

    /// Retained discovery config of one entity.
    pub fn config(&self, e: &Entity) -> String {
        self.config_for(e.component(), &e.object_id)
    }

    fn config_for(&self, component: Component, object_id: &str) -> String {
        format!(
            "{}/{}/{}/{object_id}/config",
            self.prefix,
            component.as_str(),
            self.node
        )
    }

    /// Filter matching the configs of per-model entities, to learn (from
    /// retained messages) the models an earlier process announced.
    pub fn model_configs_filter(&self) -> String {
        self.config_for(Component::Sensor, "+")
    }

    /// The object id of a per-model config topic matched by
    /// [`Topics::model_configs_filter`], if `topic` is one.
    pub fn model_config_object<'t>(&self, topic: &'t str) -> Option<&'t str> {
        let head = self.config_for(Component::Sensor, "");
        let object = topic.strip_prefix(head.strip_suffix("/config")?)?;
        let object = object.strip_suffix("/config")?;
        (object.starts_with(MODEL_PREFIX) && !object.contains('/')).then_some(object)
    }

    /// The `unique_id` of an entity.
    pub fn unique_id(&self, e: &Entity) -> String {
        format!("{}_{}", self.node, e.object_id)
    }

    /// The discovery config of `e` (published retained).
    pub fn config_payload(&self, e: &Entity) -> Value {
        let mut out = json!({
            "name": e.name,
            "unique_id": self.unique_id(e),
            "state_topic": self.state(e),
            "availability_topic": self.availability(),
            "payload_available": ONLINE,
            "payload_not_available": OFFLINE,
            "device": {
                "identifiers": [self.node],
                "name": DEVICE_NAME,
                "manufacturer": "LiteLLM Pulse",
                "model": "litellm-pulse",
                "sw_version": env!("CARGO_PKG_VERSION"),
            },
            "origin": {
                "name": "litellm-pulse",
                "sw_version": env!("CARGO_PKG_VERSION"),
                "support_url": env!("CARGO_PKG_REPOSITORY"),
            },
        });
        let extra = match e.kind {
            Kind::Money => json!({
                "device_class": "monetary",
                "state_class": "total",
                "unit_of_measurement": CURRENCY,
                "suggested_display_precision": 2,
            }),
            Kind::Count(unit) => json!({
                "state_class": "total_increasing",
                "unit_of_measurement": unit,
            }),
            Kind::Gauge(unit) => json!({
                "state_class": "measurement",
                "unit_of_measurement": unit,
            }),
            Kind::Fresh => json!({
                "device_class": "connectivity",
                "entity_category": "diagnostic",
            }),
        };
        if let (Value::Object(out), Value::Object(extra)) = (&mut out, extra) {
            out.extend(extra);
        }
        out
    }
}

/// Lower-case ASCII letters and digits; every other run of characters
/// becomes one `_`, trimmed at both ends (at most 48 characters).
pub fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(48));
    for c in text.chars() {
        if out.len() >= 48 {
            break;
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// [`slugify`] plus eight hex digits of a hash of the exact name (FNV-1a,
/// fixed so ids stay the same across versions and processes).
pub fn model_slug(model: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for b in model.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    let slug = slugify(model);
    if slug.is_empty() {
        format!("{hash:08x}")
    } else {
        format!("{slug}_{hash:08x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics() -> Topics {
        Topics::new("homeassistant", "litellm-pulse")
    }

    #[test]
    fn money_config_has_exact_fields() {
        let e = Entity::new("spend_today", "Spend today", Kind::Money);
        let v = env!("CARGO_PKG_VERSION");
        let repo = env!("CARGO_PKG_REPOSITORY");
        assert_eq!(
            topics().config(&e),
            "homeassistant/sensor/litellm_pulse/spend_today/config"
        );
        assert_eq!(
            topics().config_payload(&e),
            json!({
                "name": "Spend today",
                "unique_id": "litellm_pulse_spend_today",
                "state_topic": "litellm-pulse/state/spend_today",
                "availability_topic": "litellm-pulse/status",
                "payload_available": "online",
                "payload_not_available": "offline",
                "device": {
                    "identifiers": ["litellm_pulse"],
                    "name": "LiteLLM Pulse",
                    "manufacturer": "LiteLLM Pulse",
                    "model": "litellm-pulse",
                    "sw_version": v,
                },
                "origin": { "name": "litellm-pulse", "sw_version": v, "support_url": repo },
                "device_class": "monetary",
                "state_class": "total",
                "unit_of_measurement": "USD",
                "suggested_display_precision": 2,
            })
        );
    }

    #[test]
    fn counters_gauges_and_freshness_have_their_classes() {
        let t = topics();
        let tokens = t.config_payload(&Entity::new(
            "tokens_today",
            "Tokens today",
            Kind::Count("tokens"),
        ));
        assert_eq!(tokens["state_class"], "total_increasing");
        assert_eq!(tokens["unit_of_measurement"], "tokens");
        assert!(tokens.get("device_class").is_none());
        let flight = t.config_payload(&Entity::new(
            "in_flight",
            "In flight",
            Kind::Gauge("requests"),
        ));
        assert_eq!(flight["state_class"], "measurement");
        let fresh = Entity::new("scrape_fresh", "Scrape fresh", Kind::Fresh);
        assert_eq!(
            t.config(&fresh),
            "homeassistant/binary_sensor/litellm_pulse/scrape_fresh/config"
        );
        let fresh = t.config_payload(&fresh);
        assert_eq!(fresh["device_class"], "connectivity");
        assert_eq!(fresh["entity_category"], "diagnostic");
        assert!(fresh.get("state_class").is_none() && fresh.get("unit_of_measurement").is_none());
    }

    #[test]
    fn hostile_model_names_become_slugs_and_stay_text() {
        let t = topics();
        for name in [
            "gpt-4o",
            "gpt_4o",
            "openai/gpt-4o",
            "a/+/#/b",
            "<script>alert(1)</script>",
            "模型",
            "",
            "   ",
            "x\u{0}y\n\"z'",
            &"very-long-".repeat(20),
        ] {
            let e = Entity::model_spend_today(name);
            assert!(e.is_model());
            assert!(
                e.object_id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{name:?} → {}",
                e.object_id
            );
            assert!(e.object_id.len() <= 48 + 6 + 9 + 12, "{}", e.object_id);
            let config = t.config(&e);
            assert!(
                !config.contains(['+', '#']) && config.matches('/').count() == 4,
                "{config}"
            );
            assert_eq!(t.model_config_object(&config), Some(e.object_id.as_str()));
            let payload = t.config_payload(&e);
            assert_eq!(payload["name"], format!("Spend today {name}"));
            assert_eq!(
                payload["unique_id"],
                format!("litellm_pulse_{}", e.object_id)
            );
        }
        let id = Entity::model_spend_today("openai/GPT-4o").object_id;
        assert!(
            id.starts_with("model_openai_gpt_4o_") && id.ends_with("_spend_today"),
            "{id}"
        );
        assert_eq!(id.len(), "model_openai_gpt_4o__spend_today".len() + 8);
        // Names with the same slug stay apart.
        assert_ne!(model_slug("gpt-4o"), model_slug("gpt_4o"));
        assert_eq!(model_slug("gpt-4o"), model_slug("gpt-4o"));
        assert_eq!(model_slug("模型").len(), 8);
    }

    #[test]
    fn slugs_and_topic_matching() {
        assert_eq!(slugify("LiteLLM-Pulse"), "litellm_pulse");
        assert_eq!(slugify("--a..b--"), "a_b");
        assert_eq!(slugify("ünï"), "n");
        let t = topics();
        assert_eq!(
            t.model_configs_filter(),
            "homeassistant/sensor/litellm_pulse/+/config"
        );
        assert_eq!(
            t.model_config_object("homeassistant/sensor/litellm_pulse/spend_today/config"),
            None
        );
        assert_eq!(
            t.model_config_object("homeassistant/sensor/other/model_x/config"),
            None
        );
        assert_eq!(
            t.model_config_object("homeassistant/sensor/litellm_pulse/model_x/y/config"),
            None
        );
        assert_eq!(
            t.model_config_object("homeassistant/sensor/litellm_pulse/model_x_spend_today/config"),
            Some("model_x_spend_today")
        );
        assert_eq!(t.availability(), "litellm-pulse/status");
    }
}
