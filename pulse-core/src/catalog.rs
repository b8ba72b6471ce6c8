//! The tracked metrics: friendly names, the LiteLLM families behind them, and
//! the breakdown dimensions.
//!
//! A [`Metric`] is what users ask for (`requests`, `cost`, ...). A [`Catalog`]
//! says which Prometheus sample names carry it. The defaults match LiteLLM
//! 1.108 and also accept the names older LiteLLM releases used, so an upgrade
//! of the proxy does not silently drop a metric.
//!
//! A [`Histogram`] is one of LiteLLM's latency histograms and a
//! [`HealthCounter`] one of its deployment health counters that are not
//! metrics (cooldowns, fallbacks): the tracker follows their series like the
//! counters of metrics, and reports their increases apart (see
//! [`crate::track::LatencyDeltas`]). Their families are fixed.
//!
//! A [`Dimension`] is a way to split a metric (per model, key, team, ...).
//! [`dimension_key`] maps the labels of one series to exactly one key per
//! dimension, so per-dimension sums always equal the totals.

use std::borrow::Cow;

use thiserror::Error;

use crate::expo::Label;
use crate::fastmap::FastMap;
use crate::parse::is_metric_name;

/// One tracked metric, by its friendly name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Metric {
    /// `requests`: every request the proxy answered, successful or not.
    Requests,
    /// `failed_requests`: the failed subset of `requests`.
    FailedRequests,
    /// `tokens`: input plus output tokens.
    Tokens,
    /// `input_tokens`: prompt tokens.
    InputTokens,
    /// `output_tokens`: completion tokens.
    OutputTokens,
    /// `reasoning_tokens`: reasoning part of the output tokens.
    ReasoningTokens,
    /// `cost`: spend in USD as LiteLLM prices it.
    Cost,
    /// `in_flight_requests`: requests being served right now (a gauge).
    InFlightRequests,
    /// `cache_hits`: LiteLLM response-cache hits.
    CacheHits,
    /// `cache_misses`: LiteLLM response-cache misses.
    CacheMisses,
    /// `cached_tokens`: tokens served from the LiteLLM response cache.
    CachedTokens,
    /// `input_cached_tokens`: prompt tokens the provider read from its cache.
    InputCachedTokens,
    /// `deployment_requests`: requests sent to a deployment.
    DeploymentRequests,
    /// `deployment_success`: successful deployment responses.
    DeploymentSuccess,
    /// `deployment_failures`: failed deployment responses.
    DeploymentFailures,
}

impl Metric {
    /// Number of metrics.
    pub const COUNT: usize = 15;

    /// Every metric, in index order.
    pub const ALL: [Metric; Metric::COUNT] = [
        Metric::Requests,
        Metric::FailedRequests,
        Metric::Tokens,
        Metric::InputTokens,
        Metric::OutputTokens,
        Metric::ReasoningTokens,
        Metric::Cost,
        Metric::InFlightRequests,
        Metric::CacheHits,
        Metric::CacheMisses,
        Metric::CachedTokens,
        Metric::InputCachedTokens,
        Metric::DeploymentRequests,
        Metric::DeploymentSuccess,
        Metric::DeploymentFailures,
    ];

    /// The 12 friendly names the Python reference exposes, in its order
    /// (its `available` list); the deployment metrics are per model only there.
    pub const REFERENCE: [Metric; 12] = [
        Metric::Requests,
        Metric::FailedRequests,
        Metric::Tokens,
        Metric::InputTokens,
        Metric::OutputTokens,
        Metric::ReasoningTokens,
        Metric::Cost,
        Metric::InFlightRequests,
        Metric::CacheHits,
        Metric::CacheMisses,
        Metric::CachedTokens,
        Metric::InputCachedTokens,
    ];

