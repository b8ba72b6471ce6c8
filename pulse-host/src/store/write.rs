//! The write path: one transaction per scrape (or per batch) that stores the
//! history row, adds every delta to its 15-minute bucket, its UTC day and the
//! all-time sum, replaces the raw totals, saves the tracker state and takes
//! the alert decisions the scrape causes (`outbox`); and retention, which deletes old rows but never all-time sums.

use std::collections::HashMap;

use pulse_core::catalog::{Dimension, Metric, MetricValues};
use pulse_core::window::{UTC_DAY_MS, storage_bucket, utc_day};
use rusqlite::{CachedStatement, Transaction, params};

use super::state::{Interned, prune_interned, write_state};
use super::{ScrapeOutcome, ScrapeRecord, ScrapeStatus, Store, StoreError, StoreMode};
use crate::alerts::litellm::LitellmBudget;

impl Store {
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
        self.record_batch_with(recs, None)
    }

    /// [`Store::record_batch`], also replacing LiteLLM's budget gauges with
    /// `litellm` (those of the newest good scrape) in the same transaction,
    /// so the alerts they cause are decided with them.
    pub fn record_batch_with(
        &mut self,
        recs: &[ScrapeRecord<'_>],
        litellm: Option<&[LitellmBudget]>,
    ) -> Result<(), StoreError> {
        if recs.is_empty() {
            return Ok(());
        }
        self.with_write_cache(|store| store.record_batch_in_tx(recs, litellm))
    }

    /// The body of [`Store::record_batch_with`], under the write's page cache.
    fn record_batch_in_tx(
        &mut self,
        recs: &[ScrapeRecord<'_>],
        litellm: Option<&[LitellmBudget]>,
    ) -> Result<(), StoreError> {
        self.invalidate();
        let prev_status = self.status.clone();
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
                states,
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
            let mut deltas = DeltaWriter::new(&tx)?;
            for (metric, delta) in obs.deltas.iter() {
                deltas.add(total, bucket, self.metric_ids[metric.index()], delta)?;
            }
            for b in &obs.breakdown {
                let id = ids.get(&tx, Some(b.dimension), &b.key)?;
                deltas.add(id, bucket, self.metric_ids[b.metric.index()], b.delta)?;
            }
            drop(deltas);
            super::latency::write_latency(&tx, &mut ids, bucket, &obs.latency)?;
            // Each record compares with what the previous one of the batch wrote.
            let raw_before = staged.raw.as_ref().unwrap_or(&self.raw_written);
            let raw_now = write_raw(&tx, raw_before, rec.at_ms, raw)?;
            staged.raw = Some(raw_now);
            for (target, changes) in states.iter() {
                write_state(&tx, target, changes, &self.interned, &mut staged.interned)?;
            }
        }
        if wrote_scrape && self.mode == StoreMode::Memory {
            cap_scrapes(&tx, self.history_size)?;
        }
        if let (Some(budgets), Some(last)) = (litellm, recs.last()) {
            super::outbox::write_litellm_budgets(&tx, budgets, last.at_ms)?;
        }
        // The alert decisions this batch caused commit with it, or not at all.
        if let (Some(rules), Some(last)) = (&self.alert_rules, recs.last()) {
            super::outbox::decide(
                &tx,
                rules,
                &self.units,
                &self.metric_ids,
                &prev_status,
                &self.status,
                last.at_ms,
                wrote_scrape,
            )?;
        }
        tx.commit()?;
        self.truncate_wal();
        // The caches follow the database only once the transaction is durable.
        self.series_ids.extend(staged.series_ids);
        self.interned.absorb(staged.interned);
        if let Some(raw) = staged.raw {
            self.raw_written = raw;
        }
        Ok(())
    }

    /// Retention: deletes scrape rows before `before_ms` and the buckets that
    /// end at or before it (a bucket straddling the cut is kept whole).
    /// All-time sums are unchanged. Returns the number of rows deleted.
    pub fn purge(&mut self, before_ms: i64) -> Result<usize, StoreError> {
        self.invalidate();
        let tx = self.conn.transaction()?;
        let scrapes = tx.execute("DELETE FROM pulse_scrapes WHERE at_ms < ?1", [before_ms])?;
        let cut = storage_bucket(before_ms);
        // Per series, through the primary key (the tables have no index on
        // `start_ms` alone; schema version 6).
        let series: Vec<i64> = tx
            .prepare("SELECT id FROM pulse_series")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        let mut buckets = 0;
        {
            let mut delete = tx.prepare(PURGE_BUCKETS_SQL)?;
            for &id in &series {
                buckets += delete.execute(params![id, cut])?;
            }
        }
        let buckets = buckets + super::latency::purge_latency(&tx, &series, cut)?;
        // Whole days before the cut go; the day it splits is summed afresh
        // from the buckets it keeps, so each day row stays their sum.
        let day = utc_day(cut);
        tx.execute("DELETE FROM pulse_buckets_day WHERE start_ms <= ?1", [day])?;
        let pruned = prune_interned(&tx)?;
        if day < cut {
            tx.execute(RESUM_DAY_SQL, params![day, day.saturating_add(UTC_DAY_MS)])?;
        }
        tx.commit()?;
        self.interned.committed_prune(pruned);
        self.truncate_wal();
        if scrapes + buckets > 0 {
            tracing::info!(scrapes, buckets, before_ms, "purged old rows");
        }
        Ok(scrapes + buckets)
    }
}

