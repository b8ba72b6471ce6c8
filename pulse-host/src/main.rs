//! `litellm-pulse`: scrapes LiteLLM's `/metrics`, keeps exact deltas in
//! SQLite and serves a JSON API (a drop-in for the Python litellm-pulse) and a
//! dashboard.
//!
//! Layout: `config` (flags and env → settings), `scrape` (HTTP), `pipeline`
//! (parse → track → record), `app` (shared state and the scrape loop),
//! `clock` (where "now" comes from), `store` (SQLite), `api` (routes,
//! handlers, JSON), `server` (HTTP/1.1 with limits and timeouts), `dashboard`
//! (embedded files), `selfmetrics` (our own `/metrics`), `demo` (a simulated
//! LiteLLM), `check` (strict validation of exposition text).
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
// Calendar arithmetic is pulse-core's: `clippy.toml` beside this crate bans
// the chrono calls that would redo it here.
#![deny(clippy::disallowed_methods)]

mod api;
mod app;
mod check;
mod clock;
mod config;
mod dashboard;
mod demo;
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

use crate::app::{App, Runner};
use crate::clock::Clock;
use crate::config::{Cli, Command, Settings};
use crate::store::{Store, StoreHandle};

fn main() -> ExitCode {
    // Exits with code 2 and a message naming the flag on a malformed value.
    let cli = Cli::parse();
    let (settings, warnings) = match cli.resolve(|name| std::env::var(name).ok()) {
        Ok(v) => v,
        Err(e) => {
            let err = clap::Error::raw(clap::error::ErrorKind::ValueValidation, format!("{e}\n"));
            err.exit();
        }
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
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => runtime.block_on(serve(settings)),
        Command::Demo => runtime.block_on(demo::run(settings)),
        Command::Healthcheck => return runtime.block_on(healthcheck(&settings)),
        Command::Check(args) => return runtime.block_on(check::run(&args, settings)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let level = settings.log_level.directive();
    // Our own logs at the chosen level; the HTTP stacks only from warn up,
    // unless debugging.
    let directives = if level == "debug" {
        "debug,hyper=info,hyper_util=info,reqwest=info,rustls=info,warp=info".to_owned()
    } else {
        format!("warn,litellm_pulse={level}")
    };
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
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
async fn serve(settings: Settings) -> anyhow::Result<()> {
    let (store, open_error) = open_store(&settings).await;
    let scraper = scrape::Scraper::new(&settings)?;
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
    let runner = Runner::new(Arc::clone(&app), scraper).await;
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
    if let Some(mqtt) = mqtt {
        let _ = tokio::time::timeout(Duration::from_secs(3), mqtt).await;
    }
    tracing::info!("stopped");
    Ok(())
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
