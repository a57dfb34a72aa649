//! TIER SNAPSHOT: a point-in-time snapshot file streamed to the client that asks,
//! with memory bounded whatever the dataset's size.
//!
//! The capture and the snapshot writer run on a thread of their own (as a BGSAVE:
//! they take the save job's slot, so INFO shows `rdb_bgsave_in_progress:1`, a BGSAVE
//! meanwhile is refused and a BGREWRITEAOF scheduled). The file's bytes go out in
//! pieces of at most [`PIECE_LEN`] through a channel of [`QUEUE`] pieces to the
//! connection, which writes them to its socket: a slow reader makes the writer thread
//! wait, never the runtime, and no more than about `QUEUE * PIECE_LEN` bytes wait in
//! memory.
//!
//! On the wire the reply is a RESP3 streamed string, in RESP2 and RESP3 alike:
//! [`STREAM_START`], then each piece framed by [`piece_header`] and CRLF, then
//! [`STREAM_END`]. If the snapshot fails after the start, an error line (`-ERR ...`)
//! comes where the next piece's header would, and the server closes the connection.
//! `docs/COMMANDS.md` ("TIER SNAPSHOT") documents it.

use super::jobs::{spawn_job, JobKind, Refused};
use crate::shared::Shared;
use bytes::{Bytes, BytesMut};
use std::io::{self, Write};
use std::sync::Arc;
use tier_engine::snapshot::save;
use tokio::sync::mpsc;

/// The most bytes of one piece.
pub const PIECE_LEN: usize = 64 * 1024;
/// Pieces the writer thread may be ahead of the socket.
const QUEUE: usize = 16;

/// The reply's first line: a streamed string of unknown length.
pub const STREAM_START: &[u8] = b"$?\r\n";
/// The reply's last line: a piece of length 0.
pub const STREAM_END: &[u8] = b";0\r\n";

/// The line before a piece of `len` bytes (then the bytes, then CRLF).
pub fn piece_header(len: usize) -> String {
    format!(";{len}\r\n")
}

/// What the writer thread sends the connection.
#[derive(Debug)]
pub enum Piece {
    /// The next bytes of the file.
    Bytes(Bytes),
    /// The file is complete.
    Done,
    /// The snapshot failed: why.
    Failed(String),
}

/// A snapshot being written, piece by piece, for one connection to send.
pub struct SnapshotStream {
    rx: mpsc::Receiver<Piece>,
}

impl SnapshotStream {
    /// The next piece. A writer thread that ended without saying so (it could not
    /// start, or panicked) is a failure.
    pub async fn next(&mut self) -> Piece {
        self.rx
            .recv()
            .await
            .unwrap_or_else(|| Piece::Failed("the snapshot thread ended unexpectedly".to_owned()))
    }
}

/// Starts a snapshot of the keyspace as it is now, written on a thread of its own
/// into the returned stream. Refused while a save or a rewrite runs.
pub fn stream_snapshot(shared: &Arc<Shared>) -> Result<SnapshotStream, Refused> {
    shared.persistence.claim_save()?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let shared = shared.clone();
    spawn_job("tier-snapshot", move || {
        let mut out = ChannelWriter {
            tx,
            buf: BytesMut::new(),
        };
        let result = save(&shared.keyspace, shared.tier.get(), &mut out, || {})
            .map_err(|e| e.to_string())
            .and_then(|_| out.flush().map_err(|e| e.to_string()));
        shared.persistence.end_job(JobKind::Save, result.is_ok());
        let last = match result {
            Ok(()) => Piece::Done,
            Err(e) => {
                tracing::warn!("TIER SNAPSHOT failed: {e}");
                Piece::Failed(e)
            }
        };
        // The connection may be gone; there is no one else to tell.
        let _ = out.tx.blocking_send(last);
    });
    Ok(SnapshotStream { rx })
}

/// The file's bytes cut into pieces and sent to the connection, waiting while its
/// queue is full. Fails once the connection stopped listening.
struct ChannelWriter {
    tx: mpsc::Sender<Piece>,
    buf: BytesMut,
}

impl ChannelWriter {
    fn send_buffered(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = Piece::Bytes(self.buf.split().freeze());
        self.tx.blocking_send(piece).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the client stopped reading the snapshot",
            )
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.buf.len() == PIECE_LEN {
            self.send_buffered()?;
        }
        let n = bytes.len().min(PIECE_LEN - self.buf.len());
        self.buf.extend_from_slice(&bytes[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buffered()
    }
}
