//! The states published after each scrape, taken from the very values the
//! API answers with: the `/api/v1/metrics` object, the `/health` freshness,
//! the `/api/v1/models` sums, the `cost_forecast`s of `/api/v2/summary` and
//! the `percent` and `forecast_percent` of `/api/v1/budgets`. Each body is
//! built by the endpoint's own function; nothing is computed a second time
//! here.

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

/// The spend forecasts: object id, name, and the `/api/v2/summary` window
/// whose `cost_forecast` is the state.
const FORECASTS: [(&str, &str, &str); 3] = [
    ("spend_forecast_today", "Spend forecast today", "today"),
    ("spend_forecast_week", "Spend forecast this week", "week"),
    ("spend_forecast_month", "Spend forecast this month", "month"),
];

/// Everything to publish now: the fixed sensors, scrape freshness, the
/// spend forecasts, two sensors per budget and the spend today of every
/// model active this month (models and budgets not listed are removed).
pub async fn readings(app: &App) -> Result<Vec<Reading>, String> {
    let no_db = |_| "the database did not answer".to_owned();
    let totals = handlers::totals(app).await.map_err(no_db)?;
    let live = app.live();
    let summary = handlers::summary_value(app, &totals, &live);
    let health = handlers::health_value(&live, &app.settings, app.clock.now_ms());
    let summary_v2 = handlers::summary_v2_value(app).await.map_err(no_db)?;
    let budgets = handlers::budgets_value(app).await.map_err(no_db)?;
    let models = handlers::key_totals(app, Dimension::Model)
        .await
        .map_err(no_db)?;
    let mut out = fixed(&summary, &health);
    out.extend(forecasts(&summary_v2));
    out.extend(budget_readings(&budgets));
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

/// The spend forecasts out of the `/api/v2/summary` body.
fn forecasts(summary_v2: &Value) -> Vec<Reading> {
    FORECASTS
        .iter()
        .filter_map(|(id, name, window)| {
            let value = summary_v2
                .get(window)?
                .get("cost_forecast")
                .filter(|v| v.is_number())?;
            Some(Reading {
                entity: Entity::new(id, name, Kind::MoneyForecast),
                state: value.to_string(),
            })
        })
        .collect()
}

/// Per budget of the `/api/v1/budgets` body: its `percent` and its
/// `forecast_percent`.
fn budget_readings(budgets: &Value) -> Vec<Reading> {
    let mut out = Vec::new();
    for b in budgets
        .get("budgets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(name) = b.get("name").and_then(Value::as_str) else {
            continue;
        };
        let pairs = [
            (Entity::budget_percent(name), "percent"),
            (Entity::budget_forecast_percent(name), "forecast_percent"),
        ];
        for (entity, field) in pairs {
            if let Some(value) = b.get(field).filter(|v| v.is_number()) {
                out.push(Reading {
                    entity,
                    state: value.to_string(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use pulse_core::track::Fleet;
    use serde_json::json;

    use super::*;
    use crate::api::tests::{SEQUENCE, capture};
    use crate::clock::Clock;
    use crate::mqtt::discovery::Family;
    use crate::pipeline::prepare;
    use crate::store::{Store, StoreHandle};

    fn ms(t: &str) -> i64 {
        pulse_core::window::parse_rfc3339(t).unwrap()
    }

    /// An app whose store holds the first three captures, with "now" pinned.
    async fn app_at(now: &str) -> Arc<App> {
        let settings = crate::testutil::settings_for("http://127.0.0.1:9/metrics", &[]);
        let mut store = Store::open_memory(168);
        let mut tracker = Fleet::new(settings.catalog.clone());
        for (name, at) in SEQUENCE.iter().take(3) {
            let p = prepare(
                &mut tracker,
                "litellm:4000",
                &capture(name),
                ms(at),
                None,
                Instant::now(),
            )
            .unwrap();
            p.persist(&mut store).unwrap();
        }
        App::new(settings, StoreHandle::spawn(store), Clock::Fixed(ms(now)))
            .await
            .unwrap()
    }

    fn body(
        resp: Result<warp::http::Response<warp::hyper::body::Bytes>, warp::Rejection>,
    ) -> Value {
        serde_json::from_slice(resp.unwrap().body()).unwrap()
    }

    #[tokio::test]
    async fn readings_are_the_api_numbers() {
        let app = app_at("2026-11-27T10:15:00Z").await;
        let metrics = body(handlers::metrics(Arc::clone(&app)).await);
        let models = body(handlers::models(Arc::clone(&app)).await);
        let readings = readings(&app).await.unwrap();
        for (id, _, _, field) in FIXED {
            let r = readings.iter().find(|r| r.entity.object_id == id).unwrap();
            assert_eq!(r.state.parse::<f64>().ok(), metrics[field].as_f64(), "{id}");
        }
        assert!(metrics["cost_daily"].as_f64().unwrap() > 0.0, "{metrics}");
        let per_model: Vec<&Reading> = readings
            .iter()
            .filter(|r| r.entity.family() == Some(Family::Model))
            .collect();
        let api_models = models["models"].as_array().unwrap();
        assert_eq!(per_model.len(), api_models.len());
        for m in api_models {
            let name = m["model"].as_str().unwrap();
            let r = per_model
                .iter()
                .find(|r| r.entity.name == format!("Spend today {name}"))
                .unwrap();
            assert_eq!(r.entity, Entity::model_spend_today(name));
            assert_eq!(
                r.state.parse::<f64>().ok(),
                m["cost_daily"].as_f64(),
                "{name}"
            );
        }
    }

    #[tokio::test]
    async fn forecasts_and_budgets_are_the_api_numbers() {
        let app = app_at("2026-11-27T10:15:00Z").await;
        let toml = "[[budget]]\nname = \"all spend\"\nlimit = 0.01\n\n\
                    [[budget]]\nname = \"daily tokens\"\nmetric = \"tokens\"\nperiod = \"day\"\nlimit = 1000\n";
        let config = crate::alerts::config::parse(std::path::Path::new("b.toml"), toml).unwrap();
        app.set_alert_config(config).await.unwrap();
        let summary = body(handlers::summary_v2(Arc::clone(&app)).await);
        let budgets = body(handlers::budgets(Arc::clone(&app)).await);
        let readings = readings(&app).await.unwrap();
        let state = |id: &str| {
            let r = readings.iter().find(|r| r.entity.object_id == id);
            r.unwrap_or_else(|| panic!("no {id}"))
                .state
                .parse::<f64>()
                .ok()
        };
        for (id, _, window) in FORECASTS {
            assert_eq!(state(id), summary[window]["cost_forecast"].as_f64(), "{id}");
        }
        assert!(
            summary["month"]["cost_forecast"].as_f64().unwrap() > 0.0,
            "{summary}"
        );
        let list = budgets["budgets"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        for b in list {
            let name = b["name"].as_str().unwrap();
            let used = Entity::budget_percent(name);
            let forecast = Entity::budget_forecast_percent(name);
            assert_eq!(state(&used.object_id), b["percent"].as_f64(), "{name}");
            assert_eq!(
                state(&forecast.object_id),
                b["forecast_percent"].as_f64(),
                "{name}"
            );
            assert!(b["percent"].as_f64().unwrap() > 0.0, "{b}");
        }
        let family = readings
            .iter()
            .filter(|r| r.entity.family() == Some(Family::Budget))
            .count();
        assert_eq!(family, 4);
    }

    #[tokio::test]
    async fn models_without_counts_this_month_are_left_out() {
        let app = app_at("2027-01-05T10:15:00Z").await;
        let readings = readings(&app).await.unwrap();
        assert!(readings.iter().all(|r| r.entity.family().is_none()));
        let all_time = readings
            .iter()
            .find(|r| r.entity.object_id == "spend_all_time")
            .unwrap();
        assert!(all_time.state.parse::<f64>().unwrap() > 0.0);
        let month = readings
            .iter()
            .find(|r| r.entity.object_id == "spend_month")
            .unwrap();
        assert_eq!(month.state, "0.0");
    }

    #[test]
    fn no_fixed_entity_looks_dynamic() {
        // A fixed id under a family's prefix would be removed as a stale
        // model or budget.
        let fixed = FIXED
            .iter()
            .map(|f| f.0)
            .chain(FORECASTS.iter().map(|f| f.0));
        for id in fixed.chain(["scrape_fresh"]) {
            assert_eq!(Family::of(id), None, "{id}");
        }
    }

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
        let got: Vec<(String, String)> = forecasts(&json!({
            "today": { "cost_forecast": 1.5 },
            "week": { "cost_forecast": 2.25 },
            "month": { "cost": 1.0 },
        }))
        .into_iter()
        .map(|r| (r.entity.object_id, r.state))
        .collect();
        assert_eq!(
            got,
            [
                ("spend_forecast_today".to_owned(), "1.5".to_owned()),
                ("spend_forecast_week".to_owned(), "2.25".to_owned()),
            ]
        );
        let got: Vec<(String, String)> = budget_readings(&json!({ "budgets": [
            { "name": "b", "percent": 12.5, "forecast_percent": 80.0 },
            { "percent": 1.0 },
            { "name": "c", "percent": null, "forecast_percent": 3.0 },
        ]}))
        .into_iter()
        .map(|r| (r.entity.name, r.state))
        .collect();
        let want = [
            ("Budget b used", "12.5"),
            ("Budget b forecast", "80.0"),
            ("Budget c forecast", "3.0"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        assert_eq!(got, want);
        assert!(budget_readings(&json!({})).is_empty());
        let stale = fixed(&json!({}), &json!({ "fresh": false }));
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].state, "OFF");
    }
}
