//! The hash type, as Redis 7.0's t_hash.c encodes it: a `listpack` (fields in
//! insertion order in one vector) while it has at most `hash-max-listpack-entries`
//! fields and no field or value longer than `hash-max-listpack-value`, then for good a
//! `hashtable` ([`Table`]). A hash is never changed in place once in the index: a
//! write clones it (a listpack is small; a table shares its nodes) and stores the
//! clone.

use super::payload::{PayloadReader, PayloadWriter, ENCODING_COMPACT, ENCODING_TABLE};
use super::table::Table;
use super::{Limits, MalformedPayload};
use bytes::Bytes;
use rand::Rng;

/// A hash's fields and values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hash {
    enc: Encoding,
    /// The length of the record payload ([`Hash::write_payload`]), kept as it changes.
    payload: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Encoding {
    Listpack(Vec<(Bytes, Bytes)>),
    Table(Table<Bytes>),
}

/// Payload bytes one field and its value take.
fn entry_len(field: &[u8], value: &[u8]) -> usize {
    8 + field.len() + value.len()
}

impl Default for Hash {
    fn default() -> Self {
        Hash {
            enc: Encoding::Listpack(Vec::new()),
            payload: super::payload::HEADER_LEN,
        }
    }
}

impl Hash {
    /// An empty hash, as Redis creates one: a listpack.
    pub fn new() -> Hash {
        Hash::default()
    }

