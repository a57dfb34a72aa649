//! The keyspace index: a concurrent hash table from key bytes to a value `V`.
//!
//! - Lookups take no lock: they walk immutable chains under a crossbeam-epoch guard,
//!   so a GET never waits behind a writer.
//! - Writers take a stripe of the lock table ([`Index::lock`]). Every bucket belongs to
//!   exactly one stripe (`hash % STRIPES`, and tables never have fewer buckets than
//!   there are stripes), so holding a stripe makes its holder the only writer of the
//!   chains it touches. Several stripes are always taken in ascending order.
//! - Each stripe carries a user state `S` (the keyspace keeps the TTL index there), so
//!   what must change together with a key changes under the same lock.
//! - A resize is incremental: a new table generation is linked behind the current
//!   one, and each stripe's buckets move over in small steps, done by writers of that
//!   stripe and by [`Index::rehash_step`]. No single operation copies the table.
//! - [`Index::scan`] follows Redis's reverse-binary cursor, so a key present for the
//!   whole scan is returned at least once, even across resizes.

mod table;

pub use table::Node;
use table::{alloc_node, retire_node, shared, Table, MOVED};

use crossbeam_epoch::{Atomic, Guard, Shared};
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use rand::Rng;
use smallvec::SmallVec;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Number of lock stripes; also the smallest table size.
pub const STRIPES: usize = 1024;
/// Keys per bucket at which a table grows (to about one key per bucket, see
/// [`Index::rehash_step`]). Chains stay short, and the bucket array costs 4 to 8 bytes
/// a key rather than 8 to 16: a cold key's RAM is mostly its node, so this is a good
/// share of it.
const MAX_LOAD: usize = 2;
/// Buckets moved by a writer each time it writes under a stripe during a resize.
const MIGRATE_PER_WRITE: usize = 2;
/// Tables smaller than this grow as soon as a writer finds them full; larger ones
/// grow from [`Index::rehash_step`], which the keyspace's cron calls.
const INLINE_RESIZE_LIMIT: usize = 1 << 16;

/// A concurrent hash table with lock-free reads and striped, exclusive writes.
pub struct Index<V, S> {
    head: Atomic<Table<V>>,
    stripes: Box<[RwLock<S>]>,
    len: AtomicUsize,
    hasher: ahash::RandomState,
}

/// The mode in which a command takes the stripe of one of its keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockMode {
    Shared,
    Exclusive,
}

/// Where a write lands: the key's bucket, its chain head, and the key's node with
/// the link pointing at it, if present.
struct WriteSite<'g, V> {
    bucket: &'g Atomic<Node<V>>,
    head: Shared<'g, Node<V>>,
    found: Option<Found<'g, V>>,
}

/// A key's node in its chain, and the link (bucket or predecessor) pointing at it.
struct Found<'g, V> {
    link: &'g Atomic<Node<V>>,
    node: Shared<'g, Node<V>>,
}

