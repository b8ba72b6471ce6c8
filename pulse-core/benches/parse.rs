//! Parser throughput on a ~10 MB LiteLLM-shaped body and on a real capture.
//!
//! `cargo bench -p pulse-core --bench parse`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use pulse_testkit::body::litellm_body;

/// Size of the synthetic body, as in the xtask comparison with Python.
const BODY_BYTES: usize = 10 * 1024 * 1024;

#[allow(
    clippy::disallowed_methods,
    reason = "the bench reads a capture from disk; the library itself stays pure"
)]
fn bench_parse(c: &mut Criterion) {
    let body = litellm_body(BODY_BYTES, 42);
    let expo = pulse_core::parse::parse(&body).expect("synthetic body parses");
    assert!(
        expo.errors.is_empty(),
        "synthetic body has errors: {:?}",
        &expo.errors[..1]
    );
    drop(expo);

    let mut g = c.benchmark_group("litellm-10mb");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.sample_size(30);
    g.bench_function("parse", |b| {
        b.iter(|| pulse_core::parse::parse(black_box(&body)))
    });
    g.bench_function("scan_sample_totals", |b| {
        b.iter(|| pulse_core::parse::scan_sample_totals(black_box(&body)))
    });
    g.finish();

    let capture = pulse_testkit::fixtures_dir().join("06-teams-after-traffic.prom");
    if let Ok(real) = std::fs::read_to_string(&capture) {
        let mut g = c.benchmark_group("capture-06");
        g.throughput(Throughput::Bytes(real.len() as u64));
        g.bench_function("parse", |b| {
            b.iter(|| pulse_core::parse::parse(black_box(&real)))
        });
        g.finish();
    } else {
        eprintln!("skipping capture-06: {} not found", capture.display());
    }
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
