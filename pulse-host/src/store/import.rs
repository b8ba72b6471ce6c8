//! One-time import of a Python litellm-pulse (0.2.x/0.3.0) database.
//!
//! Users switching over point `--db-path` at their existing file. The
//! reference keeps `scrapes` (one row per scrape: `ts` in seconds, `is_reset`,
//! `raw_<metric>` and `delta_<metric>` per friendly metric) and, since 0.3.0,
//! `model_snapshots` (`ts`, `model`, `metric`, `raw`, `delta`, `is_reset`).
//!
//! Decisions:
//! - The Python tables are left untouched, so going back to the Python
//!   release keeps working on its own data. Our tables are all `pulse_*`.
//! - The import runs once, in one transaction, and is remembered in
//!   `pulse_meta` (`python_import`); a crash half-way imports nothing.
//! - Each Python scrape becomes a history row (`source = 'python'`) and its
//!   deltas go to the 15-minute buckets and all-time sums; each per-model row
//!   goes to the `model` dimension. The last Python raw values become the
//!   `/raw` totals (under the catalog's family names) unless we already
//!   scraped.
//! - Deltas are taken as the reference stored them, with two corrections
//!   that follow our counter semantics: a negative delta (reference fault 1,
//!   a counter that fell without tripping its reset rule) is replaced by the
//!   raw value, i.e. counted as a reset; gauge deltas (`in_flight_requests`)
//!   are 0. Without such rows the imported sums equal the reference's own.
//! - Python rows at or after our first own scrape are skipped: both programs
//!   wrote the same file at the same time, and counting both would double.
//! - The tracker's per-series baselines cannot be rebuilt from per-metric
//!   sums, so our first scrape after the import is a baseline: traffic
//!   between the last Python scrape and it is not counted.

use std::collections::{BTreeMap, HashMap};

use pulse_core::Label;
use pulse_core::catalog::{Catalog, Dimension, Metric, MetricValues, dimension_key};
use pulse_core::window::{storage_bucket, utc_day};
use rusqlite::{OptionalExtension, Transaction, params};

use super::write::{SeriesIds, insert_scrape, set_meta, write_raw};
use super::{Store, StoreError};

/// What [`Store::import_python`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportOutcome {
    /// The file has no Python `scrapes` table.
    NoPythonTables,
    /// An earlier run imported it already.
    AlreadyImported,
    /// Imported now.
    Imported(ImportReport),
}

/// Counts of an import, also stored in `pulse_meta`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    /// Python scrape rows imported.
    pub scrapes: usize,
    /// Python per-model rows imported.
    pub model_rows: usize,
    /// Rows skipped: unknown metric names, or written after our first scrape.
    pub skipped_rows: usize,
    /// Negative deltas replaced by the raw value (see the module docs).
    pub negative_deltas_replaced: usize,
    /// Time of the first imported scrape (ms since the epoch).
    pub first_ms: Option<i64>,
    /// Time of the last imported scrape (ms since the epoch).
    pub last_ms: Option<i64>,
}

/// Deltas aggregated per bucket before writing: (bucket, metric) → sum.
type Buckets = BTreeMap<(i64, usize), f64>;

