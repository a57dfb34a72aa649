//! Fuzzes the RESP codec: the server's request parser (fed whole and in two pieces,
//! which must agree but for the size limits), and the full frame decoder, whose output
//! must re-encode to bytes that decode to the same frame.

#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use tier_server::resp::{
    decode_frame, parse_command, Frame, Limits, ProtocolError, DEFAULT_MAX_DEPTH,
};

/// Small limits so that the fuzzer reaches every limit check.
const LIMITS: Limits = Limits {
    max_bulk_len: 1024,
    max_inline_len: 256,
    max_multibulk_len: 64,
    auth_required: false,
};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        auth_required: cut & 1 == 1,
        ..LIMITS
    };
    let whole = parse_all(input, &[input.len()], &limits);
    let cut = usize::from(cut).min(input.len());
    let split = parse_all(input, &[cut, input.len()], &limits);
    match split.1 {
        // As in Redis, a line that has not ended is too long only if too much of it
        // is waiting at once, so the first piece alone may be refused.
        Err(
            ProtocolError::TooBigInlineRequest
            | ProtocolError::TooBigMbulkCountString
            | ProtocolError::TooBigBulkCountString,
        ) if split != whole => assert!(whole.0.starts_with(&split.0)),
        _ => assert_eq!(split, whole),
    }

    if let Ok(Some((frame, used))) = decode_frame(input, DEFAULT_MAX_DEPTH) {
        assert!(used <= input.len());
        let encoded = encode(&frame);
        let Ok(Some((again, len))) = decode_frame(&encoded, DEFAULT_MAX_DEPTH) else {
            panic!("{frame:?} encodes to undecodable {encoded:?}");
        };
        assert_eq!(len, encoded.len());
        assert_eq!(encode(&again), encoded);
        // Only a frame holding NaN is not equal to itself.
        #[allow(clippy::eq_op)]
        let comparable = frame == frame;
        if comparable {
            assert_eq!(again, frame);
        }
    }
});

/// Feeds `input` up to each of `cuts` in turn, parsing all it can after each; returns
/// the commands, then the error or how many bytes were left unparsed.
fn parse_all(
    input: &[u8],
    cuts: &[usize],
    limits: &Limits,
) -> (Vec<Vec<Bytes>>, Result<usize, ProtocolError>) {
    let mut buf = BytesMut::new();
    let mut args = Vec::new();
    let mut commands = Vec::new();
    let mut fed = 0;
    for &cut in cuts {
        buf.extend_from_slice(&input[fed..cut]);
        fed = cut;
        loop {
            match parse_command(&mut buf, limits, &mut args) {
                Ok(true) => {
                    assert!(!args.is_empty());
                    commands.push(args.clone());
                }
                Ok(false) => break,
                Err(e) => return (commands, Err(e)),
            }
        }
    }
    (commands, Ok(buf.len()))
}

fn encode(frame: &Frame) -> Vec<u8> {
    let mut out = BytesMut::new();
    frame.encode(&mut out);
    out.to_vec()
}
