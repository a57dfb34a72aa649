//! Proptest models of the collection types: random operations on a [`Hash`] and a
//! [`Set`] with small thresholds (so both encodings and the conversion are exercised)
//! against a `HashMap` / `BTreeSet`, checking contents, length, payload length, the
//! payload round trip, a full scan and that a copy taken before a write never changes.

use super::{Hash, Limits, Set, Value};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

fn limits() -> Limits {
    Limits {
        hash_max_listpack_entries: 8,
        hash_max_listpack_value: 6,
        set_max_intset_entries: 8,
    }
}

#[derive(Debug, Clone)]
enum Op {
    Set(String, String),
    Remove(String),
}

fn member() -> impl Strategy<Value = String> {
    prop_oneof![
        (0..20i64).prop_map(|n| n.to_string()),
        "[a-c]{1,8}",
        Just("-7".to_string()),
        Just("07".to_string()),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            3 => (member(), "[x-z]{0,8}").prop_map(|(f, v)| Op::Set(f, v)),
            1 => member().prop_map(Op::Remove),
        ],
        0..80,
    )
}

fn round_trip(v: &Value) -> Value {
    Value::from_record(v.record_type(), v.record_payload()).expect("decodes")
}

proptest! {
    #[test]
    fn hash_matches_a_map(ops in ops()) {
        let mut h = Hash::new();
        let mut model = BTreeMap::new();
        for op in ops {
            let before = Arc::new(h.clone());
            let snapshot: Vec<(Vec<u8>, Vec<u8>)> =
                before.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            match op {
                Op::Set(f, v) => {
                    let new = h.set(f.as_bytes(), v.as_bytes(), &limits());
                    prop_assert_eq!(new, model.insert(f, v).is_none());
                }
                Op::Remove(f) => prop_assert_eq!(h.remove(f.as_bytes()), model.remove(&f).is_some()),
            }
            let after: Vec<(Vec<u8>, Vec<u8>)> =
                before.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            prop_assert_eq!(snapshot, after, "a copy changed");
            prop_assert_eq!(h.len(), model.len());
            let mut payload = Vec::new();
            h.write_payload(&mut payload);
            prop_assert_eq!(h.payload_len(), payload.len());
        }
        let got: BTreeMap<String, String> = h
            .iter()
            .map(|(f, v)| (String::from_utf8_lossy(f).into(), String::from_utf8_lossy(v).into()))
            .collect();
        prop_assert_eq!(&got, &model);
        let mut scanned = BTreeMap::new();
        let mut cursor = 0;
        loop {
            cursor = h.scan(cursor, 3, |f, v| {
                scanned.insert(String::from_utf8_lossy(f).into_owned(), String::from_utf8_lossy(v).into_owned());
            });
            if cursor == 0 {
                break;
            }
        }
        prop_assert_eq!(&scanned, &model);
        let v = Value::Hash(Arc::new(h));
        prop_assert_eq!(round_trip(&v), v);
    }

    #[test]
    fn set_matches_a_set(ops in ops()) {
        let mut s = Set::intset();
        let mut model = BTreeSet::new();
        for op in ops {
            match op {
                Op::Set(m, _) => prop_assert_eq!(s.add(m.as_bytes(), &limits()), model.insert(m)),
                Op::Remove(m) => prop_assert_eq!(s.remove(m.as_bytes()), model.remove(&m)),
            }
            prop_assert_eq!(s.len(), model.len());
            let mut payload = Vec::new();
            s.write_payload(&mut payload);
            prop_assert_eq!(s.payload_len(), payload.len());
            let all_ints = model.iter().all(|m| super::set::canonical_int(m.as_bytes()).is_some());
            if !all_ints || model.len() > 8 {
                prop_assert_eq!(s.encoding(), "hashtable");
            }
        }
        let got: BTreeSet<String> = s.iter().map(|m| String::from_utf8_lossy(&m).into_owned()).collect();
        prop_assert_eq!(&got, &model);
        for m in &model {
            prop_assert!(s.contains(m.as_bytes()));
        }
        let mut scanned = BTreeSet::new();
        let mut cursor = 0;
        loop {
            cursor = s.scan(cursor, 2, |m| {
                scanned.insert(String::from_utf8_lossy(&m).into_owned());
            });
            if cursor == 0 {
                break;
            }
        }
        prop_assert_eq!(&scanned, &model);
        let v = Value::Set(Arc::new(s));
        prop_assert_eq!(round_trip(&v), v);
    }
}

proptest! {
    /// Payload bytes from anywhere (a damaged record whose crc still matched, a
    /// hand-made snapshot) never panic the decoder: a value or an error. A value that
    /// decodes encodes to a payload that decodes to it again.
    #[test]
    fn any_payload_decodes_or_is_refused(
        value_type in prop_oneof![Just(2u8), Just(4u8)],
        bytes in prop::collection::vec(any::<u8>(), 0..64),
        flip in any::<prop::sample::Index>(),
        from_valid in any::<bool>(),
    ) {
        let payload = if from_valid {
            // A valid payload with one byte changed.
            let mut h = Hash::new();
            h.set(b"field", &bytes, &limits());
            let mut s = Set::intset();
            s.add(b"12", &limits());
            let v = if value_type == 4 { Value::Hash(Arc::new(h)) } else { Value::Set(Arc::new(s)) };
            let mut p = v.record_payload().to_vec();
            let i = flip.index(p.len());
            p[i] ^= 0x5a;
            p
        } else {
            bytes
        };
        if let Ok(v) = Value::from_record(value_type, payload.into()) {
            prop_assert_eq!(round_trip(&v), v);
        }
    }
}
