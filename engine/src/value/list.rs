//! The list type. Redis 7.0's t_list.c stores every list as a `quicklist` (a linked
//! list of listpack nodes of `list-max-listpack-size` each); 7.0 has no listpack-only
//! list, so OBJECT ENCODING always answers `quicklist`. Here a list is a persistent
//! deque: two persistent vectors ([`rpds::Vector`]), the front one holding the head
//! reversed, so a push or a pop at either end and an index cost O(log n), and a copy
//! (which every write makes: values never change in place) shares every node. When a
//! pop empties one side, half of the other moves over, so pops alternating between
//! the ends stay cheap.

use super::payload::{PayloadReader, PayloadWriter, ENCODING_COMPACT, HEADER_LEN};
use super::MalformedPayload;
use bytes::Bytes;
use rpds::VectorSync;

/// A list's elements, head first.
#[derive(Clone, Debug)]
pub struct List {
    /// The elements before `back`, last element first: `front.last()` is the head.
    front: VectorSync<Bytes>,
    back: VectorSync<Bytes>,
    /// The length of the record payload ([`List::write_payload`]), kept as it changes.
    payload: usize,
}

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Head,
    Tail,
}

/// Payload bytes of one element.
fn element_len(len: usize) -> usize {
    4 + len
}

impl Default for List {
    fn default() -> Self {
        List {
            front: VectorSync::new_sync(),
            back: VectorSync::new_sync(),
            payload: HEADER_LEN,
        }
    }
}

impl PartialEq for List {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for List {}

impl FromIterator<Bytes> for List {
    fn from_iter<I: IntoIterator<Item = Bytes>>(elements: I) -> List {
        let mut list = List::default();
        for e in elements {
            list.push(End::Tail, e);
        }
        list
    }
}

impl List {
    pub fn new() -> List {
        List::default()
    }

    pub fn len(&self) -> usize {
        self.front.len() + self.back.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What OBJECT ENCODING reports (Redis 7.0: always a quicklist).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Bytes of this list's record payload, also its size for memory reports.
    pub fn payload_len(&self) -> usize {
        self.payload
    }

    /// The element at `index` from the head (None past the end).
    pub fn get(&self, index: usize) -> Option<&Bytes> {
        let f = self.front.len();
        match index < f {
            true => self.front.get(f - 1 - index),
            false => self.back.get(index - f),
        }
    }

    /// Replaces the element at `index`; returns false past the end.
    pub fn set(&mut self, index: usize, element: Bytes) -> bool {
        let Some(old) = self.get(index) else {
            return false;
        };
        self.payload = self.payload - old.len() + element.len();
        let f = self.front.len();
        match index < f {
            true => self.front.set_mut(f - 1 - index, element),
            false => self.back.set_mut(index - f, element),
        }
    }

    /// Every element, head first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Bytes> + '_ {
        self.front.iter().rev().chain(self.back.iter())
    }

    /// The elements from `start` to `end` inclusive (both within the list), head first.
    pub fn range(&self, start: usize, end: usize) -> impl Iterator<Item = &Bytes> + '_ {
        (start..=end).filter_map(move |i| self.get(i))
    }

    /// Adds `element` at `end`.
    pub fn push(&mut self, end: End, element: Bytes) {
        self.payload += element_len(element.len());
        match end {
            End::Head => self.front.push_back_mut(element),
            End::Tail => self.back.push_back_mut(element),
        }
    }

    /// Removes and returns the element at `end` (None when empty).
    pub fn pop(&mut self, end: End) -> Option<Bytes> {
        let (near, far) = match end {
            End::Head => (&mut self.front, &mut self.back),
            End::Tail => (&mut self.back, &mut self.front),
        };
        if near.is_empty() {
            rebalance(near, far);
        }
        let element = near.last()?.clone();
        near.drop_last_mut();
        self.payload -= element_len(element.len());
        Some(element)
    }

    /// The record payload (docs/FORMAT.md, "Value payloads"): the encoding byte 0
    /// (quicklist), the count, then each element, head first.
    pub fn write_payload(&self, out: &mut Vec<u8>) {
        let mut w = PayloadWriter::new(out, ENCODING_COMPACT, self.len());
        for e in self.iter() {
            w.string(e);
        }
    }

