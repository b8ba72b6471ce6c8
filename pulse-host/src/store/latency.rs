//! Latency histograms and deployment health counters in the 15-minute
//! buckets: written in the scrape's transaction, read back as the core's
//! [`BucketCounts`] and [`HealthValues`], purged with the other buckets.
//!
//! Why it is shaped this way:
//! - **Rows, not blobs.** A histogram increase is one row per bucket bound
//!   `le` (`pulse_latency_buckets`) plus one `_count`/`_sum` row
//!   (`pulse_latency_totals`), added up with `ON CONFLICT … count + excluded`
//!   like the metric buckets, so a write is a few upserts and never a
//!   read-modify-write. Cumulative bucket increases add up bucket by bucket
//!   (see [`pulse_core::latency`]), so SQL only sums counts of the same `le`
//!   between bounds the core computed; the quantiles are the core's.
//! - **Only what changed.** The tracker reports a histogram of a key only
//!   when it changed, with every `le` of its layout (zero increases too: the
//!   bound below the first non-zero bucket is where interpolation starts),
//!   and health counters only when non-zero; the write is proportional to
//!   that.
//! - **Stable names.** Histograms and counters are stored by their
//!   friendly `name()`, dimension and key through `pulse_series`, never by
//!   enum position. Rows of names this build does not know are ignored.
//! - **Totals from any dimension.** Every series has exactly one key per
//!   dimension ([`pulse_core::catalog::dimension_key`]), so the keys of one
//!   dimension add up to the total; the total is read as the sum over the
//!   model keys instead of being stored a seventh time.

use std::collections::BTreeMap;

use pulse_core::catalog::{Dimension, HealthCounter, Histogram};
use pulse_core::latency::{Bucket, BucketCounts, HealthValues};
use pulse_core::track::LatencyDeltas;
use pulse_core::window::TimeRange;
use rusqlite::{Transaction, params};

use super::cache::bucket_aligned;
use super::write::SeriesIds;
use super::{Store, StoreError};

/// Per key, the storage buckets' histograms: `(bucket start ms, counts)` in
/// time order.
pub type KeyedHistograms = (String, Vec<(i64, BucketCounts)>);

/// Per key of a dimension, the bucket counts of one histogram summed per
/// `le` over a range. `CROSS JOIN` keeps the keys of the dimension as the
/// outer loop, so each is one primary-key range seek (SQLite would
/// otherwise read the histogram's whole history and filter it).
pub(super) const LATENCY_BUCKETS_SQL: &str = "SELECT s.key, l.le, SUM(l.count) FROM pulse_series s \
     CROSS JOIN pulse_latency_buckets l ON l.series_id = s.id \
     WHERE s.dimension = ?1 AND l.histogram = ?2 AND l.start_ms >= ?3 AND l.start_ms < ?4 \
     GROUP BY s.id, l.le ORDER BY s.key, l.le";

/// Per key, the `_count` and `_sum` increases summed over a range.
pub(super) const LATENCY_TOTALS_SQL: &str = "SELECT s.key, SUM(t.count), SUM(t.sum) FROM pulse_series s \
     CROSS JOIN pulse_latency_totals t ON t.series_id = s.id \
     WHERE s.dimension = ?1 AND t.histogram = ?2 AND t.start_ms >= ?3 AND t.start_ms < ?4 \
     GROUP BY s.id";

/// Per key and 15-minute bucket, the bucket counts, for charts.
pub(super) const LATENCY_POINTS_SQL: &str = "SELECT s.key, l.start_ms, l.le, l.count FROM pulse_series s \
     CROSS JOIN pulse_latency_buckets l ON l.series_id = s.id \
     WHERE s.dimension = ?1 AND l.histogram = ?2 AND l.start_ms >= ?3 AND l.start_ms < ?4 \
     ORDER BY s.key, l.start_ms, l.le";

/// Per key and 15-minute bucket, `_count` and `_sum`, for charts.
pub(super) const LATENCY_POINT_TOTALS_SQL: &str = "SELECT s.key, t.start_ms, t.count, t.sum FROM pulse_series s \
     CROSS JOIN pulse_latency_totals t ON t.series_id = s.id \
     WHERE s.dimension = ?1 AND t.histogram = ?2 AND t.start_ms >= ?3 AND t.start_ms < ?4";

/// Per key, the health counters summed over a range.
pub(super) const HEALTH_SQL: &str = "SELECT s.key, h.counter, SUM(h.value) FROM pulse_series s \
     CROSS JOIN pulse_health_buckets h ON h.series_id = s.id \
     WHERE s.dimension = ?1 AND h.start_ms >= ?2 AND h.start_ms < ?3 \
     GROUP BY s.id, h.counter ORDER BY s.key";

