//! One client connection: reads into a query buffer, parses every complete command in
//! it, runs them in order, and writes all their replies in one batch. Enforces the
//! per-connection limits (query buffer, bulk length, idle timeout) and closes only
//! this connection on a protocol error.

use crate::blocking::{self, Unblock, Woken};
use crate::client::Client;
use crate::config::{ClientClass, Config};
use crate::persist::stream::{self, Piece, SnapshotStream};
use crate::persist::Appended;
use crate::pubsub::Kind;
use crate::resp::{parse_command, Limits, Protocol, ReplyWriter};
use crate::session::Session;
use crate::shared::Shared;
use bytes::{Buf, BytesMut};
use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Replies are flushed mid-batch once this many bytes wait.
const FLUSH_AT: usize = 64 * 1024;
const READ_CHUNK: usize = 16 * 1024;

const PROTECTED_MODE_DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// What a connection's TCP socket tells of it, taken before the stream is wrapped (in
/// TLS): the addresses and the file descriptor CLIENT LIST shows.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub fd: RawFd,
}

impl Peer {
    /// Sets up an accepted socket as Redis does (no Nagle delay, `tcp-keepalive`)
    /// and describes it.
    pub fn prepare(stream: &TcpStream, addr: SocketAddr, config: &Config) -> Peer {
        let _ = stream.set_nodelay(true);
        if let Err(e) = set_keepalive(stream, config.tcp_keepalive) {
            tracing::debug!(%addr, "could not set TCP keepalive: {e}");
        }
        Peer {
            addr,
            laddr: stream.local_addr().unwrap_or(addr),
            fd: stream.as_raw_fd(),
        }
    }
}

/// Serves one accepted connection until the client leaves, is killed, or errs. The
/// stream is a plain TCP socket or a TLS session over one ([`crate::tls`]): every
/// limit applies to both alike.
pub async fn serve<S>(shared: Arc<Shared>, mut stream: S, peer: Peer)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = shared.config.load_full();
    let addr = peer.addr;
    if let Some(refusal) = admission_refusal(&shared, &config, addr) {
        // Best effort: the client is refused either way.
        if stream.write_all(refusal.as_bytes()).await.is_ok() {
            let _ = stream.flush().await;
        }
        return;
    }
    let default_user = shared.acl.default_user().clone();
    let handle = shared
        .clients
        .register(addr, peer.laddr, tier_engine::now_ms(), default_user);
    handle.fd.store(peer.fd, Ordering::Relaxed);
    // A shutdown that started before the registration did not see this client.
    if shared.is_shutting_down() {
        handle.kill();
    }
    let client = Client::new(
        handle.clone(),
        shared.acl.default_user().rules().needs_no_auth(),
    );
    tracing::debug!(id = handle.id, %addr, "client connected");
    let result = Connection {
        stream: &mut stream,
        input: BytesMut::with_capacity(READ_CHUNK),
        session: Session::new(&shared, client, ReplyWriter::new(Protocol::Resp2)),
        soft_over_since: None,
    }
    .run()
    .await;
    if let Err(reason) = result {
        tracing::debug!(id = handle.id, %addr, "closing client: {reason}");
    }
    shared.clients.unregister(handle.id);
}

/// `tcp-keepalive` as Redis's anetKeepAlive applies it: probes after `seconds` idle,
/// then every third of that, three times; 0 leaves keepalive off.
fn set_keepalive(stream: &TcpStream, seconds: u32) -> std::io::Result<()> {
    if seconds == 0 {
        return Ok(());
    }
    let idle = Duration::from_secs(u64::from(seconds));
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(idle)
        .with_interval((idle / 3).max(Duration::from_secs(1)))
        .with_retries(3);
    socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive)
}

/// Whether `maxclients` are connected, counting `pending` connections not registered
/// yet (TLS handshakes under way); counts the refusal for INFO.
pub(crate) fn maxclients_reached(shared: &Shared, config: &Config, pending: usize) -> bool {
    let full = shared.clients.count() + pending >= config.maxclients as usize;
    if full {
        shared.clients.rejected.fetch_add(1, Ordering::Relaxed);
    }
    full
}

/// Redis's checks at accept time: maxclients, then protected mode.
fn admission_refusal(shared: &Shared, config: &Config, addr: SocketAddr) -> Option<&'static str> {
    if maxclients_reached(shared, config, 0) {
        return Some("-ERR max number of clients reached\r\n");
    }
    if config.protected_mode
        && shared.acl.default_user().rules().nopass
        && !addr.ip().to_canonical().is_loopback()
    {
        shared.clients.rejected.fetch_add(1, Ordering::Relaxed);
        return Some(PROTECTED_MODE_DENIED);
    }
    None
}

