//! Configuration in two stages.
//!
//! [`Cli`] is what the user gave (flags and `LITELLM_PULSE_*` variables, parsed
//! by clap without side effects). [`Cli::resolve`] turns it into [`Settings`],
//! the values the program runs on, and returns the warnings to log once logging
//! is up (an unknown time zone falls back to UTC, as the reference does).
//! Every setting has exactly one default, one flag and one variable.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;
use clap::{Args, Parser, Subcommand};
use pulse_core::catalog::{Catalog, Metric};
use reqwest::Url;

/// Largest `limit` accepted by `/api/v1/history` unless configured otherwise:
/// a week of scrapes at the smallest sensible interval (one a minute).
pub const DEFAULT_HISTORY_MAX_LIMIT: usize = 10_080;

/// `litellm-pulse`: usage and spend tracking for LiteLLM proxies.
#[derive(Debug, Parser)]
#[command(name = "litellm-pulse", version, about, long_about = None)]
pub struct Cli {
    /// What to run; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings shared by every subcommand.
    #[command(flatten)]
    pub options: Options,
}

/// Subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Scrape LiteLLM and serve the API and dashboard (the default).
    Serve,
    /// Run against a built-in simulated LiteLLM with 30 days of history.
    Demo,
    /// Exit 0 when the server on --host/--port answers /livez, else 1.
    Healthcheck,
    /// Send a test message to every alert channel of --config (or one), exit 1 if any failed.
    NotifyTest {
        /// Only the channel with this name.
        #[arg(long, value_name = "NAME")]
        channel: Option<String>,
    },
    /// Validate exposition text strictly (OpenMetrics 1.0 or text 0.0.4):
    /// print each problem as `LINE: message`; exit 0 when valid, 1 when
    /// not, 2 when the input cannot be read.
    Check(CheckArgs),
    /// Write the buckets of a range as CSV or NDJSON to standard output,
    /// read from --db-path: the rows of GET /api/v1/export, for cron jobs.
    Export(crate::export_cmd::ExportArgs),
}

/// What `check` reads and as which format.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct CheckArgs {
    /// A file, an http(s) URL (fetched like a scrape: timeout, TLS and body
    /// settings; the metrics key only on the metrics URL's own origin), or
    /// `-` for standard input.
    #[arg(value_name = "FILE|URL|-", default_value = "-")]
    pub input: String,
    /// The format to check against; `auto` is OpenMetrics when the body has
    /// a `# EOF` line, else text 0.0.4.
    #[arg(long = "format", value_enum, default_value_t = CheckFormat::Auto)]
    pub format: CheckFormat,
}

/// `check --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    /// OpenMetrics when the body has a `# EOF` line, else text 0.0.4.
    Auto,
    /// OpenMetrics 1.0.
    Openmetrics,
    /// Prometheus text format 0.0.4.
    Text,
}

