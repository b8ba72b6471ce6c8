use std::path::Path;

use pulse_core::catalog::{Catalog, Dimension, Metric, MetricValues};
use pulse_core::num::clean;
use pulse_core::track::{BreakdownDelta, Observation, SeriesState, StateChanges, TrackerState};
use pulse_core::window::{
    Period, TimeRange, Tz, Window, parse_tz, period_range, storage_bucket, utc_day, window_range,
};
use rusqlite::{Connection, params};

use super::cache::{READ_CACHE_CAP, bucket_aligned};
use super::import::ImportReport;
use super::read::{BUCKET_TABLES, WINDOW_BREAKDOWN_SQL, WINDOW_TOTALS_SQL};
use super::*;

/// 2026-03-02T12:00:00Z, a Monday.
const T0: i64 = 1_772_452_800_000;
const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;

fn values(pairs: &[(Metric, f64)]) -> MetricValues {
    let mut v = MetricValues::default();
    for &(m, x) in pairs {
        v.set(m, x);
    }
    v
}

fn observation(
    at_ms: i64,
    resets: u32,
    deltas: &[(Metric, f64)],
    breakdown: &[(Dimension, &str, Metric, f64)],
) -> Observation {
    let deltas = values(deltas);
    let mut live = deltas;
    live.set(Metric::InFlightRequests, 2.0);
    Observation {
        at_ms,
        baseline: false,
        resets,
        new_series: 0,
        vanished_series: 0,
        adopted_series: 0,
        live,
        deltas,
        breakdown: breakdown
            .iter()
            .map(|&(dimension, key, metric, delta)| BreakdownDelta {
                dimension,
                key: key.to_owned(),
                metric,
                delta,
            })
            .collect(),
        latency: Default::default(),
    }
}

fn series(sample: &str, model: &str, value: f64, last_seen_ms: i64) -> SeriesState {
    SeriesState {
        sample: sample.to_owned(),
        labels: vec![("requested_model".to_owned(), model.to_owned())],
        created: Some(1_772_000_000.25),
        value,
        last_seen_ms,
    }
}

fn state(at_ms: i64, series: Vec<SeriesState>) -> TrackerState {
    TrackerState {
        version: 1,
        observations: 7,
        last_at_ms: Some(at_ms),
        // LiteLLM's clock five minutes behind ours; it must round-trip too.
        last_target_ms: Some(at_ms - 300_000),
        series,
    }
}

/// The one scrape target of these tests.
const TARGET: &str = "litellm:4000";

fn raw(pairs: &[(&str, f64)]) -> Vec<(String, f64)> {
    pairs.iter().map(|&(n, v)| (n.to_owned(), v)).collect()
}

/// Records a successful scrape with the given observation and a tracker state
/// that replaces the stored one.
fn ok(store: &mut Store, obs: &Observation, raw: &[(String, f64)], st: &TrackerState) {
    ok_with(store, obs, raw, &StateChanges::full(st.clone()));
}

/// Records a successful scrape with the given observation and state changes.
fn ok_with(store: &mut Store, obs: &Observation, raw: &[(String, f64)], st: &StateChanges) {
    ok_for(store, TARGET, obs, raw, st.clone());
}

/// A successful scrape of `target` with its tracker changes `st`.
fn ok_for(
    store: &mut Store,
    target: &str,
    obs: &Observation,
    raw: &[(String, f64)],
    st: StateChanges,
) {
    let states = [(target.to_owned(), st)];
    let rec = ScrapeRecord {
        at_ms: obs.at_ms,
        duration_ms: 12.5,
        outcome: ScrapeOutcome::Ok {
            observation: obs,
            raw,
            states: &states,
        },
    };
    store.record(&rec).unwrap();
}

fn simple(store: &mut Store, at_ms: i64, requests: f64, cost: f64, model: &str) {
    let obs = observation(
        at_ms,
        0,
        &[(Metric::Requests, requests), (Metric::Cost, cost)],
        &[
            (Dimension::Model, model, Metric::Requests, requests),
            (Dimension::Model, model, Metric::Cost, cost),
        ],
    );
    ok(
        store,
        &obs,
        &raw(&[("x_total", requests)]),
        &state(at_ms, vec![]),
    );
}

fn count(store: &Store, table: &str) -> i64 {
    store
        .conn
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

fn everything() -> TimeRange {
    TimeRange::new(i64::MIN, i64::MAX)
}

#[test]
fn fresh_database_is_at_latest_version_with_a_column_pair_per_metric() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/pulse.db");
    let store = Store::open(&path, 10);
    assert_eq!(store.mode(), StoreMode::Sqlite);
    assert!(path.exists());
    assert_eq!(schema::version(&store.conn).unwrap(), schema::LATEST);
    let journal: String = store
        .conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    let cols: Vec<String> = store
        .conn
        .prepare("SELECT name FROM pragma_table_info('pulse_scrapes')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // A metric added to the core needs a migration adding its columns.
    for m in Metric::ALL {
        assert!(cols.contains(&format!("live_{}", m.name())), "{m:?}");
        assert!(cols.contains(&format!("delta_{}", m.name())), "{m:?}");
    }
    assert_eq!(count(&store, "pulse_metrics"), Metric::COUNT as i64);
}

#[test]
fn migrations_are_numbered_one_by_one_up_to_latest() {
    let versions: Vec<i64> = schema::MIGRATIONS.iter().map(|m| m.version).collect();
    let expected: Vec<i64> = (1..=schema::LATEST).collect();
    assert_eq!(versions, expected);
}

#[test]
fn an_old_version_database_is_upgraded_and_keeps_foreign_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        // Version 0: what the Python reference leaves behind.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE scrapes (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, is_reset INTEGER);
             INSERT INTO scrapes (ts, is_reset) VALUES (1, 0), (2, 0);",
        )
        .unwrap();
        assert_eq!(schema::version(&conn).unwrap(), 0);
    }
    let store = Store::open(&path, 10);
    assert_eq!(store.mode(), StoreMode::Sqlite);
    assert_eq!(schema::version(&store.conn).unwrap(), schema::LATEST);
    assert_eq!(count(&store, "scrapes"), 2);
    assert_eq!(count(&store, "pulse_scrapes"), 0);
}

/// A version 4 database's tracker state (one row per series with its labels
/// as JSON, the header as a meta row) comes out of the migration to the
/// compact tables as the same `TrackerState`, bit for bit.
#[test]
fn the_compact_state_migration_carries_the_tracker_state_over_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v4.db");
    let header = r#"{"version":2,"observations":12345,"last_at_ms":1795774268890,"last_target_ms":1795774268000}"#;
    /// sample, labels JSON, created, value, last_seen_ms
    type OldRow<'a> = (&'a str, &'a str, Option<f64>, Option<f64>, i64);
    let rows: Vec<OldRow<'_>> = vec![
        (
            "litellm_spend_metric_total",
            r#"[["model","weird \"name\"\n=,"],["team","Équipe Ω"]]"#,
            None,
            Some(0.1 + 0.2),
            1_795_774_268_890,
        ),
        (
            "litellm_proxy_total_requests_metric_total",
            r#"[["requested_model","gpt-4o"]]"#,
            Some(1_795_774_300.123_456_7),
            Some(5.0),
            1_795_774_268_890,
        ),
        (
            "litellm_proxy_total_requests_metric_total",
            r#"[["requested_model","gpt-4o"]]"#,
            Some(f64::from_bits(1_795_774_300.123_456_7f64.to_bits() + 1)),
            Some(7.0),
            1_795_774_000_000,
        ),
        (
            "litellm_proxy_total_requests_metric_total",
            r#"[]"#,
            Some(1.5e-300),
            None,
            1,
        ),
    ];
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        schema::migrate_to(&mut conn, 4).unwrap();
        conn.execute(
            "INSERT INTO pulse_meta (key, value) VALUES ('tracker_header', ?1)",
            [header],
        )
        .unwrap();
        for (i, (sample, labels, created, value, seen)) in rows.iter().enumerate() {
            conn.execute(
                "INSERT INTO pulse_tracker_series (ident, sample, labels, created, value, last_seen_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![format!("id{i}"), sample, labels, created, value, seen],
            )
            .unwrap();
        }
    }
    let mut want_series: Vec<SeriesState> = rows
        .iter()
        .map(|(sample, labels, created, value, seen)| SeriesState {
            sample: (*sample).to_owned(),
            labels: serde_json::from_str(labels).unwrap(),
            created: *created,
            value: value.unwrap_or(f64::NAN),
            last_seen_ms: *seen,
        })
        .collect();
    want_series.sort_by(|a, b| {
        (&a.sample, &a.labels)
            .cmp(&(&b.sample, &b.labels))
            .then_with(|| match (a.created, b.created) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (x, y) => x.is_some().cmp(&y.is_some()),
            })
    });
    let store = Store::open(&path, 10);
    assert_eq!(schema::version(&store.conn).unwrap(), schema::LATEST);
    let got = store.tracker_state().unwrap().unwrap();
    assert_eq!(
        (
            got.version,
            got.observations,
            got.last_at_ms,
            got.last_target_ms
        ),
        (2, 12345, Some(1_795_774_268_890), Some(1_795_774_268_000))
    );
    assert_eq!(got.series.len(), want_series.len());
    for (g, w) in got.series.iter().zip(&want_series) {
        assert_eq!(
            (&g.sample, &g.labels, g.last_seen_ms),
            (&w.sample, &w.labels, w.last_seen_ms)
        );
        assert_eq!(g.created.map(f64::to_bits), w.created.map(f64::to_bits));
        assert_eq!(g.value.to_bits(), w.value.to_bits());
    }
    assert_eq!(count(&store, "pulse_labelsets"), 3);
    assert_eq!(count(&store, "pulse_samples"), 2);
    assert!(store.meta("tracker_header").unwrap().is_none());
}

/// Label sets of a schema-6 database (JSON text): `(id, text)`. Sets 2 and 7
/// hold the same pairs written differently.
const V6_LABELSETS: [(i64, &str); 6] = [
    (
        1,
        r#"[["api_key_alias","key-1"],["hashed_api_key","ab12"],["model","m-0"]]"#,
    ),
    (
        2,
        r#"[["api_key_alias","key-1"],["hashed_api_key","ab12"],["model","m-1"]]"#,
    ),
    (
        3,
        r#"[["api_key_alias","key-2"],["hashed_api_key","cd34"],["model","m-0"]]"#,
    ),
    (4, "[]"),
    (5, r#"[["model","weird \"name\"\n=,"],["team","Équipe Ω"]]"#),
    (
        7,
        r#"[ ["api_key_alias", "key-1"], ["hashed_api_key", "ab12"], ["model", "m-1"] ]"#,
    ),
];

/// Series of that database: target, sample id, label set id, value.
const V6_SERIES: [(i64, i64, i64, f64); 8] = [
    (1, 1, 1, 0.1 + 0.2),
    (1, 1, 2, 1.5),
    (1, 2, 1, 10.0),
    (1, 2, 3, 11.0),
    (1, 2, 4, 12.0),
    (1, 2, 5, 13.0),
    (2, 2, 7, 20.0),
    (2, 1, 3, 21.0),
];

/// A schema-6 database at `path` with the label sets and series above, two
/// targets, and buckets, day rows and all-time sums beside them.
fn v6_database(path: &Path, labelsets: &[(i64, &str)]) {
    let mut conn = Connection::open(path).unwrap();
    schema::migrate_to(&mut conn, 6).unwrap();
    conn.execute_batch(
        "
        INSERT INTO pulse_targets (id, name, state_version, observations, last_at_ms, last_target_ms)
            VALUES (1, 'a:4000', 2, 40, 1772452800000, 1772452500000),
                   (2, 'b:4000', 2, 41, 1772452860000, NULL);
        INSERT INTO pulse_samples (id, name) VALUES (1, 'litellm_spend_metric_total'),
            (2, 'litellm_proxy_total_requests_metric_total');
        INSERT INTO pulse_series (id, dimension, key) VALUES (1, '', ''), (2, 'model', 'm-0');
        INSERT INTO pulse_buckets (series_id, start_ms, metric_id, value)
            VALUES (1, 1772452800000, 1, 3.0), (1, 1772452800000, 7, 0.25),
                   (2, 1772452800000, 1, 2.0), (1, 1772453700000, 1, 4.0);
        INSERT INTO pulse_buckets_day (series_id, start_ms, metric_id, value)
            VALUES (1, 1772409600000, 1, 7.0), (1, 1772409600000, 7, 0.25),
                   (2, 1772409600000, 1, 2.0);
        INSERT INTO pulse_all_time (series_id, metric_id, value)
            VALUES (1, 1, 7.0), (1, 7, 0.25), (2, 1, 2.0);
        ",
    )
    .unwrap();
    for (id, text) in labelsets {
        conn.execute(
            "INSERT INTO pulse_labelsets (id, labels) VALUES (?1, ?2)",
            params![id, text],
        )
        .unwrap();
    }
    for (i, (target, sample, labelset, value)) in V6_SERIES.iter().enumerate() {
        conn.execute(
            "INSERT INTO pulse_state_series \
             (target_id, sample_id, labelset_id, created_key, value, last_seen_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                target,
                sample,
                labelset,
                1_772_000_000.25f64.to_bits() as i64,
                value,
                T0 - i as i64 * MIN
            ],
        )
        .unwrap();
    }
}

