//! A model test of one database: random operations (set with or without a deadline,
//! keep-TTL set, change or drop a deadline, delete, read, scan, active expiry, time
//! passing, flush) run against `Db` and against a `HashMap` of values and deadlines.
//! Every read, the key count after active expiry, and a full SCAN must agree with the
//! model, while the index grows and shrinks underneath.

use super::{Db, Keyspace};
use crate::value::Value;
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
enum Op {
    Set {
        key: u16,
        value: u8,
        ttl: Option<u64>,
    },
    SetKeepTtl {
        key: u16,
        value: u8,
    },
    Expire {
        key: u16,
        ttl: Option<u64>,
    },
    Del {
        key: u16,
    },
    Get {
        key: u16,
    },
    Advance {
        ms: u64,
    },
    ActiveExpire,
    Rehash,
    Scan,
    Flush,
}

fn op() -> impl Strategy<Value = Op> {
    // Keys from a range wide enough to make the table grow past its first size.
    let key = 0u16..3000;
    let ttl = prop::option::of(1u64..200);
    prop_oneof![
        30 => (key.clone(), any::<u8>(), ttl.clone()).prop_map(|(key, value, ttl)| Op::Set { key, value, ttl }),
        5 => (key.clone(), any::<u8>()).prop_map(|(key, value)| Op::SetKeepTtl { key, value }),
        8 => (key.clone(), ttl).prop_map(|(key, ttl)| Op::Expire { key, ttl }),
        10 => key.clone().prop_map(|key| Op::Del { key }),
        20 => key.prop_map(|key| Op::Get { key }),
        6 => (1u64..100).prop_map(|ms| Op::Advance { ms }),
        3 => Just(Op::ActiveExpire),
        3 => Just(Op::Rehash),
        1 => Just(Op::Scan),
        1 => Just(Op::Flush),
    ]
}

/// What the model holds per key: the value byte and the deadline.
type Model = HashMap<u16, (u8, Option<u64>)>;

fn key_bytes(key: u16) -> Vec<u8> {
    format!("key:{key}").into_bytes()
}

fn value_of(v: u8) -> Value {
    Value::string(&[v; 3])
}

/// The model's live view at `now`: a key whose deadline is before `now` is gone.
fn live(model: &Model, key: u16, now: u64) -> Option<(u8, Option<u64>)> {
    model
        .get(&key)
        .copied()
        .filter(|(_, at)| at.is_none_or(|at| at >= now))
}

fn check_get(db: &Db, model: &Model, key: u16, now: u64) {
    let guard = crossbeam_epoch::pin();
    let got = db.get(&key_bytes(key), now, &guard).map(|e| {
        (
            e.hot().cloned().expect("values stay in RAM here"),
            e.expire_at(),
        )
    });
    let want = live(model, key, now).map(|(v, at)| (value_of(v), at));
    assert_eq!(got, want, "key {key} at {now}");
}

fn run(ops: Vec<Op>) {
    let keyspace = Keyspace::new(1);
    let db = keyspace.db(0);
    let mut model = Model::new();
    let mut now = 1_000_000u64;
    for op in ops {
        let guard = crossbeam_epoch::pin();
        match op {
            Op::Set { key, value, ttl } => {
                let k = key_bytes(key);
                db.lock_key(&k, now, &guard)
                    .set(&k, value_of(value), ttl.map(|t| now + t));
                model.insert(key, (value, ttl.map(|t| now + t)));
            }
            Op::SetKeepTtl { key, value } => {
                let k = key_bytes(key);
                db.lock_key(&k, now, &guard)
                    .set_keep_ttl(&k, value_of(value));
                let at = live(&model, key, now).and_then(|(_, at)| at);
                model.insert(key, (value, at));
            }
            Op::Expire { key, ttl } => {
                let k = key_bytes(key);
                let changed = db
                    .lock_key(&k, now, &guard)
                    .set_expire(&k, ttl.map(|t| now + t));
                let exists = live(&model, key, now).is_some();
                assert_eq!(changed, exists, "set_expire on key {key}");
                if let Some(entry) = model.get_mut(&key).filter(|_| exists) {
                    entry.1 = ttl.map(|t| now + t);
                }
            }
            Op::Del { key } => {
                let k = key_bytes(key);
                let removed = db.lock_key(&k, now, &guard).remove(&k);
                assert_eq!(
                    removed,
                    live(&model, key, now).is_some(),
                    "remove key {key}"
                );
                model.remove(&key);
            }
            Op::Get { key } => check_get(&db, &model, key, now),
            Op::Advance { ms } => now += ms,
            Op::ActiveExpire => {
                // Run the cron until it has visited every stripe; then no key past its
                // deadline is left, and the count matches the model's live keys.
                keyspace.cron(now, Duration::from_secs(5), true);
                model.retain(|_, (_, at)| at.is_none_or(|at| at >= now));
                assert_eq!(db.len(), model.len(), "keys after active expiry at {now}");
                assert_eq!(
                    db.volatile_len(),
                    model.values().filter(|(_, at)| at.is_some()).count(),
                    "keys with a deadline"
                );
            }
            Op::Rehash => {
                let deadline = Instant::now() + Duration::from_secs(5);
                while db.rehash_step(512) && Instant::now() < deadline {}
            }
            Op::Scan => {
                let mut seen = BTreeSet::new();
                let mut cursor = 0;
                loop {
                    cursor = db.scan(cursor, now, &guard, |k, _| {
                        seen.insert(k.to_vec());
                    });
                    if cursor == 0 {
                        break;
                    }
                }
                let want: BTreeSet<Vec<u8>> = model
                    .keys()
                    .filter(|k| live(&model, **k, now).is_some())
                    .map(|k| key_bytes(*k))
                    .collect();
                assert_eq!(seen, want, "scan at {now}");
            }
            Op::Flush => {
                db.flush();
                model.clear();
                assert_eq!(db.len(), 0);
            }
        }
    }
    for key in 0..3000 {
        check_get(&db, &model, key, now);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn db_agrees_with_a_hashmap_model(ops in prop::collection::vec(op(), 1..1500)) {
        run(ops);
    }
}
