use std::time::Instant;

use pulse_core::catalog::{Catalog, Dimension, HealthCounter, Histogram};
use pulse_core::latency::{Bucket, BucketCounts, health_by_key, sum_by_key};
use pulse_core::track::{Fleet, Observation};
use pulse_core::window::{STORAGE_BUCKET_MS, TimeRange};
use rusqlite::Connection;

use super::{
    HEALTH_SQL, LATENCY_BUCKETS_SQL, LATENCY_POINT_TOTALS_SQL, LATENCY_POINTS_SQL,
    LATENCY_TOTALS_SQL, PURGE_BUCKETS_SQL, PURGE_HEALTH_SQL, PURGE_TOTALS_SQL,
};
use crate::pipeline::{Pending, prepare};
use crate::store::{Store, StoreMode, schema};

/// 2026-03-02T12:00:00Z, a bucket edge.
const T0: i64 = 1_772_452_800_000;
const MIN: i64 = 60_000;
const INF: f64 = f64::INFINITY;

const FAMILY: &str = "litellm_request_total_latency_metric";
const FALLBACKS: &str = "litellm_deployment_successful_fallbacks_total";
const COOLED: &str = "litellm_deployment_cooled_down_total";

/// One model's cumulative `(le, count)` buckets (`+Inf` last) and `_sum`.
type ModelHistogram<'a> = (&'a str, &'a [(&'a str, f64)], f64);

