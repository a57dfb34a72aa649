//! The sorted set type, as Redis 7.0's t_zset.c encodes it: a `listpack` (members
//! with their scores in order, in one vector) while there are at most
//! `zset-max-listpack-entries` members of at most `zset-max-listpack-value` bytes,
//! else for good a `skiplist`. Tier's `skiplist` is no skiplist: values never change
//! in place, so it is a persistent treap ordered by (score, member) whose nodes count
//! their subtree (insert, delete, rank, select and the start of a range in O(log n)
//! expected, with priorities an outsider cannot predict; a write copying only its
//! path), beside a [`Table`] from member to score
//! (ZSCORE in O(log n), and ZSCAN's cursor and random members as hashes and sets have
//! them). Ranges are positions: every range command finds its first and last rank,
//! then walks between.

use super::payload::{PayloadReader, PayloadWriter, ENCODING_COMPACT, ENCODING_TABLE};
use super::table::Table;
use super::{Limits, MalformedPayload};
use bytes::Bytes;
use rand::Rng;
use std::cmp::Ordering;
use std::sync::Arc;
use std::sync::OnceLock;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Payload bytes of one member: its length, its bytes, its score.
fn entry_len(member: &[u8]) -> usize {
    4 + member.len() + 8
}

/// Redis's order: by score (`-0` equal to `0`), then by member bytes.
fn order(a: (f64, &[u8]), b: (f64, &[u8])) -> Ordering {
    a.0.partial_cmp(&b.0)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.1.cmp(b.1))
}

/// A sorted set's members and scores.
#[derive(Clone, Debug)]
pub struct ZSet {
    enc: Encoding,
    /// The length of the record payload ([`ZSet::write_payload`]), kept as it changes.
    payload: usize,
}

#[derive(Clone, Debug)]
enum Encoding {
    /// In (score, member) order.
    Listpack(Vec<(Bytes, f64)>),
    Skiplist(Sorted),
}

impl PartialEq for ZSet {
    /// Equal members with equal scores (bit for bit), in the same encoding.
    fn eq(&self, other: &Self) -> bool {
        self.encoding() == other.encoding()
            && self.len() == other.len()
            && self
                .iter_from(0)
                .zip(other.iter_from(0))
                .all(|(a, b)| a.0 == b.0 && a.1.to_bits() == b.1.to_bits())
    }
}

impl Eq for ZSet {}

impl Default for ZSet {
    /// An empty listpack.
    fn default() -> Self {
        ZSet {
            enc: Encoding::Listpack(Vec::new()),
            payload: super::payload::HEADER_LEN,
        }
    }
}

/// One end of a range by score: a score, exclusive or not.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreBound {
    pub score: f64,
    pub exclusive: bool,
}

/// One end of a range by member (ZRANGEBYLEX's `-`, `+`, `[m`, `(m`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexBound {
    NegInf,
    PosInf,
    Inclusive(Bytes),
    Exclusive(Bytes),
}

impl LexBound {
    /// Whether `m` comes before the range this bound starts.
    fn below_min(&self, m: &[u8]) -> bool {
        match self {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Inclusive(x) => m < &x[..],
            LexBound::Exclusive(x) => m <= &x[..],
        }
    }

    /// Whether `m` is not past the range this bound ends.
    fn within_max(&self, m: &[u8]) -> bool {
        match self {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Inclusive(x) => m <= &x[..],
            LexBound::Exclusive(x) => m < &x[..],
        }
    }
}

impl ZSet {
    /// An empty sorted set in the large encoding.
    pub fn skiplist() -> ZSet {
        let mut z = ZSet::default();
        z.convert();
        z
    }

    /// This sorted set in the skiplist encoding (a copy only if it is a listpack).
    pub fn as_skiplist(self: &Arc<Self>) -> Arc<ZSet> {
        match self.enc {
            Encoding::Skiplist(_) => self.clone(),
            Encoding::Listpack(_) => {
                let mut z = (**self).clone();
                z.convert();
                Arc::new(z)
            }
        }
    }

