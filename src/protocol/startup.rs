//! The packets a client may send before the regular message stream starts.
//!
//! They have no tag byte: a 4-byte length, then a 4-byte code that is either
//! a protocol version (StartupMessage) or one of the special request codes.

use super::ProtocolError;
use super::reader::Reader;

/// Largest startup-phase packet accepted, as in PostgreSQL.
pub const MAX_STARTUP_LEN: usize = 10_000;

const CANCEL_REQUEST_CODE: i32 = 80_877_102;
/// A CancelRequest carries a process ID and a secret key of 4 bytes
/// (protocol 3.0) up to 256 bytes (3.2).
const MIN_CANCEL_LEN: usize = 12 + 4;
const MAX_CANCEL_LEN: usize = 12 + 256;
const SSL_REQUEST_CODE: i32 = pgwire::messages::startup::SslRequest::BODY_MAGIC_NUMBER;
const GSSENC_REQUEST_CODE: i32 = pgwire::messages::startup::GssEncRequest::BODY_MAGIC_NUMBER;

/// The SSLRequest packet, as the proxy sends it to a TLS upstream.
pub const SSL_REQUEST: [u8; 8] = {
    let code = SSL_REQUEST_CODE.to_be_bytes();
    [0, 0, 0, 8, code[0], code[1], code[2], code[3]]
};

/// A complete startup-phase packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartupPacket {
    SslRequest,
    GssEncRequest,
    /// Carries a backend's PID and secret key; forwarded unchanged.
    CancelRequest,
    Startup(StartupParams),
}

/// What the proxy reads from a StartupMessage (for logs); the packet itself
/// is forwarded byte for byte.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartupParams {
    pub major: u16,
    pub minor: u16,
    pub user: Option<String>,
    pub database: Option<String>,
    pub application_name: Option<String>,
}

/// Parses the startup-phase packet at the front of `buf`, returning it with
/// its length on the wire; `Ok(None)` while incomplete.
pub fn parse_startup(buf: &[u8]) -> Result<Option<(StartupPacket, usize)>, ProtocolError> {
    let Some(len_bytes) = buf.first_chunk::<4>() else {
        return Ok(None);
    };
    let len = i32::from_be_bytes(*len_bytes);
    if len < 8 || len as usize > MAX_STARTUP_LEN {
        return Err(ProtocolError::InvalidStartupLength {
            len: len.into(),
            max: MAX_STARTUP_LEN,
        });
    }
    let len = len as usize;
    let Some(packet) = buf.get(..len) else {
        return Ok(None);
    };
    let code = i32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
    let parsed = match code {
        SSL_REQUEST_CODE => fixed_size(packet, 8, StartupPacket::SslRequest)?,
        GSSENC_REQUEST_CODE => fixed_size(packet, 8, StartupPacket::GssEncRequest)?,
        CANCEL_REQUEST_CODE if (MIN_CANCEL_LEN..=MAX_CANCEL_LEN).contains(&len) => {
            StartupPacket::CancelRequest
        }
        CANCEL_REQUEST_CODE => {
            return Err(ProtocolError::InvalidStartupPacket(
                "cancel request of the wrong size",
            ));
        }
        _ => StartupPacket::Startup(parse_params(code, &packet[8..])?),
    };
    Ok(Some((parsed, len)))
}

/// A CancelRequest carrying a server's BackendKeyData (process ID and
/// secret key, as the server sent them).
pub fn cancel_request(backend_key: &[u8]) -> Vec<u8> {
    let mut packet = ((8 + backend_key.len()) as i32).to_be_bytes().to_vec();
    packet.extend_from_slice(&CANCEL_REQUEST_CODE.to_be_bytes());
    packet.extend_from_slice(backend_key);
    packet
}

fn fixed_size(
    packet: &[u8],
    expected: usize,
    parsed: StartupPacket,
) -> Result<StartupPacket, ProtocolError> {
    if packet.len() == expected {
        Ok(parsed)
    } else {
        Err(ProtocolError::InvalidStartupPacket(
            "request packet of the wrong size",
        ))
    }
}

