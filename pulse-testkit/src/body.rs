//! A deterministic, LiteLLM-shaped `/metrics` body of any size.
//!
//! Shared by pulse-core's criterion bench and `cargo xtask gen-body` /
//! `bench-parser`, so the Rust and Python numbers are taken on the same
//! bytes. The shapes follow the real captures in `tests/fixtures/litellm`:
//! text format 0.0.4 as prometheus_client 0.26 writes it, counters with 13-17
//! alphabetically sorted labels followed by their `_created` gauge family,
//! histograms with `le` among the sorted labels, Python-repr values with
//! float noise, `+Inf` and `sys.maxsize` gauges, user agents with spaces,
//! quotes and backslashes (double escaped, as LiteLLM does), and end users
//! with `\n` escapes and raw UTF-8.

use crate::exposition::{CounterRow, Kind, NO_LABELS, TextWriter};

/// xorshift64*: small, deterministic, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn hex64(&mut self) -> String {
        (0..4).map(|_| format!("{:016x}", self.next())).collect()
    }
}

const MODELS: [(&str, &str, &str); 12] = [
    ("gpt-4o-mini", "gpt-4o-mini", "openai"),
    ("gpt-4o", "gpt-4o", "openai"),
    ("claude-haiku", "claude-3-5-haiku-20241022", "anthropic"),
    ("claude-sonnet", "claude-3-7-sonnet-20250219", "anthropic"),
    (
        "local-llama",
        "meta-llama/Llama-3.1-8B-Instruct",
        "hosted_vllm",
    ),
    ("flaky-model", "gpt-4o-mini", "openai"),
    ("slow-model", "gpt-4o-mini", "openai"),
    ("gemini-flash", "gemini-2.0-flash", "gemini"),
    ("mistral-small", "mistral-small-latest", "mistral"),
    ("o3-mini", "o3-mini", "openai"),
    ("embed-small", "text-embedding-3-small", "openai"),
    ("other", "", ""),
];

const TEAM_ALIASES: [&str; 6] = [
    "Alpha Team",
    "Beta \\\"quoted\\\" Team",
    "None",
    "Gamma-Ops",
    "Delta & Co",
    "Équipe Ω",
];

const USER_AGENTS: [&str; 6] = [
    "fixture-client/1.0",
    "OpenAI/Python 1.99.9",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (X11; \\\"quoted\\\") \\\\ agent",
    "curl/8.5.0",
    "litellm-pulse-bench/0.4 (+https://example.invalid)",
];

const END_USERS: [&str; 6] = [
    "None",
    "end-user-1",
    "end-user-2",
    "weird \"user\" \\ back\\slash\nnewline ünïcödé",
    "用户-三",
    "customer@example.com",
];

const ROUTES: [&str; 3] = [
    "/v1/chat/completions",
    "/chat/completions",
    "/v1/embeddings",
];

const LATENCY_BUCKETS: [&str; 18] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.0", "5.0", "10.0", "30.0",
    "60.0", "120.0", "300.0", "420.0", "600.0", "+Inf",
];

const TOKEN_BUCKETS: [&str; 15] = [
    "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1.0", "2.5", "5.0",
    "7.5", "10.0", "+Inf",
];

/// One label set: who called which model from where.
struct Child {
    model: usize,
    key: String,
    key_alias: String,
    team: usize,
    user: String,
    end_user: usize,
    agent: usize,
    route: usize,
    status: &'static str,
    ip: String,
    model_id: String,
    created: f64,
}

impl Child {
    fn new(rng: &mut Rng, keys: &[(String, String)], model_ids: &[String], i: usize) -> Child {
        let model = rng.below(MODELS.len());
        let (key, key_alias) = keys[rng.below(keys.len())].clone();
        Child {
            model,
            key,
            key_alias,
            team: rng.below(TEAM_ALIASES.len()),
            user: format!("user-{}", rng.below(400)),
            end_user: rng.below(END_USERS.len()),
            agent: rng.below(USER_AGENTS.len()),
            route: rng.below(ROUTES.len()),
            status: ["200", "200", "200", "400", "429", "500", "None"][rng.below(7)],
            ip: format!("10.{}.{}.{}", rng.below(4), rng.below(256), rng.below(256)),
            model_id: model_ids[model].clone(),
            created: 1.795_774_3e9 + i as f64 * 0.37 + rng.unit(),
        }
    }

