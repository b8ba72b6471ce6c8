//! The trackers' states in the database, one per scrape target: the scalar
//! header in the target's `pulse_targets` row and one compact row per series
//! baseline in `pulse_state_series`, so a restart resumes counting where the
//! last stored scrape left off.
//!
//! A scrape writes only what its tracker changed
//! ([`pulse_core::track::Tracker::take_changes`]): upserts of new and changed
//! series, deletes of forgotten ones, so the writes per scrape follow the
//! changed series, not all of them. A series row is four integers (target,
//! interned sample name, interned label set, `_created` as its IEEE bits), its
//! value and when it was last seen; the label sets (`pulse_labelsets`) and
//! sample names (`pulse_samples`) are stored once however many series and
//! targets share them.

use std::collections::HashMap;

use pulse_core::track::{SeriesState, StateChanges, TrackerState};
use rusqlite::{OptionalExtension, Transaction, params};

use super::{Store, StoreError};

/// The target of a database from before targets had names: the migration to
/// version 5 gives the one stored state this name, and the scrape loop hands
/// it to the first configured target ([`Store::rename_tracker_target`]).
pub const DEFAULT_TARGET: &str = "";

/// `created_key` of a series without `_created`. Every other value is the
/// `_created` float's IEEE bits; this pattern is a NaN, which the tracker
/// never keeps as a `_created`.
pub(super) const NO_CREATED: i64 = -1;

/// The `created_key` column for `created`.
pub(super) fn created_key(created: Option<f64>) -> i64 {
    created.map_or(NO_CREATED, |c| c.to_bits() as i64)
}

/// `_created` back from its `created_key`.
fn created_of(key: i64) -> Option<f64> {
    (key != NO_CREATED).then(|| f64::from_bits(key as u64))
}

/// The label set column: the labels as a JSON array of pairs.
pub(super) fn labels_text(labels: &[(String, String)]) -> Result<String, StoreError> {
    Ok(serde_json::to_string(labels)?)
}

impl Store {
    /// The tracker state saved by the last successful scrape when the store
    /// holds one target's (tests), or `None` when none was ever saved.
    #[cfg(test)]
    pub fn tracker_state(&self) -> Result<Option<TrackerState>, StoreError> {
        let mut states = self.tracker_states()?;
        assert!(states.len() <= 1, "one target expected");
        Ok(states.pop().map(|(_, st)| st))
    }

    /// Every target's saved tracker state, by target name, for restart recovery.
    pub fn tracker_states(&self) -> Result<Vec<(String, TrackerState)>, StoreError> {
        let mut targets = Vec::new();
        {
            let mut stmt = self.conn.prepare(
                "SELECT id, name, state_version, observations, last_at_ms, last_target_ms \
                 FROM pulse_targets WHERE observations IS NOT NULL ORDER BY id",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let id: i64 = row.get(0)?;
                let name: String = row.get(1)?;
                let observations: i64 = row.get(3)?;
                targets.push((
                    id,
                    name,
                    TrackerState {
                        version: row.get(2)?,
                        observations: u64::try_from(observations).unwrap_or(0),
                        last_at_ms: row.get(4)?,
                        last_target_ms: row.get(5)?,
                        series: Vec::new(),
                    },
                ));
            }
        }
        let mut stmt = self.conn.prepare(
            "SELECT s.name, l.labels, t.created_key, t.value, t.last_seen_ms \
             FROM pulse_state_series t \
             JOIN pulse_samples s ON s.id = t.sample_id \
             JOIN pulse_labelsets l ON l.id = t.labelset_id \
             WHERE t.target_id = ?1",
        )?;
        let mut out = Vec::with_capacity(targets.len());
        for (id, name, mut state) in targets {
            let mut rows = stmt.query([id])?;
            while let Some(row) = rows.next()? {
                let labels: String = row.get(1)?;
                let value: Option<f64> = row.get(3)?;
                state.series.push(SeriesState {
                    sample: row.get(0)?,
                    labels: serde_json::from_str(&labels)?,
                    created: created_of(row.get(2)?),
                    value: value.unwrap_or(f64::NAN),
                    last_seen_ms: row.get(4)?,
                });
            }
            // The core keeps its series sorted; restore that order.
            state.series.sort_by(|a, b| {
                (&a.sample, &a.labels)
                    .cmp(&(&b.sample, &b.labels))
                    .then_with(|| match (a.created, b.created) {
                        (Some(x), Some(y)) => x.total_cmp(&y),
                        (x, y) => x.is_some().cmp(&y.is_some()),
                    })
            });
            out.push((name, state));
        }
        Ok(out)
    }
}

impl Store {
    /// Gives the state stored under `from` to `to`, in one statement (an
    /// upgraded single-target database's state, named [`DEFAULT_TARGET`],
    /// goes to the one configured target so nothing is counted again). Does
    /// nothing when `from` has no state or `to` already has one.
    pub fn rename_tracker_target(&mut self, from: &str, to: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE pulse_targets SET name = ?2 WHERE name = ?1 AND observations IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM pulse_targets WHERE name = ?2)",
            params![from, to],
        )?;
        Ok(())
    }
}