/// Every setting, as the user gave it.
#[derive(Debug, Clone, Args)]
pub struct Options {
    /// LiteLLM's Prometheus endpoint; several LiteLLM processes as a
    /// comma-separated list, each counted on its own and summed.
    #[arg(
        long,
        env = "LITELLM_PULSE_METRICS_URL",
        default_value = DEFAULT_METRICS_URL,
        global = true,
        value_parser = parse_url_list
    )]
    pub metrics_url: UrlList,

    /// Find the targets in DNS every interval: `dns:HOST:PORT[/path]` (path
    /// `/metrics` by default), one target per A/AAAA record, e.g. a
    /// Kubernetes headless Service. Replaces LITELLM_PULSE_METRICS_URL.
    #[arg(long, env = "LITELLM_PULSE_DISCOVER", global = true, value_parser = parse_discover)]
    pub discover: Option<Discover>,

    /// The DNS server discovery asks, `IP:PORT` (UDP, then TCP for long
    /// answers); by default the system's resolver.
    #[arg(long, env = "LITELLM_PULSE_DNS_SERVER", global = true, value_name = "IP:PORT",
          value_parser = parse_dns_server)]
    pub dns_server: Option<SocketAddr>,

    /// Ready when this many targets were scraped within 3 intervals (0: all of them).
    #[arg(long, env = "LITELLM_PULSE_READY_QUORUM", default_value_t = 0, global = true,
          value_parser = parse_quorum)]
    pub ready_quorum: usize,

    /// Seconds between scrapes (the first scrape runs at start-up).
    #[arg(long, env = "LITELLM_PULSE_SCRAPE_INTERVAL", default_value_t = 60, global = true,
          value_name = "SECONDS", value_parser = parse_interval)]
    pub scrape_interval: u64,

    /// Port of the HTTP API (0 picks a free port).
    #[arg(long, env = "LITELLM_PULSE_PORT", default_value_t = 8000, global = true,
          value_parser = parse_port)]
    pub port: u16,

    /// Address the HTTP API binds to.
    #[arg(long, env = "LITELLM_PULSE_HOST", default_value = "0.0.0.0", global = true,
          value_parser = parse_host)]
    pub host: IpAddr,

    /// Verify the TLS certificate of the metrics URL.
    #[arg(long = "verify-ssl", env = "LITELLM_PULSE_VERIFY_SSL", global = true,
          overrides_with = "no_verify_ssl", value_parser = parse_bool_flag,
          num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    pub verify_ssl: bool,

    /// Do not verify the TLS certificate (the default).
    #[arg(long = "no-verify-ssl", global = true, overrides_with = "verify_ssl")]
    pub no_verify_ssl: bool,

    /// Seconds before a scrape is abandoned (fractions allowed).
    #[arg(long, env = "LITELLM_PULSE_SCRAPE_TIMEOUT", default_value = "30", global = true,
          value_name = "SECONDS", value_parser = parse_timeout)]
    pub scrape_timeout: Duration,

    /// Log level: debug, info, warning, error.
    #[arg(long, env = "LITELLM_PULSE_LOG_LEVEL", default_value = "info", global = true,
          value_parser = parse_log_level)]
    pub log_level: LogLevel,

    /// SQLite database file (parent directories are created).
    #[arg(
        long,
        env = "LITELLM_PULSE_DB_PATH",
        default_value = "./data/litellm_pulse.db",
        global = true
    )]
    pub db_path: PathBuf,

    /// Days of scrape rows and buckets to keep (0 keeps everything; all-time totals are never purged).
    #[arg(long, env = "LITELLM_PULSE_DB_RETENTION_DAYS", default_value_t = 90, global = true,
          value_name = "DAYS", value_parser = parse_days)]
    pub db_retention_days: u32,

    /// Scrapes kept in memory when the database cannot be opened.
    #[arg(long, env = "LITELLM_PULSE_HISTORY_SIZE", default_value_t = 168, global = true,
          value_parser = parse_count)]
    pub history_size: usize,

    /// Bearer key sent to LiteLLM's /metrics (never logged or shown).
    #[arg(
        long,
        env = "LITELLM_PULSE_METRICS_API_KEY",
        default_value = "",
        global = true,
        hide_env_values = true,
        hide_default_value = true
    )]
    pub metrics_api_key: String,

    /// IANA time zone for windows and timestamps (unknown names fall back to UTC).
    #[arg(
        long,
        env = "LITELLM_PULSE_TIMEZONE",
        default_value = "UTC",
        global = true
    )]
    pub timezone: String,

    /// Largest scrape body accepted, in bytes (after gzip decoding).
    #[arg(long, env = "LITELLM_PULSE_MAX_BODY_BYTES", default_value_t = 64 * 1024 * 1024,
          global = true, value_name = "BYTES", value_parser = parse_body_bytes)]
    pub max_body_bytes: u64,

    /// Largest `limit` accepted by /api/v1/history.
    #[arg(long, env = "LITELLM_PULSE_HISTORY_MAX_LIMIT", default_value_t = DEFAULT_HISTORY_MAX_LIMIT,
          global = true, value_parser = parse_count)]
    pub history_max_limit: usize,

    /// Token required as `Authorization: Bearer <token>` on every endpoint but /livez (empty: no token).
    #[arg(
        long,
        env = "LITELLM_PULSE_API_TOKEN",
        default_value = "",
        global = true,
        hide_env_values = true,
        hide_default_value = true
    )]
    pub api_token: String,

    /// Origins allowed to call the API from a browser: a comma-separated list, or `*` (empty: CORS off).
    #[arg(
        long,
        env = "LITELLM_PULSE_CORS_ORIGINS",
        default_value = "",
        global = true,
        value_name = "ORIGINS"
    )]
    pub cors_origins: String,

    /// Budgets and alerts file (TOML with budget, channel, spike and scrape_down tables); SIGHUP reloads it.
    #[arg(long, env = "LITELLM_PULSE_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Shortcut for a budget on all spend per local month, in the cost unit (e.g. 100).
    #[arg(long, env = "LITELLM_PULSE_MONTHLY_BUDGET", global = true, value_name = "AMOUNT",
          value_parser = parse_amount)]
    pub monthly_budget: Option<f64>,
    /// MQTT broker for Home Assistant discovery: `mqtt://user:pass@host:1883`
    /// or `mqtts://…` (empty: off; credentials never logged or shown).
    #[arg(
        long,
        env = "LITELLM_PULSE_MQTT_URL",
        default_value = "",
        global = true,
        hide_env_values = true,
        hide_default_value = true,
        value_name = "URL"
    )]
    pub mqtt_url: String,

    /// Home Assistant's MQTT discovery prefix.
    #[arg(
        long,
        env = "LITELLM_PULSE_MQTT_PREFIX",
        default_value = "homeassistant",
        global = true
    )]
    pub mqtt_prefix: String,

    /// Topic under which pulse publishes its availability and states.
    #[arg(
        long,
        env = "LITELLM_PULSE_MQTT_BASE_TOPIC",
        default_value = "litellm-pulse",
        global = true
    )]
    pub mqtt_base_topic: String,

    /// PEM file of the CA that signed an `mqtts://` broker's certificate
    /// (trusted instead of the Mozilla roots).
    #[arg(
        long,
        env = "LITELLM_PULSE_MQTT_CA_FILE",
        global = true,
        value_name = "FILE"
    )]
    pub mqtt_ca_file: Option<PathBuf>,

    /// Read LiteLLM's counters from this Prometheus-compatible API (Prometheus,
    /// VictoriaMetrics, Thanos, Mimir) instead of scraping LiteLLM, e.g.
    /// `http://prometheus:9090` (`user:pass@` allowed; never logged or shown).
    #[arg(
        long,
        env = "LITELLM_PULSE_PROMETHEUS_URL",
        global = true,
        hide_env_values = true,
        value_name = "URL",
        value_parser = parse_url
    )]
    pub prometheus_url: Option<Url>,

    /// Label matchers added to every query, e.g. `{job="litellm"}`.
    #[arg(
        long,
        env = "LITELLM_PULSE_PROMETHEUS_SELECTOR",
        default_value = "",
        global = true,
        value_name = "SELECTOR"
    )]
    pub prometheus_selector: String,

    /// Basic-auth user for the Prometheus API.
    #[arg(
        long,
        env = "LITELLM_PULSE_PROMETHEUS_USER",
        default_value = "",
        global = true,
        hide_default_value = true
    )]
    pub prometheus_user: String,

    /// Basic-auth password for the Prometheus API (never logged or shown).
    #[arg(
        long,
        env = "LITELLM_PULSE_PROMETHEUS_PASSWORD",
        default_value = "",
        global = true,
        hide_env_values = true,
        hide_default_value = true
    )]
    pub prometheus_password: String,

    /// Bearer token for the Prometheus API (never logged or shown).
    #[arg(
        long,
        env = "LITELLM_PULSE_PROMETHEUS_TOKEN",
        default_value = "",
        global = true,
        hide_env_values = true,
        hide_default_value = true
    )]
    pub prometheus_token: String,

    /// For tests only: the backfill's step in seconds (15 minutes otherwise).
    #[arg(long, env = "LITELLM_PULSE_PROMETHEUS_BACKFILL_STEP", global = true,
          hide = true, default_value_t = 900, value_parser = parse_interval)]
    pub prometheus_backfill_step: u64,
}

