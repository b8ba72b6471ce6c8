//! One test per rule, each with a minimal document and the rule's words
//! from the specification (OpenMetrics 1.0, `OpenMetrics.md`; the text
//! format 0.0.4, "Exposition formats" of the Prometheus documentation).

use super::ProblemKind::{self, *};
use super::{Format, validate, validate_as};

fn problems(body: &str, format: Format) -> Vec<(u32, ProblemKind)> {
    validate_as(body.as_bytes(), format)
        .problems
        .iter()
        .map(|p| (p.line, p.kind))
        .collect()
}

#[track_caller]
fn om(body: &str, expected: &[(u32, ProblemKind)]) {
    assert_eq!(problems(body, Format::OpenMetrics), expected, "{body:?}");
}

#[track_caller]
fn text(body: &str, expected: &[(u32, ProblemKind)]) {
    assert_eq!(problems(body, Format::PrometheusText), expected, "{body:?}");
}

#[track_caller]
fn om_valid(body: &str) {
    om(body, &[]);
}

#[track_caller]
fn text_valid(body: &str) {
    text(body, &[]);
}

// ------------------------------------------------------------ the whole body

#[test]
fn format_detection() {
    assert_eq!(validate("a 1\n# EOF\n").format, Format::OpenMetrics);
    assert_eq!(validate("a 1\n").format, Format::PrometheusText);
    assert_eq!(validate("").format, Format::OpenMetrics);
    assert!(validate("a 1\n").is_valid());
}

#[test]
fn eof_must_end_the_exposition() {
    // "Expositions MUST end with EOF and SHOULD end with 'EOF\n'."
    // ABNF: exposition = metricset HASH SP eof [ LF ]
    om("", &[(1, MissingEof)]);
    om("a 1\n", &[(1, MissingEof)]);
    om_valid("a 1\n# EOF");
    om("a 1\n# EOF\nblah", &[(3, ContentAfterEof)]);
    om("a 1\n# EOF\n\n", &[(3, ContentAfterEof)]);
    om("a 1\n# EOF\n# EOF\n", &[(3, ContentAfterEof)]);
    om("a 1\n# EOFblah\n", &[(2, InvalidComment), (2, MissingEof)]);
}

#[test]
fn no_blank_lines_in_openmetrics() {
    // The ABNF has no empty line; text 0.0.4: "Empty lines are ignored."
    om("a 1\n\n# EOF\n", &[(2, BlankLine)]);
    text_valid("a 1\n\nb 2\n");
}

#[test]
fn utf8_without_bom() {
    // "UTF-8 MUST be used. Byte order markers (BOMs) MUST NOT be used."
    om("\u{feff}a 1\n# EOF\n", &[(1, ByteOrderMark)]);
    let body = b"a{x=\"\xff\"} 1\n# EOF\n";
    assert_eq!(
        validate_as(body, Format::OpenMetrics).problems[0].kind,
        InvalidUtf8
    );
}

#[test]
fn line_feed_without_carriage_return() {
    // "Line endings MUST be signalled with line feed (\n) and MUST NOT
    // contain carriage returns (\r)."
    om("a 1\r\n# EOF\n", &[(1, CarriageReturn)]);
    text("a 1\r\n", &[(1, CarriageReturn)]);
}

#[test]
fn text_last_line_ends_with_line_feed() {
    // 0.0.4: "The last line must end with a line-feed character."
    text("a 1", &[(1, MissingFinalNewline)]);
    text_valid("a 1\n");
}

#[test]
fn no_other_comment_lines_in_openmetrics() {
    // "Aside from this metadata and the EOF line at the end of the message,
    // you MUST NOT expose lines beginning with a #."
    om("# hello\na 1\n# EOF\n", &[(1, InvalidComment)]);
    om("# FOO a x\n# EOF\n", &[(1, InvalidComment)]);
    // 0.0.4: other comments "are ignored".
    text_valid("# hello\na 1\n");
}

// ------------------------------------------------------------------ metadata

#[test]
fn metadata_line_grammar() {
    // ABNF: HASH SP type SP metricname SP metric-type LF (and help, unit)
    for bad in [
        "# HELP\n",
        "# HELP \n",
        "# HELP a\n",
        "# HELP a\t\n",
        "# TYPE\n",
        "# TYPE a\n",
        "# TYPE a meh\n",
        "# TYPE a gauge \n",
        "# TYPE a untyped\n",
        "# UNIT\n",
        "# UNIT a\n",
        "# UNIT a_seconds seconds \n",
    ] {
        let body = format!("{bad}# EOF\n");
        assert_eq!(
            problems(&body, Format::OpenMetrics).first().map(|p| p.1),
            Some(InvalidMetadata),
            "{bad:?}"
        );
    }
    // "The value of a UNIT or HELP line MAY be empty."
    om_valid("# HELP a \n# UNIT a \n# EOF\n");
    // 0.0.4: "If the token is TYPE, exactly two more tokens are expected
    // ... counter, gauge, histogram, summary, or untyped".
    text("# TYPE a gauge extra\na 1\n", &[(1, InvalidMetadata)]);
    text("# TYPE a unknown\na 1\n", &[(1, InvalidMetadata)]);
    text("# HELP\n", &[(1, InvalidMetadata)]);
    text_valid("#  TYPE a\tuntyped \n# HELP a\na 1\n");
}