    pub fn len(&self) -> usize {
        match &self.enc {
            Encoding::Listpack(v) => v.len(),
            Encoding::Skiplist(s) => s.members.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self.enc {
            Encoding::Listpack(_) => "listpack",
            Encoding::Skiplist(_) => "skiplist",
        }
    }

    /// Bytes of this sorted set's record payload, also its size for memory reports.
    pub fn payload_len(&self) -> usize {
        self.payload
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.enc {
            Encoding::Listpack(v) => v.iter().find(|(m, _)| &m[..] == member).map(|e| e.1),
            Encoding::Skiplist(s) => s.members.get(member).copied(),
        }
    }

    /// Sets `member`'s score (Redis's `zsetAdd` once the flags are applied); returns
    /// its score before. A listpack given a new member past
    /// `zset-max-listpack-entries` members, or longer than `zset-max-listpack-value`,
    /// becomes a skiplist (a member already there converts nothing, as in Redis). A
    /// listpack keeps a zero score as `0` (Redis stores scores there as text, `-0` as
    /// the integer 0).
    pub fn insert(&mut self, member: &[u8], score: f64, limits: &Limits) -> Option<f64> {
        if let Encoding::Listpack(v) = &self.enc {
            let new = !v.iter().any(|(m, _)| &m[..] == member);
            if new
                && (v.len() + 1 > limits.zset_max_listpack_entries
                    || member.len() > limits.zset_max_listpack_value)
            {
                self.convert();
            }
        }
        let old = match &mut self.enc {
            Encoding::Listpack(v) => {
                let old = v
                    .iter()
                    .position(|(m, _)| &m[..] == member)
                    .map(|at| v.remove(at).1);
                let score = if score == 0.0 { 0.0 } else { score };
                let at = v.partition_point(|(m, s)| order((*s, m), (score, member)).is_lt());
                v.insert(at, (Bytes::copy_from_slice(member), score));
                old
            }
            Encoding::Skiplist(s) => s.insert(member, score),
        };
        if old.is_none() {
            self.payload += entry_len(member);
        }
        old
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = match &mut self.enc {
            Encoding::Listpack(v) => {
                let at = v.iter().position(|(m, _)| &m[..] == member)?;
                v.remove(at).1
            }
            Encoding::Skiplist(s) => s.remove(member)?,
        };
        self.payload -= entry_len(member);
        Some(score)
    }

    /// How many members come before `member` (its ZRANK), if it is one.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.count_while(|s, m| order((s, m), (score, member)).is_lt()))
    }