    /// The friendly name, e.g. `failed_requests`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Requests => "requests",
            Metric::FailedRequests => "failed_requests",
            Metric::Tokens => "tokens",
            Metric::InputTokens => "input_tokens",
            Metric::OutputTokens => "output_tokens",
            Metric::ReasoningTokens => "reasoning_tokens",
            Metric::Cost => "cost",
            Metric::InFlightRequests => "in_flight_requests",
            Metric::CacheHits => "cache_hits",
            Metric::CacheMisses => "cache_misses",
            Metric::CachedTokens => "cached_tokens",
            Metric::InputCachedTokens => "input_cached_tokens",
            Metric::DeploymentRequests => "deployment_requests",
            Metric::DeploymentSuccess => "deployment_success",
            Metric::DeploymentFailures => "deployment_failures",
        }
    }

    /// The metric with friendly name `s` (exact, lower case).
    pub fn from_name(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == s)
    }

    /// True for gauges, which have a current value but no deltas.
    pub fn is_gauge(self) -> bool {
        matches!(self, Metric::InFlightRequests)
    }

    /// Position in [`Metric::ALL`], for array-indexed storage.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A tracked LiteLLM latency histogram, by its friendly name.
///
/// Its `_bucket{le}`, `_sum` and `_count` samples are cumulative counters,
/// tracked per series like the counters of [`Metric`]s.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Histogram {
    /// `request_latency`: the whole request as the proxy saw it
    /// (`litellm_request_total_latency_metric`).
    RequestLatency,
    /// `llm_api_latency`: the call to the provider
    /// (`litellm_llm_api_latency_metric`).
    LlmApiLatency,
    /// `time_to_first_token`: until the first streamed token
    /// (`litellm_llm_api_time_to_first_token_metric`).
    TimeToFirstToken,
    /// `overhead_latency`: the proxy's own share
    /// (`litellm_overhead_latency_metric`).
    OverheadLatency,
    /// `queue_time`: waiting in the proxy's queue
    /// (`litellm_request_queue_time_seconds`).
    QueueTime,
}

impl Histogram {
    /// Number of histograms.
    pub const COUNT: usize = 5;

    /// Every histogram, in index order.
    pub const ALL: [Histogram; Histogram::COUNT] = [
        Histogram::RequestLatency,
        Histogram::LlmApiLatency,
        Histogram::TimeToFirstToken,
        Histogram::OverheadLatency,
        Histogram::QueueTime,
    ];

    /// The friendly name, e.g. `time_to_first_token`.
    pub fn name(self) -> &'static str {
        match self {
            Histogram::RequestLatency => "request_latency",
            Histogram::LlmApiLatency => "llm_api_latency",
            Histogram::TimeToFirstToken => "time_to_first_token",
            Histogram::OverheadLatency => "overhead_latency",
            Histogram::QueueTime => "queue_time",
        }
    }

    /// The LiteLLM family (without `_bucket`, `_sum`, `_count`).
    pub fn family(self) -> &'static str {
        match self {
            Histogram::RequestLatency => "litellm_request_total_latency_metric",
            Histogram::LlmApiLatency => "litellm_llm_api_latency_metric",
            Histogram::TimeToFirstToken => "litellm_llm_api_time_to_first_token_metric",
            Histogram::OverheadLatency => "litellm_overhead_latency_metric",
            Histogram::QueueTime => "litellm_request_queue_time_seconds",
        }
    }

    /// The histogram with friendly name `s`.
    pub fn from_name(s: &str) -> Option<Histogram> {
        Histogram::ALL.into_iter().find(|h| h.name() == s)
    }

    /// Position in [`Histogram::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A LiteLLM deployment health counter that is not a [`Metric`]: tracked
/// like one, reported beside the histograms.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum HealthCounter {
    /// `cooled_down`: a deployment was put in cooldown after failures
    /// (`litellm_deployment_cooled_down_total`).
    CooledDown,
    /// `successful_fallbacks`: a request succeeded on a fallback model
    /// (`litellm_deployment_successful_fallbacks_total`).
    SuccessfulFallbacks,
    /// `failed_fallbacks`: a fallback was tried and failed
    /// (`litellm_deployment_failed_fallbacks_total`).
    FailedFallbacks,
}

impl HealthCounter {
    /// Number of health counters.
    pub const COUNT: usize = 3;

    /// Every health counter, in index order.
    pub const ALL: [HealthCounter; HealthCounter::COUNT] = [
        HealthCounter::CooledDown,
        HealthCounter::SuccessfulFallbacks,
        HealthCounter::FailedFallbacks,
    ];

