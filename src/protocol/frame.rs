//! Splitting a byte stream into messages by their 5-byte headers.
//!
//! Every regular message is a one-byte tag followed by a big-endian `i32`
//! length that counts itself but not the tag. The length is checked as soon
//! as the header is in, before anything is allocated for the body.

use super::ProtocolError;

/// Largest message accepted from either side: 1 GiB, the same bound
/// PostgreSQL puts on a single message.
pub const MAX_MESSAGE_LEN: usize = 1 << 30;

/// The header of the message at the front of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The message type byte.
    pub tag: u8,
    /// Length of the whole message on the wire, tag and length included.
    pub frame_len: usize,
}

impl Header {
    pub const LEN: usize = 5;

    /// Reads the header at the front of `buf`: `Ok(None)` while fewer than
    /// five bytes are there, an error when the length is impossible.
    pub fn parse(buf: &[u8]) -> Result<Option<Header>, ProtocolError> {
        let Some(head) = buf.first_chunk::<5>() else {
            return Ok(None);
        };
        let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]);
        if len < 4 || len as usize > MAX_MESSAGE_LEN {
            return Err(ProtocolError::InvalidLength {
                len: len.into(),
                max: MAX_MESSAGE_LEN,
            });
        }
        Ok(Some(Header {
            tag: head[0],
            frame_len: len as usize + 1,
        }))
    }
}

/// The messages a client may send once the startup packet is through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontendTag {
    Bind,
    Close,
    CopyData,
    CopyDone,
    CopyFail,
    Describe,
    Execute,
    Flush,
    FunctionCall,
    Parse,
    /// PasswordMessage, SASLInitialResponse, SASLResponse, GSSResponse.
    Password,
    Query,
    Sync,
    Terminate,
}

impl FrontendTag {
    pub fn from_byte(tag: u8) -> Option<FrontendTag> {
        use FrontendTag::*;
        Some(match tag {
            b'B' => Bind,
            b'C' => Close,
            b'd' => CopyData,
            b'c' => CopyDone,
            b'f' => CopyFail,
            b'D' => Describe,
            b'E' => Execute,
            b'H' => Flush,
            b'F' => FunctionCall,
            b'P' => Parse,
            b'p' => Password,
            b'Q' => Query,
            b'S' => Sync,
            b'X' => Terminate,
            _ => return None,
        })
    }
}

/// The messages a server sends once the startup packet is through, by
/// their type byte. A byte PostgreSQL does not send is `Other`: the proxy
/// forwards what it does not know and lets the client judge it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendTag {
    /// Every AuthenticationXxx request.
    Authentication,
    BackendKeyData,
    BindComplete,
    CloseComplete,
    CommandComplete,
    CopyBothResponse,
    CopyData,
    CopyDone,
    CopyInResponse,
    CopyOutResponse,
    DataRow,
    EmptyQueryResponse,
    ErrorResponse,
    FunctionCallResponse,
    NegotiateProtocolVersion,
    NoData,
    NoticeResponse,
    NotificationResponse,
    ParameterDescription,
    ParameterStatus,
    ParseComplete,
    PortalSuspended,
    ReadyForQuery,
    RowDescription,
    Other(u8),
}

impl BackendTag {
    pub fn from_byte(tag: u8) -> BackendTag {
        use BackendTag::*;
        match tag {
            b'R' => Authentication,
            b'K' => BackendKeyData,
            b'2' => BindComplete,
            b'3' => CloseComplete,
            b'C' => CommandComplete,
            b'W' => CopyBothResponse,
            b'd' => CopyData,
            b'c' => CopyDone,
            b'G' => CopyInResponse,
            b'H' => CopyOutResponse,
            b'D' => DataRow,
            b'I' => EmptyQueryResponse,
            b'E' => ErrorResponse,
            b'V' => FunctionCallResponse,
            b'v' => NegotiateProtocolVersion,
            b'n' => NoData,
            b'N' => NoticeResponse,
            b'A' => NotificationResponse,
            b't' => ParameterDescription,
            b'S' => ParameterStatus,
            b'1' => ParseComplete,
            b's' => PortalSuspended,
            b'Z' => ReadyForQuery,
            b'T' => RowDescription,
            other => Other(other),
        }
    }
}

/// Largest message before authentication ends: PostgreSQL's limit on an
/// authentication token (`PG_MAX_AUTH_TOKEN_LENGTH`).
pub const MAX_AUTH_MESSAGE_LEN: usize = 65_535;
/// Largest message of the types that carry no data, as in PostgreSQL
/// (`PQ_SMALL_MESSAGE_LIMIT`).
pub const MAX_SMALL_MESSAGE_LEN: usize = 10_000;

impl FrontendTag {
    /// The largest this message may be, tag byte and length included.
    fn max_frame_len(self, authenticated: bool) -> usize {
        if !authenticated {
            return MAX_AUTH_MESSAGE_LEN;
        }
        match self {
            FrontendTag::Query
            | FrontendTag::Parse
            | FrontendTag::Bind
            | FrontendTag::FunctionCall
            | FrontendTag::CopyData => MAX_MESSAGE_LEN + 1,
            _ => MAX_SMALL_MESSAGE_LEN,
        }
    }
}

