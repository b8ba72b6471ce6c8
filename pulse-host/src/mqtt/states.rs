//! The states published after each scrape, taken from the very values the
//! API answers with: the `/api/v1/metrics` object, the `/health` freshness
//! and the `/api/v1/models` sums. Nothing is computed a second time here.

use pulse_core::catalog::{Dimension, Metric};
use serde_json::Value;

use super::discovery::{Entity, Kind};
use crate::api::handlers;
use crate::api::views;
use crate::app::App;

/// One entity and its state text.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// What is published.
    pub entity: Entity,
    /// The payload of its state topic.
    pub state: String,
}

/// The fixed sensors: object id, name, kind, and the `/api/v1/metrics` field
/// whose value is the state.
const FIXED: [(&str, &str, Kind, &str); 9] = [
    ("spend_today", "Spend today", Kind::Money, "cost_daily"),
    ("spend_week", "Spend this week", Kind::Money, "cost_weekly"),
    (
        "spend_month",
        "Spend this month",
        Kind::Money,
        "cost_monthly",
    ),
    ("spend_all_time", "Spend all time", Kind::Money, "cost"),
    (
        "requests_today",
        "Requests today",
        Kind::Count("requests"),
        "requests_daily",
    ),
    (
        "requests_all_time",
        "Requests all time",
        Kind::Count("requests"),
        "requests",
    ),
    (
        "tokens_today",
        "Tokens today",
        Kind::Count("tokens"),
        "tokens_daily",
    ),
    (
        "tokens_all_time",
        "Tokens all time",
        Kind::Count("tokens"),
        "tokens",
    ),
    (
        "in_flight",
        "Requests in flight",
        Kind::Gauge("requests"),
        "in_flight_requests",
    ),
];

/// Everything to publish now: the fixed sensors, scrape freshness and the
/// spend today of every model active this month (the others are removed).
pub async fn readings(app: &App) -> Result<Vec<Reading>, String> {
    let totals = handlers::totals(app)
        .await
        .map_err(|_| "the database did not answer".to_owned())?;
    let live = app.live();
    let summary = handlers::summary_value(app, &totals, &live);
    let health = handlers::health_value(&live, &app.settings, app.clock.now_ms());
    let models = handlers::key_totals(app, Dimension::Model)
        .await
        .map_err(|_| "the database did not answer".to_owned())?;
    let mut out = fixed(&summary, &health);
    for (model, t) in &models {
        // Keys without a model are not a model (as in /api/v1/models); a
        // model without any count this month has left the month's breakdown.
        if model.is_empty() || views::counters().all(|m| t.windows[2].get(m) == 0.0) {
            continue;
        }
        out.push(Reading {
            entity: Entity::model_spend_today(model),
            state: views::num(t.windows[0].get(Metric::Cost)).to_string(),
        });
    }
    Ok(out)
}

/// The fixed readings out of the `/api/v1/metrics` and `/health` bodies.
fn fixed(summary: &Value, health: &Value) -> Vec<Reading> {
    let mut out: Vec<Reading> = FIXED
        .iter()
        .filter_map(|(id, name, kind, field)| {
            let value = summary.get(field).filter(|v| v.is_number())?;
            Some(Reading {
                entity: Entity::new(id, name, *kind),
                state: value.to_string(),
            })
        })
        .collect();
    let fresh = health.get("fresh").and_then(Value::as_bool) == Some(true);
    out.push(Reading {
        entity: Entity::new("scrape_fresh", "Scrape fresh", Kind::Fresh),
        state: if fresh { "ON" } else { "OFF" }.to_owned(),
    });
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fixed_readings_copy_the_api_numbers() {
        let summary = json!({
            "cost": 1.25, "cost_daily": 0.5, "cost_weekly": 0.75, "cost_monthly": 1.0,
            "requests": 12.0, "requests_daily": 3.0, "tokens": 4567.0, "tokens_daily": 89.0,
            "in_flight_requests": 2.0, "last_scrape": null,
        });
        let got: Vec<(String, String)> = fixed(&summary, &json!({ "fresh": true }))
            .into_iter()
            .map(|r| (r.entity.object_id, r.state))
            .collect();
        let want = [
            ("spend_today", "0.5"),
            ("spend_week", "0.75"),
            ("spend_month", "1.0"),
            ("spend_all_time", "1.25"),
            ("requests_today", "3.0"),
            ("requests_all_time", "12.0"),
            ("tokens_today", "89.0"),
            ("tokens_all_time", "4567.0"),
            ("in_flight", "2.0"),
            ("scrape_fresh", "ON"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        assert_eq!(got, want);
        let stale = fixed(&json!({}), &json!({ "fresh": false }));
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].state, "OFF");
    }
}
