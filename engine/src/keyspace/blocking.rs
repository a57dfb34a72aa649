//! Clients blocked on keys (BLPOP and the other blocking pops; sorted sets' BZPOPMIN
//! can use the same): a registry of waiters by (database number, key), each key's
//! waiters in arrival order.
//!
//! - A blocking command that finds its keys empty registers a [`Waiting`] while it
//!   still holds their stripes, so no write slips between its check and its
//!   registration.
//! - A write that stores, under a key, a value some client may wait for
//!   ([`wakes_waiters`]: a list) notes the key on its thread while any client waits
//!   anywhere (a [`Txn`](super::Txn) put; SWAPDB for the keys now holding such a
//!   value). Once the command is over and its stripes released, the server calls
//!   [`Keyspace::wake_ready`](super::Keyspace::wake_ready): for each key noted, the
//!   first waiter not woken yet is woken. A MULTI/EXEC notes the keys of every
//!   command it runs.
//! - The woken client takes the wake ([`Waiting::rearm`]) and runs its command again.
//!   Served, it leaves the lines; its pop stores the list again if elements remain,
//!   which wakes the next waiter. Not served (another client took the element
//!   first), it stays in line where it was. A client that goes away woken, before
//!   it ran again (a disconnect, a timeout), passes the wake on to the next waiter.

use super::KeyspaceShared;
use crate::cold::{VALUE_TYPE_LIST, VALUE_TYPE_ZSET};
use bytes::Bytes;
use parking_lot::Mutex;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// Whether a client may wait for a value of this record type to appear under a key.
pub fn wakes_waiters(record_type: u8) -> bool {
    record_type == VALUE_TYPE_LIST || record_type == VALUE_TYPE_ZSET
}

/// One blocked client, in the line of each key it waits on.
#[derive(Default)]
struct Waiter {
    notify: Notify,
    /// Woken and not yet run again: the next wake of a key goes to the next in line.
    woken: AtomicBool,
}

/// The waiters of each (database number, key), in arrival order.
type Lines = HashMap<(usize, Bytes), VecDeque<Arc<Waiter>>>;

/// Every blocked client, by key.
#[derive(Default)]
pub(crate) struct Blocking {
    lines: Mutex<Lines>,
    /// Clients waiting (a [`Waiting`] each), for INFO's `blocked_clients`; none, and
    /// writes note nothing.
    clients: AtomicUsize,
}

thread_local! {
    /// Keys the commands run on this thread made hold a value waited for, since the
    /// last [`Blocking::wake_ready`].
    static READY: RefCell<Vec<(usize, Bytes)>> = const { RefCell::new(Vec::new()) };
}

impl Blocking {
    /// Whether any client waits anywhere.
    pub(crate) fn any(&self) -> bool {
        self.clients.load(Ordering::Acquire) > 0
    }

    pub(crate) fn clients(&self) -> usize {
        self.clients.load(Ordering::Acquire)
    }

    /// Notes that `key` of database `db` now holds a value clients may wait for.
    pub(crate) fn note_ready(&self, db: usize, key: &[u8]) {
        if self.any() {
            READY.with(|r| r.borrow_mut().push((db, Bytes::copy_from_slice(key))));
        }
    }

