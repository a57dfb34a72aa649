//! One numbered database: the index of its keys, their TTLs, and the two ways to touch
//! them. [`Db::get`] reads without locks; [`Db::lock`] takes the stripes of the keys a
//! command names and returns a [`Txn`] through which all writes go, so a key's value,
//! its TTL and the TTL index change together and atomically, and the change is logged
//! (see [`log`](super::log)) before the stripes are released.

use super::capture::DbCapture;
use super::entry::Entry;
use super::expire::StripeExpires;
use super::watch::{WatchFlag, Watches};
use super::{Footprint, KeyspaceShared};
use crate::index::{Index, LockMode, Locks, Node, STRIPES};
use crate::stats::KeyspaceStats;
use crate::value::Value;
use arc_swap::ArcSwapOption;
use crossbeam_epoch::Guard;
use smallvec::SmallVec;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// A database of the keyspace (Redis's `SELECT n`).
pub struct Db {
    index: Index<Entry, StripeExpires>,
    volatile: AtomicUsize,
    /// The number clients SELECT it by; SWAPDB changes it while it holds every
    /// stripe.
    number: AtomicUsize,
    /// The capture under way, if any: writers copy a stripe aside for it before they
    /// change it (see [`capture`](super::capture)).
    capture: ArcSwapOption<DbCapture>,
    /// The keys clients WATCH here.
    watches: Watches,
    shared: Arc<KeyspaceShared>,
}

/// The stripes a command holds on one database, and its view of time.
pub struct Txn<'a, 'g> {
    db: &'a Db,
    locks: Locks<'a, Entry, StripeExpires>,
    guard: &'g Guard,
    now: u64,
    /// Expired keys met under a shared stripe: deleted once the stripes are released.
    expired_unlocked: SmallVec<[&'g [u8]; 1]>,
    /// A key was written or deleted through this transaction: the running command is
    /// logged when it ends.
    changed: bool,
}

impl Db {
    pub(crate) fn new(shared: Arc<KeyspaceShared>, number: usize) -> Self {
        Db {
            index: Index::new(),
            volatile: AtomicUsize::new(0),
            number: AtomicUsize::new(number),
            capture: ArcSwapOption::empty(),
            watches: Watches::default(),
            shared,
        }
    }

    /// WATCH: `flag` is raised once `key` changes. Returns whether `flag` did not
    /// watch it already.
    pub fn watch(&self, key: &[u8], flag: &WatchFlag) -> bool {
        let added = self.watches.add(key, flag);
        if added {
            self.shared.watches.fetch_add(1, Ordering::AcqRel);
        }
        added
    }

    /// Undoes [`Db::watch`].
    pub fn unwatch(&self, key: &[u8], flag: &WatchFlag) {
        if self.watches.remove(key, flag) {
            self.shared.watches.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Raises the flags of the watchers of every watched key for which `exists`
    /// (FLUSHDB, SWAPDB).
    pub(crate) fn touch_watched_where(&self, exists: impl FnMut(&[u8]) -> bool) {
        if self.shared.watches.load(Ordering::Acquire) > 0 {
            self.watches.touch_where(exists);
        }
    }

    /// Exchanges this database's watches with `other`'s (SWAPDB).
    pub(crate) fn swap_watches(&self, other: &Db) {
        self.watches.swap(&other.watches);
    }

    /// Whether `key` holds a live value clients may wait for (see
    /// [`super::blocking`]), for a caller holding its stripe.
    pub(crate) fn wakes_waiters_at(&self, key: &[u8]) -> bool {
        let guard = crossbeam_epoch::pin();
        self.index
            .get(key, self.index.hash(key), &guard)
            .map(|node| node.value())
            .is_some_and(|e| {
                !e.is_expired(crate::now_ms()) && super::blocking::wakes_waiters(e.record_type())
            })
    }

    /// Whether `key` exists and has not expired, for a caller holding its stripe.
    pub(crate) fn exists_now(&self, key: &[u8]) -> bool {
        let guard = crossbeam_epoch::pin();
        self.index
            .get(key, self.index.hash(key), &guard)
            .is_some_and(|node| !node.value().is_expired(crate::now_ms()))
    }

    /// Starts or ends this database's side of a capture; the caller holds every
    /// stripe, or the capture has read them all.
    pub(crate) fn set_capture(&self, capture: Option<Arc<DbCapture>>) {
        self.capture.store(capture);
    }

    /// Takes one stripe in `mode`.
    pub(crate) fn lock_stripe(
        &self,
        stripe: usize,
        mode: LockMode,
    ) -> Locks<'_, Entry, StripeExpires> {
        // A hash's stripe is its low bits: the stripe number is such a hash.
        self.index.lock(&[(stripe as u64, mode)])
    }

    /// Lets a capture under way copy the stripes `locks` holds exclusively before
    /// they change whole.
    fn before_stripe_change(&self, locks: &Locks<'_, Entry, StripeExpires>, guard: &Guard) {
        if let Some(capture) = self.capture.load().as_ref() {
            capture.before_stripe_change(self, locks, guard);
        }
    }

    /// Before `key` changes (its stripe held exclusively): raises the flags of its
    /// watchers, and lets a capture under way keep its entry as it is.
    fn before_change(&self, key: &[u8], hash: u64, guard: &Guard) {
        if self.shared.watches.load(Ordering::Acquire) > 0 {
            self.watches.touch(key);
        }
        if let Some(capture) = self.capture.load().as_ref() {
            let current = self.index.get(key, hash, guard).map(|n| n.value());
            let stripe = Index::<Entry, StripeExpires>::stripe_of(hash);
            capture.before_change(self, stripe, key, current);
        }
    }

    /// The number clients SELECT this database by now.
    pub fn number(&self) -> usize {
        self.number.load(Ordering::Relaxed)
    }

    /// Renumbers the database; the caller holds every stripe ([`Db::lock_all`]).
    pub(crate) fn set_number(&self, number: usize) {
        self.number.store(number, Ordering::Relaxed);
    }

    /// Takes every stripe exclusively.
    pub(crate) fn lock_all(&self) -> Locks<'_, Entry, StripeExpires> {
        self.index.lock_all()
    }

