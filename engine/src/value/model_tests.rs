//! Proptest models of the collection types: random operations on a [`Hash`], a
//! [`Set`] and a [`ZSet`] with small thresholds (so both encodings and the conversion
//! are exercised) against a `HashMap` / `BTreeSet` / `BTreeMap` in (score, member)
//! order, and on a [`List`] against a `VecDeque`, checking contents, length, payload
//! length, the payload round trip, a full scan and that a copy taken before a write
//! never changes.

use super::list::End;
use super::zset::{LexBound, ScoreBound};
use super::{Hash, Limits, List, Set, Value, ZSet};
use bytes::Bytes;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

fn limits() -> Limits {
    Limits {
        hash_max_listpack_entries: 8,
        hash_max_listpack_value: 6,
        set_max_intset_entries: 8,
        zset_max_listpack_entries: 8,
        zset_max_listpack_value: 6,
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

/// An operation on a sorted set and its model.
#[derive(Debug, Clone)]
enum ZOp {
    Insert(String, i8),
    Remove(String),
    /// Pops the first (or last) member, as ZPOPMIN (ZPOPMAX) does.
    Pop(bool),
}

fn zops() -> impl Strategy<Value = Vec<ZOp>> {
    prop::collection::vec(
        prop_oneof![
            4 => (member(), -3..4i8).prop_map(|(m, s)| ZOp::Insert(m, s)),
            1 => member().prop_map(ZOp::Remove),
            1 => any::<bool>().prop_map(ZOp::Pop),
        ],
        0..80,
    )
}

/// The model: (score, member) in order, scores being small integers.
type ZModel = BTreeSet<(i8, String)>;

fn score_in(model: &ZModel, member: &str) -> Option<i8> {
    model.iter().find(|(_, m)| m == member).map(|e| e.0)
}

proptest! {
    #[test]
    fn zset_matches_an_ordered_model(ops in zops(), lo in -4..5i8, hi in -4..5i8, lo_ex: bool, hi_ex: bool) {
        let mut z = ZSet::default();
        let mut model = ZModel::new();
        for op in ops {
            let before = z.clone();
            match op {
                ZOp::Insert(m, s) => {
                    let old = score_in(&model, &m);
                    if let Some(o) = old {
                        model.remove(&(o, m.clone()));
                    }
                    model.insert((s, m.clone()));
                    prop_assert_eq!(z.insert(m.as_bytes(), f64::from(s), &limits()), old.map(f64::from));
                }
                ZOp::Remove(m) => {
                    let old = score_in(&model, &m);
                    if let Some(o) = old {
                        model.remove(&(o, m.clone()));
                    }
                    prop_assert_eq!(z.remove(m.as_bytes()), old.map(f64::from));
                }
                ZOp::Pop(max) => {
                    let popped = if max { model.pop_last() } else { model.pop_first() };
                    let rank = if max { z.len().saturating_sub(1) } else { 0 };
                    let first = z.slice(rank, rank + 1).pop();
                    if let Some((m, _)) = &first {
                        z.remove(m);
                    }
                    prop_assert_eq!(
                        first.map(|(m, s)| (s as i8, String::from_utf8_lossy(&m).into_owned())),
                        popped
                    );
                }
            }
            prop_assert_eq!(before.len(), before.iter_from(0).count(), "a copy changed");
            prop_assert_eq!(z.len(), model.len());
            let mut payload = Vec::new();
            z.write_payload(&mut payload);
            prop_assert_eq!(z.payload_len(), payload.len());
            let long = model.iter().any(|(_, m)| m.len() > 6);
            if long || model.len() > 8 {
                prop_assert_eq!(z.encoding(), "skiplist");
            }
        }
        let got: Vec<(i8, String)> =
            z.iter_from(0).map(|(m, s)| (s as i8, String::from_utf8_lossy(m).into_owned())).collect();
        let want: Vec<(i8, String)> = model.iter().cloned().collect();
        prop_assert_eq!(&got, &want);
        for (rank, (s, m)) in want.iter().enumerate() {
            prop_assert_eq!(z.rank(m.as_bytes()), Some(rank));
            prop_assert_eq!(z.score(m.as_bytes()), Some(f64::from(*s)));
            let from: Vec<String> = z.iter_from(rank).map(|(m, _)| String::from_utf8_lossy(m).into_owned()).collect();
            let want_from: Vec<String> = want[rank..].iter().map(|e| e.1.clone()).collect();
            prop_assert_eq!(from, want_from);
        }
        // By score: the model's members within the bounds are the ranks found.
        let (start, end) = z.score_range(
            ScoreBound { score: f64::from(lo), exclusive: lo_ex },
            ScoreBound { score: f64::from(hi), exclusive: hi_ex },
        );
        let in_range = |s: i8| (if lo_ex { s > lo } else { s >= lo }) && (if hi_ex { s < hi } else { s <= hi });
        let by_score: Vec<&(i8, String)> = want.iter().filter(|e| in_range(e.0)).collect();
        prop_assert_eq!(end - start, by_score.len());
        prop_assert!(by_score.iter().enumerate().all(|(i, e)| want[start + i] == **e));
        // By member, among the members of one score (as Redis means it).
        let same: Vec<String> = want.iter().filter(|e| e.0 == lo).map(|e| e.1.clone()).collect();
        let mut lex = ZSet::default();
        for m in &same {
            lex.insert(m.as_bytes(), 0.0, &limits());
        }
        let (a, b) = lex.lex_range(&LexBound::Exclusive("a".into()), &LexBound::Inclusive("b".into()));
        let want_lex: Vec<&String> = same.iter().filter(|m| m.as_str() > "a" && m.as_str() <= "b").collect();
        let got_lex: Vec<String> = lex.slice(a, b).iter().map(|(m, _)| String::from_utf8_lossy(m).into_owned()).collect();
        prop_assert_eq!(got_lex.iter().collect::<Vec<_>>(), want_lex);
        let mut scanned = BTreeSet::new();
        let mut cursor = 0;
        loop {
            cursor = z.scan(cursor, 2, |m, s| {
                scanned.insert((s as i8, String::from_utf8_lossy(m).into_owned()));
            });
            if cursor == 0 {
                break;
            }
        }
        prop_assert_eq!(&scanned, &model);
        let v = Value::ZSet(Arc::new(z));
        prop_assert_eq!(round_trip(&v), v);
    }
}

#[derive(Debug, Clone)]
enum ListOp {
    Push(bool, String),
    Pop(bool),
    Set(usize, String),
}

fn list_ops() -> impl Strategy<Value = Vec<ListOp>> {
    prop::collection::vec(
        prop_oneof![
            3 => (any::<bool>(), "[a-d]{0,4}").prop_map(|(h, e)| ListOp::Push(h, e)),
            2 => any::<bool>().prop_map(ListOp::Pop),
            1 => (0..40usize, "[x-z]{0,3}").prop_map(|(i, e)| ListOp::Set(i, e)),
        ],
        0..200,
    )
}

fn end(head: bool) -> End {
    match head {
        true => End::Head,
        false => End::Tail,
    }
}

proptest! {
    /// Pushes, pops (crossing the middle of the deque both ways) and sets against a
    /// `VecDeque`: contents, every index, length, payload length, a copy taken before
    /// each write unchanged, and the payload round trip.
    #[test]
    fn list_matches_a_deque(ops in list_ops()) {
        let mut l = List::new();
        let mut model: VecDeque<Bytes> = VecDeque::new();
        for op in ops {
            let before = l.clone();
            let model_before = model.clone();
            match op {
                ListOp::Push(head, e) => {
                    let e = Bytes::from(e);
                    l.push(end(head), e.clone());
                    match head {
                        true => model.push_front(e),
                        false => model.push_back(e),
                    }
                }
                ListOp::Pop(head) => {
                    let want = match head {
                        true => model.pop_front(),
                        false => model.pop_back(),
                    };
                    prop_assert_eq!(l.pop(end(head)), want);
                }
                ListOp::Set(i, e) => {
                    let e = Bytes::from(e);
                    let want = i < model.len();
                    if want {
                        model[i] = e.clone();
                    }
                    prop_assert_eq!(l.set(i, e), want);
                }
            }
            prop_assert!(before.iter().eq(model_before.iter()), "a copy changed");
            prop_assert_eq!(l.len(), model.len());
            prop_assert!(l.iter().eq(model.iter()));
            prop_assert!(l.iter().rev().eq(model.iter().rev()));
            for (i, e) in model.iter().enumerate() {
                prop_assert_eq!(l.get(i), Some(e));
            }
            prop_assert_eq!(l.get(model.len()), None);
            let mut payload = Vec::new();
            l.write_payload(&mut payload);
            prop_assert_eq!(l.payload_len(), payload.len());
        }
        let v = Value::List(Arc::new(l));
        prop_assert_eq!(round_trip(&v), v);
    }
}

proptest! {
    /// Payload bytes from anywhere (a damaged record whose crc still matched, a
    /// hand-made snapshot) never panic the decoder: a value or an error. A value that
    /// decodes encodes to a payload that decodes to it again.
    #[test]
    fn any_payload_decodes_or_is_refused(
        value_type in prop_oneof![Just(1u8), Just(2u8), Just(3u8), Just(4u8)],
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
            let mut z = ZSet::default();
            z.insert(&bytes, 1.5, &limits());
            let l: List = [Bytes::from(bytes.clone()), Bytes::from_static(b"x")].into_iter().collect();
            let v = match value_type {
                4 => Value::Hash(Arc::new(h)),
                3 => Value::ZSet(Arc::new(z)),
                2 => Value::Set(Arc::new(s)),
                _ => Value::List(Arc::new(l)),
            };
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