/// The buckets, day rows and all-time sums of a database, as text.
fn sums_of(conn: &Connection) -> Vec<String> {
    let mut out = Vec::new();
    for table in ["pulse_buckets", "pulse_buckets_day", "pulse_all_time"] {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2, 3"))
            .unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |row| {
                let cells: Vec<String> = (0..n)
                    .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                    .collect();
                Ok(format!("{table}: {}", cells.join(" | ")))
            })
            .unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out
}

/// Schema 6 → 7: every series keeps its labels, value, `_created` and last
/// seen; label set ids are kept; a pair shared by label sets is stored once;
/// the sums are untouched.
#[test]
fn the_label_pair_migration_keeps_every_series_and_sum() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v6.db");
    v6_database(&path, &V6_LABELSETS);
    let sums = sums_of(&Connection::open(&path).unwrap());
    assert_eq!(sums.len(), 10);

    let labels_of = |id: i64| -> Vec<(String, String)> {
        let text = V6_LABELSETS.iter().find(|(i, _)| *i == id).unwrap().1;
        serde_json::from_str(text).unwrap()
    };
    let samples = [
        "",
        "litellm_spend_metric_total",
        "litellm_proxy_total_requests_metric_total",
    ];
    let want = |target: i64, header: (i64, Option<i64>)| {
        let series = V6_SERIES
            .iter()
            .enumerate()
            .filter(|(_, s)| s.0 == target)
            .map(|(i, &(_, sample, labelset, value))| SeriesState {
                sample: samples[sample as usize].to_owned(),
                labels: labels_of(labelset),
                created: Some(1_772_000_000.25),
                value,
                last_seen_ms: T0 - i as i64 * MIN,
            })
            .collect();
        sorted(TrackerState {
            version: 2,
            observations: 39 + target as u64,
            last_at_ms: Some(header.0),
            last_target_ms: header.1,
            series,
        })
    };

    let mut store = Store::open(&path, 10);
    assert_eq!(schema::version(&store.conn).unwrap(), 7);
    assert_eq!(
        store.tracker_states().unwrap(),
        [
            ("a:4000".to_owned(), want(1, (T0, Some(T0 - 300_000)))),
            ("b:4000".to_owned(), want(2, (T0 + MIN, None))),
        ]
    );
    // Six label sets, two of them the same pairs: five, by their old ids.
    let ids: Vec<i64> = store
        .conn
        .prepare("SELECT id FROM pulse_labelsets ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    // key-1, ab12, m-0, m-1, key-2, cd34, the weird model and the team.
    assert_eq!(count(&store, "pulse_labels"), 8);
    let first: Vec<u8> = store
        .conn
        .query_row("SELECT pairs FROM pulse_labelsets WHERE id = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(first, [1, 2, 3]);
    assert_eq!(sums_of(&store.conn), sums);
    assert_eq!(store.all_time().unwrap().get(Metric::Requests), 7.0);

    // The next scrape finds the migrated label sets: nothing new is interned.
    let again = SeriesState {
        value: 31.0,
        ..want(2, (0, None)).series[0].clone()
    };
    let changes = StateChanges {
        replace_all: false,
        version: 2,
        observations: 42,
        last_at_ms: Some(T0 + 2 * MIN),
        last_target_ms: None,
        upserts: vec![again.clone().into()],
        removed: vec![],
    };
    let obs = observation(T0 + 2 * MIN, 0, &[], &[]);
    ok_for(&mut store, "b:4000", &obs, &[], changes);
    assert_eq!(
        (
            count(&store, "pulse_labelsets"),
            count(&store, "pulse_labels")
        ),
        (5, 8)
    );
    let b = &store.tracker_states().unwrap()[1].1;
    assert_eq!(b.series.len(), 2);
    assert!(b.series.contains(&again));
}

/// A label set whose text was not pairs made the host start without its
/// baselines; after the migration it starts the same way, sums untouched.
#[test]
fn an_unreadable_label_set_migrates_to_baselines_started_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v6.db");
    let mut sets = V6_LABELSETS.to_vec();
    sets[2].1 = r#"{"model":"m-0"}"#;
    v6_database(&path, &sets);
    let sums = sums_of(&Connection::open(&path).unwrap());
    let store = Store::open(&path, 10);
    assert_eq!(store.mode(), StoreMode::Sqlite);
    assert!(store.tracker_states().unwrap().is_empty());
    for table in ["pulse_state_series", "pulse_labelsets", "pulse_labels"] {
        assert_eq!(count(&store, table), 0, "{table}");
    }
    assert_eq!(count(&store, "pulse_targets"), 2);
    assert_eq!(sums_of(&store.conn), sums);
}

/// A label set that does not decode, or names a missing pair, is an error
/// naming it, never a panic; pruning then keeps every pair.
#[test]
fn a_broken_label_set_is_an_error_naming_it() {
    for (pairs, missing) in [
        (vec![0x80_u8], false),
        (
            vec![
                0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f,
            ],
            false,
        ),
        (vec![99], true),
    ] {
        let mut store = Store::open_memory(5);
        let obs = observation(T0, 0, &[], &[]);
        ok(
            &mut store,
            &obs,
            &[],
            &state(T0, vec![series("x_total", "m", 1.0, T0)]),
        );
        store
            .conn
            .execute("UPDATE pulse_labelsets SET pairs = ?1", [&pairs])
            .unwrap();
        let err = store.tracker_states().unwrap_err();
        assert!(
            matches!(err, StoreError::LabelSet { id: 1 }),
            "{pairs:?}: {err}"
        );
        assert!(err.to_string().contains("label set 1"), "{err}");
        // An orphaned pair is only dropped when every list decodes.
        store
            .conn
            .execute(
                "INSERT INTO pulse_labels (name, value) VALUES ('orphan', 'x')",
                [],
            )
            .unwrap();
        store
            .conn
            .execute("INSERT INTO pulse_labelsets (pairs) VALUES (x'')", [])
            .unwrap();
        store.purge(0).unwrap();
        // A set naming a missing pair decodes: the pair it lost and the orphan go.
        let left = if missing { 0 } else { 2 };
        assert_eq!(count(&store, "pulse_labels"), left, "{pairs:?}");
    }
}

#[test]
fn label_pair_lists_round_trip() {
    use proptest::prelude::*;
    proptest!(|(ids in proptest::collection::vec(any::<i64>(), 0..40))| {
        let mut pairs = Vec::new();
        for &id in &ids {
            state::encode_pair(&mut pairs, id);
        }
        prop_assert_eq!(state::decode_pairs(&pairs), Some(ids));
    });
    let mut small = Vec::new();
    for id in [1, 127, 128, 16_383] {
        state::encode_pair(&mut small, id);
    }
    assert_eq!(small, [1, 127, 0x80, 1, 0xff, 0x7f]);
}

#[test]
fn migrating_step_by_step_equals_migrating_at_once() {
    let mut stepwise = Connection::open_in_memory().unwrap();
    for v in 0..=schema::LATEST {
        schema::migrate_to(&mut stepwise, v).unwrap();
        assert_eq!(schema::version(&stepwise).unwrap(), v);
    }
    let mut direct = Connection::open_in_memory().unwrap();
    schema::migrate(&mut direct).unwrap();
    let dump = |c: &Connection| -> Vec<String> {
        c.prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(dump(&stepwise), dump(&direct));
}

#[test]
fn a_newer_schema_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .unwrap();
    }
    match Store::try_open(&path, 5) {
        Err(StoreError::NewerSchema { found, supported }) => {
            assert_eq!((found, supported), (99, schema::LATEST));
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    let store = Store::open(&path, 5);
    assert_eq!(store.mode(), StoreMode::Memory);
    let conn = Connection::open(&path).unwrap();
    assert_eq!(schema::version(&conn).unwrap(), 99);
    let tables: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'pulse_%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0);
}

#[test]
fn a_directory_or_a_path_below_a_file_falls_back_to_memory() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 5);
    assert_eq!(store.mode(), StoreMode::Memory);

    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let mut store = Store::open(&file.join("pulse.db"), 5);
    assert_eq!(store.mode(), StoreMode::Memory);
    // The fallback is a working store.
    simple(&mut store, T0, 3.0, 0.5, "gpt-4o");
    assert_eq!(store.all_time().unwrap().get(Metric::Requests), 3.0);
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}

#[test]
fn a_file_that_is_not_a_database_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pulse.db");
    let garbage =
        b"this is not a SQLite database, just some text long enough to fill a header.....";
    std::fs::write(&path, garbage).unwrap();
    let mut store = Store::open(&path, 5);
    assert_eq!(store.mode(), StoreMode::Sqlite);
    simple(&mut store, T0, 1.0, 0.0, "m");
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("pulse.db.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read(dir.path().join(&aside[0])).unwrap(), garbage);
}

