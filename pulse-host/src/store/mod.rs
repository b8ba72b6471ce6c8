//! Durable storage: scrape history, 15-minute delta buckets, all-time sums,
//! the last raw body totals and the tracker's per-series baselines, in SQLite.
//!
//! Why it is shaped this way:
//! - **Windows never scan history.** Every delta is added to a 15-minute UTC
//!   bucket ([`pulse_core::window::storage_bucket`]); every zone's local
//!   midnight is such an edge, so a day, week or month is a contiguous range of
//!   buckets. A window sum is one primary-key range read whose cost depends on
//!   the window, not on how much history exists (reference fault 10).
//! - **No date math in SQL.** The core computes window bounds; SQL only sums
//!   bucket values between them.
//! - **All-time totals never shrink.** They live in their own table, updated in
//!   the same transaction as the buckets and never touched by [`Store::purge`]
//!   (reference fault 11).
//! - **One transaction per scrape.** A scrape's row, buckets, all-time sums,
//!   raw totals and tracker state commit together or not at all, so a restart
//!   resumes from a consistent baseline. A failed scrape writes only the status
//!   row: no zero rows that would look like an idle proxy.
//! - **Degrade, never die.** When the file cannot be opened, migrated or is
//!   from a newer build, [`Store::open`] warns and serves from an in-memory
//!   database with the same schema ([`StoreMode::Memory`]). A file that is not
//!   a database (or is corrupt) is moved aside and replaced by a fresh one.
//! - **Off the executor.** [`StoreHandle`] owns the store on a dedicated OS
//!   thread, so a slow disk never blocks HTTP handlers or the scraper.
//!
//! Metrics and dimensions are stored by their stable `name()` strings (metric
//! names through the small `pulse_metrics` id table), never by enum position,
//! so reordering the core's enums cannot corrupt a database.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pulse_core::catalog::{Dimension, Metric, MetricValues};
use pulse_core::track::{Observation, SeriesState, TrackerState};
use pulse_core::window::{
    STORAGE_BUCKET_MS, TimeRange, UTC_DAY_MS, cover, storage_bucket, utc_day,
};
use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, params};

mod handle;
mod import;
mod schema;

pub use handle::StoreHandle;
pub use import::ImportOutcome;

/// A persisted tracker series is rewritten at least this often while it is
/// seen, even when its value did not change. `last_seen_ms` only serves
/// [`pulse_core::track::Tracker::forget_older_than`] (cutoffs of days), so an
/// hour of staleness after a restart is harmless, and it spares rewriting
/// every idle series on every scrape.
const SEEN_REFRESH_MS: i64 = 3_600_000;

/// Window totals: one primary-key range seek on the total's rows of a table
/// (`{table}` is [`BUCKET_TABLES`]).
const WINDOW_TOTALS_SQL: &str = "SELECT metric_id, SUM(value) FROM {table} \
     WHERE series_id = ?1 AND start_ms >= ?2 AND start_ms < ?3 GROUP BY metric_id";

/// Window breakdown: one primary-key range seek per key of the dimension.
const WINDOW_BREAKDOWN_SQL: &str = "SELECT s.key, b.metric_id, SUM(b.value) FROM pulse_series s \
     JOIN {table} b ON b.series_id = s.id \
     WHERE s.dimension = ?1 AND b.start_ms >= ?2 AND b.start_ms < ?3 \
     GROUP BY s.id, b.metric_id ORDER BY s.key";

/// The row widths windows are summed from, coarsest first, and their tables:
/// whole UTC days from the daily rollup, the ragged ends from the 15-minute
/// buckets (local midnights fall on 15-minute UTC edges, not on UTC days).
const BUCKET_TABLES: [(i64, &str); 2] = [
    (UTC_DAY_MS, "pulse_buckets_day"),
    (STORAGE_BUCKET_MS, "pulse_buckets"),
];

/// The table holding rows of width `unit_ms` (the 15-minute one by default).
fn table_of(unit_ms: i64) -> &'static str {
    BUCKET_TABLES
        .iter()
        .find(|(u, _)| *u == unit_ms)
        .map_or("pulse_buckets", |(_, t)| t)
}

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite refused an operation (disk full, read-only file, corruption…).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer build; it is left untouched.
    #[error(
        "database schema version {found} is newer than this build supports ({supported}); \
         upgrade litellm-pulse or point it at another file"
    )]
    NewerSchema {
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The directory for the database file could not be created, or a bad
    /// file could not be moved aside.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Stored tracker series labels could not be decoded.
    #[error("stored tracker state is unreadable: {0}")]
    State(#[from] serde_json::Error),
    /// The store thread is gone (it panicked or was shut down).
    #[error("the storage thread has stopped")]
    Closed,
}

/// Where the data lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// A SQLite file: survives restarts.
    Sqlite,
    /// An in-memory SQLite database: lost on exit, scrape rows capped at the
    /// history size.
    Memory,
}

impl StoreMode {
    /// The name the API shows: `"sqlite"` or `"memory"`.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreMode::Sqlite => "sqlite",
            StoreMode::Memory => "memory",
        }
    }
}

impl std::fmt::Display for StoreMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Per-sample-name totals of one body, as `/raw` shows them.
pub type RawTotals = Vec<(String, f64)>;

/// One chart series: a breakdown key (`""` for the total) and its
/// `(bucket start ms, value)` points in time order.
pub type KeyedPoints = (String, Vec<(i64, f64)>);

