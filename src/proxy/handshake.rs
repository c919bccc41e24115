//! The startup phase: SSL and GSS encryption requests, cancel requests, and
//! the StartupMessage that opens the upstream connection.

use bytes::{Buf, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use super::conn::{self, Conn};
use super::tls::ClientTls;
use super::upstream::Upstream;
use super::{Phase, SessionError};
use crate::protocol::{ProtocolError, StartupPacket, StartupParams, parse_startup};
use tokio_rustls::TlsAcceptor;

/// How the startup phase ended.
pub enum Handshake {
    /// A session starts: the upstream has been sent the StartupMessage;
    /// `pending` holds any client bytes that followed it.
    Session {
        upstream: Conn,
        params: StartupParams,
        pending: BytesMut,
    },
    /// A cancel request was forwarded; the connection ends here.
    Cancelled,
    /// The client went away before starting a session.
    Gone,
}

/// Reads startup-phase packets until one opens a session or ends the
/// connection. While the proxy drains, cancel requests are still forwarded
/// (they stop the queries being waited for) but no session starts.
pub async fn run(
    client: &mut Conn,
    tls: &ClientTls,
    upstream: &Upstream,
    mut phase: watch::Receiver<Phase>,
    seated: bool,
) -> Result<Handshake, SessionError> {
    let mut buf = BytesMut::with_capacity(512);
    let mut declined = Declined::default();
    loop {
        let Some((packet, len)) = parse_startup(&buf)? else {
            tokio::select! {
                read = client.read_buf(&mut buf) => {
                    if read.map_err(SessionError::ClientIo)? == 0 {
                        return Ok(Handshake::Gone);
                    }
                }
                _ = phase.wait_for(|p| *p == Phase::Closing) => return Ok(Handshake::Gone),
            }
            continue;
        };
        match packet {
            StartupPacket::SslRequest | StartupPacket::GssEncRequest => {
                declined.check(&packet)?;
                buf.advance(len);
                let accept = match (&packet, &tls.acceptor) {
                    (StartupPacket::SslRequest, Some(acceptor)) if !client.is_tls() => {
                        Some(acceptor)
                    }
                    _ => None,
                };
                let answer: &[u8] = if accept.is_some() { b"S" } else { b"N" };
                conn::send(client, answer)
                    .await
                    .map_err(SessionError::ClientIo)?;
                // Bytes sent before our answer were not protected by the
                // encryption the client asked for: PostgreSQL refuses them
                // (CVE-2021-23214), and so do we.
                if !buf.is_empty() {
                    return Err(ProtocolError::InvalidStartupPacket(
                        "received unencrypted data after an encryption request",
                    )
                    .into());
                }
                if let Some(acceptor) = accept {
                    start_tls(client, acceptor).await?;
                }
            }
            StartupPacket::CancelRequest => {
                forward_cancel(&buf[..len], upstream).await;
                return Ok(Handshake::Cancelled);
            }
            StartupPacket::Startup(_) if *phase.borrow() != Phase::Running => {
                return Err(SessionError::NotAccepting);
            }
            StartupPacket::Startup(_) if tls.required && !client.is_tls() => {
                return Err(SessionError::TlsRequired);
            }
            StartupPacket::Startup(_) if !seated => return Err(SessionError::TooManyClients),
            StartupPacket::Startup(params) => {
                return start_session(buf, len, params, upstream).await;
            }
        }
    }
}

/// Each encryption request may be made once, as in PostgreSQL.
#[derive(Default)]
struct Declined {
    ssl: bool,
    gss: bool,
}

impl Declined {
    fn check(&mut self, packet: &StartupPacket) -> Result<(), ProtocolError> {
        let (done, minor) = match packet {
            StartupPacket::SslRequest => (&mut self.ssl, 5679),
            _ => (&mut self.gss, 5680),
        };
        if std::mem::replace(done, true) {
            return Err(ProtocolError::UnsupportedProtocol { major: 1234, minor });
        }
        Ok(())
    }
}

/// The TLS handshake with a client that asked for it; the startup packets
/// that follow come encrypted.
async fn start_tls(client: &mut Conn, acceptor: &TlsAcceptor) -> Result<(), SessionError> {
    let Conn::Plain(tcp) = std::mem::replace(client, Conn::Detached) else {
        return Err(ProtocolError::InvalidStartupPacket("TLS requested twice").into());
    };
    let tls = acceptor
        .accept(tcp)
        .await
        .map_err(SessionError::TlsHandshake)?;
    *client = Conn::FromClient(Box::new(tls));
    Ok(())
}

/// Connects upstream and sends it the StartupMessage.
async fn start_session(
    mut buf: BytesMut,
    len: usize,
    params: StartupParams,
    upstream: &Upstream,
) -> Result<Handshake, SessionError> {
    let mut conn = upstream.connect().await?;
    let packet = buf.split_to(len);
    conn::send(&mut conn, &packet)
        .await
        .map_err(|e| upstream.lost(e))?;
    Ok(Handshake::Session {
        upstream: conn,
        params,
        pending: buf,
    })
}

/// The cancel key in the request is the upstream backend's own (the proxy
/// passes BackendKeyData through untouched), so the request goes to the
/// upstream as it is. The protocol gives the client no answer either way.
pub async fn forward_cancel(request: &[u8], upstream: &Upstream) {
    let sent = async {
        let mut conn = upstream.connect().await?;
        conn::send(&mut conn, request)
            .await
            .map_err(|e| upstream.lost(e))?;
        // The server closes the connection once it has read the request.
        let mut sink = [0u8; 16];
        while conn.read(&mut sink).await.map_err(|e| upstream.lost(e))? > 0 {}
        Ok::<(), SessionError>(())
    };
    match tokio::time::timeout(upstream.timeout, sent).await {
        Ok(Ok(())) => tracing::debug!("cancel request forwarded"),
        Ok(Err(e)) => tracing::warn!(error = %e, "cancel request not forwarded"),
        Err(_) => tracing::warn!("cancel request timed out"),
    }
}
