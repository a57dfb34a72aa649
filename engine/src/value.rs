//! The values a key can hold. Strings for now; the other Redis types join this enum.
//! A value is cheap to clone (reference-counted bytes), because the index copies
//! entries when it replaces or moves them.

use bytes::Bytes;

/// A Redis value held in RAM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A binary-safe string.
    Str(Bytes),
}

impl Value {
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