/// What one scrape attempt produced.
#[derive(Debug, Clone, Copy)]
pub enum ScrapeOutcome<'a> {
    /// The body parsed and the tracker observed it.
    Ok {
        /// The tracker's result for this body.
        observation: &'a Observation,
        /// Per-sample-name totals of the body (what `/raw` returns).
        raw: &'a [(String, f64)],
        /// The tracker state after this observation, for restart recovery.
        state: &'a TrackerState,
    },
    /// The scrape failed (network, HTTP status, body not exposition text).
    Failed {
        /// A message for the status line.
        error: &'a str,
    },
}

/// One scrape attempt to record.
#[derive(Debug, Clone, Copy)]
pub struct ScrapeRecord<'a> {
    /// When the scrape happened, ms since the Unix epoch.
    pub at_ms: i64,
    /// How long the request took, in milliseconds.
    pub duration_ms: f64,
    /// The result.
    pub outcome: ScrapeOutcome<'a>,
}

/// One stored successful scrape, as `/api/v1/history` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    /// Scrape time, ms since the Unix epoch.
    pub at_ms: i64,
    /// Whether any series reset in this scrape.
    pub is_reset: bool,
    /// LiteLLM's own values at that scrape (NaN where the body had NaN).
    pub live: MetricValues,
    /// Increases counted at that scrape.
    pub deltas: MetricValues,
}

/// The scraper's health, persisted with every attempt.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScrapeStatus {
    /// Time of the last attempt, successful or not.
    pub last_attempt_ms: Option<i64>,
    /// Time of the last successful scrape.
    pub last_success_ms: Option<i64>,
    /// Error of the last attempt, `None` when it succeeded.
    pub last_error: Option<String>,
    /// Failed attempts since the last success.
    pub consecutive_failures: u32,
    /// Duration of the last attempt, in milliseconds.
    pub last_duration_ms: Option<f64>,
}

/// A tracker series as last written, to skip rewriting unchanged ones.
#[derive(Debug, Clone, Copy, PartialEq)]
struct WrittenSeries {
    value_bits: u64,
    created_bits: Option<u64>,
    last_seen_ms: i64,
}

/// The storage engine. Owns one SQLite connection; not shared between
/// threads (use [`StoreHandle`]).
pub struct Store {
    conn: Connection,
    mode: StoreMode,
    history_size: usize,
    status: ScrapeStatus,
    /// `pulse_metrics.id` of each [`Metric`], by [`Metric::index`].
    metric_ids: [i64; Metric::COUNT],
    /// `pulse_series.id` by (dimension name, key); the total is `("", "")`.
    series_ids: HashMap<(&'static str, String), i64>,
    /// `pulse_raw` as stored, by name (values compared bitwise).
    raw_written: HashMap<String, u64>,
    /// `pulse_tracker_series` as stored, by identity string.
    state_written: HashMap<String, WrittenSeries>,
    /// The `INSERT INTO pulse_scrapes` statement for the current metric set.
    insert_scrape_sql: String,
    /// The column list for reading history rows.
    history_cols: String,
    /// Sums read since the last write.
    cache: RefCell<ReadCache>,
    /// Row widths window sums read (see [`BUCKET_TABLES`]); tests drop the
    /// daily rollup to compare against the raw buckets.
    units: Vec<i64>,
}

/// Window and all-time sums already read, valid until the next write.
///
/// Every API request asks for the same few windows (today, this week, this
/// month, all time), and they only change when a scrape is stored. Serving
/// them from memory between scrapes turns a range scan of up to a month of
/// buckets into a map lookup, and the answer is the very value SQLite
/// returned, so numbers cannot drift. Only this store writes the `pulse_*`
/// tables (the Python reference writes its own), so every write that can
/// change a sum goes through a method that clears the cache.
#[derive(Default)]
struct ReadCache {
    all_time: Option<MetricValues>,
    all_time_breakdown: HashMap<&'static str, KeyedValues>,
    totals: HashMap<(i64, i64), MetricValues>,
    breakdowns: HashMap<(&'static str, i64, i64), KeyedValues>,
}

/// Sums per key of a dimension, sorted by key.
type KeyedValues = Vec<(String, MetricValues)>;

/// `range` with both ends moved up to the next bucket edge. Bucket starts
/// are multiples of the bucket width, so the same buckets start inside it:
/// windows ending "now" share one cache entry until the next bucket begins.
fn bucket_aligned(range: TimeRange) -> TimeRange {
    let up = |ms: i64| match ms.rem_euclid(STORAGE_BUCKET_MS) {
        0 => ms,
        r => ms.saturating_add(STORAGE_BUCKET_MS - r),
    };
    TimeRange {
        start_ms: up(range.start_ms),
        end_ms: up(range.end_ms),
    }
}

/// Most cached window sums; arbitrary `/api/v1/breakdown` windows past it
/// start the cache afresh rather than grow it.
const READ_CACHE_CAP: usize = 64;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("mode", &self.mode)
            .field("history_size", &self.history_size)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the database at `path`: creates parent
    /// directories, enables WAL with `synchronous=NORMAL` and runs the
    /// migrations. A file that is not a database, or is corrupt, is renamed
    /// to `<name>.corrupt-<UTC time>` and a fresh database is created. Any
    /// other failure (unwritable location, a newer schema) is logged with
    /// `tracing::warn!` and the store falls back to memory
    /// ([`StoreMode::Memory`]). Never panics.
    pub fn open(path: &Path, history_size: usize) -> Store {
        match Self::try_open(path, history_size) {
            Ok(store) => store,
            Err(err) => {
                tracing::warn!(
                    path = %path.display(),
                    error = %err,
                    "cannot use the database file; keeping data in memory only"
                );
                Self::open_memory(history_size)
            }
        }
    }