    /// How many members, from the first, satisfy `pred` (which must hold for a prefix
    /// of the order): the rank where it stops holding.
    pub fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match &self.enc {
            Encoding::Listpack(v) => v.partition_point(|(m, s)| pred(*s, m)),
            Encoding::Skiplist(s) => s.count_while(&pred),
        }
    }

    /// The ranks `[start, end)` of the members whose scores are within `min`..`max`.
    pub fn score_range(&self, min: ScoreBound, max: ScoreBound) -> (usize, usize) {
        let start = self.count_while(|s, _| match min.exclusive {
            true => s <= min.score,
            false => s < min.score,
        });
        let end = self.count_while(|s, _| match max.exclusive {
            true => s < max.score,
            false => s <= max.score,
        });
        (start, end.max(start))
    }

    /// The ranks `[start, end)` of the members within `min`..`max` by bytes (as Redis,
    /// meaningful when every score is the same).
    pub fn lex_range(&self, min: &LexBound, max: &LexBound) -> (usize, usize) {
        let start = self.count_while(|_, m| min.below_min(m));
        let end = self.count_while(|_, m| max.within_max(m));
        (start, end.max(start))
    }

    /// Members with their scores in order, from rank `start`.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = (&Bytes, f64)> + '_ {
        let (list, tree) = match &self.enc {
            Encoding::Listpack(v) => (Some(v.iter().skip(start).map(|(m, s)| (m, *s))), None),
            Encoding::Skiplist(s) => (None, Some(TreeIter::at(&s.root, start))),
        };
        list.into_iter().flatten().chain(tree.into_iter().flatten())
    }

    /// The members of ranks `[start, end)`, in order.
    pub fn slice(&self, start: usize, end: usize) -> Vec<(Bytes, f64)> {
        self.iter_from(start)
            .take(end.saturating_sub(start))
            .map(|(m, s)| (m.clone(), s))
            .collect()
    }

    /// A random member with its score (None when empty).
    pub fn random(&self, rng: &mut impl Rng) -> Option<(Bytes, f64)> {
        match &self.enc {
            Encoding::Listpack(v) if v.is_empty() => None,
            Encoding::Listpack(v) => Some(v[rng.gen_range(0..v.len())].clone()),
            Encoding::Skiplist(s) => s
                .members
                .random(rng)
                .map(|(m, &score)| (Bytes::copy_from_slice(m), score)),
        }
    }

    /// One ZSCAN step from `cursor` (see [`Table::scan`]); a listpack gives everything
    /// at once and cursor 0, as Redis does.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], f64)) -> u64 {
        match &self.enc {
            Encoding::Listpack(v) => {
                v.iter().for_each(|(m, s)| visit(m, *s));
                0
            }
            Encoding::Skiplist(s) => s.members.scan(cursor, count, |m, s| visit(m, *s)),
        }
    }

    /// The encoding Redis gives a sorted set it builds whole (ZRANGESTORE, ZUNIONSTORE
    /// and the others, and an RDB load): a listpack if it has at most
    /// `zset-max-listpack-entries` members, none longer than `zset-max-listpack-value`,
    /// else a skiplist (a copy only if that changes).
    pub fn fitted(self: Arc<Self>, limits: &Limits) -> Arc<ZSet> {
        let fits = self.len() <= limits.zset_max_listpack_entries
            && self
                .iter_from(0)
                .all(|(m, _)| m.len() <= limits.zset_max_listpack_value);
        if fits == matches!(self.enc, Encoding::Listpack(_)) {
            return self;
        }
        let mut out = ZSet::default();
        if !fits {
            out.convert();
        }
        for (m, s) in self.iter_from(0) {
            out.insert(m, s, &Limits::unbounded());
        }
        Arc::new(out)
    }

    fn convert(&mut self) {
        if let Encoding::Listpack(v) = &self.enc {
            let mut sorted = Sorted::default();
            for (m, s) in v {
                sorted.insert(m, *s);
            }
            self.enc = Encoding::Skiplist(sorted);
        }
    }

    /// The record payload (docs/FORMAT.md, "Value payloads"): the encoding, the
    /// count, then each member and its score (f64, little-endian) in order.
    pub fn write_payload(&self, out: &mut Vec<u8>) {
        let encoding = match self.enc {
            Encoding::Listpack(_) => ENCODING_COMPACT,
            Encoding::Skiplist(_) => ENCODING_TABLE,
        };
        let mut w = PayloadWriter::new(out, encoding, self.len());
        for (m, s) in self.iter_from(0) {
            w.string(m);
            w.f64(s);
        }
    }

    /// The sorted set a payload holds, in the encoding it names. Refuses a payload
    /// that does not decode exactly, has a NaN score, or members out of order or
    /// repeated.
    pub fn from_payload(payload: &[u8]) -> Result<ZSet, MalformedPayload> {
        let (mut r, encoding, count) = PayloadReader::new(payload)?;
        let mut z = ZSet::default();
        if encoding == ENCODING_TABLE {
            z.convert();
        }
        let unbounded = Limits::unbounded();
        let mut last: Option<(Bytes, f64)> = None;
        for _ in 0..count {
            let member = r.string()?;
            let score = r.f64()?;
            if score.is_nan() {
                return Err(MalformedPayload("a score is not a number"));
            }
            if let Some((m, s)) = &last {
                if !order((*s, m), (score, member)).is_lt() {
                    return Err(MalformedPayload("members out of order"));
                }
            }
            if z.insert(member, score, &unbounded).is_some() {
                return Err(MalformedPayload("a member appears twice"));
            }
            last = Some((Bytes::copy_from_slice(member), score));
        }
        r.finish()?;
        Ok(z)
    }
}

/// The skiplist encoding: the treap in order, the table by member.
#[derive(Clone, Debug, Default)]
struct Sorted {
    root: Link,
    members: Table<f64>,
}

type Link = Option<Arc<Node>>;

/// A node's heap priority: a hash of its member under a seed drawn once per process,
/// so a tree's shape depends only on its contents, and a client cannot choose
/// members whose priorities fall as their order rises (a treap as deep as it is
/// long, its recursive split then overflowing the stack).
fn priority(member: &[u8]) -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    xxh3_64_with_seed(member, *SEED.get_or_init(rand::random))
}

/// A treap node: a member, its score, its heap priority ([`priority`]), and the
/// size of its subtree.
#[derive(Debug)]
struct Node {
    member: Bytes,
    score: f64,
    priority: u64,
    size: usize,
    left: Link,
    right: Link,
}

fn size(link: &Link) -> usize {
    link.as_ref().map_or(0, |n| n.size)
}

fn node(member: Bytes, score: f64, priority: u64, left: Link, right: Link) -> Link {
    Some(Arc::new(Node {
        size: 1 + size(&left) + size(&right),
        member,
        score,
        priority,
        left,
        right,
    }))
}

/// `n` with new children (a copy: nodes are shared between versions).
fn with_children(n: &Node, left: Link, right: Link) -> Link {
    node(n.member.clone(), n.score, n.priority, left, right)
}

