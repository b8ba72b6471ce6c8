//! The SQLite schema and its forward migrations.
//!
//! The schema version lives in `PRAGMA user_version`. Each migration moves the
//! database from version `n` to `n + 1` inside its own transaction, so a crash
//! half-way leaves the last complete version behind. A database written by a
//! newer build (version above [`LATEST`]) is refused: guessing what its tables
//! mean could corrupt the user's history.
//!
//! Every table is prefixed `pulse_`. The Python reference keeps `scrapes` and
//! `model_snapshots` in the same file, and users upgrading point us at that
//! file, so our names must never collide with its names.

use std::collections::{BTreeMap, HashMap};

use pulse_core::window::utc_day;
use rusqlite::{Connection, OptionalExtension, Transaction};

use super::StoreError;

/// The tracked metrics' stable names at schema version 1, in column order.
///
/// This list is frozen: a metric added to the core later needs a migration
/// that adds its `live_`/`delta_` columns (a test fails until it exists).
pub(crate) const V1_METRICS: [&str; 15] = [
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
    "input_cached_tokens",
    "deployment_requests",
    "deployment_success",
    "deployment_failures",
];

/// One step from `version - 1` to `version`.
pub(crate) struct Migration {
    pub(crate) version: i64,
    apply: fn(&Transaction<'_>) -> rusqlite::Result<()>,
}

/// All migrations, in order. Append new ones; never edit a released one.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        apply: v1,
    },
    Migration {
        version: 2,
        apply: v2,
    },
    Migration {
        version: 3,
        apply: v3,
    },
    Migration {
        version: 4,
        apply: v4_latency,
    },
    Migration {
        version: 5,
        apply: v5_compact_state,
    },
    Migration {
        version: 6,
        apply: v6_no_bucket_start_index,
    },
    Migration {
        version: 7,
        apply: v7_label_pairs,
    },
];

/// The schema version this build writes.
pub(crate) const LATEST: i64 = 7;

/// Reads `PRAGMA user_version`.
pub(crate) fn version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

/// Brings the database up to [`LATEST`], or refuses a newer one.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    migrate_to(conn, LATEST)
}

/// Applies migrations up to and including `target` (tests stop early to build
/// old databases).
pub(crate) fn migrate_to(conn: &mut Connection, target: i64) -> Result<(), StoreError> {
    let found = version(conn)?;
    if found > LATEST {
        return Err(StoreError::NewerSchema {
            found,
            supported: LATEST,
        });
    }
    for m in MIGRATIONS
        .iter()
        .filter(|m| m.version > found && m.version <= target)
    {
        let tx = conn.transaction()?;
        (m.apply)(&tx)?;
        // PRAGMA takes no bound parameters; the value is our own integer.
        tx.execute_batch(&format!("PRAGMA user_version = {}", m.version))?;
        tx.commit()?;
        tracing::info!(version = m.version, "database schema migrated");
    }
    Ok(())
}