/// Adds one observation's latency and health increases to the 15-minute
/// bucket starting at `bucket_ms`, in the scrape's transaction.
pub(super) fn write_latency(
    tx: &Transaction<'_>,
    ids: &mut SeriesIds<'_>,
    bucket_ms: i64,
    deltas: &LatencyDeltas,
) -> Result<(), StoreError> {
    for d in &deltas.histograms {
        let series_id = ids.get(tx, Some(d.dimension), &d.key)?;
        let histogram = d.histogram.name();
        let mut bucket = tx.prepare_cached(
            "INSERT INTO pulse_latency_buckets (histogram, series_id, start_ms, le, count) \
             VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (histogram, series_id, start_ms, le) \
             DO UPDATE SET count = count + excluded.count",
        )?;
        for b in &d.buckets {
            // SQLite has no NaN (it would become NULL); the core drops such
            // bounds anyway, and the tracker never reports non-finite counts.
            if b.le.is_nan() || !b.count.is_finite() {
                continue;
            }
            bucket.execute(params![histogram, series_id, bucket_ms, b.le, b.count])?;
        }
        if d.count.is_finite() && d.sum.is_finite() {
            tx.prepare_cached(
                "INSERT INTO pulse_latency_totals (histogram, series_id, start_ms, count, sum) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (histogram, series_id, start_ms) \
                 DO UPDATE SET count = count + excluded.count, sum = sum + excluded.sum",
            )?
            .execute(params![histogram, series_id, bucket_ms, d.count, d.sum])?;
        }
    }
    for h in &deltas.health {
        if h.delta == 0.0 || !h.delta.is_finite() {
            continue;
        }
        let series_id = ids.get(tx, Some(h.dimension), &h.key)?;
        tx.prepare_cached(
            "INSERT INTO pulse_health_buckets (counter, series_id, start_ms, value) \
             VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (series_id, start_ms, counter) DO UPDATE SET value = value + excluded.value",
        )?
        .execute(params![h.counter.name(), series_id, bucket_ms, h.delta])?;
    }
    Ok(())
}

/// Retention's deletes, one primary-key range each.
pub(super) const PURGE_BUCKETS_SQL: &str =
    "DELETE FROM pulse_latency_buckets WHERE histogram = ?1 AND series_id = ?2 AND start_ms < ?3";
pub(super) const PURGE_TOTALS_SQL: &str =
    "DELETE FROM pulse_latency_totals WHERE histogram = ?1 AND series_id = ?2 AND start_ms < ?3";
pub(super) const PURGE_HEALTH_SQL: &str =
    "DELETE FROM pulse_health_buckets WHERE series_id = ?1 AND start_ms < ?2";

/// Retention: deletes latency and health rows of buckets starting before
/// `cut` (a storage bucket edge). Returns the number of rows deleted.
///
/// One primary-key range delete per series (and histogram), as the tables
/// have no `start_ms` index (see the schema). Rows of histogram names this
/// build does not know are left alone, as they are left unread.
pub(super) fn purge_latency(
    tx: &Transaction<'_>,
    series: &[i64],
    cut: i64,
) -> Result<usize, StoreError> {
    let mut buckets = tx.prepare(PURGE_BUCKETS_SQL)?;
    let mut totals = tx.prepare(PURGE_TOTALS_SQL)?;
    let mut health = tx.prepare(PURGE_HEALTH_SQL)?;
    let mut n = 0;
    for &id in series {
        for h in Histogram::ALL {
            n += buckets.execute(params![h.name(), id, cut])?;
            n += totals.execute(params![h.name(), id, cut])?;
        }
        n += health.execute(params![id, cut])?;
    }
    Ok(n)
}

/// The dimension whose keys are read: the requested one, or the model keys
/// summed for the total.
fn read_dimension(dim: Option<Dimension>) -> Dimension {
    dim.unwrap_or(Dimension::Model)
}

/// One bucket row folded into `(buckets, count, sum)` per slot.
type Parts = (Vec<Bucket>, f64, f64);