#[test]
fn help_text_escapes() {
    // ABNF escaped-string: a raw DQUOTE is not a normal-char, and BS must be
    // followed by a character. 0.0.4: "the backslash and the line-feed
    // characters have to be escaped as \\ and \n".
    om("# HELP a say \"hi\"\n# EOF\n", &[(1, InvalidEscape)]);
    om("# HELP a tail\\\n# EOF\n", &[(1, InvalidEscape)]);
    om_valid("# HELP a he\\n\\\\l\\tp \\\"q\\\"\n# EOF\n");
    text("# HELP a C:\\dir\na 1\n", &[(1, InvalidEscape)]);
    text_valid("# HELP a C:\\\\dir \"quoted\"\\n\na 1\n");
}

#[test]
fn metadata_once_per_family() {
    // "There MUST NOT be more than one of each type of metadata line for a
    // MetricFamily." 0.0.4: "Only one HELP line may exist for the same
    // metric name." / "Only one TYPE line may exist for the same metric name."
    om("# HELP a x\n# HELP a x\n# EOF\n", &[(2, DuplicateMetadata)]);
    om(
        "# TYPE a gauge\n# TYPE a gauge\n# EOF\n",
        &[(2, DuplicateMetadata)],
    );
    om(
        "# UNIT a_s s\n# UNIT a_s s\n# EOF\n",
        &[(2, DuplicateMetadata)],
    );
    text(
        "# TYPE a gauge\n# TYPE a gauge\na 1\n",
        &[(2, DuplicateMetadata)],
    );
}

#[test]
fn metadata_before_samples() {
    // OpenMetrics: metricfamily = *metric-descriptor *metric.
    // 0.0.4: "The TYPE line for a metric name has to appear before the first
    // sample is reported for that metric name."
    om(
        "# HELP a x\na 1\n# TYPE a gauge\n# EOF\n",
        &[(3, MetadataAfterSamples)],
    );
    om(
        "# TYPE a_s gauge\na_s 1\n# UNIT a_s s\n# EOF\n",
        &[(3, MetadataAfterSamples)],
    );
    text("a 1\n# TYPE a gauge\n", &[(2, MetadataAfterSamples)]);
    // "If no TYPE is exposed, the MetricFamily MUST be of type Unknown."
    om_valid("# HELP a x\na 1\n# EOF\n");
}

#[test]
fn families_are_not_interleaved() {
    // "MetricFamilies MUST NOT be interleaved." / "Each MetricFamily name
    // MUST be unique." 0.0.4: "All lines for a given metric must be provided
    // as one uninterrupted group".
    om(
        "# TYPE a counter\na_total 1\n# TYPE b gauge\nb 1\na_total 2\n# EOF\n",
        &[(5, NameClash)],
    );
    om(
        "# TYPE a gauge\na 1\nb 1\na 2\n# EOF\n",
        &[(4, FamilyInterleaved)],
    );
    text("a 1\nb 1\na 2\n", &[(3, FamilyInterleaved)]);
}

#[test]
fn family_names_do_not_clash() {
    // "The name of a MetricFamily MUST NOT result in a potential clash for
    // sample metric names as per the ABNF with another MetricFamily in the
    // Text Format within a MetricSet."
    om(
        "# TYPE a_created gauge\n# TYPE a counter\n# EOF\n",
        &[(2, NameClash)],
    );
    om(
        "# TYPE a info\n# TYPE a counter\n# EOF\n",
        &[(2, DuplicateMetadata)],
    );
    om_valid("# TYPE a gauge\na 1\n# TYPE a_total gauge\na_total 1\n# EOF\n");
}

#[test]
fn reserved_leading_underscore() {
    // "Label names beginning with underscores are RESERVED and MUST NOT be
    // used unless specified by this standard." / "MetricFamily names
    // beginning with underscores are RESERVED and MUST NOT be used".
    om("a{_x=\"1\"} 1\n# EOF\n", &[(1, ReservedName)]);
    om("_a 1\n# EOF\n", &[(1, ReservedName)]);
    text_valid("_a{_x=\"1\"} 1\n");
}

