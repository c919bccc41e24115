use thiserror::Error;

/// Bytes that can never become a valid protocol message.
///
/// Every variant ends the connection it came from, and only that one: the
/// client is sent an ErrorResponse with SQLSTATE 08P01 (protocol violation).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("invalid message length {len} (must be between 4 and {max})")]
    InvalidLength { len: i64, max: usize },
    #[error("invalid startup packet length {len} (must be between 8 and {max})")]
    InvalidStartupLength { len: i64, max: usize },
    #[error("message type {tag:?} of {len} bytes is over the limit of {max} {phase}")]
    MessageTooLong {
        tag: char,
        len: usize,
        max: usize,
        phase: &'static str,
    },
    #[error("invalid frontend message type {tag}")]
    UnknownMessageType { tag: u8 },
    #[error("unexpected message type {tag:?} {phase}")]
    UnexpectedMessage { tag: char, phase: &'static str },
    #[error("invalid startup packet layout: {0}")]
    InvalidStartupPacket(&'static str),
    #[error("unsupported frontend protocol {major}.{minor}: softdel supports 3.x")]
    UnsupportedProtocol { major: u16, minor: u16 },
}

impl ProtocolError {
    /// The SQLSTATE a client is sent for this error.
    pub fn sqlstate(&self) -> &'static str {
        "08P01"
    }
}
