//! The export's reads: every metric's 15-minute bucket deltas of one page of
//! the range in a single query, the first stored bucket, and opening an
//! existing database for the `export` subcommand.

use std::path::Path;

use pulse_core::catalog::{Dimension, Metric};
use pulse_core::window::TimeRange;
use rusqlite::params;

use super::{Store, StoreError};

/// One key's bucket deltas of a page: `(bucket start ms, value)` in time
/// order, one list per metric, indexed by [`Metric::index`].
pub type MetricPoints = [Vec<(i64, f64)>; Metric::COUNT];

/// A page of the total's buckets: `(key, start, metric id, value)`.
pub(super) const TOTAL_POINTS_SQL: &str = "SELECT '', start_ms, metric_id, value FROM pulse_buckets \
     WHERE series_id = ?1 AND start_ms >= ?2 AND start_ms < ?3 ORDER BY start_ms";

/// A page of a dimension's buckets, by key then time.
pub(super) const KEYED_POINTS_SQL: &str = "SELECT s.key, b.start_ms, b.metric_id, b.value FROM pulse_series s \
     JOIN pulse_buckets b ON b.series_id = s.id \
     WHERE s.dimension = ?1 AND b.start_ms >= ?2 AND b.start_ms < ?3 \
     ORDER BY s.key, b.start_ms";

/// The first 16 bytes of every SQLite 3 database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

impl Store {
    /// The 15-minute bucket deltas of every metric whose start is in
    /// `range`: one entry `("", points)` for the total, or one per key of `by`
    /// that has a delta in the range, sorted by key. The same rows, in the
    /// same order per key and metric, as [`Store::bucket_points`] reads one
    /// metric at a time, so bucket sums come out bit for bit the same.
    pub fn export_points(
        &self,
        range: TimeRange,
        by: Option<Dimension>,
    ) -> Result<Vec<(String, MetricPoints)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(match by {
            None => TOTAL_POINTS_SQL,
            Some(_) => KEYED_POINTS_SQL,
        })?;
        let mut rows = match by {
            None => {
                let Some(&total) = self.series_ids.get(&("", String::new())) else {
                    return Ok(Vec::new());
                };
                stmt.query(params![total, range.start_ms, range.end_ms])?
            }
            Some(dim) => stmt.query(params![dim.name(), range.start_ms, range.end_ms])?,
        };
        let mut out: Vec<(String, MetricPoints)> = Vec::new();
        while let Some(row) = rows.next()? {
            let Some(metric) = self.metric_of(row.get(2)?) else {
                continue;
            };
            let point = (row.get(1)?, row.get(3)?);
            let key = row.get_ref(0)?.as_str().unwrap_or_default();
            match out.last_mut() {
                Some((k, points)) if k == key => points[metric.index()].push(point),
                _ => {
                    let mut points = MetricPoints::default();
                    points[metric.index()].push(point);
                    out.push((key.to_owned(), points));
                }
            }
        }
        Ok(out)
    }

    /// The start of the first stored bucket of the total holding any of
    /// `metrics`, or `None` when there is none.
    pub fn first_bucket_ms(&self, metrics: &[Metric]) -> Result<Option<i64>, StoreError> {
        let Some(&total) = self.series_ids.get(&("", String::new())) else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT MIN(start_ms) FROM pulse_buckets WHERE series_id = ?1 AND metric_id = ?2",
        )?;
        let mut first: Option<i64> = None;
        for m in metrics {
            let start: Option<i64> =
                stmt.query_row(params![total, self.metric_ids[m.index()]], |row| row.get(0))?;
            first = match (first, start) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        Ok(first)
    }

    /// Opens the database at `path` for reading by the `export` subcommand.
    ///
    /// Unlike [`Store::try_open`], a missing file is an error rather than a
    /// new database, and a file that is not SQLite is refused rather than
    /// moved aside: a cron job with a wrong path must not create or replace
    /// a database. An existing one is opened as the server opens it (WAL,
    /// migrations), so both can read it at the same time.
    pub fn open_existing(path: &Path, history_size: usize) -> Result<Store, StoreError> {
        let io = |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut header = [0u8; 16];
        std::io::Read::read_exact(&mut std::fs::File::open(path).map_err(io)?, &mut header)
            .map_err(io)?;
        if &header != SQLITE_HEADER {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not a SQLite database",
            )));
        }
        Store::try_open(path, history_size)
    }
}
