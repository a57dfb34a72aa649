//! Starts a real `tierd` on a free loopback port with a temporary data dir, and talks
//! to it: through the `redis` crate, and through a raw RESP connection for checking
//! replies byte for byte (error texts, RESP3 types).

use bytes::BytesMut;
use redis::Commands;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use tier_server::resp::{decode_frame, Frame, DEFAULT_MAX_DEPTH};

/// A running tierd, killed when dropped.
pub struct TestServer {
    child: Child,
    /// The plain RESP port; 0 if the server was started without one.
    pub port: u16,
    /// The TLS port; 0 if the server was started without one.
    pub tls_port: u16,
    /// The data dir, deleted when the server is dropped (unless taken back with
    /// [`TestServer::kill9`] to start another server on it).
    dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts tierd with default settings.
    pub fn start() -> TestServer {
        TestServer::start_with(&[])
    }

    /// Starts tierd with extra `--name value` flags.
    pub fn start_with(flags: &[&str]) -> TestServer {
        TestServer::start_in(tempfile::tempdir().expect("temp dir"), flags)
    }

    /// Starts tierd on the data dir `dir` (which another server may have left), and
    /// waits until it has loaded its data.
    pub fn start_in(dir: tempfile::TempDir, flags: &[&str]) -> TestServer {
        let server = TestServer::spawn_in(dir, flags);
        let password = flags
            .windows(2)
            .find(|pair| pair[0] == "--requirepass")
            .map(|pair| pair[1]);
        server.wait_loaded(password);
        server
    }

    /// Starts tierd with a TLS listener on a free port too (`flags` name the
    /// certificates), and a plain one unless `plain` is false (`--port 0`). With a
    /// plain port, waits until the data is loaded.
    pub fn start_tls(plain: bool, flags: &[&str]) -> TestServer {
        let listen = Listen { plain, tls: true };
        let server =
            TestServer::spawn_listening(tempfile::tempdir().expect("temp dir"), listen, flags);
        if plain {
            server.wait_loaded(None);
        }
        server
    }

