//! Counters that many threads bump on every command without fighting over one cache
//! line: each thread adds to its own shard, and a read sums the shards.

use crossbeam_utils::CachePadded;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

const SHARDS: usize = 16;

/// A monotonically increasing (or reset) counter, sharded by thread.
pub struct Counter {
    shards: [CachePadded<AtomicU64>; SHARDS],
}

impl Default for Counter {
    fn default() -> Self {
        Counter {
            shards: std::array::from_fn(|_| CachePadded::new(AtomicU64::new(0))),
        }
    }
}

fn shard_of_this_thread() -> usize {
    use std::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    SHARD.with(|s| {
        if s.get() == usize::MAX {
            s.set(NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS);
        }
        s.get()
    })
}

impl Counter {
    pub fn add(&self, n: u64) {
        self.shards[shard_of_this_thread()].fetch_add(n, Ordering::Relaxed);
    }

    pub fn incr(&self) {
        self.add(1);
    }

    pub fn get(&self) -> u64 {
        // Wrapping, so a [`Gauge`]'s negative steps (added as two's complement) cancel.
        self.shards
            .iter()
            .fold(0u64, |sum, s| sum.wrapping_add(s.load(Ordering::Relaxed)))
    }

    pub fn reset(&self) {
        for s in &self.shards {
            s.store(0, Ordering::Relaxed);
        }
    }
}

/// A figure that goes up and down (keys in the cold tier, bytes of values in RAM),
/// sharded like [`Counter`]: a thread's shard may go below zero, the sum never does.
#[derive(Default)]
pub struct Gauge {
    steps: Counter,
}

impl Gauge {
    pub fn add(&self, delta: i64) {
        self.steps.add(delta as u64);
    }

    pub fn get(&self) -> u64 {
        (self.steps.get() as i64).max(0) as u64
    }

    pub fn reset(&self) {
        self.steps.reset();
    }
}

/// What the keyspace holds, by tier: kept in step by every write.
#[derive(Default)]
pub struct TierGauges {
    /// Keys whose value is in the cold tier.
    pub cold_keys: Gauge,
    /// Payload bytes of the values in RAM.
    pub hot_value_bytes: Gauge,
}

/// Keyspace statistics reported by INFO, with Redis's names.
#[derive(Default)]
pub struct KeyspaceStats {
    pub keyspace_hits: Counter,
    pub keyspace_misses: Counter,
    pub expired_keys: Counter,
    pub evicted_keys: Counter,
}

impl KeyspaceStats {
    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        self.keyspace_hits.reset();
        self.keyspace_misses.reset();
        self.expired_keys.reset();
        self.evicted_keys.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_across_threads() {
        let c = Counter::default();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| (0..1000).for_each(|_| c.incr()));
            }
        });
        assert_eq!(c.get(), 4000);
        c.reset();
        assert_eq!(c.get(), 0);
    }

    #[test]
    fn gauge_steps_cancel_across_threads() {
        let g = Gauge::default();
        std::thread::scope(|s| {
            s.spawn(|| (0..1000).for_each(|_| g.add(3)));
        });
        std::thread::scope(|s| {
            s.spawn(|| (0..1000).for_each(|_| g.add(-2)));
        });
        assert_eq!(g.get(), 1000);
    }
}
