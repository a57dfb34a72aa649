//! The keyspace: the numbered databases, the statistics they share, and the background
//! work that keeps them tidy (active expiry, incremental resizing).

pub mod blocking;
mod capture;
mod db;
mod entry;
mod expire;
mod gate;
pub mod log;
#[cfg(test)]
mod model_tests;
mod watch;

pub use blocking::Waiting;
pub use capture::{Capture, CapturedEntry, CapturedValue};
pub use db::{Db, Txn};
pub use entry::{set_lfu_params, Entry, SlotRef, LFU_INIT_VAL};
pub use gate::{ExclusivePass, Gate, SharedPass};
pub use log::CommandLog;
pub use watch::WatchFlag;

use crate::cold::ColdLocation;
use crate::index::LockMode;
use crate::stats::{KeyspaceStats, TierGauges};
use arc_swap::ArcSwap;
use crossbeam_epoch::Guard;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Told of every cold-tier record that no key points at any more (the key was
/// deleted or overwritten, its value came back to RAM or moved to another record), so
/// the cold tier knows how much of each segment is still live.
pub trait DeadRecordSink: Send + Sync {
    fn record_dead(&self, loc: ColdLocation);
}

/// What every database of a keyspace shares: statistics, tier gauges, where dead
/// records are reported and where changes are logged.
pub(crate) struct KeyspaceShared {
    pub(crate) stats: KeyspaceStats,
    pub(crate) gauges: TierGauges,
    dead_records: OnceLock<Arc<dyn DeadRecordSink>>,
    command_log: OnceLock<Arc<dyn CommandLog>>,
    /// Passed by every change (see [`Gate`]).
    pub(crate) gate: Gate,
    /// Watches registered in all databases: none, and a change looks no further.
    pub(crate) watches: std::sync::atomic::AtomicUsize,
    /// Clients blocked on keys.
    pub(crate) blocking: blocking::Blocking,
}

/// What an entry holds in each tier, for keeping the gauges and the cold tier's
/// live bytes in step as entries come and go.
#[derive(Clone, Copy)]
pub(crate) struct Footprint {
    cold: Option<ColdLocation>,
    hot_bytes: usize,
}

impl Footprint {
    pub(crate) fn of(entry: &Entry) -> Footprint {
        Footprint {
            cold: entry.cold(),
            hot_bytes: entry.hot().map_or(0, crate::value::Value::payload_len),
        }
    }
}

impl KeyspaceShared {
    /// The command log, if one is set.
    pub(crate) fn command_log(&self) -> Option<&dyn CommandLog> {
        self.command_log.get().map(|l| &**l)
    }

    /// Logs `args`, a change the keyspace made on database `db` by itself.
    pub(crate) fn log(&self, db: usize, args: &[&[u8]]) {
        if let Some(log) = self.command_log() {
            log.append(db, args);
        }
    }

    /// Accounts for an entry `old` replaced by `new` (None: absent). A record the old
    /// entry pointed at and the new one does not is dead.
    pub(crate) fn changed(&self, old: Option<Footprint>, new: Option<Footprint>) {
        let old_cold = old.and_then(|f| f.cold);
        let new_cold = new.and_then(|f| f.cold);
        if let Some(loc) = old_cold.filter(|&loc| new_cold != Some(loc)) {
            if let Some(sink) = self.dead_records.get() {
                sink.record_dead(loc);
            }
        }
        let cold_delta = i64::from(new_cold.is_some()) - i64::from(old_cold.is_some());
        if cold_delta != 0 {
            self.gauges.cold_keys.add(cold_delta);
        }
        let hot = |f: Option<Footprint>| f.map_or(0, |f| f.hot_bytes as i64);
        let hot_delta = hot(new) - hot(old);
        if hot_delta != 0 {
            self.gauges.hot_value_bytes.add(hot_delta);
        }
    }
}

/// A database as numbered when the reference was taken (see [`Keyspace::db`]).
pub struct DbRef {
    table: arc_swap::Guard<Arc<Box<[Arc<Db>]>>>,
    index: usize,
}

impl std::ops::Deref for DbRef {
    type Target = Db;

    fn deref(&self) -> &Db {
        &self.table[self.index]
    }
}

/// All databases of a node.
pub struct Keyspace {
    /// The databases by number. SWAPDB publishes a new table, so every reader sees
    /// either the old numbering or the new one, never a mix.
    dbs: ArcSwap<Box<[Arc<Db>]>>,
    shared: Arc<KeyspaceShared>,
    /// Serializes SWAPDB so two swaps never interleave.
    swap: Mutex<()>,
    /// Where active expiry resumes: (db, stripe).
    expire_cursor: Mutex<(usize, usize)>,
    /// A capture is under way (one at a time).
    capturing: Arc<AtomicBool>,
}

impl Keyspace {
    /// A keyspace of `databases` empty databases.
    pub fn new(databases: usize) -> Self {
        let shared = Arc::new(KeyspaceShared {
            stats: KeyspaceStats::default(),
            gauges: TierGauges::default(),
            dead_records: OnceLock::new(),
            command_log: OnceLock::new(),
            gate: Gate::default(),
            watches: std::sync::atomic::AtomicUsize::new(0),
            blocking: blocking::Blocking::default(),
        });
        Keyspace {
            dbs: ArcSwap::from_pointee(
                (0..databases)
                    .map(|number| Arc::new(Db::new(shared.clone(), number)))
                    .collect(),
            ),
            shared,
            swap: Mutex::new(()),
            expire_cursor: Mutex::new((0, 0)),
            capturing: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The gate every command passes shared and EXEC exclusively (see [`Gate`]).
    pub fn gate(&self) -> &Gate {
        &self.shared.gate
    }

    /// Number of databases.
    pub fn databases(&self) -> usize {
        self.dbs.load().len()
    }

    /// Database `i` (panics if out of range; callers validate SELECT's argument).
    /// The reference pins the numbering it was taken under, without touching a
    /// reference count that every command on every thread would share.
    pub fn db(&self, i: usize) -> DbRef {
        let table = self.dbs.load();
        assert!(i < table.len(), "database {i} out of range");
        DbRef { table, index: i }
    }

    pub fn stats(&self) -> &KeyspaceStats {
        &self.shared.stats
    }

    /// Keys and bytes by tier.
    pub fn gauges(&self) -> &TierGauges {
        &self.shared.gauges
    }

    /// Registers a client blocked on `keys` of database `db` (see [`blocking`]); the
    /// caller holds the keys' stripes and found them empty.
    pub fn wait_for(&self, db: usize, keys: &[bytes::Bytes]) -> Waiting {
        Waiting::new(self.shared.clone(), db, keys)
    }

    /// Wakes the clients waiting on the keys the commands just run on this thread
    /// gave a value to (see [`blocking`]). Call it once a command is over.
    pub fn wake_ready(&self) {
        self.shared.blocking.wake_ready();
    }

    /// Clients blocked on keys (INFO's `blocked_clients`).
    pub fn waiting_clients(&self) -> usize {
        self.shared.blocking.clients()
    }

    /// Names where dead cold-tier records are reported; set once, before any value is
    /// demoted. Returns false if a sink was set already.
    pub fn set_dead_record_sink(&self, sink: Arc<dyn DeadRecordSink>) -> bool {
        self.shared.dead_records.set(sink).is_ok()
    }

    /// Names where every change is logged (see [`log`]); set once, before any write.
    /// Returns false if a log was set already.
    pub fn set_command_log(&self, log: Arc<dyn CommandLog>) -> bool {
        self.shared.command_log.set(log).is_ok()
    }

    /// Every database as numbered now (for background work that visits them all).
    pub fn all_dbs(&self) -> Arc<Box<[Arc<Db>]>> {
        self.dbs.load_full()
    }

    /// SWAPDB: clients of `a` see the data of `b` and the other way round, at once.
    /// Holds every stripe of both meanwhile (in the order [`Keyspace::with_pair`]
    /// takes them: by address), so no change to either is logged under the numbers
    /// they no longer bear.
    pub fn swap_dbs(&self, a: usize, b: usize) {
        let _one_at_a_time = self.swap.lock();
        let mut table: Vec<Arc<Db>> = self.dbs.load().to_vec();
        let (da, db) = (table[a].clone(), table[b].clone());
        let (first, second) = if Arc::as_ptr(&da) < Arc::as_ptr(&db) {
            (&da, &db)
        } else {
            (&db, &da)
        };
        let _first = first.lock_all();
        let _second = second.lock_all();
        // A watched key that exists in either changes (Redis's
        // touchAllWatchedKeysInDb).
        for (watched, other) in [(&da, &db), (&db, &da)] {
            watched.touch_watched_where(|key| watched.exists_now(key) || other.exists_now(key));
        }
        da.swap_watches(&db);
        table.swap(a, b);
        self.dbs.store(Arc::new(table.into_boxed_slice()));
        da.set_number(b);
        db.set_number(a);
        // Clients wait by number: a key that now holds a value they wait for wakes
        // them, as Redis's scanDatabaseForReadyKeys after a swap.
        if self.shared.blocking.any() {
            for (number, now) in [(a, &db), (b, &da)] {
                for key in self.shared.blocking.keys_of(number) {
                    if now.wakes_waiters_at(&key) {
                        self.shared.blocking.note_ready(number, &key);
                    }
                }
            }
        }
        let (a, b) = (a.to_string(), b.to_string());
        self.shared
            .log(db.number(), &[b"SWAPDB", a.as_bytes(), b.as_bytes()]);
    }

    /// Runs `f` holding the stripes of `a_keys` on database `a` and of `b_keys` on
    /// database `b`, for a command that spans two databases (MOVE, COPY ... DB), `a`
    /// being the client's. Panics if `a == b` or either is out of range; callers
    /// validate. A change to either is logged as the running command on `a`.
    ///
    /// Once locked, it checks that no SWAPDB moved either database since they were
    /// looked up, and locks again if one did. So the command acts on the databases
    /// that bore those numbers at a moment when it already held its keys; a SWAPDB
    /// that completes later only renames them, exactly as if it had run after.
    pub fn with_pair<'g, R>(
        &self,
        (a, a_keys): (usize, &[(&[u8], LockMode)]),
        (b, b_keys): (usize, &[(&[u8], LockMode)]),
        now: u64,
        guard: &'g Guard,
        f: impl for<'a> FnOnce(&mut Txn<'a, 'g>, &mut Txn<'a, 'g>) -> R,
    ) -> R {
        assert_ne!(a, b, "with_pair needs two databases");
        loop {
            let named = self.dbs.load_full();
            let (da, db) = (&named[a], &named[b]);
            let (mut ta, mut tb) = da.lock_pair(a_keys, db, b_keys, now, guard);
            let now_named = self.dbs.load();
            if Arc::ptr_eq(&now_named[a], da) && Arc::ptr_eq(&now_named[b], db) {
                let result = f(&mut ta, &mut tb);
                // The command is logged once, as run on `a` (the client's database,
                // as MOVE and COPY name the other), while both are still held.
                ta.absorb_change(&mut tb);
                drop(ta);
                drop(tb);
                return result;
            }
        }
    }

    /// Starts a point-in-time capture of every database (see [`capture`]): holds every
    /// stripe of every database for an instant, calls `at_start` there (the AOF cuts
    /// its log at that point), and returns the capture, or None if one is under way.
    /// Clients wait only for that instant.
    pub fn begin_capture(&self, at_start: impl FnOnce()) -> Option<Capture> {
        if self.capturing.swap(true, Ordering::AcqRel) {
            return None;
        }
        // Not inside a transaction; no SWAPDB meanwhile; and every database locked
        // in the global order (by address, as `with_pair` and `swap_dbs` take them).
        let _pass = self.shared.gate.shared();
        let _no_swap = self.swap.lock();
        let dbs = self.dbs.load_full();
        let mut order: Vec<&Arc<Db>> = dbs.iter().collect();
        order.sort_by_key(|db| Arc::as_ptr(db));
        let held: Vec<_> = order.iter().map(|db| db.lock_all()).collect();
        let capture = Capture::install(&dbs, now_ms(), self.capturing.clone());
        at_start();
        drop(held);
        Some(capture)
    }

    /// FLUSHALL.
    pub fn flush_all(&self) {
        for db in self.dbs.load().iter() {
            db.flush();
        }
    }

    /// Total number of keys over all databases.
    pub fn total_keys(&self) -> usize {
        self.dbs.load().iter().map(|d| d.len()).sum()
    }

    /// Background housekeeping for one cron tick: advances resizes and, if `expire`
    /// (not while a log is replayed), deletes due keys, spending at most `budget` of
    /// time. Returns the keys expired.
    pub fn cron(&self, now: u64, budget: Duration, expire: bool) -> u64 {
        const REHASH_BUCKETS: usize = 16 * 1024;
        let deadline = Instant::now() + budget;
        let dbs = self.dbs.load_full();
        for db in dbs.iter() {
            db.rehash_step(REHASH_BUCKETS);
        }
        // Nodes a resize copied, FLUSHDB's tables, entries the tier replaced: freed
        // here even when no client is around to pin and collect.
        collect_garbage();
        if !expire {
            return 0;
        }
        let mut cursor = self.expire_cursor.lock();
        let mut expired = 0;
        for _ in 0..dbs.len() {
            let (db_i, stripe) = *cursor;
            let db = &dbs[db_i % dbs.len()];
            if db.volatile_len() > 0 {
                let (n, resume) = db.expire_due(stripe, now, deadline);
                expired += n;
                if Instant::now() >= deadline {
                    *cursor = (db_i, resume);
                    return expired;
                }
            }
            *cursor = ((db_i + 1) % dbs.len(), 0);
        }
        expired
    }
}

/// Frees what the index retired and no reader can reach any more: pushes this
/// thread's retired entries to crossbeam-epoch's collector and lets it collect, in
/// rounds (each frees a bounded number, and the epoch must advance twice before an
/// entry may go) until a round frees nothing more this thread can see, at most
/// [`GARBAGE_ROUNDS`]. Retired memory counts in `used_memory` until it is freed, so
/// background work that retires much (resizes, demotion, FLUSHDB) calls this.
pub fn collect_garbage() {
    let mut last = crate::memory::used_memory();
    let mut idle = 0;
    for _ in 0..GARBAGE_ROUNDS {
        crossbeam_epoch::pin().flush();
        let now = crate::memory::used_memory();
        // Two epochs must pass before anything frees: a few idle rounds are normal.
        idle = if now < last { 0 } else { idle + 1 };
        if idle > 4 {
            break;
        }
        last = now;
    }
}

/// Most collection rounds in one [`collect_garbage`] (each pops up to 8 bags of 64
/// retired entries).
const GARBAGE_ROUNDS: usize = 4096;

/// The current time in Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;
    use bytes::Bytes;

    fn put(db: &Db, key: &[u8], now: u64) {
        let guard = crossbeam_epoch::pin();
        db.lock_key(key, now, &guard)
            .set(key, Value::Str(Bytes::from_static(b"v")), None);
    }

    #[test]
    fn peek_counts_but_does_not_touch() {
        let ks = Keyspace::new(1);
        let db = ks.db(0);
        put(&db, b"k", 0);
        let guard = crossbeam_epoch::pin();
        let e = db.lookup_peek(b"k", 5_000, &guard).expect("present");
        assert_eq!(e.idle_seconds(5_000), 5);
        assert!(db.lookup_peek(b"missing", 5_000, &guard).is_none());
        assert_eq!(ks.stats().keyspace_hits.get(), 1);
        assert_eq!(ks.stats().keyspace_misses.get(), 1);
        let mut txn = db.lock(&[(b"k".as_slice(), LockMode::Shared)], 6_000, &guard);
        assert_eq!(
            txn.lookup_peek(b"k").map(|e| e.idle_seconds(6_000)),
            Some(6)
        );
        assert_eq!(
            txn.lookup_read(b"k").map(|e| e.idle_seconds(6_000)),
            Some(0)
        );
        assert_eq!(ks.stats().keyspace_hits.get(), 3);
    }

    /// Two databases' keys locked together from both sides, while SWAPDB keeps
    /// exchanging them: no deadlock, and every move lands whole.
    #[test]
    fn pairs_lock_in_one_order_across_swaps() {
        const KEYS: usize = 64;
        let ks = Arc::new(Keyspace::new(2));
        for i in 0..KEYS {
            put(&ks.db(0), format!("k{i}").as_bytes(), 0);
        }
        let movers: Vec<_> = (0..4)
            .map(|t| {
                let ks = ks.clone();
                std::thread::spawn(move || {
                    let guard = crossbeam_epoch::pin();
                    for round in 0..2_000 {
                        let key = format!("k{}", (round * 7 + t) % KEYS);
                        let key = key.as_bytes();
                        let (from, to) = if (round + t) % 2 == 0 { (0, 1) } else { (1, 0) };
                        let x = [(key, LockMode::Exclusive)];
                        ks.with_pair((from, &x), (to, &x), 0, &guard, |src, dst| {
                            if dst.get(key).is_none() {
                                if let Some(e) = src.get(key) {
                                    dst.put(key, e.clone());
                                    src.remove(key);
                                }
                            }
                        });
                    }
                })
            })
            .collect();
        let swapper = {
            let ks = ks.clone();
            std::thread::spawn(move || {
                for _ in 0..2_000 {
                    ks.swap_dbs(0, 1);
                }
            })
        };
        for t in movers {
            t.join().expect("mover");
        }
        swapper.join().expect("swapper");
        assert_eq!(ks.total_keys(), KEYS);
    }
}