impl Store {
    /// Imports the Python reference's tables found in this database file,
    /// once. `catalog` names the `/raw` totals. See the module docs.
    pub fn import_python(&mut self, catalog: &Catalog) -> Result<ImportOutcome, StoreError> {
        if self.meta("python_import")?.is_some() {
            return Ok(ImportOutcome::AlreadyImported);
        }
        let scrape_cols = table_columns(&self.conn, "scrapes")?;
        if !["ts", "is_reset"]
            .iter()
            .all(|c| scrape_cols.iter().any(|s| s == c))
        {
            return Ok(ImportOutcome::NoPythonTables);
        }
        let model_cols = table_columns(&self.conn, "model_snapshots")?;
        let has_models = ["ts", "model", "metric", "raw", "delta"]
            .iter()
            .all(|c| model_cols.iter().any(|s| s == c));
        let cutoff: Option<i64> = self.conn.query_row(
            "SELECT MIN(at_ms) FROM pulse_scrapes WHERE source = 'pulse'",
            [],
            |row| row.get(0),
        )?;
        let have_raw = self.meta("raw_at_ms")?.is_some();

        let mut report = ImportReport::default();
        let mut staged_ids = HashMap::new();
        let mut raw_written = None;
        self.invalidate();
        let tx = self.conn.transaction()?;
        {
            let mut ids = SeriesIds {
                known: &self.series_ids,
                staged: &mut staged_ids,
            };

            // Per-scrape totals.
            let present: Vec<(Metric, bool, bool)> = Metric::REFERENCE
                .into_iter()
                .map(|m| {
                    let has = |prefix: &str| {
                        let col = format!("{prefix}{}", m.name());
                        scrape_cols.contains(&col)
                    };
                    (m, has("raw_"), has("delta_"))
                })
                .collect();
            let select_cols: Vec<String> = present
                .iter()
                .flat_map(|(m, raw, delta)| {
                    let raw = if *raw {
                        format!("raw_{}", m.name())
                    } else {
                        "NULL".into()
                    };
                    let delta = if *delta {
                        format!("delta_{}", m.name())
                    } else {
                        "NULL".into()
                    };
                    [raw, delta]
                })
                .collect();
            let mut total_buckets = Buckets::new();
            let mut total_all = MetricValues::default();
            let mut last_live = None;
            {
                let mut stmt = tx.prepare(&format!(
                    "SELECT ts, is_reset, {} FROM scrapes ORDER BY ts, id",
                    select_cols.join(", ")
                ))?;
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    let at_ms = row.get::<_, i64>(0)?.saturating_mul(1000);
                    if cutoff.is_some_and(|c| at_ms >= c) {
                        report.skipped_rows += 1;
                        continue;
                    }
                    let is_reset = row.get::<_, Option<i64>>(1)?.unwrap_or(0) != 0;
                    let mut live = MetricValues::default();
                    let mut deltas = MetricValues::default();
                    for (i, (m, _, _)) in present.iter().enumerate() {
                        let raw = row.get::<_, Option<f64>>(2 + 2 * i)?.unwrap_or(0.0);
                        let delta = row.get::<_, Option<f64>>(3 + 2 * i)?.unwrap_or(0.0);
                        live.set(*m, raw);
                        let delta = corrected(*m, raw, delta, &mut report);
                        deltas.set(*m, delta);
                        if delta != 0.0 {
                            *total_buckets
                                .entry((storage_bucket(at_ms), m.index()))
                                .or_insert(0.0) += delta;
                            total_all.add(*m, delta);
                        }
                    }
                    insert_scrape(
                        &tx,
                        &self.insert_scrape_sql,
                        at_ms,
                        None,
                        is_reset,
                        "python",
                        &live,
                        &deltas,
                    )?;
                    report.scrapes += 1;
                    report.first_ms.get_or_insert(at_ms);
                    report.last_ms = Some(at_ms);
                    last_live = Some((at_ms, live));
                }
            }
            let total = ids.get(&tx, None, "")?;
            write_aggregates(&tx, &self.metric_ids, total, &total_buckets, &total_all)?;

            // Per-model rows.
            if has_models {
                let mut per_model: BTreeMap<String, (Buckets, MetricValues)> = BTreeMap::new();
                let mut stmt = tx.prepare(
                    "SELECT ts, model, metric, raw, delta FROM model_snapshots ORDER BY ts, id",
                )?;
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    let at_ms = row.get::<_, i64>(0)?.saturating_mul(1000);
                    let metric = row.get_ref(2)?.as_str().ok().and_then(Metric::from_name);
                    let Some(metric) = metric.filter(|_| cutoff.is_none_or(|c| at_ms < c)) else {
                        report.skipped_rows += 1;
                        continue;
                    };
                    let model: String = row.get::<_, Option<String>>(1)?.unwrap_or_default();
                    let raw = row.get::<_, Option<f64>>(3)?.unwrap_or(0.0);
                    let delta = row.get::<_, Option<f64>>(4)?.unwrap_or(0.0);
                    let delta = corrected(metric, raw, delta, &mut report);
                    report.model_rows += 1;
                    // The core decides what a model key is ("None" → "").
                    let label = Label::new("model", model.as_str());
                    let key = dimension_key(Dimension::Model, std::slice::from_ref(&label));
                    let (buckets, all) = per_model.entry(key).or_default();
                    if delta != 0.0 {
                        *buckets
                            .entry((storage_bucket(at_ms), metric.index()))
                            .or_insert(0.0) += delta;
                        all.add(metric, delta);
                    }
                }
                for (key, (buckets, all)) in &per_model {
                    let id = ids.get(&tx, Some(Dimension::Model), key)?;
                    write_aggregates(&tx, &self.metric_ids, id, buckets, all)?;
                }
            }

