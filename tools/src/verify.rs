//! `tierctl verify`: the report of a sound snapshot file, and the check of a whole
//! data dir (AOF manifest, base, increments, snapshot file).

use std::fmt::Write;
use std::path::Path;

use tier_engine::snapshot::{self, SnapshotSummary};
use tier_engine::Value;

use crate::datadir::DataDir;
use crate::error::Failure;
use crate::files::read_snapshot;
use crate::text::{list, time};

/// What a sound file holds, a few lines: when it was taken, records, databases,
/// types, sizes.
pub fn report(s: &SnapshotSummary) -> String {
    let mut out = String::new();
    let dbs: Vec<String> = s
        .keys_per_db
        .iter()
        .map(|(db, keys)| format!("db{db} {keys}"))
        .collect();
    let types: Vec<String> = s
        .records_per_type
        .iter()
        .map(|(&t, n)| format!("{} {n}", Value::type_name_of_record(t)))
        .collect();
    let _ = writeln!(
        out,
        "  taken      {} ({} ms)",
        time(s.created_ms),
        s.created_ms
    );
    let _ = writeln!(
        out,
        "  records    {} ({} with an expiry)",
        s.records, s.expiring
    );
    let _ = writeln!(out, "  databases  {}", list(&dbs));
    let _ = writeln!(out, "  types      {}", list(&types));
    let _ = writeln!(
        out,
        "  file       {} bytes, {} chunks, {} bytes uncompressed",
        s.file_bytes, s.chunks, s.raw_bytes
    );
    out
}

/// What `tierctl verify DIR` found in a sound data dir: the report for stdout, and
/// warnings for stderr (a torn tail, which tierd cuts at start with
/// `aof-load-truncated yes`).
pub struct DirReport {
    pub report: String,
    pub warnings: Vec<String>,
}

/// Checks the data dir `root`: its AOF manifest, every checksum and record of the
/// base, every command of every increment (see [`DataDir::scan_increments`]), and
/// the snapshot file. Fails at the first thing wrong.
pub fn verify_dir(root: &Path) -> Result<DirReport, Failure> {
    let dir = DataDir::open(root)?;
    let mut out = format!("{}: OK\n", root.display());
    let mut warnings = Vec::new();
    if let Some(aof) = &dir.aof {
        let manifest = aof.manifest();
        let _ = writeln!(
            out,
            "  manifest   {}: {} base, {} increments",
            aof.manifest_path().display(),
            u8::from(manifest.base().is_some()),
            manifest.incrs().len()
        );
        if let Some(base) = dir.base()? {
            let summary = read_snapshot(&base, snapshot::verify)?;
            let _ = writeln!(out, "  base       {}", base.display());
            out.push_str(&indent(&report(&summary)));
        }
        for incr in dir.scan_increments()? {
            let path = aof.path_of(&incr.name);
            let _ = writeln!(
                out,
                "  increment  {}: {} commands, {} bytes",
                path.display(),
                incr.commands,
                incr.file_bytes
            );
            if incr.torn {
                warnings.push(format!(
                    "{} ends inside a command: {} bytes after its last whole command, at \
                     byte {}; tierd cuts them off at start (aof-load-truncated yes, the \
                     default) or refuses to start (no)",
                    path.display(),
                    incr.file_bytes - incr.command_bytes,
                    incr.command_bytes
                ));
            }
        }
    }
    if let Some(dump) = &dir.dump {
        let summary = read_snapshot(dump, snapshot::verify)?;
        let _ = writeln!(out, "  snapshot   {}", dump.display());
        out.push_str(&indent(&report(&summary)));
    }
    Ok(DirReport {
        report: out,
        warnings,
    })
}

/// `text` with every line indented by two more spaces.
fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}
