//! The read cache: window and all-time sums already read, kept until the
//! next write.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use pulse_core::catalog::MetricValues;
use pulse_core::window::{STORAGE_BUCKET_MS, TimeRange};

use super::Store;
use super::outbox::MeasureInputs;

/// Window and all-time sums already read, valid until the next write.
///
/// Every API request asks for the same few windows (today, this week, this
/// month, all time), and they only change when a scrape is stored. Serving
/// them from memory between scrapes turns a range scan of up to a month of
/// buckets into a map lookup, and the answer is the very value SQLite
/// returned, so numbers cannot drift. Only this store writes the `pulse_*`
/// tables (the Python reference writes its own), so every write that can
/// change a sum goes through a method that clears the cache.
#[derive(Default)]
pub(super) struct ReadCache {
    pub(super) all_time: Option<MetricValues>,
    pub(super) all_time_breakdown: HashMap<&'static str, KeyedValues>,
    pub(super) totals: HashMap<(i64, i64), MetricValues>,
    pub(super) breakdowns: HashMap<(&'static str, i64, i64), KeyedValues>,
    /// What the cost forecasts of `/api/v2/summary` read from SQLite.
    pub(super) forecast_inputs: HashMap<ForecastKey, Arc<MeasureInputs>>,
    /// Counts the writes (every [`Store::invalidate`]); kept across them.
    pub(super) generation: Generation,
}

/// The number of writes the store has begun, readable from any thread
/// without a round trip to the store's own (see [`Store::generation`]).
///
/// It moves before a write runs, and every read through the store thread
/// runs after that write, so anything read after seeing generation `g`
/// includes every write up to `g`: an answer computed from reads made after
/// loading `g` may be reused for as long as the generation is still `g`.
#[derive(Debug, Clone, Default)]
pub struct Generation(Arc<AtomicU64>);

impl Generation {
    /// The writes begun so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// Which stored inputs a forecast at some instant needs: the zone, the
/// period and its start, and the instant's 15-minute bucket (and whether the
/// instant is that bucket's first, which moves the look-back by one bucket).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct ForecastKey {
    pub(super) tz: &'static str,
    pub(super) period: String,
    pub(super) period_start_ms: i64,
    pub(super) bucket_ms: i64,
    pub(super) on_edge: bool,
}

/// Sums per key of a dimension, sorted by key.
pub(super) type KeyedValues = Vec<(String, MetricValues)>;

/// `range` with both ends moved up to the next bucket edge. Bucket starts
/// are multiples of the bucket width, so the same buckets start inside it:
/// windows ending "now" share one cache entry until the next bucket begins.
pub fn bucket_aligned(range: TimeRange) -> TimeRange {
    let up = |ms: i64| match ms.rem_euclid(STORAGE_BUCKET_MS) {
        0 => ms,
        r => ms.saturating_add(STORAGE_BUCKET_MS - r),
    };
    TimeRange {
        start_ms: up(range.start_ms),
        end_ms: up(range.end_ms),
    }
}

/// Most cached window sums; arbitrary `/api/v1/breakdown` windows past it
/// start the cache afresh rather than grow it.
pub(super) const READ_CACHE_CAP: usize = 64;

impl Store {
    /// Forgets every cached sum and moves the [`Generation`]; called
    /// before any write.
    pub(super) fn invalidate(&self) {
        let mut cache = self.cache.borrow_mut();
        let generation = std::mem::take(&mut cache.generation);
        generation.bump();
        *cache = ReadCache {
            generation,
            ..ReadCache::default()
        };
    }

    /// The store's write counter, shared: it can be read on any thread.
    pub fn generation(&self) -> Generation {
        self.cache.borrow().generation.clone()
    }
}