    /// The friendly name, e.g. `failed_fallbacks`.
    pub fn name(self) -> &'static str {
        match self {
            HealthCounter::CooledDown => "cooled_down",
            HealthCounter::SuccessfulFallbacks => "successful_fallbacks",
            HealthCounter::FailedFallbacks => "failed_fallbacks",
        }
    }

    /// The LiteLLM sample name.
    pub fn family(self) -> &'static str {
        match self {
            HealthCounter::CooledDown => "litellm_deployment_cooled_down_total",
            HealthCounter::SuccessfulFallbacks => "litellm_deployment_successful_fallbacks_total",
            HealthCounter::FailedFallbacks => "litellm_deployment_failed_fallbacks_total",
        }
    }

    /// The health counter with friendly name `s`.
    pub fn from_name(s: &str) -> Option<HealthCounter> {
        HealthCounter::ALL.into_iter().find(|c| c.name() == s)
    }

    /// Position in [`HealthCounter::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for HealthCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A way to split a metric.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Dimension {
    /// The model alias the client asked for (see [`dimension_key`]).
    Model,
    /// The virtual key: its alias, else its hash.
    Key,
    /// The team: its alias, else its id.
    Team,
    /// The internal user id.
    User,
    /// The end user (`user` field of the request; needs end-user tracking in LiteLLM).
    EndUser,
    /// The provider (`openai`, `anthropic`, ...).
    Provider,
    /// The scrape target (LiteLLM process, container or pod) a series came
    /// from: its `instance` label when it carries one (series read from
    /// Prometheus do), else the target's name, `host:port` of its URL, which
    /// [`crate::track::Fleet`] fills in.
    Instance,
}

impl Dimension {
    /// Number of dimensions.
    pub const COUNT: usize = 7;

    /// Every dimension, in index order.
    pub const ALL: [Dimension; Dimension::COUNT] = [
        Dimension::Model,
        Dimension::Key,
        Dimension::Team,
        Dimension::User,
        Dimension::EndUser,
        Dimension::Provider,
        Dimension::Instance,
    ];

    /// The name used in APIs, e.g. `end_user`.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Model => "model",
            Dimension::Key => "key",
            Dimension::Team => "team",
            Dimension::User => "user",
            Dimension::EndUser => "end_user",
            Dimension::Provider => "provider",
            Dimension::Instance => "instance",
        }
    }

    /// The dimension called `s`.
    pub fn from_name(s: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.name() == s)
    }

    /// Position in [`Dimension::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Dimension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One number per [`Metric`], indexed by [`Metric::index`].
#[derive(Clone, Copy, PartialEq, Debug, Default)]
pub struct MetricValues(pub [f64; Metric::COUNT]);

impl MetricValues {
    /// The value of `metric`.
    pub fn get(&self, metric: Metric) -> f64 {
        self.0[metric.index()]
    }

    /// Sets the value of `metric`.
    pub fn set(&mut self, metric: Metric, value: f64) {
        self.0[metric.index()] = value;
    }

    /// Adds `value` to `metric`.
    pub fn add(&mut self, metric: Metric, value: f64) {
        self.0[metric.index()] += value;
    }

    /// Every `(metric, value)` pair in [`Metric::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Metric, f64)> + '_ {
        Metric::ALL.into_iter().map(|m| (m, self.get(m)))
    }
}

/// Why a catalog override was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The family name is not a Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
    #[error("invalid Prometheus metric name {family:?} for {metric}")]
    InvalidName {
        /// The metric being overridden.
        metric: Metric,
        /// The rejected name.
        family: String,
    },
    /// The family is already configured for another metric.
    #[error("{family:?} for {metric} is already the family of {other}")]
    Conflict {
        /// The metric being overridden.
        metric: Metric,
        /// The rejected name.
        family: String,
        /// The metric that already uses it.
        other: Metric,
    },
}

/// What a sample name means to the tracker.
#[cfg_attr(not(feature = "latency"), allow(dead_code))]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum NameRole {
    /// A value sample of `metric`; `rank` is its position in [`Catalog::sample_names`].
    Value {
        /// The metric.
        metric: Metric,
        /// Lower ranks win when a body carries several accepted names.
        rank: u8,
    },
    /// The `_created` sample belonging to the value sample of the same rank.
    Created {
        /// The metric.
        metric: Metric,
        /// Rank of the value sample it belongs to.
        rank: u8,
    },
    /// A `_bucket`, `_sum` or `_count` sample of a histogram.
    HistogramPart {
        /// The histogram.
        histogram: Histogram,
        /// Which of its samples.
        part: HistogramPart,
    },
    /// The `_created` sample of a histogram series (its labels have no `le`).
    HistogramCreated {
        /// The histogram.
        histogram: Histogram,
    },
    /// A value sample of a health counter.
    Health {
        /// The counter.
        counter: HealthCounter,
    },
    /// The `_created` sample of a health counter.
    HealthCreated {
        /// The counter.
        counter: HealthCounter,
    },
}

