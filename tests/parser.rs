//! The parser and writer against the real LiteLLM captures, plus property
//! tests: write/parse round trips, hostile input, and the totals fast path.
//!
//! `PROPTEST_CASES` sets the number of cases of every property (default 4096).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use pulse_core::parse::{parse, parse_bytes, sample_totals, scan_sample_totals};
use pulse_core::write::{Writer, write_exposition, write_openmetrics};
use pulse_core::{BodyError, Exposition, Format, LineErrorKind, MetricType};
use pulse_tests::{capture, fixtures_dir};

/// Every text and OpenMetrics capture in the fixtures directory.
fn all_captures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures directory")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".prom") || n.ends_with(".openmetrics.txt"))
        .collect();
    names.sort();
    names
}

/// Sum of all samples called `name`.
fn total(expo: &Exposition<'_>, name: &str) -> f64 {
    expo.samples
        .iter()
        .filter(|s| s.name == name)
        .map(|s| s.value)
        .sum()
}

/// Checks the structural invariants of a parsed body.
fn assert_well_formed(expo: &Exposition<'_>) {
    let mut next = 0u32;
    for (i, f) in expo.families.iter().enumerate() {
        assert_eq!(f.samples.start, next, "family {} is not contiguous", f.name);
        assert!(f.samples.end >= f.samples.start);
        for s in expo.samples_of(f) {
            assert_eq!(s.family as usize, i);
        }
        next = f.samples.end;
    }
    assert_eq!(next as usize, expo.samples.len());
    let mut label_end = 0u32;
    for s in &expo.samples {
        assert_eq!(s.labels.start, label_end, "labels are not contiguous");
        label_end = s.labels.end;
    }
    assert_eq!(label_end as usize, expo.labels.len());
}

#[test]
fn fixture_set_is_complete() {
    assert_eq!(
        all_captures(),
        vec![
            "00-before-traffic.prom",
            "01-after-batch1.openmetrics.txt",
            "01-after-batch1.prom",
            "02-after-batch2.prom",
            "02b-after-batch2-streams-drained.prom",
            "03-after-restart-before-traffic.prom",
            "04-after-restart-batch3.prom",
            "06-teams-after-traffic.openmetrics.txt",
            "06-teams-after-traffic.prom",
            "08-multiworker-after-traffic.prom",
        ]
    );
}

#[test]
fn every_capture_parses_without_errors() {
    for name in all_captures() {
        let body = capture(&name);
        let expo = parse(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(expo.errors.is_empty(), "{name}: {:?}", expo.errors);
        assert_well_formed(&expo);
        let expected = if name.ends_with(".prom") {
            Format::PrometheusText
        } else {
            Format::OpenMetrics
        };
        assert_eq!(expo.format, Some(expected), "{name}");
        // Every line is a sample, a known comment, or (OpenMetrics) `# EOF`.
        let sample_lines = body.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(expo.samples.len(), sample_lines, "{name}");
        // Bytes give the same result as text.
        assert_eq!(parse_bytes(body.as_bytes()).unwrap(), expo, "{name}");
    }
}

#[test]
fn sample_counts_match_the_manifest() {
    let manifest = capture("MANIFEST.tsv");
    let mut rows = 0;
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, bytes, total_series, litellm_series) = (cols[0], cols[2], cols[3], cols[4]);
        let body = capture(&format!("{file}.prom"));
        assert_eq!(body.len().to_string(), bytes, "{file}");
        let expo = parse(&body).unwrap();
        assert_eq!(expo.samples.len().to_string(), total_series, "{file}");
        let litellm = expo
            .samples
            .iter()
            .filter(|s| s.name.starts_with("litellm_"))
            .count();
        assert_eq!(litellm.to_string(), litellm_series, "{file}");
        rows += 1;
    }
    assert_eq!(rows, 8);
}

