//! The state shared by the scraper and the API, and the scrape loop.
//!
//! The API never waits for a scrape: it reads [`Live`] (a short lock) and asks
//! the store thread for sums. The scraper owns the tracker alone.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use pulse_core::catalog::MetricValues;
use pulse_core::track::Fleet;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::alerts::AlertConfig;
use crate::clock::Clock;
use crate::config::{Settings, Targets, redact_url, target_name};
use crate::engine::{EngineClient, Vector};
use crate::pipeline::{Input, Part, Queue, prepare_parts};
use crate::scrape::{Fetched, ScrapeError, Scraper};
use crate::store::{AlertRules, Attempt, ScrapeOutcome, ScrapeRecord, StoreHandle, StoreMode};

/// How many good scrapes are kept in memory while the database refuses writes.
const QUEUE_CAP: usize = 1024;
/// How often old rows are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// Vanished series are remembered at least this long (a model that comes back
/// after a quiet weekend must not be counted from zero twice).
const MIN_SERIES_MEMORY_MS: i64 = 7 * 86_400_000;

/// What the scraper last saw, readable without touching the database.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// Start of the latest scrape attempt.
    pub last_attempt_ms: Option<i64>,
    /// Start of the latest good scrape.
    pub last_success_ms: Option<i64>,
    /// Why the latest scrape failed; `None` once one succeeds again.
    pub last_error: Option<String>,
    /// Why the latest database write failed; `None` once writes work again.
    pub store_error: Option<String>,
    /// Failed scrapes in a row.
    pub consecutive_failures: u32,
    /// Duration of the latest scrape attempt.
    pub last_duration_ms: Option<f64>,
    /// LiteLLM's own current values (the gauge for in-flight requests).
    pub live: Option<MetricValues>,
    /// Good scrapes since start.
    pub scrapes_ok: u64,
    /// Failed scrapes since start.
    pub scrapes_failed: u64,
    /// Counter resets seen since start.
    pub resets: u64,
    /// Good scrapes not yet stored.
    pub pending_writes: usize,
    /// Why the database file could not be opened at start (the process then
    /// keeps data in memory until it restarts); `None` when it opened.
    pub open_error: Option<String>,
    /// Alert delivery attempts since start, by channel name.
    pub deliveries: std::collections::BTreeMap<String, DeliveryCounts>,
    /// Each scrape target's own state, by name (`host:port`).
    pub targets: std::collections::BTreeMap<String, TargetStatus>,
}

/// One scrape target's state since this process started.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetStatus {
    /// Its URL, without credentials.
    pub url: String,
    /// Listed by the configuration or the latest DNS answer.
    pub listed: bool,
    /// Start of the latest scrape attempt.
    pub last_attempt_ms: Option<i64>,
    /// Start of the latest good scrape.
    pub last_success_ms: Option<i64>,
    /// Why the latest scrape failed; `None` once one succeeds again.
    pub last_error: Option<String>,
    /// Failed scrapes in a row.
    pub consecutive_failures: u32,
    /// Duration of the latest attempt (fetch only).
    pub last_duration_ms: Option<f64>,
    /// Counter series its tracker remembers.
    pub series: usize,
    /// Histogram and health counter series its tracker remembers.
    pub latency_series: usize,
    /// Good and failed scrapes since start.
    pub scrapes_ok: u64,
    /// Failed scrapes since start.
    pub scrapes_failed: u64,
}

impl Live {
    /// The last successful scrape of every listed target, for the fleet's
    /// readiness rule ([`pulse_core::fresh::fleet_ready`]).
    pub fn listed_successes(&self) -> Vec<Option<i64>> {
        self.targets
            .values()
            .filter(|t| t.listed)
            .map(|t| t.last_success_ms)
            .collect()
    }
}

/// Alert delivery attempts of one channel since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    /// Attempts the receiver accepted.
    pub delivered: u64,
    /// Attempts that failed (each retry counts).
    pub failed: u64,
    /// Alerts given up on after a day of retries.
    pub given_up: u64,
}

impl Live {
    /// The message for the API's `error` field, if anything is wrong.
    pub fn error(&self) -> Option<String> {
        match (&self.last_error, &self.store_error, &self.open_error) {
            (Some(scrape), _, _) => Some(scrape.clone()),
            (None, Some(store), _) => Some(format!("database write failed: {store}")),
            (None, None, Some(open)) => Some(format!(
                "database unusable, keeping data in memory only: {open}"
            )),
            (None, None, None) => None,
        }
    }
}