/// The next complete client message in `buf`, if there is one.
///
/// Unknown message types and lengths over the type's limit are refused at
/// the header, before the body is waited for: garbage is answered at once,
/// and no client can make the proxy buffer a body it will refuse.
pub fn next_frontend_frame(
    buf: &[u8],
    authenticated: bool,
) -> Result<Option<(FrontendTag, usize)>, ProtocolError> {
    let Some(header) = Header::parse(buf)? else {
        return Ok(None);
    };
    let tag = FrontendTag::from_byte(header.tag)
        .ok_or(ProtocolError::UnknownMessageType { tag: header.tag })?;
    let max = tag.max_frame_len(authenticated);
    if header.frame_len > max {
        return Err(ProtocolError::MessageTooLong {
            tag: header.tag as char,
            len: header.frame_len,
            max,
            phase: if authenticated {
                "for its type"
            } else {
                "during authentication"
            },
        });
    }
    Ok((buf.len() >= header.frame_len).then_some((tag, header.frame_len)))
}

/// The next complete server message in `buf`, if there is one.
pub fn next_backend_frame(buf: &[u8]) -> Result<Option<(BackendTag, usize)>, ProtocolError> {
    let Some(header) = Header::parse(buf)? else {
        return Ok(None);
    };
    let tag = BackendTag::from_byte(header.tag);
    Ok((buf.len() >= header.frame_len).then_some((tag, header.frame_len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        v.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn short_header_asks_for_more() {
        assert_eq!(Header::parse(b"Q\0\0").unwrap(), None);
        assert_eq!(next_frontend_frame(b"", true).unwrap(), None);
    }

    #[test]
    fn complete_message_is_found_at_every_split() {
        let bytes = msg(b'Q', b"select 1\0");
        for cut in 0..bytes.len() {
            assert_eq!(
                next_frontend_frame(&bytes[..cut], true),
                Ok(None),
                "cut at {cut}"
            );
        }
        assert_eq!(
            next_frontend_frame(&bytes, true).unwrap(),
            Some((FrontendTag::Query, bytes.len()))
        );
    }

    #[test]
    fn two_messages_in_one_buffer_split_by_header() {
        let mut bytes = msg(b'P', b"\0select 1\0\0\0");
        let first = bytes.len();
        bytes.extend(msg(b'S', b""));
        let (tag, len) = next_frontend_frame(&bytes, true).unwrap().unwrap();
        assert_eq!((tag, len), (FrontendTag::Parse, first));
        let (tag, len) = next_frontend_frame(&bytes[first..], true).unwrap().unwrap();
        assert_eq!((tag, len), (FrontendTag::Sync, 5));
    }

    #[test]
    fn impossible_lengths_are_errors_before_the_body() {
        for len in [i32::MIN, -1, 0, 3, (MAX_MESSAGE_LEN + 1) as i32, i32::MAX] {
            let mut head = vec![b'Q'];
            head.extend_from_slice(&len.to_be_bytes());
            assert!(
                matches!(
                    next_frontend_frame(&head, true),
                    Err(ProtocolError::InvalidLength { .. })
                ),
                "length {len}"
            );
        }
    }

    #[test]
    fn the_largest_allowed_length_waits_for_its_body() {
        let mut head = vec![b'd'];
        head.extend_from_slice(&(MAX_MESSAGE_LEN as i32).to_be_bytes());
        assert_eq!(next_frontend_frame(&head, true).unwrap(), None);
    }

    #[test]
    fn per_type_and_per_phase_limits_apply_at_the_header() {
        let header = |tag: u8, len: i32| {
            let mut h = vec![tag];
            h.extend_from_slice(&len.to_be_bytes());
            h
        };
        // A 64 MiB query is fine after authentication, not before.
        assert_eq!(next_frontend_frame(&header(b'Q', 64 << 20), true), Ok(None));
        assert!(matches!(
            next_frontend_frame(&header(b'Q', 64 << 20), false),
            Err(ProtocolError::MessageTooLong { .. })
        ));
        // A password message at PostgreSQL's token limit is waited for.
        assert_eq!(next_frontend_frame(&header(b'p', 65_530), false), Ok(None));
        // Sync carries no data: 10,000 bytes at most.
        assert!(matches!(
            next_frontend_frame(&header(b'S', 10_000), true),
            Err(ProtocolError::MessageTooLong { .. })
        ));
    }

    #[test]
    fn unknown_frontend_tag_is_refused_at_the_header() {
        let bytes = msg(b'!', b"");
        assert_eq!(
            next_frontend_frame(&bytes, true),
            Err(ProtocolError::UnknownMessageType { tag: b'!' })
        );
    }

    #[test]
    fn backend_frames_keep_unknown_tags() {
        let bytes = msg(b'Z', b"I");
        assert_eq!(
            next_backend_frame(&bytes).unwrap(),
            Some((BackendTag::ReadyForQuery, 6))
        );
        let bytes = msg(b'D', b"\0\0");
        assert_eq!(
            next_backend_frame(&bytes).unwrap(),
            Some((BackendTag::DataRow, 7))
        );
        let bytes = msg(b'!', b"");
        assert_eq!(
            next_backend_frame(&bytes).unwrap(),
            Some((BackendTag::Other(b'!'), 5))
        );
    }
}
