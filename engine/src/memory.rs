//! Memory accounting: a global allocator wrapper that counts the bytes the process has
//! allocated and not freed, so `used_memory` and `maxmemory` mean RAM truly in use.
//!
//! Each thread accumulates its changes locally and folds them into the global figure
//! once they exceed a small threshold, so counting costs no shared cache line per
//! allocation. The figure is exact to within that threshold per thread.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

static ALLOCATED: AtomicIsize = AtomicIsize::new(0);
const FOLD_AT: isize = 32 * 1024;

thread_local! {
    static PENDING: Cell<isize> = const { Cell::new(0) };
}

/// An allocator that counts what it hands out. Install it in a binary with
/// `#[global_allocator] static A: CountingAllocator<System> = CountingAllocator::new(System);`
/// (or any other inner allocator).
pub struct CountingAllocator<A> {
    inner: A,
}

impl<A> CountingAllocator<A> {
    pub const fn new(inner: A) -> Self {
        CountingAllocator { inner }
    }
}

fn account(delta: isize) {
    // `try_with` fails only while the thread is being torn down; count globally then.
    let folded = PENDING.try_with(|p| {
        let v = p.get() + delta;
        if v.abs() >= FOLD_AT {
            p.set(0);
            ALLOCATED.fetch_add(v, Ordering::Relaxed);
        } else {
            p.set(v);
        }
    });
    if folded.is_err() {
        ALLOCATED.fetch_add(delta, Ordering::Relaxed);
    }
}

// SAFETY: defers every allocation to the inner allocator unchanged; only counts sizes.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAllocator<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { self.inner.alloc(layout) };
        if !p.is_null() {
            account(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { self.inner.dealloc(ptr, layout) };
        account(-(layout.size() as isize));
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        if !p.is_null() {
            account(layout.size() as isize);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            account(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Bytes allocated through [`CountingAllocator`] and not yet freed; 0 when the
/// program does not use it.
pub fn used_memory() -> usize {
    ALLOCATED.load(Ordering::Relaxed).max(0) as usize
}