#[test]
fn unit_is_the_name_suffix() {
    // "If non-empty, it MUST be a suffix of the MetricFamily name separated
    // by an underscore."
    om(
        "# TYPE a counter\n# UNIT a seconds\n# EOF\n",
        &[(2, UnitMismatch)],
    );
    om_valid("# TYPE a_seconds counter\n# UNIT a_seconds seconds\na_seconds_total 1\n# EOF\n");
}

#[test]
fn info_and_stateset_have_no_unit() {
    // "MetricFamilies of type Info MUST have an empty Unit string." (and
    // "MetricFamilies of type StateSets MUST have an empty Unit string.")
    om(
        "# TYPE x_u info\n# UNIT x_u u\n# EOF\n",
        &[(2, UnitNotAllowed)],
    );
    om(
        "# TYPE x_u stateset\n# UNIT x_u u\n# EOF\n",
        &[(2, UnitNotAllowed)],
    );
}

// ------------------------------------------------------------- sample syntax

#[test]
fn metric_name_grammar() {
    // metricname = metricname-initial-char 0*metricname-char
    for bad in ["0a 1", "a.b 1", "a-b 1", " a 1"] {
        om(&format!("{bad}\n# EOF\n"), &[(1, InvalidMetricName)]);
    }
    text("a.b 1\n", &[(1, InvalidMetricName)]);
    om_valid("a:b_c9 1\n# EOF\n");
}

#[test]
fn label_name_grammar() {
    // label-name = label-name-initial-char *label-name-char (no colon)
    om("a{1=\"1\"} 1\n# EOF\n", &[(1, InvalidLabelName)]);
    om("a{a:b=\"1\"} 1\n# EOF\n", &[(1, MalformedLabels)]);
    text("a{1=\"1\"} 1\n", &[(1, InvalidLabelName)]);
}

#[test]
fn label_set_grammar() {
    // labels = "{" [label *(COMMA label)] "}"
    // label = label-name EQ DQUOTE escaped-string DQUOTE
    for bad in [
        "a{a=1} 1",
        "a{a=\"1} 1",
        "a{a='1'} 1",
        "a{a} 1",
        "a{a\"value\"} 1",
        "a{a=} 1",
        "a{a=\"1\"b=\"2\"} 1",
        "a{a=\"1\",,b=\"2\"} 1",
        "a{a=\"1\",b=\"2\",} 1",
        "a{a=\"1\", b=\"2\"} 1",
        "a{a=\"1\"}1",
    ] {
        let body = format!("{bad}\n# EOF\n");
        assert!(
            matches!(
                problems(&body, Format::OpenMetrics).first(),
                Some((1, MalformedLabels | InvalidLabelName))
            ),
            "{bad:?}: {:?}",
            problems(&body, Format::OpenMetrics)
        );
    }
    // 0.0.4 EBNF: blanks between tokens and a trailing comma are allowed.
    text_valid("a { a = \"1\" , b=\"2\", } 1\n");
    text("a{a=\"1\" b=\"2\"} 1\n", &[(1, MalformedLabels)]);
    om_valid("a{} 1\na_b{a=\"b{a}z\",c=\"\"} 1\n# EOF\n");
}

#[test]
fn label_value_escapes() {
    // ABNF: escaped-char =/ BS normal-char -- a backslash before any other
    // character is valid OpenMetrics (and stands for itself). 0.0.4: "the
    // backslash, the double-quote, and the line-feed characters have to be
    // escaped as \\, \", and \n".
    om_valid("a{a=\"b\\\\a\\z\",b=\"\\t\"} 1\n# EOF\n");
    text("a{a=\"\\t\"} 1\n", &[(1, InvalidEscape)]);
    text_valid("a{a=\"C:\\\\DIR\",b=\"\\\"x\\\"\\n\"} 1\n");
}

#[test]
fn label_names_are_unique() {
    // "Label names MUST be unique within a LabelSet."
    om("a{a=\"1\",a=\"1\"} 1\n# EOF\n", &[(1, DuplicateLabelName)]);
    text("a{a=\"1\",a=\"2\"} 1\n", &[(1, DuplicateLabelName)]);
}

#[test]
fn value_grammar() {
    // number = realnumber / [SIGN] ("inf" / "infinity") / "nan"; realnumber
    // has no underscores, hex or binary. "Floating point numbers MUST fit
    // within the range of a 64-bit floating point value".
    for bad in [
        "a a", "a  1", "a 1\t", "a 1_2", "a 0x1p-3", "a 0b1", "a 0x1", "a 0o1", "a 1e400", "a",
        "a ",
    ] {
        let body = format!("{bad}\n# EOF\n");
        let kinds: Vec<ProblemKind> = problems(&body, Format::OpenMetrics)
            .iter()
            .map(|p| p.1)
            .collect();
        assert!(
            kinds == [InvalidValue] || kinds == [TrailingText],
            "{bad:?}: {kinds:?}"
        );
    }
    om_valid(
        "a 0000000000000000000000000000000000000000001.2e-1\nb NaN\nc -Inf\nd +infinity\ne 1.\nf .5\n# EOF\n",
    );
    text("a 12abc\n", &[(1, InvalidValue)]);
    text_valid("a Nan\nb +Inf\nc 1.458255915e9\n");
}