/// The samples of one histogram series.
#[cfg_attr(not(feature = "latency"), allow(dead_code))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub(crate) enum HistogramPart {
    /// `_bucket{le}`: observations at or below `le`.
    Bucket,
    /// `_sum`: sum of the observed values.
    Sum,
    /// `_count`: observations.
    Count,
}

#[cfg(feature = "latency")]
impl HistogramPart {
    /// Every part with its sample name suffix.
    const SUFFIXES: [(HistogramPart, &'static str); 3] = [
        (HistogramPart::Bucket, "_bucket"),
        (HistogramPart::Sum, "_sum"),
        (HistogramPart::Count, "_count"),
    ];
}

/// Which Prometheus sample names carry each [`Metric`].
#[derive(Clone, Debug, PartialEq)]
pub struct Catalog {
    /// The configured family per metric.
    families: [String; Metric::COUNT],
    /// Accepted sample names per metric, in precedence order.
    names: [Vec<String>; Metric::COUNT],
    /// Sample name (value or `_created`) to its role.
    roles: FastMap<String, NameRole>,
}

/// The default family of each metric in LiteLLM 1.108, in [`Metric::ALL`] order.
const DEFAULT_FAMILIES: [&str; Metric::COUNT] = [
    "litellm_proxy_total_requests_metric_total",
    "litellm_proxy_failed_requests_metric_total",
    "litellm_total_tokens_metric_total",
    "litellm_input_tokens_metric_total",
    "litellm_output_tokens_metric_total",
    "litellm_output_reasoning_tokens_metric_total",
    "litellm_spend_metric_total",
    "litellm_in_flight_requests",
    "litellm_cache_hits_metric_total",
    "litellm_cache_misses_metric_total",
    "litellm_cached_tokens_metric_total",
    "litellm_input_cached_tokens_metric_total",
    "litellm_deployment_total_requests_total",
    "litellm_deployment_success_responses_total",
    "litellm_deployment_failure_responses_total",
];

/// Families older LiteLLM releases used before the `_metric` rename
/// (`litellm_total_tokens` became `litellm_total_tokens_metric`).
fn legacy_families(metric: Metric) -> &'static [&'static str] {
    match metric {
        Metric::Tokens => &["litellm_total_tokens_total"],
        Metric::InputTokens => &["litellm_input_tokens_total"],
        Metric::OutputTokens => &["litellm_output_tokens_total"],
        _ => &[],
    }
}

/// `family` and its twin with or without `_total`, in that order.
fn with_total_twin(family: &str) -> [String; 2] {
    let twin = match family.strip_suffix("_total") {
        Some(base) if !base.is_empty() => base.to_owned(),
        _ => format!("{family}_total"),
    };
    [family.to_owned(), twin]
}

/// The `_created` sample name of counter sample `name`: `X_total` → `X_created`.
/// `litellm_managed_batch_created_total` thus maps to `..._created_created`.
pub(crate) fn created_name_of(name: &str) -> String {
    let base = name.strip_suffix("_total").unwrap_or(name);
    format!("{base}_created")
}

impl Catalog {
    /// The LiteLLM defaults (see the module docs and the reference contract).
    pub fn litellm() -> Catalog {
        let mut families: [String; Metric::COUNT] = Default::default();
        let mut names: [Vec<String>; Metric::COUNT] = Default::default();
        for metric in Metric::ALL {
            let family = DEFAULT_FAMILIES[metric.index()];
            families[metric.index()] = family.to_owned();
            let mut list: Vec<String> = with_total_twin(family).into();
            for legacy in legacy_families(metric) {
                list.extend(with_total_twin(legacy));
            }
            names[metric.index()] = list;
        }
        let mut catalog = Catalog {
            families,
            names,
            roles: FastMap::default(),
        };
        catalog.rebuild_roles();
        catalog
    }

