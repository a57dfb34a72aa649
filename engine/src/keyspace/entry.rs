//! What the index holds per key: where the value is, its expiry, and access metadata
//! for the replacement policy. The value is either in RAM ([`SlotRef::Hot`]) or in a
//! record of the cold tier ([`SlotRef::Cold`], a packed [`ColdLocation`]); both fit in
//! one word, so a persistent cold key costs RAM for its key and 24 bytes of node only.
//! A key with a deadline keeps it in a small box that the word points to instead, so
//! only keys with a TTL pay for one.

use crate::cold::ColdLocation;
use crate::value::Value;
use std::sync::atomic::{AtomicU32, Ordering};

#[cfg(not(target_pointer_width = "64"))]
compile_error!("an entry packs a pointer and a cold location into one 64-bit word");

/// The access word's second-chance bit: set by every access, cleared by the demoter
/// when it passes the entry over once.
const REFERENCED: u32 = 1 << 31;
/// The access word's clock bits (seconds, wrapping).
const CLOCK_MASK: u32 = REFERENCED - 1;

/// One key's entry: 12 bytes aligned to 4, so the index node that holds it and its
/// key's length takes 24 bytes before the key.
#[derive(Debug)]
pub struct Entry {
    slot: Slot,
    /// The second-chance bit and a seconds-resolution clock of the last access, for
    /// LRU and OBJECT IDLETIME.
    access: AtomicU32,
}

/// Where an entry's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotRef<'a> {
    /// In RAM.
    Hot(&'a Value),
    /// In a record of the cold tier.
    Cold(ColdLocation),
}

impl Clone for Entry {
    fn clone(&self) -> Self {
        self.with_slot(self.slot.clone())
    }
}

impl Entry {
    /// A key whose value is in RAM, accessed at `now_ms`.
    pub fn new(value: Value, expire_at: Option<u64>, now_ms: u64) -> Self {
        Entry {
            slot: Slot::new(Place::Hot(value), expire_at),
            access: AtomicU32::new(access_clock(now_ms) | REFERENCED),
        }
    }

    /// This entry with its value demoted to `loc`: same expiry and access time, and
    /// the access bit clear, so only a read after the demotion counts towards
    /// promotion ([`Entry::read_again_within`]).
    pub fn with_cold(&self, loc: ColdLocation) -> Entry {
        let entry = self.with_place(Place::Cold(loc));
        entry.access.fetch_and(!REFERENCED, Ordering::Relaxed);
        entry
    }

    /// This entry moved to another record `loc` of the cold tier (the reclaimer), with
    /// all its metadata.
    pub fn with_location(&self, loc: ColdLocation) -> Entry {
        self.with_place(Place::Cold(loc))
    }

    /// This entry with its value back in RAM (same expiry and access metadata).
    pub fn with_hot(&self, value: Value) -> Entry {
        self.with_place(Place::Hot(value))
    }

    /// This entry with the deadline `expire_at` (None: persistent), its value where it
    /// is (EXPIRE and PERSIST on a cold key need no disk read).
    pub fn with_expire_at(&self, expire_at: Option<u64>) -> Entry {
        let place = match self.slot() {
            SlotRef::Hot(v) => Place::Hot(v.clone()),
            SlotRef::Cold(loc) => Place::Cold(loc),
        };
        self.with_slot(Slot::new(place, expire_at))
    }

    fn with_place(&self, place: Place) -> Entry {
        self.with_slot(Slot::new(place, self.expire_at()))
    }

    fn with_slot(&self, slot: Slot) -> Entry {
        Entry {
            slot,
            access: AtomicU32::new(self.access.load(Ordering::Relaxed)),
        }
    }

