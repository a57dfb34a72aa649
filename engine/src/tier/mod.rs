//! The tiering of the keyspace: keeps RAM within `maxmemory` by demoting the coldest
//! values to the cold tier's segments, brings values back when they are read again
//! soon, and frees segments whose records have mostly died.
//!
//! - [`Tier`]: the handle a server holds. It owns the [`ColdStore`] and two
//!   background threads, stopped and joined when it is dropped:
//!   - the demoter ([`demoter`]): above the high watermark it samples entries (LRU
//!     with a second chance), writes a batch of values to the store, then swaps each
//!     entry's value for its location if the entry did not change meanwhile;
//!   - the reclaimer ([`reclaimer`]): rewrites the live records of segments whose live
//!     ratio fell below `tier-reclaim-threshold` and deletes them.
//! - [`Tier::load`]: the cold read a command awaits before it runs (no lock held), with
//!   the promotion decision.
//! - [`TierSettings`]: the knobs CONFIG SET may turn while the node runs.

mod demoter;
mod evictor;
mod reclaimer;
mod sample;
#[cfg(test)]
mod tests;

pub use evictor::MaxmemoryPolicy;

use crate::cold::{ColdError, ColdLocation, ColdStats, ColdStore, ColdStoreConfig};
use crate::io::{open_io_engine, IoEngine, IoEngineKind};
use crate::keyspace::{DeadRecordSink, Keyspace};
use crate::stats::Counter;
use crate::value::Value;
use parking_lot::{Condvar, Mutex, RwLock};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Demotion starts when RAM in use passes this share of `maxmemory`...
const HIGH_WATERMARK: f64 = 0.90;
/// ...and goes on until it is back under this share.
const LOW_WATERMARK: f64 = 0.80;

/// The knobs of the tier that may change while it runs (CONFIG SET), as values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TierKnobs {
    /// `maxmemory`: the RAM budget in bytes; 0 turns demotion off.
    pub maxmemory: u64,
    /// `tier-min-value-size`: values smaller than this stay in RAM.
    pub min_value_size: u64,
    /// `tier-max-value-size`: values larger than this stay in RAM (a collection's size
    /// is its record payload's).
    pub max_value_size: u64,
    /// `tier-reclaim-threshold`: a segment whose live bytes fall below this percentage
    /// of its written bytes is rewritten and freed.
    pub reclaim_threshold_pct: u32,
    /// `tier-promote-window`: a cold value read again within this many seconds of its
    /// previous read comes back to RAM; 0 never promotes.
    pub promote_window_secs: u64,
    /// `maxmemory-policy`: what the evictor may delete once RAM and disk are full.
    pub policy: MaxmemoryPolicy,
    /// `tier-max-size`: the disk bytes the segment files may take; 0 = unlimited.
    pub max_disk: u64,
}

/// [`TierKnobs`] as the tier's threads read them while CONFIG SET changes them (the
/// disk budget lives in the store).
struct TierSettings {
    maxmemory: AtomicU64,
    min_value_size: AtomicU64,
    max_value_size: AtomicU64,
    reclaim_threshold_pct: AtomicU32,
    promote_window_secs: AtomicU64,
    policy: AtomicU8,
}

impl TierSettings {
    fn new(knobs: &TierKnobs) -> TierSettings {
        let settings = TierSettings {
            maxmemory: AtomicU64::new(0),
            min_value_size: AtomicU64::new(0),
            max_value_size: AtomicU64::new(0),
            reclaim_threshold_pct: AtomicU32::new(0),
            promote_window_secs: AtomicU64::new(0),
            policy: AtomicU8::new(0),
        };
        settings.store(knobs);
        settings
    }

    fn store(&self, knobs: &TierKnobs) {
        self.maxmemory.store(knobs.maxmemory, Ordering::Relaxed);
        self.min_value_size
            .store(knobs.min_value_size, Ordering::Relaxed);
        self.max_value_size
            .store(knobs.max_value_size, Ordering::Relaxed);
        self.reclaim_threshold_pct
            .store(knobs.reclaim_threshold_pct, Ordering::Relaxed);
        self.promote_window_secs
            .store(knobs.promote_window_secs, Ordering::Relaxed);
        self.policy.store(knobs.policy.to_u8(), Ordering::Relaxed);
    }

    /// RAM use above which the demoter works; None when demotion is off.
    fn high_watermark(&self) -> Option<u64> {
        let max = self.maxmemory.load(Ordering::Relaxed);
        (max > 0).then_some((max as f64 * HIGH_WATERMARK) as u64)
    }

