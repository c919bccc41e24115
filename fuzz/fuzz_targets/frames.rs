//! Arbitrary bytes through everything in `softdel::protocol`: the startup
//! packet parser, the frontend and backend frame decoders (a buffer is cut
//! into frames the way the relay cuts it), every codec field reader on
//! every frame, and the Pipeline model driven by the same bytes read as a
//! dialogue. Nothing may panic, and what the decoders return must be
//! consistent with the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softdel::protocol::{
    BackendTag, ClientFrame, ClientMessage, ErrorFields, FrontendTag, Header, MAX_STARTUP_LEN,
    Pipeline, Severity, StartupPacket, Target, TransactionStatus, cancel_request, codec,
    error_response, next_backend_frame, next_client_frame, next_frontend_frame, parse_startup,
};

fuzz_target!(|data: &[u8]| {
    startup(data);
    frontend_stream(data, true);
    frontend_stream(data, false);
    backend_stream(data);
    // The relay resumes after a startup packet: the stream from there.
    if let Ok(Some((_, len))) = parse_startup(data) {
        frontend_stream(&data[len..], false);
    }
    dialogue(data);
    error_message(data);
});

/// The length field of a header at the front of `buf`.
fn declared_len(buf: &[u8]) -> usize {
    i32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize
}

/// `Ok(None)` means "read more": the header is short or the body is.
fn assert_incomplete(buf: &[u8]) {
    if let Ok(Some(header)) = Header::parse(buf) {
        assert!(
            header.frame_len > buf.len(),
            "complete frame reported incomplete"
        );
    }
}

fn startup(data: &[u8]) {
    match parse_startup(data) {
        Ok(Some((packet, len))) => {
            assert!((8..=MAX_STARTUP_LEN).contains(&len) && len <= data.len());
            assert_eq!(
                i32::from_be_bytes(data[..4].try_into().unwrap()) as usize,
                len
            );
            // The same packet without what follows it, and one byte short.
            assert_eq!(parse_startup(&data[..len]), Ok(Some((packet.clone(), len))));
            assert_eq!(parse_startup(&data[..len - 1]), Ok(None));
            match packet {
                StartupPacket::CancelRequest => {
                    assert_eq!(cancel_request(&data[8..len]), &data[..len]);
                }
                StartupPacket::Startup(params) => assert_eq!(params.major, 3),
                StartupPacket::SslRequest | StartupPacket::GssEncRequest => assert_eq!(len, 8),
            }
        }
        Ok(None) => {
            if data.len() >= 4 {
                let len = i32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
                assert!(
                    len > data.len(),
                    "complete startup packet reported incomplete"
                );
            }
        }
        Err(e) => {
            assert_eq!(e.sqlstate(), "08P01");
            let _ = e.to_string();
        }
    }
}

fn frontend_stream(buf: &[u8], authenticated: bool) {
    let mut rest = buf;
    loop {
        match next_frontend_frame(rest, authenticated) {
            Ok(Some((tag, len))) => {
                assert!(len >= Header::LEN && len <= rest.len());
                assert_eq!(len, declared_len(rest) + 1);
                assert_eq!(FrontendTag::from_byte(rest[0]), Some(tag));
                // Cutting after the frame changes nothing; one byte less
                // asks for more.
                assert_eq!(
                    next_frontend_frame(&rest[..len], authenticated),
                    Ok(Some((tag, len)))
                );
                assert_eq!(
                    next_frontend_frame(&rest[..len - 1], authenticated),
                    Ok(None)
                );
                frontend_codecs(tag, &rest[..len], authenticated);
                rest = &rest[len..];
            }
            Ok(None) => {
                assert_incomplete(rest);
                break;
            }
            Err(e) => {
                assert_eq!(e.sqlstate(), "08P01");
                let _ = e.to_string();
                break;
            }
        }
    }
}

fn backend_stream(buf: &[u8]) {
    let mut rest = buf;
    loop {
        match next_backend_frame(rest) {
            Ok(Some((tag, len))) => {
                assert!(len >= Header::LEN && len <= rest.len());
                assert_eq!(len, declared_len(rest) + 1);
                assert_eq!(BackendTag::from_byte(rest[0]), tag);
                assert_eq!(next_backend_frame(&rest[..len]), Ok(Some((tag, len))));
                assert_eq!(next_backend_frame(&rest[..len - 1]), Ok(None));
                backend_codecs(&rest[..len]);
                rest = &rest[len..];
            }
            Ok(None) => {
                assert_incomplete(rest);
                break;
            }
            Err(e) => {
                let _ = e.to_string();
                break;
            }
        }
    }
}

/// A frame the codec wrote: one complete frame with `tag`, nothing after.
fn assert_one_frame(frame: &[u8], tag: u8) {
    assert_eq!(frame[0], tag);
    assert_eq!(
        next_backend_frame(frame),
        Ok(Some((BackendTag::from_byte(tag), frame.len())))
    );
}