fn parse_params(code: i32, body: &[u8]) -> Result<StartupParams, ProtocolError> {
    let (major, minor) = ((code >> 16) as u16, code as u16);
    if major != 3 {
        return Err(ProtocolError::UnsupportedProtocol { major, minor });
    }
    let mut params = StartupParams {
        major,
        minor,
        ..StartupParams::default()
    };
    const LAYOUT: ProtocolError =
        ProtocolError::InvalidStartupPacket("expected terminator as last byte");
    let mut r = Reader::new(body);
    loop {
        let name = r.cstr().ok_or(LAYOUT)?;
        if name.is_empty() {
            // The terminator: it must be the packet's last byte.
            if r.remaining() > 0 {
                return Err(LAYOUT);
            }
            break;
        }
        let value = String::from_utf8_lossy(r.cstr().ok_or(LAYOUT)?).into_owned();
        match name {
            b"user" => params.user = Some(value),
            b"database" => params.database = Some(value),
            b"application_name" => params.application_name = Some(value),
            _ => {}
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(code: i32, body: &[u8]) -> Vec<u8> {
        let mut v = (body.len() as i32 + 8).to_be_bytes().to_vec();
        v.extend_from_slice(&code.to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn startup_message_params_are_read() {
        let bytes = packet(
            196_608,
            b"user\0alice\0database\0shop\0application_name\0web\0\0",
        );
        let (parsed, len) = parse_startup(&bytes).unwrap().unwrap();
        assert_eq!(len, bytes.len());
        assert_eq!(
            parsed,
            StartupPacket::Startup(StartupParams {
                major: 3,
                minor: 0,
                user: Some("alice".into()),
                database: Some("shop".into()),
                application_name: Some("web".into()),
            })
        );
    }

    #[test]
    fn incomplete_packets_ask_for_more() {
        let bytes = packet(196_608, b"user\0alice\0\0");
        for cut in 0..bytes.len() {
            assert_eq!(parse_startup(&bytes[..cut]), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn special_requests_are_recognised() {
        assert_eq!(
            parse_startup(&packet(SSL_REQUEST_CODE, b"")).unwrap(),
            Some((StartupPacket::SslRequest, 8))
        );
        assert_eq!(
            parse_startup(&packet(GSSENC_REQUEST_CODE, b"")).unwrap(),
            Some((StartupPacket::GssEncRequest, 8))
        );
        assert_eq!(
            parse_startup(&packet(CANCEL_REQUEST_CODE, &[0; 8])).unwrap(),
            Some((StartupPacket::CancelRequest, 16))
        );
        // Protocol 3.2's longer keys.
        assert_eq!(
            parse_startup(&packet(CANCEL_REQUEST_CODE, &[0; 36])).unwrap(),
            Some((StartupPacket::CancelRequest, 44))
        );
    }

    #[test]
    fn malformed_packets_are_errors() {
        let cases: Vec<Vec<u8>> = vec![
            7i32.to_be_bytes().to_vec(),
            (-1i32).to_be_bytes().to_vec(),
            10_001i32.to_be_bytes().to_vec(),
            packet(SSL_REQUEST_CODE, b"x"),
            packet(CANCEL_REQUEST_CODE, &[0; 4]),
            packet(CANCEL_REQUEST_CODE, &[0; 261]),
            packet(196_608, b"user\0alice"),
            packet(196_608, b"user\0\0"),
            packet(196_608, b"user\0alice\0\0extra\0"),
            packet(2 << 16, b"user\0alice\0\0"),
            b"GET / HTTP/1.1\r\n".to_vec(),
        ];
        for bytes in cases {
            assert!(parse_startup(&bytes).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn cancel_request_round_trips() {
        let packet = cancel_request(&[0, 0, 0, 42, 1, 2, 3, 4]);
        assert_eq!(
            parse_startup(&packet),
            Ok(Some((StartupPacket::CancelRequest, 16)))
        );
    }

    #[test]
    fn minor_versions_of_protocol_3_pass_to_the_server() {
        let bytes = packet(196_610, b"user\0bob\0\0");
        let (parsed, _) = parse_startup(&bytes).unwrap().unwrap();
        assert!(matches!(parsed, StartupPacket::Startup(p) if p.minor == 2));
    }
}
