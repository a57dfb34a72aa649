//! [`UringIoEngine`]: one io_uring shared by every thread that submits, its
//! completions reaped by the tokio runtime the tier serves (or by a thread of its own).
//!
//! The thread that makes a request pushes it into the ring under a mutex. The ring
//! signals an eventfd for every completion (`IORING_REGISTER_EVENTFD`), and the reaper
//! waits on that eventfd: at first the `tier-uring` thread, blocked in poll(2); after
//! [`UringIoEngine::reap_on`], a task of a tokio runtime with the eventfd in the
//! runtime's reactor, so a cold read that a worker thread submits completes on a worker
//! that was waiting for its sockets anyway, with no other thread woken. If the runtime
//! goes away, the thread takes over again.
//!
//! When to hand pushed entries to the kernel (`io_uring_enter`): with the thread as
//! reaper, at once. With the runtime's task, at once too if the ring was idle (one
//! client: the lowest latency); if requests are in flight already, the task submits
//! everything pushed meanwhile in one call, after the runtime has run the other tasks
//! that were ready (many clients: on a virtual disk every `io_uring_enter` that starts
//! I/O costs a notification of the device, a VM exit, so batching them is what keeps
//! 32 clients' reads cheap).
//!
//! At most `queue_depth` requests are in the kernel at once; more wait in a queue and
//! are submitted as completions free slots. Each in-flight request owns its buffer and
//! a handle on its file in a slot table indexed by the SQE's `user_data`, so nothing the
//! kernel touches is freed before its completion arrives.

use std::collections::VecDeque;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use io_uring::{cqueue, opcode, squeue, types, IoUring, Probe};
use parking_lot::Mutex;

use super::{dispatch, AlignedBuf, DirectFile, IoEngine, IoFuture, Op, Request};

/// The largest queue depth accepted (the kernel caps a ring at 32768 entries).
const MAX_QUEUE_DEPTH: u32 = 4096;

/// How long the reaper task waits on a worker, without parking it, for a lone
/// request in flight (a cold read from one client takes the device's 50-60 µs).
const LONE_SPIN: Duration = Duration::from_micros(150);

/// Who reaps completions ([`RingShared::reaper`]).
const REAPER_THREAD: u8 = 0;
const REAPER_RUNTIME: u8 = 1;
const STOPPING: u8 = 2;

/// io_uring with a fixed queue depth, shared by its submitters. Dropping it waits
/// until every request already submitted has completed.
pub struct UringIoEngine {
    shared: Arc<RingShared>,
}