    /// An in-memory store with the same schema; scrape rows are capped at
    /// `history_size`.
    pub fn open_memory(history_size: usize) -> Store {
        let opened = Connection::open_in_memory()
            .map_err(StoreError::from)
            .and_then(|conn| Self::init(conn, StoreMode::Memory, history_size));
        match opened {
            Ok(store) => store,
            #[allow(clippy::panic)]
            Err(err) => {
                // Only an allocation failure or a broken schema (caught by
                // tests) can get here, and there is no further fallback.
                tracing::error!(error = %err, "cannot create an in-memory SQLite database");
                panic!("cannot create an in-memory SQLite database: {err}");
            }
        }
    }

    /// Like [`Store::open`], but reports the failure instead of falling back.
    pub fn try_open(path: &Path, history_size: usize) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        match Self::open_file(path, history_size) {
            Err(err) if is_corrupt(&err) => {
                let aside = move_aside(path)?;
                tracing::warn!(
                    path = %path.display(),
                    moved_to = %aside.display(),
                    error = %err,
                    "database file is not a usable SQLite database; moved it aside and started a new one"
                );
                Self::open_file(path, history_size)
            }
            other => other,
        }
    }

    fn open_file(path: &Path, history_size: usize) -> Result<Store, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(journal_mode = %mode, "SQLite did not enable WAL");
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Self::init(conn, StoreMode::Sqlite, history_size)
    }

    /// Migrates and loads the caches.
    fn init(
        mut conn: Connection,
        mode: StoreMode,
        history_size: usize,
    ) -> Result<Store, StoreError> {
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        schema::migrate(&mut conn)?;

        let mut metric_ids = [0i64; Metric::COUNT];
        for m in Metric::ALL {
            conn.execute(
                "INSERT INTO pulse_metrics (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
                [m.name()],
            )?;
            metric_ids[m.index()] = conn.query_row(
                "SELECT id FROM pulse_metrics WHERE name = ?1",
                [m.name()],
                |row| row.get(0),
            )?;
        }

        let mut series_ids = HashMap::new();
        {
            let mut stmt = conn.prepare("SELECT id, dimension, key FROM pulse_series")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let dim: String = row.get(1)?;
                let dim = if dim.is_empty() {
                    Some("")
                } else {
                    Dimension::from_name(&dim).map(Dimension::name)
                };
                // Rows of dimensions this build does not know stay unused.
                if let Some(dim) = dim {
                    series_ids.insert((dim, row.get(2)?), row.get(0)?);
                }
            }
        }

        let mut raw_written = HashMap::new();
        {
            let mut stmt = conn.prepare("SELECT name, value FROM pulse_raw")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let v: Option<f64> = row.get(1)?;
                raw_written.insert(row.get(0)?, v.unwrap_or(f64::NAN).to_bits());
            }
        }

        let mut state_written = HashMap::new();
        {
            let mut stmt = conn
                .prepare("SELECT ident, value, created, last_seen_ms FROM pulse_tracker_series")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let value: Option<f64> = row.get(1)?;
                let created: Option<f64> = row.get(2)?;
                state_written.insert(
                    row.get(0)?,
                    WrittenSeries {
                        value_bits: value.unwrap_or(f64::NAN).to_bits(),
                        created_bits: created.map(f64::to_bits),
                        last_seen_ms: row.get(3)?,
                    },
                );
            }
        }

        let status = conn.query_row(
            "SELECT last_attempt_ms, last_success_ms, last_error, consecutive_failures, \
             last_duration_ms FROM pulse_status WHERE id = 1",
            [],
            |row| {
                Ok(ScrapeStatus {
                    last_attempt_ms: row.get(0)?,
                    last_success_ms: row.get(1)?,
                    last_error: row.get(2)?,
                    consecutive_failures: row.get::<_, i64>(3)?.clamp(0, i64::from(u32::MAX))
                        as u32,
                    last_duration_ms: row.get(4)?,
                })
            },
        )?;

        let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        let live: Vec<String> = names.iter().map(|n| format!("live_{n}")).collect();
        let delta: Vec<String> = names.iter().map(|n| format!("delta_{n}")).collect();
        let cols = format!("{}, {}", live.join(", "), delta.join(", "));
        let placeholders: Vec<String> = (0..4 + 2 * Metric::COUNT)
            .map(|i| format!("?{}", i + 1))
            .collect();
        let insert_scrape_sql = format!(
            "INSERT INTO pulse_scrapes (at_ms, duration_ms, is_reset, source, {cols}) VALUES ({})",
            placeholders.join(", ")
        );

        Ok(Store {
            conn,
            mode,
            history_size,
            status,
            metric_ids,
            series_ids,
            raw_written,
            state_written,
            insert_scrape_sql,
            history_cols: cols,
            cache: RefCell::default(),
            units: BUCKET_TABLES.iter().map(|(u, _)| *u).collect(),
        })
    }

    /// Where the data lives.
    pub fn mode(&self) -> StoreMode {
        self.mode
    }

    /// The scraper's health as of the last recorded attempt.
    pub fn status(&self) -> ScrapeStatus {
        self.status.clone()
    }

    /// Records one scrape attempt in one transaction. A successful scrape
    /// writes its history row, adds its deltas (total and every breakdown
    /// key) to the 15-minute buckets and the all-time sums, replaces the raw
    /// totals and saves the tracker state. A failed scrape only updates the
    /// status. On error nothing of the attempt is stored except the
    /// in-memory status, which always reflects the attempt.
    pub fn record(&mut self, rec: &ScrapeRecord<'_>) -> Result<(), StoreError> {
        self.record_batch(std::slice::from_ref(rec))
    }

    /// Records many scrape attempts, oldest first, in one transaction: the
    /// same rows and sums as calling [`Store::record`] for each, all or
    /// nothing. One commit (one fsync) instead of one per scrape is what
    /// makes backfilling weeks of history take seconds.
    pub fn record_batch(&mut self, recs: &[ScrapeRecord<'_>]) -> Result<(), StoreError> {
        if recs.is_empty() {
            return Ok(());
        }
        self.invalidate();
        for rec in recs {
            self.status = next_status(&self.status, rec);
        }
        let tx = self.conn.transaction()?;
        // Only the newest status survives a batch, so it is written once.
        write_status(&tx, &self.status)?;
        let mut staged = Staged::default();
        let mut wrote_scrape = false;
        for rec in recs {
            let ScrapeOutcome::Ok {
                observation: obs,
                raw,
                state,
            } = rec.outcome
            else {
                continue;
            };
            wrote_scrape = true;
            insert_scrape(
                &tx,
                &self.insert_scrape_sql,
                rec.at_ms,
                Some(rec.duration_ms),
                obs.resets > 0,
                "pulse",
                &obs.live,
                &obs.deltas,
            )?;
            let bucket = storage_bucket(rec.at_ms);
            let mut ids = SeriesIds {
                known: &self.series_ids,
                staged: &mut staged.series_ids,
            };
            let total = ids.get(&tx, None, "")?;
            for (metric, delta) in obs.deltas.iter() {
                add_delta(&tx, total, bucket, self.metric_ids[metric.index()], delta)?;
            }
            for b in &obs.breakdown {
                let id = ids.get(&tx, Some(b.dimension), &b.key)?;
                add_delta(&tx, id, bucket, self.metric_ids[b.metric.index()], b.delta)?;
            }
            // Each record compares with what the previous one of the batch wrote.
            let raw_before = staged.raw.as_ref().unwrap_or(&self.raw_written);
            let raw_now = write_raw(&tx, raw_before, rec.at_ms, raw)?;
            staged.raw = Some(raw_now);
            let state_before = staged.state.as_ref().unwrap_or(&self.state_written);
            let state_now = write_state(&tx, state_before, state)?;
            staged.state = Some(state_now);
        }
        if wrote_scrape && self.mode == StoreMode::Memory {
            cap_scrapes(&tx, self.history_size)?;
        }
        tx.commit()?;
        // The caches follow the database only once the transaction is durable.
        self.series_ids.extend(staged.series_ids);
        if let Some(raw) = staged.raw {
            self.raw_written = raw;
        }
        if let Some(state) = staged.state {
            self.state_written = state;
        }
        Ok(())
    }

    /// The tracker state saved by the last successful scrape, for restart
    /// recovery, or `None` when none was ever saved.
    pub fn tracker_state(&self) -> Result<Option<TrackerState>, StoreError> {
        let Some(header) = self.meta("tracker_header")? else {
            return Ok(None);
        };
        let header: StateHeader = serde_json::from_str(&header)?;
        let mut stmt = self.conn.prepare(
            "SELECT sample, labels, created, value, last_seen_ms FROM pulse_tracker_series \
             ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        let mut series = Vec::new();
        while let Some(row) = rows.next()? {
            let labels: String = row.get(1)?;
            let value: Option<f64> = row.get(3)?;
            series.push(SeriesState {
                sample: row.get(0)?,
                labels: serde_json::from_str(&labels)?,
                created: row.get(2)?,
                value: value.unwrap_or(f64::NAN),
                last_seen_ms: row.get(4)?,
            });
        }
        // The core keeps its series sorted; restore that order.
        series.sort_by(|a, b| {
            (&a.sample, &a.labels)
                .cmp(&(&b.sample, &b.labels))
                .then_with(|| match (a.created, b.created) {
                    (Some(x), Some(y)) => x.total_cmp(&y),
                    (x, y) => x.is_some().cmp(&y.is_some()),
                })
        });
        Ok(Some(TrackerState {
            version: header.version,
            observations: header.observations,
            last_at_ms: header.last_at_ms,
            last_target_ms: header.last_target_ms,
            series,
        }))
    }

    /// The per-sample-name totals of the last good body and its time.
    pub fn last_raw(&self) -> Result<Option<(i64, RawTotals)>, StoreError> {
        let Some(at) = self.meta("raw_at_ms")? else {
            return Ok(None);
        };
        let at_ms = at.parse::<i64>().unwrap_or(0);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, value FROM pulse_raw ORDER BY name")?;
        let rows = stmt.query_map([], |row| {
            let v: Option<f64> = row.get(1)?;
            Ok((row.get::<_, String>(0)?, v.unwrap_or(f64::NAN)))
        })?;
        Ok(Some((at_ms, rows.collect::<Result<_, _>>()?)))
    }

    /// Frees SQLite's page cache and other unused memory of this
    /// connection (`PRAGMA shrink_memory`). Cached sums are kept: they are
    /// small and what makes repeated requests fast.
    pub fn release_memory(&self) {
        if let Err(e) = self.conn.execute_batch("PRAGMA shrink_memory") {
            tracing::debug!(error = %e, "shrink_memory failed");
        }
    }

    /// Forgets every cached sum; called before any write.
    fn invalidate(&self) {
        *self.cache.borrow_mut() = ReadCache::default();
    }

    /// Sum of the deltas in buckets starting in `[range.start_ms, range.end_ms)`.
    pub fn window_totals(&self, range: TimeRange) -> Result<MetricValues, StoreError> {
        let range = bucket_aligned(range);
        let key = (range.start_ms, range.end_ms);
        if let Some(v) = self.cache.borrow().totals.get(&key) {
            return Ok(*v);
        }
        let v = self.window_totals_uncached(range)?;
        let mut cache = self.cache.borrow_mut();
        if cache.totals.len() >= READ_CACHE_CAP {
            cache.totals.clear();
        }
        cache.totals.insert(key, v);
        Ok(v)
    }

    fn window_totals_uncached(&self, range: TimeRange) -> Result<MetricValues, StoreError> {
        let Some(&total) = self.series_ids.get(&("", String::new())) else {
            return Ok(MetricValues::default());
        };
        let mut out = MetricValues::default();
        for piece in cover(range, &self.units) {
            let sql = WINDOW_TOTALS_SQL.replace("{table}", table_of(piece.unit_ms));
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![total, piece.range.start_ms, piece.range.end_ms])?;
            while let Some(row) = rows.next()? {
                if let Some(m) = self.metric_of(row.get(0)?) {
                    out.add(m, row.get(1)?);
                }
            }
        }
        Ok(out)
    }

    /// Makes window sums read only the 15-minute buckets (`false`) or also
    /// the daily rollup (`true`, the default), to prove both agree.
    #[cfg(test)]
    pub(crate) fn use_rollup(&mut self, on: bool) {
        self.invalidate();
        self.units = BUCKET_TABLES
            .iter()
            .map(|(u, _)| *u)
            .filter(|&u| on || u == STORAGE_BUCKET_MS)
            .collect();
    }

    /// Per-key sums of `dim` over buckets starting in the range, sorted by key.
    /// Keys without any delta in the range are absent.
    pub fn window_breakdown(
        &self,
        dim: Dimension,
        range: TimeRange,
    ) -> Result<Vec<(String, MetricValues)>, StoreError> {
        let range = bucket_aligned(range);
        let key = (dim.name(), range.start_ms, range.end_ms);
        if let Some(v) = self.cache.borrow().breakdowns.get(&key) {
            return Ok(v.clone());
        }
        let v = self.window_breakdown_uncached(dim, range)?;
        let mut cache = self.cache.borrow_mut();
        if cache.breakdowns.len() >= READ_CACHE_CAP {
            cache.breakdowns.clear();
        }
        cache.breakdowns.insert(key, v.clone());
        Ok(v)
    }

    fn window_breakdown_uncached(
        &self,
        dim: Dimension,
        range: TimeRange,
    ) -> Result<Vec<(String, MetricValues)>, StoreError> {
        let mut out: Vec<(String, MetricValues)> = Vec::new();
        for piece in cover(range, &self.units) {
            let sql = WINDOW_BREAKDOWN_SQL.replace("{table}", table_of(piece.unit_ms));
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query(params![
                dim.name(),
                piece.range.start_ms,
                piece.range.end_ms
            ])?;
            out = merge_keyed(out, self.collect_keyed(rows)?);
        }
        Ok(out)
    }

    /// All-time sums of the deltas (never reduced by [`Store::purge`]).
    pub fn all_time(&self) -> Result<MetricValues, StoreError> {
        if let Some(v) = self.cache.borrow().all_time {
            return Ok(v);
        }
        let v = self.all_time_uncached()?;
        self.cache.borrow_mut().all_time = Some(v);
        Ok(v)
    }

    fn all_time_uncached(&self) -> Result<MetricValues, StoreError> {
        let Some(&total) = self.series_ids.get(&("", String::new())) else {
            return Ok(MetricValues::default());
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT metric_id, value FROM pulse_all_time WHERE series_id = ?1")?;
        let mut rows = stmt.query([total])?;
        let mut out = MetricValues::default();
        while let Some(row) = rows.next()? {
            if let Some(m) = self.metric_of(row.get(0)?) {
                out.set(m, row.get(1)?);
            }
        }
        Ok(out)
    }

    /// All-time sums per key of `dim`, sorted by key.
    pub fn all_time_breakdown(
        &self,
        dim: Dimension,
    ) -> Result<Vec<(String, MetricValues)>, StoreError> {
        if let Some(v) = self.cache.borrow().all_time_breakdown.get(dim.name()) {
            return Ok(v.clone());
        }
        let v = self.all_time_breakdown_uncached(dim)?;
        self.cache
            .borrow_mut()
            .all_time_breakdown
            .insert(dim.name(), v.clone());
        Ok(v)
    }

    fn all_time_breakdown_uncached(
        &self,
        dim: Dimension,
    ) -> Result<Vec<(String, MetricValues)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.key, a.metric_id, a.value FROM pulse_series s \
             JOIN pulse_all_time a ON a.series_id = s.id \
             WHERE s.dimension = ?1 ORDER BY s.key",
        )?;
        let rows = stmt.query([dim.name()])?;
        self.collect_keyed(rows)
    }

    /// The newest `limit` stored scrapes, oldest first.
    pub fn history(&self, limit: usize) -> Result<Vec<HistoryRow>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT at_ms, is_reset, {} FROM pulse_scrapes ORDER BY at_ms DESC, id DESC LIMIT ?1",
            self.history_cols
        ))?;
        let rows = stmt.query_map([limit], |row| {
            let mut live = MetricValues::default();
            let mut deltas = MetricValues::default();
            for (i, m) in Metric::ALL.into_iter().enumerate() {
                let v: Option<f64> = row.get(2 + i)?;
                live.set(m, v.unwrap_or(f64::NAN));
                deltas.set(m, row.get(2 + Metric::COUNT + i)?);
            }
            Ok(HistoryRow {
                at_ms: row.get(0)?,
                is_reset: row.get(1)?,
                live,
                deltas,
            })
        })?;
        let mut out = rows.collect::<Result<Vec<_>, _>>()?;
        out.reverse();
        Ok(out)
    }

    /// The 15-minute bucket deltas of `metric` whose start is in the range,
    /// in time order: one series `("", points)` for the total, or one per key
    /// of `by` (sorted by key). Empty buckets are absent; the caller
    /// regroups them with [`pulse_core::window::bucketize`].
    pub fn bucket_points(
        &self,
        metric: Metric,
        range: TimeRange,
        by: Option<Dimension>,
    ) -> Result<Vec<KeyedPoints>, StoreError> {
        let metric_id = self.metric_ids[metric.index()];
        let mut out: Vec<KeyedPoints> = Vec::new();
        match by {
            None => {
                let Some(&total) = self.series_ids.get(&("", String::new())) else {
                    return Ok(vec![(String::new(), Vec::new())]);
                };
                let mut stmt = self.conn.prepare_cached(
                    "SELECT start_ms, value FROM pulse_buckets WHERE series_id = ?1 \
                     AND start_ms >= ?2 AND start_ms < ?3 AND metric_id = ?4 ORDER BY start_ms",
                )?;
                let points = stmt
                    .query_map(
                        params![total, range.start_ms, range.end_ms, metric_id],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )?
                    .collect::<Result<Vec<_>, _>>()?;
                out.push((String::new(), points));
            }
            Some(dim) => {
                let mut stmt = self.conn.prepare_cached(
                    "SELECT s.key, b.start_ms, b.value FROM pulse_series s \
                     JOIN pulse_buckets b ON b.series_id = s.id \
                     WHERE s.dimension = ?1 AND b.start_ms >= ?2 AND b.start_ms < ?3 \
                     AND b.metric_id = ?4 ORDER BY s.key, b.start_ms",
                )?;
                let mut rows =
                    stmt.query(params![dim.name(), range.start_ms, range.end_ms, metric_id])?;
                while let Some(row) = rows.next()? {
                    let key: String = row.get(0)?;
                    let point = (row.get(1)?, row.get(2)?);
                    match out.last_mut() {
                        Some((k, points)) if *k == key => points.push(point),
                        _ => out.push((key, vec![point])),
                    }
                }
            }
        }
        Ok(out)
    }

    /// Retention: deletes scrape rows before `before_ms` and the buckets that
    /// end at or before it (a bucket straddling the cut is kept whole).
    /// All-time sums are unchanged. Returns the number of rows deleted.
    pub fn purge(&mut self, before_ms: i64) -> Result<usize, StoreError> {
        self.invalidate();
        let tx = self.conn.transaction()?;
        let scrapes = tx.execute("DELETE FROM pulse_scrapes WHERE at_ms < ?1", [before_ms])?;
        let cut = storage_bucket(before_ms);
        let buckets = tx.execute("DELETE FROM pulse_buckets WHERE start_ms < ?1", [cut])?;
        // Whole days before the cut go; the day it splits is summed afresh
        // from the buckets it keeps, so each day row stays their sum.
        let day = utc_day(cut);
        tx.execute("DELETE FROM pulse_buckets_day WHERE start_ms <= ?1", [day])?;
        if day < cut {
            tx.execute(
                "INSERT INTO pulse_buckets_day (series_id, start_ms, metric_id, value) \
                 SELECT series_id, ?1, metric_id, SUM(value) FROM pulse_buckets \
                 WHERE start_ms >= ?1 AND start_ms < ?2 GROUP BY series_id, metric_id",
                params![day, day.saturating_add(UTC_DAY_MS)],
            )?;
        }
        tx.commit()?;
        if scrapes + buckets > 0 {
            tracing::info!(scrapes, buckets, before_ms, "purged old rows");
        }
        Ok(scrapes + buckets)
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM pulse_meta WHERE key = ?1",
                [key],
                |row| row.get(0),
            )
            .optional()?)
    }

    fn metric_of(&self, id: i64) -> Option<Metric> {
        Metric::ALL
            .into_iter()
            .find(|m| self.metric_ids[m.index()] == id)
    }

    /// Folds `(key, metric_id, value)` rows ordered by key into one
    /// [`MetricValues`] per key.
    fn collect_keyed(
        &self,
        mut rows: rusqlite::Rows<'_>,
    ) -> Result<Vec<(String, MetricValues)>, StoreError> {
        let mut out: Vec<(String, MetricValues)> = Vec::new();
        while let Some(row) = rows.next()? {
            let key: String = row.get(0)?;
            let Some(metric) = self.metric_of(row.get(1)?) else {
                continue;
            };
            let value: f64 = row.get(2)?;
            match out.last_mut() {
                Some((k, values)) if *k == key => values.add(metric, value),
                _ => {
                    let mut values = MetricValues::default();
                    values.set(metric, value);
                    out.push((key, values));
                }
            }
        }
        Ok(out)
    }
}

