//! The request head: read within bounds, then parsed (no body is read).

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Longest request head accepted. Scrapers and probes send a few hundred
/// bytes; the bound keeps a client from making the proxy buffer more.
pub(super) const MAX_HEAD: usize = 8 * 1024;

/// How long a client may take to send its request head.
pub(super) const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Method {
    Get,
    Head,
    /// Any other well-formed method: answered 405.
    Other,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) struct Request {
    pub(super) method: Method,
    /// The target without its query string or fragment.
    pub(super) path: String,
}

/// How reading the head ended.
#[derive(Debug)]
pub(super) enum Head {
    /// The bytes up to and including the blank line.
    Complete(Vec<u8>),
    /// `MAX_HEAD` bytes and still no blank line.
    TooLarge,
    /// The client closed first, after sending this much.
    Closed(usize),
}

/// Reads until the blank line that ends the head. Bytes after it (a body
/// the client should not have sent) may be read too, and are ignored.
pub(super) async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<Head> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Head::Closed(buf.len()));
        }
        let searched = buf.len().saturating_sub(3);
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some(end) = head_end(&buf, searched) {
            buf.truncate(end);
            return Ok(Head::Complete(buf));
        }
        if buf.len() >= MAX_HEAD {
            return Ok(Head::TooLarge);
        }
    }
}

/// Where the head ends: after the first empty line, from `from` on. A bare
/// LF is taken as a line end too (RFC 9112 lets a server be that lenient).
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let tail = buf.get(from..)?;
    let crlf = tail
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    let lf = tail.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let end = match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    Some(from + end).filter(|&end| end <= MAX_HEAD)
}

/// Why a head is not a request this server can read: answered 400.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Malformed(pub(super) &'static str);

/// Parses `METHOD /target HTTP/1.x` and checks that every header line is a
/// `name: value`. Header values are not needed and not read.
pub(super) fn parse(head: &[u8]) -> Result<Request, Malformed> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let request_line = lines.next().ok_or(Malformed("empty request"))?;
    let request_line =
        std::str::from_utf8(request_line).map_err(|_| Malformed("request line is not text"))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Malformed("request line is not METHOD TARGET VERSION"));
    };
    if method.is_empty() || !method.bytes().all(is_token) {
        return Err(Malformed("bad method"));
    }
    if !target.starts_with('/') || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Malformed("bad target"));
    }
    if !matches!(version, "HTTP/1.0" | "HTTP/1.1") {
        return Err(Malformed("not HTTP/1.x"));
    }
    for line in lines.filter(|line| !line.is_empty()) {
        let name = line
            .iter()
            .position(|&b| b == b':')
            .and_then(|colon| line.get(..colon))
            .ok_or(Malformed("header line without a colon"))?;
        if name.is_empty() || !name.iter().copied().all(is_token) {
            return Err(Malformed("bad header name"));
        }
    }
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        _ => Method::Other,
    };
    Ok(Request {
        method,
        path: path.to_string(),
    })
}

/// A `tchar` of RFC 9110: what method and header names are made of.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Result<Request, Malformed> {
        Ok(Request {
            method: Method::Get,
            path: path.into(),
        })
    }

    #[test]
    fn reads_a_scrapers_request() {
        let head = b"GET /metrics HTTP/1.1\r\nHost: x:9187\r\nUser-Agent: Prometheus/2.53\r\nAccept: text/plain\r\n\r\n";
        assert_eq!(parse(head), get("/metrics"));
    }

    #[test]
    fn query_and_fragment_are_ignored() {
        assert_eq!(
            parse(b"GET /readyz?verbose=1 HTTP/1.1\r\n\r\n"),
            get("/readyz")
        );
        assert_eq!(parse(b"GET /healthz#x HTTP/1.0\r\n\r\n"), get("/healthz"));
    }

    #[test]
    fn other_methods_are_well_formed_but_other() {
        let r = parse(b"DELETE /metrics HTTP/1.1\r\n\r\n");
        assert_eq!(r.map(|r| r.method), Ok(Method::Other));
        let r = parse(b"HEAD /metrics HTTP/1.1\r\n\r\n");
        assert_eq!(r.map(|r| r.method), Ok(Method::Head));
    }

    #[test]
    fn malformed_heads_are_refused() {
        for head in [
            &b""[..],
            b"\r\n\r\n",
            b"GET /metrics\r\n\r\n",
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1 extra\r\n\r\n",
            b"GET metrics HTTP/1.1\r\n\r\n",
            b"GET http://x/metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/2.0\r\n\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"G(T /metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\n folded: header\r\n\r\n",
            b"GET /m\xffx HTTP/1.1\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        ] {
            assert!(parse(head).is_err(), "{:?}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn the_head_ends_at_the_first_blank_line() {
        let buf = b"GET / HTTP/1.1\r\nA: b\r\n\r\nbody\r\n\r\n";
        assert_eq!(head_end(buf, 0), Some(24));
        assert_eq!(head_end(b"GET / HTTP/1.1\n\nx", 0), Some(16));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n", 0), None);
    }

    #[test]
    fn random_bytes_never_panic_the_parser() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let alphabet = b"GET /HTP1.\r\n: \x00\xff?#";
        for _ in 0..50_000 {
            let len = (state % 64) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            let _ = parse(&bytes);
            let _ = head_end(&bytes, (state % 8) as usize);
        }
    }

    #[tokio::test]
    async fn a_head_too_large_is_reported_not_buffered() {
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.resize(MAX_HEAD * 4, b'a');
        let head = read_head(&mut big.as_slice()).await.expect("read");
        assert!(matches!(head, Head::TooLarge), "{head:?}");
    }

    #[tokio::test]
    async fn a_head_split_across_reads_is_found() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for part in [&b"GET /healthz HTTP/1.1\r"[..], b"\n", b"\r", b"\n"] {
                client.write_all(part).await.expect("write");
                tokio::task::yield_now().await;
            }
            client
        });
        let head = read_head(&mut server).await.expect("read");
        assert!(
            matches!(&head, Head::Complete(h) if h == b"GET /healthz HTTP/1.1\r\n\r\n"),
            "{head:?}"
        );
        drop(writer.await);
    }
}
