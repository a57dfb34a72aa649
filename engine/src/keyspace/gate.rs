//! [`Gate`]: what makes a transaction (EXEC) atomic. Every command passes it shared,
//! and so does everything that changes the keyspace on its own (the tier moving or
//! evicting a value, active expiry, the start of a capture); EXEC passes it
//! exclusively and runs its commands meanwhile, so nothing else changes a key, or
//! moves a value the transaction loaded, between two of them.
//!
//! Held only by code that does not wait on anything else but stripe locks (never
//! across an await or I/O). A thread that holds it exclusively passes it shared at no
//! cost (the commands of a transaction, and what they do to the tier).

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::cell::Cell;

thread_local! {
    /// This thread holds a gate exclusively.
    static EXCLUSIVE: Cell<bool> = const { Cell::new(false) };
}

/// See the module docs.
#[derive(Default)]
pub struct Gate {
    lock: RwLock<()>,
}

/// The gate passed shared (or nothing, on the thread that holds it exclusively).
pub struct SharedPass<'a> {
    _guard: Option<RwLockReadGuard<'a, ()>>,
}

/// The gate held exclusively, until dropped.
pub struct ExclusivePass<'a> {
    _guard: RwLockWriteGuard<'a, ()>,
}

impl Gate {
    /// Passes the gate shared: waits while a transaction runs. Recursive: one thread
    /// may hold several.
    pub fn shared(&self) -> SharedPass<'_> {
        let guard = if EXCLUSIVE.with(Cell::get) {
            None
        } else {
            Some(self.lock.read_recursive())
        };
        SharedPass { _guard: guard }
    }

    /// Holds the gate alone: waits for every shared pass to end, and keeps new ones
    /// out until dropped. Not re-entrant.
    pub fn exclusive(&self) -> ExclusivePass<'_> {
        assert!(!EXCLUSIVE.with(Cell::get), "the gate is held already");
        let guard = self.lock.write();
        EXCLUSIVE.with(|e| e.set(true));
        ExclusivePass { _guard: guard }
    }
}

impl Drop for ExclusivePass<'_> {
    fn drop(&mut self) {
        EXCLUSIVE.with(|e| e.set(false));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// Shared passes run together; an exclusive one runs alone, and its thread passes
    /// shared without waiting for itself.
    #[test]
    fn exclusive_excludes_shared() {
        let gate = Arc::new(Gate::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let exclusive = gate.exclusive();
        let _nested = gate.shared();
        let waiter = {
            let (gate, inside) = (gate.clone(), inside.clone());
            std::thread::spawn(move || {
                let _pass = gate.shared();
                let _again = gate.shared();
                inside.fetch_add(1, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(inside.load(Ordering::SeqCst), 0, "a shared pass got in");
        drop(_nested);
        drop(exclusive);
        waiter.join().expect("waiter");
        assert_eq!(inside.load(Ordering::SeqCst), 1);
    }
}
