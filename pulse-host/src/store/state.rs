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
//! targets share them. A label set is the list of its label pairs' ids
//! ([`encode_pair`]), each pair (`pulse_labels`) stored once however many
//! label sets share it: an API key's hash is in every label set of the key,
//! once per model, but written once.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use pulse_core::track::{SeriesIdentity, SeriesState, StateChanges, TrackerState};
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

/// Appends one label pair id to a label set's `pairs` column: an unsigned
/// LEB128 of the id's bits (two bytes up to 16,383 pairs), in label order.
pub(super) fn encode_pair(pairs: &mut Vec<u8>, id: i64) {
    // Writing into a Vec cannot fail.
    let _ = leb128::write::unsigned(pairs, id as u64);
}

/// The label pair ids of a label set's `pairs` column, or `None` when it is
/// not a list of [`encode_pair`]s.
pub(super) fn decode_pairs(mut pairs: &[u8]) -> Option<Vec<i64>> {
    let mut ids = Vec::with_capacity(pairs.len() / 2);
    while !pairs.is_empty() {
        ids.push(leb128::read::unsigned(&mut pairs).ok()? as i64);
    }
    Some(ids)
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
        let mut pairs: HashMap<i64, (String, String)> = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT id, name, value FROM pulse_labels")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                pairs.insert(row.get(0)?, (row.get(1)?, row.get(2)?));
            }
        }
        // Each label set decoded once, however many series share it.
        let mut labelsets: HashMap<i64, Vec<(String, String)>> = HashMap::new();
        let mut stmt = self.conn.prepare(
            "SELECT s.name, t.labelset_id, l.pairs, t.created_key, t.value, t.last_seen_ms \
             FROM pulse_state_series t \
             JOIN pulse_samples s ON s.id = t.sample_id \
             JOIN pulse_labelsets l ON l.id = t.labelset_id \
             WHERE t.target_id = ?1",
        )?;
        let mut out = Vec::with_capacity(targets.len());
        for (id, name, mut state) in targets {
            let mut rows = stmt.query([id])?;
            while let Some(row) = rows.next()? {
                let labels = match labelsets.entry(row.get(1)?) {
                    Entry::Occupied(e) => e.get().clone(),
                    Entry::Vacant(e) => {
                        let id = *e.key();
                        let labels = (row.get_ref(2)?.as_bytes().ok())
                            .and_then(decode_pairs)
                            .and_then(|ids| ids.iter().map(|p| pairs.get(p).cloned()).collect())
                            .ok_or(StoreError::LabelSet { id })?;
                        e.insert(labels).clone()
                    }
                };
                let value: Option<f64> = row.get(4)?;
                state.series.push(SeriesState {
                    sample: row.get(0)?,
                    labels,
                    created: created_of(row.get(3)?),
                    value: value.unwrap_or(f64::NAN),
                    last_seen_ms: row.get(5)?,
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
        let pruned = if series > 0 { prune_interned(&tx)? } else { 0 };
        tx.commit()?;
        self.interned.committed_prune(pruned);
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

/// Interned ids of sample names, label pairs and label sets, as the database
/// has them. The store keeps one across scrapes ([`Store`]'s `interned`), so
/// a steady scrape resolves its changed series' label sets without a query;
/// a transaction's new ids are staged in a second one and join it only once
/// the transaction commits, and pruning (the only delete of interned rows)
/// empties it.
#[derive(Default)]
pub(super) struct Interned {
    samples: HashMap<String, i64>,
    /// `pulse_labels` ids by label name, then value.
    pairs: HashMap<String, HashMap<String, i64>>,
    /// `pulse_labelsets` ids by their `pairs` column.
    labelsets: HashMap<Vec<u8>, i64>,
    /// `(sample_id, labelset_id)` by the tracker's series identity (shared
    /// with the tracker, not copied): a changed series is resolved with one
    /// lookup instead of one per label. Ids do not depend on the target.
    series: HashMap<SeriesIdentity, (i64, i64)>,
    /// Identities forgotten in the staging transaction, dropped from
    /// `series` when it is absorbed (only to bound it: their ids stay valid).
    forgotten: Vec<SeriesIdentity>,
}

impl Interned {
    /// Adds the ids `staged` found or created (after its transaction committed).
    pub(super) fn absorb(&mut self, staged: Interned) {
        self.samples.extend(staged.samples);
        for (name, values) in staged.pairs {
            self.pairs.entry(name).or_default().extend(values);
        }
        self.labelsets.extend(staged.labelsets);
        self.series.extend(staged.series);
        for identity in &staged.forgotten {
            self.series.remove(identity);
        }
    }

    fn pair(&self, name: &str, value: &str) -> Option<i64> {
        self.pairs.get(name)?.get(value).copied()
    }

    /// After a committed [`prune_interned`] that deleted `pruned` rows:
    /// forgets every id, since SQLite may hand a deleted one out again. A
    /// prune that deleted nothing keeps them (the purge runs after the first
    /// scrape and hourly; emptying the cache then made the next scrapes
    /// resolve every changed series' label set again, pair by pair).
    pub(super) fn committed_prune(&mut self, pruned: usize) {
        if pruned > 0 {
            *self = Interned::default();
        }
    }

    /// How many series identities are cached.
    #[cfg(test)]
    pub(super) fn series_len(&self) -> usize {
        self.series.len()
    }
}

/// Resolves interned ids within one transaction: from what the store knew
/// before it, then from what it staged, then from the database.
struct Ids<'t, 'c, 'k> {
    tx: &'t Transaction<'c>,
    known: &'k Interned,
    staged: &'k mut Interned,
}

impl Ids<'_, '_, '_> {
    /// The `(sample_id, labelset_id)` of a series; with `create`, new ones
    /// when they have none.
    fn series(
        &mut self,
        identity: &SeriesIdentity,
        create: bool,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        if let Some(&ids) =
            (self.known.series.get(identity)).or_else(|| self.staged.series.get(identity))
        {
            return Ok(Some(ids));
        }
        let (Some(sample), Some(labelset)) = (
            self.sample(identity.sample(), create)?,
            self.labelset(identity.labels(), create)?,
        ) else {
            return Ok(None);
        };
        self.staged
            .series
            .insert(identity.clone(), (sample, labelset));
        Ok(Some((sample, labelset)))
    }

    /// The id of sample `name`; with `create`, a new one when it has none.
    fn sample(&mut self, name: &str, create: bool) -> Result<Option<i64>, StoreError> {
        if let Some(&id) = (self.known.samples.get(name)).or_else(|| self.staged.samples.get(name))
        {
            return Ok(Some(id));
        }
        let id = intern(self.tx, "pulse_samples", "name", name, create)?;
        if let Some(id) = id {
            self.staged.samples.insert(name.to_owned(), id);
        }
        Ok(id)
    }

    /// The id of the label pair `name`=`value`; with `create`, a new one
    /// when it has none.
    fn pair(&mut self, name: &str, value: &str, create: bool) -> Result<Option<i64>, StoreError> {
        if let Some(id) = (self.known.pair(name, value)).or_else(|| self.staged.pair(name, value)) {
            return Ok(Some(id));
        }
        let found = self
            .tx
            .prepare_cached("SELECT id FROM pulse_labels WHERE name = ?1 AND value = ?2")?
            .query_row([name, value], |r| r.get(0))
            .optional()?;
        let id = match found {
            Some(id) => id,
            None if create => {
                self.tx
                    .prepare_cached("INSERT INTO pulse_labels (name, value) VALUES (?1, ?2)")?
                    .execute([name, value])?;
                self.tx.last_insert_rowid()
            }
            None => return Ok(None),
        };
        self.staged
            .pairs
            .entry(name.to_owned())
            .or_default()
            .insert(value.to_owned(), id);
        Ok(Some(id))
    }

    /// The id of a label set; with `create`, a new one (and new label pairs)
    /// when it has none.
    fn labelset<'l>(
        &mut self,
        labels: impl Iterator<Item = (&'l str, &'l str)>,
        create: bool,
    ) -> Result<Option<i64>, StoreError> {
        // An identity knows how many labels it holds (its upper bound).
        let (least, most) = labels.size_hint();
        let mut pairs = Vec::with_capacity(2 * most.unwrap_or(least));
        for (name, value) in labels {
            let Some(id) = self.pair(name, value, create)? else {
                return Ok(None);
            };
            encode_pair(&mut pairs, id);
        }
        if let Some(&id) =
            (self.known.labelsets.get(&pairs)).or_else(|| self.staged.labelsets.get(&pairs))
        {
            return Ok(Some(id));
        }
        let found = self
            .tx
            .prepare_cached("SELECT id FROM pulse_labelsets WHERE pairs = ?1")?
            .query_row([&pairs], |r| r.get(0))
            .optional()?;
        let id = match found {
            Some(id) => id,
            None if create => {
                self.tx
                    .prepare_cached("INSERT INTO pulse_labelsets (pairs) VALUES (?1)")?
                    .execute([&pairs])?;
                self.tx.last_insert_rowid()
            }
            None => return Ok(None),
        };
        self.staged.labelsets.insert(pairs, id);
        Ok(Some(id))
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
    known: &Interned,
    staged: &mut Interned,
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
    let mut ids = Ids { tx, known, staged };
    for k in &changes.removed {
        let Some((sample, labelset)) = ids.series(k, false)? else {
            continue;
        };
        ids.staged.forgotten.push(k.clone());
        tx.prepare_cached(
            "DELETE FROM pulse_state_series WHERE target_id = ?1 AND sample_id = ?2 \
             AND labelset_id = ?3 AND created_key = ?4",
        )?
        .execute(params![target, sample, labelset, created_key(k.created())])?;
    }
    let mut upsert = tx.prepare_cached(
        "INSERT INTO pulse_state_series \
         (target_id, sample_id, labelset_id, created_key, value, last_seen_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (target_id, sample_id, labelset_id, created_key) DO UPDATE SET \
         value = excluded.value, last_seen_ms = excluded.last_seen_ms",
    )?;
    for s in &changes.upserts {
        let id = &s.identity;
        let Some((sample, labelset)) = ids.series(id, true)? else {
            continue;
        };
        upsert.execute(params![
            target,
            sample,
            labelset,
            created_key(id.created()),
            (!s.value.is_nan()).then_some(s.value),
            s.last_seen_ms
        ])?;
    }
    Ok(())
}

/// Deletes label sets, label pairs and sample names no series uses any more
/// (after forgotten series; retention runs it).
pub(super) fn prune_interned(tx: &Transaction<'_>) -> Result<usize, StoreError> {
    let labelsets = tx.execute(
        "DELETE FROM pulse_labelsets WHERE id NOT IN (SELECT labelset_id FROM pulse_state_series)",
        [],
    )?;
    let pairs = if labelsets > 0 { prune_pairs(tx)? } else { 0 };
    let samples = tx.execute(
        "DELETE FROM pulse_samples WHERE id NOT IN (SELECT sample_id FROM pulse_state_series)",
        [],
    )?;
    Ok(labelsets + pairs + samples)
}

/// Deletes the label pairs no label set lists. The lists are blobs SQL
/// cannot look into, so they are decoded here; while one does not decode,
/// every pair is kept.
fn prune_pairs(tx: &Transaction<'_>) -> Result<usize, StoreError> {
    let mut used = HashSet::new();
    {
        let mut stmt = tx.prepare("SELECT pairs FROM pulse_labelsets")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            match row.get_ref(0)?.as_bytes().ok().and_then(decode_pairs) {
                Some(ids) => used.extend(ids),
                None => return Ok(0),
            }
        }
    }
    let ids: Vec<i64> = tx
        .prepare("SELECT id FROM pulse_labels")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let unused: Vec<i64> = ids.into_iter().filter(|id| !used.contains(id)).collect();
    let mut delete = tx.prepare("DELETE FROM pulse_labels WHERE id = ?1")?;
    for id in &unused {
        delete.execute([id])?;
    }
    Ok(unused.len())
}