#[test]
fn family_and_series_counts_match_litellm_metrics_table() {
    // (file, samples, `# TYPE` lines, `_created` samples, `_bucket` samples), from §3.
    let table = [
        ("00-before-traffic", 34, 96, 6, 0),
        ("01-after-batch1", 444, 111, 76, 243),
        ("02-after-batch2", 464, 111, 86, 243),
        ("02b-after-batch2-streams-drained", 487, 111, 88, 261),
        ("03-after-restart-before-traffic", 22, 94, 0, 0),
        ("04-after-restart-batch3", 368, 111, 48, 225),
        ("06-teams-after-traffic", 760, 111, 98, 486),
        ("08-multiworker-after-traffic", 225, 28, 0, 156),
    ];
    for (file, samples, types, created, buckets) in table {
        let body = capture(&format!("{file}.prom"));
        let expo = parse(&body).unwrap();
        assert_eq!(expo.samples.len(), samples, "{file}");
        // Every family was announced by `# HELP` + `# TYPE`: none is implicit.
        assert_eq!(expo.families.len(), types, "{file}");
        assert!(expo.families.iter().all(|f| f.help.is_some()), "{file}");
        let ending = |suffix: &str| {
            expo.samples
                .iter()
                .filter(|s| s.name.ends_with(suffix))
                .count()
        };
        assert_eq!(ending("_created"), created, "{file}");
        assert_eq!(ending("_bucket"), buckets, "{file}");
    }
}

#[test]
fn text_format_layout_of_counters_and_histograms() {
    let body = capture("01-after-batch1.prom");
    let expo = parse(&body).unwrap();
    let fam = |name: &str| {
        expo.families
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no family {name}"))
    };
    let spend = fam("litellm_spend_metric_total");
    assert_eq!(spend.kind, MetricType::Counter);
    assert_eq!(fam("litellm_spend_metric_created").kind, MetricType::Gauge);
    let spend_samples = expo.samples_of(spend);
    assert_eq!(spend_samples.len(), 4);
    assert!(
        spend_samples
            .iter()
            .all(|s| s.name == "litellm_spend_metric_total")
    );
    let lat = fam("litellm_request_total_latency_metric");
    assert_eq!(lat.kind, MetricType::Histogram);
    let names: BTreeSet<&str> = expo.samples_of(lat).iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "litellm_request_total_latency_metric_bucket",
            "litellm_request_total_latency_metric_count",
            "litellm_request_total_latency_metric_sum",
        ])
    );
    // `le` sits among the alphabetically sorted labels, not last.
    let first = &expo.samples_of(lat)[0];
    let label_names: Vec<&str> = expo.labels_of(first).iter().map(|l| l.name).collect();
    let le = label_names.iter().position(|n| *n == "le").unwrap();
    assert!(le < label_names.len() - 1, "{label_names:?}");
}

#[test]
fn openmetrics_families_hold_total_and_created() {
    let body = capture("06-teams-after-traffic.openmetrics.txt");
    let expo = parse(&body).unwrap();
    assert_eq!(expo.families.len(), 94);
    let spend = expo
        .families
        .iter()
        .find(|f| f.name == "litellm_spend_metric")
        .unwrap();
    assert_eq!(spend.kind, MetricType::Counter);
    let names: BTreeMap<&str, usize> =
        expo.samples_of(spend)
            .iter()
            .fold(BTreeMap::new(), |mut m, s| {
                *m.entry(s.name).or_default() += 1;
                m
            });
    let counts: Vec<usize> = names.values().copied().collect();
    assert_eq!(
        names.keys().copied().collect::<Vec<_>>(),
        vec!["litellm_spend_metric_created", "litellm_spend_metric_total"]
    );
    assert_eq!(counts[0], counts[1]);
}

