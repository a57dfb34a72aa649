//! What the index holds per key: where the value is, its expiry, and access metadata
//! for the replacement policy. The value is either in RAM ([`SlotRef::Hot`]) or in a
//! record of the cold tier ([`SlotRef::Cold`], a packed [`ColdLocation`]); both fit in
//! one word, so a cold key costs RAM for its key and a few words only.

use crate::cold::ColdLocation;
use crate::value::Value;
use std::sync::atomic::{AtomicU32, Ordering};

#[cfg(not(target_pointer_width = "64"))]
compile_error!("an entry packs a pointer and a cold location into one 64-bit word");

/// "No deadline" in [`Entry`]'s expiry field (no valid deadline is this large: Redis
/// deadlines are milliseconds within `i64`).
const NO_EXPIRY: u64 = u64::MAX;

/// The access word's second-chance bit: set by every access, cleared by the demoter
/// when it passes the entry over once.
const REFERENCED: u32 = 1 << 31;
/// The access word's clock bits (seconds, wrapping).
const CLOCK_MASK: u32 = REFERENCED - 1;

/// One key's entry: 20 bytes aligned to 4, so the index node that holds it and its
/// key's length takes 32 bytes before the key.
#[derive(Debug)]
pub struct Entry {
    slot: Slot,
    /// Absolute expiry time in Unix milliseconds; [`NO_EXPIRY`] for a persistent key.
    expire_at: Word,
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
        Entry {
            slot: self.slot.clone(),
            expire_at: self.expire_at,
            access: AtomicU32::new(self.access.load(Ordering::Relaxed)),
        }
    }
}

impl Entry {
    /// A key whose value is in RAM, accessed at `now_ms`.
    pub fn new(value: Value, expire_at: Option<u64>, now_ms: u64) -> Self {
        Entry {
            slot: Slot::hot(value),
            expire_at: Word::new(expire_at.unwrap_or(NO_EXPIRY)),
            access: AtomicU32::new(access_clock(now_ms) | REFERENCED),
        }
    }

    /// This entry with its value demoted to `loc`: same expiry and access time, and
    /// the access bit clear, so only a read after the demotion counts towards
    /// promotion ([`Entry::read_again_within`]).
    pub fn with_cold(&self, loc: ColdLocation) -> Entry {
        let entry = self.with_slot(Slot::cold(loc));
        entry.access.fetch_and(!REFERENCED, Ordering::Relaxed);
        entry
    }

    /// This entry moved to another record `loc` of the cold tier (the reclaimer), with
    /// all its metadata.
    pub fn with_location(&self, loc: ColdLocation) -> Entry {
        self.with_slot(Slot::cold(loc))
    }

    /// This entry with its value back in RAM (same expiry and access metadata).
    pub fn with_hot(&self, value: Value) -> Entry {
        self.with_slot(Slot::hot(value))
    }

    /// This entry with the deadline `expire_at` (None: persistent), its value where it
    /// is (EXPIRE and PERSIST on a cold key need no disk read).
    pub fn with_expire_at(&self, expire_at: Option<u64>) -> Entry {
        let mut fresh = self.clone();
        fresh.expire_at = Word::new(expire_at.unwrap_or(NO_EXPIRY));
        fresh
    }

    fn with_slot(&self, slot: Slot) -> Entry {
        Entry {
            slot,
            expire_at: self.expire_at,
            access: AtomicU32::new(self.access.load(Ordering::Relaxed)),
        }
    }

    /// Where the value is.
    pub fn slot(&self) -> SlotRef<'_> {
        self.slot.get()
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
        match self.slot() {
            SlotRef::Hot(v) => v.type_name(),
            SlotRef::Cold(loc) => Value::type_name_of_record(loc.value_type()),
        }
    }

    /// Absolute expiry time in Unix milliseconds; `None` for a persistent key.
    pub fn expire_at(&self) -> Option<u64> {
        let at = self.expire_at.get();
        (at != NO_EXPIRY).then_some(at)
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

/// One word: a pointer to a boxed [`Value`] (bit 0 clear: boxes are 8-aligned) or a
/// [`ColdLocation`]'s bits (bit 0 set). Owns the box.
struct Slot(Word);

// SAFETY: a `Slot` owns its boxed value exclusively, as `Box<Value>` would, and
// `Value` is `Send + Sync`.
unsafe impl Send for Slot {}
// SAFETY: as above; `&Slot` only hands out `&Value`.
unsafe impl Sync for Slot {}

impl Slot {
    fn hot(value: Value) -> Slot {
        let ptr = Box::into_raw(Box::new(value));
        debug_assert_eq!(ptr as u64 & 1, 0, "a boxed value is at least 2-aligned");
        Slot(Word::new(ptr as u64))
    }

    fn cold(loc: ColdLocation) -> Slot {
        Slot(Word::new(loc.bits()))
    }

    fn get(&self) -> SlotRef<'_> {
        let bits = self.0.get();
        if bits & 1 == 0 {
            // SAFETY: bit 0 clear means `bits` came from `Box::into_raw` in `Slot::hot`
            // and the box lives until this slot is dropped.
            SlotRef::Hot(unsafe { &*(bits as *const Value) })
        } else {
            SlotRef::Cold(ColdLocation::from_bits(bits).expect("a slot's cold bits are valid"))
        }
    }
}

impl Clone for Slot {
    fn clone(&self) -> Slot {
        match self.get() {
            SlotRef::Hot(v) => Slot::hot(v.clone()),
            SlotRef::Cold(loc) => Slot::cold(loc),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let bits = self.0.get();
        if bits & 1 == 0 {
            // SAFETY: the pointer came from `Box::into_raw` and is dropped only here.
            drop(unsafe { Box::from_raw(bits as *mut Value) });
        }
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
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
    /// key length, entry) is 32 bytes.
    #[test]
    fn entry_and_node_sizes() {
        assert_eq!(std::mem::size_of::<Entry>(), 20);
        assert_eq!(std::mem::align_of::<Entry>(), 4);
        assert_eq!(std::mem::size_of::<crate::index::Node<Entry>>(), 32);
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