/// A client frame decoded, and the messages the proxy writes in its place
/// rebuilt from what was read; every writer on every frame, whatever its
/// tag, and none may panic.
fn frontend_codecs(tag: FrontendTag, frame: &[u8], authenticated: bool) {
    assert_eq!(codec::encode(frame[0], &frame[5..]), frame);
    let decoded = ClientFrame::decode(tag, frame);
    assert_eq!((decoded.tag, decoded.bytes), (tag, frame));
    match next_client_frame(frame, authenticated) {
        Ok(Some(again)) => assert_eq!(again, decoded),
        Ok(None) => panic!("a whole frame reported incomplete"),
        Err(_) => assert!(tag == FrontendTag::Password && authenticated),
    }
    match &decoded.message {
        ClientMessage::Query { sql } => {
            assert_eq!(tag, FrontendTag::Query);
            assert!(!sql.contains(&0));
            if let Ok(text) = std::str::from_utf8(sql) {
                let rebuilt = codec::query(text);
                assert_one_frame(&rebuilt, b'Q');
                let again = ClientFrame::decode(FrontendTag::Query, &rebuilt);
                assert_eq!(again.message, ClientMessage::Query { sql });
            }
        }
        ClientMessage::Parse(fields) => {
            let replaced = codec::parse_with_sql(fields, "SELECT 1");
            assert_one_frame(&replaced, b'P');
            let ClientMessage::Parse(again) = ClientFrame::decode(tag, &replaced).message else {
                panic!("a Parse the codec wrote does not read back");
            };
            assert_eq!(
                (again.name, again.sql, again.rest),
                (fields.name, &b"SELECT 1"[..], fields.rest)
            );
        }
        ClientMessage::Bind { .. } => {
            if let Some(extended) = codec::bind_with_extra_columns(frame, 2) {
                assert_one_frame(&extended, b'B');
                // Two more result format codes, the names unchanged.
                assert_eq!(extended.len(), frame.len() + 4);
                let again = ClientFrame::decode(tag, &extended);
                assert_eq!(again.message, decoded.message);
            }
        }
        ClientMessage::Close(Target::Statement(name) | Target::Portal(name))
        | ClientMessage::Execute { portal: name } => assert!(!name.contains(&0)),
        ClientMessage::Other => {}
    }
    let _ = codec::bind_with_extra_columns(frame, 2);
}

fn backend_codecs(frame: &[u8]) {
    assert_eq!(codec::encode(frame[0], &frame[5..]), frame);
    let last = codec::last_field_name(frame);
    match codec::without_last_fields(frame, 1) {
        Some(fewer) => {
            assert_one_frame(&fewer, b'T');
            assert!(fewer.len() <= frame.len());
        }
        // Every field was read to find the last: all but the last can be.
        None => assert!(
            last.is_none(),
            "last field found, but not the ones before it"
        ),
    }
    let first = codec::first_column(frame);
    if let Some(fewer) = codec::without_last_columns(frame, 1) {
        assert_one_frame(&fewer, b'D');
        let count = i16::from_be_bytes([fewer[5], fewer[6]]);
        if count >= 1 {
            assert_eq!(codec::first_column(&fewer), first);
        }
    }
    if let Some(tag) = codec::command_tag(frame) {
        let rebuilt = codec::command_complete(tag);
        assert_one_frame(&rebuilt, b'C');
        assert_eq!(codec::command_tag(&rebuilt), Some(tag));
    }
    for code in [b'M', b'C', b'S', 0] {
        if let Some(value) = codec::error_field(frame, code) {
            assert!(code != 0 && !value.contains(&0));
        }
    }
    let _ = codec::parameter_status(frame);
    let _ = TransactionStatus::from_ready_for_query(frame);
}

const CLIENT: [FrontendTag; 14] = [
    FrontendTag::Bind,
    FrontendTag::Close,
    FrontendTag::CopyData,
    FrontendTag::CopyDone,
    FrontendTag::CopyFail,
    FrontendTag::Describe,
    FrontendTag::Execute,
    FrontendTag::Flush,
    FrontendTag::FunctionCall,
    FrontendTag::Parse,
    FrontendTag::Password,
    FrontendTag::Query,
    FrontendTag::Sync,
    FrontendTag::Terminate,
];

/// Server message types, the ones the model acts on first.
const SERVER: &[u8] = b"Z123CEGWHnTstIsDdcAKNRSV";

/// The bytes as a session: each one is a client message (high bit clear)
/// or a server message (set). The model must never call a session idle
/// while it is waiting for an answer.
fn dialogue(data: &[u8]) {
    // What a session attaches to its requests, by kind.
    let mut p = Pipeline::<u8>::default();
    let mut authenticated = false;
    for &b in data {
        if b & 0x80 == 0 {
            let tag = CLIENT[usize::from(b & 0x0f) % CLIENT.len()];
            match (tag, b & 0x30) {
                (FrontendTag::Execute, 0x10 | 0x20) => {
                    p.client_execute(Some(std::sync::Arc::new(b)))
                }
                // A statement prepared again ahead of a Bind.
                (FrontendTag::Bind, 0x30) => {
                    p.proxy_message(FrontendTag::Close);
                    p.proxy_message(FrontendTag::Parse);
                    p.client_message(tag);
                }
                _ => p.client_message(tag),
            }
        } else {
            let tag = SERVER[usize::from(b & 0x1f) % SERVER.len()];
            let status = b"ITE?"[usize::from(b >> 5 & 3)];
            let frame = match tag {
                b'Z' => vec![b'Z', 0, 0, 0, 5, status],
                other => vec![other, 0, 0, 0, 4],
            };
            p.server_message(BackendTag::from_byte(tag), &frame);
            authenticated |= tag == b'Z';
        }
        assert_eq!(p.authenticated(), authenticated, "authentication ends once");
        if p.idle() {
            assert!(!p.busy());
        }
        let _ = p.answering();
        let _ = p.take_injection_lost();
    }
}

/// The proxy's own ErrorResponse, whatever the text in it.
fn error_message(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (message, detail) = text.split_at(text.floor_char_boundary(text.len() / 2));
    let bytes = error_response(&ErrorFields {
        severity: Severity::Error,
        sqlstate: "SD001",
        message,
        detail: Some(detail),
        hint: None,
    });
    assert_one_frame(&bytes, b'E');
    let written = codec::error_field(&bytes, b'M').expect("a message field");
    assert_eq!(
        written,
        format!("softdel: {}", message.replace('\0', "")).as_bytes()
    );
    assert_eq!(codec::error_field(&bytes, b'C'), Some(&b"SD001"[..]));
}