#[test]
fn record_sums_windows_breakdowns_and_all_time_exactly() {
    let mut store = Store::open_memory(100);
    // Two scrapes in the first bucket, one 20 minutes later, one next hour.
    simple(&mut store, T0 + MIN, 2.0, 0.1, "gpt-4o");
    simple(&mut store, T0 + 2 * MIN, 3.0, 0.2, "claude");
    simple(&mut store, T0 + 20 * MIN, 5.0, 0.25, "gpt-4o");
    simple(&mut store, T0 + HOUR, 7.0, 1.5, "");

    let all = store.all_time().unwrap();
    assert_eq!(all.get(Metric::Requests), 17.0);
    assert_eq!(clean(all.get(Metric::Cost)), 2.05);
    assert_eq!(all.get(Metric::Tokens), 0.0);

    // Buckets [T0, T0+15m) and [T0+15m, T0+30m) only.
    let first_half_hour = store
        .window_totals(TimeRange::new(T0, T0 + 30 * MIN))
        .unwrap();
    assert_eq!(first_half_hour.get(Metric::Requests), 10.0);
    assert_eq!(clean(first_half_hour.get(Metric::Cost)), 0.55);
    let first_bucket = store
        .window_totals(TimeRange::new(T0, T0 + 15 * MIN))
        .unwrap();
    assert_eq!(first_bucket.get(Metric::Requests), 5.0);
    // A range ending inside a bucket excludes the bucket starting at its end.
    let empty = store
        .window_totals(TimeRange::new(T0 + MIN, T0 + 15 * MIN))
        .unwrap();
    assert_eq!(empty, MetricValues::default());

    let by_model = store
        .window_breakdown(Dimension::Model, everything())
        .unwrap();
    let keys: Vec<&str> = by_model.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["", "claude", "gpt-4o"]);
    assert_eq!(by_model[0].1.get(Metric::Requests), 7.0);
    assert_eq!(by_model[1].1.get(Metric::Requests), 3.0);
    assert_eq!(by_model[2].1.get(Metric::Requests), 7.0);
    assert_eq!(clean(by_model[2].1.get(Metric::Cost)), 0.35);
    let early = store
        .window_breakdown(Dimension::Model, TimeRange::new(T0, T0 + 15 * MIN))
        .unwrap();
    assert_eq!(early.len(), 2);
    assert_eq!(early[1].1.get(Metric::Requests), 2.0);
    assert!(
        store
            .window_breakdown(Dimension::Team, everything())
            .unwrap()
            .is_empty()
    );

    let all_by_model = store.all_time_breakdown(Dimension::Model).unwrap();
    assert_eq!(all_by_model, by_model);

    let points = store
        .bucket_points(Metric::Requests, TimeRange::new(T0, T0 + 2 * HOUR), None)
        .unwrap();
    assert_eq!(
        points,
        vec![(
            String::new(),
            vec![(T0, 5.0), (T0 + 15 * MIN, 5.0), (T0 + HOUR, 7.0)]
        )]
    );
    let points = store
        .bucket_points(
            Metric::Requests,
            TimeRange::new(T0, T0 + 2 * HOUR),
            Some(Dimension::Model),
        )
        .unwrap();
    assert_eq!(
        points,
        vec![
            (String::new(), vec![(T0 + HOUR, 7.0)]),
            ("claude".to_owned(), vec![(T0, 3.0)]),
            ("gpt-4o".to_owned(), vec![(T0, 2.0), (T0 + 15 * MIN, 5.0)]),
        ]
    );
}

#[test]
fn an_empty_store_answers_zeros() {
    let store = Store::open_memory(5);
    assert_eq!(store.all_time().unwrap(), MetricValues::default());
    assert_eq!(
        store.window_totals(everything()).unwrap(),
        MetricValues::default()
    );
    assert!(
        store
            .all_time_breakdown(Dimension::Model)
            .unwrap()
            .is_empty()
    );
    assert!(store.history(10).unwrap().is_empty());
    assert_eq!(store.last_raw().unwrap(), None);
    assert_eq!(store.tracker_state().unwrap(), None);
    assert_eq!(store.status(), ScrapeStatus::default());
    assert_eq!(
        store
            .bucket_points(Metric::Cost, everything(), None)
            .unwrap(),
        vec![(String::new(), vec![])]
    );
}

#[test]
fn purge_drops_old_rows_but_never_all_time() {
    let mut store = Store::open_memory(100);
    simple(&mut store, T0, 1.0, 0.5, "a");
    simple(&mut store, T0 + HOUR, 2.0, 0.25, "b");
    simple(&mut store, T0 + HOUR + 20 * MIN, 4.0, 0.125, "a");
    // The cut at T0+1h+5m falls inside the bucket [T0+1h, T0+1h15m): that
    // bucket is kept whole, the scrape row before the cut goes.
    let deleted = store.purge(T0 + HOUR + 5 * MIN).unwrap();
    // Scrape rows at T0 and T0+1h; buckets at T0 for total and for "a" (2 metrics each).
    assert_eq!(deleted, 2 + 4);
    let history = store.history(10).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].at_ms, T0 + HOUR + 20 * MIN);
    assert_eq!(
        store
            .window_totals(everything())
            .unwrap()
            .get(Metric::Requests),
        6.0
    );
    let all = store.all_time().unwrap();
    assert_eq!(all.get(Metric::Requests), 7.0);
    assert_eq!(all.get(Metric::Cost), 0.875);
    let by_model = store.all_time_breakdown(Dimension::Model).unwrap();
    assert_eq!(by_model[0].1.get(Metric::Requests), 5.0);
    assert_eq!(by_model[1].1.get(Metric::Requests), 2.0);
    assert_eq!(store.purge(T0 + HOUR + 5 * MIN).unwrap(), 0);
}

#[test]
fn history_is_the_newest_rows_oldest_first() {
    let mut store = Store::open_memory(100);
    for i in 0..5 {
        let obs = observation(
            T0 + i * MIN,
            u32::from(i == 3),
            &[(Metric::Requests, i as f64)],
            &[],
        );
        ok(&mut store, &obs, &[], &state(T0, vec![]));
    }
    let rows = store.history(3).unwrap();
    let times: Vec<i64> = rows.iter().map(|r| r.at_ms).collect();
    assert_eq!(times, [T0 + 2 * MIN, T0 + 3 * MIN, T0 + 4 * MIN]);
    assert_eq!(
        rows.iter().map(|r| r.is_reset).collect::<Vec<_>>(),
        [false, true, false]
    );
    assert_eq!(rows[1].deltas.get(Metric::Requests), 3.0);
    assert_eq!(rows[1].live.get(Metric::InFlightRequests), 2.0);
    assert_eq!(store.history(0).unwrap(), vec![]);
    assert_eq!(store.history(usize::MAX).unwrap().len(), 5);
}

#[test]
fn memory_mode_keeps_only_history_size_scrape_rows() {
    let mut store = Store::open_memory(3);
    for i in 0..5 {
        simple(&mut store, T0 + i * HOUR, 1.0, 0.0, "m");
    }
    assert_eq!(count(&store, "pulse_scrapes"), 3);
    assert_eq!(store.history(10).unwrap()[0].at_ms, T0 + 2 * HOUR);
    // Windows and all-time still see every scrape.
    assert_eq!(store.all_time().unwrap().get(Metric::Requests), 5.0);
    assert_eq!(
        store
            .window_totals(everything())
            .unwrap()
            .get(Metric::Requests),
        5.0
    );
}

#[test]
fn a_failed_scrape_writes_status_only_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    {
        let mut store = Store::open(&path, 5);
        simple(&mut store, T0, 4.0, 0.5, "m");
        for i in 1..=2 {
            let rec = ScrapeRecord {
                at_ms: T0 + i * MIN,
                duration_ms: 30_000.0,
                outcome: ScrapeOutcome::Failed { error: "HTTP 503" },
            };
            store.record(&rec).unwrap();
        }
        assert_eq!(count(&store, "pulse_scrapes"), 1);
        assert_eq!(count(&store, "pulse_buckets"), 4);
    }
    let store = Store::open(&path, 5);
    assert_eq!(
        store.status(),
        ScrapeStatus {
            last_attempt_ms: Some(T0 + 2 * MIN),
            last_success_ms: Some(T0),
            last_error: Some("HTTP 503".to_owned()),
            consecutive_failures: 2,
            last_duration_ms: Some(30_000.0),
        }
    );
    assert_eq!(store.history(10).unwrap().len(), 1);
    assert_eq!(store.all_time().unwrap().get(Metric::Requests), 4.0);
    // The raw totals are still those of the last good body.
    assert_eq!(
        store.last_raw().unwrap(),
        Some((T0, raw(&[("x_total", 4.0)])))
    );
}

#[test]
fn tracker_state_round_trips_and_only_changed_series_are_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let a = "litellm_proxy_total_requests_metric_total";
    let spend = SeriesState {
        sample: "litellm_spend_metric_total".into(),
        labels: vec![("model".into(), "weird \"name\"\n=,".into())],
        created: None,
        value: 0.125,
        last_seen_ms: T0,
    };
    let st1 = state(
        T0,
        vec![
            series(a, "gpt-4o", 5.0, T0),
            series(a, "claude", 1.0, T0),
            spend.clone(),
        ],
    );
    let obs = observation(T0, 0, &[], &[]);
    {
        let mut store = Store::open(&path, 5);
        ok(&mut store, &obs, &[], &st1);
        assert_eq!(
            store.tracker_state().unwrap().as_ref(),
            Some(&sorted(st1.clone()))
        );

        // A minute later: gpt-4o grew, claude is unchanged, spend forgotten.
        let st2 = StateChanges {
            replace_all: false,
            version: 1,
            observations: 8,
            last_at_ms: Some(T0 + MIN),
            last_target_ms: None,
            upserts: vec![series(a, "gpt-4o", 6.0, T0 + MIN).into()],
            removed: vec![spend.key().into()],
        };
        let before = store.conn.total_changes();
        ok_with(&mut store, &observation(T0 + MIN, 0, &[], &[]), &[], &st2);
        // Status, scrape row, raw time, header, one upsert, one delete.
        assert_eq!(store.conn.total_changes() - before, 6);
        let seen: Vec<(String, i64)> = store
            .tracker_state()
            .unwrap()
            .unwrap()
            .series
            .into_iter()
            .map(|s| (s.labels[0].1.clone(), s.last_seen_ms))
            .collect();
        // claude was not rewritten, so its stored last_seen is the old one.
        assert_eq!(
            seen,
            [("claude".to_owned(), T0), ("gpt-4o".to_owned(), T0 + MIN)]
        );
        // One label pair per label set: the two models share the name only.
        assert_eq!(count(&store, "pulse_labels"), 3);
        // Retention drops the forgotten series' label set and sample name.
        store.purge(0).unwrap();
        assert_eq!(count(&store, "pulse_labelsets"), 2);
        assert_eq!(count(&store, "pulse_labels"), 2);
        assert_eq!(count(&store, "pulse_samples"), 1);
    }
    let store = Store::open(&path, 5);
    let restored = store.tracker_state().unwrap().unwrap();
    let mut want = state(
        T0 + MIN,
        vec![
            series(a, "gpt-4o", 6.0, T0 + MIN),
            series(a, "claude", 1.0, T0),
        ],
    );
    want.observations = 8;
    want.last_target_ms = None;
    assert_eq!(restored, sorted(want));
    assert_eq!(
        store.tracker_states().unwrap(),
        vec![(TARGET.to_owned(), restored)]
    );
}

#[test]
fn forgotten_targets_lose_their_saved_state_and_nothing_else() {
    let mut store = Store::open_memory(5);
    let a = "litellm_requests_metric_total";
    let b = "litellm_spend_metric_total";
    let pod = |name: &str, series: Vec<SeriesState>| {
        (name.to_owned(), StateChanges::full(state(T0, series)))
    };
    // Two pods share gpt-4o's label set; only the old pod has claude and b.
    let states = [
        pod(
            "10.0.0.7:4000",
            vec![series(a, "gpt-4o", 1.0, T0), series(b, "claude", 2.0, T0)],
        ),
        pod("10.0.0.8:4000", vec![series(a, "gpt-4o", 3.0, T0)]),
    ];
    let obs = observation(T0, 0, &[], &[]);
    store
        .record(&ScrapeRecord {
            at_ms: T0,
            duration_ms: 1.0,
            outcome: ScrapeOutcome::Ok {
                observation: &obs,
                raw: &[],
                states: &states,
            },
        })
        .unwrap();
    assert_eq!(count(&store, "pulse_labelsets"), 2);
    let deleted = store
        .forget_tracker_targets(&["10.0.0.7:4000".to_owned(), "gone:1".to_owned()])
        .unwrap();
    assert_eq!(deleted, 2);
    let left = store.tracker_states().unwrap();
    assert_eq!(
        left.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["10.0.0.8:4000"]
    );
    assert_eq!(left[0].1.series, [series(a, "gpt-4o", 3.0, T0)]);
    assert_eq!(count(&store, "pulse_targets"), 1);
    // claude's label set and b's name were the forgotten pod's alone.
    assert_eq!(count(&store, "pulse_labelsets"), 1);
    assert_eq!(count(&store, "pulse_labels"), 1);
    assert_eq!(count(&store, "pulse_samples"), 1);
    // The scrape itself is history and stays.
    assert_eq!(count(&store, "pulse_scrapes"), 1);
}

