//! A simulated LiteLLM proxy, advanced through time: the demo's data source.
//!
//! It writes bodies in the label shapes of the real captures (16-label
//! request and spend series, 13-label token series, `_created` twins,
//! deployment series), follows a daily rhythm in its time zone and restarts
//! every 6 to 14 days (every series vanishes, then returns small with new
//! `_created` stamps). It is deterministic for a seed and reads no clock: the
//! caller says which instant to advance to.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{Datelike, Timelike};
use chrono_tz::Tz;

use crate::exposition::{CounterRow, Kind, NO_LABELS, TextWriter};
use crate::fake::{Reply, Responder};

struct Model {
    alias: &'static str,
    underlying: &'static str,
    provider: &'static str,
    model_id: &'static str,
    /// USD per input and per output token.
    price: (f64, f64),
    /// Relative popularity.
    weight: f64,
    reasoning: bool,
    provider_cache: bool,
}

const MODELS: [Model; 4] = [
    Model {
        alias: "gpt-4o-mini",
        underlying: "gpt-4o-mini",
        provider: "openai",
        model_id: "0c1efb1019305eecabdfcd359df6c88b2e56448027d2fced5d528d9bd4bbaa8d",
        price: (0.15e-6, 0.6e-6),
        weight: 1.0,
        reasoning: false,
        provider_cache: true,
    },
    Model {
        alias: "claude-haiku",
        underlying: "claude-3-5-haiku-20241022",
        provider: "anthropic",
        model_id: "68daaeb826dd65a6e41588facf6c3a4bd74305dfff06686a9bf48d928d61ad82",
        price: (0.8e-6, 4.0e-6),
        weight: 0.6,
        reasoning: false,
        provider_cache: true,
    },
    Model {
        alias: "local-llama",
        underlying: "meta-llama/Llama-3.1-8B-Instruct",
        provider: "hosted_vllm",
        model_id: "b97aed57b21e6ec22a5209e00b625d89094351bd7563a0b87d299495788283e3",
        price: (0.01e-6, 0.02e-6),
        weight: 0.8,
        reasoning: false,
        provider_cache: false,
    },
    Model {
        alias: "gpt-4.1",
        underlying: "gpt-4.1",
        provider: "openai",
        model_id: "24da4c0c79c357949beccd7eae094936f50ae0906dab4a455110ff8d18dfe32d",
        price: (2.0e-6, 8.0e-6),
        weight: 0.25,
        reasoning: true,
        provider_cache: true,
    },
];

struct Key {
    hashed: &'static str,
    alias: &'static str,
    team: &'static str,
    team_alias: &'static str,
    user: &'static str,
    email: &'static str,
    end_user: &'static str,
    /// Which models (indices into MODELS) this key uses.
    models: &'static [usize],
    weight: f64,
}

const KEYS: [Key; 4] = [
    Key {
        hashed: "litellm_proxy_master_key",
        alias: "None",
        team: "None",
        team_alias: "None",
        user: "default_user_id",
        email: "None",
        end_user: "None",
        models: &[0, 2],
        weight: 0.5,
    },
    Key {
        hashed: "ed501f27561ff72eee65da25ae809f0c9d3442b04ed46e4adfac25410ddd83e8",
        alias: "alpha-key-1",
        team: "team-alpha",
        team_alias: "Alpha Team",
        user: "alice",
        email: "alice@example.com",
        end_user: "end-user-1",
        models: &[0, 1, 3],
        weight: 1.0,
    },
    Key {
        hashed: "ca96c450b6bc01a0b427459062080066d20750aae7efe2480d0d8ce25eead6f3",
        alias: "alpha-key-2",
        team: "team-alpha",
        team_alias: "Alpha Team",
        user: "bob",
        email: "bob@example.com",
        end_user: "None",
        models: &[1, 3],
        weight: 0.6,
    },
    Key {
        hashed: "86a5f5187fc091277ea198ca60cbec4999978c880ef2bc8b86903b053ba3e38b",
        alias: "beta-key-1",
        team: "team-beta",
        team_alias: "Beta \"quoted\" Team",
        user: "carol",
        email: "carol@example.com",
        end_user: "end-user-2",
        models: &[0, 1, 2],
        weight: 0.8,
    },
];

