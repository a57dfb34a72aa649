//! Cold reads in flight: reads of the same aligned span of the same segment that are
//! in flight at once share one device read ([`InFlight::join`]), and each reader then
//! checks its own record in the shared buffer ([`check_record`]).
//!
//! The first reader of a span submits the I/O; later readers of that span join it
//! until its result is known, provided their record was written before that I/O was
//! submitted (a record appended to the tail block after the read went out may not be
//! in its bytes: its reader starts a fresh read, which takes the span's place). Any of the readers may drive the I/O's future to its
//! end (whichever is polled), so a reader that gives up (its future dropped) leaves
//! the others waiting on a read that still completes. The span leaves the table when
//! its result is known or its last reader is gone, whichever comes first.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

use crate::io::{AlignedBuf, IoFuture};

use super::error::ColdError;
use super::location::ColdLocation;
use super::record::{decode_record, RecordError, RecordRef};

/// What identifies one span read: the segment's unique id (never reused, unlike
/// segment ids), the span's start and its length.
pub(crate) type SpanKey = (u64, u64, usize);

/// The outcome of one span read, shared by all its readers: the bytes read (perhaps
/// fewer than asked), or the I/O error as kind and text (`io::Error` is not `Clone`).
pub(crate) type SpanResult = Result<Arc<AlignedBuf>, (io::ErrorKind, String)>;

/// The table of span reads in flight.
#[derive(Default)]
pub(crate) struct InFlight {
    spans: Mutex<HashMap<SpanKey, Arc<Flight>>>,
}

struct Flight {
    /// The segment's end of records when the I/O was submitted: the read holds every
    /// record that starts below it.
    covers: u64,
    state: Mutex<FlightState>,
}

struct FlightState {
    /// The device read, until a reader drives it to completion.
    io: Option<IoFuture<AlignedBuf>>,
    /// Its result, once known.
    done: Option<SpanResult>,
    /// The waker of each reader (by its slot) that is waiting.
    wakers: Vec<Option<Waker>>,
    /// The slot of the reader whose waker the I/O's future holds (it keeps only the
    /// last one it was polled with).
    io_poller: Option<usize>,
    /// Readers still holding a [`SpanRead`].
    readers: usize,
}

impl InFlight {
    /// Joins the read of `key` in flight if it holds the record starting at
    /// `record_at`, else starts one with `submit`, which reads a segment whose records
    /// end at `end()` (called just before submitting). Returns the reader's handle and
    /// whether it joined (a merged read).
    pub(crate) fn join(
        self: &Arc<Self>,
        key: SpanKey,
        record_at: u64,
        end: impl FnOnce() -> u64,
        submit: impl FnOnce() -> IoFuture<AlignedBuf>,
    ) -> (SpanRead, bool) {
        let mut spans = self.spans.lock();
        let (flight, merged) = match spans.get(&key) {
            Some(flight) if record_at < flight.covers => (Arc::clone(flight), true),
            _ => {
                // Read after the record's write completed (`end` is published then).
                let covers = end();
                let flight = Arc::new(Flight {
                    covers,
                    state: Mutex::new(FlightState {
                        io: Some(submit()),
                        done: None,
                        wakers: Vec::new(),
                        io_poller: None,
                        readers: 0,
                    }),
                });
                spans.insert(key, Arc::clone(&flight));
                (flight, false)
            }
        };
        let slot = {
            let mut state = flight.state.lock();
            state.readers += 1;
            state.wakers.push(None);
            state.wakers.len() - 1
        };
        drop(spans);
        let read = SpanRead {
            table: Arc::clone(self),
            key,
            flight,
            slot,
        };
        (read, merged)
    }

    /// Span reads in flight (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.spans.lock().len()
    }

    /// Takes `key` out of the table if it still maps to `flight`.
    fn remove(&self, key: &SpanKey, flight: &Arc<Flight>) {
        let mut spans = self.spans.lock();
        if spans.get(key).is_some_and(|f| Arc::ptr_eq(f, flight)) {
            spans.remove(key);
        }
    }
}