enum StripeGuard<'a, S> {
    Shared(#[allow(dead_code)] RwLockReadGuard<'a, S>),
    Exclusive(RwLockWriteGuard<'a, S>),
}

/// Stripes held by one command, released on drop. Writes go through this type, which
/// checks that the stripe of every key written is held exclusively.
pub struct Locks<'a, V, S> {
    index: &'a Index<V, S>,
    held: SmallVec<[(usize, StripeGuard<'a, S>); 2]>,
}

impl<V: Clone, S: Default> Default for Index<V, S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Clone, S: Default> Index<V, S> {
    pub fn new() -> Self {
        Index {
            head: Atomic::new(Table::new(STRIPES, STRIPES)),
            stripes: (0..STRIPES).map(|_| RwLock::new(S::default())).collect(),
            len: AtomicUsize::new(0),
            hasher: ahash::RandomState::new(),
        }
    }
}

impl<V: Clone + 'static, S> Index<V, S> {
    /// The hash used for bucket and stripe placement of `key`.
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Buckets in the current table generation (the larger one during a resize).
    pub fn capacity(&self) -> usize {
        let guard = crossbeam_epoch::pin();
        let t = self.head_table(&guard);
        match Self::next_table(t, &guard) {
            Some(n) => n.size().max(t.size()),
            None => t.size(),
        }
    }

    /// The stripe that owns `hash`.
    pub fn stripe_of(hash: u64) -> usize {
        hash as usize & (STRIPES - 1)
    }

    /// Looks `key` up without taking any lock.
    pub fn get<'g>(&self, key: &[u8], hash: u64, guard: &'g Guard) -> Option<&'g Node<V>> {
        let (_, head) = self.home_bucket(hash, guard);
        Table::find_in_chain(head, key, guard)
    }

    /// Takes the stripes named by `(hash, mode)` pairs, in ascending stripe order; a
    /// stripe named twice is taken once, exclusively if either asks for it.
    pub fn lock(&self, requests: &[(u64, LockMode)]) -> Locks<'_, V, S> {
        let mut wanted: SmallVec<[(usize, LockMode); 4]> = requests
            .iter()
            .map(|&(h, m)| (Self::stripe_of(h), m))
            .collect();
        // Exclusive sorts after shared for the same stripe; keep the last of each run.
        wanted.sort_unstable();
        wanted.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                earlier.1 = earlier.1.max(later.1);
                true
            } else {
                false
            }
        });
        let held = wanted
            .into_iter()
            .map(|(stripe, mode)| {
                let lock = &self.stripes[stripe];
                let guard = match mode {
                    LockMode::Shared => StripeGuard::Shared(lock.read()),
                    LockMode::Exclusive => StripeGuard::Exclusive(lock.write()),
                };
                (stripe, guard)
            })
            .collect();
        Locks { index: self, held }
    }

    /// Takes one stripe exclusively if no one holds it, for background work that
    /// should yield to clients.
    pub fn try_lock_stripe(&self, stripe: usize) -> Option<Locks<'_, V, S>> {
        let guard = self.stripes[stripe].try_write()?;
        Some(Locks {
            index: self,
            held: smallvec::smallvec![(stripe, StripeGuard::Exclusive(guard))],
        })
    }

    /// Takes every stripe exclusively (FLUSHDB and the like).
    pub fn lock_all(&self) -> Locks<'_, V, S> {
        let held = self
            .stripes
            .iter()
            .enumerate()
            .map(|(i, l)| (i, StripeGuard::Exclusive(l.write())))
            .collect();
        Locks { index: self, held }
    }

    /// Moves up to `budget` buckets of an ongoing resize, and starts a shrink when the
    /// table has become mostly empty. Returns whether a resize is still under way.
    pub fn rehash_step(&self, budget: usize) -> bool {
        let guard = crossbeam_epoch::pin();
        let mut left = budget;
        self.resize_if_unbalanced(&guard);
        for stripe in 0..STRIPES {
            if left == 0 {
                break;
            }
            let t = self.head_table(&guard);
            if Self::next_table(t, &guard).is_none() {
                break;
            }
            let per_stripe = t.size() / STRIPES;
            if t.migrated[stripe].load(Ordering::Relaxed) >= per_stripe {
                continue;
            }
            let _lock = self.stripes[stripe].write();
            left -= self.migrate(stripe, left, &guard);
        }
        self.resize_if_unbalanced(&guard)
    }

    /// Starts a resize if the table is overfull or mostly empty and none is under
    /// way. Returns whether a resize is under way now.
    fn resize_if_unbalanced(&self, guard: &Guard) -> bool {
        let t = self.head_table(guard);
        if Self::next_table(t, guard).is_some() {
            return true;
        }
        let len = self.len();
        if len > MAX_LOAD * t.size() || (t.size() > STRIPES && len * 8 < t.size()) {
            // The smallest size that holds `len` keys at MAX_LOAD: a growth lands at
            // about one key per bucket, not below (each bucket is a word of RAM).
            let size = len.div_ceil(MAX_LOAD).next_power_of_two().max(STRIPES);
            self.start_resize(t, size, guard);
            return true;
        }
        false
    }

    /// Calls `visit` with the keys of the buckets under `cursor` and returns the next
    /// cursor (0 when the scan is complete), exactly as Redis's `dictScan`.
    pub fn scan<'g>(
        &self,
        cursor: u64,
        guard: &'g Guard,
        mut visit: impl FnMut(&'g Node<V>),
    ) -> u64 {
        // Every bucket this call visits shares the cursor's low bits, hence one stripe;
        // holding it keeps those buckets from moving while they are read.
        let _stripe = self.stripes[cursor as usize & (STRIPES - 1)].read();
        let mut visit_bucket = |table: &Table<V>, v: u64| {
            let head = table.buckets[v as usize & table.mask].load(Ordering::Acquire, guard);
            if head.tag() != MOVED {
                for_each_in_chain(head, guard, &mut visit);
            }
        };
        let t0 = self.head_table(guard);
        let mut v = cursor;
        match Self::next_table(t0, guard) {
            None => {
                visit_bucket(t0, v);
                v = advance_cursor(v, t0.mask as u64);
            }
            Some(t1) => {
                let (small, large) = if t0.size() <= t1.size() {
                    (t0, t1)
                } else {
                    (t1, t0)
                };
                let (m0, m1) = (small.mask as u64, large.mask as u64);
                visit_bucket(small, v);
                loop {
                    visit_bucket(large, v);
                    v = advance_cursor(v, m1);
                    if v & (m0 ^ m1) == 0 {
                        break;
                    }
                }
            }
        }
        v
    }

    /// A key picked at random (uniform over buckets, then over the chain), or None if
    /// the index is empty.
    pub fn random<'g>(&self, rng: &mut impl Rng, guard: &'g Guard) -> Option<&'g Node<V>> {
        const TRIES: usize = 4096;
        if self.is_empty() {
            return None;
        }
        for _ in 0..TRIES {
            let (_, head) = self.home_bucket(rng.gen(), guard);
            let mut chain = Vec::new();
            for_each_in_chain(head, guard, |n| chain.push(n));
            if !chain.is_empty() {
                return Some(chain[rng.gen_range(0..chain.len())]);
            }
        }
        // A very sparse table: walk from a random cursor to the first key.
        let mut cursor = rng.gen::<u64>();
        let mut found = None;
        for _ in 0..=self.capacity() {
            cursor = self.scan(cursor, guard, |n| {
                found.get_or_insert(n);
            });
            if found.is_some() {
                break;
            }
        }
        found
    }

    fn head_table<'g>(&self, guard: &'g Guard) -> &'g Table<V> {
        // SAFETY: the head is never null and is retired only through the collector.
        unsafe { self.head.load(Ordering::Acquire, guard).deref() }
    }

    fn next_table<'g>(t: &'g Table<V>, guard: &'g Guard) -> Option<&'g Table<V>> {
        // SAFETY: a generation is retired only through the collector.
        unsafe { t.next.load(Ordering::Acquire, guard).as_ref() }
    }

    /// The bucket that holds `hash` now (following MOVED links) and its chain head.
    fn home_bucket<'g>(
        &self,
        hash: u64,
        guard: &'g Guard,
    ) -> (&'g Atomic<Node<V>>, Shared<'g, Node<V>>) {
        let mut t = self.head_table(guard);
        loop {
            let bucket = t.bucket(hash);
            let head = bucket.load(Ordering::Acquire, guard);
            if head.tag() != MOVED {
                return (bucket, head);
            }
            t = Self::next_table(t, guard).expect("a MOVED bucket has a next generation");
        }
    }

    fn start_resize(&self, t: &Table<V>, size: usize, guard: &Guard) {
        let next = crossbeam_epoch::Owned::new(Table::new(size, STRIPES));
        // Losing the race means someone else started the same resize.
        let _ = t.next.compare_exchange(
            Shared::null(),
            next,
            Ordering::AcqRel,
            Ordering::Acquire,
            guard,
        );
    }

    /// Moves up to `budget` of `stripe`'s buckets to the next generation. The caller
    /// holds `stripe` exclusively. Returns how many buckets moved.
    fn migrate(&self, stripe: usize, budget: usize, guard: &Guard) -> usize {
        let head = self.head.load(Ordering::Acquire, guard);
        // SAFETY: see head_table.
        let t = unsafe { head.deref() };
        let Some(next) = Self::next_table(t, guard) else {
            return 0;
        };
        let per_stripe = t.size() / STRIPES;
        let done = t.migrated[stripe].load(Ordering::Relaxed);
        let end = per_stripe.min(done + budget);
        for k in done..end {
            let bucket = &t.buckets[stripe + k * STRIPES];
            let mut cur = bucket.load(Ordering::Acquire, guard);
            // SAFETY: pinned by `guard`; the caller is this chain's only writer.
            while let Some(node) = unsafe { cur.as_ref() } {
                let key = node.key();
                let copy = alloc_node(key, node.value().clone());
                let dst = next.bucket(self.hasher.hash_one(key));
                // SAFETY: `copy` is fresh and unpublished; we own it.
                unsafe { &*copy }
                    .next
                    .store(dst.load(Ordering::Relaxed, guard), Ordering::Relaxed);
                dst.store(shared(copy), Ordering::Release);
                cur = node.next.load(Ordering::Acquire, guard);
            }
            let old = bucket.swap(Shared::null().with_tag(MOVED), Ordering::AcqRel, guard);
            retire_chain(old, guard);
        }
        t.migrated[stripe].store(end, Ordering::Relaxed);
        if end > done && end == per_stripe && t.stripes_left.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The last stripe has moved: the next generation becomes the head.
            self.head
                .store(t.next.load(Ordering::Acquire, guard), Ordering::Release);
            // SAFETY: unreachable for new readers; every bucket is MOVED and empty, so
            // dropping it frees only the bucket array.
            unsafe { guard.defer_destroy(head) };
        }
        end - done
    }
}

