//! WATCH: the keys clients watch in a database, each with the flags of the clients
//! watching it. A change to a watched key (see `Db::before_change`), a FLUSHDB or
//! SWAPDB that touches it, raises its watchers' flags; their EXEC then fails. Clients
//! watch by database number: SWAPDB exchanges the two databases' watches.

use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A client's flag: set once a key it watches changed.
pub type WatchFlag = Arc<AtomicBool>;

/// The watched keys of one database.
#[derive(Default)]
pub(crate) struct Watches {
    keys: Mutex<HashMap<Bytes, Vec<WatchFlag>>>,
}

impl Watches {
    /// Adds `flag` as a watcher of `key`. Returns whether it was not one already.
    pub(crate) fn add(&self, key: &[u8], flag: &WatchFlag) -> bool {
        let mut keys = self.keys.lock();
        let watchers = keys.entry(Bytes::copy_from_slice(key)).or_default();
        if watchers.iter().any(|f| Arc::ptr_eq(f, flag)) {
            return false;
        }
        watchers.push(flag.clone());
        true
    }

    /// Removes `flag` from the watchers of `key`. Returns whether it was one.
    pub(crate) fn remove(&self, key: &[u8], flag: &WatchFlag) -> bool {
        let mut keys = self.keys.lock();
        let Some(watchers) = keys.get_mut(key) else {
            return false;
        };
        let before = watchers.len();
        watchers.retain(|f| !Arc::ptr_eq(f, flag));
        let removed = watchers.len() < before;
        if watchers.is_empty() {
            keys.remove(key);
        }
        removed
    }

    /// Raises the flags of the watchers of `key`.
    pub(crate) fn touch(&self, key: &[u8]) {
        if let Some(watchers) = self.keys.lock().get(key) {
            for flag in watchers {
                flag.store(true, Ordering::Release);
            }
        }
    }

    /// Exchanges the watchers of `self` and `other` (SWAPDB: watches follow the
    /// database number, as in Redis).
    pub(crate) fn swap(&self, other: &Watches) {
        if std::ptr::eq(self, other) {
            return;
        }
        let (first, second) = if (self as *const Watches) < (other as *const Watches) {
            (self, other)
        } else {
            (other, self)
        };
        let mut a = first.keys.lock();
        let mut b = second.keys.lock();
        std::mem::swap(&mut *a, &mut *b);
    }

    /// Raises the flags of the watchers of every watched key for which `exists`.
    pub(crate) fn touch_where(&self, mut exists: impl FnMut(&[u8]) -> bool) {
        for (key, watchers) in self.keys.lock().iter() {
            if exists(key) {
                for flag in watchers {
                    flag.store(true, Ordering::Release);
                }
            }
        }
    }
}
