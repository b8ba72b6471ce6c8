//! Time windows and chart buckets in real IANA zones.
//!
//! Every expected instant is a literal RFC 3339 string worked out by hand from
//! the zone's tz database rules (the reasoning is in the comment above each
//! case). Strings are turned into milliseconds by chrono's RFC 3339 parser
//! (`parse_rfc3339`), not by the code under test, and the formatted result must
//! match the literal too, so both the instant and the offset are checked.

use std::time::Instant;

use proptest::prelude::*;
use pulse_core::window::{
    MAX_BUCKETS, MAX_MS, MIN_MS, Period, STORAGE_BUCKET_MS, Step, TZ_VARIANTS, TimeRange, Tz,
    Window, WindowParseError, bucket_edges, bucket_start, bucketize, format_rfc3339, parse_rfc3339,
    parse_tz, period_range, period_start, storage_bucket, window_range,
};

const H: i64 = 3_600_000;
const D: i64 = 24 * H;

fn at(text: &str) -> i64 {
    parse_rfc3339(text).unwrap_or_else(|e| panic!("bad literal in test: {e}"))
}

fn zone(name: &str) -> Tz {
    parse_tz(name).unwrap()
}

/// Checks a range against hand-written local bounds and its length in hours.
#[track_caller]
fn check_range(r: TimeRange, tz: Tz, start: &str, end: &str, hours: i64) {
    assert_eq!(
        (format_rfc3339(r.start_ms, tz), format_rfc3339(r.end_ms, tz)),
        (start.to_owned(), end.to_owned())
    );
    assert_eq!((r.start_ms, r.end_ms), (at(start), at(end)));
    assert_eq!(r.end_ms - r.start_ms, hours * H);
}

fn local(edges: &[i64], tz: Tz) -> Vec<String> {
    edges.iter().map(|&e| format_rfc3339(e, tz)).collect()
}

// ---------------------------------------------------------------- DST days

#[test]
fn berlin_spring_forward_day_has_23_hours() {
    // EU rule: last Sunday of March (2026-03-29) at 01:00Z, 02:00 CET -> 03:00 CEST.
    // The day runs 00:00+01:00 (= 03-28T23:00Z) to next 00:00+02:00 (= 03-29T22:00Z).
    let tz = zone("Europe/Berlin");
    let noon = at("2026-03-29T12:00:00+02:00");
    let day = period_range(noon, tz, Period::Day, 0);
    check_range(
        day,
        tz,
        "2026-03-29T00:00:00+01:00",
        "2026-03-30T00:00:00+02:00",
        23,
    );
    assert_eq!(day.start_ms, at("2026-03-28T23:00:00Z"));
    assert_eq!(day.end_ms, at("2026-03-29T22:00:00Z"));
    assert_eq!(period_start(noon, tz, Period::Day), day.start_ms);
}

#[test]
fn berlin_fall_back_day_has_25_hours() {
    // Last Sunday of October (2026-10-25) at 01:00Z, 03:00 CEST -> 02:00 CET.
    // 00:00+02:00 = 10-24T22:00Z to 10-26T00:00+01:00 = 10-25T23:00Z: 25 h.
    let tz = zone("Europe/Berlin");
    let day = period_range(at("2026-10-25T12:00:00+01:00"), tz, Period::Day, 0);
    check_range(
        day,
        tz,
        "2026-10-25T00:00:00+02:00",
        "2026-10-26T00:00:00+01:00",
        25,
    );
    assert_eq!(day.start_ms, at("2026-10-24T22:00:00Z"));
}

#[test]
fn new_york_dst_days_have_23_and_25_hours() {
    // US rule: second Sunday of March (03-08) 02:00 EST -> 03:00 EDT;
    // first Sunday of November (11-01) 02:00 EDT -> 01:00 EST.
    let tz = zone("America/New_York");
    check_range(
        period_range(at("2026-03-08T15:00:00-04:00"), tz, Period::Day, 0),
        tz,
        "2026-03-08T00:00:00-05:00",
        "2026-03-09T00:00:00-04:00",
        23,
    );
    check_range(
        period_range(at("2026-11-01T15:00:00-05:00"), tz, Period::Day, 0),
        tz,
        "2026-11-01T00:00:00-04:00",
        "2026-11-02T00:00:00-05:00",
        25,
    );
}

#[test]
fn today_and_yesterday_across_the_switch() {
    // Monday 2026-03-30 09:15 CEST: yesterday is the 23-hour Sunday,
    // today runs from 00:00+02:00 up to and including now.
    let tz = zone("Europe/Berlin");
    let now = at("2026-03-30T09:15:00+02:00");
    check_range(
        window_range(&Window::Yesterday, now, tz),
        tz,
        "2026-03-29T00:00:00+01:00",
        "2026-03-30T00:00:00+02:00",
        23,
    );
    let today = window_range(&Window::Today, now, tz);
    assert_eq!(today.start_ms, at("2026-03-30T00:00:00+02:00"));
    assert_eq!(today.end_ms, now + 1);
    // On Sunday itself at 23:59, today started 23 h - 1 min ago.
    let late = at("2026-03-29T23:59:00+02:00");
    let today = window_range(&Window::Today, late, tz);
    assert_eq!(today.start_ms, at("2026-03-29T00:00:00+01:00"));
    assert_eq!(late - today.start_ms, 23 * H - 60_000);
    // New York, the Monday after fall-back: yesterday was 25 h.
    let tz = zone("America/New_York");
    check_range(
        window_range(&Window::Yesterday, at("2026-11-02T08:00:00-05:00"), tz),
        tz,
        "2026-11-01T00:00:00-04:00",
        "2026-11-02T00:00:00-05:00",
        25,
    );
}