    /// The list a payload holds. Refuses a payload that does not decode exactly or
    /// names another encoding than 0.
    pub fn from_payload(payload: &[u8]) -> Result<List, MalformedPayload> {
        let (mut r, encoding, count) = PayloadReader::new(payload)?;
        if encoding != ENCODING_COMPACT {
            return Err(MalformedPayload("unknown list encoding"));
        }
        let mut list = List::default();
        for _ in 0..count {
            list.push(End::Tail, Bytes::copy_from_slice(r.string()?));
        }
        r.finish()?;
        Ok(list)
    }
}

/// Moves half of `far` (its elements nearest the empty `near`, at least one) into
/// `near`, keeping the order: both vectors grow away from the middle of the list.
fn rebalance(near: &mut VectorSync<Bytes>, far: &mut VectorSync<Bytes>) {
    let n = far.len();
    if n == 0 {
        return;
    }
    let keep = n / 2;
    // far[0] is the element nearest the middle; far[keep..] stay, now reindexed.
    let mut moved = VectorSync::new_sync();
    for e in far
        .iter()
        .take(n - keep)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        moved.push_back_mut(e.clone());
    }
    let mut kept = VectorSync::new_sync();
    for e in far.iter().skip(n - keep) {
        kept.push_back_mut(e.clone());
    }
    *near = moved;
    *far = kept;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> List {
        items.iter().map(|s| Bytes::from(s.to_string())).collect()
    }

    fn items(l: &List) -> Vec<String> {
        l.iter()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect()
    }

    fn payload_of(l: &List) -> Vec<u8> {
        let mut out = Vec::new();
        l.write_payload(&mut out);
        out
    }

    #[test]
    fn pops_cross_the_middle_both_ways() {
        let mut l = list(&["a", "b", "c", "d", "e"]);
        assert_eq!(l.pop(End::Head).as_deref(), Some(&b"a"[..]));
        assert_eq!(items(&l), ["b", "c", "d", "e"]);
        assert_eq!(l.pop(End::Tail).as_deref(), Some(&b"e"[..]));
        l.push(End::Head, Bytes::from_static(b"z"));
        assert_eq!(items(&l), ["z", "b", "c", "d"]);
        assert_eq!(l.get(1).map(|e| &e[..]), Some(&b"b"[..]));
        assert_eq!(l.get(3).map(|e| &e[..]), Some(&b"d"[..]));
        assert!(l.get(4).is_none());
        let mut tail = Vec::new();
        while let Some(e) = l.pop(End::Tail) {
            tail.push(e);
        }
        assert_eq!(
            tail,
            ["d", "c", "b", "z"].map(|s| Bytes::from_static(s.as_bytes()))
        );
        assert!(l.pop(End::Head).is_none());
    }

    #[test]
    fn payload_length_is_kept_and_round_trips() {
        let mut l = list(&["one", "", "three"]);
        assert_eq!(l.payload_len(), payload_of(&l).len());
        l.set(1, Bytes::from_static(b"two"));
        l.pop(End::Head);
        assert_eq!(l.payload_len(), payload_of(&l).len());
        let back = List::from_payload(&payload_of(&l)).expect("decodes");
        assert_eq!(items(&back), ["two", "three"]);
        assert_eq!(back, l);
        let mut bad = payload_of(&l);
        bad[0] = 1;
        assert!(List::from_payload(&bad).is_err());
        assert!(List::from_payload(&payload_of(&l)[..7]).is_err());
    }

    #[test]
    fn a_copy_does_not_see_later_writes() {
        let mut l = list(&["a", "b", "c"]);
        let before = l.clone();
        l.pop(End::Head);
        l.set(0, Bytes::from_static(b"x"));
        l.push(End::Tail, Bytes::from_static(b"d"));
        assert_eq!(items(&before), ["a", "b", "c"]);
        assert_eq!(items(&l), ["x", "c", "d"]);
    }
}
