//! Tests of the index: single-threaded semantics, resizes in both directions, the SCAN
//! guarantee across resizes, and readers racing writers.

use super::*;
use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

type TestIndex = Index<u64, ()>;

fn put(ix: &TestIndex, key: &[u8], v: u64) -> bool {
    let guard = crossbeam_epoch::pin();
    let h = ix.hash(key);
    let replaced = ix
        .lock(&[(h, LockMode::Exclusive)])
        .put(key, h, v, &guard)
        .copied();
    replaced.is_none()
}

fn del(ix: &TestIndex, key: &[u8]) -> bool {
    let guard = crossbeam_epoch::pin();
    let h = ix.hash(key);
    ix.lock(&[(h, LockMode::Exclusive)]).remove(key, h, &guard)
}

fn get(ix: &TestIndex, key: &[u8]) -> Option<u64> {
    let guard = crossbeam_epoch::pin();
    ix.get(key, ix.hash(key), &guard).map(|n| *n.value())
}

fn key(i: u64) -> Vec<u8> {
    format!("key:{i}").into_bytes()
}

fn full_scan<V: Clone + 'static>(ix: &Index<V, ()>) -> Vec<Vec<u8>> {
    let guard = crossbeam_epoch::pin();
    let mut keys = Vec::new();
    let mut cursor = 0;
    loop {
        cursor = ix.scan(cursor, &guard, |n| keys.push(n.key().to_vec()));
        if cursor == 0 {
            return keys;
        }
    }
}

#[test]
fn put_get_replace_remove() {
    let ix = TestIndex::new();
    assert!(put(&ix, b"a", 1));
    assert!(!put(&ix, b"a", 2));
    {
        let guard = crossbeam_epoch::pin();
        let h = ix.hash(b"a");
        let old = ix
            .lock(&[(h, LockMode::Exclusive)])
            .put(b"a", h, 3, &guard)
            .copied();
        assert_eq!(old, Some(2));
        put(&ix, b"a", 2);
    }
    assert_eq!(get(&ix, b"a"), Some(2));
    assert_eq!(ix.len(), 1);
    assert!(del(&ix, b"a"));
    assert!(!del(&ix, b"a"));
    assert_eq!(get(&ix, b"a"), None);
    assert!(ix.is_empty());
}

#[test]
fn grows_and_shrinks_incrementally() {
    let ix = TestIndex::new();
    let n = 20_000;
    for i in 0..n {
        put(&ix, &key(i), i);
    }
    while ix.rehash_step(4096) {}
    // At most two keys per bucket, and not more buckets than keys.
    let buckets = ix.capacity();
    assert!(
        buckets * 2 >= n as usize && buckets <= n as usize,
        "capacity {buckets}"
    );
    for i in 0..n {
        assert_eq!(get(&ix, &key(i)), Some(i));
    }
    for i in 0..n - 10 {
        assert!(del(&ix, &key(i)));
    }
    while ix.rehash_step(4096) {}
    assert_eq!(ix.capacity(), STRIPES);
    for i in n - 10..n {
        assert_eq!(get(&ix, &key(i)), Some(i));
    }
    assert_eq!(full_scan(&ix).len(), 10);
}

#[test]
fn scan_returns_every_stable_key_across_resizes() {
    let ix = TestIndex::new();
    let stable: HashSet<Vec<u8>> = (0..3000).map(key).collect();
    for k in &stable {
        put(&ix, k, 0);
    }
    let guard = crossbeam_epoch::pin();
    let mut seen = HashSet::new();
    let mut cursor = 0;
    let mut extra = 1_000_000u64;
    loop {
        cursor = ix.scan(cursor, &guard, |n| {
            seen.insert(n.key().to_vec());
        });
        // Churn between calls: waves of keys that make the table grow, then shrink.
        let wave = (extra / 40).is_multiple_of(2);
        for _ in 0..40 {
            if wave {
                put(&ix, &key(extra), 0);
            } else {
                del(&ix, &key(extra - 40));
            }
            extra += 1;
        }
        ix.rehash_step(64);
        if cursor == 0 {
            break;
        }
    }
    for k in &stable {
        assert!(seen.contains(k), "missed {:?}", String::from_utf8_lossy(k));
    }
}

#[test]
fn random_finds_keys() {
    let ix = TestIndex::new();
    let guard = crossbeam_epoch::pin();
    let mut rng = rand::thread_rng();
    assert!(ix.random(&mut rng, &guard).is_none());
    put(&ix, b"only", 7);
    assert_eq!(ix.random(&mut rng, &guard).map(|n| *n.value()), Some(7));
    for i in 0..5000 {
        put(&ix, &key(i), i);
    }
    let distinct: HashSet<u64> = (0..200)
        .filter_map(|_| ix.random(&mut rng, &guard).map(|n| *n.value()))
        .collect();
    assert!(distinct.len() > 150);
}