/// The default of `LITELLM_PULSE_METRICS_URL`.
pub const DEFAULT_METRICS_URL: &str = "http://litellm:4000/metrics/";

/// Which browser origins may read the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    /// No CORS headers: only same-origin pages (the dashboard) can read it.
    Off,
    /// Any origin (`*`).
    Any,
    /// Exactly these origins (`scheme://host[:port]`).
    Origins(Vec<String>),
}

/// Parses `LITELLM_PULSE_CORS_ORIGINS`: empty is off, `*` is any, else a
/// comma-separated list of `http(s)://host[:port]` origins.
pub fn parse_cors(raw: &str) -> Result<Cors, String> {
    let items: Vec<&str> = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return Ok(Cors::Off);
    }
    if items == ["*"] {
        return Ok(Cors::Any);
    }
    let mut origins = Vec::with_capacity(items.len());
    for item in items {
        let url = Url::parse(item).map_err(|_| format!("{item:?} is not an origin"))?;
        let bare = matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some()
            && url.path() == "/"
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
            && !item.trim_end_matches('/').ends_with('/');
        if !bare || item.contains('*') {
            return Err(format!(
                "{item:?} is not an origin (scheme://host[:port], or * alone)"
            ));
        }
        // The browser sends the origin without a trailing slash.
        origins.push(url.origin().ascii_serialization());
    }
    Ok(Cors::Origins(origins))
}

/// Log verbosity, spelled as the reference spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Everything, including each scrape.
    Debug,
    /// Start-up, resets, recoveries.
    Info,
    /// Failed scrapes and fallbacks.
    Warn,
    /// Only errors.
    Error,
}

impl LogLevel {
    /// The most verbose `tracing` level this setting logs.
    pub fn filter(self) -> tracing::level_filters::LevelFilter {
        use tracing::level_filters::LevelFilter;
        match self {
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Error => LevelFilter::ERROR,
        }
    }
}