#[test]
fn request_counts_match_the_traffic_sent() {
    for (file, requests) in [
        ("01-after-batch1", 37.0),
        ("02b-after-batch2-streams-drained", 67.0),
        ("04-after-restart-batch3", 8.0),
        ("06-teams-after-traffic", 23.0),
        ("08-multiworker-after-traffic", 20.0),
    ] {
        let body = capture(&format!("{file}.prom"));
        let expo = parse(&body).unwrap();
        assert_eq!(
            total(&expo, "litellm_proxy_total_requests_metric_total"),
            requests,
            "{file}"
        );
    }
    let expo_body = capture("01-after-batch1.prom");
    let expo = parse(&expo_body).unwrap();
    assert_eq!(
        total(&expo, "litellm_proxy_failed_requests_metric_total"),
        13.0
    );
    // By status code: 200:24, 400:5, 500:3, 429:2, "None":3.
    let mut by_status: BTreeMap<String, f64> = BTreeMap::new();
    for s in expo
        .samples
        .iter()
        .filter(|s| s.name == "litellm_proxy_total_requests_metric_total")
    {
        *by_status
            .entry(expo.label(s, "status_code").unwrap().into_owned())
            .or_default() += s.value;
    }
    assert_eq!(
        by_status
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect::<BTreeMap<_, _>>(),
        BTreeMap::from([
            ("200", 24.0),
            ("400", 5.0),
            ("429", 2.0),
            ("500", 3.0),
            ("None", 3.0)
        ])
    );
}

/// `(name, labels)` of every sample, mapped to its value.
fn series(expo: &Exposition<'_>) -> BTreeMap<(String, Vec<(String, String)>), u64> {
    expo.samples
        .iter()
        .map(|s| {
            let labels = expo
                .labels_of(s)
                .iter()
                .map(|l| (l.name.to_string(), l.value().into_owned()))
                .collect();
            ((s.name.to_string(), labels), s.value.to_bits())
        })
        .collect()
}

#[test]
fn text_and_openmetrics_twins_agree() {
    // The twin was fetched a moment later: only process and GC self-metrics moved.
    for (file, moved) in [
        (
            "01-after-batch1",
            vec!["process_cpu_seconds_total", "process_resident_memory_bytes"],
        ),
        (
            "06-teams-after-traffic",
            vec![
                "process_cpu_seconds_total",
                "process_resident_memory_bytes",
                "python_gc_collections_total",
                "python_gc_objects_collected_total",
            ],
        ),
    ] {
        let text_body = capture(&format!("{file}.prom"));
        let om_body = capture(&format!("{file}.openmetrics.txt"));
        let text = parse(&text_body).unwrap();
        let om = parse(&om_body).unwrap();
        let (a, b) = (series(&text), series(&om));
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{file}"
        );
        let differing: BTreeSet<&str> = a
            .iter()
            .filter(|(k, v)| b[*k] != **v)
            .map(|((name, _), _)| name.as_str())
            .collect();
        assert_eq!(differing, moved.iter().copied().collect(), "{file}");
        // Per-name totals agree except for those names; order differs
        // because OpenMetrics interleaves `_total` and `_created`.
        let ta: BTreeMap<&str, f64> = sample_totals(&text).into_iter().collect();
        let tb: BTreeMap<&str, f64> = sample_totals(&om).into_iter().collect();
        assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
        for (name, v) in &ta {
            if !moved.contains(name) {
                assert_eq!(v.to_bits(), tb[name].to_bits(), "{file} {name}");
            }
        }
    }
}