impl Store {
    /// `histogram` summed over the 15-minute buckets starting in `range`
    /// (both ends moved up to a bucket edge, as the window sums do), per key
    /// of `dim` sorted by key, or one `("", counts)` for the total. Keys
    /// without observations in the range are absent.
    pub fn latency_by_key(
        &self,
        histogram: Histogram,
        dim: Option<Dimension>,
        range: TimeRange,
    ) -> Result<Vec<(String, BucketCounts)>, StoreError> {
        let range = bucket_aligned(range);
        let args = params![
            read_dimension(dim).name(),
            histogram.name(),
            range.start_ms,
            range.end_ms
        ];
        let mut parts: BTreeMap<String, Parts> = BTreeMap::new();
        let mut stmt = self.conn.prepare_cached(LATENCY_BUCKETS_SQL)?;
        let mut rows = stmt.query(args)?;
        while let Some(row) = rows.next()? {
            let bucket = Bucket {
                le: row.get(1)?,
                count: row.get(2)?,
            };
            parts.entry(row.get(0)?).or_default().0.push(bucket);
        }
        let mut stmt = self.conn.prepare_cached(LATENCY_TOTALS_SQL)?;
        let mut rows = stmt.query(args)?;
        while let Some(row) = rows.next()? {
            let p = parts.entry(row.get(0)?).or_default();
            (p.1, p.2) = (row.get(1)?, row.get(2)?);
        }
        let keyed = parts.into_iter().map(|(key, (buckets, count, sum))| {
            let mut counts = BucketCounts::default();
            counts.add(&buckets, count, sum);
            (key, counts)
        });
        Ok(match dim {
            Some(_) => keyed.collect(),
            None => {
                let mut total = BucketCounts::default();
                for (_, c) in keyed {
                    total.add(&c.buckets, c.count, c.sum);
                }
                vec![(String::new(), total)]
            }
        })
    }

    /// The 15-minute histograms of `histogram` whose start is in `range`:
    /// per key of `dim` (sorted by key), or one `("", …)` for the total, each
    /// in time order. Buckets without observations are absent; the caller
    /// merges them into chart buckets with [`BucketCounts::add`].
    pub fn latency_points(
        &self,
        histogram: Histogram,
        dim: Option<Dimension>,
        range: TimeRange,
    ) -> Result<Vec<KeyedHistograms>, StoreError> {
        let args = params![
            read_dimension(dim).name(),
            histogram.name(),
            range.start_ms,
            range.end_ms
        ];
        let mut parts: BTreeMap<(String, i64), Parts> = BTreeMap::new();
        let mut stmt = self.conn.prepare_cached(LATENCY_POINTS_SQL)?;
        let mut rows = stmt.query(args)?;
        while let Some(row) = rows.next()? {
            let bucket = Bucket {
                le: row.get(2)?,
                count: row.get(3)?,
            };
            let slot = (row.get(0)?, row.get(1)?);
            parts.entry(slot).or_default().0.push(bucket);
        }
        let mut stmt = self.conn.prepare_cached(LATENCY_POINT_TOTALS_SQL)?;
        let mut rows = stmt.query(args)?;
        while let Some(row) = rows.next()? {
            let p = parts.entry((row.get(0)?, row.get(1)?)).or_default();
            (p.1, p.2) = (row.get(2)?, row.get(3)?);
        }
        let keyed = parts
            .into_iter()
            .map(|((key, start), (buckets, count, sum))| {
                let mut counts = BucketCounts::default();
                counts.add(&buckets, count, sum);
                (key, start, counts)
            });
        let mut out: Vec<KeyedHistograms> = Vec::new();
        if dim.is_none() {
            let mut total: BTreeMap<i64, BucketCounts> = BTreeMap::new();
            for (_, start, c) in keyed {
                total
                    .entry(start)
                    .or_default()
                    .add(&c.buckets, c.count, c.sum);
            }
            out.push((String::new(), total.into_iter().collect()));
            return Ok(out);
        }
        for (key, start, counts) in keyed {
            match out.last_mut() {
                Some((k, points)) if *k == key => points.push((start, counts)),
                _ => out.push((key, vec![(start, counts)])),
            }
        }
        Ok(out)
    }

    /// The start of the first stored bucket of `histogram`, if any.
    pub fn first_latency_bucket(&self, histogram: Histogram) -> Result<Option<i64>, StoreError> {
        Ok(self.conn.query_row(
            "SELECT MIN(start_ms) FROM pulse_latency_totals WHERE histogram = ?1",
            [histogram.name()],
            |row| row.get(0),
        )?)
    }

    /// Health counter increases summed over the 15-minute buckets starting
    /// in `range` (aligned as [`Store::latency_by_key`]), per key of `dim`
    /// sorted by key. Keys without any are absent.
    pub fn health_by_key(
        &self,
        dim: Dimension,
        range: TimeRange,
    ) -> Result<Vec<(String, HealthValues)>, StoreError> {
        let range = bucket_aligned(range);
        let mut stmt = self.conn.prepare_cached(HEALTH_SQL)?;
        let mut rows = stmt.query(params![dim.name(), range.start_ms, range.end_ms])?;
        let mut out: Vec<(String, HealthValues)> = Vec::new();
        while let Some(row) = rows.next()? {
            let key: String = row.get(0)?;
            let name: String = row.get(1)?;
            let Some(counter) = HealthCounter::from_name(&name) else {
                continue;
            };
            let value: f64 = row.get(2)?;
            match out.last_mut() {
                Some((k, values)) if *k == key => values.add(counter, value),
                _ => {
                    let mut values = HealthValues::default();
                    values.add(counter, value);
                    out.push((key, values));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
