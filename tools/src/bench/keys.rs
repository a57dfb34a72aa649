//! Keys and values of a run: `key:%012d` names (those redis-benchmark's
//! `__rand_int__` and `benches/tier.sh` use), the per-client key chooser of each
//! `--key-pattern`, the value lengths, and the value bytes (one random buffer, sliced
//! per length).

use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};
use rand_distr::{Distribution, Zipf};

use super::spec::{KeyPattern, ValueSize};

/// The share of requests `hotset:PCT` sends to its hot keys.
const HOTSET_SHARE: f64 = 0.9;

/// The name of key number `index`.
pub fn key_name(prefix: &str, index: u64, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(format!("{index:012}").as_bytes());
}

/// Picks key numbers in `0..keys` for one client.
pub struct KeyChooser {
    keys: u64,
    kind: Kind,
    rng: SmallRng,
}

enum Kind {
    Uniform,
    /// Ranks from the distribution, scattered by `index = (rank * step) % keys`, with
    /// `step` coprime to `keys` (a bijection of ranks onto keys).
    Zipf {
        dist: Zipf<f64>,
        step: u64,
    },
    Sequential {
        next: u64,
    },
    Hotset {
        hot: u64,
    },
}

impl KeyChooser {
    /// The chooser of client number `client` of `clients` (sequential clients start
    /// spread over the keyspace), seeded from `seed`.
    pub fn new(pattern: KeyPattern, keys: u64, client: u64, clients: u64, seed: u64) -> Self {
        let keys = keys.max(1);
        let kind = match pattern {
            KeyPattern::Uniform => Kind::Uniform,
            KeyPattern::Zipf(theta) => Kind::Zipf {
                dist: Zipf::new(keys, theta)
                    .expect("theta > 0 and keys >= 1, checked by the parser"),
                step: coprime_step(keys),
            },
            KeyPattern::Sequential => Kind::Sequential {
                next: keys / clients.max(1) * client % keys,
            },
            KeyPattern::Hotset(pct) => Kind::Hotset {
                hot: ((keys as f64 * pct / 100.0) as u64).clamp(1, keys),
            },
        };
        KeyChooser {
            keys,
            kind,
            rng: SmallRng::seed_from_u64(seed ^ client.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        }
    }

    /// The next key number.
    pub fn next_key(&mut self) -> u64 {
        match &mut self.kind {
            Kind::Uniform => self.rng.gen_range(0..self.keys),
            Kind::Zipf { dist, step } => {
                // Ranks come as 1.0..=keys.
                let rank = dist.sample(&mut self.rng) as u64 - 1;
                ((u128::from(rank) * u128::from(*step)) % u128::from(self.keys)) as u64
            }
            Kind::Sequential { next } => {
                let key = *next;
                *next = (key + 1) % self.keys;
                key
            }
            Kind::Hotset { hot } => {
                if self.rng.gen_bool(HOTSET_SHARE) {
                    self.rng.gen_range(0..*hot)
                } else {
                    self.rng.gen_range(0..self.keys)
                }
            }
        }
    }
}

/// The value lengths of one client's SETs, uniform over `--value-size`'s range.
pub struct ValueLengths {
    sizes: ValueSize,
    rng: SmallRng,
}

impl ValueLengths {
    pub fn new(sizes: ValueSize, client: u64, seed: u64) -> Self {
        ValueLengths {
            sizes,
            rng: SmallRng::seed_from_u64(!seed ^ client.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        }
    }

    /// The next length.
    pub fn next_len(&mut self) -> usize {
        self.rng.gen_range(self.sizes.min..=self.sizes.max)
    }
}

/// A multiplier coprime to `n`, near n times the golden ratio's fraction, so
/// neighbouring ranks land far apart.
fn coprime_step(n: u64) -> u64 {
    let mut step = ((n as f64 * 0.618_033_988_7) as u64).max(1);
    while gcd(step, n) != 1 {
        step += 1;
    }
    step
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `len` random bytes that every value is a prefix of.
pub fn value_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    SmallRng::seed_from_u64(len as u64).fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pattern: KeyPattern, keys: u64, draws: usize) -> Vec<u64> {
        let mut chooser = KeyChooser::new(pattern, keys, 0, 1, 7);
        let mut counts = vec![0; keys as usize];
        for _ in 0..draws {
            counts[chooser.next_key() as usize] += 1;
        }
        counts
    }

    #[test]
    fn every_pattern_stays_in_the_keyspace_and_has_its_shape() {
        let uniform = counts(KeyPattern::Uniform, 100, 100_000);
        assert!(
            uniform.iter().all(|&c| (700..1300).contains(&c)),
            "{uniform:?}"
        );

        let sequential = counts(KeyPattern::Sequential, 100, 250);
        assert!(sequential[..50].iter().all(|&c| c == 3));
        assert!(sequential[50..].iter().all(|&c| c == 2));

        // hotset:10 sends 90 % + 10 % of 10 % to the first 10 keys.
        let hotset = counts(KeyPattern::Hotset(10.0), 100, 100_000);
        let hot: u64 = hotset[..10].iter().sum();
        assert!((89_000..93_000).contains(&hot), "{hot}");

        // zipf:0.99: the most drawn key takes far more than uniform's share, and the
        // top keys are not neighbours.
        let zipf = counts(KeyPattern::Zipf(0.99), 1000, 100_000);
        let mut ranked: Vec<(u64, usize)> = zipf.iter().copied().zip(0..).collect();
        ranked.sort_unstable_by(|a, b| b.cmp(a));
        assert!(ranked[0].0 > 10_000, "{:?}", &ranked[..5]);
        assert!(ranked[0].1.abs_diff(ranked[1].1) > 1, "{:?}", &ranked[..5]);
        assert_eq!(zipf.iter().sum::<u64>(), 100_000);
    }

    #[test]
    fn value_lengths_cover_the_range() {
        let mut lengths = ValueLengths::new(ValueSize { min: 10, max: 13 }, 3, 1);
        let mut seen = [0; 4];
        for _ in 0..1000 {
            seen[lengths.next_len() - 10] += 1;
        }
        assert!(seen.iter().all(|&n| n > 150), "{seen:?}");
        let mut fixed = ValueLengths::new(ValueSize { min: 7, max: 7 }, 0, 0);
        assert!((0..10).all(|_| fixed.next_len() == 7));
    }

    #[test]
    fn steps_are_coprime() {
        for n in [1, 2, 10, 1000, 1 << 20, 999_983] {
            assert_eq!(gcd(coprime_step(n), n), 1, "{n}");
        }
    }

    #[test]
    fn key_names_are_redis_benchmarks() {
        let mut out = Vec::new();
        key_name("key:", 42, &mut out);
        assert_eq!(out, b"key:000000000042");
    }
}
