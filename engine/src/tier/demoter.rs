//! The demoter: keeps RAM under `maxmemory` by moving the coldest values to the cold
//! tier, in bounded batches, beside client traffic.
//!
//! Above the high watermark it samples random entries (databases weighted by their
//! size) and picks the coldest among them: the least recently used, LRU as Redis
//! approximates it, or under an LFU `maxmemory-policy` the least frequently used.
//! An entry accessed since the demoter last looked at it gets a second chance: its
//! access bit is cleared and it is passed over once, so a value touched a moment ago
//! is not demoted by the next sample. Values below `tier-min-value-size` (demoting them
//! saves nothing) and values too large for one record stay in RAM.
//!
//! A batch is written to the store with no lock and no epoch guard held (the
//! candidates keep a reference to their values' bytes); then each entry is swapped
//! from its value to the record's location only if it still holds the very same value
//! allocation (the write path replaced nothing meanwhile). A changed entry wins and
//! its new record is dead at once.

use super::evictor::{evict_batch, MaxmemoryPolicy};
use super::sample::Sampler;
use super::Shared;
use crate::cold::{record_len, ColdError, NewRecord, MAX_RECORD_LEN};
use crate::keyspace::{collect_garbage, Db, Entry};
use crate::value::Value;
use bytes::Bytes;
use rand::Rng;
use std::ops::RangeInclusive;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Entries sampled per pick.
const SAMPLES: usize = 16;
/// Most values demoted in one batch...
const BATCH_VALUES: usize = 2048;
/// ...and most payload bytes.
const BATCH_BYTES: usize = 1 << 20;
/// Most sample rounds per batch before the demoter concludes nothing is left to
/// demote.
const ROUNDS_PER_BATCH: usize = 4 * BATCH_VALUES;
/// Sample rounds after which a batch that found no candidate at all gives up.
const EMPTY_ROUNDS: usize = 256;
/// How long the demoter sleeps while RAM is under the high watermark.
const IDLE_NAP: Duration = Duration::from_millis(10);
/// How long it skips sampling for demotion after a pass that found nothing.
const NOTHING_BACKOFF: Duration = Duration::from_millis(100);
/// How long it sleeps after finding nothing to demote or evict, or after an error;
/// doubled while that goes on, up to [`MAX_STALL_NAP`] (a write that needs room
/// wakes it at once).
const STALL_NAP: Duration = Duration::from_millis(100);
const MAX_STALL_NAP: Duration = Duration::from_secs(2);

/// One value chosen for demotion: its key and a reference to its bytes, so the write
/// needs no guard and the swap can tell whether the entry still holds them.
struct Candidate {
    db: Arc<Db>,
    key: Bytes,
    value: Value,
}

/// What one demotion batch did.
enum Batch {
    /// Wrote a batch (and demoted the values that did not change meanwhile).
    Demoted,
    /// Found only values accessed since the last pass, and cleared their bits.
    SecondChances,
    /// Found nothing it may demote.
    Nothing,
}

/// The demoter thread's body.
pub(super) fn run(shared: &Shared) {
    let mut rng = rand::thread_rng();
    let mut nap = IDLE_NAP;
    // After a pass that found nothing to demote, the next ones go straight to
    // eviction for a while instead of sampling the whole keyspace again.
    let mut nothing_until = Instant::now();
    let mut stall_nap = STALL_NAP / 2;
    while shared.nap(nap) {
        nap = IDLE_NAP;
        let Some(high) = shared.settings.high_watermark() else {
            shared.set_stalled(false);
            continue;
        };
        if used() < high {
            shared.set_stalled(false);
            continue;
        }
        // Demote down to the low watermark, one batch at a time.
        while !shared.stop.load(Ordering::Acquire) && used() > shared.settings.low_watermark() {
            // Within the backoff the batch is skipped, not sampled: the backoff runs
            // from the last pass that sampled and found nothing (were it renewed by
            // skipped ones, a demoter woken more often than the backoff by writers
            // waiting for room would never sample again).
            let batch = if Instant::now() < nothing_until {
                None
            } else {
                Some(demote_batch(shared, &mut rng))
            };
            let (stuck, disk_full) = match batch {
                Some(Ok(Batch::Demoted | Batch::SecondChances)) => (false, false),
                None => (true, false),
                Some(Ok(Batch::Nothing)) => {
                    nothing_until = Instant::now() + NOTHING_BACKOFF;
                    (true, false)
                }
                Some(Err(ColdError::Full)) => (true, true),
                Some(Err(e)) => {
                    tracing::warn!("demotion failed: {e}");
                    (true, false)
                }
            };
            // Nothing more can go to disk: over the budget, the policy may delete keys.
            // Stalled means writes cannot get room: over the budget and nothing to do.
            let stalled = stuck
                && evict_batch(shared, &mut rng, disk_full) == 0
                && used() > shared.settings.maxmemory.load(Ordering::Relaxed);
            if stalled {
                // RAM may be full of what was retired and not yet freed.
                collect_garbage();
            }
            shared.set_stalled(stalled);
            if stalled {
                stall_nap = (stall_nap * 2).min(MAX_STALL_NAP);
                nap = stall_nap;
                break;
            }
            stall_nap = STALL_NAP / 2;
        }
        // The pass is over: hold no write buffer while idle.
        shared.store.release_write_buffer();
    }
}

fn used() -> u64 {
    crate::memory::used_memory() as u64
}