/// Merges two per-key sums, each sorted by key, into one sorted by key.
fn merge_keyed(
    a: Vec<(String, MetricValues)>,
    b: Vec<(String, MetricValues)>,
) -> Vec<(String, MetricValues)> {
    if a.is_empty() {
        return b;
    }
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some((ka, _)), Some((kb, _))) => match ka.cmp(kb) {
                std::cmp::Ordering::Less => a.next(),
                std::cmp::Ordering::Greater => b.next(),
                std::cmp::Ordering::Equal => {
                    let (k, mut va) = a.next().unwrap_or_default();
                    if let Some((_, vb)) = b.next() {
                        for (m, v) in vb.iter() {
                            va.add(m, v);
                        }
                    }
                    Some((k, va))
                }
            },
            (Some(_), None) => a.next(),
            (None, _) => b.next(),
        };
        match next {
            Some(item) => out.push(item),
            None => return out,
        }
    }
}

/// Cache updates that become visible only after the transaction commits.
#[derive(Default)]
struct Staged {
    series_ids: HashMap<(&'static str, String), i64>,
    raw: Option<HashMap<String, u64>>,
    state: Option<HashMap<String, WrittenSeries>>,
}

/// Resolves breakdown keys to `pulse_series` ids, creating rows as needed.
struct SeriesIds<'a> {
    known: &'a HashMap<(&'static str, String), i64>,
    staged: &'a mut HashMap<(&'static str, String), i64>,
}

