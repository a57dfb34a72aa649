//! Point-in-time captures of the keyspace, taken beside traffic (for snapshots and
//! AOF rewrites, without fork).
//!
//! A capture starts in one instant: every stripe of every database held at once, long
//! enough to install it and to cut the command log there (so the log's later part is
//! exactly what happened after the capture). Then the capture reads the databases
//! stripe by stripe, each under that stripe's lock. A writer about to change a key in
//! a stripe the capture has not read yet first keeps the key's entry as it is (its
//! before-image: absent, for a key it creates), copy-on-write by key: keys are
//! copied, values shared (a string's bytes are reference counted, a cold value is a
//! location). Reading a stripe, the capture takes each key's before-image if it has
//! one and the live entry otherwise, so it sees every key as it was at the start
//! whatever happens after. A value moving between RAM and the cold tier is no change
//! and keeps nothing: the capture reads the value wherever it is then, so what a
//! capture holds is just the old versions of the keys written since it started.
//! Changes to a whole stripe (FLUSHDB) copy the stripe aside first instead.

use super::db::Db;
use super::entry::{Entry, SlotRef};
use super::expire::StripeExpires;
use crate::cold::ColdLocation;
use crate::index::{LockMode, Locks, STRIPES};
use crate::value::Value;
use bytes::Bytes;
use crossbeam_epoch::Guard;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One key as a capture saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedEntry {
    pub key: Bytes,
    pub value: CapturedValue,
    /// Absolute expiry time in Unix milliseconds.
    pub expire_at: Option<u64>,
}

/// Where a captured key's value is: in hand, or in a record of the cold tier (which
/// the tier keeps while the capture lives, see `ColdStore::hold_segments`), with the
/// key's hash the record carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapturedValue {
    Hot(Value),
    Cold { loc: ColdLocation, hash: u64 },
}

/// The keys of one stripe changed since the capture started: those that existed
/// then, with their entries as they were, and those that did not (or had expired),
/// kept as bare keys (writes that create keys are most writes in some loads).
#[derive(Default)]
struct BeforeImages {
    existed: HashMap<Box<[u8]>, CapturedEntry>,
    absent: HashSet<Box<[u8]>>,
}

/// One database's side of a running capture: which stripes are taken, the
/// before-images of keys changed in the others, and the stripes writers copied aside
/// that the capture has not read yet.
pub(crate) struct DbCapture {
    /// Per stripe: its entries are taken (copied aside by a writer, or read by the
    /// capture). Read and written only under the stripe's lock.
    taken: Box<[AtomicBool]>,
    /// Per stripe, until it is taken: the before-images of its changed keys.
    images: Box<[Mutex<BeforeImages>]>,
    set_aside: Mutex<Vec<Vec<CapturedEntry>>>,
    /// The capture's start (Unix ms): keys expired by then are left out.
    started_at: u64,
}

impl DbCapture {
    fn new(started_at: u64) -> DbCapture {
        DbCapture {
            taken: (0..STRIPES).map(|_| AtomicBool::new(false)).collect(),
            images: (0..STRIPES).map(|_| Mutex::default()).collect(),
            set_aside: Mutex::new(Vec::new()),
            started_at,
        }
    }

    /// Before `key` (in `stripe`, held exclusively) changes from `current`: keeps its
    /// before-image, unless the stripe is taken or the key changed already.
    pub(crate) fn before_change(
        &self,
        db: &Db,
        stripe: usize,
        key: &[u8],
        current: Option<&Entry>,
    ) {
        if self.taken[stripe].load(Ordering::Relaxed) {
            return;
        }
        let mut images = self.images[stripe].lock();
        if images.existed.contains_key(key) || images.absent.contains(key) {
            return;
        }
        match current.and_then(|entry| self.captured(db, key, entry)) {
            Some(image) => {
                images.existed.insert(key.into(), image);
            }
            None => {
                images.absent.insert(key.into());
            }
        }
    }

