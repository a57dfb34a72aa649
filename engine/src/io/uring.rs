//! [`UringIoEngine`]: io_uring driven by one dedicated thread, `tier-uring`.
//!
//! Callers hand requests over a channel and kick an eventfd. While it has a free slot,
//! the ring holds a pending read of that eventfd, so the thread sleeps in
//! `io_uring_enter` until either a device I/O or a new request completes something: no
//! polling, and a new request wakes the thread even while other I/O is in flight. At
//! most `queue_depth` requests are in the kernel at once; the rest wait in the channel
//! (with every slot busy, the next completion wakes the thread to take them). Each in-flight request owns its
//! buffer and a handle on its file in a slot table indexed by the SQE's `user_data`, so
//! nothing the kernel touches is freed before its completion arrives.

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use io_uring::{cqueue, opcode, squeue, types, IoUring, Probe};

use super::{dispatch, AlignedBuf, DirectFile, IoEngine, IoFuture, Op, Request};

/// The `user_data` of the eventfd read; request slots use their index.
const WAKE_TOKEN: u64 = u64::MAX;

/// The largest queue depth accepted (the kernel caps a ring at 32768 entries).
const MAX_QUEUE_DEPTH: u32 = 4096;

/// io_uring on one dedicated thread with a fixed queue depth. Dropping it stops the
/// thread after every request already submitted has completed.
pub struct UringIoEngine {
    /// `None` only while dropping: closing the channel tells the thread to finish.
    tx: Option<mpsc::Sender<Request>>,
    wakeup: Arc<Wakeup>,
    thread: Option<JoinHandle<()>>,
}

/// The eventfd that wakes the ring thread, and the flags around it.
struct Wakeup {
    fd: OwnedFd,
    /// Set by a caller that kicked the eventfd, cleared by the thread when the kick's
    /// read completes: callers arriving in between skip the syscall, since the thread
    /// drains the channel after clearing it.
    kicked: AtomicBool,
}

impl Wakeup {
    /// Makes sure the thread will look at the channel after the caller's send.
    fn kick(&self) {
        if !self.kicked.swap(true, Ordering::AcqRel) {
            self.signal();
        }
    }

    fn signal(&self) {
        let one: u64 = 1;
        loop {
            // SAFETY: writes 8 bytes from a live local to an eventfd this struct owns.
            let rc = unsafe {
                libc::write(
                    self.fd.as_raw_fd(),
                    (&one as *const u64).cast(),
                    mem::size_of::<u64>(),
                )
            };
            if rc >= 0 {
                return;
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                // Only a counter overflow (2^64 - 2 kicks unread) could get here.
                tracing::error!("cannot wake the io_uring thread: {err}");
                return;
            }
        }
    }
}

impl UringIoEngine {
    /// Sets up a ring for `queue_depth` requests in flight (1..=4096), checks that the
    /// kernel supports the opcodes used and completes one no-op through it, then starts
    /// the thread. Fails where io_uring is missing or forbidden (old kernel, seccomp,
    /// `kernel.io_uring_disabled`).
    pub fn new(queue_depth: u32) -> io::Result<UringIoEngine> {
        if queue_depth == 0 || queue_depth > MAX_QUEUE_DEPTH {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("io_uring queue depth {queue_depth} is not in 1..={MAX_QUEUE_DEPTH}"),
            ));
        }
        let ring = setup(queue_depth)?;
        // SAFETY: plain syscall with no pointer arguments.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a descriptor just returned by eventfd(2) and owned by no one.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let wakeup = Arc::new(Wakeup {
            fd,
            kicked: AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::channel();
        let depth = queue_depth as usize;
        let worker = RingThread {
            ring,
            rx,
            wakeup: Arc::clone(&wakeup),
            wake_buf: Box::new(0),
            wake_armed: false,
            slots: (0..depth).map(|_| None).collect(),
            free: (0..depth).rev().collect(),
            drained: false,
        };
        let thread = thread::Builder::new()
            .name("tier-uring".into())
            .spawn(move || worker.run())?;
        Ok(UringIoEngine {
            tx: Some(tx),
            wakeup,
            thread: Some(thread),
        })
    }

    fn submit(&self, request: Request) {
        if let Some(tx) = &self.tx {
            // A send fails only if the thread stopped on a fatal ring error; the
            // request is then dropped, which settles its future with an error.
            if tx.send(request).is_ok() {
                self.wakeup.kick();
            }
        }
    }
}

