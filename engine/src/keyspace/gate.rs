//! [`Gate`]: what makes a transaction (EXEC) atomic. Every command passes it shared,
//! and so does everything that changes the keyspace on its own (the tier moving or
//! evicting a value, active expiry, the start of a capture); EXEC passes it
//! exclusively and runs its commands meanwhile, so nothing else changes a key, or
//! moves a value the transaction loaded, between two of them.
//!
//! Held only by code that does not wait on anything else but stripe locks (never
//! across an await or I/O). A thread that holds it exclusively passes it shared at no
//! cost (the commands of a transaction, and what they do to the tier).
//!
//! A Lua script holds it exclusively too, for as long as it runs (possibly seconds):
//! async code never blocks its thread on it, but tries ([`Gate::try_shared`],
//! [`Gate::try_exclusive_for`]) and awaits [`Gate::opened`] in between.

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::cell::Cell;
use std::time::Duration;
use tokio::sync::Notify;

thread_local! {
    /// This thread holds a gate exclusively.
    static EXCLUSIVE: Cell<bool> = const { Cell::new(false) };
}

/// See the module docs.
#[derive(Default)]
pub struct Gate {
    lock: RwLock<()>,
    /// Woken each time an exclusive hold ends.
    released: Notify,
}

/// The gate passed shared (or nothing, on the thread that holds it exclusively).
pub struct SharedPass<'a> {
    _guard: Option<RwLockReadGuard<'a, ()>>,
}

/// The gate held exclusively, until dropped.
pub struct ExclusivePass<'a> {
    guard: Option<RwLockWriteGuard<'a, ()>>,
    gate: &'a Gate,
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

    /// Passes the gate shared if no one holds it exclusively now (or this thread
    /// does); never waits.
    pub fn try_shared(&self) -> Option<SharedPass<'_>> {
        if EXCLUSIVE.with(Cell::get) {
            return Some(SharedPass { _guard: None });
        }
        let guard = self.lock.try_read_recursive()?;
        Some(SharedPass {
            _guard: Some(guard),
        })
    }

    /// Holds the gate alone: waits for every shared pass to end, and keeps new ones
    /// out until dropped. Not re-entrant.
    pub fn exclusive(&self) -> ExclusivePass<'_> {
        assert!(!EXCLUSIVE.with(Cell::get), "the gate is held already");
        let guard = self.lock.write();
        self.exclusive_pass(guard)
    }

    /// [`Gate::exclusive`], waiting at most `wait` (for shared passes, which are
    /// short, or an exclusive holder, which may not be). None if it was not had.
    pub fn try_exclusive_for(&self, wait: Duration) -> Option<ExclusivePass<'_>> {
        assert!(!EXCLUSIVE.with(Cell::get), "the gate is held already");
        let guard = self.lock.try_write_for(wait)?;
        Some(self.exclusive_pass(guard))
    }

    fn exclusive_pass<'a>(&'a self, guard: RwLockWriteGuard<'a, ()>) -> ExclusivePass<'a> {
        EXCLUSIVE.with(|e| e.set(true));
        ExclusivePass {
            guard: Some(guard),
            gate: self,
        }
    }

    /// Whether someone holds the gate exclusively now.
    pub fn is_closed(&self) -> bool {
        self.lock.is_locked_exclusive()
    }

    /// Resolves once no one holds the gate exclusively (at once if no one does).
    pub async fn opened(&self) {
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if !self.is_closed() {
                return;
            }
            released.await;
        }
    }
}

impl Drop for ExclusivePass<'_> {
    fn drop(&mut self) {
        EXCLUSIVE.with(|e| e.set(false));
        // Open first, then wake: a waiter woken finds the gate open.
        drop(self.guard.take());
        self.gate.released.notify_waiters();
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

    /// The non-blocking ways in: a try fails while another thread holds the gate
    /// alone, and `opened` resolves when it lets go.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tries_fail_while_held_and_opened_wakes() {
        let gate = Arc::new(Gate::default());
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let holder = {
            let gate = gate.clone();
            std::thread::spawn(move || {
                let _alone = gate.exclusive();
                held_tx.send(()).expect("send");
                release_rx.recv().expect("recv");
            })
        };
        held_rx.recv().expect("held");
        assert!(gate.is_closed());
        assert!(gate.try_shared().is_none());
        assert!(gate.try_exclusive_for(Duration::from_millis(5)).is_none());
        let opened = tokio::spawn({
            let gate = gate.clone();
            async move { gate.opened().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!opened.is_finished(), "opened while held");
        release_tx.send(()).expect("release");
        opened.await.expect("opened");
        holder.join().expect("holder");
        assert!(gate.try_shared().is_some());
        assert!(gate.try_exclusive_for(Duration::from_millis(5)).is_some());
    }
}
