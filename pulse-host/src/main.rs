//! `litellm-pulse`: scrapes LiteLLM's `/metrics`, keeps exact deltas in
//! SQLite and serves a JSON API (a drop-in for the Python litellm-pulse) and a
//! dashboard.
//!
//! Layout: `config` (flags and env → settings), `scrape` (HTTP), `pipeline`
//! (parse → track → record), `app` (shared state and the scrape loop),
//! `clock` (where "now" comes from), `store` (SQLite), `api` (routes,
//! handlers, JSON), `server` (HTTP/1.1 with limits and timeouts), `dashboard`
//! (embedded files), `selfmetrics` (our own `/metrics`), `demo` (a simulated
//! LiteLLM), `check` (strict validation of exposition text), `alerts` (the
//! budgets file, channel formats and delivery), `export_cmd` (the `export`
//! subcommand).
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
// Calendar arithmetic is pulse-core's: `clippy.toml` beside this crate bans
// the chrono calls that would redo it here.
#![deny(clippy::disallowed_methods)]

mod alerts;
mod api;
mod app;
mod check;
mod clock;
mod config;
mod dashboard;
mod demo;
mod discover;
mod engine;
mod export_cmd;
mod mqtt;
mod pipeline;
mod scrape;
mod selfmetrics;
mod server;
mod store;
#[cfg(test)]
mod testutil;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tokio::sync::watch;
use tracing_subscriber::filter::{LevelFilter, Targets};

use crate::app::{App, Runner};
use crate::clock::Clock;
use crate::config::{Cli, Command, LogLevel, Settings};
use crate::store::{Store, StoreHandle};

/// mimalloc for the glibc and the static musl builds alike, chosen for musl's
/// slow malloc under the API's load; `cargo xtask bench-alloc` measures all four
/// builds (it costs idle memory: see ARCHITECTURE.md). Since `/api/v1/metrics`
/// serves a serialised body between writes (`api::cache`), a request to it
/// allocates little and every build serves it alike; the endpoints computed
/// per request still run 1.4× faster on musl with mimalloc (README, Benchmarks).
/// Feature `system-alloc` keeps the C library's allocator.
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (`include/mimalloc.h`, v3).
#[cfg(not(feature = "system-alloc"))]
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