#[test]
fn hourly_buckets_on_dst_days() {
    let tz = zone("Europe/Berlin");
    // Spring: 02:00 local does not exist; 01:00+01:00 is followed by 03:00+02:00.
    let spring = period_range(at("2026-03-29T12:00:00+02:00"), tz, Period::Day, 0);
    let edges = bucket_edges(spring, tz, Step::Hour);
    assert_eq!(edges.len(), 23);
    let mut expected = vec![
        "2026-03-29T00:00:00+01:00".to_owned(),
        "2026-03-29T01:00:00+01:00".to_owned(),
    ];
    expected.extend((3..24).map(|h| format!("2026-03-29T{h:02}:00:00+02:00")));
    assert_eq!(local(&edges, tz), expected);
    // Each spring edge is exactly one hour after the previous one.
    assert!(edges.windows(2).all(|w| w[1] - w[0] == H));

    // Autumn: 02:00-03:00 happens twice, at 00:00Z (+02:00) and 01:00Z (+01:00).
    let autumn = period_range(at("2026-10-25T12:00:00+01:00"), tz, Period::Day, 0);
    let edges = bucket_edges(autumn, tz, Step::Hour);
    assert_eq!(edges.len(), 25);
    let mut expected: Vec<String> = (0..3)
        .map(|h| format!("2026-10-25T{h:02}:00:00+02:00"))
        .collect();
    expected.extend((2..24).map(|h| format!("2026-10-25T{h:02}:00:00+01:00")));
    assert_eq!(local(&edges, tz), expected);
    assert_eq!(edges[2], at("2026-10-25T00:00:00Z"));
    assert_eq!(edges[3], at("2026-10-25T01:00:00Z"));
    // An instant in each occurrence of 02:30 lands in its own bucket.
    let first = at("2026-10-25T02:30:00+02:00");
    let second = at("2026-10-25T02:30:00+01:00");
    assert_eq!(bucket_start(first, tz, Step::Hour), edges[2]);
    assert_eq!(bucket_start(second, tz, Step::Hour), edges[3]);
    let (_, sums) = bucketize(&[(first, 1.0), (second, 10.0)], autumn, tz, Step::Hour);
    assert_eq!((sums[2], sums[3]), (1.0, 10.0));
    assert_eq!(sums.iter().sum::<f64>(), 11.0);
}

// ------------------------------------------------------ midnights that move

#[test]
fn santiago_day_without_midnight_starts_at_one() {
    // Chile rule (2023+): DST from the Sunday >= Sep 2 at 04:00Z, i.e. Saturday
    // 2026-09-05 24:00 -04:00 becomes Sunday 09-06 01:00 -03:00. So 09-06 starts
    // at 01:00-03:00 (= 04:00Z); 09-05 is still 24 h and 09-06 is 23 h.
    let tz = zone("America/Santiago");
    check_range(
        period_range(at("2026-09-06T12:00:00-03:00"), tz, Period::Day, 0),
        tz,
        "2026-09-06T01:00:00-03:00",
        "2026-09-07T00:00:00-03:00",
        23,
    );
    check_range(
        period_range(at("2026-09-06T12:00:00-03:00"), tz, Period::Day, -1),
        tz,
        "2026-09-05T00:00:00-04:00",
        "2026-09-06T01:00:00-03:00",
        24,
    );
    assert_eq!(
        period_start(at("2026-09-06T01:00:00-03:00"), tz, Period::Day),
        at("2026-09-06T04:00:00Z")
    );
    // The day's hour buckets: 23, the first at 01:00.
    let day = period_range(at("2026-09-06T12:00:00-03:00"), tz, Period::Day, 0);
    let edges = bucket_edges(day, tz, Step::Hour);
    assert_eq!(edges.len(), 23);
    assert_eq!(format_rfc3339(edges[0], tz), "2026-09-06T01:00:00-03:00");
}

#[test]
fn santiago_fall_back_at_midnight_repeats_the_last_hour() {
    // Chile rule: DST ends the Sunday >= Apr 2 at 03:00Z. At 2026-04-05
    // 00:00 -03:00 (= 03:00Z) the clock goes back to 04-04 23:00 -04:00, so
    // 23:00-24:00 of 04-04 happens twice and midnight of 04-05 happens once,
    // at 00:00 -04:00 (= 04:00Z). Saturday 04-04 lasts 25 h.
    let tz = zone("America/Santiago");
    check_range(
        period_range(at("2026-04-05T12:00:00-04:00"), tz, Period::Day, -1),
        tz,
        "2026-04-04T00:00:00-03:00",
        "2026-04-05T00:00:00-04:00",
        25,
    );
    check_range(
        period_range(at("2026-04-05T12:00:00-04:00"), tz, Period::Day, 0),
        tz,
        "2026-04-05T00:00:00-04:00",
        "2026-04-06T00:00:00-04:00",
        24,
    );
    // 03:30Z is the second 23:30 of 04-04: still Saturday, in its own hour bucket.
    let repeated = at("2026-04-05T03:30:00Z");
    assert_eq!(format_rfc3339(repeated, tz), "2026-04-04T23:30:00-04:00");
    assert_eq!(
        format_rfc3339(bucket_start(repeated, tz, Step::Day), tz),
        "2026-04-04T00:00:00-03:00"
    );
    assert_eq!(
        format_rfc3339(bucket_start(repeated, tz, Step::Hour), tz),
        "2026-04-04T23:00:00-04:00"
    );
    assert_eq!(
        format_rfc3339(bucket_start(repeated - H, tz, Step::Hour), tz),
        "2026-04-04T23:00:00-03:00"
    );
}