/// The counter families the simulator writes, with LiteLLM's help texts.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Fam {
    Requests,
    Failed,
    Spend,
    TotalTokens,
    InputTokens,
    OutputTokens,
    Reasoning,
    InputCached,
    DeployTotal,
    DeploySuccess,
    DeployFailure,
}

impl Fam {
    const ALL: [Fam; 11] = [
        Fam::Requests,
        Fam::Failed,
        Fam::Spend,
        Fam::TotalTokens,
        Fam::InputTokens,
        Fam::OutputTokens,
        Fam::Reasoning,
        Fam::InputCached,
        Fam::DeployTotal,
        Fam::DeploySuccess,
        Fam::DeployFailure,
    ];

    /// Sample name base (without `_total` / `_created`) and help text.
    fn base_help(self) -> (&'static str, &'static str) {
        match self {
            Fam::Requests => (
                "litellm_proxy_total_requests_metric",
                "Total number of requests made to the proxy server - track number of client side requests",
            ),
            Fam::Failed => (
                "litellm_proxy_failed_requests_metric",
                "Total number of failed responses from proxy - the client did not get a success response from litellm proxy",
            ),
            Fam::Spend => ("litellm_spend_metric", "Total spend on LLM requests"),
            Fam::TotalTokens => (
                "litellm_total_tokens_metric",
                "Total number of input + output tokens from LLM requests",
            ),
            Fam::InputTokens => (
                "litellm_input_tokens_metric",
                "Total number of input tokens from LLM requests",
            ),
            Fam::OutputTokens => (
                "litellm_output_tokens_metric",
                "Total number of output tokens from LLM requests",
            ),
            Fam::Reasoning => (
                "litellm_output_reasoning_tokens_metric",
                "Reasoning tokens reported in completion_tokens_details.reasoning_tokens",
            ),
            Fam::InputCached => (
                "litellm_input_cached_tokens_metric",
                "Provider-side cached input tokens (e.g. OpenAI prompt_tokens_details.cached_tokens, Anthropic cache_read_input_tokens)",
            ),
            Fam::DeployTotal => (
                "litellm_deployment_total_requests",
                "LLM Deployment Analytics - Total number of LLM API calls via litellm - success + failure",
            ),
            Fam::DeploySuccess => (
                "litellm_deployment_success_responses",
                "LLM Deployment Analytics - Total number of successful LLM API calls via litellm",
            ),
            Fam::DeployFailure => (
                "litellm_deployment_failure_responses",
                "LLM Deployment Analytics - Total number of failed LLM API calls for a specific LLM deploymeny. exception_status is the status of the exception from the llm api",
            ),
        }
    }
}