/// The settings the program runs on. Its `Debug` output leaves out the key
/// and the URL's credentials.
#[derive(Clone)]
pub struct Settings {
    /// The first scrape target, credentials included (only
    /// [`Settings::source`] is ever shown).
    pub metrics_url: Url,
    /// Every scrape target, or how to find them.
    pub targets: Targets,
    /// Targets that must be fresh for `/readyz`; `None`: all of them.
    pub ready_quorum: Option<usize>,
    /// The DNS server of discovery; `None`: the system's resolver.
    pub dns_server: Option<SocketAddr>,
    /// The metrics URL with user and password removed, for logs and responses.
    pub source: String,
    /// Time between scrape starts.
    pub scrape_interval: Duration,
    /// Address of the HTTP API.
    pub host: IpAddr,
    /// Port of the HTTP API.
    pub port: u16,
    /// Whether TLS certificates of the target are verified.
    pub verify_ssl: bool,
    /// Per-scrape timeout.
    pub scrape_timeout: Duration,
    /// Log verbosity.
    pub log_level: LogLevel,
    /// Database file.
    pub db_path: PathBuf,
    /// Retention of raw rows; `None` keeps everything.
    pub retention: Option<Duration>,
    /// Size of the in-memory ring used without a database.
    pub history_size: usize,
    /// Bearer key, if any (trimmed; empty means none).
    pub api_key: Option<String>,
    /// Zone for windows and timestamps.
    pub tz: Tz,
    /// Body cap in bytes.
    pub max_body_bytes: u64,
    /// Largest accepted history `limit`.
    pub history_max_limit: usize,
    /// Token pulse's own API requires, if any (trimmed; empty means none).
    pub api_token: Option<String>,
    /// Browser origins allowed to read the API.
    pub cors: Cors,
    /// Friendly metric → Prometheus family mapping, with overrides applied.
    pub catalog: Catalog,
    /// The budgets and alerts file, if any.
    pub config_path: Option<PathBuf>,
    /// The `LITELLM_PULSE_MONTHLY_BUDGET` limit, if any.
    pub monthly_budget: Option<f64>,
    /// Home Assistant over MQTT, when a broker is configured.
    pub mqtt: Option<crate::mqtt::MqttSettings>,
    /// Read from a Prometheus-compatible engine instead of scraping LiteLLM.
    pub engine: Option<crate::engine::EngineSettings>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("source", &self.source)
            .field("ready_quorum", &self.ready_quorum)
            .field("dns_server", &self.dns_server)
            .field("scrape_interval", &self.scrape_interval)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("verify_ssl", &self.verify_ssl)
            .field("scrape_timeout", &self.scrape_timeout)
            .field("log_level", &self.log_level)
            .field("db_path", &self.db_path)
            .field("retention", &self.retention)
            .field("history_size", &self.history_size)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("tz", &self.tz)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("history_max_limit", &self.history_max_limit)
            .field("api_token", &self.api_token.as_ref().map(|_| "<redacted>"))
            .field("cors", &self.cors)
            .field("config_path", &self.config_path)
            .field("monthly_budget", &self.monthly_budget)
            .field("mqtt", &self.mqtt)
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

/// Something worth logging about the configuration once logging is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning(pub String);

/// A setting that parsed but cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid value for {setting}: {reason}")]
pub struct ConfigError {
    /// The variable that was wrong.
    pub setting: String,
    /// Why.
    pub reason: String,
}

impl Cli {
    /// Turns what the user gave into [`Settings`]. `env` looks up the
    /// `LITELLM_PULSE_METRIC_<FRIENDLY>` overrides (a parameter so tests need
    /// not touch the process environment).
    pub fn resolve(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(Settings, Vec<ConfigWarning>), ConfigError> {
        self.options.resolve(env)
    }
}

impl Options {
    /// See [`Cli::resolve`].
    pub fn resolve(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(Settings, Vec<ConfigWarning>), ConfigError> {
        let mut warnings = Vec::new();
        let tz = match pulse_core::window::parse_tz(self.timezone.trim()) {
            Ok(tz) => tz,
            Err(_) => {
                warnings.push(ConfigWarning(format!(
                    "Unknown timezone {:?}, falling back to UTC",
                    self.timezone
                )));
                Tz::UTC
            }
        };
        let mut catalog = Catalog::litellm();
        for metric in Metric::REFERENCE {
            let var = format!(
                "LITELLM_PULSE_METRIC_{}",
                metric.name().to_ascii_uppercase()
            );
            if let Some(family) = env(&var) {
                let family = family.trim();
                if family.is_empty() {
                    continue;
                }
                catalog = catalog
                    .with_override(metric, family)
                    .map_err(|e| ConfigError {
                        setting: var.clone(),
                        reason: e.to_string(),
                    })?;
            }
        }
        let key = self.metrics_api_key.trim();
        let token = self.api_token.trim();
        let cors = parse_cors(&self.cors_origins).map_err(|reason| ConfigError {
            setting: "LITELLM_PULSE_CORS_ORIGINS".into(),
            reason,
        })?;
        let mqtt = crate::mqtt::MqttSettings::resolve(
            &self.mqtt_url,
            &self.mqtt_prefix,
            &self.mqtt_base_topic,
            self.mqtt_ca_file.as_deref(),
        )
        .map_err(|(setting, reason)| ConfigError {
            setting: setting.into(),
            reason,
        })?;
        let urls = &self.metrics_url.0;
        let first = urls.first().cloned().ok_or_else(|| ConfigError {
            setting: "LITELLM_PULSE_METRICS_URL".into(),
            reason: "no URL given".into(),
        })?;
        let engine = self.engine()?;
        let default_url = urls.len() == 1 && urls[0].as_str() == DEFAULT_METRICS_URL;
        if engine.is_some() && (!default_url || self.discover.is_some()) {
            return Err(ConfigError {
                setting: "LITELLM_PULSE_PROMETHEUS_URL".into(),
                reason: "set either LITELLM_PULSE_METRICS_URL or LITELLM_PULSE_DISCOVER \
                         (scrape LiteLLM) or LITELLM_PULSE_PROMETHEUS_URL (read from \
                         Prometheus), not both"
                    .into(),
            });
        }
        if self.dns_server.is_some() && self.discover.is_none() {
            return Err(ConfigError {
                setting: "LITELLM_PULSE_DNS_SERVER".into(),
                reason: "it is the resolver of LITELLM_PULSE_DISCOVER, which is not set; \
                         set both or neither"
                    .into(),
            });
        }
        let (targets, source) = match (&engine, &self.discover) {
            (Some(e), _) => (Targets::Static(urls.clone()), redact_url(&e.url)),
            (None, Some(d)) => (Targets::Dns(d.clone()), d.to_string()),
            (None, None) => (
                Targets::Static(urls.clone()),
                urls.iter().map(redact_url).collect::<Vec<_>>().join(", "),
            ),
        };
        let settings = Settings {
            source,
            metrics_url: first,
            targets,
            ready_quorum: (self.ready_quorum > 0).then_some(self.ready_quorum),
            dns_server: self.dns_server,
            scrape_interval: Duration::from_secs(self.scrape_interval),
            host: self.host,
            port: self.port,
            verify_ssl: self.verify_ssl && !self.no_verify_ssl,
            scrape_timeout: self.scrape_timeout,
            log_level: self.log_level,
            db_path: self.db_path.clone(),
            retention: (self.db_retention_days > 0)
                .then(|| Duration::from_secs(u64::from(self.db_retention_days) * 86_400)),
            history_size: self.history_size,
            api_key: (!key.is_empty()).then(|| key.to_owned()),
            tz,
            max_body_bytes: self.max_body_bytes,
            history_max_limit: self.history_max_limit,
            api_token: (!token.is_empty()).then(|| token.to_owned()),
            cors,
            catalog,
            config_path: self.config.clone(),
            monthly_budget: self.monthly_budget,
            mqtt,
            engine,
        };
        Ok((settings, warnings))
    }

    /// The Prometheus source, when `LITELLM_PULSE_PROMETHEUS_URL` is set:
    /// the URL without credentials, the parsed selector, and one kind of auth
    /// (the URL's `user:pass`, or the USER/PASSWORD settings, or a token).
    fn engine(&self) -> Result<Option<crate::engine::EngineSettings>, ConfigError> {
        use crate::engine::{EngineAuth, EngineSettings};
        let err = |setting: &str, reason: String| ConfigError {
            setting: setting.into(),
            reason,
        };
        let Some(url) = &self.prometheus_url else {
            return Ok(None);
        };
        let selector = pulse_core::engine::Selector::parse(&self.prometheus_selector)
            .map_err(|e| err("LITELLM_PULSE_PROMETHEUS_SELECTOR", e.to_string()))?;
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let in_url = (!url.username().is_empty())
            .then(|| (decode(url.username()), decode(url.password().unwrap_or(""))));
        let user = self.prometheus_user.trim();
        let token = self.prometheus_token.trim();
        let basic = match (in_url, user.is_empty()) {
            (Some(_), false) => {
                return Err(err(
                    "LITELLM_PULSE_PROMETHEUS_USER",
                    "the URL already carries a user; give it in one place".into(),
                ));
            }
            (Some(pair), true) => Some(pair),
            (None, false) => Some((user.to_owned(), self.prometheus_password.clone())),
            (None, true) if !self.prometheus_password.is_empty() => {
                return Err(err(
                    "LITELLM_PULSE_PROMETHEUS_PASSWORD",
                    "a password needs LITELLM_PULSE_PROMETHEUS_USER".into(),
                ));
            }
            (None, true) => None,
        };
        let auth = match (basic, token.is_empty()) {
            (Some(_), false) => {
                return Err(err(
                    "LITELLM_PULSE_PROMETHEUS_TOKEN",
                    "use basic auth or a bearer token, not both".into(),
                ));
            }
            (Some((user, password)), true) => EngineAuth::Basic { user, password },
            (None, false) => EngineAuth::Bearer(token.to_owned()),
            (None, true) => EngineAuth::None,
        };
        let mut url = url.clone();
        let _ = url.set_password(None);
        let _ = url.set_username("");
        Ok(Some(EngineSettings {
            url,
            selector,
            auth,
            backfill_step_ms: i64::try_from(self.prometheus_backfill_step)
                .unwrap_or(900)
                .saturating_mul(1000),
        }))
    }
}

/// The URL without user name and password, safe to log and to return as `source`.
pub fn redact_url(url: &Url) -> String {
    let mut shown = url.clone();
    // Both setters only fail for URLs that cannot carry credentials at all.
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

/// The URLs of `LITELLM_PULSE_METRICS_URL`, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct UrlList(pub Vec<Url>);

/// `LITELLM_PULSE_DISCOVER`: the DNS name whose A/AAAA records are the
/// targets, their port and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discover {
    /// The name to resolve every interval.
    pub host: String,
    /// The port of every target.
    pub port: u16,
    /// The path of every target, starting with `/`.
    pub path: String,
}

impl std::fmt::Display for Discover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "dns:{}:{}{}", self.host, self.port, self.path)
    }
}

