//! The store's 15-minute buckets, as forecasts and the spike rule read them.

use rustc_hash::FxHashMap;

use crate::window::{MAX_BUCKETS, STORAGE_BUCKET_MS, TimeRange, storage_bucket};

/// What the store knows about one series: `(bucket_start_ms, value)` rows of
/// 15-minute UTC buckets ([`STORAGE_BUCKET_MS`]), and the range they cover.
///
/// `covered` matters because the store writes no row for a quiet bucket: a
/// missing bucket inside `covered` is zero spend, one outside it is unknown
/// (pulse was not running, or the history was cut). Typically `covered` runs
/// from the first scrape the store holds to "now".
///
/// Rows may come in any order and may repeat a bucket (they are added); a
/// row stamped inside a bucket counts for that bucket. Rows outside
/// `covered` and non-finite values are ignored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct History<'a> {
    /// The span the rows describe completely.
    pub covered: TimeRange,
    /// `(bucket_start_ms, value)` rows.
    pub buckets: &'a [(i64, f64)],
}

impl<'a> History<'a> {
    /// A history of `buckets` that describes `covered` completely.
    pub fn new(covered: TimeRange, buckets: &'a [(i64, f64)]) -> History<'a> {
        History { covered, buckets }
    }

    /// The value of every storage bucket whose start lies in `range ∩ covered`,
    /// keyed by bucket start.
    pub(crate) fn bucket_values(&self, range: TimeRange) -> FxHashMap<i64, f64> {
        let mut map = FxHashMap::default();
        for &(ts, value) in self.buckets {
            let slot = storage_bucket(ts);
            if value.is_finite() && range.contains(slot) && self.covered.contains(slot) {
                *map.entry(slot).or_insert(0.0) += value;
            }
        }
        map
    }

    /// The starts of the storage buckets that lie wholly inside
    /// `range ∩ covered`, ascending, at most [`MAX_BUCKETS`] of them.
    pub(crate) fn whole_slots(&self, range: TimeRange) -> impl Iterator<Item = i64> {
        let start = range.start_ms.max(self.covered.start_ms);
        let end = range.end_ms.min(self.covered.end_ms);
        let aligned = storage_bucket(start);
        let first = if aligned < start {
            aligned.saturating_add(STORAGE_BUCKET_MS)
        } else {
            aligned
        };
        (0..MAX_BUCKETS as i64)
            .map(move |i| first.saturating_add(i.saturating_mul(STORAGE_BUCKET_MS)))
            .take_while(move |&s| s.checked_add(STORAGE_BUCKET_MS).is_some_and(|e| e <= end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: i64 = STORAGE_BUCKET_MS;

    #[test]
    fn slots_are_whole_and_inside_coverage() {
        let h = History::new(TimeRange::new(10, 5 * Q + 3), &[]);
        let slots: Vec<i64> = h.whole_slots(TimeRange::new(0, 100 * Q)).collect();
        assert_eq!(slots, [Q, 2 * Q, 3 * Q, 4 * Q]);
        let slots: Vec<i64> = h.whole_slots(TimeRange::new(2 * Q, 3 * Q)).collect();
        assert_eq!(slots, [2 * Q]);
        assert_eq!(h.whole_slots(TimeRange::new(2 * Q, 3 * Q - 1)).count(), 0);
        let huge = History::new(TimeRange::new(i64::MIN, i64::MAX), &[]);
        assert_eq!(
            huge.whole_slots(TimeRange::new(i64::MIN, i64::MAX)).count(),
            MAX_BUCKETS
        );
    }

    #[test]
    fn values_add_up_per_bucket() {
        let rows = [
            (Q, 1.0),
            (Q + 5, 2.0),
            (2 * Q, f64::NAN),
            (3 * Q, 4.0),
            (9 * Q, 8.0),
        ];
        let h = History::new(TimeRange::new(0, 4 * Q), &rows);
        let map = h.bucket_values(TimeRange::new(0, 100 * Q));
        assert_eq!(map.len(), 2);
        assert_eq!(map[&Q], 3.0);
        assert_eq!(map[&(3 * Q)], 4.0);
    }
}
