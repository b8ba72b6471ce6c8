//! The counter tracker: feed successive bodies, get exact deltas.

use pulse_core::catalog::{Catalog, Metric, MetricValues};
use pulse_core::track::{Observation, SeriesState, TrackerState};
use wasm_bindgen::prelude::*;

use crate::expo::errors_to_js;
use crate::into_error;
use crate::time::{from_ms, to_ms};

/// Turns LiteLLM's ever-growing counters into per-scrape deltas that are
/// never negative, across LiteLLM restarts, `_created` resets and worker
/// bounce.
#[wasm_bindgen]
pub struct Tracker {
    inner: pulse_core::track::Tracker,
}

/// The LiteLLM catalog with `overrides` (friendly name to family) applied.
fn catalog(overrides: Option<js_sys::Object>) -> Result<Catalog, JsError> {
    let mut catalog = Catalog::litellm();
    let Some(obj) = overrides else {
        return Ok(catalog);
    };
    for entry in js_sys::Object::entries(&obj).iter() {
        let pair = js_sys::Array::from(&entry);
        let name = pair.get(0).as_string().unwrap_or_default();
        let metric = Metric::from_name(&name)
            .ok_or_else(|| JsError::new(&format!("unknown metric {name:?} in overrides")))?;
        let family = pair
            .get(1)
            .as_string()
            .ok_or_else(|| JsError::new(&format!("override for {name:?} must be a string")))?;
        catalog = catalog.with_override(metric, &family).map_err(into_error)?;
    }
    Ok(catalog)
}

fn set(obj: &js_sys::Object, key: &str, value: &JsValue) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = js_sys::Reflect::set(obj, &JsValue::from_str(key), value);
}