struct Connection<'a, S> {
    stream: &'a mut S,
    input: BytesMut,
    session: Session<'a>,
    /// Since when the replies waiting are over the normal soft output limit.
    soft_over_since: Option<Instant>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<'_, S> {
    async fn run(mut self) -> Result<(), String> {
        let handle = self.session.client.handle.clone();
        loop {
            let config = self.session.shared.config.load_full();
            self.read(&config, &handle).await?;
            if self.input.len() as u64 > config.client_query_buffer_limit {
                tracing::warn!(
                    id = handle.id,
                    addr = %handle.addr,
                    "closing client that reached max query buffer length ({} bytes)",
                    self.input.len()
                );
                return Err("query buffer limit".into());
            }
            self.run_batch(&config).await?;
            // The last command's arguments share the read buffer; dropping them lets
            // the next read reuse it instead of allocating a new one.
            self.session.args.clear();
            self.flush().await?;
            if self.session.client.close_after_reply {
                return Ok(());
            }
            handle
                .query_buffer
                .store(self.input.len(), Ordering::Relaxed);
        }
    }

    /// Waits for bytes (or a kill, or the idle timeout) and appends them to the input.
    async fn read(
        &mut self,
        config: &Config,
        handle: &crate::client::ClientHandle,
    ) -> Result<(), String> {
        if self.input.capacity() - self.input.len() < READ_CHUNK / 4 {
            self.input.reserve(READ_CHUNK);
        }
        let idle = idle_limit(config);
        let read = async {
            within(idle, self.stream.read_buf(&mut self.input))
                .await?
                .map_err(|e| e.to_string())
        };
        // A subscriber also wakes for its messages (written out by the flush that
        // follows).
        let mailbox = self.session.client.pubsub.mailbox.clone();
        let messages = async {
            match &mailbox {
                Some(mailbox) => mailbox.ready().await,
                None => std::future::pending().await,
            }
        };
        let n = tokio::select! {
            biased;
            _ = handle.killed() => return Err("killed".into()),
            () = messages => return Ok(()),
            n = read => n?,
        };
        if n == 0 {
            return Err("client closed the connection".into());
        }
        self.session.shared.stats.net_input_bytes.add(n as u64);
        Ok(())
    }

    /// Runs every complete command in the input buffer.
    async fn run_batch(&mut self, config: &Config) -> Result<(), String> {
        loop {
            let limits = Limits {
                max_bulk_len: config.proto_max_bulk_len as usize,
                auth_required: !self.session.client.authenticated,
                ..Limits::default()
            };
            match parse_command(&mut self.input, &limits, &mut self.session.args) {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(e) => {
                    tracing::debug!(id = self.session.client.handle.id, "protocol error: {e}");
                    self.session.writer.error(e.message());
                    self.session.client.close_after_reply = true;
                    return Ok(());
                }
            }
            self.session.run_one(config).await;
            while self.session.client.blocked.is_some() {
                self.wait_blocked(config).await?;
            }
            if let Some(snapshot) = self.session.client.snapshot.take() {
                self.flush().await?;
                self.send_snapshot(snapshot).await?;
            }
            if let Some(pause) = self.session.client.pause.take() {
                tokio::time::sleep(pause).await;
            }
            if self.session.client.close_after_reply {
                return Ok(());
            }
            self.check_output_limit(config)?;
            if self.session.writer.out.len() >= FLUSH_AT {
                self.flush().await?;
            }
        }
    }

    /// The command blocked (see [`blocking`]): sends the replies before it, then
    /// waits, reading (and keeping) what the client sends meanwhile so a disconnect
    /// ends the wait, and sending a subscriber's messages as they come. Woken, runs the command again; at the deadline or on CLIENT
    /// UNBLOCK, answers for it.
    async fn wait_blocked(&mut self, config: &Config) -> Result<(), String> {
        self.flush().await?;
        let handle = self.session.client.handle.clone();
        // CLIENT LIST names the command a client is blocked in.
        *handle.last_command.lock() = self.session.client.last_command;
        let woken = loop {
            let Some(waiting) = self.session.client.blocked.as_ref() else {
                return Ok(());
            };
            // A subscriber (RESP3) still gets its messages while blocked.
            let mailbox = self.session.client.pubsub.mailbox.clone();
            let messages = async {
                match &mailbox {
                    Some(mailbox) => mailbox.ready().await,
                    None => std::future::pending().await,
                }
            };
            let woken = tokio::select! {
                biased;
                _ = handle.killed() => return Err("killed".into()),
                woken = blocking::wait(waiting) => Some(woken),
                () = messages => None,
                n = self.stream.read_buf(&mut self.input) => match n {
                    Ok(0) => return Err("client closed the connection while blocked".into()),
                    Ok(n) => {
                        self.session.shared.stats.net_input_bytes.add(n as u64);
                        if self.input.len() as u64 > config.client_query_buffer_limit {
                            return Err("query buffer limit while blocked".into());
                        }
                        continue;
                    }
                    Err(e) => return Err(e.to_string()),
                },
            };
            match woken {
                Some(woken) => break woken,
                None => self.flush().await?,
            }
        };
        match woken {
            Woken::Ready => self.session.run_one(config).await,
            Woken::TimedOut | Woken::Unblocked(Unblock::Timeout) => {
                self.session.client.blocked = None;
                self.session.writer.null_array();
            }
            Woken::Unblocked(Unblock::Error) => {
                self.session.client.blocked = None;
                self.session.writer.error(blocking::UNBLOCKED_ERROR);
            }
        }
        Ok(())
    }

    /// Sends a snapshot as it is written (see [`stream`]): each piece as it comes,
    /// so a slow client holds the writer back rather than filling memory. A failed
    /// snapshot ends with an error line where a piece would be, then the connection
    /// closes: the client cannot take the stream for a whole file.
    async fn send_snapshot(&mut self, mut snapshot: SnapshotStream) -> Result<(), String> {
        let handle = self.session.client.handle.clone();
        let stats = &self.session.shared.stats;
        let socket = &mut *self.stream;
        let send = async {
            socket.write_all(stream::STREAM_START).await?;
            loop {
                match snapshot.next().await {
                    Piece::Bytes(bytes) => {
                        let header = stream::piece_header(bytes.len());
                        let len = header.len() + bytes.len() + 2;
                        let mut frame =
                            Buf::chain(header.as_bytes(), &bytes[..]).chain(&b"\r\n"[..]);
                        socket.write_all_buf(&mut frame).await?;
                        stats.net_output_bytes.add(len as u64);
                    }
                    Piece::Done => {
                        socket.write_all(stream::STREAM_END).await?;
                        socket.flush().await?;
                        return Ok(None);
                    }
                    Piece::Failed(why) => {
                        let why = why.replace(['\r', '\n'], " ");
                        let line = format!("-ERR snapshot failed: {why}\r\n");
                        socket.write_all(line.as_bytes()).await?;
                        socket.flush().await?;
                        return Ok(Some(why));
                    }
                }
            }
        };
        let sent: std::io::Result<Option<String>> = tokio::select! {
            biased;
            _ = handle.killed() => return Err("killed".into()),
            sent = send => sent,
        };
        match sent {
            Ok(None) => Ok(()),
            Ok(Some(why)) => Err(format!("the snapshot failed: {why}")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// `client-output-buffer-limit normal`: a batch's replies that pass the hard
    /// limit, or the soft one for its seconds, close the connection. (A subscriber's
    /// messages are held to the pubsub class in its mailbox.)
    fn check_output_limit(&mut self, config: &Config) -> Result<(), String> {
        let limit = config.output_limit(ClientClass::Normal);
        let pending = self.session.writer.out.len() as u64;
        let soft_over = limit.soft > 0 && pending > limit.soft;
        if !soft_over {
            self.soft_over_since = None;
        }
        let since = *self.soft_over_since.get_or_insert_with(Instant::now);
        let over = (limit.hard > 0 && pending > limit.hard)
            || (soft_over && since.elapsed() >= Duration::from_secs(limit.soft_seconds));
        if over {
            let handle = &self.session.client.handle;
            tracing::warn!(
                id = handle.id,
                addr = %handle.addr,
                "Client scheduled to be closed ASAP for overcoming of output buffer limits."
            );
            return Err("output buffer limit".into());
        }
        Ok(())
    }

    /// Writes out the messages waiting for a subscriber, as its protocol shows them.
    fn take_messages(&mut self) {
        let Some(mailbox) = &self.session.client.pubsub.mailbox else {
            return;
        };
        let out = &mut self.session.writer;
        for message in mailbox.take() {
            match (message.kind, &message.pattern) {
                (Kind::Pattern, Some(pattern)) => {
                    out.push_len(4);
                    out.bulk(b"pmessage");
                    out.bulk(pattern);
                }
                (Kind::Shard, _) => {
                    out.push_len(3);
                    out.bulk(b"smessage");
                }
                _ => {
                    out.push_len(3);
                    out.bulk(b"message");
                }
            }
            out.bulk(&message.channel);
            out.bulk(&message.payload);
        }
    }

    /// Sends the replies waiting, once the AOF holds the writes they acknowledge as
    /// `appendfsync` promises, and a subscriber's messages. A write the AOF could not
    /// take is never acknowledged: the connection closes instead. A client that does
    /// not read is left behind once it is killed (CLIENT KILL, an output limit).
    async fn flush(&mut self) -> Result<(), String> {
        self.take_messages();
        match self.session.take_appended() {
            Appended::Nothing => {}
            Appended::Upto(lsn) => {
                if let Some(aof) = self.session.shared.persistence.aof() {
                    aof.writer
                        .acked(lsn)
                        .await
                        .map_err(|e| format!("not acknowledging a write the AOF failed: {e}"))?;
                }
            }
            Appended::Failed => return Err("not acknowledging a write the AOF failed".into()),
        }
        if self.session.writer.out.is_empty() {
            return Ok(());
        }
        *self.session.client.handle.last_command.lock() = self.session.client.last_command;
        let handle = self.session.client.handle.clone();
        let idle = idle_limit(&self.session.shared.config.load());
        tokio::select! {
            biased;
            _ = handle.killed() => return Err("killed".into()),
            written = write_out(&mut *self.stream, &self.session.writer.out, idle) => written?,
        }
        self.session
            .shared
            .stats
            .net_output_bytes
            .add(self.session.writer.out.len() as u64);
        self.session.writer.out.clear();
        Ok(())
    }
}

/// `timeout`: how long a client may go without sending a byte or taking one of its
/// replies, if at all.
fn idle_limit(config: &Config) -> Option<Duration> {
    (config.timeout > 0).then(|| Duration::from_secs(u64::from(config.timeout)))
}

/// Runs `io`, failing with "idle timeout" if it takes longer than `limit`.
async fn within<T>(limit: Option<Duration>, io: impl Future<Output = T>) -> Result<T, String> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, io)
            .await
            .map_err(|_| "idle timeout".to_string()),
        None => Ok(io.await),
    }
}