            if let Some((at_ms, live)) = last_live.filter(|_| !have_raw) {
                let raw: Vec<(String, f64)> = Metric::REFERENCE
                    .into_iter()
                    .map(|m| (catalog.family(m).to_owned(), live.get(m)))
                    .collect();
                raw_written = Some(write_raw(&tx, &self.raw_written, at_ms, &raw)?);
            }
            set_meta(&tx, "python_import", &serde_json::to_string(&report)?)?;
        }
        tx.commit()?;
        // The import filled the page cache with rows no request reads again.
        self.release_memory();
        self.series_ids.extend(staged_ids);
        if let Some(raw) = raw_written {
            self.raw_written = raw;
        }
        tracing::info!(
            scrapes = report.scrapes,
            model_rows = report.model_rows,
            skipped = report.skipped_rows,
            negative_deltas_replaced = report.negative_deltas_replaced,
            "imported the Python litellm-pulse database"
        );
        Ok(ImportOutcome::Imported(report))
    }
}

/// Applies the two corrections described in the module docs.
fn corrected(metric: Metric, raw: f64, delta: f64, report: &mut ImportReport) -> f64 {
    if metric.is_gauge() || !delta.is_finite() {
        return 0.0;
    }
    if delta < 0.0 {
        report.negative_deltas_replaced += 1;
        return if raw.is_finite() { raw.max(0.0) } else { 0.0 };
    }
    delta
}

/// Adds pre-summed bucket values, their day sums and all-time sums of one
/// series.
fn write_aggregates(
    tx: &Transaction<'_>,
    metric_ids: &[i64; Metric::COUNT],
    series_id: i64,
    buckets: &Buckets,
    all: &MetricValues,
) -> Result<(), StoreError> {
    let mut bucket = tx.prepare_cached(
        "INSERT INTO pulse_buckets (series_id, start_ms, metric_id, value) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (series_id, start_ms, metric_id) DO UPDATE SET value = value + excluded.value",
    )?;
    // Day rows sum the same bucket values, so each equals its buckets' sum.
    let mut days = Buckets::new();
    for (&(start_ms, metric), &value) in buckets {
        bucket.execute(params![series_id, start_ms, metric_ids[metric], value])?;
        *days.entry((utc_day(start_ms), metric)).or_insert(0.0) += value;
    }
    let mut day = tx.prepare_cached(
        "INSERT INTO pulse_buckets_day (series_id, start_ms, metric_id, value) \
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (series_id, start_ms, metric_id) \
         DO UPDATE SET value = value + excluded.value",
    )?;
    for (&(start_ms, metric), &value) in &days {
        day.execute(params![series_id, start_ms, metric_ids[metric], value])?;
    }
    let mut all_time = tx.prepare_cached(
        "INSERT INTO pulse_all_time (series_id, metric_id, value) VALUES (?1, ?2, ?3) \
         ON CONFLICT (series_id, metric_id) DO UPDATE SET value = value + excluded.value",
    )?;
    for (metric, value) in all.iter().filter(|(_, v)| *v != 0.0) {
        all_time.execute(params![series_id, metric_ids[metric.index()], value])?;
    }
    Ok(())
}

/// Column names of `table`, empty when it does not exist.
fn table_columns(conn: &rusqlite::Connection, table: &str) -> Result<Vec<String>, StoreError> {
    let exists: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [table],
            |row| row.get(0),
        )
        .optional()?;
    if exists.is_none() {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let cols = stmt
        .query_map([table], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(cols)
}
