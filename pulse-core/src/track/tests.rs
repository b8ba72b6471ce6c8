//! The tracker's rules (see the module docs), one behaviour per test, and
//! the helpers the other test modules of `track` share.

use super::*;
use crate::catalog::{Metric, MetricValues};
use crate::expo::{Family, MetricType, Sample};

pub(super) const REQ: &str = "litellm_proxy_total_requests_metric_total";
pub(super) const REQ_CREATED: &str = "litellm_proxy_total_requests_metric_created";
pub(super) const SPEND: &str = "litellm_spend_metric_total";

pub(super) type Line<'a> = (&'a str, &'a [(&'a str, &'a str)], f64);

/// Builds an exposition from `(sample name, labels, value)` lines.
pub(super) fn body<'a>(lines: &[Line<'a>]) -> Exposition<'a> {
    let mut e = Exposition::default();
    for (i, (name, labels, value)) in lines.iter().enumerate() {
        let start = e.labels.len() as u32;
        for (n, v) in labels.iter() {
            e.labels.push(Label::new(n, v));
        }
        e.samples.push(Sample {
            name,
            labels: start..e.labels.len() as u32,
            value: *value,
            timestamp_ms: None,
            family: 0,
            line: i as u32 + 1,
        });
    }
    e.families.push(Family {
        name: "all",
        kind: MetricType::Unknown,
        help: None,
        unit: None,
        samples: 0..e.samples.len() as u32,
    });
    e
}

pub(super) const GPT: &[(&str, &str)] = &[("requested_model", "gpt"), ("api_provider", "openai")];
pub(super) const CLAUDE: &[(&str, &str)] =
    &[("requested_model", "claude"), ("api_provider", "anthropic")];

pub(super) fn tracker() -> Tracker {
    Tracker::new(Catalog::litellm())
}

#[test]
fn first_observation_is_a_baseline() {
    let mut t = tracker();
    let o = t.observe(
        &body(&[(REQ, GPT, 5.0), (REQ, CLAUDE, 2.0), (SPEND, GPT, 0.5)]),
        1000,
    );
    assert!(o.baseline);
    assert_eq!(o.new_series, 3);
    assert_eq!(o.deltas, MetricValues::default());
    assert!(o.breakdown.is_empty());
    assert_eq!(o.live.get(Metric::Requests), 7.0);
    assert_eq!(o.live.get(Metric::Cost), 0.5);
    assert_eq!(t.series_len(), 3);
}

#[test]
fn growth_and_reset_by_value_fall() {
    let mut t = tracker();
    t.observe(&body(&[(REQ, GPT, 5.0), (REQ, CLAUDE, 2.0)]), 1000);
    let o = t.observe(&body(&[(REQ, GPT, 8.0), (REQ, CLAUDE, 2.0)]), 2000);
    assert!(!o.baseline);
    assert_eq!((o.resets, o.new_series, o.vanished_series), (0, 0, 0));
    assert_eq!(o.deltas.get(Metric::Requests), 3.0);
    let o = t.observe(&body(&[(REQ, GPT, 1.0), (REQ, CLAUDE, 4.0)]), 3000);
    assert_eq!(o.resets, 1);
    assert_eq!(o.deltas.get(Metric::Requests), 3.0);
    assert_eq!(o.live.get(Metric::Requests), 5.0);
}

#[test]
fn nan_inf_and_negative_values_are_ignored() {
    let mut t = tracker();
    t.observe(&body(&[(REQ, GPT, 5.0)]), 1000);
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0] {
        let o = t.observe(&body(&[(REQ, GPT, bad), (REQ, CLAUDE, bad)]), 2000);
        assert_eq!(o.deltas.get(Metric::Requests), 0.0);
        assert_eq!(o.live.get(Metric::Requests), 0.0);
        assert_eq!((o.resets, o.new_series, o.vanished_series), (0, 0, 0));
    }
    assert_eq!(t.series_len(), 1);
    let o = t.observe(&body(&[(REQ, GPT, 7.0)]), 3000);
    assert_eq!(o.deltas.get(Metric::Requests), 2.0);
    assert_eq!(o.resets, 0);
}

