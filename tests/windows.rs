//! Time windows and chart buckets in real IANA zones.
//!
//! The DST and zone cases are rows of two tables: [`RANGES`] (a zone, an
//! instant, a period or window, and the range expected) and [`STARTS`] (a
//! zone, an instant, a unit, and the start of the unit holding the instant),
//! each checked by one function. Every expected instant is a literal RFC 3339
//! string worked out by hand from the zone's tz database rules (the reasoning
//! is in the comment above each group of rows). Strings are turned into
//! milliseconds by chrono's RFC 3339 parser (`parse_rfc3339`), not by the code
//! under test. A literal with an offset must also be what the code formats for
//! that instant in the row's zone, so both the instant and the offset are
//! checked; a literal in `Z` is checked as an instant only.

use std::time::Instant;

use proptest::prelude::*;
use pulse_core::window::{
    MAX_BUCKETS, MAX_MS, MIN_MS, Period, STORAGE_BUCKET_MS, Step, TZ_VARIANTS, TimeRange, Tz,
    Window, WindowParseError, bucket_edges, bucket_start, bucketize, format_rfc3339, parse_rfc3339,
    parse_tz, period_range, period_start, storage_bucket, window_range,
};

const M: i64 = 60_000;
const H: i64 = 60 * M;
const D: i64 = 24 * H;

fn at(text: &str) -> i64 {
    parse_rfc3339(text).unwrap_or_else(|e| panic!("bad literal in test: {e}"))
}

fn zone(name: &str) -> Tz {
    parse_tz(name).unwrap()
}

fn local(edges: &[i64], tz: Tz) -> Vec<String> {
    edges.iter().map(|&e| format_rfc3339(e, tz)).collect()
}

/// What a [`RANGES`] row asks for.
#[derive(Debug, Clone, Copy)]
enum Ask {
    /// `period_range(instant, zone, period, offset)`.
    Period(Period, i32),
    /// `window_range(window, instant, zone)`.
    Window(Window),
}

const fn day(offset: i32) -> Ask {
    Ask::Period(Period::Day, offset)
}

const fn week(offset: i32) -> Ask {
    Ask::Period(Period::Week, offset)
}

const fn month(offset: i32) -> Ask {
    Ask::Period(Period::Month, offset)
}

const TODAY: Ask = Ask::Window(Window::Today);
const YESTERDAY: Ask = Ask::Window(Window::Yesterday);
const THIS_WEEK: Ask = Ask::Window(Window::ThisWeek);
const LAST_WEEK: Ask = Ask::Window(Window::LastWeek);
const THIS_MONTH: Ask = Ask::Window(Window::ThisMonth);
const LAST_MONTH: Ask = Ask::Window(Window::LastMonth);
const LAST_24H: Ask = Ask::Window(Window::LastHours(24));
const LAST_7D: Ask = Ask::Window(Window::LastDays(7));

/// `(zone, instant, ask, start, end, length in ms)`. The range is half-open,
/// so a window that runs up to now ends 1 ms after the instant.
type RangeRow = (
    &'static str,
    &'static str,
    Ask,
    &'static str,
    &'static str,
    i64,
);