    /// Where the value is.
    pub fn slot(&self) -> SlotRef<'_> {
        self.slot.get().0
    }

    /// The value, if it is in RAM.
    pub fn hot(&self) -> Option<&Value> {
        match self.slot() {
            SlotRef::Hot(v) => Some(v),
            SlotRef::Cold(_) => None,
        }
    }

    /// The value's location, if it is in the cold tier.
    pub fn cold(&self) -> Option<ColdLocation> {
        match self.slot() {
            SlotRef::Hot(_) => None,
            SlotRef::Cold(loc) => Some(loc),
        }
    }

    /// The name `TYPE` reports (known for a cold value too, from its location).
    pub fn type_name(&self) -> &'static str {
        Value::type_name_of_record(self.record_type())
    }

    /// The record type byte of the value, hot or cold.
    pub fn record_type(&self) -> u8 {
        match self.slot() {
            SlotRef::Hot(v) => v.record_type(),
            SlotRef::Cold(loc) => loc.value_type(),
        }
    }

    /// Absolute expiry time in Unix milliseconds; `None` for a persistent key.
    pub fn expire_at(&self) -> Option<u64> {
        self.slot.get().1
    }

    /// Whether the key has expired at `now_ms` (strictly past its deadline, as Redis).
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at().is_some_and(|at| at < now_ms)
    }

    /// Records an access: sets the clock and the second-chance bit (a relaxed store,
    /// skipped when neither would change).
    pub fn touch(&self, now_ms: u64) {
        let word = access_clock(now_ms) | REFERENCED;
        if self.access.load(Ordering::Relaxed) != word {
            self.access.store(word, Ordering::Relaxed);
        }
    }

    /// Seconds since the last access.
    pub fn idle_seconds(&self, now_ms: u64) -> u64 {
        let last = self.access.load(Ordering::Relaxed);
        u64::from(access_clock(now_ms).wrapping_sub(last) & CLOCK_MASK)
    }

    /// Whether the value was read since it was last demoted or written, no more than
    /// `window_secs` ago: the promotion test of a cold read (a value read once by a
    /// scan is not promoted; one read again soon is).
    pub fn read_again_within(&self, now_ms: u64, window_secs: u64) -> bool {
        self.access.load(Ordering::Relaxed) & REFERENCED != 0
            && self.idle_seconds(now_ms) <= window_secs
    }

    /// The demoter's second chance: true (and the bit is cleared) if the entry was
    /// accessed since the demoter last passed it over, so it is spared this once.
    pub fn take_second_chance(&self) -> bool {
        self.access.fetch_and(!REFERENCED, Ordering::Relaxed) & REFERENCED != 0
    }
}

fn access_clock(now_ms: u64) -> u32 {
    (now_ms / 1000) as u32 & CLOCK_MASK
}

/// Where a value is, owned: what a [`Slot`] is built from.
enum Place {
    Hot(Value),
    Cold(ColdLocation),
}

/// A value's place together with its deadline, boxed behind a slot word for keys
/// that have one.
struct Expiring<T> {
    expire_at: u64,
    inner: T,
}

/// The low bits of a slot word, which say what the rest is. A [`ColdLocation`] has
/// bit 0 set; the boxes are 8-aligned, so a pointer leaves bits 0 to 2 free.
const TAG_MASK: u64 = 0b111;
/// A pointer to a `Box<Value>`: a hot value without a deadline.
const TAG_HOT: u64 = 0b000;
/// A pointer to a `Box<Expiring<Value>>`.
const TAG_HOT_EXPIRING: u64 = 0b010;
/// A pointer to a `Box<Expiring<ColdLocation>>`.
const TAG_COLD_EXPIRING: u64 = 0b100;

/// One word that owns what it points to: a [`ColdLocation`]'s bits (bit 0 set), or a
/// tagged pointer to a boxed [`Value`], or to a value or location boxed with its
/// deadline ([`Expiring`]).
struct Slot(Word);

// SAFETY: a `Slot` owns its box exclusively, as a `Box` would, and what it boxes
// (`Value`, `u64`, `ColdLocation`) is `Send + Sync`.
unsafe impl Send for Slot {}
// SAFETY: as above; `&Slot` only hands out shared references and copies.
unsafe impl Sync for Slot {}

impl Slot {
    fn new(place: Place, expire_at: Option<u64>) -> Slot {
        let word = match (place, expire_at) {
            (Place::Cold(loc), None) => loc.bits(),
            (Place::Hot(value), None) => tagged(Box::new(value), TAG_HOT),
            (Place::Hot(inner), Some(expire_at)) => {
                tagged(Box::new(Expiring { expire_at, inner }), TAG_HOT_EXPIRING)
            }
            (Place::Cold(inner), Some(expire_at)) => {
                tagged(Box::new(Expiring { expire_at, inner }), TAG_COLD_EXPIRING)
            }
        };
        Slot(Word::new(word))
    }

    /// Where the value is, and its deadline.
    fn get(&self) -> (SlotRef<'_>, Option<u64>) {
        let bits = self.0.get();
        if bits & 1 == 1 {
            let loc = ColdLocation::from_bits(bits).expect("a slot's cold bits are valid");
            return (SlotRef::Cold(loc), None);
        }
        let ptr = bits & !TAG_MASK;
        // SAFETY: a word without bit 0 came from `tagged` in `Slot::new` with the box
        // type its tag names, and the box lives until this slot is dropped.
        unsafe {
            match bits & TAG_MASK {
                TAG_HOT => (SlotRef::Hot(&*(ptr as *const Value)), None),
                TAG_HOT_EXPIRING => {
                    let e = &*(ptr as *const Expiring<Value>);
                    (SlotRef::Hot(&e.inner), Some(e.expire_at))
                }
                _ => {
                    let e = &*(ptr as *const Expiring<ColdLocation>);
                    (SlotRef::Cold(e.inner), Some(e.expire_at))
                }
            }
        }
    }
}