/// One reader's share of a span read: a future of the [`SpanResult`].
pub(crate) struct SpanRead {
    table: Arc<InFlight>,
    key: SpanKey,
    flight: Arc<Flight>,
    slot: usize,
}

impl Future for SpanRead {
    type Output = SpanResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SpanResult> {
        let this = self.get_mut();
        let mut state = this.flight.state.lock();
        if let Some(done) = &state.done {
            return Poll::Ready(done.clone());
        }
        let Some(io) = state.io.as_mut() else {
            // Unreachable: `io` is only taken when `done` is set.
            return Poll::Ready(Err((io::ErrorKind::Other, "span read lost".to_string())));
        };
        match Pin::new(io).poll(cx) {
            Poll::Pending => {
                state.io_poller = Some(this.slot);
                if let Some(waker) = state.wakers.get_mut(this.slot) {
                    match waker {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        w => *w = Some(cx.waker().clone()),
                    }
                }
                Poll::Pending
            }
            Poll::Ready(result) => {
                let result: SpanResult =
                    result.map(Arc::new).map_err(|e| (e.kind(), e.to_string()));
                state.io = None;
                state.io_poller = None;
                state.done = Some(result.clone());
                let wakers: Vec<Waker> = state.wakers.iter_mut().filter_map(Option::take).collect();
                drop(state);
                // Later readers of the span start a fresh read (lock order: the
                // table, then a flight; the flight's lock is released first).
                this.table.remove(&this.key, &this.flight);
                for waker in wakers {
                    waker.wake();
                }
                Poll::Ready(result)
            }
        }
    }
}

impl Drop for SpanRead {
    fn drop(&mut self) {
        let mut spans = self.table.spans.lock();
        let mut state = self.flight.state.lock();
        state.readers -= 1;
        if let Some(waker) = state.wakers.get_mut(self.slot) {
            *waker = None;
        }
        if state.readers == 0 {
            // Nobody waits any more: forget the span (the I/O, if still running,
            // completes into a future nobody polls, which frees its buffer).
            if spans
                .get(&self.key)
                .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
            {
                spans.remove(&self.key);
            }
            return;
        }
        drop(spans);
        if state.done.is_none() && state.io_poller == Some(self.slot) {
            // The I/O's future would wake this reader, which is gone: wake the others
            // so that one of them polls it again and takes over.
            state.io_poller = None;
            let wakers: Vec<Waker> = state.wakers.iter().flatten().cloned().collect();
            drop(state);
            for waker in wakers {
                waker.wake();
            }
        }
    }
}

/// Why a record could not be taken from a span's bytes.
#[derive(Debug)]
pub(crate) enum CheckError {
    /// The read returned fewer bytes than the record needs.
    Short { got: usize, wanted: usize },
    /// The bytes at the record's offset are not a valid record.
    Corrupt(RecordError),
    /// A valid record, but not the key, hash or value type asked for.
    Mismatch,
}

/// Finds the record `loc` names in `buf`, the bytes read from `loc.read_span()`
/// (`span_len` asked for), and checks it is the one for `key`, `hash` and the
/// location's value type.
pub(crate) fn check_record<'a>(
    buf: &'a [u8],
    span_len: usize,
    loc: ColdLocation,
    key: &[u8],
    hash: u64,
) -> Result<RecordRef<'a>, CheckError> {
    let (start, _) = loc.read_span();
    // In range: the offset lies in the span's first block.
    let skip = (loc.offset() - start) as usize;
    let short = |wanted: usize| CheckError::Short {
        got: buf.len(),
        wanted,
    };
    let bytes = buf.get(skip..).ok_or_else(|| short(span_len))?;
    let record = match decode_record(bytes) {
        Ok(record) => record,
        // A record cut off by a short read is a short read, not corruption: the
        // bytes on the device may be fine.
        Err(RecordError::Truncated { needed, .. }) if buf.len() < span_len => {
            return Err(short(skip + needed));
        }
        Err(e) => return Err(CheckError::Corrupt(e)),
    };
    // The record's own length and type give back the very location asked for.
    let same_place =
        ColdLocation::new(loc.segment(), loc.offset(), record.len, record.value_type) == Some(loc);
    if !same_place || record.key != key || record.hash != hash {
        return Err(CheckError::Mismatch);
    }
    Ok(record)
}

