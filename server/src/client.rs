//! Connected clients: the per-connection state a command may change ([`Client`]) and
//! the registry behind CLIENT LIST / KILL / ID ([`Clients`], [`ClientHandle`]).

use crate::acl::User;
use crate::blocking::Unblock;
use crate::multi::{Queued, Watching};
use crate::pubsub::Subscriptions;
use crate::resp::Protocol;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
use std::sync::Arc;
use std::time::Instant;
use tier_engine::keyspace::WatchFlag;
use tokio::sync::Notify;

/// State owned by one connection's task.
pub struct Client {
    /// The selected database.
    pub db: usize,
    /// Whether the client may run commands that need authentication.
    pub authenticated: bool,
    /// Set by QUIT (and by protocol errors): close once the replies are written.
    pub close_after_reply: bool,
    /// The last command run, for CLIENT LIST's `cmd=`.
    pub last_command: &'static str,
    /// A pause the connection takes after the current command (DEBUG SLEEP).
    pub pause: Option<std::time::Duration>,
    /// Keeps the current command out of the slow log (AUTH and HELLO carry secrets).
    pub hide_from_slowlog: bool,
    /// The AOF loader's client: its commands run at time 0 (no key expires while the
    /// log is replayed) and while the node is loading.
    pub replaying: bool,
    /// A snapshot the connection sends as the current command's reply, after the
    /// replies before it (TIER SNAPSHOT).
    pub snapshot: Option<crate::persist::stream::SnapshotStream>,
    /// Since MULTI: the commands queued for EXEC.
    pub multi: Option<Queued>,
    /// The keys WATCHed.
    pub watching: Watching,
    /// Waiting for keys, after a blocking command found them empty (see
    /// [`crate::blocking`]).
    pub blocked: Option<crate::blocking::Blocking>,
    /// Blocking commands answer as if their timeout expired at once (while EXEC runs
    /// the transaction's commands).
    pub deny_blocking: bool,
    /// The channels and patterns subscribed to, and the mailbox of their messages.
    pub pubsub: Subscriptions,
    /// TIER TRACE ON: a reply to a command that read values from the cold tier is
    /// preceded by a RESP3 attribute saying how many (see [`crate::session`]).
    pub trace_cold: bool,
    /// The ACL user the client runs commands as (`default` until AUTH).
    pub user: Arc<User>,
    /// EXEC is running the queued commands (ACL denials then say so).
    pub in_exec: bool,
    /// A Lua script is running the commands (ACL denials then say so, as Redis).
    pub in_script: bool,
    /// What other connections can see and change of this client.
    pub handle: Arc<ClientHandle>,
}

/// The part of a client the registry shares with other connections.
pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    /// The socket's file descriptor, for CLIENT LIST's `fd=`; -1 until the connection
    /// records it.
    pub fd: AtomicI32,
    pub created: Instant,
    pub name: Mutex<Option<Vec<u8>>>,
    pub db: AtomicUsize,
    /// Unix ms of the last command.
    pub last_interaction: AtomicU64,
    pub resp: AtomicU8,
    pub no_evict: AtomicBool,
    /// The last command's name, for CLIENT LIST.
    pub last_command: Mutex<&'static str>,
    /// Bytes waiting in the query buffer, for CLIENT LIST's `qbuf=`.
    pub query_buffer: AtomicUsize,
    /// Commands queued since MULTI, or -1 outside one, for CLIENT LIST's `multi=`.
    pub multi: AtomicI64,
    /// Raised when a watched key changes (CLIENT LIST's flag `d`).
    pub watch_flag: WatchFlag,
    /// Waiting for keys (CLIENT LIST's flag `b`).
    pub blocked: AtomicBool,
    /// A CLIENT UNBLOCK for the wait under way.
    pub unblock: Mutex<Option<Unblock>>,
    unblock_notify: Notify,
    /// Channels, patterns and shard channels subscribed to, for CLIENT LIST's `sub=`,
    /// `psub=` and `ssub=`.
    pub subscribed: [AtomicUsize; 3],
    /// The ACL user (CLIENT LIST's `user=`; ACL DELUSER closes its clients).
    pub user: Mutex<Arc<User>>,
    killed: AtomicBool,
    kill: Notify,
}

impl ClientHandle {
    /// Asks the connection to close (CLIENT KILL, SHUTDOWN).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill.notify_one();
    }

    /// CLIENT UNBLOCK: ends the client's wait for keys with `reason`. Returns whether
    /// it was waiting.
    pub fn request_unblock(&self, reason: Unblock) -> bool {
        if !self.blocked.load(Ordering::Acquire) {
            return false;
        }
        *self.unblock.lock() = Some(reason);
        self.unblock_notify.notify_one();
        true
    }

    /// Resolves with the reason of a CLIENT UNBLOCK.
    pub async fn unblocked(&self) -> Unblock {
        loop {
            let notified = self.unblock_notify.notified();
            if let Some(reason) = self.unblock.lock().take() {
                return reason;
            }
            notified.await;
        }
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Resolves once [`ClientHandle::kill`] has been called.
    pub async fn killed(&self) {
        while !self.is_killed() {
            self.kill.notified().await;
        }
    }

    pub fn protocol(&self) -> Protocol {
        if self.resp.load(Ordering::Relaxed) == 3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        }
    }
}

