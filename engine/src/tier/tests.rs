//! The tier against a keyspace: demotion, cold reads, promotion and reclaim agree with
//! a plain map of what was written (a proptest model), and faults injected into the
//! I/O engine give errors, never wrong data.

use super::*;
use crate::io::{PsyncIoEngine, SimIoEngine};
use crate::keyspace::{Keyspace, SlotRef};
use proptest::prelude::*;
use std::collections::HashMap;

struct Fixture {
    keyspace: Arc<Keyspace>,
    tier: Tier,
    sim: Arc<SimIoEngine>,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn fixture(segment_size: u64) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let inner: Arc<dyn IoEngine> = Arc::new(PsyncIoEngine::new(4).expect("psync engine"));
    let sim = Arc::new(SimIoEngine::new(inner));
    let keyspace = Arc::new(Keyspace::new(2));
    let config = TierConfig {
        store: ColdStoreConfig {
            dir: dir.path().join("tier"),
            segment_size,
            max_size: 0,
        },
        io_engine: IoEngineKind::Psync,
        knobs: TierKnobs {
            maxmemory: 0,
            min_value_size: 1,
            max_value_size: u64::MAX,
            reclaim_threshold_pct: 50,
            promote_window_secs: 60,
            policy: MaxmemoryPolicy::Noeviction,
            max_disk: 0,
        },
    };
    let tier = Tier::start_with_io(keyspace.clone(), config, sim.clone()).expect("tier");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    Fixture {
        keyspace,
        tier,
        sim,
        runtime,
        _dir: dir,
    }
}

impl Fixture {
    fn set(&self, key: &[u8], value: &[u8], expire_at: Option<u64>) {
        let guard = crossbeam_epoch::pin();
        let db = self.keyspace.db(0);
        db.lock_key(key, crate::now_ms(), &guard)
            .set(key, Value::string(value), expire_at);
    }

    /// The value as a command would see it: from RAM, or loaded from the tier.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ColdError> {
        for _ in 0..8 {
            let loaded = self.runtime.block_on(self.tier.load(0, key))?;
            let guard = crossbeam_epoch::pin();
            let db = self.keyspace.db(0);
            let Some(entry) = db.lookup_read(key, crate::now_ms(), &guard) else {
                return Ok(None);
            };
            let value = match (entry.slot(), &loaded) {
                (SlotRef::Hot(v), _) => v.clone(),
                (SlotRef::Cold(loc), Some((at, v))) if loc == *at => v.clone(),
                // Moved between the load and the lookup: load again.
                (SlotRef::Cold(_), _) => continue,
            };
            return Ok(Some(value.record_payload().to_vec()));
        }
        panic!("the value of {key:?} kept moving");
    }

    fn cold_keys(&self) -> u64 {
        self.keyspace.gauges().cold_keys.get()
    }
}

#[test]
fn demote_load_promote() {
    let f = fixture(1 << 20);
    f.set(b"k", b"a value in the tier", None);
    assert!(f.tier.demote_key(0, b"k").expect("demote"));
    assert!(!f.tier.demote_key(0, b"k").expect("already cold"));
    assert!(!f.tier.demote_key(0, b"missing").expect("absent"));
    assert_eq!(f.cold_keys(), 1);
    assert_eq!(f.keyspace.gauges().hot_value_bytes.get(), 0);
    // The first read leaves it cold; the second, soon after, promotes it.
    assert_eq!(
        f.get(b"k").expect("read").as_deref(),
        Some(&b"a value in the tier"[..])
    );
    assert_eq!(f.cold_keys(), 1);
    assert_eq!(
        f.get(b"k").expect("read").as_deref(),
        Some(&b"a value in the tier"[..])
    );
    assert_eq!(f.cold_keys(), 0);
    assert_eq!(f.tier.stats().promotions.get(), 1);
    let report = f.tier.report();
    assert_eq!(report.store.live_bytes, 0, "the promoted record is dead");
    assert_eq!(report.demotions, 1);
}

#[test]
fn failed_and_short_reads_are_errors_not_wrong_data() {
    let f = fixture(1 << 20);
    f.set(b"k", &[7u8; 3000], None);
    assert!(f.tier.demote_key(0, b"k").expect("demote"));
    f.sim.fail_read(1);
    assert!(matches!(f.get(b"k"), Err(ColdError::Io { .. })));
    f.sim.short_read(1, 0);
    assert!(f.get(b"k").is_err());
    assert_eq!(f.tier.report().store.read_errors, 2);
    assert_eq!(
        f.get(b"k").expect("read").as_deref(),
        Some(&[7u8; 3000][..])
    );
}

