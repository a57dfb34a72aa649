//! [`IoFuture`]: the handle of one submitted I/O, completed from an engine's thread.
//! Await it from a task, or [`IoFuture::wait`] for it from a plain thread.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use parking_lot::Mutex;

/// The result of one I/O, delivered by the engine's thread when the device answers.
///
/// Dropping it does not cancel the I/O: the engine keeps the buffer until the kernel is
/// done with it, then discards the result. If the engine goes away before completing
/// the request, the future resolves to an error rather than hanging.
#[must_use = "an I/O's result is only seen by awaiting or waiting for its future"]
pub struct IoFuture<T> {
    inner: Inner<T>,
}

enum Inner<T> {
    /// Settled at submission (a request refused before it reached the engine).
    Ready(Option<io::Result<T>>),
    /// Waiting for the engine's thread.
    Pending(Arc<Slot<T>>),
    /// A result transformed on its way out (the fault injector's short reads).
    Mapped(Pin<Box<dyn Future<Output = io::Result<T>> + Send>>),
}

// `IoFuture` never pins anything in place: its result is moved out whole.
impl<T> Unpin for IoFuture<T> {}

struct Slot<T> {
    state: Mutex<SlotState<T>>,
}

struct SlotState<T> {
    result: Option<io::Result<T>>,
    waker: Option<Waker>,
}

/// The engine's end of an [`IoFuture`]: completing it wakes the waiter. Dropping it
/// without completing resolves the future to an error, so a lost request is reported,
/// never awaited forever.
pub(crate) struct Completer<T> {
    slot: Option<Arc<Slot<T>>>,
}

/// A connected [`Completer`] and [`IoFuture`].
pub(crate) fn channel<T>() -> (Completer<T>, IoFuture<T>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(SlotState {
            result: None,
            waker: None,
        }),
    });
    (
        Completer {
            slot: Some(Arc::clone(&slot)),
        },
        IoFuture {
            inner: Inner::Pending(slot),
        },
    )
}

impl<T> Completer<T> {
    pub(crate) fn complete(mut self, result: io::Result<T>) {
        self.settle(result);
    }

    fn settle(&mut self, result: io::Result<T>) {
        if let Some(slot) = self.slot.take() {
            let waker = {
                let mut state = slot.state.lock();
                state.result = Some(result);
                state.waker.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        self.settle(Err(io::Error::other(
            "the I/O engine stopped before completing the request",
        )));
    }
}

impl<T> IoFuture<T> {
    /// A future that is already settled.
    pub(crate) fn ready(result: io::Result<T>) -> IoFuture<T> {
        IoFuture {
            inner: Inner::Ready(Some(result)),
        }
    }

    /// Blocks the calling thread until the I/O completes. For threads outside an async
    /// runtime (tests, tools); a task must `.await` instead, or it stalls its worker.
    pub fn wait(mut self) -> io::Result<T> {
        let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(result) = Pin::new(&mut self).poll(&mut cx) {
                return result;
            }
            // A stray unpark only costs one more poll.
            thread::park();
        }
    }
}

impl<T: Send + 'static> IoFuture<T> {
    /// A future that applies `f` to this one's result.
    pub(crate) fn map<U>(
        self,
        f: impl FnOnce(io::Result<T>) -> io::Result<U> + Send + 'static,
    ) -> IoFuture<U> {
        IoFuture {
            inner: Inner::Mapped(Box::pin(async move { f(self.await) })),
        }
    }
}

impl<T> Future for IoFuture<T> {
    type Output = io::Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match &mut self.get_mut().inner {
            Inner::Ready(result) => Poll::Ready(
                result
                    .take()
                    .unwrap_or_else(|| Err(io::Error::other("IoFuture polled after completion"))),
            ),
            Inner::Pending(slot) => {
                let mut state = slot.state.lock();
                match state.result.take() {
                    Some(result) => Poll::Ready(result),
                    None => {
                        match &mut state.waker {
                            Some(w) if w.will_wake(cx.waker()) => {}
                            w => *w = Some(cx.waker().clone()),
                        }
                        Poll::Pending
                    }
                }
            }
            Inner::Mapped(fut) => fut.as_mut().poll(cx),
        }
    }
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_across_threads() {
        let (done, fut) = channel::<u32>();
        let t = thread::spawn(move || done.complete(Ok(7)));
        assert_eq!(fut.wait().expect("result"), 7);
        t.join().expect("join");
    }

    #[test]
    fn dropped_completer_is_an_error() {
        let (done, fut) = channel::<u32>();
        drop(done);
        assert!(fut.wait().is_err());
    }

    #[test]
    fn map_and_ready() {
        let fut = IoFuture::ready(Ok(2u32)).map(|r| r.map(|v| v * 3));
        assert_eq!(fut.wait().expect("result"), 6);
    }
}