/// Splits `t` into the members before `key` and those at or after it.
fn split(t: &Link, key: (f64, &[u8])) -> (Link, Link) {
    let Some(n) = t else {
        return (None, None);
    };
    if order((n.score, &n.member), key).is_lt() {
        let (l, r) = split(&n.right, key);
        (with_children(n, n.left.clone(), l), r)
    } else {
        let (l, r) = split(&n.left, key);
        (l, with_children(n, r, n.right.clone()))
    }
}

/// Joins two treaps, every member of `a` before every member of `b`.
fn merge(a: Link, b: Link) -> Link {
    match (a, b) {
        (None, t) | (t, None) => t,
        (Some(a), Some(b)) if a.priority >= b.priority => {
            let right = merge(a.right.clone(), Some(b));
            with_children(&a, a.left.clone(), right)
        }
        (Some(a), Some(b)) => {
            let left = merge(Some(a), b.left.clone());
            with_children(&b, left, b.right.clone())
        }
    }
}

/// `t` without its first member.
fn without_first(t: &Link) -> Link {
    let n = t.as_ref()?;
    match &n.left {
        None => n.right.clone(),
        Some(_) => with_children(n, without_first(&n.left), n.right.clone()),
    }
}

impl Sorted {
    /// Sets `member`'s score; returns the one it replaces.
    fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let old = self.members.insert(member, score);
        if let Some(o) = old {
            self.unlink(o, member);
        }
        let (l, r) = split(&self.root, (score, member));
        let one = node(
            Bytes::copy_from_slice(member),
            score,
            priority(member),
            None,
            None,
        );
        self.root = merge(merge(l, one), r);
        old
    }

    /// Takes the node of (`score`, `member`) out of the treap.
    fn unlink(&mut self, score: f64, member: &[u8]) {
        let (l, r) = split(&self.root, (score, member));
        self.root = merge(l, without_first(&r));
    }

    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = self.members.remove(member)?;
        self.unlink(score, member);
        Some(score)
    }

    fn count_while(&self, pred: &impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut count = 0;
        let mut at = &self.root;
        while let Some(n) = at {
            if pred(n.score, &n.member) {
                count += size(&n.left) + 1;
                at = &n.right;
            } else {
                at = &n.left;
            }
        }
        count
    }
}

/// In-order walk of a treap from a rank: the stack holds the nodes still to visit
/// whose right subtrees are not yet entered.
struct TreeIter<'a> {
    stack: Vec<&'a Node>,
}

impl<'a> TreeIter<'a> {
    fn at(root: &'a Link, mut rank: usize) -> Self {
        let mut stack = Vec::new();
        let mut at = root.as_deref();
        while let Some(n) = at {
            let left = size(&n.left);
            if rank < left {
                stack.push(n);
                at = n.left.as_deref();
            } else if rank == left {
                stack.push(n);
                break;
            } else {
                rank -= left + 1;
                at = n.right.as_deref();
            }
        }
        TreeIter { stack }
    }
}

