//! The command log hook: every change to the keyspace reaches the log (the AOF) as the
//! Redis command that reproduces it, handed over while the stripes the change was made
//! under are still held, so the log's order is the order in which changes took effect.
//!
//! - A client's write: the connection runs the command inside [`run_command`]; a
//!   [`Txn`](super::Txn) that changed a key logs the command (as given, or as the
//!   handler rewrote it with [`log_as`], e.g. a relative expiry made absolute) once,
//!   when it releases its stripes. A command that changed nothing logs nothing.
//! - Deletions the keyspace makes itself (a key met expired, active expiry, eviction)
//!   log `DEL key` at once, and FLUSHDB and SWAPDB log themselves.

use bytes::Bytes;
use std::cell::RefCell;

/// Where the keyspace's changes go, as commands.
pub trait CommandLog: Send + Sync {
    /// Appends `args`, a command that changed database `db`.
    fn append(&self, db: usize, args: &[&[u8]]);
}

/// The command the current thread runs, and whether it is logged already.
struct Running {
    args: Vec<Bytes>,
    logged: bool,
}

thread_local! {
    static RUNNING: RefCell<Option<Running>> = const { RefCell::new(None) };
}

/// Runs `f` as the command `args` (name first): a transaction that changes keys
/// while `f` runs logs the command when it releases its stripes.
pub fn run_command<R>(args: &[Bytes], f: impl FnOnce() -> R) -> R {
    /// Clears the running command however `f` ends.
    struct Done;
    impl Drop for Done {
        fn drop(&mut self) {
            RUNNING.with(|r| r.borrow_mut().take());
        }
    }
    RUNNING.with(|r| {
        *r.borrow_mut() = Some(Running {
            args: args.to_vec(),
            logged: false,
        })
    });
    let _done = Done;
    f()
}

/// Makes the running command log `args` instead of itself (Redis's
/// `rewriteClientCommandVector`). Without a running command it does nothing.
pub fn log_as(args: Vec<Bytes>) {
    RUNNING.with(|r| {
        if let Some(running) = r.borrow_mut().as_mut() {
            running.args = args;
        }
    });
}