/// What submitters and the reaper share.
struct RingShared {
    state: Mutex<RingState>,
    /// Signalled by the kernel for every completion; non-blocking.
    completions: OwnedFd,
    /// Wakes the reaper task to submit deferred entries.
    flush: tokio::sync::Notify,
    /// [`REAPER_THREAD`], [`REAPER_RUNTIME`] or [`STOPPING`].
    reaper: AtomicU8,
    /// The reaper thread, while there is one.
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// The ring and the requests it holds.
struct RingState {
    ring: IoUring,
    /// In-flight requests by slot index (the SQE's `user_data`).
    slots: Vec<Option<Request>>,
    /// Free slot indexes.
    free: Vec<usize>,
    /// Requests waiting for a free slot.
    queued: VecDeque<Request>,
    /// Entries pushed but not yet handed to the kernel (deferred to the reaper task,
    /// or refused with EAGAIN or EBUSY).
    unsubmitted: bool,
    /// The reaper task was asked to submit what is pushed, and has not yet.
    flush_wanted: bool,
    /// Why the ring stopped working, after an error it cannot recover from.
    failed: Option<String>,
    /// The completion eventfd (owned by [`RingShared`]).
    completions: RawFd,
}

impl UringIoEngine {
    /// Sets up a ring for `queue_depth` requests in flight (1..=4096), checks that the
    /// kernel supports the opcodes used and completes one no-op through it, registers
    /// the completion eventfd and starts the reaper thread. Fails where io_uring is
    /// missing or forbidden (old kernel, seccomp, `kernel.io_uring_disabled`).
    pub fn new(queue_depth: u32) -> io::Result<UringIoEngine> {
        if queue_depth == 0 || queue_depth > MAX_QUEUE_DEPTH {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("io_uring queue depth {queue_depth} is not in 1..={MAX_QUEUE_DEPTH}"),
            ));
        }
        let ring = setup(queue_depth)?;
        // SAFETY: plain syscall with no pointer arguments.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a descriptor just returned by eventfd(2) and owned by no one.
        let completions = unsafe { OwnedFd::from_raw_fd(fd) };
        ring.submitter()
            .register_eventfd(completions.as_raw_fd())
            .map_err(|e| io::Error::new(e.kind(), format!("io_uring eventfd: {e}")))?;
        let depth = queue_depth as usize;
        let shared = Arc::new(RingShared {
            state: Mutex::new(RingState {
                ring,
                slots: (0..depth).map(|_| None).collect(),
                free: (0..depth).rev().collect(),
                queued: VecDeque::new(),
                unsubmitted: false,
                flush_wanted: false,
                failed: None,
                completions: completions.as_raw_fd(),
            }),
            completions,
            flush: tokio::sync::Notify::new(),
            reaper: AtomicU8::new(REAPER_THREAD),
            thread: Mutex::new(None),
        });
        RingShared::start_thread(&shared)?;
        Ok(UringIoEngine { shared })
    }

    /// Moves the reaping of completions onto `runtime`: a task there waits for the
    /// completion eventfd in the runtime's reactor, and the `tier-uring` thread stops.
    /// Call it once the runtime that awaits the cold reads exists; if that runtime
    /// shuts down, a thread takes over again.
    pub fn reap_on(&self, runtime: &tokio::runtime::Handle) {
        let shared = &self.shared;
        if shared
            .reaper
            .compare_exchange(
                REAPER_THREAD,
                REAPER_RUNTIME,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            return;
        }
        shared.signal();
        if let Some(thread) = shared.thread.lock().take() {
            if thread.join().is_err() {
                tracing::error!("the io_uring reaper thread panicked");
            }
        }
        runtime.spawn(reap_in_runtime(Arc::clone(shared)));
    }

    fn submit(&self, request: Request) {
        let shared = &self.shared;
        let on_runtime = shared.reaper.load(Ordering::Acquire) == REAPER_RUNTIME;
        // The reaper task is woken to submit deferred entries, or to wait for the
        // lone request that was just submitted to an idle ring.
        if shared.state.lock().submit(request, on_runtime) && on_runtime {
            shared.flush.notify_one();
        }
    }
}

impl IoEngine for UringIoEngine {
    submit_through_queue!();

    fn name(&self) -> &'static str {
        "io_uring"
    }

    fn reap_on(&self, runtime: &tokio::runtime::Handle) {
        UringIoEngine::reap_on(self, runtime);
    }
}

impl Drop for UringIoEngine {
    fn drop(&mut self) {
        let shared = &self.shared;
        let was = shared.reaper.swap(STOPPING, Ordering::AcqRel);
        shared.signal();
        if was == REAPER_THREAD {
            if let Some(thread) = shared.thread.lock().take() {
                if thread.join().is_err() {
                    tracing::error!("the io_uring reaper thread panicked");
                }
            }
        }
        // Whoever reaps may be gone (the runtime stopped first): settle what is in
        // flight here, so no buffer is freed under the device and no caller waits
        // forever.
        loop {
            {
                let mut state = shared.state.lock();
                state.reap();
                if state.idle() {
                    return;
                }
            }
            wait_readable(shared.completions.as_raw_fd(), 10);
        }
    }
}

impl RingShared {
    /// Starts the `tier-uring` thread, which reaps until the runtime or a stop takes
    /// over.
    fn start_thread(shared: &Arc<RingShared>) -> io::Result<()> {
        let reaper = Arc::clone(shared);
        let thread = thread::Builder::new()
            .name("tier-uring".into())
            .spawn(move || reaper.reap_in_thread())?;
        *shared.thread.lock() = Some(thread);
        Ok(())
    }

