//! Fuzzes the AOF replay parser. Arbitrary bytes, read through a tiny buffer so that
//! every read boundary falls somewhere: nothing panics or allocates past the limits;
//! the commands follow one another from offset 0 and each re-encodes to exactly its
//! bytes (the format is canonical); the input ends after a whole command (followed by
//! zero bytes only: room reserved ahead of appends), in a torn tail that starts where
//! the last command ended, or at a corruption no earlier.

#![no_main]

use std::io::BufReader;

use libfuzzer_sys::fuzz_target;
use tier_engine::aof::{encode_command, AofError, CommandReader, Parsed, ReplayLimits};

/// Small limits so that the fuzzer reaches every limit check.
const LIMITS: ReplayLimits = ReplayLimits {
    max_bulk_len: 1024,
    max_args: 64,
};

fuzz_target!(|data: &[u8]| {
    let mut reader = CommandReader::new(BufReader::with_capacity(7, data), "fuzz.aof", LIMITS);
    let mut end = 0;
    loop {
        match reader.read_command() {
            Ok(Parsed::Command(command)) => {
                assert_eq!(command.offset, end);
                end = command.offset + command.len;
                let mut encoded = Vec::new();
                encode_command(&command.args, &mut encoded);
                assert_eq!(&data[command.offset as usize..end as usize], &encoded[..]);
            }
            Ok(Parsed::End) => {
                assert!(data[end as usize..].iter().all(|&b| b == 0));
                return;
            }
            Ok(Parsed::Torn {
                valid_len,
                file_len,
            }) => {
                assert_eq!(valid_len, end);
                assert!(valid_len < file_len && file_len == data.len() as u64);
                return;
            }
            Err(AofError::Corrupt { offset, .. }) => {
                assert!(offset >= end && offset < data.len() as u64);
                return;
            }
            Err(other) => panic!("not a corruption: {other}"),
        }
    }
});