/// Version 1: the first Rust schema.
fn v1(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let mut metric_cols = String::new();
    for name in V1_METRICS {
        // Live values may be NaN, which SQLite stores as NULL.
        metric_cols.push_str(&format!(", live_{name} REAL"));
    }
    for name in V1_METRICS {
        metric_cols.push_str(&format!(", delta_{name} REAL NOT NULL DEFAULT 0"));
    }
    tx.execute_batch(&format!(
        "
        CREATE TABLE pulse_meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;

        -- Metrics are referred to by small ids; the name is the stable identity.
        CREATE TABLE pulse_metrics (
            id   INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE
        );

        -- A breakdown key. The grand total is dimension '' and key ''.
        CREATE TABLE pulse_series (
            id        INTEGER PRIMARY KEY,
            dimension TEXT NOT NULL,
            key       TEXT NOT NULL,
            UNIQUE (dimension, key)
        );

        -- One row per successful scrape (or imported Python scrape).
        CREATE TABLE pulse_scrapes (
            id          INTEGER PRIMARY KEY,
            at_ms       INTEGER NOT NULL,
            duration_ms REAL,
            is_reset    INTEGER NOT NULL,
            source      TEXT NOT NULL DEFAULT 'pulse'
            {metric_cols}
        );
        CREATE INDEX pulse_scrapes_at ON pulse_scrapes (at_ms);

        -- Deltas summed per 15-minute UTC bucket. Windows and charts read only
        -- this table, through the primary key, whatever the history length.
        CREATE TABLE pulse_buckets (
            series_id INTEGER NOT NULL,
            start_ms  INTEGER NOT NULL,
            metric_id INTEGER NOT NULL,
            value     REAL NOT NULL,
            PRIMARY KEY (series_id, start_ms, metric_id)
        ) WITHOUT ROWID;
        CREATE INDEX pulse_buckets_start ON pulse_buckets (start_ms);

        -- Running all-time sums; retention never touches them.
        CREATE TABLE pulse_all_time (
            series_id INTEGER NOT NULL,
            metric_id INTEGER NOT NULL,
            value     REAL NOT NULL,
            PRIMARY KEY (series_id, metric_id)
        ) WITHOUT ROWID;

        -- Per-sample-name totals of the last good body (what /raw shows).
        CREATE TABLE pulse_raw (
            name  TEXT PRIMARY KEY,
            value REAL
        ) WITHOUT ROWID;

        -- The tracker's per-series baselines, upserted only when they change.
        CREATE TABLE pulse_tracker_series (
            id           INTEGER PRIMARY KEY,
            ident        TEXT NOT NULL UNIQUE,
            sample       TEXT NOT NULL,
            labels       TEXT NOT NULL,
            created      REAL,
            value        REAL,
            last_seen_ms INTEGER NOT NULL
        );

        CREATE TABLE pulse_status (
            id                   INTEGER PRIMARY KEY CHECK (id = 1),
            last_attempt_ms      INTEGER,
            last_success_ms      INTEGER,
            last_error           TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            last_duration_ms     REAL
        );
        INSERT INTO pulse_status (id) VALUES (1);
        "
    ))?;
    let mut ins = tx.prepare("INSERT INTO pulse_metrics (name) VALUES (?1)")?;
    for name in V1_METRICS {
        ins.execute([name])?;
    }
    Ok(())
}

/// Version 2: per-UTC-day sums of the 15-minute buckets, backfilled from them.
///
/// A month window otherwise sums ~3,000 bucket rows per series and metric;
/// with this table it reads ~30 day rows plus the buckets at its two ragged
/// ends. Writers keep each day row equal to the sum of its buckets. The
/// backfill groups rows by the core's [`utc_day`], so the day edge is defined
/// in one place.
fn v2(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "
        CREATE TABLE pulse_buckets_day (
            series_id INTEGER NOT NULL,
            start_ms  INTEGER NOT NULL,
            metric_id INTEGER NOT NULL,
            value     REAL NOT NULL,
            PRIMARY KEY (series_id, start_ms, metric_id)
        ) WITHOUT ROWID;
        ",
    )?;
    let mut days: BTreeMap<(i64, i64, i64), f64> = BTreeMap::new();
    {
        let mut rows =
            tx.prepare("SELECT series_id, start_ms, metric_id, value FROM pulse_buckets")?;
        let mut rows = rows.query([])?;
        while let Some(row) = rows.next()? {
            let key = (row.get(0)?, utc_day(row.get(1)?), row.get(2)?);
            *days.entry(key).or_default() += row.get::<_, f64>(3)?;
        }
    }
    let mut insert = tx.prepare(
        "INSERT INTO pulse_buckets_day (series_id, start_ms, metric_id, value) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for ((series_id, day, metric_id), value) in days {
        insert.execute(rusqlite::params![series_id, day, metric_id, value])?;
    }
    Ok(())
}

