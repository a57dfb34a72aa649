//! Fuzzes the aclfile parser (and with it the ACL rule parser ACL SETUSER uses):
//! arbitrary bytes never panic, and every user a file defines describes itself (ACL
//! LIST, ACL SAVE) in rules that parse back to the same description, unless a
//! selector holds a pattern or first argument that Redis's own description cannot
//! carry (a `(` or `)` in it, or what a selector's quoting made of quotes, escapes
//! and white space): redis-server 7.0.15 writes those the same way and cannot load
//! them back either.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tier_server::acl::file;

fuzz_target!(|data: &[u8]| {
    let Ok(users) = file::parse(data, "fuzz.acl") else {
        return;
    };
    for (name, rules) in users {
        let described = rules.describe();
        let line = [&b"user "[..], &name, b" ", &described].concat();
        match file::parse(&line, "fuzz.acl") {
            Ok(again) => {
                assert_eq!(again.len(), 1);
                assert_eq!(again[0].1.describe(), described);
            }
            Err(e) => {
                let selectors = rules.selectors().len();
                let start = described
                    .windows(2)
                    .position(|w| w == b" (")
                    .unwrap_or_else(|| panic!("{e}: no selector in {described:?}"));
                let tail = &described[start + 1..];
                let count = |c: u8| tail.iter().filter(|&&b| b == c).count();
                let unwritable = count(b'(') > selectors
                    || count(b')') > selectors
                    || tail
                        .iter()
                        .any(|b| b"\"'\\\t\n\r\x0b\x0c".contains(b));
                assert!(unwritable, "{e}: {described:?}");
            }
        }
    }
});