    /// Tracks `metric` under `family` instead (the host's
    /// `LITELLM_PULSE_METRIC_<FRIENDLY>` setting). The family and its twin
    /// with or without `_total` are accepted; legacy names are dropped, since
    /// the user chose the name. Another metric that accepted one of these
    /// names as a legacy alias loses that alias.
    pub fn with_override(mut self, metric: Metric, family: &str) -> Result<Catalog, CatalogError> {
        if !is_metric_name(family) {
            return Err(CatalogError::InvalidName {
                metric,
                family: family.to_owned(),
            });
        }
        let list: Vec<String> = with_total_twin(family).into();
        for other in Metric::ALL {
            if other == metric {
                continue;
            }
            let theirs = &self.families[other.index()];
            if with_total_twin(theirs).iter().any(|n| list.contains(n)) {
                return Err(CatalogError::Conflict {
                    metric,
                    family: family.to_owned(),
                    other,
                });
            }
        }
        for other in Metric::ALL {
            if other != metric {
                self.names[other.index()].retain(|n| !list.contains(n));
            }
        }
        self.families[metric.index()] = family.to_owned();
        self.names[metric.index()] = list;
        self.rebuild_roles();
        Ok(self)
    }

    fn rebuild_roles(&mut self) {
        self.roles.clear();
        for metric in Metric::ALL {
            for (rank, name) in self.names[metric.index()].iter().enumerate() {
                let rank = u8::try_from(rank).unwrap_or(u8::MAX);
                self.roles
                    .insert(name.clone(), NameRole::Value { metric, rank });
            }
        }
        // Value names take precedence over `_created` names that coincide with them.
        for metric in Metric::ALL {
            if metric.is_gauge() {
                continue;
            }
            for (rank, name) in self.names[metric.index()].iter().enumerate() {
                let rank = u8::try_from(rank).unwrap_or(u8::MAX);
                self.roles
                    .entry(created_name_of(name))
                    .or_insert(NameRole::Created { metric, rank });
            }
        }
        #[cfg(feature = "latency")]
        self.add_latency_roles();
    }

    /// The histogram and health counter samples. A metric configured on one
    /// of their names keeps it.
    #[cfg(feature = "latency")]
    fn add_latency_roles(&mut self) {
        for histogram in Histogram::ALL {
            let family = histogram.family();
            for (part, suffix) in HistogramPart::SUFFIXES {
                self.roles
                    .entry(format!("{family}{suffix}"))
                    .or_insert(NameRole::HistogramPart { histogram, part });
            }
            self.roles
                .entry(format!("{family}_created"))
                .or_insert(NameRole::HistogramCreated { histogram });
        }
        for counter in HealthCounter::ALL {
            self.roles
                .entry(counter.family().to_owned())
                .or_insert(NameRole::Health { counter });
            self.roles
                .entry(created_name_of(counter.family()))
                .or_insert(NameRole::HealthCreated { counter });
        }
    }

    /// The configured family of `metric` (its first accepted sample name).
    pub fn family(&self, metric: Metric) -> &str {
        &self.families[metric.index()]
    }

    /// The sample names accepted for `metric`, in precedence order: the
    /// configured family, its twin with or without `_total`, then the names
    /// older LiteLLM releases used. A real body carries only one of them;
    /// should one carry several, the tracker takes the first listed that is
    /// present and ignores the others, so nothing is counted twice.
    pub fn sample_names(&self, metric: Metric) -> &[String] {
        &self.names[metric.index()]
    }

    /// The metric carried by sample `sample_name`, if any.
    pub fn metric_of(&self, sample_name: &str) -> Option<Metric> {
        match self.roles.get(sample_name) {
            Some(NameRole::Value { metric, .. }) => Some(*metric),
            _ => None,
        }
    }

    /// Every sample name the tracker reads, sorted: the accepted names of
    /// each metric (gauges included), their `_created` twins, and, with the
    /// `latency` feature, every histogram and health counter sample. This is
    /// what pulse asks a Prometheus-compatible engine for
    /// ([`crate::engine::instant_query`]).
    pub fn read_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.roles.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// True when the tracker follows series of `sample_name` with deltas: a
    /// counter metric, a histogram part or a health counter.
    pub(crate) fn tracks_series(&self, sample_name: &str) -> bool {
        match self.roles.get(sample_name) {
            Some(NameRole::Value { metric, .. }) => !metric.is_gauge(),
            Some(NameRole::HistogramPart { .. } | NameRole::Health { .. }) => true,
            _ => false,
        }
    }

