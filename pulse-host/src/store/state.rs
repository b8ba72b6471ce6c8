//! The trackers' states in the database, one per scrape target: each
//! target's scalar header as one `pulse_tracker_targets` row and one row per
//! series baseline, rewritten only when a series changed, so a restart
//! resumes counting where the last stored scrape left off.

use std::collections::HashMap;

use pulse_core::track::{SeriesState, TrackerState};
use rusqlite::{Connection, Transaction, params};

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

/// Per target, its series as written, by identity.
pub(super) type Written = HashMap<String, HashMap<String, WrittenSeries>>;

/// The tracker series as stored, per target, to compare the next states against.
pub(super) fn written_series(conn: &Connection) -> Result<Written, StoreError> {
    let mut written: Written = HashMap::new();
    let mut stmt = conn
        .prepare("SELECT ident, value, created, last_seen_ms, target FROM pulse_tracker_series")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let value: Option<f64> = row.get(1)?;
        let created: Option<f64> = row.get(2)?;
        let target: String = row.get(4)?;
        written.entry(target).or_default().insert(
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
    /// The tracker state saved by the last successful scrape of the first
    /// target (by name), or `None` when none was ever saved. See
    /// [`Store::tracker_states`].
    #[cfg(test)]
    pub fn tracker_state(&self) -> Result<Option<TrackerState>, StoreError> {
        Ok(self.tracker_states()?.into_iter().next().map(|(_, s)| s))
    }

    /// Every target's tracker state as the last successful scrape of it
    /// saved it, sorted by target name, for restart recovery. A database
    /// written before targets had names holds one state named `""`.
    pub fn tracker_states(&self) -> Result<Vec<(String, TrackerState)>, StoreError> {
        let mut headers: Vec<(String, StateHeader)> = Vec::new();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT target, header FROM pulse_tracker_targets ORDER BY target")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let header: String = row.get(1)?;
                headers.push((row.get(0)?, serde_json::from_str(&header)?));
            }
        }
        let mut stmt = self.conn.prepare(
            "SELECT sample, labels, created, value, last_seen_ms FROM pulse_tracker_series \
             WHERE target = ?1 ORDER BY id",
        )?;
        let mut states = Vec::with_capacity(headers.len());
        for (target, header) in headers {
            let mut rows = stmt.query([&target])?;
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
            let state = TrackerState {
                version: header.version,
                observations: header.observations,
                last_at_ms: header.last_at_ms,
                last_target_ms: header.last_target_ms,
                series,
            };
            states.push((target, state));
        }
        Ok(states)
    }

    /// Gives the state stored under `from` to `to`, in one transaction (an
    /// upgraded single-target database's state, named `""`, goes to the one
    /// configured target so nothing is counted again). Does nothing when
    /// `from` has no state or `to` already has one.
    pub fn rename_tracker_target(&mut self, from: &str, to: &str) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let exists = |t: &str| -> rusqlite::Result<bool> {
            tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM pulse_tracker_targets WHERE target = ?1)",
                [t],
                |r| r.get(0),
            )
        };
        if !exists(from)? || exists(to)? {
            return Ok(());
        }
        tx.execute(
            "UPDATE pulse_tracker_targets SET target = ?2 WHERE target = ?1",
            params![from, to],
        )?;
        let mut idents: Vec<(i64, String)> = Vec::new();
        {
            let mut stmt =
                tx.prepare("SELECT id, ident FROM pulse_tracker_series WHERE target = ?1")?;
            let mut rows = stmt.query([from])?;
            while let Some(row) = rows.next()? {
                idents.push((row.get(0)?, row.get(1)?));
            }
        }
        {
            let mut update = tx
                .prepare("UPDATE pulse_tracker_series SET target = ?2, ident = ?3 WHERE id = ?1")?;
            for (id, ident) in idents {
                let bare = ident.strip_prefix(&target_prefix(from)).unwrap_or(&ident);
                update.execute(params![id, to, format!("{}{bare}", target_prefix(to))])?;
            }
        }
        tx.commit()?;
        self.state_written = written_series(&self.conn)?;
        Ok(())
    }
}

/// What a target's series identities start with: nothing for `""` (rows
/// written before targets had names), else the name and a separator that
/// cannot occur in a metric name.
fn target_prefix(target: &str) -> String {
    if target.is_empty() {
        String::new()
    } else {
        format!("{target}\u{1d}")
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
fn series_ident(target: &str, s: &SeriesState) -> String {
    let mut ident = target_prefix(target);
    ident.reserve(s.sample.len() + 16 * s.labels.len());
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

/// Saves the tracker state of `target`: upserts series whose value or
/// `_created` changed (or whose `last_seen_ms` is an hour stale), deletes
/// forgotten ones. `written` is that target's series as last written.
pub(super) fn write_state(
    tx: &Transaction<'_>,
    target: &str,
    written: &HashMap<String, WrittenSeries>,
    state: &TrackerState,
) -> Result<HashMap<String, WrittenSeries>, StoreError> {
    let header = StateHeader {
        version: state.version,
        observations: state.observations,
        last_at_ms: state.last_at_ms,
        last_target_ms: state.last_target_ms,
    };
    tx.prepare_cached(
        "INSERT INTO pulse_tracker_targets (target, header) VALUES (?1, ?2) \
         ON CONFLICT (target) DO UPDATE SET header = excluded.header",
    )?
    .execute(params![target, serde_json::to_string(&header)?])?;
    let mut next = HashMap::with_capacity(state.series.len());
    {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO pulse_tracker_series \
             (ident, sample, labels, created, value, last_seen_ms, target) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (ident) DO UPDATE SET \
             value = excluded.value, last_seen_ms = excluded.last_seen_ms",
        )?;
        for s in &state.series {
            let ident = series_ident(target, s);
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
                        s.last_seen_ms,
                        target
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