/// Where the scrape targets come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// The URLs given (one or more).
    Static(Vec<Url>),
    /// Resolved every interval.
    Dns(Discover),
}

/// A target's name: `host:port` of its URL (the port its scheme implies
/// when none is written), like Prometheus' `instance` label. IPv6 hosts keep
/// their brackets.
pub fn target_name(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// A comma-separated list of http(s) URLs: trimmed, empty items skipped,
/// repeats (the same target name) dropped; an error names the bad item.
fn parse_url_list(s: &str) -> Result<UrlList, String> {
    let mut urls: Vec<Url> = Vec::new();
    for (i, item) in s.split(',').map(str::trim).enumerate() {
        if item.is_empty() {
            continue;
        }
        let url = parse_url(item).map_err(|e| format!("item {} ({item:?}): {e}", i + 1))?;
        if !urls.iter().any(|u| target_name(u) == target_name(&url)) {
            urls.push(url);
        }
    }
    if urls.is_empty() {
        return Err("no URL given".into());
    }
    Ok(UrlList(urls))
}

/// `dns:HOST:PORT[/path]`.
fn parse_discover(s: &str) -> Result<Discover, String> {
    let rest = s
        .trim()
        .strip_prefix("dns:")
        .ok_or("expected dns:HOST:PORT[/path], e.g. dns:litellm-headless:4000/metrics/")?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/metrics"),
    };
    let (host, port) = hostport
        .rsplit_once(':')
        .ok_or("expected dns:HOST:PORT[/path]: the port is missing")?;
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("{port:?} is not a port number 1-65535"))?;
    // The host must make a valid URL; the URL parser is the judge.
    let url = Url::parse(&format!("http://{host}:{port}{path}"))
        .map_err(|e| format!("{host:?} with path {path:?} does not make a URL ({e})"))?;
    if host.is_empty() || url.host_str().is_none() {
        return Err("the host name is missing".into());
    }
    Ok(Discover {
        host: host.to_owned(),
        port,
        path: url.path().to_owned(),
    })
}

fn parse_dns_server(s: &str) -> Result<SocketAddr, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("expected IP:PORT of a DNS server, e.g. 10.96.0.10:53, got {s:?}"))
}

fn parse_quorum(s: &str) -> Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .map_err(|_| "expected a whole number of targets (0: all of them)".into())
}

