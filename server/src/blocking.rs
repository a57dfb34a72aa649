//! A client blocked by a blocking command (BLPOP and the rest; later BZPOPMIN):
//! its place in the keyspace's lines of waiters ([`tier_engine::keyspace::blocking`]),
//! its deadline, and what other connections see of it (CLIENT LIST's flag `b`,
//! CLIENT UNBLOCK, INFO's `blocked_clients` and `clients_in_timeout_table`).
//!
//! The handler that finds every key empty stores a [`Blocking`] in the client and
//! replies nothing. The connection then flushes the replies before it and waits
//! ([`wait`]) without holding anything: other connections go on. Woken, it runs the
//! command again, which either serves it (and drops the [`Blocking`], leaving the
//! lines) or keeps it in place. At the deadline, or unblocked by CLIENT UNBLOCK, it
//! answers the timeout's null array (or CLIENT UNBLOCK's error); a client that
//! disconnects or is killed meanwhile leaves the lines as it goes.
//!
//! The handlers' side, for every blocking family: [`take_wake`] first, the timeout
//! as Redis reads it ([`parse_timeout`]), and [`block_on`] where every key is empty; the connection then
//! [`wait`]s.

use crate::client::ClientHandle;
use crate::cmd::Ctx;
use crate::num::long_double;
use crate::shared::Shared;
use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tier_engine::keyspace::Waiting;
use tokio::time::Instant;

/// Why CLIENT UNBLOCK ended a wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unblock {
    /// As if the timeout expired.
    Timeout,
    /// With the error `-UNBLOCKED client unblocked via CLIENT UNBLOCK`.
    Error,
}

/// The error a client unblocked with CLIENT UNBLOCK ... ERROR receives.
pub const UNBLOCKED_ERROR: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// A client waiting for keys.
pub struct Blocking {
    waiting: Waiting,
    /// None: forever.
    deadline: Option<Instant>,
    handle: Arc<ClientHandle>,
    /// Counted in INFO's `clients_in_timeout_table` (a timeout was given).
    timed: Option<Arc<Shared>>,
}

impl Blocking {
    /// Starts waiting on `keys` of database `db`, for `timeout` (None: forever).
    pub fn new(
        shared: &Arc<Shared>,
        handle: &Arc<ClientHandle>,
        db: usize,
        keys: &[Bytes],
        timeout: Option<Duration>,
    ) -> Blocking {
        handle.blocked.store(true, Ordering::Release);
        if timeout.is_some() {
            shared
                .clients
                .in_timeout_table
                .fetch_add(1, Ordering::AcqRel);
        }
        Blocking {
            waiting: shared.keyspace.wait_for(db, keys),
            // A deadline past what a clock can say is none (Redis's overflows too).
            deadline: timeout.and_then(|t| Instant::now().checked_add(t)),
            handle: handle.clone(),
            timed: timeout.map(|_| shared.clone()),
        }
    }

    /// The same wait, back in line where it was, after a run that found nothing.
    fn rearmed(self) -> Blocking {
        self.waiting.rearm();
        self
    }
}

impl Drop for Blocking {
    fn drop(&mut self) {
        self.handle.blocked.store(false, Ordering::Release);
        self.handle.unblock.lock().take();
        if let Some(shared) = &self.timed {
            shared
                .clients
                .in_timeout_table
                .fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// How a wait ended (a kill or a disconnect ends the connection instead).
pub enum Woken {
    /// A key waited on was given a value: run the command again.
    Ready,
    /// The deadline passed.
    TimedOut,
    /// CLIENT UNBLOCK.
    Unblocked(Unblock),
}

/// Waits for `blocking` to be woken, its deadline, or CLIENT UNBLOCK.
pub async fn wait(blocking: &Blocking) -> Woken {
    let until = async {
        match blocking.deadline {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        reason = blocking.handle.unblocked() => Woken::Unblocked(reason),
        _ = blocking.waiting.woken() => Woken::Ready,
        _ = until => Woken::TimedOut,
    }
}

/// Redis 7.0's `getTimeoutFromObjectOrReply` in seconds: a float made milliseconds
/// and rounded up as C computes it in `long double`; a value beyond an i64 of
/// milliseconds (an infinity too) converts to i64::MIN there, so it is negative. None
/// for 0 (wait forever). Writes the error on failure.
pub fn parse_timeout(ctx: &mut Ctx<'_>, arg: &[u8]) -> Option<Option<Duration>> {
    let ms = match long_double::parse(arg) {
        Some(long_double::Float::Finite(n)) => n.times_ceil(1000).unwrap_or(i64::MIN),
        Some(long_double::Float::Infinite) => i64::MIN,
        None => {
            ctx.out.error("ERR timeout is not a float or out of range");
            return None;
        }
    };
    if ms < 0 {
        ctx.out.error("ERR timeout is negative");
        return None;
    }
    Some((ms > 0).then(|| Duration::from_millis(ms as u64)))
}

/// Where every key of a blocking command was empty: registers the client as waiting
/// on `keys` (see [`Blocking`]) and replies nothing yet, or keeps the registration of
/// the run that blocked first (its place in line and its deadline). Where the client
/// may not block (inside MULTI, the AOF loader), answers with `refused` at once.
pub fn block_on(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    timeout: Option<Duration>,
    held: Option<Blocking>,
    refused: fn(&mut Ctx<'_>),
) {
    if ctx.client.deny_blocking || ctx.client.replaying {
        return refused(ctx);
    }
    let blocking = match held {
        Some(b) => b,
        None => Blocking::new(ctx.shared, &ctx.client.handle, ctx.client.db, keys, timeout),
    };
    ctx.client.blocked = Some(blocking);
}

/// The wait of a client woken and running its command again, the wake taken (see
/// [`Blocking::rearmed`]); None on a first run. A blocking handler calls it first.
pub fn take_wake(ctx: &mut Ctx<'_>) -> Option<Blocking> {
    ctx.client.blocked.take().map(Blocking::rearmed)
}
