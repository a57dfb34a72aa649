//! What the tests of `tierctl` share: running the built binary and reading what it
//! printed.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `tierctl` with `args` and waits for it.
pub fn tierctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tierctl"))
        .args(args)
        .output()
        .expect("tierctl runs")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8 on stdout")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("UTF-8 on stderr")
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}
