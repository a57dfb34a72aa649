//! The values a key can hold. Strings for now; the other Redis types join this enum.
//! A value is cheap to clone (reference-counted bytes), because the index copies
//! entries when it replaces or moves them.

use bytes::Bytes;

/// A Redis value held in RAM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A binary-safe string. Build it with [`Value::string`]: a `Bytes` sliced from a
    /// connection's read buffer would keep that whole buffer alive.
    Str(Bytes),
}

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

    /// Bytes of payload the value holds, for memory reports.
    pub fn payload_len(&self) -> usize {
        match self {
            Value::Str(b) => b.len(),
        }
    }
}
