//! The admin listener over a real socket: hyper's client for what an
//! operator's tools send (curl, a Prometheus scrape, a Kubernetes probe),
//! raw bytes for what broken or hostile clients send.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::{HeaderMap, Method, Request};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Admin, Check, Checks, Readiness};
use crate::metrics::Metrics;

/// Long enough never to fire on a loaded test machine; a hang fails the
/// test instead of stalling the run.
const PATIENCE: Duration = Duration::from_secs(10);

/// Checks with fixed results.
struct Fixed(Vec<Check>);

impl Readiness for Fixed {
    fn check(&self) -> Checks<'_> {
        Box::pin(async move { self.0.clone() })
    }
}

/// A check that never finishes, like one waiting on an unreachable host.
struct Hangs;

impl Readiness for Hangs {
    fn check(&self) -> Checks<'_> {
        Box::pin(std::future::pending())
    }
}

struct Served {
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

async fn serve(ready: impl Readiness, configure: impl FnOnce(Admin) -> Admin) -> Served {
    let metrics = Arc::new(Metrics::new());
    let localhost = SocketAddr::from(([127, 0, 0, 1], 0));
    let admin = Admin::bind(localhost, Arc::clone(&metrics), Arc::new(ready))
        .await
        .expect("bind admin");
    let admin = configure(admin);
    let addr = admin.local_addr().expect("local addr");
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(admin.run(stopped));
    Served {
        addr,
        metrics,
        stop,
        task,
    }
}

async fn ready() -> Served {
    serve(Fixed(vec![("rules", Ok(())), ("upstream", Ok(()))]), |a| a).await
}

/// A response as hyper's client read it.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends one request with hyper's HTTP/1.1 client and reads the answer,
/// checking what every answer carries.
async fn send(addr: SocketAddr, method: Method, path: &str, body: &'static str) -> Reply {
    tokio::time::timeout(PATIENCE, async {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        let driver = tokio::spawn(connection);
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", addr.to_string())
            .header("user-agent", "test")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .expect("a request");
        let response = sender.send_request(request).await.expect("a response");
        let status = response.status().as_u16();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("the body").to_bytes();
        drop(driver.await);
        let reply = Reply {
            status,
            headers: parts.headers,
            body: String::from_utf8(body.to_vec()).expect("a text body"),
        };
        assert!(reply.header("content-length").is_some(), "a Content-Length");
        assert_eq!(reply.header("connection"), Some("close"));
        reply
    })
    .await
    .expect("the server answers")
}

async fn get(addr: SocketAddr, path: &str) -> Reply {
    send(addr, Method::GET, path, "").await
}

/// Sends raw bytes, as a broken or hostile client would, and reads until
/// the server closes.
async fn exchange(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    tokio::time::timeout(PATIENCE, async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(raw).await.expect("send request");
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.expect("read reply");
        reply
    })
    .await
    .expect("the server answers and closes")
}

/// The status code of a raw reply; None when the server closed without
/// a word.
fn status_of(reply: &[u8]) -> Option<u16> {
    if reply.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(reply);
    let status = text
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse().ok());
    assert!(status.is_some(), "a status line: {text:?}");
    status
}

#[tokio::test]
async fn metrics_are_served_in_the_prometheus_text_format() {
    let s = ready().await;
    s.metrics.statement();
    s.metrics.decision("public.orders", "soft");
    let reply = get(s.addr, "/metrics").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(reply.body, s.metrics.render());
    assert!(reply.body.contains("\nsoftdel_statements_total 1\n"));
    assert!(
        reply
            .body
            .contains("softdel_decisions_total{table=\"public.orders\",action=\"soft\"} 1\n")
    );
}

#[tokio::test]
async fn head_announces_the_length_without_the_body() {
    let s = ready().await;
    let get = get(s.addr, "/metrics").await;
    let head = send(s.addr, Method::HEAD, "/metrics", "").await;
    assert_eq!(head.status, 200);
    assert_eq!(head.body, "");
    assert_eq!(
        head.header("content-length"),
        Some(get.body.len().to_string().as_str())
    );
}

