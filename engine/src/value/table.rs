//! The large encoding shared by hashes and sets (Redis's `hashtable`): a persistent
//! ordered map keyed by each member's hash then its bytes. Values never change in
//! place (readers of the index hold no lock), so a write makes a new table; being
//! persistent, the new one shares every node but the path it changed, and a write
//! costs O(log n), not a copy of the collection. Ordering by a fixed hash gives
//! HSCAN/SSCAN a cursor that keeps Redis's guarantee (a member present for the whole
//! scan is returned at least once, whatever changes between calls) and a cheap
//! random member.

use rand::Rng;
use rpds::RedBlackTreeMapSync;
use smallvec::SmallVec;
use std::ops::Bound;
use xxhash_rust::xxh3::xxh3_64;

/// Bytes of hash in front of a member in its key.
const PREFIX: usize = 8;

/// The position of `member` in every table: its hash, never 0 (0 is the cursor that
/// starts and ends a scan).
fn position(member: &[u8]) -> u64 {
    xxh3_64(member) | 1
}

/// A key: the member's position (big-endian, so byte order is position order), then
/// the member. Lookups build it on the stack for short members.
fn lookup_key(member: &[u8]) -> SmallVec<[u8; 64]> {
    let mut key = SmallVec::with_capacity(PREFIX + member.len());
    key.extend_from_slice(&position(member).to_be_bytes());
    key.extend_from_slice(member);
    key
}

fn stored_key(member: &[u8]) -> Box<[u8]> {
    let mut key = Vec::with_capacity(PREFIX + member.len());
    key.extend_from_slice(&position(member).to_be_bytes());
    key.extend_from_slice(member);
    key.into_boxed_slice()
}

fn position_of(key: &[u8]) -> u64 {
    let mut prefix = [0; PREFIX];
    prefix.copy_from_slice(&key[..PREFIX]);
    u64::from_be_bytes(prefix)
}

/// Members (with a `V` each: a hash's value, nothing for a set) in hash order.
#[derive(Clone, Debug)]
pub struct Table<V: Clone> {
    map: RedBlackTreeMapSync<Box<[u8]>, V>,
}

impl<V: Clone> Default for Table<V> {
    fn default() -> Self {
        Table {
            map: RedBlackTreeMapSync::new_sync(),
        }
    }
}

impl<V: Clone + PartialEq> PartialEq for Table<V> {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

impl<V: Clone + Eq> Eq for Table<V> {}

impl<V: Clone> Table<V> {
    pub fn len(&self) -> usize {
        self.map.size()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, member: &[u8]) -> Option<&V> {
        self.map.get(&lookup_key(member)[..])
    }

    /// Sets `member` to `value`; returns the value it replaced.
    pub fn insert(&mut self, member: &[u8], value: V) -> Option<V> {
        let old = self.get(member).cloned();
        self.map.insert_mut(stored_key(member), value);
        old
    }

    /// Removes `member`; returns its value.
    pub fn remove(&mut self, member: &[u8]) -> Option<V> {
        let key = lookup_key(member);
        let old = self.map.get(&key[..]).cloned();
        if old.is_some() {
            self.map.remove_mut(&key[..]);
        }
        old
    }

    /// Every member with its value, in hash order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.map.iter().map(|(k, v)| (&k[PREFIX..], v))
    }

    /// One step of a scan from `cursor` (0 starts): visits members in hash order from
    /// the cursor's position, at least `count` (all members sharing the last one's
    /// hash, too), and returns the cursor of the next step (0: done).
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&'a [u8], &'a V),
    ) -> u64 {
        let from = cursor.to_be_bytes();
        let mut last = None;
        let members = self
            .map
            .range::<[u8], _>((Bound::Included(&from[..]), Bound::Unbounded));
        for (seen, (k, v)) in members.enumerate() {
            let at = position_of(k);
            if seen >= count && last != Some(at) {
                return at;
            }
            visit(&k[PREFIX..], v);
            last = Some(at);
        }
        0
    }

    /// A random member (None when empty): the first at or after a random position.
    pub fn random(&self, rng: &mut impl Rng) -> Option<(&[u8], &V)> {
        let from = rng.gen::<u64>().to_be_bytes();
        self.map
            .range::<[u8], _>((Bound::Included(&from[..]), Bound::Unbounded))
            .next()
            .or_else(|| self.map.first())
            .map(|(k, v)| (&k[PREFIX..], v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::collections::BTreeSet;

    fn table(n: usize) -> Table<()> {
        let mut t = Table::default();
        for i in 0..n {
            t.insert(format!("m{i}").as_bytes(), ());
        }
        t
    }

    #[test]
    fn insert_get_remove() {
        let mut t: Table<Bytes> = Table::default();
        assert_eq!(t.insert(b"a", Bytes::from_static(b"1")), None);
        assert_eq!(
            t.insert(b"a", Bytes::from_static(b"2")),
            Some(Bytes::from_static(b"1"))
        );
        assert_eq!(t.get(b"a").map(|v| &v[..]), Some(&b"2"[..]));
        assert_eq!(t.len(), 1);
        assert_eq!(t.remove(b"b"), None);
        assert_eq!(t.remove(b"a"), Some(Bytes::from_static(b"2")));
        assert!(t.is_empty());
    }

    #[test]
    fn a_copy_does_not_see_later_writes() {
        let mut t = table(100);
        let before = t.clone();
        t.remove(b"m5");
        t.insert(b"new", ());
        assert_eq!(before.len(), 100);
        assert!(before.get(b"m5").is_some() && before.get(b"new").is_none());
        assert_eq!(t.len(), 100);
    }

    #[test]
    fn scan_returns_every_member_present_throughout() {
        let mut t = table(1000);
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        let mut steps = 0;
        loop {
            cursor = t.scan(cursor, 10, |m, _| {
                seen.insert(m.to_vec());
            });
            steps += 1;
            // Churn between steps: members come and go, m0..m499 stay.
            t.insert(format!("x{steps}").as_bytes(), ());
            t.remove(format!("m{}", 500 + steps).as_bytes());
            if cursor == 0 {
                break;
            }
        }
        assert!(steps > 50, "COUNT 10 over 1000 members took {steps} steps");
        for i in 0..500 {
            assert!(seen.contains(format!("m{i}").as_bytes()), "m{i} missed");
        }
    }

    #[test]
    fn random_members_are_members() {
        let t = table(50);
        let mut rng = rand::thread_rng();
        let mut drawn = BTreeSet::new();
        for _ in 0..2000 {
            let (m, _) = t.random(&mut rng).expect("not empty");
            assert!(t.get(m).is_some());
            drawn.insert(m.to_vec());
        }
        assert!(drawn.len() > 40, "only {} of 50 drawn", drawn.len());
        assert!(Table::<()>::default().random(&mut rng).is_none());
    }
}
