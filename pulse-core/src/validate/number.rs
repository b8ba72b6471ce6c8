//! Numbers as the strict grammars write them: the OpenMetrics ABNF's
//! `number` and `realnumber`, Go's `ParseFloat`/`ParseInt` for text 0.0.4,
//! and exact ordering of timestamps as written.

use std::cmp::Ordering;

/// An OpenMetrics `number`: a `realnumber`, `[SIGN] ("inf" / "infinity")`
/// or `"nan"` (case-insensitive). `None` when the token is not one, or when
/// a real number does not fit an IEEE 754 double ("Floating point numbers
/// MUST fit within the range of a 64-bit floating point value").
pub(super) fn om_number(tok: &str) -> Option<f64> {
    let (neg, unsigned) = split_sign(tok);
    if unsigned.eq_ignore_ascii_case("nan") {
        return (unsigned.len() == tok.len()).then_some(f64::NAN);
    }
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Some(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    om_real(tok)
}

/// An OpenMetrics `realnumber` (a timestamp): finite, no `inf` or `nan`.
pub(super) fn om_real(tok: &str) -> Option<f64> {
    Decimal::parse(tok)?;
    let v = crate::num::parse_f64(tok)?;
    v.is_finite().then_some(v)
}

/// A text 0.0.4 value: Go `strconv.ParseFloat` syntax, in range.
pub(super) fn go_float(tok: &str) -> Option<f64> {
    let v = crate::parse::parse_value(tok)?;
    if v.is_infinite() {
        // ParseFloat reports a finite literal that overflows as an error.
        let (_, unsigned) = split_sign(tok);
        let word = unsigned.to_ascii_lowercase();
        return matches!(word.as_str(), "inf" | "infinity").then_some(v);
    }
    Some(v)
}

/// A text 0.0.4 timestamp: Go `strconv.ParseInt(s, 10, 64)`.
pub(super) fn go_int64(tok: &str) -> Option<i64> {
    tok.parse::<i64>().ok()
}

fn split_sign(tok: &str) -> (bool, &str) {
    match tok.as_bytes().first() {
        Some(b'-') => (true, &tok[1..]),
        Some(b'+') => (false, &tok[1..]),
        _ => (false, tok),
    }
}

/// A `realnumber` held exactly as written, so that timestamps compare
/// without float rounding (`1604676851.123456789` and `...788` differ).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Decimal {
    neg: bool,
    /// Significant digits without leading or trailing zeros; empty for zero.
    digits: String,
    /// The value is `0.digits * 10^point`.
    point: i64,
}

impl Decimal {
    /// Parses the ABNF `realnumber`:
    /// `[SIGN] 1*DIGIT ["." *DIGIT] ["e" [SIGN] 1*DIGIT]` or
    /// `[SIGN] *DIGIT "." 1*DIGIT ["e" [SIGN] 1*DIGIT]`.
    pub(super) fn parse(tok: &str) -> Option<Decimal> {
        let (neg, rest) = split_sign(tok);
        let (mantissa, exp) = match rest.find(['e', 'E']) {
            Some(i) => {
                let (_, e) = split_sign(&rest[i + 1..]);
                if e.is_empty() || !e.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                // Exponents beyond i64 are absurd; saturate, ordering holds.
                let exp =
                    rest[i + 1..]
                        .parse::<i64>()
                        .unwrap_or(if rest[i + 1..].starts_with('-') {
                            i64::MIN / 2
                        } else {
                            i64::MAX / 2
                        });
                (&rest[..i], exp)
            }
            None => (rest, 0),
        };
        let (int, frac) = match mantissa.split_once('.') {
            Some((i, f)) => (i, f),
            None => (mantissa, ""),
        };
        if int.is_empty() && frac.is_empty()
            || !int.bytes().all(|c| c.is_ascii_digit())
            || !frac.bytes().all(|c| c.is_ascii_digit())
        {
            return None;
        }
        let all: String = int.chars().chain(frac.chars()).collect();
        let lead = all.len() - all.trim_start_matches('0').len();
        let digits = all.trim_matches('0').to_owned();
        if digits.is_empty() {
            return Some(Decimal {
                neg: false,
                digits,
                point: 0,
            });
        }
        let point = (int.len() as i64 - lead as i64).saturating_add(exp);
        Some(Decimal { neg, digits, point })
    }

    fn cmp_magnitude(&self, other: &Decimal) -> Ordering {
        match (self.digits.is_empty(), other.digits.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        self.point
            .cmp(&other.point)
            .then_with(|| self.digits.cmp(&other.digits))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Decimal) -> Ordering {
        let zero = |d: &Decimal| d.digits.is_empty();
        match (self.neg && !zero(self), other.neg && !zero(other)) {
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Decimal) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn realnumber_grammar() {
        for ok in [
            "0",
            "000",
            "1.",
            "1.5",
            ".5",
            "-1",
            "+1e3",
            "1.5E-3",
            "12345678901234567890.1234567890",
        ] {
            assert!(Decimal::parse(ok).is_some(), "{ok}");
            assert!(om_real(ok).is_some(), "{ok}");
        }
        for bad in [
            "", ".", "-", "1e", "e5", "1_2", "0x1p-3", "1.1.1", "NaN", "Inf", "1 ", "1e+",
        ] {
            assert!(Decimal::parse(bad).is_none(), "{bad}");
            assert!(om_real(bad).is_none(), "{bad}");
        }
        assert_eq!(om_real("1e400"), None);
    }

    #[test]
    fn numbers_and_go_floats() {
        assert!(om_number("NaN").unwrap().is_nan());
        assert!(om_number("nan").unwrap().is_nan());
        assert_eq!(om_number("+Inf"), Some(f64::INFINITY));
        assert_eq!(om_number("-infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(om_number("+NaN"), None);
        assert_eq!(om_number("0x1"), None);
        assert_eq!(go_float("1e400"), None);
        assert_eq!(go_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(go_int64("-3982045"), Some(-3_982_045));
        assert_eq!(go_int64("1.5"), None);
    }

    #[test]
    fn decimals_order_exactly() {
        assert!(d("1604676851.123456789") > d("1604676851.123456788"));
        assert_eq!(d("0.0"), d("-0"));
        assert_eq!(d("1.5e3"), d("1500"));
        assert!(d("0.0000000001") > d("0.0000000000"));
        assert!(d("-2") < d("-1.1"));
        assert!(d("-1") < d("0"));
        assert!(d("12345678901234567890.1234567890") > d("1e19"));
        assert!(d("9.9") < d("10"));
    }
}