#[test]
fn havana_midnight_gap_and_double_midnight() {
    // Cuba rule: DST from the Sunday >= Mar 8 at 00:00 standard time:
    // 2026-03-08 00:00 -05:00 becomes 01:00 -04:00 (= 05:00Z).
    let tz = zone("America/Havana");
    check_range(
        period_range(at("2026-03-08T10:00:00-04:00"), tz, Period::Day, 0),
        tz,
        "2026-03-08T01:00:00-04:00",
        "2026-03-09T00:00:00-04:00",
        23,
    );
    // DST ends the Sunday >= Nov 1 at 00:00 standard time (= 01:00 daylight):
    // 2026-11-01 01:00 -04:00 (05:00Z) goes back to 00:00 -05:00, so midnight
    // happens at 04:00Z and 05:00Z; the day starts at the first and lasts 25 h.
    let now = at("2026-11-01T10:00:00-05:00");
    check_range(
        period_range(now, tz, Period::Day, 0),
        tz,
        "2026-11-01T00:00:00-04:00",
        "2026-11-02T00:00:00-05:00",
        25,
    );
    assert_eq!(
        window_range(&Window::Today, now, tz).start_ms,
        at("2026-11-01T04:00:00Z")
    );
    // Saturday 10-31 ends at the first midnight: 24 h.
    check_range(
        window_range(&Window::Yesterday, now, tz),
        tz,
        "2026-10-31T00:00:00-04:00",
        "2026-11-01T00:00:00-04:00",
        24,
    );
    // Both midnights start an hour bucket of their own.
    let day = period_range(now, tz, Period::Day, 0);
    let edges = bucket_edges(day, tz, Step::Hour);
    assert_eq!(edges.len(), 25);
    assert_eq!(
        local(&edges[..3], tz),
        vec![
            "2026-11-01T00:00:00-04:00",
            "2026-11-01T00:00:00-05:00",
            "2026-11-01T01:00:00-05:00",
        ]
    );
}

#[test]
fn beirut_midnight_gap() {
    // Lebanon rule: DST from the last Sunday of March at 00:00: 2026-03-29
    // 00:00 +02:00 becomes 01:00 +03:00 (= 03-28T22:00Z).
    let tz = zone("Asia/Beirut");
    check_range(
        period_range(at("2026-03-29T12:00:00+03:00"), tz, Period::Day, 0),
        tz,
        "2026-03-29T01:00:00+03:00",
        "2026-03-30T00:00:00+03:00",
        23,
    );
}

// ------------------------------------------------------- unusual offsets

#[test]
fn half_and_quarter_hour_offsets() {
    // Kolkata +05:30 (no DST): 2026-06-15 starts at 06-14T18:30Z; the hour
    // bucket of 10:45 local starts at 10:00+05:30 = 04:30Z.
    let tz = zone("Asia/Kolkata");
    let t = at("2026-06-15T10:45:00+05:30");
    assert_eq!(period_start(t, tz, Period::Day), at("2026-06-14T18:30:00Z"));
    assert_eq!(bucket_start(t, tz, Step::Hour), at("2026-06-15T04:30:00Z"));

    // Kathmandu +05:45: 2026-06-15 is a Monday (06-01 is a Monday), so day and
    // week both start at 00:00+05:45 = 06-14T18:15Z.
    let tz = zone("Asia/Kathmandu");
    let t = at("2026-06-17T08:10:00+05:45");
    assert_eq!(
        period_start(t, tz, Period::Week),
        at("2026-06-14T18:15:00Z")
    );
    assert_eq!(
        format_rfc3339(bucket_start(t, tz, Step::Hour), tz),
        "2026-06-17T08:00:00+05:45"
    );

    // Eucla +08:45: July 2026 starts at 07-01T00:00+08:45 = 06-30T15:15Z and has 31 days.
    let tz = zone("Australia/Eucla");
    let july = period_range(at("2026-07-20T12:00:00+08:45"), tz, Period::Month, 0);
    check_range(
        july,
        tz,
        "2026-07-01T00:00:00+08:45",
        "2026-08-01T00:00:00+08:45",
        31 * 24,
    );
    assert_eq!(july.start_ms, at("2026-06-30T15:15:00Z"));
}

