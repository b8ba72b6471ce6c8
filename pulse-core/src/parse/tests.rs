//! Unit tests of the parser: one small body per syntax rule and error kind.

use std::borrow::Cow;

use super::*;

fn ok(body: &str) -> Exposition<'_> {
    parse(body).unwrap()
}

/// `(line, kind)` of every error of `body`.
fn errors(body: &str) -> Vec<(u32, LineErrorKind)> {
    ok(body)
        .errors
        .into_iter()
        .map(|e| (e.line, e.kind))
        .collect()
}

/// Labels of sample `i` as decoded `(name, value)` pairs.
fn labels<'e>(expo: &Exposition<'e>, i: usize) -> Vec<(&'e str, Cow<'e, str>)> {
    expo.labels_of(&expo.samples[i])
        .iter()
        .map(|l| (l.name, l.value()))
        .collect()
}

/// `pairs` in the shape [`labels`] returns.
fn want<'w>(pairs: &[(&'w str, &'w str)]) -> Vec<(&'w str, Cow<'w, str>)> {
    pairs.iter().map(|&(n, v)| (n, Cow::Borrowed(v))).collect()
}

#[test]
fn simple_sample_with_labels() {
    let e = ok("x_total{model=\"gpt-4o\",team=\"a\"} 2.0\n");
    assert_eq!(e.format, Some(Format::PrometheusText));
    assert_eq!(e.samples.len(), 1);
    let s = &e.samples[0];
    assert_eq!(s.name, "x_total");
    assert_eq!(s.value, 2.0);
    assert_eq!(s.timestamp_ms, None);
    assert_eq!(s.line, 1);
    assert_eq!(labels(&e, 0), want(&[("model", "gpt-4o"), ("team", "a")]));
    assert!(e.errors.is_empty());
}

#[test]
fn labels_borrow_unless_escaped() {
    let e = ok("x{a=\"plain\",b=\"q\\\"x\"} 1\n");
    let ls = e.labels_of(&e.samples[0]);
    assert!(matches!(ls[0].value(), Cow::Borrowed("plain")));
    assert!(matches!(ls[1].value(), Cow::Owned(v) if v == "q\"x"));
}

#[test]
fn labels_compare_by_decoded_value() {
    let e = ok("x{a=\"q\\\"x\",b=\"\\\\n\"} 1\n");
    let ls = e.labels_of(&e.samples[0]);
    assert_eq!(ls[0], Label::new("a", "q\"x"));
    assert_ne!(ls[0], Label::new("a", "q\\\"x"));
    // A constructed value is already decoded: its backslash stays.
    assert_eq!(Label::new("b", "\\n").value(), "\\n");
    assert_eq!(ls[1], Label::new("b", "\\n"));
    assert_eq!(
        format!("{:?}", ls[0]),
        r#"Label { name: "a", value: "q\"x" }"#
    );
}

