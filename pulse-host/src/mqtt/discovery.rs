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

/// A family of entities that come and go: one per model with counts this
/// month, two per configured budget. Each family owns an object-id prefix,
/// and every object id under a prefix belongs to that family, so the
/// publisher can tell from a retained config topic alone (even one an
/// earlier process left on the broker) that it is dynamic and clear it when
/// it no longer applies. No fixed entity's id starts with one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `model_…`: the spend today of one model.
    Model,
    /// `budget_…`: the percent used and the forecast percent of one budget.
    Budget,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 2] = [Family::Model, Family::Budget];

    /// The object-id prefix of the family.
    pub fn prefix(self) -> &'static str {
        match self {
            Family::Model => "model_",
            Family::Budget => "budget_",
        }
    }

    /// The family whose prefix `object_id` starts with.
    pub fn of(object_id: &str) -> Option<Family> {
        Family::ALL
            .into_iter()
            .find(|f| object_id.starts_with(f.prefix()))
    }
}

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
///
/// Home Assistant accepts only `state_class: total` (or none) with
/// `device_class: monetary`, and `measurement` is defined as a value "in
/// present time, not … a prediction of the future". So spend is `total`,
/// while a forecast (money or percent) has no state class: it is neither a
/// total nor a measurement, and Home Assistant keeps its history without
/// long-term statistics that would add up or average a projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Spend in [`CURRENCY`]: `monetary`, `total`.
    Money,
    /// Projected spend at the end of a period in [`CURRENCY`]: `monetary`,
    /// no state class.
    MoneyForecast,
    /// Percent of a budget's limit used so far: `%`, `measurement`.
    Percent,
    /// Percent of a budget's limit the forecast reaches: `%`, no state class.
    PercentForecast,
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
            object_id: format!("{}{}_spend_today", Family::Model.prefix(), name_slug(model)),
            name: format!("Spend today {model}"),
            kind: Kind::Money,
        }
    }

    /// The percent of one budget's limit used in its current period (ids
    /// like [`Entity::model_spend_today`]'s, from the budget's unique name).
    pub fn budget_percent(budget: &str) -> Entity {
        Entity {
            object_id: format!("{}{}_percent", Family::Budget.prefix(), name_slug(budget)),
            name: format!("Budget {budget} used"),
            kind: Kind::Percent,
        }
    }

    /// The percent of one budget's limit its forecast reaches at the end of
    /// the period.
    pub fn budget_forecast_percent(budget: &str) -> Entity {
        Entity {
            object_id: format!(
                "{}{}_forecast_percent",
                Family::Budget.prefix(),
                name_slug(budget)
            ),
            name: format!("Budget {budget} forecast"),
            kind: Kind::PercentForecast,
        }
    }

    /// Its platform.
    pub fn component(&self) -> Component {
        match self.kind {
            Kind::Fresh => Component::BinarySensor,
            _ => Component::Sensor,
        }
    }

    /// The family this entity comes and goes with, if it is not fixed.
    pub fn family(&self) -> Option<Family> {
        Family::of(&self.object_id)
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

    /// Filter matching the sensor configs of this node, to learn (from
    /// retained messages) the dynamic entities an earlier process announced.
    pub fn dynamic_configs_filter(&self) -> String {
        self.config_for(Component::Sensor, "+")
    }

    /// The object id of a dynamic entity's config topic matched by
    /// [`Topics::dynamic_configs_filter`], if `topic` is one.
    pub fn dynamic_config_object<'t>(&self, topic: &'t str) -> Option<&'t str> {
        let head = self.config_for(Component::Sensor, "");
        let object = topic.strip_prefix(head.strip_suffix("/config")?)?;
        let object = object.strip_suffix("/config")?;
        (Family::of(object).is_some() && !object.contains('/')).then_some(object)
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
            Kind::MoneyForecast => json!({
                "device_class": "monetary",
                "unit_of_measurement": CURRENCY,
                "suggested_display_precision": 2,
            }),
            Kind::Percent => json!({
                "state_class": "measurement",
                "unit_of_measurement": "%",
                "suggested_display_precision": 1,
            }),
            Kind::PercentForecast => json!({
                "unit_of_measurement": "%",
                "suggested_display_precision": 1,
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
pub fn name_slug(name: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    let slug = slugify(name);
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
            assert_eq!(e.family(), Some(Family::Model));
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
            assert_eq!(t.dynamic_config_object(&config), Some(e.object_id.as_str()));
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
        assert_ne!(name_slug("gpt-4o"), name_slug("gpt_4o"));
        assert_eq!(name_slug("gpt-4o"), name_slug("gpt-4o"));
        assert_eq!(name_slug("模型").len(), 8);
    }

    #[test]
    fn slugs_and_topic_matching() {
        assert_eq!(slugify("LiteLLM-Pulse"), "litellm_pulse");
        assert_eq!(slugify("--a..b--"), "a_b");
        assert_eq!(slugify("ünï"), "n");
        let t = topics();
        assert_eq!(
            t.dynamic_configs_filter(),
            "homeassistant/sensor/litellm_pulse/+/config"
        );
        assert_eq!(
            t.dynamic_config_object("homeassistant/sensor/litellm_pulse/spend_today/config"),
            None
        );
        assert_eq!(
            t.dynamic_config_object("homeassistant/sensor/other/model_x/config"),
            None
        );
        assert_eq!(
            t.dynamic_config_object("homeassistant/sensor/litellm_pulse/model_x/y/config"),
            None
        );
        assert_eq!(
            t.dynamic_config_object(
                "homeassistant/sensor/litellm_pulse/model_x_spend_today/config"
            ),
            Some("model_x_spend_today")
        );
        assert_eq!(
            t.dynamic_config_object("homeassistant/sensor/litellm_pulse/budget_x_percent/config"),
            Some("budget_x_percent")
        );
        assert_eq!(
            t.dynamic_config_object("homeassistant/binary_sensor/litellm_pulse/budget_x/config"),
            None
        );
        assert_eq!(t.availability(), "litellm-pulse/status");
    }

    #[test]
    fn budget_entities_are_one_family_with_percent_classes() {
        let t = topics();
        for name in ["monthly", "all spend", "a/+/#", "", "gpt-4o daily tokens"] {
            let used = Entity::budget_percent(name);
            let forecast = Entity::budget_forecast_percent(name);
            for e in [&used, &forecast] {
                assert_eq!(e.family(), Some(Family::Budget), "{name:?}");
                assert_eq!(
                    t.dynamic_config_object(&t.config(e)),
                    Some(e.object_id.as_str())
                );
            }
            assert_ne!(used.object_id, forecast.object_id);
            assert_eq!(used.name, format!("Budget {name} used"));
            assert_eq!(forecast.name, format!("Budget {name} forecast"));
        }
        assert_eq!(
            Entity::budget_percent("all spend").object_id,
            format!("budget_{}_percent", name_slug("all spend"))
        );
        assert_ne!(
            Entity::budget_percent("a b").object_id,
            Entity::budget_percent("a_b").object_id
        );
        let used = t.config_payload(&Entity::budget_percent("monthly"));
        assert_eq!(
            (&used["unit_of_measurement"], &used["state_class"]),
            (&json!("%"), &json!("measurement"))
        );
        assert!(used.get("device_class").is_none());
        let forecast = t.config_payload(&Entity::budget_forecast_percent("monthly"));
        assert_eq!(forecast["unit_of_measurement"], "%");
        assert!(forecast.get("state_class").is_none() && forecast.get("device_class").is_none());
    }

    #[test]
    fn a_money_forecast_is_monetary_without_a_state_class() {
        // Home Assistant allows only `total` (or none) with `monetary`, and a
        // projection is no total.
        let p = topics().config_payload(&Entity::new(
            "forecast_month",
            "Spend forecast this month",
            Kind::MoneyForecast,
        ));
        assert_eq!(p["device_class"], "monetary");
        assert_eq!(p["unit_of_measurement"], "USD");
        assert!(p.get("state_class").is_none(), "{p}");
    }
}
