//! The report `tierctl verify` prints for a sound snapshot file.

use std::fmt::Write;

use tier_engine::snapshot::SnapshotSummary;
use tier_engine::Value;

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
