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
//!
//! One file per concern: `open` (open, migrate, quarantine, fall back to
//! memory), `schema` (the migrations), `write` (the scrape transaction and
//! retention), `outbox` (alert decisions in the scrape transaction),
//! `deliveries` (their delivery state per channel), `latency` (histogram and
//! health counter buckets), `read` (sums, breakdowns, history, chart points),
//! `cache` (the read cache), `state` (the tracker's baselines), `import` (the Python
//! database) and `handle` (the store's own thread).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;

use pulse_core::catalog::{Metric, MetricValues};
use pulse_core::track::{Observation, StateChanges};
use rusqlite::{Connection, OptionalExtension};

mod cache;
mod deliveries;
mod export;
mod handle;
mod import;
mod latency;
mod open;
mod outbox;
mod read;
mod schema;
mod state;
mod write;

pub use cache::{Generation, bucket_aligned};
pub use deliveries::{AlertRecord, Attempt, DueDelivery};
pub use export::MetricPoints;
pub use handle::StoreHandle;
pub use import::ImportOutcome;
pub use outbox::{AlertRules, BudgetMeasure};

use cache::ReadCache;

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
    /// A stored label set is not a list of known label pairs.
    #[error(
        "stored tracker state is unreadable: label set {id} is malformed or names a missing label"
    )]
    LabelSet {
        /// Its `pulse_labelsets.id`.
        id: i64,
    },
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
        /// What each target's tracker changed with this observation (and
        /// any folded into it), by target name, for restart recovery.
        states: &'a [(String, StateChanges)],
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
    /// The interned sample names, label pairs and label sets the tracker
    /// states use, as committed (see `state::Interned`).
    interned: state::Interned,
    /// `pulse_raw` as stored, by name (values compared bitwise).
    raw_written: HashMap<String, u64>,
    /// The `INSERT INTO pulse_scrapes` statement for the current metric set.
    insert_scrape_sql: String,
    /// The column list for reading history rows.
    history_cols: String,
    /// Sums read since the last write.
    cache: RefCell<ReadCache>,
    /// Row widths window sums read (see [`read::BUCKET_TABLES`]); tests drop the
    /// daily rollup to compare against the raw buckets.
    units: Vec<i64>,
    /// The alert decisions every scrape transaction takes (see `outbox`).
    alert_rules: Option<AlertRules>,
}

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
    /// Where the data lives.
    pub fn mode(&self) -> StoreMode {
        self.mode
    }

    /// The scraper's health as of the last recorded attempt.
    pub fn status(&self) -> ScrapeStatus {
        self.status.clone()
    }

    /// Runs `write` with a page cache large enough for a scrape's dirty
    /// pages, then gives it back. A scrape at 100,000 series dirties about
    /// 10 MB of pages: in SQLite's default 2 MB cache it spilled them to the
    /// WAL mid-transaction and read them back (about 8 % of its CPU). Reads
    /// keep the default, so that exporting a year streams in flat memory;
    /// lowering the size frees the pages above it at once.
    pub(super) fn with_write_cache<T>(
        &mut self,
        write: impl FnOnce(&mut Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.set_page_cache(open::WRITE_CACHE_KIB);
        let result = write(self);
        self.set_page_cache(open::READ_CACHE_KIB);
        result
    }

    /// `PRAGMA cache_size` of a database file (an in-memory one keeps its
    /// pages in the cache whatever the size); a failure only costs speed or
    /// memory, so it is logged, never the write's error.
    fn set_page_cache(&self, kib: i64) {
        if self.mode != StoreMode::Sqlite {
            return;
        }
        if let Err(e) = self.conn.pragma_update(None, "cache_size", kib) {
            tracing::debug!(error = %e, "setting cache_size failed");
        }
    }

    /// Frees SQLite's page cache and other unused memory of this
    /// connection (`PRAGMA shrink_memory`). Cached sums are kept: they are
    /// small and what makes repeated requests fast.
    pub fn release_memory(&self) {
        if let Err(e) = self.conn.execute_batch("PRAGMA shrink_memory") {
            tracing::debug!(error = %e, "shrink_memory failed");
        }
    }

    /// Copies the WAL into the database and truncates it to zero bytes
    /// (`wal_checkpoint(TRUNCATE)`), after a write that may have grown it.
    ///
    /// `journal_size_limit` alone keeps the WAL at the size of the last
    /// transaction, which is most of a scrape's pages at 100,000 series (20 MB
    /// beside a 38 MB database after a simulated day); the pages are already
    /// in the database once SQLite's automatic checkpoint ran, so this costs a
    /// truncate. It never waits: while another connection (an `export`)
    /// reads, the checkpoint gives up and the next write tries again. A
    /// failure is logged, never the write's error, since the write committed.
    pub(super) fn truncate_wal(&self) {
        if self.mode != StoreMode::Sqlite {
            return;
        }
        let result = self
            .conn
            .busy_timeout(std::time::Duration::ZERO)
            .and_then(|()| {
                self.conn
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                        row.get::<_, i64>(0)
                    })
            });
        match result {
            Ok(0) => {}
            Ok(_) => tracing::debug!("WAL checkpoint deferred: another connection is reading"),
            Err(e) => tracing::debug!(error = %e, "WAL checkpoint failed"),
        }
        if let Err(e) = self.conn.busy_timeout(open::BUSY_TIMEOUT) {
            tracing::warn!(error = %e, "cannot restore the busy timeout");
        }
    }

    /// The `pulse_meta` value stored under `key`.
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

    /// The metric a `pulse_metrics.id` stands for, if this build knows it.
    fn metric_of(&self, id: i64) -> Option<Metric> {
        Metric::ALL
            .into_iter()
            .find(|m| self.metric_ids[m.index()] == id)
    }
}

#[cfg(test)]
mod tests;
