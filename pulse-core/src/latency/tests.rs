//! Quantiles against hand-computed rows (Prometheus' documented cases) and
//! against a brute-force computation on raw observations.

use proptest::prelude::*;

use super::*;

const INF: f64 = f64::INFINITY;

fn hist(rows: &[(f64, f64)]) -> Vec<Bucket> {
    rows.iter()
        .map(|&(le, count)| Bucket { le, count })
        .collect()
}

/// Equal, NaN included.
fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() < 1e-12
}

/// A named case: `q`, the buckets as `(le, count)`, the expected answer.
type Row<'a> = (&'a str, f64, &'a [(f64, f64)], f64);

#[test]
fn quantile_rows() {
    let basic = [(0.1, 2.0), (0.5, 6.0), (1.0, 8.0), (INF, 8.0)];
    let rows: &[Row<'_>] = &[
        ("median halfway through a bucket", 0.5, &basic, 0.3),
        ("rank on a bucket's upper edge", 0.25, &basic, 0.1),
        ("lowest bucket interpolates from 0", 0.125, &basic, 0.05),
        (
            "q = 1 is the top of the last filled bucket",
            1.0,
            &basic,
            1.0,
        ),
        ("q = 0 is 0", 0.0, &basic, 0.0),
        (
            "p90 in the third bucket",
            0.9,
            &[(1.0, 0.0), (2.0, 5.0), (4.0, 10.0), (INF, 10.0)],
            3.6,
        ),
        (
            "rank in +Inf gives the highest finite le",
            0.5,
            &[(1.0, 1.0), (2.0, 2.0), (INF, 10.0)],
            2.0,
        ),
        ("p99 in +Inf", 0.99, &[(0.5, 98.0), (INF, 100.0)], 0.5),
        (
            "lowest bucket at 0 gives 0",
            0.25,
            &[(0.0, 2.0), (1.0, 4.0), (INF, 4.0)],
            0.0,
        ),
        (
            "lowest bucket below 0 gives its le",
            0.25,
            &[(-1.0, 2.0), (1.0, 4.0), (INF, 4.0)],
            -1.0,
        ),
        (
            "negative lower bound interpolates",
            0.75,
            &[(-1.0, 2.0), (1.0, 4.0), (INF, 4.0)],
            0.0,
        ),
        (
            "unsorted input is sorted",
            0.5,
            &[(INF, 8.0), (1.0, 8.0), (0.1, 2.0), (0.5, 6.0)],
            0.3,
        ),
        (
            "equal le are added",
            0.5,
            &[(1.0, 1.0), (1.0, 1.0), (2.0, 4.0), (INF, 4.0)],
            1.0,
        ),
        (
            "falling counts take the envelope (low)",
            0.5,
            &[(1.0, 3.0), (2.0, 1.0), (3.0, 4.0), (INF, 4.0)],
            2.0 / 3.0,
        ),
        (
            "falling counts take the envelope (high)",
            0.8,
            &[(1.0, 3.0), (2.0, 1.0), (3.0, 4.0), (INF, 4.0)],
            2.2,
        ),
        (
            "float noise between buckets is ignored",
            1.0,
            &[(1.0, 10.0), (2.0, 10.0 + 1e-12), (INF, 10.0 + 1e-12)],
            1.0,
        ),
        (
            "NaN le is dropped",
            0.5,
            &[
                (f64::NAN, 5.0),
                (0.1, 2.0),
                (0.5, 6.0),
                (1.0, 8.0),
                (INF, 8.0),
            ],
            0.3,
        ),
        ("no +Inf bucket", 0.5, &[(1.0, 1.0), (2.0, 2.0)], f64::NAN),
        ("only the +Inf bucket", 0.5, &[(INF, 3.0)], f64::NAN),
        ("no observations", 0.5, &[(1.0, 0.0), (INF, 0.0)], f64::NAN),
        ("no buckets", 0.5, &[], f64::NAN),
        (
            "q = 0 over an empty lowest bucket is 0 of 0",
            0.0,
            &[(1.0, 0.0), (2.0, 2.0), (INF, 2.0)],
            f64::NAN,
        ),
        ("q NaN", f64::NAN, &basic, f64::NAN),
        ("q below 0", -0.1, &basic, f64::NEG_INFINITY),
        ("q above 1", 1.1, &basic, INF),
        ("q below 0 without buckets", -1.0, &[], f64::NEG_INFINITY),
    ];
    for (name, q, rows, want) in rows {
        let got = bucket_quantile(*q, &hist(rows));
        assert!(same(got, *want), "{name}: got {got}, want {want}");
    }
}

