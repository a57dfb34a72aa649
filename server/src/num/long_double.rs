//! C's `long double` on x86-64, the x87 80-bit extended format (a 64-bit significand),
//! computed in software: glibc's strtold (correctly rounded, decimal and hex), an
//! addition rounded to nearest-even, and printf's `%.17Lf`. Redis's INCRBYFLOAT
//! replies are these numbers: 1234567.1 + 0.1 is "1234567.20000000000004547" there,
//! which double precision cannot reproduce.

use std::cmp::Ordering;
use std::fmt::Write as _;

/// The exponent of the least subnormal bit: 2^-16445.
const MIN_EXP: i64 = -16445;
/// Every finite value is below 2^16384.
const MAX_BITS: i64 = 16384;
/// Where exponents written in a number saturate (far beyond any finite value).
const EXP_CAP: i64 = 1 << 40;
/// strtold input longer than this is refused (Redis's MAX_LONG_DOUBLE_CHARS).
const MAX_CHARS: usize = 5 * 1024;

/// A parsed number: finite, or an infinity (which any sum turns into an error).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Float {
    Finite(LongDouble),
    Infinite,
}

/// A finite long double, `(-1)^neg × mant × 2^exp` with `exp >= MIN_EXP` and the
/// value below 2^16384: every such triple is one (normal or subnormal).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LongDouble {
    neg: bool,
    mant: u64,
    exp: i64,
}

impl Float {
    pub const ZERO: Float = Float::Finite(LongDouble::ZERO);

    /// The sum, or None for an infinity or NaN.
    pub fn checked_add(self, other: Float) -> Option<LongDouble> {
        match (self, other) {
            (Float::Finite(a), Float::Finite(b)) => a.add(b),
            _ => None,
        }
    }
}

impl LongDouble {
    /// Zero; its sign would never show.
    const ZERO: LongDouble = LongDouble {
        neg: false,
        mant: 0,
        exp: 0,
    };

    /// `ceill(self * factor)` as C computes it on x86-64 (the product rounded to
    /// nearest-even in 64 bits of significand, then rounded up to an integer), when
    /// it fits in an i64: a timeout in seconds made milliseconds, as Redis's
    /// `getTimeoutFromObjectOrReply` does. None when it does not fit (C's conversion
    /// then gives i64::MIN).
    pub fn times_ceil(self, factor: u64) -> Option<i64> {
        let mut m = u128::from(self.mant) * u128::from(factor);
        if m == 0 {
            return Some(0);
        }
        let mut exp = self.exp;
        let bits = 128 - m.leading_zeros() as i64;
        if bits > 64 {
            let shift = (bits - 64) as u32;
            let rem = m & ((1u128 << shift) - 1);
            let half = 1u128 << (shift - 1);
            m >>= shift;
            exp += i64::from(shift);
            if rem > half || (rem == half && m & 1 == 1) {
                m += 1;
            }
        }
        // The magnitude's integer part and whether a fraction remains.
        let (int, frac) = if exp >= 0 {
            if exp >= 64 || m.leading_zeros() < exp as u32 + 64 {
                return None;
            }
            (m << exp, false)
        } else if -exp >= 128 {
            (0, true)
        } else {
            let shift = (-exp) as u32;
            (m >> shift, m & ((1u128 << shift) - 1) != 0)
        };
        let ceil = match self.neg {
            true => -i128::try_from(int).ok()?,
            false => i128::try_from(int).ok()? + i128::from(frac),
        };
        i64::try_from(ceil).ok()
    }

    /// The sum, rounded to nearest-even; None when it overflows.
    fn add(self, other: LongDouble) -> Option<LongDouble> {
        // A zero's sign never shows: Redis prints "-0" as "0".
        if self.mant == 0 {
            return Some(other);
        }
        if other.mant == 0 {
            return Some(self);
        }
        let (a, b) = (self.normalized(), other.normalized());
        let (big, small) = if a.exp >= b.exp { (a, b) } else { (b, a) };
        // 62 guard bits below each 64-bit significand; what the alignment shifts
        // out of the smaller one survives as a sticky last bit, which is all that
        // rounding needs of it.
        let hi = u128::from(big.mant) << 62;
        let full = u128::from(small.mant) << 62;
        let shift = (big.exp - small.exp) as u64;
        let lo = if shift >= 128 {
            1
        } else {
            (full >> shift) | u128::from(full & ((1u128 << shift) - 1) != 0)
        };
        let (neg, sum) = if big.neg == small.neg {
            (big.neg, hi + lo)
        } else if hi >= lo {
            (big.neg, hi - lo)
        } else {
            (small.neg, lo - hi)
        };
        round(&Big::from_u128(sum), big.exp - 62, false, neg)
    }

