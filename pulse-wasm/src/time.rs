//! Time bindings: windows, periods, chart buckets and timestamps in IANA zones.
//!
//! Instants cross the boundary as JS numbers of milliseconds since the epoch.
//! They are whole numbers below 2^53, so the conversions are exact; a
//! non-finite or fractional input is refused rather than silently rounded.

use std::str::FromStr;

use pulse_core::window::{self, Period, Step, TimeRange, Window};
use wasm_bindgen::prelude::*;

use crate::into_error;

/// Milliseconds as `i64`, refusing NaN, infinities, fractions and values
/// beyond ±2^53 (which JS cannot hold exactly anyway).
pub(crate) fn to_ms(name: &str, value: f64) -> Result<i64, JsError> {
    const LIMIT: f64 = 9_007_199_254_740_992.0;
    if !value.is_finite() || value.fract() != 0.0 || value.abs() > LIMIT {
        // The value is not echoed: formatting floats would add kilobytes to the .wasm.
        return Err(JsError::new(&format!(
            "{name} must be a whole number of milliseconds below 2^53"
        )));
    }
    // Checked above: whole and within ±2^53.
    #[allow(clippy::cast_possible_truncation)]
    Ok(value as i64)
}

/// `i64` milliseconds as a JS number (exact below 2^53, which every instant is).
#[allow(clippy::cast_precision_loss)]
pub(crate) fn from_ms(ms: i64) -> f64 {
    ms as f64
}

fn zone(name: &str) -> Result<chrono_tz::Tz, JsError> {
    window::parse_tz(name).map_err(into_error)
}

fn period(name: &str) -> Result<Period, JsError> {
    name.parse::<Period>().map_err(into_error)
}

fn step(name: &str) -> Result<Step, JsError> {
    name.parse::<Step>().map_err(into_error)
}

fn range_to_js(r: TimeRange) -> JsValue {
    let obj = js_sys::Object::new();
    // Setting a property on a fresh plain object cannot fail.
    let _ = js_sys::Reflect::set(&obj, &"startMs".into(), &from_ms(r.start_ms).into());
    let _ = js_sys::Reflect::set(&obj, &"endMs".into(), &from_ms(r.end_ms).into());
    obj.into()
}

/// True when `zone` is an IANA zone name the core knows.
#[wasm_bindgen(js_name = isValidZone)]
pub fn is_valid_zone(zone: &str) -> bool {
    window::parse_tz(zone).is_ok()
}

/// The half-open range of a named window (`"today"`, `"week"`, `"30d"`, …)
/// at `nowMs` in `zone`.
#[wasm_bindgen(js_name = windowRange, unchecked_return_type = "TimeRange")]
pub fn window_range(
    #[wasm_bindgen(unchecked_param_type = "WindowName")] window: &str,
    #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    zone: &str,
) -> Result<JsValue, JsError> {
    let w = Window::from_str(window).map_err(into_error)?;
    let r = window::window_range(&w, to_ms("nowMs", now_ms)?, self::zone(zone)?);
    Ok(range_to_js(r))
}

/// The start of the local day, week (Monday) or month containing `nowMs`.
#[wasm_bindgen(js_name = periodStart)]
pub fn period_start(
    #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    zone: &str,
    #[wasm_bindgen(unchecked_param_type = "PeriodName")] period: &str,
) -> Result<f64, JsError> {
    let start = window::period_start(
        to_ms("nowMs", now_ms)?,
        self::zone(zone)?,
        self::period(period)?,
    );
    Ok(from_ms(start))
}

/// The local day, week or month `offset` periods from the one containing
/// `nowMs` (0 = current, -1 = previous).
#[wasm_bindgen(js_name = periodRange, unchecked_return_type = "TimeRange")]
pub fn period_range(
    #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    zone: &str,
    #[wasm_bindgen(unchecked_param_type = "PeriodName")] period: &str,
    offset: i32,
) -> Result<JsValue, JsError> {
    let r = window::period_range(
        to_ms("nowMs", now_ms)?,
        self::zone(zone)?,
        self::period(period)?,
        offset,
    );
    Ok(range_to_js(r))
}

