//! One tierbench connection: requests encoded as the AOF encodes commands
//! (`tier_engine::aof::encode_command`), replies decoded by the server's RESP decoder
//! (`tier_server::resp::decode_frame`), and the TIER TRACE mark taken off each reply.
//! The two halves can work apart (the open loop writes on schedule while another
//! task reads), and [`Conn::open`] sets a connection up: AUTH, HELLO 3, TIER TRACE ON.

use std::io;

use bytes::BytesMut;
use tier_engine::aof::encode_command;
use tier_server::resp::{decode_frame, Frame, DEFAULT_MAX_DEPTH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// Where the server is and how to log in.
#[derive(Clone, Debug)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub password: Option<String>,
}

impl Target {
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// A reply, and the values it read from tierd's cold tier by its TIER TRACE mark
/// (None: no mark).
#[derive(Debug)]
pub struct Reply {
    pub frame: Frame,
    pub cold: Option<i64>,
}

impl Reply {
    fn from_frame(frame: Frame) -> Reply {
        match frame {
            Frame::Attribute { attributes, value } => {
                let cold = attributes
                    .iter()
                    .find_map(|(name, count)| match (name, count) {
                        (Frame::Simple(name), Frame::Integer(n)) if &name[..] == b"cold" => {
                            Some(*n)
                        }
                        _ => None,
                    });
                Reply {
                    frame: *value,
                    cold,
                }
            }
            frame => Reply { frame, cold: None },
        }
    }

    /// The error text of an error reply.
    pub fn error(&self) -> Option<String> {
        match &self.frame {
            Frame::Error(text) | Frame::BlobError(text) => {
                Some(String::from_utf8_lossy(text).into_owned())
            }
            _ => None,
        }
    }
}

/// The sending half: requests are queued, then written together.
pub struct Sender {
    socket: OwnedWriteHalf,
    out: Vec<u8>,
}

impl Sender {
    /// Queues one command.
    pub fn queue<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        encode_command(args, &mut self.out);
    }

    /// Writes every queued command.
    pub async fn flush(&mut self) -> io::Result<()> {
        self.socket.write_all(&self.out).await?;
        self.out.clear();
        Ok(())
    }
}

/// The receiving half: replies in the order the requests were sent.
pub struct Receiver {
    socket: OwnedReadHalf,
    buf: BytesMut,
}

impl Receiver {
    /// The next reply.
    pub async fn reply(&mut self) -> io::Result<Reply> {
        loop {
            match decode_frame(&self.buf, DEFAULT_MAX_DEPTH) {
                Ok(Some((frame, used))) => {
                    let _ = self.buf.split_to(used);
                    return Ok(Reply::from_frame(frame));
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("the server's reply is not RESP: {e}"),
                    ))
                }
            }
            if self.buf.capacity() - self.buf.len() < 16 * 1024 {
                self.buf.reserve(64 * 1024);
            }
            if self.socket.read_buf(&mut self.buf).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ));
            }
        }
    }
}

/// A connection, set up.
pub struct Conn {
    pub sender: Sender,
    pub receiver: Receiver,
    /// TIER TRACE is on: every reply that read the cold tier is marked.
    pub traced: bool,
}

impl Conn {
    /// Connects, sends AUTH if a password is given, then (with `trace`) HELLO 3 and
    /// TIER TRACE ON. A server without RESP3 or without the TIER command (Redis) is
    /// no error: the connection is then not traced.
    pub async fn open(target: &Target, trace: bool) -> io::Result<Conn> {
        let socket = TcpStream::connect((target.host.as_str(), target.port)).await?;
        socket.set_nodelay(true)?;
        let (read, write) = socket.into_split();
        let mut conn = Conn {
            sender: Sender {
                socket: write,
                out: Vec::with_capacity(64 * 1024),
            },
            receiver: Receiver {
                socket: read,
                buf: BytesMut::with_capacity(64 * 1024),
            },
            traced: false,
        };
        if let Some(password) = &target.password {
            let reply = conn.call(&["AUTH", password]).await?;
            if let Some(e) = reply.error() {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("AUTH: {e}"),
                ));
            }
        }
        if trace && conn.call(&["HELLO", "3"]).await?.error().is_none() {
            conn.traced = conn.call(&["TIER", "TRACE", "ON"]).await?.error().is_none();
        }
        Ok(conn)
    }

    /// Sends one command and reads its reply.
    pub async fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Reply> {
        self.sender.queue(args);
        self.sender.flush().await?;
        self.receiver.reply().await
    }

    /// INFO's `name:value` fields (every section), read as text.
    pub async fn info(&mut self) -> io::Result<Info> {
        match self.call(&["INFO", "all"]).await?.frame {
            Frame::Bulk(text) | Frame::Verbatim { text, .. } => {
                Ok(Info(String::from_utf8_lossy(&text).into_owned()))
            }
            other => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("INFO replied {other:?}"),
            )),
        }
    }
}

/// The text of an INFO reply.
pub struct Info(String);

impl Info {
    /// The numeric field `name`, if there is one.
    pub fn number(&self, name: &str) -> Option<u64> {
        self.0
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|value| value.trim().parse().ok())
    }
}