    fn low_watermark(&self) -> u64 {
        (self.maxmemory.load(Ordering::Relaxed) as f64 * LOW_WATERMARK) as u64
    }
}

/// The tier's configuration at start. The store's disk budget is `knobs.max_disk`.
pub struct TierConfig {
    /// The tier directory and the segment size (`max_size` is taken from the knobs).
    pub store: ColdStoreConfig,
    pub io_engine: IoEngineKind,
    pub knobs: TierKnobs,
}

/// Counters of the tier for INFO.
#[derive(Default)]
pub struct TierStats {
    /// Values moved from RAM to the cold tier.
    pub demotions: Counter,
    /// Values brought back from the cold tier to RAM.
    pub promotions: Counter,
    /// Live records rewritten out of reclaimed segments.
    pub relocations: Counter,
}

/// What INFO's `# Tiering` section reports.
pub struct TierReport {
    pub store: ColdStats,
    pub demotions: u64,
    pub promotions: u64,
    pub relocations: u64,
    pub io_engine: &'static str,
    /// The demoter found nothing more it could demote while RAM was above the high
    /// watermark (every value left in RAM is too small, or the disk is full).
    pub demoter_stalled: bool,
}

/// State the server and the tier's threads share.
struct Shared {
    keyspace: Arc<Keyspace>,
    store: Arc<ColdStore>,
    settings: TierSettings,
    stats: TierStats,
    stop: AtomicBool,
    demoter_stalled: AtomicBool,
    /// How many times the demoter has judged whether it can make room (see
    /// [`Tier::demoter_passes`]).
    demoter_passes: AtomicU64,
    /// Held shared by a batch from its append until its entries are swapped; the
    /// reclaimer takes it exclusively once before judging a segment's records.
    installs: RwLock<()>,
    /// Held by a reclaiming pass: one at a time (the reclaimer's, `reclaim_now`'s),
    /// so two never move the same segment's records.
    reclaiming: Mutex<()>,
    /// Wakes the background threads early (a write found RAM above maxmemory, or the
    /// tier is stopping).
    wake: (Mutex<bool>, Condvar),
}

impl Shared {
    /// Sleeps up to `timeout` or until woken; returns false once the tier stops.
    fn nap(&self, timeout: Duration) -> bool {
        let (lock, cond) = &self.wake;
        let mut woken = lock.lock();
        if !*woken && !self.stop.load(Ordering::Acquire) {
            cond.wait_for(&mut woken, timeout);
        }
        *woken = false;
        !self.stop.load(Ordering::Acquire)
    }

    /// Records the demoter's latest judgement of whether it can make room.
    fn set_stalled(&self, stalled: bool) {
        self.demoter_stalled.store(stalled, Ordering::Relaxed);
        self.demoter_passes.fetch_add(1, Ordering::Release);
    }

    fn wake_all(&self) {
        let (lock, cond) = &self.wake;
        *lock.lock() = true;
        cond.notify_all();
    }
}

/// The keyspace's records die into the store's live-byte accounting.
struct StoreSink(Arc<ColdStore>);

impl DeadRecordSink for StoreSink {
    fn record_dead(&self, loc: ColdLocation) {
        self.0.mark_dead(loc);
    }
}

/// The running tier: the cold store and its background threads.
pub struct Tier {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl Tier {
    /// Opens the I/O engine and the store (emptying the tier directory: the tier holds
    /// no data across restarts), ties the keyspace's dead records to it, and starts
    /// the demoter and the reclaimer.
    pub fn start(keyspace: Arc<Keyspace>, config: TierConfig) -> Result<Tier, ColdError> {
        let io: Arc<dyn IoEngine> = open_io_engine(config.io_engine)
            .map_err(|e| ColdError::io(&config.store.dir, None, e))?;
        Tier::start_with_io(keyspace, config, io)
    }

    /// [`Tier::start`] on a given I/O engine (tests inject faults this way).
    pub fn start_with_io(
        keyspace: Arc<Keyspace>,
        config: TierConfig,
        io: Arc<dyn IoEngine>,
    ) -> Result<Tier, ColdError> {
        let store_config = ColdStoreConfig {
            max_size: config.knobs.max_disk,
            ..config.store
        };
        let store = Arc::new(ColdStore::open(store_config, io)?);
        if !keyspace.set_dead_record_sink(Arc::new(StoreSink(store.clone()))) {
            return Err(ColdError::InvalidConfig(
                "the keyspace already has a cold tier".into(),
            ));
        }
        let shared = Arc::new(Shared {
            keyspace,
            store,
            settings: TierSettings::new(&config.knobs),
            stats: TierStats::default(),
            stop: AtomicBool::new(false),
            demoter_stalled: AtomicBool::new(false),
            demoter_passes: AtomicU64::new(0),
            installs: RwLock::new(()),
            reclaiming: Mutex::new(()),
            wake: (Mutex::new(false), Condvar::new()),
        });
        let mut tier = Tier {
            shared: shared.clone(),
            threads: Vec::new(),
        };
        let spawn = |name: &str, body: fn(&Shared)| {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || body(&shared))
                .map_err(|e| ColdError::io(name, None, e))
        };
        tier.threads.push(spawn("tier-demoter", demoter::run)?);
        tier.threads.push(spawn("tier-reclaimer", reclaimer::run)?);
        Ok(tier)
    }