fn parse_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s.trim()).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!("scheme must be http or https, not {other:?}")),
    }
}

fn parse_interval(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(0) => Err("must be at least 1 second".into()),
        Ok(n) if n > 86_400 * 7 => Err("must be at most 604800 seconds (a week)".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("expected a whole number of seconds".into()),
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    s.trim()
        .parse::<u16>()
        .map_err(|_| "expected a port number 0-65535".into())
}

fn parse_host(s: &str) -> Result<IpAddr, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::from([127, 0, 0, 1]));
    }
    s.parse::<IpAddr>()
        .map_err(|_| "expected an IP address such as 0.0.0.0, 127.0.0.1 or ::".into())
}

fn parse_bool_flag(s: &str) -> Result<bool, String> {
    // The reference treats only "true" (any case) as true; accept the usual spellings too.
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| "expected a number of seconds, e.g. 30 or 2.5".to_owned())?;
    if !secs.is_finite() || secs <= 0.0 || secs > 3600.0 {
        return Err("must be more than 0 and at most 3600 seconds".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_log_level(s: &str) -> Result<LogLevel, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "debug" | "trace" => Ok(LogLevel::Debug),
        "info" => Ok(LogLevel::Info),
        "warning" | "warn" => Ok(LogLevel::Warn),
        "error" | "critical" => Ok(LogLevel::Error),
        _ => Err("expected debug, info, warning or error".into()),
    }
}

fn parse_days(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if n <= 36_500 => Ok(n),
        _ => Err("expected a whole number of days (0 keeps everything)".into()),
    }
}

fn parse_count(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=10_000_000).contains(&n) => Ok(n),
        _ => Err("expected a whole number from 1 to 10000000".into()),
    }
}

fn parse_amount(s: &str) -> Result<f64, String> {
    // The core's budget validation judges the value; this only reads it.
    s.trim()
        .parse::<f64>()
        .map_err(|_| "expected a number, e.g. 100 or 49.5".into())
}