#[test]
fn lord_howe_half_hour_dst() {
    // Lord Howe: +11:00 in summer, +10:30 in winter. DST ends the first Sunday
    // of April (2026-04-05) at 02:00 +11:00 (= 04-04T15:00Z), clocks go back to
    // 01:30. The day is 24.5 h; the repeated half hour 01:30-02:00 becomes its
    // own hour bucket starting at the switch.
    let tz = zone("Australia/Lord_Howe");
    let day = period_range(at("2026-04-05T12:00:00+10:30"), tz, Period::Day, 0);
    assert_eq!(day.start_ms, at("2026-04-05T00:00:00+11:00"));
    assert_eq!(day.end_ms, at("2026-04-06T00:00:00+10:30"));
    assert_eq!(day.end_ms - day.start_ms, 24 * H + H / 2);
    let edges = bucket_edges(day, tz, Step::Hour);
    let mut expected = vec![
        "2026-04-05T00:00:00+11:00".to_owned(),
        "2026-04-05T01:00:00+11:00".to_owned(),
        "2026-04-05T01:30:00+10:30".to_owned(),
    ];
    expected.extend((2..24).map(|h| format!("2026-04-05T{h:02}:00:00+10:30")));
    assert_eq!(local(&edges, tz), expected);
    assert_eq!(edges[2], at("2026-04-04T15:00:00Z"));

    // DST starts the first Sunday of October (2026-10-04) at 02:00 +10:30
    // (= 10-03T15:30Z), clocks jump to 02:30 +11:00: a 23.5 h day. 02:00-02:30
    // does not exist, so 01:00 is a full hour and 02:30 starts a 30-minute
    // bucket: 00, 01, 02:30, 03 ... 23 = 24 buckets.
    let day = period_range(at("2026-10-04T12:00:00+11:00"), tz, Period::Day, 0);
    assert_eq!(day.end_ms - day.start_ms, 23 * H + H / 2);
    let edges = bucket_edges(day, tz, Step::Hour);
    assert_eq!(
        local(&edges[..4], tz),
        vec![
            "2026-10-04T00:00:00+10:30",
            "2026-10-04T01:00:00+10:30",
            "2026-10-04T02:30:00+11:00",
            "2026-10-04T03:00:00+11:00",
        ]
    );
    assert_eq!(edges[2], at("2026-10-03T15:30:00Z"));
    assert_eq!(edges[3] - edges[2], H / 2);
    assert_eq!(edges.len(), 24);
}

#[test]
fn extreme_offsets() {
    // Kiritimati +14:00: 2026-01-01 starts at 2025-12-31T10:00Z.
    let tz = zone("Pacific/Kiritimati");
    let t = at("2026-01-01T05:00:00+14:00");
    assert_eq!(period_start(t, tz, Period::Day), at("2025-12-31T10:00:00Z"));
    assert_eq!(
        period_start(t, tz, Period::Month),
        at("2025-12-31T10:00:00Z")
    );
    assert_eq!(
        format_rfc3339(period_start(t, tz, Period::Month), tz),
        "2026-01-01T00:00:00+14:00"
    );
    // Pago Pago -11:00: 2026-01-01 starts at 11:00Z.
    let tz = zone("Pacific/Pago_Pago");
    let t = at("2026-01-01T05:00:00-11:00");
    assert_eq!(period_start(t, tz, Period::Day), at("2026-01-01T11:00:00Z"));
    // Etc/GMT+12 is -12:00 (POSIX sign): 2026-01-01 starts at 12:00Z, and 11:59Z
    // on 01-01 is still 2025-12-31 there.
    let tz = zone("Etc/GMT+12");
    assert_eq!(
        period_start(at("2026-01-01T12:00:00Z"), tz, Period::Day),
        at("2026-01-01T12:00:00Z")
    );
    assert_eq!(
        period_start(at("2026-01-01T11:59:00Z"), tz, Period::Day),
        at("2025-12-31T12:00:00Z")
    );
}

#[test]
fn apia_skipped_day() {
    // Samoa moved across the date line: 2011-12-29 24:00 -10:00 (DST) became
    // 2011-12-31 00:00 +14:00 (DST) at 12-30T10:00Z. 12-30 never happened.
    let tz = zone("Pacific/Apia");
    let now = at("2011-12-31T12:00:00+14:00");
    check_range(
        period_range(now, tz, Period::Day, 0),
        tz,
        "2011-12-31T00:00:00+14:00",
        "2012-01-01T00:00:00+14:00",
        24,
    );
    // "Yesterday" skips the empty 30th and is the 29th, a full 24 h.
    check_range(
        period_range(now, tz, Period::Day, -1),
        tz,
        "2011-12-29T00:00:00-10:00",
        "2011-12-31T00:00:00+14:00",
        24,
    );
    check_range(
        window_range(&Window::Yesterday, now, tz),
        tz,
        "2011-12-29T00:00:00-10:00",
        "2011-12-31T00:00:00+14:00",
        24,
    );
    // Forward from the 29th, the next day is the 31st.
    check_range(
        period_range(at("2011-12-29T12:00:00-10:00"), tz, Period::Day, 1),
        tz,
        "2011-12-31T00:00:00+14:00",
        "2012-01-01T00:00:00+14:00",
        24,
    );
    // Daily buckets from the 28th to 2012-01-02: no bucket for the 30th.
    let range = TimeRange::new(
        at("2011-12-28T00:00:00-10:00"),
        at("2012-01-02T00:00:00+14:00"),
    );
    assert_eq!(
        local(&bucket_edges(range, tz, Step::Day), tz),
        vec![
            "2011-12-28T00:00:00-10:00",
            "2011-12-29T00:00:00-10:00",
            "2011-12-31T00:00:00+14:00",
            "2012-01-01T00:00:00+14:00",
        ]
    );
    // The week from Monday 2011-12-26 has only six days (144 h).
    check_range(
        period_range(now, tz, Period::Week, 0),
        tz,
        "2011-12-26T00:00:00-10:00",
        "2012-01-02T00:00:00+14:00",
        144,
    );
}

// ----------------------------------------------------- weeks and months