fn values_to_js(values: &MetricValues) -> JsValue {
    let obj = js_sys::Object::new();
    for (metric, value) in values.iter() {
        set(&obj, metric.name(), &JsValue::from_f64(value));
    }
    obj.into()
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn bad_state(what: &str) -> JsError {
    JsError::new(&format!("invalid tracker state: {what}"))
}

/// A whole number of milliseconds (or a count) from a state field.
fn state_int(obj: &JsValue, key: &str) -> Result<i64, JsError> {
    let v = get(obj, key).as_f64().ok_or_else(|| bad_state(key))?;
    to_ms(key, v).map_err(|_| bad_state(key))
}

/// A float from a state field; JSON writes NaN as `null`, so `null` reads as NaN.
fn state_f64(obj: &JsValue, key: &str) -> Result<f64, JsError> {
    let v = get(obj, key);
    if v.is_null() {
        return Ok(f64::NAN);
    }
    v.as_f64().ok_or_else(|| bad_state(key))
}

/// The tracker state as a JS object, in the same JSON shape the server's
/// serde encoding writes, so states can move between the two.
fn state_to_js(state: &TrackerState) -> JsValue {
    let obj = js_sys::Object::new();
    set(&obj, "version", &JsValue::from(state.version));
    #[allow(clippy::cast_precision_loss)]
    set(
        &obj,
        "observations",
        &JsValue::from_f64(state.observations as f64),
    );
    let last = state
        .last_at_ms
        .map_or(JsValue::NULL, |t| JsValue::from_f64(from_ms(t)));
    set(&obj, "last_at_ms", &last);
    let target = state
        .last_target_ms
        .map_or(JsValue::NULL, |t| JsValue::from_f64(from_ms(t)));
    set(&obj, "last_target_ms", &target);
    let series = js_sys::Array::new();
    for s in &state.series {
        let row = js_sys::Object::new();
        set(&row, "sample", &JsValue::from_str(&s.sample));
        let labels = js_sys::Array::new();
        for (k, v) in &s.labels {
            labels.push(&js_sys::Array::of2(
                &JsValue::from_str(k),
                &JsValue::from_str(v),
            ));
        }
        set(&row, "labels", &labels);
        set(
            &row,
            "created",
            &s.created.map_or(JsValue::NULL, JsValue::from_f64),
        );
        set(&row, "value", &JsValue::from_f64(s.value));
        set(
            &row,
            "last_seen_ms",
            &JsValue::from_f64(from_ms(s.last_seen_ms)),
        );
        series.push(&row);
    }
    set(&obj, "series", &series);
    obj.into()
}

/// Reads the JSON that [`state_to_js`] (or the server) wrote.
fn state_from_json(text: &str) -> Result<TrackerState, JsError> {
    let obj = js_sys::JSON::parse(text).map_err(|_| bad_state("not JSON"))?;
    if !obj.is_object() {
        return Err(bad_state("not an object"));
    }
    let version = u32::try_from(state_int(&obj, "version")?).map_err(|_| bad_state("version"))?;
    let observations =
        u64::try_from(state_int(&obj, "observations")?).map_err(|_| bad_state("observations"))?;
    let last_at_ms = match get(&obj, "last_at_ms") {
        v if v.is_null() || v.is_undefined() => None,
        _ => Some(state_int(&obj, "last_at_ms")?),
    };
    // Absent in states written before the target clock was tracked.
    let last_target_ms = match get(&obj, "last_target_ms") {
        v if v.is_null() || v.is_undefined() => None,
        _ => Some(state_int(&obj, "last_target_ms")?),
    };
    let rows = get(&obj, "series");
    if !js_sys::Array::is_array(&rows) {
        return Err(bad_state("series"));
    }
    let mut series = Vec::new();
    for row in js_sys::Array::from(&rows).iter() {
        let sample = get(&row, "sample")
            .as_string()
            .ok_or_else(|| bad_state("sample"))?;
        let pairs = get(&row, "labels");
        if !js_sys::Array::is_array(&pairs) {
            return Err(bad_state("labels"));
        }
        let mut labels = Vec::new();
        for pair in js_sys::Array::from(&pairs).iter() {
            let pair = js_sys::Array::from(&pair);
            let k = pair
                .get(0)
                .as_string()
                .ok_or_else(|| bad_state("label name"))?;
            let v = pair
                .get(1)
                .as_string()
                .ok_or_else(|| bad_state("label value"))?;
            labels.push((k, v));
        }
        let created = match get(&row, "created") {
            v if v.is_null() || v.is_undefined() => None,
            v => Some(v.as_f64().ok_or_else(|| bad_state("created"))?),
        };
        series.push(SeriesState {
            sample,
            labels,
            created,
            value: state_f64(&row, "value")?,
            last_seen_ms: state_int(&row, "last_seen_ms")?,
        });
    }
    Ok(TrackerState {
        version,
        observations,
        last_at_ms,
        last_target_ms,
        series,
    })
}

/// Converts an observation into the JS `Observation` object.
fn observation_to_js(o: &Observation, errors: &[pulse_core::LineError]) -> JsValue {
    let obj = js_sys::Object::new();
    set(&obj, "atMs", &JsValue::from_f64(from_ms(o.at_ms)));
    set(&obj, "baseline", &JsValue::from_bool(o.baseline));
    set(&obj, "resets", &JsValue::from(o.resets));
    set(&obj, "newSeries", &JsValue::from(o.new_series));
    set(&obj, "vanishedSeries", &JsValue::from(o.vanished_series));
    set(&obj, "adoptedSeries", &JsValue::from(o.adopted_series));
    set(&obj, "live", &values_to_js(&o.live));
    set(&obj, "deltas", &values_to_js(&o.deltas));
    let breakdown = js_sys::Array::new_with_length(u32::try_from(o.breakdown.len()).unwrap_or(0));
    for (i, b) in o.breakdown.iter().enumerate() {
        let row = js_sys::Object::new();
        set(&row, "dimension", &JsValue::from_str(b.dimension.name()));
        set(&row, "key", &JsValue::from_str(&b.key));
        set(&row, "metric", &JsValue::from_str(b.metric.name()));
        set(&row, "delta", &JsValue::from_f64(b.delta));
        breakdown.set(u32::try_from(i).unwrap_or(u32::MAX), row.into());
    }
    set(&obj, "breakdown", &breakdown);
    set(&obj, "errors", &errors_to_js(errors));
    obj.into()
}

#[wasm_bindgen]
impl Tracker {
    /// A tracker for LiteLLM's metric families, optionally overriding the
    /// family read for some metrics (`{ cost: "my_spend_total" }`).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_optional_param_type = "FamilyOverrides")] overrides: Option<
            js_sys::Object,
        >,
    ) -> Result<Tracker, JsError> {
        Ok(Tracker {
            inner: pulse_core::track::Tracker::new(catalog(overrides)?),
        })
    }

    /// Restores a tracker from the JSON that [`Tracker::export_state`] wrote.
    #[wasm_bindgen(js_name = fromState)]
    pub fn from_state(
        #[wasm_bindgen(js_name = stateJson)] state_json: &str,
        #[wasm_bindgen(unchecked_optional_param_type = "FamilyOverrides")] overrides: Option<
            js_sys::Object,
        >,
    ) -> Result<Tracker, JsError> {
        let catalog = catalog(overrides)?;
        let state = state_from_json(state_json)?;
        Ok(Tracker {
            inner: pulse_core::track::Tracker::from_state(catalog, state),
        })
    }

    /// Feeds the body scraped at `atMs`; returns what changed since the
    /// previous body. `targetNowMs` is the target's own clock when it
    /// answered (its HTTP `Date` header), which makes `_created` judgements
    /// immune to clock skew between the target and this process. Throws when
    /// the body is not exposition text, leaving the tracker untouched.
    #[wasm_bindgen(unchecked_return_type = "Observation")]
    pub fn observe(
        &mut self,
        body: &js_sys::JsString,
        #[wasm_bindgen(js_name = atMs)] at_ms: f64,
        #[wasm_bindgen(js_name = targetNowMs)] target_now_ms: Option<f64>,
    ) -> Result<JsValue, JsError> {
        self.observe_bytes(&crate::utf8(body), at_ms, target_now_ms)
    }

    /// [`Tracker::observe`] for raw bytes.
    #[wasm_bindgen(js_name = observeBytes, unchecked_return_type = "Observation")]
    pub fn observe_bytes(
        &mut self,
        body: &[u8],
        #[wasm_bindgen(js_name = atMs)] at_ms: f64,
        #[wasm_bindgen(js_name = targetNowMs)] target_now_ms: Option<f64>,
    ) -> Result<JsValue, JsError> {
        let at = to_ms("atMs", at_ms)?;
        let target = target_now_ms.map(|t| to_ms("targetNowMs", t)).transpose()?;
        let expo = pulse_core::parse::parse_bytes(body).map_err(into_error)?;
        let o = self.inner.observe_with_target_clock(&expo, at, target);
        Ok(observation_to_js(&o, &expo.errors))
    }

    /// The tracker's state (per-series baselines) as JSON, for
    /// [`Tracker::from_state`].
    #[wasm_bindgen(js_name = exportState)]
    pub fn export_state(&self) -> Result<String, JsError> {
        let js = state_to_js(&self.inner.export_state());
        js_sys::JSON::stringify(&js)
            .map(String::from)
            .map_err(|_| JsError::new("the tracker state could not be written as JSON"))
    }

    /// Forgets series not seen since `cutoffMs`.
    #[wasm_bindgen(js_name = forgetOlderThan)]
    pub fn forget_older_than(
        &mut self,
        #[wasm_bindgen(js_name = cutoffMs)] cutoff_ms: f64,
    ) -> Result<(), JsError> {
        self.inner.forget_older_than(to_ms("cutoffMs", cutoff_ms)?);
        Ok(())
    }

    /// The Prometheus family read for `metric` (after overrides).
    #[wasm_bindgen(js_name = familyOf)]
    pub fn family_of(
        &self,
        #[wasm_bindgen(unchecked_param_type = "MetricName")] metric: &str,
    ) -> Result<String, JsError> {
        let m = Metric::from_name(metric)
            .ok_or_else(|| JsError::new(&format!("unknown metric {metric:?}")))?;
        Ok(self.inner.catalog().family(m).to_owned())
    }
}

/// The friendly names of all tracked metrics, in the core's order.
#[wasm_bindgen(js_name = metricNames, unchecked_return_type = "MetricName[]")]
pub fn metric_names() -> Vec<JsValue> {
    Metric::ALL
        .iter()
        .map(|m| JsValue::from_str(m.name()))
        .collect()
}

/// The names of all breakdown dimensions.
#[wasm_bindgen(js_name = dimensionNames, unchecked_return_type = "DimensionName[]")]
pub fn dimension_names() -> Vec<JsValue> {
    pulse_core::catalog::Dimension::ALL
        .iter()
        .map(|d| JsValue::from_str(d.name()))
        .collect()
}
