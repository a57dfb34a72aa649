//! Fuzzes RESTORE's payload parser (`decode_dump`): arbitrary bytes never panic, and a
//! payload that decodes re-encodes to one that decodes to the same value. Then a
//! sound payload built from the input's bytes (as a string value) with one byte
//! flipped is refused, never restored as something else.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tier_engine::value::dump::{decode_dump, encode_dump};
use tier_engine::Value;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = decode_dump(data) {
        let again = encode_dump(&value);
        assert_eq!(decode_dump(&again).as_ref(), Ok(&value));
    }
    let value = Value::string(data);
    let mut dump = encode_dump(&value);
    assert_eq!(decode_dump(&dump).as_ref(), Ok(&value));
    if let [first, ..] = data {
        let at = usize::from(*first) % dump.len();
        dump[at] ^= 0x01;
        assert!(decode_dump(&dump).is_err(), "a flipped byte at {at} went unseen");
    }
});