/// The word of a boxed `T` with `tag` in its low bits.
fn tagged<T>(boxed: Box<T>, tag: u64) -> u64 {
    const { assert!(std::mem::align_of::<T>() > TAG_MASK as usize) };
    let ptr = Box::into_raw(boxed) as u64;
    debug_assert_eq!(ptr & TAG_MASK, 0);
    ptr | tag
}

impl Clone for Slot {
    fn clone(&self) -> Slot {
        let (slot, expire_at) = self.get();
        let place = match slot {
            SlotRef::Hot(v) => Place::Hot(v.clone()),
            SlotRef::Cold(loc) => Place::Cold(loc),
        };
        Slot::new(place, expire_at)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let bits = self.0.get();
        if bits & 1 == 1 {
            return;
        }
        let ptr = bits & !TAG_MASK;
        // SAFETY: the pointer came from `Box::into_raw` in `tagged`, with the type its
        // tag names, and is dropped only here.
        unsafe {
            match bits & TAG_MASK {
                TAG_HOT => drop(Box::from_raw(ptr as *mut Value)),
                TAG_HOT_EXPIRING => drop(Box::from_raw(ptr as *mut Expiring<Value>)),
                _ => drop(Box::from_raw(ptr as *mut Expiring<ColdLocation>)),
            }
        }
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// A 64-bit word kept as two 4-aligned halves, so an [`Entry`] needs only 4-byte
/// alignment and packs next to the index node's 4-byte key length.
#[derive(Clone, Copy, Debug)]
struct Word([u32; 2]);

impl Word {
    fn new(n: u64) -> Word {
        Word([n as u32, (n >> 32) as u32])
    }

    fn get(self) -> u64 {
        u64::from(self.0[0]) | u64::from(self.0[1]) << 32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hot_cold_round_trip() {
        let e = Entry::new(Value::string(b"hello"), Some(5_000), 1_000);
        assert_eq!(e.hot(), Some(&Value::string(b"hello")));
        assert_eq!(e.expire_at(), Some(5_000));
        let loc = ColdLocation::new(7, 123, 40, 0).expect("fits");
        let cold = e.with_cold(loc);
        assert_eq!(cold.slot(), SlotRef::Cold(loc));
        assert_eq!(cold.type_name(), "string");
        assert_eq!(cold.expire_at(), Some(5_000));
        let back = cold.with_hot(Value::string(b"hello"));
        assert_eq!(back.hot(), e.hot());
        let persistent = back.with_expire_at(None);
        assert_eq!(persistent.expire_at(), None);
        assert!(!persistent.is_expired(u64::MAX - 1));
        let copy = cold.clone();
        assert_eq!(copy.cold(), Some(loc));
    }

    /// The RAM a key costs beyond its bytes starts here: the node header (chain link,
    /// key length, entry) is 24 bytes.
    #[test]
    fn entry_and_node_sizes() {
        assert_eq!(std::mem::size_of::<Entry>(), 12);
        assert_eq!(std::mem::align_of::<Entry>(), 4);
        assert_eq!(std::mem::size_of::<crate::index::Node<Entry>>(), 24);
    }

    /// Every combination of place and deadline survives the moves between them.
    #[test]
    fn deadlines_follow_the_value() {
        let loc = ColdLocation::new(3, 8192, 100, 0).expect("fits");
        for at in [None, Some(0), Some(1_700_000_000_000), Some(u64::MAX)] {
            let hot = Entry::new(Value::string(b"v"), at, 0);
            assert_eq!(hot.expire_at(), at);
            let cold = hot.with_cold(loc);
            assert_eq!((cold.cold(), cold.expire_at()), (Some(loc), at));
            assert_eq!(cold.clone().expire_at(), at);
            let moved = cold.with_location(loc);
            assert_eq!(moved.expire_at(), at);
            let back = moved.with_hot(Value::string(b"w"));
            assert_eq!(
                (back.hot(), back.expire_at()),
                (Some(&Value::string(b"w")), at)
            );
            for other in [None, Some(42)] {
                assert_eq!(cold.with_expire_at(other).expire_at(), other);
                assert_eq!(cold.with_expire_at(other).cold(), Some(loc));
                assert_eq!(back.with_expire_at(other).hot(), back.hot());
            }
        }
    }

    #[test]
    fn second_chance_and_idle() {
        let e = Entry::new(Value::string(b"v"), None, 10_000);
        assert!(e.take_second_chance(), "a fresh entry was just accessed");
        assert!(!e.take_second_chance());
        assert_eq!(e.idle_seconds(15_000), 5);
        e.touch(15_000);
        assert_eq!(e.idle_seconds(15_000), 0);
        assert!(e.take_second_chance());
    }
}