    pub fn len(&self) -> usize {
        match &self.enc {
            Encoding::Listpack(v) => v.len(),
            Encoding::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self.enc {
            Encoding::Listpack(_) => "listpack",
            Encoding::Table(_) => "hashtable",
        }
    }

    /// Bytes of this hash's record payload, also its size for memory reports.
    pub fn payload_len(&self) -> usize {
        self.payload
    }

    pub fn get(&self, field: &[u8]) -> Option<&Bytes> {
        match &self.enc {
            Encoding::Listpack(v) => v.iter().find(|(f, _)| f == field).map(|(_, v)| v),
            Encoding::Table(t) => t.get(field),
        }
    }

    /// Every field and value: a listpack in insertion order, a table in hash order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let (lp, table) = match &self.enc {
            Encoding::Listpack(v) => (Some(v.iter().map(|(f, v)| (&f[..], &v[..]))), None),
            Encoding::Table(t) => (None, Some(t.iter().map(|(f, v)| (f, &v[..])))),
        };
        lp.into_iter().flatten().chain(table.into_iter().flatten())
    }

    /// Redis's `hashTypeTryConversion`: a listpack about to take `args` (fields and
    /// values) becomes a table if any is longer than `hash-max-listpack-value`, even
    /// if nothing is then written.
    pub fn prepare_for<'a>(&mut self, args: impl IntoIterator<Item = &'a [u8]>, limits: &Limits) {
        if matches!(self.enc, Encoding::Listpack(_))
            && args
                .into_iter()
                .any(|a| a.len() > limits.hash_max_listpack_value)
        {
            self.convert();
        }
    }

    /// Sets `field` to `value` (Redis's `hashTypeSet`); returns whether the field is
    /// new. Converts to a table when the listpack would break a limit.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: &Limits) -> bool {
        self.prepare_for([field, value], limits);
        let value = Bytes::copy_from_slice(value);
        let new_len = value.len();
        let old = match &mut self.enc {
            Encoding::Listpack(v) => match v.iter_mut().find(|(f, _)| f == field) {
                Some((_, old)) => Some(std::mem::replace(old, value)),
                None => {
                    v.push((Bytes::copy_from_slice(field), value));
                    None
                }
            },
            Encoding::Table(t) => t.insert(field, value),
        };
        let added = match &old {
            Some(old) => {
                self.payload = self.payload + new_len - old.len();
                false
            }
            None => {
                self.payload += entry_len(field, &[]) + new_len;
                true
            }
        };
        if matches!(self.enc, Encoding::Listpack(ref v) if v.len() > limits.hash_max_listpack_entries)
        {
            self.convert();
        }
        added
    }

    /// Deletes `field`; returns whether it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        let old = match &mut self.enc {
            Encoding::Listpack(v) => v
                .iter()
                .position(|(f, _)| f == field)
                .map(|i| v.remove(i).1),
            Encoding::Table(t) => t.remove(field),
        };
        if let Some(old) = &old {
            self.payload -= entry_len(field, old);
        }
        old.is_some()
    }

    /// A random field and its value (None when empty).
    pub fn random(&self, rng: &mut impl Rng) -> Option<(&[u8], &[u8])> {
        match &self.enc {
            Encoding::Listpack(v) if v.is_empty() => None,
            Encoding::Listpack(v) => {
                let (f, v) = &v[rng.gen_range(0..v.len())];
                Some((f, v))
            }
            Encoding::Table(t) => t.random(rng).map(|(f, v)| (f, &v[..])),
        }
    }

    /// One HSCAN step from `cursor` (see [`Table::scan`]); a listpack gives everything
    /// at once and cursor 0, as Redis does.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        match &self.enc {
            Encoding::Listpack(v) => {
                v.iter().for_each(|(f, v)| visit(f, v));
                0
            }
            Encoding::Table(t) => t.scan(cursor, count, |f, v| visit(f, v)),
        }
    }

    /// This hash in the encoding Redis gives it when loading an RDB file: a listpack
    /// if it fits the limits, else a hashtable (a copy only if that changes).
    pub fn fitted(self: std::sync::Arc<Self>, limits: &Limits) -> std::sync::Arc<Hash> {
        let fits = self.len() <= limits.hash_max_listpack_entries
            && self
                .iter()
                .all(|(f, v)| f.len().max(v.len()) <= limits.hash_max_listpack_value);
        if fits == matches!(self.enc, Encoding::Listpack(_)) {
            return self;
        }
        let mut out = Hash::new();
        if !fits {
            out.convert();
        }
        for (f, v) in self.iter() {
            out.set(f, v, &Limits::unbounded());
        }
        std::sync::Arc::new(out)
    }

    fn convert(&mut self) {
        if let Encoding::Listpack(v) = &self.enc {
            let mut table = Table::default();
            for (f, v) in v {
                table.insert(f, v.clone());
            }
            self.enc = Encoding::Table(table);
        }
    }

    /// The record payload (docs/FORMAT.md, "Value payloads"): the encoding, the count,
    /// then each field and its value.
    pub fn write_payload(&self, out: &mut Vec<u8>) {
        let encoding = match self.enc {
            Encoding::Listpack(_) => ENCODING_COMPACT,
            Encoding::Table(_) => ENCODING_TABLE,
        };
        let mut w = PayloadWriter::new(out, encoding, self.len());
        for (f, v) in self.iter() {
            w.string(f);
            w.string(v);
        }
    }

    /// The hash a payload holds, in the encoding it names. Refuses a payload that
    /// does not decode exactly, or names a field twice.
    pub fn from_payload(payload: &[u8]) -> Result<Hash, MalformedPayload> {
        let (mut r, encoding, count) = PayloadReader::new(payload)?;
        let mut hash = Hash::new();
        if encoding == ENCODING_TABLE {
            hash.convert();
        }
        let unbounded = Limits::unbounded();
        for _ in 0..count {
            let (field, value) = (r.string()?, r.string()?);
            if !hash.set(field, value, &unbounded) {
                return Err(MalformedPayload("a field appears twice"));
            }
        }
        r.finish()?;
        Ok(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(entries: usize, value: usize) -> Limits {
        Limits {
            hash_max_listpack_entries: entries,
            hash_max_listpack_value: value,
            ..Limits::default()
        }
    }

    fn payload_of(h: &Hash) -> Vec<u8> {
        let mut out = Vec::new();
        h.write_payload(&mut out);
        out
    }

    #[test]
    fn listpack_keeps_insertion_order_and_converts_past_the_limits() {
        let l = limits(3, 5);
        let mut h = Hash::new();
        assert!(h.set(b"b", b"1", &l));
        assert!(h.set(b"a", b"2", &l));
        assert!(!h.set(b"b", b"3", &l));
        let pairs: Vec<_> = h.iter().collect();
        assert_eq!(pairs, [(&b"b"[..], &b"3"[..]), (b"a", b"2")]);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"c", b"4", &l);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"d", b"5", &l);
        assert_eq!(h.encoding(), "hashtable");
        assert!(h.remove(b"d") && h.remove(b"c"));
        assert_eq!(h.encoding(), "hashtable", "never converts back");

        let mut long = Hash::new();
        long.set(b"f", b"123456", &l);
        assert_eq!(long.encoding(), "hashtable");
        let mut prepared = Hash::new();
        prepared.prepare_for([&b"f"[..], b"123456"], &l);
        assert_eq!(prepared.encoding(), "hashtable");
    }

    #[test]
    fn payload_length_is_kept_and_round_trips() {
        let l = limits(4, 64);
        let mut h = Hash::new();
        for i in 0..10 {
            h.set(format!("f{i}").as_bytes(), &vec![b'v'; i], &l);
            assert_eq!(h.payload_len(), payload_of(&h).len());
        }
        h.set(b"f3", b"much longer value", &l);
        h.remove(b"f0");
        h.remove(b"nope");
        assert_eq!(h.payload_len(), payload_of(&h).len());
        let back = Hash::from_payload(&payload_of(&h)).expect("decodes");
        assert_eq!(back, h);

        let mut small = Hash::new();
        small.set(b"x", b"y", &l);
        let back = Hash::from_payload(&payload_of(&small)).expect("decodes");
        assert_eq!((back.encoding(), back), ("listpack", small));
    }

    #[test]
    fn fitted_as_an_rdb_load_would() {
        let mut h = Hash::new();
        for i in 0..5 {
            h.set(format!("f{i}").as_bytes(), b"v", &limits(4, 64));
        }
        assert_eq!(h.encoding(), "hashtable");
        h.remove(b"f0");
        let h = std::sync::Arc::new(h);
        let small = h.clone().fitted(&limits(4, 64));
        assert_eq!((small.encoding(), small.len()), ("listpack", 4));
        assert_eq!(small.get(b"f3").map(|v| &v[..]), Some(&b"v"[..]));
        let same = small.clone().fitted(&limits(4, 64));
        assert!(std::sync::Arc::ptr_eq(&same, &small));
        assert_eq!(small.fitted(&limits(4, 0)).encoding(), "hashtable");
    }

    #[test]
    fn bad_payloads_are_refused() {
        let l = limits(4, 64);
        let mut h = Hash::new();
        h.set(b"a", b"1", &l);
        let good = payload_of(&h);
        for cut in 0..good.len() {
            assert!(Hash::from_payload(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = good.clone();
        extra.push(0);
        assert!(Hash::from_payload(&extra).is_err());
        let mut twice = Vec::new();
        let mut w = PayloadWriter::new(&mut twice, ENCODING_COMPACT, 2);
        for _ in 0..2 {
            w.string(b"a");
            w.string(b"1");
        }
        assert!(Hash::from_payload(&twice).is_err());
    }
}