impl<'a, V: Clone + 'static, S> Locks<'a, V, S> {
    fn guard_for(&self, hash: u64) -> Option<&StripeGuard<'_, S>> {
        let stripe = Index::<V, S>::stripe_of(hash);
        self.held
            .binary_search_by_key(&stripe, |(s, _)| *s)
            .ok()
            .map(|i| &self.held[i].1)
    }

    /// Releases every stripe now, before the guard is dropped.
    pub fn release(&mut self) {
        self.held.clear();
    }

    /// Whether the stripe of `hash` is held exclusively.
    pub fn holds_exclusive(&self, hash: u64) -> bool {
        matches!(self.guard_for(hash), Some(StripeGuard::Exclusive(_)))
    }

    fn assert_exclusive(&self, hash: u64) {
        assert!(
            self.holds_exclusive(hash),
            "write to a stripe that is not held exclusively"
        );
    }

    /// The state of the stripe that owns `hash`, which must be held exclusively.
    pub fn state_mut(&mut self, hash: u64) -> &mut S {
        let stripe = Index::<V, S>::stripe_of(hash);
        let i = self
            .held
            .binary_search_by_key(&stripe, |(s, _)| *s)
            .expect("stripe not held");
        match &mut self.held[i].1 {
            StripeGuard::Exclusive(g) => g,
            StripeGuard::Shared(_) => panic!("stripe held shared, not exclusively"),
        }
    }

    /// The states of all stripes held exclusively, with their stripe numbers.
    pub fn states_mut(&mut self) -> impl Iterator<Item = (usize, &mut S)> + use<'_, 'a, V, S> {
        self.held.iter_mut().filter_map(|(stripe, g)| match g {
            StripeGuard::Exclusive(g) => Some((*stripe, &mut **g)),
            StripeGuard::Shared(_) => None,
        })
    }

    /// Prepares a write of `key`: checks its stripe is held exclusively, moves a few
    /// buckets of an ongoing resize, and finds the key's bucket (with its chain head)
    /// and, if the key is present, the link that points at its node.
    fn find_for_write<'g>(&mut self, key: &[u8], hash: u64, guard: &'g Guard) -> WriteSite<'g, V> {
        self.assert_exclusive(hash);
        let index = self.index;
        // Nodes do not store hashes: a resize recomputes them with `Index::hash`, so
        // a caller's hash must be that one or the key would move to the wrong bucket.
        debug_assert_eq!(hash, index.hash(key), "hash is not Index::hash(key)");
        index.migrate(Index::<V, S>::stripe_of(hash), MIGRATE_PER_WRITE, guard);
        let (bucket, head) = index.home_bucket(hash, guard);
        let mut link = bucket;
        let mut cur = head;
        // SAFETY: pinned by `guard`; the stripe makes us this chain's only writer.
        while let Some(node) = unsafe { cur.as_ref() } {
            if node.key() == key {
                return WriteSite {
                    bucket,
                    head,
                    found: Some(Found { link, node: cur }),
                };
            }
            link = &node.next;
            cur = node.next.load(Ordering::Acquire, guard);
        }
        WriteSite {
            bucket,
            head,
            found: None,
        }
    }

    /// Inserts `key` or replaces its value. Returns the value replaced, if any (it
    /// stays readable while `guard` lives).
    pub fn put<'g>(&mut self, key: &[u8], hash: u64, value: V, guard: &'g Guard) -> Option<&'g V> {
        let site = self.find_for_write(key, hash, guard);
        if let Some(Found { link, node: old }) = site.found {
            // SAFETY: found in a chain pinned by `guard`.
            let node = unsafe { old.deref() };
            let fresh = alloc_node(node.key(), value);
            // SAFETY: `fresh` is unpublished; we own it.
            unsafe { &*fresh }
                .next
                .store(node.next.load(Ordering::Acquire, guard), Ordering::Relaxed);
            link.store(shared(fresh), Ordering::Release);
            // SAFETY: unlinked above by this chain's only writer; readers still on it
            // are protected by epochs.
            unsafe { retire_node(old, guard) };
            return Some(node.value());
        }
        let fresh = alloc_node(key, value);
        // SAFETY: `fresh` is unpublished; we own it.
        unsafe { &*fresh }.next.store(site.head, Ordering::Relaxed);
        site.bucket.store(shared(fresh), Ordering::Release);
        let index = self.index;
        let len = index.len.fetch_add(1, Ordering::Relaxed) + 1;
        let t = index.head_table(guard);
        // Large generations are allocated by `rehash_step` in the background instead,
        // so that no client waits while a big bucket array is allocated.
        if len > MAX_LOAD * t.size()
            && t.size() < INLINE_RESIZE_LIMIT
            && Index::<V, S>::next_table(t, guard).is_none()
        {
            index.start_resize(t, t.size() * 2, guard);
        }
        None
    }

    /// Removes `key`. Returns whether it was there.
    pub fn remove(&mut self, key: &[u8], hash: u64, guard: &Guard) -> bool {
        let Some(Found { link, node: old }) = self.find_for_write(key, hash, guard).found else {
            return false;
        };
        // SAFETY: found in a chain pinned by `guard`.
        let next = unsafe { old.deref() }.next.load(Ordering::Acquire, guard);
        link.store(next, Ordering::Release);
        // SAFETY: unlinked above by this chain's only writer; readers still on it are
        // protected by epochs.
        unsafe { retire_node(old, guard) };
        self.index.len.fetch_sub(1, Ordering::Relaxed);
        true
    }

    /// Calls `f` with every node; requires every stripe (see [`Index::lock_all`]), so
    /// no bucket moves meanwhile. During a resize each node is in exactly one of the
    /// two generations (a moved bucket is empty and tagged in the old one).
    pub fn for_each<'g>(&self, guard: &'g Guard, mut f: impl FnMut(&'g Node<V>)) {
        assert_eq!(self.held.len(), STRIPES, "for_each needs every stripe");
        let head = self.index.head_table(guard);
        let mut table = Some(head);
        while let Some(t) = table {
            for bucket in t.buckets.iter() {
                let chain = bucket.load(Ordering::Acquire, guard);
                if chain.tag() != MOVED {
                    for_each_in_chain(chain, guard, &mut f);
                }
            }
            table = Index::<V, S>::next_table(t, guard);
        }
    }

    /// Calls `f` with every node of `stripe`, which must be held (shared or
    /// exclusively), so none of its buckets moves meanwhile. During a resize each node
    /// is in exactly one of the two generations.
    pub fn for_each_in_stripe<'g>(
        &self,
        stripe: usize,
        guard: &'g Guard,
        mut f: impl FnMut(&'g Node<V>),
    ) {
        assert!(
            self.held.iter().any(|(s, _)| *s == stripe),
            "for_each_in_stripe needs its stripe"
        );
        let mut table = Some(self.index.head_table(guard));
        while let Some(t) = table {
            // A stripe's buckets are those equal to it modulo STRIPES, in any table.
            for bucket in t.buckets.iter().skip(stripe).step_by(STRIPES) {
                let chain = bucket.load(Ordering::Acquire, guard);
                if chain.tag() != MOVED {
                    for_each_in_chain(chain, guard, &mut f);
                }
            }
            table = Index::<V, S>::next_table(t, guard);
        }
    }

    /// The stripes held exclusively.
    pub fn exclusive_stripes(&self) -> impl Iterator<Item = usize> + '_ {
        self.held
            .iter()
            .filter(|(_, g)| matches!(g, StripeGuard::Exclusive(_)))
            .map(|(s, _)| *s)
    }

    /// Empties the index; requires every stripe (see [`Index::lock_all`]). The old
    /// nodes are freed on a background thread once no reader can see them.
    pub fn clear(&mut self, guard: &Guard)
    where
        V: Send + Sync + 'static,
    {
        assert_eq!(self.held.len(), STRIPES, "clear needs every stripe");
        let index = self.index;
        let fresh = crossbeam_epoch::Owned::new(Table::new(STRIPES, STRIPES));
        let old = index.head.swap(fresh, Ordering::AcqRel, guard);
        index.len.store(0, Ordering::Relaxed);
        let old_addr = old.as_raw() as usize;
        guard.defer(move || {
            // SAFETY: the collector runs this once no pinned reader can reach `old`;
            // the generations are owned here from now on.
            let old = old_addr as *mut Table<V>;
            let tables = unsafe { take_generations(old) };
            std::thread::spawn(move || drop(tables));
        });
    }
}

