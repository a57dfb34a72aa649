//! Fuzzes the aclfile parser (and with it the ACL rule parser ACL SETUSER uses):
//! arbitrary bytes never panic, and every user a file defines describes itself (ACL
//! LIST, ACL SAVE) in rules that parse back to the same description.

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
        let again = file::parse(&line, "fuzz.acl").expect("a description parses back");
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].1.describe(), described);
    }
});