#[test]
fn a_one_ulp_fall_is_noise_not_a_reset() {
    let mut t = tracker();
    let v: f64 = 0.00028440000000000003;
    t.observe(
        &body(&[(SPEND, GPT, f64::from_bits(v.to_bits() + 1))]),
        1000,
    );
    let o = t.observe(&body(&[(SPEND, GPT, v)]), 2000);
    assert_eq!((o.resets, o.deltas.get(Metric::Cost)), (0, 0.0));
    let o = t.observe(&body(&[(SPEND, GPT, v + 0.0001)]), 3000);
    assert_eq!(o.deltas.get(Metric::Cost), (v + 0.0001) - v);
    let o = t.observe(&body(&[(SPEND, GPT, v)]), 4000);
    assert_eq!((o.resets, o.deltas.get(Metric::Cost)), (1, v));
}

#[test]
fn a_new_created_is_a_reset_even_when_the_value_grew() {
    let mut t = tracker();
    t.observe(
        &body(&[(REQ, GPT, 5.0), (REQ_CREATED, GPT, 100.0)]),
        200_000,
    );
    let o = t.observe(
        &body(&[(REQ, GPT, 9.0), (REQ_CREATED, GPT, 250.0)]),
        300_000,
    );
    assert_eq!(o.resets, 1);
    assert_eq!(o.new_series, 0);
    assert_eq!(o.vanished_series, 1);
    assert_eq!(o.deltas.get(Metric::Requests), 9.0);
    // The restarted series then grows normally.
    let o = t.observe(
        &body(&[(REQ, GPT, 10.0), (REQ_CREATED, GPT, 250.0)]),
        400_000,
    );
    assert_eq!(o.deltas.get(Metric::Requests), 1.0);
    assert_eq!((o.resets, o.vanished_series), (0, 0));
}

#[test]
fn created_may_come_before_or_after_its_counter() {
    let lines_after = [(REQ, GPT, 5.0), (REQ_CREATED, GPT, 100.0)];
    let lines_before = [(REQ_CREATED, GPT, 100.0), (REQ, GPT, 5.0)];
    let mut a = tracker();
    let mut b = tracker();
    a.observe(&body(&lines_after), 1000);
    b.observe(&body(&lines_before), 1000);
    assert_eq!(a.export_state(), b.export_state());
    assert_eq!(a.export_state().series[0].created, Some(100.0));
}

#[test]
fn label_order_does_not_change_identity() {
    let mut t = tracker();
    t.observe(
        &body(&[
            (REQ, &[("a", "1"), ("b", "2")], 5.0),
            (REQ_CREATED, &[("b", "2"), ("a", "1")], 100.0),
        ]),
        1000,
    );
    let o = t.observe(
        &body(&[
            (REQ, &[("b", "2"), ("a", "1")], 6.0),
            (REQ_CREATED, &[("a", "1"), ("b", "2")], 100.0),
        ]),
        2000,
    );
    assert_eq!(o.deltas.get(Metric::Requests), 1.0);
    assert_eq!((o.new_series, o.adopted_series, o.resets), (0, 0, 0));
    assert_eq!(
        t.export_state().series[0].labels,
        [
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned())
        ]
    );
}

