//! `litellm-pulse demo`: a simulated LiteLLM on loopback, 30 days of history
//! made through the real pipeline, then live scraping.
//!
//! The simulated proxy is the test kit's [`Simulator`] (LiteLLM's label
//! shapes, a daily rhythm in the configured zone, restarts now and then).
//! Its `/metrics` answers with a 307 to `/metrics/` and wants a Bearer key,
//! as LiteLLM does. The backfill pushes each generated body through the same
//! `pipeline::prepare` → `Pending::persist` as a live scrape: no shortcut writes.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use pulse_core::track::Fleet;
use pulse_testkit::simulator::{Live, Simulator};
use pulse_testkit::{FakeLiteLlm, Options};

use crate::app::{App, Runner};
use crate::clock::Clock;
use crate::config::Settings;
use crate::pipeline::{Pending, persist_batch, prepare};
use crate::scrape::Scraper;
use crate::store::{Store, StoreHandle};

/// Days of history the demo starts with.
pub const BACKFILL_DAYS: i64 = 30;
/// Spacing of backfilled scrapes: the storage bucket width, so every
/// 15-minute chart bucket of the history has its own scrape.
pub const BACKFILL_STEP_MS: i64 = 15 * 60 * 1000;
/// Scrapes stored per transaction by the backfill (and at most three batches
/// wait in memory: an observation with latency histograms is large): one commit per batch
/// instead of one per scrape keeps 30 days (2880 scrapes) to a few seconds.
const BACKFILL_BATCH: usize = 32;
/// Live scrape interval of the demo.
pub const DEMO_INTERVAL: Duration = Duration::from_secs(5);
/// The key the simulated LiteLLM wants.
const DEMO_KEY: &str = "sk-demo-master-key";

/// Generates `days` of history ending at `now_ms`, one scrape every
/// [`BACKFILL_STEP_MS`], and stores it through the real pipeline in batches
/// of [`BACKFILL_BATCH`] scrapes per transaction. Returns the tracker to
/// continue with and the number of scrapes.
///
/// Generating and tracking run on a second thread while this one writes, so
/// the backfill takes about as long as the slower of the two.
pub fn backfill(
    store: &mut Store,
    sim: &mut Simulator,
    settings: &Settings,
    now_ms: i64,
    days: i64,
) -> anyhow::Result<(Fleet, usize)> {
    let start = now_ms - days * 86_400_000;
    let first = start - start.rem_euclid(BACKFILL_STEP_MS);
    let catalog = settings.catalog.clone();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Pending>>(2);
    std::thread::scope(|scope| {
        let target = crate::config::target_name(&settings.metrics_url);
        let producer = scope.spawn(move || -> anyhow::Result<Fleet> {
            let mut tracker = Fleet::new(catalog);
            let mut batch = Vec::with_capacity(BACKFILL_BATCH);
            let mut t = first;
            while t < now_ms {
                sim.advance_to(t);
                let body = sim.render();
                // The simulated proxy's clock is the backfill's clock.
                batch.push(prepare(
                    &mut tracker,
                    &target,
                    body.as_bytes(),
                    t,
                    Some(t),
                    Instant::now(),
                )?);
                t += BACKFILL_STEP_MS;
                if batch.len() == BACKFILL_BATCH || t >= now_ms {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BACKFILL_BATCH));
                    if tx.send(full).is_err() {
                        // The writer stopped on an error; it reports it.
                        break;
                    }
                }
            }
            Ok(tracker)
        });
        let mut scrapes = 0;
        let mut write_time = Duration::ZERO;
        let written: anyhow::Result<()> = (|| {
            for batch in rx.iter() {
                let t0 = Instant::now();
                persist_batch(store, &batch)?;
                write_time += t0.elapsed();
                scrapes += batch.len();
            }
            Ok(())
        })();
        // Dropping the receiver (on error) ends the producer's loop.
        drop(rx);
        let tracker = producer
            .join()
            .map_err(|_| anyhow::anyhow!("the demo generator thread panicked"))??;
        written?;
        tracing::debug!(
            store_s = write_time.as_secs_f64(),
            "demo backfill: time spent writing"
        );
        Ok((tracker, scrapes))
    })
}