impl IoEngine for UringIoEngine {
    submit_through_queue!();

    fn name(&self) -> &'static str {
        "io_uring"
    }
}

impl Drop for UringIoEngine {
    fn drop(&mut self) {
        // The thread sees the channel closed once the kick below lands, finishes what
        // it holds and returns.
        drop(self.tx.take());
        self.wakeup.signal();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the io_uring thread panicked");
            }
        }
    }
}

/// Builds a plain ring (interrupt-driven, any submitter) of room for `queue_depth`
/// requests plus the eventfd read, and probes it. Setup flags such as
/// `DEFER_TASKRUN` or `COOP_TASKRUN` made no measurable difference here.
fn setup(queue_depth: u32) -> io::Result<IoUring> {
    let mut ring = IoUring::new((queue_depth + 1).next_power_of_two())
        .map_err(|e| io::Error::new(e.kind(), format!("io_uring setup failed: {e}")))?;
    probe(&mut ring)?;
    Ok(ring)
}

/// Checks that the kernel knows every opcode the engine uses, and that a request really
/// goes through the ring (a seccomp filter may allow setup yet refuse `io_uring_enter`).
fn probe(ring: &mut IoUring) -> io::Result<()> {
    let mut probe = Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|e| io::Error::new(e.kind(), format!("io_uring probe failed: {e}")))?;
    for (code, name) in [
        (opcode::Read::CODE, "READ"),
        (opcode::Write::CODE, "WRITE"),
        (opcode::Fsync::CODE, "FSYNC"),
    ] {
        if !probe.is_supported(code) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("the kernel's io_uring lacks IORING_OP_{name}"),
            ));
        }
    }
    let nop = opcode::Nop::new().build().user_data(0);
    // SAFETY: a NOP references no memory.
    unsafe { ring.submission().push(&nop) }
        .map_err(|_| io::Error::other("io_uring submission queue full during the probe"))?;
    ring.submit_and_wait(1)
        .map_err(|e| io::Error::new(e.kind(), format!("io_uring submit failed: {e}")))?;
    let result = ring.completion().next().map(|cqe| cqe.result());
    match result {
        Some(res) if res >= 0 => Ok(()),
        Some(res) => Err(io::Error::from_raw_os_error(-res)),
        None => Err(io::Error::other("io_uring probe completed nothing")),
    }
}

/// The state the `tier-uring` thread owns.
struct RingThread {
    ring: IoUring,
    rx: mpsc::Receiver<Request>,
    wakeup: Arc<Wakeup>,
    /// Where the pending eventfd read lands; boxed so its address never moves.
    wake_buf: Box<u64>,
    wake_armed: bool,
    /// In-flight requests by slot index (the SQE's `user_data`).
    slots: Vec<Option<Request>>,
    /// Free slot indexes.
    free: Vec<usize>,
    /// The channel is closed and empty: the engine was dropped.
    drained: bool,
}