/// All connected clients, by id.
#[derive(Default)]
pub struct Clients {
    next_id: AtomicU64,
    by_id: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    /// Connections accepted since start (INFO's total_connections_received).
    pub total_received: AtomicU64,
    /// Connections refused by maxclients (INFO's rejected_connections).
    pub rejected: AtomicU64,
    /// Clients blocked with a timeout (INFO's clients_in_timeout_table).
    pub in_timeout_table: AtomicUsize,
}

impl Clients {
    /// Registers a new connection, authenticated as `user` (or to be), and returns its
    /// handle.
    pub fn register(
        &self,
        addr: SocketAddr,
        laddr: SocketAddr,
        now_ms: u64,
        user: Arc<User>,
    ) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let handle = new_handle(id, addr, laddr, now_ms, user);
        self.by_id.lock().insert(id, handle.clone());
        self.total_received.fetch_add(1, Ordering::Relaxed);
        handle
    }

    /// A handle for a client of the server's own (the AOF loader's), which CLIENT
    /// LIST does not show and no connection counts.
    pub fn unlisted(user: Arc<User>) -> Arc<ClientHandle> {
        let nowhere = SocketAddr::from(([0, 0, 0, 0], 0));
        new_handle(0, nowhere, nowhere, tier_engine::now_ms(), user)
    }

    pub fn unregister(&self, id: u64) {
        self.by_id.lock().remove(&id);
    }

    pub fn count(&self) -> usize {
        self.by_id.lock().len()
    }

    /// A snapshot of every client, in id order.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.by_id.lock().values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.by_id.lock().get(&id).cloned()
    }
}

impl Client {
    /// A client of the user its handle names.
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Self {
        let user = handle.user.lock().clone();
        Client {
            user,
            in_exec: false,
            in_script: false,
            db: 0,
            authenticated,
            close_after_reply: false,
            last_command: "NULL",
            pause: None,
            hide_from_slowlog: false,
            replaying: false,
            snapshot: None,
            multi: None,
            blocked: None,
            deny_blocking: false,
            watching: Watching::new(handle.watch_flag.clone()),
            pubsub: Subscriptions::default(),
            trace_cold: false,
            handle,
        }
    }

    /// Runs as `user` from now on (AUTH, HELLO AUTH, RESET).
    pub fn set_user(&mut self, user: Arc<User>) {
        *self.handle.user.lock() = user.clone();
        self.user = user;
    }

    /// MULTI: starts queueing commands.
    pub fn begin_multi(&mut self) {
        self.multi = Some(Queued::default());
        self.handle.multi.store(0, Ordering::Relaxed);
    }

    /// Queues a command for EXEC (the client is in MULTI).
    pub fn queue(&mut self, args: Vec<bytes::Bytes>) {
        if let Some(multi) = &mut self.multi {
            multi.commands.push(args);
            self.handle
                .multi
                .store(multi.commands.len() as i64, Ordering::Relaxed);
        }
    }

    /// Ends MULTI (EXEC, DISCARD, RESET): returns what was queued, and forgets the
    /// watched keys.
    pub fn end_multi(&mut self) -> Option<Queued> {
        self.handle.multi.store(-1, Ordering::Relaxed);
        self.watching.unwatch_all();
        self.multi.take()
    }

    /// Shows the subscriptions' counts to other connections (CLIENT LIST).
    pub fn count_subscriptions(&self) {
        let lists = [
            &self.pubsub.channels,
            &self.pubsub.patterns,
            &self.pubsub.shard_channels,
        ];
        for (count, list) in self.handle.subscribed.iter().zip(lists) {
            count.store(list.len(), Ordering::Relaxed);
        }
    }

    /// Whether the client is in RESP2's subscribed mode, where only (un)subscribing,
    /// PING, QUIT and RESET may run.
    pub fn in_pubsub_mode(&self) -> bool {
        self.pubsub.any() && self.handle.protocol() == crate::resp::Protocol::Resp2
    }

    /// Selects database `db` (SELECT, RESET), as other connections see it too.
    pub fn set_db(&mut self, db: usize) {
        self.db = db;
        self.handle.db.store(db, Ordering::Relaxed);
    }

    /// RESET: back to a fresh connection's state (no transaction, no watched key, no
    /// subscription, database 0, RESP2, no name, no TIER TRACE), and
    /// unauthenticated unless `authenticated` (no password is set). The caller switches
    /// its reply writer back to RESP2.
    pub fn reset(&mut self, authenticated: bool) {
        self.end_multi();
        self.pubsub.clear();
        self.count_subscriptions();
        self.set_db(0);
        self.authenticated = authenticated;
        self.trace_cold = false;
        self.handle.resp.store(2, Ordering::Relaxed);
        *self.handle.name.lock() = None;
    }
}

fn new_handle(
    id: u64,
    addr: SocketAddr,
    laddr: SocketAddr,
    now_ms: u64,
    user: Arc<User>,
) -> Arc<ClientHandle> {
    Arc::new(ClientHandle {
        id,
        addr,
        laddr,
        fd: AtomicI32::new(-1),
        created: Instant::now(),
        name: Mutex::new(None),
        db: AtomicUsize::new(0),
        last_interaction: AtomicU64::new(now_ms),
        resp: AtomicU8::new(2),
        no_evict: AtomicBool::new(false),
        last_command: Mutex::new("NULL"),
        query_buffer: AtomicUsize::new(0),
        multi: AtomicI64::new(-1),
        watch_flag: WatchFlag::default(),
        blocked: AtomicBool::new(false),
        unblock: Mutex::new(None),
        unblock_notify: Notify::new(),
        subscribed: [
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        ],
        user: Mutex::new(user),
        killed: AtomicBool::new(false),
        kill: Notify::new(),
    })
}
