//! Opening a connection to the PostgreSQL server.

use std::time::Duration;

use tokio::net::TcpStream;

use super::SessionError;

/// Connects to `addr` within `timeout`, with Nagle off: the protocol is
/// request/response and every delayed small write is added latency.
pub async fn connect(addr: &str, timeout: Duration) -> Result<TcpStream, SessionError> {
    let failed = |reason: String| SessionError::UpstreamConnect {
        addr: addr.to_owned(),
        reason,
    };
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(failed(e.to_string())),
        Err(_) => return Err(failed(format!("timed out after {timeout:?}"))),
    };
    stream
        .set_nodelay(true)
        .map_err(|e| failed(e.to_string()))?;
    // The server's own keepalives now probe the proxy, not the client: ours
    // notice a vanished peer on either side (with the OS's timings).
    let _ = socket2::SockRef::from(&stream).set_keepalive(true);
    Ok(stream)
}