#[test]
fn tricky_label_values_decode_as_documented() {
    let body = capture("06-teams-after-traffic.prom");
    let expo = parse(&body).unwrap();
    let values = |label: &str| -> BTreeSet<String> {
        expo.samples
            .iter()
            .filter_map(|s| expo.label(s, label))
            .map(|v| v.into_owned())
            .collect()
    };
    assert!(values("team_alias").contains(r#"Beta \"quoted\" Team"#));
    assert!(values("end_user").contains("weird \"user\" \\ back\\slash\nnewline ünïcödé"));

    let body = capture("01-after-batch1.prom");
    let expo = parse(&body).unwrap();
    let agents: BTreeSet<String> = expo
        .samples
        .iter()
        .filter_map(|s| expo.label(s, "user_agent"))
        .map(|v| v.into_owned())
        .collect();
    assert!(agents.contains(r#"Mozilla/5.0 (X11; \"quoted\") \\ agent"#));
}

#[test]
fn infinite_and_maxsize_gauges_are_preserved() {
    let body = capture("01-after-batch1.prom");
    let expo = parse(&body).unwrap();
    let budget: Vec<f64> = expo
        .samples
        .iter()
        .filter(|s| s.name == "litellm_remaining_api_key_budget_metric")
        .map(|s| s.value)
        .collect();
    assert!(!budget.is_empty());
    assert!(budget.contains(&f64::INFINITY));
    let limits: Vec<f64> = expo
        .samples
        .iter()
        .filter(|s| s.name == "litellm_remaining_api_key_requests_for_model")
        .map(|s| s.value)
        .collect();
    assert!(!limits.is_empty());
    assert!(limits.iter().all(|v| *v == 9.223372036854776e18));
}

#[test]
fn closing_brace_inside_a_label_value() {
    // Reference fault 4: the Python regex read `model="x} 999"` as value 999.
    let body = capture("01-after-batch1.prom");
    let line = body
        .lines()
        .find(|l| l.starts_with("litellm_spend_metric_total{"))
        .unwrap();
    let edited = line.replacen("model=\"", "model=\"x} 999 ", 1);
    let expo = parse(&edited).unwrap();
    assert!(expo.errors.is_empty());
    let s = &expo.samples[0];
    assert!(expo.label(s, "model").unwrap().starts_with("x} 999 "));
    let original = parse(line).unwrap();
    assert_eq!(s.value, original.samples[0].value);
    assert_ne!(s.value, 999.0);
}

#[test]
fn non_exposition_bodies_are_rejected() {
    for (file, expected) in [
        ("noauth-metrics.body", BodyError::Json),
        ("badkey-metrics.body", BodyError::Json),
    ] {
        let path = fixtures_dir().join(file);
        // These bodies are described in LITELLM-METRICS.md but not all are shared.
        if let Ok(body) = std::fs::read_to_string(&path) {
            assert_eq!(parse(&body), Err(expected), "{file}");
        }
    }
    assert_eq!(
        parse("<!doctype html><title>502</title>"),
        Err(BodyError::Html)
    );
    assert_eq!(parse("  \n"), Err(BodyError::Empty));
    match parse("Not Found\n") {
        Err(BodyError::NoValidLines(e)) => {
            assert_eq!((e.line, e.kind), (1, LineErrorKind::InvalidValue));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn totals_fast_path_matches_on_every_capture() {
    for name in all_captures() {
        let body = capture(&name);
        let slow = sample_totals(&parse(&body).unwrap());
        let fast = scan_sample_totals(&body).unwrap();
        assert_eq!(bits(&fast), bits(&slow), "{name}");
    }
    let body = capture("01-after-batch1.prom");
    let totals = scan_sample_totals(&body).unwrap();
    let get = |n: &str| totals.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
    assert_eq!(get("litellm_proxy_total_requests_metric_total"), Some(37.0));
    assert_eq!(
        get("litellm_proxy_failed_requests_metric_total"),
        Some(13.0)
    );
    assert_eq!(
        get("litellm_remaining_api_key_budget_metric"),
        Some(f64::INFINITY)
    );
}

#[test]
fn captures_survive_a_write_parse_round_trip() {
    for name in all_captures() {
        let body = capture(&name);
        let expo = parse(&body).unwrap();
        let mut text = String::new();
        write_exposition(&expo, &mut text);
        let back = parse(&text).unwrap();
        assert_eq!(back.families, expo.families, "{name}");
        assert_eq!(back.labels, expo.labels, "{name}");
        assert_eq!(back.samples.len(), expo.samples.len());
        for (a, b) in back.samples.iter().zip(&expo.samples) {
            assert_eq!(
                (a.name, a.value.to_bits(), a.family),
                (b.name, b.value.to_bits(), b.family)
            );
        }
        let mut om = String::new();
        write_openmetrics(&expo, &mut om);
        let back = parse(&om).unwrap();
        assert_eq!(back.format, Some(Format::OpenMetrics));
        assert_eq!(series(&back), series(&expo), "{name}");
    }
}

/// A compact, reviewable summary of what the parser makes of a body: the
/// format and counts, the label names, and per family its type, sample and
/// label counts and, per sample name, how many samples and their sum.
fn summary(expo: &Exposition<'_>) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let format = expo.format.map_or("none".to_owned(), |f| format!("{f:?}"));
    let stamped = expo
        .samples
        .iter()
        .filter(|s| s.timestamp_ms.is_some())
        .count();
    let _ = writeln!(out, "format: {format}");
    let _ = writeln!(
        out,
        "families: {}, samples: {}, labels: {}, timestamps: {stamped}, errors: {}",
        expo.families.len(),
        expo.samples.len(),
        expo.labels.len(),
        expo.errors.len()
    );
    let names: BTreeSet<&str> = expo.labels.iter().map(|l| l.name).collect();
    let names: Vec<&str> = names.into_iter().collect();
    let _ = writeln!(out, "label names: {}", names.join(", "));
    for f in &expo.families {
        let samples = expo.samples_of(f);
        let labels: usize = samples.iter().map(|s| expo.labels_of(s).len()).sum();
        let unit = f.unit.map_or(String::new(), |u| format!(" unit={u}"));
        let _ = write!(
            out,
            "{} {}{unit} ({} samples, {labels} labels)",
            f.kind.as_str(),
            f.name,
            samples.len()
        );
        // Per sample name, in order of first appearance: count and sum.
        let mut by_name: Vec<(&str, usize, f64)> = Vec::new();
        for s in samples {
            match by_name.iter_mut().find(|(n, _, _)| *n == s.name) {
                Some((_, count, sum)) => {
                    *count += 1;
                    *sum += s.value;
                }
                None => by_name.push((s.name, 1, s.value)),
            }
        }
        for (i, (name, count, sum)) in by_name.iter().enumerate() {
            let suffix = name.strip_prefix(f.name).unwrap_or(name);
            let suffix = if suffix.is_empty() { "-" } else { suffix };
            let sep = if i == 0 { ": " } else { ", " };
            let _ = write!(out, "{sep}{suffix} x{count} = {sum}");
        }
        out.push('\n');
    }
    out
}

/// Snapshots (tests/snapshots/) of what the parser makes of every capture.
/// A mismatch always fails (and, unless `CI=true`, leaves a `.snap.new`
/// beside the snapshot); after an intended change, accept it with
/// `INSTA_UPDATE=always` or `cargo insta review` and review the diff.
#[test]
fn capture_summaries_match_their_snapshots() {
    for name in all_captures() {
        let body = capture(&name);
        let expo = parse(&body).unwrap();
        insta::assert_snapshot!(name.clone(), summary(&expo));
    }
}

/// Totals with values as bits, so NaN compares equal to NaN.
fn bits<'a>(t: &[(&'a str, f64)]) -> Vec<(&'a str, u64)> {
    t.iter().map(|(n, v)| (*n, v.to_bits())).collect()
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4096)
}

/// `cases` cases with the XorShift generator: ChaCha dominates the run time
/// of these small cases in debug builds.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..ProptestConfig::default()
    }
}

/// A generated family: what the writer is asked to write.
#[derive(Debug, Clone)]
struct GenFamily {
    /// `None` for an implicit family (no metadata at all).
    kind: Option<MetricType>,
    help: Option<String>,
    unit: Option<String>,
    samples: Vec<GenSample>,
}

#[derive(Debug, Clone)]
struct GenSample {
    suffix: usize,
    labels: Vec<(String, String)>,
    value: f64,
    timestamp_ms: Option<i64>,
}

fn suffixes(kind: Option<MetricType>) -> &'static [&'static str] {
    match kind {
        Some(MetricType::Counter) => &["_total", "_created", ""],
        Some(MetricType::Histogram) => &["_bucket", "_count", "_sum", "_created"],
        Some(MetricType::GaugeHistogram) => &["_bucket", "_gcount", "_gsum"],
        Some(MetricType::Summary) => &["", "_count", "_sum", "_created"],
        Some(MetricType::Info) => &["_info"],
        _ => &[""],
    }
}