#[test]
fn readers_never_miss_a_stable_key_while_writers_resize() {
    let ix = Arc::new(TestIndex::new());
    for i in 0..1000 {
        put(&ix, &key(i), i);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (ix, stop) = (ix.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut round = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let base = 1_000_000 * (w + 1) + round * 50_000;
                    for i in base..base + 50_000 {
                        put(&ix, &key(i), i);
                    }
                    for i in base..base + 50_000 {
                        del(&ix, &key(i));
                    }
                    ix.rehash_step(256);
                    round += 1;
                }
            })
        })
        .collect();
    for _ in 0..30 {
        for i in 0..1000 {
            assert_eq!(get(&ix, &key(i)), Some(i));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    while ix.rehash_step(4096) {}
    assert_eq!(ix.len(), 1000);
    assert_eq!(full_scan(&ix).len(), 1000);
}

/// Counts, per value ever created (including the copies a resize makes), how many
/// times it was dropped.
#[derive(Default)]
struct DropLedger {
    drops: parking_lot::Mutex<Vec<u32>>,
}

impl DropLedger {
    fn register(&self) -> usize {
        let mut drops = self.drops.lock();
        drops.push(0);
        drops.len() - 1
    }

    /// (values created, values dropped once, values dropped more than once)
    fn tally(&self) -> (usize, usize, usize) {
        let drops = self.drops.lock();
        let once = drops.iter().filter(|&&d| d == 1).count();
        let more = drops.iter().filter(|&&d| d > 1).count();
        (drops.len(), once, more)
    }
}

/// A value that records its drop in a ledger; a clone is a new value.
struct Tracked {
    tag: u64,
    id: usize,
    ledger: Arc<DropLedger>,
}

impl Tracked {
    fn new(tag: u64, ledger: &Arc<DropLedger>) -> Self {
        Tracked {
            tag,
            id: ledger.register(),
            ledger: ledger.clone(),
        }
    }
}

impl Clone for Tracked {
    fn clone(&self) -> Self {
        Tracked::new(self.tag, &self.ledger)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.ledger.drops.lock()[self.id] += 1;
    }
}

#[test]
fn keys_of_every_length_are_inline_and_every_value_is_dropped_once() {
    type TrackedIndex = Index<Tracked, ()>;
    let ledger = Arc::new(DropLedger::default());
    let put = |ix: &TrackedIndex, key: &[u8], tag: u64| -> Option<u64> {
        let guard = crossbeam_epoch::pin();
        let h = ix.hash(key);
        let value = Tracked::new(tag, &ledger);
        let mut locks = ix.lock(&[(h, LockMode::Exclusive)]);
        locks.put(key, h, value, &guard).map(|old| old.tag)
    };
    let get = |ix: &TrackedIndex, key: &[u8]| -> Option<u64> {
        let guard = crossbeam_epoch::pin();
        ix.get(key, ix.hash(key), &guard).map(|n| {
            assert_eq!(n.key(), key);
            n.value().tag
        })
    };
    let del = |ix: &TrackedIndex, key: &[u8]| -> bool {
        let guard = crossbeam_epoch::pin();
        let h = ix.hash(key);
        ix.lock(&[(h, LockMode::Exclusive)]).remove(key, h, &guard)
    };

    // Keys of each length; the same `j` gives keys that are prefixes of one another,
    // and keys of one length differ in their first byte only.
    let lengths = [0usize, 1, 7, 8, 9, 255, 4096, 70_000];
    let special: Vec<Vec<u8>> = lengths
        .iter()
        .flat_map(|&len| {
            let count = if len == 0 { 1 } else { 3 };
            (0..count).map(move |j: usize| {
                (0..len)
                    .map(|b| (b.wrapping_mul(131) + j * 7) as u8)
                    .collect()
            })
        })
        .collect();
    assert_eq!(
        special.iter().collect::<HashSet<_>>().len(),
        special.len(),
        "special keys are distinct"
    );
    let filler: Vec<Vec<u8>> = (0..5000).map(key).collect();

    let ix = TrackedIndex::new();
    for (i, k) in special.iter().enumerate() {
        assert_eq!(put(&ix, k, i as u64), None);
    }
    // Enough keys that the table grows, moving the special keys' nodes by copy.
    for (i, k) in filler.iter().enumerate() {
        assert_eq!(put(&ix, k, 1_000_000 + i as u64), None);
    }
    for (i, k) in special.iter().enumerate() {
        assert_eq!(put(&ix, k, 100 + i as u64), Some(i as u64), "overwrite");
    }
    while ix.rehash_step(4096) {}
    assert!(ix.capacity() > STRIPES, "the table grew");
    assert_eq!(ix.len(), special.len() + filler.len());
    for (i, k) in special.iter().enumerate() {
        assert_eq!(
            get(&ix, k),
            Some(100 + i as u64),
            "key of {} bytes",
            k.len()
        );
    }
    for (i, k) in filler.iter().enumerate() {
        assert_eq!(get(&ix, k), Some(1_000_000 + i as u64));
    }

    // Remove every other special key and most fillers (the table shrinks), then put
    // the removed special keys back.
    for k in special.iter().step_by(2) {
        assert!(del(&ix, k));
        assert_eq!(get(&ix, k), None);
        assert!(!del(&ix, k));
    }
    for k in &filler[..4900] {
        assert!(del(&ix, k));
    }
    while ix.rehash_step(4096) {}
    assert_eq!(ix.capacity(), STRIPES, "the table shrank");
    for (i, k) in special.iter().enumerate().step_by(2) {
        assert_eq!(put(&ix, k, 200 + i as u64), None);
    }
    for (i, k) in special.iter().enumerate() {
        let tag = if i % 2 == 0 { 200 } else { 100 } + i as u64;
        assert_eq!(get(&ix, k), Some(tag), "key of {} bytes", k.len());
    }
    let mut scanned = full_scan(&ix);
    scanned.sort();
    let mut expected: Vec<Vec<u8>> = special.iter().chain(&filler[4900..]).cloned().collect();
    expected.sort();
    assert_eq!(scanned, expected);

    // Dropping the index frees what is still linked; what was retired earlier is freed
    // by the collector, which flushing drives until every value is accounted for.
    drop(ix);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (created, once, more) = ledger.tally();
        assert_eq!(more, 0, "a value was dropped twice");
        if once == created {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {created} values never dropped",
            created - once
        );
        crossbeam_epoch::pin().flush();
        std::thread::yield_now();
    }
}
