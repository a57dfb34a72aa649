//! One generation of the bucket array and the nodes hanging off it.
//!
//! A bucket is an atomic pointer to a singly linked chain of immutable nodes. Readers
//! walk chains under an epoch guard without locks. Writers change a chain only while
//! holding the stripe lock that owns the bucket, so each chain has one writer at a
//! time; they never modify a published node: a change links in a new node and retires
//! the old one through the epoch collector. A bucket whose contents moved to the next
//! generation during a resize holds a null pointer tagged [`MOVED`].

use crossbeam_epoch::{Atomic, Guard, Shared};
use std::alloc::Layout;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Tag on a bucket pointer whose chain has moved to the next table generation.
pub(crate) const MOVED: usize = 1;

/// A key and its value in a chain. Published nodes are never mutated, except through
/// interior mutability inside `V` (access metadata).
///
/// A node is one heap allocation: this header, immediately followed by the `key_len`
/// key bytes (see [`node_layout`]). It is created only by [`alloc_node`] and freed only
/// by [`free_node`]; it is never a `Box` or an `Owned`, whose layout would lack the key,
/// and is never moved out of its allocation (there is no constructor by value). The
/// key's hash is not stored: whoever needs it recomputes it from the key.
pub struct Node<V> {
    pub(crate) next: Atomic<Node<V>>,
    key_len: u32,
    value: V,
}

/// The layout of a node with a `key_len`-byte key, and the offset of the key bytes.
fn node_layout<V>(key_len: usize) -> (Layout, usize) {
    let bytes = Layout::array::<u8>(key_len).expect("key length overflows a layout");
    let (layout, offset) = Layout::new::<Node<V>>()
        .extend(bytes)
        .expect("key length overflows a layout");
    (layout.pad_to_align(), offset)
}

impl<V> Node<V> {
    /// The key bytes.
    pub fn key(&self) -> &[u8] {
        // The key starts right after the header: `Layout::extend` puts a byte array at
        // the header's size, which is already a multiple of the byte alignment (1).
        let offset = std::mem::size_of::<Self>();
        debug_assert_eq!(offset, node_layout::<V>(self.key_len as usize).1);
        // SAFETY: `self` is the header of an allocation made by `alloc_node`, which
        // wrote `key_len` initialized bytes at `offset` and never changes them; the
        // allocation lives at least as long as `&self`. (Reading past the header through
        // a pointer derived from `&self` is the trailing-data pattern of thin-vec and
        // triomphe: the allocation, not the header type, bounds the access.)
        unsafe {
            let start = (self as *const Self).cast::<u8>().add(offset);
            std::slice::from_raw_parts(start, self.key_len as usize)
        }
    }

    /// The value stored under the key.
    pub fn value(&self) -> &V {
        &self.value
    }
}

/// Allocates a node holding a copy of `key` and `value`, with a null `next`, and returns
/// it unpublished: the caller owns it until it stores it in a bucket or a link
/// (`Shared::from(ptr as *const _)`), and must eventually pass it to [`free_node`].
pub(crate) fn alloc_node<V>(key: &[u8], value: V) -> *mut Node<V> {
    let key_len = u32::try_from(key.len())
        .expect("key longer than u32::MAX bytes (the server caps a bulk string at 512 MB)");
    let (layout, offset) = node_layout::<V>(key.len());
    // SAFETY: `layout` has a non-zero size: it contains the header, which holds a pointer.
    let ptr = unsafe { std::alloc::alloc(layout) }.cast::<Node<V>>();
    if ptr.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // SAFETY: `ptr` is a fresh allocation of `layout`, aligned for `Node<V>` and large
    // enough for the header plus `key.len()` bytes at `offset`; nothing else sees it.
    unsafe {
        ptr.write(Node {
            next: Atomic::null(),
            key_len,
            value,
        });
        std::ptr::copy_nonoverlapping(key.as_ptr(), ptr.cast::<u8>().add(offset), key.len());
    }
    ptr
}

/// Drops a node's value in place and frees its allocation.
///
/// # Safety
/// `node` must come from [`alloc_node`], not have been freed, and be unreachable: no
/// link points at it and no reader can still hold a reference into it.
pub(crate) unsafe fn free_node<V>(node: *mut Node<V>) {
    // SAFETY: per the contract, `node` is a live node owned by the caller, so its header
    // is readable and its value is dropped exactly once, here.
    let layout = unsafe {
        let (layout, _) = node_layout::<V>((*node).key_len as usize);
        std::ptr::drop_in_place(node);
        layout
    };
    // SAFETY: allocated by `alloc_node` with this same layout (computed from the same
    // `key_len`), and not freed before.
    unsafe { std::alloc::dealloc(node.cast::<u8>(), layout) };
}

/// A retired node on its way to the collector, which may free it on another thread.
struct Retired<V>(*mut Node<V>);

// SAFETY: a `Retired` is the sole owner of an unreachable node, so sending it sends
// nothing but the node, which is `Send` when `V` is (its `next` is an `Atomic`).
unsafe impl<V: Send> Send for Retired<V> {}

impl<V> Retired<V> {
    /// Frees the node. Takes `self` so a closure calling it captures the whole wrapper.
    ///
    /// # Safety
    /// As [`free_node`].
    unsafe fn free(self) {
        // SAFETY: forwarded to the caller.
        unsafe { free_node(self.0) }
    }
}

/// Frees `node` once no pinned reader can reach it.
///
/// # Safety
/// `node` must be unlinked already (new readers cannot find it) by its chain's only
/// writer, and retired only once.
pub(crate) unsafe fn retire_node<V>(node: Shared<'_, Node<V>>, guard: &Guard) {
    let retired = Retired(node.as_raw() as *mut Node<V>);
    // SAFETY: the node is unreachable for new readers (contract), and the collector runs
    // the closure only after every guard pinned before now is dropped, so no reference
    // into the node is left when it is freed, exactly once. The closure may run on
    // another thread: `defer_unchecked` does not ask for `Send` (no more than
    // `defer_destroy` did for the boxed nodes before), and the index's values are
    // `Send` in practice (the keyspace's entries are), as `Retired` documents.
    unsafe { guard.defer_unchecked(move || retired.free()) };
}

/// Publishable handle to a freshly allocated node.
pub(crate) fn shared<'g, V>(node: *mut Node<V>) -> Shared<'g, Node<V>> {
    Shared::from(node as *const Node<V>)
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
        key: &[u8],
        guard: &'g Guard,
    ) -> Option<&'g Node<V>> {
        let mut cur = head;
        // SAFETY: chain nodes are retired only through the epoch collector, and `guard`
        // pins the current epoch, so every node reachable now stays allocated.
        while let Some(node) = unsafe { cur.as_ref() } {
            if node.key_len as usize == key.len() && node.key() == key {
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
                    free_node(cur.as_raw() as *mut Node<V>);
                    cur = next;
                }
            }
        }
    }
}
