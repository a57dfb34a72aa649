//! The evictor: when RAM is over `maxmemory` and the demoter can make no room (every
//! value left in RAM is too small to demote, or the disk budget is full), it deletes
//! keys as `maxmemory-policy` says, as Redis does, counting them in `evicted_keys`.
//! Under `noeviction` it deletes nothing and writes get `-OOM`.
//!
//! - When the disk budget is full, eviction frees a whole segment: the keys whose
//!   values sit in the sealed segment with the fewest live bytes are deleted (under a
//!   `volatile-*` policy, only those with a TTL; the others are moved out) and the
//!   segment is retired. The values demoted together longest ago go together, as in a
//!   log-structured cache; deleting keys one by one across all segments would free
//!   no disk until whole segments emptied.
//! - Otherwise (RAM holds only values too small to demote) keys are sampled (like
//!   Redis's `maxmemory-samples`): LRU uses the entries' access clock; LFU their
//!   logarithmic access counter, decayed by idle time (`lfu-log-factor`,
//!   `lfu-decay-time`, as Redis's); TTL takes the nearest deadline; random is random.

use super::reclaimer::{for_each_window, reclaim};
use super::sample::Sampler;
use super::Shared;
use crate::cold::ColdError;
use crate::keyspace::{collect_garbage, Entry};
use rand::Rng;
use std::sync::atomic::Ordering;

/// Entries sampled per eviction (Redis's default `maxmemory-samples` is 5; the pool
/// Redis keeps across rounds is approximated by sampling more at once).
const SAMPLES: usize = 16;
/// Most keys evicted before the evictor yields to the demoter's loop.
const BATCH: usize = 256;

/// `maxmemory-policy`: which keys the evictor may delete, and which first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaxmemoryPolicy {
    /// `volatile-lru`: evict the least recently used key among those with a TTL.
    VolatileLru,
    /// `volatile-lfu`: evict the least frequently used key among those with a TTL.
    VolatileLfu,
    /// `volatile-random`: evict a random key among those with a TTL.
    VolatileRandom,
    /// `volatile-ttl`: evict the key with the nearest expiry.
    VolatileTtl,
    /// `allkeys-lru`: evict the least recently used key.
    AllkeysLru,
    /// `allkeys-lfu`: evict the least frequently used key.
    AllkeysLfu,
    /// `allkeys-random`: evict a random key.
    AllkeysRandom,
    /// `noeviction`: evict nothing; refuse writes with `-OOM`.
    Noeviction,
}

impl MaxmemoryPolicy {
    /// Every policy, in Redis's order (the order its error message lists them).
    pub const ALL: [MaxmemoryPolicy; 8] = [
        MaxmemoryPolicy::VolatileLru,
        MaxmemoryPolicy::VolatileLfu,
        MaxmemoryPolicy::VolatileRandom,
        MaxmemoryPolicy::VolatileTtl,
        MaxmemoryPolicy::AllkeysLru,
        MaxmemoryPolicy::AllkeysLfu,
        MaxmemoryPolicy::AllkeysRandom,
        MaxmemoryPolicy::Noeviction,
    ];

    /// The Redis name, as CONFIG GET and INFO print it.
    pub fn name(self) -> &'static str {
        match self {
            MaxmemoryPolicy::VolatileLru => "volatile-lru",
            MaxmemoryPolicy::VolatileLfu => "volatile-lfu",
            MaxmemoryPolicy::VolatileRandom => "volatile-random",
            MaxmemoryPolicy::VolatileTtl => "volatile-ttl",
            MaxmemoryPolicy::AllkeysLru => "allkeys-lru",
            MaxmemoryPolicy::AllkeysLfu => "allkeys-lfu",
            MaxmemoryPolicy::AllkeysRandom => "allkeys-random",
            MaxmemoryPolicy::Noeviction => "noeviction",
        }
    }

    /// The policy as the tier's settings store it.
    pub(super) fn to_u8(self) -> u8 {
        Self::ALL.iter().position(|&p| p == self).unwrap_or(7) as u8
    }

    pub(super) fn from_u8(n: u8) -> MaxmemoryPolicy {
        Self::ALL
            .get(usize::from(n))
            .copied()
            .unwrap_or(MaxmemoryPolicy::Noeviction)
    }

    /// Whether only keys with a TTL may be evicted.
    fn volatile_only(self) -> bool {
        matches!(
            self,
            MaxmemoryPolicy::VolatileLru
                | MaxmemoryPolicy::VolatileLfu
                | MaxmemoryPolicy::VolatileRandom
                | MaxmemoryPolicy::VolatileTtl
        )
    }

    /// How much the policy would rather evict `entry` (higher first).
    fn preference(self, entry: &Entry, now: u64) -> u64 {
        match self {
            MaxmemoryPolicy::VolatileTtl => u64::MAX - entry.expire_at().unwrap_or(u64::MAX),
            MaxmemoryPolicy::VolatileRandom | MaxmemoryPolicy::AllkeysRandom => rand::random(),
            _ => self.coldness(entry, now),
        }
    }

    /// Whether the policy goes by access frequency (Redis's MAXMEMORY_FLAG_LFU).
    pub fn is_lfu(self) -> bool {
        matches!(
            self,
            MaxmemoryPolicy::AllkeysLfu | MaxmemoryPolicy::VolatileLfu
        )
    }

    /// How cold `entry` is, the first to leave RAM (demotion) or the keyspace
    /// (eviction) being the coldest: under an LFU policy the least frequently used
    /// (255 less the counter, as Redis's eviction pool ranks), else the least recently
    /// used (idle seconds).
    pub fn coldness(self, entry: &Entry, now: u64) -> u64 {
        if self.is_lfu() {
            255 - u64::from(entry.frequency(now))
        } else {
            entry.idle_seconds(now)
        }
    }
}