#[test]
fn weeks_start_monday_and_may_hold_a_switch() {
    // 2026-03-29 is a Sunday (03-01 is a Sunday), so its week starts Monday
    // 03-23 00:00+01:00 and ends Monday 03-30 00:00+02:00: 7 * 24 - 1 h.
    let tz = zone("Europe/Berlin");
    let sunday = at("2026-03-29T20:00:00+02:00");
    check_range(
        period_range(sunday, tz, Period::Week, 0),
        tz,
        "2026-03-23T00:00:00+01:00",
        "2026-03-30T00:00:00+02:00",
        167,
    );
    // A Monday 00:00 is its own week's start.
    let monday = at("2026-03-30T00:00:00+02:00");
    assert_eq!(period_start(monday, tz, Period::Week), monday);
    assert_eq!(
        period_start(monday - 1, tz, Period::Week),
        at("2026-03-23T00:00:00+01:00")
    );
    check_range(
        window_range(&Window::LastWeek, monday, tz),
        tz,
        "2026-03-23T00:00:00+01:00",
        "2026-03-30T00:00:00+02:00",
        167,
    );
}

#[test]
fn months_of_every_length() {
    let utc = Tz::UTC;
    // 2026 is not a leap year: February has 28 days; 2028 is: 29.
    check_range(
        period_range(at("2026-02-14T00:00:00Z"), utc, Period::Month, 0),
        utc,
        "2026-02-01T00:00:00+00:00",
        "2026-03-01T00:00:00+00:00",
        28 * 24,
    );
    check_range(
        period_range(at("2028-02-29T23:59:59.999Z"), utc, Period::Month, 0),
        utc,
        "2028-02-01T00:00:00+00:00",
        "2028-03-01T00:00:00+00:00",
        29 * 24,
    );
    check_range(
        period_range(at("2026-04-30T10:00:00Z"), utc, Period::Month, 0),
        utc,
        "2026-04-01T00:00:00+00:00",
        "2026-05-01T00:00:00+00:00",
        30 * 24,
    );
    // From 31 January, one month on is February (not 3 March).
    check_range(
        period_range(at("2026-01-31T10:00:00Z"), utc, Period::Month, 1),
        utc,
        "2026-02-01T00:00:00+00:00",
        "2026-03-01T00:00:00+00:00",
        28 * 24,
    );
    // Berlin March 2026 holds spring-forward (31 * 24 - 1 h); New York
    // November 2026 holds fall-back (30 * 24 + 1 h).
    let tz = zone("Europe/Berlin");
    check_range(
        period_range(at("2026-03-15T12:00:00+01:00"), tz, Period::Month, 0),
        tz,
        "2026-03-01T00:00:00+01:00",
        "2026-04-01T00:00:00+02:00",
        31 * 24 - 1,
    );
    let tz = zone("America/New_York");
    check_range(
        window_range(&Window::LastMonth, at("2026-12-01T00:00:00-05:00"), tz),
        tz,
        "2026-11-01T00:00:00-04:00",
        "2026-12-01T00:00:00-05:00",
        30 * 24 + 1,
    );
    // Monthly buckets over 2026 in New York: 12 edges, each the 1st at 00:00.
    let year = TimeRange::new(
        at("2026-01-01T00:00:00-05:00"),
        at("2027-01-01T00:00:00-05:00"),
    );
    let edges = bucket_edges(year, tz, Step::Month);
    assert_eq!(edges.len(), 12);
    assert_eq!(format_rfc3339(edges[2], tz), "2026-03-01T00:00:00-05:00");
    assert_eq!(format_rfc3339(edges[3], tz), "2026-04-01T00:00:00-04:00");
    assert_eq!(format_rfc3339(edges[11], tz), "2026-12-01T00:00:00-05:00");
}

#[test]
fn year_boundary_windows() {
    // Tokyo (+09:00, no DST), 2026-01-01 00:30, a Thursday: the week began
    // Monday 2025-12-29, last week Monday 12-22, last month is December.
    let tz = zone("Asia/Tokyo");
    let now = at("2026-01-01T00:30:00+09:00");
    assert_eq!(now, at("2025-12-31T15:30:00Z"));
    let today = window_range(&Window::Today, now, tz);
    assert_eq!(
        today,
        TimeRange::new(at("2026-01-01T00:00:00+09:00"), now + 1)
    );
    check_range(
        window_range(&Window::Yesterday, now, tz),
        tz,
        "2025-12-31T00:00:00+09:00",
        "2026-01-01T00:00:00+09:00",
        24,
    );
    assert_eq!(
        window_range(&Window::ThisWeek, now, tz).start_ms,
        at("2025-12-29T00:00:00+09:00")
    );
    check_range(
        window_range(&Window::LastWeek, now, tz),
        tz,
        "2025-12-22T00:00:00+09:00",
        "2025-12-29T00:00:00+09:00",
        168,
    );
    check_range(
        window_range(&Window::LastMonth, now, tz),
        tz,
        "2025-12-01T00:00:00+09:00",
        "2026-01-01T00:00:00+09:00",
        31 * 24,
    );
    assert_eq!(
        window_range(&Window::ThisMonth, now, tz).start_ms,
        at("2026-01-01T00:00:00+09:00")
    );
    // Twelve months back from January 2026 is January 2025.
    check_range(
        period_range(now, tz, Period::Month, -12),
        tz,
        "2025-01-01T00:00:00+09:00",
        "2025-02-01T00:00:00+09:00",
        31 * 24,
    );
}

