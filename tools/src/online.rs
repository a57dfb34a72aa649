//! `tierctl snapshot -o FILE [-h HOST] [-p PORT] [-a PASSWORD] [--user USER]`: an
//! online snapshot of a running tierd, streamed into one file: connects, sends AUTH
//! if asked, then TIER SNAPSHOT, and writes the streamed reply (see [`crate::stream`])
//! to `FILE.tmp` as it comes, which is fsynced, verified and renamed to FILE.

use std::io::{self, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;

use indicatif::ProgressBar;
use tier_engine::aof::encode_command;
use tier_engine::snapshot::SnapshotSummary;

use crate::error::Failure;
use crate::files::write_snapshot;
use crate::progress;
use crate::stream::{read_status, SnapshotStream};

/// Where the node is, and how to authenticate.
pub struct Node {
    pub host: String,
    pub port: u16,
    /// `AUTH` with this password (and `user`, if given) first.
    pub password: Option<String>,
    pub user: Option<String>,
}

/// Takes a snapshot of `node` into the file `out`; returns what it holds.
pub fn snapshot(node: &Node, out: &Path) -> Result<SnapshotSummary, Failure> {
    let address = format!("{}:{}", node.host, node.port);
    let failed = |e: &dyn std::fmt::Display| Failure::Io(format!("{address}: {e}"));
    let socket = TcpStream::connect((node.host.as_str(), node.port)).map_err(|e| failed(&e))?;
    let mut input =
        BufReader::with_capacity(256 * 1024, socket.try_clone().map_err(|e| failed(&e))?);
    let mut output = socket;
    if let Some(password) = &node.password {
        let mut auth: Vec<&[u8]> = vec![b"AUTH"];
        auth.extend(node.user.as_deref().map(str::as_bytes));
        auth.push(password.as_bytes());
        send(&mut output, &auth).map_err(|e| failed(&e))?;
        read_status(&mut input).map_err(|e| failed(&format!("AUTH: {e}")))?;
    }
    send(&mut output, &[b"TIER", b"SNAPSHOT"]).map_err(|e| failed(&e))?;
    write_snapshot(out, |file| {
        let mut stream = SnapshotStream::start(&mut input).map_err(|e| failed(&e))?;
        let bar = progress::bar(None, &format!("{address} -> {}", out.display()));
        let copied = copy(&mut stream, file, &bar);
        bar.finish_and_clear();
        copied.map_err(|e| match e {
            Side::Read(e) => failed(&e),
            Side::Write(e) => Failure::io(out, e),
        })
    })
}

/// Which side of a copy failed.
enum Side {
    Read(io::Error),
    Write(io::Error),
}

/// Copies `input` to its end into `out`, counting on `bar`.
fn copy(input: &mut impl Read, out: &mut impl Write, bar: &ProgressBar) -> Result<(), Side> {
    let mut buf = vec![0; 256 * 1024];
    loop {
        let n = input.read(&mut buf).map_err(Side::Read)?;
        if n == 0 {
            return Ok(());
        }
        out.write_all(&buf[..n]).map_err(Side::Write)?;
        bar.inc(n as u64);
    }
}

/// Sends one command.
fn send(output: &mut TcpStream, args: &[&[u8]]) -> io::Result<()> {
    let mut request = Vec::new();
    encode_command(args, &mut request);
    output.write_all(&request)
}
