//! The values a key can hold: strings, lists, hashes, sets and sorted sets. A value is cheap to clone
//! (reference-counted bytes or collection), because the index copies entries when it
//! replaces or moves them, and it never changes once stored: lock-free readers may be
//! reading it, so a write stores a new value (collections share their unchanged parts,
//! see [`table`]). Each type also has its form in a cold-tier record and a snapshot: a
//! type byte and a payload ([`Value::record_type`], [`Value::record_payload`],
//! [`Value::from_record`]).
//!
//! - [`list`]: a persistent deque, a quicklist as Redis 7.0 reports it.
//! - [`dump`]: DUMP payloads (RESTORE's input).
//! - [`hash`]: listpack or hashtable, as Redis 7.0.
//! - [`set`]: intset or hashtable, as Redis 7.0.
//! - [`zset`]: listpack or skiplist, as Redis 7.0.
//! - [`table`]: the persistent table hashes and sets use when large (and sorted sets
//!   beside their order).

pub mod dump;
pub mod hash;
pub mod list;
#[cfg(test)]
mod model_tests;
mod payload;
pub mod set;
pub mod table;
pub mod zset;

pub use hash::Hash;
pub use list::List;
pub use set::Set;
pub use zset::ZSet;

use crate::cold::{
    VALUE_TYPE_HASH, VALUE_TYPE_LIST, VALUE_TYPE_SET, VALUE_TYPE_STRING, VALUE_TYPE_ZSET,
};
use bytes::Bytes;
use std::sync::Arc;
use thiserror::Error;

/// A Redis value held in RAM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A binary-safe string. Build it with [`Value::string`]: a `Bytes` sliced from a
    /// connection's read buffer would keep that whole buffer alive.
    Str(Bytes),
    List(Arc<List>),
    Hash(Arc<Hash>),
    Set(Arc<Set>),
    ZSet(Arc<ZSet>),
}

/// A record payload that is not a value of the type its record names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RecordValueError {
    /// A type byte this build does not know.
    #[error("unknown value type {0}")]
    UnknownType(u8),
    /// A known type whose payload does not decode.
    #[error("malformed payload of value type {value_type}: {reason}")]
    Malformed {
        value_type: u8,
        reason: &'static str,
    },
}

/// Why a collection payload does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct MalformedPayload(pub &'static str);

/// The thresholds of the compact encodings (Redis's `hash-max-listpack-entries`,
/// `hash-max-listpack-value`, `set-max-intset-entries`, `zset-max-listpack-entries`,
/// `zset-max-listpack-value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
}

impl Default for Limits {
    /// The defaults of redis-server 7.0.15 as installed (512, 64, 512, 128, 64).
    fn default() -> Self {
        Limits {
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
        }
    }
}

impl Limits {
    /// Limits nothing reaches: a value decoded from a payload keeps the encoding the
    /// payload names.
    pub fn unbounded() -> Limits {
        Limits {
            hash_max_listpack_entries: usize::MAX,
            hash_max_listpack_value: usize::MAX,
            set_max_intset_entries: usize::MAX,
            zset_max_listpack_entries: usize::MAX,
            zset_max_listpack_value: usize::MAX,
        }
    }
}

