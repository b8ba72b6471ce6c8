//! A small unsigned big integer for the exact slow paths of [`super::clean`]
//! and [`super::parse_f64`]. Both run rarely, so it favours little code over
//! speed.

use std::cmp::Ordering;

/// Little-endian 32-bit words without high zero words.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Big(Vec<u32>);

impl Big {
    pub(super) fn from_u64(v: u64) -> Big {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    /// `self = self * m + add`.
    #[inline(never)]
    pub(super) fn mul_add(&mut self, m: u32, add: u32) {
        let mut carry = u64::from(add);
        for w in &mut self.0 {
            let t = u64::from(*w) * u64::from(m) + carry;
            *w = t as u32;
            carry = t >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    pub(super) fn mul_pow10(&mut self, mut n: u64) {
        while n >= 9 {
            self.mul_add(1_000_000_000, 0);
            n -= 9;
        }
        self.mul_add(10u32.pow(n as u32), 0);
    }

    #[inline(never)]
    pub(super) fn shl(&mut self, n: u64) {
        if self.0.is_empty() {
            return;
        }
        let bits = (n % 32) as u32;
        let mut shifted = vec![0; (n / 32) as usize];
        let mut carry = 0;
        for &w in &self.0 {
            shifted.push(w.checked_shl(bits).unwrap_or(0) | carry);
            carry = if bits == 0 { 0 } else { w >> (32 - bits) };
        }
        shifted.push(carry);
        self.0 = shifted;
        self.trim();
    }

    #[inline(never)]
    fn shr1(&mut self) {
        let mut carry = 0;
        for w in self.0.iter_mut().rev() {
            let next = *w << 31;
            *w = (*w >> 1) | carry;
            carry = next;
        }
        self.trim();
    }

    pub(super) fn bit_len(&self) -> u64 {
        self.0.last().map_or(0, |&top| {
            32 * self.0.len() as u64 - u64::from(top.leading_zeros())
        })
    }

    #[inline(never)]
    pub(super) fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    /// `self -= other`; the caller guarantees `self >= other`.
    #[inline(never)]
    fn sub(&mut self, other: &Big) {
        let mut borrow = false;
        for (i, x) in self.0.iter_mut().enumerate() {
            let y = other.0.get(i).copied().unwrap_or(0);
            let (d, b1) = x.overflowing_sub(y);
            let (d, b2) = d.overflowing_sub(u32::from(borrow));
            *x = d;
            borrow = b1 || b2;
        }
        self.trim();
    }

    /// Replaces `self` by `self mod den` and returns `self / den`. The caller
    /// guarantees `self < den * 2^bits` and `bits <= 64`.
    fn div_rem(&mut self, den: &Big, bits: u32) -> u64 {
        let mut q = 0u64;
        let mut d = den.clone();
        d.shl(u64::from(bits));
        for bit in (0..bits).rev() {
            d.shr1();
            if self.cmp(&d) != Ordering::Less {
                self.sub(&d);
                q |= 1 << bit;
            }
        }
        q
    }
}

/// `d * 2^e2 * 10^e10` rounded down, and rounded to nearest: half to even,
/// or up on a tie when `truncated` (the exact value is a little above). The
/// caller guarantees the value is below `2^bits`, `bits <= 64`.
#[inline(never)]
pub(super) fn div_round(d: &Big, e2: i64, e10: i64, bits: u32, truncated: bool) -> (u64, u64) {
    let mut num = d.clone();
    let mut den = Big::from_u64(1);
    if e2 >= 0 {
        num.shl(e2.unsigned_abs());
    } else {
        den.shl(e2.unsigned_abs());
    }
    if e10 >= 0 {
        num.mul_pow10(e10.unsigned_abs());
    } else {
        den.mul_pow10(e10.unsigned_abs());
    }
    let q = num.div_rem(&den, bits);
    num.shl(1);
    let up = match num.cmp(&den) {
        Ordering::Greater => true,
        Ordering::Equal => truncated || q & 1 == 1,
        Ordering::Less => false,
    };
    (q, q + u64::from(up))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic() {
        let mut a = Big::from_u64(u64::MAX);
        a.mul_add(10, 5);
        // (2^64 - 1) * 10 + 5 = 2^64 * 10 - 5.
        assert_eq!(a.0, vec![0xffff_fffb, 0xffff_ffff, 9]);
        assert_eq!(a.bit_len(), 68);
        let mut b = Big::from_u64(3);
        b.shl(65);
        assert_eq!(b.0, vec![0, 0, 6]);
        assert_eq!(b.cmp(&a), Ordering::Less);
        let mut n = Big::from_u64(1);
        n.mul_pow10(20);
        let q = n.div_rem(&Big::from_u64(7), 64);
        assert_eq!(q, 14_285_714_285_714_285_714);
        assert_eq!(n, Big::from_u64(2));
        // 10 / 8 = 1.25, 7 / 10 = 0.7, 5 / 2 = 2.5 (a tie: to even).
        assert_eq!(div_round(&Big::from_u64(1), -3, 1, 8, false), (1, 1));
        assert_eq!(div_round(&Big::from_u64(7), 0, -1, 8, false), (0, 1));
        assert_eq!(div_round(&Big::from_u64(5), -1, 0, 8, false), (2, 2));
        assert_eq!(div_round(&Big::from_u64(5), -1, 0, 8, true), (2, 3));
        assert_eq!(div_round(&Big::from_u64(7), -1, 0, 8, false), (3, 4));
        assert_eq!(div_round(&Big::from_u64(3), 2, 2, 16, false), (1200, 1200));
        assert_eq!(Big::from_u64(0).bit_len(), 0);
        let mut z = Big::from_u64(0);
        z.shl(40);
        assert_eq!(z, Big::default());
    }
}