#[test]
fn interned_ids_freed_by_forgetting_are_not_reused_from_the_cache() {
    let mut store = Store::open_memory(5);
    let a = "litellm_requests_metric_total";
    let b = "litellm_spend_metric_total";
    let write = |store: &mut Store, at_ms: i64, name: &str, series: Vec<SeriesState>| {
        let obs = observation(at_ms, 0, &[], &[]);
        ok_for(
            store,
            name,
            &obs,
            &[],
            StateChanges::full(state(at_ms, series)),
        );
    };
    // The store remembers the old pod's sample name, label pair and label set...
    write(
        &mut store,
        T0,
        "10.0.0.7:4000",
        vec![series(a, "claude", 1.0, T0)],
    );
    store
        .forget_tracker_targets(&["10.0.0.7:4000".to_owned()])
        .unwrap();
    assert_eq!(count(&store, "pulse_labelsets"), 0);
    // ...whose ids SQLite hands out again, to other names and labels.
    write(
        &mut store,
        T0 + MIN,
        "10.0.0.8:4000",
        vec![series(b, "gpt-4o", 2.0, T0)],
    );
    let ids = |sql: &str| -> Vec<i64> {
        let mut stmt = store.conn.prepare(sql).unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(ids("SELECT id FROM pulse_labelsets"), [1]);
    assert_eq!(ids("SELECT id FROM pulse_samples"), [1]);
    // The old names come back: they get ids of their own.
    let both = vec![series(a, "claude", 3.0, T0), series(b, "gpt-4o", 4.0, T0)];
    write(&mut store, T0 + 2 * MIN, "10.0.0.8:4000", both.clone());
    let left = store.tracker_states().unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(
        sorted(left[0].1.clone()).series,
        sorted(state(T0, both)).series
    );
}

#[test]
fn a_purge_that_prunes_nothing_keeps_the_interned_ids() {
    let mut store = Store::open_memory(5);
    let obs = observation(T0, 0, &[], &[]);
    let two = vec![
        series("litellm_spend_metric_total", "claude", 1.0, T0),
        series("litellm_spend_metric_total", "gpt-4o", 2.0, T0),
    ];
    ok_for(
        &mut store,
        "t",
        &obs,
        &[],
        StateChanges::full(state(T0, two)),
    );
    assert_eq!(store.interned.series_len(), 2);
    // Retention deletes old scrape rows; every label set is still used.
    assert_eq!(store.purge(T0 - MIN).unwrap(), 0);
    assert_eq!(store.interned.series_len(), 2);
    // Forgetting the target frees its label sets: the cache goes with them.
    store.forget_tracker_targets(&["t".to_owned()]).unwrap();
    assert_eq!(store.interned.series_len(), 0);
}

fn sorted(mut st: TrackerState) -> TrackerState {
    st.series
        .sort_by(|a, b| (&a.sample, &a.labels).cmp(&(&b.sample, &b.labels)));
    st
}

#[test]
fn raw_totals_are_replaced_and_vanished_names_removed() {
    let mut store = Store::open_memory(5);
    let st = state(T0, vec![]);
    ok(
        &mut store,
        &observation(T0, 0, &[], &[]),
        &raw(&[("a", 1.0), ("b", f64::NAN), ("c", 3.0)]),
        &st,
    );
    ok(
        &mut store,
        &observation(T0 + MIN, 0, &[], &[]),
        &raw(&[("a", 1.0), ("d", 4.0)]),
        &st,
    );
    assert_eq!(
        store.last_raw().unwrap(),
        Some((T0 + MIN, raw(&[("a", 1.0), ("d", 4.0)])))
    );
    ok(
        &mut store,
        &observation(T0 + 2 * MIN, 0, &[], &[]),
        &raw(&[("b", f64::NAN)]),
        &st,
    );
    let (at, got) = store.last_raw().unwrap().unwrap();
    assert_eq!(at, T0 + 2 * MIN);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "b");
    assert!(got[0].1.is_nan());
}

#[test]
fn a_failing_write_leaves_nothing_partial_and_the_next_write_is_complete() {
    let mut store = Store::open_memory(5);
    simple(&mut store, T0, 1.0, 0.5, "a");
    // Make the last statement of the transaction fail, as a full disk would.
    store
        .conn
        .execute_batch(
            "CREATE TRIGGER boom BEFORE UPDATE ON pulse_meta \
             BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
        )
        .unwrap();
    let obs = observation(
        T0 + MIN,
        0,
        &[(Metric::Requests, 2.0)],
        &[(Dimension::Team, "new-team", Metric::Requests, 2.0)],
    );
    let raw2 = raw(&[("x_total", 3.0)]);
    let st = state(T0 + MIN, vec![series("s", "m", 1.0, T0 + MIN)]);
    let changes = StateChanges::full(st.clone());
    let rec = ScrapeRecord {
        at_ms: T0 + MIN,
        duration_ms: 1.0,
        outcome: ScrapeOutcome::Ok {
            observation: &obs,
            raw: &raw2,
            states: &[(TARGET.to_owned(), changes.clone())],
        },
    };
    let err = store.record(&rec).unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(store.status().last_attempt_ms, Some(T0 + MIN));
    assert_eq!(count(&store, "pulse_scrapes"), 1);
    assert_eq!(count(&store, "pulse_series"), 2);
    assert_eq!(store.all_time().unwrap().get(Metric::Requests), 1.0);
    assert_eq!(
        store.last_raw().unwrap(),
        Some((T0, raw(&[("x_total", 1.0)])))
    );
    assert_eq!(store.tracker_state().unwrap(), Some(state(T0, vec![])));

    // Once the disk recovers the same scrape is stored completely: the
    // caches did not advance with the rolled-back transaction.
    store.conn.execute_batch("DROP TRIGGER boom").unwrap();
    store.record(&rec).unwrap();
    assert_eq!(store.all_time().unwrap().get(Metric::Requests), 3.0);
    let teams = store.all_time_breakdown(Dimension::Team).unwrap();
    assert_eq!(teams.len(), 1);
    assert_eq!(teams[0].1.get(Metric::Requests), 2.0);
    assert_eq!(store.last_raw().unwrap(), Some((T0 + MIN, raw2.clone())));
    assert_eq!(store.tracker_state().unwrap(), Some(st.clone()));
}

/// Local wall time to UTC ms, through the core's own window math.
fn local_midnight(tz: Tz, any_ms_that_day: i64) -> i64 {
    period_range(any_ms_that_day, tz, Period::Day, 0).start_ms
}

#[test]
fn deltas_either_side_of_local_midnight_land_in_different_days() {
    for zone in ["Asia/Kathmandu", "America/New_York"] {
        let tz = parse_tz(zone).unwrap();
        // Midnight that starts the local day holding T0 + 1 day.
        let midnight = local_midnight(tz, T0 + 24 * HOUR);
        let mut store = Store::open_memory(10);
        simple(&mut store, midnight - 1, 1.0, 0.01, "m");
        simple(&mut store, midnight, 10.0, 0.1, "m");
        let before = period_range(midnight - 1, tz, Period::Day, 0);
        let after = period_range(midnight, tz, Period::Day, 0);
        assert_eq!(before.end_ms, midnight, "{zone}");
        assert_eq!(after.start_ms, midnight, "{zone}");
        assert_eq!(
            store.window_totals(before).unwrap().get(Metric::Requests),
            1.0,
            "{zone}"
        );
        assert_eq!(
            store.window_totals(after).unwrap().get(Metric::Requests),
            10.0,
            "{zone}"
        );
        let month = period_range(midnight, tz, Period::Month, 0);
        assert_eq!(
            store.window_totals(month).unwrap().get(Metric::Requests),
            11.0,
            "{zone}"
        );
        let by_model = store.window_breakdown(Dimension::Model, before).unwrap();
        assert_eq!(clean(by_model[0].1.get(Metric::Cost)), 0.01, "{zone}");
    }
}

#[test]
fn the_handle_runs_jobs_on_the_store_thread() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let handle = StoreHandle::spawn(Store::open_memory(100));
        assert_eq!(handle.call(|s| s.mode()).await.unwrap(), StoreMode::Memory);
        let mut tasks = Vec::new();
        for i in 0..8 {
            let h = handle.clone();
            tasks.push(tokio::spawn(async move {
                h.call(move |s| simple(s, T0 + i * MIN, 1.0, 0.0, "m"))
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let thread = handle
            .call(|_| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert_eq!(thread.as_deref(), Some("pulse-store"));
        let all = handle.call(|s| s.all_time()).await.unwrap().unwrap();
        assert_eq!(all.get(Metric::Requests), 8.0);
        // A panicking job reports Closed, and the thread keeps serving.
        let err = handle
            .call(|_| -> u8 { panic!("job bug") })
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Closed));
        assert_eq!(
            handle
                .call(|s| s.history(100).map(|h| h.len()))
                .await
                .unwrap()
                .unwrap(),
            8
        );
    });
}

// ---- Python reference import -------------------------------------------

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn copy_fixture(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("litellm_pulse.db");
    std::fs::copy(fixture("python-0.3.0.db"), &path).unwrap();
    path
}