    /// The role of `sample_name` (value or `_created` sample of a tracked metric).
    pub(crate) fn role_of(&self, sample_name: &str) -> Option<NameRole> {
        self.roles.get(sample_name).copied()
    }
}

impl Default for Catalog {
    fn default() -> Catalog {
        Catalog::litellm()
    }
}

/// `input_cached_tokens / input_tokens × 100`, and 0 when `input_tokens` is 0.
pub fn input_cached_pct(input_cached_tokens: f64, input_tokens: f64) -> f64 {
    if input_tokens == 0.0 {
        0.0
    } else {
        input_cached_tokens / input_tokens * 100.0
    }
}

/// `cache_hits / (cache_hits + cache_misses) × 100`, and 0 when there were
/// neither hits nor misses.
pub fn cache_hit_pct(cache_hits: f64, cache_misses: f64) -> f64 {
    let lookups = cache_hits + cache_misses;
    if lookups == 0.0 {
        0.0
    } else {
        cache_hits / lookups * 100.0
    }
}

/// The labels tried, in order, for each dimension.
///
/// The model dimension uses the alias the client asked for
/// (`requested_model`): request counters carry only that label, so taking it
/// first gives every metric the same key and per-model sums equal the totals.
/// Deployment metrics without it fall back to the underlying model. (The
/// reference read only `model`, so per-model requests never appeared: its
/// fault 8.)
fn dimension_labels(dim: Dimension) -> &'static [&'static str] {
    match dim {
        Dimension::Model => &[
            "requested_model",
            "model",
            "litellm_model_name",
            "model_group",
        ],
        Dimension::Key => &["api_key_alias", "hashed_api_key"],
        Dimension::Team => &["team_alias", "team"],
        Dimension::User => &["user"],
        Dimension::EndUser => &["end_user"],
        Dimension::Provider => &["api_provider"],
        Dimension::Instance => &["instance"],
    }
}

/// LiteLLM writes a missing value as `"None"` on most labels and as `""` on some.
fn is_missing(value: &str) -> bool {
    value.is_empty() || value == "None"
}

/// The key of a series in `dim`, borrowed from its labels; `""` when none applies.
pub(crate) fn dimension_value<'l>(dim: Dimension, labels: &[Label<'l>]) -> Cow<'l, str> {
    for wanted in dimension_labels(dim) {
        if let Some(label) = labels.iter().find(|l| l.name == *wanted) {
            let value = label.value();
            if !is_missing(&value) {
                return value;
            }
        }
    }
    Cow::Borrowed("")
}

