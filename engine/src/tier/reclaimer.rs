//! The reclaimer: frees segments whose records have mostly died, so the disk holds
//! about what is live. It takes the sealed segment with the lowest live ratio below
//! `tier-reclaim-threshold`, finds which of its records an entry still points at,
//! appends those to the active segment, swaps each entry to its new location if it
//! did not change meanwhile, and then retires the segment (the store deletes the file
//! once no read is in flight on it).
//!
//! Before it judges which records are live, it waits for every demotion batch in
//! progress to finish installing its locations ([`Shared::installs`]): a record
//! written by a batch whose swaps had not landed yet would otherwise look dead.

use super::Shared;
use crate::cold::{ColdError, ColdRecord, NewRecord};
use crate::keyspace::{Db, Entry};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// How often the reclaimer looks for a segment to free.
const NAP: Duration = Duration::from_millis(100);
/// Most live records rewritten per append.
const BATCH: usize = 512;
/// Bytes of a segment read at a time.
const WINDOW: usize = 1 << 20;

/// The reclaimer thread's body.
pub(super) fn run(shared: &Shared) {
    while shared.nap(NAP) {
        match reclaim_all(shared) {
            Ok(_) | Err(ColdError::Full) => {}
            Err(e) => tracing::warn!("reclaiming a segment failed: {e}"),
        }
    }
}

/// Reclaims segments below the threshold until none is left (or the tier stops),
/// after any other pass under way. Returns how many records moved.
pub(super) fn reclaim_all(shared: &Shared) -> Result<usize, ColdError> {
    let threshold = f64::from(
        shared
            .settings
            .reclaim_threshold_pct
            .load(Ordering::Relaxed),
    ) / 100.0;
    let _pass = shared.reclaiming.lock();
    let mut moved = 0;
    while !shared.stop.load(Ordering::Acquire) {
        let Some(segment) = shared.store.reclaim_candidate(threshold) else {
            break;
        };
        match reclaim(shared, segment) {
            Ok(n) => {
                shared.stats.relocations.add(n as u64);
                moved += n;
            }
            // Another caller reclaimed it first.
            Err(ColdError::SegmentGone(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(moved)
}

/// Moves the live records out of `segment` and retires it. Returns how many moved.
pub(super) fn reclaim(shared: &Shared, segment: u32) -> Result<usize, ColdError> {
    // Every batch that may have written into this (sealed) segment has installed its
    // locations once the write side of `installs` is ours.
    drop(shared.installs.write());
    let mut moved = 0;
    for_each_window(shared, segment, |records| {
        moved += relocate_live(shared, records)?;
        Ok(())
    })?;
    shared.store.retire_segment(segment)?;
    Ok(moved)
}

/// Walks `segment` [`WINDOW`] bytes at a time, so a segment never sits in RAM whole,
/// passing each window's records to `f`.
pub(super) fn for_each_window(
    shared: &Shared,
    segment: u32,
    mut f: impl FnMut(&[ColdRecord]) -> Result<(), ColdError>,
) -> Result<(), ColdError> {
    let mut from = Some(0);
    while let Some(at) = from {
        let window = shared.store.segment_records(segment, at, WINDOW)?;
        f(&window.records)?;
        from = window.next;
    }
    Ok(())
}

/// Appends the records an entry still points at to the active segment and moves
/// those entries to them. Returns how many moved.
fn relocate_live(shared: &Shared, records: &[ColdRecord]) -> Result<usize, ColdError> {
    let now = crate::now_ms();
    let dbs = shared.keyspace.all_dbs();
    // A record is live when an entry of some database points at it (a MOVE or a
    // SWAPDB may have taken its key to another database).
    let live: Vec<(&ColdRecord, &Arc<Db>)> = {
        let guard = crossbeam_epoch::pin();
        records
            .iter()
            .filter_map(|r| {
                dbs.iter().find_map(|db| {
                    let entry = db.find(&r.key, &guard)?;
                    (entry.cold() == Some(r.loc)).then_some((r, db))
                })
            })
            .collect()
    };
    let mut moved = 0;
    for chunk in live.chunks(BATCH) {
        let _installing = shared.installs.read_recursive();
        let batch: Vec<NewRecord<'_>> = chunk
            .iter()
            .map(|(r, _)| NewRecord {
                key: &r.key,
                hash: r.hash,
                value_type: r.value_type,
                value: &r.value,
            })
            .collect();
        let locations = shared.store.append(&batch)?;
        let guard = crossbeam_epoch::pin();
        for ((r, db), loc) in chunk.iter().zip(locations) {
            let still_here = |e: &Entry| e.cold() == Some(r.loc);
            if db.swap_slot(&r.key, now, &guard, still_here, |e| {
                Some(e.with_location(loc))
            }) {
                moved += 1;
            } else {
                shared.store.mark_dead(loc);
            }
        }
    }
    Ok(moved)
}