    /// The same value with the significand's top bit at bit 63.
    fn normalized(self) -> LongDouble {
        let shift = self.mant.leading_zeros();
        LongDouble {
            mant: self.mant << shift,
            exp: self.exp - i64::from(shift),
            ..self
        }
    }

    /// Redis's ld2string in LD_STR_HUMAN mode: printf's `%.17Lf` (exact, rounded
    /// half to even), trailing zeros and a trailing dot dropped, "-0" made "0".
    pub fn to_human(self) -> String {
        const SCALE: u128 = 10u128.pow(17);
        let mut text = String::new();
        if self.neg {
            text.push('-');
        }
        if self.exp >= 0 {
            text.push_str(
                &Big::from_u128(self.mant.into())
                    .shl(self.exp as u64)
                    .to_decimal(),
            );
        } else {
            // mant × 10^17 < 2^121: below 0.5 once shifted by more than 121 bits.
            let k = self.exp.unsigned_abs();
            let scaled = u128::from(self.mant) * SCALE;
            let q = if k > 121 {
                0
            } else {
                let (q, rem, half) = (scaled >> k, scaled & ((1 << k) - 1), 1u128 << (k - 1));
                q + u128::from(rem > half || (rem == half && q & 1 == 1))
            };
            let _ = write!(text, "{}", q / SCALE);
            let frac = q % SCALE;
            if frac != 0 {
                let _ = write!(text, ".{frac:017}");
                text.truncate(text.trim_end_matches('0').len());
            }
        }
        if text == "-0" {
            text.remove(0);
        }
        text
    }
}

/// Rounds `(-1)^neg × n × 2^exp` to the nearest long double, ties to even; `sticky`
/// says a nonzero amount below n's last bit was left out. None when it overflows.
/// A nonzero value too small for the least subnormal comes back as zero.
fn round(n: &Big, exp: i64, sticky: bool, neg: bool) -> Option<LongDouble> {
    let len = n.bit_len() as i64;
    let drop = (len - 64).max(MIN_EXP - exp);
    let (mant, exp) = if drop <= 0 {
        (n.bits_from(0), exp)
    } else {
        let d = drop as u64;
        let kept = u128::from(n.bits_from(d));
        let up = n.bit(d - 1) && (sticky || n.any_below(d - 1) || kept & 1 == 1);
        let kept = kept + u128::from(up);
        if kept >> 64 != 0 {
            ((kept >> 1) as u64, exp + drop + 1)
        } else {
            (kept as u64, exp + drop)
        }
    };
    if mant != 0 && exp + i64::from(64 - mant.leading_zeros()) > MAX_BITS {
        return None;
    }
    Some(LongDouble { neg, mant, exp })
}

/// Parses `text` as Redis's string2ld: all of it must be a number as glibc's
/// strtold reads one (`[+-]` then decimal or `0x` hex digits with an optional
/// point and exponent, or `inf`/`infinity`), with no spaces; NaN, and a value that
/// overflows or underflows to zero, are refused.
pub fn parse(text: &[u8]) -> Option<Float> {
    if text.is_empty() || text.len() >= MAX_CHARS {
        return None;
    }
    let (neg, body) = match text[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Some(Float::Infinite);
    }
    let (lit, hex) = match body {
        [b'0', b'x' | b'X', hex @ ..] => (Literal::parse(hex, 16, b'p')?, true),
        _ => (Literal::parse(body, 10, b'e')?, false),
    };
    if lit.digits.is_zero() {
        return Some(Float::ZERO);
    }
    let value = if hex {
        round(
            &lit.digits,
            lit.exp.saturating_sub(4 * lit.fraction),
            false,
            neg,
        )
    } else {
        lit.decimal_value(neg)
    }?;
    // Nonzero digits that came out zero underflowed: strtold's ERANGE.
    (value.mant != 0).then_some(Float::Finite(value))
}