#[test]
fn float_noise_without_the_correction_would_move_the_answer() {
    // The same buckets with a fall that is not noise: the envelope keeps 10.1.
    let real = hist(&[(1.0, 10.0), (2.0, 10.1), (INF, 10.1)]);
    assert!(same(bucket_quantile(1.0, &real), 2.0));
}

#[test]
fn add_buckets_merges_by_le() {
    let mut into = hist(&[(0.1, 1.0), (1.0, 2.0), (INF, 3.0)]);
    add_buckets(&mut into, &hist(&[(0.5, 4.0), (1.0, 5.0), (INF, 6.0)]));
    assert_eq!(
        into,
        hist(&[(0.1, 1.0), (0.5, 4.0), (1.0, 7.0), (INF, 9.0)])
    );
    let mut empty = Vec::new();
    add_buckets(&mut empty, &hist(&[(1.0, 1.0), (INF, 1.0)]));
    assert_eq!(empty, hist(&[(1.0, 1.0), (INF, 1.0)]));
    add_buckets(&mut empty, &[]);
    assert_eq!(empty, hist(&[(1.0, 1.0), (INF, 1.0)]));
}

#[test]
fn summary_and_mean() {
    let mut c = BucketCounts::default();
    assert!(c.mean().is_nan());
    assert!(c.summary().p50.is_nan());
    c.add(
        &hist(&[(0.1, 2.0), (0.5, 6.0), (1.0, 8.0), (INF, 8.0)]),
        8.0,
        2.0,
    );
    let s = c.summary();
    assert_eq!((s.count, s.mean), (8.0, 0.25));
    assert!(same(s.p50, 0.3));
    assert!(same(s.p90, 0.5 + 0.5 * (7.2 - 6.0) / 2.0));
    assert!(same(s.p99, 0.5 + 0.5 * (7.92 - 6.0) / 2.0));
}

fn hdelta(histogram: Histogram, key: &str, rows: &[(f64, f64)], count: f64) -> HistogramDelta {
    HistogramDelta {
        histogram,
        dimension: Dimension::Model,
        key: key.to_owned(),
        buckets: hist(rows),
        count,
        sum: count / 10.0,
    }
}

#[test]
fn sum_by_key_adds_one_histogram_of_one_dimension() {
    let mut team = hdelta(
        Histogram::RequestLatency,
        "gpt",
        &[(1.0, 9.0), (INF, 9.0)],
        9.0,
    );
    team.dimension = Dimension::Team;
    let deltas = [
        hdelta(
            Histogram::RequestLatency,
            "gpt",
            &[(1.0, 1.0), (INF, 2.0)],
            2.0,
        ),
        hdelta(
            Histogram::RequestLatency,
            "claude",
            &[(1.0, 1.0), (INF, 1.0)],
            1.0,
        ),
        hdelta(
            Histogram::RequestLatency,
            "gpt",
            &[(1.0, 3.0), (INF, 3.0)],
            3.0,
        ),
        hdelta(
            Histogram::LlmApiLatency,
            "gpt",
            &[(1.0, 7.0), (INF, 7.0)],
            7.0,
        ),
        team,
    ];
    let sums = sum_by_key(&deltas, Histogram::RequestLatency, Dimension::Model);
    assert_eq!(sums.keys().collect::<Vec<_>>(), ["claude", "gpt"]);
    let gpt = &sums["gpt"];
    assert_eq!(gpt.buckets, hist(&[(1.0, 4.0), (INF, 5.0)]));
    assert_eq!(gpt.count, 5.0);
    assert!(same(gpt.sum, 0.5));
}

