//! What a tierbench run asks for, parsed from its flags: the GET:SET ratio, the key
//! pattern, the value sizes, and sizes in Redis's memory units. Each parser's error
//! names what it expected, and clap puts the flag's name in front of it.

use std::fmt;
use std::str::FromStr;

/// `--ratio GET:SET`: how many GETs for how many SETs, e.g. `1:10`, `1:0` (reads only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    pub gets: u32,
    pub sets: u32,
}

impl Ratio {
    /// Whether request number `n` of a run is a GET: the ratio's pattern repeated,
    /// GETs first in each period (period = gets + sets).
    pub fn is_get(self, n: u64) -> bool {
        n % u64::from(self.gets + self.sets) < u64::from(self.gets)
    }
}

impl FromStr for Ratio {
    type Err = String;

    fn from_str(s: &str) -> Result<Ratio, String> {
        let bad = || format!("'{s}' is not GET:SET, two counts such as 1:10 or 1:0");
        let (gets, sets) = s.split_once(':').ok_or_else(bad)?;
        let ratio = Ratio {
            gets: gets.parse().map_err(|_| bad())?,
            sets: sets.parse().map_err(|_| bad())?,
        };
        if ratio.gets.checked_add(ratio.sets).unwrap_or(0) == 0 {
            return Err(format!(
                "'{s}': GET:SET needs at least one request a period"
            ));
        }
        Ok(ratio)
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.gets, self.sets)
    }
}

/// `--key-pattern`: how each request picks its key among `--keys N`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KeyPattern {
    /// Every key equally likely.
    Uniform,
    /// Zipfian with exponent `theta` > 0 (0.99 is YCSB's): the key of rank r drawn
    /// with a probability proportional to 1/r^theta, the ranks scattered over the
    /// keyspace.
    Zipf(f64),
    /// Each client walks the keys in order from a start of its own, wrapping.
    Sequential,
    /// `hotset:PCT`: 90 % of the requests go to the first PCT % of the keys, the rest
    /// uniform over all.
    Hotset(f64),
}

impl FromStr for KeyPattern {
    type Err = String;

    fn from_str(s: &str) -> Result<KeyPattern, String> {
        let expected = "expected uniform, sequential, zipf:THETA or hotset:PCT";
        let number = |text: &str, what: &str| -> Result<f64, String> {
            text.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| format!("'{s}': {what} '{text}' is not a number"))
        };
        match s.split_once(':') {
            None if s == "uniform" => Ok(KeyPattern::Uniform),
            None if s == "sequential" => Ok(KeyPattern::Sequential),
            Some(("zipf", theta)) => {
                let theta = number(theta, "THETA")?;
                if theta <= 0.0 {
                    return Err(format!("'{s}': THETA must be above 0 (0.99 is YCSB's)"));
                }
                Ok(KeyPattern::Zipf(theta))
            }
            Some(("hotset", pct)) => {
                let pct = number(pct, "PCT")?;
                if !(pct > 0.0 && pct <= 100.0) {
                    return Err(format!("'{s}': PCT must be in (0, 100]"));
                }
                Ok(KeyPattern::Hotset(pct))
            }
            _ => Err(format!("'{s}': {expected}")),
        }
    }
}

impl fmt::Display for KeyPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyPattern::Uniform => f.write_str("uniform"),
            KeyPattern::Zipf(theta) => write!(f, "zipf:{theta}"),
            KeyPattern::Sequential => f.write_str("sequential"),
            KeyPattern::Hotset(pct) => write!(f, "hotset:{pct}"),
        }
    }
}

/// `--value-size N` or `MIN-MAX` (bytes, uniform in the range), Redis's units allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueSize {
    pub min: usize,
    pub max: usize,
}

/// The largest value tierbench writes (Redis's default `proto-max-bulk-len`).
pub const MAX_VALUE_SIZE: u64 = 512 << 20;

impl FromStr for ValueSize {
    type Err = String;

    fn from_str(s: &str) -> Result<ValueSize, String> {
        let one = |text: &str| -> Result<usize, String> {
            let n = parse_size(text)?;
            if n > MAX_VALUE_SIZE {
                return Err(format!("'{text}' is above 512mb"));
            }
            Ok(n as usize)
        };
        let size = match s.split_once('-') {
            Some((min, max)) => ValueSize {
                min: one(min)?,
                max: one(max)?,
            },
            None => {
                let n = one(s)?;
                ValueSize { min: n, max: n }
            }
        };
        if size.min > size.max {
            return Err(format!("'{s}': MIN is above MAX"));
        }
        Ok(size)
    }
}

impl fmt::Display for ValueSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}-{}", self.min, self.max)
        }
    }
}

/// A byte count in Redis's memory units (`4096`, `64kb`, `1gb`, `1g` = 10⁹), as
/// tierd's own options take them.
pub fn parse_size(s: &str) -> Result<u64, String> {
    if s.is_empty() {
        return Err("an empty size".into());
    }
    tier_server::config::memtoull(s.as_bytes())
        .ok_or_else(|| format!("'{s}' is not a size (bytes, or with a unit: 64kb, 1mb, 1gb)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios() {
        let r: Ratio = "1:3".parse().expect("1:3");
        let gets: Vec<bool> = (0..8).map(|n| r.is_get(n)).collect();
        assert_eq!(gets, [true, false, false, false, true, false, false, false]);
        assert!((0..5).all(|n| "1:0".parse::<Ratio>().expect("1:0").is_get(n)));
        assert!((0..5).all(|n| !"0:1".parse::<Ratio>().expect("0:1").is_get(n)));
        for bad in ["", "1", "1:", ":1", "a:b", "0:0", "-1:2", "1:2:3"] {
            assert!(bad.parse::<Ratio>().is_err(), "{bad}");
        }
    }

    #[test]
    fn key_patterns() {
        assert_eq!("uniform".parse(), Ok(KeyPattern::Uniform));
        assert_eq!("sequential".parse(), Ok(KeyPattern::Sequential));
        assert_eq!("zipf:0.99".parse(), Ok(KeyPattern::Zipf(0.99)));
        assert_eq!("hotset:10".parse(), Ok(KeyPattern::Hotset(10.0)));
        for bad in [
            "",
            "zipf",
            "zipf:-1",
            "zipf:0",
            "zipf:x",
            "hotset:0",
            "hotset:101",
            "gauss",
        ] {
            assert!(bad.parse::<KeyPattern>().is_err(), "{bad}");
        }
    }

    #[test]
    fn value_sizes() {
        assert_eq!("100".parse(), Ok(ValueSize { min: 100, max: 100 }));
        assert_eq!("16-4kb".parse(), Ok(ValueSize { min: 16, max: 4096 }));
        for bad in ["", "-", "5-4", "x", "1tb", "1gb"] {
            assert!(bad.parse::<ValueSize>().is_err(), "{bad}");
        }
        assert_eq!(parse_size("1gb"), Ok(1 << 30));
        assert_eq!(parse_size("1g"), Ok(1_000_000_000));
    }
}