fn any_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(9.223372036854776e18),
        Just(5e-324),
        (0u32..100_000).prop_map(f64::from),
        (0.0f64..1.0),
    ]
}

fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z \"\\\\\n}{,=]{0,12}",
        Just("x} 999".to_string()),
        Just("\\n".to_string()),
    ]
}

fn gen_sample(openmetrics: bool) -> impl Strategy<Value = GenSample> {
    let ts = if openmetrics {
        proptest::option::of(-10_000_000_000_000i64..10_000_000_000_000).boxed()
    } else {
        proptest::option::of(any::<i64>()).boxed()
    };
    (
        0usize..4,
        proptest::collection::vec(("[a-zA-Z_][a-zA-Z0-9_]{0,8}", label_value()), 0..5),
        any_value(),
        ts,
    )
        .prop_map(|(suffix, labels, value, timestamp_ms)| GenSample {
            suffix,
            labels,
            value,
            timestamp_ms,
        })
}

fn gen_family(openmetrics: bool) -> impl Strategy<Value = GenFamily> {
    let kind = prop_oneof![
        Just(None),
        Just(Some(MetricType::Counter)),
        Just(Some(MetricType::Gauge)),
        Just(Some(MetricType::Histogram)),
        Just(Some(MetricType::GaugeHistogram)),
        Just(Some(MetricType::Summary)),
        Just(Some(MetricType::Info)),
        Just(Some(MetricType::StateSet)),
        Just(Some(MetricType::Unknown)),
    ];
    (
        kind,
        proptest::option::of("[^\r]{0,20}"),
        proptest::option::of("[a-z_]{1,8}"),
        proptest::collection::vec(gen_sample(openmetrics), 0..6),
    )
        .prop_map(|(kind, help, unit, samples)| {
            // An implicit family has no metadata and at least one sample;
            // an `Unknown` family with metadata always has help text.
            match kind {
                None if samples.is_empty() => GenFamily {
                    kind: Some(MetricType::Gauge),
                    help,
                    unit,
                    samples,
                },
                None => GenFamily {
                    kind,
                    help: None,
                    unit: None,
                    samples,
                },
                Some(MetricType::Unknown) => GenFamily {
                    kind,
                    help: Some(help.unwrap_or_default()),
                    unit,
                    samples,
                },
                _ => GenFamily {
                    kind,
                    help,
                    unit,
                    samples,
                },
            }
        })
}

