//! One client connection, from accept to close.

use std::net::SocketAddr;

use socket2::SockRef;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tracing::Instrument;

use super::handshake::{self, Handshake};
use super::relay::{self, RelayEnd};
use super::{Phase, ProxyConfig, SessionError};

/// Terminate, sent to the upstream when the proxy ends a session itself so
/// that the server logs a clean disconnect.
const TERMINATE: &[u8] = b"X\0\0\0\x04";

pub async fn run(
    id: u64,
    mut client: TcpStream,
    peer: SocketAddr,
    config: &ProxyConfig,
    phase: watch::Receiver<Phase>,
) {
    let span = tracing::info_span!(
        "session",
        id,
        %peer,
        user = tracing::field::Empty,
        database = tracing::field::Empty,
    );
    async move {
        let _ = client.set_nodelay(true);
        let _ = SockRef::from(&client).set_keepalive(true);
        tracing::debug!("connection accepted");
        let (outcome, at_boundary) = serve(&mut client, config, phase).await;
        match &outcome {
            Ok(()) => tracing::debug!("connection closed"),
            Err(SessionError::ClientIo(e)) => tracing::debug!(error = %e, "client connection lost"),
            Err(SessionError::Shutdown | SessionError::NotAccepting) => {
                tracing::info!("closed for shutdown")
            }
            Err(e) => tracing::warn!(error = %e, "session ended"),
        }
        // Inside a half-written message, a FATAL would be garbage.
        if let Err(e) = outcome
            && at_boundary
            && let Some(fatal) = e.fatal_response()
        {
            let _ = client.write_all(&fatal).await;
        }
        let _ = client.shutdown().await;
    }
    .instrument(span)
    .await
}

/// Runs the session; also says whether the client's stream stopped between
/// messages (so that the proxy may still write to it).
async fn serve(
    client: &mut TcpStream,
    config: &ProxyConfig,
    phase: watch::Receiver<Phase>,
) -> (Result<(), SessionError>, bool) {
    let started = tokio::time::timeout(
        config.startup_timeout,
        handshake::run(client, config, phase.clone()),
    );
    let (mut upstream, params, pending) = match started.await {
        Ok(Ok(Handshake::Session {
            upstream,
            params,
            pending,
        })) => (upstream, params, pending),
        Ok(Ok(Handshake::Cancelled | Handshake::Gone)) | Err(_) => return (Ok(()), true),
        Ok(Err(e)) => return (Err(e), true),
    };
    let span = tracing::Span::current();
    span.record("user", params.user.as_deref().unwrap_or(""));
    span.record("database", params.database.as_deref().unwrap_or(""));
    let relayed = relay::run(client, &mut upstream, pending, phase, &config.upstream).await;
    let ended = match relayed.end {
        Ok(RelayEnd::Closed) => return (Ok(()), relayed.client_at_boundary),
        Ok(RelayEnd::Shutdown { cancel }) => {
            // A query still running would otherwise go on after we are gone.
            if let Some(request) = cancel {
                handshake::forward_cancel(&request, config).await;
            }
            Err(SessionError::Shutdown)
        }
        Err(e) => Err(e),
    };
    if relayed.upstream_at_boundary {
        let _ = upstream.write_all(TERMINATE).await;
    }
    (ended, relayed.client_at_boundary)
}