#[test]
fn python_import_matches_what_the_python_package_reports() {
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("python-0.3.0.expected.json")).unwrap(),
    )
    .unwrap();
    let num = |v: &serde_json::Value| v.as_f64().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = copy_fixture(dir.path());
    let mut store = Store::open(&path, 168);
    assert_eq!(store.mode(), StoreMode::Sqlite);
    let catalog = Catalog::litellm();
    let report = match store.import_python(&catalog).unwrap() {
        ImportOutcome::Imported(r) => r,
        other => panic!("{other:?}"),
    };
    let counts = &expected["counts"];
    assert_eq!(report.scrapes as f64, num(&counts["scrapes"]));
    assert_eq!(report.model_rows as f64, num(&counts["model_snapshots"]));
    assert_eq!(report.skipped_rows, 0);
    assert_eq!(report.negative_deltas_replaced, 0);
    assert_eq!(
        report.first_ms.unwrap() as f64,
        num(&expected["first_scrape_ms"])
    );
    assert_eq!(
        report.last_ms.unwrap() as f64,
        num(&expected["last_scrape_ms"])
    );

    let tz = parse_tz(expected["timezone"].as_str().unwrap()).unwrap();
    let now = expected["now_ms"].as_i64().unwrap();
    let windows = [
        ("_daily", period_range(now, tz, Period::Day, 0)),
        ("_weekly", period_range(now, tz, Period::Week, 0)),
        ("_monthly", period_range(now, tz, Period::Month, 0)),
    ];
    // Every number is compared after num::clean: we sum per bucket first,
    // so float noise in the last digits may differ, and serde_json's default
    // float parser is not correctly rounded (it can be one ulp off).
    let summary = &expected["summary"];
    let all = store.all_time().unwrap();
    let mut checked = 0;
    for m in Metric::REFERENCE {
        assert_eq!(clean(all.get(m)), clean(num(&summary[m.name()])), "{m:?}");
        for (suffix, range) in windows {
            let got = store.window_totals(range).unwrap().get(m);
            let want = num(&summary[format!("{}{suffix}", m.name())]);
            assert_eq!(clean(got), clean(want), "{m:?}{suffix}");
            checked += 1;
        }
    }
    assert_eq!(checked, 36);
    // The reference's numbers are not trivial: windows differ from each other.
    assert_eq!(num(&summary["requests"]), 830.0);
    assert_eq!(num(&summary["requests_daily"]), 165.0);
    assert_eq!(num(&summary["requests_weekly"]), 394.0);
    assert_eq!(num(&summary["requests_monthly"]), 656.0);
    assert_eq!(clean(all.get(Metric::Cost)), 0.169876);

    let models = expected["models"].as_array().unwrap();
    let ours_all = store.all_time_breakdown(Dimension::Model).unwrap();
    let ours_win: Vec<_> = windows
        .iter()
        .map(|(s, r)| (*s, store.window_breakdown(Dimension::Model, *r).unwrap()))
        .collect();
    let find = |list: &[(String, MetricValues)], key: &str| {
        list.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
            .unwrap_or_default()
    };
    assert_eq!(
        ours_all.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["claude-haiku", "gpt-4o-mini", "local-llama"]
    );
    let mut per_model_checked = 0;
    for entry in models {
        let model = entry["model"].as_str().unwrap();
        for (field, value) in entry.as_object().unwrap() {
            let (base, list) = match ours_win.iter().find(|(s, _)| field.ends_with(s)) {
                Some((s, list)) => (field.trim_end_matches(s), list),
                None => (field.as_str(), &ours_all),
            };
            let Some(metric) = Metric::from_name(base) else {
                continue; // "model", "input_cached_pct*"
            };
            let got = find(list, model).get(metric);
            assert_eq!(clean(got), clean(num(value)), "{model} {field}");
            per_model_checked += 1;
        }
        // The derived percentage comes out the same through the core.
        let ours = find(&ours_all, model);
        let pct = pulse_core::catalog::input_cached_pct(
            ours.get(Metric::InputCachedTokens),
            ours.get(Metric::InputTokens),
        );
        assert_eq!(
            clean(pct),
            clean(num(&entry["input_cached_pct"])),
            "{model}"
        );
    }
    assert!(per_model_checked >= 45, "{per_model_checked}");
    // Requests carry no `model` label in LiteLLM, so the reference has no
    // per-model requests (its fault 8); the import invents none.
    assert_eq!(find(&ours_all, "gpt-4o-mini").get(Metric::Requests), 0.0);

    let latest = &expected["latest_raw"];
    let (raw_at, raw_totals) = store.last_raw().unwrap().unwrap();
    assert_eq!(raw_at as f64, num(&expected["last_scrape_ms"]));
    assert_eq!(raw_totals.len(), 12);
    for m in Metric::REFERENCE {
        let got = raw_totals
            .iter()
            .find(|(n, _)| n == catalog.family(m))
            .unwrap()
            .1;
        assert_eq!(clean(got), clean(num(&latest[m.name()])), "{m:?}");
    }

    let limit = expected["history_limit"].as_u64().unwrap() as usize;
    let history = store.history(limit).unwrap();
    let snaps = expected["history"].as_array().unwrap();
    assert_eq!(history.len(), snaps.len());
    for ((row, snap), ts) in history
        .iter()
        .zip(snaps)
        .zip(expected["history_ts_ms"].as_array().unwrap())
    {
        assert_eq!(row.at_ms, ts.as_i64().unwrap());
        assert_eq!(row.is_reset, snap["is_reset"].as_bool().unwrap());
        for m in Metric::REFERENCE {
            assert_eq!(clean(row.live.get(m)), clean(num(&snap[m.name()])), "{m:?}");
            assert_eq!(
                clean(row.deltas.get(m)),
                clean(num(&snap[format!("{}_delta", m.name())])),
                "{m:?}"
            );
        }
    }
    let resets = store
        .history(1000)
        .unwrap()
        .iter()
        .filter(|r| r.is_reset)
        .count();
    assert_eq!(resets as f64, num(&counts["resets"]));

    // Once only, remembered across restarts; the Python tables stay.
    assert_eq!(
        store.import_python(&catalog).unwrap(),
        ImportOutcome::AlreadyImported
    );
    drop(store);
    let mut store = Store::open(&path, 168);
    assert_eq!(
        store.import_python(&catalog).unwrap(),
        ImportOutcome::AlreadyImported
    );
    assert_eq!(store.all_time().unwrap().get(Metric::Requests), 830.0);
    assert_eq!(rollup_matches_raw(&mut store, now, tz), 22);
    assert_eq!(count(&store, "scrapes") as f64, num(&counts["scrapes"]));
    assert_eq!(
        count(&store, "model_snapshots") as f64,
        num(&counts["model_snapshots"])
    );
}

#[test]
fn a_database_without_python_tables_has_nothing_to_import() {
    let mut store = Store::open_memory(5);
    assert_eq!(
        store.import_python(&Catalog::litellm()).unwrap(),
        ImportOutcome::NoPythonTables
    );
}

#[test]
fn python_0_2_rows_are_imported_with_negative_deltas_fixed_and_overlap_skipped() {
    let mut store = Store::open_memory(50);
    // The 0.2.0 shape: eight metrics, no model_snapshots.
    let metrics = [
        "requests",
        "failed_requests",
        "tokens",
        "input_tokens",
        "output_tokens",
        "reasoning_tokens",
        "cost",
        "in_flight_requests",
    ];
    let mut cols = vec![
        "id INTEGER PRIMARY KEY AUTOINCREMENT".to_owned(),
        "ts INTEGER NOT NULL".into(),
        "is_reset INTEGER DEFAULT 0".into(),
    ];
    cols.extend(metrics.iter().map(|m| format!("raw_{m} REAL DEFAULT 0")));
    cols.extend(metrics.iter().map(|m| format!("delta_{m} REAL DEFAULT 0")));
    store
        .conn
        .execute_batch(&format!("CREATE TABLE scrapes ({})", cols.join(", ")))
        .unwrap();
    let t = T0 / 1000;
    // (ts, raw requests, delta requests, raw tokens, delta tokens, in-flight)
    let rows = [
        (t, 10.0, 0.0, 100.0, 0.0, 3.0),
        (t + 60, 12.0, 2.0, 90.0, -10.0, 1.0), // tokens fell: fault 1
        (t + 120, 15.0, 3.0, 120.0, 30.0, 0.0),
        (t + 180, 99.0, 84.0, 999.0, 879.0, 0.0), // after our first scrape
    ];
    for (ts, r, dr, tk, dtk, inflight) in rows {
        store
            .conn
            .execute(
                "INSERT INTO scrapes (ts, raw_requests, delta_requests, raw_tokens, delta_tokens, \
                 raw_in_flight_requests, delta_in_flight_requests) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![ts, r, dr, tk, dtk, inflight],
            )
            .unwrap();
    }
    simple(&mut store, T0 + 150_000, 1.0, 0.0, "m");
    let report = match store.import_python(&Catalog::litellm()).unwrap() {
        ImportOutcome::Imported(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        report,
        ImportReport {
            scrapes: 3,
            model_rows: 0,
            skipped_rows: 1,
            negative_deltas_replaced: 1,
            first_ms: Some(T0),
            last_ms: Some(T0 + 120_000),
        }
    );
    let all = store.all_time().unwrap();
    assert_eq!(all.get(Metric::Requests), 2.0 + 3.0 + 1.0);
    assert_eq!(all.get(Metric::Tokens), 90.0 + 30.0);
    assert_eq!(all.get(Metric::InFlightRequests), 0.0);
    let history = store.history(10).unwrap();
    assert_eq!(history.len(), 4);
    assert_eq!(history[0].live.get(Metric::InFlightRequests), 3.0);
    assert_eq!(history[1].deltas.get(Metric::Tokens), 90.0);
    // Our own scrape already set the raw totals; the import keeps them.
    assert_eq!(
        store.last_raw().unwrap(),
        Some((T0 + 150_000, raw(&[("x_total", 1.0)])))
    );
}

// ---- Real LiteLLM captures through the real parser and tracker ----------

use pulse_testkit::capture;

/// Parses `body`, observes it and records the scrape.
fn scrape(
    store: &mut Store,
    tracker: &mut pulse_core::Tracker,
    body: &str,
    at_ms: i64,
) -> Observation {
    let expo = pulse_core::parse(body).unwrap();
    let obs = tracker.observe(&expo, at_ms);
    let raw: Vec<(String, f64)> = pulse_core::sample_totals(&expo)
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v))
        .collect();
    ok_with(store, &obs, &raw, &tracker.take_changes());
    obs
}

/// (capture, UTC time from MANIFEST.tsv)
const SEQUENCE: [(&str, i64); 6] = [
    ("00-before-traffic.prom", 1_795_774_058_000),
    ("01-after-batch1.prom", 1_795_774_099_671),
    ("02-after-batch2.prom", 1_795_774_191_292),
    ("02b-after-batch2-streams-drained.prom", 1_795_774_246_219),
    ("03-after-restart-before-traffic.prom", 1_795_774_264_527),
    ("04-after-restart-batch3.prom", 1_795_774_268_890),
];

#[test]
fn a_restart_of_the_host_resumes_from_the_stored_tracker_state() {
    let dir = tempfile::tempdir().unwrap();
    let bodies: Vec<(String, i64)> = SEQUENCE.iter().map(|(n, t)| (capture(n), *t)).collect();

    let mut straight = Store::open(&dir.path().join("straight.db"), 168);
    let mut tracker = pulse_core::Tracker::new(Catalog::litellm());
    let mut sum = MetricValues::default();
    for (body, at) in &bodies {
        let obs = scrape(&mut straight, &mut tracker, body, *at);
        for (m, d) in obs.deltas.iter() {
            sum.add(m, d);
        }
    }

    // The same sequence with the host restarted after every scrape.
    let path = dir.path().join("restarted.db");
    for (body, at) in &bodies {
        let mut store = Store::open(&path, 168);
        let mut tracker = match store.tracker_state().unwrap() {
            Some(st) => pulse_core::Tracker::from_state(Catalog::litellm(), st),
            None => pulse_core::Tracker::new(Catalog::litellm()),
        };
        scrape(&mut store, &mut tracker, body, *at);
    }
    let restarted = Store::open(&path, 168);

    let all = straight.all_time().unwrap();
    assert_eq!(all, sum);
    // 3 → 67 before LiteLLM restarted, then the 8 requests of batch 3.
    assert_eq!(all.get(Metric::Requests), 64.0 + 8.0);
    assert_eq!(restarted.all_time().unwrap(), all);
    assert_eq!(
        restarted.all_time_breakdown(Dimension::Model).unwrap(),
        straight.all_time_breakdown(Dimension::Model).unwrap()
    );
    assert_eq!(
        restarted.history(10).unwrap(),
        straight.history(10).unwrap()
    );
    assert_eq!(restarted.last_raw().unwrap(), straight.last_raw().unwrap());
    // Per-model sums equal the totals, through storage.
    let by_model = straight.all_time_breakdown(Dimension::Model).unwrap();
    for m in [Metric::Requests, Metric::Tokens, Metric::Cost] {
        let total: f64 = by_model.iter().map(|(_, v)| v.get(m)).sum();
        assert_eq!(clean(total), clean(all.get(m)), "{m:?}");
    }
    let resets = straight
        .history(10)
        .unwrap()
        .iter()
        .filter(|r| r.is_reset)
        .count();
    assert_eq!(resets, 1);
}

#[test]
fn rescraping_an_unchanged_large_body_writes_four_rows() {
    let body = capture("06-teams-after-traffic.prom");
    let mut store = Store::open_memory(10);
    let mut tracker = pulse_core::Tracker::new(Catalog::litellm());
    let t = 1_795_774_319_414;
    scrape(&mut store, &mut tracker, &body, t);
    let series = count(&store, "pulse_state_series");
    assert_eq!(series as usize, tracker.export_state().series.len());
    let before = store.conn.total_changes();
    scrape(&mut store, &mut tracker, &body, t + 60_000);
    // Status, the scrape row, the raw totals' time and the tracker header;
    // no series, raw or bucket row.
    assert_eq!(store.conn.total_changes() - before, 4);
}