#[test]
fn failed_write_leaves_the_value_in_ram() {
    let f = fixture(1 << 20);
    f.set(b"k", b"stays", None);
    f.sim.fail_write(1);
    assert!(f.tier.demote_key(0, b"k").is_err());
    assert_eq!(f.cold_keys(), 0);
    assert_eq!(f.get(b"k").expect("read").as_deref(), Some(&b"stays"[..]));
    assert!(f.tier.demote_key(0, b"k").expect("demote"));
    assert_eq!(f.get(b"k").expect("read").as_deref(), Some(&b"stays"[..]));
}

#[test]
fn overwrites_and_deletes_kill_records_and_reclaim_frees_segments() {
    let f = fixture(1 << 20);
    let value = vec![1u8; 2000];
    for i in 0..2000u32 {
        let key = format!("key{i}");
        f.set(key.as_bytes(), &value, None);
        assert!(f.tier.demote_key(0, key.as_bytes()).expect("demote"));
    }
    assert!(f.tier.report().store.segments >= 3);
    let guard = crossbeam_epoch::pin();
    let db = f.keyspace.db(0);
    for i in (0..2000u32).filter(|i| i % 5 != 0) {
        let key = format!("key{i}");
        assert!(db
            .lock_key(key.as_bytes(), crate::now_ms(), &guard)
            .remove(key.as_bytes()));
    }
    drop(guard);
    let moved = f.tier.reclaim_now().expect("reclaim");
    let report = f.tier.report();
    assert!(report.store.reclaimed_segments > 0, "{:?}", report.store);
    assert!(moved > 0 || report.relocations > 0);
    assert!(
        report.store.live_bytes * 2 >= report.store.written_bytes,
        "{:?}",
        report.store
    );
    for i in 0..2000u32 {
        let key = format!("key{i}");
        let want = (i % 5 == 0).then(|| value.clone());
        assert_eq!(f.get(key.as_bytes()).expect("read"), want, "{key}");
    }
}

/// A snapshot taken while most values are cold, and while another thread deletes
/// and overwrites keys and the reclaimer frees the segments they were in, holds every
/// key as it was when the snapshot started, cold values read from where they were.
#[test]
fn a_snapshot_of_cold_values_is_the_keyspace_at_its_start() {
    use crate::snapshot::{save, SnapshotReader};
    use std::sync::mpsc;
    let f = fixture(1 << 20);
    let value_of = |i: u32| format!("{i:0>1500}").into_bytes();
    for i in 0..1500u32 {
        let key = format!("key{i}");
        f.set(
            key.as_bytes(),
            &value_of(i),
            i.is_multiple_of(7).then_some(u64::MAX / 2),
        );
        if i % 3 != 0 {
            assert!(f.tier.demote_key(0, key.as_bytes()).expect("demote"));
        }
    }
    let (started, start) = mpsc::channel();
    let mut file = Vec::new();
    let fx = &f;
    std::thread::scope(|s| {
        let churn = s.spawn(move || {
            let f = fx;
            start.recv().expect("the capture starts");
            let guard = crossbeam_epoch::pin();
            let db = f.keyspace.db(0);
            for i in 0..1500u32 {
                let key = format!("key{i}");
                let mut txn = db.lock_key(key.as_bytes(), crate::now_ms(), &guard);
                if i % 2 == 0 {
                    txn.remove(key.as_bytes());
                } else {
                    txn.set(key.as_bytes(), Value::string(b"new"), None);
                }
            }
            drop(guard);
            f.tier.reclaim_now().expect("reclaim")
        });
        let summary = save(&fx.keyspace, Some(&fx.tier), &mut file, || {
            started.send(()).expect("send");
        })
        .expect("save");
        assert_eq!(summary.records, 1500);
        churn.join().expect("churn");
    });
    let mut reader = SnapshotReader::new(&file[..]).expect("header");
    let mut seen = 0;
    while let Some(record) = reader.next_record().expect("record") {
        let i: u32 = std::str::from_utf8(&record.key[3..])
            .expect("utf8")
            .parse()
            .expect("n");
        assert_eq!(record.db, 0);
        assert_eq!(record.value, Value::string(&value_of(i)), "key{i}");
        assert_eq!(
            record.expire_at,
            i.is_multiple_of(7).then_some(u64::MAX / 2)
        );
        seen += 1;
    }
    assert_eq!(seen, 1500);
    assert_eq!(f.get(b"key1").expect("read"), Some(b"new".to_vec()));
    assert_eq!(f.get(b"key2").expect("read"), None);
}