impl SeriesIds<'_> {
    fn get(
        &mut self,
        tx: &Transaction<'_>,
        dim: Option<Dimension>,
        key: &str,
    ) -> Result<i64, StoreError> {
        let dim = dim.map_or("", Dimension::name);
        let lookup = (dim, key.to_owned());
        if let Some(&id) = self.known.get(&lookup).or_else(|| self.staged.get(&lookup)) {
            return Ok(id);
        }
        tx.prepare_cached(
            "INSERT INTO pulse_series (dimension, key) VALUES (?1, ?2) \
             ON CONFLICT (dimension, key) DO NOTHING",
        )?
        .execute(params![dim, key])?;
        let id: i64 = tx
            .prepare_cached("SELECT id FROM pulse_series WHERE dimension = ?1 AND key = ?2")?
            .query_row(params![dim, key], |row| row.get(0))?;
        self.staged.insert(lookup, id);
        Ok(id)
    }
}

/// Adds one delta to its bucket, its day and the all-time sum. Zero and
/// non-finite deltas are skipped: the tracker never produces the latter, and
/// zero rows would only grow the table.
fn add_delta(
    tx: &Transaction<'_>,
    series_id: i64,
    bucket_ms: i64,
    metric_id: i64,
    delta: f64,
) -> Result<(), StoreError> {
    if delta == 0.0 || !delta.is_finite() {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO pulse_buckets (series_id, start_ms, metric_id, value) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (series_id, start_ms, metric_id) DO UPDATE SET value = value + excluded.value",
    )?
    .execute(params![series_id, bucket_ms, metric_id, delta])?;
    tx.prepare_cached(
        "INSERT INTO pulse_buckets_day (series_id, start_ms, metric_id, value) \
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (series_id, start_ms, metric_id) \
         DO UPDATE SET value = value + excluded.value",
    )?
    .execute(params![series_id, utc_day(bucket_ms), metric_id, delta])?;
    tx.prepare_cached(
        "INSERT INTO pulse_all_time (series_id, metric_id, value) VALUES (?1, ?2, ?3) \
         ON CONFLICT (series_id, metric_id) DO UPDATE SET value = value + excluded.value",
    )?
    .execute(params![series_id, metric_id, delta])?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn insert_scrape(
    tx: &Transaction<'_>,
    sql: &str,
    at_ms: i64,
    duration_ms: Option<f64>,
    is_reset: bool,
    source: &str,
    live: &MetricValues,
    deltas: &MetricValues,
) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(sql)?;
    let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(4 + 2 * Metric::COUNT);
    values.push(at_ms.into());
    values.push(duration_ms.into());
    values.push(i64::from(is_reset).into());
    values.push(source.to_owned().into());
    for (_, v) in live.iter() {
        // SQLite has no NaN; NULL stands for it and reads back as NaN.
        values.push(if v.is_nan() {
            rusqlite::types::Value::Null
        } else {
            v.into()
        });
    }
    for (_, v) in deltas.iter() {
        values.push(if v.is_finite() { v.into() } else { 0.0.into() });
    }
    stmt.execute(rusqlite::params_from_iter(values))?;
    Ok(())
}

