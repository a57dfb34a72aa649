//! The demoter: keeps RAM under `maxmemory` by moving the coldest values to the cold
//! tier, in bounded batches, beside client traffic.
//!
//! Above the high watermark it samples random entries (databases weighted by their
//! size) and picks the least recently used among them, LRU as Redis approximates it.
//! An entry accessed since the demoter last looked at it gets a second chance: its
//! access bit is cleared and it is passed over once, so a value touched a moment ago
//! is not demoted by the next sample. Values below `tier-min-value-size` (demoting them
//! saves nothing) and values too large for one record stay in RAM.
//!
//! A batch is written to the store with no lock held; then each entry is swapped from
//! its value to the record's location only if its slot token is unchanged (the write
//! path replaced nothing meanwhile). A changed entry wins and its new record is dead
//! at once. The epoch guard stays pinned from sampling to swap, so a token cannot be
//! reused by another value in between.

use super::Shared;
use crate::cold::{record_len, ColdError, NewRecord, MAX_RECORD_LEN};
use crate::keyspace::{Db, Entry};
use crossbeam_epoch::Guard;
use rand::Rng;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Entries sampled per pick.
const SAMPLES: usize = 16;
/// Most values demoted in one batch...
const BATCH_VALUES: usize = 512;
/// ...and most payload bytes.
const BATCH_BYTES: usize = 1 << 20;
/// Sample rounds per batch before the demoter concludes nothing is left to demote.
const ROUNDS_PER_BATCH: usize = 4 * BATCH_VALUES;
/// How long the demoter sleeps while RAM is under the high watermark.
const IDLE_NAP: Duration = Duration::from_millis(10);
/// How long it sleeps after finding nothing to demote, or after an error.
const STALL_NAP: Duration = Duration::from_millis(100);

/// One value chosen for demotion.
struct Candidate<'g> {
    db: Arc<Db>,
    key: &'g [u8],
    entry: &'g Entry,
    token: u64,
}

/// The demoter thread's body.
pub(super) fn run(shared: &Shared) {
    let mut rng = rand::thread_rng();
    let mut nap = IDLE_NAP;
    while shared.nap(nap) {
        nap = IDLE_NAP;
        let Some(high) = shared.settings.high_watermark() else {
            shared.demoter_stalled.store(false, Ordering::Relaxed);
            continue;
        };
        if used() < high {
            shared.demoter_stalled.store(false, Ordering::Relaxed);
            continue;
        }
        // Demote down to the low watermark, one batch at a time.
        while !shared.stop.load(Ordering::Acquire) && used() > shared.settings.low_watermark() {
            match demote_batch(shared, &mut rng) {
                Ok(0) => {
                    shared.demoter_stalled.store(true, Ordering::Relaxed);
                    nap = STALL_NAP;
                    break;
                }
                Ok(_) => shared.demoter_stalled.store(false, Ordering::Relaxed),
                Err(e) => {
                    if !matches!(e, ColdError::Full) {
                        tracing::warn!("demotion failed: {e}");
                    }
                    shared.demoter_stalled.store(true, Ordering::Relaxed);
                    nap = STALL_NAP;
                    break;
                }
            }
        }
    }
}

fn used() -> u64 {
    crate::memory::used_memory() as u64
}

/// Picks one batch of cold values, writes it, swaps the entries that did not change.
/// Returns how many values were demoted.
fn demote_batch(shared: &Shared, rng: &mut impl Rng) -> Result<usize, ColdError> {
    let guard = crossbeam_epoch::pin();
    let now = crate::now_ms();
    let min_size = shared.settings.min_value_size.load(Ordering::Relaxed) as usize;
    let candidates = pick(shared, rng, now, min_size, &guard);
    if candidates.is_empty() {
        return Ok(0);
    }
    write_and_swap(shared, &candidates, now, &guard)
}