#[derive(Clone, Debug)]
enum Op {
    Set(u8, Vec<u8>),
    Append(u8, Vec<u8>),
    Get(u8),
    Del(u8),
    /// A deadline far ahead, or one already past.
    Expire(u8, bool),
    Demote(u8),
    DemoteAll,
    Reclaim,
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u8..24;
    let value = prop::collection::vec(any::<u8>(), 0..600);
    prop_oneof![
        3 => (key.clone(), value.clone()).prop_map(|(k, v)| Op::Set(k, v)),
        2 => (key.clone(), value).prop_map(|(k, v)| Op::Append(k, v)),
        4 => key.clone().prop_map(Op::Get),
        1 => key.clone().prop_map(Op::Del),
        1 => (key.clone(), any::<bool>()).prop_map(|(k, past)| Op::Expire(k, past)),
        3 => key.prop_map(Op::Demote),
        1 => Just(Op::DemoteAll),
        1 => Just(Op::Reclaim),
    ]
}

fn key_name(k: u8) -> Vec<u8> {
    format!("model-key-{k}").into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random writes, reads, deletes and expiries with constant demotion, promotion
    /// and reclaim answer exactly as a map of the values written.
    #[test]
    fn tiered_keyspace_matches_a_map(ops in prop::collection::vec(op(), 1..160)) {
        let f = fixture(1 << 20);
        let mut model: HashMap<u8, Vec<u8>> = HashMap::new();
        for op in ops {
            match op {
                Op::Set(k, v) => {
                    f.set(&key_name(k), &v, None);
                    model.insert(k, v);
                }
                Op::Append(k, v) => {
                    let mut current = f.get(&key_name(k)).expect("read").unwrap_or_default();
                    current.extend_from_slice(&v);
                    f.set(&key_name(k), &current, None);
                    model.entry(k).or_default().extend_from_slice(&v);
                }
                Op::Get(k) => {
                    prop_assert_eq!(f.get(&key_name(k)).expect("read"), model.get(&k).cloned());
                }
                Op::Del(k) => {
                    let guard = crossbeam_epoch::pin();
                    let db = f.keyspace.db(0);
                    let removed = db.lock_key(&key_name(k), crate::now_ms(), &guard).remove(&key_name(k));
                    prop_assert_eq!(removed, model.remove(&k).is_some());
                }
                Op::Expire(k, past) => {
                    let at = if past { 1 } else { crate::now_ms() + 3_600_000 };
                    let guard = crossbeam_epoch::pin();
                    let db = f.keyspace.db(0);
                    let found = db.lock_key(&key_name(k), crate::now_ms(), &guard).set_expire(&key_name(k), Some(at));
                    prop_assert_eq!(found, model.contains_key(&k));
                    if past {
                        model.remove(&k);
                    }
                }
                Op::Demote(k) => {
                    f.tier.demote_key(0, &key_name(k)).expect("demote");
                }
                Op::DemoteAll => {
                    for k in 0..24 {
                        f.tier.demote_key(0, &key_name(k)).expect("demote");
                    }
                }
                Op::Reclaim => {
                    f.tier.reclaim_now().expect("reclaim");
                }
            }
        }
        for k in 0..24u8 {
            prop_assert_eq!(f.get(&key_name(k)).expect("read"), model.get(&k).cloned());
        }
        // Every record still counted live is one a key points at.
        let cold: u64 = (0..24u8)
            .filter_map(|k| {
                let guard = crossbeam_epoch::pin();
                let db = f.keyspace.db(0);
                db.get(&key_name(k), crate::now_ms(), &guard)
                    .and_then(|e| e.cold())
                    .map(|loc| loc.accounted_len() as u64)
            })
            .sum();
        prop_assert_eq!(f.tier.report().store.live_bytes, cold);
    }
}