impl RingThread {
    fn run(mut self) {
        loop {
            self.accept();
            // With every slot busy the next completion wakes the thread anyway; and
            // `accept` saw the channel (open or closed) since the last wake-up.
            if !self.wake_armed && !self.drained && !self.free.is_empty() {
                self.arm_wakeup();
            }
            if self.drained && !self.wake_armed && self.free.len() == self.slots.len() {
                return;
            }
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // EBUSY: the completion queue is full; EAGAIN: the kernel is short of
                // memory. Reaping makes room; if there was nothing to reap, back off.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN)) => {
                    if self.ring.completion().is_empty() {
                        thread::sleep(Duration::from_millis(1));
                    }
                }
                Err(e) => return self.fail_all(e),
            }
            self.reap();
        }
    }

    /// Moves requests from the channel into the ring while slots are free.
    fn accept(&mut self) {
        while let Some(&slot) = self.free.last() {
            match self.rx.try_recv() {
                Ok(request) => {
                    self.free.pop();
                    self.start(slot, request);
                }
                Err(mpsc::TryRecvError::Empty) => return,
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.drained = true;
                    return;
                }
            }
        }
    }

    /// Submits `request` in the free slot `slot`.
    fn start(&mut self, slot: usize, mut request: Request) {
        let fd = types::Fd(request.file.raw_fd());
        let entry = match &mut request.op {
            Op::Read { buf, .. } => rw_entry(fd, buf, request.offset, true),
            Op::Write { buf, .. } => rw_entry(fd, buf, request.offset, false),
            Op::Fsync { .. } => opcode::Fsync::new(fd)
                .flags(types::FsyncFlags::DATASYNC)
                .build(),
        }
        .user_data(slot as u64);
        // SAFETY: the entry points into `request`'s heap buffer (if any) and names its
        // file's descriptor; the request is parked in `slots` right below and leaves it
        // only when this entry's completion arrives (`reap`), or is abandoned with its
        // buffer leaked (`fail_all`, `Drop`), so the buffer outlives the kernel's use of
        // it, and the descriptor stays open until the kernel has taken its own
        // reference on the file.
        if unsafe { self.ring.submission().push(&entry) }.is_err() {
            self.free.push(slot);
            return request.finish(Err(io::Error::other("io_uring submission queue full")));
        }
        self.slots[slot] = Some(request);
    }

    /// Queues a read of the eventfd, which completes when a caller kicks it.
    fn arm_wakeup(&mut self) {
        let ptr: *mut u64 = &mut *self.wake_buf;
        let entry = opcode::Read::new(
            types::Fd(self.wakeup.fd.as_raw_fd()),
            ptr.cast(),
            mem::size_of::<u64>() as u32,
        )
        .build()
        .user_data(WAKE_TOKEN);
        // SAFETY: `wake_buf` is a heap allocation owned by this thread state; while the
        // read is armed the thread neither frees nor touches it (`run` returns only
        // with no read armed, and `Drop` leaks it otherwise), and the eventfd lives in
        // `wakeup`, which this state holds.
        self.wake_armed = unsafe { self.ring.submission().push(&entry) }.is_ok();
    }

    /// Settles every completion in the queue.
    fn reap(&mut self) {
        for cqe in self.ring.completion() {
            if cqe.user_data() == WAKE_TOKEN {
                self.wake_armed = false;
                // Callers kicking from now on must signal again; the channel is
                // drained after this, at the top of `run`. The swap acquires every
                // earlier kick, so the drain sees the sends made before them.
                self.wakeup.kicked.swap(false, Ordering::AcqRel);
                continue;
            }
            let slot = cqe.user_data() as usize;
            let Some(request) = self.slots.get_mut(slot).and_then(Option::take) else {
                tracing::error!("io_uring completed an unknown request {slot}");
                continue;
            };
            self.free.push(slot);
            request.finish(cqe_result(&cqe));
        }
    }

    /// After a ring error the thread cannot trust: fails everything queued and in
    /// flight, leaking the in-flight buffers (the kernel may still write to them), and
    /// stops (`Drop` leaks the eventfd read's buffer). Later submissions find the
    /// channel closed and fail.
    fn fail_all(mut self, err: io::Error) {
        tracing::error!("the io_uring thread stops on a ring error: {err}");
        let msg = format!("io_uring failed: {err}");
        for request in self.slots.iter_mut().filter_map(Option::take) {
            request.abandon(io::Error::other(msg.clone()));
        }
        while let Ok(request) = self.rx.try_recv() {
            request.finish(Err(io::Error::other(msg.clone())));
        }
    }
}

impl Drop for RingThread {
    /// Runs when the thread returns, or unwinds from a panic: whatever is still in the
    /// kernel's hands is leaked, not freed, since the device may still write into it.
    /// After a normal return nothing is.
    fn drop(&mut self) {
        for request in self.slots.iter_mut().filter_map(Option::take) {
            request.abandon(io::Error::other(
                "the io_uring thread stopped with the request in flight",
            ));
        }
        if self.wake_armed {
            mem::forget(mem::take(&mut self.wake_buf));
        }
    }
}

fn rw_entry(fd: types::Fd, buf: &mut AlignedBuf, offset: u64, read: bool) -> squeue::Entry {
    // `Request::read`/`write` checked the length against `MAX_IO_LEN`, below u32::MAX.
    let len = buf.len() as u32;
    if read {
        opcode::Read::new(fd, buf.as_mut_ptr(), len)
            .offset(offset)
            .build()
    } else {
        opcode::Write::new(fd, buf.as_mut_ptr(), len)
            .offset(offset)
            .build()
    }
}

fn cqe_result(cqe: &cqueue::Entry) -> io::Result<usize> {
    let res = cqe.result();
    if res < 0 {
        Err(io::Error::from_raw_os_error(-res))
    } else {
        Ok(res as usize)
    }
}
