//! Parsing bindings: a whole body into JS objects, or straight to totals.
//!
//! A parsed body is handed to JS as a few flat arrays (a string table, a
//! `Uint32Array` of structure, `Float64Array`s of values and timestamps) and
//! turned into objects by one JS function (`js/build.js`). That keeps the
//! number of wasm-to-JS calls constant instead of one per label.

use pulse_core::{Exposition, Format, Label, LineError, MetricType};
use rustc_hash::FxHashMap;
use wasm_bindgen::prelude::*;

use crate::into_error;

#[wasm_bindgen(module = "/src/js/build.js")]
extern "C" {
    #[wasm_bindgen(js_name = buildExposition)]
    fn build_exposition(
        strings_json: &str,
        ints: &[u32],
        values: &[f64],
        timestamps: &[f64],
    ) -> JsValue;

    #[wasm_bindgen(js_name = buildTotals)]
    fn build_totals(names_json: &str, values: &[f64]) -> JsValue;
}

/// Parses a Prometheus text 0.0.4 or OpenMetrics 1.0 body.
///
/// Lines that do not parse are reported in `errors` and skipped; a body that
/// is not exposition text at all (empty, HTML, JSON, nothing valid) throws.
#[wasm_bindgen(unchecked_return_type = "Exposition")]
pub fn parse(body: &js_sys::JsString) -> Result<JsValue, JsError> {
    parse_bytes(&crate::utf8(body))
}

/// Like [`parse`], for raw bytes (e.g. a `fetch` body as a `Uint8Array`).
/// Lines that are not UTF-8 are reported as errors.
#[wasm_bindgen(js_name = parseBytes, unchecked_return_type = "Exposition")]
pub fn parse_bytes(body: &[u8]) -> Result<JsValue, JsError> {
    let expo = pulse_core::parse::parse_bytes(body).map_err(into_error)?;
    Ok(to_js(&expo))
}

/// Sums every sample value by sample name (what `/raw` of the server returns).
/// Unparseable lines are skipped; NaN samples are skipped; sums are cleaned
/// of float summation noise.
#[wasm_bindgen(js_name = sampleTotals, unchecked_return_type = "Totals")]
pub fn sample_totals(body: &js_sys::JsString) -> Result<JsValue, JsError> {
    sample_totals_bytes(&crate::utf8(body))
}

/// [`sample_totals`] for raw bytes.
#[wasm_bindgen(js_name = sampleTotalsBytes, unchecked_return_type = "Totals")]
pub fn sample_totals_bytes(body: &[u8]) -> Result<JsValue, JsError> {
    let expo = pulse_core::parse::parse_bytes(body).map_err(into_error)?;
    totals_to_js(crate::totals::sample_totals(&expo))
}

/// Sums every sample value by family name (histogram buckets, `_count`,
/// `_sum` and `_created` samples count toward their family). Unparseable
/// lines and NaN samples are skipped; sums are cleaned of float summation
/// noise.
#[wasm_bindgen(js_name = familyTotals, unchecked_return_type = "Totals")]
pub fn family_totals(body: &js_sys::JsString) -> Result<JsValue, JsError> {
    family_totals_bytes(&crate::utf8(body))
}

/// [`family_totals`] for raw bytes.
#[wasm_bindgen(js_name = familyTotalsBytes, unchecked_return_type = "Totals")]
pub fn family_totals_bytes(body: &[u8]) -> Result<JsValue, JsError> {
    let expo = pulse_core::parse::parse_bytes(body).map_err(into_error)?;
    totals_to_js(crate::totals::family_totals(&expo))
}

fn totals_to_js(totals: Vec<(&str, f64)>) -> Result<JsValue, JsError> {
    let (names, values): (Vec<&str>, Vec<f64>) = totals.into_iter().unzip();
    Ok(build_totals(&json_strings(&names), &values))
}

/// A JSON array of strings. `JSON.parse` on one string is the fastest way
/// to bring many strings into JS.
pub fn json_strings<S: AsRef<str>>(list: &[S]) -> String {
    let mut out = String::with_capacity(list.iter().map(|s| s.as_ref().len() + 3).sum());
    for s in list {
        push_json(&mut out, s.as_ref(), false);
    }
    close_json(out)
}