#[test]
fn a_series_that_vanishes_and_returns_is_counted_once() {
    let mut t = tracker();
    t.observe(&body(&[(REQ, GPT, 5.0), (REQ, CLAUDE, 2.0)]), 1000);
    let o = t.observe(&body(&[(REQ, GPT, 6.0)]), 2000);
    assert_eq!(o.vanished_series, 1);
    assert_eq!(o.deltas.get(Metric::Requests), 1.0);
    let o = t.observe(&body(&[(REQ, GPT, 6.0)]), 3000);
    assert_eq!(o.vanished_series, 0);
    let o = t.observe(&body(&[(REQ, GPT, 6.0), (REQ, CLAUDE, 3.0)]), 4000);
    assert_eq!(o.deltas.get(Metric::Requests), 1.0);
    assert_eq!((o.new_series, o.resets), (0, 0));
    let claude: Vec<&BreakdownDelta> = o
        .breakdown
        .iter()
        .filter(|b| b.dimension == Dimension::Model)
        .collect();
    assert_eq!(claude.len(), 1);
    assert_eq!((claude[0].key.as_str(), claude[0].delta), ("claude", 1.0));
}

#[test]
fn new_series_without_created_count_whole() {
    let mut t = tracker();
    t.observe(&body(&[(REQ, GPT, 5.0)]), 1000);
    let o = t.observe(&body(&[(REQ, GPT, 5.0), (REQ, CLAUDE, 4.0)]), 2000);
    assert_eq!(o.new_series, 1);
    assert_eq!(o.deltas.get(Metric::Requests), 4.0);
}

#[test]
fn created_decides_between_new_and_adopted() {
    let mut t = tracker();
    // Previous observation at 1_000_000 ms: the threshold is 999 s.
    t.observe(&body(&[(REQ, GPT, 5.0)]), 1_000_000);
    let fresh = &[("requested_model", "fresh")][..];
    let edge = &[("requested_model", "edge")][..];
    let old = &[("requested_model", "old")][..];
    let o = t.observe(
        &body(&[
            (REQ, fresh, 3.0),
            (REQ_CREATED, fresh, 1000.5),
            (REQ, edge, 4.0),
            (REQ_CREATED, edge, 999.0),
            (REQ, old, 50.0),
            (REQ_CREATED, old, 998.999),
        ]),
        1_060_000,
    );
    assert_eq!(o.new_series, 2);
    assert_eq!(o.adopted_series, 1);
    assert_eq!(o.deltas.get(Metric::Requests), 7.0);
    assert_eq!(o.live.get(Metric::Requests), 57.0);
    // The adopted series counts its growth from then on.
    let o = t.observe(
        &body(&[
            (REQ, GPT, 5.0),
            (REQ, old, 52.0),
            (REQ_CREATED, old, 998.999),
        ]),
        1_120_000,
    );
    assert_eq!(o.deltas.get(Metric::Requests), 2.0);
    assert_eq!(o.vanished_series, 2);
}

/// Pulse's clock at the previous scrape, for the target-clock tests.
pub(super) const PULSE_PREV: i64 = 1_800_000_000_000;
pub(super) const FIVE_MIN: i64 = 300_000;

#[test]
fn a_target_clock_behind_ours_still_counts_new_series() {
    let target_prev = PULSE_PREV - FIVE_MIN;
    // Created 30 s after the previous scrape, on the target's clock.
    let created = (target_prev + 30_000) as f64 / 1000.0;
    let scrape = [
        (REQ, GPT, 5.0),
        (REQ, CLAUDE, 3.0),
        (REQ_CREATED, CLAUDE, created),
    ];
    let mut t = tracker();
    t.observe_with_target_clock(&body(&[(REQ, GPT, 5.0)]), PULSE_PREV, Some(target_prev));
    assert_eq!(t.last_target_ms(), Some(target_prev));
    let o = t.observe_with_target_clock(
        &body(&scrape),
        PULSE_PREV + 60_000,
        Some(target_prev + 60_000),
    );
    assert_eq!((o.new_series, o.adopted_series), (1, 0));
    assert_eq!(o.deltas.get(Metric::Requests), 3.0);
    // Judged on pulse's clock, the same series looks 4.5 minutes old.
    let mut t = tracker();
    t.observe(&body(&[(REQ, GPT, 5.0)]), PULSE_PREV);
    let o = t.observe(&body(&scrape), PULSE_PREV + 60_000);
    assert_eq!((o.new_series, o.adopted_series), (0, 1));
    assert_eq!(o.deltas.get(Metric::Requests), 0.0);
}

