//! Fuzzes the AOF manifest parser: arbitrary bytes never panic, and a manifest that
//! parses encodes to text that parses back to the same manifest. The input is parsed
//! as it is, and also as the raw material of well-formed lines (`file <bytes> seq <n>
//! type <letter>`, a line of input each), so that the fuzzer reaches the rules past
//! the syntax: quoting, paths, duplicates, rising increments.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tier_engine::aof::Manifest;

fuzz_target!(|data: &[u8]| {
    round_trip(data);
    let mut lines = Vec::new();
    for (i, raw) in data.split(|&c| c == b'\n').enumerate() {
        let Some((&pick, name)) = raw.split_first() else {
            continue;
        };
        lines.extend_from_slice(b"file ");
        lines.extend_from_slice(name);
        let kind = ["b", "h", "i", "x"][usize::from(pick % 4)];
        let seq = i + usize::from(pick / 64);
        lines.extend_from_slice(format!(" seq {seq} type {kind}\n").as_bytes());
    }
    round_trip(&lines);
});

fn round_trip(text: &[u8]) {
    let path = Path::new("fuzz.manifest");
    if let Ok(manifest) = Manifest::parse(text, path) {
        let encoded = manifest.encode();
        if manifest.entries().next().is_none() {
            // Only comments: it encodes to nothing, which is an empty manifest.
            assert!(encoded.is_empty());
            return;
        }
        assert_eq!(Manifest::parse(&encoded, path).ok(), Some(manifest));
    }
}