    fn reap_in_thread(&self) {
        loop {
            self.reap_pending();
            if self.reaper.load(Ordering::Acquire) != REAPER_THREAD {
                return;
            }
            wait_readable(self.completions.as_raw_fd(), -1);
        }
    }

    /// Clears the completion eventfd, then settles every completion: one that lands
    /// after the clear signals it again.
    fn reap_pending(&self) {
        let mut count = 0u64;
        // SAFETY: reads 8 bytes into a live local from an eventfd this struct owns. A
        // failure is EAGAIN (nothing signalled since the last read): nothing to clear.
        unsafe {
            libc::read(
                self.completions.as_raw_fd(),
                (&mut count as *mut u64).cast(),
                mem::size_of::<u64>(),
            )
        };
        let mut state = self.state.lock();
        state.flush_wanted = false;
        state.reap();
    }

    /// Whether exactly one request is in flight and none waits.
    fn lone_in_flight(&self) -> bool {
        self.state.lock().lone_in_flight()
    }

    /// Wakes whoever waits on the completion eventfd.
    fn signal(&self) {
        signal(self.completions.as_raw_fd());
    }
}

/// Adds one to the eventfd `fd`.
fn signal(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live local to an open eventfd. It fails only when
    // the counter would overflow, i.e. it is signalled already.
    unsafe { libc::write(fd, (&one as *const u64).cast(), mem::size_of::<u64>()) };
}

/// The eventfd as the runtime's reactor sees it (the descriptor stays owned by
/// [`RingShared`]).
struct CompletionFd(Arc<RingShared>);

impl AsRawFd for CompletionFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.completions.as_raw_fd()
    }
}

/// Hands the reaping back to a thread when the runtime's task ends (the runtime shut
/// down, or the reactor failed) while the engine still runs.
struct HandBack(Arc<RingShared>);

impl Drop for HandBack {
    fn drop(&mut self) {
        let shared = &self.0;
        if shared
            .reaper
            .compare_exchange(
                REAPER_RUNTIME,
                REAPER_THREAD,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
        {
            if let Err(e) = RingShared::start_thread(shared) {
                tracing::error!("cannot restart the io_uring reaper thread: {e}");
            }
        }
    }
}

/// The reaper task of [`UringIoEngine::reap_on`].
async fn reap_in_runtime(shared: Arc<RingShared>) {
    let _hand_back = HandBack(Arc::clone(&shared));
    // SAFETY: the eventfd is owned by the `RingShared` that `CompletionFd` holds, so
    // it stays open, the same descriptor, for as long as the `AsyncFd` lives.
    let registered = unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(
            CompletionFd(Arc::clone(&shared)),
            tokio::io::Interest::READABLE,
        )
    };
    let fd = match registered {
        Ok(fd) => fd,
        Err(e) => {
            tracing::error!("cannot watch io_uring completions from the runtime: {e}");
            return;
        }
    };
    loop {
        shared.reap_pending();
        if shared.reaper.load(Ordering::Acquire) != REAPER_RUNTIME {
            return;
        }
        // A lone request in flight (one client's cold read): wait for it here, for
        // a while, without letting the worker park. A vCPU parked in epoll takes
        // tens of µs to wake for the completion; yielding keeps the runtime serving
        // every other task meanwhile.
        let spin_until = Instant::now() + LONE_SPIN;
        while shared.lone_in_flight() && Instant::now() < spin_until {
            tokio::task::yield_now().await;
            shared.state.lock().reap();
        }
        tokio::select! {
            ready = fd.readable() => match ready {
                // The next `reap_pending` reads the counter; the readiness is cleared
                // so that the reactor reports the next signal.
                Ok(mut ready) => ready.clear_ready(),
                Err(e) => {
                    tracing::error!("io_uring completions: the runtime's reactor failed: {e}");
                    return;
                }
            },
            // Entries were deferred: let the tasks that are ready push theirs too,
            // then submit them all at once.
            () = shared.flush.notified() => tokio::task::yield_now().await,
        }
    }
}

/// Waits until `fd` is readable, or `timeout_ms` passed (-1: no limit).
fn wait_readable(fd: RawFd, timeout_ms: i32) {
    let mut pollfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call. An error (EINTR) only
    // means the caller looks again sooner.
    unsafe { libc::poll(&mut pollfd, 1, timeout_ms) };
}

