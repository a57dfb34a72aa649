//! What the index holds per key: the value, its expiry, and access metadata for the
//! replacement policy. The value is in RAM (`Value`); the cold tier will add a variant
//! for a value whose bytes live in a segment, keeping the rest of the entry as it is.

use crate::value::Value;
use std::sync::atomic::{AtomicU32, Ordering};

/// One key's entry.
#[derive(Debug)]
pub struct Entry {
    pub value: Value,
    /// Absolute expiry time in Unix milliseconds; `None` for a persistent key.
    pub expire_at: Option<u64>,
    /// Seconds-resolution clock of the last access, for LRU and OBJECT IDLETIME.
    access: AtomicU32,
}

impl Clone for Entry {
    fn clone(&self) -> Self {
        Entry {
            value: self.value.clone(),
            expire_at: self.expire_at,
            access: AtomicU32::new(self.access.load(Ordering::Relaxed)),
        }
    }
}

impl Entry {
    pub fn new(value: Value, expire_at: Option<u64>, now_ms: u64) -> Self {
        Entry {
            value,
            expire_at,
            access: AtomicU32::new(access_clock(now_ms)),
        }
    }

    /// Whether the key has expired at `now_ms` (strictly past its deadline, as Redis).
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at.is_some_and(|at| at < now_ms)
    }

    /// Records an access (a relaxed store, skipped when the clock has not moved).
    pub fn touch(&self, now_ms: u64) {
        let clock = access_clock(now_ms);
        if self.access.load(Ordering::Relaxed) != clock {
            self.access.store(clock, Ordering::Relaxed);
        }
    }

    /// Seconds since the last access.
    pub fn idle_seconds(&self, now_ms: u64) -> u64 {
        u64::from(access_clock(now_ms).wrapping_sub(self.access.load(Ordering::Relaxed)))
    }
}

fn access_clock(now_ms: u64) -> u32 {
    (now_ms / 1000) as u32
}