/// Appends `s` to a JSON array in the making (`[` first, then `,`) as a
/// string. `written` says `s` is a label value as written with escapes:
/// its `\\`, `\"` and `\n` are JSON's own, so only control bytes change.
fn push_json(out: &mut String, s: &str, written: bool) {
    out.push(if out.is_empty() { '[' } else { ',' });
    out.push('"');
    // Copy runs of plain bytes; only `"`, `\` and control bytes need escapes,
    // and none of them occurs inside a multi-byte UTF-8 sequence.
    let bytes = s.as_bytes();
    let mut run = 0;
    let mut j = 0;
    while j < bytes.len() {
        let b = bytes[j];
        j += 1;
        if written && b == b'\\' {
            // `\\`, `\"` and `\n` are JSON's own escapes; any other
            // backslash (OpenMetrics keeps it as written) is a literal one.
            if matches!(bytes.get(j), Some(b'\\' | b'"' | b'n')) {
                j += 1;
                continue;
            }
            out.push_str(s.get(run..j - 1).unwrap_or_default());
            out.push_str("\\\\");
            run = j;
            continue;
        }
        if b >= 0x20 && (written || (b != b'"' && b != b'\\')) {
            continue;
        }
        out.push_str(s.get(run..j - 1).unwrap_or_default());
        run = j;
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    }
    out.push_str(s.get(run..).unwrap_or_default());
    out.push('"');
}

/// Ends a JSON array that [`push_json`] filled (`[]` when it is empty).
fn close_json(mut out: String) -> String {
    if out.is_empty() {
        out.push('[');
    }
    out.push(']');
    out
}

/// The flat form of a parsed body that `js/build.js` reads.
#[derive(Debug, Default, PartialEq)]
pub struct Flat {
    /// Unique strings, as a JSON array.
    pub strings_json: String,
    /// Structure, see `js/build.js`.
    pub ints: Vec<u32>,
    /// Sample values in family order.
    pub values: Vec<f64>,
    /// Sample timestamps in ms (NaN when the sample had none).
    pub timestamps: Vec<f64>,
}

/// Interns strings so each distinct label value crosses into JS once.
///
/// Everything borrows from the body: a label value with escapes is kept as
/// written and [`push_json`] turns it into JSON without decoding it.
#[derive(Default)]
struct Strings<'s> {
    index: FxHashMap<&'s str, u32>,
    /// Escaped label values by their written form: a key space of its own,
    /// because written text can equal a different plain string.
    written: FxHashMap<&'s str, u32>,
    /// Each string and whether it is a label value as written.
    list: Vec<(&'s str, bool)>,
}

impl<'s> Strings<'s> {
    fn id(&mut self, s: &'s str) -> u32 {
        self.id_in(s, false)
    }

    fn label_value(&mut self, label: &Label<'s>) -> u32 {
        let (value, escaped) = label.written();
        self.id_in(value, escaped)
    }

    fn id_in(&mut self, s: &'s str, written: bool) -> u32 {
        let index = if written {
            &mut self.written
        } else {
            &mut self.index
        };
        if let Some(&i) = index.get(s) {
            return i;
        }
        let i = len_u32(self.list.len());
        self.list.push((s, written));
        index.insert(s, i);
        i
    }

    fn into_json(self) -> String {
        let mut out =
            String::with_capacity(self.list.iter().map(|(s, _)| s.len() + 3).sum::<usize>() + 2);
        for (s, written) in self.list {
            push_json(&mut out, s, written);
        }
        close_json(out)
    }
}