/// Writes generated families; returns the body and the expected
/// `(family name, kind, help, unit, sample count)` and samples.
#[allow(clippy::type_complexity)]
fn write_generated(
    fams: &[GenFamily],
    openmetrics: bool,
) -> (
    String,
    Vec<(String, MetricType, Option<String>, Option<String>, usize)>,
    Vec<(String, Vec<(String, String)>, f64, Option<i64>)>,
) {
    let mut out = String::new();
    let mut expected_fams = Vec::new();
    let mut expected_samples = Vec::new();
    {
        let mut w = if openmetrics {
            Writer::openmetrics(&mut out)
        } else {
            Writer::new(&mut out)
        };
        for (i, f) in fams.iter().enumerate() {
            // Distinct `fN` prefixes keep one family's suffixed names out of another.
            let name = format!("f{i}x");
            if let Some(kind) = f.kind {
                w.family(&name, kind, f.help.as_deref());
                if let Some(unit) = &f.unit {
                    w.unit(&name, unit);
                }
            }
            let suffixes = suffixes(f.kind);
            for s in &f.samples {
                let sample_name = format!("{name}{}", suffixes[s.suffix % suffixes.len()]);
                let labels: Vec<(&str, &str)> = s
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                w.sample(&sample_name, &labels, s.value, s.timestamp_ms);
                expected_samples.push((sample_name, s.labels.clone(), s.value, s.timestamp_ms));
            }
            expected_fams.push((
                name,
                f.kind.unwrap_or(MetricType::Unknown),
                f.help.clone(),
                f.unit.clone(),
                f.samples.len(),
            ));
        }
        w.finish();
    }
    (out, expected_fams, expected_samples)
}