impl RingState {
    /// Takes `request` into a free slot (or the queue) and submits it, at once unless
    /// `defer` and the ring is busy. Returns whether the reaper task should be woken:
    /// to submit it (deferred), or because it went into an idle ring.
    fn submit(&mut self, request: Request, defer: bool) -> bool {
        if let Some(why) = &self.failed {
            request.finish(Err(io::Error::other(format!("io_uring failed: {why}"))));
            return false;
        }
        let busy = self.free.len() < self.slots.len();
        self.queued.push_back(request);
        self.push_queued();
        if defer && busy {
            return !mem::replace(&mut self.flush_wanted, true);
        }
        self.enter();
        !busy
    }

    /// Whether exactly one request is in flight and none waits.
    fn lone_in_flight(&self) -> bool {
        self.free.len() + 1 == self.slots.len() && self.queued.is_empty()
    }

    /// Whether no request is in flight or waiting.
    fn idle(&self) -> bool {
        self.free.len() == self.slots.len() && self.queued.is_empty()
    }

    /// Pushes queued requests into free slots.
    fn push_queued(&mut self) {
        while let Some(&slot) = self.free.last() {
            let Some(request) = self.queued.pop_front() else {
                break;
            };
            self.free.pop();
            self.unsubmitted |= self.push(slot, request);
        }
    }

    /// Pushes the entry of `request` in the free slot `slot`; false if the request
    /// was settled instead.
    fn push(&mut self, slot: usize, mut request: Request) -> bool {
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
        // buffer leaked (`fail_all`), so the buffer outlives the kernel's use of it, and
        // the descriptor stays open until the kernel has taken its own reference.
        if unsafe { self.ring.submission().push(&entry) }.is_err() {
            // Cannot happen: the queue has room for every slot.
            self.free.push(slot);
            request.finish(Err(io::Error::other("io_uring submission queue full")));
            return false;
        }
        self.slots[slot] = Some(request);
        true
    }

    /// Hands the pushed entries to the kernel without waiting for any.
    fn enter(&mut self) {
        while self.unsubmitted {
            match self.ring.submit() {
                Ok(_) => self.unsubmitted = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // EAGAIN: the kernel is short of memory; EBUSY: its completion queue
                // is full. The entries stay in the ring for the next submitter or
                // reap; the signal makes sure the reaper comes back to retry.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN)) => {
                    signal(self.completions);
                    return;
                }
                Err(e) => return self.fail_all(e),
            }
        }
    }

    /// Settles every completion in the queue, then submits what waited for a slot or
    /// was deferred.
    fn reap(&mut self) {
        let mut done = Vec::new();
        for cqe in self.ring.completion() {
            done.push((cqe.user_data() as usize, cqe_result(&cqe)));
        }
        for (slot, result) in done {
            let Some(request) = self.slots.get_mut(slot).and_then(Option::take) else {
                tracing::error!("io_uring completed an unknown request {slot}");
                continue;
            };
            self.free.push(slot);
            request.finish(result);
        }
        self.push_queued();
        self.enter();
    }

    /// After a ring error the engine cannot trust: fails everything queued and in
    /// flight, leaking the in-flight buffers (the kernel may still write to them).
    /// Later submissions fail at once.
    fn fail_all(&mut self, err: io::Error) {
        tracing::error!("io_uring stops on a ring error: {err}");
        let msg = format!("io_uring failed: {err}");
        for request in self.slots.iter_mut().filter_map(Option::take) {
            request.abandon(io::Error::other(msg.clone()));
        }
        for request in self.queued.drain(..) {
            request.finish(Err(io::Error::other(msg.clone())));
        }
        self.unsubmitted = false;
        self.failed = Some(err.to_string());
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

impl Drop for RingState {
    /// Whatever is still in the kernel's hands is leaked, not freed, since the device
    /// may still write into it. After the engine's own drop nothing is.
    fn drop(&mut self) {
        for request in self.slots.iter_mut().filter_map(Option::take) {
            request.abandon(io::Error::other(
                "the io_uring engine went away with the request in flight",
            ));
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
