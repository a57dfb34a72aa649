//! The set type, as Redis 7.0's t_set.c encodes it: an `intset` (sorted integers)
//! while every member is an integer in canonical form and there are at most
//! `set-max-intset-entries`, else for good a `hashtable` ([`Table`]). (Redis 7.0 has
//! no listpack sets: a small set of other strings is a hashtable.) As every value, a
//! set is never changed in place once in the index: a write clones it and stores the
//! clone.

use super::payload::{PayloadReader, PayloadWriter, ENCODING_COMPACT, ENCODING_TABLE};
use super::table::Table;
use super::{Limits, MalformedPayload};
use rand::Rng;
use std::borrow::Cow;

/// A set's members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Set {
    enc: Encoding,
    /// The length of the record payload ([`Set::write_payload`]), kept as it changes.
    payload: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Encoding {
    Intset(Vec<i64>),
    Table(Table<()>),
}

/// The integer `member` spells in canonical form, as Redis's `string2ll` accepts it
/// (no sign but a minus, no leading zero, no "-0", within 64 bits).
pub fn canonical_int(member: &[u8]) -> Option<i64> {
    if member.is_empty() || member.len() > 20 {
        return None;
    }
    let n: i64 = std::str::from_utf8(member).ok()?.parse().ok()?;
    (itoa::Buffer::new().format(n).as_bytes() == member).then_some(n)
}

/// Payload bytes of one member.
fn member_len(len: usize) -> usize {
    4 + len
}

fn int_bytes(n: i64) -> Cow<'static, [u8]> {
    Cow::Owned(itoa::Buffer::new().format(n).as_bytes().to_vec())
}

impl Default for Set {
    /// An empty intset (see [`Set::intset`]).
    fn default() -> Self {
        Set::intset()
    }
}

impl Set {
    /// An empty intset (Redis's `createIntsetObject`): where SINTERSTORE, SUNIONSTORE
    /// and SDIFFSTORE build their results.
    pub fn intset() -> Set {
        Set {
            enc: Encoding::Intset(Vec::new()),
            payload: super::payload::HEADER_LEN,
        }
    }

    /// An empty set of the encoding Redis gives a new set whose first member is
    /// `member` (`setTypeCreate`): an intset for an integer, else a hashtable.
    pub fn for_member(member: &[u8]) -> Set {
        let mut set = Set::intset();
        if canonical_int(member).is_none() {
            set.convert();
        }
        set
    }

    pub fn len(&self) -> usize {
        match &self.enc {
            Encoding::Intset(v) => v.len(),
            Encoding::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self.enc {
            Encoding::Intset(_) => "intset",
            Encoding::Table(_) => "hashtable",
        }
    }

    /// Bytes of this set's record payload, also its size for memory reports.
    pub fn payload_len(&self) -> usize {
        self.payload
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.enc {
            Encoding::Intset(v) => {
                canonical_int(member).is_some_and(|n| v.binary_search(&n).is_ok())
            }
            Encoding::Table(t) => t.get(member).is_some(),
        }
    }

    /// Every member: an intset in ascending order, a table in hash order.
    pub fn iter(&self) -> impl Iterator<Item = Cow<'_, [u8]>> {
        let (ints, table) = match &self.enc {
            Encoding::Intset(v) => (Some(v.iter().map(|&n| int_bytes(n))), None),
            Encoding::Table(t) => (None, Some(t.iter().map(|(m, _)| Cow::Borrowed(m)))),
        };
        ints.into_iter()
            .flatten()
            .chain(table.into_iter().flatten())
    }

    /// Adds `member` (Redis's `setTypeAdd`); returns whether it is new. An intset
    /// becomes a table for a member that is no integer, or past
    /// `set-max-intset-entries`.
    pub fn add(&mut self, member: &[u8], limits: &Limits) -> bool {
        if let Encoding::Intset(v) = &mut self.enc {
            if let Some(n) = canonical_int(member) {
                let Err(at) = v.binary_search(&n) else {
                    return false;
                };
                v.insert(at, n);
                self.payload += member_len(member.len());
                if v.len() > limits.set_max_intset_entries {
                    self.convert();
                }
                return true;
            }
            self.convert();
        }
        let Encoding::Table(t) = &mut self.enc else {
            unreachable!("converted above");
        };
        let added = t.insert(member, ()).is_none();
        if added {
            self.payload += member_len(member.len());
        }
        added
    }