    /// The keys waited on in database `db`.
    pub(crate) fn keys_of(&self, db: usize) -> Vec<Bytes> {
        self.lines
            .lock()
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// Wakes, for each key noted on this thread, the first waiter not woken yet.
    pub(crate) fn wake_ready(&self) {
        let ready = READY.with(|r| std::mem::take(&mut *r.borrow_mut()));
        if ready.is_empty() {
            return;
        }
        let lines = self.lines.lock();
        for key in &ready {
            wake_first(&lines, key);
        }
    }
}

/// Wakes the first waiter of `key`'s line not woken yet.
fn wake_first(lines: &Lines, key: &(usize, Bytes)) {
    let Some(line) = lines.get(key) else {
        return;
    };
    if let Some(w) = line.iter().find(|w| !w.woken.load(Ordering::Acquire)) {
        w.woken.store(true, Ordering::Release);
        w.notify.notify_one();
    }
}

/// A client's place in the lines of the keys it waits on; leaves them when dropped.
pub struct Waiting {
    shared: Arc<KeyspaceShared>,
    db: usize,
    keys: Vec<Bytes>,
    waiter: Arc<Waiter>,
}

impl Waiting {
    /// Joins the end of the line of each of `keys` (duplicates once) in database
    /// `db`. The caller holds the keys' stripes and found them all empty.
    pub(crate) fn new(shared: Arc<KeyspaceShared>, db: usize, keys: &[Bytes]) -> Waiting {
        let waiter = Arc::new(Waiter::default());
        let mut unique: Vec<Bytes> = Vec::with_capacity(keys.len());
        for k in keys {
            if !unique.contains(k) {
                unique.push(k.clone());
            }
        }
        {
            let mut lines = shared.blocking.lines.lock();
            for k in &unique {
                lines
                    .entry((db, k.clone()))
                    .or_default()
                    .push_back(waiter.clone());
            }
        }
        shared.blocking.clients.fetch_add(1, Ordering::AcqRel);
        Waiting {
            shared,
            db,
            keys: unique,
            waiter,
        }
    }

    /// Resolves once a key waited on was given a value (or at once if that happened
    /// since the last [`Waiting::rearm`]).
    pub async fn woken(&self) {
        while !self.waiter.woken.load(Ordering::Acquire) {
            let notified = self.waiter.notify.notified();
            if self.waiter.woken.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// Whether a wake came and was not used yet.
    pub fn is_woken(&self) -> bool {
        self.waiter.woken.load(Ordering::Acquire)
    }

    /// Takes the wake: the client runs its command again now. Served, it then
    /// leaves the lines (a pop that leaves elements wakes the next in line); not
    /// served, it waits again in the same place.
    pub fn rearm(&self) {
        self.waiter.woken.store(false, Ordering::Release);
    }
}

impl Drop for Waiting {
    /// Leaves every line; a wake not used goes to the next in line of each key.
    fn drop(&mut self) {
        let blocking = &self.shared.blocking;
        let mut lines = blocking.lines.lock();
        let pass_on = self.waiter.woken.load(Ordering::Acquire);
        for k in &self.keys {
            let key = (self.db, k.clone());
            if let Some(line) = lines.get_mut(&key) {
                line.retain(|w| !Arc::ptr_eq(w, &self.waiter));
                if line.is_empty() {
                    lines.remove(&key);
                } else if pass_on {
                    wake_first(&lines, &key);
                }
            }
        }
        blocking.clients.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Keyspace;

    fn keys(names: &[&'static str]) -> Vec<Bytes> {
        names
            .iter()
            .map(|n| Bytes::from_static(n.as_bytes()))
            .collect()
    }

    #[test]
    fn wakes_in_arrival_order_and_passes_unused_wakes_on() {
        let ks = Keyspace::new(2);
        let first = ks.wait_for(0, &keys(&["a", "b"]));
        let second = ks.wait_for(0, &keys(&["a"]));
        let other_db = ks.wait_for(1, &keys(&["a"]));
        assert_eq!(ks.waiting_clients(), 3);
        ks.shared.blocking.note_ready(0, b"a");
        ks.wake_ready();
        assert!(first.is_woken() && !second.is_woken() && !other_db.is_woken());
        // A second push while the first is woken goes to the next in line.
        ks.shared.blocking.note_ready(0, b"a");
        ks.wake_ready();
        assert!(second.is_woken());
        // Found nothing: back in place, first in line.
        second.rearm();
        first.rearm();
        drop(first);
        assert!(!second.is_woken());
        // Woken, then gone without running: the wake goes on.
        let third = ks.wait_for(0, &keys(&["a"]));
        ks.shared.blocking.note_ready(0, b"a");
        ks.wake_ready();
        assert!(second.is_woken() && !third.is_woken());
        drop(second);
        assert!(third.is_woken());
        drop(third);
        drop(other_db);
        assert_eq!(ks.waiting_clients(), 0);
        assert!(ks.shared.blocking.lines.lock().is_empty());
    }
}
