//! The bindings as JS sees them, run under Node by `wasm-pack test --node`.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Float64Array, JsString, Object, Reflect};
use pulse_wasm::{expo, time, tracker};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(key)).unwrap()
}

fn num(v: &JsValue, key: &str) -> f64 {
    get(v, key).as_f64().unwrap()
}

fn text(v: &JsValue, key: &str) -> String {
    get(v, key).as_string().unwrap()
}

/// A JS string, as the bindings receive text.
fn js(s: &str) -> JsString {
    JsString::from(s)
}

fn at(v: &JsValue, i: u32) -> JsValue {
    Array::from(v).get(i)
}

/// The error message a binding threw.
fn message(err: wasm_bindgen::JsError) -> String {
    let v = JsValue::from(err);
    assert!(v.is_instance_of::<js_sys::Error>());
    String::from(js_sys::Error::from(v).message())
}

const BODY: &str = "# HELP spend_total Spend in USD.\n\
# TYPE spend_total counter\n\
spend_total{model=\"a} 999\",team=\"x\\\"y\\\\z\\n\"} 1.25\n\
spend_total{model=\"b\"} 2\n\
# TYPE weird gauge\n\
weird{k=\"n\"} NaN\n\
weird{k=\"p\"} +Inf\n\
weird{k=\"m\"} -Inf\n\
bad_line 12abc\n";

#[wasm_bindgen_test]
fn parse_builds_families_samples_and_errors() {
    let e = expo::parse(&js(BODY)).unwrap();
    assert_eq!(text(&e, "format"), "prometheus");
    let families = get(&e, "families");
    assert_eq!(Array::from(&families).length(), 2);
    let spend = at(&families, 0);
    assert_eq!(text(&spend, "name"), "spend_total");
    assert_eq!(text(&spend, "type"), "counter");
    assert_eq!(text(&spend, "help"), "Spend in USD.");
    assert!(get(&spend, "unit").is_null());
    let s0 = at(&get(&spend, "samples"), 0);
    assert_eq!(num(&s0, "value"), 1.25);
    assert_eq!(num(&s0, "line"), 3.0);
    assert!(get(&s0, "timestampMs").is_null());
    let labels = get(&s0, "labels");
    assert_eq!(text(&labels, "model"), "a} 999");
    assert_eq!(text(&labels, "team"), "x\"y\\z\n");
    let weird = get(&at(&families, 1), "samples");
    assert!(num(&at(&weird, 0), "value").is_nan());
    assert_eq!(num(&at(&weird, 1), "value"), f64::INFINITY);
    assert_eq!(num(&at(&weird, 2), "value"), f64::NEG_INFINITY);
    let errors = get(&e, "errors");
    assert_eq!(Array::from(&errors).length(), 1);
    let err = at(&errors, 0);
    assert_eq!(num(&err, "line"), 9.0);
    assert_eq!(text(&err, "kind"), "InvalidValue");
    assert_eq!(text(&err, "snippet"), "bad_line 12abc");
}

#[wasm_bindgen_test]
fn openmetrics_timestamps_become_milliseconds() {
    let body = "# TYPE x counter\nx_total 3 1700000000.5\n# EOF\n";
    let e = expo::parse(&js(body)).unwrap();
    assert_eq!(text(&e, "format"), "openmetrics");
    let s = at(&get(&at(&get(&e, "families"), 0), "samples"), 0);
    assert_eq!(num(&s, "timestampMs"), 1_700_000_000_500.0);
}

/// The one label value `v` of the first sample of `body`.
fn label_v(body: &JsString) -> String {
    let e = expo::parse(body).unwrap();
    let s = at(&get(&at(&get(&e, "families"), 0), "samples"), 0);
    text(&get(&s, "labels"), "v")
}