/// One text body: per model, the request latency histogram (cumulative
/// `(le, count)` with `+Inf` last) and its `_sum`, plus the fallback and
/// cooldown counters.
fn body(models: &[ModelHistogram<'_>], fallbacks: f64, cooled: f64) -> String {
    let mut out = format!("# TYPE {FAMILY} histogram\n");
    for (model, buckets, sum) in models {
        for (le, count) in *buckets {
            out.push_str(&format!(
                "{FAMILY}_bucket{{api_provider=\"p\",le=\"{le}\",requested_model=\"{model}\"}} {count}\n"
            ));
        }
        let count = buckets.last().unwrap().1;
        out.push_str(&format!(
            "{FAMILY}_count{{api_provider=\"p\",requested_model=\"{model}\"}} {count}\n\
             {FAMILY}_sum{{api_provider=\"p\",requested_model=\"{model}\"}} {sum}\n"
        ));
    }
    out.push_str(&format!(
        "{FALLBACKS}{{fallback_model=\"b\",requested_model=\"a\"}} {fallbacks}\n\
         {COOLED}{{api_provider=\"p\",requested_model=\"a\"}} {cooled}\n"
    ));
    out
}

/// Tracks and stores `bodies` at their times; returns what the tracker saw.
fn feed(store: &mut Store, bodies: &[(i64, String)]) -> Vec<Observation> {
    let mut tracker = Fleet::new(Catalog::litellm());
    let mut seen = Vec::new();
    for (at, text) in bodies {
        let p: Pending = prepare(
            &mut tracker,
            "litellm:4000",
            text.as_bytes(),
            *at,
            None,
            Instant::now(),
        )
        .unwrap();
        p.persist(store).unwrap();
        seen.push(p.observation);
    }
    seen
}

fn all() -> TimeRange {
    TimeRange::new(i64::MIN, i64::MAX)
}

fn count(store: &Store, table: &str) -> i64 {
    store
        .conn
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// What the core makes of the tracker's deltas, per model.
fn expected(seen: &[Observation], dim: Dimension) -> Vec<(String, BucketCounts)> {
    let deltas = seen.iter().flat_map(|o| &o.latency.histograms);
    sum_by_key(deltas, Histogram::RequestLatency, dim)
        .into_iter()
        .collect()
}

fn b(le: f64, count: f64) -> Bucket {
    Bucket { le, count }
}

#[test]
fn histogram_deltas_round_trip_and_merge_across_buckets() {
    let mut store = Store::open_memory(10);
    let a1: &[(&str, f64)] = &[("0.5", 1.0), ("1.0", 2.0), ("+Inf", 2.0)];
    let a2: &[(&str, f64)] = &[("0.5", 3.0), ("1.0", 5.0), ("+Inf", 6.0)];
    let a3: &[(&str, f64)] = &[("0.5", 3.0), ("1.0", 7.0), ("+Inf", 9.0)];
    let c1: &[(&str, f64)] = &[("0.5", 0.0), ("1.0", 1.0), ("+Inf", 1.0)];
    let c3: &[(&str, f64)] = &[("0.5", 0.0), ("1.0", 1.0), ("+Inf", 4.0)];
    let seen = feed(
        &mut store,
        &[
            (T0 + MIN, body(&[("a", a1, 1.0), ("c", c1, 0.75)], 1.0, 0.0)),
            // Same 15-minute bucket: adds to its rows.
            (
                T0 + 2 * MIN,
                body(&[("a", a2, 4.5), ("c", c1, 0.75)], 3.0, 1.0),
            ),
            // The next bucket.
            (
                T0 + STORAGE_BUCKET_MS + MIN,
                body(&[("a", a3, 9.5), ("c", c3, 20.75)], 3.0, 2.0),
            ),
        ],
    );
    // By hand: a grew by 4 (2 ≤ 0.5, 3 ≤ 1) in bucket 0 and 3 (0, 2) in bucket 1.
    let window = store
        .latency_by_key(Histogram::RequestLatency, Some(Dimension::Model), all())
        .unwrap();
    assert_eq!(window, expected(&seen, Dimension::Model));
    let a = &window[0].1;
    assert_eq!(window[0].0, "a");
    assert_eq!(a.buckets, [b(0.5, 2.0), b(1.0, 5.0), b(INF, 7.0)]);
    assert_eq!((a.count, a.sum), (7.0, 8.5));
    let c = &window[1].1;
    assert_eq!(c.buckets, [b(0.5, 0.0), b(1.0, 0.0), b(INF, 3.0)]);
    // The provider keys hold the same observations as the model keys together.
    let total = store
        .latency_by_key(Histogram::RequestLatency, None, all())
        .unwrap();
    let provider = store
        .latency_by_key(Histogram::RequestLatency, Some(Dimension::Provider), all())
        .unwrap();
    assert_eq!(total, [(String::new(), provider[0].1.clone())]);
    assert_eq!(total[0].1.count, 10.0);

    // One window per bucket: what each bucket's scrapes added.
    let first = TimeRange::new(T0, T0 + STORAGE_BUCKET_MS);
    let got = store
        .latency_by_key(Histogram::RequestLatency, Some(Dimension::Model), first)
        .unwrap();
    assert_eq!(got, expected(&seen[..2], Dimension::Model));
    let points = store
        .latency_points(Histogram::RequestLatency, Some(Dimension::Model), all())
        .unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(points[0].0, "a");
    let starts: Vec<i64> = points[0].1.iter().map(|p| p.0).collect();
    assert_eq!(starts, [T0, T0 + STORAGE_BUCKET_MS]);
    assert_eq!(
        points[0].1[1].1.buckets,
        [b(0.5, 0.0), b(1.0, 2.0), b(INF, 3.0)]
    );
    let mut merged = BucketCounts::default();
    for (_, c) in &points[0].1 {
        merged.add(&c.buckets, c.count, c.sum);
    }
    assert_eq!(&merged, a);
    // In bucket 1 both models grew by 3; the total adds them.
    let total_points = store
        .latency_points(Histogram::RequestLatency, None, all())
        .unwrap();
    assert_eq!(total_points.len(), 1);
    assert_eq!(total_points[0].1[1].1.count, 6.0);

    // Health: fallbacks 1 → 3 (+2), cooldowns 0 → 1 → 2 (+2), per model a.
    let health = store.health_by_key(Dimension::Model, all()).unwrap();
    let core = health_by_key(
        seen.iter().flat_map(|o| &o.latency.health),
        Dimension::Model,
    );
    assert_eq!(health, core.into_iter().collect::<Vec<_>>());
    assert_eq!(health[0].0, "a");
    assert_eq!(health[0].1.get(HealthCounter::SuccessfulFallbacks), 2.0);
    assert_eq!(health[0].1.get(HealthCounter::CooledDown), 2.0);
    assert_eq!(health[0].1.fallbacks(), 2.0);
}

#[test]
fn a_reset_histogram_counts_from_zero() {
    let mut store = Store::open_memory(10);
    let before: &[(&str, f64)] = &[("1.0", 4.0), ("+Inf", 5.0)];
    let after: &[(&str, f64)] = &[("1.0", 1.0), ("+Inf", 2.0)];
    let seen = feed(
        &mut store,
        &[
            (T0, body(&[("a", before, 9.0)], 0.0, 0.0)),
            // LiteLLM restarted: every sample fell; the new values count whole.
            (T0 + MIN, body(&[("a", after, 3.0)], 0.0, 0.0)),
        ],
    );
    assert!(seen[1].latency.series.resets > 0);
    let got = store
        .latency_by_key(Histogram::RequestLatency, Some(Dimension::Model), all())
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1.buckets, [b(1.0, 1.0), b(INF, 2.0)]);
    assert_eq!((got[0].1.count, got[0].1.sum), (2.0, 3.0));
    assert_eq!(got, expected(&seen, Dimension::Model));
}

#[test]
fn unchanged_histograms_write_nothing_and_changed_ones_only_their_rows() {
    let mut store = Store::open_memory(10);
    let h: &[(&str, f64)] = &[("1.0", 1.0), ("+Inf", 1.0)];
    let h2: &[(&str, f64)] = &[("1.0", 1.0), ("+Inf", 2.0)];
    feed(
        &mut store,
        &[
            (T0, body(&[("a", h, 1.0), ("c", h, 1.0)], 0.0, 0.0)),
            (T0 + MIN, body(&[("a", h, 1.0), ("c", h, 1.0)], 0.0, 0.0)),
        ],
    );
    // The baseline and an unchanged scrape: nothing to store.
    assert_eq!(count(&store, "pulse_latency_buckets"), 0);
    assert_eq!(count(&store, "pulse_latency_totals"), 0);
    let mut tracker = Fleet::new(Catalog::litellm());
    for (at, text) in [
        (T0, body(&[("a", h, 1.0), ("c", h, 1.0)], 0.0, 0.0)),
        (T0 + MIN, body(&[("a", h2, 3.0), ("c", h, 1.0)], 0.0, 0.0)),
    ] {
        prepare(
            &mut tracker,
            "litellm:4000",
            text.as_bytes(),
            at,
            None,
            Instant::now(),
        )
        .unwrap()
        .persist(&mut store)
        .unwrap();
    }
    // Only a changed: 2 bounds and 1 totals row per dimension.
    let dims = Dimension::COUNT as i64;
    assert_eq!(count(&store, "pulse_latency_buckets"), 2 * dims);
    assert_eq!(count(&store, "pulse_latency_totals"), dims);
    assert_eq!(count(&store, "pulse_health_buckets"), 0);
}

#[test]
fn retention_purges_latency_rows_with_the_other_buckets() {
    let mut store = Store::open_memory(10);
    let h1: &[(&str, f64)] = &[("1.0", 1.0), ("+Inf", 1.0)];
    let h2: &[(&str, f64)] = &[("1.0", 2.0), ("+Inf", 3.0)];
    let h3: &[(&str, f64)] = &[("1.0", 4.0), ("+Inf", 6.0)];
    let day = 86_400_000;
    feed(
        &mut store,
        &[
            (T0, body(&[("a", h1, 1.0)], 1.0, 0.0)),
            (T0 + MIN, body(&[("a", h2, 2.0)], 2.0, 0.0)),
            (T0 + day, body(&[("a", h3, 4.0)], 3.0, 0.0)),
        ],
    );
    let rows = |s: &Store| {
        [
            count(s, "pulse_latency_buckets"),
            count(s, "pulse_latency_totals"),
            count(s, "pulse_health_buckets"),
        ]
    };
    let dims = Dimension::COUNT as i64;
    assert_eq!(rows(&store), [4 * dims, 2 * dims, 2 * dims]);
    // A cut inside the second day's bucket keeps that bucket whole.
    store.purge(T0 + day + MIN).unwrap();
    assert_eq!(rows(&store), [2 * dims, dims, dims]);
    let got = store
        .latency_by_key(Histogram::RequestLatency, Some(Dimension::Model), all())
        .unwrap();
    assert_eq!(got[0].1.buckets, [b(1.0, 2.0), b(INF, 3.0)]);
    assert_eq!(
        store
            .first_latency_bucket(Histogram::RequestLatency)
            .unwrap(),
        Some(T0 + day)
    );
    store.purge(T0 + 2 * day).unwrap();
    assert_eq!(rows(&store), [0, 0, 0]);
    assert!(
        store
            .latency_by_key(Histogram::RequestLatency, Some(Dimension::Model), all())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn rows_are_keyed_by_names_and_unknown_names_are_ignored() {
    let mut store = Store::open_memory(10);
    let h1: &[(&str, f64)] = &[("1.0", 1.0), ("+Inf", 1.0)];
    let h2: &[(&str, f64)] = &[("1.0", 2.0), ("+Inf", 3.0)];
    feed(
        &mut store,
        &[
            (T0, body(&[("a", h1, 1.0)], 1.0, 0.0)),
            (T0 + MIN, body(&[("a", h2, 2.0)], 2.0, 0.0)),
        ],
    );
    let names: Vec<String> = store
        .conn
        .prepare("SELECT DISTINCT histogram FROM pulse_latency_totals")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(names, ["request_latency"]);
    let le: f64 = store
        .conn
        .query_row("SELECT MAX(le) FROM pulse_latency_buckets", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(le, INF);
    // A later build's counter and histogram stay stored and unread.
    store
        .conn
        .execute_batch(
            "INSERT INTO pulse_health_buckets SELECT 'future', series_id, start_ms, value \
             FROM pulse_health_buckets; \
             UPDATE pulse_latency_totals SET histogram = 'future'",
        )
        .unwrap();
    let health = store.health_by_key(Dimension::Model, all()).unwrap();
    assert_eq!(health[0].1.fallbacks(), 1.0);
    let by_model = store
        .latency_by_key(Histogram::RequestLatency, Some(Dimension::Model), all())
        .unwrap();
    // The bounds are still there; `_count` and `_sum` moved to `future`.
    assert_eq!((by_model[0].1.count, by_model[0].1.sum), (0.0, 0.0));
}

#[test]
fn the_latency_migration_is_idempotent_and_keeps_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let h1: &[(&str, f64)] = &[("1.0", 1.0), ("+Inf", 1.0)];
    let h2: &[(&str, f64)] = &[("1.0", 2.0), ("+Inf", 3.0)];
    {
        let mut store = Store::open(&path, 10);
        feed(
            &mut store,
            &[
                (T0, body(&[("a", h1, 1.0)], 1.0, 0.0)),
                (T0 + MIN, body(&[("a", h2, 2.0)], 2.0, 0.0)),
            ],
        );
    }
    {
        // A file whose version was set back by hand to the one before the
        // latency tables runs that step, and every later one, again.
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 3).unwrap();
    }
    let store = Store::open(&path, 10);
    assert_eq!(store.mode(), StoreMode::Sqlite);
    assert_eq!(schema::version(&store.conn).unwrap(), schema::LATEST);
    let got = store
        .latency_by_key(Histogram::RequestLatency, Some(Dimension::Model), all())
        .unwrap();
    assert_eq!(got[0].1.buckets, [b(1.0, 1.0), b(INF, 2.0)]);
}

#[test]
fn merged_queue_entries_store_what_separate_ones_store() {
    let h: [&[(&str, f64)]; 3] = [
        &[("0.5", 1.0), ("1.0", 1.0), ("+Inf", 2.0)],
        &[("0.5", 1.0), ("1.0", 3.0), ("+Inf", 5.0)],
        &[("0.5", 2.0), ("1.0", 6.0), ("+Inf", 9.0)],
    ];
    let bodies: Vec<(i64, String)> = h
        .iter()
        .enumerate()
        .map(|(i, h)| {
            (
                T0 + i as i64 * MIN,
                body(&[("a", h, i as f64)], i as f64, 0.0),
            )
        })
        .collect();
    let mut separate = Store::open_memory(10);
    feed(&mut separate, &bodies);
    // A database outage: the queue folds the last two scrapes into one.
    let mut merged = Store::open_memory(10);
    let mut tracker = Fleet::new(Catalog::litellm());
    let mut pending: Vec<Pending> = bodies
        .iter()
        .map(|(at, text)| {
            prepare(
                &mut tracker,
                "litellm:4000",
                text.as_bytes(),
                *at,
                None,
                Instant::now(),
            )
            .unwrap()
        })
        .collect();
    let last = pending.pop().unwrap();
    let middle = pending.pop().unwrap();
    pending[0].persist(&mut merged).unwrap();
    let mut last = last;
    middle.merge_into(&mut last);
    last.persist(&mut merged).unwrap();
    for dim in [Some(Dimension::Model), Some(Dimension::Provider), None] {
        assert_eq!(
            merged
                .latency_by_key(Histogram::RequestLatency, dim, all())
                .unwrap(),
            separate
                .latency_by_key(Histogram::RequestLatency, dim, all())
                .unwrap()
        );
    }
    assert_eq!(
        merged.health_by_key(Dimension::Model, all()).unwrap(),
        separate.health_by_key(Dimension::Model, all()).unwrap()
    );
}

#[test]
fn window_reads_seek_each_key_instead_of_scanning_history() {
    let store = Store::open_memory(5);
    let plan = |sql: &str| -> String {
        let mut stmt = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let n = stmt.parameter_count();
        let args: Vec<&dyn rusqlite::ToSql> = [&"model" as &dyn rusqlite::ToSql, &"x", &0, &1]
            .into_iter()
            .take(n)
            .collect();
        let rows = stmt
            .query_map(args.as_slice(), |r| r.get::<_, String>(3))
            .unwrap();
        rows.collect::<Result<Vec<_>, _>>().unwrap().join("; ")
    };
    for (sql, alias, seek) in [
        (
            LATENCY_BUCKETS_SQL,
            "l",
            "histogram=? AND series_id=? AND start_ms>? AND start_ms<?",
        ),
        (
            LATENCY_TOTALS_SQL,
            "t",
            "histogram=? AND series_id=? AND start_ms>? AND start_ms<?",
        ),
        (
            LATENCY_POINTS_SQL,
            "l",
            "histogram=? AND series_id=? AND start_ms>? AND start_ms<?",
        ),
        (
            LATENCY_POINT_TOTALS_SQL,
            "t",
            "histogram=? AND series_id=? AND start_ms>? AND start_ms<?",
        ),
        (HEALTH_SQL, "h", "series_id=? AND start_ms>? AND start_ms<?"),
    ] {
        let p = plan(sql);
        assert!(p.starts_with("SEARCH s "), "{p}");
        assert!(
            p.contains(&format!("SEARCH {alias} USING PRIMARY KEY ({seek})")),
            "{p}"
        );
        assert!(!p.contains(&format!("SCAN {alias}")), "{p}");
    }
    // Retention seeks too: the tables have no `start_ms` index.
    for (sql, table, seek) in [
        (
            PURGE_BUCKETS_SQL,
            "pulse_latency_buckets",
            "histogram=? AND series_id=? AND start_ms<?",
        ),
        (
            PURGE_TOTALS_SQL,
            "pulse_latency_totals",
            "histogram=? AND series_id=? AND start_ms<?",
        ),
        (
            PURGE_HEALTH_SQL,
            "pulse_health_buckets",
            "series_id=? AND start_ms<?",
        ),
    ] {
        let p = plan(sql);
        assert!(
            p.contains(&format!("SEARCH {table} USING PRIMARY KEY ({seek})")),
            "{p}"
        );
    }
}
