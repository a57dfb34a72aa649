//! The values a key can hold. Strings for now; the other Redis types join this enum.
//! A value is cheap to clone (reference-counted bytes), because the index copies
//! entries when it replaces or moves them. Each type also has its form in a cold-tier
//! record: a type byte and a payload ([`Value::record_type`], [`Value::from_record`]).

use crate::cold::VALUE_TYPE_STRING;
use bytes::Bytes;
use thiserror::Error;

/// A Redis value held in RAM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A binary-safe string. Build it with [`Value::string`]: a `Bytes` sliced from a
    /// connection's read buffer would keep that whole buffer alive.
    Str(Bytes),
}

/// A record payload that is not a value of the type its record names.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown value type {0} in a cold record")]
pub struct UnknownValueType(pub u8);

impl Value {
    /// A string value holding its own copy of `data`.
    pub fn string(data: &[u8]) -> Value {
        Value::Str(Bytes::copy_from_slice(data))
    }

    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
        }
    }

    /// The name `TYPE` reports for a value stored in a record of type `record_type`.
    pub fn type_name_of_record(record_type: u8) -> &'static str {
        match record_type {
            VALUE_TYPE_STRING => "string",
            _ => "unknown",
        }
    }

    /// Bytes of payload the value holds, for memory reports.
    pub fn payload_len(&self) -> usize {
        match self {
            Value::Str(b) => b.len(),
        }
    }

    /// Whether `other` is this very value: the same bytes in the same allocation, so
    /// equal however long ago either was read (a value's bytes are never changed in
    /// place). The demoter's test that an entry still holds what it wrote out.
    pub fn same_allocation(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => a.as_ptr() == b.as_ptr() && a.len() == b.len(),
        }
    }

    /// The type byte of this value's cold-tier record.
    pub fn record_type(&self) -> u8 {
        match self {
            Value::Str(_) => VALUE_TYPE_STRING,
        }
    }

    /// The payload of this value's cold-tier record (a string's bytes as they are).
    pub fn record_payload(&self) -> &[u8] {
        match self {
            Value::Str(b) => b,
        }
    }

    /// The value a record of type `record_type` with `payload` holds.
    pub fn from_record(record_type: u8, payload: Bytes) -> Result<Value, UnknownValueType> {
        match record_type {
            VALUE_TYPE_STRING => Ok(Value::Str(payload)),
            other => Err(UnknownValueType(other)),
        }
    }
}
