//! Splitting a range into pieces that pre-summed rollup rows can answer.
//!
//! The host stores deltas in 15-minute rows and, on top, in rows that each sum
//! a whole UTC day of them. A month window then reads about 30 day rows plus
//! the 15-minute rows at its two ragged ends instead of ~3,000 rows: local
//! midnights fall on 15-minute UTC edges but not on UTC days.

use super::TimeRange;

/// One UTC day in milliseconds: the width of the host's daily rollup rows.
pub const UTC_DAY_MS: i64 = 86_400_000;

/// The start of the UTC day that holds `ts_ms`, flooring towards negative
/// infinity. Saturates at `i64::MIN` for instants within a day of it.
pub fn utc_day(ts_ms: i64) -> i64 {
    floor_to(ts_ms, UTC_DAY_MS).unwrap_or(i64::MIN)
}

/// One piece of a [`cover`]: sum the rows of width `unit_ms` whose start lies
/// in `range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoverPiece {
    /// The row width to read, one of the units given to [`cover`].
    pub unit_ms: i64,
    /// The row starts to sum, half-open.
    pub range: TimeRange,
}

/// Splits `range` into disjoint pieces, in time order, each answered by rows
/// of one width.
///
/// `units` lists the row widths from coarsest to finest; the last one is the
/// base rows, which take whatever is left. A row of width `u` starts at a
/// multiple of `u` and holds every base row whose start lies in
/// `[start, start + u)`. Every piece of a coarser unit has both bounds on
/// multiples of that unit, so summing each piece's rows by start gives
/// exactly the base rows whose start lies in `range`. Each coarse unit adds
/// at most one piece; each finer one at most two (one per ragged end).
///
/// Units that are not positive are skipped. An empty range, or no usable
/// unit, gives no piece.
pub fn cover(range: TimeRange, units: &[i64]) -> Vec<CoverPiece> {
    let units: Vec<i64> = units.iter().copied().filter(|&u| u > 0).collect();
    let mut out = Vec::new();
    split(range, &units, &mut out);
    out
}

/// Appends the pieces of `range` to `out`, coarsest unit first in the middle.
fn split(range: TimeRange, units: &[i64], out: &mut Vec<CoverPiece>) {
    if range.is_empty() {
        return;
    }
    let Some((&unit, finer)) = units.split_first() else {
        return;
    };
    if finer.is_empty() {
        out.push(CoverPiece {
            unit_ms: unit,
            range,
        });
        return;
    }
    let first = ceil_to(range.start_ms, unit);
    let last = floor_to(range.end_ms, unit);
    match (first, last) {
        (Some(a), Some(b)) if a < b => {
            split(TimeRange::new(range.start_ms, a), finer, out);
            out.push(CoverPiece {
                unit_ms: unit,
                range: TimeRange::new(a, b),
            });
            split(TimeRange::new(b, range.end_ms), finer, out);
        }
        _ => split(range, finer, out),
    }
}

/// The greatest multiple of `unit` at or below `ms`, if it is an `i64`.
fn floor_to(ms: i64, unit: i64) -> Option<i64> {
    ms.checked_sub(ms.rem_euclid(unit))
}

