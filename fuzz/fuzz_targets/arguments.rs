//! Fuzzes the parsers that read client- or operator-supplied arguments beyond RESP
//! framing: glob patterns (KEYS, SCAN MATCH, CONFIG GET), integers (string2ll, with
//! a round trip through the integer writer), INCRBYFLOAT's long-double parser and
//! adder, and the config-file parser. None may panic or run away; integers must
//! read back exactly as written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tier_server::config::Config;
use tier_server::num::{format_i64, long_double, parse_i64};

fuzz_target!(|data: &[u8]| {
    let (left, right) = data.split_at(data.len() / 2);
    tier_engine::glob::glob_match(left, right, data.first().is_some_and(|b| b & 1 == 1));

    if let Some(n) = parse_i64(data) {
        assert_eq!(&format_i64(n)[..], data, "string2ll accepted a non-canonical integer");
    }

    if let (Some(a), Some(b)) = (long_double::parse(left), long_double::parse(right)) {
        if let Some(sum) = a.checked_add(b) {
            let text = sum.to_human();
            assert!(long_double::parse(text.as_bytes()).is_some(), "unreadable sum {text}");
        }
    }

    let _ = Config::default().load_text(data, "fuzz.conf");
});