#[cfg(not(feature = "system-alloc"))]
#[allow(
    unsafe_code,
    reason = "mimalloc's C option setter; libmimalloc-sys links it"
)]
mod mi {
    unsafe extern "C" {
        pub safe fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
}

/// mimalloc returns freed pages to the OS at once rather than after its
/// default second: it purges only when a thread allocates or frees, so an
/// idle server kept what its last scrape or request freed (0.7-0.9 MB of idle
/// anonymous RSS, `cargo xtask bench-alloc`). `MIMALLOC_PURGE_DELAY` still decides when set.
fn tune_allocator() {
    #[cfg(not(feature = "system-alloc"))]
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        mi::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

fn main() -> ExitCode {
    tune_allocator();
    // Exits with code 2 and a message naming the flag on a malformed value.
    let cli = Cli::parse();
    let (settings, warnings) = match cli.resolve(|name| std::env::var(name).ok()) {
        Ok(v) => v,
        Err(e) => {
            let err = clap::Error::raw(clap::error::ErrorKind::ValueValidation, format!("{e}\n"));
            err.exit();
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    // A bad alert config stops the commands that use it like a bad flag:
    // exit 2, one line naming the file, line, column and field.
    let alert_config = match command {
        Command::Serve | Command::NotifyTest { .. } => {
            match alerts::config::load(settings.config_path.as_deref(), settings.monthly_budget) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: invalid alert config: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        _ => alerts::AlertConfig::default(),
    };
    init_logging(&settings);
    for w in &warnings {
        tracing::warn!("{}", w.0);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match command {
        Command::Serve => runtime.block_on(serve(settings, alert_config)),
        Command::Demo => runtime.block_on(demo::run(settings)),
        Command::Healthcheck => return runtime.block_on(healthcheck(&settings)),
        Command::NotifyTest { channel } => {
            return runtime.block_on(notify_test(&settings, &alert_config, channel.as_deref()));
        }
        Command::Check(args) => return runtime.block_on(check::run(&args, settings)),
        Command::Export(args) => return export_cmd::run(&args, &settings),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Which events are logged at `level`: our own at that level, the HTTP
/// stacks only from warn up unless debugging. A `Targets` filter, not an
/// `EnvFilter`: these directives are all target prefixes, and `EnvFilter`'s
/// span and field matching links a regex engine (0.2 MB of code).
fn log_filter(level: LogLevel) -> Targets {
    match level {
        LogLevel::Debug => Targets::new()
            .with_default(LevelFilter::DEBUG)
            .with_targets(
                ["hyper", "hyper_util", "reqwest", "rustls", "warp"]
                    .map(|target| (target, LevelFilter::INFO)),
            ),
        other => Targets::new()
            .with_default(LevelFilter::WARN)
            .with_target(env!("CARGO_CRATE_NAME"), other.filter()),
    }
}

fn init_logging(settings: &Settings) {
    use tracing_subscriber::prelude::*;
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    tracing_subscriber::registry()
        .with(fmt)
        .with(log_filter(settings.log_level))
        .init();
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Opens the store off the executor (opening may migrate or import). A file
/// that cannot be used falls back to memory; the reason is returned so the
/// API and `/health` can show it for as long as the process runs.
async fn open_store(settings: &Settings) -> (StoreHandle, Option<String>) {
    let path = settings.db_path.clone();
    let size = settings.history_size;
    let catalog = settings.catalog.clone();
    let opened = tokio::task::spawn_blocking(move || {
        let (mut store, open_error) = match Store::try_open(&path, size) {
            Ok(store) => (store, None),
            Err(err) => {
                tracing::warn!(
                    path = %path.display(),
                    error = %err,
                    "cannot use the database file; keeping data in memory only"
                );
                (Store::open_memory(size), Some(err.to_string()))
            }
        };
        // A database written by the Python reference is imported once.
        match store.import_python(&catalog) {
            Ok(store::ImportOutcome::Imported(report)) => tracing::info!(
                scrapes = report.scrapes,
                model_rows = report.model_rows,
                skipped = report.skipped_rows,
                "imported the Python litellm-pulse history"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!("cannot import the Python litellm-pulse history: {e}"),
        }
        (store, open_error)
    })
    .await;
    let (store, open_error) = match opened {
        Ok(v) => v,
        Err(e) => (
            Store::open_memory(size),
            Some(format!("opening the database failed: {e}")),
        ),
    };
    (StoreHandle::spawn(store), open_error)
}

/// `serve`: restore, bind, scrape, serve, and stop cleanly on a signal.
async fn serve(settings: Settings, alert_config: alerts::AlertConfig) -> anyhow::Result<()> {
    let (store, open_error) = open_store(&settings).await;
    // A key that cannot be a header is refused before anything starts.
    scrape::Scraper::new(&settings)?;
    let clock = match std::env::var_os(clock::TEST_CLOCK_VAR) {
        Some(path) => {
            tracing::warn!(
                "TEST CLOCK ACTIVE: {} is set, \"now\" is shifted by the offset in {}; never use this outside tests",
                clock::TEST_CLOCK_VAR,
                std::path::Path::new(&path).display()
            );
            Clock::OffsetFile(path.into())
        }
        None => Clock::System,
    };
    let app = App::new(settings, store, clock).await?;
    if let Some(e) = open_error {
        app.set_open_error(e);
    }
    log_alert_config(&alert_config);
    app.set_alert_config(alert_config).await?;
    let mut runner = Runner::new(Arc::clone(&app)).await;
    if let Some(engine) = &app.settings.engine {
        runner = runner.with_engine(engine::EngineClient::new(&app.settings, engine)?);
    }
    run_server(app, runner, None).await
}

/// Binds the API, runs the scrape loop and waits for a signal. `on_bound`
/// learns the bound address (the demo prints it).
pub(crate) async fn run_server(
    app: Arc<App>,
    runner: Runner,
    on_bound: Option<Box<dyn FnOnce(SocketAddr) + Send>>,
) -> anyhow::Result<()> {
    let addr = SocketAddr::new(app.settings.host, app.settings.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    tracing::info!(
        "LiteLLM Pulse {} listening on http://{bound}/ — scraping {} every {} s, database: {} ({}), timezone: {}, auth: {}",
        env!("CARGO_PKG_VERSION"),
        app.settings.source,
        app.settings.scrape_interval.as_secs(),
        app.settings.db_path.display(),
        app.store_mode.as_str(),
        app.settings.tz.name(),
        if app.settings.api_key.is_some() {
            "enabled"
        } else {
            "disabled"
        },
    );
    if app.settings.api_token.is_some() {
        tracing::info!("API token required on every path but /livez");
    }
    if app.settings.cors != config::Cors::Off {
        tracing::info!(cors = ?app.settings.cors, "CORS enabled");
    }
    if let Some(f) = on_bound {
        f(bound);
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let scraper = tokio::spawn(runner.run(stop_rx.clone()));
    // Deliveries and reloads run beside the scraper and never hold it up.
    let delivery = tokio::spawn(alerts::deliver::run(Arc::clone(&app), stop_rx.clone()));
    tokio::spawn(reload_on_sighup(Arc::clone(&app), stop_rx.clone()));
    let mqtt = app
        .settings
        .mqtt
        .clone()
        .map(|settings| tokio::spawn(mqtt::run(Arc::clone(&app), settings, stop_rx.clone())));
    let mut server_stop = stop_rx.clone();
    let server = server::serve(Arc::clone(&app), listener, async move {
        let _ = server_stop.wait_for(|stop| *stop).await;
    });
    let server = tokio::spawn(server);
    shutdown_signal().await;
    tracing::info!("shutting down: finishing the scrape in progress");
    let _ = stop_tx.send(true);
    // The scraper finishes its write; the server stops accepting and drains
    // open connections (bounded, so a stuck client cannot hold the exit).
    let _ = scraper.await;
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), delivery).await;
    if let Some(mqtt) = mqtt {
        let _ = tokio::time::timeout(Duration::from_secs(3), mqtt).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Logs what the alert config declares (names only: URLs and secrets are secrets).
fn log_alert_config(config: &alerts::AlertConfig) {
    if config.budgets.is_empty() && config.channels.is_empty() {
        return;
    }
    let budgets: Vec<&str> = config.budgets.iter().map(|b| b.name()).collect();
    let channels: Vec<&str> = config.channels.iter().map(|c| c.name.as_str()).collect();
    tracing::info!(?budgets, ?channels, "alerts configured");
}

/// Re-reads the alert config on SIGHUP: a good file is applied, a bad one
/// is logged and the config in force kept.
async fn reload_on_sighup(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; the alert config will not reload");
            return;
        };
        loop {
            tokio::select! {
                r = hup.recv() => if r.is_none() { return },
                _ = stop.wait_for(|s| *s) => return,
            }
            let path = app.settings.config_path.clone();
            let monthly = app.settings.monthly_budget;
            let loaded =
                tokio::task::spawn_blocking(move || alerts::config::load(path.as_deref(), monthly))
                    .await;
            match loaded {
                Ok(Ok(config)) => {
                    log_alert_config(&config);
                    match app.set_alert_config(config).await {
                        Ok(()) => tracing::info!("alert config reloaded"),
                        Err(e) => tracing::error!("cannot apply the reloaded alert config: {e}"),
                    }
                }
                Ok(Err(e)) => {
                    tracing::error!("alert config not reloaded, keeping the one in force: {e}")
                }
                Err(e) => tracing::error!("alert config reload failed: {e}"),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (app, stop.wait_for(|s| *s).await);
    }
}

/// `notify-test`: sends a test message to every channel (or the one named)
/// and prints one line per channel; exit 1 when any failed.
async fn notify_test(
    settings: &Settings,
    config: &alerts::AlertConfig,
    only: Option<&str>,
) -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let channels: Vec<&alerts::Channel> = config
        .channels
        .iter()
        .filter(|c| only.is_none_or(|n| c.name == n))
        .collect();
    if channels.is_empty() {
        let _ = match only {
            Some(name) => writeln!(out, "FAILED: no channel named {name:?} in the alert config"),
            None => writeln!(
                out,
                "FAILED: the alert config has no [[channel]] (see --config)"
            ),
        };
        return ExitCode::FAILURE;
    }
    let client = match alerts::deliver::client() {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(
                out,
                "FAILED: cannot build an HTTP client: {}",
                scrape::describe(&e)
            );
            return ExitCode::FAILURE;
        }
    };
    let now = clock::Clock::System.now_ms();
    let event = alerts::format::test_event(pulse_core::window::format_rfc3339(now, settings.tz));
    let mut failed = 0;
    for c in channels {
        let line = match alerts::deliver::send(&client, c, &event).await {
            Ok(()) => format!("ok      {} ({})", c.name, c.kind.name()),
            Err(e) => {
                failed += 1;
                format!("FAILED  {} ({}): {e}", c.name, c.kind.name())
            }
        };
        let _ = writeln!(out, "{line}");
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `healthcheck`: exit 0 when `/livez` answers 200 (for images without curl).
async fn healthcheck(settings: &Settings) -> ExitCode {
    let host = match settings.host {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let url = format!("http://{}/livez", SocketAddr::new(host, settings.port));
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(c) => c,
        Err(_) => return ExitCode::FAILURE,
    };
    match client.get(&url).send().await {
        Ok(resp) if resp.status().is_success() => ExitCode::SUCCESS,
        Ok(resp) => {
            tracing::error!("{url} answered {}", resp.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            tracing::error!("{url}: {}", scrape::describe(&e.without_url()));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    /// Rows: the chosen level, an event's target and level, whether it is logged.
    #[test]
    fn the_log_filter_keeps_our_events_at_the_level_and_the_http_stacks_quieter() {
        let rows = [
            (LogLevel::Info, "litellm_pulse::scrape", Level::INFO, true),
            (LogLevel::Info, "litellm_pulse::scrape", Level::DEBUG, false),
            (LogLevel::Info, "hyper_util::client", Level::INFO, false),
            (LogLevel::Info, "hyper_util::client", Level::WARN, true),
            (LogLevel::Info, "rumqttc::state", Level::INFO, false),
            (LogLevel::Warn, "litellm_pulse", Level::INFO, false),
            (LogLevel::Warn, "litellm_pulse::app", Level::WARN, true),
            (LogLevel::Error, "litellm_pulse::app", Level::WARN, false),
            (LogLevel::Error, "reqwest", Level::ERROR, true),
            (LogLevel::Debug, "litellm_pulse::store", Level::DEBUG, true),
            (LogLevel::Debug, "hickory_resolver", Level::DEBUG, true),
            (LogLevel::Debug, "hyper::proto", Level::DEBUG, false),
            (LogLevel::Debug, "rustls::client", Level::INFO, true),
            (LogLevel::Debug, "warp::filters", Level::DEBUG, false),
            (LogLevel::Debug, "litellm_pulse", Level::TRACE, false),
        ];
        for (chosen, target, level, logged) in rows {
            assert_eq!(
                log_filter(chosen).would_enable(target, &level),
                logged,
                "{chosen:?}: {target} at {level}"
            );
        }
    }
}