    /// Before a change to whole stripes (held exclusively by `locks`): copies aside
    /// every one the capture has not taken.
    pub(crate) fn before_stripe_change(
        &self,
        db: &Db,
        locks: &Locks<'_, Entry, StripeExpires>,
        guard: &Guard,
    ) {
        for stripe in locks.exclusive_stripes() {
            if let Some(entries) = self.take(db, locks, stripe, guard) {
                if !entries.is_empty() {
                    self.set_aside.lock().push(entries);
                }
            }
        }
    }

    /// `entry` of `key` as the capture keeps it, or None if it had expired at the
    /// start.
    fn captured(&self, db: &Db, key: &[u8], entry: &Entry) -> Option<CapturedEntry> {
        if entry.is_expired(self.started_at) {
            return None;
        }
        let value = match entry.slot() {
            SlotRef::Hot(v) => CapturedValue::Hot(v.clone()),
            SlotRef::Cold(loc) => CapturedValue::Cold {
                loc,
                hash: db.hash(key),
            },
        };
        Some(CapturedEntry {
            key: Bytes::copy_from_slice(key),
            value,
            expire_at: entry.expire_at(),
        })
    }

    /// The entries `stripe` (held by `locks`) had at the start, unless it was taken
    /// already; marks it taken.
    fn take(
        &self,
        db: &Db,
        locks: &Locks<'_, Entry, StripeExpires>,
        stripe: usize,
        guard: &Guard,
    ) -> Option<Vec<CapturedEntry>> {
        if self.taken[stripe].swap(true, Ordering::Relaxed) {
            return None;
        }
        let BeforeImages {
            mut existed,
            absent,
        } = std::mem::take(&mut *self.images[stripe].lock());
        let mut entries = Vec::new();
        locks.for_each_in_stripe(stripe, guard, |node| {
            let kept = match existed.remove(node.key()) {
                Some(image) => Some(image),
                None if absent.contains(node.key()) => None,
                None => self.captured(db, node.key(), node.value()),
            };
            entries.extend(kept);
        });
        // Keys deleted since the start.
        entries.extend(existed.into_values());
        Some(entries)
    }
}

/// A running capture: the databases as numbered at its start, read stripe by stripe
/// with [`Capture::next_stripe`]. Dropping it ends the capture.
pub struct Capture {
    dbs: Vec<(usize, Arc<Db>, Arc<DbCapture>)>,
    /// The next (position in `dbs`, stripe) to read.
    next: (usize, usize),
    started_at: u64,
    /// Cleared on drop, so another capture may start.
    running: Arc<AtomicBool>,
}

impl Capture {
    /// Installs a capture on `dbs` (numbered by position), whose every stripe the
    /// caller holds; `running` says a capture is under way.
    pub(crate) fn install(dbs: &[Arc<Db>], started_at: u64, running: Arc<AtomicBool>) -> Capture {
        let dbs = dbs
            .iter()
            .enumerate()
            .map(|(number, db)| {
                let capture = Arc::new(DbCapture::new(started_at));
                db.set_capture(Some(capture.clone()));
                (number, db.clone(), capture)
            })
            .collect();
        Capture {
            dbs,
            next: (0, 0),
            started_at,
            running,
        }
    }

    /// When the capture started (Unix ms): what it returns is the keyspace at that
    /// instant, less the keys expired by then.
    pub fn started_at(&self) -> u64 {
        self.started_at
    }

