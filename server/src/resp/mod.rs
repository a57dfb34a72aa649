//! RESP, the Redis wire protocol: the request parser each connection runs on its input
//! buffer ([`parse_command`]), the reply writer command handlers fill ([`ReplyWriter`],
//! RESP2 or RESP3), and a general RESP2/RESP3 value type with a full decoder
//! ([`Frame`], [`decode_frame`]) for tools, tests and fuzzing.

mod decode;
mod encode;
mod frame;

pub use decode::{parse_command, Limits, ProtocolError};
pub use encode::{double_text, Protocol, ReplyWriter};
pub use frame::{decode_frame, Frame, FrameError, DEFAULT_MAX_DEPTH};
