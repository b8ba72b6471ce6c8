//! A simulated LiteLLM proxy, advanced through time: the demo's data source.
//!
//! It writes bodies in the label shapes of the real captures (16-label
//! request and spend series, 13-label token series, `_created` twins,
//! deployment series), follows a daily rhythm in its time zone and restarts
//! every 6 to 14 days (every series vanishes, then returns small with new
//! `_created` stamps). It is deterministic for a seed and reads no clock: the
//! caller says which instant to advance to.
//!
//! It also writes LiteLLM's latency histograms (request, LLM API, time to
//! first token, overhead; the 18 `LATENCY_BUCKETS` and the label sets of the
//! captures; not the queue time, which would make every body a fifth larger
//! and the demo's backfill slower) and the deployment health counters (cooldowns,
//! successful and failed fallbacks). Those draw from a second random stream,
//! so the counters above (requests, spend, tokens) are exactly what they were
//! before the histograms existed, for the same seed.

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
    CooledDown,
    SuccessfulFallbacks,
    FailedFallbacks,
}

impl Fam {
    const ALL: [Fam; 14] = [
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
        Fam::CooledDown,
        Fam::SuccessfulFallbacks,
        Fam::FailedFallbacks,
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
            Fam::CooledDown => (
                "litellm_deployment_cooled_down",
                "LLM Deployment Analytics - Number of times a deployment has been cooled down by LiteLLM load balancing logic. exception_status is the status of the exception that caused the deployment to be cooled down",
            ),
            Fam::SuccessfulFallbacks => (
                "litellm_deployment_successful_fallbacks",
                "LLM Deployment Analytics - Number of successful fallback requests from primary model -> fallback model",
            ),
            Fam::FailedFallbacks => (
                "litellm_deployment_failed_fallbacks",
                "LLM Deployment Analytics - Number of failed fallback requests from primary model -> fallback model",
            ),
        }
    }
}

/// LiteLLM's `LATENCY_BUCKETS` (the upper bounds before `+Inf`), in seconds.
const LATENCY_BUCKETS: [f64; 17] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 420.0,
    600.0,
];

/// The `le` labels of LATENCY_BUCKETS and `+Inf`, as prometheus_client prints them.
const LE: [&str; 18] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.0", "5.0", "10.0", "30.0",
    "60.0", "120.0", "300.0", "420.0", "600.0", "+Inf",
];

/// The latency histograms the simulator writes, with LiteLLM's help texts.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Hist {
    Total,
    LlmApi,
    FirstToken,
    Overhead,
}

impl Hist {
    const ALL: [Hist; 4] = [Hist::Total, Hist::LlmApi, Hist::FirstToken, Hist::Overhead];

    /// Family name and help text.
    fn name_help(self) -> (&'static str, &'static str) {
        match self {
            Hist::Total => (
                "litellm_request_total_latency_metric",
                "End-to-end latency (seconds) for a request to LiteLLM Proxy Server, from the moment the request reached the proxy through the end of processing -- includes authentication, pre-call hooks, the LLM API call, and post-call processing",
            ),
            Hist::LlmApi => (
                "litellm_llm_api_latency_metric",
                "Total latency (seconds) for a models LLM API call",
            ),
            Hist::FirstToken => (
                "litellm_llm_api_time_to_first_token_metric",
                "Time to first token for a models LLM API call",
            ),
            Hist::Overhead => (
                "litellm_overhead_latency_metric",
                "Latency overhead (milliseconds) added by LiteLLM processing",
            ),
        }
    }
}

/// One histogram child: observations per bucket (not cumulative; the last
/// slot is above 600 s), their count and sum, and its `_created` stamp.
#[derive(Debug, Clone, Copy)]
struct HistCounts {
    buckets: [f64; LATENCY_BUCKETS.len() + 1],
    count: f64,
    sum: f64,
    created_s: f64,
}

impl HistCounts {
    fn observe(&mut self, seconds: f64) {
        let i = LATENCY_BUCKETS.partition_point(|&le| le < seconds);
        self.buckets[i] += 1.0;
        self.count += 1.0;
        self.sum += seconds;
    }
}

/// Median request latency per model (index into MODELS), in seconds.
const MEDIAN_LATENCY_S: [f64; 4] = [0.9, 1.6, 0.35, 3.2];

