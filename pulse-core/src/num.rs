//! Presenting sums of floats without summation noise.
//!
//! LiteLLM reports spend as float counters, and summing thousands of deltas
//! turns `0.15` into `0.15000000000000002` (reference fault 14). Money and
//! token counts never need more than 12 significant digits, so [`clean`]
//! rounds to that for display, while integral values stay exact.

use std::fmt::Write as _;

/// 2^53: every integer below it is exactly representable.
const EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// Presents `x` without summation noise.
///
/// NaN and ±Inf are returned unchanged, and so is an integral value with
/// `|x| < 2^53`. Anything else is rounded to 12 significant decimal digits
/// (correctly rounded, via exact decimal formatting).
///
/// ```
/// use pulse_core::num::clean;
/// assert_eq!(clean(0.1 + 0.2), 0.3);
/// assert_eq!(clean(1.9999999999999998e-05), 2e-05);
/// assert_eq!(clean(1234.5678901234567), 1234.56789012);
/// assert_eq!(clean(13.0), 13.0);
/// ```
pub fn clean(x: f64) -> f64 {
    if !x.is_finite() || (x.fract() == 0.0 && x.abs() < EXACT_INT) {
        return x;
    }
    let mut buf = StackStr::default();
    // 1 digit before the point and 11 after: 12 significant digits.
    if write!(buf, "{x:.11e}").is_err() {
        return x;
    }
    buf.as_str().parse().unwrap_or(x)
}

/// Sums `values` with Neumaier's compensated summation.
///
/// The result is the correctly rounded sum far more often than a plain
/// left-to-right sum, and its error does not grow with the number of terms.
/// NaN and infinities propagate as in a plain sum.
///
/// ```
/// use pulse_core::num::neumaier_sum;
/// assert_eq!(neumaier_sum([1.0, 1e100, 1.0, -1e100]), 2.0);
/// assert_eq!(neumaier_sum([0.1; 10]), 1.0);
/// ```
pub fn neumaier_sum<I: IntoIterator<Item = f64>>(values: I) -> f64 {
    let mut sum = 0.0f64;
    let mut comp = 0.0f64;
    let mut special = 0.0f64;
    for v in values {
        if !v.is_finite() {
            // Infinities and NaN bypass the compensation, which would turn
            // them into NaN.
            special += v;
            continue;
        }
        let t = sum + v;
        if sum.abs() >= v.abs() {
            comp += (sum - t) + v;
        } else {
            comp += (v - t) + sum;
        }
        sum = t;
    }
    if special != 0.0 || special.is_nan() {
        return special + sum;
    }
    sum + comp
}

/// A fixed-size buffer for formatting one float without allocating.
struct StackStr {
    buf: [u8; 40],
    len: usize,
}

impl Default for StackStr {
    fn default() -> Self {
        StackStr {
            buf: [0; 40],
            len: 0,
        }
    }
}

impl StackStr {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for StackStr {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn documented_cases() {
        assert_eq!(clean(0.1 + 0.2), 0.3);
        assert_eq!(clean(0.15000000000000002), 0.15);
        assert_eq!(clean(1.9999999999999998e-05), 2e-05);
        assert_eq!(clean(1234.5678901234567), 1234.56789012);
        assert_eq!(clean(9.999999999999999e-06), 1e-05);
        assert_eq!(clean(0.040786750000000004), 0.04078675);
        assert_eq!(clean(-0.1 - 0.2), -0.3);
    }

    #[test]
    fn specials_and_integers_unchanged() {
        assert!(clean(f64::NAN).is_nan());
        assert_eq!(clean(f64::INFINITY), f64::INFINITY);
        assert_eq!(clean(f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert_eq!(clean(13.0), 13.0);
        assert_eq!(clean(-0.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(clean(9_007_199_254_740_991.0), 9_007_199_254_740_991.0);
        // At 2^53 and above integers are rounded like everything else.
        assert_eq!(clean(9.223372036854776e18), 9.22337203685e18);
        assert_eq!(clean(f64::MAX), 1.79769313486e308);
        assert_eq!(clean(5e-324), 5e-324);
    }

    #[test]
    fn neumaier_cases() {
        assert_eq!(neumaier_sum([1.0, 1e100, 1.0, -1e100]), 2.0);
        assert_eq!(neumaier_sum([0.1; 10]), 1.0);
        assert_eq!(neumaier_sum(std::iter::empty()), 0.0);
        assert_eq!(neumaier_sum([1.0, f64::INFINITY, 2.0]), f64::INFINITY);
        assert!(neumaier_sum([f64::INFINITY, f64::NEG_INFINITY]).is_nan());
        assert!(neumaier_sum([1.0, f64::NAN]).is_nan());
    }

    proptest! {
        #[test]
        fn clean_is_idempotent_and_close(x in any::<f64>()) {
            let c = clean(x);
            if x.is_nan() {
                prop_assert!(c.is_nan());
            } else {
                prop_assert_eq!(clean(c).to_bits(), c.to_bits());
                if x != 0.0 && x.is_finite() {
                    prop_assert!(((c - x) / x).abs() < 1e-11, "{} -> {}", x, c);
                }
            }
        }

        #[test]
        fn neumaier_is_exact_for_small_integers(v in proptest::collection::vec(-1_000_000i32..1_000_000, 0..200)) {
            let exact: i64 = v.iter().map(|&x| i64::from(x)).sum();
            prop_assert_eq!(neumaier_sum(v.iter().map(|&x| f64::from(x))), exact as f64);
        }
    }
}
