//! DUMP payloads: a value serialized for RESTORE, in Tier's own format (Redis's is an
//! RDB object; tierd reads no RDB). `docs/FORMAT.md` ("DUMP payloads") documents it:
//! the value's type byte, its record payload (the cold tier's and the snapshots'
//! form), the format version (u16 LE) and a CRC-32 (ISO-HDLC, u32 LE) of every byte
//! before it. Like Redis's footer, the last six bytes say what the payload is and
//! whether it arrived whole.

use super::Value;
use bytes::Bytes;
use thiserror::Error;

/// The version DUMP writes and RESTORE reads.
pub const DUMP_VERSION: u16 = 1;
/// The version and checksum after the value.
const FOOTER_LEN: usize = 2 + 4;

/// Why a payload is not a value RESTORE can create.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DumpError {
    /// Too short, another version, or a checksum that does not match (Redis's
    /// "DUMP payload version or checksum are wrong").
    #[error("DUMP payload version or checksum are wrong")]
    VersionOrChecksum,
    /// Sound footer, but the value inside is malformed (Redis's "Bad data format").
    #[error("Bad data format")]
    BadData,
}

/// The DUMP payload of `value`.
pub fn encode_dump(value: &Value) -> Vec<u8> {
    let payload = value.record_payload();
    let mut out = Vec::with_capacity(1 + payload.len() + FOOTER_LEN);
    out.push(value.record_type());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&DUMP_VERSION.to_le_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The value a DUMP payload holds, checked whole (footer, then the value itself).
pub fn decode_dump(dump: &[u8]) -> Result<Value, DumpError> {
    if dump.len() < 1 + FOOTER_LEN {
        return Err(DumpError::VersionOrChecksum);
    }
    let (body, crc) = dump.split_at(dump.len() - 4);
    let (value, version) = body.split_at(body.len() - 2);
    let version = u16::from_le_bytes([version[0], version[1]]);
    let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if version != DUMP_VERSION || crc32fast::hash(body) != crc {
        return Err(DumpError::VersionOrChecksum);
    }
    Value::from_record(value[0], Bytes::copy_from_slice(&value[1..]))
        .map_err(|_| DumpError::BadData)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value comes back; a flipped byte anywhere, a cut, or another version is
    /// refused.
    #[test]
    fn round_trip_and_damage() {
        let value = Value::string(b"a value");
        let dump = encode_dump(&value);
        assert_eq!(decode_dump(&dump), Ok(value));
        for i in 0..dump.len() {
            let mut bad = dump.clone();
            bad[i] ^= 0x20;
            assert_eq!(
                decode_dump(&bad),
                Err(DumpError::VersionOrChecksum),
                "byte {i}"
            );
        }
        for cut in 0..dump.len() {
            assert!(decode_dump(&dump[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(decode_dump(b""), Err(DumpError::VersionOrChecksum));
    }

    /// A sound footer around a value its type does not parse: bad data, no panic.
    #[test]
    fn a_malformed_value_is_bad_data() {
        let mut body = vec![0xEE, 1, 2, 3];
        body.extend_from_slice(&DUMP_VERSION.to_le_bytes());
        let crc = crc32fast::hash(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(decode_dump(&body), Err(DumpError::BadData));
    }
}