#[rustfmt::skip]
const RANGES: &[RangeRow] = &[
    // ------------------------------------------------------------ DST days
    // EU rule: last Sunday of March (2026-03-29) at 01:00Z, 02:00 CET -> 03:00 CEST.
    // The day runs 00:00+01:00 (= 03-28T23:00Z) to next 00:00+02:00 (= 03-29T22:00Z).
    ("Europe/Berlin",       "2026-03-29T12:00:00+02:00", day(0),     "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 23 * H),
    ("Europe/Berlin",       "2026-03-29T12:00:00+02:00", day(0),     "2026-03-28T23:00:00Z",      "2026-03-29T22:00:00Z",      23 * H),
    // Last Sunday of October (2026-10-25) at 01:00Z, 03:00 CEST -> 02:00 CET.
    // 00:00+02:00 = 10-24T22:00Z to 10-26T00:00+01:00 = 10-25T23:00Z: 25 h.
    ("Europe/Berlin",       "2026-10-25T12:00:00+01:00", day(0),     "2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", 25 * H),
    ("Europe/Berlin",       "2026-10-25T12:00:00+01:00", day(0),     "2026-10-24T22:00:00Z",      "2026-10-25T23:00:00Z",      25 * H),
    // US rule: second Sunday of March (03-08) 02:00 EST -> 03:00 EDT;
    // first Sunday of November (11-01) 02:00 EDT -> 01:00 EST.
    ("America/New_York",    "2026-03-08T15:00:00-04:00", day(0),     "2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00", 23 * H),
    ("America/New_York",    "2026-11-01T15:00:00-05:00", day(0),     "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00", 25 * H),
    // Monday 2026-03-30 09:15 CEST: yesterday is the 23-hour Sunday,
    // today runs from 00:00+02:00 up to and including now.
    ("Europe/Berlin",       "2026-03-30T09:15:00+02:00", YESTERDAY,  "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 23 * H),
    ("Europe/Berlin",       "2026-03-30T09:15:00+02:00", TODAY,      "2026-03-30T00:00:00+02:00", "2026-03-30T09:15:00.001+02:00", 9 * H + 15 * M + 1),
    // On Sunday itself at 23:59, today started 23 h - 1 min ago.
    ("Europe/Berlin",       "2026-03-29T23:59:00+02:00", TODAY,      "2026-03-29T00:00:00+01:00", "2026-03-29T23:59:00.001+02:00", 23 * H - M + 1),
    // New York, the Monday after fall-back: yesterday was 25 h.
    ("America/New_York",    "2026-11-02T08:00:00-05:00", YESTERDAY,  "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00", 25 * H),
    // Rolling windows count elapsed hours, not wall-clock hours: 24 h before
    // Sunday 12:00 CEST is Saturday 11:00 CET.
    ("Europe/Berlin",       "2026-03-29T12:00:00+02:00", LAST_24H,   "2026-03-28T11:00:00+01:00", "2026-03-29T12:00:00.001+02:00", 24 * H + 1),
    ("Europe/Berlin",       "2026-03-29T12:00:00+02:00", LAST_7D,    "2026-03-22T11:00:00+01:00", "2026-03-29T12:00:00.001+02:00", 7 * D + 1),

    // --------------------------------------------------- midnights that move
    // Chile rule (2023+): DST from the Sunday >= Sep 2 at 04:00Z, i.e. Saturday
    // 2026-09-05 24:00 -04:00 becomes Sunday 09-06 01:00 -03:00. So 09-06 starts
    // at 01:00-03:00 (= 04:00Z); 09-05 is still 24 h and 09-06 is 23 h.
    ("America/Santiago",    "2026-09-06T12:00:00-03:00", day(0),     "2026-09-06T01:00:00-03:00", "2026-09-07T00:00:00-03:00", 23 * H),
    ("America/Santiago",    "2026-09-06T12:00:00-03:00", day(-1),    "2026-09-05T00:00:00-04:00", "2026-09-06T01:00:00-03:00", 24 * H),
    // Chile rule: DST ends the Sunday >= Apr 2 at 03:00Z. At 2026-04-05
    // 00:00 -03:00 (= 03:00Z) the clock goes back to 04-04 23:00 -04:00, so
    // 23:00-24:00 of 04-04 happens twice and midnight of 04-05 happens once,
    // at 00:00 -04:00 (= 04:00Z). Saturday 04-04 lasts 25 h.
    ("America/Santiago",    "2026-04-05T12:00:00-04:00", day(-1),    "2026-04-04T00:00:00-03:00", "2026-04-05T00:00:00-04:00", 25 * H),
    ("America/Santiago",    "2026-04-05T12:00:00-04:00", day(0),     "2026-04-05T00:00:00-04:00", "2026-04-06T00:00:00-04:00", 24 * H),
    // Cuba rule: DST from the Sunday >= Mar 8 at 00:00 standard time:
    // 2026-03-08 00:00 -05:00 becomes 01:00 -04:00 (= 05:00Z).
    ("America/Havana",      "2026-03-08T10:00:00-04:00", day(0),     "2026-03-08T01:00:00-04:00", "2026-03-09T00:00:00-04:00", 23 * H),
    // DST ends the Sunday >= Nov 1 at 00:00 standard time (= 01:00 daylight):
    // 2026-11-01 01:00 -04:00 (05:00Z) goes back to 00:00 -05:00, so midnight
    // happens at 04:00Z and 05:00Z; the day starts at the first and lasts 25 h.
    ("America/Havana",      "2026-11-01T10:00:00-05:00", day(0),     "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00", 25 * H),
    ("America/Havana",      "2026-11-01T10:00:00-05:00", TODAY,      "2026-11-01T04:00:00Z",      "2026-11-01T10:00:00.001-05:00", 11 * H + 1),
    // Saturday 10-31 ends at the first midnight: 24 h.
    ("America/Havana",      "2026-11-01T10:00:00-05:00", YESTERDAY,  "2026-10-31T00:00:00-04:00", "2026-11-01T00:00:00-04:00", 24 * H),
    // Lebanon rule: DST from the last Sunday of March at 00:00: 2026-03-29
    // 00:00 +02:00 becomes 01:00 +03:00 (= 03-28T22:00Z).
    ("Asia/Beirut",         "2026-03-29T12:00:00+03:00", day(0),     "2026-03-29T01:00:00+03:00", "2026-03-30T00:00:00+03:00", 23 * H),

    // ----------------------------------------------------- unusual offsets
    // Eucla +08:45: July 2026 starts at 07-01T00:00+08:45 = 06-30T15:15Z and has 31 days.
    ("Australia/Eucla",     "2026-07-20T12:00:00+08:45", month(0),   "2026-07-01T00:00:00+08:45", "2026-08-01T00:00:00+08:45", 31 * D),
    ("Australia/Eucla",     "2026-07-20T12:00:00+08:45", month(0),   "2026-06-30T15:15:00Z",      "2026-07-31T15:15:00Z",      31 * D),
    // Lord Howe: +11:00 in summer, +10:30 in winter. DST ends the first Sunday
    // of April (2026-04-05) at 02:00 +11:00 (= 04-04T15:00Z), clocks go back to
    // 01:30: the day is 24.5 h.
    ("Australia/Lord_Howe", "2026-04-05T12:00:00+10:30", day(0),     "2026-04-05T00:00:00+11:00", "2026-04-06T00:00:00+10:30", 24 * H + H / 2),
    // DST starts the first Sunday of October (2026-10-04) at 02:00 +10:30
    // (= 10-03T15:30Z), clocks jump to 02:30 +11:00: a 23.5 h day.
    ("Australia/Lord_Howe", "2026-10-04T12:00:00+11:00", day(0),     "2026-10-04T00:00:00+10:30", "2026-10-05T00:00:00+11:00", 23 * H + H / 2),
    // Samoa moved across the date line: 2011-12-29 24:00 -10:00 (DST) became
    // 2011-12-31 00:00 +14:00 (DST) at 12-30T10:00Z. 12-30 never happened.
    ("Pacific/Apia",        "2011-12-31T12:00:00+14:00", day(0),     "2011-12-31T00:00:00+14:00", "2012-01-01T00:00:00+14:00", 24 * H),
    // "Yesterday" skips the empty 30th and is the 29th, a full 24 h.
    ("Pacific/Apia",        "2011-12-31T12:00:00+14:00", day(-1),    "2011-12-29T00:00:00-10:00", "2011-12-31T00:00:00+14:00", 24 * H),
    ("Pacific/Apia",        "2011-12-31T12:00:00+14:00", YESTERDAY,  "2011-12-29T00:00:00-10:00", "2011-12-31T00:00:00+14:00", 24 * H),
    // Forward from the 29th, the next day is the 31st.
    ("Pacific/Apia",        "2011-12-29T12:00:00-10:00", day(1),     "2011-12-31T00:00:00+14:00", "2012-01-01T00:00:00+14:00", 24 * H),
    // The week from Monday 2011-12-26 has only six days (144 h).
    ("Pacific/Apia",        "2011-12-31T12:00:00+14:00", week(0),    "2011-12-26T00:00:00-10:00", "2012-01-02T00:00:00+14:00", 144 * H),

    // --------------------------------------------------- weeks and months
    // 2026-03-29 is a Sunday (03-01 is a Sunday), so its week starts Monday
    // 03-23 00:00+01:00 and ends Monday 03-30 00:00+02:00: 7 * 24 - 1 h.
    ("Europe/Berlin",       "2026-03-29T20:00:00+02:00", week(0),    "2026-03-23T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 167 * H),
    ("Europe/Berlin",       "2026-03-30T00:00:00+02:00", LAST_WEEK,  "2026-03-23T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 167 * H),
    // 2026 is not a leap year: February has 28 days; 2028 is: 29.
    ("UTC",                 "2026-02-14T00:00:00Z",      month(0),   "2026-02-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00", 28 * D),
    ("UTC",                 "2028-02-29T23:59:59.999Z",  month(0),   "2028-02-01T00:00:00+00:00", "2028-03-01T00:00:00+00:00", 29 * D),
    ("UTC",                 "2026-04-30T10:00:00Z",      month(0),   "2026-04-01T00:00:00+00:00", "2026-05-01T00:00:00+00:00", 30 * D),
    // From 31 January, one month on is February (not 3 March).
    ("UTC",                 "2026-01-31T10:00:00Z",      month(1),   "2026-02-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00", 28 * D),
    // Berlin March 2026 holds spring-forward (31 * 24 - 1 h); New York
    // November 2026 holds fall-back (30 * 24 + 1 h).
    ("Europe/Berlin",       "2026-03-15T12:00:00+01:00", month(0),   "2026-03-01T00:00:00+01:00", "2026-04-01T00:00:00+02:00", 31 * D - H),
    ("America/New_York",    "2026-12-01T00:00:00-05:00", LAST_MONTH, "2026-11-01T00:00:00-04:00", "2026-12-01T00:00:00-05:00", 30 * D + H),
    // Tokyo (+09:00, no DST), 2026-01-01 00:30 (= 2025-12-31T15:30Z), a Thursday:
    // the week began Monday 2025-12-29, last week Monday 12-22, last month is
    // December, and twelve months back from January 2026 is January 2025.
    ("Asia/Tokyo",          "2025-12-31T15:30:00Z",      TODAY,      "2026-01-01T00:00:00+09:00", "2026-01-01T00:30:00.001+09:00", 30 * M + 1),
    ("Asia/Tokyo",          "2026-01-01T00:30:00+09:00", TODAY,      "2026-01-01T00:00:00+09:00", "2026-01-01T00:30:00.001+09:00", 30 * M + 1),
    ("Asia/Tokyo",          "2026-01-01T00:30:00+09:00", YESTERDAY,  "2025-12-31T00:00:00+09:00", "2026-01-01T00:00:00+09:00", 24 * H),
    ("Asia/Tokyo",          "2026-01-01T00:30:00+09:00", THIS_WEEK,  "2025-12-29T00:00:00+09:00", "2026-01-01T00:30:00.001+09:00", 3 * D + 30 * M + 1),
    ("Asia/Tokyo",          "2026-01-01T00:30:00+09:00", LAST_WEEK,  "2025-12-22T00:00:00+09:00", "2025-12-29T00:00:00+09:00", 168 * H),
    ("Asia/Tokyo",          "2026-01-01T00:30:00+09:00", LAST_MONTH, "2025-12-01T00:00:00+09:00", "2026-01-01T00:00:00+09:00", 31 * D),
    ("Asia/Tokyo",          "2026-01-01T00:30:00+09:00", THIS_MONTH, "2026-01-01T00:00:00+09:00", "2026-01-01T00:30:00.001+09:00", 30 * M + 1),
    ("Asia/Tokyo",          "2026-01-01T00:30:00+09:00", month(-12), "2025-01-01T00:00:00+09:00", "2025-02-01T00:00:00+09:00", 31 * D),
];

/// What a [`STARTS`] row floors the instant to.
#[derive(Debug, Clone, Copy)]
enum Unit {
    /// `period_start(instant, zone, period)`.
    Period(Period),
    /// `bucket_start(instant, zone, step)`.
    Bucket(Step),
}

const DAY: Unit = Unit::Period(Period::Day);
const WEEK: Unit = Unit::Period(Period::Week);
const MONTH: Unit = Unit::Period(Period::Month);
const HOUR_BUCKET: Unit = Unit::Bucket(Step::Hour);
const DAY_BUCKET: Unit = Unit::Bucket(Step::Day);

/// `(zone, instant, unit, start of the unit holding the instant)`.
type StartRow = (&'static str, &'static str, Unit, &'static str);

#[rustfmt::skip]
const STARTS: &[StartRow] = &[
    // Santiago's 2026-09-06 starts at 01:00 -03:00 (= 04:00Z), see RANGES.
    ("America/Santiago",    "2026-09-06T01:00:00-03:00",     DAY,         "2026-09-06T04:00:00Z"),
    // Santiago 2026-04-05 03:30Z is the second 23:30 of 04-04, at -04:00
    // (02:30Z is the first, at -03:00): still Saturday, each 23:30 in its own
    // hour bucket.
    ("America/Santiago",    "2026-04-05T03:30:00Z",          DAY_BUCKET,  "2026-04-04T00:00:00-03:00"),
    ("America/Santiago",    "2026-04-05T03:30:00Z",          HOUR_BUCKET, "2026-04-04T23:00:00-04:00"),
    ("America/Santiago",    "2026-04-04T23:30:00-04:00",     HOUR_BUCKET, "2026-04-04T23:00:00-04:00"),
    ("America/Santiago",    "2026-04-04T23:30:00-03:00",     HOUR_BUCKET, "2026-04-04T23:00:00-03:00"),
    // Kolkata +05:30 (no DST): 2026-06-15 starts at 06-14T18:30Z; the hour
    // bucket of 10:45 local starts at 10:00+05:30 = 04:30Z.
    ("Asia/Kolkata",        "2026-06-15T10:45:00+05:30",     DAY,         "2026-06-14T18:30:00Z"),
    ("Asia/Kolkata",        "2026-06-15T10:45:00+05:30",     HOUR_BUCKET, "2026-06-15T04:30:00Z"),
    // Kathmandu +05:45: 2026-06-15 is a Monday (06-01 is a Monday), so day and
    // week both start at 00:00+05:45 = 06-14T18:15Z.
    ("Asia/Kathmandu",      "2026-06-17T08:10:00+05:45",     WEEK,        "2026-06-14T18:15:00Z"),
    ("Asia/Kathmandu",      "2026-06-17T08:10:00+05:45",     HOUR_BUCKET, "2026-06-17T08:00:00+05:45"),
    // Kiritimati +14:00: 2026-01-01 starts at 2025-12-31T10:00Z.
    ("Pacific/Kiritimati",  "2026-01-01T05:00:00+14:00",     DAY,         "2025-12-31T10:00:00Z"),
    ("Pacific/Kiritimati",  "2026-01-01T05:00:00+14:00",     MONTH,       "2025-12-31T10:00:00Z"),
    ("Pacific/Kiritimati",  "2026-01-01T05:00:00+14:00",     MONTH,       "2026-01-01T00:00:00+14:00"),
    // Pago Pago -11:00: 2026-01-01 starts at 11:00Z.
    ("Pacific/Pago_Pago",   "2026-01-01T05:00:00-11:00",     DAY,         "2026-01-01T11:00:00Z"),
    // Etc/GMT+12 is -12:00 (POSIX sign): 2026-01-01 starts at 12:00Z, and 11:59Z
    // on 01-01 is still 2025-12-31 there.
    ("Etc/GMT+12",          "2026-01-01T12:00:00Z",          DAY,         "2026-01-01T12:00:00Z"),
    ("Etc/GMT+12",          "2026-01-01T11:59:00Z",          DAY,         "2025-12-31T12:00:00Z"),
    // A Monday 00:00 is its own week's start; 1 ms earlier is the week before.
    ("Europe/Berlin",       "2026-03-30T00:00:00+02:00",     WEEK,        "2026-03-30T00:00:00+02:00"),
    ("Europe/Berlin",       "2026-03-29T23:59:59.999+02:00", WEEK,        "2026-03-23T00:00:00+01:00"),
];

/// Compares `got` with a literal: as an instant always, and as local text in
/// `tz` too unless the literal is written in `Z`.
fn compare(what: &str, got: i64, tz: Tz, literal: &str, wrong: &mut Vec<String>) {
    let text = format_rfc3339(got, tz);
    if got != at(literal) || (!literal.ends_with('Z') && text != literal) {
        wrong.push(format!("{what} is {text}, expected {literal}"));
    }
}

/// The mismatches of one [`RANGES`] row; empty when it holds.
fn check_range(&(zone_name, instant, ask, start, end, length): &RangeRow) -> Vec<String> {
    let tz = zone(zone_name);
    let now = at(instant);
    let mut wrong = Vec::new();
    // The instant itself is written in the zone's offset at that time.
    compare("instant", now, tz, instant, &mut wrong);
    let r = match ask {
        Ask::Period(p, offset) => period_range(now, tz, p, offset),
        Ask::Window(w) => window_range(&w, now, tz),
    };
    compare("start", r.start_ms, tz, start, &mut wrong);
    compare("end", r.end_ms, tz, end, &mut wrong);
    if r.end_ms - r.start_ms != length {
        wrong.push(format!(
            "length is {} ms, expected {length} ms",
            r.end_ms - r.start_ms
        ));
    }
    if let Ask::Period(p, 0) = ask {
        compare(
            "period_start",
            period_start(now, tz, p),
            tz,
            start,
            &mut wrong,
        );
    }
    wrong
}

/// The mismatches of one [`STARTS`] row; empty when it holds.
fn check_start(&(zone_name, instant, unit, start): &StartRow) -> Vec<String> {
    let tz = zone(zone_name);
    let now = at(instant);
    let mut wrong = Vec::new();
    compare("instant", now, tz, instant, &mut wrong);
    let got = match unit {
        Unit::Period(p) => period_start(now, tz, p),
        Unit::Bucket(step) => bucket_start(now, tz, step),
    };
    compare("start", got, tz, start, &mut wrong);
    wrong
}

/// Runs `check` on every row and reports every failing row at once.
fn check_rows<R: std::fmt::Debug>(rows: &[R], check: fn(&R) -> Vec<String>) {
    let failures: Vec<String> = rows
        .iter()
        .flat_map(|row| {
            check(row)
                .into_iter()
                .map(move |wrong| format!("{row:?}: {wrong}"))
        })
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn ranges() {
    check_rows(RANGES, check_range);
}

#[test]
fn starts() {
    check_rows(STARTS, check_start);
}

// ------------------------------------------------------------- buckets

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

#[test]
fn santiago_day_without_midnight_has_23_hour_buckets() {
    // The day's hour buckets: 23, the first at 01:00 (see RANGES).
    let tz = zone("America/Santiago");
    let day = period_range(at("2026-09-06T12:00:00-03:00"), tz, Period::Day, 0);
    let edges = bucket_edges(day, tz, Step::Hour);
    assert_eq!(edges.len(), 23);
    assert_eq!(format_rfc3339(edges[0], tz), "2026-09-06T01:00:00-03:00");
}

#[test]
fn havana_double_midnight_buckets() {
    // Both midnights of 2026-11-01 (04:00Z and 05:00Z, see RANGES) start an
    // hour bucket of their own.
    let tz = zone("America/Havana");
    let day = period_range(at("2026-11-01T10:00:00-05:00"), tz, Period::Day, 0);
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
fn lord_howe_half_hour_dst_buckets() {
    // April: the repeated half hour 01:30-02:00 becomes its own hour bucket
    // starting at the switch (04-04T15:00Z).
    let tz = zone("Australia/Lord_Howe");
    let day = period_range(at("2026-04-05T12:00:00+10:30"), tz, Period::Day, 0);
    let edges = bucket_edges(day, tz, Step::Hour);
    let mut expected = vec![
        "2026-04-05T00:00:00+11:00".to_owned(),
        "2026-04-05T01:00:00+11:00".to_owned(),
        "2026-04-05T01:30:00+10:30".to_owned(),
    ];
    expected.extend((2..24).map(|h| format!("2026-04-05T{h:02}:00:00+10:30")));
    assert_eq!(local(&edges, tz), expected);
    assert_eq!(edges[2], at("2026-04-04T15:00:00Z"));

    // October: 02:00-02:30 does not exist, so 01:00 is a full hour and 02:30
    // (= 10-03T15:30Z) starts a 30-minute bucket: 00, 01, 02:30, 03 ... 23 =
    // 24 buckets.
    let day = period_range(at("2026-10-04T12:00:00+11:00"), tz, Period::Day, 0);
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
fn apia_daily_buckets_skip_the_30th() {
    // Daily buckets from the 28th to 2012-01-02: no bucket for the 30th.
    let tz = zone("Pacific/Apia");
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
}

#[test]
fn monthly_buckets_in_new_york() {
    // Monthly buckets over 2026 in New York: 12 edges, each the 1st at 00:00.
    let tz = zone("America/New_York");
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

// ----------------------------------------------------- all time and fixed

#[test]
fn all_time_and_fixed_ranges() {
    // The rolling windows of this instant are rows of RANGES.
    let tz = zone("Europe/Berlin");
    let now = at("2026-03-29T12:00:00+02:00");
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