fn check_round_trip(fams: &[GenFamily], openmetrics: bool) -> Result<(), TestCaseError> {
    let (body, want_fams, want_samples) = write_generated(fams, openmetrics);
    if want_fams.is_empty() && !openmetrics {
        prop_assert_eq!(parse(&body), Err(BodyError::Empty));
        return Ok(());
    }
    let expo = parse(&body).map_err(|e| TestCaseError::fail(format!("{e}: {body:?}")))?;
    prop_assert!(expo.errors.is_empty(), "{:?}\n{}", expo.errors, body);
    assert_well_formed(&expo);
    let got_fams: Vec<_> = expo
        .families
        .iter()
        .map(|f| {
            (
                f.name.to_string(),
                f.kind,
                f.help.as_deref().map(str::to_string),
                f.unit.map(str::to_string),
                f.samples.len(),
            )
        })
        .collect();
    prop_assert_eq!(got_fams, want_fams);
    prop_assert_eq!(expo.samples.len(), want_samples.len());
    for (s, (name, labels, value, ts)) in expo.samples.iter().zip(&want_samples) {
        prop_assert_eq!(s.name, name.as_str());
        let got: Vec<(&str, String)> = expo
            .labels_of(s)
            .iter()
            .map(|l| (l.name, l.value().into_owned()))
            .collect();
        let want: Vec<(&str, String)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        prop_assert_eq!(got, want);
        if value.is_nan() {
            prop_assert!(s.value.is_nan());
        } else {
            prop_assert_eq!(s.value.to_bits(), value.to_bits());
        }
        prop_assert_eq!(s.timestamp_ms, *ts);
    }
    // Writing the parsed body again gives the same text.
    let mut again = String::new();
    if openmetrics {
        write_openmetrics(&expo, &mut again);
    } else {
        write_exposition(&expo, &mut again);
    }
    prop_assert_eq!(again, body);
    Ok(())
}

/// Text made of the characters that matter to the syntax.
fn syntax_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("# TYPE ".to_string()),
            Just("# HELP ".to_string()),
            Just("# EOF".to_string()),
            Just(" counter".to_string()),
            Just("_total".to_string()),
            Just("m".to_string()),
            Just("{".to_string()),
            Just("}".to_string()),
            Just("a=\"".to_string()),
            Just("\"".to_string()),
            Just(",".to_string()),
            Just("\\".to_string()),
            Just("\n".to_string()),
            Just("\r\n".to_string()),
            Just(" ".to_string()),
            Just("\t".to_string()),
            Just(" 1.5".to_string()),
            Just(" NaN".to_string()),
            Just(" +Inf".to_string()),
            Just(" -Inf".to_string()),
            Just(" 17".to_string()),
            Just(" # {".to_string()),
            Just("\0".to_string()),
            Just("ü".to_string()),
            proptest::collection::vec(0x20u8..0x7f, 0..4)
                .prop_map(|v| v.into_iter().map(char::from).collect()),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    // Generating arbitrary expositions is slow in debug builds: a quarter of the cases.
    #![proptest_config(config(cases() / 4 + 1))]

    #[test]
    fn text_round_trip(fams in proptest::collection::vec(gen_family(false), 0..6)) {
        check_round_trip(&fams, false)?;
    }

    #[test]
    fn openmetrics_round_trip(fams in proptest::collection::vec(gen_family(true), 0..6)) {
        check_round_trip(&fams, true)?;
    }
}