impl Value {
    /// A string value holding its own copy of `data`.
    pub fn string(data: &[u8]) -> Value {
        Value::Str(Bytes::copy_from_slice(data))
    }

    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        Value::type_name_of_record(self.record_type())
    }

    /// The name `TYPE` reports for a value stored in a record of type `record_type`.
    pub fn type_name_of_record(record_type: u8) -> &'static str {
        match record_type {
            VALUE_TYPE_STRING => "string",
            VALUE_TYPE_LIST => "list",
            VALUE_TYPE_HASH => "hash",
            VALUE_TYPE_SET => "set",
            VALUE_TYPE_ZSET => "zset",
            _ => "unknown",
        }
    }

    /// Bytes of payload the value holds, for memory reports: a string's length, a
    /// collection's record payload (kept up to date as it grows and shrinks).
    pub fn payload_len(&self) -> usize {
        match self {
            Value::Str(b) => b.len(),
            Value::List(l) => l.payload_len(),
            Value::Hash(h) => h.payload_len(),
            Value::Set(s) => s.payload_len(),
            Value::ZSet(z) => z.payload_len(),
        }
    }

    /// Whether `other` is this very value: the same allocation, so equal however long
    /// ago either was read (a value never changes in place). The demoter's test that
    /// an entry still holds what it wrote out.
    pub fn same_allocation(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => a.as_ptr() == b.as_ptr() && a.len() == b.len(),
            (Value::List(a), Value::List(b)) => Arc::ptr_eq(a, b),
            (Value::Hash(a), Value::Hash(b)) => Arc::ptr_eq(a, b),
            (Value::Set(a), Value::Set(b)) => Arc::ptr_eq(a, b),
            (Value::ZSet(a), Value::ZSet(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// An address that tells this value's allocation apart from any other live one
    /// (values are never empty in the index).
    pub fn allocation_id(&self) -> usize {
        match self {
            Value::Str(b) => b.as_ptr() as usize,
            Value::List(l) => Arc::as_ptr(l) as usize,
            Value::Hash(h) => Arc::as_ptr(h) as usize,
            Value::Set(s) => Arc::as_ptr(s) as usize,
            Value::ZSet(z) => Arc::as_ptr(z) as usize,
        }
    }

    /// The type byte of this value's cold-tier record and snapshot record.
    pub fn record_type(&self) -> u8 {
        match self {
            Value::Str(_) => VALUE_TYPE_STRING,
            Value::List(_) => VALUE_TYPE_LIST,
            Value::Hash(_) => VALUE_TYPE_HASH,
            Value::Set(_) => VALUE_TYPE_SET,
            Value::ZSet(_) => VALUE_TYPE_ZSET,
        }
    }

    /// The payload of this value's records: a string's bytes as they are (shared, not
    /// copied), a collection encoded (docs/FORMAT.md, "Value payloads").
    pub fn record_payload(&self) -> Bytes {
        match self {
            Value::Str(b) => b.clone(),
            Value::List(l) => {
                let mut out = Vec::with_capacity(l.payload_len());
                l.write_payload(&mut out);
                out.into()
            }
            Value::Hash(h) => {
                let mut out = Vec::with_capacity(h.payload_len());
                h.write_payload(&mut out);
                out.into()
            }
            Value::Set(s) => {
                let mut out = Vec::with_capacity(s.payload_len());
                s.write_payload(&mut out);
                out.into()
            }
            Value::ZSet(z) => {
                let mut out = Vec::with_capacity(z.payload_len());
                z.write_payload(&mut out);
                out.into()
            }
        }
    }

    /// This value as Redis encodes it when it loads it from an RDB file: each
    /// collection in the compact encoding if it fits `limits`, else a hashtable (a
    /// list is a quicklist whatever its size). A
    /// snapshot being loaded goes through this; a cold read does not (a value comes
    /// back from the tier as it went).
    pub fn fitted(self, limits: &Limits) -> Value {
        match self {
            Value::Str(_) | Value::List(_) => self,
            Value::Hash(h) => Value::Hash(h.fitted(limits)),
            Value::Set(s) => Value::Set(s.fitted(limits)),
            Value::ZSet(z) => Value::ZSet(z.fitted(limits)),
        }
    }

    /// The value a record of type `record_type` with `payload` holds.
    pub fn from_record(record_type: u8, payload: Bytes) -> Result<Value, RecordValueError> {
        let malformed = |e: MalformedPayload| RecordValueError::Malformed {
            value_type: record_type,
            reason: e.0,
        };
        match record_type {
            VALUE_TYPE_STRING => Ok(Value::Str(payload)),
            VALUE_TYPE_LIST => Ok(Value::List(Arc::new(
                List::from_payload(&payload).map_err(malformed)?,
            ))),
            VALUE_TYPE_HASH => Ok(Value::Hash(Arc::new(
                Hash::from_payload(&payload).map_err(malformed)?,
            ))),
            VALUE_TYPE_SET => Ok(Value::Set(Arc::new(
                Set::from_payload(&payload).map_err(malformed)?,
            ))),
            VALUE_TYPE_ZSET => Ok(Value::ZSet(Arc::new(
                ZSet::from_payload(&payload).map_err(malformed)?,
            ))),
            other => Err(RecordValueError::UnknownType(other)),
        }
    }
}