    /// Removes `member`; returns whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        let removed = match &mut self.enc {
            Encoding::Intset(v) => match canonical_int(member).map(|n| v.binary_search(&n)) {
                Some(Ok(at)) => {
                    v.remove(at);
                    true
                }
                _ => false,
            },
            Encoding::Table(t) => t.remove(member).is_some(),
        };
        if removed {
            self.payload -= member_len(member.len());
        }
        removed
    }

    /// A random member (None when empty).
    pub fn random(&self, rng: &mut impl Rng) -> Option<Cow<'_, [u8]>> {
        match &self.enc {
            Encoding::Intset(v) if v.is_empty() => None,
            Encoding::Intset(v) => Some(int_bytes(v[rng.gen_range(0..v.len())])),
            Encoding::Table(t) => t.random(rng).map(|(m, _)| Cow::Borrowed(m)),
        }
    }

    /// One SSCAN step from `cursor` (see [`Table::scan`]); an intset gives everything
    /// at once and cursor 0, as Redis does.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(Cow<'a, [u8]>),
    ) -> u64 {
        match &self.enc {
            Encoding::Intset(_) => {
                self.iter().for_each(visit);
                0
            }
            Encoding::Table(t) => t.scan(cursor, count, |m, _| visit(Cow::Borrowed(m))),
        }
    }

    /// This set in the encoding Redis gives it when loading an RDB file: an intset if
    /// every member is an integer and there are at most `set-max-intset-entries`, else
    /// a hashtable (a copy only if that changes).
    pub fn fitted(self: std::sync::Arc<Self>, limits: &Limits) -> std::sync::Arc<Set> {
        let fits = self.len() <= limits.set_max_intset_entries
            && self.iter().all(|m| canonical_int(&m).is_some());
        if fits == matches!(self.enc, Encoding::Intset(_)) {
            return self;
        }
        let mut out = Set::intset();
        if !fits {
            out.convert();
        }
        for m in self.iter() {
            out.add(&m, &Limits::unbounded());
        }
        std::sync::Arc::new(out)
    }

    fn convert(&mut self) {
        if let Encoding::Intset(v) = &self.enc {
            let mut table = Table::default();
            for &n in v {
                table.insert(&int_bytes(n), ());
            }
            self.enc = Encoding::Table(table);
        }
    }

    /// The record payload (docs/FORMAT.md, "Value payloads"): the encoding, the
    /// count, then each member (an intset's in ascending order, in decimal).
    pub fn write_payload(&self, out: &mut Vec<u8>) {
        let encoding = match self.enc {
            Encoding::Intset(_) => ENCODING_COMPACT,
            Encoding::Table(_) => ENCODING_TABLE,
        };
        let mut w = PayloadWriter::new(out, encoding, self.len());
        for m in self.iter() {
            w.string(&m);
        }
    }

    /// The set a payload holds, in the encoding it names. Refuses a payload that does
    /// not decode exactly, repeats a member, or has an intset member that is not a
    /// canonical integer above the one before.
    pub fn from_payload(payload: &[u8]) -> Result<Set, MalformedPayload> {
        let (mut r, encoding, count) = PayloadReader::new(payload)?;
        let mut set = Set::intset();
        if encoding == ENCODING_TABLE {
            set.convert();
        }
        let unbounded = Limits::unbounded();
        let mut last = None;
        for _ in 0..count {
            let member = r.string()?;
            if encoding == ENCODING_COMPACT {
                let n = canonical_int(member)
                    .ok_or(MalformedPayload("an intset member is not an integer"))?;
                if last.is_some_and(|l| l >= n) {
                    return Err(MalformedPayload("intset members out of order"));
                }
                last = Some(n);
            }
            if !set.add(member, &unbounded) {
                return Err(MalformedPayload("a member appears twice"));
            }
        }
        r.finish()?;
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload_of(s: &Set) -> Vec<u8> {
        let mut out = Vec::new();
        s.write_payload(&mut out);
        out
    }

    #[test]
    fn canonical_integers_only() {
        for ok in [
            "0",
            "-1",
            "12",
            "9223372036854775807",
            "-9223372036854775808",
        ] {
            assert!(canonical_int(ok.as_bytes()).is_some(), "{ok}");
        }
        for bad in [
            "",
            "+1",
            "01",
            "-0",
            " 1",
            "1 ",
            "9223372036854775808",
            "1.0",
            "a",
        ] {
            assert_eq!(canonical_int(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn intset_sorted_until_a_string_or_the_limit() {
        let l = Limits {
            set_max_intset_entries: 3,
            ..Limits::default()
        };
        let mut s = Set::for_member(b"5");
        for m in ["5", "-2", "10", "5"] {
            s.add(m.as_bytes(), &l);
        }
        assert_eq!(s.encoding(), "intset");
        let members: Vec<_> = s.iter().map(|m| m.into_owned()).collect();
        assert_eq!(members, [&b"-2"[..], b"5", b"10"]);
        assert!(!s.contains(b"05") && s.contains(b"10"));
        assert!(!s.remove(b"+5") && s.remove(b"5"));
        s.add(b"7", &l);
        assert_eq!(s.encoding(), "intset");
        s.add(b"8", &l);
        assert_eq!(s.encoding(), "hashtable");
        let mut strings = Set::for_member(b"a");
        assert_eq!(strings.encoding(), "hashtable");
        strings.add(b"1", &l);
        assert_eq!(strings.encoding(), "hashtable");
        let mut mixed = Set::intset();
        mixed.add(b"1", &l);
        mixed.add(b"x", &l);
        assert_eq!((mixed.encoding(), mixed.len()), ("hashtable", 2));
        assert!(mixed.contains(b"1") && mixed.contains(b"x"));
    }

    #[test]
    fn payload_length_is_kept_and_round_trips() {
        let l = Limits::default();
        let mut s = Set::intset();
        for m in ["3", "-100", "42"] {
            s.add(m.as_bytes(), &l);
            assert_eq!(s.payload_len(), payload_of(&s).len());
        }
        let back = Set::from_payload(&payload_of(&s)).expect("decodes");
        assert_eq!((back.encoding(), &back), ("intset", &s));
        s.add(b"word", &l);
        s.remove(b"3");
        assert_eq!(s.payload_len(), payload_of(&s).len());
        let back = Set::from_payload(&payload_of(&s)).expect("decodes");
        assert_eq!((back.encoding(), &back), ("hashtable", &s));
    }

    #[test]
    fn fitted_as_an_rdb_load_would() {
        let big = Limits::default();
        let mut s = Set::intset();
        for m in ["1", "x", "2"] {
            s.add(m.as_bytes(), &big);
        }
        s.remove(b"x");
        assert_eq!(s.encoding(), "hashtable");
        let s = std::sync::Arc::new(s).fitted(&big);
        assert_eq!(s.encoding(), "intset");
        let tight = Limits {
            set_max_intset_entries: 1,
            ..big
        };
        assert_eq!(s.fitted(&tight).encoding(), "hashtable");
    }

    #[test]
    fn bad_payloads_are_refused() {
        let mut unsorted = Vec::new();
        let mut w = PayloadWriter::new(&mut unsorted, ENCODING_COMPACT, 2);
        w.string(b"2");
        w.string(b"1");
        assert!(Set::from_payload(&unsorted).is_err());
        let mut not_int = Vec::new();
        PayloadWriter::new(&mut not_int, ENCODING_COMPACT, 1).string(b"x");
        assert!(Set::from_payload(&not_int).is_err());
        let mut twice = Vec::new();
        let mut w = PayloadWriter::new(&mut twice, ENCODING_TABLE, 2);
        w.string(b"x");
        w.string(b"x");
        assert!(Set::from_payload(&twice).is_err());
        let mut bad_encoding = payload_of(&Set::intset());
        bad_encoding[0] = 7;
        assert!(Set::from_payload(&bad_encoding).is_err());
    }
}