    fn stats(&self) -> &KeyspaceStats {
        &self.shared.stats
    }

    /// Number of keys (expired keys not yet reclaimed included, as Redis's DBSIZE).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The index's hash of `key` (cold-tier records carry it).
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.index.hash(key)
    }

    /// Number of keys with a TTL.
    pub fn volatile_len(&self) -> usize {
        self.volatile.load(Ordering::Relaxed)
    }

    /// The live entry of `key`, read without locks. An expired key reads as absent and
    /// is deleted on the spot. Must not be called while holding a [`Txn`] on this db.
    pub fn get<'g>(&self, key: &[u8], now: u64, guard: &'g Guard) -> Option<&'g Entry> {
        let hash = self.index.hash(key);
        let entry = self.index.get(key, hash, guard)?.value();
        if entry.is_expired(now) {
            self.lock_hashed(&[(hash, LockMode::Exclusive)], now, guard)
                .get(key);
            return None;
        }
        Some(entry)
    }

    /// The entry of `key` as stored, expired or not, without counting, touching or
    /// deleting anything: for background work (the tier) that must not change what
    /// clients see.
    pub fn find<'g>(&self, key: &[u8], guard: &'g Guard) -> Option<&'g Entry> {
        let hash = self.index.hash(key);
        Some(self.index.get(key, hash, guard)?.value())
    }

    /// [`Db::get`] for a command that reads the key: counts a keyspace hit or miss and
    /// records the access.
    pub fn lookup_read<'g>(&self, key: &[u8], now: u64, guard: &'g Guard) -> Option<&'g Entry> {
        let found = self.lookup_peek(key, now, guard);
        if let Some(e) = found {
            e.touch(now);
        }
        found
    }

    /// [`Db::get`] for a command that inspects the key without using its value (TYPE,
    /// TTL, OBJECT: Redis's `LOOKUP_NOTOUCH`): counts a keyspace hit or miss but leaves
    /// the access time alone.
    pub fn lookup_peek<'g>(&self, key: &[u8], now: u64, guard: &'g Guard) -> Option<&'g Entry> {
        let found = self.get(key, now, guard);
        self.count_lookup(found.is_some());
        found
    }

    fn count_lookup(&self, hit: bool) {
        if hit {
            self.stats().keyspace_hits.incr();
        } else {
            self.stats().keyspace_misses.incr();
        }
    }

    /// Takes the stripes of `keys` in the given modes (ascending stripe order).
    pub fn lock<'a, 'g>(
        &'a self,
        keys: &[(&[u8], LockMode)],
        now: u64,
        guard: &'g Guard,
    ) -> Txn<'a, 'g> {
        let hashed: SmallVec<[(u64, LockMode); 4]> =
            keys.iter().map(|&(k, m)| (self.index.hash(k), m)).collect();
        self.lock_hashed(&hashed, now, guard)
    }

    /// Takes one key's stripe exclusively.
    pub fn lock_key<'a, 'g>(&'a self, key: &[u8], now: u64, guard: &'g Guard) -> Txn<'a, 'g> {
        self.lock_hashed(&[(self.index.hash(key), LockMode::Exclusive)], now, guard)
    }

    /// Takes `keys` on this database and `other_keys` on `other`, a different database,
    /// for a command that spans two (MOVE, COPY ... DB). The two are always locked in one
    /// global order, by address: their indexes would not do, because a SWAPDB between
    /// two such commands can give them opposite views of which database is "db 0".
    pub(crate) fn lock_pair<'a, 'g>(
        &'a self,
        keys: &[(&[u8], LockMode)],
        other: &'a Db,
        other_keys: &[(&[u8], LockMode)],
        now: u64,
        guard: &'g Guard,
    ) -> (Txn<'a, 'g>, Txn<'a, 'g>) {
        debug_assert!(!std::ptr::eq(self, other), "lock_pair needs two databases");
        if (self as *const Db) < (other as *const Db) {
            let mine = self.lock(keys, now, guard);
            (mine, other.lock(other_keys, now, guard))
        } else {
            let theirs = other.lock(other_keys, now, guard);
            (self.lock(keys, now, guard), theirs)
        }
    }

    fn lock_hashed<'a, 'g>(
        &'a self,
        hashed: &[(u64, LockMode)],
        now: u64,
        guard: &'g Guard,
    ) -> Txn<'a, 'g> {
        let locks = self.index.lock(hashed);
        Txn {
            db: self,
            locks,
            guard,
            now,
            expired_unlocked: SmallVec::new(),
            changed: false,
        }
    }

    /// One step of a SCAN: calls `visit` with each live key under `cursor` and returns
    /// the next cursor (0 at the end). Must not be called while holding a [`Txn`].
    pub fn scan<'g>(
        &self,
        cursor: u64,
        now: u64,
        guard: &'g Guard,
        mut visit: impl FnMut(&'g [u8], &'g Entry),
    ) -> u64 {
        self.index.scan(cursor, guard, |node: &'g Node<Entry>| {
            if !node.value().is_expired(now) {
                visit(node.key(), node.value());
            }
        })
    }

    /// A live key picked at random, or None when the db is empty (or every key tried
    /// had expired; those are deleted on the way, as RANDOMKEY does in Redis).
    pub fn random_key<'g>(&self, now: u64, guard: &'g Guard) -> Option<&'g [u8]> {
        const TRIES: usize = 100;
        let mut rng = rand::thread_rng();
        for _ in 0..TRIES {
            let node = self.index.random(&mut rng, guard)?;
            if !node.value().is_expired(now) {
                return Some(node.key());
            }
            self.lock_key(node.key(), now, guard).get(node.key());
        }
        None
    }

    /// A key picked at random with its entry, expired or not, for the demoter's
    /// sampling; None when the db is empty.
    pub fn random_entry<'g>(
        &self,
        rng: &mut impl rand::Rng,
        guard: &'g Guard,
    ) -> Option<(&'g [u8], &'g Entry)> {
        let node = self.index.random(rng, guard)?;
        Some((node.key(), node.value()))
    }

    /// The cold tier's compare-and-swap: if the live entry of `key` still `holds` what
    /// the caller saw (the same value allocation in RAM, or the same record), replaces
    /// it with `replace(entry)` (or deletes the key if that is None) and returns true;
    /// otherwise (the key changed, went away or expired meanwhile) changes nothing and
    /// returns false. A write never loses to a demotion, a promotion, a move of the
    /// record or an eviction.
    pub fn swap_slot(
        &self,
        key: &[u8],
        now: u64,
        guard: &Guard,
        holds: impl FnOnce(&Entry) -> bool,
        replace: impl FnOnce(&Entry) -> Option<Entry>,
    ) -> bool {
        let _pass = self.shared.gate.shared();
        let mut txn = self.lock_key(key, now, guard);
        let hash = self.index.hash(key);
        match txn.get_hashed(key, hash) {
            Some(entry) if holds(entry) => {
                // Where a value lives is no change to the data: only a deletion (an
                // eviction) is logged.
                match replace(entry) {
                    Some(fresh) => txn.store(key, fresh),
                    None => {
                        txn.unlink(key, hash, entry);
                        self.shared.log(self.number(), &[b"DEL", key]);
                    }
                }
                true
            }
            _ => false,
        }
    }

    /// Deletes every key.
    pub fn flush(&self) {
        let guard = crossbeam_epoch::pin();
        let mut all = self.index.lock_all();
        self.before_stripe_change(&all, &guard);
        self.touch_watched_where(|key| self.exists_now(key));
        all.for_each(&guard, |node| {
            self.shared.changed(Some(Footprint::of(node.value())), None);
        });
        all.clear(&guard);
        for (_, expires) in all.states_mut() {
            expires.clear();
        }
        self.volatile.store(0, Ordering::Relaxed);
        self.shared.log(self.number(), &[b"FLUSHDB"]);
        drop(all);
        // The old tables wait in this thread's bag of retired things, which a thread
        // that retires nothing more would never hand over: hand it over now.
        guard.flush();
    }

    /// Deletes keys whose deadline has passed, visiting stripes from `from_stripe` on
    /// until `deadline`, skipping stripes a client holds. Returns the number of keys
    /// deleted and the stripe to resume from.
    pub(crate) fn expire_due(
        &self,
        from_stripe: usize,
        now: u64,
        deadline: Instant,
    ) -> (u64, usize) {
        const KEYS_PER_STRIPE: usize = 64;
        let _pass = self.shared.gate.shared();
        let guard = crossbeam_epoch::pin();
        let mut expired = 0;
        for step in 0..STRIPES {
            let stripe = (from_stripe + step) % STRIPES;
            if step % 16 == 0 && Instant::now() >= deadline {
                return (expired, stripe);
            }
            let Some(mut locks) = self.index.try_lock_stripe(stripe) else {
                continue;
            };
            for _ in 0..KEYS_PER_STRIPE {
                let Some((_, key)) = locks.states_mut().next().and_then(|(_, e)| e.pop_due(now))
                else {
                    break;
                };
                let hash = self.index.hash(&key);
                self.before_change(&key, hash, &guard);
                if let Some(node) = self.index.get(&key, hash, &guard) {
                    self.shared.changed(Some(Footprint::of(node.value())), None);
                }
                locks.remove(&key, hash, &guard);
                self.volatile.fetch_sub(1, Ordering::Relaxed);
                self.shared.log(self.number(), &[b"DEL", &key]);
                expired += 1;
            }
        }
        self.stats().expired_keys.add(expired);
        (expired, from_stripe)
    }

    /// Advances an ongoing resize of the index by up to `budget` buckets.
    pub(crate) fn rehash_step(&self, budget: usize) -> bool {
        self.index.rehash_step(budget)
    }
}