#[test]
fn window_queries_seek_the_bucket_index_instead_of_scanning() {
    let mut store = Store::open_memory(5);
    simple(&mut store, T0, 1.0, 0.5, "m");
    let plan = |sql: &str, first: &dyn rusqlite::ToSql| -> String {
        let mut stmt = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let all: [&dyn rusqlite::ToSql; 3] = [first, &0, &1];
        let bound = &all[..stmt.parameter_count()];
        let rows = stmt.query_map(bound, |r| r.get::<_, String>(3)).unwrap();
        rows.collect::<Result<Vec<_>, _>>().unwrap().join("; ")
    };
    let seek = "USING PRIMARY KEY (series_id=? AND start_ms>? AND start_ms<?)";
    for (_, table) in BUCKET_TABLES {
        let totals = plan(&WINDOW_TOTALS_SQL.replace("{table}", table), &1);
        assert!(
            totals.contains(&format!("SEARCH {table} {seek}")),
            "{totals}"
        );
        let breakdown = plan(&WINDOW_BREAKDOWN_SQL.replace("{table}", table), &"model");
        assert!(
            breakdown.contains(&format!("SEARCH b {seek}")),
            "{breakdown}"
        );
        assert!(!breakdown.contains("SCAN b"), "{breakdown}");
    }
    // Version 6 dropped the bucket table's `start_ms` index: what scanned
    // by time alone now goes per series through the primary key.
    let indexes: i64 = store
        .conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'pulse_buckets_start'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 0);
    for (sql, first, seek) in [
        (
            super::write::PURGE_BUCKETS_SQL,
            &1 as &dyn rusqlite::ToSql,
            "SEARCH pulse_buckets USING PRIMARY KEY (series_id=? AND start_ms<?)",
        ),
        (
            super::write::RESUM_DAY_SQL,
            &0,
            "SEARCH b USING PRIMARY KEY (series_id=? AND start_ms>? AND start_ms<?)",
        ),
        (
            super::export::TOTAL_POINTS_SQL,
            &1,
            "SEARCH pulse_buckets USING PRIMARY KEY (series_id=? AND start_ms>? AND start_ms<?)",
        ),
        (
            super::export::KEYED_POINTS_SQL,
            &"model",
            "SEARCH b USING PRIMARY KEY (series_id=? AND start_ms>? AND start_ms<?)",
        ),
    ] {
        let got = plan(sql, first);
        assert!(got.contains(seek), "{sql}: {got}");
        assert!(
            !got.contains("SCAN b") && !got.contains("SCAN pulse_buckets"),
            "{sql}: {got}"
        );
    }
}

/// Every row of every table of `store`, as text, for comparing two databases.
fn dump(store: &Store) -> Vec<String> {
    let mut out = Vec::new();
    for (table, order) in [
        ("pulse_scrapes", "at_ms, id"),
        ("pulse_series", "dimension, key"),
        ("pulse_buckets", "series_id, start_ms, metric_id"),
        ("pulse_buckets_day", "series_id, start_ms, metric_id"),
        ("pulse_all_time", "series_id, metric_id"),
        ("pulse_raw", "name"),
        ("pulse_targets", "id"),
        ("pulse_samples", "id"),
        ("pulse_labels", "id"),
        ("pulse_labelsets", "id"),
        (
            "pulse_state_series",
            "target_id, sample_id, labelset_id, created_key",
        ),
        ("pulse_status", "id"),
        ("pulse_meta", "key"),
    ] {
        let mut stmt = store
            .conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))
            .unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |row| {
                let cells: Vec<String> = (0..n)
                    .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                    .collect();
                Ok(format!("{table}: {}", cells.join(" | ")))
            })
            .unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out
}

#[test]
fn a_batch_stores_exactly_what_one_record_per_scrape_stores() {
    let dir = tempfile::tempdir().unwrap();
    let mut tracker = pulse_core::Tracker::new(Catalog::litellm());
    // The real captures with failed attempts between them, then a repeat
    // of 04 (nothing changed: no tracker rows rewritten).
    let mut prepared = Vec::new();
    for (i, (name, at)) in SEQUENCE
        .iter()
        .chain(std::iter::once(&SEQUENCE[5]))
        .enumerate()
    {
        let at = *at + if i == 6 { 60_000 } else { 0 };
        let body = capture(name);
        let expo = pulse_core::parse(&body).unwrap();
        let obs = tracker.observe(&expo, at);
        let raw: Vec<(String, f64)> = pulse_core::sample_totals(&expo)
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v))
            .collect();
        prepared.push((at, obs, raw, [(TARGET.to_owned(), tracker.take_changes())]));
    }
    let errors = [
        "metrics URL answered HTTP 502",
        "scrape timed out after 2.0 s",
    ];
    let mut recs = Vec::new();
    for (i, (at, obs, raw, st)) in prepared.iter().enumerate() {
        if i == 2 || i == 3 {
            recs.push(ScrapeRecord {
                at_ms: at - 20_000,
                duration_ms: 2000.0,
                outcome: ScrapeOutcome::Failed {
                    error: errors[i - 2],
                },
            });
        }
        recs.push(ScrapeRecord {
            at_ms: *at,
            duration_ms: 12.5,
            outcome: ScrapeOutcome::Ok {
                observation: obs,
                raw,
                states: st,
            },
        });
    }

    let mut one_by_one = Store::open(&dir.path().join("one.db"), 168);
    for rec in &recs {
        one_by_one.record(rec).unwrap();
    }
    let mut batched = Store::open(&dir.path().join("batch.db"), 168);
    // Split in two batches so the second starts from the first's caches.
    batched.record_batch(&recs[..4]).unwrap();
    batched.record_batch(&recs[4..]).unwrap();
    batched.record_batch(&[]).unwrap();

    assert_eq!(recs.len(), 9);
    let (a, b) = (dump(&one_by_one), dump(&batched));
    // 440 rows, plus the 126 day rows summing the bucket rows, plus the
    // tracker's 440 latency histogram series (pulse-core's state version 2),
    // plus 31 rows of the target's `instance` breakdown, plus the interned
    // target, sample names, label pairs and label sets of its series, less the meta row
    // that held the tracker header before schema 5.
    let interned: i64 = [
        "pulse_targets",
        "pulse_samples",
        "pulse_labels",
        "pulse_labelsets",
    ]
    .iter()
    .map(|t| count(&one_by_one, t))
    .sum();
    assert_eq!(interned, 282);
    assert_eq!(a.len(), 1006 + 31 + 282 - 1);
    assert_eq!(a, b);
    assert_eq!(batched.status(), one_by_one.status());
    assert_eq!(batched.all_time().unwrap().get(Metric::Requests), 72.0);
    assert_eq!(
        batched.tracker_state().unwrap(),
        one_by_one.tracker_state().unwrap()
    );
    // A reopened batch store continues like the other one.
    drop(batched);
    let reopened = Store::open(&dir.path().join("batch.db"), 168);
    assert_eq!(dump(&reopened), a);
}

#[test]
fn a_failing_batch_stores_none_of_its_scrapes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let mut store = Store::open(&path, 168);
    simple(&mut store, T0, 1.0, 0.5, "gpt");
    let before = dump(&store);
    let (o1, o2) = (
        observation(T0 + MIN, 0, &[(Metric::Requests, 2.0)], &[]),
        observation(T0 + 2 * MIN, 0, &[(Metric::Requests, 3.0)], &[]),
    );
    let st = StateChanges::full(state(T0 + 2 * MIN, vec![]));
    let recs = [
        ScrapeRecord {
            at_ms: T0 + MIN,
            duration_ms: 1.0,
            outcome: ScrapeOutcome::Ok {
                observation: &o1,
                raw: &[],
                states: &[(TARGET.to_owned(), st.clone())],
            },
        },
        ScrapeRecord {
            at_ms: T0 + 2 * MIN,
            duration_ms: 1.0,
            outcome: ScrapeOutcome::Ok {
                observation: &o2,
                raw: &[],
                states: &[(TARGET.to_owned(), st.clone())],
            },
        },
    ];
    // Another connection holds the write lock past the busy timeout.
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.busy_timeout(std::time::Duration::ZERO).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    store
        .conn
        .busy_timeout(std::time::Duration::from_millis(50))
        .unwrap();
    assert!(store.record_batch(&recs).is_err());
    blocker.execute_batch("ROLLBACK").unwrap();
    // The in-memory status reflects the attempts; the database has none of them.
    assert_eq!(store.status().last_success_ms, Some(T0 + 2 * MIN));
    let after = dump(&store);
    assert_eq!(after, before);
    store.record_batch(&recs).unwrap();
    assert_eq!(store.all_time().unwrap().get(Metric::Requests), 6.0);
    assert_eq!(store.history(10).unwrap().len(), 3);
}

#[test]
fn cached_sums_follow_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("c.db"), 168);
    let day = TimeRange {
        start_ms: T0 - 12 * HOUR,
        end_ms: T0 + 12 * HOUR,
    };
    simple(&mut store, T0, 2.0, 0.25, "gpt");
    let read = |s: &Store| {
        (
            s.window_totals(day).unwrap().get(Metric::Requests),
            s.window_breakdown(Dimension::Model, day).unwrap(),
            s.all_time().unwrap().get(Metric::Requests),
            s.all_time_breakdown(Dimension::Model).unwrap().len(),
        )
    };
    let first = read(&store);
    assert_eq!((first.0, first.2, first.3), (2.0, 2.0, 1));
    // Served again from the cache: the same values.
    assert_eq!(read(&store), first);
    simple(&mut store, T0 + HOUR, 3.0, 0.5, "claude");
    let second = read(&store);
    assert_eq!((second.0, second.2, second.3), (5.0, 5.0, 2));
    assert_eq!(second.1.len(), 2);
    assert_eq!(second.1[0].0, "claude");
    // A purge drops the older bucket from the window, not from all time.
    store.purge(T0 + 30 * MIN).unwrap();
    let third = read(&store);
    assert_eq!((third.0, third.2), (3.0, 5.0));
    assert_eq!(third.1.len(), 1);
    // A failed attempt writes no sums, and the cache still answers right.
    store
        .record(&ScrapeRecord {
            at_ms: T0 + 2 * HOUR,
            duration_ms: 1.0,
            outcome: ScrapeOutcome::Failed { error: "down" },
        })
        .unwrap();
    assert_eq!(read(&store), third);
    // Windows ending at any moment of the same bucket share one entry, and
    // count the bucket that holds their end.
    let before = store.cache.borrow().totals.len();
    for end in [T0 + HOUR + 1, T0 + HOUR + 7 * MIN, T0 + HOUR + 15 * MIN] {
        let r = TimeRange {
            start_ms: day.start_ms,
            end_ms: end,
        };
        assert_eq!(store.window_totals(r).unwrap().get(Metric::Requests), 3.0);
    }
    assert_eq!(store.cache.borrow().totals.len(), before + 1);
    let r = TimeRange {
        start_ms: day.start_ms,
        end_ms: T0 + HOUR,
    };
    assert_eq!(store.window_totals(r).unwrap().get(Metric::Requests), 0.0);
    // The widest range still holds everything (its ends saturate).
    let all = TimeRange {
        start_ms: i64::MIN,
        end_ms: i64::MAX,
    };
    assert_eq!(store.window_totals(all).unwrap().get(Metric::Requests), 3.0);
    assert_eq!(bucket_aligned(all).end_ms, i64::MAX);
    // Many different windows do not grow the cache past its cap.
    for i in 0..200 {
        let r = TimeRange {
            start_ms: T0 - i * 15 * MIN,
            end_ms: T0 + HOUR,
        };
        store.window_totals(r).unwrap();
    }
    assert!(store.cache.borrow().totals.len() <= READ_CACHE_CAP);
}

