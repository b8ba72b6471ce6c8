//! Helpers the bindings need that `pulse-core` does not offer (yet).
//!
//! Each is written against core types only, so it can move into the core
//! unchanged: family totals, sums over a range, step names.

use std::hash::{BuildHasherDefault, Hasher};

use pulse_core::window::TimeRange;
use pulse_core::{BodyError, Exposition};

/// A fast non-cryptographic hasher (FxHash) for interning trusted-size keys.
///
/// Flooding is not a concern: the maps live for one call over one body.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// [`FxHasher`] as a `HashMap` hasher.
pub type FastHash = BuildHasherDefault<FxHasher>;

/// The sum of sample values per sample name, in first-seen order, as
/// `pulse_core::parse::sample_totals` defines it, cleaned of summation noise.
/// Names borrow from `body`.
pub fn sample_totals(body: &[u8]) -> Result<Vec<(&str, f64)>, BodyError> {
    // Through the full parser, not `scan_sample_totals` (the same result by
    // its contract): a second lexer would add 3 KB gzipped to the .wasm.
    let expo = pulse_core::parse::parse_bytes(body)?;
    let mut totals = pulse_core::parse::sample_totals(&expo);
    for entry in &mut totals {
        entry.1 = pulse_core::num::clean(entry.1);
    }
    Ok(totals)
}

/// The sum of sample values per family, in first-seen order, with the same
/// rules as `sample_totals` (NaN skipped, infinities propagate).
pub fn family_totals(body: &[u8]) -> Result<Vec<(&str, f64)>, BodyError> {
    let expo = pulse_core::parse::parse_bytes(body)?;
    Ok(family_totals_of(&expo))
}

/// [`family_totals`] of a parsed body; names borrow from the body.
pub fn family_totals_of<'a>(expo: &Exposition<'a>) -> Vec<(&'a str, f64)> {
    let mut out: Vec<(&'a str, f64)> = Vec::new();
    let mut index: std::collections::HashMap<&str, usize, FastHash> = Default::default();
    for family in &expo.families {
        let mut sum = 0.0;
        let mut any = false;
        for sample in expo.samples_of(family) {
            if !sample.value.is_nan() {
                sum += sample.value;
                any = true;
            }
        }
        if !any {
            continue;
        }
        // A family name can repeat when its samples are split in the body.
        match index.get(family.name) {
            Some(&i) => out[i].1 += sum,
            None => {
                index.insert(family.name, out.len());
                out.push((family.name, sum));
            }
        }
    }
    for entry in &mut out {
        entry.1 = pulse_core::num::clean(entry.1);
    }
    out
}

/// The sum of `values[i]` whose `timestamps[i]` lies in `range` (half-open),
/// cleaned of float summation noise.
pub fn sum_in_range(points: &[(i64, f64)], range: TimeRange) -> f64 {
    let sum: f64 = points
        .iter()
        .filter(|(t, _)| *t >= range.start_ms && *t < range.end_ms)
        .map(|(_, v)| v)
        .sum();
    pulse_core::num::clean(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_totals_sum_histogram_parts_into_their_family() {
        let body = "# TYPE a_total counter\na_total{m=\"x\"} 1.5\na_total{m=\"y\"} 2\n\
                    # TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 4\nh_sum 0.25\nh_count 4\n\
                    # TYPE n gauge\nn NaN\n";
        let totals = family_totals(body.as_bytes()).unwrap();
        assert_eq!(totals, vec![("a_total", 3.5), ("h", 11.25)]);
    }

    #[test]
    fn sums_in_half_open_range() {
        let points = [(0, 0.1), (10, 0.2), (20, 4.0)];
        let r = TimeRange {
            start_ms: 0,
            end_ms: 20,
        };
        assert_eq!(sum_in_range(&points, r), 0.3);
    }
}