    /// Lets the I/O engine settle cold reads on `runtime`, the one whose tasks await
    /// them, instead of waking a thread of its own for each (see
    /// [`IoEngine::reap_on`]).
    pub fn reap_io_on(&self, runtime: &tokio::runtime::Handle) {
        self.shared.store.reap_io_on(runtime);
    }

    /// Keeps every cold record where it is while the hold lives (see
    /// [`ColdStore::hold_segments`]), for a point-in-time capture.
    pub fn hold_segments(&self) -> crate::cold::SegmentHold {
        self.shared.store.hold_segments()
    }

    /// Reads the value of the record at `loc` (of `key`, whose hash is `hash`),
    /// blocking the calling thread: for a capture's cold values, on a thread of its
    /// own.
    pub fn read_value_blocking(
        &self,
        loc: ColdLocation,
        key: &[u8],
        hash: u64,
    ) -> Result<Value, ColdError> {
        let payload = self.shared.store.read_blocking(loc, key, hash)?;
        value_of_record(loc, payload)
    }

    /// [`read_value_blocking`](Self::read_value_blocking) of many records, read side
    /// by side.
    pub fn read_values_blocking(
        &self,
        records: &[(ColdLocation, &[u8], u64)],
    ) -> Vec<Result<Value, ColdError>> {
        let payloads = self.shared.store.read_many_blocking(records);
        records
            .iter()
            .zip(payloads)
            .map(|(&(loc, _, _), payload)| value_of_record(loc, payload?))
            .collect()
    }

    pub fn stats(&self) -> &TierStats {
        &self.shared.stats
    }

    /// What INFO reports.
    pub fn report(&self) -> TierReport {
        TierReport {
            store: self.shared.store.stats(),
            demotions: self.shared.stats.demotions.get(),
            promotions: self.shared.stats.promotions.get(),
            relocations: self.shared.stats.relocations.get(),
            io_engine: self.shared.store.io_engine_name(),
            demoter_stalled: self.shared.demoter_stalled.load(Ordering::Relaxed),
        }
    }

    /// Whether waiting can bring RAM back under `maxmemory`: demotion is on and the
    /// demoter is still finding values to demote. A write that finds RAM full waits
    /// while this holds, and is refused with -OOM otherwise.
    pub fn can_make_room(&self) -> bool {
        self.shared.settings.high_watermark().is_some()
            && !self.shared.demoter_stalled.load(Ordering::Relaxed)
    }

    /// How many times the demoter has judged whether it can make room: a write that
    /// finds it stalled wakes it and waits for the next judgement before giving up
    /// (the keyspace or the settings may have changed since the last one).
    pub fn demoter_passes(&self) -> u64 {
        self.shared.demoter_passes.load(Ordering::Acquire)
    }

    /// Demotes the value of `key` in database `db` now, whatever the budget and its
    /// size (DEBUG DEMOTE; tests). Blocking: it waits for the store's write, so a task
    /// calls it through `block_in_place`. Returns false when the key is absent, empty,
    /// already cold, or changed meanwhile.
    pub fn demote_key(&self, db: usize, key: &[u8]) -> Result<bool, ColdError> {
        demoter::demote_key(&self.shared, db, key)
    }

    /// Reclaims every segment below `tier-reclaim-threshold` now, beside the
    /// reclaimer thread (tests; DEBUG). Returns how many records moved.
    pub fn reclaim_now(&self) -> Result<usize, ColdError> {
        reclaimer::reclaim_all(&self.shared)
    }

    /// Applies the knobs CONFIG SET turned (maxmemory, tier-min-value-size, the disk
    /// budget, ...).
    pub fn configure(&self, knobs: &TierKnobs) {
        self.shared.settings.store(knobs);
        self.shared.store.set_max_size(knobs.max_disk);
    }

    /// Wakes the demoter now (a write found RAM above the budget).
    pub fn wake_demoter(&self) {
        self.shared.wake_all();
    }