#[test]
fn a_target_clock_ahead_of_ours_still_adopts_another_workers_series() {
    let target_prev = PULSE_PREV + FIVE_MIN;
    // Worker B's series is 100 s old at the previous scrape (target's
    // clock), which on pulse's clock is 200 s in the future.
    let created = (target_prev - 100_000) as f64 / 1000.0;
    let worker_a = [(REQ, GPT, 5.0), (REQ_CREATED, GPT, 1000.0)];
    let worker_b = [(REQ, CLAUDE, 40.0), (REQ_CREATED, CLAUDE, created)];
    let mut t = tracker();
    t.observe_with_target_clock(&body(&worker_a), PULSE_PREV, Some(target_prev));
    let o = t.observe_with_target_clock(
        &body(&worker_b),
        PULSE_PREV + 60_000,
        Some(target_prev + 60_000),
    );
    assert_eq!(
        (o.new_series, o.adopted_series, o.vanished_series),
        (0, 1, 1)
    );
    assert_eq!(o.deltas, MetricValues::default());
    // Judged on pulse's clock, its 40 requests would be counted again.
    let mut t = tracker();
    t.observe(&body(&worker_a), PULSE_PREV);
    let o = t.observe(&body(&worker_b), PULSE_PREV + 60_000);
    assert_eq!((o.new_series, o.adopted_series), (1, 0));
    assert_eq!(o.deltas.get(Metric::Requests), 40.0);
}

#[test]
fn the_target_clock_threshold_keeps_one_second_of_tolerance() {
    // The previous `Date` said 1_800_000_000 s: the threshold is 1 s before.
    let target_prev = 1_800_000_000_000;
    let fresh = &[("requested_model", "fresh")][..];
    let edge = &[("requested_model", "edge")][..];
    let old = &[("requested_model", "old")][..];
    let mut t = tracker();
    t.observe_with_target_clock(&body(&[]), PULSE_PREV - FIVE_MIN, Some(target_prev));
    let o = t.observe_with_target_clock(
        &body(&[
            (REQ, fresh, 3.0),
            (REQ_CREATED, fresh, 1_800_000_000.5),
            (REQ, edge, 4.0),
            (REQ_CREATED, edge, 1_799_999_999.0),
            (REQ, old, 50.0),
            (REQ_CREATED, old, 1_799_999_998.999),
        ]),
        PULSE_PREV,
        Some(target_prev + 60_000),
    );
    assert_eq!((o.new_series, o.adopted_series), (2, 1));
    assert_eq!(o.deltas.get(Metric::Requests), 7.0);
}

#[test]
fn without_a_target_clock_on_both_sides_pulses_clock_decides() {
    // The target is 5 minutes behind; a series born 30 s after the
    // previous scrape is adopted whenever one side lacks the target clock.
    let target_prev = PULSE_PREV - FIVE_MIN;
    let created = (target_prev + 30_000) as f64 / 1000.0;
    let scrape = [(REQ, CLAUDE, 3.0), (REQ_CREATED, CLAUDE, created)];
    for (prev_target, now_target) in [
        (None, Some(target_prev + 60_000)),
        (Some(target_prev), None),
        (None, None),
    ] {
        let mut t = tracker();
        t.observe_with_target_clock(&body(&[]), PULSE_PREV, prev_target);
        let o = t.observe_with_target_clock(&body(&scrape), PULSE_PREV + 60_000, now_target);
        assert_eq!(o.adopted_series, 1, "{prev_target:?} {now_target:?}");
        assert_eq!(o.deltas.get(Metric::Requests), 0.0);
        assert_eq!(t.last_target_ms(), now_target);
    }
}