impl CheckError {
    /// The store's error for this failure of a read of `loc` in the file at `path`.
    pub(crate) fn into_cold(self, loc: ColdLocation, path: &std::path::Path) -> ColdError {
        let (segment, offset) = (loc.segment(), loc.offset());
        match self {
            CheckError::Short { got, wanted } => ColdError::io(
                path,
                Some(offset),
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "short read: {got} bytes from offset {}, the record needs {wanted}",
                        loc.read_span().0
                    ),
                ),
            ),
            CheckError::Corrupt(source) => ColdError::Corrupt {
                segment,
                offset,
                source,
            },
            CheckError::Mismatch => ColdError::Mismatch { segment, offset },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cold::record::{encode_record, record_len};
    use crate::io::ALIGN;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn waker() -> (Arc<CountingWaker>, Waker) {
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        (Arc::clone(&counter), Waker::from(counter))
    }

    fn buf_of(byte: u8) -> AlignedBuf {
        let mut buf = AlignedBuf::zeroed(ALIGN).expect("buffer");
        buf.fill(byte);
        buf
    }

    #[test]
    fn readers_of_a_span_share_one_io() {
        let table = Arc::new(InFlight::default());
        let mut submitted = 0;
        let (mut a, merged_a) = table.join(
            (1, 0, ALIGN),
            0,
            || 1,
            || {
                submitted += 1;
                IoFuture::ready(Ok(buf_of(7)))
            },
        );
        let (mut b, merged_b) = table.join((1, 0, ALIGN), 0, || 1, || unreachable!("merged"));
        let (other, merged_other) =
            table.join((2, 0, ALIGN), 0, || 1, || IoFuture::ready(Ok(buf_of(9))));
        assert_eq!(
            (submitted, merged_a, merged_b, merged_other),
            (1, false, true, false)
        );
        assert_eq!(table.len(), 2);
        let (_, w) = waker();
        let mut cx = Context::from_waker(&w);
        let got_b = match Pin::new(&mut b).poll(&mut cx) {
            Poll::Ready(r) => r.expect("read"),
            Poll::Pending => panic!("ready I/O"),
        };
        assert_eq!(table.len(), 1, "a finished span leaves the table");
        let got_a = match Pin::new(&mut a).poll(&mut cx) {
            Poll::Ready(r) => r.expect("read"),
            Poll::Pending => panic!("done"),
        };
        assert!(Arc::ptr_eq(&got_a, &got_b), "one buffer, shared");
        assert!(got_a.iter().all(|&x| x == 7));
        drop(other);
        assert_eq!(
            table.len(),
            0,
            "an abandoned span leaves with its last reader"
        );
    }

