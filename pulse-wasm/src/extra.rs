//! Glue the bindings share: a fast hasher for their string maps, and the
//! totals functions (the core's sums, cleaned of summation noise) that the
//! JS functions and the parity example both call.

use std::hash::{BuildHasherDefault, Hasher};

use pulse_core::BodyError;

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

/// The sum of sample values per family, in first-seen order, as
/// `pulse_core::parse::family_totals` defines it, cleaned of summation noise.
/// Names borrow from `body`.
pub fn family_totals(body: &[u8]) -> Result<Vec<(&str, f64)>, BodyError> {
    let expo = pulse_core::parse::parse_bytes(body)?;
    let mut totals = pulse_core::parse::family_totals(&expo);
    for entry in &mut totals {
        entry.1 = pulse_core::num::clean(entry.1);
    }
    Ok(totals)
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
}