/// Every window the API offers, and two arbitrary ranges that are not on
/// 15-minute edges.
const WINDOWS: [Window; 12] = [
    Window::Today,
    Window::Yesterday,
    Window::ThisWeek,
    Window::LastWeek,
    Window::ThisMonth,
    Window::LastMonth,
    Window::LastHours(30),
    Window::LastDays(45),
    Window::LastDays(1000),
    Window::AllTime,
    Window::Range(TimeRange::new(
        T0 - 40 * 86_400_000 + 123,
        T0 - 86_400_000 - 7,
    )),
    Window::Range(TimeRange::new(T0 - 3 * HOUR + 1, T0 - HOUR)),
];

/// Compares every window's totals and every dimension's breakdown read
/// through the daily rollup with the same read from the 15-minute buckets
/// alone, after `num::clean` (summation order differs). Returns how many
/// windows held data, so a caller can tell the comparison was not vacuous.
fn rollup_matches_raw(store: &mut Store, now_ms: i64, tz: Tz) -> usize {
    type Read = (MetricValues, Vec<Vec<(String, MetricValues)>>);
    let read = |store: &Store, w: &Window| -> Read {
        let range = window_range(w, now_ms, tz);
        let breakdowns = Dimension::ALL
            .into_iter()
            .map(|d| store.window_breakdown(d, range).unwrap())
            .collect();
        (store.window_totals(range).unwrap(), breakdowns)
    };
    let cleaned = |v: &MetricValues| -> Vec<f64> { v.iter().map(|(_, x)| clean(x)).collect() };
    store.use_rollup(false);
    let raw: Vec<Read> = WINDOWS.iter().map(|w| read(store, w)).collect();
    store.use_rollup(true);
    let mut nonempty = 0;
    for (w, (raw_totals, raw_keys)) in WINDOWS.iter().zip(&raw) {
        let (totals, keys) = read(store, w);
        assert_eq!(cleaned(&totals), cleaned(raw_totals), "{w} totals in {tz}");
        for (got, want) in keys.iter().zip(raw_keys) {
            let names = |v: &[(String, MetricValues)]| -> Vec<String> {
                v.iter().map(|(k, _)| k.clone()).collect()
            };
            assert_eq!(names(got), names(want), "{w} keys in {tz}");
            for ((k, a), (_, b)) in got.iter().zip(want) {
                assert_eq!(cleaned(a), cleaned(b), "{w} {k} in {tz}");
            }
        }
        nonempty += usize::from(raw_totals.iter().any(|(_, x)| x != 0.0));
        nonempty += usize::from(raw_keys.iter().any(|k| !k.is_empty()));
    }
    nonempty
}

/// 60 days of scrapes every 37 minutes, with fractional costs that make float
/// sums depend on their order, over two dimensions.
fn long_history(store: &mut Store, end_ms: i64) {
    let start = end_ms - 60 * 86_400_000;
    let models = ["gpt-4o", "claude", "None"];
    let mut recs = Vec::new();
    let mut at = start;
    let mut i = 0u32;
    while at <= end_ms {
        let n = f64::from(i % 5);
        let cost = 0.1 * f64::from(i % 7) + 0.000_3;
        let model = models[i as usize % models.len()];
        let team = if i.is_multiple_of(4) {
            "team-a"
        } else {
            "team-b"
        };
        recs.push(observation(
            at,
            u32::from(i.is_multiple_of(97)),
            &[
                (Metric::Requests, n),
                (Metric::Cost, cost),
                (Metric::Tokens, 13.0 * n),
            ],
            &[
                (Dimension::Model, model, Metric::Requests, n),
                (Dimension::Model, model, Metric::Cost, cost),
                (Dimension::Team, team, Metric::Cost, cost),
            ],
        ));
        at += 37 * MIN;
        i += 1;
    }
    let st = [(TARGET.to_owned(), StateChanges::full(state(end_ms, vec![])))];
    let body = raw(&[("x_total", 1.0)]);
    let recs: Vec<ScrapeRecord<'_>> = recs
        .iter()
        .map(|obs| ScrapeRecord {
            at_ms: obs.at_ms,
            duration_ms: 3.0,
            outcome: ScrapeOutcome::Ok {
                observation: obs,
                raw: &body,
                states: &st,
            },
        })
        .collect();
    store.record_batch(&recs).unwrap();
}

