//! The values a command reads, wherever they are. A value in RAM is borrowed from its
//! entry; a value in the cold tier must have been loaded before the command ran (the
//! connection reads the command's keys from disk first, with no lock held). A
//! handler that meets a cold value nobody loaded (it was demoted in the instant
//! between) records the key and stops before changing anything; the connection
//! discards its partial reply, loads the key, and runs the command again.

use bytes::Bytes;
use smallvec::SmallVec;
use std::collections::HashMap;
use std::ops::Deref;
use tier_engine::cold::ColdLocation;
use tier_engine::{Entry, SlotRef, Value};

/// A value a handler reads: borrowed from RAM, or a copy of one loaded from the cold
/// tier (cheap: values share their bytes).
pub enum ValueRef<'g> {
    Ram(&'g Value),
    Loaded(Value),
}

impl Deref for ValueRef<'_> {
    type Target = Value;

    fn deref(&self) -> &Value {
        match self {
            ValueRef::Ram(v) => v,
            ValueRef::Loaded(v) => v,
        }
    }
}

/// The command needs a cold value that was not loaded; it stopped without effect.
#[derive(Debug)]
pub struct ColdMiss;

/// The command has written its reply (an error, or nothing after a [`ColdMiss`]) and
/// stops.
pub struct Replied;

impl From<ColdMiss> for Replied {
    fn from(_: ColdMiss) -> Replied {
        Replied
    }
}

/// Cold values loaded for the command being run, and the keys it missed (by their
/// record: SORT's BY and GET may read thousands).
#[derive(Default)]
pub struct ColdValues {
    loaded: HashMap<ColdLocation, Value>,
    missed: SmallVec<[Bytes; 1]>,
}

impl ColdValues {
    /// Makes `value`, read from the record at `loc`, available to the command.
    pub fn insert(&mut self, loc: ColdLocation, value: Value) {
        self.loaded.entry(loc).or_insert(value);
    }

    /// Whether the value of the record at `loc` is loaded.
    pub fn has(&self, loc: ColdLocation) -> bool {
        self.loaded.contains_key(&loc)
    }

    /// The loaded value of the record at `loc`.
    pub fn loaded(&self, loc: ColdLocation) -> Option<&Value> {
        self.loaded.get(&loc)
    }

    /// Forgets everything (before the connection's next command).
    pub fn clear(&mut self) {
        self.loaded.clear();
        self.missed.clear();
    }

    /// Whether the command met a cold value that was not loaded.
    pub fn has_missed(&self) -> bool {
        !self.missed.is_empty()
    }

    /// The keys the command missed, taken (empty if it ran to the end).
    pub fn take_missed(&mut self) -> SmallVec<[Bytes; 1]> {
        std::mem::take(&mut self.missed)
    }

    /// The value of `entry` (the entry of `key`).
    pub fn value_of<'g>(&mut self, key: &[u8], entry: &'g Entry) -> Result<ValueRef<'g>, ColdMiss> {
        match entry.slot() {
            SlotRef::Hot(v) => Ok(ValueRef::Ram(v)),
            SlotRef::Cold(loc) => match self.loaded.get(&loc) {
                Some(v) => Ok(ValueRef::Loaded(v.clone())),
                None => {
                    self.missed.push(Bytes::copy_from_slice(key));
                    Err(ColdMiss)
                }
            },
        }
    }

    /// `entry` with its value in RAM, for a command that moves or copies it to another
    /// key or database (a record names its key, so it never changes owner).
    pub fn hot_entry(&mut self, key: &[u8], entry: &Entry) -> Result<Entry, ColdMiss> {
        match entry.slot() {
            SlotRef::Hot(_) => Ok(entry.clone()),
            SlotRef::Cold(_) => {
                let value = self.value_of(key, entry)?.clone();
                Ok(entry.with_hot(value))
            }
        }
    }
}