/// Picks one batch of cold values, writes it, swaps the entries that did not change.
fn demote_batch(shared: &Shared, rng: &mut impl Rng) -> Result<Batch, ColdError> {
    let min_size = shared.settings.min_value_size.load(Ordering::Relaxed) as usize;
    let sizes = min_size..=max_value_size(shared);
    let (candidates, spared) = pick(shared, rng, crate::now_ms(), sizes);
    if candidates.is_empty() {
        // Entries given a second chance are demotable on the next pass.
        return Ok(if spared {
            Batch::SecondChances
        } else {
            Batch::Nothing
        });
    }
    write_and_swap(shared, &candidates).map(|_| Batch::Demoted)
}

/// `tier-max-value-size`, in bytes.
fn max_value_size(shared: &Shared) -> usize {
    let max = shared.settings.max_value_size.load(Ordering::Relaxed);
    usize::try_from(max).unwrap_or(usize::MAX)
}

/// Demotes the value of `key` in database `db` now, whatever the budget and however
/// small the value (not if it is over `tier-max-value-size`). Returns false when the
/// key is absent, already cold, too large, or changed while its record was written.
pub(super) fn demote_key(shared: &Shared, db: usize, key: &[u8]) -> Result<bool, ColdError> {
    let now = crate::now_ms();
    let dbs = shared.keyspace.all_dbs();
    let db = &dbs[db];
    let candidate = {
        let guard = crossbeam_epoch::pin();
        match db.find(key, &guard) {
            Some(entry) if demotable(key, entry, now, 0..=max_value_size(shared)) => {
                candidate(db, key, entry)
            }
            _ => return Ok(false),
        }
    };
    Ok(write_and_swap(shared, &[candidate])? == 1)
}

fn candidate(db: &Arc<Db>, key: &[u8], entry: &Entry) -> Candidate {
    Candidate {
        db: db.clone(),
        key: Bytes::copy_from_slice(key),
        value: entry.hot().expect("candidates are in RAM").clone(),
    }
}

/// Writes the candidates' values to the store, then swaps each entry that still holds
/// the same value to its record's location; a changed entry's record is dead at once.
/// Returns how many values were demoted.
fn write_and_swap(shared: &Shared, candidates: &[Candidate]) -> Result<usize, ColdError> {
    let payloads: Vec<Bytes> = candidates
        .iter()
        .map(|c| c.value.record_payload())
        .collect();
    let records: Vec<NewRecord<'_>> = candidates
        .iter()
        .zip(&payloads)
        .map(|(c, payload)| NewRecord {
            key: &c.key,
            hash: c.db.hash(&c.key),
            value_type: c.value.record_type(),
            value: payload,
        })
        .collect();
    let _installing = shared.installs.read();
    let locations = shared.store.append(&records)?;
    let now = crate::now_ms();
    let guard = crossbeam_epoch::pin();
    let mut demoted = 0;
    for (c, loc) in candidates.iter().zip(locations) {
        let unchanged = |e: &Entry| e.hot().is_some_and(|v| v.same_allocation(&c.value));
        if c.db
            .swap_slot(&c.key, now, &guard, unchanged, |e| Some(e.with_cold(loc)))
        {
            demoted += 1;
        } else {
            shared.store.mark_dead(loc);
        }
    }
    drop(guard);
    shared.stats.demotions.add(demoted as u64);
    // The values just demoted are freed once no reader can still see them.
    collect_garbage();
    Ok(demoted)
}

/// Chooses up to a batch of values to demote: each the least recently used of a
/// sample, after second chances. Also says whether any entry was given one.
fn pick(
    shared: &Shared,
    rng: &mut impl Rng,
    now: u64,
    sizes: RangeInclusive<usize>,
) -> (Vec<Candidate>, bool) {
    let policy = MaxmemoryPolicy::from_u8(shared.settings.policy.load(Ordering::Relaxed));
    let sampler = Sampler::new(&shared.keyspace);
    let mut chosen: Vec<Candidate> = Vec::new();
    let mut bytes = 0;
    let mut spared = false;
    let mut seen = std::collections::HashSet::new();
    let guard = crossbeam_epoch::pin();
    // A small keyspace is sampled a few times over, not thousands of times.
    let rounds = ROUNDS_PER_BATCH.min(sampler.total().div_ceil(SAMPLES) * 4);
    for round in 0..rounds {
        if chosen.len() >= BATCH_VALUES || bytes >= BATCH_BYTES {
            break;
        }
        // A keyspace where this many samples found nothing in RAM to demote is all
        // cold (or all small): stop paying for more.
        if round == EMPTY_ROUNDS && chosen.is_empty() && !spared {
            break;
        }
        let mut best: Option<(u64, &[u8], &Entry)> = None;
        let drawn = sampler.draw(rng, SAMPLES, &guard, |key, entry| {
            if !demotable(key, entry, now, sizes.clone()) {
                return;
            }
            if entry.take_second_chance() {
                spared = true;
                return;
            }
            let coldness = policy.coldness(entry, now);
            if best.is_none_or(|(most, _, _)| coldness > most) {
                best = Some((coldness, key, entry));
            }
        });
        let (Some(db), Some((_, key, entry))) = (drawn, best) else {
            continue;
        };
        if !seen.insert(entry.hot().map(Value::allocation_id)) {
            continue;
        }
        let c = candidate(db, key, entry);
        bytes += c.value.payload_len();
        chosen.push(c);
    }
    (chosen, spared)
}

/// Whether the entry's value may go to the cold tier: in RAM, live, with
/// its size within `sizes` (and not empty), and small enough for one record.
fn demotable(key: &[u8], entry: &Entry, now: u64, sizes: RangeInclusive<usize>) -> bool {
    let Some(value) = entry.hot() else {
        return false;
    };
    let len = value.payload_len();
    len >= 1
        && sizes.contains(&len)
        && !entry.is_expired(now)
        && record_len(key.len(), len) <= MAX_RECORD_LEN
}
