//! A real `tierd` for the tools' tests: built by cargo if needed (it is another
//! package's binary), started on a free loopback port on a data dir, killed when
//! dropped (and a `redis-server` the same way, for tierbench); and a raw RESP
//! connection to it.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tier_engine::aof::encode_command;

/// The `tierd` binary, next to `tierctl`. It belongs to another package, which
/// cargo builds only for that package's tests, so it is built here (a no-op when it
/// is up to date), in the same target dir and profile.
fn tierd() -> &'static Path {
    static TIERD: OnceLock<PathBuf> = OnceLock::new();
    TIERD.get_or_init(|| {
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_tierctl"))
            .parent()
            .expect("tierctl is in a directory");
        let profile = match bin_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev",
            Some(other) => other,
            None => panic!("no profile directory above tierctl"),
        };
        let target_dir = bin_dir.parent().expect("a target dir");
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "tier-server", "--bin", "tierd"])
            .args(["--profile", profile])
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build of tierd failed");
        bin_dir.join("tierd")
    })
}

/// A running tierd (or redis-server) on a free loopback port, killed when dropped.
pub struct Node {
    child: Child,
    pub port: u16,
}

impl Node {
    /// Starts tierd on `dir` with extra flags and waits until it has loaded its data.
    pub fn start(dir: &Path, flags: &[&str]) -> Node {
        Node::spawn(tierd(), dir, &[&["--loglevel", "warning"], flags].concat())
    }

    /// Starts `program` (tierd, or redis-server) on `dir` with extra flags.
    pub fn spawn(program: &Path, dir: &Path, flags: &[&str]) -> Node {
        for _attempt in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let child = Command::new(program)
                .args(["--bind", "127.0.0.1"])
                .args(["--port", &port.to_string()])
                .arg("--dir")
                .arg(dir)
                .args(flags)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
            let mut node = Node { child, port };
            if node.wait_ready(flags) {
                return node;
            }
        }
        panic!("{} did not start", program.display());
    }

    /// Waits until the node answers PING (not -LOADING); false if it exited (another
    /// process took the port).
    fn wait_ready(&mut self, flags: &[&str]) -> bool {
        let password = flags
            .windows(2)
            .find(|w| w[0] == "--requirepass")
            .map(|w| w[1]);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(mut raw) = Raw::connect(self.port) {
                if let Some(password) = password {
                    raw.send(&["AUTH", password]);
                    raw.line();
                }
                raw.send(&["PING"]);
                if raw.line() == "+PONG" {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("tierd is not ready after a minute");
    }

    pub fn client(&self, password: Option<&str>) -> redis::Connection {
        let auth = password.map_or(String::new(), |p| format!(":{p}@"));
        redis::Client::open(format!("redis://{auth}127.0.0.1:{}/", self.port))
            .and_then(|c| c.get_connection())
            .expect("connect")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw RESP connection.
pub struct Raw {
    pub input: BufReader<TcpStream>,
    output: TcpStream,
}

impl Raw {
    pub fn connect(port: u16) -> std::io::Result<Raw> {
        let output = TcpStream::connect(("127.0.0.1", port))?;
        output.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Raw {
            input: BufReader::new(output.try_clone()?),
            output,
        })
    }

    pub fn send(&mut self, args: &[&str]) {
        let mut request = Vec::new();
        encode_command(args, &mut request);
        self.output.write_all(&request).expect("send");
    }

    /// One reply line, without CRLF.
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        self.input.read_line(&mut line).expect("a reply line");
        line.trim_end_matches("\r\n").to_owned()
    }
}