#[test]
fn rolling_windows_and_all_time() {
    let tz = zone("Europe/Berlin");
    let now = at("2026-03-29T12:00:00+02:00");
    // Rolling windows count elapsed hours, not wall-clock hours.
    let r = window_range(&Window::LastHours(24), now, tz);
    assert_eq!(r, TimeRange::new(now - 24 * H, now + 1));
    assert_eq!(format_rfc3339(r.start_ms, tz), "2026-03-28T11:00:00+01:00");
    let r = window_range(&Window::LastDays(7), now, tz);
    assert_eq!(r, TimeRange::new(now - 7 * D, now + 1));
    let r = window_range(&Window::AllTime, now, tz);
    assert_eq!(r, TimeRange::new(MIN_MS, now + 1));
    let fixed = TimeRange::new(5, 10);
    assert_eq!(window_range(&Window::Range(fixed), now, tz), fixed);
}

// ------------------------------------------------------------- parsing

#[test]
fn window_names() {
    let cases = [
        ("today", Window::Today),
        ("day", Window::Today),
        ("daily", Window::Today),
        ("yesterday", Window::Yesterday),
        ("week", Window::ThisWeek),
        ("weekly", Window::ThisWeek),
        ("this_week", Window::ThisWeek),
        ("last_week", Window::LastWeek),
        ("month", Window::ThisMonth),
        ("monthly", Window::ThisMonth),
        ("this_month", Window::ThisMonth),
        ("last_month", Window::LastMonth),
        ("24h", Window::LastHours(24)),
        ("48h", Window::LastHours(48)),
        ("7d", Window::LastDays(7)),
        ("30d", Window::LastDays(30)),
        ("90d", Window::LastDays(90)),
        ("all", Window::AllTime),
        ("all_time", Window::AllTime),
        (" Today ", Window::Today),
        ("LAST_MONTH", Window::LastMonth),
    ];
    for (text, expected) in cases {
        assert_eq!(text.parse::<Window>(), Ok(expected), "{text}");
    }
    for bad in [
        "",
        "0h",
        "0d",
        "-1d",
        "+7d",
        "7 d",
        "h",
        "1w",
        "4294967296h",
        "tomorrow",
    ] {
        assert_eq!(
            bad.parse::<Window>(),
            Err(WindowParseError {
                text: bad.to_owned()
            })
        );
    }
    let err = "fortnight".parse::<Window>().unwrap_err();
    assert!(err.to_string().contains("\"fortnight\""), "{err}");
    // Display gives a name that parses back.
    for w in [
        Window::Today,
        Window::Yesterday,
        Window::ThisWeek,
        Window::LastWeek,
        Window::ThisMonth,
        Window::LastMonth,
        Window::LastHours(24),
        Window::LastDays(90),
        Window::AllTime,
    ] {
        assert_eq!(w.to_string().parse::<Window>(), Ok(w));
    }
}

#[test]
fn zones_and_rfc3339_text() {
    assert_eq!(parse_tz("America/New_York"), Ok(Tz::America__New_York));
    let err = parse_tz("Europe/Atlantis").unwrap_err();
    assert_eq!(err.name, "Europe/Atlantis");
    assert!(err.to_string().contains("Europe/Atlantis"));

    let tz = zone("America/New_York");
    // 2026-11-27 is after fall-back, so -05:00; milliseconds appear when non-zero.
    let t = at("2026-11-27T10:08:03.275Z");
    assert_eq!(format_rfc3339(t, tz), "2026-11-27T05:08:03.275-05:00");
    assert_eq!(format_rfc3339(t - 275, tz), "2026-11-27T05:08:03-05:00");
    assert_eq!(
        format_rfc3339(t + 725 - 1000 + 1, tz),
        "2026-11-27T05:08:03.001-05:00"
    );
    assert_eq!(format_rfc3339(0, Tz::UTC), "1970-01-01T00:00:00+00:00");
    assert_eq!(format_rfc3339(-1, Tz::UTC), "1969-12-31T23:59:59.999+00:00");
    assert_eq!(
        format_rfc3339(0, zone("Asia/Kathmandu")),
        "1970-01-01T05:30:00+05:30"
    );
    // Saturation at both ends instead of a panic.
    assert_eq!(
        format_rfc3339(i64::MIN, Tz::UTC),
        "0001-01-02T00:00:00+00:00"
    );
    assert_eq!(
        format_rfc3339(i64::MAX, Tz::UTC),
        "9999-12-31T00:00:00+00:00"
    );
    assert!(parse_rfc3339("2026-13-01T00:00:00Z").is_err());
    assert!(parse_rfc3339("yesterday").is_err());
}

// ------------------------------------------------------------- storage

#[test]
fn storage_buckets_floor_to_15_minutes() {
    assert_eq!(STORAGE_BUCKET_MS, 900_000);
    let t = at("2026-03-29T01:14:59.999Z");
    assert_eq!(storage_bucket(t), at("2026-03-29T01:00:00Z"));
    assert_eq!(storage_bucket(t + 1), at("2026-03-29T01:15:00Z"));
    assert_eq!(storage_bucket(-1), -900_000);
    assert_eq!(storage_bucket(i64::MIN), i64::MIN);
    assert_eq!(
        storage_bucket(i64::MAX),
        i64::MAX - i64::MAX.rem_euclid(900_000)
    );
}

