//! The tracker over the real LiteLLM captures, plus properties of its delta
//! arithmetic.
//!
//! Expected numbers come from the traffic logs (`traffic-*.jsonl`). Each
//! non-streamed success used 10 prompt + 20 completion tokens (its `info`).
//! Streams log only their chunk count; their usage, the same in every batch,
//! is gpt-4o-mini 9 + 12, claude-haiku 9 + 22 and local-llama 9 + 4 tokens.
//! Prices: gpt-4o-mini $0.15/M in, $0.60/M out (1.35e-5 per plain request,
//! 8.55e-6 per stream); local-llama $0.10/M in, $0.20/M out (5e-6 plain,
//! 1.7e-6 stream); claude-haiku has no price in LiteLLM's map (cost 0).
//! LiteLLM counts a response-cache miss for every streamed success only.
//! Capture times are those of `MANIFEST.tsv`.

use std::collections::BTreeMap;

use proptest::prelude::*;
use pulse_core::Exposition;
use pulse_core::catalog::{Catalog, Dimension, Histogram, Metric, MetricValues};
use pulse_core::num::clean;
use pulse_core::parse::parse;
use pulse_core::track::{Observation, Tracker, TrackerState};
use pulse_testkit::plain::{plain_label, plain_quantile};
use pulse_tests::capture;

/// 00-before-traffic, 2026-11-27T10:07:38Z.
const T00: i64 = 1_795_774_058_000;
/// 01-after-batch1, 10:08:19.671Z.
const T01: i64 = 1_795_774_099_671;
/// 02-after-batch2, 10:09:51.292Z.
const T02: i64 = 1_795_774_191_292;
/// 02b-after-batch2-streams-drained, 10:10:46.219Z.
const T02B: i64 = 1_795_774_246_219;
/// 03-after-restart-before-traffic, 10:11:04.527Z.
const T03: i64 = 1_795_774_264_527;
/// 04-after-restart-batch3, 10:11:08.890Z.
const T04: i64 = 1_795_774_268_890;
/// 06-teams-after-traffic, 10:11:59.414Z.
const T06: i64 = 1_795_774_319_414;
/// 08-multiworker-after-traffic, 10:13:13.226Z.
const T08: i64 = 1_795_774_393_226;

fn tracker() -> Tracker {
    Tracker::new(Catalog::litellm())
}

fn observe_text(t: &mut Tracker, body: &str, at_ms: i64) -> Observation {
    let expo = parse(body).expect("body parses");
    assert!(expo.errors.is_empty(), "{:?}", expo.errors.first());
    t.observe(&expo, at_ms)
}

fn observe(t: &mut Tracker, name: &str, at_ms: i64) -> Observation {
    observe_text(t, &capture(name), at_ms)
}

fn observe_empty(t: &mut Tracker, at_ms: i64) -> Observation {
    t.observe(&Exposition::default(), at_ms)
}

/// Deltas of `metric` per key of `dim`, cleaned of float noise.
fn by(o: &Observation, dim: Dimension, metric: Metric) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for b in &o.breakdown {
        if b.dimension == dim && b.metric == metric {
            out.insert(b.key.clone(), clean(b.delta));
        }
    }
    out
}