/// Demotes the value of `key` in database `db` now, whatever the budget and the
/// value's size. Returns false when the key is absent, already cold, or changed
/// while its record was written.
pub(super) fn demote_key(shared: &Shared, db: usize, key: &[u8]) -> Result<bool, ColdError> {
    let guard = crossbeam_epoch::pin();
    let now = crate::now_ms();
    let dbs = shared.keyspace.all_dbs();
    let db = &dbs[db];
    let Some(entry) = db.get(key, now, &guard) else {
        return Ok(false);
    };
    if !demotable(key, entry, now, 0) {
        return Ok(false);
    }
    let candidate = Candidate {
        db: db.clone(),
        key,
        entry,
        token: entry.slot_token(),
    };
    Ok(write_and_swap(shared, &[candidate], now, &guard)? == 1)
}

/// Writes the candidates' values to the store, then swaps each entry whose slot token
/// is unchanged to its record's location; a changed entry's record is dead at once.
/// Returns how many values were demoted.
fn write_and_swap(
    shared: &Shared,
    candidates: &[Candidate<'_>],
    now: u64,
    guard: &Guard,
) -> Result<usize, ColdError> {
    let records: Vec<NewRecord<'_>> = candidates
        .iter()
        .map(|c| {
            let value = c.entry.hot().expect("candidates are in RAM");
            NewRecord {
                key: c.key,
                hash: c.db.hash(c.key),
                value_type: value.record_type(),
                value: value.record_payload(),
            }
        })
        .collect();
    let _installing = shared.installs.read();
    let locations = shared.store.append(&records)?;
    let mut demoted = 0;
    for (c, loc) in candidates.iter().zip(locations) {
        if c.db
            .swap_slot(c.key, c.token, now, guard, |e| e.with_cold(loc))
        {
            demoted += 1;
        } else {
            shared.store.mark_dead(loc);
        }
    }
    shared.stats.demotions.add(demoted as u64);
    Ok(demoted)
}

/// Chooses up to a batch of values to demote: each the least recently used of a
/// sample, after second chances.
fn pick<'g>(
    shared: &Shared,
    rng: &mut impl Rng,
    now: u64,
    min_size: usize,
    guard: &'g Guard,
) -> Vec<Candidate<'g>> {
    let dbs = shared.keyspace.all_dbs();
    let sizes: Vec<usize> = dbs.iter().map(|d| d.len()).collect();
    let total: usize = sizes.iter().sum();
    let mut chosen: Vec<Candidate<'g>> = Vec::new();
    let mut bytes = 0;
    if total == 0 {
        return chosen;
    }
    for _ in 0..ROUNDS_PER_BATCH {
        if chosen.len() >= BATCH_VALUES || bytes >= BATCH_BYTES {
            break;
        }
        let db = weighted_db(&dbs, &sizes, total, rng);
        let mut best: Option<(u64, &'g [u8], &'g Entry)> = None;
        for _ in 0..SAMPLES {
            let Some((key, entry)) = db.random_entry(rng, guard) else {
                break;
            };
            if !demotable(key, entry, now, min_size) || entry.take_second_chance() {
                continue;
            }
            let idle = entry.idle_seconds(now);
            if best.is_none_or(|(most, _, _)| idle > most) {
                best = Some((idle, key, entry));
            }
        }
        let Some((_, key, entry)) = best else {
            continue;
        };
        let token = entry.slot_token();
        if chosen.iter().any(|c| c.token == token) {
            continue;
        }
        bytes += entry.hot().map_or(0, |v| v.payload_len());
        chosen.push(Candidate {
            db: db.clone(),
            key,
            entry,
            token,
        });
    }
    chosen
}

/// A database picked with probability proportional to its number of keys.
fn weighted_db<'a>(
    dbs: &'a [Arc<Db>],
    sizes: &[usize],
    total: usize,
    rng: &mut impl Rng,
) -> &'a Arc<Db> {
    let mut n = rng.gen_range(0..total);
    for (db, &size) in dbs.iter().zip(sizes) {
        if n < size {
            return db;
        }
        n -= size;
    }
    &dbs[dbs.len() - 1]
}

/// Whether the entry's value may go to the cold tier: in RAM, live, at least
/// `min_size` bytes (and not empty), and small enough for one record.
fn demotable(key: &[u8], entry: &Entry, now: u64, min_size: usize) -> bool {
    let Some(value) = entry.hot() else {
        return false;
    };
    let len = value.payload_len();
    len >= min_size.max(1) && !entry.is_expired(now) && record_len(key.len(), len) <= MAX_RECORD_LEN
}