/// The status after attempt `rec`.
fn next_status(prev: &ScrapeStatus, rec: &ScrapeRecord<'_>) -> ScrapeStatus {
    let mut status = prev.clone();
    status.last_attempt_ms = Some(rec.at_ms);
    status.last_duration_ms = Some(rec.duration_ms);
    match rec.outcome {
        ScrapeOutcome::Ok { .. } => {
            status.last_success_ms = Some(rec.at_ms);
            status.last_error = None;
            status.consecutive_failures = 0;
        }
        ScrapeOutcome::Failed { error } => {
            status.last_error = Some(error.to_owned());
            status.consecutive_failures = status.consecutive_failures.saturating_add(1);
        }
    }
    status
}

fn write_status(tx: &Transaction<'_>, s: &ScrapeStatus) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE pulse_status SET last_attempt_ms = ?1, last_success_ms = ?2, last_error = ?3, \
         consecutive_failures = ?4, last_duration_ms = ?5 WHERE id = 1",
    )?
    .execute(params![
        s.last_attempt_ms,
        s.last_success_ms,
        s.last_error,
        s.consecutive_failures,
        s.last_duration_ms
    ])?;
    Ok(())
}

fn set_meta(tx: &Transaction<'_>, key: &str, value: &str) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO pulse_meta (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([key, value])?;
    Ok(())
}