/// Writes `bytes` out (through a TLS session's buffer too). As Redis counts a client
/// that takes none of its replies for `idle` as idle, each write must make progress
/// within it.
async fn write_out<S: AsyncWrite + Unpin>(
    stream: &mut S,
    mut bytes: &[u8],
    idle: Option<Duration>,
) -> Result<(), String> {
    while !bytes.is_empty() {
        let n = within(idle, stream.write(bytes))
            .await?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the connection takes no more bytes".into());
        }
        bytes = &bytes[n..];
    }
    within(idle, stream.flush())
        .await?
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(config: Config, peer: &str) -> Option<&'static str> {
        let shared = Shared::new(config.clone(), Box::new(|_| {}));
        admission_refusal(&shared, &config, peer.parse().expect("address"))
    }

    /// Protected mode, as Redis: with no password, only loopback clients get in.
    /// (The integration tests talk to loopback only, so this is checked here.)
    #[test]
    fn protected_mode_admits_only_loopback_without_a_password() {
        let open = Config::default();
        assert_eq!(
            refusal(open.clone(), "192.0.2.7:5000"),
            Some(PROTECTED_MODE_DENIED)
        );
        assert_eq!(
            refusal(open.clone(), "[2001:db8::1]:5000"),
            Some(PROTECTED_MODE_DENIED)
        );
        assert_eq!(refusal(open.clone(), "127.0.0.1:5000"), None);
        assert_eq!(refusal(open.clone(), "[::1]:5000"), None);
        // An IPv4 loopback client on a dual-stack listener.
        assert_eq!(refusal(open, "[::ffff:127.0.0.1]:5000"), None);
        let with_password = Config {
            requirepass: Some(b"secret".to_vec()),
            ..Config::default()
        };
        assert_eq!(refusal(with_password, "192.0.2.7:5000"), None);
        let unprotected = Config {
            protected_mode: false,
            ..Config::default()
        };
        assert_eq!(refusal(unprotected, "192.0.2.7:5000"), None);
    }

    #[tokio::test]
    async fn keepalive_follows_the_config() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr"))
            .await
            .expect("connect");
        set_keepalive(&client, 300).expect("set");
        let sock = socket2::SockRef::from(&client);
        assert!(sock.keepalive().expect("SO_KEEPALIVE"));
        assert_eq!(
            sock.tcp_keepalive_time().expect("TCP_KEEPIDLE"),
            Duration::from_secs(300)
        );
        assert_eq!(
            sock.tcp_keepalive_interval().expect("TCP_KEEPINTVL"),
            Duration::from_secs(100)
        );
        assert_eq!(sock.tcp_keepalive_retries().expect("TCP_KEEPCNT"), 3);
        let (accepted, _) = listener.accept().await.expect("accept");
        set_keepalive(&accepted, 0).expect("off");
        assert!(!socket2::SockRef::from(&accepted)
            .keepalive()
            .expect("SO_KEEPALIVE"));
    }

    #[test]
    fn maxclients_refuses_with_redis_text() {
        let full = Config {
            maxclients: 0,
            ..Config::default()
        };
        assert_eq!(
            refusal(full, "127.0.0.1:5000"),
            Some("-ERR max number of clients reached\r\n")
        );
    }
}
