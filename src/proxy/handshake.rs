//! The startup phase: SSL and GSS encryption requests, cancel requests, and
//! the StartupMessage that opens the upstream connection.

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{ProxyConfig, SessionError, upstream};
use crate::protocol::{StartupPacket, StartupParams, parse_startup};

/// How the startup phase ended.
pub enum Handshake {
    /// A session starts: the upstream has been sent the StartupMessage;
    /// `pending` holds any client bytes that followed it.
    Session {
        upstream: TcpStream,
        params: StartupParams,
        pending: BytesMut,
    },
    /// A cancel request was forwarded; the connection ends here.
    Cancelled,
    /// The client went away before starting a session.
    Gone,
}

/// Reads startup-phase packets until one opens a session or ends the
/// connection.
pub async fn run(client: &mut TcpStream, config: &ProxyConfig) -> Result<Handshake, SessionError> {
    let mut buf = BytesMut::with_capacity(512);
    loop {
        let Some((packet, len)) = parse_startup(&buf)? else {
            if client
                .read_buf(&mut buf)
                .await
                .map_err(SessionError::ClientIo)?
                == 0
            {
                return Ok(Handshake::Gone);
            }
            continue;
        };
        match packet {
            // TLS and GSS encryption are not offered: 'N' tells the client
            // to go on in plaintext (or give up, if it requires them).
            StartupPacket::SslRequest | StartupPacket::GssEncRequest => {
                buf.advance(len);
                client
                    .write_all(b"N")
                    .await
                    .map_err(SessionError::ClientIo)?;
            }
            StartupPacket::CancelRequest => {
                forward_cancel(&buf[..len], config).await;
                return Ok(Handshake::Cancelled);
            }
            StartupPacket::Startup(params) => {
                let mut upstream =
                    upstream::connect(&config.upstream, config.connect_timeout).await?;
                let packet = buf.split_to(len);
                upstream
                    .write_all(&packet)
                    .await
                    .map_err(|e| SessionError::UpstreamLost {
                        addr: config.upstream.clone(),
                        reason: e.to_string(),
                    })?;
                return Ok(Handshake::Session {
                    upstream,
                    params,
                    pending: buf,
                });
            }
        }
    }
}

/// The cancel key in the request is the upstream backend's own (the proxy
/// passes BackendKeyData through untouched), so the request goes to the
/// upstream as it is. The protocol gives the client no answer either way.
pub async fn forward_cancel(request: &[u8], config: &ProxyConfig) {
    let sent = async {
        let mut upstream = upstream::connect(&config.upstream, config.connect_timeout).await?;
        let io = |e: std::io::Error| SessionError::UpstreamLost {
            addr: config.upstream.clone(),
            reason: e.to_string(),
        };
        upstream.write_all(request).await.map_err(io)?;
        // The server closes the connection once it has read the request.
        let mut sink = [0u8; 16];
        while upstream.read(&mut sink).await.map_err(io)? > 0 {}
        Ok::<(), SessionError>(())
    };
    match tokio::time::timeout(config.connect_timeout, sent).await {
        Ok(Ok(())) => tracing::debug!("cancel request forwarded"),
        Ok(Err(e)) => tracing::warn!(error = %e, "cancel request not forwarded"),
        Err(_) => tracing::warn!("cancel request timed out"),
    }
}