#[test]
fn trailing_spaces() {
    // sample = metricname [labels] SP number [SP timestamp] [exemplar] LF
    om("a 1 \n# EOF\n", &[(1, TrailingText)]);
    om("a 1 1 x\n# EOF\n", &[(1, TrailingText)]);
    // 0.0.4: "Leading and trailing whitespace is ignored."
    text_valid("  a 1 \t\n");
}

#[test]
fn timestamp_grammar() {
    // timestamp = realnumber; "Timestamps MUST be Unix Epoch in seconds."
    for bad in [
        "z", "1z", "1_2", "1.1.1", "NaN", "Inf", "+Inf", "-Inf", "0x1p-3",
    ] {
        om(&format!("a 1 {bad}\n# EOF\n"), &[(1, InvalidTimestamp)]);
    }
    om_valid(
        "a{a=\"1\"} 1 000\na{a=\"2\"} 1 1.5e3\na{a=\"3\"} 1 12345678901234567890.1234567890\n# EOF\n",
    );
    // 0.0.4: "timestamp an int64 (milliseconds since epoch ...)"
    text("a 1 1.5\n", &[(1, InvalidTimestamp)]);
    text("a 1 99999999999999999999\n", &[(1, InvalidTimestamp)]);
    text_valid("a 1 -3982045\n");
}

// ------------------------------------------------------------------ counters

#[test]
fn counter_total_suffix() {
    // "The MetricPoint's Total Value Sample MetricName MUST have the suffix
    // "_total"."
    om("# TYPE a counter\na 1\n# EOF\n", &[(2, WrongSuffix)]);
    om_valid("# TYPE a counter\na_total 1\na_created 1520430000.123\n# EOF\n");
    // 0.0.4 has no suffix rule.
    text_valid("# TYPE a counter\na 1\n");
}

#[test]
fn counter_values_are_not_nan_or_negative() {
    // "A Total is a non-NaN and MUST be monotonically non-decreasing over
    // time, starting from 0."
    om("# TYPE a counter\na_total NaN\n# EOF\n", &[(2, NanValue)]);
    om(
        "# TYPE a counter\na_total -1\n# EOF\n",
        &[(2, NegativeValue)],
    );
    om_valid("# TYPE a counter\na_total 0\n# EOF\n");
}

// ---------------------------------------------------------------- histograms

#[test]
fn histogram_bucket_suffix_and_le() {
    // "The MetricPoint's Bucket Values Sample MetricNames MUST have the suffix
    // "_bucket"." / "Every bucket MUST have a threshold and a value."
    om("# TYPE a histogram\na 1\n# EOF\n", &[(2, WrongSuffix)]);
    om(
        "# TYPE a histogram\na_bucket 0\n# EOF\n",
        &[(2, MissingLabel)],
    );
    om(
        "# TYPE a gaugehistogram\na_bucket 0\n# EOF\n",
        &[(2, MissingLabel)],
    );
    text("# TYPE a histogram\na_bucket 0\n", &[(2, MissingLabel)]);
}

#[test]
fn le_is_a_number_and_inf_is_canonical() {
    // "Bucket thresholds MUST NOT equal NaN." / "Exposers MUST produce output
    // for positive infinity as +Inf."
    om(
        "# TYPE a histogram\na_bucket{le=\"NaN\"} 0\n# EOF\n",
        &[(2, InvalidLabelValue)],
    );
    om(
        "# TYPE a histogram\na_bucket{le=\"+INF\"} 0\n# EOF\n",
        &[(2, InvalidLabelValue)],
    );
    om(
        "# TYPE a histogram\na_bucket{le=\"x\"} 0\n# EOF\n",
        &[(2, InvalidLabelValue)],
    );
    // "Parsers MUST NOT reject inputs which are outside of the canonical
    // values merely because they are not consistent with the canonical values."
    om_valid(
        "# TYPE a histogram\na_bucket{le=\"0\"} 0\na_bucket{le=\"1e-04\"} 0\na_bucket{le=\"1.1e-4\"} 0\na_bucket{le=\"10000000000\"} 0\na_bucket{le=\"+Inf\"} 3\na_count 3\na_sum 2\n# EOF\n",
    );
}

#[test]
fn histogram_has_an_inf_bucket() {
    // "Histogram MetricPoints MUST have one bucket with an +Inf threshold."
    // 0.0.4: "A histogram must have a bucket with {le="+Inf"}."
    om(
        "# TYPE a histogram\na_bucket{le=\"1\"} 0\n# EOF\n",
        &[(2, MissingInfBucket)],
    );
    // "A Histogram MetricPoint MUST contain at least one bucket"
    om(
        "# TYPE a histogram\na_sum 1\na_count 1\n# EOF\n",
        &[(3, MissingInfBucket)],
    );
    text(
        "# TYPE a histogram\na_bucket{le=\"1\"} 0\na_count 0\n",
        &[(3, MissingInfBucket)],
    );
}