/// The claim behind 15-minute storage rows: every local midnight (the start
/// of every local day) from 2000 to 2030, in every zone of the tz database,
/// is a multiple of 15 minutes in UTC. Exceptions are listed, not skipped.
#[test]
fn every_local_midnight_2000_to_2030_is_a_storage_edge() {
    let started = Instant::now();
    let mut days = 0usize;
    let mut exceptions = Vec::new();
    for &tz in TZ_VARIANTS.iter() {
        let range = TimeRange::new(at("2000-01-01T00:00:00Z"), at("2031-01-01T00:00:00Z"));
        let edges = bucket_edges(range, tz, Step::Day);
        // The first edge is the start of the local day holding 2000-01-01T00:00Z.
        days += edges.len();
        for &e in &edges {
            if e != storage_bucket(e) {
                exceptions.push(format!("{} {}", tz.name(), format_rfc3339(e, tz)));
            }
        }
    }
    eprintln!(
        "checked {days} local midnights in {} zones in {:?}",
        TZ_VARIANTS.len(),
        started.elapsed()
    );
    assert_eq!(exceptions, Vec::<String>::new());
    // 31 years hold 11,323 days; each zone adds at most one day at the start.
    assert!(days >= TZ_VARIANTS.len() * 11_323, "{days}");
}

/// The claim has a known boundary: before 1972-01-07 Monrovia kept -00:44:30,
/// so its 1971-06-01 began at 00:44:30Z, inside a 15-minute row.
#[test]
fn monrovia_1971_midnight_is_not_a_storage_edge() {
    let tz = zone("Africa/Monrovia");
    let start = period_start(at("1971-06-01T12:00:00Z"), tz, Period::Day);
    assert_eq!(start, at("1971-06-01T00:44:30Z"));
    assert_eq!(storage_bucket(start), at("1971-06-01T00:30:00Z"));
    // Since 1972 Monrovia is on UTC.
    let start = period_start(at("1972-06-01T12:00:00Z"), tz, Period::Day);
    assert_eq!(
        (start, storage_bucket(start)),
        (at("1972-06-01T00:00:00Z"), start)
    );
}

// ---------------------------------------------------------- bucketize

#[test]
fn bucketize_sums_exactly_and_is_linear() {
    // 90 days of one point per minute (129,600 points), every point worth 1,
    // into local days in New York across the 2026 fall-back.
    let tz = zone("America/New_York");
    let start = at("2026-09-15T00:00:00-04:00");
    let range = TimeRange::new(start, start + 90 * D);
    let points: Vec<(i64, f64)> = (0..129_600).map(|i| (start + i * 60_000, 1.0)).collect();
    let began = Instant::now();
    let (edges, sums) = bucketize(&points, range, tz, Step::Day);
    let took = began.elapsed();
    eprintln!(
        "bucketize 129,600 points into {} days: {took:?}",
        edges.len()
    );
    // 90 * 24 h from 09-15 00:00 EDT ends 12-13 23:00 EST (one hour gained),
    // so there are 90 buckets and the last one is 23 h long.
    assert_eq!(edges.len(), 90);
    assert_eq!(format_rfc3339(edges[89], tz), "2026-12-13T00:00:00-05:00");
    assert_eq!(sums.iter().sum::<f64>(), 129_600.0);
    assert_eq!(sums[0], 1440.0);
    // 11-01 is the 25-hour day: 1500 minutes.
    let nov1 = edges
        .iter()
        .position(|&e| e == at("2026-11-01T00:00:00-04:00"))
        .unwrap();
    assert_eq!(sums[nov1], 1500.0);
    assert_eq!(sums[89], 1380.0);
    // Hourly: 90 * 24 = 2160 hour buckets, 60 points each.
    let (edges, sums) = bucketize(&points, range, tz, Step::Hour);
    assert_eq!(edges.len(), 2160);
    assert!(sums.iter().all(|&s| s == 60.0));
    // Fixed 15-minute buckets, and points outside the range are ignored.
    let mut outside = points.clone();
    outside.push((start - 1, 1000.0));
    outside.push((start + 90 * D, 1000.0));
    let (edges, sums) = bucketize(&outside, range, tz, Step::Fixed(STORAGE_BUCKET_MS));
    assert_eq!(edges.len(), 90 * 96);
    assert!(sums.iter().all(|&s| s == 15.0));
    // Generous bound for an unoptimised debug build on a shared machine.
    assert!(took.as_millis() < 1500, "{took:?}");
}

#[test]
fn empty_and_huge_ranges() {
    let tz = zone("Europe/Berlin");
    assert!(bucket_edges(TimeRange::new(10, 10), tz, Step::Day).is_empty());
    assert!(bucket_edges(TimeRange::new(10, 5), tz, Step::Hour).is_empty());
    assert_eq!(
        bucketize(&[(7, 1.0)], TimeRange::new(10, 5), tz, Step::Hour),
        (vec![], vec![])
    );
    // A 1 ms step over a year is cut at MAX_BUCKETS instead of exhausting memory.
    let year = TimeRange::new(at("2026-01-01T00:00:00Z"), at("2027-01-01T00:00:00Z"));
    assert_eq!(bucket_edges(year, tz, Step::Fixed(1)).len(), MAX_BUCKETS);
    assert_eq!(bucket_edges(year, tz, Step::Fixed(0)).len(), MAX_BUCKETS);
    // The whole i64 range does not panic.
    let all = TimeRange::new(i64::MIN, i64::MAX);
    // Months of years 1 to 9999; the first is cut at MIN_MS, the last ends at the range end.
    let months = bucket_edges(all, tz, Step::Month);
    assert_eq!(months.len(), 9999 * 12);
    assert_eq!(months[0], MIN_MS);
    assert_eq!(format_rfc3339(months[0], tz), "0001-01-02T00:00:00+00:00");
    // Berlin's December 9999 (CET, +01:00) starts at 9999-11-30T23:00Z.
    assert_eq!(
        format_rfc3339(months[months.len() - 1], tz),
        "9999-12-01T00:00:00+01:00"
    );
    let last = period_range(i64::MAX, tz, Period::Month, 0);
    assert_eq!(
        last,
        TimeRange::new(at("9999-12-01T00:00:00+01:00"), MAX_MS + 1)
    );
    // Berlin used local mean time +00:53:28 then, so 0001-01-03 00:00 local
    // is 0001-01-02T23:06:32Z; the first day is cut at MIN_MS.
    let first = period_range(i64::MIN, tz, Period::Day, i32::MIN);
    assert_eq!(first, TimeRange::new(MIN_MS, at("0001-01-02T23:06:32Z")));
}

