//! A client message decoded once, into the fields the proxy acts on.
//!
//! The session matches on `ClientMessage`; nothing past this module reads a
//! client message's bytes. A body that cannot be read is `Other`: the
//! proxy forwards it as it came and lets the server judge it.

use super::reader::Reader;
use super::{FrontendTag, ProtocolError, next_frontend_frame};

/// One complete client message: its type, its bytes as they came, and what
/// the proxy reads in it.
#[derive(Debug, PartialEq, Eq)]
pub struct ClientFrame<'a> {
    pub tag: FrontendTag,
    pub bytes: &'a [u8],
    pub message: ClientMessage<'a>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ClientMessage<'a> {
    Query {
        sql: &'a [u8],
    },
    Parse(ParseFields<'a>),
    Bind {
        portal: &'a [u8],
        statement: &'a [u8],
    },
    Execute {
        portal: &'a [u8],
    },
    Close(Target<'a>),
    /// Any other message, or one of the above that is malformed.
    Other,
}

/// A Parse message's statement name and SQL; the rest (parameter types)
/// is kept as it came, to build a Parse with other SQL.
#[derive(Debug, PartialEq, Eq)]
pub struct ParseFields<'a> {
    pub name: &'a [u8],
    pub sql: &'a [u8],
    pub rest: &'a [u8],
}

/// What a Close names.
#[derive(Debug, PartialEq, Eq)]
pub enum Target<'a> {
    Statement(&'a [u8]),
    Portal(&'a [u8]),
}

impl<'a> ClientFrame<'a> {
    /// Reads `bytes`, one whole message of type `tag`.
    pub fn decode(tag: FrontendTag, bytes: &'a [u8]) -> ClientFrame<'a> {
        let message = read(tag, bytes).unwrap_or(ClientMessage::Other);
        ClientFrame {
            tag,
            bytes,
            message,
        }
    }
}

fn read(tag: FrontendTag, bytes: &[u8]) -> Option<ClientMessage<'_>> {
    let mut r = Reader::body(bytes, &[bytes[0]])?;
    Some(match tag {
        FrontendTag::Query => ClientMessage::Query { sql: r.cstr()? },
        FrontendTag::Parse => ClientMessage::Parse(ParseFields {
            name: r.cstr()?,
            sql: r.cstr()?,
            rest: r.rest(),
        }),
        FrontendTag::Bind => ClientMessage::Bind {
            portal: r.cstr()?,
            statement: r.cstr()?,
        },
        FrontendTag::Execute => ClientMessage::Execute { portal: r.cstr()? },
        FrontendTag::Close => match r.byte()? {
            b'S' => ClientMessage::Close(Target::Statement(r.cstr()?)),
            b'P' => ClientMessage::Close(Target::Portal(r.cstr()?)),
            _ => return None,
        },
        _ => return None,
    })
}

/// The next complete client message at the front of `buf`, decoded: what
/// `next_frontend_frame` finds, and a password message after
/// authentication refused (the server refuses a query sent during
/// authentication itself).
pub fn next_client_frame(
    buf: &[u8],
    authenticated: bool,
) -> Result<Option<ClientFrame<'_>>, ProtocolError> {
    let Some((tag, len)) = next_frontend_frame(buf, authenticated)? else {
        return Ok(None);
    };
    if tag == FrontendTag::Password && authenticated {
        return Err(ProtocolError::UnexpectedMessage {
            tag: 'p',
            phase: "after authentication",
        });
    }
    Ok(Some(ClientFrame::decode(tag, &buf[..len])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::codec::{close_statement, encode, parse_with_sql, query};

    fn decoded(bytes: &[u8]) -> ClientMessage<'_> {
        next_client_frame(bytes, true).unwrap().unwrap().message
    }

    #[test]
    fn each_message_is_read_for_what_the_proxy_needs() {
        assert_eq!(
            decoded(&query("SELECT 1")),
            ClientMessage::Query { sql: b"SELECT 1" }
        );
        let parse = encode(b'P', b"s1\0DELETE FROM t WHERE id = $1\0\0\x01\0\0\0\x17");
        let ClientMessage::Parse(fields) = decoded(&parse) else {
            panic!("not a Parse");
        };
        assert_eq!(fields.name, b"s1");
        assert_eq!(fields.sql, b"DELETE FROM t WHERE id = $1");
        assert_eq!(
            parse_with_sql(&fields, "SELECT 1"),
            encode(b'P', b"s1\0SELECT 1\0\0\x01\0\0\0\x17"),
            "a Parse rebuilt with other SQL keeps its parameter types"
        );
        assert_eq!(
            decoded(&encode(b'B', b"p\0s\0\0\0\0\0\0\0")),
            ClientMessage::Bind {
                portal: b"p",
                statement: b"s"
            }
        );
        assert_eq!(
            decoded(&encode(b'E', b"p\0\0\0\0\0")),
            ClientMessage::Execute { portal: b"p" }
        );
        assert_eq!(
            decoded(&close_statement(b"s1")),
            ClientMessage::Close(Target::Statement(b"s1"))
        );
        assert_eq!(
            decoded(&encode(b'C', b"Pp\0")),
            ClientMessage::Close(Target::Portal(b"p"))
        );
        assert_eq!(decoded(&encode(b'S', b"")), ClientMessage::Other);
    }

    #[test]
    fn malformed_bodies_are_other_and_keep_their_bytes() {
        for bytes in [
            encode(b'Q', b"no terminator"),
            encode(b'P', b"s\0"),
            encode(b'B', b"p"),
            encode(b'E', b""),
            encode(b'C', b"Xname\0"),
            encode(b'C', b"S"),
        ] {
            let frame = next_client_frame(&bytes, true).unwrap().unwrap();
            assert_eq!(frame.message, ClientMessage::Other, "{bytes:?}");
            assert_eq!(frame.bytes, &bytes[..]);
            assert_eq!(FrontendTag::from_byte(bytes[0]), Some(frame.tag));
        }
    }

    #[test]
    fn one_message_at_a_time_and_more_is_waited_for() {
        let mut bytes = query("SELECT 1");
        let first = bytes.len();
        bytes.extend(encode(b'S', b""));
        let frame = next_client_frame(&bytes, true).unwrap().unwrap();
        assert_eq!(frame.bytes.len(), first);
        assert_eq!(next_client_frame(&bytes[..first - 1], true), Ok(None));
    }

    #[test]
    fn a_password_after_authentication_is_refused() {
        let password = encode(b'p', b"secret\0");
        assert!(next_client_frame(&password, false).unwrap().is_some());
        assert!(matches!(
            next_client_frame(&password, true),
            Err(ProtocolError::UnexpectedMessage { tag: 'p', .. })
        ));
    }
}