/// Everything the API handlers need.
#[derive(Debug)]
pub struct App {
    /// Resolved configuration.
    pub settings: Settings,
    /// The store thread.
    pub store: StoreHandle,
    /// Whether the store is a file or the in-memory fallback.
    pub store_mode: StoreMode,
    /// Scraper status; changed only through [`App::update`].
    live: RwLock<Live>,
    /// Counts the changes of `live` (see [`App::live_version`]).
    live_version: AtomicU64,
    /// The serialised `/api/v1/metrics` body (see `api::cache`).
    pub summary_body: crate::api::cache::BodyCache,
    /// Source of "now".
    pub clock: Clock,
    /// When the process started (for uptime).
    pub started: Instant,
    /// Budgets, channels and alert rules (replaced on SIGHUP).
    pub alerts: RwLock<Arc<AlertConfig>>,
    /// Signalled after every stored scrape, which may have added alerts.
    pub outbox_changed: tokio::sync::Notify,
    /// Counts finished scrape attempts; the MQTT publisher waits on it (a
    /// `watch` keeps only the latest value, so nothing ever waits for it).
    pub scraped: watch::Sender<u64>,
}

impl App {
    /// Shares `settings` and the store; loads the persisted scrape status so
    /// `last_scrape` survives restarts.
    pub async fn new(
        settings: Settings,
        store: StoreHandle,
        clock: Clock,
    ) -> Result<Arc<App>, crate::store::StoreError> {
        let (mode, status, last) = store
            .call(|s| {
                let last = s.history(1).ok().and_then(|mut rows| rows.pop());
                (s.mode(), s.status(), last)
            })
            .await?;
        let live = Live {
            last_attempt_ms: status.last_attempt_ms,
            last_success_ms: status.last_success_ms,
            last_error: status.last_error,
            consecutive_failures: status.consecutive_failures,
            last_duration_ms: status.last_duration_ms,
            live: last.map(|row| row.live),
            ..Live::default()
        };
        Ok(Arc::new(App {
            settings,
            store,
            store_mode: mode,
            live: RwLock::new(live),
            live_version: AtomicU64::new(0),
            summary_body: crate::api::cache::BodyCache::default(),
            clock,
            started: Instant::now(),
            alerts: RwLock::new(Arc::new(AlertConfig::default())),
            outbox_changed: tokio::sync::Notify::new(),
            scraped: watch::Sender::new(0),
        }))
    }