    /// The cold read a command needs before it runs: if `key` of database `db` holds a
    /// value in the cold tier, reads it (awaiting the I/O engine, with no lock and no
    /// epoch guard held) and returns it with its location; None if the key is in RAM
    /// or absent. The command then finds the value by location; if the entry moved
    /// meanwhile, it asks again.
    ///
    /// Promotion: a value read a second time within `tier-promote-window` of the
    /// previous read, while RAM is under the low watermark, is put back in RAM (if its
    /// entry did not change during the read). A single scan over cold keys reads
    /// each once and promotes nothing.
    pub async fn load(
        &self,
        db: usize,
        key: &[u8],
    ) -> Result<Option<(ColdLocation, Value)>, ColdError> {
        const ATTEMPTS: usize = 8;
        let mut last_err = None;
        for _ in 0..ATTEMPTS {
            let Some((loc, hash, promote)) = self.cold_slot(db, key) else {
                return Ok(None);
            };
            let payload = match self.shared.store.read(loc, key, hash).await {
                Ok(payload) => payload,
                // Reclaimed between the lookup and the read: the entry moved; look again.
                Err(e @ ColdError::SegmentGone(_)) => {
                    last_err = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let value = value_of_record(loc, payload)?;
            if promote && self.promote(db, key, loc, &value) {
                self.shared.stats.promotions.incr();
            }
            return Ok(Some((loc, value)));
        }
        Err(last_err.unwrap_or(ColdError::SegmentGone(0)))
    }

    /// Whether `key` of database `db` holds a live value in the cold tier now (a
    /// lock-free lookup that changes nothing, for deciding whether a command needs
    /// [`Tier::load`] at all).
    pub fn is_cold(&self, db: usize, key: &[u8]) -> bool {
        self.cold_location(db, key).is_some()
    }

    /// Where the value of `key` is in the cold tier, if it is live and cold.
    pub fn cold_location(&self, db: usize, key: &[u8]) -> Option<ColdLocation> {
        let guard = crossbeam_epoch::pin();
        self.live_cold(db, key, crate::now_ms(), &guard)
            .and_then(crate::keyspace::Entry::cold)
    }

    /// The entry of `key` if it is live and its value cold; deletes nothing (an
    /// expired key is left to the command, which deletes it as Redis would).
    fn live_cold<'g>(
        &self,
        db: usize,
        key: &[u8],
        now: u64,
        guard: &'g crossbeam_epoch::Guard,
    ) -> Option<&'g crate::keyspace::Entry> {
        let entry = self.shared.keyspace.db(db).find(key, guard)?;
        (entry.cold().is_some() && !entry.is_expired(now)).then_some(entry)
    }

    /// The location of `key`'s cold value with the key's hash and whether the read
    /// should promote it; None when the key is not cold.
    fn cold_slot(&self, db: usize, key: &[u8]) -> Option<(ColdLocation, u64, bool)> {
        let now = crate::now_ms();
        let guard = crossbeam_epoch::pin();
        let entry = self.live_cold(db, key, now, &guard)?;
        let loc = entry.cold()?;
        let settings = &self.shared.settings;
        let window = settings.promote_window_secs.load(Ordering::Relaxed);
        // Only into room below the low watermark: a promotion never makes the demoter
        // push another value out (with reads alone, RAM settles and nothing churns).
        let room = settings.high_watermark().is_none()
            || (crate::memory::used_memory() as u64) < settings.low_watermark();
        let promote = window > 0 && room && entry.read_again_within(now, window);
        Some((loc, self.shared.keyspace.db(db).hash(key), promote))
    }

    /// Puts `value` back in RAM if `key`'s entry still points at the record `loc`.
    /// Not while a script or a transaction holds the keyspace's gate alone: the
    /// caller is async and must not wait for it (the value simply stays cold).
    fn promote(&self, db: usize, key: &[u8], loc: ColdLocation, value: &Value) -> bool {
        if self.shared.keyspace.gate().is_closed() {
            return false;
        }
        let db = self.shared.keyspace.db(db);
        let guard = crossbeam_epoch::pin();
        db.swap_slot(
            key,
            crate::now_ms(),
            &guard,
            |e| e.cold() == Some(loc),
            |e| Some(e.with_hot(value.clone())),
        )
    }
}

impl Drop for Tier {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The value a record at `loc` holds, from its payload.
fn value_of_record(loc: ColdLocation, payload: bytes::Bytes) -> Result<Value, ColdError> {
    Value::from_record(loc.value_type(), payload).map_err(|e| ColdError::Corrupt {
        segment: loc.segment(),
        offset: loc.offset(),
        source: crate::cold::RecordError::BadValue(e),
    })
}