/// Two workers without a shared multiprocess dir answer in turn (fault 7).
#[test]
fn worker_bounce_gives_zero_then_exact_traffic() {
    let worker_a = |n: f64| {
        vec![
            (REQ, GPT, n),
            (REQ_CREATED, GPT, 100.0),
            (SPEND, GPT, n * 0.25),
            ("litellm_spend_metric_created", GPT, 100.0),
        ]
    };
    let worker_b = |n: f64| {
        vec![
            (REQ, GPT, n),
            (REQ_CREATED, GPT, 130.0),
            (SPEND, GPT, n * 0.25),
            ("litellm_spend_metric_created", GPT, 130.0),
        ]
    };
    let mut t = tracker();
    let o = t.observe(&body(&worker_a(150.0)), 600_000);
    assert!(o.baseline);
    let o = t.observe(&body(&worker_b(60.0)), 660_000);
    assert_eq!(o.adopted_series, 2);
    assert_eq!(o.deltas, MetricValues::default());
    for (i, scrape) in [worker_a(150.0), worker_b(60.0), worker_a(150.0)]
        .iter()
        .enumerate()
    {
        let o = t.observe(&body(scrape), 720_000 + 60_000 * i as i64);
        assert_eq!(o.deltas, MetricValues::default(), "scrape {i}");
        assert_eq!(o.vanished_series, 2);
        assert_eq!((o.resets, o.new_series, o.adopted_series), (0, 0, 0));
    }
    // 4 requests on B, then 2 on A.
    let o = t.observe(&body(&worker_b(64.0)), 900_000);
    assert_eq!(o.deltas.get(Metric::Requests), 4.0);
    assert_eq!(o.deltas.get(Metric::Cost), 1.0);
    let o = t.observe(&body(&worker_a(152.0)), 960_000);
    assert_eq!(o.deltas.get(Metric::Requests), 2.0);
    assert_eq!(o.deltas.get(Metric::Cost), 0.5);
    let o = t.observe(&body(&worker_b(64.0)), 1_020_000);
    assert_eq!(o.deltas, MetricValues::default());
}

#[test]
fn gauges_have_live_values_but_no_deltas() {
    let mut t = tracker();
    let g = "litellm_in_flight_requests";
    t.observe(
        &body(&[(g, &[("pid", "1")], 2.0), (g, &[("pid", "2")], 3.0)]),
        1000,
    );
    let o = t.observe(
        &body(&[(g, &[("pid", "1")], 1.0), (g, &[("pid", "2")], 7.0)]),
        2000,
    );
    assert_eq!(o.live.get(Metric::InFlightRequests), 8.0);
    assert_eq!(o.deltas.get(Metric::InFlightRequests), 0.0);
    assert!(o.breakdown.is_empty());
    assert_eq!(t.series_len(), 0);
}

#[test]
fn the_first_listed_name_wins() {
    let new_name = "litellm_total_tokens_metric_total";
    let old_name = "litellm_total_tokens_total";
    let mut t = tracker();
    t.observe(&body(&[(old_name, GPT, 100.0)]), 1000);
    let o = t.observe(&body(&[(old_name, GPT, 130.0)]), 2000);
    assert_eq!(o.deltas.get(Metric::Tokens), 30.0);
    let o = t.observe(
        &body(&[(old_name, GPT, 500.0), (new_name, GPT, 40.0)]),
        3000,
    );
    // Only the new name counts: a series first seen, without `_created`.
    assert_eq!(o.live.get(Metric::Tokens), 40.0);
    assert_eq!(o.deltas.get(Metric::Tokens), 40.0);
    assert_eq!(o.vanished_series, 1);
}

#[test]
fn duplicate_lines_count_once() {
    let mut t = tracker();
    t.observe(&body(&[(REQ, GPT, 5.0)]), 1000);
    let o = t.observe(&body(&[(REQ, GPT, 7.0), (REQ, GPT, 7.0)]), 2000);
    assert_eq!(o.deltas.get(Metric::Requests), 2.0);
    assert_eq!(o.live.get(Metric::Requests), 7.0);
}

