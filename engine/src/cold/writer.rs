//! The append path of the segment store: where each record of an append goes
//! ([`plan`]), the active segment and its partially filled tail block kept in RAM
//! ([`Writer`]), and the writes themselves (one per segment an append touches).
//!
//! Records are packed back to back (record.rs's [`record_start`] rule: none starts in
//! the last 23 bytes of a block). An append rewrites the block its first record starts
//! in from the RAM copy of that block's earlier records, so appends leave no gap
//! between them. When a record would start at or past the segment size, the segment is
//! sealed and a new one opened at offset 0; the last record of a segment may run past
//! the segment size (its file then grows to hold it).
//!
//! An append is all or nothing: it checks the disk budget before writing, and if a
//! write fails, no state changes (bytes it wrote past a segment's last record are
//! ignored, and overwritten by the next append).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::io::{AlignedBuf, IoEngine, ALIGN};

use super::error::ColdError;
use super::location::{ColdLocation, MAX_SEGMENT_ID};
use super::record::{encode_record, record_len, record_start};
use super::segment::Segment;
use super::store::NewRecord;

/// The segment table: every segment that exists, by id.
pub(crate) type Table = RwLock<HashMap<u32, Arc<Segment>>>;

const A: u64 = ALIGN as u64;

fn align_down(x: u64) -> u64 {
    x - x % A
}

fn align_up(x: u64) -> u64 {
    x.div_ceil(A) * A
}

/// The segment being appended to.
pub(crate) struct Active {
    pub(crate) segment: Arc<Segment>,
    /// Where its last record ends (the next record starts here or at the next block).
    pub(crate) pos: u64,
    /// The bytes of the block holding `pos`, from the block's start to `pos` (empty
    /// when `pos` is on a block boundary): rewritten with the next append's records.
    pub(crate) tail: Vec<u8>,
}

/// The append state, behind the store's writer lock.
pub(crate) struct Writer {
    pub(crate) active: Option<Active>,
    /// The id tried first for the next segment (then upwards, wrapping).
    next_id: u32,
    /// The next [`Segment::uid`].
    next_uid: u64,
    /// The buffer of the last write, reused by the next one that fits in it (a fresh
    /// buffer of this size would cost a page fault per 4 KiB).
    spare: Option<AlignedBuf>,
}

/// The largest buffer kept for reuse: appends of more are rare (large records).
const SPARE_MAX: usize = 4 << 20;

/// What an append needs from the store.
pub(crate) struct Ctx<'a> {
    pub(crate) dir: &'a std::path::Path,
    pub(crate) segment_size: u64,
    pub(crate) max_size: u64,
    pub(crate) io: &'a dyn IoEngine,
    pub(crate) table: &'a Table,
}

/// The records of an append that go to one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Run {
    /// A segment this append opens (else the active one).
    pub(crate) new_segment: bool,
    /// Indexes of the append's records.
    pub(crate) records: Range<usize>,
    /// Offset of the first record.
    pub(crate) start: u64,
    /// End of the last record.
    pub(crate) end: u64,
}

/// Where the records of an append go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Each record's offset in its segment.
    pub(crate) offsets: Vec<u64>,
    /// The segments touched, in order: maybe the active one, then new ones.
    pub(crate) runs: Vec<Run>,
}

/// Places records of lengths `lens` after `active_pos` (the end of the active
/// segment's records, None without an active segment) in segments of `segment_size`.
pub(crate) fn plan(
    active_pos: Option<u64>,
    segment_size: u64,
    lens: impl IntoIterator<Item = usize>,
) -> Plan {
    let mut offsets = Vec::new();
    let mut runs: Vec<Run> = Vec::new();
    let mut pos = active_pos;
    for (i, len) in lens.into_iter().enumerate() {
        let fits = pos
            .map(|p| record_start(p as usize) as u64)
            .filter(|&start| start < segment_size);
        let start = match fits {
            Some(start) if !runs.is_empty() || active_pos.is_some() => {
                if runs.is_empty() {
                    runs.push(Run {
                        new_segment: false,
                        records: i..i,
                        start,
                        end: start,
                    });
                }
                start
            }
            _ => {
                runs.push(Run {
                    new_segment: true,
                    records: i..i,
                    start: 0,
                    end: 0,
                });
                0
            }
        };
        let end = start + len as u64;
        if let Some(run) = runs.last_mut() {
            run.records.end = i + 1;
            run.end = end;
        }
        offsets.push(start);
        pos = Some(end);
    }
    Plan { offsets, runs }
}

/// One run on its way to disk.
struct Pending {
    segment: Arc<Segment>,
    /// The file offset the buffer is written at (the start of the first record's
    /// block).
    at: u64,
    run: Run,
}

impl Writer {
    pub(crate) fn new() -> Writer {
        Writer {
            active: None,
            next_id: 0,
            next_uid: 0,
            spare: None,
        }
    }

