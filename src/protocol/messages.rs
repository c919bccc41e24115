//! The few messages the proxy writes itself, and the few it reads.

use bytes::{Bytes, BytesMut};
use pgwire::messages::Message;
use pgwire::messages::response::ErrorResponse;

/// ErrorResponse severities the proxy uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Ends the statement; the session goes on.
    Error,
    /// Ends the session.
    Fatal,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
        }
    }
}

/// The fields of an ErrorResponse the proxy sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorFields<'a> {
    pub severity: Severity,
    pub sqlstate: &'a str,
    pub message: &'a str,
    pub detail: Option<&'a str>,
    pub hint: Option<&'a str>,
}

/// Encodes an ErrorResponse. Messages are prefixed "softdel: " so that a
/// user can tell the proxy's errors from the server's.
pub fn error_response(fields: &ErrorFields<'_>) -> Bytes {
    let severity = fields.severity.as_str().to_owned();
    let mut out = vec![
        (b'S', severity.clone()),
        (b'V', severity),
        (b'C', fields.sqlstate.to_owned()),
        (b'M', format!("softdel: {}", fields.message)),
    ];
    if let Some(detail) = fields.detail {
        out.push((b'D', detail.to_owned()));
    }
    if let Some(hint) = fields.hint {
        out.push((b'H', hint.to_owned()));
    }
    let mut buf = BytesMut::new();
    // Encoding only fails for messages over i32::MAX bytes; these are tiny.
    if ErrorResponse::new(strip_nul(out)).encode(&mut buf).is_err() {
        buf.clear();
    }
    buf.freeze()
}

/// A NUL inside a field would end it early on the wire.
fn strip_nul(fields: Vec<(u8, String)>) -> Vec<(u8, String)> {
    fields
        .into_iter()
        .map(|(code, value)| (code, value.replace('\0', "")))
        .collect()
}

/// The transaction status carried by ReadyForQuery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionStatus {
    Idle,
    InTransaction,
    Failed,
}

impl TransactionStatus {
    /// Reads the status from a complete ReadyForQuery frame.
    pub fn from_ready_for_query(frame: &[u8]) -> Option<TransactionStatus> {
        match frame.get(5)? {
            b'I' => Some(TransactionStatus::Idle),
            b'T' => Some(TransactionStatus::InTransaction),
            b'E' => Some(TransactionStatus::Failed),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_response_carries_every_field() {
        let bytes = error_response(&ErrorFields {
            severity: Severity::Fatal,
            sqlstate: "08P01",
            message: "bad",
            detail: Some("d"),
            hint: Some("h"),
        });
        assert_eq!(bytes[0], b'E');
        let len = i32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
        assert_eq!(len + 1, bytes.len());
        let body = &bytes[5..];
        assert_eq!(
            body,
            b"SFATAL\0VFATAL\0C08P01\0Msoftdel: bad\0Dd\0Hh\0\0".as_slice()
        );
    }

    #[test]
    fn ready_for_query_status() {
        assert_eq!(
            TransactionStatus::from_ready_for_query(b"Z\0\0\0\x05T"),
            Some(TransactionStatus::InTransaction)
        );
        assert_eq!(
            TransactionStatus::from_ready_for_query(b"Z\0\0\0\x04"),
            None
        );
    }
}