#[tokio::test]
async fn healthz_says_the_process_is_up() {
    let s = serve(Hangs, |a| a).await; // liveness does not wait for readiness
    let reply = get(s.addr, "/healthz").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok\n"));
}

#[tokio::test]
async fn readyz_is_200_when_every_check_passes() {
    let s = ready().await;
    let reply = get(s.addr, "/readyz").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "ok rules\nok upstream\n");
}

#[tokio::test]
async fn readyz_is_503_naming_the_failed_check_and_why() {
    let checks = vec![
        ("rules", Ok(())),
        ("upstream", Err("connection refused\nis it running?".into())),
    ];
    let s = serve(Fixed(checks), |a| a).await;
    let reply = get(s.addr, "/readyz").await;
    assert_eq!(reply.status, 503);
    assert_eq!(
        reply.body,
        "ok rules\nfailed upstream: connection refused is it running?\n"
    );
}

#[tokio::test]
async fn readyz_does_not_wait_forever_for_a_stuck_check() {
    let s = serve(Hangs, |a| a.with_check_timeout(Duration::from_millis(50))).await;
    let reply = get(s.addr, "/readyz").await;
    assert_eq!(reply.status, 503);
    assert!(reply.body.starts_with("failed checks:"), "{}", reply.body);
}

#[tokio::test]
async fn unknown_paths_are_404_and_query_strings_are_ignored() {
    let s = ready().await;
    for path in ["/", "/metrics/", "/nope", "/healthz/../metrics"] {
        assert_eq!(get(s.addr, path).await.status, 404, "{path}");
    }
    assert_eq!(get(s.addr, "/healthz?probe=1").await.status, 200);
    assert_eq!(get(s.addr, "/metrics?name[]=x").await.status, 200);
}

#[tokio::test]
async fn methods_other_than_get_and_head_are_405_with_allow() {
    let s = ready().await;
    for (method, path, body) in [
        (Method::POST, "/metrics", "hello world"),
        (Method::DELETE, "/readyz", ""),
        (Method::OPTIONS, "/healthz", ""),
    ] {
        let reply = send(s.addr, method.clone(), path, body).await;
        assert_eq!(reply.status, 405, "{method} {path}");
        assert_eq!(reply.header("allow"), Some("GET, HEAD"));
    }
}

#[tokio::test]
async fn http_1_0_and_bare_line_feeds_are_understood() {
    let s = ready().await;
    let reply = exchange(s.addr, b"GET /healthz HTTP/1.0\r\n\r\n").await;
    assert_eq!(status_of(&reply), Some(200));
    let reply = exchange(s.addr, b"GET /healthz HTTP/1.1\nHost: x\n\n").await;
    assert_eq!(status_of(&reply), Some(200));
}

#[tokio::test]
async fn malformed_requests_get_400_and_the_server_keeps_serving() {
    let s = ready().await;
    for raw in [
        &b"garbage\r\n\r\n"[..],
        b"GET /metrics\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\n\n", // TLS hello
        b"\0\0\0\x08\x04\xd2\x16\x2f\n\n",                   // PostgreSQL SSLRequest
    ] {
        let reply = exchange(s.addr, raw).await;
        assert_eq!(
            status_of(&reply),
            Some(400),
            "{}",
            String::from_utf8_lossy(raw)
        );
    }
    assert_eq!(get(s.addr, "/healthz").await.status, 200);
}

#[tokio::test]
async fn an_http_2_preface_is_closed_and_the_server_keeps_serving() {
    let s = ready().await;
    // hyper, built for HTTP/1 only, recognises the preface and closes
    // without an answer (an HTTP/1 status line would mean nothing to an
    // HTTP/2 client).
    let reply = exchange(s.addr, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
    assert_eq!(status_of(&reply), None);
    assert_eq!(get(s.addr, "/healthz").await.status, 200);
}

#[tokio::test]
async fn a_client_closing_mid_head_gets_400_or_nothing() {
    let s = ready().await;
    let mut stream = TcpStream::connect(s.addr).await.expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHo")
        .await
        .expect("send");
    stream.shutdown().await.expect("half-close");
    let mut reply = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut reply))
        .await
        .expect("closed")
        .expect("read");
    assert!(matches!(status_of(&reply), None | Some(400)), "{reply:?}");

    // Connecting and leaving (a TCP probe) is answered with silence.
    let stream = TcpStream::connect(s.addr).await.expect("connect");
    drop(stream);
    assert_eq!(get(s.addr, "/healthz").await.status, 200);
}

