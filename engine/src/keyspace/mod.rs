//! The keyspace: the numbered databases, the statistics they share, and the background
//! work that keeps them tidy (active expiry, incremental resizing).

mod db;
mod entry;
mod expire;

pub use db::{Db, Txn};
pub use entry::Entry;

use crate::stats::KeyspaceStats;
use arc_swap::ArcSwap;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// All databases of a node.
pub struct Keyspace {
    dbs: Box<[ArcSwap<Db>]>,
    stats: Arc<KeyspaceStats>,
    /// Serializes SWAPDB so two swaps never interleave.
    swap: Mutex<()>,
    /// Where active expiry resumes: (db, stripe).
    expire_cursor: Mutex<(usize, usize)>,
}

impl Keyspace {
    /// A keyspace of `databases` empty databases.
    pub fn new(databases: usize) -> Self {
        let stats = Arc::new(KeyspaceStats::default());
        Keyspace {
            dbs: (0..databases)
                .map(|_| ArcSwap::from_pointee(Db::new(stats.clone())))
                .collect(),
            stats,
            swap: Mutex::new(()),
            expire_cursor: Mutex::new((0, 0)),
        }
    }

    /// Number of databases.
    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    /// Database `i` (panics if out of range; callers validate SELECT's argument).
    pub fn db(&self, i: usize) -> Arc<Db> {
        self.dbs[i].load_full()
    }

    pub fn stats(&self) -> &KeyspaceStats {
        &self.stats
    }

    /// SWAPDB: clients of `a` see the data of `b` and the other way round, at once.
    pub fn swap_dbs(&self, a: usize, b: usize) {
        let _one_at_a_time = self.swap.lock();
        let da = self.dbs[a].load_full();
        let db = self.dbs[b].swap(da);
        self.dbs[a].store(db);
    }

    /// FLUSHALL.
    pub fn flush_all(&self) {
        for db in self.dbs.iter() {
            db.load().flush();
        }
    }

    /// Total number of keys over all databases.
    pub fn total_keys(&self) -> usize {
        self.dbs.iter().map(|d| d.load().len()).sum()
    }

    /// Background housekeeping for one cron tick: deletes due keys and advances
    /// resizes, spending at most `budget` of time. Returns the keys expired.
    pub fn cron(&self, now: u64, budget: Duration) -> u64 {
        const REHASH_BUCKETS: usize = 1024;
        let deadline = Instant::now() + budget;
        for db in self.dbs.iter() {
            db.load().rehash_step(REHASH_BUCKETS);
        }
        let mut cursor = self.expire_cursor.lock();
        let mut expired = 0;
        for _ in 0..self.dbs.len() {
            let (db_i, stripe) = *cursor;
            let db = self.dbs[db_i % self.dbs.len()].load();
            if db.volatile_len() > 0 {
                let (n, resume) = db.expire_due(stripe, now, deadline);
                expired += n;
                if Instant::now() >= deadline {
                    *cursor = (db_i, resume);
                    return expired;
                }
            }
            *cursor = ((db_i + 1) % self.dbs.len(), 0);
        }
        expired
    }
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