#[wasm_bindgen_test]
fn text_of_any_characters_reaches_the_parser_intact() {
    // ASCII only, non-ASCII at once, and a long ASCII run before 2-, 3- and
    // 4-byte characters (the buffer sized for ASCII must grow). Each pair is
    // the value as written in the body and as decoded.
    let long = format!("{}é€🚀", "x".repeat(10_000));
    for (written, decoded) in [
        ("plain", "plain"),
        ("é", "é"),
        ("🚀 rocket", "🚀 rocket"),
        ("日本語 }, \\n", "日本語 }, \n"),
        (long.as_str(), long.as_str()),
    ] {
        let body = format!("m{{v=\"{written}\"}} 1\n");
        assert_eq!(label_v(&js(&body)), decoded);
        let totals = expo::family_totals(&js(&body)).unwrap();
        assert_eq!(num(&totals, "m"), 1.0);
    }
    // A lone surrogate is not text: it arrives as U+FFFD, as with `&str`.
    let lone = js("m{v=\"a")
        .concat(&JsString::from_char_code1(0xD800))
        .concat(&js("b\"} 1\n"));
    assert_eq!(label_v(&lone), "a\u{FFFD}b");
}

#[wasm_bindgen_test]
fn proto_label_stays_a_property() {
    let e = expo::parse(&js("x{__proto__=\"evil\"} 1\n")).unwrap();
    let s = at(&get(&at(&get(&e, "families"), 0), "samples"), 0);
    let labels = get(&s, "labels");
    assert_eq!(text(&labels, "__proto__"), "evil");
    let plain = Object::get_prototype_of(&Object::new());
    assert!(Object::is(&Object::get_prototype_of(&labels), &plain));
}

#[wasm_bindgen_test]
fn non_exposition_bodies_throw_the_core_message() {
    assert_eq!(message(expo::parse(&js("")).unwrap_err()), "empty body");
    assert_eq!(
        message(expo::parse(&js("<!doctype html><html></html>")).unwrap_err()),
        "body is an HTML page, not Prometheus text"
    );
}

#[wasm_bindgen_test]
fn totals_by_sample_and_by_family() {
    let body = "# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 4\nh_sum 0.25\nh_count 4\n\
                # TYPE c_total counter\nc_total{a=\"1\"} 0.1\nc_total{a=\"2\"} 0.2\n";
    let by_sample = expo::sample_totals(&js(body)).unwrap();
    assert_eq!(num(&by_sample, "h_bucket"), 7.0);
    assert_eq!(num(&by_sample, "h_sum"), 0.25);
    assert_eq!(num(&by_sample, "c_total"), 0.3);
    let by_family = expo::family_totals(&js(body)).unwrap();
    assert_eq!(num(&by_family, "h"), 11.25);
    assert_eq!(num(&by_family, "c_total"), 0.3);
    let bytes = expo::family_totals_bytes(body.as_bytes()).unwrap();
    assert_eq!(num(&bytes, "h"), 11.25);
}

#[wasm_bindgen_test]
fn tracker_deltas_survive_export_and_import() {
    let b1 = "litellm_spend_metric_total{requested_model=\"gpt-4o\"} 1.5\n";
    let b2 = "litellm_spend_metric_total{requested_model=\"gpt-4o\"} 2.25\n";
    let b3 = "litellm_spend_metric_total{requested_model=\"gpt-4o\"} 0.5\n";
    let mut t = tracker::Tracker::new(None).unwrap();
    let o1 = t.observe(&js(b1), 1_000.0, None).unwrap();
    assert_eq!(get(&o1, "baseline"), JsValue::TRUE);
    assert_eq!(num(&get(&o1, "deltas"), "cost"), 0.0);
    assert_eq!(num(&get(&o1, "live"), "cost"), 1.5);
    let state = t.export_state().unwrap();
    let mut restored = tracker::Tracker::from_state(&state, None).unwrap();
    let o2 = restored.observe(&js(b2), 61_000.0, Some(60_000.0)).unwrap();
    assert_eq!(get(&o2, "baseline"), JsValue::FALSE);
    assert_eq!(num(&get(&o2, "deltas"), "cost"), 0.75);
    let row = at(&get(&o2, "breakdown"), 0);
    assert_eq!(text(&row, "dimension"), "model");
    assert_eq!(text(&row, "key"), "gpt-4o");
    assert_eq!(text(&row, "metric"), "cost");
    assert_eq!(num(&row, "delta"), 0.75);
    // The target's clock given to observe is part of the exported state.
    assert!(
        restored
            .export_state()
            .unwrap()
            .contains("\"last_target_ms\":60000")
    );
    // A LiteLLM restart: the counter starts again, the delta is its new value.
    let o3 = restored.observe(&js(b3), 121_000.0, None).unwrap();
    assert_eq!(num(&o3, "resets"), 1.0);
    assert_eq!(num(&get(&o3, "deltas"), "cost"), 0.5);
    // A failed body throws and leaves the baseline alone.
    assert!(
        restored
            .observe(&js("<html></html>"), 181_000.0, None)
            .is_err()
    );
}

