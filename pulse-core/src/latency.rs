//! Latency and health: quantiles from histogram bucket deltas, error rates
//! and fallbacks, per model and window.
//!
//! The tracker turns every `_bucket{le}`, `_sum` and `_count` sample of the
//! latency histograms into per-scrape increases, like any counter (see
//! [`crate::track`] and [`HistogramDelta`]). Increases add up over a window
//! and over series, because each bucket counts the observations at or below
//! its upper bound `le`: the sum of cumulative bucket increases with the same
//! `le` is again a cumulative bucket. [`BucketCounts`] is such a sum, and
//! [`sum_by_key`] builds one per model (or any other [`Dimension`]) from the
//! deltas of a window.
//!
//! # Quantiles
//!
//! [`bucket_quantile`] is Prometheus' `histogram_quantile` on classic
//! histograms (`bucketQuantile` in `promql/quantile.go`), edge cases included:
//!
//! - `q` NaN gives NaN, `q < 0` gives −∞, `q > 1` gives +∞;
//! - buckets are sorted by `le`, buckets with the same `le` are added
//!   together, and the highest one must be `+Inf`, else the answer is NaN;
//! - counts that fall by at most one part in 10^12 from one bucket to the
//!   next are float noise and set to the previous count; counts that still
//!   fall are raised to the highest count below them (the envelope), so the
//!   counts are monotonic;
//! - fewer than 2 buckets, or 0 observations (the `+Inf` count), give NaN;
//! - the rank is `q × observations`; the answer lies in the first bucket
//!   whose count reaches the rank, by linear interpolation between its lower
//!   bound (the previous bucket's `le`, or 0 for the lowest bucket) and its
//!   `le`. A rank in the `+Inf` bucket gives the highest finite `le`; a rank
//!   in the lowest bucket whose `le` is 0 or below gives that `le`.
//!
//! One consequence kept from Prometheus: `q = 0` with an empty lowest bucket
//! interpolates 0 of 0 observations and gives NaN. Buckets whose `le` is NaN
//! (Prometheus does not expect them) are dropped here.
//!
//! The answer is an estimate: all the method knows is that the true quantile
//! lies in the bucket it picked. With LiteLLM's buckets (0.005 … 600 s) a
//! p99 of "between 10 s and 30 s" is reported as a point inside that range.
//!
//! # Summing across series
//!
//! Adding buckets of series with different bucket layouts (`le` sets) gives
//! a histogram whose buckets at the `le`s only some series have are short of
//! the others' observations, as `sum by (le)` does in PromQL. LiteLLM uses
//! one layout per family (`prometheus_latency_buckets`), so this only
//! matters across a change of that setting.
//!
//! # Health
//!
//! [`error_rate`] is failures / (successes + failures) of the deployment
//! counters, 0 without traffic. [`HealthValues`] sums the deployment health
//! counters of [`HealthCounter`] (cooldowns and fallbacks) per key.

use std::collections::BTreeMap;

use crate::catalog::{Dimension, HealthCounter, Histogram};
use crate::sort::sort_stable_by;
use crate::track::{HealthDelta, HistogramDelta};

/// One cumulative histogram bucket: `count` observations at or below `le`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    /// The inclusive upper bound (`+Inf` for the last bucket).
    pub le: f64,
    /// Observations at or below `le` (or their increase over a window).
    pub count: f64,
}