#[tokio::test]
async fn an_oversized_head_is_431() {
    let s = ready().await;
    let mut raw = b"GET /metrics HTTP/1.1\r\nCookie: ".to_vec();
    raw.resize(9 * 1024, b'a');
    raw.extend_from_slice(b"\r\n\r\n");
    let reply = exchange(s.addr, &raw).await;
    assert_eq!(status_of(&reply), Some(431));
}

#[tokio::test]
async fn a_head_that_never_ends_is_cut_off() {
    let s = serve(Fixed(vec![]), |a| {
        a.with_head_timeout(Duration::from_millis(100))
    })
    .await;
    let mut stream = TcpStream::connect(s.addr).await.expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\n")
        .await
        .expect("send");
    let mut reply = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut reply))
        .await
        .expect("closed after the head timeout")
        .expect("read");
    // hyper closes without an answer; a 408 would do as well.
    assert!(matches!(status_of(&reply), None | Some(408)), "{reply:?}");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let s = serve(Fixed(vec![]), |a| a.with_max_connections(1)).await;
    let idle = TcpStream::connect(s.addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(50)).await; // let it take the slot

    let mut waiting = TcpStream::connect(s.addr).await.expect("connect");
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\n\r\n")
        .await
        .expect("send");
    let mut reply = Vec::new();
    let early =
        tokio::time::timeout(Duration::from_millis(300), waiting.read_to_end(&mut reply)).await;
    assert!(early.is_err(), "served while the only slot was taken");

    drop(idle); // frees the slot
    tokio::time::timeout(PATIENCE, waiting.read_to_end(&mut reply))
        .await
        .expect("served once the slot is free")
        .expect("read");
    assert_eq!(status_of(&reply), Some(200));
}

#[tokio::test]
async fn run_ends_when_stop_becomes_true() {
    let s = ready().await;
    assert_eq!(get(s.addr, "/healthz").await.status, 200);
    s.stop.send(true).expect("admin still listening");
    tokio::time::timeout(PATIENCE, s.task)
        .await
        .expect("run returned")
        .expect("run did not panic");
}

#[tokio::test]
async fn run_ends_when_the_stop_sender_is_dropped() {
    let s = ready().await;
    drop(s.stop);
    tokio::time::timeout(PATIENCE, s.task)
        .await
        .expect("run returned")
        .expect("run did not panic");
}

#[tokio::test]
async fn run_ends_even_with_a_connection_open() {
    let s = ready().await;
    let _idle = TcpStream::connect(s.addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.stop.send(true).expect("admin still listening");
    tokio::time::timeout(PATIENCE, s.task)
        .await
        .expect("run returned")
        .expect("run did not panic");
}

#[tokio::test]
async fn already_stopped_runs_not_at_all() {
    let metrics = Arc::new(Metrics::new());
    let localhost = SocketAddr::from(([127, 0, 0, 1], 0));
    let admin = Admin::bind(localhost, metrics, Arc::new(Fixed(vec![])))
        .await
        .expect("bind");
    let (_stop, stopped) = watch::channel(true);
    tokio::time::timeout(PATIENCE, admin.run(stopped))
        .await
        .expect("run returned at once");
}

#[tokio::test]
async fn many_scrapes_at_once_are_all_answered() {
    let s = ready().await;
    let scrapes: Vec<_> = (0..100)
        .map(|_| tokio::spawn(get(s.addr, "/metrics")))
        .collect();
    for scrape in scrapes {
        assert_eq!(scrape.await.expect("scrape task").status, 200);
    }
}
