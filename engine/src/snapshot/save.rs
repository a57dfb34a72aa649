//! Saving the keyspace as a snapshot file beside traffic: a point-in-time capture
//! (see [`crate::keyspace::Capture`]) written record by record, with cold values read
//! from the records the capture saw, which the tier keeps in place meanwhile.

use std::io::Write;

use thiserror::Error;

use super::{SnapshotError, SnapshotSummary, SnapshotWriter};
use crate::cold::{ColdError, ColdLocation};
use crate::keyspace::{CapturedEntry, CapturedValue, Keyspace};
use crate::tier::Tier;
use crate::value::Value;

/// Why a save failed.
#[derive(Debug, Error)]
pub enum SaveError {
    /// Another capture (a save or a rewrite) is under way.
    #[error("a snapshot is already being taken")]
    Busy,
    /// Writing the file failed.
    #[error("writing the snapshot failed: {0}")]
    Write(#[from] SnapshotError),
    /// A cold value could not be read.
    #[error("reading a cold value for the snapshot failed: {0}")]
    ColdRead(#[from] ColdError),
}

/// Writes the keyspace as it is now to `out` as one snapshot file and returns what it
/// wrote. `at_start` runs in the instant the capture starts, with every key held (the
/// AOF starts its next increment there). Blocks the calling thread for as long as
/// writing takes (call it from a thread of its own, never from an async task);
/// clients wait only for the capture's first instant, and writers of a stripe for the
/// moment it is copied.
pub fn save<W: Write>(
    keyspace: &Keyspace,
    tier: Option<&Tier>,
    out: W,
    at_start: impl FnOnce(),
) -> Result<SnapshotSummary, SaveError> {
    // Held before the capture starts, so no record it sees is deleted under it.
    let _hold = tier.map(Tier::hold_segments);
    let mut capture = keyspace.begin_capture(at_start).ok_or(SaveError::Busy)?;
    let mut writer = SnapshotWriter::new(out, capture.started_at())?;
    while let Some((db, entries)) = capture.next_stripe() {
        for batch in entries.chunks(READ_BATCH) {
            let mut cold = read_cold(tier, batch).into_iter();
            for entry in batch {
                let value = match &entry.value {
                    CapturedValue::Hot(value) => value.clone(),
                    CapturedValue::Cold { .. } => cold.next().expect("one value a cold entry")?,
                };
                writer.write_record(db as u32, &entry.key, &value, entry.expire_at)?;
            }
        }
    }
    Ok(writer.finish()?)
}

/// Entries whose cold values are read side by side.
const READ_BATCH: usize = 64;

/// The values of the cold entries of `batch`, in order, read side by side.
fn read_cold(tier: Option<&Tier>, batch: &[CapturedEntry]) -> Vec<Result<Value, ColdError>> {
    let records: Vec<(ColdLocation, &[u8], u64)> = batch
        .iter()
        .filter_map(|e| match e.value {
            CapturedValue::Cold { loc, hash } => Some((loc, &e.key[..], hash)),
            CapturedValue::Hot(_) => None,
        })
        .collect();
    if records.is_empty() {
        return Vec::new();
    }
    let tier = tier.expect("a cold value without a tier");
    tier.read_values_blocking(&records)
}