fn type_code(kind: MetricType) -> u32 {
    match kind {
        MetricType::Counter => 0,
        MetricType::Gauge => 1,
        MetricType::Histogram => 2,
        MetricType::GaugeHistogram => 3,
        MetricType::Summary => 4,
        MetricType::Info => 5,
        MetricType::StateSet => 6,
        MetricType::Unknown => 7,
    }
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Flattens a parsed body for `js/build.js`.
pub fn flatten(expo: &Exposition<'_>) -> Flat {
    let messages: Vec<(String, String)> = expo
        .errors
        .iter()
        .map(|e: &LineError| (format!("{:?}", e.kind), e.to_string()))
        .collect();
    let mut strings = Strings::default();
    let mut ints = Vec::with_capacity(expo.samples.len() * 8 + expo.labels.len() * 2 + 16);
    let mut values = Vec::with_capacity(expo.samples.len());
    let mut timestamps = Vec::with_capacity(expo.samples.len());
    ints.push(match expo.format {
        None => 0,
        Some(Format::PrometheusText) => 1,
        Some(Format::OpenMetrics) => 2,
    });
    ints.push(len_u32(expo.families.len()));
    ints.push(len_u32(expo.errors.len()));
    for family in &expo.families {
        ints.push(strings.id(family.name));
        ints.push(type_code(family.kind));
        ints.push(family.help.as_deref().map_or(0, |h| strings.id(h) + 1));
        ints.push(family.unit.map_or(0, |u| strings.id(u) + 1));
        let samples = expo.samples_of(family);
        ints.push(len_u32(samples.len()));
        for sample in samples {
            let labels = expo.labels_of(sample);
            ints.push(strings.id(sample.name));
            ints.push(sample.line);
            ints.push(len_u32(labels.len()));
            ints.push(u32::from(sample.timestamp_ms.is_some()));
            for label in labels {
                ints.push(strings.id(label.name));
                ints.push(strings.label_value(label));
            }
            values.push(sample.value);
            // Millisecond timestamps are far below 2^53, so f64 holds them exactly.
            #[allow(clippy::cast_precision_loss)]
            timestamps.push(sample.timestamp_ms.map_or(f64::NAN, |t| t as f64));
        }
    }
    for (error, (kind, message)) in expo.errors.iter().zip(&messages) {
        ints.push(error.line);
        ints.push(strings.id(kind));
        ints.push(strings.id(message));
        ints.push(strings.id(&error.snippet));
    }
    let strings_json = strings.into_json();
    Flat {
        strings_json,
        ints,
        values,
        timestamps,
    }
}

/// Converts a parsed body into the JS `Exposition` object.
pub(crate) fn to_js(expo: &Exposition<'_>) -> JsValue {
    let flat = flatten(expo);
    build_exposition(
        &flat.strings_json,
        &flat.ints,
        &flat.values,
        &flat.timestamps,
    )
}

/// Converts line errors into JS `LineError` objects.
pub(crate) fn errors_to_js(errors: &[LineError]) -> JsValue {
    let expo = Exposition {
        errors: errors.to_vec(),
        ..Exposition::default()
    };
    let built = to_js(&expo);
    js_sys::Reflect::get(&built, &JsValue::from_str("errors")).unwrap_or(JsValue::NULL)
}

#[cfg(test)]
mod tests {
    use super::{flatten, json_strings};

    #[test]
    fn json_strings_escape_what_json_requires() {
        let list = ["plain", "q\"b\\n\nt\t\u{1}", "ünï"];
        assert_eq!(
            json_strings(&list),
            r#"["plain","q\"b\\n\nt\u0009\u0001","ünï"]"#
        );
        let empty: [&str; 0] = [];
        assert_eq!(json_strings(&empty), "[]");
    }

    #[test]
    fn escaped_label_values_reach_json_as_written_and_apart_from_plain_strings() {
        // `a\"b` as a plain help text and as a written label value are
        // different strings; the tab is a raw control byte in both.
        let body = "# HELP x a\\\\\"b\tc\n# TYPE x gauge\n\
                    x{v=\"a\\\"b\tc\",w=\"a\\\\\\n\",p=\"a\\\"b\tc\"} 1\n";
        let expo = pulse_core::parse::parse(body).unwrap();
        assert_eq!(expo.families[0].help.as_deref(), Some("a\\\"b\tc"));
        let flat = flatten(&expo);
        assert_eq!(
            flat.strings_json,
            r#"["x","a\\\"b\u0009c","v","a\"b\u0009c","w","a\\\n","p"]"#
        );
        // OpenMetrics keeps `\z` as written: a literal backslash in JSON.
        let om = pulse_core::parse::parse("x{v=\"a\\z\\\\\\n\"} 1\n# EOF\n").unwrap();
        assert!(om.errors.is_empty());
        assert_eq!(flatten(&om).strings_json, r#"["x","v","a\\z\\\n"]"#);
        // Header, family `x` (gauge, help = string 1), then one sample on
        // line 3 whose `p` value reuses string 3.
        assert_eq!(
            flat.ints,
            [1, 1, 0, 0, 1, 2, 0, 1, 0, 3, 3, 0, 2, 3, 4, 5, 6, 3]
        );
    }
}
