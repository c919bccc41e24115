//! Running softdel in production: the admin listener, rules reloads,
//! connection limits and timeouts, structured logs, and a load test.

mod alerts;
mod limits;
mod load;
mod logs;
mod metrics;
mod reload;
mod webhook;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// GET `path` from the admin listener: status code and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let (status, _, body) = http(addr, "GET", path, &[]).await;
    (status, body)
}

/// `method path` to the admin listener with `headers`: status code, the
/// response head, and the body.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("admin listener");
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    // As a client addressing it by its address would; a test may send
    // its own Host.
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        request.push_str(&format!("Host: {addr}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if method == "POST" {
        request.push_str("Content-Length: 0\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .expect("a complete response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    (status, head.to_owned(), body.to_owned())
}

/// A scrape, parsed as Prometheus would: every sample by its name and
/// labels exactly as written (`name{a="x",b="y"}`).
pub async fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
    let (status, body) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    body.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (name, value) = line.rsplit_once(' ').expect("name value");
            let value = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
            (name.to_owned(), value)
        })
        .collect()
}

/// A sample's value, 0 when absent (a counter not yet bumped).
pub fn sample(metrics: &BTreeMap<String, f64>, name: &str) -> f64 {
    metrics.get(name).copied().unwrap_or(0.0)
}