type Labels = Vec<(&'static str, String)>;

#[derive(Debug, Clone, Copy)]
struct Counter {
    value: f64,
    created_s: f64,
}

/// A deterministic LiteLLM look-alike that is advanced through time.
pub struct Simulator {
    tz: Tz,
    rng: u64,
    now_ms: i64,
    process_start_s: f64,
    next_restart_ms: i64,
    in_flight: f64,
    series: BTreeMap<(Fam, Labels), Counter>,
    restarts: u32,
}

impl Simulator {
    /// A freshly started proxy at `start_ms`.
    pub fn new(start_ms: i64, tz: Tz, seed: u64) -> Simulator {
        let mut sim = Simulator {
            tz,
            rng: seed | 1,
            now_ms: start_ms,
            process_start_s: start_ms as f64 / 1000.0,
            next_restart_ms: 0,
            in_flight: 1.0,
            series: BTreeMap::new(),
            restarts: 0,
        };
        sim.next_restart_ms = start_ms + sim.restart_gap_ms();
        sim
    }

    /// How many times the simulated proxy restarted.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    fn next_f64(&mut self) -> f64 {
        // xorshift64*: fast, deterministic, good enough for traffic noise.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Restarts happen every 6 to 14 days.
    fn restart_gap_ms(&mut self) -> i64 {
        ((6.0 + 8.0 * self.next_f64()) * 86_400_000.0) as i64
    }

    /// Traffic intensity at `ms`: busy working hours, quiet nights and weekends.
    fn rhythm(&self, ms: i64) -> f64 {
        let Some(utc) = chrono::DateTime::from_timestamp_millis(ms) else {
            return 0.0;
        };
        let local = utc.with_timezone(&self.tz);
        let hour = f64::from(local.hour()) + f64::from(local.minute()) / 60.0;
        let day = if local.weekday().number_from_monday() >= 6 {
            0.3
        } else {
            1.0
        };
        let office = (-((hour - 13.5) / 3.2).powi(2)).exp();
        day * (0.04 + office)
    }

    /// Moves the proxy forward to `to_ms`, adding the traffic in between.
    pub fn advance_to(&mut self, to_ms: i64) {
        // Advance in slices of at most 5 minutes so the rhythm is followed.
        while self.now_ms < to_ms {
            let next = (self.now_ms + 300_000).min(to_ms);
            if next >= self.next_restart_ms {
                self.restart(self.next_restart_ms);
            }
            let dt_min = (next - self.now_ms) as f64 / 60_000.0;
            let rhythm = self.rhythm(self.now_ms);
            // About 6 requests a minute at the busiest hour, across all keys.
            for (k, key) in KEYS.iter().enumerate() {
                for &m in key.models {
                    let expected = 2.2 * rhythm * key.weight * MODELS[m].weight * dt_min;
                    let n = (expected + self.next_f64()).floor();
                    if n > 0.0 {
                        self.traffic(k, m, n, next);
                    }
                }
            }
            self.in_flight = 1.0 + (rhythm * 4.0 * self.next_f64()).round();
            self.now_ms = next;
        }
    }

    fn restart(&mut self, at_ms: i64) {
        self.series.clear();
        self.process_start_s = at_ms as f64 / 1000.0;
        self.next_restart_ms = at_ms + self.restart_gap_ms();
        self.restarts += 1;
    }

    fn bump(&mut self, fam: Fam, labels: Labels, by: f64, at_ms: i64) {
        let created_s = at_ms as f64 / 1000.0;
        self.series
            .entry((fam, labels))
            .or_insert(Counter {
                value: 0.0,
                created_s,
            })
            .value += by;
    }

    /// `n` requests of key `k` to model `m`, finished at `at_ms`.
    fn traffic(&mut self, k: usize, m: usize, n: f64, at_ms: i64) {
        let key = &KEYS[k];
        let model = &MODELS[m];
        let failed = (n * 0.04 + self.next_f64() - 0.5).round().clamp(0.0, n);
        let ok = n - failed;
        let input = (ok * (250.0 + 900.0 * self.next_f64())).round();
        let output = (ok * (60.0 + 400.0 * self.next_f64())).round();
        let reasoning = if model.reasoning {
            (output * 0.3).round()
        } else {
            0.0
        };
        let cached = if model.provider_cache {
            (input * 0.35 * self.next_f64()).round()
        } else {
            0.0
        };
        let cost = input * model.price.0 + output * model.price.1;

        let common = |extra: &[(&'static str, String)]| -> Labels {
            let mut l: Labels = vec![
                ("api_key_alias", key.alias.to_owned()),
                ("api_provider", model.provider.to_owned()),
                ("end_user", key.end_user.to_owned()),
                ("hashed_api_key", key.hashed.to_owned()),
                ("model_id", model.model_id.to_owned()),
                ("org_alias", "None".to_owned()),
                ("org_id", "None".to_owned()),
                ("requested_model", model.alias.to_owned()),
                ("team", key.team.to_owned()),
                ("team_alias", key.team_alias.to_owned()),
                ("user", key.user.to_owned()),
                ("user_email", key.email.to_owned()),
            ];
            l.extend_from_slice(extra);
            l.sort_by(|a, b| a.0.cmp(b.0));
            l
        };
        let client = [
            ("client_ip", "127.0.0.1".to_owned()),
            ("user_agent", "OpenAI/Python 1.99.0".to_owned()),
        ];
        let route = ("route", "/v1/chat/completions".to_owned());
        // 16-label request series, split by status code.
        if ok > 0.0 {
            let mut extra = client.to_vec();
            extra.extend([route.clone(), ("status_code", "200".to_owned())]);
            self.bump(Fam::Requests, common(&extra), ok, at_ms);
        }
        if failed > 0.0 {
            let mut extra = client.to_vec();
            extra.extend([route.clone(), ("status_code", "429".to_owned())]);
            self.bump(Fam::Requests, common(&extra), failed, at_ms);
            let mut extra = client.to_vec();
            extra.extend([
                route.clone(),
                ("exception_class", "Openai.RateLimitError".to_owned()),
                ("exception_status", "429".to_owned()),
            ]);
            self.bump(Fam::Failed, common(&extra), failed, at_ms);
        }
        if ok > 0.0 {
            // 16-label spend series, 13-label token series.
            let mut extra = client.to_vec();
            extra.extend([
                ("model", model.underlying.to_owned()),
                ("service_tier", "None".to_owned()),
            ]);
            self.bump(Fam::Spend, common(&extra), cost, at_ms);
            let tok = [("model", model.underlying.to_owned())];
            self.bump(Fam::TotalTokens, common(&tok), input + output, at_ms);
            self.bump(Fam::InputTokens, common(&tok), input, at_ms);
            self.bump(Fam::OutputTokens, common(&tok), output, at_ms);
            if reasoning > 0.0 {
                self.bump(Fam::Reasoning, common(&tok), reasoning, at_ms);
            }
            if cached > 0.0 {
                self.bump(Fam::InputCached, common(&tok), cached, at_ms);
            }
        }
        let deploy = |extra: &[(&'static str, String)]| -> Labels {
            let mut l: Labels = vec![
                ("api_base", String::new()),
                ("api_key_alias", key.alias.to_owned()),
                ("api_provider", model.provider.to_owned()),
                ("client_ip", "127.0.0.1".to_owned()),
                ("hashed_api_key", key.hashed.to_owned()),
                ("litellm_model_name", model.underlying.to_owned()),
                ("model_group", model.alias.to_owned()),
                ("model_id", model.model_id.to_owned()),
                ("requested_model", model.alias.to_owned()),
                ("team", key.team.to_owned()),
                ("team_alias", key.team_alias.to_owned()),
                ("user_agent", "OpenAI/Python 1.99.0".to_owned()),
            ];
            l.extend_from_slice(extra);
            l.sort_by(|a, b| a.0.cmp(b.0));
            l
        };
        self.bump(Fam::DeployTotal, deploy(&[]), n, at_ms);
        if ok > 0.0 {
            self.bump(Fam::DeploySuccess, deploy(&[]), ok, at_ms);
        }
        if failed > 0.0 {
            self.bump(
                Fam::DeployFailure,
                deploy(&[("exception_status", "429".to_owned())]),
                failed,
                at_ms,
            );
        }
    }

    /// The `/metrics/` body now, in text format 0.0.4 as prometheus_client writes it.
    pub fn render(&self) -> String {
        let mut w = TextWriter::with_capacity(self.series.len() * 700 + 2048);
        w.family(
            "process_start_time_seconds",
            Kind::Gauge,
            "Start time of the process since unix epoch in seconds.",
        )
        .sample(
            "process_start_time_seconds",
            NO_LABELS,
            self.process_start_s,
        )
        .family(
            "litellm_in_flight_requests",
            Kind::Gauge,
            "Number of HTTP requests currently in-flight on this uvicorn worker",
        )
        .sample("litellm_in_flight_requests", NO_LABELS, self.in_flight);
        for fam in Fam::ALL {
            let (base, help) = fam.base_help();
            let rows: Vec<CounterRow<'_, &str>> = self
                .series
                .range((fam, Vec::new())..)
                .take_while(|((f, _), _)| *f == fam)
                .map(|((_, labels), c)| CounterRow {
                    labels,
                    value: c.value,
                    created_s: c.created_s,
                })
                .collect();
            w.counter(base, help, &rows);
        }
        w.finish()
    }
}

/// A [`Simulator`] served live by the fake LiteLLM: every request sees it
/// advanced to the caller's clock.
pub struct Live {
    sim: Arc<Mutex<Simulator>>,
    now_ms: Box<dyn FnMut() -> i64 + Send>,
}

impl Live {
    /// Serves `sim` (shared, e.g. with a backfill) as of `now_ms()`.
    pub fn new(sim: Arc<Mutex<Simulator>>, now_ms: impl FnMut() -> i64 + Send + 'static) -> Live {
        Live {
            sim,
            now_ms: Box::new(now_ms),
        }
    }
}

impl Responder for Live {
    type Receipt = ();

    fn reply(&mut self) -> (Reply, ()) {
        let now = (self.now_ms)();
        let mut sim = self.sim.lock().unwrap_or_else(PoisonError::into_inner);
        sim.advance_to(now);
        (Reply::prom(sim.render()), ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulator_bodies_parse_and_count_like_litellm() {
        let start = 1_795_000_000_000;
        let mut sim = Simulator::new(start, Tz::UTC, 7);
        sim.advance_to(start + 3 * 3_600_000);
        let body = sim.render();
        let expo = pulse_core::parse::parse(&body).unwrap();
        assert!(expo.errors.is_empty(), "{:?}", expo.errors);
        // Every counter sample has a `_created` twin with the same labels.
        let totals = pulse_core::parse::sample_totals(&expo);
        let count = |name: &str| expo.samples.iter().filter(|s| s.name == name).count();
        assert_eq!(
            count("litellm_proxy_total_requests_metric_total"),
            count("litellm_proxy_total_requests_metric_created")
        );
        let requests = totals
            .iter()
            .find(|(n, _)| *n == "litellm_proxy_total_requests_metric_total")
            .map(|(_, v)| *v)
            .unwrap();
        let deploy = totals
            .iter()
            .find(|(n, _)| *n == "litellm_deployment_total_requests_total")
            .map(|(_, v)| *v)
            .unwrap();
        assert_eq!(requests, deploy);
        assert!(requests > 0.0);
        // The real label shapes: 16 labels on requests and spend, 13 on tokens.
        let labels_of = |name: &str| {
            let s = expo.samples.iter().find(|s| s.name == name).unwrap();
            expo.labels_of(s).len()
        };
        assert_eq!(labels_of("litellm_proxy_total_requests_metric_total"), 16);
        assert_eq!(labels_of("litellm_spend_metric_total"), 16);
        assert_eq!(labels_of("litellm_total_tokens_metric_total"), 13);
    }

    #[test]
    fn a_restart_empties_every_series() {
        let start = 1_795_000_000_000;
        let mut sim = Simulator::new(start, Tz::UTC, 7);
        sim.advance_to(start + 86_400_000);
        assert!(!sim.series.is_empty());
        let at = sim.next_restart_ms;
        sim.advance_to(at);
        assert_eq!(sim.restarts(), 1);
        assert_eq!(sim.process_start_s, at as f64 / 1000.0);
    }
}