/// The parts of a number: its digits as one integer, how many of them follow the
/// point, and the exponent after the marker (`e`: of ten, `p`: of two).
struct Literal {
    digits: Big,
    fraction: i64,
    exp: i64,
}

impl Literal {
    /// `digits[.digits][marker[+-]digits]` in `radix`, at least one digit before
    /// the marker; None unless all of `text` is that.
    fn parse(text: &[u8], radix: u32, marker: u8) -> Option<Literal> {
        let mut lit = Literal {
            digits: Big::default(),
            fraction: 0,
            exp: 0,
        };
        let (mut count, mut point, mut at) = (0, false, 0);
        while let Some(&b) = text.get(at) {
            if b == b'.' && !point {
                point = true;
            } else if let Some(d) = char::from(b).to_digit(radix) {
                lit.digits.mul_add(radix, d);
                count += 1;
                lit.fraction += i64::from(point);
            } else {
                break;
            }
            at += 1;
        }
        if count == 0 {
            return None;
        }
        let Some((&m, exp)) = text[at..].split_first() else {
            return Some(lit);
        };
        let (neg, exp) = match exp {
            [b'-', rest @ ..] => (true, rest),
            [b'+', rest @ ..] => (false, rest),
            _ => (false, exp),
        };
        if !m.eq_ignore_ascii_case(&marker) || exp.is_empty() || !exp.iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        let n = exp
            .iter()
            .fold(0i64, |n, &d| (n * 10 + i64::from(d - b'0')).min(EXP_CAP));
        lit.exp = if neg { -n } else { n };
        Some(lit)
    }

    /// The value of nonzero decimal digits, correctly rounded (zero if it
    /// underflows, None if it overflows): `digits × 10^p` exactly as an integer,
    /// or for p < 0 a quotient of 65 to 67 bits and whether a remainder was left.
    fn decimal_value(self, neg: bool) -> Option<LongDouble> {
        let p = self.exp - self.fraction;
        let bits = self.digits.bit_len() as i64;
        // log10(digits) lies in [(bits - 1) × 0.30103, bits × 0.30103): refuse at
        // once what is surely ≥ 1e4933 (overflow) or < 1e-4952 (rounds to zero).
        if (bits - 1) * 30103 / 100_000 + p > 4933 {
            return None;
        }
        if bits * 30103 / 100_000 + 1 + p < -4952 {
            return Some(LongDouble::ZERO);
        }
        if p >= 0 {
            let mut n = self.digits;
            n.mul_pow10(p as u64);
            return round(&n, 0, false, neg);
        }
        let den = Big::pow10(p.unsigned_abs());
        let shift = bits - den.bit_len() as i64 - 66;
        let (mut num, den) = if shift < 0 {
            (self.digits.shl(shift.unsigned_abs()), den)
        } else {
            (self.digits, den.shl(shift as u64))
        };
        let mut q: u128 = 0;
        for i in (0..67).rev() {
            let step = den.shl(i);
            if num.cmp(&step) != Ordering::Less {
                num.sub_assign(&step);
                q |= 1 << i;
            }
        }
        round(&Big::from_u128(q), shift, !num.is_zero(), neg)
    }
}

