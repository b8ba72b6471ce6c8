//! The read path: window and all-time sums, breakdowns, history rows, the
//! raw totals and chart points. Window sums read whole UTC days from the daily
//! rollup and the ragged ends from the 15-minute buckets, with the row ranges
//! from [`pulse_core::window::cover`]; repeated reads are served from the
//! [read cache](super::cache).

use pulse_core::catalog::{Dimension, Metric, MetricValues};
use pulse_core::window::{STORAGE_BUCKET_MS, TimeRange, UTC_DAY_MS, cover};
use rusqlite::params;

use super::cache::{READ_CACHE_CAP, bucket_aligned};
use super::{HistoryRow, KeyedPoints, RawTotals, Store, StoreError};

/// Window totals: one primary-key range seek on the total's rows of a table
/// (`{table}` is [`BUCKET_TABLES`]).
pub(super) const WINDOW_TOTALS_SQL: &str = "SELECT metric_id, SUM(value) FROM {table} \
     WHERE series_id = ?1 AND start_ms >= ?2 AND start_ms < ?3 GROUP BY metric_id";

/// Window breakdown: one primary-key range seek per key of the dimension.
pub(super) const WINDOW_BREAKDOWN_SQL: &str = "SELECT s.key, b.metric_id, SUM(b.value) FROM pulse_series s \
     JOIN {table} b ON b.series_id = s.id \
     WHERE s.dimension = ?1 AND b.start_ms >= ?2 AND b.start_ms < ?3 \
     GROUP BY s.id, b.metric_id ORDER BY s.key";

/// The row widths windows are summed from, coarsest first, and their tables:
/// whole UTC days from the daily rollup, the ragged ends from the 15-minute
/// buckets (local midnights fall on 15-minute UTC edges, not on UTC days).
pub(super) const BUCKET_TABLES: [(i64, &str); 2] = [
    (UTC_DAY_MS, "pulse_buckets_day"),
    (STORAGE_BUCKET_MS, "pulse_buckets"),
];

/// The table holding rows of width `unit_ms` (the 15-minute one by default).
pub(super) fn table_of(unit_ms: i64) -> &'static str {
    BUCKET_TABLES
        .iter()
        .find(|(u, _)| *u == unit_ms)
        .map_or("pulse_buckets", |(_, t)| t)
}

impl Store {
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