/// A retired head generation and the one linked behind it, owned.
type Generations<V> = (Box<Table<V>>, Option<Box<Table<V>>>);

/// Reclaims a retired head generation and the one linked behind it.
///
/// # Safety
/// `head` must be unreachable by any reader and owned by the caller.
unsafe fn take_generations<V>(head: *mut Table<V>) -> Generations<V> {
    // SAFETY: per the contract, ownership passes to the returned boxes.
    let head = unsafe { Box::from_raw(head) };
    let guard = unsafe { crossbeam_epoch::unprotected() };
    let next = head.next.load(Ordering::Relaxed, guard);
    let next = (!next.is_null()).then(|| unsafe { next.into_owned() }.into_box());
    (head, next)
}

impl<V, S> Drop for Index<V, S> {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no reader or writer is left.
        unsafe {
            let guard = crossbeam_epoch::unprotected();
            let head = self.head.load(Ordering::Relaxed, guard);
            drop(take_generations(head.as_raw() as *mut Table<V>));
        }
    }
}

fn for_each_in_chain<'g, V>(
    head: Shared<'g, Node<V>>,
    guard: &'g Guard,
    mut f: impl FnMut(&'g Node<V>),
) {
    let mut cur = head;
    // SAFETY: pinned by `guard`; nodes are retired only through the collector.
    while let Some(node) = unsafe { cur.as_ref() } {
        f(node);
        cur = node.next.load(Ordering::Acquire, guard);
    }
}

fn retire_chain<V>(head: Shared<'_, Node<V>>, guard: &Guard) {
    let mut cur = head;
    // SAFETY: the chain was unlinked by the caller, its only writer, so each node is
    // unreachable for new readers and retired once; pinned readers keep it alive.
    while let Some(node) = unsafe { cur.as_ref() } {
        let next = node.next.load(Ordering::Acquire, guard);
        unsafe { retire_node(cur, guard) };
        cur = next;
    }
}

/// Redis's reverse-binary cursor increment over the bits of `mask`.
fn advance_cursor(v: u64, mask: u64) -> u64 {
    let v = v | !mask;
    (v.reverse_bits().wrapping_add(1)).reverse_bits()
}

#[cfg(test)]
mod tests;