/// Hands the running command to `log` once: the first transaction of a command that
/// changed something logs it, later ones (MOVE's second database) do not.
pub(super) fn log_running(log: &dyn CommandLog, db: usize) {
    RUNNING.with(|r| {
        let mut running = r.borrow_mut();
        if let Some(running) = running.as_mut().filter(|r| !r.logged) {
            running.logged = true;
            let args: Vec<&[u8]> = running.args.iter().map(|a| a.as_ref()).collect();
            log.append(db, &args);
        }
    });
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use parking_lot::Mutex;

    /// A log that keeps what it is given, rendered as "db: ARGS...".
    #[derive(Default)]
    pub(crate) struct Recorder(pub(crate) Mutex<Vec<String>>);

    impl CommandLog for Recorder {
        fn append(&self, db: usize, args: &[&[u8]]) {
            let words: Vec<String> = args
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            self.0.lock().push(format!("{db}: {}", words.join(" ")));
        }
    }

    impl Recorder {
        pub(crate) fn take(&self) -> Vec<String> {
            std::mem::take(&mut self.0.lock())
        }
    }

    use crate::cold::ColdLocation;
    use crate::keyspace::Keyspace;
    use crate::value::Value;
    use crate::LockMode;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn logged_keyspace() -> (Keyspace, Arc<Recorder>) {
        let ks = Keyspace::new(3);
        let log = Arc::new(Recorder::default());
        assert!(ks.set_command_log(log.clone()));
        (ks, log)
    }

    fn args(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::from(w.to_string())).collect()
    }

    /// A command is logged once, when it changed something, as given or as rewritten.
    #[test]
    fn commands_are_logged_once_if_they_change_something() {
        let (ks, log) = logged_keyspace();
        let guard = crossbeam_epoch::pin();
        let db = ks.db(1);
        run_command(&args(&["SET", "k", "v", "EX", "10"]), || {
            log_as(args(&["SET", "k", "v", "PXAT", "10000"]));
            db.lock_key(b"k", 0, &guard)
                .set(b"k", Value::string(b"v"), Some(10_000));
        });
        run_command(&args(&["DEL", "missing"]), || {
            db.lock_key(b"missing", 0, &guard).remove(b"missing");
        });
        run_command(&args(&["MSET", "a", "1", "b", "2"]), || {
            let keys = [
                (&b"a"[..], LockMode::Exclusive),
                (&b"b"[..], LockMode::Exclusive),
            ];
            let mut txn = db.lock(&keys, 0, &guard);
            txn.set(b"a", Value::string(b"1"), None);
            txn.set(b"b", Value::string(b"2"), None);
        });
        // Outside a command a transaction's change is not the log's business (the
        // tier's moves); the keyspace's own deletions are.
        db.lock_key(b"a", 0, &guard)
            .set(b"a", Value::string(b"x"), None);
        assert_eq!(log.take(), ["1: SET k v PXAT 10000", "1: MSET a 1 b 2"]);
    }

    /// A command on two databases (MOVE) is logged once, as run on the client's,
    /// whichever of the two it changed.
    #[test]
    fn a_two_database_command_is_logged_on_the_clients() {
        let (ks, log) = logged_keyspace();
        let guard = crossbeam_epoch::pin();
        ks.db(0)
            .lock_key(b"k", 0, &guard)
            .set(b"k", Value::string(b"v"), None);
        let keys = [(&b"k"[..], LockMode::Exclusive)];
        for (from, to) in [(0, 2), (2, 0)] {
            let words = ["MOVE", "k", if to == 2 { "2" } else { "0" }];
            run_command(&args(&words), || {
                ks.with_pair((from, &keys), (to, &keys), 0, &guard, |src, dst| {
                    let entry = src.get(b"k").expect("there").clone();
                    dst.put(b"k", entry);
                    src.remove(b"k");
                })
            });
        }
        assert_eq!(log.take(), ["0: MOVE k 2", "2: MOVE k 0"]);
    }

    /// Expired keys met by any access, active expiry, evictions, FLUSHDB and SWAPDB
    /// log themselves; a value moving to the cold tier does not.
    #[test]
    fn the_keyspace_logs_its_own_deletions() {
        let (ks, log) = logged_keyspace();
        let guard = crossbeam_epoch::pin();
        let db = ks.db(2);
        for key in ["a", "b", "c"] {
            db.lock_key(key.as_bytes(), 0, &guard).set(
                key.as_bytes(),
                Value::string(b"v"),
                Some(1_000),
            );
        }
        assert!(db.get(b"a", 5_000, &guard).is_none());
        let (expired, _) = db.expire_due(0, 5_000, Instant::now() + Duration::from_secs(5));
        assert_eq!(expired, 2);
        let mut found = log.take();
        found.sort();
        assert_eq!(found, ["2: DEL a", "2: DEL b", "2: DEL c"]);

        db.lock_key(b"k", 0, &guard)
            .set(b"k", Value::string(b"v"), None);
        let loc = ColdLocation::new(1, 0, 100, 0).expect("fits");
        assert!(db.swap_slot(b"k", 0, &guard, |_| true, |e| Some(e.with_cold(loc))));
        assert!(db.swap_slot(b"k", 0, &guard, |_| true, |_| None));
        db.flush();
        ks.swap_dbs(0, 2);
        // The database that was 2 is 0 now: its changes say so.
        run_command(&args(&["SET", "x", "1"]), || {
            ks.db(0)
                .lock_key(b"x", 0, &guard)
                .set(b"x", Value::string(b"1"), None)
        });
        assert_eq!(
            log.take(),
            ["2: DEL k", "2: FLUSHDB", "0: SWAPDB 0 2", "0: SET x 1"]
        );
    }
}