/// Replaces the stored raw totals, writing only names whose value changed.
fn write_raw(
    tx: &Transaction<'_>,
    written: &HashMap<String, u64>,
    at_ms: i64,
    raw: &[(String, f64)],
) -> Result<HashMap<String, u64>, StoreError> {
    let mut next = HashMap::with_capacity(raw.len());
    {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO pulse_raw (name, value) VALUES (?1, ?2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )?;
        for (name, value) in raw {
            let bits = value.to_bits();
            if written.get(name) != Some(&bits) {
                let stored = (!value.is_nan()).then_some(*value);
                upsert.execute(params![name, stored])?;
            }
            next.insert(name.clone(), bits);
        }
        let mut delete = tx.prepare_cached("DELETE FROM pulse_raw WHERE name = ?1")?;
        for name in written.keys().filter(|n| !next.contains_key(*n)) {
            delete.execute([name])?;
        }
    }
    set_meta(tx, "raw_at_ms", &at_ms.to_string())?;
    Ok(next)
}

/// The scalar part of [`TrackerState`], stored as one meta row.
#[derive(serde::Serialize, serde::Deserialize)]
struct StateHeader {
    version: u32,
    observations: u64,
    last_at_ms: Option<i64>,
    /// The target's clock at the latest scrape; absent in older databases,
    /// which then judge `_created` once more on pulse's clock.
    #[serde(default)]
    last_target_ms: Option<i64>,
}

