//! Fuzzes tierctl's reader of TIER SNAPSHOT's reply. Arbitrary bytes, read through a
//! tiny buffer so that every read boundary falls somewhere, as the reply and as a
//! status line: nothing panics, and a stream read to its end consumed exactly its
//! framing. Then the input cut into pieces and framed as the server frames them
//! reads back as exactly the input, and the same reply cut short anywhere is an
//! error, never a clean end.

#![no_main]

use std::io::{BufReader, Read};

use libfuzzer_sys::fuzz_target;
use tier_server::persist::stream::{piece_header, STREAM_END, STREAM_START};
use tier_tools::stream::{read_status, SnapshotStream};

fuzz_target!(|data: &[u8]| {
    let _ = read_status(&mut BufReader::with_capacity(7, data));
    let _ = read_all(data);
    round_trip(data);
});

/// The file `reply` holds, or the error it stops at.
fn read_all(reply: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = SnapshotStream::start(BufReader::with_capacity(7, reply))?;
    let mut file = Vec::new();
    stream.read_to_end(&mut file)?;
    Ok(file)
}

/// `data` as the server would send it, in pieces whose lengths come from its bytes.
fn round_trip(data: &[u8]) {
    let mut reply = STREAM_START.to_vec();
    let mut rest = data;
    while let [len, ..] = rest {
        let (piece, after) = rest.split_at((usize::from(*len) + 1).min(rest.len()));
        reply.extend_from_slice(piece_header(piece.len()).as_bytes());
        reply.extend_from_slice(piece);
        reply.extend_from_slice(b"\r\n");
        rest = after;
    }
    reply.extend_from_slice(STREAM_END);
    assert_eq!(read_all(&reply).expect("a whole reply reads"), data);
    let cut = data.first().map_or(0, |&b| usize::from(b)) * 7 % reply.len();
    assert!(read_all(&reply[..cut]).is_err(), "cut at {cut}");
}