    /// A copy of the scraper status.
    pub fn live(&self) -> Live {
        self.live
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The alert config in force.
    pub fn alert_config(&self) -> Arc<AlertConfig> {
        Arc::clone(&self.alerts.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts `config` in force: the store's next scrape transaction decides
    /// by it, the delivery task sends to its channels.
    pub async fn set_alert_config(
        &self,
        config: AlertConfig,
    ) -> Result<(), crate::store::StoreError> {
        let config = Arc::new(config);
        let rules = AlertRules {
            config: Arc::clone(&config),
            tz: self.settings.tz,
        };
        self.store
            .call(move |s| s.set_alert_rules(Some(rules)))
            .await?;
        *self.alerts.write().unwrap_or_else(PoisonError::into_inner) = config;
        Ok(())
    }

    /// Counts one delivery attempt for `/metrics`.
    pub fn count_delivery(&self, channel: &str, attempt: &Attempt) {
        self.update(|l| {
            let c = l.deliveries.entry(channel.to_owned()).or_default();
            match attempt {
                Attempt::Delivered => c.delivered += 1,
                Attempt::Retry { .. } => c.failed += 1,
                Attempt::GaveUp { .. } => {
                    c.failed += 1;
                    c.given_up += 1;
                }
            }
        });
    }

    /// Records why the database file could not be opened; it stays in the
    /// API's `error` and makes `/health` say `degraded`.
    pub fn set_open_error(&self, error: String) {
        self.update(|l| l.open_error = Some(error));
    }

    /// Changes the scraper status and moves [`App::live_version`].
    pub(crate) fn update(&self, f: impl FnOnce(&mut Live)) {
        let mut live = self.live.write().unwrap_or_else(PoisonError::into_inner);
        f(&mut live);
        // Under the lock: whoever reads this version and then the status
        // sees at least this change.
        self.live_version.fetch_add(1, Ordering::AcqRel);
    }

    /// How many times the scraper status has changed: an answer built from
    /// [`App::live`] read after this value stays true while it is unchanged.
    pub fn live_version(&self) -> u64 {
        self.live_version.load(Ordering::Acquire)
    }
}

/// The scrape loop: owns the HTTP clients, the fleet's trackers and the write queue.
#[derive(Debug)]
pub struct Runner {
    app: Arc<App>,
    /// One client per target name, kept while the target is listed.
    scrapers: std::collections::BTreeMap<String, Scraper>,
    fleet: Fleet,
    /// In engine mode (`LITELLM_PULSE_PROMETHEUS_URL`), the engine's client:
    /// each interval queries it instead of scraping, as one target.
    engine: Option<EngineClient>,
    /// Discovery's resolver (or why it could not be built).
    resolver: Result<crate::discover::Resolver, String>,
    queue: Arc<Mutex<Queue>>,
    last_purge: Option<Instant>,
}

/// What one target brought in a round: a scraped body, or an engine's answer.
#[derive(Debug)]
enum Collected {
    Body(Fetched),
    Answer(Vector),
}

/// One target's answer in a round, and how long it took (ms).
type Answer = (String, Result<Collected, ScrapeError>, f64);

impl Runner {
    /// Restores every target's per-series baselines from the store, so
    /// deltas continue exactly where the previous process stopped. The
    /// state of a database from before targets had names goes to the first
    /// configured URL's target.
    pub async fn new(app: Arc<App>) -> Runner {
        let catalog = app.settings.catalog.clone();
        let first = match &app.settings.targets {
            Targets::Static(urls) => urls.first().map(target_name),
            Targets::Dns(_) => None,
        };
        if let Some(first) = first {
            let r = app
                .store
                .call(move |s| s.rename_tracker_target("", &first))
                .await;
            if let Err(e) = flatten(r) {
                tracing::warn!("cannot name the stored counter baselines: {e}");
            }
        }
        let fleet = match flatten(app.store.call(|s| s.tracker_states()).await) {
            Ok(states) => {
                let states: Vec<_> = states.into_iter().filter(|(t, _)| !t.is_empty()).collect();
                if !states.is_empty() {
                    tracing::info!(
                        targets = states.len(),
                        "restored counter baselines from the database"
                    );
                }
                Fleet::from_states(catalog, states)
            }
            Err(e) => {
                tracing::warn!("cannot read counter baselines, starting fresh: {e}");
                Fleet::new(catalog)
            }
        };
        Runner::with_fleet(app, fleet)
    }

    /// A runner around existing trackers (the demo hands over its backfill's).
    pub fn with_fleet(app: Arc<App>, mut fleet: Fleet) -> Runner {
        // Remembered lines are found by a hash no client can predict.
        fleet.set_line_seed(std::hash::BuildHasher::hash_one(
            &std::collections::hash_map::RandomState::new(),
            0u8,
        ));
        let settings = &app.settings;
        let resolver = crate::discover::Resolver::new(settings.dns_server, settings.scrape_timeout);
        if let Err(e) = &resolver {
            tracing::error!("DNS discovery cannot work: {e}");
        }
        Runner {
            app,
            scrapers: Default::default(),
            fleet,
            engine: None,
            resolver,
            queue: Arc::new(Mutex::new(Queue::new(QUEUE_CAP))),
            last_purge: None,
        }
    }

    /// Reads from a Prometheus-compatible engine instead of scraping.
    pub fn with_engine(mut self, engine: EngineClient) -> Runner {
        self.engine = Some(engine);
        self
    }

    /// In engine mode, on a first start (no baselines, no history): the
    /// engine's history through the fleet into the store
    /// (`engine::backfill`). A failure is logged; live queries go on.
    async fn backfill_from_engine(&mut self) {
        let Some(engine) = self.engine.clone() else {
            return;
        };
        if self.fleet.member(&engine.target_name()).is_some() {
            return;
        }
        let empty = matches!(
            self.app.store.call(|s| s.history(1)).await,
            Ok(Ok(rows)) if rows.is_empty()
        );
        if !empty {
            return;
        }
        let now = self.app.clock.now_ms();
        let started = Instant::now();
        tracing::info!(
            "first start in Prometheus mode: backfilling from {}",
            self.app.settings.source
        );
        match crate::engine::backfill(&self.app, &engine, &mut self.fleet, now).await {
            Ok(n) => tracing::info!(
                observations = n,
                "backfilled the engine's history in {:.1} s",
                started.elapsed().as_secs_f64()
            ),
            Err(e) => tracing::warn!("backfill from the Prometheus API failed: {e}"),
        }
    }

    /// Scrapes at start-up, then every interval until `shutdown` turns true.
    ///
    /// Ticks are fixed-rate (`interval`), so scrapes do not drift by their own
    /// duration; `Skip` drops ticks missed during a slow scrape instead of
    /// firing a burst to catch up, keeping the original phase.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        tokio::select! {
            () = self.backfill_from_engine() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let mut ticker = tokio::time::interval(self.app.settings.scrape_interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
            let at_ms = self.app.clock.now_ms();
            let started = Instant::now();
            // A fetch may be abandoned on shutdown; a write never is.
            let answers = tokio::select! {
                r = self.fetch_round(at_ms) => r,
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            self.process(answers, at_ms, started).await;
            self.app.scraped.send_modify(|n| *n += 1);
            self.maybe_purge().await;
        }
        // Last chance for scrapes still queued by a failing database.
        if !self.queue_is_empty() {
            self.flush().await;
        }
        tracing::info!("scraper stopped");
    }

    /// One complete round now.
    #[cfg(test)]
    pub async fn scrape_once(&mut self) {
        let at_ms = self.app.clock.now_ms();
        let started = Instant::now();
        let answers = self.fetch_round(at_ms).await;
        self.process(answers, at_ms, started).await;
    }

    /// The targets of this round: the configured URLs, or the A/AAAA
    /// records of the discovery name now. Keeps a client per listed target.
    async fn list_targets(&mut self) -> Result<Vec<(String, Scraper)>, ScrapeError> {
        let settings = &self.app.settings;
        let urls: Vec<reqwest::Url> = match &settings.targets {
            Targets::Static(urls) => urls.clone(),
            Targets::Dns(d) => {
                let resolver = self
                    .resolver
                    .as_ref()
                    .map_err(|e| ScrapeError::Other(e.clone()))?;
                let addrs = resolver.resolve(d).await.map_err(ScrapeError::Connect)?;
                let mut urls: Vec<reqwest::Url> = Vec::with_capacity(addrs.len());
                for addr in addrs {
                    let url = format!("http://{addr}{}", d.path)
                        .parse()
                        .map_err(|e| ScrapeError::Other(format!("{d}: {e}")))?;
                    urls.push(url);
                }
                urls
            }
        };
        let mut listed = Vec::with_capacity(urls.len());
        let mut keep = std::collections::BTreeMap::new();
        for url in urls {
            let name = target_name(&url);
            let scraper = match self.scrapers.remove(&name) {
                Some(s) => s,
                None => Scraper::for_url(settings, &url)?,
            };
            keep.insert(name.clone(), scraper.clone());
            listed.push((name.clone(), scraper));
            self.app.update(|l| {
                let t = l.targets.entry(name).or_default();
                t.url = redact_url(&url);
            });
        }
        self.scrapers = keep;
        self.app.update(|l| {
            for (name, t) in l.targets.iter_mut() {
                t.listed = listed.iter().any(|(n, _)| n == name);
            }
        });
        Ok(listed)
    }

    /// Lists the targets and scrapes them all at once, each with its own
    /// timeout, so one dead target never delays the others.
    async fn fetch_round(&mut self, at_ms: i64) -> Result<Vec<Answer>, ScrapeError> {
        if let Some(engine) = &self.engine {
            let t0 = Instant::now();
            let r = engine.instant(at_ms).await.map(Collected::Answer);
            let name = engine.target_name();
            let url = self.app.settings.source.clone();
            self.app.update(|l| {
                let t = l.targets.entry(name.clone()).or_default();
                t.url = url;
                t.listed = true;
            });
            return Ok(vec![(
                name,
                r.map_err(ScrapeError::from),
                t0.elapsed().as_secs_f64() * 1000.0,
            )]);
        }
        let targets = self.list_targets().await?;
        let mut set = tokio::task::JoinSet::new();
        for (i, (name, scraper)) in targets.into_iter().enumerate() {
            set.spawn(async move {
                let t0 = Instant::now();
                let r = scraper.fetch().await.map(Collected::Body);
                (i, (name, r, t0.elapsed().as_secs_f64() * 1000.0))
            });
        }
        let mut answers: Vec<(usize, Answer)> = Vec::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(a) => answers.push(a),
                Err(e) => tracing::error!("a scrape task failed: {e}"),
            }
        }
        answers.sort_by_key(|(i, _)| *i);
        Ok(answers.into_iter().map(|(_, a)| a).collect())
    }

    async fn process(
        &mut self,
        answers: Result<Vec<Answer>, ScrapeError>,
        at_ms: i64,
        started: Instant,
    ) {
        let answers = match answers {
            Ok(a) if !a.is_empty() => a,
            Ok(_) => {
                let msg = format!("no scrape target: {} lists none", self.app.settings.source);
                return self.record_failure(msg, at_ms, started).await;
            }
            Err(e) => return self.record_failure(e.to_string(), at_ms, started).await,
        };
        let mut errors: Vec<(String, String)> = Vec::new();
        let mut parsed = Vec::with_capacity(answers.len());
        for (name, r, _) in &answers {
            match r {
                Ok(Collected::Body(f)) => match self.fleet.parse_body(name, &f.body) {
                    Ok(body) => parsed.push((name.as_str(), Parsed::Body(body), f.target_now_ms)),
                    Err(e) => errors.push((name.clone(), ScrapeError::from(e).to_string())),
                },
                Ok(Collected::Answer(v)) => parsed.push((
                    name.as_str(),
                    Parsed::Expo(v.exposition()),
                    Some(pulse_core::engine::answer_clock_ms(at_ms)),
                )),
                Err(e) => errors.push((name.clone(), e.to_string())),
            }
        }
        let parts: Vec<Part<'_, '_>> = parsed
            .iter()
            .map(|(target, input, target_now_ms)| Part {
                target,
                input: match input {
                    Parsed::Body(body) => Input::Body(body),
                    Parsed::Expo(expo) => Input::Expo(expo),
                },
                target_now_ms: *target_now_ms,
            })
            .collect();
        let pending = prepare_parts(&mut self.fleet, &parts, at_ms, started);
        // The bodies and their parses are done with: they go before the
        // write, so its memory does not add to theirs (a first scrape of
        // 100,000 series holds a 58 MB body and twice that in labels).
        drop(parts);
        drop(parsed);
        let answers: Vec<(String, f64)> = answers
            .into_iter()
            .map(|(name, _, ms)| (name, ms))
            .collect();
        // Now that the bodies are gone too, each tracker copies the lines it
        // recognised into its memo for the next round.
        self.fleet.settle_memos();
        // Each target's own status.
        let fleet = &self.fleet;
        let per_target: Vec<(String, Option<String>, f64, usize, usize)> = answers
            .iter()
            .map(|(name, ms)| {
                let err = errors
                    .iter()
                    .find(|(t, _)| t == name)
                    .map(|(_, e)| e.clone());
                let (series, latency) = fleet
                    .member(name)
                    .map_or((0, 0), |t| (t.series_len(), t.latency_series_len()));
                (name.clone(), err, *ms, series, latency)
            })
            .collect();
        self.app.update(|l| {
            for (name, err, ms, series, latency) in per_target {
                let t = l.targets.entry(name).or_default();
                t.last_attempt_ms = Some(at_ms);
                t.last_duration_ms = Some(ms);
                t.series = series;
                t.latency_series = latency;
                match err {
                    None => {
                        t.last_success_ms = Some(at_ms);
                        t.last_error = None;
                        t.consecutive_failures = 0;
                        t.scrapes_ok += 1;
                    }
                    Some(e) => {
                        t.last_error = Some(e);
                        t.consecutive_failures += 1;
                        t.scrapes_failed += 1;
                    }
                }
            }
        });
        let Some(pending) = pending else {
            // One warning, which names every target's error.
            let msg = fleet_error(&errors, answers.len()).unwrap_or_default();
            return self.record_failure(msg, at_ms, started).await;
        };
        for (t, e) in &errors {
            tracing::warn!("scrape of {t} failed: {e}");
        }
        let obs = &pending.observation;
        if obs.resets > 0 {
            tracing::info!(
                resets = obs.resets,
                "LiteLLM counters reset; counting from zero"
            );
        }
        tracing::debug!(
            duration_ms = pending.duration_ms,
            new_series = obs.new_series,
            vanished_series = obs.vanished_series,
            "scraped"
        );
        let live_values = obs.live;
        let duration = pending.duration_ms;
        let resets = u64::from(obs.resets);
        let partial = fleet_error(&errors, answers.len());
        self.app.update(|l| {
            l.last_attempt_ms = Some(at_ms);
            l.last_success_ms = Some(at_ms);
            l.last_error = partial;
            l.consecutive_failures = 0;
            l.last_duration_ms = Some(duration);
            l.live = Some(live_values);
            l.scrapes_ok += 1;
            l.resets += resets;
        });
        self.lock_queue().push(pending);
        self.flush().await;
    }

    /// A round without any good observation: the status says why.
    async fn record_failure(&mut self, msg: String, at_ms: i64, started: Instant) {
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::warn!("scrape of {} failed: {msg}", self.app.settings.source);
        self.app.update(|l| {
            l.last_attempt_ms = Some(at_ms);
            l.last_error = Some(msg.clone());
            l.consecutive_failures += 1;
            l.last_duration_ms = Some(duration_ms);
            l.scrapes_failed += 1;
        });
        // Earlier good scrapes go first so the status row is the newest.
        if !self.queue_is_empty() {
            self.flush().await;
        }
        let res = self
            .app
            .store
            .call(move |s| {
                s.record(&ScrapeRecord {
                    at_ms,
                    duration_ms,
                    outcome: ScrapeOutcome::Failed { error: &msg },
                })
            })
            .await;
        match flatten(res) {
            Ok(()) => self.app.outbox_changed.notify_one(),
            Err(e) => tracing::warn!("cannot record the failed scrape: {e}"),
        }
    }

    /// Writes queued scrapes; on failure keeps them for the next scrape.
    async fn flush(&mut self) {
        let queue = Arc::clone(&self.queue);
        let res = self
            .app
            .store
            .call(move |s| {
                let mut q = queue.lock().unwrap_or_else(PoisonError::into_inner);
                let r = q.flush(s);
                (r, q.len())
            })
            .await;
        let (result, left) = match res {
            Ok((r, left)) => (r.map_err(|e| e.to_string()), left),
            Err(e) => (Err(e.to_string()), self.lock_queue().len()),
        };
        if result.is_ok() {
            // The scrape may have decided alerts: wake the delivery task.
            self.app.outbox_changed.notify_one();
        }
        match result {
            Ok(()) => self.app.update(|l| {
                if l.store_error.take().is_some() {
                    tracing::info!("database writes work again; queued scrapes stored");
                }
                l.pending_writes = 0;
            }),
            Err(e) => {
                tracing::error!(
                    pending = left,
                    "database write failed, keeping scrapes in memory: {e}"
                );
                self.app.update(|l| {
                    l.store_error = Some(e);
                    l.pending_writes = left;
                });
            }
        }
    }

    async fn maybe_purge(&mut self) {
        if self.last_purge.is_some_and(|t| t.elapsed() < PURGE_EVERY) {
            return;
        }
        self.last_purge = Some(Instant::now());
        let now = self.app.clock.now_ms();
        let retention_ms = self
            .app
            .settings
            .retention
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        if let Some(ms) = retention_ms {
            let cutoff = now.saturating_sub(ms);
            match flatten(self.app.store.call(move |s| s.purge(cutoff)).await) {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "purged rows older than the retention"),
                Err(e) => tracing::warn!("purge failed: {e}"),
            }
        }
        let memory = retention_ms.unwrap_or(i64::MAX).max(MIN_SERIES_MEMORY_MS);
        let forgotten = self.fleet.forget_older_than(now.saturating_sub(memory));
        if !forgotten.is_empty() {
            let names = forgotten.clone();
            match flatten(
                self.app
                    .store
                    .call(move |s| s.forget_tracker_targets(&names))
                    .await,
            ) {
                Ok(series) => tracing::info!(
                    targets = ?forgotten,
                    series,
                    "forgot targets not scraped within the series memory"
                ),
                Err(e) => tracing::warn!("dropping forgotten targets' states failed: {e}"),
            }
        }
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn queue_is_empty(&self) -> bool {
        self.lock_queue().is_empty()
    }
}

/// The fleet's error for a round: a single target's own message, or which
/// targets failed (`None` when none did).
fn fleet_error(errors: &[(String, String)], targets: usize) -> Option<String> {
    match errors {
        [] => None,
        [(_, e)] if targets == 1 => Some(e.clone()),
        _ => Some(format!(
            "{} of {targets} targets failed: {}",
            errors.len(),
            errors
                .iter()
                .map(|(t, e)| format!("{t}: {e}"))
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

/// Joins a store-thread error and the store's own error into one message.
fn flatten<T, E1: std::fmt::Display, E2: std::fmt::Display>(
    r: Result<Result<T, E2>, E1>,
) -> Result<T, String> {
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// A target's answer once parsed, owned for the round ([`Input`] borrows it).
enum Parsed<'b> {
    Body(pulse_core::track::ParsedBody<'b>),
    Expo(pulse_core::Exposition<'b>),
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use pulse_core::catalog::Metric;

    use super::*;
    use crate::api::tests::{SEQUENCE, capture};
    use crate::store::Store;
    use pulse_testkit::{FakeLiteLlm, Options, Reply, Script};

    use crate::testutil::settings_for;

    fn ms(t: &str) -> i64 {
        pulse_core::window::parse_rfc3339(t).unwrap()
    }

    /// A runner scraping a fake that wants a key and answers `script`.
    async fn runner_for(
        script: Script,
        now: Arc<AtomicI64>,
    ) -> (FakeLiteLlm<Script>, Arc<App>, Runner) {
        let fake = FakeLiteLlm::start(script, Options::key("sk-run")).unwrap();
        let settings = settings_for(&fake.url(), &["--metrics-api-key", "sk-run"]);
        let store = StoreHandle::spawn(Store::open_memory(168));
        let app = App::new(settings.clone(), store, Clock::Manual(now))
            .await
            .unwrap();
        let runner = Runner::new(Arc::clone(&app)).await;
        (fake, app, runner)
    }

    async fn all_time(app: &App, m: Metric) -> f64 {
        app.store
            .call(move |s| s.all_time().map(|v| v.get(m)))
            .await
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn failed_scrapes_keep_the_baseline_and_lose_nothing() {
        // idle, 01, an HTML error page with 200, 02, a 503, 02b, restart 03, 04.
        let bodies = [
            Some(capture(SEQUENCE[0].0)),
            Some(capture(SEQUENCE[1].0)),
            None,
            Some(capture(SEQUENCE[2].0)),
            None,
            Some(capture(SEQUENCE[3].0)),
            Some(capture(SEQUENCE[4].0)),
            Some(capture(SEQUENCE[5].0)),
        ];
        let times = [
            SEQUENCE[0].1,
            SEQUENCE[1].1,
            "2026-11-27T10:09:00Z",
            SEQUENCE[2].1,
            "2026-11-27T10:10:00Z",
            SEQUENCE[3].1,
            SEQUENCE[4].1,
            SEQUENCE[5].1,
        ];
        let mut queue = Vec::new();
        for (i, b) in bodies.iter().enumerate() {
            queue.push(match b {
                // The proxy's clock agrees with the capture times.
                Some(body) => Reply::prom(body.clone()).dated(ms(times[i])),
                None if i == 2 => Reply::other(
                    200,
                    "text/html",
                    "<!doctype html><html><body>Sign in</body></html>",
                ),
                None => Reply::other(503, "text/plain", "upstream unavailable"),
            });
        }
        let now = Arc::new(AtomicI64::new(0));
        let (fake, app, mut runner) = runner_for(Script::new(queue), Arc::clone(&now)).await;
        for (i, t) in times.iter().enumerate() {
            now.store(ms(t), Ordering::SeqCst);
            runner.scrape_once().await;
            let live = app.live();
            match i {
                2 => {
                    assert_eq!(
                        live.last_error.as_deref(),
                        Some("not Prometheus text: body is an HTML page, not Prometheus text")
                    );
                    assert_eq!(live.consecutive_failures, 1);
                    // 01 counted fully after the idle proxy; the failure added nothing.
                    assert_eq!(all_time(&app, Metric::Requests).await, 37.0);
                }
                4 => {
                    assert_eq!(
                        live.last_error.as_deref(),
                        Some("metrics URL answered HTTP 503")
                    );
                    assert_eq!(all_time(&app, Metric::Requests).await, 64.0);
                }
                _ => assert_eq!(live.last_error, None, "step {i}"),
            }
        }
        assert_eq!(all_time(&app, Metric::Requests).await, 75.0);
        assert_eq!(
            pulse_core::num::clean(all_time(&app, Metric::Cost).await),
            0.000355
        );
        let live = app.live();
        assert_eq!((live.scrapes_ok, live.scrapes_failed), (6, 2));
        assert_eq!(live.last_success_ms, Some(ms(SEQUENCE[5].1)));
        // The key went along on every request, through the 307.
        let seen = fake.seen().auth_seen;
        assert_eq!(seen.len(), 8);
        assert!(seen.iter().all(|a| a.as_deref() == Some("Bearer sk-run")));
        // A failed scrape wrote a status but no history row.
        let rows = app.store.call(|s| s.history(100)).await.unwrap().unwrap();
        assert_eq!(rows.len(), 6);
    }

    /// Pulse's clock in the skew test: three days after the captures, as
    /// when the proxy's host clock is wrong (or pulse's is).
    const SKEW_MS: i64 = 3 * 86_400_000;

    #[tokio::test]
    async fn a_restarted_pulse_continues_from_the_stored_baselines() {
        // LiteLLM's clock (its `Date`) matches its `_created` stamps; pulse's
        // runs three days ahead. Judged on pulse's clock every new series
        // would look old and be adopted uncounted; judged on the target's
        // clock (restored across the restart) every request counts.
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("p.db");
        let fake = FakeLiteLlm::start(Script::default(), Options::open()).unwrap();
        let url = format!("http://{}/metrics/", fake.addr);
        let now = Arc::new(AtomicI64::new(0));
        for (round, steps) in [(0, 0..3), (1, 3..6)] {
            let settings = settings_for(&url, &["--db-path", db.to_str().unwrap()]);
            let store = StoreHandle::spawn(Store::open(&db, 168));
            let app = App::new(settings.clone(), store, Clock::Manual(Arc::clone(&now)))
                .await
                .unwrap();
            let mut runner = Runner::new(Arc::clone(&app)).await;
            for (name, at) in &SEQUENCE[steps] {
                fake.lock()
                    .queue
                    .push_back(Reply::prom(capture(name)).dated(ms(at)));
                now.store(ms(at) + SKEW_MS, Ordering::SeqCst);
                runner.scrape_once().await;
            }
            let expected = if round == 0 { 64.0 } else { 75.0 };
            assert_eq!(all_time(&app, Metric::Requests).await, expected);
            if round == 1 {
                assert_eq!(
                    app.live().last_success_ms,
                    Some(ms(SEQUENCE[5].1) + SKEW_MS)
                );
            }
        }
    }

    #[tokio::test]
    async fn a_failing_database_keeps_scrapes_queued_until_it_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("p.db");
        let fake = FakeLiteLlm::start(Script::default(), Options::open()).unwrap();
        let settings = settings_for(&format!("http://{}/metrics/", fake.addr), &[]);
        let now = Arc::new(AtomicI64::new(0));
        let store = StoreHandle::spawn(Store::open(&db, 168));
        let app = App::new(settings.clone(), store, Clock::Manual(Arc::clone(&now)))
            .await
            .unwrap();
        let mut runner = Runner::new(Arc::clone(&app)).await;
        let step = |i: usize| {
            fake.lock()
                .queue
                .push_back(Reply::prom(capture(SEQUENCE[i].0)).dated(ms(SEQUENCE[i].1)));
            now.store(ms(SEQUENCE[i].1), Ordering::SeqCst);
        };
        step(0);
        runner.scrape_once().await;
        step(1);
        runner.scrape_once().await;
        assert_eq!(all_time(&app, Metric::Requests).await, 37.0);

        // Another connection holds the write lock: our write times out.
        let blocker = rusqlite::Connection::open(&db).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        step(2);
        runner.scrape_once().await;
        let live = app.live();
        assert_eq!(live.last_error, None);
        assert!(live.store_error.is_some());
        assert_eq!(live.pending_writes, 1);
        let health = crate::api::handlers::health_value(&live, &app.settings, 0);
        assert_eq!(health["status"], "degraded");
        assert!(
            health["error"]
                .as_str()
                .unwrap()
                .starts_with("database write failed: "),
            "{health}"
        );
        // Readers still see the stored totals; the tracked scrape waits in memory.
        assert_eq!(all_time(&app, Metric::Requests).await, 37.0);

        blocker.execute_batch("ROLLBACK").unwrap();
        step(3);
        runner.scrape_once().await;
        let live = app.live();
        assert_eq!(
            (live.store_error.as_deref(), live.pending_writes),
            (None, 0)
        );
        // 02's 27 and 02b's 3, each stored once.
        assert_eq!(all_time(&app, Metric::Requests).await, 67.0);
        let rows = app.store.call(|s| s.history(100)).await.unwrap().unwrap();
        assert_eq!(rows.len(), 4);
    }

    #[test]
    fn an_unusable_database_degrades_health_for_the_whole_run() {
        let settings = settings_for("http://127.0.0.1:9/metrics", &[]);
        let mut live = Live {
            open_error: Some("cannot create /x: Not a directory".into()),
            last_success_ms: Some(1),
            ..Live::default()
        };
        let msg =
            "database unusable, keeping data in memory only: cannot create /x: Not a directory";
        assert_eq!(live.error().as_deref(), Some(msg));
        let health = crate::api::handlers::health_value(&live, &settings, 0);
        assert_eq!(
            (health["status"].as_str(), health["error"].as_str()),
            (Some("degraded"), Some(msg))
        );
        // A scrape failure is the more urgent news and is shown first.
        live.last_error = Some("metrics URL answered HTTP 503".into());
        assert_eq!(
            live.error().as_deref(),
            Some("metrics URL answered HTTP 503")
        );
        live.last_error = None;
        live.store_error = Some("disk I/O error".into());
        assert_eq!(
            live.error().as_deref(),
            Some("database write failed: disk I/O error")
        );
    }

    #[tokio::test]
    async fn shutdown_stops_the_loop() {
        let script = Script::new([Reply::prom(capture(SEQUENCE[1].0)).dated(ms(SEQUENCE[1].1))]);
        let now = Arc::new(AtomicI64::new(ms(SEQUENCE[1].1)));
        let (_fake, app, runner) = runner_for(script, now).await;
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(runner.run(rx));
        // The first scrape runs at once.
        for _ in 0..100 {
            if app.live().scrapes_ok == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(app.live().scrapes_ok, 1);
        tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
    }
}