impl<'a> Iterator for TreeIter<'a> {
    type Item = (&'a Bytes, f64);

    fn next(&mut self) -> Option<Self::Item> {
        let n = self.stack.pop()?;
        let mut at = n.right.as_deref();
        while let Some(c) = at {
            self.stack.push(c);
            at = c.left.as_deref();
        }
        Some((&n.member, n.score))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload_of(z: &ZSet) -> Vec<u8> {
        let mut out = Vec::new();
        z.write_payload(&mut out);
        out
    }

    fn members(z: &ZSet) -> Vec<(String, f64)> {
        z.iter_from(0)
            .map(|(m, s)| (String::from_utf8_lossy(m).into_owned(), s))
            .collect()
    }

    #[test]
    fn ordered_by_score_then_member_in_both_encodings() {
        let small = Limits::default();
        let tiny = Limits {
            zset_max_listpack_entries: 0,
            ..small
        };
        for limits in [small, tiny] {
            let mut z = ZSet::default();
            for (m, s) in [("b", 1.0), ("a", 1.0), ("c", -2.5), ("d", f64::INFINITY)] {
                assert_eq!(z.insert(m.as_bytes(), s, &limits), None);
            }
            assert_eq!(z.insert(b"c", 3.0, &limits), Some(-2.5));
            assert_eq!(
                members(&z),
                [
                    ("a".into(), 1.0),
                    ("b".into(), 1.0),
                    ("c".into(), 3.0),
                    ("d".into(), f64::INFINITY)
                ]
            );
            assert_eq!(z.rank(b"c"), Some(2));
            assert_eq!(z.rank(b"x"), None);
            let inc = |score| ScoreBound {
                score,
                exclusive: false,
            };
            let exc = |score| ScoreBound {
                score,
                exclusive: true,
            };
            assert_eq!(z.score_range(inc(1.0), inc(3.0)), (0, 3));
            assert_eq!(z.score_range(exc(1.0), inc(3.0)), (2, 3));
            assert_eq!(z.score_range(inc(4.0), inc(2.0)), (3, 3));
            let b = LexBound::Inclusive(Bytes::from_static(b"b"));
            assert_eq!(z.lex_range(&LexBound::NegInf, &b), (0, 2));
            assert_eq!(z.slice(1, 3).len(), 2);
            assert_eq!(z.remove(b"a"), Some(1.0));
            assert_eq!(z.payload_len(), payload_of(&z).len());
        }
    }

    #[test]
    fn converts_at_the_limits_and_fits_back() {
        let l = Limits {
            zset_max_listpack_entries: 2,
            zset_max_listpack_value: 3,
            ..Limits::default()
        };
        let mut z = ZSet::default();
        z.insert(b"a", 1.0, &l);
        z.insert(b"b", 2.0, &l);
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"c", 3.0, &l);
        assert_eq!(z.encoding(), "skiplist");
        z.remove(b"c");
        assert_eq!(z.encoding(), "skiplist");
        let z = Arc::new(z).fitted(&l);
        assert_eq!(z.encoding(), "listpack");
        let mut long = ZSet::default();
        long.insert(b"long", 1.0, &l);
        assert_eq!(long.encoding(), "skiplist");
    }

    #[test]
    fn a_listpack_keeps_zero_unsigned_a_skiplist_does_not() {
        let mut z = ZSet::default();
        z.insert(b"a", -0.0, &Limits::default());
        assert!(z.score(b"a").expect("member").is_sign_positive());
        let mut z = ZSet::skiplist();
        z.insert(b"a", -0.0, &Limits::default());
        assert!(z.score(b"a").expect("member").is_sign_negative());
    }

    #[test]
    fn payload_round_trips_and_bad_ones_are_refused() {
        let l = Limits::default();
        for mut z in [ZSet::default(), ZSet::skiplist()] {
            for i in 0..50 {
                z.insert(format!("m{i}").as_bytes(), f64::from(i % 7) - 3.0, &l);
            }
            let back = ZSet::from_payload(&payload_of(&z)).expect("decodes");
            assert_eq!(back, z);
            assert_eq!(back.payload_len(), payload_of(&z).len());
        }
        let mut unsorted = Vec::new();
        let mut w = PayloadWriter::new(&mut unsorted, ENCODING_COMPACT, 2);
        w.string(b"a");
        w.f64(2.0);
        w.string(b"b");
        w.f64(1.0);
        assert!(ZSet::from_payload(&unsorted).is_err());
        let mut nan = Vec::new();
        let mut w = PayloadWriter::new(&mut nan, ENCODING_TABLE, 1);
        w.string(b"a");
        w.f64(f64::NAN);
        assert!(ZSet::from_payload(&nan).is_err());
    }

    /// Members whose unseeded hashes fall as their scores rise would make a treap
    /// prioritised by those hashes a chain; the seeded priorities keep it shallow.
    #[test]
    fn members_chosen_against_the_priorities_keep_the_tree_shallow() {
        let mut members: Vec<Vec<u8>> = (0..50_000).map(|i| format!("m{i}").into_bytes()).collect();
        members.sort_by_key(|m| std::cmp::Reverse(xxhash_rust::xxh3::xxh3_64(m)));
        let mut z = ZSet::skiplist();
        for (i, m) in members.iter().enumerate() {
            z.insert(m, i as f64, &Limits::default());
        }
        fn depth(link: &Link) -> usize {
            link.as_ref()
                .map_or(0, |n| 1 + depth(&n.left).max(depth(&n.right)))
        }
        let Encoding::Skiplist(s) = &z.enc else {
            panic!("a skiplist")
        };
        assert!(depth(&s.root) < 100, "depth {}", depth(&s.root));
        assert_eq!(z.rank(&members[40_000]), Some(40_000));
    }

    #[test]
    fn a_copy_does_not_see_later_writes() {
        let l = Limits::default();
        let mut z = ZSet::skiplist();
        for i in 0..1000 {
            z.insert(format!("m{i}").as_bytes(), f64::from(i), &l);
        }
        let before = z.clone();
        for i in 0..500 {
            z.remove(format!("m{i}").as_bytes());
        }
        assert_eq!(before.len(), 1000);
        assert_eq!(before.rank(b"m999"), Some(999));
        assert_eq!(z.rank(b"m999"), Some(499));
        assert_eq!(
            z.iter_from(10).next().map(|(m, _)| m.clone()),
            Some(Bytes::from_static(b"m510"))
        );
    }
}