/// Keys (indices into KEYS) whose clients stream, so their requests have a
/// time to first token (LiteLLM records it for streams only).
const STREAMING_KEYS: [usize; 2] = [1, 3];

type Labels = Vec<(&'static str, String)>;

#[derive(Debug, Clone, Copy)]
struct Counter {
    value: f64,
    created_s: f64,
}

/// One step of xorshift64*: fast, deterministic, good enough for traffic noise.
fn xorshift(state: &mut u64) -> f64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
}

/// `labels` with the value of `name` set to `value`.
fn with(mut labels: Labels, name: &str, value: &str) -> Labels {
    if let Some(l) = labels.iter_mut().find(|l| l.0 == name) {
        l.1 = value.to_owned();
    }
    labels
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
    /// The second random stream: latencies and health events only.
    health_rng: u64,
    histograms: BTreeMap<(Hist, Labels), HistCounts>,
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
            health_rng: (seed ^ 0x9e37_79b9_7f4a_7c15) | 1,
            histograms: BTreeMap::new(),
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
        xorshift(&mut self.rng)
    }

    /// A draw of the second stream (latencies, cooldowns, fallbacks).
    fn health_f64(&mut self) -> f64 {
        xorshift(&mut self.health_rng)
    }

    /// A log-normal draw around `median` (seconds): spread `sigma` in log space.
    fn log_normal(&mut self, median: f64, sigma: f64) -> f64 {
        // Irwin–Hall: four uniforms make a near-normal draw with variance 1/3.
        let z = (0..4).map(|_| self.health_f64()).sum::<f64>() - 2.0;
        median * (sigma * z * 3f64.sqrt()).exp()
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
        self.histograms.clear();
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

    fn observe(&mut self, hist: Hist, labels: Labels, seconds: f64, at_ms: i64) {
        let created_s = at_ms as f64 / 1000.0;
        self.histograms
            .entry((hist, labels))
            .or_insert(HistCounts {
                buckets: [0.0; LATENCY_BUCKETS.len() + 1],
                count: 0.0,
                sum: 0.0,
                created_s,
            })
            .observe(seconds);
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
        self.latency_and_health(k, m, ok, failed, at_ms);
    }

    /// The histograms and health counters of `ok` answered and `failed`
    /// requests of key `k` to model `m`; draws only from the second stream.
    fn latency_and_health(&mut self, k: usize, m: usize, ok: f64, failed: f64, at_ms: i64) {
        let key = &KEYS[k];
        let model = &MODELS[m];
        let labels = |names: &[&'static str]| -> Labels {
            let mut l: Labels = names
                .iter()
                .map(|&n| {
                    let v = match n {
                        "api_base" => "",
                        "api_key_alias" => key.alias,
                        "api_provider" => model.provider,
                        "end_user" => key.end_user,
                        "hashed_api_key" => key.hashed,
                        "litellm_model_name" | "model" => model.underlying,
                        "model_group" | "requested_model" => model.alias,
                        "model_id" => model.model_id,
                        "team" => key.team,
                        "team_alias" => key.team_alias,
                        "user" => key.user,
                        _ => "None",
                    };
                    (n, v.to_owned())
                })
                .collect();
            l.sort_by(|a, b| a.0.cmp(b.0));
            l
        };
        // The label sets of the captures (LITELLM-METRICS.md, row 43); the
        // bucket bound `le` is added per bucket.
        let request_names: Vec<&'static str> = crate::body::LATENCY_LABELS
            .into_iter()
            .filter(|&n| n != "le")
            .collect();
        let request = labels(&request_names);
        let overhead = labels(&[
            "api_base",
            "api_key_alias",
            "api_provider",
            "hashed_api_key",
            "litellm_model_name",
            "model_group",
            "model_id",
        ]);
        let streams = STREAMING_KEYS.contains(&k);
        // Quieter hours are a little faster: the hour's load shows in the tail.
        let load = 1.0 + 0.6 * self.rhythm(at_ms);
        for _ in 0..ok as u64 {
            let api = self.log_normal(MEDIAN_LATENCY_S[m] * load, 0.45);
            let queued = self.log_normal(0.003, 0.6);
            let own = self.log_normal(0.012, 0.5);
            self.observe(Hist::Overhead, overhead.clone(), own, at_ms);
            self.observe(Hist::LlmApi, request.clone(), api, at_ms);
            self.observe(Hist::Total, request.clone(), api + queued + own, at_ms);
            if streams {
                let share = 0.12 + 0.2 * self.health_f64();
                self.observe(Hist::FirstToken, request.clone(), api * share, at_ms);
            }
        }
        for _ in 0..failed as u64 {
            // A rate-limited deployment is cooled down now and then, and the
            // router falls back to another model of the key.
            if self.health_f64() < 0.3 {
                let cooled = labels(&[
                    "api_base",
                    "api_provider",
                    "exception_status",
                    "litellm_model_name",
                    "model_id",
                ]);
                let cooled = with(cooled, "exception_status", "429");
                self.bump(Fam::CooledDown, cooled, 1.0, at_ms);
            }
            let draw = self.health_f64();
            if draw < 0.6 {
                let fallback = key.models.iter().find(|&&o| o != m).map_or(m, |&o| o);
                let mut l = labels(&[
                    "api_key_alias",
                    "exception_class",
                    "exception_status",
                    "hashed_api_key",
                    "model_id",
                    "requested_model",
                    "team",
                    "team_alias",
                ]);
                l = with(l, "exception_class", "Openai.RateLimitError");
                l = with(l, "exception_status", "429");
                l.push(("fallback_model", MODELS[fallback].alias.to_owned()));
                l.sort_by(|a, b| a.0.cmp(b.0));
                let fam = if draw < 0.5 {
                    Fam::SuccessfulFallbacks
                } else {
                    Fam::FailedFallbacks
                };
                self.bump(fam, l, 1.0, at_ms);
            }
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
        for hist in Hist::ALL {
            self.render_histogram(&mut w, hist);
        }
        w.finish()
    }

    /// One histogram family as prometheus_client writes it: per child the
    /// cumulative `_bucket` lines with `le` in its sorted place, `_count`,
    /// `_sum`; then the `_created` gauge family.
    fn render_histogram(&self, w: &mut TextWriter, hist: Hist) {
        let (name, help) = hist.name_help();
        let children: Vec<(&Labels, &HistCounts)> = self
            .histograms
            .range((hist, Vec::new())..)
            .take_while(|((h, _), _)| *h == hist)
            .map(|((_, labels), c)| (labels, c))
            .collect();
        w.family(name, Kind::Histogram, help);
        let bucket = format!("{name}_bucket");
        let count = format!("{name}_count");
        let sum = format!("{name}_sum");
        for (labels, c) in &children {
            let at = labels.partition_point(|l| l.0 < "le");
            let mut cumulative = 0.0;
            for (i, n) in c.buckets.iter().enumerate() {
                cumulative += n;
                let pairs = labels[..at]
                    .iter()
                    .map(|(n, v)| (*n, v.as_str()))
                    .chain([("le", LE[i])])
                    .chain(labels[at..].iter().map(|(n, v)| (*n, v.as_str())));
                w.sample(&bucket, pairs, cumulative);
            }
            let plain = || labels.iter().map(|(n, v)| (*n, v.as_str()));
            w.sample(&count, plain(), c.count);
            w.sample(&sum, plain(), c.sum);
        }
        if !children.is_empty() {
            let created = format!("{name}_created");
            w.family(&created, Kind::Gauge, help);
            for (labels, c) in &children {
                w.sample(
                    &created,
                    labels.iter().map(|(n, v)| (*n, v.as_str())),
                    c.created_s,
                );
            }
        }
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

    /// Sums of every sample named `name` whose line has `label="value"`.
    fn sum_of(body: &str, name: &str, label: Option<(&str, &str)>) -> f64 {
        body.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .filter(|l| label.is_none_or(|(n, v)| crate::plain::plain_label(l, n) == Some(v)))
            .map(|l| l.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
            .sum()
    }

    #[test]
    fn the_histograms_leave_every_counter_as_it_was() {
        // Printed by this simulator before it wrote histograms (same seed, same
        // 20 days): the latency draws come from their own stream.
        let start = 1_795_000_000_000;
        let mut sim = Simulator::new(start, Tz::UTC, 7);
        sim.advance_to(start + 20 * 86_400_000);
        let body = sim.render();
        assert_eq!(sim.restarts(), 1);
        for (name, value) in [
            ("litellm_proxy_total_requests_metric_total", 26166.0),
            ("litellm_proxy_failed_requests_metric_total", 1063.0),
            ("litellm_spend_metric_total", 20.88775855000001),
            ("litellm_total_tokens_metric_total", 24272882.0),
            ("litellm_input_tokens_metric_total", 17676334.0),
            ("litellm_output_tokens_metric_total", 6596548.0),
            ("litellm_output_reasoning_tokens_metric_total", 150015.0),
            ("litellm_input_cached_tokens_metric_total", 2459635.0),
            ("litellm_deployment_total_requests_total", 26166.0),
            ("litellm_deployment_success_responses_total", 25103.0),
            ("litellm_deployment_failure_responses_total", 1063.0),
        ] {
            assert_eq!(sum_of(&body, name, None), value, "{name}");
        }
    }

    #[test]
    fn latency_histograms_and_health_counters_are_litellms() {
        let start = 1_795_000_000_000;
        let mut sim = Simulator::new(start, Tz::UTC, 7);
        sim.advance_to(start + 2 * 86_400_000);
        let body = sim.render();
        // Strictly valid text 0.0.4: cumulative buckets, `+Inf` = `_count`, `le` order.
        let report = pulse_core::validate::validate(&body);
        assert!(
            report.is_valid(),
            "{:?}",
            &report.problems[..report.problems.len().min(5)]
        );
        // One observation per answered request in the request, API and
        // overhead histograms; first tokens for the streaming keys only.
        let answered = sum_of(&body, "litellm_deployment_success_responses_total", None);
        assert!(answered > 100.0, "{answered}");
        for name in [
            "litellm_request_total_latency_metric_count",
            "litellm_llm_api_latency_metric_count",
            "litellm_overhead_latency_metric_count",
        ] {
            assert_eq!(sum_of(&body, name, None), answered, "{name}");
        }
        let streamed = sum_of(
            &body,
            "litellm_llm_api_time_to_first_token_metric_count",
            None,
        );
        assert!(0.0 < streamed && streamed < answered, "{streamed}");
        // The 18 buckets of LATENCY_BUCKETS, printed as prometheus_client does.
        let les: Vec<&str> = body
            .lines()
            .filter(|l| l.starts_with("litellm_request_total_latency_metric_bucket{"))
            .take(18)
            .map(|l| crate::plain::plain_label(l, "le").unwrap())
            .collect();
        assert_eq!(les.first(), Some(&"0.005"));
        assert_eq!(les[7], "1.0");
        assert_eq!(les.last(), Some(&"+Inf"));
        // Medians near each model's own: the slow model is slower.
        let median = |model: &str| {
            let mut buckets: Vec<(f64, f64)> = Vec::new();
            for l in body.lines().filter(|l| {
                l.starts_with("litellm_request_total_latency_metric_bucket{")
                    && crate::plain::plain_label(l, "requested_model") == Some(model)
            }) {
                let le = crate::plain::plain_label(l, "le").unwrap();
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                };
                let v: f64 = l.rsplit_once(' ').unwrap().1.parse().unwrap();
                match buckets.iter_mut().find(|b| b.0 == le) {
                    Some(b) => b.1 += v,
                    None => buckets.push((le, v)),
                }
            }
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            crate::plain::plain_quantile(0.5, &buckets)
        };
        let (llama, gpt41) = (median("local-llama"), median("gpt-4.1"));
        assert!((0.25..1.0).contains(&llama), "{llama}");
        assert!((2.0..6.0).contains(&gpt41), "{gpt41}");
        // Rate limits cool deployments down and fall back to another model.
        let failed = sum_of(&body, "litellm_deployment_failure_responses_total", None);
        let cooled = sum_of(&body, "litellm_deployment_cooled_down_total", None);
        let fell_back = sum_of(&body, "litellm_deployment_successful_fallbacks_total", None)
            + sum_of(&body, "litellm_deployment_failed_fallbacks_total", None);
        assert!(0.0 < cooled && cooled < failed, "{cooled} of {failed}");
        assert!(
            0.0 < fell_back && fell_back < failed,
            "{fell_back} of {failed}"
        );
        assert!(sum_of(&body, "litellm_deployment_failed_fallbacks_total", None) > 0.0);
        // A restart empties the histograms too: every child is new after it.
        let at = sim.next_restart_ms;
        sim.advance_to(at);
        assert_eq!(sim.restarts(), 1);
        assert!(
            sim.histograms
                .values()
                .all(|c| c.created_s >= at as f64 / 1000.0)
        );
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