/// The start of the bucket of `step` in `zone` that contains `tsMs`.
#[wasm_bindgen(js_name = bucketStart)]
pub fn bucket_start(
    #[wasm_bindgen(js_name = tsMs)] ts_ms: f64,
    zone: &str,
    #[wasm_bindgen(unchecked_param_type = "StepName")] step: &str,
) -> Result<f64, JsError> {
    let start = window::bucket_start(to_ms("tsMs", ts_ms)?, self::zone(zone)?, self::step(step)?);
    Ok(from_ms(start))
}

/// The bucket starts covering `[fromMs, toMs)` in `zone`.
#[wasm_bindgen(js_name = bucketEdges)]
pub fn bucket_edges(
    #[wasm_bindgen(js_name = fromMs)] from_ms: f64,
    #[wasm_bindgen(js_name = toMs)] to_ms: f64,
    zone: &str,
    #[wasm_bindgen(unchecked_param_type = "StepName")] step: &str,
) -> Result<Vec<f64>, JsError> {
    let range = TimeRange {
        start_ms: self::to_ms("fromMs", from_ms)?,
        end_ms: self::to_ms("toMs", to_ms)?,
    };
    let edges = window::bucket_edges(range, self::zone(zone)?, self::step(step)?);
    Ok(edges.into_iter().map(crate::time::from_ms).collect())
}

/// Pairs two parallel arrays of timestamps and values, refusing bad input.
pub(crate) fn points(timestamps: &[f64], values: &[f64]) -> Result<Vec<(i64, f64)>, JsError> {
    if timestamps.len() != values.len() {
        return Err(JsError::new(&format!(
            "timestamps and values differ in length ({} vs {})",
            timestamps.len(),
            values.len()
        )));
    }
    timestamps
        .iter()
        .zip(values)
        .map(|(&t, &v)| Ok((to_ms("timestamps[i]", t)?, v)))
        .collect()
}

/// Sums points (parallel `timestamps`/`values`) into the buckets of `step`
/// in `zone` covering `[fromMs, toMs)`; points outside are ignored.
#[wasm_bindgen(unchecked_return_type = "Buckets")]
pub fn bucketize(
    timestamps: &[f64],
    values: &[f64],
    #[wasm_bindgen(js_name = fromMs)] from_ms: f64,
    #[wasm_bindgen(js_name = toMs)] to_ms: f64,
    zone: &str,
    #[wasm_bindgen(unchecked_param_type = "StepName")] step: &str,
) -> Result<JsValue, JsError> {
    let range = TimeRange {
        start_ms: self::to_ms("fromMs", from_ms)?,
        end_ms: self::to_ms("toMs", to_ms)?,
    };
    let pts = points(timestamps, values)?;
    let (starts, sums) = window::bucketize(&pts, range, self::zone(zone)?, self::step(step)?);
    let starts: Vec<f64> = starts.into_iter().map(crate::time::from_ms).collect();
    let obj = js_sys::Object::new();
    let starts = js_sys::Float64Array::from(starts.as_slice());
    let sums = js_sys::Float64Array::from(sums.as_slice());
    let _ = js_sys::Reflect::set(&obj, &"starts".into(), &starts);
    let _ = js_sys::Reflect::set(&obj, &"values".into(), &sums);
    Ok(obj.into())
}

/// The sum of the points whose timestamp lies in the named window at `nowMs`
/// in `zone`, without float summation noise.
#[wasm_bindgen(js_name = windowSum)]
pub fn window_sum(
    timestamps: &[f64],
    values: &[f64],
    #[wasm_bindgen(unchecked_param_type = "WindowName")] window: &str,
    #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    zone: &str,
) -> Result<f64, JsError> {
    let w = Window::from_str(window).map_err(into_error)?;
    let r = window::window_range(&w, to_ms("nowMs", now_ms)?, self::zone(zone)?);
    Ok(window::sum_in_range(&points(timestamps, values)?, r))
}