#[test]
fn windows_sum_the_same_through_the_daily_rollup_as_through_the_buckets() {
    let mut store = Store::open_memory(10);
    let end = T0 + 30 * 86_400_000;
    long_history(&mut store, end);
    // 2026-03-29 is Europe/Berlin's spring-forward day, 2026-03-08 New York's;
    // Kathmandu is +05:45, St John's -03:30 with DST.
    // The last number: windows with data after the purge below.
    let cases = [
        ("Asia/Kathmandu", end, 24),
        ("Asia/Kathmandu", T0 - 20 * 86_400_000 + 7 * MIN, 4),
        ("America/St_Johns", T0 - 33 * HOUR, 22),
        ("Europe/Berlin", 1_774_749_600_000, 24),
        ("America/New_York", 1_772_953_200_000, 24),
        ("Australia/Lord_Howe", T0 - 5 * 86_400_000, 22),
        ("UTC", T0, 24),
    ];
    for (zone, now, _) in cases {
        let tz = parse_tz(zone).unwrap();
        // Every window holds data, in totals and breakdowns alike.
        assert_eq!(rollup_matches_raw(&mut store, now, tz), 24, "{zone}");
    }
    // The day rows are the buckets' sums, day by day.
    let days: i64 = store
        .conn
        .query_row(
            "SELECT COUNT(DISTINCT start_ms) FROM pulse_buckets_day",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(days, 61);
    // Retention cutting a day in two keeps the rollup equal to what is left.
    let cut = T0 - 10 * 86_400_000 + 5 * HOUR + 20 * MIN;
    assert!(utc_day(cut) < storage_bucket(cut));
    store.purge(cut).unwrap();
    let first_day: i64 = store
        .conn
        .query_row("SELECT MIN(start_ms) FROM pulse_buckets_day", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(first_day, utc_day(cut));
    for (zone, now, left) in cases {
        let tz = parse_tz(zone).unwrap();
        assert_eq!(rollup_matches_raw(&mut store, now, tz), left, "{zone}");
    }
    let mismatched: i64 = store
        .conn
        .query_row(
            "SELECT COUNT(*) FROM pulse_buckets_day d WHERE abs(d.value - (SELECT SUM(b.value) \
             FROM pulse_buckets b WHERE b.series_id = d.series_id AND b.metric_id = d.metric_id \
             AND b.start_ms >= d.start_ms AND b.start_ms < d.start_ms + 86400000)) > 1e-9",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(mismatched, 0);
}

#[test]
fn a_version_1_database_gets_its_daily_rollup_backfilled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    {
        // What a version-1 build wrote: buckets, no day rows.
        let mut store = Store::open(&path, 10);
        long_history(&mut store, T0);
        store
            .conn
            .execute_batch("DROP TABLE pulse_buckets_day; PRAGMA user_version = 1;")
            .unwrap();
    }
    let mut store = Store::open(&path, 10);
    assert_eq!(store.mode(), StoreMode::Sqlite);
    assert_eq!(schema::version(&store.conn).unwrap(), schema::LATEST);
    // 61 UTC days × (total: 3 metrics + 3 models × 2 + 2 teams × 1).
    assert_eq!(count(&store, "pulse_buckets_day"), 61 * 11);
    for zone in ["Asia/Kathmandu", "Europe/Berlin"] {
        let tz = parse_tz(zone).unwrap();
        assert_eq!(rollup_matches_raw(&mut store, T0, tz), 24, "{zone}");
    }
    // New scrapes keep adding to the backfilled rows.
    simple(&mut store, T0 + MIN, 5.0, 0.5, "gpt-4o");
    assert_eq!(rollup_matches_raw(&mut store, T0 + 2 * MIN, Tz::UTC), 24);
}

/// The alert outbox: decisions taken in the scrape transaction.
mod outbox {
    use std::sync::Arc;

    use pulse_core::budget::{Budget, BudgetSpec};
    use pulse_core::window::{Period, Tz, parse_rfc3339, parse_tz};

    use super::*;
    use crate::alerts::{AlertConfig, Channel, ChannelKind};

    fn at(t: &str) -> i64 {
        parse_rfc3339(t).unwrap()
    }

    fn rules(period: Period, limit: f64, thresholds: &[f64], tz: Tz) -> AlertRules {
        let mut spec = BudgetSpec::new("b", period, limit);
        spec.thresholds = thresholds.to_vec();
        spec.forecast_warning = false;
        let config = AlertConfig {
            budgets: vec![Budget::new(spec).unwrap()],
            channels: vec![Channel {
                name: "ops".into(),
                kind: ChannelKind::Webhook,
                url: reqwest::Url::parse("http://127.0.0.1:9/hook").unwrap(),
                secret: None,
                priority: None,
                tags: Vec::new(),
            }],
            ..AlertConfig::default()
        };
        AlertRules {
            config: Arc::new(config),
            tz,
        }
    }

    fn keys(store: &Store) -> Vec<String> {
        let mut stmt = store
            .conn
            .prepare("SELECT alert_key FROM pulse_alerts ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn a_burst_above_a_threshold_records_one_alert_and_a_restart_repeats_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let r = rules(Period::Month, 1.0, &[50.0, 80.0], Tz::UTC);
        let mut store = Store::open(&path, 10);
        store.set_alert_rules(Some(r.clone()));
        simple(&mut store, at("2026-03-10T10:00:00Z"), 1.0, 0.4, "m");
        assert!(keys(&store).is_empty());
        simple(&mut store, at("2026-03-10T10:01:00Z"), 1.0, 0.45, "m");
        simple(&mut store, at("2026-03-10T10:02:00Z"), 1.0, 0.01, "m");
        simple(&mut store, at("2026-03-10T10:03:00Z"), 1.0, 0.01, "m");
        assert_eq!(
            keys(&store),
            ["threshold:2026-03:50:b", "threshold:2026-03:80:b"]
        );
        // One delivery row per alert and channel, due at once.
        assert_eq!(count(&store, "pulse_alert_deliveries"), 2);
        let due = store
            .due_deliveries(at("2026-03-10T10:03:00Z"), 10)
            .unwrap();
        assert_eq!(due.len(), 2);
        assert_eq!(due[0].event.kind, "threshold");
        assert_eq!(due[0].event.threshold, Some(50.0));
        assert_eq!(due[1].event.value, Some(0.85));
        drop(store);

        // A new process, the same rules, more spend: nothing is repeated.
        let mut store = Store::open(&path, 10);
        store.set_alert_rules(Some(r));
        simple(&mut store, at("2026-03-10T10:04:00Z"), 1.0, 0.01, "m");
        assert_eq!(keys(&store).len(), 2);
        // The next month re-arms every threshold.
        simple(&mut store, at("2026-04-01T00:00:30Z"), 1.0, 0.9, "m");
        assert_eq!(
            keys(&store),
            [
                "threshold:2026-03:50:b",
                "threshold:2026-03:80:b",
                "threshold:2026-04:50:b",
                "threshold:2026-04:80:b"
            ]
        );
    }

    #[test]
    fn a_failed_write_takes_its_decision_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let mut store = Store::open(&path, 10);
        store.set_alert_rules(Some(rules(Period::Month, 1.0, &[80.0], Tz::UTC)));
        let blocker = Connection::open(&path).unwrap();
        blocker.busy_timeout(std::time::Duration::ZERO).unwrap();
        store
            .conn
            .busy_timeout(std::time::Duration::from_millis(50))
            .unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        let obs = observation(at("2026-03-10T10:00:00Z"), 0, &[(Metric::Cost, 0.9)], &[]);
        let rec = ScrapeRecord {
            at_ms: obs.at_ms,
            duration_ms: 1.0,
            outcome: ScrapeOutcome::Ok {
                observation: &obs,
                raw: &[],
                states: &[(
                    TARGET.to_owned(),
                    StateChanges::full(state(obs.at_ms, vec![])),
                )],
            },
        };
        assert!(store.record(&rec).is_err());
        blocker.execute_batch("ROLLBACK").unwrap();
        assert!(keys(&store).is_empty());
        // The retried scrape decides it, once.
        store.record(&rec).unwrap();
        assert_eq!(keys(&store), ["threshold:2026-03:80:b"]);
    }

    #[test]
    fn a_25_hour_day_is_one_period() {
        // Berlin leaves summer time on 2026-10-25: that local day has 25 hours.
        let tz = parse_tz("Europe/Berlin").unwrap();
        let mut store = Store::open_memory(100);
        store.set_alert_rules(Some(rules(Period::Day, 1.0, &[80.0], tz)));
        simple(&mut store, at("2026-10-25T00:30:00+02:00"), 1.0, 0.5, "m");
        simple(&mut store, at("2026-10-25T23:30:00+01:00"), 1.0, 0.35, "m");
        assert_eq!(keys(&store), ["threshold:2026-10-25:80:b"]);
        let b = &store.alert_rules.as_ref().unwrap().config.budgets;
        let m = store
            .budget_measures(b, at("2026-10-25T23:45:00+01:00"), tz)
            .unwrap();
        assert_eq!(clean(m[0].spent), 0.85);
        assert_eq!(m[0].period.range.len_ms(), 25 * 3_600_000);
        // Ten minutes into the next day: a new period, re-armed.
        simple(&mut store, at("2026-10-26T00:10:00+01:00"), 1.0, 0.9, "m");
        assert_eq!(
            keys(&store),
            ["threshold:2026-10-25:80:b", "threshold:2026-10-26:80:b"]
        );
    }

    #[test]
    fn scrape_down_fires_once_per_outage_and_recovery_follows_it() {
        let mut store = Store::open_memory(100);
        let mut r = rules(Period::Month, 100.0, &[80.0], Tz::UTC);
        Arc::make_mut(&mut r.config).scrape_down_minutes = Some(5);
        store.set_alert_rules(Some(r));
        simple(&mut store, at("2026-03-10T10:00:00Z"), 1.0, 0.1, "m");
        let fail = |store: &mut Store, t: &str| {
            store
                .record(&ScrapeRecord {
                    at_ms: at(t),
                    duration_ms: 1.0,
                    outcome: ScrapeOutcome::Failed { error: "HTTP 503" },
                })
                .unwrap();
        };
        fail(&mut store, "2026-03-10T10:01:00Z");
        fail(&mut store, "2026-03-10T10:04:00Z");
        assert!(keys(&store).is_empty());
        fail(&mut store, "2026-03-10T10:05:00Z");
        fail(&mut store, "2026-03-10T10:06:00Z");
        let since = at("2026-03-10T10:00:00Z");
        assert_eq!(keys(&store), [format!("scrape_down:{since}:-:scrape")]);
        simple(&mut store, at("2026-03-10T10:07:00Z"), 1.0, 0.1, "m");
        simple(&mut store, at("2026-03-10T10:08:00Z"), 1.0, 0.1, "m");
        assert_eq!(
            keys(&store),
            [
                format!("scrape_down:{since}:-:scrape"),
                format!("scrape_recovered:{since}:-:scrape")
            ]
        );
        // A short blip without a down alert recovers silently.
        fail(&mut store, "2026-03-10T10:09:00Z");
        simple(&mut store, at("2026-03-10T10:10:00Z"), 1.0, 0.1, "m");
        assert_eq!(keys(&store).len(), 2);
    }

    #[test]
    fn delivery_attempts_are_recorded_per_channel() {
        let mut store = Store::open_memory(100);
        store.set_alert_rules(Some(rules(Period::Month, 1.0, &[80.0], Tz::UTC)));
        let t = at("2026-03-10T10:00:00Z");
        simple(&mut store, t, 1.0, 0.9, "m");
        let d = store.due_deliveries(t, 10).unwrap().remove(0);
        store
            .record_attempt(
                d.alert_id,
                &d.channel,
                t,
                &Attempt::Retry {
                    error: "answered HTTP 500".into(),
                    next_ms: t + 15_000,
                },
            )
            .unwrap();
        assert!(store.due_deliveries(t + 14_999, 10).unwrap().is_empty());
        assert_eq!(store.due_deliveries(t + 15_000, 10).unwrap().len(), 1);
        store
            .record_attempt(d.alert_id, &d.channel, t + 15_000, &Attempt::Delivered)
            .unwrap();
        assert!(store.due_deliveries(t + 99_000, 10).unwrap().is_empty());
        let history = store.alert_history(10).unwrap();
        let state = &history[0].deliveries[0];
        assert_eq!(state.attempts, 2);
        assert_eq!(state.delivered_ms, Some(t + 15_000));
        assert_eq!(state.last_error, None);
    }

    #[test]
    fn a_spend_spike_fires_once_for_its_hour() {
        let mut store = Store::open_memory(1000);
        let mut r = rules(Period::Month, 1_000.0, &[100.0], Tz::UTC);
        Arc::make_mut(&mut r.config).spike = Some(pulse_core::budget::SpikeRule::default());
        store.set_alert_rules(Some(r));
        // History starts at midnight; $1 at 14:20 every day for a week.
        simple(&mut store, at("2026-03-01T00:00:00Z"), 0.0, 0.0, "m");
        for d in 1..=7 {
            simple(
                &mut store,
                at(&format!("2026-03-0{d}T14:20:00Z")),
                1.0,
                1.0,
                "m",
            );
        }
        assert!(keys(&store).is_empty(), "{:?}", keys(&store));
        // $5 in the same hour on the 8th: five times the median.
        simple(&mut store, at("2026-03-08T14:20:00Z"), 1.0, 5.0, "m");
        simple(&mut store, at("2026-03-08T14:40:00Z"), 1.0, 1.0, "m");
        simple(&mut store, at("2026-03-08T15:20:00Z"), 1.0, 0.1, "m");
        assert_eq!(keys(&store), ["spike:2026-03-08T14:-:spend"]);
        let due = store
            .due_deliveries(at("2026-03-08T16:00:00Z"), 10)
            .unwrap();
        assert_eq!(due[0].event.value, Some(5.0));
    }
}

/// The cost forecasts `/api/v2/summary` asks for on every request come from
/// cached store reads, and equal a forecast from a fresh read at every
/// instant: inside a bucket, on its first millisecond, across a local
/// midnight and after a write.
#[test]
fn cached_cost_forecasts_equal_fresh_ones() {
    let tz: Tz = "America/New_York".parse().unwrap();
    let mut store = Store::open_memory(100_000);
    let st = state(T0, vec![]);
    // Five weeks of hourly spend that follows the hour of the day.
    let start = T0 - 35 * 24 * HOUR;
    let mut t = start;
    while t < T0 {
        let hour = (t / HOUR).rem_euclid(24) as f64;
        ok(
            &mut store,
            &observation(t, 0, &[(Metric::Cost, 0.01 * (1.0 + hour))], &[]),
            &[],
            &st,
        );
        t += HOUR;
    }
    let fresh = |store: &Store, now: i64| -> [f64; 3] {
        [Period::Day, Period::Week, Period::Month].map(|p| {
            store
                .reader()
                .measure(&pulse_core::budget::Scope::All, Metric::Cost, p, now, tz)
                .unwrap()
                .forecast
                .projected
        })
    };
    let midnight = pulse_core::window::period_start(T0 + 24 * HOUR, tz, Period::Day);
    let nows = [
        T0,
        T0 + 1,
        T0 + 7 * MIN,
        T0 + 14 * MIN + 59_999,
        storage_bucket(T0) + pulse_core::window::STORAGE_BUCKET_MS,
        midnight - 1,
        midnight,
        midnight + 1,
    ];
    // Both orders: an instant inside a bucket must not reuse what its
    // first millisecond read, nor the other way round.
    for order in [nows.to_vec(), nows.iter().rev().copied().collect()] {
        store.invalidate();
        for &now in &order {
            // Asked twice: the second answer comes from the cache.
            assert_eq!(
                store.cost_forecasts(now, tz).unwrap(),
                fresh(&store, now),
                "{now}"
            );
            assert_eq!(
                store.cost_forecasts(now, tz).unwrap(),
                fresh(&store, now),
                "{now}"
            );
        }
    }
    assert!(!store.cache.borrow().forecast_inputs.is_empty());
    // A write clears them: the next forecast sees the new spend.
    let before = store.cost_forecasts(T0 + MIN, tz).unwrap();
    ok(
        &mut store,
        &observation(T0, 0, &[(Metric::Cost, 5.0)], &[]),
        &[],
        &st,
    );
    let after = store.cost_forecasts(T0 + MIN, tz).unwrap();
    assert_eq!(after, fresh(&store, T0 + MIN));
    assert!(after[0] > before[0] + 4.9, "{before:?} → {after:?}");
}

/// One large transaction (a first scrape of many series) leaves no WAL of
/// its size behind: each write ends with an empty WAL. While another
/// connection reads, the checkpoint gives up at once (the write stands, and
/// waits for nothing), and the first write after the reader ends empties it.
#[test]
fn writes_leave_an_empty_wal_unless_a_reader_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let wal = dir.path().join("p.db-wal");
    let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut store = Store::open(&path, 10);
    let a = "litellm_proxy_total_requests_metric_total";
    let many = |n: usize, at: i64| -> Vec<SeriesState> {
        (0..n)
            .map(|i| series(a, &format!("model-{i:05}-{}", "x".repeat(80)), 1.0, at))
            .collect()
    };
    ok(
        &mut store,
        &observation(T0, 0, &[], &[]),
        &[],
        &state(T0, many(2_000, T0)),
    );
    assert_eq!(len(&wal), 0);

    let reader = Connection::open(&path).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let scrapes: i64 = reader
        .query_row("SELECT COUNT(*) FROM pulse_scrapes", [], |r| r.get(0))
        .unwrap();
    ok(
        &mut store,
        &observation(T0 + MIN, 0, &[], &[]),
        &[],
        &state(T0 + MIN, many(30_000, T0 + MIN)),
    );
    let big = len(&wal);
    assert!(big > 8 << 20, "{big}");
    let small = |store: &mut Store, i: i64| {
        let at = T0 + i * MIN;
        let changes = StateChanges {
            replace_all: false,
            version: 1,
            observations: 7 + i as u64,
            last_at_ms: Some(at),
            last_target_ms: None,
            upserts: vec![series(a, "gpt", i as f64, at).into()],
            removed: vec![],
        };
        ok_with(store, &observation(at, 0, &[], &[]), &[], &changes);
    };
    // A small write beside the reader does not wait out the busy timeout (5 s).
    let started = std::time::Instant::now();
    small(&mut store, 2);
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert!(len(&wal) >= big);
    reader.execute_batch("COMMIT").unwrap();
    drop(reader);
    assert_eq!(scrapes, 1);
    for i in 3..=4 {
        small(&mut store, i);
        assert_eq!(len(&wal), 0);
    }
    drop(store);
    let store = Store::open(&path, 10);
    assert_eq!(count(&store, "pulse_scrapes"), 5);
    assert_eq!(count(&store, "pulse_state_series"), 30_001);
}
