//! The TTL index: per lock stripe, the keys with an expiry ordered by deadline. It is
//! changed only under the stripe's exclusive lock, together with the key itself, so
//! it never disagrees with the index. Active expiry pops due keys from it, which is
//! exact where Redis samples: a key past its deadline is freed on the next cycle.

use std::collections::BTreeSet;

/// Keys with a deadline in one stripe of one database.
#[derive(Default)]
pub struct StripeExpires {
    by_deadline: BTreeSet<(u64, Box<[u8]>)>,
}

impl StripeExpires {
    pub fn insert(&mut self, at: u64, key: &[u8]) {
        self.by_deadline.insert((at, key.into()));
    }

    pub fn remove(&mut self, at: u64, key: &[u8]) {
        // BTreeSet lookups need the owned tuple type; the key copy is short-lived.
        self.by_deadline.remove(&(at, Box::<[u8]>::from(key)));
    }

    /// Takes the first key whose deadline is before `now_ms`.
    pub fn pop_due(&mut self, now_ms: u64) -> Option<(u64, Box<[u8]>)> {
        match self.by_deadline.first() {
            Some((at, _)) if *at < now_ms => self.by_deadline.pop_first(),
            _ => None,
        }
    }

    pub fn clear(&mut self) {
        self.by_deadline.clear();
    }
}
