//! The tracker's state in the database: its scalar header as one meta row
//! and one row per series baseline, rewritten only when a series changed, so
//! a restart resumes counting where the last stored scrape left off.

use std::collections::HashMap;

use pulse_core::track::{SeriesState, TrackerState};
use rusqlite::{Connection, Transaction, params};

use super::write::set_meta;
use super::{Store, StoreError};

/// A persisted tracker series is rewritten at least this often while it is
/// seen, even when its value did not change. `last_seen_ms` only serves
/// [`pulse_core::track::Tracker::forget_older_than`] (cutoffs of days), so an
/// hour of staleness after a restart is harmless, and it spares rewriting
/// every idle series on every scrape.
const SEEN_REFRESH_MS: i64 = 3_600_000;

/// A tracker series as last written, to skip rewriting unchanged ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct WrittenSeries {
    value_bits: u64,
    created_bits: Option<u64>,
    last_seen_ms: i64,
}

/// The tracker series as stored, to compare the next state against.
pub(super) fn written_series(
    conn: &Connection,
) -> Result<HashMap<String, WrittenSeries>, StoreError> {
    let mut written = HashMap::new();
    let mut stmt =
        conn.prepare("SELECT ident, value, created, last_seen_ms FROM pulse_tracker_series")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let value: Option<f64> = row.get(1)?;
        let created: Option<f64> = row.get(2)?;
        written.insert(
            row.get(0)?,
            WrittenSeries {
                value_bits: value.unwrap_or(f64::NAN).to_bits(),
                created_bits: created.map(f64::to_bits),
                last_seen_ms: row.get(3)?,
            },
        );
    }
    Ok(written)
}

impl Store {
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
pub(super) fn write_state(
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
