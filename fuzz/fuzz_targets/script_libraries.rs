//! Fuzzes the decoders scripts get in Redis's libraries, on bytes a client sends as an
//! argument: `cjson.decode`, `cmsgpack.unpack` and `struct.unpack` (its format taken
//! from the input's first bytes). Whatever the input, a script gets a value or an
//! error, and its reply (a decoded value encoded again) is one well-formed RESP frame.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tier_server::resp::decode_frame;
use tier_server::script::run_alone;

/// Deeper than any reply a script makes (its conversion stops at 1000 levels).
const REPLY_DEPTH: usize = 2000;

const SCRIPTS: &[&str] = &[
    "return cjson.encode(cjson.decode(ARGV[1]))",
    "return cmsgpack.pack(cmsgpack.unpack(ARGV[1]))",
    "local n = (ARGV[1]:byte(1) or 0) % 16 \
     return {struct.unpack(ARGV[1]:sub(2, 1 + n), ARGV[1]:sub(2 + n))}",
];

fuzz_target!(|data: &[u8]| {
    let argv = [Bytes::copy_from_slice(data)];
    for script in SCRIPTS {
        let reply = run_alone(script.as_bytes(), &argv);
        match decode_frame(&reply, REPLY_DEPTH) {
            Ok(Some((_, used))) => assert_eq!(used, reply.len(), "one frame"),
            other => panic!("a script's reply is not a RESP frame: {other:?}"),
        }
    }
});
