//! [`SimIoEngine`]: an [`IoEngine`] that wraps another and injects faults on command
//! (fail the Nth read, write or fsync; cut the Nth read short), counting every
//! operation, so tests can drive the cold tier through disk failures.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{AlignedBuf, DirectFile, IoEngine, IoFuture};

/// The operations a fault can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimOp {
    Read,
    Write,
    Fsync,
}

impl SimOp {
    fn as_str(self) -> &'static str {
        match self {
            SimOp::Read => "read",
            SimOp::Write => "write",
            SimOp::Fsync => "fsync",
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum FaultKind {
    /// The operation is not performed and answers an error.
    Fail,
    /// The read is performed and its buffer cut to this many bytes.
    Short(usize),
}

#[derive(Clone, Copy, Debug)]
struct Fault {
    op: SimOp,
    /// The operation's 1-based sequence number among operations of its kind.
    at: u64,
    kind: FaultKind,
}

/// A fault-injecting wrapper around another engine. Faults are armed relative to the
/// operations counted so far: `fail_read(1)` fails the next read, `fail_read(3)` the
/// third from now. With concurrent callers, "next" is whichever call is counted first.
pub struct SimIoEngine {
    inner: Arc<dyn IoEngine>,
    counts: [AtomicU64; 3],
    faults: Mutex<Vec<Fault>>,
}

impl SimIoEngine {
    /// Wraps `inner`, with no fault armed.
    pub fn new(inner: Arc<dyn IoEngine>) -> SimIoEngine {
        SimIoEngine {
            inner,
            counts: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
            faults: Mutex::new(Vec::new()),
        }
    }

    /// The `nth` read from now (1 = the next) fails with an I/O error.
    pub fn fail_read(&self, nth: u64) {
        self.arm(SimOp::Read, nth, FaultKind::Fail);
    }

    /// The `nth` write from now fails with an I/O error; nothing is written.
    pub fn fail_write(&self, nth: u64) {
        self.arm(SimOp::Write, nth, FaultKind::Fail);
    }

    /// The `nth` fsync from now fails with an I/O error.
    pub fn fail_fsync(&self, nth: u64) {
        self.arm(SimOp::Fsync, nth, FaultKind::Fail);
    }

    /// The `nth` read from now returns only its first `keep` bytes (a short read).
    pub fn short_read(&self, nth: u64, keep: usize) {
        self.arm(SimOp::Read, nth, FaultKind::Short(keep));
    }

    /// How many operations of kind `op` were issued (failed ones included).
    pub fn count(&self, op: SimOp) -> u64 {
        self.counts[op as usize].load(Ordering::Relaxed)
    }

    fn arm(&self, op: SimOp, nth: u64, kind: FaultKind) {
        let at = self.count(op).saturating_add(nth.max(1));
        self.faults.lock().push(Fault { op, at, kind });
    }

    /// Counts one operation of kind `op` and takes the fault armed for it, if any.
    fn next(&self, op: SimOp) -> (u64, Option<FaultKind>) {
        let n = self.counts[op as usize].fetch_add(1, Ordering::Relaxed) + 1;
        let mut faults = self.faults.lock();
        let fault = faults
            .iter()
            .position(|f| f.op == op && f.at == n)
            .map(|i| faults.swap_remove(i).kind);
        (n, fault)
    }

    fn injected<T>(op: SimOp, n: u64) -> IoFuture<T> {
        IoFuture::ready(Err(io::Error::other(format!(
            "injected fault: {} #{n} failed",
            op.as_str()
        ))))
    }
}

impl IoEngine for SimIoEngine {
    fn read(&self, file: &Arc<DirectFile>, offset: u64, len: usize) -> IoFuture<AlignedBuf> {
        match self.next(SimOp::Read) {
            (n, Some(FaultKind::Fail)) => SimIoEngine::injected(SimOp::Read, n),
            (_, Some(FaultKind::Short(keep))) => {
                self.inner.read(file, offset, len).map(move |result| {
                    result.map(|mut buf| {
                        buf.truncate(keep);
                        buf
                    })
                })
            }
            (_, None) => self.inner.read(file, offset, len),
        }
    }

    fn write(&self, file: &Arc<DirectFile>, offset: u64, buf: AlignedBuf) -> IoFuture<AlignedBuf> {
        match self.next(SimOp::Write) {
            (n, Some(_)) => SimIoEngine::injected(SimOp::Write, n),
            (_, None) => self.inner.write(file, offset, buf),
        }
    }

    fn fsync(&self, file: &Arc<DirectFile>) -> IoFuture<()> {
        match self.next(SimOp::Fsync) {
            (n, Some(_)) => SimIoEngine::injected(SimOp::Fsync, n),
            (_, None) => self.inner.fsync(file),
        }
    }

    fn name(&self) -> &'static str {
        "sim"
    }

    fn reap_on(&self, runtime: &tokio::runtime::Handle) {
        self.inner.reap_on(runtime);
    }
}