    #[test]
    fn a_dropped_poller_hands_over_to_the_others() {
        let table = Arc::new(InFlight::default());
        let (done, fut) = crate::io::future_channel_for_tests();
        let (mut a, _) = table.join((1, 0, ALIGN), 0, || 1, || fut);
        let (mut b, _) = table.join((1, 0, ALIGN), 0, || 1, || unreachable!());
        let (count_a, wa) = waker();
        let (count_b, wb) = waker();
        assert!(Pin::new(&mut b)
            .poll(&mut Context::from_waker(&wb))
            .is_pending());
        assert!(Pin::new(&mut a)
            .poll(&mut Context::from_waker(&wa))
            .is_pending());
        // `a` holds the I/O's waker; dropping it wakes `b`, which takes over.
        drop(a);
        assert_eq!(count_b.0.load(Ordering::Relaxed), 1);
        assert!(Pin::new(&mut b)
            .poll(&mut Context::from_waker(&wb))
            .is_pending());
        done.complete(Ok(buf_of(3)));
        assert_eq!(count_b.0.load(Ordering::Relaxed), 2, "the I/O woke b");
        assert_eq!(count_a.0.load(Ordering::Relaxed), 0);
        match Pin::new(&mut b).poll(&mut Context::from_waker(&wb)) {
            Poll::Ready(r) => assert!(r.expect("read").iter().all(|&x| x == 3)),
            Poll::Pending => panic!("completed"),
        }
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn a_record_written_after_the_read_went_out_gets_a_read_of_its_own() {
        let table = Arc::new(InFlight::default());
        let (mut old, _) = table.join((1, 0, ALIGN), 10, || 100, || IoFuture::ready(Ok(buf_of(1))));
        let (mut joined, merged) = table.join((1, 0, ALIGN), 99, || 100, || unreachable!());
        assert!(merged, "a record below the end read joins");
        let (mut fresh, merged) = table.join(
            (1, 0, ALIGN),
            100,
            || 200,
            || IoFuture::ready(Ok(buf_of(2))),
        );
        assert!(!merged, "a record at or past the end read does not");
        let (mut later, merged) = table.join((1, 0, ALIGN), 150, || 200, || unreachable!());
        assert!(merged, "the fresh read took the span's place");
        let (_, w) = waker();
        let mut cx = Context::from_waker(&w);
        for (read, byte) in [
            (&mut old, 1),
            (&mut joined, 1),
            (&mut fresh, 2),
            (&mut later, 2),
        ] {
            match Pin::new(read).poll(&mut cx) {
                Poll::Ready(r) => assert!(r.expect("read").iter().all(|&x| x == byte)),
                Poll::Pending => panic!("ready I/O"),
            }
        }
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn errors_are_shared_too() {
        let table = Arc::new(InFlight::default());
        let (mut a, _) = table.join(
            (1, 0, ALIGN),
            0,
            || 1,
            || IoFuture::ready(Err(io::Error::other("disk on fire"))),
        );
        let (mut b, _) = table.join((1, 0, ALIGN), 0, || 1, || unreachable!());
        let (_, w) = waker();
        let mut cx = Context::from_waker(&w);
        for read in [&mut a, &mut b] {
            match Pin::new(read).poll(&mut cx) {
                Poll::Ready(Err((kind, text))) => {
                    assert_eq!(kind, io::ErrorKind::Other);
                    assert!(text.contains("disk on fire"));
                }
                _ => panic!("an error"),
            }
        }
    }

    #[test]
    fn check_record_cases() {
        let mut block = vec![0u8; 2 * ALIGN];
        let at = ALIGN - 100;
        let len = encode_record(&mut block[at..], b"key", 5, 0, &[1u8; 300]).expect("fits");
        assert_eq!(len, record_len(3, 300));
        let loc = ColdLocation::new(0, at as u64, len, 0).expect("loc");
        assert_eq!(loc.read_span(), (0, 2 * ALIGN));
        let ok = check_record(&block, 2 * ALIGN, loc, b"key", 5).expect("record");
        assert_eq!(ok.value, &[1u8; 300]);
        assert!(matches!(
            check_record(&block, 2 * ALIGN, loc, b"kez", 5),
            Err(CheckError::Mismatch)
        ));
        assert!(matches!(
            check_record(&block, 2 * ALIGN, loc, b"key", 6),
            Err(CheckError::Mismatch)
        ));
        let typed = ColdLocation::new(0, at as u64, len, 1).expect("loc");
        assert!(matches!(
            check_record(&block, 2 * ALIGN, typed, b"key", 5),
            Err(CheckError::Mismatch)
        ));
        let longer = ColdLocation::new(0, at as u64, len + 1, 0).expect("loc");
        assert!(matches!(
            check_record(&block, 2 * ALIGN, longer, b"key", 5),
            Err(CheckError::Mismatch)
        ));
        // Cut short: a short read, never a record.
        assert!(matches!(
            check_record(&block[..ALIGN], 2 * ALIGN, loc, b"key", 5),
            Err(CheckError::Short { got, wanted }) if got == ALIGN && wanted == at + len
        ));
        assert!(matches!(
            check_record(&[], 2 * ALIGN, loc, b"key", 5),
            Err(CheckError::Short { got: 0, .. })
        ));
        block[at + 30] ^= 1;
        assert!(matches!(
            check_record(&block, 2 * ALIGN, loc, b"key", 5),
            Err(CheckError::Corrupt(RecordError::ChecksumMismatch { .. }))
        ));
    }
}