impl<'a, 'g> Txn<'a, 'g> {
    /// The time this command runs at (Unix ms).
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Takes over `other`'s duty to log the running command (a command that spans
    /// two databases is logged once, from the transaction of the client's).
    pub(crate) fn absorb_change(&mut self, other: &mut Txn<'_, '_>) {
        self.changed |= std::mem::take(&mut other.changed);
    }

    /// The live entry of `key`, whose stripe this transaction holds. An expired key is
    /// deleted now (if held exclusively) and reads as absent.
    pub fn get(&mut self, key: &[u8]) -> Option<&'g Entry> {
        let hash = self.db.index.hash(key);
        self.get_hashed(key, hash)
    }

    /// [`Txn::get`] for a key whose hash the caller already has.
    fn get_hashed(&mut self, key: &[u8], hash: u64) -> Option<&'g Entry> {
        let node = self.db.index.get(key, hash, self.guard)?;
        let entry = node.value();
        if !entry.is_expired(self.now) {
            return Some(entry);
        }
        if self.locks.holds_exclusive(hash) {
            self.unlink(key, hash, entry);
            self.db.stats().expired_keys.incr();
            self.db.shared.log(self.db.number(), &[b"DEL", key]);
        } else {
            self.expired_unlocked.push(node.key());
        }
        None
    }

    /// [`Txn::get`] that counts a keyspace hit or miss, for commands that read the key.
    pub fn lookup_read(&mut self, key: &[u8]) -> Option<&'g Entry> {
        let found = self.lookup_peek(key);
        if let Some(e) = found {
            e.touch(self.now);
        }
        found
    }

    /// [`Txn::get`] that counts a keyspace hit or miss without recording an access (see
    /// [`Db::lookup_peek`]), e.g. for EXISTS.
    pub fn lookup_peek(&mut self, key: &[u8]) -> Option<&'g Entry> {
        let found = self.get(key);
        self.db.count_lookup(found.is_some());
        found
    }

    /// Sets `key` to `value` with the given deadline (None: persistent).
    pub fn set(&mut self, key: &[u8], value: Value, expire_at: Option<u64>) {
        let entry = Entry::new(value, expire_at, self.now);
        let hash = self.db.index.hash(key);
        if let Some(old) = self.db.index.get(key, hash, self.guard) {
            entry.inherit_frequency(old.value());
        }
        self.put(key, entry);
    }

    /// Sets `key` to `value`, keeping the TTL the key has (if it exists).
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value) {
        let expire_at = self.get(key).and_then(Entry::expire_at);
        self.set(key, value, expire_at);
    }

    /// Changes the deadline of an existing live key. Returns false if there is no key.
    pub fn set_expire(&mut self, key: &[u8], expire_at: Option<u64>) -> bool {
        let Some(entry) = self.get(key) else {
            return false;
        };
        let fresh = entry.with_expire_at(expire_at);
        self.put(key, fresh);
        true
    }

    /// Stores `entry` under `key`, keeping the TTL index in step.
    pub fn put(&mut self, key: &[u8], entry: Entry) {
        self.changed = true;
        self.db
            .before_change(key, self.db.index.hash(key), self.guard);
        if super::blocking::wakes_waiters(entry.record_type()) {
            self.db.shared.blocking.note_ready(self.db.number(), key);
        }
        self.store(key, entry);
    }

    /// [`Txn::put`] of an entry that holds the same data (the tier moved the value),
    /// which is not logged.
    fn store(&mut self, key: &[u8], entry: Entry) {
        let hash = self.db.index.hash(key);
        let new_at = entry.expire_at();
        let footprint = Footprint::of(&entry);
        let old = self.locks.put(key, hash, entry, self.guard);
        self.db
            .shared
            .changed(old.map(Footprint::of), Some(footprint));
        if old.is_some_and(|e| e.is_expired(self.now)) {
            // Overwriting a key that had expired: Redis deletes it first, and counts it.
            self.db.stats().expired_keys.incr();
        }
        let old_at = old.and_then(Entry::expire_at);
        if old_at != new_at {
            let expires = self.locks.state_mut(hash);
            if let Some(at) = old_at {
                expires.remove(at, key);
            }
            if let Some(at) = new_at {
                expires.insert(at, key);
            }
            match (old_at, new_at) {
                (None, Some(_)) => self.db.volatile.fetch_add(1, Ordering::Relaxed),
                (Some(_), None) => self.db.volatile.fetch_sub(1, Ordering::Relaxed),
                _ => 0,
            };
        }
    }

    /// Gives `key` the value `value`, which holds the same data in another encoding
    /// (SORT makes a listpack sorted set a skiplist, as Redis does): not a change to
    /// log or to wake watchers with; the TTL and access data stay. Returns false if
    /// there is no key.
    pub fn reencode(&mut self, key: &[u8], value: Value) -> bool {
        let Some(entry) = self.get(key) else {
            return false;
        };
        let fresh = entry.with_hot(value);
        self.store(key, fresh);
        true
    }

    /// Deletes `key`. Returns whether a live key was deleted.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        let hash = self.db.index.hash(key);
        let Some(entry) = self.get_hashed(key, hash) else {
            return false;
        };
        self.unlink(key, hash, entry);
        self.changed = true;
        true
    }

    fn unlink(&mut self, key: &[u8], hash: u64, entry: &Entry) {
        self.db.before_change(key, hash, self.guard);
        self.db.shared.changed(Some(Footprint::of(entry)), None);
        if let Some(at) = entry.expire_at() {
            self.locks.state_mut(hash).remove(at, key);
            self.db.volatile.fetch_sub(1, Ordering::Relaxed);
        }
        self.locks.remove(key, hash, self.guard);
    }
}

impl Drop for Txn<'_, '_> {
    /// Logs the running command if this transaction changed a key, while its stripes
    /// are still held. Then deletes the expired keys it could only read, as Redis
    /// deletes an expired key on any access, once the stripes are released.
    fn drop(&mut self) {
        if self.changed {
            if let Some(log) = self.db.shared.command_log() {
                super::log::log_running(log, self.db.number());
            }
        }
        if self.expired_unlocked.is_empty() {
            return;
        }
        self.locks.release();
        for key in std::mem::take(&mut self.expired_unlocked) {
            self.db.get(key, self.now, self.guard);
        }
    }
}
