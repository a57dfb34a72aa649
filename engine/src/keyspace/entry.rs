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
/// The access word's LFU counter: 8 bits below the second-chance bit, Redis's
/// logarithmic access counter.
const COUNTER_SHIFT: u32 = 23;
const COUNTER_MASK: u32 = 0xff << COUNTER_SHIFT;
/// The access word's clock bits: seconds of the last access, wrapping every 97 days.
const CLOCK_MASK: u32 = (1 << COUNTER_SHIFT) - 1;
/// Redis's LFU_INIT_VAL: the counter of a key just written.
pub const LFU_INIT_VAL: u8 = 5;

/// `lfu-log-factor` and `lfu-decay-time`, as Redis keeps them: for every keyspace of
/// the process (see [`set_lfu_params`]).
static LFU_LOG_FACTOR: AtomicU32 = AtomicU32::new(10);
static LFU_DECAY_TIME: AtomicU32 = AtomicU32::new(1);

/// Sets `lfu-log-factor` (how many accesses each step of the counter takes, growing
/// with the counter) and `lfu-decay-time` (minutes of idleness per step down; 0:
/// never).
pub fn set_lfu_params(log_factor: u32, decay_minutes: u32) {
    LFU_LOG_FACTOR.store(log_factor, Ordering::Relaxed);
    LFU_DECAY_TIME.store(decay_minutes, Ordering::Relaxed);
}

/// One key's entry: 12 bytes aligned to 4, so the index node that holds it and its
/// key's length takes 24 bytes before the key.
#[derive(Debug)]
pub struct Entry {
    slot: Slot,
    /// The second-chance bit, the LFU counter (OBJECT FREQ, LFU policies) and a
    /// seconds-resolution clock of the last access (LRU, OBJECT IDLETIME).
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
            access: AtomicU32::new(access_word(now_ms, LFU_INIT_VAL)),
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

    /// Records an access: sets the clock and the second-chance bit, and counts it in
    /// the LFU counter as Redis's `updateLFU` does (decayed for the idle time, then
    /// incremented with a probability that falls as it grows). A relaxed store,
    /// skipped when nothing would change; racing accesses may count once.
    pub fn touch(&self, now_ms: u64) {
        let old = self.access.load(Ordering::Relaxed);
        let word = access_word(now_ms, log_increment(decayed(old, now_ms)));
        if old != word {
            self.access.store(word, Ordering::Relaxed);
        }
    }

    /// Takes `old`'s LFU counter: a value that overwrites another keeps the key's
    /// access frequency, as Redis's `dbOverwrite` does.
    pub(crate) fn inherit_frequency(&self, old: &Entry) {
        let counter = old.access.load(Ordering::Relaxed) & COUNTER_MASK;
        let word = self.access.load(Ordering::Relaxed);
        self.access
            .store((word & !COUNTER_MASK) | counter, Ordering::Relaxed);
    }

    /// RESTORE's IDLETIME and FREQ: the last access `idle_secs` before `now_ms`,
    /// and the LFU counter `frequency`, where given.
    pub fn restore_access(&self, now_ms: u64, idle_secs: Option<u64>, frequency: Option<u8>) {
        let mut word = self.access.load(Ordering::Relaxed);
        if let Some(idle) = idle_secs {
            let clock = access_clock(now_ms).wrapping_sub(idle as u32) & CLOCK_MASK;
            word = (word & !CLOCK_MASK) | clock;
        }
        if let Some(counter) = frequency {
            word = (word & !COUNTER_MASK) | (u32::from(counter) << COUNTER_SHIFT);
        }
        self.access.store(word, Ordering::Relaxed);
    }

    /// Seconds since the last access.
    pub fn idle_seconds(&self, now_ms: u64) -> u64 {
        idle_seconds(self.access.load(Ordering::Relaxed), now_ms)
    }

    /// The LFU counter as of `now_ms` (decayed for the idle time, not stored): Redis's
    /// `LFUDecrAndReturn`, what OBJECT FREQ reports.
    pub fn frequency(&self, now_ms: u64) -> u8 {
        decayed(self.access.load(Ordering::Relaxed), now_ms)
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

/// An access word for an access at `now_ms` with LFU counter `counter`.
fn access_word(now_ms: u64, counter: u8) -> u32 {
    access_clock(now_ms) | (u32::from(counter) << COUNTER_SHIFT) | REFERENCED
}

fn idle_seconds(word: u32, now_ms: u64) -> u64 {
    u64::from(access_clock(now_ms).wrapping_sub(word) & CLOCK_MASK)
}

/// The counter of `word` less one step per `lfu-decay-time` minutes idle.
fn decayed(word: u32, now_ms: u64) -> u8 {
    let counter = ((word & COUNTER_MASK) >> COUNTER_SHIFT) as u8;
    let decay = u64::from(LFU_DECAY_TIME.load(Ordering::Relaxed));
    if decay == 0 {
        return counter;
    }
    let periods = idle_seconds(word, now_ms) / 60 / decay;
    counter.saturating_sub(periods.min(255) as u8)
}

/// Redis's `LFULogIncr`: one more, with probability 1 / ((counter - LFU_INIT_VAL) *
/// lfu-log-factor + 1); saturates at 255.
fn log_increment(counter: u8) -> u8 {
    if counter == u8::MAX {
        return counter;
    }
    let base = f64::from(counter.saturating_sub(LFU_INIT_VAL));
    let factor = f64::from(LFU_LOG_FACTOR.load(Ordering::Relaxed));
    let p = 1.0 / (base * factor + 1.0);
    if p >= 1.0 || rand::random::<f64>() < p {
        counter + 1
    } else {
        counter
    }
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

    /// The LFU counter as Redis keeps it: 5 when written, 6 after the first read, then
    /// steps ever less likely; one step down per idle minute; an overwrite keeps it;
    /// the LRU clock and the second-chance bit are apart from it. Then the settings.
    #[test]
    fn lfu_counter() {
        let e = Entry::new(Value::string(b"v"), None, 60_000);
        assert_eq!(e.frequency(60_000), LFU_INIT_VAL);
        e.touch(60_000);
        assert_eq!(e.frequency(60_000), LFU_INIT_VAL + 1);
        // A counter above the start grows with probability 1 / ((c - 5) * 10 + 1):
        // a thousand reads take it far above 6, far below 255.
        for _ in 0..1000 {
            e.touch(60_000);
        }
        let after = e.frequency(60_000);
        assert!((8..40).contains(&after), "{after}");
        // Decay: a step per idle minute, without changing what is stored.
        assert_eq!(e.frequency(60_000 + 3 * 60_000), after - 3);
        assert_eq!(e.frequency(60_000 + 1000 * 60_000), 0);
        assert_eq!(e.idle_seconds(60_000 + 3 * 60_000), 180);
        // An overwrite keeps the counter (set through the keyspace: Txn::set).
        let fresh = Entry::new(Value::string(b"w"), None, 60_000);
        fresh.inherit_frequency(&e);
        assert_eq!(fresh.frequency(60_000), after);
        assert!(fresh.take_second_chance());

        // With lfu-log-factor 0 every read counts, up to 255; lfu-decay-time 0 never
        // decays. (Process-wide settings: only this test changes them, and puts
        // Redis's defaults back.)
        set_lfu_params(0, 0);
        let e = Entry::new(Value::string(b"v"), None, 0);
        for _ in 0..300 {
            e.touch(0);
        }
        assert_eq!(e.frequency(0), 255);
        assert_eq!(e.frequency(100 * 24 * 3_600_000), 255);
        set_lfu_params(10, 1);
    }
}