/// Runs the demo until SIGINT/SIGTERM.
pub async fn run(mut settings: Settings) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("litellm-pulse-demo-")
        .tempdir()?;
    let clock = Clock::System;
    let now = clock.now_ms();
    let sim = Simulator::new(
        now - (BACKFILL_DAYS + 2) * 86_400_000,
        settings.tz,
        0x5eed_cafe,
    );
    let sim = Arc::new(Mutex::new(sim));
    let live = {
        let clock = clock.clone();
        Live::new(Arc::clone(&sim), move || clock.now_ms())
    };
    // Stops when dropped, at the end of the demo.
    let fake = FakeLiteLlm::start(live, Options::key(DEMO_KEY))?;
    let sim_addr = fake.addr;

    settings.metrics_url = format!("http://{sim_addr}/metrics").parse()?;
    settings.source = crate::config::redact_url(&settings.metrics_url);
    settings.targets = crate::config::Targets::Static(vec![settings.metrics_url.clone()]);
    settings.api_key = Some(DEMO_KEY.to_owned());
    settings.scrape_interval = DEMO_INTERVAL;
    settings.db_path = dir.path().join("demo.db");
    settings.host = std::net::IpAddr::from([127, 0, 0, 1]);
    settings.retention = None;

    tracing::info!(
        "demo: simulated LiteLLM on http://{sim_addr}/metrics; backfilling {BACKFILL_DAYS} days"
    );
    let started = Instant::now();
    let (store, tracker, scrapes) = {
        let settings = settings.clone();
        let sim = Arc::clone(&sim);
        tokio::task::spawn_blocking(move || -> anyhow::Result<(Store, Fleet, usize)> {
            let mut store = Store::open(&settings.db_path, settings.history_size);
            let mut s = sim.lock().unwrap_or_else(PoisonError::into_inner);
            let (tracker, n) = backfill(&mut store, &mut s, &settings, now, BACKFILL_DAYS)?;
            Ok((store, tracker, n))
        })
        .await??
    };
    tracing::info!(
        scrapes,
        restarts = sim
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .restarts(),
        "demo: backfilled in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let handle = StoreHandle::spawn(store);
    Scraper::new(&settings)?;
    let app = App::new(settings, handle, clock).await?;
    let runner = Runner::with_fleet(Arc::clone(&app), tracker);
    let announce: Box<dyn FnOnce(std::net::SocketAddr) + Send> = Box::new(|addr| {
        // The one line a newcomer needs; printed, not logged, so it shows at any log level.
        #[allow(clippy::print_stdout)]
        {
            println!("LiteLLM Pulse demo is running: open http://{addr}/ (Ctrl-C to stop)");
        }
    });
    let result = crate::run_server(app, runner, Some(announce)).await;
    drop(fake);
    drop(dir);
    result
}

#[cfg(test)]
mod tests {
    use chrono_tz::Tz;

    use super::*;

    #[test]
    fn backfill_goes_through_the_pipeline_into_the_store() {
        let now = 1_795_000_000_000;
        let settings = crate::testutil::settings_for("http://127.0.0.1:9/metrics", &[]);
        let mut store = Store::open_memory(100_000);
        let mut sim = Simulator::new(now - 4 * 86_400_000, Tz::UTC, 11);
        let (tracker, scrapes) = backfill(&mut store, &mut sim, &settings, now, 3).unwrap();
        let rows = store.history(100_000).unwrap();
        assert_eq!(rows.len(), scrapes);
        // Every 15 minutes from the bucket edge 400 s before the three days
        // began: 3 × 96 + 1 scrapes, in two transactions (256 + 33).
        let gaps: Vec<i64> = rows.windows(2).map(|w| w[1].at_ms - w[0].at_ms).collect();
        assert!(gaps.iter().all(|&g| g == 900_000), "{gaps:?}");
        assert_eq!(scrapes, 3 * 96 + 1);
        assert_eq!(rows[0].at_ms, now - 3 * 86_400_000 - 400_000);
        assert_eq!(rows[0].at_ms % 900_000, 0);
        let last = tracker.last_round_ms().unwrap();
        assert!(now - 900_000 <= last && last < now, "{last}");
        // Stored deltas add up to the requests the simulator made after the first (baseline) scrape.
        let all = store.all_time().unwrap();
        let deltas: f64 = rows
            .iter()
            .map(|r| r.deltas.get(pulse_core::catalog::Metric::Requests))
            .sum();
        assert_eq!(all.get(pulse_core::catalog::Metric::Requests), deltas);
        assert!(deltas > 100.0, "{deltas}");
    }
}