/// The least multiple of `unit` at or above `ms`, if it is an `i64`.
fn ceil_to(ms: i64, unit: i64) -> Option<i64> {
    match ms.rem_euclid(unit) {
        0 => Some(ms),
        r => ms.checked_add(unit - r),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const Q: i64 = 900_000;
    const D: i64 = UTC_DAY_MS;

    fn piece(unit_ms: i64, start_ms: i64, end_ms: i64) -> CoverPiece {
        CoverPiece {
            unit_ms,
            range: TimeRange::new(start_ms, end_ms),
        }
    }

    #[test]
    fn month_window_is_days_plus_two_ragged_ends() {
        // 2024-03-01 00:00 Asia/Kathmandu (+05:45) is 2024-02-29 18:15 UTC.
        let start = 1_709_230_500_000;
        assert_eq!(start % Q, 0);
        let end = start + 20 * D + 7 * Q;
        let day0 = utc_day(start) + D;
        let day1 = utc_day(end);
        assert_eq!(
            cover(TimeRange::new(start, end), &[D, Q]),
            vec![
                piece(Q, start, day0),
                piece(D, day0, day1),
                piece(Q, day1, end)
            ]
        );
        assert_eq!(day0 - start, 23 * Q);
        assert_eq!(day1 - day0, 19 * D);
    }

    #[test]
    fn range_within_one_day_is_base_rows_only() {
        let r = TimeRange::new(D + Q, 2 * D - Q);
        assert_eq!(cover(r, &[D, Q]), vec![piece(Q, D + Q, 2 * D - Q)]);
        // Exactly one aligned day needs no base rows.
        assert_eq!(
            cover(TimeRange::new(D, 2 * D), &[D, Q]),
            vec![piece(D, D, 2 * D)]
        );
    }

    #[test]
    fn three_levels_nest() {
        const H: i64 = 3_600_000;
        let r = TimeRange::new(D - 5 * Q, 3 * D + H + 2 * Q);
        assert_eq!(
            cover(r, &[D, H, Q]),
            vec![
                piece(Q, D - 5 * Q, D - H),
                piece(H, D - H, D),
                piece(D, D, 3 * D),
                piece(H, 3 * D, 3 * D + H),
                piece(Q, 3 * D + H, 3 * D + H + 2 * Q),
            ]
        );
    }

    #[test]
    fn negative_times_floor_down() {
        assert_eq!(utc_day(-1), -D);
        assert_eq!(utc_day(-D), -D);
        assert_eq!(utc_day(0), 0);
        assert_eq!(utc_day(D - 1), 0);
        assert_eq!(utc_day(i64::MIN), i64::MIN);
        let r = TimeRange::new(-D - Q, Q);
        assert_eq!(
            cover(r, &[D, Q]),
            vec![piece(Q, -D - Q, -D), piece(D, -D, 0), piece(Q, 0, Q)]
        );
    }

    #[test]
    fn empty_ranges_bad_units_and_extremes_give_sane_pieces() {
        assert!(cover(TimeRange::new(5, 5), &[D, Q]).is_empty());
        assert!(cover(TimeRange::new(9, 5), &[D, Q]).is_empty());
        assert!(cover(TimeRange::new(0, D), &[]).is_empty());
        assert_eq!(
            cover(TimeRange::new(0, 2 * D), &[0, -D, D, Q]),
            vec![piece(D, 0, 2 * D)]
        );
        let all = TimeRange::new(i64::MIN, i64::MAX);
        let pieces = cover(all, &[D, Q]);
        assert_eq!(pieces.first().map(|p| p.range.start_ms), Some(i64::MIN));
        assert_eq!(pieces.last().map(|p| p.range.end_ms), Some(i64::MAX));
        assert_eq!(pieces.len(), 3);
    }

    proptest! {
        #[test]
        fn pieces_are_disjoint_aligned_and_cover_exactly(
            start in -40 * D..40 * D,
            len in 0i64..50 * D,
            hours in any::<bool>(),
        ) {
            let units: &[i64] = if hours { &[D, 3_600_000, Q] } else { &[D, Q] };
            let range = TimeRange::new(start, start + len);
            let pieces = cover(range, units);
            // In order, touching, and spanning exactly the range.
            let mut at = range.start_ms;
            for p in &pieces {
                prop_assert!(!p.range.is_empty());
                prop_assert_eq!(p.range.start_ms, at);
                at = p.range.end_ms;
                prop_assert!(units.contains(&p.unit_ms));
                if p.unit_ms != Q {
                    prop_assert_eq!(p.range.start_ms.rem_euclid(p.unit_ms), 0);
                    prop_assert_eq!(p.range.end_ms.rem_euclid(p.unit_ms), 0);
                }
            }
            prop_assert_eq!(at, if len == 0 { range.start_ms } else { range.end_ms });
            // At most one piece of the coarsest unit and two of each finer one.
            prop_assert!(pieces.len() < 2 * units.len());
            // Summing per-unit rows gives the same base rows as the range:
            // every base row start is in exactly one piece's rows.
            let mut t = range.start_ms.div_euclid(Q) * Q - Q;
            while t < range.end_ms + Q {
                let hits = pieces
                    .iter()
                    .filter(|p| {
                        let row = if p.unit_ms == Q { t } else { t.div_euclid(p.unit_ms) * p.unit_ms };
                        p.range.contains(row)
                    })
                    .count();
                prop_assert_eq!(hits, usize::from(range.contains(t)));
                t += Q;
            }
        }
    }
}