    /// Appends `records` (already checked: lengths and value types fit a location)
    /// and returns their locations. See the module doc.
    pub(crate) fn append(
        &mut self,
        ctx: &Ctx<'_>,
        records: &[NewRecord<'_>],
    ) -> Result<Vec<ColdLocation>, ColdError> {
        let lens: Vec<usize> = records
            .iter()
            .map(|r| record_len(r.key.len(), r.value.len()))
            .collect();
        let plan = plan(
            self.active.as_ref().map(|a| a.pos),
            ctx.segment_size,
            lens.iter().copied(),
        );
        self.check_budget(ctx, &plan)?;

        // Open the new segments (ids chosen among those not in the table).
        let mut pending = Vec::with_capacity(plan.runs.len());
        let mut created: Vec<Arc<Segment>> = Vec::new();
        let fail = |created: &[Arc<Segment>], err: ColdError| {
            for segment in created {
                let _ = std::fs::remove_file(segment.path());
            }
            err
        };
        for run in &plan.runs {
            let segment = if run.new_segment {
                let id = match self.free_id(ctx.table, &created) {
                    Some(id) => id,
                    None => return Err(fail(&created, ColdError::Full)),
                };
                let uid = self.next_uid;
                self.next_uid += 1;
                match Segment::create(ctx.dir, id, uid, ctx.segment_size) {
                    Ok(segment) => {
                        let segment = Arc::new(segment);
                        created.push(Arc::clone(&segment));
                        segment
                    }
                    Err(e) => return Err(fail(&created, e)),
                }
            } else {
                // `plan` puts records in the active segment only if there is one.
                match &self.active {
                    Some(active) => Arc::clone(&active.segment),
                    None => {
                        let e = std::io::Error::other("no active segment to append to");
                        return Err(fail(&created, ColdError::io(ctx.dir, None, e)));
                    }
                }
            };
            pending.push(Pending {
                segment,
                at: align_down(run.start),
                run: run.clone(),
            });
        }

        // Fill one buffer per segment and write them all at once.
        let mut locations = Vec::with_capacity(records.len());
        let mut writes = Vec::with_capacity(pending.len());
        for p in &pending {
            let buf = match self.fill(p, records, &lens, &plan.offsets, &mut locations) {
                Ok(buf) => buf,
                Err(e) => return Err(fail(&created, e)),
            };
            writes.push(ctx.io.write(p.segment.file(), p.at, buf));
        }
        let mut written = Vec::with_capacity(writes.len());
        let mut first_error = None;
        for (p, write) in pending.iter().zip(writes) {
            match write.wait() {
                Ok(buf) => written.push(buf),
                Err(e) => {
                    tracing::warn!(
                        "cold tier: write to {} at offset {} failed: {e}",
                        p.segment.path().display(),
                        p.at
                    );
                    first_error.get_or_insert(ColdError::io(p.segment.path(), Some(p.at), e));
                }
            }
        }
        if let Some(err) = first_error {
            return Err(fail(&created, err));
        }

        // Commit: counters, the table, the active segment and its tail.
        for (p, buf) in pending.iter().zip(&written) {
            let accounted: u64 = locations[p.run.records.clone()]
                .iter()
                .map(|loc: &ColdLocation| loc.accounted_len() as u64)
                .sum();
            let file_len = p.at + buf.len() as u64;
            p.segment.commit(accounted, p.run.end, file_len);
        }
        if !created.is_empty() {
            let mut table = ctx.table.write();
            for segment in &created {
                table.insert(segment.id(), Arc::clone(segment));
            }
        }
        if let (Some(last), Some(buf)) = (pending.last(), written.last()) {
            for p in &pending[..pending.len() - 1] {
                p.segment.seal();
            }
            if let Some(old) = &self.active {
                if !Arc::ptr_eq(&old.segment, &last.segment) {
                    old.segment.seal();
                }
            }
            let end = last.run.end;
            let tail_from = (align_down(end) - last.at) as usize;
            let tail_to = (end - last.at) as usize;
            self.active = Some(Active {
                segment: Arc::clone(&last.segment),
                pos: end,
                tail: buf[tail_from..tail_to].to_vec(),
            });
        }
        self.keep_spare(written);
        Ok(locations)
    }

    /// Refuses an append that would take the segment files past `max_size`.
    fn check_budget(&self, ctx: &Ctx<'_>, plan: &Plan) -> Result<(), ColdError> {
        if ctx.max_size == 0 {
            return Ok(());
        }
        let active_len = self.active.as_ref().map_or(0, |a| a.segment.file_len());
        let growth: u64 = plan
            .runs
            .iter()
            .map(|run| {
                if run.new_segment {
                    align_up(run.end).max(ctx.segment_size)
                } else {
                    align_up(run.end).saturating_sub(active_len)
                }
            })
            .sum();
        let used: u64 = ctx.table.read().values().map(|s| s.file_len()).sum();
        if used.saturating_add(growth) > ctx.max_size {
            return Err(ColdError::Full);
        }
        Ok(())
    }

    /// The next id that is neither in the table nor among `taken`, or None when all
    /// 2^20 are in use.
    fn free_id(&mut self, table: &Table, taken: &[Arc<Segment>]) -> Option<u32> {
        let table = table.read();
        for _ in 0..=MAX_SEGMENT_ID {
            let id = self.next_id;
            self.next_id = if id == MAX_SEGMENT_ID { 0 } else { id + 1 };
            if !table.contains_key(&id) && !taken.iter().any(|s| s.id() == id) {
                return Some(id);
            }
        }
        None
    }

    /// The buffer of run `p`: the tail block's earlier records (when the run starts in
    /// it), then the run's records at their offsets, zero elsewhere. Pushes the
    /// records' locations.
    fn fill(
        &mut self,
        p: &Pending,
        records: &[NewRecord<'_>],
        lens: &[usize],
        offsets: &[u64],
        locations: &mut Vec<ColdLocation>,
    ) -> Result<AlignedBuf, ColdError> {
        let len = (align_up(p.run.end) - p.at) as usize;
        let mut buf = match self.spare.take() {
            Some(mut spare) if spare.capacity() >= len => {
                spare.reset_len();
                spare.truncate(len);
                spare
            }
            _ => AlignedBuf::zeroed(len)
                .map_err(|e| ColdError::io(p.segment.path(), Some(p.at), e))?,
        };
        // Every byte is written below: the tail, records, and zeroes between them.
        let mut filled = 0;
        if let Some(active) = &self.active {
            if !p.run.new_segment && align_down(active.pos) == p.at {
                buf[..active.tail.len()].copy_from_slice(&active.tail);
                filled = active.tail.len();
            }
        }
        for i in p.run.records.clone() {
            let r = &records[i];
            let at = (offsets[i] - p.at) as usize;
            buf[filled..at].fill(0);
            filled = at + lens[i];
            let loc = ColdLocation::new(p.segment.id(), offsets[i], lens[i], r.value_type)
                .ok_or(ColdError::TooLarge(lens[i]))?;
            encode_record(&mut buf[at..], r.key, r.hash, r.value_type, r.value).map_err(
                |source| ColdError::Corrupt {
                    segment: p.segment.id(),
                    offset: offsets[i],
                    source,
                },
            )?;
            locations.push(loc);
        }
        buf[filled..].fill(0);
        Ok(buf)
    }

    /// Drops the buffer kept for reuse.
    pub(crate) fn release_spare(&mut self) {
        self.spare = None;
    }

    /// Keeps the largest of `bufs` (written, now free) that is not too large for
    /// the next append.
    fn keep_spare(&mut self, bufs: Vec<AlignedBuf>) {
        let best = bufs
            .into_iter()
            .filter(|b| b.capacity() <= SPARE_MAX)
            .max_by_key(|b| b.capacity());
        if let Some(buf) = best {
            if self
                .spare
                .as_ref()
                .is_none_or(|s| s.capacity() < buf.capacity())
            {
                self.spare = Some(buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cold::record::RECORD_HEADER_LEN;

    const MIB: u64 = 1 << 20;

    fn run(new_segment: bool, records: Range<usize>, start: u64, end: u64) -> Run {
        Run {
            new_segment,
            records,
            start,
            end,
        }
    }

    #[test]
    fn first_append_opens_a_segment() {
        let p = plan(None, MIB, [100, 200]);
        assert_eq!(p.offsets, [0, 100]);
        assert_eq!(p.runs, [run(true, 0..2, 0, 300)]);
        assert_eq!(plan(None, MIB, []).runs, []);
    }

    #[test]
    fn appends_continue_the_active_segment_and_skip_short_block_tails() {
        let p = plan(Some(100), MIB, [50]);
        assert_eq!(p.runs, [run(false, 0..1, 100, 150)]);
        // Fewer than a header's bytes left in the block: the record starts at the next.
        let near = A - RECORD_HEADER_LEN as u64 + 1;
        let p = plan(Some(near), MIB, [50, 10]);
        assert_eq!(p.offsets, [A, A + 50]);
        assert_eq!(p.runs, [run(false, 0..2, A, A + 60)]);
    }

    #[test]
    fn a_record_starting_past_the_segment_size_opens_the_next() {
        // The first record starts just before the end and runs past it; the second
        // would start past the end, so it opens a segment.
        let p = plan(Some(MIB - 100), MIB, [5000, 10, 20]);
        assert_eq!(p.offsets, [MIB - 100, 0, 10]);
        assert_eq!(
            p.runs,
            [
                run(false, 0..1, MIB - 100, MIB + 4900),
                run(true, 1..3, 0, 30)
            ]
        );
        // Exactly at the end, or within the last 23 bytes: a new segment.
        assert_eq!(plan(Some(MIB), MIB, [10]).runs, [run(true, 0..1, 0, 10)]);
        assert_eq!(
            plan(Some(MIB - 10), MIB, [10]).runs,
            [run(true, 0..1, 0, 10)]
        );
        // Large records: one per segment.
        let p = plan(None, MIB, [2 * MIB as usize, 2 * MIB as usize, 5]);
        assert_eq!(p.offsets, [0, 0, 0]);
        assert_eq!(p.runs.len(), 3);
        assert!(p.runs.iter().all(|r| r.new_segment));
    }
}
