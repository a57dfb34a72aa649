//! The record payload of a collection (docs/FORMAT.md, "Value payloads"): one
//! encoding byte, a u32 count, then length-prefixed strings (and a sorted set's f64
//! scores), all little-endian. The
//! same bytes go to the cold tier and into snapshots.

use super::MalformedPayload;

/// Encoding byte of a listpack hash or sorted set, or an intset.
pub const ENCODING_COMPACT: u8 = 0;
/// Encoding byte of a hashtable or a skiplist.
pub const ENCODING_TABLE: u8 = 1;
/// Bytes before the first string: the encoding and the count.
pub const HEADER_LEN: usize = 5;

/// Appends a payload to a buffer.
pub struct PayloadWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> PayloadWriter<'a> {
    /// Starts a payload of `count` elements in `encoding`.
    pub fn new(out: &'a mut Vec<u8>, encoding: u8, count: usize) -> Self {
        out.push(encoding);
        out.extend_from_slice(&(count as u32).to_le_bytes());
        PayloadWriter { out }
    }

    /// One string: its length (u32), then its bytes.
    pub fn string(&mut self, s: &[u8]) {
        self.out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.out.extend_from_slice(s);
    }

    /// One score: an f64, little-endian.
    pub fn f64(&mut self, n: f64) {
        self.out.extend_from_slice(&n.to_le_bytes());
    }
}

/// Reads a payload, refusing any length past its end.
pub struct PayloadReader<'a> {
    rest: &'a [u8],
}

impl<'a> PayloadReader<'a> {
    /// The reader after the header, the encoding byte (one of the two known) and the
    /// count.
    pub fn new(payload: &'a [u8]) -> Result<(Self, u8, usize), MalformedPayload> {
        let mut r = PayloadReader { rest: payload };
        let encoding = r.take(1)?[0];
        if encoding != ENCODING_COMPACT && encoding != ENCODING_TABLE {
            return Err(MalformedPayload("unknown encoding"));
        }
        let count = r.u32()? as usize;
        Ok((r, encoding, count))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], MalformedPayload> {
        if self.rest.len() < n {
            return Err(MalformedPayload("ends early"));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, MalformedPayload> {
        let mut n = [0; 4];
        n.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(n))
    }

    /// The next string.
    pub fn string(&mut self) -> Result<&'a [u8], MalformedPayload> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    /// The next score.
    pub fn f64(&mut self) -> Result<f64, MalformedPayload> {
        let mut n = [0; 8];
        n.copy_from_slice(self.take(8)?);
        Ok(f64::from_le_bytes(n))
    }

    /// Checks nothing follows the last string.
    pub fn finish(self) -> Result<(), MalformedPayload> {
        match self.rest.is_empty() {
            true => Ok(()),
            false => Err(MalformedPayload("bytes after the last element")),
        }
    }
}