#[test]
fn escapes_decode_left_to_right() {
    // `\\n` is a backslash followed by `n`, not a newline (reference fault 4).
    let e = ok(r#"x{a="\\n",b="\n",c="\\\"",d="\\\\"} 1"#);
    assert_eq!(
        labels(&e, 0),
        want(&[("a", "\\n"), ("b", "\n"), ("c", "\\\""), ("d", "\\\\")])
    );
}

#[test]
fn special_characters_inside_quotes() {
    let e = ok("x{model=\"x} 999\",u=\"a, b=c {d}\",w=\"ünï cödé\"} 1.5\n");
    assert_eq!(e.samples[0].value, 1.5);
    assert_eq!(
        labels(&e, 0),
        want(&[("model", "x} 999"), ("u", "a, b=c {d}"), ("w", "ünï cödé")])
    );
}

#[test]
fn label_set_shapes() {
    let e = ok("a{} 1\nb{x=\"1\",} 2\nc { x = \"1\" , y=\"2\" } 3\nd 4\n");
    assert_eq!(e.samples.len(), 4);
    assert_eq!(labels(&e, 0), want(&[]));
    assert_eq!(labels(&e, 1), want(&[("x", "1")]));
    assert_eq!(labels(&e, 2), want(&[("x", "1"), ("y", "2")]));
    assert_eq!(labels(&e, 3), want(&[]));
    assert_eq!(e.samples[3].value, 4.0);
    assert!(e.errors.is_empty());
}

#[test]
fn values_in_go_syntax() {
    let e =
        ok("a NaN\nb +Inf\nc -Inf\nd Inf\ne 9.223372036854776e+18\nf 1.35e-05\ng -0.5\nh 1E3\n");
    let v: Vec<f64> = e.samples.iter().map(|s| s.value).collect();
    assert!(v[0].is_nan());
    assert_eq!(
        &v[1..],
        &[
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            9.223372036854776e18,
            1.35e-05,
            -0.5,
            1000.0
        ]
    );
}

#[test]
fn timestamps_text_and_openmetrics() {
    let e = ok("a 1 1700000000123\nb 2 -5\n");
    assert_eq!(e.samples[0].timestamp_ms, Some(1_700_000_000_123));
    assert_eq!(e.samples[1].timestamp_ms, Some(-5));
    let e = ok("a 1 1700000000.123\n# EOF\n");
    assert_eq!(e.format, Some(Format::OpenMetrics));
    assert_eq!(e.samples[0].timestamp_ms, Some(1_700_000_000_123));
    // A float timestamp is only valid in OpenMetrics.
    assert_eq!(
        errors("a 1 1700000000.123\nb 2\n"),
        vec![(1, LineErrorKind::InvalidTimestamp)]
    );
}

#[test]
fn the_eof_line_that_selects_openmetrics_timestamps_allows_blanks_only() {
    // Seconds (OpenMetrics) when some line is `# EOF` with blanks around
    // its tokens; otherwise a float timestamp is invalid.
    for eof in ["# EOF", "#EOF", " \t#  EOF \r", "# EOF\n# EOF"] {
        let body = format!("a 1 1700000000.5\n{eof}\n");
        let e = ok(&body);
        assert_eq!(
            e.samples[0].timestamp_ms,
            Some(1_700_000_000_500),
            "{eof:?}"
        );
    }
    for not_eof in [
        "# EOFX",
        "# EO",
        "x # EOF",
        "## EOF",
        "# # EOF",
        "# E OF",
        "a{x=\"# EOF\"} 2",
        "#",
    ] {
        let body = format!("a 1 1700000000.5\nb 2\n{not_eof}\n");
        let e = parse(&body).unwrap();
        assert_eq!(
            e.errors.first().map(|x| (x.line, x.kind.clone())),
            Some((1, LineErrorKind::InvalidTimestamp)),
            "{not_eof:?}"
        );
    }
}

#[test]
fn exemplars_are_validated_and_skipped() {
    let body = "# TYPE h histogram\n\
                h_bucket{le=\"1\"} 3 # {trace_id=\"abc\"} 0.5 1700000000.5\n\
                h_bucket{le=\"+Inf\"} 4 1700000000 # {} 2\n\
                h_count 4 # {a=\"1\"}\n\
                h_sum 5 # x\n\
                # EOF\n";
    let e = ok(body);
    assert_eq!(e.samples.len(), 2);
    assert_eq!(e.samples[0].value, 3.0);
    assert_eq!(e.samples[1].timestamp_ms, Some(1_700_000_000_000));
    assert_eq!(
        e.errors
            .iter()
            .map(|e| (e.line, e.kind.clone()))
            .collect::<Vec<_>>(),
        vec![
            (4, LineErrorKind::InvalidExemplar),
            (5, LineErrorKind::InvalidExemplar)
        ]
    );
}

#[test]
fn crlf_blank_lines_and_whitespace() {
    let e = ok("# TYPE a gauge\r\n\r\n\t a{x=\"1\"}\t 2 \r\n\n  \nb 3\r\n");
    assert!(e.errors.is_empty(), "{:?}", e.errors);
    assert_eq!(e.samples.len(), 2);
    assert_eq!(e.samples[0].line, 3);
    assert_eq!(e.samples[1].line, 6);
    assert_eq!(e.families[0].kind, MetricType::Gauge);
    assert_eq!(labels(&e, 0), want(&[("x", "1")]));
}

#[test]
fn metadata_and_families() {
    let body = "# HELP req_total Requests \\\\ and\\nlines\n\
                # TYPE req_total counter\n\
                req_total{m=\"a\"} 1\n\
                req_total{m=\"b\"} 2\n\
                # HELP req_created Created\n\
                # TYPE req_created gauge\n\
                req_created{m=\"a\"} 1.7e9\n\
                # TYPE lat histogram\n\
                # UNIT lat seconds\n\
                lat_bucket{le=\"1.0\"} 1\n\
                lat_count 1\n\
                lat_sum 0.5\n\
                lat_created 1.7e9\n\
                other 7\n\
                other 8\n\
                # HELP idle An idle family\n\
                # TYPE idle counter\n";
    let e = ok(body);
    let fams: Vec<(&str, MetricType, Range<u32>)> = e
        .families
        .iter()
        .map(|f| (f.name, f.kind, f.samples.clone()))
        .collect();
    assert_eq!(
        fams,
        vec![
            ("req_total", MetricType::Counter, 0..2),
            ("req_created", MetricType::Gauge, 2..3),
            ("lat", MetricType::Histogram, 3..7),
            ("other", MetricType::Unknown, 7..9),
            ("idle", MetricType::Counter, 9..9),
        ]
    );
    assert_eq!(
        e.families[0].help.as_deref(),
        Some("Requests \\ and\nlines")
    );
    assert_eq!(e.families[2].unit, Some("seconds"));
    assert_eq!(e.families[4].help.as_deref(), Some("An idle family"));
    let fam_of: Vec<u32> = e.samples.iter().map(|s| s.family).collect();
    assert_eq!(fam_of, vec![0, 0, 1, 2, 2, 2, 2, 3, 3]);
}

#[test]
fn openmetrics_counter_suffixes() {
    let body = "# TYPE spend counter\n\
                spend_total{m=\"a\"} 1.5\n\
                spend_created{m=\"a\"} 1.7e9\n\
                spend_total{m=\"b\"} 2.5\n\
                spend_created{m=\"b\"} 1.7e9\n\
                # TYPE i info\n\
                i_info{v=\"1\"} 1\n\
                # TYPE g gaugehistogram\n\
                g_bucket{le=\"+Inf\"} 1\n\
                g_gcount 1\n\
                g_gsum 2\n\
                # TYPE s summary\n\
                s{quantile=\"0.5\"} 1\n\
                s_count 1\n\
                s_sum 1\n\
                s_bucket 1\n\
                # EOF\n";
    let e = ok(body);
    let fams: Vec<(&str, Range<u32>)> = e
        .families
        .iter()
        .map(|f| (f.name, f.samples.clone()))
        .collect();
    assert_eq!(
        fams,
        vec![
            ("spend", 0..4),
            ("i", 4..5),
            ("g", 5..8),
            ("s", 8..11),
            ("s_bucket", 11..12)
        ]
    );
}

#[test]
fn implicit_family_takes_exact_name_only() {
    let e = ok("a 1\na_total 2\na 3\n");
    let fams: Vec<(&str, Range<u32>)> = e
        .families
        .iter()
        .map(|f| (f.name, f.samples.clone()))
        .collect();
    assert_eq!(fams, vec![("a", 0..1), ("a_total", 1..2), ("a", 2..3)]);
}

#[test]
fn every_line_error_kind_with_its_line() {
    let body = "ok 1\n\
                9bad 1\n\
                x{1a=\"v\"} 1\n\
                x{a=v} 1\n\
                x{a=\"v} 1\n\
                x{a=\"\\t\"} 1\n\
                x{a \"v\"} 1\n\
                x{a=\"v\" b=\"w\"} 1\n\
                x{a=\"v\"\n\
                x\n\
                x 12abc\n\
                x 1 1.5\n\
                x 1 2 3\n\
                # TYPE x bogus\n\
                # TYPE\n\
                # HELP\n\
                # UNIT 9x s\n\
                x-y 1\n\
                x{a-b=\"v\"} 1\n\
                x{a=\"v\\\"} 1\n";
    assert_eq!(
        errors(body),
        vec![
            (2, LineErrorKind::InvalidMetricName),
            (3, LineErrorKind::InvalidLabelName),
            (4, LineErrorKind::UnterminatedLabelValue),
            (5, LineErrorKind::UnterminatedLabelValue),
            (6, LineErrorKind::InvalidEscape),
            (7, LineErrorKind::MalformedLabels),
            (8, LineErrorKind::MalformedLabels),
            (9, LineErrorKind::MalformedLabels),
            (10, LineErrorKind::InvalidValue),
            (11, LineErrorKind::InvalidValue),
            (12, LineErrorKind::InvalidTimestamp),
            (13, LineErrorKind::TrailingGarbage),
            (14, LineErrorKind::InvalidTypeLine),
            (15, LineErrorKind::InvalidTypeLine),
            (16, LineErrorKind::InvalidMetadataLine),
            (17, LineErrorKind::InvalidMetadataLine),
            (18, LineErrorKind::InvalidMetricName),
            (19, LineErrorKind::InvalidLabelName),
            (20, LineErrorKind::UnterminatedLabelValue),
        ]
    );
}

#[test]
fn error_lines_keep_no_labels_and_parsing_goes_on() {
    let e = ok("x{a=\"1\",b=\"2\",c=} 1\ny{d=\"4\"} 2\n");
    assert_eq!(e.samples.len(), 1);
    assert_eq!(e.labels.len(), 1);
    assert_eq!(labels(&e, 0), want(&[("d", "4")]));
    assert_eq!(e.errors[0].line, 1);
    assert_eq!(e.errors[0].snippet, "x{a=\"1\",b=\"2\",c=} 1");
}

#[test]
fn snippet_is_at_most_80_chars() {
    let line = format!("x{{a=\"{}", "é".repeat(200));
    let body = format!("ok 1\n{line}\n");
    let e = ok(&body);
    assert_eq!(e.errors[0].snippet.chars().count(), 80);
    assert!(line.starts_with(&e.errors[0].snippet));
}

#[test]
fn content_after_eof() {
    let e = ok("a 1\n# EOF\nb 2\n\n# EOF\n");
    assert_eq!(e.format, Some(Format::OpenMetrics));
    assert_eq!(e.samples.len(), 1);
    assert_eq!(
        e.errors
            .iter()
            .map(|e| (e.line, e.kind.clone()))
            .collect::<Vec<_>>(),
        vec![(3, LineErrorKind::AfterEof), (5, LineErrorKind::AfterEof)]
    );
}

#[test]
fn plain_comments_are_ignored() {
    let e = ok("# a comment\n#HELPER x\n# EOFX\nx 1\n");
    assert_eq!(e.format, Some(Format::PrometheusText));
    assert_eq!(e.samples.len(), 1);
    assert!(e.families.iter().all(|f| f.help.is_none()));
}

#[test]
fn metadata_only_body_is_valid() {
    let e = ok("# HELP a x\n# TYPE a counter\n");
    assert_eq!(e.samples.len(), 0);
    assert_eq!(e.families.len(), 1);
    let e = ok("# EOF\n");
    assert_eq!(e.format, Some(Format::OpenMetrics));
    assert!(e.families.is_empty());
}

#[test]
fn body_errors() {
    assert_eq!(parse(""), Err(BodyError::Empty));
    assert_eq!(parse(" \n\r\n\t"), Err(BodyError::Empty));
    assert_eq!(parse("<!DOCTYPE html><html></html>"), Err(BodyError::Html));
    assert_eq!(parse("\n  <html>"), Err(BodyError::Html));
    assert_eq!(parse("{\"error\": \"401\"}"), Err(BodyError::Json));
    assert_eq!(parse("[1,2]"), Err(BodyError::Json));
    assert_eq!(parse("\"Unauthorized\""), Err(BodyError::Json));
    assert_eq!(
        parse("Internal Server Error\nsorry\n"),
        Err(BodyError::NoValidLines(LineError {
            line: 1,
            kind: LineErrorKind::InvalidValue,
            snippet: "Internal Server Error".into()
        }))
    );
    assert_eq!(
        parse("\n# only a comment\n"),
        Err(BodyError::NoValidLines(LineError {
            line: 2,
            kind: LineErrorKind::CommentsOnly,
            snippet: "# only a comment".into()
        }))
    );
}

#[test]
fn invalid_utf8_lines_are_reported_and_skipped() {
    let body = b"a 1\nb{x=\"\xff\xfe\"} 2\nc 3\n";
    let e = parse_bytes(body).unwrap();
    assert_eq!(e.samples.len(), 2);
    assert_eq!(e.samples[1].name, "c");
    assert_eq!(e.samples[1].line, 3);
    assert_eq!(e.errors.len(), 1);
    assert_eq!(e.errors[0].line, 2);
    assert_eq!(e.errors[0].kind, LineErrorKind::InvalidUtf8);
    assert_eq!(e.errors[0].snippet, "b{x=\"\u{fffd}\u{fffd}\"} 2");
    assert_eq!(
        parse_bytes(b"\xff\xfe"),
        Err(BodyError::NoValidLines(LineError {
            line: 1,
            kind: LineErrorKind::InvalidUtf8,
            snippet: "\u{fffd}\u{fffd}".into()
        }))
    );
}

#[test]
fn hostile_inputs_terminate() {
    for body in [
        "\\",
        "\"",
        "x{",
        "x{a",
        "x{a=",
        "x{a=\"",
        "x{a=\"\\",
        "x}",
        "x{{}} 1",
        "x\0 1",
        "\0",
        "#",
        "# TYPE",
        "# HELP x",
        "x 1 # {",
        "x 1 # {a=\"",
        "}}}{{{",
    ] {
        let _ = parse(body);
        let _ = scan_sample_totals(body);
    }
    let huge = format!("x{{a=\"{}\"}} 1\n", "y".repeat(1 << 20));
    let e = ok(&huge);
    assert_eq!(e.labels[0].value().len(), 1 << 20);
}

#[test]
fn totals_skip_nan_and_keep_first_seen_order() {
    let body = "b 1\na 2\nb 0.5\nc NaN\na +Inf\nb NaN\nbad{ 3\n";
    let e = ok(body);
    let t = sample_totals(&e);
    assert_eq!(t, vec![("b", 1.5), ("a", f64::INFINITY)]);
    assert_eq!(scan_sample_totals(body).unwrap(), t);
}

proptest::proptest! {
    /// Totals are a plain per-name fold in body order, whatever the name
    /// caches hit: runs, alternation (Python's `_total`/`_created`) and
    /// returns to an older name.
    #[test]
    fn totals_are_a_first_seen_fold_of_the_samples(
        lines in proptest::collection::vec((0usize..4, 0usize..5), 1..60),
    ) {
        let names = ["a_total", "a_created", "b", "c_total"];
        let values = ["1", "0.25", "NaN", "+Inf", "-3e-2"];
        let body: String = lines
            .iter()
            .map(|&(n, v)| format!("{}{{k=\"x\"}} {}\n", names[n], values[v]))
            .collect();
        let mut want: Vec<(&str, f64)> = Vec::new();
        for &(n, v) in &lines {
            let value: f64 = values[v].parse().unwrap();
            if value.is_nan() {
                continue;
            }
            match want.iter_mut().find(|(name, _)| *name == names[n]) {
                Some(entry) => entry.1 += value,
                None => want.push((names[n], value)),
            }
        }
        let e = ok(&body);
        let got = sample_totals(&e);
        proptest::prop_assert_eq!(
            got.iter().map(|(n, v)| (*n, v.to_bits())).collect::<Vec<_>>(),
            want.iter().map(|(n, v)| (*n, v.to_bits())).collect::<Vec<_>>()
        );
        proptest::prop_assert_eq!(scan_sample_totals(&body).unwrap(), got);
    }
}

#[test]
fn family_totals_sum_parts_and_split_families_into_one_entry() {
    let body = "# TYPE a_total counter\na_total{m=\"x\"} 1.5\na_total{m=\"y\"} 2\n\
                # TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 4\nh_sum 0.25\nh_count 4\n\
                # TYPE n gauge\nn NaN\n# TYPE g gauge\ng -1\n\
                # TYPE a_total counter\na_total{m=\"z\"} 0.5\n";
    let e = ok(body);
    assert_eq!(e.families.len(), 5);
    assert_eq!(
        family_totals(&e),
        vec![("a_total", 4.0), ("h", 11.25), ("g", -1.0)]
    );
}

#[test]
fn scan_totals_reports_the_same_body_errors() {
    for body in ["", "<html>", "{}", "nonsense here\n", "# c\n", "\\"] {
        assert_eq!(
            scan_sample_totals(body).map(|_| ()),
            parse(body).map(|_| ()),
            "{body:?}"
        );
    }
}

#[test]
fn openmetrics_keeps_other_escapes_as_written() {
    // ABNF `escaped-char =/ BS normal-char`: valid OpenMetrics, and the
    // backslash stands for itself (the reference parser's label escaping cases).
    let body = "# TYPE a counter\n# HELP a help\n\
                a_total{foo=\"b\\\\a\\z\"} 2\n\
                a_total{foo=\"\\foo\",bar=\"baz\"} 1\n\
                a_total{foo=\"\\\\\\n\\é\\\"\"} 3\n\
                # EOF\n";
    let e = ok(body);
    assert!(e.errors.is_empty(), "{:?}", e.errors);
    assert_eq!(labels(&e, 0), want(&[("foo", "b\\a\\z")]));
    assert_eq!(labels(&e, 1), want(&[("foo", "\\foo"), ("bar", "baz")]));
    assert_eq!(labels(&e, 2), want(&[("foo", "\\\n\\é\"")]));
    assert_eq!(scan_sample_totals(body).unwrap(), vec![("a_total", 6.0)]);
    // `\z` and `\\z` are written differently and decode to the same value.
    let twin = ok("a{x=\"\\z\"} 1\nb{x=\"\\\\z\"} 1\n# EOF\n");
    assert_eq!(
        twin.labels_of(&twin.samples[0]),
        twin.labels_of(&twin.samples[1])
    );
    // The text format has only `\\`, `\"` and `\n`.
    assert_eq!(
        errors("ok 1\na{foo=\"\\z\"} 1\n"),
        vec![(2, LineErrorKind::InvalidEscape)]
    );
}

#[test]
fn openmetrics_timestamp_beyond_i64_milliseconds_is_kept() {
    // `timestamp = realnumber`: 20 integer digits and 10 decimals are valid;
    // the sample is kept without a millisecond timestamp.
    let e = ok("# TYPE a counter\n\
                a_total{foo=\"4\"} 1 12345678901234567890.1234567890\n\
                a_total{foo=\"5\"} 1 1.5e3\n\
                # EOF\n");
    assert!(e.errors.is_empty(), "{:?}", e.errors);
    assert_eq!(e.samples.len(), 2);
    assert_eq!(e.samples[0].timestamp_ms, None);
    assert_eq!(e.samples[1].timestamp_ms, Some(1_500_000));
    // Not a number at all is still an error.
    assert_eq!(
        errors("ok 1\na 1 NaN\n# EOF\n"),
        vec![(2, LineErrorKind::InvalidTimestamp)]
    );
}

#[cfg(feature = "memo")]
#[test]
fn a_memo_parse_hands_a_run_of_one_name_the_same_str() {
    let body = b"a_total{x=\"1\"} 1\na_total{x=\"2\"} 2\nb_created 5\na_total{x=\"3\"} 3\n\
        b_created 6\nc 1\na_total 4\n";
    let (expo, _) = parse_memo(body, 7, None, |_| None, |_| false).unwrap();
    let names: Vec<&str> = expo.samples.iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "a_total",
            "a_total",
            "b_created",
            "a_total",
            "b_created",
            "c",
            "a_total"
        ]
    );
    let at = |i: usize| names[i].as_ptr();
    // The two latest names are reused, alternating or not...
    assert_eq!([at(1), at(3)], [at(0), at(0)]);
    assert_eq!(at(4), at(2));
    // ...a name three names back is not, though it compares equal.
    assert_ne!(at(6), at(0));
    assert!(same_name(names[6], names[0]) && !same_name(names[5], names[0]));
    // Totals are those of a plain parse.
    assert_eq!(
        sample_totals(&expo),
        sample_totals(&ok(std::str::from_utf8(body).unwrap()))
    );
}