/// Version 3: the alert outbox.
///
/// `pulse_alerts` holds one row per alert decision, unique by its identity
/// (`alert_key`, the core's `AlertId::key`); the row is inserted in the same
/// transaction as the scrape that caused it. `pulse_alert_deliveries` holds
/// the delivery state of each alert per channel. `pulse_litellm_budgets`
/// holds LiteLLM's own budget gauges of the latest good scrape. `IF NOT EXISTS` keeps the
/// step safe on a file whose version was set back by hand.
fn v3(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "
        CREATE TABLE IF NOT EXISTS pulse_alerts (
            id              INTEGER PRIMARY KEY,
            alert_key       TEXT NOT NULL UNIQUE,
            kind            TEXT NOT NULL,
            subject         TEXT NOT NULL,
            period_key      TEXT NOT NULL,
            payload         TEXT NOT NULL,
            idempotency_key TEXT NOT NULL,
            created_ms      INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS pulse_alert_deliveries (
            alert_id        INTEGER NOT NULL,
            channel         TEXT NOT NULL,
            attempts        INTEGER NOT NULL DEFAULT 0,
            next_attempt_ms INTEGER,
            delivered_ms    INTEGER,
            failed_ms       INTEGER,
            last_error      TEXT,
            PRIMARY KEY (alert_id, channel)
        ) WITHOUT ROWID;
        -- LiteLLM's own budget gauges at the latest good scrape.
        CREATE TABLE IF NOT EXISTS pulse_litellm_budgets (
            entity          TEXT NOT NULL,
            ident           TEXT NOT NULL,
            name            TEXT NOT NULL,
            remaining       REAL,
            max_budget      REAL,
            remaining_hours REAL,
            at_ms           INTEGER NOT NULL,
            PRIMARY KEY (entity, ident)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS pulse_alert_deliveries_due
            ON pulse_alert_deliveries (next_attempt_ms)
            WHERE delivered_ms IS NULL AND failed_ms IS NULL;
        ",
    )
}

/// Version 4: latency histograms and deployment health counters, per
/// 15-minute UTC bucket (see `store::latency`).
///
/// Keys are stable names: the histogram and the health counter by their
/// friendly `name()`, dimension and key through `pulse_series`. `le` is the
/// bucket's upper bound as a REAL (`+Inf` included; SQLite stores IEEE
/// infinities). Every primary key starts with what a read fixes (the
/// histogram and the series, or the series), so a window is one range seek
/// per key, and so is retention's purge: there is no `start_ms` index, which
/// would about double the size of these, the largest tables. `IF NOT EXISTS`
/// keeps the step safe on a file whose version was set back by hand.
fn v4_latency(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "
        -- Cumulative bucket increases: observations at or below `le`.
        CREATE TABLE IF NOT EXISTS pulse_latency_buckets (
            histogram TEXT    NOT NULL,
            series_id INTEGER NOT NULL,
            start_ms  INTEGER NOT NULL,
            le        REAL    NOT NULL,
            count     REAL    NOT NULL,
            PRIMARY KEY (histogram, series_id, start_ms, le)
        ) WITHOUT ROWID;

        -- The `_count` and `_sum` increases of the same histograms.
        CREATE TABLE IF NOT EXISTS pulse_latency_totals (
            histogram TEXT    NOT NULL,
            series_id INTEGER NOT NULL,
            start_ms  INTEGER NOT NULL,
            count     REAL    NOT NULL,
            sum       REAL    NOT NULL,
            PRIMARY KEY (histogram, series_id, start_ms)
        ) WITHOUT ROWID;

        -- Deployment health counter increases (cooldowns, fallbacks).
        CREATE TABLE IF NOT EXISTS pulse_health_buckets (
            counter   TEXT    NOT NULL,
            series_id INTEGER NOT NULL,
            start_ms  INTEGER NOT NULL,
            value     REAL    NOT NULL,
            PRIMARY KEY (series_id, start_ms, counter)
        ) WITHOUT ROWID;
        ",
    )
}