    /// The value of label `name` for this child (already escaped).
    fn value(&self, name: &str) -> String {
        let (group, model, provider) = MODELS[self.model];
        match name {
            "api_key_alias" => self.key_alias.clone(),
            "api_provider" => provider.to_string(),
            "client_ip" => self.ip.clone(),
            "end_user" => END_USERS[self.end_user].to_string(),
            "exception_class" => "Openai.InternalServerError".to_string(),
            "exception_status" => "500".to_string(),
            "hashed_api_key" => self.key.clone(),
            "model" | "litellm_model_name" => model.to_string(),
            "model_group" | "requested_model" => group.to_string(),
            "model_id" => self.model_id.clone(),
            "route" => ROUTES[self.route].to_string(),
            "status_code" => self.status.to_string(),
            "team" => format!("team-{}", self.team),
            "team_alias" => TEAM_ALIASES[self.team].to_string(),
            "user" => self.user.clone(),
            "user_agent" => USER_AGENTS[self.agent].to_string(),
            "user_email" => format!("{}@example.com", self.user),
            "api_base" => String::new(),
            _ => "None".to_string(),
        }
    }
}

struct Fam {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    /// 0 = counter, 1 = latency histogram, 2 = token histogram, 3 = budget gauge, 4 = limit gauge.
    kind: u8,
    /// Only every n-th child has a series in this family.
    every: usize,
}

const PROXY_LABELS: [&str; 16] = [
    "api_key_alias",
    "api_provider",
    "client_ip",
    "end_user",
    "hashed_api_key",
    "model_id",
    "org_alias",
    "org_id",
    "requested_model",
    "route",
    "status_code",
    "team",
    "team_alias",
    "user",
    "user_agent",
    "user_email",
];
const FAILED_LABELS: [&str; 17] = [
    "api_key_alias",
    "api_provider",
    "client_ip",
    "end_user",
    "exception_class",
    "exception_status",
    "hashed_api_key",
    "model_id",
    "org_alias",
    "org_id",
    "requested_model",
    "route",
    "team",
    "team_alias",
    "user",
    "user_agent",
    "user_email",
];
const SPEND_LABELS: [&str; 16] = [
    "api_key_alias",
    "api_provider",
    "client_ip",
    "end_user",
    "hashed_api_key",
    "model",
    "model_id",
    "org_alias",
    "org_id",
    "requested_model",
    "service_tier",
    "team",
    "team_alias",
    "user",
    "user_agent",
    "user_email",
];
const TOKEN_LABELS: [&str; 13] = [
    "api_key_alias",
    "api_provider",
    "end_user",
    "hashed_api_key",
    "model",
    "model_id",
    "org_alias",
    "org_id",
    "requested_model",
    "team",
    "team_alias",
    "user",
    "user_email",
];
/// The labels of LiteLLM's request latency histograms in the captures (with `le`).
pub(crate) const LATENCY_LABELS: [&str; 15] = [
    "api_key_alias",
    "api_provider",
    "end_user",
    "hashed_api_key",
    "le",
    "model",
    "model_group",
    "model_id",
    "org_alias",
    "org_id",
    "requested_model",
    "service_tier",
    "team",
    "team_alias",
    "user",
];
const DEPLOY_LABELS: [&str; 12] = [
    "api_base",
    "api_key_alias",
    "api_provider",
    "client_ip",
    "hashed_api_key",
    "litellm_model_name",
    "model_group",
    "model_id",
    "requested_model",
    "team",
    "team_alias",
    "user_agent",
];
const TPOT_LABELS: [&str; 12] = [
    "api_base",
    "api_key_alias",
    "api_provider",
    "hashed_api_key",
    "le",
    "litellm_model_name",
    "model_group",
    "model_id",
    "org_alias",
    "org_id",
    "team",
    "team_alias",
];

