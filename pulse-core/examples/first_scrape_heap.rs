//! The live heap of a tracker's scrapes of the scale body, phase by phase:
//! what each structure of the host's first scrape (every series new) holds.
//!
//! `cargo run --release -p pulse-core --example first_scrape_heap [keys] [models]`
//! (defaults: issue 11's 2,000 keys × 10 models × 5 families, 100,000 series).
#![allow(
    unsafe_code,
    reason = "a counting global allocator forwards to `System`"
)]
#![allow(
    clippy::print_stdout,
    clippy::disallowed_methods,
    reason = "a measuring tool: it reads its arguments and reports on stdout, outside the core's IO-free library"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use pulse_core::catalog::Catalog;
use pulse_core::track::Tracker;
use pulse_testkit::scale::ScaleBody;

/// The system allocator, counting the bytes live and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = LIVE.fetch_add(n, Relaxed) + n;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only counters move.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A moving realloc holds both blocks for a moment.
        grew(new_size);
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn mb(n: usize) -> f64 {
    n as f64 / 1e6
}

/// Prints the live heap and the peak since the previous phase, and resets the peak.
fn phase(name: &str) {
    let live = LIVE.load(Relaxed);
    let peak = PEAK.swap(live, Relaxed);
    println!(
        "{name:<44} live {:>7.1} MB   peak {:>7.1} MB",
        mb(live),
        mb(peak)
    );
}

fn main() {
    let arg = |i: usize, d: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(d)
    };
    let scale = ScaleBody::new(arg(1, 2_000), arg(2, 10), 5, 10);
    let mut tracker = Tracker::new(Catalog::litellm());
    tracker.set_line_seed(7);
    phase("start");
    for round in 0..3u64 {
        let body = scale.round(round);
        phase(&format!("round {round}: body ({} bytes)", body.len()));
        let parsed = tracker.parse_body(&body).expect("scale body parses");
        phase("  parse_body");
        let at = 1_000_000 + round as i64 * 60_000;
        let obs = tracker.observe_parsed(&parsed, at, None);
        phase("  observe_parsed");
        drop(obs);
        let changes = tracker.take_changes();
        phase(&format!(
            "  take_changes ({} upserts)",
            changes.upserts.len()
        ));
        drop(parsed);
        drop(body);
        phase("  body and parse dropped");
        tracker.settle_memo();
        phase("  settle_memo (the memo for the next body)");
        drop(changes);
        phase("  changes dropped (tracker + memo left)");
    }
}
