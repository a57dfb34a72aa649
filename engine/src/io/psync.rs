//! [`PsyncIoEngine`]: pread/pwrite/fdatasync on a small pool of threads, for kernels
//! or sandboxes where io_uring is unavailable. Each thread has one request in flight,
//! so the thread count is the queue depth.

use std::io;
use std::os::unix::fs::FileExt;
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};

use parking_lot::Mutex;

use super::{dispatch, AlignedBuf, DirectFile, IoEngine, IoFuture, Op, Request};

/// The largest thread count accepted.
const MAX_THREADS: usize = 1024;

/// Positional I/O on a pool of threads named `tier-psync-N`. Dropping it stops the
/// threads after every request already submitted has completed.
pub struct PsyncIoEngine {
    /// `None` only while dropping: closing the channel tells the threads to finish.
    tx: Option<mpsc::Sender<Request>>,
    threads: Vec<JoinHandle<()>>,
}

impl PsyncIoEngine {
    /// Starts `threads` worker threads (1..=1024).
    pub fn new(threads: usize) -> io::Result<PsyncIoEngine> {
        if threads == 0 || threads > MAX_THREADS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("psync thread count {threads} is not in 1..={MAX_THREADS}"),
            ));
        }
        let (tx, rx) = mpsc::channel();
        let rx = Arc::new(Mutex::new(rx));
        // Built first so that, if a spawn fails, dropping it stops the threads started.
        let mut engine = PsyncIoEngine {
            tx: Some(tx),
            threads: Vec::with_capacity(threads),
        };
        for i in 0..threads {
            let rx = Arc::clone(&rx);
            let thread = thread::Builder::new()
                .name(format!("tier-psync-{i}"))
                .spawn(move || worker(&rx))?;
            engine.threads.push(thread);
        }
        Ok(engine)
    }

    fn submit(&self, request: Request) {
        if let Some(tx) = &self.tx {
            // The workers outlive the sender, so a send cannot fail; if it somehow did,
            // dropping the request would settle its future with an error.
            let _ = tx.send(request);
        }
    }
}

impl IoEngine for PsyncIoEngine {
    submit_through_queue!();

    fn name(&self) -> &'static str {
        "psync"
    }
}

impl Drop for PsyncIoEngine {
    fn drop(&mut self) {
        drop(self.tx.take());
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                tracing::error!("a psync I/O thread panicked");
            }
        }
    }
}

/// Runs requests until the channel is closed and empty.
fn worker(rx: &Mutex<mpsc::Receiver<Request>>) {
    loop {
        let next = rx.lock().recv();
        match next {
            Ok(request) => execute(request),
            Err(mpsc::RecvError) => return,
        }
    }
}

/// One system call per request, as io_uring does: a read returns what one pread gave.
fn execute(mut request: Request) {
    let file = request.file.file();
    let offset = request.offset;
    let result = retry_interrupted(|| match &mut request.op {
        Op::Read { buf, .. } => file.read_at(buf, offset),
        Op::Write { buf, .. } => file.write_at(buf, offset),
        Op::Fsync { .. } => file.sync_data().map(|()| 0),
    });
    request.finish(result);
}

fn retry_interrupted(mut op: impl FnMut() -> io::Result<usize>) -> io::Result<usize> {
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}