const FAMILIES: [Fam; 13] = [
    Fam {
        name: "litellm_proxy_failed_requests_metric",
        help: "Total number of failed responses from proxy - the client did not get a success response from litellm proxy",
        labels: &FAILED_LABELS,
        kind: 0,
        every: 4,
    },
    Fam {
        name: "litellm_proxy_total_requests_metric",
        help: "Total number of requests made to the proxy server - track number of client side requests",
        labels: &PROXY_LABELS,
        kind: 0,
        every: 1,
    },
    Fam {
        name: "litellm_request_total_latency_metric",
        help: "Total latency (seconds) for a request to LiteLLM",
        labels: &LATENCY_LABELS,
        kind: 1,
        every: 2,
    },
    Fam {
        name: "litellm_llm_api_latency_metric",
        help: "Total latency (seconds) for a models LLM API call",
        labels: &LATENCY_LABELS,
        kind: 1,
        every: 2,
    },
    Fam {
        name: "litellm_spend_metric",
        help: "Total spend on LLM requests",
        labels: &SPEND_LABELS,
        kind: 0,
        every: 1,
    },
    Fam {
        name: "litellm_total_tokens_metric",
        help: "Total number of input + output tokens from LLM requests",
        labels: &TOKEN_LABELS,
        kind: 0,
        every: 1,
    },
    Fam {
        name: "litellm_input_tokens_metric",
        help: "Total number of input tokens from LLM requests",
        labels: &TOKEN_LABELS,
        kind: 0,
        every: 1,
    },
    Fam {
        name: "litellm_output_tokens_metric",
        help: "Total number of output tokens from LLM requests",
        labels: &TOKEN_LABELS,
        kind: 0,
        every: 1,
    },
    Fam {
        name: "litellm_remaining_api_key_budget_metric",
        help: "Remaining budget for api key",
        labels: &["api_key_alias", "hashed_api_key"],
        kind: 3,
        every: 3,
    },
    Fam {
        name: "litellm_remaining_api_key_requests_for_model",
        help: "Remaining Requests API Key can make for model (model based rpm limit on key)",
        labels: &["api_key_alias", "hashed_api_key", "model", "model_id"],
        kind: 4,
        every: 3,
    },
    Fam {
        name: "litellm_deployment_success_responses",
        help: "LLM Deployment Analytics - Total number of successful LLM API calls via litellm",
        labels: &DEPLOY_LABELS,
        kind: 0,
        every: 1,
    },
    Fam {
        name: "litellm_deployment_total_requests",
        help: "LLM Deployment Analytics - Total number of LLM API calls via litellm - success + failure",
        labels: &DEPLOY_LABELS,
        kind: 0,
        every: 1,
    },
    Fam {
        name: "litellm_deployment_latency_per_output_token",
        help: "LLM Deployment Analytics - Latency per output token",
        labels: &TPOT_LABELS,
        kind: 2,
        every: 2,
    },
];

/// The labels of `child` for `names`, with `le` set to `le`.
fn label_set<'n>(child: &Child, names: &[&'n str], le: Option<&str>) -> Vec<(&'n str, String)> {
    names
        .iter()
        .map(|name| {
            let v = if *name == "le" {
                le.unwrap_or("+Inf").to_owned()
            } else {
                child.value(name)
            };
            (*name, v)
        })
        .collect()
}