#[test]
fn error_rate_and_fallbacks() {
    assert_eq!(error_rate(0.0, 0.0), 0.0);
    assert_eq!(error_rate(3.0, 1.0), 0.25);
    assert_eq!(error_rate(0.0, 2.0), 1.0);
    assert_eq!(error_rate(5.0, 0.0), 0.0);

    let d = |counter, key: &str, dimension, delta| HealthDelta {
        counter,
        dimension,
        key: key.to_owned(),
        delta,
    };
    let deltas = [
        d(
            HealthCounter::SuccessfulFallbacks,
            "gpt",
            Dimension::Model,
            2.0,
        ),
        d(HealthCounter::FailedFallbacks, "gpt", Dimension::Model, 1.0),
        d(HealthCounter::CooledDown, "gpt", Dimension::Model, 4.0),
        d(HealthCounter::FailedFallbacks, "gpt", Dimension::Model, 1.0),
        d(HealthCounter::FailedFallbacks, "k", Dimension::Key, 1.0),
    ];
    let by_model = health_by_key(&deltas, Dimension::Model);
    assert_eq!(by_model.len(), 1);
    let gpt = by_model["gpt"];
    assert_eq!(gpt.fallbacks(), 4.0);
    assert_eq!(gpt.get(HealthCounter::CooledDown), 4.0);
    assert_eq!(gpt.get(HealthCounter::FailedFallbacks), 2.0);
}

/// Cumulative buckets of `values` at `bounds` (sorted, finite) plus `+Inf`.
fn bucketise(values: &[f64], bounds: &[f64]) -> Vec<Bucket> {
    bounds
        .iter()
        .copied()
        .chain([INF])
        .map(|le| Bucket {
            le,
            count: values.iter().filter(|v| **v <= le).count() as f64,
        })
        .collect()
}

fn observations() -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(1u32..200_000, 1..300)
        .prop_map(|v| v.into_iter().map(|x| f64::from(x) / 1000.0).collect())
}

fn bounds() -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::btree_set(1u32..250_000, 1..20)
        .prop_map(|s| s.into_iter().map(|x| f64::from(x) / 1000.0).collect())
}

proptest! {
    /// The answer lies in the bucket that holds the true quantile (the
    /// observation of rank ⌈q·n⌉), or is the highest finite bound when that
    /// observation is above it.
    #[test]
    fn the_quantile_lies_in_the_bucket_of_the_true_one(
        mut values in observations(),
        bounds in bounds(),
        q in 0.0001f64..=1.0,
    ) {
        let buckets = bucketise(&values, &bounds);
        let got = bucket_quantile(q, &buckets);
        values.sort_by(f64::total_cmp);
        let n = values.len() as f64;
        let k = (q * n).ceil().max(1.0) as usize;
        let truth = values[k - 1];
        let highest = *bounds.last().unwrap();
        if truth > highest {
            prop_assert_eq!(got, highest);
        } else {
            let i = bounds.iter().position(|b| *b >= truth).unwrap();
            let lower = if i == 0 { 0.0 } else { bounds[i - 1] };
            prop_assert!(
                lower <= got && got <= bounds[i],
                "q {} truth {} got {} not in ({}, {}]", q, truth, got, lower, bounds[i]
            );
        }
    }

    /// Adding the buckets of two sets of observations gives the buckets of
    /// both, so its quantiles are those of the whole.
    #[test]
    fn summing_histograms_equals_bucketing_all(
        a in observations(),
        b in observations(),
        bounds in bounds(),
        q in 0.0f64..=1.0,
    ) {
        let mut sum = BucketCounts::default();
        sum.add(&bucketise(&a, &bounds), a.len() as f64, a.iter().sum());
        sum.add(&bucketise(&b, &bounds), b.len() as f64, b.iter().sum());
        let all: Vec<f64> = a.iter().chain(&b).copied().collect();
        let whole = bucketise(&all, &bounds);
        prop_assert_eq!(&sum.buckets, &whole);
        prop_assert_eq!(sum.count, all.len() as f64);
        let (x, y) = (sum.quantile(q), bucket_quantile(q, &whole));
        prop_assert!(same(x, y), "{} vs {}", x, y);
    }
}
