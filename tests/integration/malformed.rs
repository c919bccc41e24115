//! Malformed input from a raw socket ends that connection with 08P01 and
//! nothing else: other sessions keep working, the process never panics.

use tokio::io::AsyncWriteExt;

use crate::common::raw::{self, Msg, RawConn};
use crate::common::{SCRAM_USER, TestProxy};

/// The connection gets one FATAL 08P01 ErrorResponse and is closed.
async fn assert_rejected(conn: &mut RawConn, what: &str) -> Msg {
    let msgs = conn.until_closed().await;
    assert_eq!(msgs.len(), 1, "{what}: {msgs:?}");
    let fields = msgs[0].fields();
    assert_eq!(msgs[0].tag, b'E', "{what}");
    assert_eq!(fields[&b'S'], "FATAL", "{what}");
    assert_eq!(fields[&b'C'], "08P01", "{what}: {fields:?}");
    msgs[0].clone()
}

#[tokio::test]
async fn garbage_instead_of_a_startup_packet() {
    let proxy = TestProxy::start().await;
    let bystander = proxy.connect().await;

    let mut conn = RawConn::connect(proxy.addr).await;
    conn.send(b"GET / HTTP/1.1\r\nHost: softdel\r\n\r\n").await;
    let msg = assert_rejected(&mut conn, "http").await;
    assert!(msg.fields()[&b'M'].contains("invalid startup packet length"));

    // A startup packet over 10,000 bytes is refused from its header.
    let mut conn = RawConn::connect(proxy.addr).await;
    conn.send(&20_000i32.to_be_bytes()).await;
    assert_rejected(&mut conn, "oversized startup").await;

    // A startup packet with a broken layout.
    let mut conn = RawConn::connect(proxy.addr).await;
    let mut packet = raw::startup("postgres", "postgres");
    packet.pop();
    packet.push(b'x');
    conn.send(&packet).await;
    assert_rejected(&mut conn, "layout").await;

    // An unsupported protocol version.
    let mut conn = RawConn::connect(proxy.addr).await;
    conn.send(&[0, 0, 0, 9, 0, 2, 0, 0, 0]).await;
    assert_rejected(&mut conn, "protocol 2").await;

    bystander
        .simple_query("SELECT 1")
        .await
        .expect("bystander unaffected");
}

#[tokio::test]
async fn bad_messages_after_login() {
    let proxy = TestProxy::start().await;
    let bystander = proxy.connect().await;
    let cases: [(&str, Vec<u8>); 5] = [
        ("length below 4", vec![b'Q', 0, 0, 0, 1]),
        ("negative length", vec![b'Q', 0xff, 0xff, 0xff, 0xff]),
        ("over 1 GiB", {
            let mut m = vec![b'd'];
            m.extend_from_slice(&((1i32 << 30) + 1).to_be_bytes());
            m
        }),
        ("unknown type", raw::message(b'!', b"")),
        ("password after login", raw::message(b'p', b"secret\0")),
    ];
    for (what, bytes) in cases {
        let mut conn = RawConn::login(proxy.addr, "postgres", "postgres").await;
        conn.send(&bytes).await;
        assert_rejected(&mut conn, what).await;
    }
    bystander
        .simple_query("SELECT 1")
        .await
        .expect("bystander unaffected");
}

