//! The aclfile (docs/FORMAT.md): one `user <name> <rule> ...` line per user, as ACL
//! LIST prints them. [`parse`] reads it all or nothing with Redis 7.0's error texts
//! (file and line of each fault); [`save`] writes it atomically (a temporary file,
//! fsync, rename, fsync of the directory).

use super::rules::{has_spaces, merge_selector_words, RuleError, UserRules};
use super::User;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// What ACL LOAD adds after the faults it found.
const NOTHING_CHANGED: &str =
    "WARNING: ACL errors detected, no change to the previously active ACL rules was performed";

/// Reads an aclfile's text: every user it defines with its rules, or Redis's
/// description of every fault (`<file>:<line>: <why>. `...) when there is one.
/// `file` names the file in the errors.
pub fn parse(text: &[u8], file: &str) -> Result<Vec<(Vec<u8>, UserRules)>, String> {
    let mut errors = String::new();
    let mut users: Vec<(Vec<u8>, UserRules)> = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let number = i + 1;
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        // Redis splits on single spaces: two spaces make an empty rule, which does
        // nothing.
        let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        if words[0] != b"user" || words.len() < 2 {
            errors.push_str(&format!(
                "{file}:{number} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = words[1];
        if has_spaces(name) {
            errors.push_str(&format!(
                "'{file}:{number}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        if users.iter().any(|(n, _)| n == name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {number}. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        let rules: Vec<Vec<u8>> = words[2..].iter().map(|w| w.to_vec()).collect();
        let mut user = UserRules::default();
        match merge_selector_words(&rules) {
            Ok(merged) => {
                // As Redis: every unknown command or category is named, of the other
                // faults only a line's first (it may change what follows).
                let mut faulty = false;
                for rule in merged {
                    let rule = trim_tabs(&rule);
                    match user.apply(rule) {
                        Ok(()) => {}
                        Err(e @ RuleError::UnknownCommand) => errors.push_str(&format!(
                            "{file}:{number}: Error in applying operation '{}': {}. ",
                            String::from_utf8_lossy(rule),
                            e.message()
                        )),
                        Err(_) if faulty => {}
                        Err(e) => {
                            errors.push_str(&format!("{file}:{number}: {}. ", e.message()));
                            faulty = true;
                        }
                    }
                }
            }
            Err(_) => errors.push_str(&format!(
                "{file}:{number}: Unmatched parenthesis in selector definition."
            )),
        }
        users.push((name.to_vec(), user));
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        errors.push_str(NOTHING_CHANGED);
        Err(errors)
    }
}

/// Redis trims `\t\r\n` off each rule.
fn trim_tabs(rule: &[u8]) -> &[u8] {
    let keep = |b: &u8| !matches!(b, b'\t' | b'\r' | b'\n');
    let start = rule.iter().position(keep).unwrap_or(rule.len());
    let end = rule.iter().rposition(keep).map_or(start, |i| i + 1);
    &rule[start..end]
}

/// Reads and parses the aclfile at `path` (blocking I/O).
pub fn load(path: &Path) -> Result<Vec<(Vec<u8>, UserRules)>, String> {
    let name = path.display().to_string();
    let text = std::fs::read(path).map_err(|e| {
        format!(
            "Error loading ACLs, opening file '{name}': {}",
            os_reason(&e)
        )
    })?;
    parse(&text, &name)
}

/// The aclfile's text for `users`: ACL LIST's lines.
pub fn render(users: &[Arc<User>]) -> Vec<u8> {
    let mut text = Vec::new();
    for user in users {
        text.extend_from_slice(b"user ");
        text.extend_from_slice(&user.name);
        text.push(b' ');
        text.extend_from_slice(&user.rules().describe());
        text.push(b'\n');
    }
    text
}

/// Writes `users` to `path` atomically: a temporary file beside it, fsync, rename
/// over it, fsync of the directory (blocking I/O).
pub fn save(path: &Path, users: &[Arc<User>]) -> std::io::Result<()> {
    let text = render(users);
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        tier_engine::now_ms()
    ));
    let tmp = Path::new(&tmp_name);
    let written = (|| {
        let mut file = std::fs::File::create(tmp)?;
        file.write_all(&text)?;
        file.sync_all()?;
        std::fs::rename(tmp, path)?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        // Best effort: the temporary file is useless now.
        let _ = std::fs::remove_file(tmp);
    }
    written
}

/// An I/O error as C's strerror words it ("No such file or directory").
fn os_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_users() {
        let text = b"user alice on #5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8 ~a* +get\r\n\n  user default on nopass ~* &* +@all\nuser bob off  resetchannels (+set ~b*)\n";
        let users = parse(text, "users.acl").expect("valid");
        let names: Vec<&[u8]> = users.iter().map(|(n, _)| n.as_slice()).collect();
        assert_eq!(names, [&b"alice"[..], b"default", b"bob"]);
        assert!(users[0].1.accepts(b"password"));
        assert_eq!(users[2].1.selectors().len(), 1);
    }

    #[test]
    fn names_every_fault() {
        let text =
            b"user alice on\nuser bob badrule +nosuch #x\nuser alice off\nusr x\nuser\nuser c (+get\n";
        let err = parse(text, "f.acl").expect_err("faults");
        assert_eq!(
            err,
            "f.acl:2: Syntax error. \
             f.acl:2: Error in applying operation '+nosuch': Unknown command or category name in ACL. \
             WARNING: Duplicate user 'alice' found on line 3. \
             f.acl:4 should start with user keyword followed by the username. \
             f.acl:5 should start with user keyword followed by the username. \
             f.acl:6: Unmatched parenthesis in selector definition.\
             WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
        );
    }

    #[test]
    fn saves_and_loads_back() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("users.acl");
        let acl = super::super::Acl::new(Some(b"pw"));
        let ops: Vec<Vec<u8>> = ["on", ">x", "%R~r*", "+@read", "&c"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        acl.set_user(b"alice", &ops).expect("ok");
        save(&path, &acl.users()).expect("saved");
        let text = std::fs::read(&path).expect("read");
        let loaded = load(&path).expect("loads");
        assert_eq!(loaded.len(), 2);
        assert_eq!(loaded[0].1, *acl.user(b"alice").expect("alice").rules());
        assert_eq!(render(&acl.users()), text);
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("ls").count(),
            1,
            "no temp file"
        );
        let missing = load(&dir.path().join("nope")).expect_err("missing");
        assert!(
            missing.ends_with("nope': No such file or directory"),
            "{missing}"
        );
    }
}
