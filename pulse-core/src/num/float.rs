//! Decimal to `f64`, correctly rounded, without core's `dec2flt`.
//!
//! `str::parse::<f64>` links a 10 KB table of 128-bit powers of five (for
//! Eisel-Lemire) that gzip cannot shrink, plus 6 KB of code, into the
//! WebAssembly build. Sample values are short: a plain mantissa below 2^53
//! takes Clinger's exact fast path, one of up to 19 digits (LiteLLM's
//! `0.040786750000000004`) an exact 128-bit path, and only the rest the
//! big-integer path.

use super::big::Big;

/// Exact powers of ten representable as `f64` (10^0 ..= 10^22).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Significant digits kept by the slow path; more cannot change the rounding
/// except to break an exact tie, which the `truncated` flag records.
const MAX_DIGITS: usize = 768;

/// Parses `s` exactly as `s.parse::<f64>().ok()` does: an optional sign,
/// then `inf`, `infinity` or `nan` in any case, or decimal digits with an
/// optional point and exponent; correctly rounded, ties to even.
///
/// ```
/// use pulse_core::num::parse_f64;
/// assert_eq!(parse_f64("0.040786750000000004"), Some(0.040786750000000004));
/// assert_eq!(parse_f64("-1.5e3"), Some(-1500.0));
/// assert_eq!(parse_f64("+Inf"), Some(f64::INFINITY));
/// assert_eq!(parse_f64("1e"), None);
/// ```
pub fn parse_f64(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let (negative, b) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let magnitude = if b.eq_ignore_ascii_case(b"inf") || b.eq_ignore_ascii_case(b"infinity") {
        f64::INFINITY
    } else if b.eq_ignore_ascii_case(b"nan") {
        f64::NAN
    } else {
        parse_decimal(b)?
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// `digits[.digits][(e|E)[+-]digits]` with at least one mantissa digit.
fn parse_decimal(b: &[u8]) -> Option<f64> {
    // The first 19 significant digits, how many there are (with trailing
    // zeros), how many of them are trailing zeros, and the power of ten of
    // the last digit read.
    let (mut head, mut count, mut zeros, mut exp) = (0u64, 0usize, 0usize, 0i64);
    let (mut any, mut point, mut i) = (false, false, 0);
    while let Some(&c) = b.get(i) {
        if c == b'.' && !point {
            point = true;
        } else if c.is_ascii_digit() {
            any = true;
            exp -= i64::from(point);
            if count > 0 || c != b'0' {
                if count < 19 {
                    head = head * 10 + u64::from(c - b'0');
                }
                count += 1;
                zeros = if c == b'0' { zeros + 1 } else { 0 };
            }
        } else {
            break;
        }
        i += 1;
    }
    let mantissa = &b[..i];
    if !any {
        return None;
    }
    if let Some(&e) = b.get(i) {
        if e != b'e' && e != b'E' {
            return None;
        }
        let digits = match b.get(i + 1) {
            Some(b'-' | b'+') => &b[i + 2..],
            _ => &b[i + 1..],
        };
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut e = 0i64;
        for &d in digits {
            // Saturates far beyond any exponent that is not 0 or inf.
            e = (e * 10 + i64::from(d - b'0')).min(1 << 40);
        }
        exp += if b.get(i + 1) == Some(&b'-') { -e } else { e };
    }
    // Without its trailing zeros the digit string has `count` digits.
    count -= zeros;
    exp += zeros as i64;
    if count <= 19 {
        // `head` holds the first 19 digits, and those after `count` are 0.
        let dropped = (count + zeros).min(19) - count;
        return Some(from_parts(head / 10u64.pow(dropped as u32), exp));
    }
    let mut d = Big::default();
    let mut kept = 0;
    let mut truncated = false;
    for &c in mantissa.iter().filter(|c| c.is_ascii_digit()) {
        if kept == count {
            break;
        }
        if kept >= MAX_DIGITS {
            truncated |= c != b'0';
        } else if kept > 0 || c != b'0' {
            d.mul_add(10, u32::from(c - b'0'));
        } else {
            continue;
        }
        kept += 1;
    }
    Some(slow(
        &d,
        exp + (count - kept.min(MAX_DIGITS)) as i64,
        truncated,
    ))
}

/// The value `m * 10^exp`, correctly rounded.
pub(super) fn from_parts(m: u64, exp: i64) -> f64 {
    if m == 0 {
        return 0.0;
    }
    if m < 1 << 53 && exp.unsigned_abs() <= 22 {
        // Clinger: both operands exact, so one rounding.
        let (mf, p) = (m as f64, POW10[exp.unsigned_abs() as usize]);
        return if exp < 0 { mf / p } else { mf * p };
    }
    if (0..=19).contains(&exp) {
        // m * 10^exp < 2^128, and `as` rounds to nearest, ties to even.
        return (u128::from(m) * 10u128.pow(exp as u32)) as f64;
    }
    if (-38..0).contains(&exp) {
        let den = 10u128.pow(exp.unsigned_abs() as u32);
        if u128::from(m) << 9 >= den {
            // The quotient has at least 55 bits, so a sticky bit for a
            // non-zero remainder below them makes one rounding exact; the
            // result is at least 1e-38, far above the subnormals, so the
            // scaling by 2^-64 is exact.
            let num = u128::from(m) << 64;
            let q = (num / den) | u128::from(num % den != 0);
            return q as f64 * (1.0 / 18_446_744_073_709_551_616.0);
        }
    }
    slow(&Big::from_u64(m), exp, false)
}

/// `d * 10^exp` (plus a little when `truncated`) by exact long division.
fn slow(d: &Big, exp: i64, truncated: bool) -> f64 {
    let bits = d.bit_len();
    if bits == 0 {
        return 0.0;
    }
    // log2 of the value lies in [bits - 1, bits) + exp * log2(10).
    let log2 = bits as f64 + exp as f64 * std::f64::consts::LOG2_10;
    if log2 > 1026.0 {
        return f64::INFINITY;
    }
    if log2 < -1077.0 {
        return 0.0;
    }
    // The value is q * 2^p; aim q at [2^52, 2^53), the f64 mantissa. The
    // first p keeps q below 2^54.
    let mut p = (log2.floor() as i64 - 52).max(-1074);
    loop {
        let (floor, q) = super::big::div_round(d, -p, exp, 55, truncated);
        let len = i64::from(64 - floor.leading_zeros());
        if len > 53 {
            p += len - 53;
        } else if len < 53 && p > -1074 {
            p = (p - (53 - len)).max(-1074);
        } else if p > 971 {
            return f64::INFINITY;
        } else {
            // q <= 2^53 and 2^p are exact, so the product is the rounded
            // value (or infinity when rounding carried past f64::MAX).
            return q as f64 * pow2(p);
        }
    }
}

/// 2^p for -1074 <= p <= 971, built from its bits.
fn pow2(p: i64) -> f64 {
    if p >= -1022 {
        f64::from_bits(((p + 1023) as u64) << 52)
    } else {
        f64::from_bits(1 << (p + 1074))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn same(s: &str) {
        let (ours, std) = (parse_f64(s), s.parse::<f64>().ok());
        let eq = match (ours, std) {
            (Some(a), Some(b)) => a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            (None, None) => true,
            _ => false,
        };
        assert!(eq, "{s:?}: {ours:?} vs std {std:?}");
    }

    #[test]
    fn syntax_matches_std() {
        for s in [
            "",
            "+",
            "-",
            ".",
            "e",
            "1e",
            "1e+",
            "e5",
            ".e1",
            "1.e1",
            ".5",
            "5.",
            "1..2",
            "1e1.5",
            "--1",
            "+-1",
            " 1",
            "1 ",
            "1_0",
            "0x10",
            "inf",
            "-INF",
            "+Infinity",
            "infinit",
            "nan",
            "NaN",
            "-nan",
            "+nAn",
            "in",
            "1e-",
            "00",
            "-0",
            "-0.0e5",
            "1E5",
            "1e+05",
            "0.0000",
        ] {
            same(s);
        }
    }

    #[test]
    fn hard_cases_match_std() {
        for s in [
            "0.040786750000000004",
            "0.30000000000000004",
            "9007199254740993",
            "9007199254740992.5",
            "18446744073709551615",
            "18446744073709551616",
            "123456789012345678901234567890",
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "1.7976931348623159e308",
            "1e309",
            "2.2250738585072011e-308",
            "2.2250738585072014e-308",
            "4.9406564584124654e-324",
            "2.4703282292062327e-324",
            "2.4703282292062328e-324",
            "1e-400",
            "1e99999999999999",
            "0e99999999999999",
            "1e-99999999999999",
            "4.35679999999999999999999999999999999999999999999e-10",
            "7.2057594037927933e16",
            "1.00000000000000011102230246251565404236316680908203125",
            "1.00000000000000011102230246251565404236316680908203124",
            "1.00000000000000011102230246251565404236316680908203126",
            "0.1e-38",
            "123456789.123456789e-30",
        ] {
            same(s);
        }
        // Exactly halfway with digits beyond the 768 kept.
        let mut tie = String::from("1.00000000000000011102230246251565404236316680908203125");
        tie.push_str(&"0".repeat(800));
        same(&tie);
        tie.push('1');
        same(&tie);
        same(&format!("0.{}1", "0".repeat(5000)));
        same(&format!("{}e-5000", "1".repeat(5000)));
    }

    proptest! {
        #[test]
        fn any_float_round_trips(x in any::<f64>()) {
            same(&format!("{x:e}"));
            same(&format!("{x}"));
            same(&format!("{x:.20e}"));
        }

        #[test]
        fn decimal_strings_match_std(s in "[-+]?[0-9]{0,25}(\\.[0-9]{0,25})?([eE][-+]?[0-9]{1,3})?") {
            same(&s);
        }

        #[test]
        fn odd_strings_match_std(s in "[-+0-9.eE]{0,12}") {
            same(&s);
        }

        #[test]
        fn parts_match_std(m in any::<u64>(), e in -400i64..400) {
            let ours = from_parts(m, e);
            let std: f64 = format!("{m}e{e}").parse().unwrap();
            prop_assert_eq!(ours.to_bits(), std.to_bits(), "{}e{}", m, e);
        }
    }
}
