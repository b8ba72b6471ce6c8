//! The line memo changes how a body is read, never what it counts:
//! `parse_body` + `observe_parsed` must give exactly what `parse_bytes` +
//! `observe` give, body after body, down to the persisted changes.

use proptest::prelude::*;

use super::*;
use crate::parse::parse_bytes;

/// Sample names the bodies use: value name, `_created` name (or none for
/// a gauge), and whether it is a histogram.
const NAMES: &[(&str, &str)] = &[
    ("litellm_spend_metric_total", "litellm_spend_metric_created"),
    ("litellm_spend_metric", "litellm_spend_metric_created"),
    (
        "litellm_proxy_total_requests_metric_total",
        "litellm_proxy_total_requests_metric_created",
    ),
    ("litellm_in_flight_requests", ""),
    (
        "litellm_deployment_cooled_down_total",
        "litellm_deployment_cooled_down_created",
    ),
    (
        "litellm_request_total_latency_metric",
        "litellm_request_total_latency_metric_created",
    ),
    ("python_gc_objects_collected_total", ""),
];
const HIST: usize = 5;
const MODELS: &[&str] = &["gpt", "claude", "c\\\"q", "gpt"];
const KEYS: &[&str] = &["k1", "k2"];

#[derive(Debug, Clone)]
struct Series {
    name: usize,
    model: usize,
    key: usize,
    value: u32,
    created: Option<u32>,
}

/// One change to the world between two bodies.
#[derive(Debug, Clone)]
enum Op {
    Grow(usize, u32),
    Restart(usize, u32),
    ToggleCreated(usize),
    Add(Series),
    Remove(usize),
    Keep,
}

/// How one body is written.
#[derive(Debug, Clone)]
struct Render {
    openmetrics: bool,
    reverse: bool,
    duplicate: Option<usize>,
    indent: Option<usize>,
    timestamp: Option<usize>,
    junk: bool,
    forget: bool,
}

fn series() -> impl Strategy<Value = Series> {
    (
        0..NAMES.len(),
        0..MODELS.len(),
        0..KEYS.len(),
        0u32..50,
        prop::option::of(1u32..4),
    )
        .prop_map(|(name, model, key, value, created)| Series {
            name,
            model,
            key,
            value,
            created,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (any::<prop::sample::Index>(), 1u32..5).prop_map(|(i, d)| Op::Grow(i.index(64), d)),
        1 => (any::<prop::sample::Index>(), 0u32..3).prop_map(|(i, v)| Op::Restart(i.index(64), v)),
        1 => any::<prop::sample::Index>().prop_map(|i| Op::ToggleCreated(i.index(64))),
        1 => series().prop_map(Op::Add),
        1 => any::<prop::sample::Index>().prop_map(|i| Op::Remove(i.index(64))),
        3 => Just(Op::Keep),
    ]
}

fn render_opts() -> impl Strategy<Value = Render> {
    (
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.1),
        prop::option::weighted(0.2, 0usize..40),
        prop::option::weighted(0.1, 0usize..40),
        prop::option::weighted(0.1, 0usize..40),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(openmetrics, reverse, duplicate, indent, timestamp, junk, forget)| Render {
                openmetrics,
                reverse,
                duplicate,
                indent,
                timestamp,
                junk,
                forget,
            },
        )
}

fn apply(world: &mut Vec<Series>, op: &Op, clock: &mut u32) {
    let n = world.len();
    match op {
        Op::Grow(i, d) if n > 0 => world[i % n].value += d,
        Op::Restart(i, v) if n > 0 => {
            *clock += 1;
            let s = &mut world[i % n];
            s.value = *v;
            s.created = Some(3 + *clock);
        }
        Op::ToggleCreated(i) if n > 0 => {
            let s = &mut world[i % n];
            s.created = match s.created {
                Some(_) => None,
                None => Some(1),
            };
        }
        Op::Add(s) => world.push(s.clone()),
        Op::Remove(i) if n > 0 => {
            world.remove(i % n);
        }
        _ => {}
    }
}

fn write(world: &[Series], r: &Render) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut created: Vec<String> = Vec::new();
    for s in world {
        let (name, created_name) = NAMES[s.name];
        let labels = format!(
            "requested_model=\"{}\",hashed_api_key=\"{}\"",
            MODELS[s.model], KEYS[s.key]
        );
        if s.name == HIST {
            for le in ["0.5", "+Inf"] {
                lines.push(format!("{name}_bucket{{{labels},le=\"{le}\"}} {}", s.value));
            }
            lines.push(format!("{name}_count{{{labels}}} {}", s.value));
            lines.push(format!("{name}_sum{{{labels}}} {}", s.value * 2));
        } else {
            lines.push(format!("{name}{{{labels}}} {}", s.value));
        }
        if let (Some(c), false) = (s.created, created_name.is_empty()) {
            created.push(format!("{created_name}{{{labels}}} {c}"));
        }
    }
    lines.append(&mut created);
    if r.reverse {
        lines.reverse();
    }
    let n = lines.len();
    if n > 0 {
        if let Some(i) = r.duplicate {
            let l = lines[i % n].clone();
            lines.push(l);
        }
        if let Some(i) = r.indent {
            lines[i % n].insert(0, ' ');
        }
        if let Some(i) = r.timestamp {
            let ts = if r.openmetrics { " 17.5" } else { " 17500" };
            lines[i % n].push_str(ts);
        }
    }
    if r.junk {
        lines.push("litellm_spend_metric_total{requested_model=\"x\" 1".into());
    }
    lines.push("litellm_total_tokens_metric_total{requested_model=\"gpt\"} 1".into());
    let mut body = lines.join("\n");
    body.push('\n');
    if r.openmetrics {
        body.push_str("# EOF\n");
    }
    body
}