/// The key of a series with `labels` in dimension `dim`.
///
/// Each dimension tries its labels in order and takes the first one present
/// whose value is neither `""` nor `"None"`: model = `requested_model`, then
/// `model`, `litellm_model_name`, `model_group`; key = `api_key_alias`, then
/// `hashed_api_key`; team = `team_alias`, then `team`; user = `user`;
/// end user = `end_user`; provider = `api_provider`; instance = `instance`
/// (a target's own series carry none: [`crate::track::Fleet`] gives them the
/// target's name). When none applies the
/// key is `""` (shown as "(none)"). Every series gets exactly one key per
/// dimension, so per-dimension sums equal the totals.
pub fn dimension_key(dim: Dimension, labels: &[Label<'_>]) -> String {
    dimension_value(dim, labels).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<Label<'a>> {
        pairs.iter().map(|(n, v)| Label::new(n, v)).collect()
    }

    #[test]
    fn metric_names_round_trip_and_match_the_reference_order() {
        for (i, m) in Metric::ALL.into_iter().enumerate() {
            assert_eq!(m.index(), i);
            assert_eq!(Metric::from_name(m.name()), Some(m));
        }
        let reference: Vec<&str> = Metric::REFERENCE.iter().map(|m| m.name()).collect();
        assert_eq!(
            reference,
            [
                "requests",
                "failed_requests",
                "tokens",
                "input_tokens",
                "output_tokens",
                "reasoning_tokens",
                "cost",
                "in_flight_requests",
                "cache_hits",
                "cache_misses",
                "cached_tokens",
                "input_cached_tokens"
            ]
        );
        assert_eq!(Metric::from_name("bogus"), None);
        assert_eq!(Metric::from_name("Requests"), None);
        let gauges: Vec<Metric> = Metric::ALL.into_iter().filter(|m| m.is_gauge()).collect();
        assert_eq!(gauges, [Metric::InFlightRequests]);
    }

    #[test]
    fn dimension_names_round_trip() {
        for (i, d) in Dimension::ALL.into_iter().enumerate() {
            assert_eq!(d.index(), i);
            assert_eq!(Dimension::from_name(d.name()), Some(d));
        }
        assert_eq!(Dimension::EndUser.name(), "end_user");
        assert_eq!(Dimension::from_name("org"), None);
    }

    #[test]
    fn metric_values_get_set_add_iter() {
        let mut v = MetricValues::default();
        assert!(v.iter().all(|(_, x)| x == 0.0));
        v.set(Metric::Cost, 1.5);
        v.add(Metric::Cost, 2.0);
        v.add(Metric::Requests, 3.0);
        assert_eq!(v.get(Metric::Cost), 3.5);
        assert_eq!(v.get(Metric::Requests), 3.0);
        let nonzero: Vec<(Metric, f64)> = v.iter().filter(|(_, x)| *x != 0.0).collect();
        assert_eq!(nonzero, [(Metric::Requests, 3.0), (Metric::Cost, 3.5)]);
    }

    #[test]
    fn default_catalog_names() {
        let c = Catalog::litellm();
        assert_eq!(
            c.sample_names(Metric::Tokens),
            [
                "litellm_total_tokens_metric_total",
                "litellm_total_tokens_metric",
                "litellm_total_tokens_total",
                "litellm_total_tokens"
            ]
        );
        assert_eq!(
            c.sample_names(Metric::Cost),
            ["litellm_spend_metric_total", "litellm_spend_metric"]
        );
        assert_eq!(
            c.sample_names(Metric::InFlightRequests),
            [
                "litellm_in_flight_requests",
                "litellm_in_flight_requests_total"
            ]
        );
        assert_eq!(
            c.family(Metric::DeploymentFailures),
            "litellm_deployment_failure_responses_total"
        );
        assert_eq!(
            c.family(Metric::InputCachedTokens),
            "litellm_input_cached_tokens_metric_total"
        );
        assert_eq!(
            c.metric_of("litellm_proxy_total_requests_metric_total"),
            Some(Metric::Requests)
        );
        assert_eq!(
            c.metric_of("litellm_input_tokens"),
            Some(Metric::InputTokens)
        );
        assert_eq!(c.metric_of("litellm_spend_metric_created"), None);
        assert_eq!(
            c.role_of("litellm_spend_metric_created"),
            Some(NameRole::Created {
                metric: Metric::Cost,
                rank: 0
            })
        );
        assert_eq!(c.role_of("litellm_in_flight_requests_created"), None);
        assert_eq!(c.metric_of("litellm_requests_metric_total"), None);
        // Every accepted name maps back to its own metric.
        for m in Metric::ALL {
            for n in c.sample_names(m) {
                assert_eq!(c.metric_of(n), Some(m), "{n}");
            }
        }
    }

    #[test]
    fn created_names() {
        assert_eq!(
            created_name_of("litellm_spend_metric_total"),
            "litellm_spend_metric_created"
        );
        assert_eq!(
            created_name_of("litellm_spend_metric"),
            "litellm_spend_metric_created"
        );
        assert_eq!(
            created_name_of("litellm_managed_batch_created_total"),
            "litellm_managed_batch_created_created"
        );
    }

    #[test]
    fn overrides_validate_and_replace() {
        let c = Catalog::litellm()
            .with_override(Metric::Requests, "litellm_requests_metric_total")
            .unwrap();
        assert_eq!(
            c.sample_names(Metric::Requests),
            ["litellm_requests_metric_total", "litellm_requests_metric"]
        );
        assert_eq!(
            c.metric_of("litellm_proxy_total_requests_metric_total"),
            None
        );
        assert_eq!(
            c.metric_of("litellm_requests_metric"),
            Some(Metric::Requests)
        );

        let batch = Catalog::litellm()
            .with_override(Metric::Requests, "litellm_managed_batch_created_total")
            .unwrap();
        assert_eq!(
            batch.role_of("litellm_managed_batch_created_created"),
            Some(NameRole::Created {
                metric: Metric::Requests,
                rank: 0
            })
        );
        assert_eq!(
            batch.metric_of("litellm_managed_batch_created_total"),
            Some(Metric::Requests)
        );

        for bad in ["", "1abc", "a-b", "spend metric", "ünï"] {
            assert_eq!(
                Catalog::litellm().with_override(Metric::Cost, bad),
                Err(CatalogError::InvalidName {
                    metric: Metric::Cost,
                    family: bad.to_owned()
                })
            );
        }
        let twin = Catalog::litellm()
            .with_override(Metric::Cost, "litellm_spend_metric")
            .unwrap();
        assert_eq!(
            twin.sample_names(Metric::Cost),
            ["litellm_spend_metric", "litellm_spend_metric_total"]
        );
        assert_eq!(
            Catalog::litellm().with_override(Metric::Cost, "litellm_input_tokens_metric"),
            Err(CatalogError::Conflict {
                metric: Metric::Cost,
                family: "litellm_input_tokens_metric".to_owned(),
                other: Metric::InputTokens
            })
        );
        // A legacy alias moves to the metric that now claims it.
        let moved = Catalog::litellm()
            .with_override(Metric::ReasoningTokens, "litellm_output_tokens_total")
            .unwrap();
        assert_eq!(
            moved.metric_of("litellm_output_tokens"),
            Some(Metric::ReasoningTokens)
        );
        assert_eq!(
            moved.sample_names(Metric::OutputTokens),
            [
                "litellm_output_tokens_metric_total",
                "litellm_output_tokens_metric"
            ]
        );
    }

    #[test]
    fn input_cached_pct_handles_zero() {
        assert_eq!(input_cached_pct(0.0, 0.0), 0.0);
        assert_eq!(input_cached_pct(5.0, 0.0), 0.0);
        assert_eq!(input_cached_pct(25.0, 200.0), 12.5);
    }

    #[test]
    fn cache_hit_pct_handles_zero() {
        assert_eq!(cache_hit_pct(0.0, 0.0), 0.0);
        assert_eq!(cache_hit_pct(3.0, 1.0), 75.0);
        assert_eq!(cache_hit_pct(0.0, 4.0), 0.0);
        assert_eq!(cache_hit_pct(5.0, 0.0), 100.0);
    }

    #[test]
    fn dimension_keys_follow_the_documented_fallbacks() {
        let request = labels(&[
            ("api_key_alias", "None"),
            ("hashed_api_key", "litellm_proxy_master_key"),
            ("requested_model", "gpt-4o-mini"),
            ("team", "t-1"),
            ("team_alias", "Alpha Team"),
            ("user", "default_user_id"),
            ("end_user", "None"),
            ("api_provider", "openai"),
        ]);
        assert_eq!(dimension_key(Dimension::Model, &request), "gpt-4o-mini");
        assert_eq!(
            dimension_key(Dimension::Key, &request),
            "litellm_proxy_master_key"
        );
        assert_eq!(dimension_key(Dimension::Team, &request), "Alpha Team");
        assert_eq!(dimension_key(Dimension::User, &request), "default_user_id");
        assert_eq!(dimension_key(Dimension::EndUser, &request), "");
        assert_eq!(dimension_key(Dimension::Provider, &request), "openai");

        let tokens = labels(&[
            ("api_key_alias", "ci-key"),
            ("model", "claude-3-5-haiku-20241022"),
            ("requested_model", "claude-haiku"),
            ("team", "t-2"),
            ("team_alias", "None"),
        ]);
        assert_eq!(dimension_key(Dimension::Model, &tokens), "claude-haiku");
        assert_eq!(dimension_key(Dimension::Key, &tokens), "ci-key");
        assert_eq!(dimension_key(Dimension::Team, &tokens), "t-2");
        assert_eq!(dimension_key(Dimension::User, &tokens), "");

        let rejected = labels(&[("requested_model", ""), ("hashed_api_key", "")]);
        assert_eq!(dimension_key(Dimension::Model, &rejected), "");
        assert_eq!(dimension_key(Dimension::Key, &rejected), "");

        let deployment = labels(&[
            ("litellm_model_name", "gpt-4o-mini"),
            ("model_group", "fast"),
        ]);
        assert_eq!(dimension_key(Dimension::Model, &deployment), "gpt-4o-mini");
        let group = labels(&[("model_group", "fast"), ("model", "None")]);
        assert_eq!(dimension_key(Dimension::Model, &group), "fast");
        assert_eq!(dimension_key(Dimension::Model, &[]), "");
    }
}