#[test]
fn histogram_buckets_sorted_by_le() {
    // "Buckets MUST be sorted in number increasing order of "le"" /
    // "Bucket thresholds within a MetricPoint MUST be unique."
    // 0.0.4: "The buckets of a histogram ... must appear in increasing
    // numerical order of their label values".
    om(
        "# TYPE a histogram\na_bucket{le=\"2\"} 0\na_bucket{le=\"1\"} 0\na_bucket{le=\"+Inf\"} 0\n# EOF\n",
        &[(3, BucketOrder)],
    );
    om(
        "# TYPE a histogram\na_bucket{le=\"1\"} 0\na_bucket{le=\"1.0\"} 0\na_bucket{le=\"+Inf\"} 0\n# EOF\n",
        &[(3, BucketOrder)],
    );
    text(
        "# TYPE a histogram\na_bucket{le=\"+Inf\"} 0\na_bucket{le=\"1\"} 0\n",
        &[(3, BucketOrder)],
    );
}

#[test]
fn histogram_buckets_are_cumulative() {
    // "Buckets MUST be cumulative. ... value_1 <= value_2 <= value_3 <= value_+Inf"
    om(
        "# TYPE a histogram\na_bucket{le=\"1\"} 1\na_bucket{le=\"2\"} 1\na_bucket{le=\"+Inf\"} 0\n# EOF\n",
        &[(4, BucketNotCumulative)],
    );
}

#[test]
fn histogram_count_equals_the_inf_bucket() {
    // "If and only if a Sum Value is present in a MetricPoint, then the
    // MetricPoint's +Inf Bucket value MUST also appear in a Sample with a
    // MetricName with the suffix "_count"." 0.0.4: "Its value must be
    // identical to the value of x_count."
    om(
        "# TYPE a histogram\na_bucket{le=\"+Inf\"} 0\na_count 1\na_sum 0\n# EOF\n",
        &[(4, CountMismatch)],
    );
    text(
        "# TYPE a histogram\na_bucket{le=\"+Inf\"} 0\na_count 1\n",
        &[(3, CountMismatch)],
    );
}

#[test]
fn histogram_sum_if_and_only_if_count() {
    // "If and only if a Sum Value is present ... _count."
    om(
        "# TYPE a histogram\na_bucket{le=\"+Inf\"} 0\na_sum 0\n# EOF\n",
        &[(3, SumCountPairing)],
    );
    om(
        "# TYPE a histogram\na_bucket{le=\"+Inf\"} 0\na_count 0\n# EOF\n",
        &[(3, SumCountPairing)],
    );
    om(
        "# TYPE a gaugehistogram\na_bucket{le=\"+Inf\"} 0\na_gsum 0\n# EOF\n",
        &[(3, SumCountPairing)],
    );
    om(
        "# TYPE a gaugehistogram\na_bucket{le=\"+Inf\"} 0\na_gcount 0\n# EOF\n",
        &[(3, SumCountPairing)],
    );
}

#[test]
fn histogram_values_are_counters() {
    // "Semantically, Sum, and buckets values are counters so MUST NOT be NaN
    // or negative." / "Count and bucket values MUST be integers."
    om(
        "# TYPE a histogram\na_bucket{le=\"+Inf\"} NaN\n# EOF\n",
        &[(2, NanValue)],
    );
    om(
        "# TYPE a histogram\na_bucket{le=\"+Inf\"} -1\n# EOF\n",
        &[(2, NegativeValue)],
    );
    om(
        "# TYPE a histogram\na_bucket{le=\"+Inf\"} 0.5\n# EOF\n",
        &[(2, NonIntegerValue)],
    );
    om(
        "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_count 1\na_sum NaN\n# EOF\n",
        &[(4, NanValue)],
    );
    om(
        "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_count 1\na_sum -1\n# EOF\n",
        &[(4, NegativeValue)],
    );
    om(
        "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_count 1.5\na_sum 1\n# EOF\n",
        &[(3, NonIntegerValue), (4, CountMismatch)],
    );
    om_valid(
        "# TYPE a histogram\na_bucket{le=\"1.0\"} 0.0\na_bucket{le=\"+Inf\"} 3.0\na_count 3.0\na_sum 2.0\n# EOF\n",
    );
}

