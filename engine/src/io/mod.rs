//! The I/O engine of the cold tier: positional reads, writes and fdatasync on files
//! opened with O_DIRECT, completed asynchronously so a task can await a cold read
//! without blocking its runtime and without holding any lock.
//!
//! - [`IoEngine`]: the trait the tier talks to; [`open_io_engine`] picks one.
//! - [`UringIoEngine`]: io_uring, submitted by the callers and reaped by the server's
//!   tokio runtime or a thread (the default).
//! - [`PsyncIoEngine`]: pread/pwrite on a small thread pool (where io_uring is
//!   forbidden, e.g. by a container's seccomp profile).
//! - [`SimIoEngine`]: wraps another engine and injects faults, for tests.
//! - [`AlignedBuf`], [`DirectFile`], [`IoFuture`]: the buffer, file and result types.
//!
//! Every offset and length is a multiple of [`ALIGN`]; a request that breaks the rule is
//! answered with an `InvalidInput` error, never handed to the kernel.

/// The `read`, `write` and `fsync` of an engine whose own `submit(&self, Request)`
/// queues prepared requests for its threads (io_uring and psync alike). Defined
/// before the modules that expand it.
macro_rules! submit_through_queue {
    () => {
        fn read(&self, file: &Arc<DirectFile>, offset: u64, len: usize) -> IoFuture<AlignedBuf> {
            dispatch(Request::read(file, offset, len), |r| self.submit(r))
        }

        fn write(
            &self,
            file: &Arc<DirectFile>,
            offset: u64,
            buf: AlignedBuf,
        ) -> IoFuture<AlignedBuf> {
            dispatch(Request::write(file, offset, buf), |r| self.submit(r))
        }

        fn fsync(&self, file: &Arc<DirectFile>) -> IoFuture<()> {
            dispatch(Request::fsync(file), |r| self.submit(r))
        }
    };
}

mod buf;
mod file;
mod future;
mod psync;
mod sim;
mod uring;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::str::FromStr;
use std::sync::Arc;

pub use buf::AlignedBuf;
pub use file::DirectFile;
pub use future::IoFuture;

/// A connected completer and future, for tests elsewhere in the crate that need an
/// I/O that stays pending until they complete it.
#[cfg(test)]
pub(crate) use future::channel as future_channel_for_tests;
pub use psync::PsyncIoEngine;
pub use sim::{SimIoEngine, SimOp};
pub use uring::UringIoEngine;

use future::Completer;

/// The alignment of every offset, length and buffer address (O_DIRECT's rule; 4096
/// covers devices with 512-byte and 4 KiB logical blocks alike).
pub const ALIGN: usize = 4096;

/// The largest single transfer (1 GiB: below both the kernel's per-call cap of
/// 0x7ffff000 bytes and io_uring's 32-bit length).
pub const MAX_IO_LEN: usize = 1 << 30;

/// Default queue depth of [`UringIoEngine`] (requests in flight at once).
pub const DEFAULT_QUEUE_DEPTH: u32 = 128;

/// Default thread count of [`PsyncIoEngine`] (each thread has one request in flight,
/// so this is its queue depth).
pub const DEFAULT_PSYNC_THREADS: usize = 32;

/// Positional I/O on [`DirectFile`]s. Each call returns at once with an [`IoFuture`]
/// that the engine's thread completes; requests run concurrently, up to the engine's
/// queue depth, in no guaranteed order (await a write before reading what it wrote).
pub trait IoEngine: Send + Sync + 'static {
    /// Reads `len` bytes at `offset`. The buffer comes back holding what one read
    /// returned: `len` bytes, or fewer at the end of the file (none at or past it) or
    /// when a fault is injected. A caller that needs `len` bytes checks `buf.len()`.
    fn read(&self, file: &Arc<DirectFile>, offset: u64, len: usize) -> IoFuture<AlignedBuf>;

    /// Writes all of `buf` at `offset` and hands the buffer back for reuse. A write
    /// that transferred fewer bytes is an error.
    fn write(&self, file: &Arc<DirectFile>, offset: u64, buf: AlignedBuf) -> IoFuture<AlignedBuf>;

    /// Flushes the file's data to the device (fdatasync). Only writes that completed
    /// before this call are covered.
    fn fsync(&self, file: &Arc<DirectFile>) -> IoFuture<()>;

    /// The engine's name as the server logs and reports it ("io_uring", "psync", "sim").
    fn name(&self) -> &'static str;

    /// Lets the engine settle its completions on `runtime` (the one whose tasks await
    /// them) instead of a thread of its own, so a completion wakes no other thread.
    /// Engines that gain nothing by it ignore it.
    fn reap_on(&self, runtime: &tokio::runtime::Handle) {
        let _ = runtime;
    }
}

/// Which engine [`open_io_engine`] builds (the `tier-io-engine` option).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IoEngineKind {
    /// io_uring where the kernel allows it, else psync.
    #[default]
    Auto,
    /// io_uring or an error.
    Uring,
    /// The thread pool.
    Psync,
}

impl IoEngineKind {
    /// The option value that names this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            IoEngineKind::Auto => "auto",
            IoEngineKind::Uring => "uring",
            IoEngineKind::Psync => "psync",
        }
    }
}

impl fmt::Display for IoEngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IoEngineKind {
    type Err = String;

