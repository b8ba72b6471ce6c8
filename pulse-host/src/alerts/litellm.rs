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
    let names: Vec<(&str, [String; 3])> = ENTITIES
        .iter()
        .map(|entity| {
            (
                *entity,
                [
                    format!("litellm_remaining_{entity}_budget_metric"),
                    format!("litellm_{entity}_max_budget_metric"),
                    format!("litellm_{entity}_budget_remaining_hours_metric"),
                ],
            )
        })
        .collect();
    // A sample's name starts with its family's: only the few families that
    // can hold a budget gauge are read (a body at 100,000 series has 200,000
    // samples and a few dozen families).
    let gauges = expo.families.iter().filter(|f| {
        names
            .iter()
            .any(|(_, ns)| ns.iter().any(|n| n.starts_with(f.name)))
    });
    for sample in gauges.flat_map(|f| expo.samples_of(f)) {
        for (entity, names) in &names {
            let entity = *entity;
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

    #[test]
    fn gauges_are_found_in_typed_split_and_untyped_families_alike() {
        // A typed family, a counter family between, the same gauge again
        // (split: its later value wins) and a gauge with no TYPE line.
        let body = b"# TYPE litellm_remaining_api_key_budget_metric gauge\n\
litellm_remaining_api_key_budget_metric{hashed_api_key=\"k1\",api_key_alias=\"ci\"} 4\n\
# TYPE litellm_requests_metric counter\n\
litellm_requests_metric_total{hashed_api_key=\"k1\"} 9\n\
litellm_requests_metric_created{hashed_api_key=\"k1\"} 1.7e9\n\
litellm_remaining_api_key_budget_metric{hashed_api_key=\"k1\",api_key_alias=\"ci\"} 3.5\n\
litellm_api_key_max_budget_metric{hashed_api_key=\"k1\",api_key_alias=\"ci\"} 10\n\
litellm_org_max_budget_metric_total{org=\"o\"} 7\n";
        let expo = pulse_core::parse::parse_bytes(body).unwrap();
        assert_eq!(
            extract(&expo),
            [LitellmBudget {
                entity: "api_key".into(),
                ident: "api_key_alias=ci,hashed_api_key=k1".into(),
                name: "ci".into(),
                remaining: Some(3.5),
                max_budget: Some(10.0),
                remaining_hours: None,
            }]
        );
    }
}