#[test]
fn histogram_with_negative_buckets_has_no_sum() {
    // "Negative threshold buckets MAY be used, but then the Histogram
    // MetricPoint MUST NOT contain a sum value"
    om(
        "# TYPE a histogram\na_bucket{le=\"-1\"} 0\na_bucket{le=\"+Inf\"} 0\na_sum 0\na_count 0\n# EOF\n",
        &[(5, SumWithNegativeBuckets)],
    );
    om_valid(
        "# TYPE a histogram\na_bucket{le=\"-1.0\"} 0\na_bucket{le=\"1.0\"} 1\na_bucket{le=\"+Inf\"} 3\n# EOF\n",
    );
}

#[test]
fn histogram_metric_has_no_le_label() {
    // "A Histogram's Metric's LabelSet MUST NOT have a "le" label name."
    om(
        "# TYPE a histogram\na_bucket{le=\"+Inf\"} 0\na_count{le=\"1\"} 0\na_sum{le=\"1\"} 0\n# EOF\n",
        &[(3, ReservedLabel), (4, ReservedLabel)],
    );
}

#[test]
fn gaugehistogram_rules() {
    // "The buckets for a GaugeHistogram follow all the same rules as for a
    // Histogram." / "bucket values MUST NOT be negative or NaN. If negative
    // threshold buckets are present, then sum MAY be negative. Gsum MUST
    // NOT be NaN. Bucket values MUST be integers."
    om(
        "# TYPE a gaugehistogram\na_bucket{le=\"+Inf\"} NaN\n# EOF\n",
        &[(2, NanValue)],
    );
    om(
        "# TYPE a gaugehistogram\na_bucket{le=\"+Inf\"} -1\n# EOF\n",
        &[(2, NegativeValue)],
    );
    om(
        "# TYPE a gaugehistogram\na_bucket{le=\"+Inf\"} 0.5\n# EOF\n",
        &[(2, NonIntegerValue)],
    );
    om(
        "# TYPE a gaugehistogram\na_bucket{le=\"+Inf\"} 1\na_gcount 1\na_gsum NaN\n# EOF\n",
        &[(4, NanValue)],
    );
    om(
        "# TYPE a gaugehistogram\na_bucket{le=\"+Inf\"} 1\na_gsum -1\na_gcount 1\n# EOF\n",
        &[(4, NegativeGsum)],
    );
    om_valid(
        "# TYPE a gaugehistogram\na_bucket{le=\"-1.0\"} 1\na_bucket{le=\"1.0\"} 2\na_bucket{le=\"+Inf\"} 3\na_gcount 3\na_gsum -5\n# EOF\n",
    );
    om(
        "# TYPE a gaugehistogram\na_gsum 1\n# EOF\n",
        &[(2, MissingInfBucket), (2, SumCountPairing)],
    );
}

// ----------------------------------------------------------------- summaries

#[test]
fn summary_quantile_label() {
    // "the MetricPoint's Quantile Values MUST specify the quantile measured
    // using a label with a label name of "quantile"" / "Quantiles MUST be
    // between 0 and 1 inclusive."
    om("# TYPE a summary\na 0\n# EOF\n", &[(2, MissingLabel)]);
    for q in ["-1", "foo", "1.01", "NaN"] {
        om(
            &format!("# TYPE a summary\na{{quantile=\"{q}\"}} 0\n# EOF\n"),
            &[(2, InvalidLabelValue)],
        );
    }
    om_valid(
        "# TYPE a summary\na_count 1\na_sum 2\na{quantile=\"0.5\"} 0.7\na{quantile=\"1\"} 0.8\n# EOF\n",
    );
}

#[test]
fn summary_values() {
    // "Count and Sum values are counters so MUST NOT be NaN or negative.
    // Count MUST be an integer." / "Quantile values MUST NOT be negative."
    // / "If there are no events in the relevant timeframe, the value for a
    // quantile MUST be NaN."
    om("# TYPE a summary\na_sum NaN\n# EOF\n", &[(2, NanValue)]);
    om("# TYPE a summary\na_count NaN\n# EOF\n", &[(2, NanValue)]);
    om("# TYPE a summary\na_sum -1\n# EOF\n", &[(2, NegativeValue)]);
    om(
        "# TYPE a summary\na_count -1\n# EOF\n",
        &[(2, NegativeValue)],
    );
    om(
        "# TYPE a summary\na_count 0.5\n# EOF\n",
        &[(2, NonIntegerValue)],
    );
    om(
        "# TYPE a summary\na{quantile=\"0.5\"} -1\n# EOF\n",
        &[(2, NegativeValue)],
    );
    om_valid("# TYPE a summary\na{quantile=\"0.5\"} NaN\n# EOF\n");
}

#[test]
fn summary_metric_has_no_quantile_label() {
    // "A Quantile's Metric's LabelSet MUST NOT have "quantile" label name."
    om(
        "# TYPE a summary\na_count{quantile=\"1\"} 0\n# EOF\n",
        &[(2, ReservedLabel)],
    );
}