/// Retention's delete of one series' buckets before a cut.
pub(super) const PURGE_BUCKETS_SQL: &str =
    "DELETE FROM pulse_buckets WHERE series_id = ?1 AND start_ms < ?2";

/// Retention's new sum of the UTC day it cuts, from the buckets it keeps
/// (`?1` the day, `?2` the next), per series through the primary key
/// (SQLite's `CROSS JOIN` keeps the series as the outer loop).
pub(super) const RESUM_DAY_SQL: &str = "INSERT INTO pulse_buckets_day (series_id, start_ms, metric_id, value) \
     SELECT b.series_id, ?1, b.metric_id, SUM(b.value) FROM pulse_series s \
     CROSS JOIN pulse_buckets b ON b.series_id = s.id AND b.start_ms >= ?1 AND b.start_ms < ?2 \
     GROUP BY b.series_id, b.metric_id";

/// Cache updates that become visible only after the transaction commits.
#[derive(Default)]
pub(super) struct Staged {
    series_ids: HashMap<(&'static str, String), i64>,
    raw: Option<HashMap<String, u64>>,
    interned: Interned,
}

/// Resolves breakdown keys to `pulse_series` ids, creating rows as needed.
pub(super) struct SeriesIds<'a> {
    pub(super) known: &'a HashMap<(&'static str, String), i64>,
    pub(super) staged: &'a mut HashMap<(&'static str, String), i64>,
}

impl SeriesIds<'_> {
    pub(super) fn get(
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

/// The upserts that add a delta to its bucket, its day and the all-time
/// sum, prepared once per transaction (a scrape at 100,000 series adds about
/// 12,000 breakdown deltas).
pub(super) struct DeltaWriter<'t> {
    bucket: CachedStatement<'t>,
    day: CachedStatement<'t>,
    all_time: CachedStatement<'t>,
}

impl<'t> DeltaWriter<'t> {
    pub(super) fn new(tx: &'t Transaction<'_>) -> Result<Self, StoreError> {
        Ok(DeltaWriter {
            bucket: tx.prepare_cached(
                "INSERT INTO pulse_buckets (series_id, start_ms, metric_id, value) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (series_id, start_ms, metric_id) \
                 DO UPDATE SET value = value + excluded.value",
            )?,
            day: tx.prepare_cached(
                "INSERT INTO pulse_buckets_day (series_id, start_ms, metric_id, value) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (series_id, start_ms, metric_id) \
                 DO UPDATE SET value = value + excluded.value",
            )?,
            all_time: tx.prepare_cached(
                "INSERT INTO pulse_all_time (series_id, metric_id, value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (series_id, metric_id) DO UPDATE SET value = value + excluded.value",
            )?,
        })
    }

    /// Adds one delta to its bucket, its day and the all-time sum. Zero and
    /// non-finite deltas are skipped: the tracker never produces the latter,
    /// and zero rows would only grow the table.
    pub(super) fn add(
        &mut self,
        series_id: i64,
        bucket_ms: i64,
        metric_id: i64,
        delta: f64,
    ) -> Result<(), StoreError> {
        if delta == 0.0 || !delta.is_finite() {
            return Ok(());
        }
        self.bucket
            .execute(params![series_id, bucket_ms, metric_id, delta])?;
        self.day
            .execute(params![series_id, utc_day(bucket_ms), metric_id, delta])?;
        self.all_time
            .execute(params![series_id, metric_id, delta])?;
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn insert_scrape(
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
pub(super) fn next_status(prev: &ScrapeStatus, rec: &ScrapeRecord<'_>) -> ScrapeStatus {
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

pub(super) fn write_status(tx: &Transaction<'_>, s: &ScrapeStatus) -> Result<(), StoreError> {
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

pub(super) fn set_meta(tx: &Transaction<'_>, key: &str, value: &str) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO pulse_meta (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([key, value])?;
    Ok(())
}

/// Replaces the stored raw totals, writing only names whose value changed.
pub(super) fn write_raw(
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

/// Keeps only the newest `keep` scrape rows (memory mode).
pub(super) fn cap_scrapes(tx: &Transaction<'_>, keep: usize) -> Result<(), StoreError> {
    let keep = i64::try_from(keep).unwrap_or(i64::MAX);
    tx.prepare_cached(
        "DELETE FROM pulse_scrapes WHERE id NOT IN \
         (SELECT id FROM pulse_scrapes ORDER BY at_ms DESC, id DESC LIMIT ?1)",
    )?
    .execute([keep])?;
    Ok(())
}