fn parse_body_bytes(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if n >= 1024 => Ok(n),
        _ => Err("expected a whole number of bytes, at least 1024".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Result<Cli, clap::Error> {
        let mut all = vec!["litellm-pulse"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all)
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_match_the_reference() {
        let c = cli(&[]).unwrap();
        assert_eq!(c.command, None);
        let (s, w) = c.resolve(no_env).unwrap();
        assert!(w.is_empty());
        assert_eq!(s.metrics_url.as_str(), "http://litellm:4000/metrics/");
        assert_eq!(s.scrape_interval, Duration::from_secs(60));
        assert_eq!(s.port, 8000);
        assert_eq!(s.host, IpAddr::from([0, 0, 0, 0]));
        assert!(!s.verify_ssl);
        assert_eq!(s.scrape_timeout, Duration::from_secs(30));
        assert_eq!(s.log_level, LogLevel::Info);
        assert_eq!(s.db_path, PathBuf::from("./data/litellm_pulse.db"));
        assert_eq!(s.retention, Some(Duration::from_secs(90 * 86_400)));
        assert_eq!(s.history_size, 168);
        assert_eq!(s.api_key, None);
        assert_eq!(s.tz, Tz::UTC);
        assert_eq!(s.max_body_bytes, 67_108_864);
        assert_eq!(s.history_max_limit, 10_080);
        assert_eq!(s.api_token, None);
        assert_eq!(s.cors, Cors::Off);
    }

    #[test]
    fn cors_origins_are_a_list_a_star_or_nothing() {
        assert_eq!(parse_cors(""), Ok(Cors::Off));
        assert_eq!(parse_cors(" , "), Ok(Cors::Off));
        assert_eq!(parse_cors("*"), Ok(Cors::Any));
        assert_eq!(
            parse_cors("https://home.example/, http://ha.local:8123"),
            Ok(Cors::Origins(vec![
                "https://home.example".into(),
                "http://ha.local:8123".into()
            ]))
        );
        for bad in [
            "home.example",
            "https://home.example/path",
            "https://*.example",
            "*, https://a.example",
            "ftp://a.example",
            "https://user@a.example",
        ] {
            assert!(parse_cors(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_api_token_is_trimmed_and_never_in_debug_output() {
        let (s, _) = cli(&["--api-token", " tok-secret-1 "])
            .unwrap()
            .resolve(no_env)
            .unwrap();
        assert_eq!(s.api_token.as_deref(), Some("tok-secret-1"));
        assert!(!format!("{s:?}").contains("tok-secret-1"));
        let err = cli(&["--cors-origins", "nope"]).unwrap().resolve(no_env);
        assert_eq!(
            err.err().map(|e| e.to_string()),
            Some("invalid value for LITELLM_PULSE_CORS_ORIGINS: \"nope\" is not an origin".into())
        );
    }

    #[test]
    fn flags_after_a_subcommand_are_accepted() {
        let c = cli(&["demo", "--port", "0", "--timezone", "Asia/Kathmandu"]).unwrap();
        assert_eq!(c.command, Some(Command::Demo));
        let (s, w) = c.resolve(no_env).unwrap();
        assert_eq!(s.port, 0);
        assert_eq!(s.tz, Tz::Asia__Kathmandu);
        assert!(w.is_empty());
    }

    #[test]
    fn check_takes_an_input_and_a_format() {
        let c = cli(&["check", "metrics.txt", "--format", "openmetrics"]).unwrap();
        assert_eq!(
            c.command,
            Some(Command::Check(CheckArgs {
                input: "metrics.txt".into(),
                format: CheckFormat::Openmetrics,
            }))
        );
        let c = cli(&["check"]).unwrap();
        assert_eq!(
            c.command,
            Some(Command::Check(CheckArgs {
                input: "-".into(),
                format: CheckFormat::Auto,
            }))
        );
        assert!(cli(&["check", "--format", "yaml"]).is_err());
    }

    #[test]
    fn verify_ssl_last_flag_wins() {
        let (s, _) = cli(&["--verify-ssl"]).unwrap().resolve(no_env).unwrap();
        assert!(s.verify_ssl);
        let (s, _) = cli(&["--verify-ssl", "--no-verify-ssl"])
            .unwrap()
            .resolve(no_env)
            .unwrap();
        assert!(!s.verify_ssl);
        let (s, _) = cli(&["--no-verify-ssl", "--verify-ssl"])
            .unwrap()
            .resolve(no_env)
            .unwrap();
        assert!(s.verify_ssl);
    }

    #[test]
    fn malformed_numbers_are_usage_errors_naming_the_setting() {
        for (args, name) in [
            (vec!["--scrape-interval", "abc"], "--scrape-interval"),
            (vec!["--scrape-interval", "0"], "--scrape-interval"),
            (vec!["--port", "70000"], "--port"),
            (vec!["--scrape-timeout=-1"], "--scrape-timeout"),
            (vec!["--db-retention-days", "1.5"], "--db-retention-days"),
            (vec!["--history-size", "x"], "--history-size"),
            (vec!["--log-level", "loud"], "--log-level"),
        ] {
            let err = cli(&args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
            let msg = err.to_string();
            assert!(msg.contains(name), "{msg}");
        }
    }

    #[test]
    fn timeout_takes_fractions_and_log_level_maps_warning() {
        let (s, _) = cli(&["--scrape-timeout", "2.5", "--log-level", "WARNING"])
            .unwrap()
            .resolve(no_env)
            .unwrap();
        assert_eq!(s.scrape_timeout, Duration::from_millis(2500));
        assert_eq!(s.log_level, LogLevel::Warn);
    }

    #[test]
    fn unknown_zone_warns_and_falls_back_to_utc() {
        let (s, w) = cli(&["--timezone", "Mars/Olympus"])
            .unwrap()
            .resolve(no_env)
            .unwrap();
        assert_eq!(s.tz, Tz::UTC);
        assert_eq!(
            w,
            vec![ConfigWarning(
                "Unknown timezone \"Mars/Olympus\", falling back to UTC".into()
            )]
        );
    }

    #[test]
    fn retention_zero_keeps_everything_and_key_is_trimmed() {
        let (s, _) = cli(&["--db-retention-days", "0", "--metrics-api-key", "  sk-1  "])
            .unwrap()
            .resolve(no_env)
            .unwrap();
        assert_eq!(s.retention, None);
        assert_eq!(s.api_key.as_deref(), Some("sk-1"));
    }

    #[test]
    fn source_never_shows_credentials() {
        let (s, _) = cli(&[
            "--metrics-url",
            "https://bob:s3cret@proxy.example:4443/metrics/?x=1",
        ])
        .unwrap()
        .resolve(no_env)
        .unwrap();
        assert_eq!(s.source, "https://proxy.example:4443/metrics/?x=1");
        let (k, _) = cli(&[
            "--metrics-api-key",
            "sk-hidden",
            "--metrics-url",
            "http://u:pw-hidden@h/metrics",
        ])
        .unwrap()
        .resolve(no_env)
        .unwrap();
        let shown = format!("{k:?}");
        assert!(
            !shown.contains("sk-hidden") && !shown.contains("pw-hidden"),
            "{shown}"
        );
        assert!(s.metrics_url.as_str().contains("s3cret"));
        assert!(cli(&["--metrics-url", "ftp://x/metrics"]).is_err());
    }

    #[test]
    fn metric_overrides_come_from_the_environment() {
        let env =
            |name: &str| (name == "LITELLM_PULSE_METRIC_COST").then(|| "my_spend_total".to_owned());
        let (s, _) = cli(&[]).unwrap().resolve(env).unwrap();
        let (d, _) = cli(&[]).unwrap().resolve(no_env).unwrap();
        assert_eq!(s.catalog.family(Metric::Cost), "my_spend_total");
        assert_eq!(d.catalog.family(Metric::Cost), "litellm_spend_metric_total");
        assert_eq!(
            s.catalog.family(Metric::Tokens),
            d.catalog.family(Metric::Tokens)
        );
    }

    #[test]
    fn metrics_urls_are_a_trimmed_deduplicated_list_and_errors_name_the_item() {
        let list =
            parse_url_list(" http://a:4000/metrics/ , http://b:4000/metrics/,http://a:4000/x ,")
                .unwrap();
        let names: Vec<String> = list.0.iter().map(target_name).collect();
        assert_eq!(names, ["a:4000", "b:4000"]);
        assert_eq!(
            target_name(&parse_url("https://p.example/metrics").unwrap()),
            "p.example:443"
        );
        assert_eq!(
            target_name(&parse_url("http://[::1]:9/m").unwrap()),
            "[::1]:9"
        );
        let err = parse_url_list("http://a:4000/metrics/, ftp://b/x").unwrap_err();
        assert!(
            err.starts_with("item 2 (\"ftp://b/x\"): scheme must be"),
            "{err}"
        );
        assert_eq!(parse_url_list(" , ").unwrap_err(), "no URL given");
    }

    #[test]
    fn discover_takes_dns_host_port_and_an_optional_path() {
        let d = parse_discover("dns:litellm-pods.default.svc:4000").unwrap();
        assert_eq!(
            (d.host.as_str(), d.port, d.path.as_str()),
            ("litellm-pods.default.svc", 4000, "/metrics")
        );
        assert_eq!(d.to_string(), "dns:litellm-pods.default.svc:4000/metrics");
        let d = parse_discover("dns:pods:4000/metrics/").unwrap();
        assert_eq!(d.path, "/metrics/");
        for bad in [
            "pods:4000",
            "dns:pods",
            "dns::4000",
            "dns:pods:0",
            "dns:pods:x/m",
        ] {
            assert!(parse_discover(bad).is_err(), "{bad}");
        }
        let s =
            crate::testutil::settings_for("http://a:1/m,http://b:2/m", &["--ready-quorum", "1"]);
        assert_eq!(s.ready_quorum, Some(1));
        assert_eq!(s.dns_server, None);
        assert_eq!(
            parse_dns_server(" 127.0.0.1:5353 "),
            Ok(SocketAddr::from(([127, 0, 0, 1], 5353)))
        );
        assert_eq!(parse_dns_server("[::1]:53").map(|a| a.port()), Ok(53));
        for bad in ["127.0.0.1", "dns.example:53", ""] {
            assert!(
                parse_dns_server(bad).unwrap_err().contains("IP:PORT"),
                "{bad}"
            );
        }
        assert_eq!(s.source, "http://a:1/m, http://b:2/m");
        assert_eq!(s.metrics_url.as_str(), "http://a:1/m");
        // A resolver without discovery would be ignored: it is an error.
        let resolve = |args: &[&str]| cli(args).unwrap().resolve(no_env);
        let e = resolve(&["--dns-server", "127.0.0.1:5353"]).unwrap_err();
        assert_eq!(e.setting, "LITELLM_PULSE_DNS_SERVER");
        assert!(e.reason.contains("LITELLM_PULSE_DISCOVER"), "{}", e.reason);
        let (s, _) = resolve(&[
            "--dns-server",
            "127.0.0.1:5353",
            "--discover",
            "dns:pods:4000/metrics",
        ])
        .unwrap();
        assert_eq!(s.dns_server, Some(SocketAddr::from(([127, 0, 0, 1], 5353))));
    }

    #[test]
    fn a_prometheus_source_takes_one_kind_of_auth_and_a_valid_selector() {
        use crate::engine::EngineAuth;
        let resolve = |args: &[&str]| cli(args).unwrap().resolve(no_env);
        let (s, _) = resolve(&[
            "--prometheus-url",
            "http://bob:pa%3Ass@prom:9090/prefix/",
            "--prometheus-selector",
            r#"{job="litellm"}"#,
        ])
        .unwrap();
        let e = s.engine.as_ref().unwrap();
        assert_eq!(e.url.as_str(), "http://prom:9090/prefix/");
        assert_eq!(s.source, "http://prom:9090/prefix/");
        assert_eq!(
            e.auth,
            EngineAuth::Basic {
                user: "bob".into(),
                password: "pa:ss".into()
            }
        );
        assert_eq!(e.selector.to_string(), r#"{job="litellm"}"#);
        assert_eq!(e.backfill_step_ms, 900_000);
        assert!(!format!("{s:?}").contains("pa:ss") && !format!("{s:?}").contains("pa%3Ass"));
        let (s, _) = resolve(&[
            "--prometheus-url",
            "http://prom:9090",
            "--prometheus-token",
            "tok-1",
        ])
        .unwrap();
        assert_eq!(s.engine.unwrap().auth, EngineAuth::Bearer("tok-1".into()));
        let (s, _) = resolve(&[
            "--prometheus-url",
            "http://prom:9090",
            "--prometheus-user",
            "u",
            "--prometheus-password",
            "p",
        ])
        .unwrap();
        assert_eq!(
            s.engine.unwrap().auth,
            EngineAuth::Basic {
                user: "u".into(),
                password: "p".into()
            }
        );
        let (s, _) = resolve(&[]).unwrap();
        assert!(s.engine.is_none());
        for (args, setting, reason) in [
            (
                vec![
                    "--prometheus-url",
                    "http://p:9090",
                    "--metrics-url",
                    "http://litellm:4000/m",
                ],
                "LITELLM_PULSE_PROMETHEUS_URL",
                "not both",
            ),
            (
                vec![
                    "--prometheus-url",
                    "http://p:9090",
                    "--prometheus-selector",
                    "{job=litellm}",
                ],
                "LITELLM_PULSE_PROMETHEUS_SELECTOR",
                "at character 6: expected a quoted value",
            ),
            (
                vec![
                    "--prometheus-url",
                    "http://u:p@p:9090",
                    "--prometheus-user",
                    "v",
                ],
                "LITELLM_PULSE_PROMETHEUS_USER",
                "one place",
            ),
            (
                vec![
                    "--prometheus-url",
                    "http://p:9090",
                    "--prometheus-password",
                    "p",
                ],
                "LITELLM_PULSE_PROMETHEUS_PASSWORD",
                "needs",
            ),
            (
                vec![
                    "--prometheus-url",
                    "http://u:p@p:9090",
                    "--prometheus-token",
                    "t",
                ],
                "LITELLM_PULSE_PROMETHEUS_TOKEN",
                "not both",
            ),
        ] {
            let e = resolve(&args).unwrap_err();
            assert_eq!(e.setting, setting, "{args:?}");
            assert!(e.reason.contains(reason), "{args:?}: {e}");
        }
    }
}
