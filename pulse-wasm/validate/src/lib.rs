//! # pulse-wasm-validate
//!
//! The strict validator of [`pulse_core::validate`] for browsers and Node:
//! every MUST of OpenMetrics 1.0 and the text format 0.0.4 rules, each
//! problem with its line, kind and message.
//!
//! Why a crate of its own: the npm package's main module (`pulse-wasm`) has
//! a 200,000-byte gzipped budget that chrono-tz's zone data nearly fills.
//! Validation is a second, small WebAssembly module in the same package
//! (`pulse_validate.js`), loaded only by those who import it, so the main
//! `.wasm` does not grow by a byte.
//!
//! **Architecture invariant:** no rule lives here. This crate converts the
//! core's [`pulse_core::validate::Report`] into a JS object.
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use pulse_core::validate::{self, Format, Report};
use wasm_bindgen::prelude::*;

/// The global allocator, as in `pulse-wasm`.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** The rule a problem breaks (a stable name). */
export type ProblemKind =
  | "InvalidUtf8"
  | "ByteOrderMark"
  | "CarriageReturn"
  | "BlankLine"
  | "MissingFinalNewline"
  | "MissingEof"
  | "ContentAfterEof"
  | "InvalidComment"
  | "InvalidMetadata"
  | "InvalidMetricName"
  | "InvalidLabelName"
  | "MalformedLabels"
  | "InvalidEscape"
  | "InvalidValue"
  | "InvalidTimestamp"
  | "InvalidExemplar"
  | "TrailingText"
  | "ReservedName"
  | "DuplicateLabelName"
  | "DuplicateMetadata"
  | "MetadataAfterSamples"
  | "FamilyInterleaved"
  | "NameClash"
  | "MetricInterleaved"
  | "WrongSuffix"
  | "UnitMismatch"
  | "UnitNotAllowed"
  | "NanValue"
  | "NegativeValue"
  | "NonIntegerValue"
  | "MissingLabel"
  | "InvalidLabelValue"
  | "ReservedLabel"
  | "BucketOrder"
  | "BucketNotCumulative"
  | "MissingInfBucket"
  | "CountMismatch"
  | "SumCountPairing"
  | "SumWithNegativeBuckets"
  | "NegativeGsum"
  | "QuantileOrder"
  | "StateSetValue"
  | "InfoValue"
  | "ExemplarNotAllowed"
  | "ExemplarTooLong"
  | "ExemplarOutOfRange"
  | "TimestampMix"
  | "TimestampOrder"
  | "DuplicateSample";

/** One broken rule. */
export interface Problem {
  /** 1-based line number (the last line for problems of the whole body). */
  line: number;
  kind: ProblemKind;
  /** What is wrong, e.g. `requests_total is -1: a counter-like value must not be negative`. */
  message: string;
}

/** Which format to check against; `"auto"` is OpenMetrics when the body has a `# EOF` line. */
export type ValidationFormat = "auto" | "openmetrics" | "prometheus";

/** The result of a validation. */
export interface ValidationReport {
  /** The format the body was checked as. */
  format: "openmetrics" | "prometheus";
  /** True when no rule is broken. */
  valid: boolean;
  /** Every problem, in line order. */
  problems: Problem[];
}

/**
 * Validates exposition text strictly (OpenMetrics 1.0, or the Prometheus
 * text format 0.0.4). `format` defaults to `"auto"`; an unknown one throws.
 */
export function validate(body: string, format?: ValidationFormat): ValidationReport;

/** `validate` for raw bytes; lines that are not UTF-8 are problems. */
export function validateBytes(body: Uint8Array, format?: ValidationFormat): ValidationReport;
"#;

/// Validates exposition text strictly (OpenMetrics 1.0, or the Prometheus
/// text format 0.0.4). `format` defaults to `"auto"`; an unknown format
/// throws.
///
/// Its TypeScript declaration is written above (an optional parameter with
/// a precise type).
#[wasm_bindgen(skip_typescript)]
pub fn validate(body: &str, format: Option<String>) -> Result<JsValue, JsError> {
    validate_bytes(body.as_bytes(), format)
}

/// [`validate()`] for raw bytes (e.g. a `fetch` body as a `Uint8Array`);
/// lines that are not UTF-8 are problems.
#[wasm_bindgen(js_name = validateBytes, skip_typescript)]
pub fn validate_bytes(body: &[u8], format: Option<String>) -> Result<JsValue, JsError> {
    let report = match format.as_deref() {
        None | Some("auto") => validate::validate_bytes(body),
        Some("openmetrics") => validate::validate_as(body, Format::OpenMetrics),
        Some("prometheus") => validate::validate_as(body, Format::PrometheusText),
        Some(other) => {
            return Err(JsError::new(&format!(
                "unknown format {other:?}: \"auto\", \"openmetrics\" or \"prometheus\""
            )));
        }
    };
    Ok(to_js(&report))
}

/// The name of a format as the JS types spell it.
pub fn format_name(format: Format) -> &'static str {
    match format {
        Format::OpenMetrics => "openmetrics",
        Format::PrometheusText => "prometheus",
    }
}

fn set(target: &JsValue, key: &str, value: &JsValue) {
    // Setting a property of a fresh plain object cannot fail.
    let _ = js_sys::Reflect::set(target, &JsValue::from_str(key), value);
}

fn to_js(report: &Report) -> JsValue {
    let problems = js_sys::Array::new();
    for p in &report.problems {
        let o: JsValue = js_sys::Object::new().into();
        set(&o, "line", &JsValue::from(p.line));
        set(&o, "kind", &JsValue::from_str(p.kind.as_str()));
        set(&o, "message", &JsValue::from_str(&p.message));
        problems.push(&o);
    }
    let out: JsValue = js_sys::Object::new().into();
    set(
        &out,
        "format",
        &JsValue::from_str(format_name(report.format)),
    );
    set(&out, "valid", &JsValue::from_bool(report.is_valid()));
    set(&out, "problems", &problems);
    out
}

#[cfg(test)]
mod tests {
    use pulse_core::validate::ProblemKind;

    #[test]
    fn the_typescript_union_names_every_problem_kind() {
        // The custom section is consumed by the macro; read it as written.
        let source = include_str!("lib.rs");
        let union: Vec<&str> = source
            .lines()
            .filter_map(|l| l.trim().strip_prefix("| \""))
            .map(|l| l.trim_end_matches(['"', ';']))
            .collect();
        let kinds: Vec<&str> = ProblemKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(union, kinds);
    }
}