#[test]
fn text_summary_quantiles_in_order() {
    // 0.0.4: "the quantiles of a summary must appear in increasing numerical
    // order of their label values". OpenMetrics: "Quantiles MAY be in any order."
    text(
        "# TYPE a summary\na{quantile=\"0.9\"} 1\na{quantile=\"0.5\"} 1\n",
        &[(3, QuantileOrder)],
    );
    om_valid("# TYPE a summary\na{quantile=\"0.9\"} 1\na{quantile=\"0.5\"} 1\n# EOF\n");
}

// ------------------------------------------------------- stateset and info

#[test]
fn stateset_values_are_booleans() {
    // "The State sample's value MUST be 1 if the State is true and MUST be 0
    // if the State is false." / "Each State's sample MUST have a label with
    // the MetricFamily name as the label name".
    om(
        "# TYPE a stateset\na{a=\"bar\"} 2\n# EOF\n",
        &[(2, StateSetValue)],
    );
    om("# TYPE a stateset\na 0\n# EOF\n", &[(2, MissingLabel)]);
    om_valid("# TYPE a stateset\na{a=\"bar\"} 0\na{a=\"foo\"} 1.0\n# EOF\n");
}

#[test]
fn info_value_is_one() {
    // "The Sample MetricName for the value of a MetricPoint for a
    // MetricFamily of type Info MUST have the suffix "_info". The Sample
    // value MUST always be 1."
    om(
        "# TYPE a info\na_info{foo=\"bar\"} 2\n# EOF\n",
        &[(2, InfoValue)],
    );
    om("# TYPE a info\na 1\n# EOF\n", &[(2, WrongSuffix)]);
    om_valid(
        "# TYPE a info\na_info{a=\"1\",foo=\"bar\"} 1 1\na_info{a=\"2\",foo=\"bar\"} 1 0\n# EOF\n",
    );
}

// ----------------------------------------------------------------- exemplars

#[test]
fn exemplar_grammar() {
    // exemplar = SP HASH SP labels SP number [SP timestamp]
    for bad in [
        "a_bucket{le=\"+Inf\"} 1 #",
        "a_bucket{le=\"+Inf\"} 1 #{} 1",
        "a_bucket{le=\"+Inf\"} 1 # {}1",
        "a_bucket{le=\"+Inf\"} 1 # {} 1 ",
        "a_bucket{le=\"+Inf\"} 1 # {} 1 1 ",
        "a_bucket{le=\"+Inf\"} 1 # {} 0x1p-3",
        "a_bucket{le=\"+Inf\"} 1 # {} 1 0x1p-3",
        "a_bucket{le=\"+Inf\"} 1 # {} 1 NaN",
        "a_bucket{le=\"+Inf\"} 1 1 # id=\"a\"} 1",
    ] {
        om(
            &format!("# TYPE a histogram\n{bad}\n# EOF\n"),
            &[(2, InvalidExemplar)],
        );
    }
    om_valid(
        "# TYPE a histogram\na_bucket{le=\"1.0\"} 0 # {a=\"b\"} 0.5\na_bucket{le=\"2.0\"} 2 # {a=\"c\"} 0.5\na_bucket{le=\"+Inf\"} 3 # {} 4 123\n# EOF\n",
    );
}

#[test]
fn exemplars_only_on_counters_and_buckets() {
    // "A MetricPoint in a Metric's Counter's Total MAY have an exemplar." /
    // "Bucket values MAY have exemplars." -- nothing else may.
    om(
        "# TYPE a histogram\na_sum 1 # {a=\"b\"} 0.5\n# EOF\n",
        &[
            (2, ExemplarNotAllowed),
            (2, MissingInfBucket),
            (2, SumCountPairing),
        ],
    );
    om(
        "# TYPE a gauge\na 1 # {a=\"b\"} 1\n# EOF\n",
        &[(2, ExemplarNotAllowed)],
    );
    om(
        "# TYPE a counter\na_created 1 # {a=\"b\"} 0.5\n# EOF\n",
        &[(2, ExemplarNotAllowed)],
    );
    om(
        "# TYPE a stateset\na{a=\"b\"} 1 # {c=\"d\"} 1\n# EOF\n",
        &[(2, ExemplarNotAllowed)],
    );
    om_valid("# TYPE a counter\na_total 0 123 # {a=\"b\"} 0.5\n# EOF\n");
}

#[test]
fn exemplar_labels_at_most_128_characters() {
    // "The combined length of the label names and values of an Exemplar's
    // LabelSet MUST NOT exceed 128 UTF-8 character code points."
    let ok = "2".repeat(127);
    om_valid(&format!(
        "# TYPE a histogram\na_bucket{{le=\"+Inf\"}} 3 # {{a=\"{ok}\"}} 4 123\n# EOF\n"
    ));
    let long = "é".repeat(128);
    om(
        &format!("# TYPE a histogram\na_bucket{{le=\"+Inf\"}} 1 # {{a=\"{long}\"}} 1\n# EOF\n"),
        &[(2, ExemplarTooLong)],
    );
}

