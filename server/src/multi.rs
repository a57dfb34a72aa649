//! A client's transaction state: the commands MULTI queued for EXEC ([`Queued`]) and
//! the keys it WATCHes ([`Watching`]). The commands are in `cmd::transactions`; EXEC
//! itself runs in the session (`Session::exec`), which loads the cold values of every
//! queued command first and then runs them all holding the keyspace's gate alone.

use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tier_engine::keyspace::WatchFlag;
use tier_engine::Keyspace;

/// The commands queued since MULTI.
#[derive(Default)]
pub struct Queued {
    /// Each command as sent: name, then arguments.
    pub commands: Vec<Vec<Bytes>>,
    /// A command was refused while queued: EXEC answers EXECABORT.
    pub aborted: bool,
}

/// The keys a client watches (by database number, as Redis), and its flag, which a
/// change to any of them raises.
pub struct Watching {
    flag: WatchFlag,
    keys: Vec<Watched>,
    /// Where the keys are registered (set by the first WATCH).
    keyspace: Option<Arc<Keyspace>>,
}

struct Watched {
    db: usize,
    key: Bytes,
    /// The key had expired (not yet deleted) when it was watched: its expiry since
    /// is no change.
    expired_then: bool,
}

impl Watching {
    /// No key watched; `flag` is the one CLIENT LIST shows (`d`).
    pub fn new(flag: WatchFlag) -> Watching {
        Watching {
            flag,
            keys: Vec::new(),
            keyspace: None,
        }
    }

    /// WATCH `key` in database `db` at time `now` (a key watched already stays as
    /// it was watched).
    pub fn watch(&mut self, keyspace: &Arc<Keyspace>, db: usize, key: &[u8], now: u64) {
        if self.keys.iter().any(|w| w.db == db && w.key == key) {
            return;
        }
        let database = keyspace.db(db);
        database.watch(key, &self.flag);
        let guard = tier_engine::pin();
        let expired_then = database
            .find(key, &guard)
            .is_some_and(|e| e.is_expired(now));
        self.keys.push(Watched {
            db,
            key: Bytes::copy_from_slice(key),
            expired_then,
        });
        self.keyspace.get_or_insert_with(|| keyspace.clone());
    }

    /// Whether EXEC must fail: a watched key changed, or expired, since it was
    /// watched (Redis's `isWatchedKeyExpired`: an expired key counts as changed even
    /// before anything deletes it).
    pub fn broken(&self, now: u64) -> bool {
        if self.flag.load(Ordering::Acquire) {
            return true;
        }
        let Some(keyspace) = &self.keyspace else {
            return false;
        };
        let guard = tier_engine::pin();
        self.keys.iter().any(|w| {
            !w.expired_then
                && keyspace
                    .db(w.db)
                    .find(&w.key, &guard)
                    .is_some_and(|e| e.is_expired(now))
        })
    }

    /// UNWATCH: forgets every key, and the changes seen.
    pub fn unwatch_all(&mut self) {
        if let Some(keyspace) = &self.keyspace {
            for w in self.keys.drain(..) {
                keyspace.db(w.db).unwatch(&w.key, &self.flag);
            }
        }
        self.flag.store(false, Ordering::Release);
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.unwatch_all();
    }
}
