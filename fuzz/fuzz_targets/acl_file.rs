//! Fuzzes the aclfile parser (and with it the ACL rule parser ACL SETUSER uses):
//! arbitrary bytes never panic, and every user a file defines describes itself (ACL
//! LIST, ACL SAVE) in rules that parse back to the same description, unless Redis's
//! own description cannot carry the user either: a selector holding a `(` or `)` in
//! a pattern or first argument, or what a selector's quoting made of quotes, escapes
//! and white space; or a `%RW~*` pattern beside other key patterns (described as
//! `~*`, which a reload reads as allkeys). redis-server 7.0.15 writes those the same
//! way, and loads them back as something else or not at all.

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
        let problem = match file::parse(&line, "fuzz.acl") {
            Ok(again) => {
                assert_eq!(again.len(), 1);
                if again[0].1.describe() == described {
                    continue;
                }
                "it loads back as another user".to_string()
            }
            Err(e) => e.to_string(),
        };
        let unwritable = selectors_unwritable(&described, rules.selectors().len())
            || all_keys_among_patterns(&described);
        assert!(unwritable, "{problem}: {described:?}");
    }
});

/// Whether the selectors of `described` (there are `selectors`) cannot be written
/// so that they read back: a `(` or `)` inside one, or quotes, escapes or white space
/// that a selector's quoting made.
fn selectors_unwritable(described: &[u8], selectors: usize) -> bool {
    let Some(start) = described.windows(2).position(|w| w == b" (") else {
        return false;
    };
    let tail = &described[start + 1..];
    let count = |c: u8| tail.iter().filter(|&&b| b == c).count();
    count(b'(') > selectors
        || count(b')') > selectors
        || tail.iter().any(|b| b"\"'\\\t\n\r\x0b\x0c".contains(b))
}

/// Whether the root rules or a selector in `described` list `~*` beside other key
/// patterns: Redis describes a `%RW~*` pattern as `~*`, and a reload of that reads
/// allkeys, dropping the patterns before it and refusing those after it
/// (redis-server 7.0.15 lists `ACL SETUSER u %RW~* %W~a` as `~* %W~a`). A part
/// starts at each ` (`: patterns may hold parentheses, but no rule starts with one.
fn all_keys_among_patterns(described: &[u8]) -> bool {
    let mut parts = Vec::new();
    let mut rest = described;
    while let Some(at) = rest.windows(2).position(|w| w == b" (") {
        parts.push(&rest[..at]);
        rest = &rest[at + 1..];
    }
    parts.push(rest);
    parts.iter().any(|part| {
        let part = part.strip_prefix(b"(").unwrap_or(part);
        let patterns: Vec<&[u8]> = part
            .split(|&b| b == b' ')
            .filter(|token| token.starts_with(b"~") || token.starts_with(b"%"))
            .collect();
        patterns.len() > 1 && patterns.contains(&&b"~*"[..])
    })
}