    /// Parses "auto", "uring" or "psync", in any case.
    fn from_str(s: &str) -> Result<IoEngineKind, String> {
        [IoEngineKind::Auto, IoEngineKind::Uring, IoEngineKind::Psync]
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown I/O engine '{s}' (expected auto, uring or psync)"))
    }
}

/// Builds the engine `kind` names with the default queue depth and thread count, and
/// logs which one runs. `Auto` tries io_uring (ring setup plus a probe of the opcodes
/// and one no-op round trip) and falls back to psync with a warning when the kernel or
/// a seccomp profile forbids it.
pub fn open_io_engine(kind: IoEngineKind) -> io::Result<Arc<dyn IoEngine>> {
    let engine: Arc<dyn IoEngine> = match kind {
        IoEngineKind::Uring => Arc::new(UringIoEngine::new(DEFAULT_QUEUE_DEPTH)?),
        IoEngineKind::Psync => Arc::new(PsyncIoEngine::new(DEFAULT_PSYNC_THREADS)?),
        IoEngineKind::Auto => match UringIoEngine::new(DEFAULT_QUEUE_DEPTH) {
            Ok(engine) => Arc::new(engine),
            Err(e) => {
                tracing::warn!("io_uring is not available ({e}); using the psync I/O engine");
                Arc::new(PsyncIoEngine::new(DEFAULT_PSYNC_THREADS)?)
            }
        },
    };
    tracing::info!(
        "cold tier I/O engine: {} (tier-io-engine {kind})",
        engine.name()
    );
    Ok(engine)
}

/// Checks a transfer length: positive, a multiple of [`ALIGN`], at most [`MAX_IO_LEN`].
fn check_len(len: usize) -> io::Result<()> {
    if len == 0 || !len.is_multiple_of(ALIGN) || len > MAX_IO_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("I/O length {len} is not a positive multiple of {ALIGN} up to {MAX_IO_LEN}"),
        ));
    }
    Ok(())
}

/// Checks a transfer's offset and length against O_DIRECT's rules and `off_t`'s range.
fn check_range(offset: u64, len: usize) -> io::Result<()> {
    check_len(len)?;
    if !offset.is_multiple_of(ALIGN as u64) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("I/O offset {offset} is not a multiple of {ALIGN}"),
        ));
    }
    if offset.saturating_add(len as u64) > i64::MAX as u64 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("I/O offset {offset} is past the largest file offset"),
        ));
    }
    Ok(())
}

/// One validated request on its way to an engine's thread. It owns everything the
/// kernel touches (the file handle and the buffer) until it is finished.
struct Request {
    file: Arc<DirectFile>,
    offset: u64,
    op: Op,
}

enum Op {
    Read {
        buf: AlignedBuf,
        done: Completer<AlignedBuf>,
    },
    Write {
        buf: AlignedBuf,
        done: Completer<AlignedBuf>,
    },
    Fsync {
        done: Completer<()>,
    },
}

/// A request and the future its caller keeps, or the reason it was refused.
type Prepared<T> = io::Result<(Request, IoFuture<T>)>;

impl Request {
    fn read(file: &Arc<DirectFile>, offset: u64, len: usize) -> Prepared<AlignedBuf> {
        check_range(offset, len)?;
        let buf = AlignedBuf::zeroed(len)?;
        let (done, fut) = future::channel();
        Ok((Request::new(file, offset, Op::Read { buf, done }), fut))
    }

    fn write(file: &Arc<DirectFile>, offset: u64, buf: AlignedBuf) -> Prepared<AlignedBuf> {
        check_range(offset, buf.len())?;
        let (done, fut) = future::channel();
        Ok((Request::new(file, offset, Op::Write { buf, done }), fut))
    }

    fn fsync(file: &Arc<DirectFile>) -> Prepared<()> {
        let (done, fut) = future::channel();
        Ok((Request::new(file, 0, Op::Fsync { done }), fut))
    }

    fn new(file: &Arc<DirectFile>, offset: u64, op: Op) -> Request {
        Request {
            file: Arc::clone(file),
            offset,
            op,
        }
    }

    /// Settles the request with the kernel's answer (bytes transferred, or an error).
    fn finish(self, result: io::Result<usize>) {
        match self.op {
            Op::Read { mut buf, done } => done.complete(result.map(|n| {
                buf.truncate(n);
                buf
            })),
            Op::Write { buf, done } => done.complete(result.and_then(|n| {
                if n == buf.len() {
                    Ok(buf)
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!(
                            "short write to {}: {n} of {} bytes at offset {}",
                            self.file.path().display(),
                            buf.len(),
                            self.offset
                        ),
                    ))
                }
            })),
            Op::Fsync { done } => done.complete(result.map(|_| ())),
        }
    }

    /// Fails the request while the kernel may still be using its buffer: the caller
    /// gets `err`, and the buffer is leaked rather than freed under the device's feet.
    fn abandon(self, err: io::Error) {
        match self.op {
            Op::Read { buf, done } | Op::Write { buf, done } => {
                std::mem::forget(buf);
                done.complete(Err(err));
            }
            Op::Fsync { done } => done.complete(Err(err)),
        }
    }
}

/// Hands a prepared request to `submit` and returns its future, or returns the refusal
/// as an already-settled future.
fn dispatch<T>(prepared: Prepared<T>, submit: impl FnOnce(Request)) -> IoFuture<T> {
    match prepared {
        Ok((request, fut)) => {
            submit(request);
            fut
        }
        Err(e) => IoFuture::ready(Err(e)),
    }
}