#[tokio::test]
async fn messages_during_authentication_are_the_servers_to_judge() {
    let proxy = TestProxy::start().await;

    // A query pipelined behind the startup packet runs, as it would
    // directly (trust authentication reads nothing from the client).
    let mut conn = RawConn::connect(proxy.addr).await;
    let mut bytes = raw::startup("postgres", "postgres");
    bytes.extend(raw::query("SELECT 'pipelined'"));
    conn.send(&bytes).await;
    conn.until_ready().await;
    let msgs = conn.until_ready().await;
    let row = msgs.iter().find(|m| m.tag == b'D').expect("a row");
    assert!(row.body.ends_with(b"pipelined"), "{msgs:?}");

    // During password authentication the server refuses it itself.
    let mut conn = RawConn::connect(proxy.addr).await;
    conn.send(&raw::startup(SCRAM_USER.0, "postgres")).await;
    let challenge = conn.recv().await.expect("authentication request");
    assert_eq!(challenge.tag, b'R');
    conn.send(&raw::query("SELECT 1")).await;
    assert_rejected(&mut conn, "query during SASL").await;

    // A message during authentication may not exceed PostgreSQL's limit on
    // an authentication token: refused from its header, nothing buffered.
    let mut conn = RawConn::connect(proxy.addr).await;
    conn.send(&raw::startup(SCRAM_USER.0, "postgres")).await;
    conn.recv().await.expect("authentication request");
    let mut header = vec![b'p'];
    header.extend_from_slice(&(64i32 << 20).to_be_bytes());
    conn.send(&header).await;
    let msg = assert_rejected(&mut conn, "64 MiB password message").await;
    assert!(
        msg.fields()[&b'M'].contains("during authentication"),
        "{msg:?}"
    );
}

#[tokio::test]
async fn plaintext_sent_before_the_answer_to_an_encryption_request() {
    let proxy = TestProxy::start().await;
    for code in [80_877_103i32, 80_877_104] {
        let mut conn = RawConn::connect(proxy.addr).await;
        let mut bytes = 8i32.to_be_bytes().to_vec();
        bytes.extend_from_slice(&code.to_be_bytes());
        bytes.extend(raw::startup("postgres", "postgres"));
        conn.send(&bytes).await;
        assert_eq!(conn.read_bytes(1).await, b"N");
        let msg = assert_rejected(&mut conn, "data after request").await;
        assert!(msg.fields()[&b'M'].contains("unencrypted data"), "{msg:?}");
    }
    // Asking twice is a protocol violation too.
    let mut conn = RawConn::connect(proxy.addr).await;
    let mut request = 8i32.to_be_bytes().to_vec();
    request.extend_from_slice(&80_877_103i32.to_be_bytes());
    conn.send(&request).await;
    assert_eq!(conn.read_bytes(1).await, b"N");
    conn.send(&request).await;
    assert_rejected(&mut conn, "second SSLRequest").await;
}

#[tokio::test]
async fn encryption_requests_are_declined_and_plaintext_goes_on() {
    let proxy = TestProxy::start().await;
    for code in [80_877_103i32, 80_877_104] {
        let mut conn = RawConn::connect(proxy.addr).await;
        let mut request = 8i32.to_be_bytes().to_vec();
        request.extend_from_slice(&code.to_be_bytes());
        conn.send(&request).await;
        assert_eq!(conn.read_bytes(1).await, b"N");
        conn.send(&raw::startup("postgres", "postgres")).await;
        let msgs = conn.until_ready().await;
        assert_eq!(msgs.last().unwrap().body, b"I");
        conn.send(&raw::query("SELECT 1")).await;
        assert!(conn.until_ready().await.iter().any(|m| m.tag == b'D'));
    }
}

#[tokio::test]
async fn clients_vanishing_mid_message_and_random_bytes() {
    let proxy = TestProxy::start().await;
    let bystander = proxy.connect().await;

    // Half a message, then gone.
    let mut conn = RawConn::login(proxy.addr, "postgres", "postgres").await;
    conn.send(&raw::query("SELECT 1")[..7]).await;
    drop(conn);
    // Half a startup packet, then gone.
    let mut conn = RawConn::connect(proxy.addr).await;
    conn.send(&raw::startup("postgres", "postgres")[..10]).await;
    drop(conn);

    // Random bytes after login: each connection ends with an error, from
    // the proxy (bad framing) or the server (bad message contents).
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..50 {
        let mut conn = RawConn::login(proxy.addr, "postgres", "postgres").await;
        let len = (next(&mut seed) % 64) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| next(&mut seed) as u8).collect();
        if !conn.try_send(&bytes).await {
            continue;
        }
        // Half-close: a message left incomplete ends at EOF.
        let _ = conn.stream.shutdown().await;
        let msgs = conn.until_closed().await;
        assert!(msgs.iter().all(|m| m.tag != b'E' || m.sqlstate().is_some()));
    }
    bystander
        .simple_query("SELECT 1")
        .await
        .expect("bystander unaffected");
}

fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}