    /// The next batch of entries and the number their database had at the start, or
    /// None when every stripe has been returned. Copies that writers set aside come
    /// first (so they do not pile up); each batch is one stripe's keys, never empty.
    pub fn next_stripe(&mut self) -> Option<(usize, Vec<CapturedEntry>)> {
        loop {
            // Once every stripe is read no writer copies any more, and a copy set
            // aside before was pushed under the stripe's lock, which the read waited
            // for: so an empty check after the walk is final.
            for (number, _, capture) in &self.dbs {
                if let Some(entries) = capture.set_aside.lock().pop() {
                    return Some((*number, entries));
                }
            }
            let (i, stripe) = self.next;
            let (number, db, capture) = self.dbs.get(i)?;
            self.next = if stripe + 1 == STRIPES {
                (i + 1, 0)
            } else {
                (i, stripe + 1)
            };
            let guard = crossbeam_epoch::pin();
            // Held shared: writers of the stripe wait while it is read (a stripe is a
            // thousandth of the database); readers do not.
            let locks = db.lock_stripe(stripe, LockMode::Shared);
            if let Some(entries) = capture.take(db, &locks, stripe, &guard) {
                if !entries.is_empty() {
                    return Some((*number, entries));
                }
            }
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        for (_, db, _) in &self.dbs {
            db.set_capture(None);
        }
        self.running.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::log::run_command;
    use crate::keyspace::log::tests::Recorder;
    use crate::keyspace::Keyspace;
    use std::collections::BTreeMap;
    use std::sync::atomic::AtomicUsize;

    type Model = BTreeMap<(usize, Vec<u8>), Vec<u8>>;

    fn drain(mut capture: Capture) -> Model {
        let mut seen = Model::new();
        while let Some((db, entries)) = capture.next_stripe() {
            // Slow enough that the writers change much of the keyspace meanwhile.
            std::thread::sleep(std::time::Duration::from_micros(50));
            for e in entries {
                let CapturedValue::Hot(Value::Str(v)) = e.value else {
                    panic!("only hot strings here");
                };
                let fresh = seen.insert((db, e.key.to_vec()), v.to_vec());
                assert!(fresh.is_none(), "a key captured twice");
            }
        }
        seen
    }

    /// Replays "db: SET k v" / "db: DEL k" / "db: FLUSHDB" / "db: SWAPDB a b" lines.
    fn replay(lines: &[String]) -> Model {
        let mut model = Model::new();
        for line in lines {
            let (db, cmd) = line.split_once(": ").expect("db: command");
            let db: usize = db.parse().expect("db");
            let words: Vec<&str> = cmd.split(' ').collect();
            match words[..] {
                ["SET", k, v] => {
                    model.insert((db, k.into()), v.into());
                }
                ["DEL", k] => {
                    model.remove(&(db, k.as_bytes().to_vec()));
                }
                ["FLUSHDB"] => model.retain(|(d, _), _| *d != db),
                ["SWAPDB", a, b] => {
                    let (a, b): (usize, usize) = (a.parse().expect("a"), b.parse().expect("b"));
                    model = model
                        .into_iter()
                        .map(|((d, k), v)| {
                            let d = if d == a {
                                b
                            } else if d == b {
                                a
                            } else {
                                d
                            };
                            ((d, k), v)
                        })
                        .collect();
                }
                _ => panic!("unexpected log line {line}"),
            }
        }
        model
    }

    /// What a capture keeps is the old versions of the keys changed after its start:
    /// a key overwritten or deleted reads as it was, a key created is left out, and a
    /// value that merely moved to the cold tier is read where it is now (its RAM is
    /// not held for the capture).
    #[test]
    fn a_capture_keeps_only_what_changed() {
        use crate::cold::ColdLocation;
        let ks = Keyspace::new(1);
        let guard = crossbeam_epoch::pin();
        let db = ks.db(0);
        for key in ["same", "moved", "overwritten", "deleted", "expiring"] {
            db.lock_key(key.as_bytes(), 0, &guard).set(
                key.as_bytes(),
                Value::string(b"old"),
                (key == "expiring").then_some(u64::MAX - 1),
            );
        }
        let capture = ks.begin_capture(|| {}).expect("no capture under way");
        let loc = ColdLocation::new(1, 0, 100, 0).expect("fits");
        assert!(db.swap_slot(b"moved", 0, &guard, |_| true, |e| Some(e.with_cold(loc))));
        let mut txn = db.lock_key(b"overwritten", 0, &guard);
        txn.set(b"overwritten", Value::string(b"new"), None);
        txn.set(b"overwritten", Value::string(b"newer"), None);
        drop(txn);
        assert!(db.lock_key(b"deleted", 0, &guard).remove(b"deleted"));
        db.lock_key(b"created", 0, &guard)
            .set(b"created", Value::string(b"new"), None);
        assert!(db
            .lock_key(b"expiring", 0, &guard)
            .set_expire(b"expiring", None));
        let mut capture = capture;
        let mut seen = BTreeMap::new();
        while let Some((_, entries)) = capture.next_stripe() {
            for e in entries {
                seen.insert(
                    String::from_utf8(e.key.to_vec()).unwrap(),
                    (e.value, e.expire_at),
                );
            }
        }
        let old = CapturedValue::Hot(Value::string(b"old"));
        let moved_hash = db.hash(b"moved");
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            [
                ("deleted".into(), (old.clone(), None)),
                ("expiring".into(), (old.clone(), Some(u64::MAX - 1))),
                (
                    "moved".into(),
                    (
                        CapturedValue::Cold {
                            loc,
                            hash: moved_hash
                        },
                        None
                    )
                ),
                ("overwritten".into(), (old.clone(), None)),
                ("same".into(), (old, None)),
            ]
        );
    }

    /// Writers keep setting, deleting, flushing and swapping while a capture is read:
    /// it returns exactly the keyspace of its first instant, which is what the
    /// command log held when the capture cut it.
    #[test]
    fn a_capture_is_the_keyspace_at_its_start() {
        let ks = Arc::new(Keyspace::new(3));
        let log = Arc::new(Recorder::default());
        assert!(ks.set_command_log(log.clone()));
        let write = |ks: &Keyspace, db: usize, key: String, value: Option<String>| {
            let guard = crossbeam_epoch::pin();
            let args: Vec<Bytes> = match &value {
                Some(v) => vec!["SET".into(), key.clone().into(), v.clone().into()],
                None => vec!["DEL".into(), key.clone().into()],
            };
            run_command(&args, || {
                let db = ks.db(db);
                let mut txn = db.lock_key(key.as_bytes(), 0, &guard);
                match value {
                    Some(v) => txn.set(key.as_bytes(), Value::string(v.as_bytes()), None),
                    None => {
                        txn.remove(key.as_bytes());
                    }
                }
            });
        };
        for i in 0..3000 {
            write(&ks, i % 3, format!("k{i}"), Some(format!("v{i}")));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicUsize::new(0));
        let writers: Vec<_> = (0..3)
            .map(|t| {
                let (ks, stop, rounds) = (ks.clone(), stop.clone(), rounds.clone());
                std::thread::spawn(move || {
                    let mut i = t;
                    // In every value, so no write sets what a key held before.
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        i = (i * 7919 + 13) % 4000;
                        n += 1;
                        let value = (i % 5 != 0).then(|| format!("w{t}-{i}-{n}"));
                        write(&ks, i % 3, format!("k{i}"), value);
                        match i % 997 {
                            0 => ks.db(2).flush(),
                            1 => ks.swap_dbs(0, 1),
                            _ => {}
                        }
                        rounds.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for _ in 0..3 {
            while rounds.load(Ordering::Relaxed) < 2000 {
                std::thread::yield_now();
            }
            let mut cut = 0;
            let capture = ks
                .begin_capture(|| cut = log.0.lock().len())
                .expect("no capture under way");
            assert!(ks.begin_capture(|| {}).is_none(), "one capture at a time");
            rounds.store(0, Ordering::Relaxed);
            let captured = drain(capture);
            let lines = log.0.lock().clone();
            assert!(lines.len() > cut + 100, "writers ran during the capture");
            assert_eq!(captured, replay(&lines[..cut]));
            assert_ne!(captured, replay(&lines), "the capture is not the present");
        }
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().expect("writer");
        }
    }
}