#[cfg(feature = "memo")]
#[test]
fn a_memo_parse_checks_deferred_lines_but_keeps_no_labels() {
    let text = "# TYPE a counter\na_total{x=\"1\",y=\"2\"} 1\nb{x=\"3\"} 2\n\
        a_total{x=\"1\" 3\na_total{1x=\"1\"} 4\na_total 5 1700000000\na_totals{x=\"4\"} 6\n";
    let plain = ok(text);
    let (expo, keys) =
        parse_memo(text.as_bytes(), 7, None, |_| None, |name| name == "a_total").unwrap();
    // The same lines are rejected, for the same reasons...
    assert_eq!(expo.errors, plain.errors);
    assert_eq!(expo.errors.len(), 2, "{:?}", expo.errors);
    let rows: Vec<(&str, f64, usize, bool)> = expo
        .samples
        .iter()
        .zip(&keys)
        .map(|(s, k)| (s.name, s.value, expo.labels_of(s).len(), k.deferred))
        .collect();
    // ...and only the lines that start with a deferred name keep no labels.
    assert_eq!(
        rows,
        [
            ("a_total", 1.0, 0, true),
            ("b", 2.0, 1, false),
            ("a_total", 5.0, 0, true),
            ("a_totals", 6.0, 1, false),
        ]
    );
    // Lexing a deferred line again gives the labels a plain parse has.
    let k = keys[0];
    let mut again = Vec::new();
    assert!(relex(
        &text[k.start as usize..k.end as usize],
        false,
        &mut again
    ));
    assert_eq!(again, plain.labels_of(&plain.samples[0]));
}