#[wasm_bindgen_test]
fn tracker_overrides_are_checked() {
    let overrides = Object::new();
    Reflect::set(&overrides, &"cost".into(), &"my_spend_total".into()).unwrap();
    let t = tracker::Tracker::new(Some(overrides)).unwrap();
    assert_eq!(t.family_of("cost").unwrap(), "my_spend_total");
    let bad = Object::new();
    Reflect::set(&bad, &"nope".into(), &"x".into()).unwrap();
    assert_eq!(
        message(tracker::Tracker::new(Some(bad)).err().unwrap()),
        "unknown metric \"nope\" in overrides"
    );
}

#[wasm_bindgen_test]
fn windows_in_a_zone() {
    // 2025-03-30 12:00 UTC: Berlin switched to summer time that night.
    let now = 1_743_336_000_000.0;
    let today = time::window_range("today", now, "Europe/Berlin").unwrap();
    assert_eq!(num(&today, "startMs"), 1_743_289_200_000.0); // 2025-03-29T23:00Z
    assert_eq!(num(&today, "endMs"), now + 1.0);
    let day = time::period_range(now, "Europe/Berlin", "day", 0).unwrap();
    assert_eq!(
        num(&day, "endMs") - num(&day, "startMs"),
        23.0 * 3_600_000.0
    );
    assert_eq!(
        time::format_timestamp(1_743_296_400_000.0, "Europe/Berlin").unwrap(),
        "2025-03-30T03:00:00+02:00"
    );
    assert_eq!(
        message(time::window_range("today", now, "Mars/Base").unwrap_err()),
        message(wasm_bindgen::JsError::new(
            &pulse_core::window::parse_tz("Mars/Base")
                .unwrap_err()
                .to_string()
        ))
    );
    assert!(time::window_range("today", f64::NAN, "UTC").is_err());
}

#[wasm_bindgen_test]
fn bucketize_returns_typed_arrays() {
    // Three points on two Berlin days; one outside the range.
    let ts = [
        1_743_289_200_000.0, // 2025-03-30 00:00 Berlin
        1_743_300_000_000.0,
        1_743_372_000_000.0, // 2025-03-31 00:00 Berlin
        1_743_458_400_000.0, // 2025-04-01, outside
    ];
    let vs = [1.0, 2.0, 4.0, 8.0];
    let b = time::bucketize(
        &ts,
        &vs,
        1_743_289_200_000.0,
        1_743_458_400_000.0,
        "Europe/Berlin",
        "day",
    )
    .unwrap();
    let starts = Float64Array::from(get(&b, "starts")).to_vec();
    let values = Float64Array::from(get(&b, "values")).to_vec();
    assert_eq!(starts, vec![1_743_289_200_000.0, 1_743_372_000_000.0]);
    assert_eq!(values, vec![3.0, 4.0]);
    assert!(time::bucketize(&ts, &vs[..2], 0.0, 1.0, "UTC", "day").is_err());
    assert!(time::bucketize(&ts, &vs, 0.0, 1.0, "UTC", "fortnight").is_err());
}

#[wasm_bindgen_test]
fn numbers_are_cleaned() {
    assert_eq!(time::clean(0.1 + 0.2), 0.3);
    assert_eq!(time::input_cached_pct(25.0, 200.0), 12.5);
    assert_eq!(time::input_cached_pct(5.0, 0.0), 0.0);
    assert_eq!(time::cache_hit_pct(3.0, 1.0), 75.0);
    assert_eq!(time::cache_hit_pct(0.0, 0.0), 0.0);
    assert_eq!(time::storage_bucket(1_000_000.0).unwrap(), 900_000.0);
}