/// Float noise tolerance between neighbouring bucket counts, as Prometheus'
/// `correctPrecisionErrors`.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// The `q`-quantile of cumulative `buckets` (in any order), exactly as
/// Prometheus' `histogram_quantile` computes it; see the module docs.
///
/// ```
/// use pulse_core::latency::{Bucket, bucket_quantile};
/// let b = |le, count| Bucket { le, count };
/// let buckets = [b(0.25, 2.0), b(0.75, 6.0), b(1.0, 8.0), b(f64::INFINITY, 8.0)];
/// // Rank 4 of 8 lies halfway through the (0.25, 0.75] bucket.
/// assert_eq!(bucket_quantile(0.5, &buckets), 0.5);
/// // Rank 1 of 8 lies halfway through the lowest bucket, from 0.
/// assert_eq!(bucket_quantile(0.125, &buckets), 0.125);
/// // Rank 8 of 8 is reached by the (0.75, 1] bucket, not the +Inf one.
/// assert_eq!(bucket_quantile(1.0, &buckets), 1.0);
/// assert!(bucket_quantile(0.5, &[]).is_nan());
/// ```
pub fn bucket_quantile(q: f64, buckets: &[Bucket]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let buckets = normalise(buckets);
    let n = buckets.len();
    match buckets.last() {
        Some(last) if last.le == f64::INFINITY => {}
        _ => return f64::NAN,
    }
    if n < 2 {
        return f64::NAN;
    }
    let observations = buckets[n - 1].count;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    // The first bucket (the +Inf one excluded) whose count reaches the rank.
    let b = buckets[..n - 1]
        .iter()
        .position(|x| x.count >= rank)
        .unwrap_or(n - 1);
    if b == n - 1 {
        return buckets[n - 2].le;
    }
    if b == 0 && buckets[0].le <= 0.0 {
        return buckets[0].le;
    }
    let end = buckets[b].le;
    let mut count = buckets[b].count;
    let mut start = 0.0;
    if b > 0 {
        start = buckets[b - 1].le;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    start + (end - start) * (rank / count)
}

/// Sorted by `le`, equal `le`s added, NaN `le`s dropped, counts made
/// monotonic (Prometheus' `coalesceBuckets`, `correctPrecisionErrors` and
/// `ensureMonotonic`, in that order).
fn normalise(buckets: &[Bucket]) -> Vec<Bucket> {
    let mut sorted: Vec<Bucket> = buckets.iter().copied().filter(|b| !b.le.is_nan()).collect();
    sort_stable_by(&mut sorted, |a, b| a.le.total_cmp(&b.le));
    let mut out: Vec<Bucket> = Vec::with_capacity(sorted.len());
    for b in sorted {
        match out.last_mut() {
            Some(last) if last.le == b.le => last.count += b.count,
            _ => out.push(b),
        }
    }
    if let Some(first) = out.first().map(|b| b.count) {
        let mut prev = first;
        for b in &mut out[1..] {
            let delta = (b.count - prev).abs();
            if delta == 0.0 {
                continue;
            }
            if delta / b.count <= SMALL_DELTA_TOLERANCE {
                b.count = prev;
            } else {
                prev = b.count;
            }
        }
        let mut max = first;
        for b in &mut out[1..] {
            if b.count > max {
                max = b.count;
            } else if b.count < max {
                b.count = max;
            }
        }
    }
    out
}

/// Adds cumulative `from` into cumulative `into`, bucket by bucket with the
/// same `le`; both sorted by `le`, and so is the result. A `le` only one side
/// has is kept with that side's count (see "Summing across series").
pub(crate) fn add_buckets(into: &mut Vec<Bucket>, from: &[Bucket]) {
    if from.is_empty() {
        return;
    }
    let mine = std::mem::take(into);
    let (mut i, mut j) = (0, 0);
    into.reserve(mine.len().max(from.len()));
    while i < mine.len() || j < from.len() {
        match (mine.get(i), from.get(j)) {
            (Some(a), Some(b)) if a.le == b.le => {
                into.push(Bucket {
                    le: a.le,
                    count: a.count + b.count,
                });
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a.le < b.le => {
                into.push(*a);
                i += 1;
            }
            (Some(a), None) => {
                into.push(*a);
                i += 1;
            }
            (_, Some(b)) => {
                into.push(*b);
                j += 1;
            }
            (None, None) => break,
        }
    }
}

/// A histogram summed over series and scrapes: cumulative buckets sorted by
/// `le`, and the observation count and sum.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BucketCounts {
    /// Cumulative buckets, sorted by `le`.
    pub buckets: Vec<Bucket>,
    /// Observations (the `_count` increase).
    pub count: f64,
    /// Sum of the observed values (the `_sum` increase), in seconds.
    pub sum: f64,
}

/// The usual figures of one [`BucketCounts`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencySummary {
    /// Observations.
    pub count: f64,
    /// `sum / count`; NaN without observations.
    pub mean: f64,
    /// Median, see [`bucket_quantile`].
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl BucketCounts {
    /// Adds one histogram increase (buckets sorted by `le`).
    pub fn add(&mut self, buckets: &[Bucket], count: f64, sum: f64) {
        add_buckets(&mut self.buckets, buckets);
        self.count += count;
        self.sum += sum;
    }

    /// Adds the increase of one [`HistogramDelta`].
    pub fn add_delta(&mut self, delta: &HistogramDelta) {
        self.add(&delta.buckets, delta.count, delta.sum);
    }

    /// The `q`-quantile, see [`bucket_quantile`].
    pub fn quantile(&self, q: f64) -> f64 {
        bucket_quantile(q, &self.buckets)
    }

    /// Average observed value, NaN without observations.
    pub fn mean(&self) -> f64 {
        if self.count == 0.0 {
            f64::NAN
        } else {
            self.sum / self.count
        }
    }

    /// Count, mean, p50, p90 and p99.
    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            count: self.count,
            mean: self.mean(),
            p50: self.quantile(0.5),
            p90: self.quantile(0.9),
            p99: self.quantile(0.99),
        }
    }
}

/// Sums the deltas of `histogram` in `dimension` per key, e.g. over the
/// observations of a window, or over stored 15-minute buckets.
pub fn sum_by_key<'a>(
    deltas: impl IntoIterator<Item = &'a HistogramDelta>,
    histogram: Histogram,
    dimension: Dimension,
) -> BTreeMap<String, BucketCounts> {
    let mut out: BTreeMap<String, BucketCounts> = BTreeMap::new();
    for d in deltas {
        if d.histogram == histogram && d.dimension == dimension {
            out.entry(d.key.clone()).or_default().add_delta(d);
        }
    }
    out
}

/// `failures / (successes + failures)`, a fraction from 0 to 1, and 0 when
/// there was neither (no traffic is no error).
pub fn error_rate(successes: f64, failures: f64) -> f64 {
    let total = successes + failures;
    if total == 0.0 { 0.0 } else { failures / total }
}

/// One number per [`HealthCounter`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HealthValues(pub [f64; HealthCounter::COUNT]);

impl HealthValues {
    /// The value of `counter`.
    pub fn get(&self, counter: HealthCounter) -> f64 {
        self.0[counter.index()]
    }

    /// Adds `value` to `counter`.
    pub fn add(&mut self, counter: HealthCounter, value: f64) {
        self.0[counter.index()] += value;
    }

    /// Fallbacks tried, successful or not.
    pub fn fallbacks(&self) -> f64 {
        self.get(HealthCounter::SuccessfulFallbacks) + self.get(HealthCounter::FailedFallbacks)
    }
}

/// Sums health counter deltas in `dimension` per key.
pub fn health_by_key<'a>(
    deltas: impl IntoIterator<Item = &'a HealthDelta>,
    dimension: Dimension,
) -> BTreeMap<String, HealthValues> {
    let mut out: BTreeMap<String, HealthValues> = BTreeMap::new();
    for d in deltas {
        if d.dimension == dimension {
            out.entry(d.key.clone())
                .or_default()
                .add(d.counter, d.delta);
        }
    }
    out
}

#[cfg(test)]
mod tests;