/// Runs both paths over the same bodies and compares every result.
fn both_paths_agree(steps: &[(Vec<Op>, Render)], seed: u64) -> usize {
    let mut plain = Tracker::new(Catalog::litellm());
    let mut memo = Tracker::new(Catalog::litellm());
    memo.set_line_seed(seed);
    let mut world: Vec<Series> = Vec::new();
    let mut clock = 0;
    let mut remembered = 0;
    for (i, (ops, render)) in steps.iter().enumerate() {
        for op in ops {
            apply(&mut world, op, &mut clock);
        }
        let text = write(&world, render);
        let at = 1_000 + i as i64 * 60_000;
        if render.forget {
            plain.forget_older_than(at - 120_000);
            memo.forget_older_than(at - 120_000);
        }
        let a = match parse_bytes(text.as_bytes()) {
            Ok(expo) => plain.observe_with_target_clock(&expo, at, Some(at)),
            Err(_) => continue,
        };
        let parsed = memo
            .parse_body(text.as_bytes())
            .expect("parses like parse_bytes");
        remembered += parsed.remembered();
        let b = memo.observe_parsed(&parsed, at, Some(at));
        // The host settles the memo once the body is dropped; the next
        // parse does otherwise. Both must remember the same lines.
        if i % 2 == 1 {
            memo.settle_memo();
        }
        assert_eq!(a, b, "observation {i} of body:\n{text}");
        assert_eq!(plain.export_state(), memo.export_state(), "state after {i}");
        assert_eq!(
            plain.take_changes(),
            memo.take_changes(),
            "changes after {i}"
        );
    }
    remembered
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn remembered_lines_count_exactly_like_lexed_ones(
        start in prop::collection::vec(series(), 0..12),
        steps in prop::collection::vec((prop::collection::vec(op(), 0..4), render_opts()), 1..12),
        seed in any::<u64>(),
    ) {
        let mut all = vec![(start.into_iter().map(Op::Add).collect(), Render {
            openmetrics: false, reverse: false, duplicate: None, indent: None,
            timestamp: None, junk: false, forget: false,
        })];
        all.extend(steps);
        both_paths_agree(&all, seed);
    }
}

/// Six counters over three names, two models and two keys, each with its
/// `_created` line.
fn six_series() -> Vec<Series> {
    (0..6)
        .map(|i| Series {
            name: i % 3,
            model: i % 2,
            key: i / 3,
            value: 10,
            created: Some(1),
        })
        .collect()
}

/// A text body written plainly: in order, nothing added or broken.
fn plain_render() -> Render {
    Render {
        openmetrics: false,
        reverse: false,
        duplicate: None,
        indent: None,
        timestamp: None,
        junk: false,
        forget: false,
    }
}

#[test]
fn an_unchanged_body_is_recognised_line_by_line() {
    let plain = plain_render();
    let adds = six_series().into_iter().map(Op::Add).collect();
    let steps = vec![
        (adds, plain.clone()),
        (vec![], plain.clone()),
        (vec![Op::Grow(0, 2)], plain),
    ];
    // The second body: 4 value lines (the 2 of `litellm_spend_metric` do not
    // count beside `litellm_spend_metric_total`, so they are not
    // remembered), the 6 `_created` lines and the tokens line; the third:
    // all of those but the grown line.
    assert_eq!(both_paths_agree(&steps, 7), 11 + 10);
}

#[test]
fn a_fleet_settles_every_targets_memo_when_the_round_is_done() {
    let text = write(&six_series(), &plain_render());
    let memo_of = |f: &Fleet, t: &str| f.member(t).map(|t| t.scratch.memo.settled_lines());
    let mut fleet = Fleet::new(Catalog::litellm());
    for (round, at) in [(0, 1_000), (1, 61_000)] {
        for target in ["a", "b"] {
            let parsed = fleet.parse_body(target, text.as_bytes()).unwrap();
            // The first round recognises nothing; the second, every line
            // the first remembered (as in `an_unchanged_body_is_recognised_line_by_line`).
            assert_eq!(parsed.remembered(), [0, 11][round], "{target}");
            fleet.observe_parsed(target, &parsed, at, Some(at));
        }
        // Until the round is done, each memo is references into the last.
        assert_eq!(memo_of(&fleet, "a"), Some(None));
        assert_eq!(memo_of(&fleet, "b"), Some(None));
        fleet.settle_memos();
        assert_eq!(memo_of(&fleet, "a"), Some(Some(11)));
        assert_eq!(memo_of(&fleet, "b"), Some(Some(11)));
    }
}