/// Writes a body for `children` label sets.
fn write_body(seed: u64, children: usize) -> String {
    let mut rng = Rng(seed | 1);
    let keys: Vec<(String, String)> = (0..60)
        .map(|i| {
            let alias = if i == 0 {
                "None".to_string()
            } else {
                format!("key-{i}")
            };
            (rng.hex64(), alias)
        })
        .collect();
    let model_ids: Vec<String> = MODELS.iter().map(|_| rng.hex64()).collect();
    let kids: Vec<Child> = (0..children)
        .map(|i| Child::new(&mut rng, &keys, &model_ids, i))
        .collect();
    let mut w = TextWriter::with_capacity(children * 12_000);
    w.family(
        "python_gc_objects_collected_total",
        Kind::Counter,
        "Objects collected during gc",
    )
    .sample(
        "python_gc_objects_collected_total",
        [("generation", "0")],
        2250.0,
    )
    .family(
        "process_resident_memory_bytes",
        Kind::Gauge,
        "Resident memory size in bytes.",
    )
    .sample("process_resident_memory_bytes", NO_LABELS, 4.96713728e8)
    .family(
        "litellm_in_flight_requests",
        Kind::Gauge,
        "Number of HTTP requests currently in flight",
    )
    .sample("litellm_in_flight_requests", NO_LABELS, 1.0);
    for fam in &FAMILIES {
        let members: Vec<&Child> = kids
            .iter()
            .enumerate()
            .filter(|(i, _)| i % fam.every == 0)
            .map(|(_, c)| c)
            .collect();
        match fam.kind {
            0 => {
                let labels: Vec<_> = members
                    .iter()
                    .map(|c| label_set(c, fam.labels, None))
                    .collect();
                let rows: Vec<CounterRow<'_, &str>> = members
                    .iter()
                    .zip(&labels)
                    .map(|(c, labels)| CounterRow {
                        labels,
                        value: if fam.name == "litellm_spend_metric" {
                            rng.unit() * 0.05 + 0.1 + 0.2
                        } else {
                            (1 + rng.below(5000)) as f64
                        },
                        created_s: c.created,
                    })
                    .collect();
                w.counter(fam.name, fam.help, &rows);
            }
            1 | 2 => {
                w.family(fam.name, Kind::Histogram, fam.help);
                let buckets: &[&str] = if fam.kind == 1 {
                    &LATENCY_BUCKETS
                } else {
                    &TOKEN_BUCKETS
                };
                let no_le: Vec<&str> = fam.labels.iter().copied().filter(|l| *l != "le").collect();
                let bucket = format!("{}_bucket", fam.name);
                let count_name = format!("{}_count", fam.name);
                let sum = format!("{}_sum", fam.name);
                for c in &members {
                    let count = 1 + rng.below(40);
                    let mut cum = 0;
                    for le in buckets {
                        cum = (cum + rng.below(4)).min(count);
                        if *le == "+Inf" {
                            cum = count;
                        }
                        w.sample(&bucket, label_set(c, fam.labels, Some(le)), cum as f64);
                    }
                    w.sample(&count_name, label_set(c, &no_le, None), count as f64);
                    let s = rng.unit() * count as f64 * 1.3;
                    w.sample(&sum, label_set(c, &no_le, None), s);
                }
                let created = format!("{}_created", fam.name);
                w.family(&created, Kind::Gauge, fam.help);
                for c in &members {
                    w.sample(&created, label_set(c, &no_le, None), c.created);
                }
            }
            _ => {
                w.family(fam.name, Kind::Gauge, fam.help);
                for c in &members {
                    // Unlimited budgets are `+Inf`, unlimited rates `sys.maxsize`.
                    let v = if fam.kind == 3 {
                        f64::INFINITY
                    } else {
                        9.223_372_036_854_776e18
                    };
                    w.sample(fam.name, label_set(c, fam.labels, None), v);
                }
            }
        }
    }
    w.finish()
}

/// A LiteLLM-shaped body of about `target_bytes` bytes, the same for the same `seed`.
pub fn litellm_body(target_bytes: usize, seed: u64) -> String {
    let probe = 64;
    let per_child = write_body(seed, probe).len() / probe;
    let children = (target_bytes / per_child.max(1)).max(1);
    write_body(seed, children)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_deterministic_and_parse_cleanly() {
        let a = litellm_body(200_000, 7);
        assert_eq!(a, litellm_body(200_000, 7));
        assert_ne!(a, litellm_body(200_000, 8));
        let expo = pulse_core::parse::parse(&a).unwrap();
        assert!(expo.errors.is_empty(), "{:?}", expo.errors.first());
        assert!((150_000..260_000).contains(&a.len()), "{}", a.len());
    }
}