/// Deletes keys as the policy says while RAM is over `maxmemory`: a segment's worth
/// when the disk is full, else up to a batch of sampled keys. Returns how many it
/// deleted (0 under `noeviction`, or with nothing it may take).
pub(super) fn evict_batch(shared: &Shared, rng: &mut impl Rng, disk_full: bool) -> usize {
    let policy = MaxmemoryPolicy::from_u8(shared.settings.policy.load(Ordering::Relaxed));
    let max = shared.settings.maxmemory.load(Ordering::Relaxed);
    if policy == MaxmemoryPolicy::Noeviction
        || max == 0
        || crate::memory::used_memory() as u64 <= max
    {
        return 0;
    }
    let evicted = if disk_full {
        evict_segment(shared, policy)
    } else {
        evict_sampled(shared, rng, policy, max)
    };
    shared.keyspace.stats().evicted_keys.add(evicted as u64);
    if evicted > 0 {
        collect_garbage();
    }
    evicted
}

/// Deletes the keys of the sealed segment with the fewest live bytes that the policy
/// may take, then retires the segment. Returns how many keys it deleted.
fn evict_segment(shared: &Shared, policy: MaxmemoryPolicy) -> usize {
    // Every sealed segment is a candidate: its live ratio is at most 1.
    let Some(segment) = shared.store.reclaim_candidate(f64::INFINITY) else {
        return 0;
    };
    let mut evicted = 0;
    let dbs = shared.keyspace.all_dbs();
    let walked = for_each_window(shared, segment, |records| {
        let now = crate::now_ms();
        let guard = crossbeam_epoch::pin();
        for r in records {
            let takes = |e: &Entry| {
                e.cold() == Some(r.loc) && (!policy.volatile_only() || e.expire_at().is_some())
            };
            if dbs
                .iter()
                .any(|db| db.swap_slot(&r.key, now, &guard, takes, |_| None))
            {
                evicted += 1;
            }
        }
        Ok(())
    });
    match walked {
        Ok(()) => {}
        // The reclaimer freed it meanwhile.
        Err(ColdError::SegmentGone(_)) => return evicted,
        Err(e) => {
            tracing::warn!("evicting segment {segment}: {e}");
            return evicted;
        }
    }
    // What the policy left (keys without a TTL) moves out; then the file goes.
    match reclaim(shared, segment) {
        Ok(_) | Err(ColdError::SegmentGone(_)) => {}
        Err(e) => tracing::warn!("freeing evicted segment {segment}: {e}"),
    }
    evicted
}

/// Deletes up to a batch of sampled keys, the policy's choice of each sample.
fn evict_sampled(shared: &Shared, rng: &mut impl Rng, policy: MaxmemoryPolicy, max: u64) -> usize {
    let sampler = Sampler::new(&shared.keyspace);
    let mut evicted = 0;
    // Enough misses in a row (no key the policy may take) end the batch.
    let mut misses = 0;
    // A little below the budget, so the writers that wait get room for a while.
    let target = max - max / 64;
    while evicted < BATCH && misses < 16 && crate::memory::used_memory() as u64 > target {
        let now = crate::now_ms();
        let guard = crossbeam_epoch::pin();
        let mut best: Option<(u64, &[u8])> = None;
        let drawn = sampler.draw(rng, SAMPLES, &guard, |key, entry| {
            if policy.volatile_only() && entry.expire_at().is_none() {
                return;
            }
            let score = policy.preference(entry, now);
            if best.is_none_or(|(top, _)| score > top) {
                best = Some((score, key));
            }
        });
        let (Some(db), Some((_, key))) = (drawn, best) else {
            misses += 1;
            continue;
        };
        if db.swap_slot(key, now, &guard, |_| true, |_| None) {
            evicted += 1;
            misses = 0;
        }
    }
    evicted
}
