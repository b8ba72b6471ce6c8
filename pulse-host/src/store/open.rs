//! Opening a store: the file (WAL, busy timeout), its migrations, moving a
//! corrupt file aside, the in-memory fallback, and loading the caches the
//! write path compares against.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pulse_core::catalog::{Dimension, Metric};
use rusqlite::{Connection, ErrorCode};

use super::read::BUCKET_TABLES;
use super::{ScrapeStatus, Store, StoreError, StoreMode, schema};

/// The WAL is truncated back to this size after a checkpoint (`journal_size_limit`).
const WAL_SIZE_LIMIT: i64 = 4 * 1024 * 1024;

/// SQLite's page cache during a scrape's write, in KiB as `PRAGMA
/// cache_size` takes it when negative.
pub(super) const WRITE_CACHE_KIB: i64 = -16 * 1024;

/// SQLite's page cache at all other times: its default, so that reads (a
/// year's export streams through this connection) keep memory flat.
pub(super) const READ_CACHE_KIB: i64 = -2000;

/// How long a statement waits for a lock another connection holds (an
/// `export` reading the same file).
pub(super) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

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
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(journal_mode = %mode, "SQLite did not enable WAL");
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // SQLite checkpoints the WAL every 1,000 pages but never shrinks the
        // file: one large transaction (the first scrape of 100,000 series)
        // would leave a WAL of its size for good. With a limit the file is
        // truncated back to it whenever a checkpoint resets the log. That
        // still leaves the last transaction's size: `Store::truncate_wal`
        // empties the file after each scrape's write.
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        // The page cache is SQLite's default but during a write
        // (`Store::with_write_cache`).
        conn.pragma_update(None, "cache_size", READ_CACHE_KIB)?;
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
            interned: super::state::Interned::default(),
            raw_written,
            insert_scrape_sql,
            history_cols: cols,
            cache: RefCell::default(),
            units: BUCKET_TABLES.iter().map(|(u, _)| *u).collect(),
            alert_rules: None,
        })
    }
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
