//! LiteLLM's own budget gauges, read from the parsed scrape.
//!
//! LiteLLM exports, per team, API key, user, customer (end user) and
//! organisation, `litellm_remaining_<entity>_budget_metric`,
//! `litellm_<entity>_max_budget_metric` and
//! `litellm_<entity>_budget_remaining_hours_metric` (hours until the budget
//! resets). `+Inf` means "no budget", as real proxies send it. The three
//! gauges of one entity carry the same labels, which is how they are joined.

use pulse_core::expo::Exposition;

/// The entities LiteLLM reports budgets for, as its metric names spell them.
pub const ENTITIES: [&str; 5] = ["team", "api_key", "user", "customer", "org"];

/// One entity's LiteLLM budget at the latest scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct LitellmBudget {
    /// `team`, `api_key`, `user`, `customer` or `org`.
    pub entity: String,
    /// The entity's labels as `name=value` pairs joined by `,` (its identity).
    pub ident: String,
    /// What to show: an `…_alias` label when set, else the other label values.
    pub name: String,
    /// Remaining budget; `None` when not reported or infinite (no budget).
    pub remaining: Option<f64>,
    /// The budget; `None` when not reported or infinite.
    pub max_budget: Option<f64>,
    /// Hours until LiteLLM resets the budget; `None` when not reported or infinite.
    pub remaining_hours: Option<f64>,
}

impl LitellmBudget {
    /// Whether LiteLLM enforces a finite budget for this entity.
    pub fn has_budget(&self) -> bool {
        self.max_budget.is_some() || self.remaining.is_some()
    }
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Every entity with at least one of the three gauges in `expo`, sorted by
/// entity and identity.
pub fn extract(expo: &Exposition<'_>) -> Vec<LitellmBudget> {
    let mut out: Vec<LitellmBudget> = Vec::new();
    for entity in ENTITIES {
        let names = [
            format!("litellm_remaining_{entity}_budget_metric"),
            format!("litellm_{entity}_max_budget_metric"),
            format!("litellm_{entity}_budget_remaining_hours_metric"),
        ];
        for sample in &expo.samples {
            let Some(which) = names.iter().position(|n| n == sample.name) else {
                continue;
            };
            let labels = expo.labels_of(sample);
            let mut pairs: Vec<(String, String)> = labels
                .iter()
                .map(|l| (l.name.to_owned(), l.value().into_owned()))
                .collect();
            pairs.sort();
            let ident = pairs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            let alias = pairs
                .iter()
                .find(|(k, v)| k.ends_with("_alias") && !v.is_empty() && v != "None")
                .map(|(_, v)| v.clone());
            let name = alias.unwrap_or_else(|| {
                pairs
                    .iter()
                    .filter(|(k, _)| !k.ends_with("_alias"))
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            let i = match out
                .iter()
                .position(|b| b.entity == entity && b.ident == ident)
            {
                Some(i) => i,
                None => {
                    out.push(LitellmBudget {
                        entity: entity.to_owned(),
                        ident,
                        name,
                        remaining: None,
                        max_budget: None,
                        remaining_hours: None,
                    });
                    out.len() - 1
                }
            };
            let value = finite(sample.value);
            match which {
                0 => out[i].remaining = value,
                1 => out[i].max_budget = value,
                _ => out[i].remaining_hours = value,
            }
        }
    }
    out.sort_by(|a, b| (&a.entity, &a.ident).cmp(&(&b.entity, &b.ident)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_real_capture_reports_no_budget_as_none() {
        let body = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/litellm/06-teams-after-traffic.prom"
        ))
        .unwrap();
        let expo = pulse_core::parse::parse_bytes(&body).unwrap();
        let found = extract(&expo);
        let teams: Vec<&str> = found
            .iter()
            .filter(|b| b.entity == "team")
            .map(|b| b.name.as_str())
            .collect();
        assert_eq!(teams, ["Alpha Team", "Beta \\\"quoted\\\" Team"]);
        assert_eq!(found.iter().filter(|b| b.entity == "api_key").count(), 4);
        assert_eq!(found.iter().filter(|b| b.entity == "user").count(), 4);
        assert!(found.iter().all(|b| !b.has_budget()), "{found:?}");
    }

    #[test]
    fn the_three_gauges_of_an_entity_are_joined() {
        let body = b"litellm_remaining_team_budget_metric{team=\"t1\",team_alias=\"\"} 12.5\n\
litellm_team_max_budget_metric{team=\"t1\",team_alias=\"\"} 50\n\
litellm_team_budget_remaining_hours_metric{team=\"t1\",team_alias=\"\"} 30\n\
litellm_remaining_user_budget_metric{user=\"u\"} +Inf\n";
        let expo = pulse_core::parse::parse_bytes(body).unwrap();
        let found = extract(&expo);
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[0],
            LitellmBudget {
                entity: "team".into(),
                ident: "team=t1,team_alias=".into(),
                name: "t1".into(),
                remaining: Some(12.5),
                max_budget: Some(50.0),
                remaining_hours: Some(30.0),
            }
        );
        assert!(!found[1].has_budget());
    }
}