#[test]
fn managed_batch_created_uses_created_created() {
    let catalog = Catalog::litellm()
        .with_override(Metric::Requests, "litellm_managed_batch_created_total")
        .unwrap();
    let mut t = Tracker::new(catalog);
    let name = "litellm_managed_batch_created_total";
    let created = "litellm_managed_batch_created_created";
    t.observe(&body(&[(name, GPT, 2.0), (created, GPT, 50.0)]), 100_000);
    let o = t.observe(&body(&[(name, GPT, 3.0), (created, GPT, 50.0)]), 200_000);
    assert_eq!(o.deltas.get(Metric::Requests), 1.0);
    assert_eq!(t.export_state().series[0].created, Some(50.0));
}

#[test]
fn breakdown_is_sorted_and_sums_to_the_totals() {
    let team_a = &[
        ("requested_model", "gpt"),
        ("team_alias", "A"),
        ("api_key_alias", "k1"),
    ][..];
    let team_b = &[
        ("requested_model", "gpt"),
        ("team", "t-b"),
        ("hashed_api_key", "h2"),
    ][..];
    let none = &[("requested_model", "None")][..];
    let mut t = tracker();
    t.observe(
        &body(&[(REQ, team_a, 1.0), (REQ, team_b, 1.0), (SPEND, team_a, 1.0)]),
        1000,
    );
    let o = t.observe(
        &body(&[
            (REQ, team_a, 4.0),
            (REQ, team_b, 3.0),
            (SPEND, team_a, 1.5),
            (REQ, none, 2.0),
        ]),
        2000,
    );
    assert_eq!(o.deltas.get(Metric::Requests), 7.0);
    assert_eq!(o.deltas.get(Metric::Cost), 0.5);
    let got: Vec<(Dimension, &str, Metric, f64)> = o
        .breakdown
        .iter()
        .map(|b| (b.dimension, b.key.as_str(), b.metric, b.delta))
        .collect();
    use Dimension as D;
    use Metric as M;
    assert_eq!(
        got,
        [
            (D::Model, "", M::Requests, 2.0),
            (D::Model, "gpt", M::Requests, 5.0),
            (D::Model, "gpt", M::Cost, 0.5),
            (D::Key, "", M::Requests, 2.0),
            (D::Key, "h2", M::Requests, 2.0),
            (D::Key, "k1", M::Requests, 3.0),
            (D::Key, "k1", M::Cost, 0.5),
            (D::Team, "", M::Requests, 2.0),
            (D::Team, "A", M::Requests, 3.0),
            (D::Team, "A", M::Cost, 0.5),
            (D::Team, "t-b", M::Requests, 2.0),
            (D::User, "", M::Requests, 7.0),
            (D::User, "", M::Cost, 0.5),
            (D::EndUser, "", M::Requests, 7.0),
            (D::EndUser, "", M::Cost, 0.5),
            (D::Provider, "", M::Requests, 7.0),
            (D::Provider, "", M::Cost, 0.5),
            // No `instance` label and no fleet to name the target.
            (D::Instance, "", M::Requests, 7.0),
            (D::Instance, "", M::Cost, 0.5),
        ]
    );
}

#[test]
fn forgotten_series_are_new_again() {
    let mut t = tracker();
    t.observe(&body(&[(REQ, GPT, 5.0), (REQ, CLAUDE, 2.0)]), 1000);
    t.observe(&body(&[(REQ, GPT, 6.0)]), 2000);
    t.forget_older_than(1500);
    assert_eq!(t.series_len(), 1);
    let o = t.observe(&body(&[(REQ, GPT, 6.0), (REQ, CLAUDE, 3.0)]), 3000);
    assert_eq!(o.new_series, 1);
    assert_eq!(o.deltas.get(Metric::Requests), 3.0);
    // Forgetting a series seen last time does not make it count as vanished twice.
    t.forget_older_than(3001);
    assert_eq!(t.series_len(), 0);
    let o = t.observe(&body(&[]), 4000);
    assert_eq!(o.vanished_series, 0);
}
