//! [`AofLog`]: the AOF as the keyspace's changes reach it: commands run on numbered
//! databases, appended with a SELECT in front whenever the database changes (and at
//! the start of every increment), as Redis writes its AOF.

use parking_lot::Mutex;

use super::{encode_command, AofError, AofFs, AofStatus, AofWriter, Lsn};

/// An open AOF: its writer, and the database the stream last selected.
pub struct AofLog<F: AofFs> {
    pub writer: AofWriter<F>,
    /// The stream's end as appends see it, taken by each append in turn.
    stream: Mutex<Stream>,
}

/// What [`AofLog::append`] keeps between appends.
struct Stream {
    /// The database the last command ran on (None: the next append starts with a
    /// SELECT, as at the start of every increment).
    selected: Option<usize>,
    /// The encoding buffer, reused.
    bytes: Vec<u8>,
}

/// A buffer grown past this by a large value is not kept for the next append.
const KEPT_BUFFER: usize = 64 * 1024;

impl<F: AofFs> AofLog<F> {
    pub fn new(writer: AofWriter<F>) -> AofLog<F> {
        AofLog {
            writer,
            stream: Mutex::new(Stream {
                selected: None,
                bytes: Vec::new(),
            }),
        }
    }

    /// Makes the next append start with a SELECT: a new increment begins.
    pub fn forget_selected(&self) {
        self.stream.lock().selected = None;
    }

    /// Appends `args`, run on database `db`, after a SELECT if the stream is on
    /// another database; returns the append's position.
    pub fn append(&self, db: usize, args: &[&[u8]]) -> Result<Lsn, AofError> {
        let mut stream = self.stream.lock();
        let Stream { selected, bytes } = &mut *stream;
        bytes.clear();
        if *selected != Some(db) {
            encode_command(
                &[
                    b"SELECT".as_slice(),
                    itoa::Buffer::new().format(db).as_bytes(),
                ],
                bytes,
            );
        }
        encode_command(args, bytes);
        let lsn = self.writer.append(bytes)?;
        *selected = Some(db);
        if bytes.capacity() > KEPT_BUFFER {
            *bytes = Vec::new();
        }
        Ok(lsn)
    }

    pub fn status(&self) -> AofStatus {
        self.writer.status()
    }
}