fn map(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// Deltas of every metric, cleaned, without the zeros.
fn nonzero(v: &MetricValues) -> Vec<(Metric, f64)> {
    v.iter()
        .filter(|(_, x)| *x != 0.0)
        .map(|(m, x)| (m, clean(x)))
        .collect()
}

/// Every delta is non-negative and, per dimension, the breakdown adds up to
/// the totals (exactly for integer metrics; after `clean` for cost).
fn assert_consistent(o: &Observation) {
    for (m, d) in o.deltas.iter() {
        assert!(d >= 0.0, "{m} delta {d}");
        for dim in Dimension::ALL {
            let parts: Vec<f64> = o
                .breakdown
                .iter()
                .filter(|b| b.dimension == dim && b.metric == m)
                .map(|b| b.delta)
                .collect();
            assert!(parts.iter().all(|p| *p > 0.0), "{dim}/{m}: {parts:?}");
            let sum: f64 = parts.iter().sum();
            if m == Metric::Cost {
                assert_eq!(clean(sum), clean(d), "{dim}/{m}");
            } else {
                assert_eq!(sum, d, "{dim}/{m}");
            }
        }
    }
}

#[test]
fn batch1_after_an_idle_proxy() {
    let mut t = tracker();
    let o = observe(&mut t, "00-before-traffic.prom", T00);
    assert!(o.baseline);
    assert_eq!(o.deltas, MetricValues::default());
    // The 3 rejected /metrics calls before the capture.
    assert_eq!(o.live.get(Metric::Requests), 3.0);
    assert_eq!(o.live.get(Metric::InFlightRequests), 1.0);
    assert_eq!(o.new_series, 6);

    let o = observe(&mut t, "01-after-batch1.prom", T01);
    assert_consistent(&o);
    assert!(!o.baseline);
    assert_eq!((o.resets, o.adopted_series, o.vanished_series), (0, 0, 0));
    // b1: 34 requests, 10 failed (3 × 500, 2 × 429, 2 bad key, 2 unknown model, 1 unknown key).
    // 24 successes: gpt 9 plain + 4 streams + 1, claude 4 + 2 streams, llama 4.
    // Tokens: gpt 10·30 + 4·21 = 384, claude 4·30 + 2·31 = 182, llama 4·30 = 120.
    // Cost: gpt 10·1.35e-5 + 4·8.55e-6 = 1.692e-4, llama 4·5e-6 = 2e-5.
    assert_eq!(
        nonzero(&o.deltas),
        [
            (Metric::Requests, 34.0),
            (Metric::FailedRequests, 10.0),
            (Metric::Tokens, 686.0),
            (Metric::InputTokens, 234.0),
            (Metric::OutputTokens, 452.0),
            (Metric::Cost, 0.0001892),
            (Metric::CacheMisses, 6.0),
            (Metric::DeploymentRequests, 34.0),
            (Metric::DeploymentSuccess, 24.0),
            (Metric::DeploymentFailures, 10.0),
        ]
    );
    assert_eq!(o.live.get(Metric::Requests), 37.0);
    assert_eq!(
        by(&o, Dimension::Model, Metric::Requests),
        map(&[
            ("claude-haiku", 6.0),
            ("flaky-model", 3.0),
            ("gpt-4o-mini", 17.0),
            ("limited-model", 2.0),
            ("local-llama", 4.0),
            ("other", 2.0),
        ])
    );
    assert_eq!(
        by(&o, Dimension::Model, Metric::Tokens),
        map(&[
            ("claude-haiku", 182.0),
            ("gpt-4o-mini", 384.0),
            ("local-llama", 120.0)
        ])
    );
    assert_eq!(
        by(&o, Dimension::Model, Metric::InputTokens),
        map(&[
            ("claude-haiku", 58.0),
            ("gpt-4o-mini", 136.0),
            ("local-llama", 40.0)
        ])
    );
    assert_eq!(
        by(&o, Dimension::Model, Metric::Cost),
        map(&[("gpt-4o-mini", 0.0001692), ("local-llama", 0.00002)])
    );
    assert_eq!(
        by(&o, Dimension::Provider, Metric::Requests),
        map(&[
            ("", 2.0),
            ("anthropic", 6.0),
            ("hosted_vllm", 4.0),
            ("openai", 22.0)
        ])
    );
}

#[test]
fn batch2_and_the_late_streams() {
    let mut t = tracker();
    observe(&mut t, "01-after-batch1.prom", T01);
    let o = observe(&mut t, "02-after-batch2.prom", T02);
    assert_consistent(&o);
    // 3 rejected mock-param calls + 1 manual call + 23 finished b2 requests.
    assert_eq!(o.deltas.get(Metric::Requests), 27.0);
    assert_eq!(o.deltas.get(Metric::FailedRequests), 11.0);
    assert_eq!(o.live.get(Metric::InFlightRequests), 4.0);
    assert_eq!(o.deltas.get(Metric::InFlightRequests), 0.0);
    let o = observe(&mut t, "02b-after-batch2-streams-drained.prom", T02B);
    assert_consistent(&o);
    // The 3 llama streams finished server-side: 3 · (9 + 4) tokens, 3 · 1.7e-6.
    assert_eq!(
        nonzero(&o.deltas),
        [
            (Metric::Requests, 3.0),
            (Metric::Tokens, 39.0),
            (Metric::InputTokens, 27.0),
            (Metric::OutputTokens, 12.0),
            (Metric::Cost, 0.0000051),
            (Metric::CacheMisses, 3.0),
            (Metric::DeploymentRequests, 3.0),
            (Metric::DeploymentSuccess, 3.0),
        ]
    );
    assert_eq!(o.live.get(Metric::Requests), 67.0);
    assert_eq!(o.live.get(Metric::InFlightRequests), 1.0);
}

#[test]
fn batch2_in_one_step() {
    let mut t = tracker();
    observe(&mut t, "01-after-batch1.prom", T01);
    let o = observe(&mut t, "02b-after-batch2-streams-drained.prom", T02B);
    assert_consistent(&o);
    assert_eq!(o.live.get(Metric::Requests), 67.0);
    assert_eq!(o.deltas.get(Metric::Requests), 30.0);
    // gpt: 6 plain + 4 streams + 1 bad key + 4 rejected (mock params, manual);
    // claude 3 + 3 streams; llama 3 streams; flaky 4; limited 1; unknown model 1.
    assert_eq!(
        by(&o, Dimension::Model, Metric::Requests),
        map(&[
            ("claude-haiku", 6.0),
            ("flaky-model", 4.0),
            ("gpt-4o-mini", 15.0),
            ("limited-model", 1.0),
            ("local-llama", 3.0),
            ("other", 1.0),
        ])
    );
    // gpt 6·30 + 4·21, claude 3·30 + 3·31, llama 3·13.
    assert_eq!(
        by(&o, Dimension::Model, Metric::Tokens),
        map(&[
            ("claude-haiku", 183.0),
            ("gpt-4o-mini", 264.0),
            ("local-llama", 39.0)
        ])
    );
    assert_eq!(
        by(&o, Dimension::Model, Metric::InputTokens),
        map(&[
            ("claude-haiku", 57.0),
            ("gpt-4o-mini", 96.0),
            ("local-llama", 27.0)
        ])
    );
    assert_eq!(
        by(&o, Dimension::Model, Metric::OutputTokens),
        map(&[
            ("claude-haiku", 126.0),
            ("gpt-4o-mini", 168.0),
            ("local-llama", 12.0)
        ])
    );
    // gpt 6·1.35e-5 + 4·8.55e-6, llama 3·1.7e-6.
    assert_eq!(
        by(&o, Dimension::Model, Metric::Cost),
        map(&[("gpt-4o-mini", 0.0001152), ("local-llama", 0.0000051)])
    );
    assert_eq!(clean(o.deltas.get(Metric::Cost)), 0.0001203);
}

/// b3 after the restart: 3 gpt (alice) + 1 bad key, 2 claude streams, 1 llama, 1 flaky.
fn assert_batch3(o: &Observation) {
    assert_consistent(o);
    assert_eq!(
        nonzero(&o.deltas),
        [
            (Metric::Requests, 8.0),
            (Metric::FailedRequests, 2.0),
            (Metric::Tokens, 182.0),
            (Metric::InputTokens, 58.0),
            (Metric::OutputTokens, 124.0),
            (Metric::Cost, 0.0000455),
            (Metric::CacheMisses, 2.0),
            (Metric::DeploymentRequests, 8.0),
            (Metric::DeploymentSuccess, 6.0),
            (Metric::DeploymentFailures, 2.0),
        ]
    );
    assert_eq!(
        by(o, Dimension::Model, Metric::Requests),
        map(&[
            ("claude-haiku", 2.0),
            ("flaky-model", 1.0),
            ("gpt-4o-mini", 4.0),
            ("local-llama", 1.0),
        ])
    );
    assert_eq!(
        by(o, Dimension::Model, Metric::Tokens),
        map(&[
            ("claude-haiku", 62.0),
            ("gpt-4o-mini", 90.0),
            ("local-llama", 30.0)
        ])
    );
    assert_eq!(
        by(o, Dimension::Model, Metric::Cost),
        map(&[("gpt-4o-mini", 0.0000405), ("local-llama", 0.000005)])
    );
    // The request's `user` field ("alice") is not a label with this config:
    // the master key's requests carry `user="default_user_id"`, the bad key's "None".
    assert_eq!(
        by(o, Dimension::User, Metric::Requests),
        map(&[("", 1.0), ("default_user_id", 7.0)])
    );
}

#[test]
fn restart_counts_batch3_exactly_once() {
    let mut t = tracker();
    observe(&mut t, "02b-after-batch2-streams-drained.prom", T02B);
    let tracked = t.series_len() as u32;
    let o = observe(&mut t, "03-after-restart-before-traffic.prom", T03);
    assert_eq!(o.deltas, MetricValues::default());
    assert_eq!(o.vanished_series, tracked);
    assert_eq!(o.live.get(Metric::Requests), 0.0);
    let o = observe(&mut t, "04-after-restart-batch3.prom", T04);
    assert_batch3(&o);
    assert_eq!(o.adopted_series, 0);
    assert_eq!(o.live.get(Metric::Requests), 8.0);
    // Nothing more when nothing happened.
    let o = observe(&mut t, "04-after-restart-batch3.prom", T04 + 60_000);
    assert_eq!(o.deltas, MetricValues::default());
    assert!(o.breakdown.is_empty());
}

#[test]
fn restart_between_two_scrapes_is_seen_through_created() {
    let mut t = tracker();
    observe(&mut t, "02b-after-batch2-streams-drained.prom", T02B);
    let o = observe(&mut t, "04-after-restart-batch3.prom", T04);
    assert_batch3(&o);
    assert_eq!(o.live.get(Metric::Requests), 8.0);
    // Every series of 04 is a new identity (new `_created`); those whose name
    // and labels existed before the restart are resets although most of
    // their values did not fall. The 02b series all vanished.
    // Every one of the 30 series of 04 had its name and labels in 02b.
    assert_eq!((o.resets, o.new_series, o.adopted_series), (30, 0, 0));
    assert_eq!(
        o.vanished_series as usize + (o.resets + o.new_series) as usize,
        t.series_len()
    );
}

const R02B: &str = "02b-after-batch2-streams-drained.prom";
const R03: &str = "03-after-restart-before-traffic.prom";
const R04: &str = "04-after-restart-batch3.prom";

/// The target's clock from the `date` header of a capture's `.headers` file,
/// e.g. `Fri, 27 Nov 2026 10:11:03 GMT` (RFC 7231 IMF-fixdate).
fn date_header_ms(capture_name: &str) -> i64 {
    pulse_testkit::capture_date_ms(capture_name)
}

/// Observes a capture at `at_ms` with the target clock of its `date` header.
fn observe_dated(t: &mut Tracker, name: &str, at_ms: i64) -> Observation {
    let body = capture(name);
    let expo = parse(&body).expect("body parses");
    assert!(expo.errors.is_empty(), "{:?}", expo.errors.first());
    t.observe_with_target_clock(&expo, at_ms, Some(date_header_ms(name)))
}

#[test]
fn date_headers_of_the_captures() {
    // 10:11:03 and 10:11:08 UTC, a second or so before pulse's capture times.
    assert_eq!(date_header_ms(R03), 1_795_774_263_000);
    assert_eq!(date_header_ms(R04), 1_795_774_268_000);
    assert_eq!(date_header_ms(R02B), T02B - 1_219);
}

/// Pulse's clock 2 hours ahead of LiteLLM's (as if the captures were replayed
/// later): with the `Date` headers, `_created` is judged on LiteLLM's clock
/// and batch 3 counts exactly as with the true capture times.
#[test]
fn restart_counts_batch3_exactly_with_a_skewed_clock_and_date_headers() {
    const SKEW: i64 = 2 * 3_600_000;
    let mut plain = tracker();
    let expected: Vec<Observation> = [(R02B, T02B), (R03, T03), (R04, T04)]
        .iter()
        .map(|(name, at)| observe(&mut plain, name, *at))
        .collect();
    let mut t = tracker();
    for (i, (name, at)) in [(R02B, T02B), (R03, T03), (R04, T04)].iter().enumerate() {
        let o = observe_dated(&mut t, name, at + SKEW);
        assert_eq!(o.at_ms, at + SKEW);
        assert_eq!(Observation { at_ms: *at, ..o }, expected[i], "{name}");
    }
    assert_eq!(t.last_target_ms(), Some(date_header_ms(R04)));
    let o = expected.last().expect("three observations");
    assert_batch3(o);
    // New `_created` beside the remembered 02b series: restarts.
    assert_eq!((o.resets, o.new_series, o.adopted_series), (30, 0, 0));
    assert_eq!(o.live.get(Metric::Requests), 8.0);

    // Without the headers the skew makes every series of 04 look older than
    // the previous scrape: all adopted, batch 3 lost.
    let mut t = tracker();
    for (name, at) in [(R02B, T02B), (R03, T03)] {
        observe(&mut t, name, at + SKEW);
    }
    let o = observe(&mut t, R04, T04 + SKEW);
    assert_eq!(o.deltas, MetricValues::default());
    assert_eq!((o.resets, o.new_series, o.adopted_series), (0, 0, 30));
}

/// A state saved before `last_target_ms` existed still loads.
#[test]
fn state_without_a_target_clock_still_deserializes() {
    let mut t = tracker();
    observe_dated(&mut t, R02B, T02B);
    let mut json = serde_json::to_value(t.export_state()).unwrap();
    assert_eq!(
        json["last_target_ms"],
        serde_json::json!(date_header_ms(R02B))
    );
    json.as_object_mut().unwrap().remove("last_target_ms");
    let state: TrackerState = serde_json::from_value(json).unwrap();
    assert_eq!(state.last_target_ms, None);
    assert_eq!(
        TrackerState {
            last_target_ms: Some(date_header_ms(R02B)),
            ..state.clone()
        },
        t.export_state()
    );
    // Without the previous target clock, pulse's clock decides (here: right).
    let mut resumed = Tracker::from_state(Catalog::litellm(), state);
    observe(&mut resumed, R03, T03);
    assert_batch3(&observe(&mut resumed, R04, T04));
}

/// The same body under both formats gives the same observations.
#[test]
fn text_and_openmetrics_twins_agree() {
    for (text, om, at) in [
        (
            "01-after-batch1.prom",
            "01-after-batch1.openmetrics.txt",
            T01,
        ),
        (
            "06-teams-after-traffic.prom",
            "06-teams-after-traffic.openmetrics.txt",
            T06,
        ),
    ] {
        let mut a = tracker();
        let mut b = tracker();
        assert_eq!(observe(&mut a, text, at), observe(&mut b, om, at));
        assert_eq!(a.export_state(), b.export_state());
        let mut a = tracker();
        let mut b = tracker();
        observe_empty(&mut a, at - 600_000);
        observe_empty(&mut b, at - 600_000);
        let oa = observe(&mut a, text, at);
        assert_eq!(oa, observe(&mut b, om, at));
        assert!(oa.deltas.get(Metric::Requests) > 0.0);
    }
}

#[test]
fn per_dimension_sums_equal_totals_on_every_capture() {
    for (name, at) in [
        ("00-before-traffic.prom", T00),
        ("01-after-batch1.prom", T01),
        ("01-after-batch1.openmetrics.txt", T01),
        ("02-after-batch2.prom", T02),
        ("02b-after-batch2-streams-drained.prom", T02B),
        ("03-after-restart-before-traffic.prom", T03),
        ("04-after-restart-batch3.prom", T04),
        ("06-teams-after-traffic.prom", T06),
        ("06-teams-after-traffic.openmetrics.txt", T06),
        ("08-multiworker-after-traffic.prom", T08),
    ] {
        let mut t = tracker();
        // Before the proxy started: every series is new and counts whole.
        observe_empty(&mut t, at - 3_600_000);
        let o = observe(&mut t, name, at);
        assert_consistent(&o);
        for m in Metric::ALL {
            let expected = if m.is_gauge() { 0.0 } else { o.live.get(m) };
            assert_eq!(o.deltas.get(m), expected, "{name} {m}");
        }
        assert_eq!(o.adopted_series, 0);
        assert_eq!(o.new_series as usize, t.series_len(), "{name}");
    }
}

#[test]
fn teams_capture_splits_by_key_team_and_end_user() {
    let mut t = tracker();
    observe_empty(&mut t, T06 - 600_000);
    let o = observe(&mut t, "06-teams-after-traffic.prom", T06);
    assert_consistent(&o);
    // 20 logged requests + 3 slow-model requests.
    assert_eq!(o.deltas.get(Metric::Requests), 23.0);
    assert_eq!(
        by(&o, Dimension::Team, Metric::Requests),
        map(&[
            ("", 3.0),
            ("Alpha Team", 13.0),
            ("Beta \\\"quoted\\\" Team", 7.0)
        ])
    );
    assert_eq!(
        by(&o, Dimension::Key, Metric::Requests),
        map(&[
            (
                "496fcc16a38653805ebdb442ea7e5edffb414bbf1659db6b50372f61a593904b",
                1.0
            ),
            ("alpha-key-1", 7.0),
            ("alpha-key-2", 6.0),
            ("beta-key-1", 7.0),
            ("litellm_proxy_master_key", 2.0),
        ])
    );
    assert_eq!(
        by(&o, Dimension::EndUser, Metric::Requests),
        map(&[
            ("", 13.0),
            ("end-user-1", 4.0),
            ("end-user-2", 3.0),
            ("weird \"user\" \\ back\\slash\nnewline ünïcödé", 3.0),
        ])
    );
    assert_eq!(
        by(&o, Dimension::Model, Metric::Requests),
        map(&[
            ("claude-haiku", 6.0),
            ("flaky-model", 2.0),
            ("gpt-4o-mini", 9.0),
            ("limited-model", 1.0),
            ("local-llama", 2.0),
            ("slow-model", 3.0),
        ])
    );
    assert_eq!(
        by(&o, Dimension::Team, Metric::Cost),
        map(&[
            ("", 0.000027),
            ("Alpha Team", 0.0001116),
            ("Beta \\\"quoted\\\" Team", 0.00001)
        ])
    );
}

/// Applies `f(sample name, value)` to every sample line of a text body.
fn map_values(body: &str, f: impl Fn(&str, f64) -> f64) -> String {
    let mut out = String::with_capacity(body.len());
    for line in body.lines() {
        if line.starts_with('#') {
            out.push_str(line);
        } else {
            let (head, value) = line.rsplit_once(' ').expect("sample line");
            let name = head.split(['{', ' ']).next().unwrap_or("");
            let v: f64 = value.parse().expect("plain value");
            out.push_str(head);
            out.push(' ');
            out.push_str(&format!("{:?}", f(name, v)));
        }
        out.push('\n');
    }
    out
}

/// Two workers without a shared multiprocess dir answer /metrics in turn
/// (reference fault 7 invented 300 requests and $15 here).
#[test]
fn worker_bounce_replays_to_zero_and_counts_traffic_once() {
    let a = capture("01-after-batch1.prom");
    // Worker B: started 30 s earlier, other counts.
    let b = map_values(&a, |name, v| {
        if name.ends_with("_created") {
            v - 30.0
        } else if name.ends_with("_total") {
            v * 2.0 + 1.0
        } else {
            v
        }
    });
    let mut t = tracker();
    let o = observe_text(&mut t, &a, T01);
    assert!(o.baseline);
    let tracked = t.series_len() as u32;
    let mut at = T01;
    for (i, body) in [&b, &a, &b, &a].into_iter().enumerate() {
        at += 60_000;
        let o = observe_text(&mut t, body, at);
        assert_eq!(o.deltas, MetricValues::default(), "scrape {i}");
        assert!(o.breakdown.is_empty());
        assert_eq!(o.adopted_series, if i == 0 { tracked } else { 0 });
        assert_eq!(o.vanished_series, tracked);
    }
    // Traffic on B: 2 claude streams (2 requests, 62 tokens, no cost).
    let claude = |name: &str, line_has_claude: bool, v: f64| match name {
        "litellm_proxy_total_requests_metric_total" if line_has_claude => v + 2.0,
        "litellm_total_tokens_metric_total" if line_has_claude => v + 62.0,
        _ => v,
    };
    let b_traffic: String = b
        .lines()
        .map(|line| {
            let has = line.contains("requested_model=\"claude-haiku\"");
            map_values(line, |n, v| claude(n, has, v))
        })
        .collect();
    at += 60_000;
    let o = observe_text(&mut t, &b_traffic, at);
    assert_consistent(&o);
    assert_eq!(
        nonzero(&o.deltas),
        [(Metric::Requests, 2.0), (Metric::Tokens, 62.0)]
    );
    assert_eq!(
        by(&o, Dimension::Model, Metric::Tokens),
        map(&[("claude-haiku", 62.0)])
    );
    // Back to A, then B again without new traffic: nothing.
    for body in [&a, &b_traffic, &a] {
        at += 60_000;
        assert_eq!(
            observe_text(&mut t, body, at).deltas,
            MetricValues::default()
        );
    }
}

#[test]
fn multiprocess_capture_alone() {
    let mut t = tracker();
    let o = observe(&mut t, "08-multiworker-after-traffic.prom", T08);
    assert!(o.baseline);
    assert_eq!(o.deltas, MetricValues::default());
    assert_eq!(o.live.get(Metric::Requests), 20.0);
    assert_eq!(o.live.get(Metric::InFlightRequests), 1.0);
    // Same body again: no `_created` anywhere, and nothing moved.
    let o = observe(&mut t, "08-multiworker-after-traffic.prom", T08 + 60_000);
    assert_eq!(o.deltas, MetricValues::default());
    assert_eq!((o.new_series, o.vanished_series, o.resets), (0, 0, 0));
}

/// 07 (an idle 2-worker proxy: no counters yet) then 08, then more traffic and a restart.
#[test]
fn multiprocess_sequence() {
    const IDLE: &str = "# HELP litellm_in_flight_requests in flight\n# TYPE litellm_in_flight_requests gauge\nlitellm_in_flight_requests 1.0\n# HELP litellm_total_users users\n# TYPE litellm_total_users gauge\nlitellm_total_users{pid=\"26783\"} 0.0\n";
    let mut t = tracker();
    let o = observe_text(&mut t, IDLE, T08 - 5_000);
    assert!(o.baseline);
    assert_eq!(o.live.get(Metric::InFlightRequests), 1.0);
    let body = capture("08-multiworker-after-traffic.prom");
    let o = observe_text(&mut t, &body, T08);
    assert_consistent(&o);
    // multi batch: gpt 10 plain, claude 6 streams, flaky 4 × 500.
    assert_eq!(
        nonzero(&o.deltas),
        [
            (Metric::Requests, 20.0),
            (Metric::FailedRequests, 4.0),
            (Metric::Tokens, 486.0),
            (Metric::InputTokens, 154.0),
            (Metric::OutputTokens, 332.0),
            (Metric::Cost, 0.000135),
            (Metric::CacheMisses, 6.0),
            (Metric::DeploymentRequests, 20.0),
            (Metric::DeploymentSuccess, 16.0),
            (Metric::DeploymentFailures, 4.0),
        ]
    );
    assert_eq!(
        by(&o, Dimension::Model, Metric::Tokens),
        map(&[("claude-haiku", 186.0), ("gpt-4o-mini", 300.0)])
    );
    assert_eq!(o.new_series as usize, t.series_len());
    // One more request on every series.
    let plus_one = map_values(
        &body,
        |name, v| if name.ends_with("_total") { v + 1.0 } else { v },
    );
    let o = observe_text(&mut t, &plus_one, T08 + 60_000);
    assert_consistent(&o);
    let series_of = |metric: Metric| {
        let names = Catalog::litellm().sample_names(metric).to_vec();
        parse(&body)
            .unwrap()
            .samples
            .iter()
            .filter(|s| names.iter().any(|n| n == s.name))
            .count() as f64
    };
    assert_eq!(o.deltas.get(Metric::Requests), series_of(Metric::Requests));
    assert_eq!(o.deltas.get(Metric::Tokens), series_of(Metric::Tokens));
    // A restart of the whole proxy: every counter starts again at 0.5, below
    // the stored values, so each series is a reset contributing 0.5.
    let restarted = map_values(
        &body,
        |name, v| if name.ends_with("_total") { 0.5 } else { v },
    );
    let o = observe_text(&mut t, &restarted, T08 + 120_000);
    assert_consistent(&o);
    assert_eq!(o.resets as usize, t.series_len());
    assert_eq!(
        o.deltas.get(Metric::Requests),
        0.5 * series_of(Metric::Requests)
    );
    assert_eq!(o.deltas.get(Metric::Cost), 0.5 * series_of(Metric::Cost));
}

/// Resuming from exported state (through JSON) gives the same deltas as never stopping.
#[test]
fn state_round_trip_through_json_continues_exactly() {
    let seq = [
        ("00-before-traffic.prom", T00),
        ("01-after-batch1.prom", T01),
        ("02-after-batch2.prom", T02),
        ("02b-after-batch2-streams-drained.prom", T02B),
        ("03-after-restart-before-traffic.prom", T03),
        ("04-after-restart-batch3.prom", T04),
    ];
    let bodies: Vec<String> = seq.iter().map(|(n, _)| capture(n)).collect();
    let mut whole = tracker();
    let expected: Vec<Observation> = seq
        .iter()
        .zip(&bodies)
        .map(|((_, at), b)| observe_text(&mut whole, b, *at))
        .collect();
    for split in 1..seq.len() {
        let mut first = tracker();
        for ((_, at), b) in seq.iter().zip(&bodies).take(split) {
            observe_text(&mut first, b, *at);
        }
        // Through a JSON value: serde_json's text parser rounds some floats
        // off by one ulp unless its `float_roundtrip` feature is on.
        let json = serde_json::to_value(first.export_state()).unwrap();
        let state: TrackerState = serde_json::from_value(json).unwrap();
        assert_eq!(state, first.export_state());
        let mut resumed = Tracker::from_state(Catalog::litellm(), state);
        for (i, ((_, at), b)) in seq.iter().zip(&bodies).enumerate().skip(split) {
            assert_eq!(
                observe_text(&mut resumed, b, *at),
                expected[i],
                "split {split}, step {i}"
            );
        }
        assert_eq!(resumed.export_state(), whole.export_state());
    }
}

// ---- Property: sums of deltas equal the true increase. ----

#[derive(Debug, Clone)]
struct Spec {
    /// Whether LiteLLM exposes `_created` for it.
    with_created: bool,
    /// Step at which it is first incremented (0: exists at the baseline).
    born: usize,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Inc(u32),
    Reset(u32),
}

#[derive(Debug, Clone)]
struct Step {
    visible: Vec<bool>,
    ops: Vec<Op>,
}

fn scenario() -> impl Strategy<Value = (Vec<Spec>, Vec<Step>)> {
    (1usize..7, 2usize..14).prop_flat_map(|(n, steps)| {
        let specs = prop::collection::vec(
            (any::<bool>(), 0..steps).prop_map(|(with_created, born)| Spec { with_created, born }),
            n,
        );
        let op = prop_oneof![4 => (0u32..6).prop_map(Op::Inc), 1 => (0u32..6).prop_map(Op::Reset)];
        let step = (
            prop::collection::vec(any::<bool>(), n),
            prop::collection::vec(op, n),
        )
            .prop_map(|(visible, ops)| Step { visible, ops });
        (specs, prop::collection::vec(step, steps))
    })
}

struct Live {
    value: u64,
    created: f64,
    /// Value the tracker last saw for the current identity.
    seen: Option<u64>,
}

const MODELS: [&str; 3] = ["gpt", "claude", "None"];
const TEAMS: [&str; 2] = ["x", ""];

fn render(specs: &[Spec], live: &[Option<Live>], visible: &[bool]) -> String {
    let mut out = String::new();
    for (i, (spec, l)) in specs.iter().zip(live).enumerate() {
        let Some(l) = l else { continue };
        if !visible[i] {
            continue;
        }
        let (name, created) = if i % 2 == 0 {
            (
                "litellm_proxy_total_requests_metric_total",
                "litellm_proxy_total_requests_metric_created",
            )
        } else {
            (
                "litellm_total_tokens_metric_total",
                "litellm_total_tokens_metric_created",
            )
        };
        let labels = format!(
            "id=\"{i}\",requested_model=\"{}\",team=\"{}\",user=\"u{}\"",
            MODELS[i % 3],
            TEAMS[i % 2],
            i % 4
        );
        out.push_str(&format!("{name}{{{labels}}} {}.0\n", l.value));
        if spec.with_created {
            out.push_str(&format!("{created}{{{labels}}} {:?}\n", l.created));
        }
    }
    if out.is_empty() {
        out.push_str("litellm_in_flight_requests 1.0\n");
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn delta_sums_equal_the_true_increase((specs, steps) in scenario()) {
        let base_ms: i64 = 1_800_000_000_000;
        let mut live: Vec<Option<Live>> = specs.iter().map(|_| None).collect();
        let mut t = tracker();
        let mut true_increase = [0u64; 2];
        let mut counted = [0.0f64; 2];
        for (s, step) in steps.iter().enumerate() {
            let at = base_ms + 60_000 * s as i64;
            let mut visible = step.visible.clone();
            // The last scrape sees everything, so every increment is observable.
            if s + 1 == steps.len() {
                visible.iter_mut().for_each(|v| *v = true);
            }
            for (i, spec) in specs.iter().enumerate() {
                let metric = i % 2;
                if spec.born > s {
                    continue;
                }
                let created_now = (at - 30_000) as f64 / 1000.0;
                let Some(l) = live[i].as_mut() else {
                    // Birth: existing series are seen by the baseline; a new
                    // series with `_created` must be seen when it is born
                    // (otherwise it looks like another worker's, rule 6c).
                    live[i] = Some(Live { value: 0, created: created_now, seen: None });
                    let l = live[i].as_mut().unwrap();
                    if s == 0 || spec.with_created {
                        visible[i] = true;
                    }
                    if let Op::Inc(k) = step.ops[i] {
                        if s > 0 {
                            true_increase[metric] += u64::from(k);
                        }
                        l.value += u64::from(k);
                    }
                    continue;
                };
                match step.ops[i] {
                    // A restart we can see: nothing unseen before it, shown
                    // right away, and (without `_created`) a visible fall.
                    Op::Reset(k)
                        if visible[i]
                            && l.seen == Some(l.value)
                            && (spec.with_created || u64::from(k) < l.value) =>
                    {
                        l.value = u64::from(k);
                        l.created = created_now;
                        l.seen = None;
                        true_increase[metric] += u64::from(k);
                    }
                    Op::Inc(k) | Op::Reset(k) => {
                        l.value += u64::from(k);
                        if s > 0 {
                            true_increase[metric] += u64::from(k);
                        }
                    }
                }
            }
            let body = render(&specs, &live, &visible);
            let o = observe_text(&mut t, &body, at);
            assert_consistent(&o);
            for (i, l) in live.iter_mut().enumerate() {
                if let Some(l) = l
                    && visible[i]
                {
                    l.seen = Some(l.value);
                }
            }
            if s == 0 {
                prop_assert_eq!(o.deltas, MetricValues::default());
            }
            counted[0] += o.deltas.get(Metric::Requests);
            counted[1] += o.deltas.get(Metric::Tokens);
            prop_assert_eq!(o.adopted_series, 0);
        }
        prop_assert_eq!(counted[0], true_increase[0] as f64);
        prop_assert_eq!(counted[1], true_increase[1] as f64);
    }
}

// Latency histograms on the real captures. The expected buckets are read
// from the text with plain string search and the quantile is the documented
// interpolation written out as a loop, independent of the parser, the
// tracker and `pulse_core::latency`.

/// Cumulative buckets `(le, count)` of `family` per requested model, summed
/// over the model's series and sorted by `le`.
fn plain_buckets(body: &str, family: &str) -> BTreeMap<String, Vec<(f64, f64)>> {
    let prefix = format!("{family}_bucket{{");
    let mut sums: BTreeMap<(String, String), f64> = BTreeMap::new();
    for line in body.lines().filter(|l| l.starts_with(&prefix)) {
        let model = plain_label(line, "requested_model").expect("requested_model");
        let le = plain_label(line, "le").expect("le");
        let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        *sums.entry((model.to_owned(), le.to_owned())).or_insert(0.0) += value;
    }
    let mut out: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for ((model, le), count) in sums {
        let le: f64 = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().unwrap()
        };
        out.entry(model).or_default().push((le, count));
    }
    for buckets in out.values_mut() {
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// `later − earlier`, bucket by bucket (a model missing earlier counts from 0).
fn plain_delta(
    later: &BTreeMap<String, Vec<(f64, f64)>>,
    earlier: &BTreeMap<String, Vec<(f64, f64)>>,
) -> BTreeMap<String, Vec<(f64, f64)>> {
    let mut out = later.clone();
    for (model, buckets) in &mut out {
        if let Some(before) = earlier.get(model) {
            for ((le, count), (le0, count0)) in buckets.iter_mut().zip(before) {
                assert_eq!(le, le0);
                *count -= count0;
            }
        }
    }
    out.retain(|_, b| b.iter().any(|(_, c)| *c != 0.0));
    out
}

/// The tracker's histogram deltas of `histogram` per model, as plain buckets.
fn tracked_buckets(
    o: &Observation,
    histogram: Histogram,
) -> BTreeMap<String, pulse_core::latency::BucketCounts> {
    pulse_core::latency::sum_by_key(&o.latency.histograms, histogram, Dimension::Model)
}

/// The tracker's deltas equal the plain ones for every histogram, and so do
/// p50, p90 and p99 per model.
fn assert_latency_matches(
    o: &Observation,
    body_later: &str,
    body_earlier: Option<&str>,
    what: &str,
) -> usize {
    let mut checked = 0;
    for h in Histogram::ALL {
        let later = plain_buckets(body_later, h.family());
        let expected = match body_earlier {
            Some(b) => plain_delta(&later, &plain_buckets(b, h.family())),
            None => later,
        };
        let got = tracked_buckets(o, h);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{what} {h}"
        );
        for (model, buckets) in &expected {
            let counts = &got[model];
            let pairs: Vec<(f64, f64)> = counts.buckets.iter().map(|b| (b.le, b.count)).collect();
            assert_eq!(&pairs, buckets, "{what} {h} {model}");
            assert_eq!(
                counts.count,
                buckets.last().unwrap().1,
                "{what} {h} {model}"
            );
            for q in [0.5, 0.9, 0.99] {
                let (a, b) = (counts.quantile(q), plain_quantile(q, buckets));
                assert!((a - b).abs() < 1e-12, "{what} {h} {model} q{q}: {a} vs {b}");
            }
            checked += 1;
        }
    }
    checked
}

#[test]
fn latency_quantiles_per_model_match_a_plain_reading_of_the_captures() {
    let mut t = tracker();
    observe(&mut t, "00-before-traffic.prom", T00);
    let o1 = observe(&mut t, "01-after-batch1.prom", T01);
    // Every histogram series is new since the baseline: its whole value counts.
    assert_eq!(o1.latency.series.adopted_series, 0);
    let c01 = capture("01-after-batch1.prom");
    assert!(assert_latency_matches(&o1, &c01, None, "01") >= 9);

    // One value worked out by hand from 01: gpt-4o-mini's 14 requests have
    // 5 at or below 0.1 s and 11 at or below 0.25 s, so the median (rank 7)
    // is 0.1 + 0.15 × 2/6 s.
    let gpt = &tracked_buckets(&o1, Histogram::RequestLatency)["gpt-4o-mini"];
    assert_eq!(gpt.count, 14.0);
    assert!((gpt.quantile(0.5) - (0.1 + 0.15 * 2.0 / 6.0)).abs() < 1e-12);

    let o2b = observe(&mut t, R02B, T02B);
    // The plain delta below assumes no series fell or vanished in between.
    assert_eq!(
        (
            o2b.latency.series.resets,
            o2b.latency.series.vanished_series
        ),
        (0, 0)
    );
    let c02b = capture(R02B);
    assert!(assert_latency_matches(&o2b, &c02b, Some(&c01), "01→02b") >= 9);
}

#[test]
fn latency_after_a_restart_counts_the_new_process_whole() {
    let mut t = tracker();
    observe(&mut t, R02B, T02B);
    let o3 = observe(&mut t, R03, T03);
    assert!(o3.latency.histograms.is_empty());
    assert!(o3.latency.series.vanished_series > 0);
    let o4 = observe(&mut t, R04, T04);
    // The histograms of the restarted process appeared after 03: new, whole.
    assert!(o4.latency.series.new_series + o4.latency.series.resets > 0);
    assert_eq!(o4.latency.series.adopted_series, 0);
    assert!(assert_latency_matches(&o4, &capture(R04), None, "04") >= 9);
}