#[test]
fn bucket_exemplar_within_the_bucket() {
    // "Each bucket covers the values less and or equal to it, and the value
    // of the exemplar MUST be within this range."
    om(
        "# TYPE a histogram\na_bucket{le=\"1\"} 1 # {} 2\na_bucket{le=\"+Inf\"} 1\n# EOF\n",
        &[(2, ExemplarOutOfRange)],
    );
}

// ---------------------------------------------------- metrics and timestamps

#[test]
fn metrics_are_not_interleaved() {
    // "Metrics MUST NOT be interleaved."
    om(
        "# TYPE a histogram\na_sum{a=\"1\"} 0\na_sum{a=\"2\"} 0\na_count{a=\"1\"} 0\n# EOF\n",
        &[
            (3, MissingInfBucket),
            (3, SumCountPairing),
            (4, MetricInterleaved),
            (4, MissingInfBucket),
        ],
    );
    om(
        "# TYPE a gauge\na{a=\"1\"} 0\na{a=\"2\"} 0\na{a=\"1\"} 1 5\n# EOF\n",
        &[(4, MetricInterleaved)],
    );
}

#[test]
fn metric_points_have_increasing_timestamps() {
    // "If more than one MetricPoint is exposed for a Metric, then its
    // MetricPoints MUST have monotonically increasing timestamps." /
    // "MetricPoints MUST NOT be interleaved."
    om(
        "# TYPE a gauge\na 0 -1\na 0 -2\n# EOF\n",
        &[(3, TimestampOrder)],
    );
    om(
        "# TYPE a gauge\na 0 1.1\na 0 1\n# EOF\n",
        &[(3, TimestampOrder)],
    );
    om(
        "# TYPE a summary\na_count{a=\"b\"} 0 123\na_count{a=\"b\"} 0 456\na_sum{a=\"b\"} 0 123\n# EOF\n",
        &[(4, TimestampOrder)],
    );
    // Timestamps are compared as written, not as rounded doubles.
    om_valid(
        "a{a=\"1\"} 1 0.0000000000\na{a=\"1\"} 2 0.0000000001\na{a=\"1\"} 3 0.0000000010\n# EOF\n",
    );
    om_valid(
        "# TYPE a summary\na_count{a=\"bb\"} 0 123\na_sum{a=\"bb\"} 0 123\na_count{a=\"bb\"} 0 456\na_sum{a=\"bb\"} 0 456\n# EOF\n",
    );
}

#[test]
fn a_metric_has_timestamps_on_all_points_or_none() {
    // Follows from "MUST have monotonically increasing timestamps": a point
    // without a timestamp cannot be ordered against one with a timestamp.
    om("# TYPE a gauge\na 0\na 0 0\n# EOF\n", &[(3, TimestampMix)]);
    om("# TYPE a gauge\na 0 0\na 0\n# EOF\n", &[(3, TimestampMix)]);
}

#[test]
fn samples_are_unique() {
    // "Every Metric within a MetricFamily MUST have a unique LabelSet" (a
    // repeated point has no increasing timestamp). 0.0.4: "Each line must
    // have a unique combination of metric name and labels."
    om("# TYPE a gauge\na 1\na 2\n# EOF\n", &[(3, DuplicateSample)]);
    om(
        "# TYPE a gauge\na 1 5\na 2 5\n# EOF\n",
        &[(3, DuplicateSample)],
    );
    text("a{x=\"1\"} 1\na{x=\"1\"} 2\n", &[(2, DuplicateSample)]);
    text("a 1 100\na 2 200\n", &[(2, DuplicateSample)]);
}

// ------------------------------------------------------------------ problems

#[test]
fn problems_have_lines_names_and_messages() {
    let report = validate("# TYPE a histogram\na_bucket{le=\"1\"} 0\n# EOF\n");
    let p = &report.problems[0];
    assert_eq!(p.kind.as_str(), "MissingInfBucket");
    assert_eq!(p.to_string(), format!("2: {}", p.message));
    assert!(p.message.contains("le=\"+Inf\""), "{}", p.message);
    assert!(ProblemKind::ALL.contains(&ProblemKind::DuplicateSample));
}

#[test]
fn never_panics_on_hostile_lines() {
    for body in [
        "a{a=\"\\",
        "a{a=\"\\\"} 1",
        "a{",
        "#",
        "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1 # {a=\"\\",
        "a 1 # ",
        "\u{feff}",
        "a{a=\"é\\é\"} 1",
    ] {
        let _ = validate_as(body.as_bytes(), Format::OpenMetrics);
        let _ = validate_as(body.as_bytes(), Format::PrometheusText);
    }
}
