//! One generation of the bucket array and the nodes hanging off it.
//!
//! A bucket is an atomic pointer to a singly linked chain of immutable nodes. Readers
//! walk chains under an epoch guard without locks. Writers change a chain only while
//! holding the stripe lock that owns the bucket, so each chain has one writer at a
//! time; they never modify a published node: a change links in a new node and retires
//! the old one through the epoch collector. A bucket whose contents moved to the next
//! generation during a resize holds a null pointer tagged [`MOVED`].

use crossbeam_epoch::{Atomic, Guard, Owned, Shared};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Tag on a bucket pointer whose chain has moved to the next table generation.
pub(crate) const MOVED: usize = 1;

/// A key and its value in a chain. Published nodes are never mutated, except through
/// interior mutability inside `V` (access metadata).
pub struct Node<V> {
    pub(crate) hash: u64,
    key: Box<[u8]>,
    value: V,
    pub(crate) next: Atomic<Node<V>>,
}

impl<V> Node<V> {
    pub(crate) fn new(hash: u64, key: Box<[u8]>, value: V) -> Self {
        Node {
            hash,
            key,
            value,
            next: Atomic::null(),
        }
    }

    /// The key bytes.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The value stored under the key.
    pub fn value(&self) -> &V {
        &self.value
    }

    pub(crate) fn key_box(&self) -> Box<[u8]> {
        self.key.clone()
    }
}

/// A power-of-two array of buckets, plus the link to the generation that replaces it.
pub(crate) struct Table<V> {
    pub(crate) mask: usize,
    pub(crate) buckets: Box<[Atomic<Node<V>>]>,
    /// The next generation while a resize is under way; null otherwise.
    pub(crate) next: Atomic<Table<V>>,
    /// Per stripe: how many of the stripe's buckets have moved to `next`. Written only
    /// under that stripe's exclusive lock.
    pub(crate) migrated: Box<[AtomicUsize]>,
    /// Stripes that have not finished moving their buckets to `next`.
    pub(crate) stripes_left: AtomicUsize,
}

impl<V> Table<V> {
    pub(crate) fn new(size: usize, stripes: usize) -> Self {
        debug_assert!(size.is_power_of_two() && size >= stripes);
        Table {
            mask: size - 1,
            buckets: (0..size).map(|_| Atomic::null()).collect(),
            next: Atomic::null(),
            migrated: (0..stripes).map(|_| AtomicUsize::new(0)).collect(),
            stripes_left: AtomicUsize::new(stripes),
        }
    }

    pub(crate) fn size(&self) -> usize {
        self.mask + 1
    }

    pub(crate) fn bucket(&self, hash: u64) -> &Atomic<Node<V>> {
        &self.buckets[hash as usize & self.mask]
    }

    /// Finds `key` in the chain starting at `head`.
    pub(crate) fn find_in_chain<'g>(
        head: Shared<'g, Node<V>>,
        hash: u64,
        key: &[u8],
        guard: &'g Guard,
    ) -> Option<&'g Node<V>> {
        let mut cur = head;
        // SAFETY: chain nodes are retired only through the epoch collector, and `guard`
        // pins the current epoch, so every node reachable now stays allocated.
        while let Some(node) = unsafe { cur.as_ref() } {
            if node.hash == hash && *node.key == *key {
                return Some(node);
            }
            cur = node.next.load(Ordering::Acquire, guard);
        }
        None
    }
}

impl<V> Drop for Table<V> {
    fn drop(&mut self) {
        // Only reached when no reader can see the table any more (the index is dropped,
        // or the generation retired, in which case every bucket is MOVED and empty).
        // SAFETY: exclusive access; no other thread holds references into the chains.
        unsafe {
            let guard = crossbeam_epoch::unprotected();
            for bucket in self.buckets.iter() {
                let mut cur = bucket.load(Ordering::Relaxed, guard);
                while !cur.is_null() {
                    let next = cur.deref().next.load(Ordering::Relaxed, guard);
                    drop(cur.into_owned());
                    cur = next;
                }
            }
        }
    }
}

/// Allocates a node and returns it ready for publication.
pub(crate) fn new_node<'g, V>(node: Node<V>, guard: &'g Guard) -> Shared<'g, Node<V>> {
    Owned::new(node).into_shared(guard)
}