/// The local days from `first` to `last` (both included, `YYYY-MM-DD`, as
/// a date input gives them) in `zone`, as a half-open range.
#[wasm_bindgen(js_name = dateRange, unchecked_return_type = "TimeRange")]
pub fn date_range(first: &str, last: &str, zone: &str) -> Result<JsValue, JsError> {
    let r = window::date_range(first, last, self::zone(zone)?).map_err(into_error)?;
    Ok(range_to_js(r))
}

/// The sum of the points whose timestamp lies in `[fromMs, toMs)`, without
/// float summation noise.
#[wasm_bindgen(js_name = rangeSum)]
pub fn range_sum(
    timestamps: &[f64],
    values: &[f64],
    #[wasm_bindgen(js_name = fromMs)] from_ms: f64,
    #[wasm_bindgen(js_name = toMs)] to_ms: f64,
) -> Result<f64, JsError> {
    let range = TimeRange {
        start_ms: self::to_ms("fromMs", from_ms)?,
        end_ms: self::to_ms("toMs", to_ms)?,
    };
    Ok(window::sum_in_range(&points(timestamps, values)?, range))
}

/// The step a chart of `[fromMs, toMs)` uses by default: `"1h"` (local hours) up to two
/// days, `"1d"` (local days) up to 120 days, `"1mo"` beyond.
#[wasm_bindgen(js_name = defaultStep, unchecked_return_type = "StepName")]
pub fn default_step(
    #[wasm_bindgen(js_name = fromMs)] from_ms: f64,
    #[wasm_bindgen(js_name = toMs)] to_ms: f64,
) -> Result<String, JsError> {
    let range = TimeRange {
        start_ms: self::to_ms("fromMs", from_ms)?,
        end_ms: self::to_ms("toMs", to_ms)?,
    };
    Ok(Step::default_for(range).to_string())
}

/// `tsMs` as RFC 3339 with the offset of `zone`, e.g. `2025-03-30T03:00:00+02:00`.
#[wasm_bindgen(js_name = formatTimestamp)]
pub fn format_timestamp(
    #[wasm_bindgen(js_name = tsMs)] ts_ms: f64,
    zone: &str,
) -> Result<String, JsError> {
    Ok(window::format_rfc3339(
        to_ms("tsMs", ts_ms)?,
        self::zone(zone)?,
    ))
}

/// The 15-minute UTC storage bucket containing `tsMs` (the server stores
/// deltas in these; every zone's local midnight is one of their edges).
#[wasm_bindgen(js_name = storageBucket)]
pub fn storage_bucket(#[wasm_bindgen(js_name = tsMs)] ts_ms: f64) -> Result<f64, JsError> {
    Ok(from_ms(window::storage_bucket(to_ms("tsMs", ts_ms)?)))
}

/// Rounds a float sum to 12 significant digits, removing summation noise
/// such as `0.15000000000000002`.
#[wasm_bindgen]
pub fn clean(value: f64) -> f64 {
    pulse_core::num::clean(value)
}

/// `inputCachedTokens / inputTokens × 100`, and 0 when `inputTokens` is 0.
#[wasm_bindgen(js_name = inputCachedPct)]
pub fn input_cached_pct(
    #[wasm_bindgen(js_name = inputCachedTokens)] input_cached_tokens: f64,
    #[wasm_bindgen(js_name = inputTokens)] input_tokens: f64,
) -> f64 {
    pulse_core::catalog::input_cached_pct(input_cached_tokens, input_tokens)
}

/// `cacheHits / (cacheHits + cacheMisses) × 100`, and 0 when there were neither.
#[wasm_bindgen(js_name = cacheHitPct)]
pub fn cache_hit_pct(
    #[wasm_bindgen(js_name = cacheHits)] cache_hits: f64,
    #[wasm_bindgen(js_name = cacheMisses)] cache_misses: f64,
) -> f64 {
    pulse_core::catalog::cache_hit_pct(cache_hits, cache_misses)
}
