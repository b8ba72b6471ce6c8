//! Presenting sums of floats without summation noise.
//!
//! LiteLLM reports spend as float counters, and summing thousands of deltas
//! turns `0.15` into `0.15000000000000002` (reference fault 14). Money and
//! token counts never need more than 12 significant digits, so [`clean`]
//! rounds to that for display, while integral values stay exact.
//!
//! [`parse_f64`] is the exposition parser's float parser.
//!
//! Both work with exact integer arithmetic rather than through `core::fmt`'s
//! float formatting and `str::parse::<f64>`, which together would add about
//! 35 KB (16 KB gzipped) to the WebAssembly build.

mod big;
mod float;

use big::Big;
pub use float::parse_f64;

/// 2^53: every integer below it is exactly representable.
const EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// 10^11 and 10^12: the bounds of a 12-significant-digit integer.
const DIGITS_LO: u64 = 100_000_000_000;
const DIGITS_HI: u64 = 1_000_000_000_000;

/// Presents `x` without summation noise.
///
/// NaN and ±Inf are returned unchanged, and so is an integral value with
/// `|x| < 2^53`. Anything else is rounded to 12 significant decimal digits
/// (correctly rounded, ties to even, on the exact binary value).
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
    let bits = x.to_bits();
    let biased = i32::try_from((bits >> 52) & 0x7ff).unwrap_or(0);
    let fraction = bits & ((1 << 52) - 1);
    // |x| = mant * 2^exp2; x is not zero here (zero is integral).
    let (mant, exp2) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    };
    // floor(log10 |x|) or one less: log10(2^floor(log2 |x|)), with
    // 78913 / 2^18 just below log10(2).
    let top_bit = 63 - i32::try_from(mant.leading_zeros()).unwrap_or(0);
    let mut exp10 = ((exp2 + top_bit) * 78_913) >> 18;
    let mant = Big::from_u64(mant);
    let digits = loop {
        // |x| * 10^(11 - exp10) < 10^13 < 2^44, as the estimate is at most
        // one too low.
        let (floor, digits) = big::div_round(&mant, exp2.into(), (11 - exp10).into(), 44, false);
        if floor >= DIGITS_HI {
            exp10 += 1;
        } else if floor < DIGITS_LO {
            exp10 -= 1;
        } else if digits == DIGITS_HI {
            // Rounding carried into a 13th digit.
            exp10 += 1;
            break DIGITS_LO;
        } else {
            break digits;
        }
    };
    let magnitude = float::from_parts(digits, i64::from(exp10 - 11));
    if x < 0.0 { -magnitude } else { magnitude }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The previous implementation, through `core::fmt`: the oracle that the
    /// integer rounding must match bit for bit.
    fn via_fmt(x: f64) -> f64 {
        if !x.is_finite() || (x.fract() == 0.0 && x.abs() < EXACT_INT) {
            return x;
        }
        format!("{x:.11e}").parse().unwrap()
    }

    #[test]
    fn ties_round_to_even_like_fmt() {
        // Exactly halfway between two 12-digit decimals.
        assert_eq!(clean(123_456_789_012.5), 123_456_789_012.0);
        assert_eq!(clean(123_456_789_013.5), 123_456_789_014.0);
        assert_eq!(clean(-123_456_789_012.5), -123_456_789_012.0);
        assert_eq!(via_fmt(123_456_789_012.5), 123_456_789_012.0);
        assert_eq!(via_fmt(123_456_789_013.5), 123_456_789_014.0);
    }

    #[test]
    fn rounding_carries_into_a_new_digit() {
        assert_eq!(clean(999_999_999_999.9), 1e12);
        assert_eq!(clean(0.099_999_999_999_99), 0.1);
        assert_eq!(clean(-9.999_999_999_999_9e-300), -1e-299);
    }

    #[test]
    fn matches_fmt_at_the_extremes() {
        let cases = [
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            2.225_073_858_507_201e-308,
            1e-11,
            1e22,
            1e23,
            9_007_199_254_740_993.0,
            0.1,
            1.0 / 3.0,
            2.0 / 3.0,
        ];
        for x in cases {
            assert_eq!(clean(x).to_bits(), via_fmt(x).to_bits(), "{x:e}");
        }
    }

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
        fn clean_matches_fmt_on_any_float(x in any::<f64>()) {
            let (c, r) = (clean(x), via_fmt(x));
            prop_assert!(c.to_bits() == r.to_bits() || (c.is_nan() && r.is_nan()), "{:e}: {:e} vs {:e}", x, c, r);
        }

        #[test]
        fn clean_matches_fmt_on_money(cents in 0u64..10_000_000_000, noise in -4i64..=4) {
            // Sums of cents with a few ulps of summation noise.
            let x = f64::from_bits((cents as f64 / 100.0).to_bits().wrapping_add_signed(noise));
            prop_assert_eq!(clean(x).to_bits(), via_fmt(x).to_bits(), "{:e}", x);
        }
    }
}