impl Store {
    /// Deletes the saved states of the targets the fleet forgot
    /// ([`pulse_core::track::Fleet::forget_older_than`]): their `pulse_targets`
    /// rows, their series and the label sets and names only they used, in
    /// one transaction. Without it a fleet whose members come and go (pods
    /// behind a headless Service get new addresses) would keep every past
    /// member's state in the file and load it again at each start. Returns
    /// the number of series rows deleted.
    pub fn forget_tracker_targets(&mut self, names: &[String]) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        let mut series = 0;
        for name in names {
            series += tx
                .prepare_cached(
                    "DELETE FROM pulse_state_series \
                     WHERE target_id = (SELECT id FROM pulse_targets WHERE name = ?1)",
                )?
                .execute([name])?;
            tx.prepare_cached("DELETE FROM pulse_targets WHERE name = ?1")?
                .execute([name])?;
        }
        if series > 0 {
            prune_interned(&tx)?;
        }
        tx.commit()?;
        Ok(series)
    }
}

/// `pulse_targets.id` of `name`, created when new.
pub(super) fn target_id(tx: &Transaction<'_>, name: &str) -> Result<i64, StoreError> {
    tx.prepare_cached(
        "INSERT INTO pulse_targets (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
    )?
    .execute([name])?;
    Ok(tx
        .prepare_cached("SELECT id FROM pulse_targets WHERE name = ?1")?
        .query_row([name], |r| r.get(0))?)
}

/// Interned ids of sample names and label sets within one transaction.
struct Ids<'t, 'c> {
    tx: &'t Transaction<'c>,
    samples: HashMap<String, i64>,
}

impl Ids<'_, '_> {
    /// The id of sample `name`; with `create`, a new one when it has none.
    fn sample(&mut self, name: &str, create: bool) -> Result<Option<i64>, StoreError> {
        if let Some(id) = self.samples.get(name) {
            return Ok(Some(*id));
        }
        let id = intern(self.tx, "pulse_samples", "name", name, create)?;
        if let Some(id) = id {
            self.samples.insert(name.to_owned(), id);
        }
        Ok(id)
    }

    /// The id of a label set; with `create`, a new one when it has none.
    fn labelset(&mut self, labels: &str, create: bool) -> Result<Option<i64>, StoreError> {
        intern(self.tx, "pulse_labelsets", "labels", labels, create)
    }
}

/// The id of `value` in the interning `table`, inserting it when `create`.
fn intern(
    tx: &Transaction<'_>,
    table: &str,
    column: &str,
    value: &str,
    create: bool,
) -> Result<Option<i64>, StoreError> {
    let found = tx
        .prepare_cached(&format!("SELECT id FROM {table} WHERE {column} = ?1"))?
        .query_row([value], |r| r.get(0))
        .optional()?;
    if found.is_some() || !create {
        return Ok(found);
    }
    tx.prepare_cached(&format!("INSERT INTO {table} ({column}) VALUES (?1)"))?
        .execute([value])?;
    Ok(Some(tx.last_insert_rowid()))
}

/// Saves one target's tracker changes: its header, upserts of new and changed
/// series and deletes of forgotten ones (everything first, for `replace_all`).
pub(super) fn write_state(
    tx: &Transaction<'_>,
    target: &str,
    changes: &StateChanges,
) -> Result<(), StoreError> {
    let target = target_id(tx, target)?;
    tx.prepare_cached(
        "UPDATE pulse_targets SET state_version = ?2, observations = ?3, last_at_ms = ?4, \
         last_target_ms = ?5 WHERE id = ?1",
    )?
    .execute(params![
        target,
        changes.version,
        i64::try_from(changes.observations).unwrap_or(i64::MAX),
        changes.last_at_ms,
        changes.last_target_ms
    ])?;
    if changes.replace_all {
        tx.prepare_cached("DELETE FROM pulse_state_series WHERE target_id = ?1")?
            .execute([target])?;
    }
    let mut ids = Ids {
        tx,
        samples: HashMap::new(),
    };
    for k in &changes.removed {
        let Some(sample) = ids.sample(&k.sample, false)? else {
            continue;
        };
        let Some(labelset) = ids.labelset(&labels_text(&k.labels)?, false)? else {
            continue;
        };
        tx.prepare_cached(
            "DELETE FROM pulse_state_series WHERE target_id = ?1 AND sample_id = ?2 \
             AND labelset_id = ?3 AND created_key = ?4",
        )?
        .execute(params![target, sample, labelset, created_key(k.created)])?;
    }
    let mut upsert = tx.prepare_cached(
        "INSERT INTO pulse_state_series \
         (target_id, sample_id, labelset_id, created_key, value, last_seen_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (target_id, sample_id, labelset_id, created_key) DO UPDATE SET \
         value = excluded.value, last_seen_ms = excluded.last_seen_ms",
    )?;
    for s in &changes.upserts {
        let (Some(sample), Some(labelset)) = (
            ids.sample(&s.sample, true)?,
            ids.labelset(&labels_text(&s.labels)?, true)?,
        ) else {
            continue;
        };
        upsert.execute(params![
            target,
            sample,
            labelset,
            created_key(s.created),
            (!s.value.is_nan()).then_some(s.value),
            s.last_seen_ms
        ])?;
    }
    Ok(())
}

/// Deletes label sets and sample names no series uses any more (after
/// forgotten series; retention runs it).
pub(super) fn prune_interned(tx: &Transaction<'_>) -> Result<usize, StoreError> {
    let labelsets = tx.execute(
        "DELETE FROM pulse_labelsets WHERE id NOT IN (SELECT labelset_id FROM pulse_state_series)",
        [],
    )?;
    let samples = tx.execute(
        "DELETE FROM pulse_samples WHERE id NOT IN (SELECT sample_id FROM pulse_state_series)",
        [],
    )?;
    Ok(labelsets + samples)
}