proptest! {
    #![proptest_config(config(cases()))]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(expo) = parse_bytes(&body) {
            assert_well_formed(&expo);
        }
    }

    #[test]
    fn syntax_soup_never_panics_and_totals_agree(body in syntax_soup()) {
        let parsed = parse(&body);
        if let Ok(expo) = &parsed {
            assert_well_formed(expo);
        }
        let fast = scan_sample_totals(&body);
        match (&parsed, &fast) {
            (Ok(expo), Ok(fast)) => prop_assert_eq!(bits(fast), bits(&sample_totals(expo))),
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            _ => prop_assert!(false, "parse and scan disagree: {:?} / {:?}", parsed.map(|_| ()), fast),
        }
    }
}

proptest! {
    // Each case parses a whole capture twice; fewer cases keep the suite quick.
    #![proptest_config(config(cases() / 16 + 1))]

    #[test]
    fn mutated_captures_totals_agree(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), syntax_soup()), 1..8)
    ) {
        let mut body = capture("01-after-batch1.prom");
        for (at, text) in edits {
            let mut i = at.index(body.len() + 1);
            while !body.is_char_boundary(i) {
                i -= 1;
            }
            body.insert_str(i, &text);
        }
        match (parse(&body), scan_sample_totals(&body)) {
            (Ok(expo), Ok(fast)) => {
                assert_well_formed(&expo);
                prop_assert_eq!(bits(&fast), bits(&sample_totals(&expo)));
            }
            // An edit at the very start can make the body look like HTML or JSON.
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "parse and scan disagree: {:?} / {:?}", a.map(|_| ()), b),
        }
    }
}

/// The strict validator accepts every real capture: LiteLLM's `.prom`
/// bodies as text 0.0.4 and its `.openmetrics.txt` bodies as OpenMetrics
/// 1.0 (both written by the official Python client).
#[test]
fn every_capture_is_valid_in_strict_mode() {
    use pulse_core::validate::{Format as Strict, validate, validate_as};
    for name in all_captures() {
        let body = capture(&name);
        let report = validate(&body);
        let expected = if name.ends_with(".prom") {
            Strict::PrometheusText
        } else {
            Strict::OpenMetrics
        };
        assert_eq!(report.format, expected, "{name}");
        assert!(report.is_valid(), "{name}: {:#?}", &report.problems);
        assert_eq!(validate_as(body.as_bytes(), expected), report);
    }
}

/// Strict mode finds what the lenient parser lets through: a capture
/// turned into an invalid document in three ways.
#[test]
fn strict_mode_flags_what_scraping_tolerates() {
    use pulse_core::validate::{Format as Strict, ProblemKind, validate_as};
    let body = capture("01-after-batch1.openmetrics.txt");
    // A negative counter, a metric family split in two, no `# EOF`.
    let broken = body
        .replacen(
            "python_gc_objects_collected_total{generation=\"0\"} 2534.0",
            "python_gc_objects_collected_total{generation=\"0\"} -1",
            1,
        )
        .replace(
            "# EOF\n",
            "python_gc_objects_collected_total{generation=\"9\"} 1\n",
        );
    let expo = parse(&broken).expect("the lenient parser still reads it");
    assert!(expo.errors.is_empty());
    let kinds: Vec<ProblemKind> = validate_as(broken.as_bytes(), Strict::OpenMetrics)
        .problems
        .iter()
        .map(|p| p.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            ProblemKind::NegativeValue,
            ProblemKind::NameClash,
            ProblemKind::MissingEof
        ],
        "as OpenMetrics"
    );
}
