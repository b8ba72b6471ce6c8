//! When scraped numbers still count as current: one rule for `/readyz`, for
//! `/health` and, through `/health`, for the dashboard's "stale" badge.
//!
//! A scrape may fail now and then (a proxy restart, a slow answer) without the
//! numbers being out of date, so freshness allows a few missed intervals
//! before it gives up: [`STALE_AFTER_INTERVALS`] of them.

/// How many scrape intervals may pass without a successful scrape before the
/// numbers count as stale.
pub const STALE_AFTER_INTERVALS: i64 = 3;

/// The age (ms) past which the last successful scrape is stale, for a scrape
/// interval of `interval_ms`.
pub fn stale_after_ms(interval_ms: i64) -> i64 {
    interval_ms.max(0).saturating_mul(STALE_AFTER_INTERVALS)
}

/// True when a scrape succeeded at most [`stale_after_ms`] before `now_ms`.
///
/// No successful scrape yet is not fresh. A success stamped after `now_ms`
/// (the clock stepped back) is fresh: it is as recent as anything can be.
pub fn is_fresh(last_success_ms: Option<i64>, now_ms: i64, interval_ms: i64) -> bool {
    last_success_ms.is_some_and(|t| now_ms.saturating_sub(t) <= stale_after_ms(interval_ms))
}

/// How many of `targets` (each one's last successful scrape) are fresh.
pub fn fresh_count(targets: &[Option<i64>], now_ms: i64, interval_ms: i64) -> usize {
    targets
        .iter()
        .filter(|t| is_fresh(**t, now_ms, interval_ms))
        .count()
}

/// Readiness of a fleet: every target fresh, or with a `quorum`, at least
/// that many (all of them when there are fewer). No target yet is not ready.
pub fn fleet_ready(
    targets: &[Option<i64>],
    now_ms: i64,
    interval_ms: i64,
    quorum: Option<usize>,
) -> bool {
    let need = quorum.map_or(targets.len(), |q| q.min(targets.len()));
    !targets.is_empty() && fresh_count(targets, now_ms, interval_ms) >= need.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_is_ready_when_every_target_or_a_quorum_is_fresh() {
        let now = 100 * MIN;
        let (ok, stale) = (Some(now - MIN), Some(now - 10 * MIN));
        /// (targets, quorum, ready)
        type Row<'a> = (&'a [Option<i64>], Option<usize>, bool);
        let rows: [Row<'_>; 8] = [
            (&[], None, false),
            (&[ok], None, true),
            (&[ok, ok, stale], None, false),
            (&[ok, ok, None], None, false),
            (&[ok, ok, stale], Some(2), true),
            (&[ok, stale, stale], Some(2), false),
            (&[ok], Some(3), true),
            (&[stale], Some(3), false),
        ];
        for (targets, quorum, ready) in rows {
            assert_eq!(
                fleet_ready(targets, now, MIN, quorum),
                ready,
                "{targets:?} {quorum:?}"
            );
        }
    }

    const MIN: i64 = 60_000;

    #[test]
    fn freshness_rows() {
        // (last success, now, interval, fresh)
        let rows: &[(Option<i64>, i64, i64, bool)] = &[
            (None, 10 * MIN, MIN, false),
            (Some(10 * MIN), 10 * MIN, MIN, true),
            (Some(7 * MIN), 10 * MIN, MIN, true),
            (Some(7 * MIN - 1), 10 * MIN, MIN, false),
            (Some(0), 15 * MIN, 5 * MIN, true),
            (Some(0), 15 * MIN + 1, 5 * MIN, false),
            (Some(11 * MIN), 10 * MIN, MIN, true),
            (Some(i64::MIN), i64::MAX, MIN, false),
            (Some(0), 1, 0, false),
        ];
        for &(last, now, interval, fresh) in rows {
            assert_eq!(
                is_fresh(last, now, interval),
                fresh,
                "{last:?} {now} {interval}"
            );
        }
    }

    #[test]
    fn stale_after_is_three_intervals() {
        assert_eq!(stale_after_ms(60_000), 180_000);
        assert_eq!(stale_after_ms(-5), 0);
        assert_eq!(stale_after_ms(i64::MAX), i64::MAX);
    }
}