/// Version 5: the tracker state per scrape target, compact.
///
/// `pulse_tracker_series` repeated every series' sample name and labels (as
/// JSON, plus an identity string with a unique index: about 900 bytes a
/// series). Now a series row is four integers, its value and when it was
/// last seen, keyed by (target, sample, label set, `_created` bits); label
/// sets and sample names are interned, and each target's header (the
/// `tracker_header` meta row before) is its `pulse_targets` row. The single
/// target of earlier versions gets the name `""` (`DEFAULT_TARGET`), with its state carried over
/// exactly: the labels' JSON text as it was, `_created` by its bits.
fn v5_compact_state(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    use super::state::{DEFAULT_TARGET, created_key};
    tx.execute_batch(
        "
        CREATE TABLE IF NOT EXISTS pulse_targets (
            id             INTEGER PRIMARY KEY,
            name           TEXT NOT NULL UNIQUE,
            -- The tracker header; NULL observations: no state saved yet.
            state_version  INTEGER,
            observations   INTEGER,
            last_at_ms     INTEGER,
            last_target_ms INTEGER
        );
        CREATE TABLE IF NOT EXISTS pulse_samples (
            id   INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE
        );
        CREATE TABLE IF NOT EXISTS pulse_labelsets (
            id     INTEGER PRIMARY KEY,
            labels TEXT NOT NULL UNIQUE
        );
        -- created_key: the IEEE bits of `_created`, -1 without one.
        CREATE TABLE IF NOT EXISTS pulse_state_series (
            target_id    INTEGER NOT NULL,
            sample_id    INTEGER NOT NULL,
            labelset_id  INTEGER NOT NULL,
            created_key  INTEGER NOT NULL,
            value        REAL,
            last_seen_ms INTEGER NOT NULL,
            PRIMARY KEY (target_id, sample_id, labelset_id, created_key)
        ) WITHOUT ROWID;
        ",
    )?;
    tx.execute(
        "INSERT INTO pulse_targets (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
        [DEFAULT_TARGET],
    )?;
    let target: i64 = tx.query_row(
        "SELECT id FROM pulse_targets WHERE name = ?1",
        [DEFAULT_TARGET],
        |r| r.get(0),
    )?;
    let header: Option<String> = tx
        .query_row(
            "SELECT value FROM pulse_meta WHERE key = 'tracker_header'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(header) = header {
        // An unreadable header leaves the target without state, as reading
        // it failed before: the next scrape is a baseline.
        if let Ok(h) = serde_json::from_str::<serde_json::Value>(&header) {
            tx.execute(
                "UPDATE pulse_targets SET state_version = ?2, observations = ?3, \
                 last_at_ms = ?4, last_target_ms = ?5 WHERE id = ?1",
                rusqlite::params![
                    target,
                    h["version"].as_i64(),
                    h["observations"].as_i64(),
                    h["last_at_ms"].as_i64(),
                    h["last_target_ms"].as_i64()
                ],
            )?;
        }
    }
    let old_table: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'pulse_tracker_series')",
        [],
        |r| r.get(0),
    )?;
    if old_table {
        tx.execute_batch(
            "
            INSERT OR IGNORE INTO pulse_samples (name) SELECT DISTINCT sample FROM pulse_tracker_series;
            INSERT OR IGNORE INTO pulse_labelsets (labels) SELECT DISTINCT labels FROM pulse_tracker_series;
            ",
        )?;
        let mut read = tx.prepare(
            "SELECT s.id, l.id, t.created, t.value, t.last_seen_ms FROM pulse_tracker_series t \
             JOIN pulse_samples s ON s.name = t.sample JOIN pulse_labelsets l ON l.labels = t.labels",
        )?;
        let mut insert = tx.prepare(
            "INSERT OR REPLACE INTO pulse_state_series \
             (target_id, sample_id, labelset_id, created_key, value, last_seen_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut rows = read.query([])?;
        while let Some(row) = rows.next()? {
            let created: Option<f64> = row.get(2)?;
            let value: Option<f64> = row.get(3)?;
            let last_seen_ms: i64 = row.get(4)?;
            insert.execute(rusqlite::params![
                target,
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                created_key(created),
                value,
                last_seen_ms
            ])?;
        }
        drop(rows);
        tx.execute_batch("DROP TABLE pulse_tracker_series;")?;
    }
    // A database without a saved state (a new one) keeps no unnamed target.
    tx.execute(
        "DELETE FROM pulse_targets WHERE id = ?1 AND observations IS NULL \
         AND NOT EXISTS (SELECT 1 FROM pulse_state_series WHERE target_id = ?1)",
        [target],
    )?;
    tx.execute("DELETE FROM pulse_meta WHERE key = 'tracker_header'", [])?;
    Ok(())
}

/// Version 6: the 15-minute buckets lose their `start_ms` index.
///
/// Every read finds buckets through the primary key (series, start, metric),
/// and retention deletes them per series through it too
/// ([`Store::purge`](super::Store::purge)), as the latency tables always
/// have. The index was as large as the table itself (21 MB a day at 100,000
/// tracked series) and doubled the pages each scrape writes.
fn v6_no_bucket_start_index(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch("DROP INDEX IF EXISTS pulse_buckets_start;")
}

