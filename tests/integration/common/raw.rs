//! A minimal protocol client over a raw socket: for sending what no real
//! client would (garbage, bad lengths) and for comparing every message the
//! server sends, byte for byte.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub tag: u8,
    pub body: Vec<u8>,
}

impl Msg {
    /// Fields of an ErrorResponse or NoticeResponse by their code.
    pub fn fields(&self) -> BTreeMap<u8, String> {
        let mut fields = BTreeMap::new();
        for field in self.body.split(|&b| b == 0) {
            if let Some((&code, value)) = field.split_first() {
                fields.insert(code, String::from_utf8_lossy(value).into_owned());
            }
        }
        fields
    }

    pub fn sqlstate(&self) -> Option<String> {
        (self.tag == b'E')
            .then(|| self.fields().get(&b'C').cloned())
            .flatten()
    }
}

pub struct RawConn {
    pub stream: TcpStream,
    buf: BytesMut,
}

impl RawConn {
    pub async fn connect(addr: SocketAddr) -> RawConn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        RawConn {
            stream,
            buf: BytesMut::new(),
        }
    }

    /// Connects and logs in (trust authentication) as `user`.
    pub async fn login(addr: SocketAddr, user: &str, database: &str) -> RawConn {
        let mut conn = RawConn::connect(addr).await;
        conn.send(&startup(user, database)).await;
        let msgs = conn.until_ready().await;
        assert!(
            msgs.iter().any(|m| m.tag == b'R'),
            "no authentication in {msgs:?}"
        );
        conn
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("send");
    }

    /// Sends without failing when the peer already closed.
    pub async fn try_send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).await.is_ok()
    }

    /// Reads `n` raw bytes (e.g. the answer to SSLRequest).
    pub async fn read_bytes(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            let read = tokio::time::timeout(TIMEOUT, self.stream.read_buf(&mut self.buf))
                .await
                .expect("read timed out")
                .expect("read");
            assert!(read > 0, "connection closed");
        }
        self.buf.split_to(n).to_vec()
    }

    /// The next message, or `None` once the peer has closed.
    pub async fn recv(&mut self) -> Option<Msg> {
        loop {
            if self.buf.len() >= 5 {
                let len = i32::from_be_bytes(self.buf[1..5].try_into().unwrap()) as usize;
                if self.buf.len() > len {
                    let tag = self.buf.get_u8();
                    self.buf.advance(4);
                    let body = self.buf.split_to(len - 4).to_vec();
                    return Some(Msg { tag, body });
                }
            }
            let read = tokio::time::timeout(TIMEOUT, self.stream.read_buf(&mut self.buf))
                .await
                .expect("read timed out");
            match read {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Messages up to and including the next ReadyForQuery.
    pub async fn until_ready(&mut self) -> Vec<Msg> {
        let mut msgs = Vec::new();
        while let Some(msg) = self.recv().await {
            let done = msg.tag == b'Z';
            msgs.push(msg);
            if done {
                return msgs;
            }
        }
        panic!("connection closed before ReadyForQuery: {msgs:?}");
    }

    /// Every message until the peer closes the connection.
    pub async fn until_closed(&mut self) -> Vec<Msg> {
        let mut msgs = Vec::new();
        while let Some(msg) = self.recv().await {
            msgs.push(msg);
        }
        msgs
    }
}

pub fn startup(user: &str, database: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.put_i32(196_608);
    for (name, value) in [("user", user), ("database", database)] {
        body.extend_from_slice(name.as_bytes());
        body.push(0);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut packet = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    packet.extend(body);
    packet
}

pub fn message(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn cstr(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
    out.push(0);
}

pub fn query(sql: &str) -> Vec<u8> {
    let mut body = Vec::new();
    cstr(&mut body, sql);
    message(b'Q', &body)
}

/// Parse, Bind (no parameters), Describe portal, Execute, Sync.
pub fn extended(sql: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut parse = Vec::new();
    cstr(&mut parse, "");
    cstr(&mut parse, sql);
    parse.put_i16(0);
    out.extend(message(b'P', &parse));
    let mut bind = Vec::new();
    cstr(&mut bind, "");
    cstr(&mut bind, "");
    bind.put_i16(0);
    bind.put_i16(0);
    bind.put_i16(0);
    out.extend(message(b'B', &bind));
    out.extend(message(b'D', b"P\0"));
    let mut execute = Vec::new();
    cstr(&mut execute, "");
    execute.put_i32(0);
    out.extend(message(b'E', &execute));
    out.extend(message(b'S', b""));
    out
}

pub const TERMINATE: &[u8] = b"X\0\0\0\x04";

/// Parse of statement `name` (no parameter types given).
pub fn parse_named(name: &str, sql: &str) -> Vec<u8> {
    let mut body = Vec::new();
    cstr(&mut body, name);
    cstr(&mut body, sql);
    body.put_i16(0);
    message(b'P', &body)
}

/// Bind of statement `name` to the unnamed portal, with text parameters,
/// then Execute: the rows and the tag come back.
pub fn execute_named(name: &str, params: &[&str]) -> Vec<u8> {
    let mut bind = Vec::new();
    cstr(&mut bind, "");
    cstr(&mut bind, name);
    bind.put_i16(0);
    bind.put_i16(params.len() as i16);
    for p in params {
        bind.put_i32(p.len() as i32);
        bind.extend_from_slice(p.as_bytes());
    }
    bind.put_i16(0);
    let mut out = message(b'B', &bind);
    let mut execute = Vec::new();
    cstr(&mut execute, "");
    execute.put_i32(0);
    out.extend(message(b'E', &execute));
    out
}

pub const SYNC: &[u8] = b"S\0\0\0\x04";