    /// Starts tierd with the config file `conf` (written to its data dir) and a TLS
    /// listener only, on a free port in place of the file's `tls-port`, and returns
    /// once it listens.
    pub fn start_tls_config(conf: &str) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tier.conf");
        std::fs::write(&path, conf).expect("write the config file");
        let listen = Listen {
            plain: false,
            tls: true,
        };
        TestServer::spawn_listening_with(Some(&path), dir, listen, &[])
    }

    /// Starts tierd on `dir` and returns once it listens (it may still be loading).
    pub fn spawn_in(dir: tempfile::TempDir, flags: &[&str]) -> TestServer {
        let listen = Listen {
            plain: true,
            tls: false,
        };
        TestServer::spawn_listening(dir, listen, flags)
    }

    /// Starts tierd on `dir` with the listeners of `listen`, on free ports, and
    /// returns once it listens on each.
    fn spawn_listening(dir: tempfile::TempDir, listen: Listen, flags: &[&str]) -> TestServer {
        TestServer::spawn_listening_with(None, dir, listen, flags)
    }

    /// [`TestServer::spawn_listening`], reading the config file `conf` first if given
    /// (the flags override it).
    fn spawn_listening_with(
        conf: Option<&Path>,
        dir: tempfile::TempDir,
        listen: Listen,
        flags: &[&str],
    ) -> TestServer {
        for _attempt in 0..5 {
            let port = if listen.plain { free_port() } else { 0 };
            let tls_port = if listen.tls { free_port() } else { 0 };
            let mut child = Command::new(env!("CARGO_BIN_EXE_tierd"))
                .args(conf)
                .args([
                    "--port",
                    &port.to_string(),
                    "--tls-port",
                    &tls_port.to_string(),
                ])
                .args(["--bind", "127.0.0.1", "--loglevel", "warning"])
                .arg("--dir")
                .arg(dir.path())
                .args(flags)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn tierd");
            let ports = [port, tls_port].into_iter().filter(|&p| p != 0);
            if ports.into_iter().all(|p| wait_for_port(p, &mut child)) {
                return TestServer {
                    child,
                    port,
                    tls_port,
                    dir: Some(dir),
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("tierd did not start");
    }

    /// Waits until INFO says `loading:0` (authenticating first with `password`).
    pub fn wait_loaded(&self, password: Option<&str>) {
        let mut raw = self.raw();
        if let Some(password) = password.filter(|p| !p.is_empty()) {
            raw.cmd(&["AUTH", password]);
        }
        wait_until_loaded(&mut raw, Duration::from_secs(120));
        // Gone from the client list before the test counts clients: the server
        // unregisters a client before it closes the socket.
        raw.cmd(&["QUIT"]);
        assert!(raw.is_closed(), "QUIT closes the connection");
    }

    /// The data dir.
    pub fn dir(&self) -> &std::path::Path {
        self.dir
            .as_ref()
            .expect("the dir is there until kill9")
            .path()
    }

    /// Kills the server with SIGKILL (no shutdown, no final fsync) and gives back its
    /// data dir, for a restart on what it left.
    pub fn kill9(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.dir.take().expect("the dir is there until kill9")
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A synchronous `redis` crate connection.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .expect("connect with the redis crate")
    }

    /// A raw RESP connection.
    pub fn raw(&self) -> RawClient {
        RawClient::connect(self.port)
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.wait_exit(Duration::from_secs(10))
            .expect("tierd exits after SIGTERM")
    }

    /// Waits up to `limit` for the process to exit on its own.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// The listeners a test server opens.
#[derive(Clone, Copy)]
struct Listen {
    plain: bool,
    tls: bool,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP port free on loopback now (another process may take it before it is used).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// Waits until `child` itself listens on `port`. Another process may hold the port
/// (two tests can draw the same free port; the loser's server then fails to bind
/// and exits), so a successful connect is not enough: the listening socket must be
/// one of the child's file descriptors.
fn wait_for_port(port: u16, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if listens_on(child.id(), port) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Whether process `pid` holds a socket listening on TCP `port` (Linux /proc).
fn listens_on(pid: u32, port: u16) -> bool {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address is HEXIP:HEXPORT; state 0A is LISTEN; field 9 the inode.
            let local_port = fields.get(1).and_then(|a| a.rsplit(':').next());
            let listening = fields.get(3) == Some(&"0A");
            if listening && local_port.and_then(|p| u16::from_str_radix(p, 16).ok()) == Some(port) {
                if let Some(inode) = fields.get(9) {
                    inodes.push(format!("socket:[{inode}]"));
                }
            }
        }
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
    })
}

/// A blocking RESP connection that sends commands and returns each reply as a Frame:
/// over plain TCP, or over any other stream (a TLS session).
pub struct RawClient<S = TcpStream> {
    pub stream: S,
    buf: BytesMut,
}

impl RawClient {
    pub fn connect(port: u16) -> RawClient {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        RawClient::over(stream)
    }
}

impl<S: Read + Write> RawClient<S> {
    /// A RESP connection over `stream`, already connected.
    pub fn over(stream: S) -> RawClient<S> {
        RawClient {
            stream,
            buf: BytesMut::new(),
        }
    }

    /// Sends a command as a RESP array of bulk strings and reads one reply.
    pub fn cmd(&mut self, args: &[&str]) -> Frame {
        let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.cmd_bytes(&bytes)
    }

    pub fn cmd_bytes(&mut self, args: &[&[u8]]) -> Frame {
        self.send(&encode_command(args));
        self.read_frame()
            .expect("a reply before the connection closed")
    }

    /// Writes raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Writes raw bytes the server may refuse part way: it can answer the start with
    /// an error and close, so a write that finds the connection reset is no failure.
    pub fn send_until_closed(&mut self, bytes: &[u8]) {
        if let Err(e) = self.stream.write_all(bytes) {
            assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ),
                "write: {e}"
            );
        }
    }

    /// Reads one reply; None if the server closed the connection first.
    pub fn read_frame(&mut self) -> Option<Frame> {
        loop {
            match decode_frame(&self.buf, DEFAULT_MAX_DEPTH) {
                Ok(Some((frame, used))) => {
                    let _ = self.buf.split_to(used);
                    return Some(frame);
                }
                Ok(None) => {}
                Err(e) => panic!("undecodable reply: {e:?}"),
            }
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                // A TLS peer that closes without close_notify reads as UnexpectedEof.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
                    ) =>
                {
                    return None
                }
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// Whether the server closed the connection (reads EOF within the timeout).
    pub fn is_closed(&mut self) -> bool {
        self.read_frame().is_none()
    }
}

/// A command as RESP: an array of bulk strings.
pub fn encode_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Shorthands for expected replies.
pub fn ok() -> Frame {
    Frame::Simple("OK".into())
}

pub fn err(text: &str) -> Frame {
    Frame::Error(text.as_bytes().to_vec().into())
}

pub fn bulk(text: &str) -> Frame {
    Frame::Bulk(text.as_bytes().to_vec().into())
}

pub fn int(n: i64) -> Frame {
    Frame::Integer(n)
}

pub fn nil() -> Frame {
    Frame::Null
}

/// An array of bulk strings.
pub fn bulks(items: &[&str]) -> Frame {
    array(items.iter().map(|s| bulk(s)).collect())
}

pub fn array(items: Vec<Frame>) -> Frame {
    Frame::Array(items)
}

/// A real redis-server, the reference the differential tests compare tierd against.
/// `.ci/run` installs it (`apt-get install -y redis-server`).
pub struct ReferenceRedis {
    child: Child,
    pub port: u16,
}

impl ReferenceRedis {
    pub fn start() -> ReferenceRedis {
        ReferenceRedis::start_with(&[])
    }

    /// Starts redis-server with extra `--name value` flags.
    pub fn start_with(flags: &[&str]) -> ReferenceRedis {
        for _attempt in 0..5 {
            let port = free_port();
            let mut child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(flags)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server must be installed for the differential tests (apt-get install -y redis-server)");
            if wait_for_port(port, &mut child) {
                return ReferenceRedis { child, port };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("redis-server did not start");
    }

    pub fn raw(&self) -> RawClient {
        RawClient::connect(self.port)
    }
}

impl Drop for ReferenceRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `script` on tierd and on redis-server, each from a FLUSHALL, in RESP2 and
/// then in RESP3, and asserts that every reply is the same.
pub fn assert_script_matches_redis(tierd: &TestServer, redis: &ReferenceRedis, script: &[&[&str]]) {
    for resp3 in [false, true] {
        let (mut t, mut r) = (tierd.raw(), redis.raw());
        for raw in [&mut t, &mut r] {
            raw.cmd(&["FLUSHALL"]);
            if resp3 {
                raw.cmd(&["HELLO", "3"]);
            }
        }
        for cmd in script {
            assert_eq!(t.cmd(cmd), r.cmd(cmd), "{cmd:?} (RESP3: {resp3})");
        }
    }
}

/// The replies to `script` run twice from a FLUSHALL and `setup`: with its keys in
/// RAM, then with `demote`d keys sent to the cold tier before each command. Each reply
/// goes through `normalize` (for replies whose order is the server's own).
pub fn hot_and_cold_replies(
    raw: &mut RawClient,
    setup: &[&[&str]],
    demote: &[&str],
    script: &[&[&str]],
    normalize: impl Fn(&[&str], Frame) -> Frame,
) -> [Vec<Frame>; 2] {
    [false, true].map(|cold| {
        raw.cmd(&["FLUSHALL"]);
        for cmd in setup {
            raw.cmd(cmd);
        }
        let mut demote_cmd = vec!["DEBUG", "DEMOTE"];
        demote_cmd.extend_from_slice(demote);
        script
            .iter()
            .map(|cmd| {
                if cold {
                    raw.cmd(&demote_cmd);
                }
                normalize(cmd, raw.cmd(cmd))
            })
            .collect()
    })
}

/// INFO `hot_bytes`: the bytes of the values in RAM.
pub fn hot_bytes(raw: &mut RawClient) -> i64 {
    let text = info(raw, &["tiering"]);
    field(&text, "hot_bytes")
        .and_then(|v| v.parse().ok())
        .expect("hot_bytes")
}

/// Starts BGREWRITEAOF and waits (20 s at most) for it to end.
pub fn rewrite_aof(raw: &mut RawClient) {
    assert_eq!(
        raw.cmd(&["BGREWRITEAOF"]),
        Frame::Simple("Background append only file rewriting started".into())
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while field(&info(raw, &["persistence"]), "aof_rewrite_in_progress").as_deref() != Some("0") {
        assert!(std::time::Instant::now() < deadline, "rewrite never ends");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Waits until INFO over `raw` (a client allowed to run it) says `loading:0`, for at
/// most `limit`.
pub fn wait_until_loaded<S: Read + Write>(raw: &mut RawClient<S>, limit: Duration) {
    let deadline = Instant::now() + limit;
    while field(&info(raw, &["persistence"]), "loading").as_deref() != Some("0") {
        assert!(Instant::now() < deadline, "tierd is still loading");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// INFO's text, which must be a bulk string (RESP2).
pub fn info<S: Read + Write>(raw: &mut RawClient<S>, sections: &[&str]) -> String {
    let mut args = vec!["INFO"];
    args.extend_from_slice(sections);
    match raw.cmd(&args) {
        Frame::Bulk(text) => String::from_utf8(text.to_vec()).expect("INFO is text"),
        other => panic!("INFO replied {other:?}"),
    }
}

/// Resident set size of a process (`VmRSS` of /proc/PID/status), in bytes.
pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .expect("VmRSS")
}

/// The value of `name:` in INFO's text.
pub fn field(text: &str, name: &str) -> Option<String> {
    text.split("\r\n")
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .map(str::to_owned)
}

/// The numeric value of `name:` in INFO's text.
pub fn number(text: &str, name: &str) -> u64 {
    field(text, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no numeric {name} in {text}"))
}

/// The last increment of the AOF in `dir`.
pub fn last_incr(dir: &Path) -> PathBuf {
    let aof_dir = dir.join("appendonlydir");
    let manifest =
        std::fs::read_to_string(aof_dir.join("appendonly.aof.manifest")).expect("manifest");
    let name = manifest
        .lines()
        .rfind(|l| l.contains("type i"))
        .and_then(|l| l.split(' ').nth(1))
        .expect("an increment");
    aof_dir.join(name)
}

/// The longest a single command of the background traffic may take before the test
/// calls it a stall.
const STALL: Duration = Duration::from_secs(3);

/// A second client running SET/GET in a loop while a test abuses another connection.
pub struct SteadyTraffic {
    stop: Arc<AtomicBool>,
    /// Round trips done so far.
    done: Arc<AtomicUsize>,
    worker: JoinHandle<Vec<Duration>>,
}

impl SteadyTraffic {
    pub fn start(server: &TestServer) -> SteadyTraffic {
        let mut con = server.client();
        con.set_read_timeout(Some(STALL)).expect("read timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let done = Arc::new(AtomicUsize::new(0));
        let counted = done.clone();
        let worker = thread::spawn(move || {
            let mut round_trips = Vec::new();
            while !stopped.load(Ordering::Relaxed) {
                let ops = round_trips.len();
                let key = format!("steady:{}", ops % 100);
                let value = format!("v{ops}");
                let started = Instant::now();
                let () = con.set(&key, &value).expect("steady SET");
                let got: String = con.get(&key).expect("steady GET");
                round_trips.push(started.elapsed());
                counted.fetch_add(1, Ordering::Relaxed);
                assert_eq!(got, value);
            }
            round_trips
        });
        SteadyTraffic { stop, done, worker }
    }

    /// Stops the loop (once it has run at least once: a loaded machine may start
    /// the thread late), checks it ran without error or stall, and returns the time
    /// each SET + GET took, sorted.
    pub fn finish(self) -> Vec<Duration> {
        let deadline = Instant::now() + STALL;
        while self.done.load(Ordering::Relaxed) == 0
            && !self.worker.is_finished()
            && Instant::now() < deadline
        {
            thread::sleep(Duration::from_millis(5));
        }
        self.stop.store(true, Ordering::Relaxed);
        let mut round_trips = self.worker.join().expect("the steady client saw no error");
        round_trips.sort();
        let slowest = round_trips
            .last()
            .copied()
            .expect("the steady client ran no command");
        assert!(slowest < STALL, "the steady client stalled for {slowest:?}");
        round_trips
    }
}

/// Asserts the server still serves a new connection.
pub fn assert_answers_ping(server: &TestServer) {
    assert_eq!(server.raw().cmd(&["PING"]), Frame::Simple("PONG".into()));
}

/// The first code block fenced as `fence` (e.g. "```conf\n") after the line `heading`
/// of docs/SECURITY.md, for the tests that run its examples exactly.
pub fn security_doc_block(heading: &str, fence: &str) -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/SECURITY.md"))
        .expect("docs/SECURITY.md");
    doc.split(&format!("\n{heading}\n"))
        .nth(1)
        .and_then(|section| section.split(fence).nth(1))
        .and_then(|rest| rest.split("```").next())
        .unwrap_or_else(|| panic!("a {fence:?} block after {heading:?} in docs/SECURITY.md"))
        .to_owned()
}