/// A series' identity: sample name, labels and `_created`, as the tracker
/// defines it. Separators are control characters that cannot occur in a
/// metric or label name and are escaped by nothing, so the string is only
/// a key, never parsed back.
fn series_ident(s: &SeriesState) -> String {
    let mut ident = String::with_capacity(s.sample.len() + 16 * s.labels.len());
    ident.push_str(&s.sample);
    for (k, v) in &s.labels {
        ident.push('\u{1f}');
        ident.push_str(k);
        ident.push('=');
        ident.push_str(&v.len().to_string());
        ident.push(':');
        ident.push_str(v);
    }
    if let Some(c) = s.created {
        ident.push('\u{1e}');
        ident.push_str(&c.to_bits().to_string());
    }
    ident
}

/// Saves the tracker state: upserts series whose value or `_created`
/// changed (or whose `last_seen_ms` is an hour stale), deletes forgotten ones.
fn write_state(
    tx: &Transaction<'_>,
    written: &HashMap<String, WrittenSeries>,
    state: &TrackerState,
) -> Result<HashMap<String, WrittenSeries>, StoreError> {
    let header = StateHeader {
        version: state.version,
        observations: state.observations,
        last_at_ms: state.last_at_ms,
        last_target_ms: state.last_target_ms,
    };
    set_meta(tx, "tracker_header", &serde_json::to_string(&header)?)?;
    let mut next = HashMap::with_capacity(state.series.len());
    {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO pulse_tracker_series (ident, sample, labels, created, value, last_seen_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (ident) DO UPDATE SET \
             value = excluded.value, last_seen_ms = excluded.last_seen_ms",
        )?;
        for s in &state.series {
            let ident = series_ident(s);
            let now = WrittenSeries {
                value_bits: s.value.to_bits(),
                created_bits: s.created.map(f64::to_bits),
                last_seen_ms: s.last_seen_ms,
            };
            let keep = match written.get(&ident) {
                Some(old)
                    if old.value_bits == now.value_bits
                        && old.created_bits == now.created_bits
                        && s.last_seen_ms.saturating_sub(old.last_seen_ms) < SEEN_REFRESH_MS =>
                {
                    Some(*old)
                }
                _ => None,
            };
            let entry = match keep {
                Some(old) => old,
                None => {
                    upsert.execute(params![
                        ident,
                        s.sample,
                        serde_json::to_string(&s.labels)?,
                        s.created,
                        (!s.value.is_nan()).then_some(s.value),
                        s.last_seen_ms
                    ])?;
                    now
                }
            };
            next.insert(ident, entry);
        }
        let mut delete = tx.prepare_cached("DELETE FROM pulse_tracker_series WHERE ident = ?1")?;
        for ident in written.keys().filter(|i| !next.contains_key(*i)) {
            delete.execute([ident])?;
        }
    }
    Ok(next)
}

/// Keeps only the newest `keep` scrape rows (memory mode).
fn cap_scrapes(tx: &Transaction<'_>, keep: usize) -> Result<(), StoreError> {
    let keep = i64::try_from(keep).unwrap_or(i64::MAX);
    tx.prepare_cached(
        "DELETE FROM pulse_scrapes WHERE id NOT IN \
         (SELECT id FROM pulse_scrapes ORDER BY at_ms DESC, id DESC LIMIT ?1)",
    )?
    .execute([keep])?;
    Ok(())
}

/// Whether the error means the file is not a usable SQLite database.
fn is_corrupt(err: &StoreError) -> bool {
    matches!(
        err,
        StoreError::Sqlite(e)
            if matches!(e.sqlite_error_code(), Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt))
    )
}

/// Renames `path` (and its `-wal`/`-shm` companions) to
/// `<name>.corrupt-<UTC time>`, returning the new path.
fn move_aside(path: &Path) -> Result<PathBuf, StoreError> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".corrupt-{stamp}"));
    let aside = PathBuf::from(aside);
    std::fs::rename(path, &aside).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    for suffix in ["-wal", "-shm"] {
        let mut from = path.as_os_str().to_owned();
        from.push(suffix);
        let mut to = aside.as_os_str().to_owned();
        to.push(suffix);
        // Companions may not exist; a stale one left behind would be reused
        // by SQLite for the new file, so try hard but do not fail on absence.
        if Path::new(&from).exists()
            && let Err(source) = std::fs::rename(&from, &to)
        {
            return Err(StoreError::Io {
                path: PathBuf::from(from),
                source,
            });
        }
    }
    Ok(aside)
}

#[cfg(test)]
mod tests;