/// Version 7: a label set is the list of its interned label pairs.
///
/// A label set was its labels' JSON text, and its unique index copied that
/// text again: 12.6 MB of a 38 MB database after a simulated day at 100,000
/// series, whose 20,000 label sets share about 4,900 distinct name/value
/// pairs. Now each pair is one `pulse_labels` row and a label set's `pairs`
/// column lists their ids in label order (`state::encode_pair`, about two
/// bytes a label). Label set ids are kept, so `pulse_state_series` is
/// untouched; two texts with the same pairs (never written by this project)
/// become one set. A text that does not parse as pairs made the host start
/// without its baselines and rewrite them at the next scrape; the migration
/// clears the saved state then, which is that same start. A file already in
/// this shape (its version set back by hand) is left as it is.
fn v7_label_pairs(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    use super::state::encode_pair;
    // A file whose version was set back by hand may have the new shape.
    let done: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info('pulse_labelsets') WHERE name = 'pairs')",
        [],
        |r| r.get(0),
    )?;
    if done {
        return Ok(());
    }
    tx.execute_batch(
        "
        CREATE TABLE pulse_labels (
            id    INTEGER PRIMARY KEY,
            name  TEXT NOT NULL,
            value TEXT NOT NULL,
            UNIQUE (name, value)
        );
        -- pairs: the pulse_labels ids in label order, each an unsigned LEB128.
        CREATE TABLE pulse_labelsets_v7 (
            id    INTEGER PRIMARY KEY,
            pairs BLOB NOT NULL UNIQUE
        );
        ",
    )?;
    let mut unreadable = 0_usize;
    let mut merged: Vec<(i64, i64)> = Vec::new();
    {
        let mut pair_ids: HashMap<(String, String), i64> = HashMap::new();
        let mut insert_pair =
            tx.prepare("INSERT INTO pulse_labels (name, value) VALUES (?1, ?2)")?;
        let mut insert_set = tx.prepare(
            "INSERT INTO pulse_labelsets_v7 (id, pairs) VALUES (?1, ?2) ON CONFLICT (pairs) DO NOTHING",
        )?;
        let mut find_set = tx.prepare("SELECT id FROM pulse_labelsets_v7 WHERE pairs = ?1")?;
        let mut read = tx.prepare("SELECT id, labels FROM pulse_labelsets ORDER BY id")?;
        let mut rows = read.query([])?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let labels = row
                .get_ref(1)?
                .as_str()
                .ok()
                .and_then(|text| serde_json::from_str::<Vec<(String, String)>>(text).ok());
            let Some(labels) = labels else {
                unreadable += 1;
                continue;
            };
            let mut pairs = Vec::with_capacity(2 * labels.len());
            for pair in labels {
                let pair_id = match pair_ids.get(&pair) {
                    Some(&pair_id) => pair_id,
                    None => {
                        insert_pair.execute([&pair.0, &pair.1])?;
                        let pair_id = tx.last_insert_rowid();
                        pair_ids.insert(pair, pair_id);
                        pair_id
                    }
                };
                encode_pair(&mut pairs, pair_id);
            }
            if insert_set.execute(rusqlite::params![id, pairs])? == 0 {
                merged.push((id, find_set.query_row([&pairs], |r| r.get(0))?));
            }
        }
    }
    for (from, to) in merged {
        tx.execute(
            "UPDATE OR REPLACE pulse_state_series SET labelset_id = ?2 WHERE labelset_id = ?1",
            [from, to],
        )?;
    }
    if unreadable > 0 {
        tracing::warn!(
            unreadable,
            "stored label sets were unreadable; the counter baselines start afresh"
        );
        tx.execute_batch(
            "
            DELETE FROM pulse_state_series;
            DELETE FROM pulse_labelsets_v7;
            DELETE FROM pulse_labels;
            UPDATE pulse_targets SET state_version = NULL, observations = NULL,
                last_at_ms = NULL, last_target_ms = NULL;
            ",
        )?;
    }
    tx.execute_batch(
        "
        DROP TABLE pulse_labelsets;
        ALTER TABLE pulse_labelsets_v7 RENAME TO pulse_labelsets;
        ",
    )
}
