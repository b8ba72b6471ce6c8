//! The fleet's rules: identity per target, joining members (rule 7),
//! vanishing and returning targets, restarts, `pid` gauges, and sums.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::catalog::{Dimension, Metric};
use crate::track::tests::{CLAUDE, GPT, REQ, REQ_CREATED, SPEND, body};

const MIN: i64 = 60_000;
const T0: i64 = 1_800_000_000_000;

fn fleet() -> Fleet {
    Fleet::new(Catalog::litellm())
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// The `instance` breakdown of `metric`, by key.
fn per_instance(o: &Observation, metric: Metric) -> BTreeMap<String, f64> {
    o.breakdown
        .iter()
        .filter(|d| d.dimension == Dimension::Instance && d.metric == metric)
        .map(|d| (d.key.clone(), d.delta))
        .collect()
}

fn instances(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[test]
fn targets_with_the_same_labels_are_counted_apart_and_added() {
    let mut f = fleet();
    let round = |f: &mut Fleet, at: i64, a: f64, b: f64| {
        let parts = vec![
            f.observe("10.0.0.1:4000", &body(&[(REQ, GPT, a)]), at, None),
            f.observe("10.0.0.2:4000", &body(&[(REQ, GPT, b)]), at + 5, None),
        ];
        f.finish_round(at, parts).unwrap()
    };
    let o = round(&mut f, T0, 10.0, 20.0);
    assert!(o.baseline);
    assert_eq!(o.live.get(Metric::Requests), 30.0);
    let o = round(&mut f, T0 + MIN, 13.0, 21.0);
    assert!(!o.baseline);
    assert_eq!(o.at_ms, T0 + MIN);
    assert_eq!(o.deltas.get(Metric::Requests), 4.0);
    assert_eq!(o.live.get(Metric::Requests), 34.0);
    assert_eq!(
        per_instance(&o, Metric::Requests),
        instances(&[("10.0.0.1:4000", 3.0), ("10.0.0.2:4000", 1.0)])
    );
    // The same model on both targets is one key of the model dimension.
    let gpt: f64 = o
        .breakdown
        .iter()
        .filter(|d| d.dimension == Dimension::Model && d.key == "gpt")
        .map(|d| d.delta)
        .sum();
    assert_eq!(gpt, 4.0);
    assert_eq!(
        f.targets().collect::<Vec<_>>(),
        ["10.0.0.1:4000", "10.0.0.2:4000"]
    );
}

#[test]
fn a_series_carrying_an_instance_label_keeps_it() {
    // Series read from Prometheus carry `instance`; one tracker sees them all.
    const A: &[(&str, &str)] = &[("instance", "pod-a:4000"), ("requested_model", "gpt")];
    const B: &[(&str, &str)] = &[("instance", "pod-b:4000"), ("requested_model", "gpt")];
    let mut f = fleet();
    f.observe(
        "prometheus",
        &body(&[(REQ, A, 1.0), (REQ, B, 1.0)]),
        T0,
        None,
    );
    let o = f.observe(
        "prometheus",
        &body(&[(REQ, A, 3.0), (REQ, B, 6.0)]),
        T0 + MIN,
        None,
    );
    assert_eq!(
        per_instance(&o, Metric::Requests),
        instances(&[("pod-a:4000", 2.0), ("pod-b:4000", 5.0)])
    );
}

#[test]
fn a_restart_under_the_same_name_is_a_reset_not_a_new_member() {
    let mut f = fleet();
    let a = "10.0.0.1:4000";
    let created = secs(T0 - 3_600_000);
    f.observe(
        a,
        &body(&[(REQ, GPT, 50.0), (REQ_CREATED, GPT, created)]),
        T0,
        None,
    );
    f.finish_round(T0, vec![]);
    // Restarted: a new `_created`, and the value grew back above the old one.
    let restarted = secs(T0 + 30_000);
    let o = f.observe(
        a,
        &body(&[(REQ, GPT, 60.0), (REQ_CREATED, GPT, restarted)]),
        T0 + MIN,
        None,
    );
    assert_eq!((o.resets, o.new_series), (1, 0));
    assert_eq!(o.deltas.get(Metric::Requests), 60.0);
    // Without `_created`, a fall.
    let o = f.observe(a, &body(&[(REQ, CLAUDE, 4.0)]), T0 + 2 * MIN, None);
    assert_eq!(o.deltas.get(Metric::Requests), 4.0);
    let o = f.observe(a, &body(&[(REQ, CLAUDE, 1.0)]), T0 + 3 * MIN, None);
    assert_eq!((o.resets, o.deltas.get(Metric::Requests)), (1, 1.0));
}

#[test]
fn a_member_joining_later_counts_only_series_created_since_the_previous_round() {
    let mut f = fleet();
    let parts = vec![f.observe("a:4000", &body(&[(REQ, GPT, 5.0)]), T0, None)];
    f.finish_round(T0, parts);
    // Rows: (what the new pod exposes, what its first scrape counts).
    let old = secs(T0 - 86_400_000);
    let new = secs(T0 + 20_000);
    /// (what, the new pod's lines, counted, (new, adopted))
    type Case = (
        &'static str,
        Vec<crate::track::tests::Line<'static>>,
        f64,
        (u32, u32),
    );
    let cases: [Case; 4] = [
        (
            "created after the previous round: whole",
            vec![(REQ, GPT, 7.0), (REQ_CREATED, GPT, new)],
            7.0,
            (1, 0),
        ),
        (
            "created long before: adopted",
            vec![(REQ, GPT, 900.0), (REQ_CREATED, GPT, old)],
            0.0,
            (0, 1),
        ),
        (
            "within the 1 s tolerance of the round: whole",
            vec![(REQ, GPT, 2.0), (REQ_CREATED, GPT, secs(T0 - 500))],
            2.0,
            (1, 0),
        ),
        (
            "no _created (multiprocess mode): a baseline",
            vec![(REQ, GPT, 900.0), (SPEND, GPT, 12.5)],
            0.0,
            (2, 0),
        ),
    ];
    for (i, (what, lines, counted, (new_series, adopted))) in cases.into_iter().enumerate() {
        let mut g = Fleet::from_states(Catalog::litellm(), f.export_states());
        assert_eq!(g.last_round_ms(), Some(T0), "{what}");
        let name = format!("b{i}:4000");
        let o = g.observe(&name, &body(&lines), T0 + MIN, None);
        assert!(!o.baseline, "{what}");
        assert_eq!(o.deltas.get(Metric::Requests), counted, "{what}");
        assert_eq!(o.deltas.get(Metric::Cost), 0.0, "{what}");
        assert_eq!(
            (o.new_series, o.adopted_series),
            (new_series, adopted),
            "{what}"
        );
        // From then on the member is an ordinary tracker.
        let mut more = lines.clone();
        more[0].2 += 1.0;
        let o = g.observe(&name, &body(&more), T0 + 2 * MIN, None);
        assert_eq!(o.deltas.get(Metric::Requests), 1.0, "{what}");
    }
}

#[test]
fn a_target_missing_from_rounds_keeps_its_baseline_until_forgotten() {
    let mut f = fleet();
    let r = |f: &mut Fleet, at: i64, bodies: &[(&str, f64)]| {
        let parts = bodies
            .iter()
            .map(|(name, v)| f.observe(name, &body(&[(REQ, GPT, *v)]), at, None))
            .collect();
        f.finish_round(at, parts).unwrap()
    };
    r(&mut f, T0, &[("a:1", 1.0), ("b:1", 1.0)]);
    // b vanishes for two rounds, then comes back having counted 4 more.
    assert_eq!(
        r(&mut f, T0 + MIN, &[("a:1", 2.0)])
            .deltas
            .get(Metric::Requests),
        1.0
    );
    assert_eq!(
        r(&mut f, T0 + 2 * MIN, &[("a:1", 2.0)])
            .deltas
            .get(Metric::Requests),
        0.0
    );
    let o = r(&mut f, T0 + 3 * MIN, &[("a:1", 2.0), ("b:1", 5.0)]);
    assert_eq!(
        per_instance(&o, Metric::Requests),
        instances(&[("b:1", 4.0)])
    );
    // Forgotten after the cutoff, b joins again: no `_created`, a baseline.
    r(&mut f, T0 + 4 * MIN, &[("a:1", 3.0)]);
    // The names come back so the host drops their saved states too.
    assert_eq!(f.forget_older_than(T0 + 4 * MIN), ["b:1"]);
    assert_eq!(f.targets().collect::<Vec<_>>(), ["a:1"]);
    assert!(f.export_state("b:1").is_none());
    assert_eq!(f.forget_older_than(T0 + 4 * MIN), Vec::<String>::new());
    let o = r(&mut f, T0 + 5 * MIN, &[("a:1", 3.0), ("b:1", 9.0)]);
    assert_eq!(o.deltas.get(Metric::Requests), 0.0);
    assert_eq!(o.new_series, 1);
}

#[test]
fn an_empty_round_is_not_a_round() {
    let mut f = fleet();
    assert_eq!(f.finish_round(T0, vec![]), None);
    assert_eq!(f.last_round_ms(), None);
    // So a target first seen in the next round is still a baseline.
    let o = f.observe("a:1", &body(&[(REQ, GPT, 9.0)]), T0 + MIN, None);
    assert!(o.baseline);
}

#[test]
fn states_round_trip_per_target() {
    let mut f = fleet();
    f.observe("a:1", &body(&[(REQ, GPT, 1.0)]), T0, None);
    f.observe("b:1", &body(&[(REQ, CLAUDE, 2.0)]), T0 + 7, None);
    let states = f.export_states();
    let g = Fleet::from_states(Catalog::litellm(), states.clone());
    assert_eq!(g.export_states(), states);
    assert_eq!(g.last_round_ms(), Some(T0 + 7));
    assert_eq!(g.member("b:1").map(Tracker::series_len), Some(1));
    assert_eq!(f.export_state("a:1"), Some(states[0].1.clone()));
}

/// LiteLLM in multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`): counters
/// summed over workers with no `_created`; the in-flight gauge per `pid`.
const MULTIPROCESS: &str = "\
# HELP litellm_in_flight_requests Number of requests in flight
# TYPE litellm_in_flight_requests gauge
litellm_in_flight_requests{pid=\"101\"} 2.0
litellm_in_flight_requests{pid=\"102\"} 3.0
litellm_in_flight_requests{pid=\"103\"} 0.0
# HELP litellm_proxy_total_requests_metric_total Total requests
# TYPE litellm_proxy_total_requests_metric_total counter
litellm_proxy_total_requests_metric_total{requested_model=\"gpt\"} 40.0
";

#[test]
fn pid_gauges_are_summed_and_never_tracked_as_series() {
    let later = MULTIPROCESS
        .replace("{pid=\"102\"} 3.0", "{pid=\"104\"} 1.0")
        .replace("} 40.0", "} 41.0");
    let mut t = Tracker::new(Catalog::litellm());
    let o = t.observe(&crate::parse::parse(MULTIPROCESS).unwrap(), T0);
    assert_eq!(o.live.get(Metric::InFlightRequests), 5.0);
    assert_eq!((o.new_series, t.series_len()), (1, 1));
    // A worker replaced (pid 102 gone, 104 new) is no series event.
    let o = t.observe(&crate::parse::parse(&later).unwrap(), T0 + MIN);
    assert_eq!(o.live.get(Metric::InFlightRequests), 3.0);
    assert_eq!(
        (o.resets, o.new_series, o.vanished_series, o.adopted_series),
        (0, 0, 0, 0)
    );
    assert_eq!(o.deltas.get(Metric::InFlightRequests), 0.0);
    assert_eq!(o.deltas.get(Metric::Requests), 1.0);
    assert!(o.breakdown.iter().all(|d| d.metric == Metric::Requests));
    assert!(
        t.export_state()
            .series
            .iter()
            .all(|s| s.sample != "litellm_in_flight_requests")
    );
    // Across a fleet the gauges of every target add up.
    let mut f = fleet();
    let parts = vec![
        f.observe("a:1", &crate::parse::parse(MULTIPROCESS).unwrap(), T0, None),
        f.observe("b:1", &crate::parse::parse(&later).unwrap(), T0, None),
    ];
    let o = f.finish_round(T0, parts).unwrap();
    assert_eq!(o.live.get(Metric::InFlightRequests), 8.0);
}

const MODELS: [&[(&str, &str)]; 2] = [GPT, CLAUDE];

proptest! {
    /// Random counters on up to four targets over several rounds, targets
    /// missing from some rounds: per dimension the merged breakdown sums to
    /// the merged deltas, the `instance` rows are each target's own deltas,
    /// and the total equals the sum of separate trackers'.
    #[test]
    fn per_dimension_sums_equal_the_totals(
        rounds in proptest::collection::vec(
            proptest::collection::vec((any::<bool>(), 0u32..50, 0u32..50), 4),
            1..6,
        ),
    ) {
        let names = ["a:1", "b:1", "c:1", "d:1"];
        let mut f = fleet();
        let mut alone: Vec<Tracker> = names.iter().map(|_| Tracker::new(Catalog::litellm())).collect();
        let mut values = [[0u32; 2]; 4];
        for (r, round) in rounds.iter().enumerate() {
            let at = T0 + r as i64 * MIN;
            let mut parts = Vec::new();
            let mut expected_total = 0.0;
            let mut expected_instance = BTreeMap::new();
            for (i, &(up, g, c)) in round.iter().enumerate() {
                values[i][0] += g;
                values[i][1] += c;
                if !up {
                    continue;
                }
                let lines: Vec<crate::track::tests::Line<'_>> = (0..2)
                    .map(|m| (REQ, MODELS[m], f64::from(values[i][m])))
                    .collect();
                let known = f.member(names[i]).is_some();
                let o = f.observe(names[i], &body(&lines), at, None);
                // A target's first sighting is a baseline whether or not it
                // joined late (no `_created`), as a lone tracker's first is.
                let lone = alone[i].observe(&body(&lines), at);
                let counted = if known { lone.deltas.get(Metric::Requests) } else { 0.0 };
                prop_assert_eq!(o.deltas.get(Metric::Requests), counted);
                expected_total += counted;
                if counted != 0.0 {
                    expected_instance.insert(names[i].to_owned(), counted);
                }
                parts.push(o);
            }
            let Some(o) = f.finish_round(at, parts) else { continue };
            prop_assert_eq!(o.deltas.get(Metric::Requests), expected_total);
            prop_assert_eq!(per_instance(&o, Metric::Requests), expected_instance);
            for d in Dimension::ALL {
                let sum: f64 = o.breakdown.iter()
                    .filter(|b| b.dimension == d && b.metric == Metric::Requests)
                    .map(|b| b.delta)
                    .sum();
                prop_assert_eq!(sum, o.deltas.get(Metric::Requests), "{}", d);
            }
        }
    }
}
