//! Response bodies already serialised, kept while what they were computed
//! from is unchanged.
//!
//! `/api/v1/metrics` (and `/` for non-browsers) is what dashboards and
//! monitors poll, and its answer is a function of three things only: the
//! stored sums (they change when the store writes: [`StoreHandle::generation`]),
//! the scraper status ([`App::live_version`]), and the day, week and month
//! windows the core computes for "now" in the configured zone
//! (`window::window_range`), as the store reads them: moved up to whole
//! 15-minute buckets ([`bucket_aligned`]). The key holds all three; a request
//! whose key equals the cached one gets the cached bytes, so the answer
//! changes exactly when a scrape lands, the scraper status changes, or a
//! window edge (a bucket edge, local midnight, Monday, the 1st) passes.
//!
//! Every part of a key is read before the data the body is built from, so a
//! body is never older than its key says (see [`crate::store::Generation`]);
//! a race can only make a body newer than its key, which costs one extra
//! miss later, never a stale answer.
//!
//! [`StoreHandle::generation`]: crate::store::StoreHandle::generation
//! [`App::live_version`]: crate::app::App::live_version
//! [`bucket_aligned`]: crate::store::bucket_aligned

use std::sync::{Mutex, PoisonError};

use pulse_core::window::TimeRange;
use warp::hyper::body::Bytes;

use crate::store::bucket_aligned;

/// What one summary body was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyKey {
    /// The store's write generation.
    pub data: u64,
    /// The scraper status version.
    pub live: u64,
    /// Day, week and month as the store sums them (whole buckets).
    pub windows: [(i64, i64); 3],
}

impl BodyKey {
    /// The key of a body read after loading `data` and `live`, for the
    /// windows `ranges` (the core's, for "now").
    pub fn new(data: u64, live: u64, ranges: &[TimeRange; 3]) -> BodyKey {
        BodyKey {
            data,
            live,
            windows: ranges.map(|r| {
                let r = bucket_aligned(r);
                (r.start_ms, r.end_ms)
            }),
        }
    }
}

/// One serialised body and its key.
#[derive(Debug, Default)]
pub struct BodyCache {
    slot: Mutex<Option<(BodyKey, Bytes)>>,
}

impl BodyCache {
    /// The body stored under `key`, if that is the key held.
    pub fn get(&self, key: &BodyKey) -> Option<Bytes> {
        let slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        slot.as_ref()
            .filter(|(k, _)| k == key)
            .map(|(_, body)| body.clone())
    }

    /// Keeps `body` under `key`, in place of whatever was held.
    pub fn put(&self, key: BodyKey, body: Bytes) {
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some((key, body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(starts: [i64; 3], end: i64) -> [TimeRange; 3] {
        starts.map(|start_ms| TimeRange {
            start_ms,
            end_ms: end,
        })
    }

    #[test]
    fn keys_within_one_bucket_are_equal_and_across_an_edge_differ() {
        let day = [0, -86_400_000, -2 * 86_400_000];
        // 00:00:01 and 00:14:59.999 end in the same bucket, 00:15:00.001 does not.
        let a = BodyKey::new(1, 1, &ranges(day, 1_000));
        let b = BodyKey::new(1, 1, &ranges(day, 899_999));
        let c = BodyKey::new(1, 1, &ranges(day, 900_001));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.windows[0], (0, 900_000));
        assert_eq!(c.windows[0], (0, 1_800_000));
        assert_ne!(a, BodyKey::new(2, 1, &ranges(day, 1_000)));
        assert_ne!(a, BodyKey::new(1, 2, &ranges(day, 1_000)));
    }

    #[test]
    fn the_cache_answers_only_its_own_key() {
        let cache = BodyCache::default();
        let k1 = BodyKey::new(1, 0, &ranges([0; 3], 10));
        let k2 = BodyKey::new(2, 0, &ranges([0; 3], 10));
        assert_eq!(cache.get(&k1), None);
        cache.put(k1, Bytes::from_static(b"one"));
        assert_eq!(cache.get(&k1).as_deref(), Some(&b"one"[..]));
        assert_eq!(cache.get(&k2), None);
        cache.put(k2, Bytes::from_static(b"two"));
        assert_eq!(cache.get(&k1), None);
        assert_eq!(cache.get(&k2).as_deref(), Some(&b"two"[..]));
    }
}
