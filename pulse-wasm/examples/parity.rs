//! Writes what the native core says about every capture in a directory, in
//! the shapes the JS bindings return, for the Node parity test
//! (`tests/node/parity.test.mjs` at the workspace root).
//!
//! ```sh
//! cargo run -p pulse-wasm --example parity -- tests/fixtures/litellm target/parity-native.json
//! ```
//!
//! Non-finite numbers are written as the strings `"NaN"`, `"Infinity"` and
//! `"-Infinity"`, since JSON has no such numbers; the Node side writes the
//! wasm results the same way before comparing.

use std::path::{Path, PathBuf};

use pulse_core::catalog::{Catalog, MetricValues};
use pulse_core::track::{Observation, Tracker};
use pulse_core::{Exposition, Format, LineError};
use serde_json::{Map, Value, json};

fn num(x: f64) -> Value {
    if x.is_nan() {
        json!("NaN")
    } else if x == f64::INFINITY {
        json!("Infinity")
    } else if x == f64::NEG_INFINITY {
        json!("-Infinity")
    } else {
        json!(x)
    }
}

fn errors(errors: &[LineError]) -> Value {
    errors
        .iter()
        .map(|e| {
            json!({
                "line": e.line,
                "kind": format!("{:?}", e.kind),
                "message": e.to_string(),
                "snippet": e.snippet,
            })
        })
        .collect()
}

fn exposition(expo: &Exposition<'_>) -> Value {
    let families: Vec<Value> = expo
        .families
        .iter()
        .map(|f| {
            let samples: Vec<Value> = expo
                .samples_of(f)
                .iter()
                .map(|s| {
                    let mut labels = Map::new();
                    for l in expo.labels_of(s) {
                        labels.insert(l.name.to_owned(), json!(l.value()));
                    }
                    json!({
                        "name": s.name,
                        "labels": labels,
                        "value": num(s.value),
                        "timestampMs": s.timestamp_ms,
                        "line": s.line,
                    })
                })
                .collect();
            json!({
                "name": f.name,
                "type": f.kind.as_str(),
                "help": f.help,
                "unit": f.unit,
                "samples": samples,
            })
        })
        .collect();
    let format = match expo.format {
        None => Value::Null,
        Some(Format::PrometheusText) => json!("prometheus"),
        Some(Format::OpenMetrics) => json!("openmetrics"),
    };
    json!({ "format": format, "families": families, "errors": errors(&expo.errors) })
}

fn totals(pairs: &[(&str, f64)]) -> Value {
    let mut out = Map::new();
    for (name, v) in pairs {
        out.insert((*name).to_owned(), num(*v));
    }
    Value::Object(out)
}

fn values(v: &MetricValues) -> Value {
    let mut out = Map::new();
    for (metric, x) in v.iter() {
        out.insert(metric.name().to_owned(), num(x));
    }
    Value::Object(out)
}

fn observation(o: &Observation, errs: &[LineError]) -> Value {
    let breakdown: Vec<Value> = o
        .breakdown
        .iter()
        .map(|b| {
            json!({
                "dimension": b.dimension.name(),
                "key": b.key,
                "metric": b.metric.name(),
                "delta": num(b.delta),
            })
        })
        .collect();
    json!({
        "atMs": o.at_ms,
        "baseline": o.baseline,
        "resets": o.resets,
        "newSeries": o.new_series,
        "vanishedSeries": o.vanished_series,
        "adoptedSeries": o.adopted_series,
        "live": values(&o.live),
        "deltas": values(&o.deltas),
        "breakdown": breakdown,
        "errors": errors(errs),
    })
}

/// The captures in `dir` (`.prom` and `.openmetrics.txt`), sorted by name.
fn captures(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".prom") || name.ends_with(".openmetrics.txt")
        })
        .collect();
    files.sort();
    Ok(files)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: parity <fixtures dir> <out.json>")?,
    );
    let out = PathBuf::from(
        args.next()
            .ok_or("usage: parity <fixtures dir> <out.json>")?,
    );
    let mut files = Map::new();
    let mut tracker = Tracker::new(Catalog::litellm());
    let mut sequence = Vec::new();
    for (i, path) in captures(&dir)?.iter().enumerate() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or("bad file name")?
            .to_owned();
        let body = std::fs::read_to_string(path)?;
        let expo = pulse_core::parse::parse(&body)?;
        let by_family = pulse_wasm::totals::family_totals(&expo);
        let by_sample = pulse_wasm::totals::sample_totals(&expo);
        files.insert(
            name.clone(),
            json!({
                "parse": exposition(&expo),
                "sampleTotals": totals(&by_sample),
                "familyTotals": totals(&by_family),
            }),
        );
        // The tracker sees the Prometheus-text captures in order, one a minute.
        if name.ends_with(".prom") {
            let at_ms = 1_750_000_000_000 + i64::try_from(i)? * 60_000;
            let o = tracker.observe(&expo, at_ms);
            sequence.push(json!({
                "file": name,
                "observation": observation(&o, &expo.errors),
                "state": serde_json::to_string(&tracker.export_state())?,
            }));
        }
    }
    let doc = json!({ "files": files, "tracker": sequence });
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&out, serde_json::to_string(&doc)?)?;
    Ok(())
}