// ------------------------------------------------------------ properties

fn any_zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(TZ_VARIANTS.to_vec())
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        Just(Step::Hour),
        Just(Step::Day),
        Just(Step::Week),
        Just(Step::Month),
        (1i64..=7 * D).prop_map(Step::Fixed),
    ]
}

fn period() -> impl Strategy<Value = Period> {
    prop_oneof![Just(Period::Day), Just(Period::Week), Just(Period::Month)]
}

fn window() -> impl Strategy<Value = Window> {
    prop_oneof![
        Just(Window::Today),
        Just(Window::Yesterday),
        Just(Window::ThisWeek),
        Just(Window::LastWeek),
        Just(Window::ThisMonth),
        Just(Window::LastMonth),
        any::<u32>().prop_map(Window::LastHours),
        any::<u32>().prop_map(Window::LastDays),
        Just(Window::AllTime),
    ]
}

/// Instants in the supported range, weighted towards the tz database's years.
fn supported_ts() -> impl Strategy<Value = i64> {
    prop_oneof![
        MIN_MS..=MAX_MS,
        at("1900-01-01T00:00:00Z")..at("2040-01-01T00:00:00Z"),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn bucket_start_brackets_ts(ts in supported_ts(), tz in any_zone(), step in step()) {
        let start = bucket_start(ts, tz, step);
        prop_assert!(start <= ts);
        prop_assert_eq!(bucket_start(start, tz, step), start);
        let edges = bucket_edges(TimeRange::new(ts, ts.saturating_add(1)), tz, step);
        prop_assert_eq!(edges, vec![start]);
        // The next edge is after ts, and ts's bucket is the same from any point inside.
        let two = bucket_edges(TimeRange::new(start, ts.saturating_add(8 * 7 * D)), tz, step);
        prop_assert_eq!(two[0], start);
        prop_assert!(two.windows(2).all(|w| w[0] < w[1]));
        if let Some(&next) = two.get(1) {
            prop_assert!(ts < next);
            prop_assert_eq!(bucket_start(next - 1, tz, step), start);
            prop_assert_eq!(bucket_start(next, tz, step), next);
        }
    }

    #[test]
    fn periods_tile_time(ts in supported_ts(), tz in any_zone(), p in period(), offset in -3i32..=3) {
        let start = period_start(ts, tz, p);
        prop_assert!(start <= ts);
        prop_assert_eq!(period_start(start, tz, p), start);
        let cur = period_range(ts, tz, p, 0);
        prop_assert_eq!(cur.start_ms, start);
        prop_assert!(cur.contains(ts));
        let r = period_range(ts, tz, p, offset);
        prop_assert!(!r.is_empty());
        // Away from the limits, where offsets saturate, neighbours touch.
        if cur.start_ms > MIN_MS && cur.end_ms <= MAX_MS {
            if offset < 0 { prop_assert!(r.end_ms <= cur.start_ms); }
            if offset > 0 { prop_assert!(r.start_ms >= cur.end_ms); }
            prop_assert_eq!(period_range(ts, tz, p, -1).end_ms, cur.start_ms);
            prop_assert_eq!(period_range(ts, tz, p, 1).start_ms, cur.end_ms);
        }
    }

    #[test]
    fn windows_are_non_empty_and_start_by_now(now in supported_ts(), tz in any_zone(), w in window()) {
        let r = window_range(&w, now, tz);
        prop_assert!(!r.is_empty());
        prop_assert!(r.start_ms <= now);
        prop_assert!(r.end_ms <= now + 1);
    }

    #[test]
    fn nothing_panics_for_any_i64(
        ts in any::<i64>(),
        other in any::<i64>(),
        tz in any_zone(),
        step in step(),
        p in period(),
        offset in any::<i32>(),
        w in window(),
    ) {
        let clamped = ts.clamp(MIN_MS, MAX_MS);
        let start = bucket_start(ts, tz, step);
        if !matches!(step, Step::Fixed(_)) {
            prop_assert_eq!(start, bucket_start(clamped, tz, step));
        }
        prop_assert_eq!(period_start(ts, tz, p), period_start(clamped, tz, p));
        let r = period_range(ts, tz, p, offset);
        prop_assert!(!r.is_empty());
        let wr = window_range(&w, ts, tz);
        prop_assert!(!wr.is_empty() && wr.start_ms <= clamped);
        let _ = format_rfc3339(ts, tz);
        let small = TimeRange::new(ts.min(other), ts.min(other).saturating_add(40 * D));
        let edges = bucket_edges(small, tz, step);
        prop_assert!(edges.windows(2).all(|w| w[0] < w[1]));
        let (e2, sums) = bucketize(&[(ts, 1.0), (other, 2.0)], small, tz, step);
        prop_assert_eq!(e2.len(), sums.len());
        prop_assert!(sums.iter().sum::<f64>() <= 3.0);
    }
}