/// A non-negative integer of any size: little-endian 32-bit limbs, no zero limb
/// on top (zero has none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u128(mut n: u128) -> Big {
        let mut limbs = Vec::new();
        while n != 0 {
            limbs.push(n as u32);
            n >>= 32;
        }
        Big(limbs)
    }

    fn pow10(n: u64) -> Big {
        let mut b = Big(vec![1]);
        b.mul_pow10(n);
        b
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn bit_len(&self) -> u64 {
        self.0.last().map_or(0, |top| {
            self.0.len() as u64 * 32 - u64::from(top.leading_zeros())
        })
    }

    /// `self = self × m + a`.
    fn mul_add(&mut self, m: u32, a: u32) {
        let mut carry = u64::from(a);
        for limb in &mut self.0 {
            let t = u64::from(*limb) * u64::from(m) + carry;
            *limb = t as u32;
            carry = t >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn mul_pow10(&mut self, mut n: u64) {
        while n > 0 {
            let step = n.min(9);
            self.mul_add(10u32.pow(step as u32), 0);
            n -= step;
        }
    }

    fn shl(&self, bits: u64) -> Big {
        if self.is_zero() {
            return Big::default();
        }
        let (limbs, bits) = ((bits / 32) as usize, (bits % 32) as u32);
        let mut out = vec![0; limbs];
        if bits == 0 {
            out.extend_from_slice(&self.0);
        } else {
            let mut carry = 0;
            for &limb in &self.0 {
                out.push((limb << bits) | carry);
                carry = limb >> (32 - bits);
            }
            if carry != 0 {
                out.push(carry);
            }
        }
        Big(out)
    }

    fn bit(&self, i: u64) -> bool {
        usize::try_from(i / 32)
            .ok()
            .and_then(|limb| self.0.get(limb))
            .is_some_and(|l| (l >> (i % 32)) & 1 == 1)
    }

    /// Whether any bit below bit `i` is set.
    fn any_below(&self, i: u64) -> bool {
        let whole = usize::try_from(i / 32)
            .unwrap_or(usize::MAX)
            .min(self.0.len());
        let part = (i % 32) as u32;
        self.0[..whole].iter().any(|&l| l != 0)
            || (part != 0
                && self
                    .0
                    .get(whole)
                    .is_some_and(|&l| l & ((1 << part) - 1) != 0))
    }

    /// Bits `from..from + 64` as a number.
    fn bits_from(&self, from: u64) -> u64 {
        (0..64)
            .filter(|&k| self.bit(from + k))
            .fold(0, |m, k| m | 1 << k)
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    /// `self -= other`, for `other <= self`.
    fn sub_assign(&mut self, other: &Big) {
        let mut borrow = false;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let (d, b1) = limb.overflowing_sub(other.0.get(i).copied().unwrap_or(0));
            let (d, b2) = d.overflowing_sub(u32::from(borrow));
            *limb = d;
            borrow = b1 || b2;
        }
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    /// `self /= d`, returning the remainder.
    fn div_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for limb in self.0.iter_mut().rev() {
            let cur = (rem << 32) | u64::from(*limb);
            *limb = (cur / u64::from(d)) as u32;
            rem = cur % u64::from(d);
        }
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
        rem as u32
    }

    fn to_decimal(&self) -> String {
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            chunks.push(n.div_small(1_000_000_000));
        }
        let mut text = String::new();
        let mut rev = chunks.iter().rev();
        let _ = write!(text, "{}", rev.next().copied().unwrap_or(0));
        for chunk in rev {
            let _ = write!(text, "{chunk:09}");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(a: &str, b: &str) -> Option<String> {
        let (a, b) = (parse(a.as_bytes())?, parse(b.as_bytes())?);
        a.checked_add(b).map(LongDouble::to_human)
    }

    /// Timeouts in seconds made milliseconds as redis-server 7.0.15 takes them (its
    /// replies for these: blocked, timed out at once, or "timeout is negative").
    #[test]
    fn times_ceil_as_x87() {
        let ms = |s: &str| match parse(s.as_bytes()) {
            Some(Float::Finite(v)) => v.times_ceil(1000),
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(ms("0.0001"), Some(1));
        assert_eq!(ms("1e-400"), Some(1));
        assert_eq!(ms("1.5"), Some(1500));
        assert_eq!(ms("0x10"), Some(16000));
        assert_eq!(ms("0"), Some(0));
        // 0.001 in 64 bits of significand is a hair below it: the product rounds to
        // just above -1, and up to 0 (Redis blocks forever on "-0.001").
        assert_eq!(ms("-0.001"), Some(0));
        assert_eq!(ms("-0.0001"), Some(0));
        assert_eq!(ms("-0.5"), Some(-500));
        assert_eq!(ms("9223372036854775"), Some(9223372036854775000));
        assert_eq!(ms("9223372036854776"), None);
        assert_eq!(ms("1e30"), None);
    }

    #[test]
    fn parses_what_strtold_accepts() {
        for ok in [
            "1",
            "-1",
            "+1.5",
            "1.",
            ".5",
            "1e3",
            "1E+3",
            "1e-3",
            "0x1p3",
            "0X1.8P1",
            "inf",
            "-Infinity",
            "0e999999999999999999",
        ] {
            assert!(parse(ok.as_bytes()).is_some(), "{ok}");
        }
        for bad in [
            "",
            " 1",
            "1 ",
            "+",
            "-",
            ".",
            "e1",
            "1e",
            "1e+",
            "0x",
            "0xp1",
            "0x1p",
            "nan",
            "NaN(1)",
            "infin",
            "1..2",
            "--1",
            "1e5000",
            "1e-5000",
            "0x1p99999",
            "0x1p-99999",
            "1\0",
        ] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad:?}");
        }
        let longest = format!("0.{}", "1".repeat(MAX_CHARS - 3));
        assert!(parse(longest.as_bytes()).is_some());
        assert!(parse(format!("{longest}1").as_bytes()).is_none());
    }

    #[test]
    fn adds_and_prints_as_redis_on_x86_64() {
        // Replies of Redis 7.0.15 (x86-64) to SET k <a> then INCRBYFLOAT k <b>.
        let cases = [
            ("10.5", "0.1", "10.6"),
            ("0.1", "0.2", "0.3"),
            ("5.0e3", "2.0e2", "5200"),
            ("1e20", "0", "100000000000000000000"),
            ("1234567.1", "0.1", "1234567.20000000000004547"),
            ("0", "1e-20", "0"),
            ("-1.5", "1.5", "0"),
            ("0", "-0", "0"),
            ("0", "0x1p3", "8"),
            ("12345678901234567.5", "0", "12345678901234567.5"),
            ("1.23456789012345678", "0", "1.23456789012345678"),
            ("1e300", "1", "1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144"),
        ];
        for (a, b, want) in cases {
            assert_eq!(sum(a, b).as_deref(), Some(want), "{a} + {b}");
        }
        assert_eq!(sum("inf", "1"), None);
        assert_eq!(sum("1e4932", "1e4932"), None);
    }

    #[test]
    fn rounds_ties_to_even() {
        fn value(text: &str) -> LongDouble {
            match parse(text.as_bytes()) {
                Some(Float::Finite(v)) => v.normalized(),
                other => panic!("{text}: {other:?}"),
            }
        }
        fn plus(a: &str, b: &str) -> LongDouble {
            Float::Finite(value(a))
                .checked_add(Float::Finite(value(b)))
                .map(LongDouble::normalized)
                .unwrap()
        }
        // One ulp of 1 is 2^-63: 1 + 2^-64 is a tie, and goes to the even side.
        assert_eq!(value("0x1.0000000000000001p0"), value("1"));
        assert_eq!(
            value("0x1.0000000000000003p0"),
            value("0x1.0000000000000004p0")
        );
        assert_eq!(
            value("0x1.00000000000000010001p0"),
            value("0x1.0000000000000002p0")
        );
        assert_eq!(plus("1", "0x1p-64"), value("1"));
        assert_eq!(
            plus("0x1.0000000000000002p0", "0x1p-64"),
            value("0x1.0000000000000004p0")
        );
        assert_eq!(plus("1", "0x1.0001p-64"), value("0x1.0000000000000002p0"));
        // Far below the last bit: only the sticky bit of it is left.
        assert_eq!(plus("1", "0x1p-200"), value("1"));
        assert_eq!(plus("1", "-0x1p-200"), value("1"));
        assert_eq!(plus("1", "-0x1p-65"), value("1"));
        assert_eq!(
            plus("1", "-0x1.0000000000000002p-65"),
            value("0x1.fffffffffffffffep-1")
        );
        // Subnormals.
        assert_eq!(value("0x1p-16445"), value("0x0.8p-16444"));
        assert_eq!(parse(b"0x1p-16446"), None);
        assert_eq!(value("0x1.8p-16446"), value("0x1p-16445"));
    }
}
