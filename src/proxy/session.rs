//! One client connection, from accept to close.

use std::net::SocketAddr;

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
        tracing::debug!("connection accepted");
        let outcome = serve(&mut client, config, phase).await;
        match &outcome {
            Ok(()) => tracing::debug!("connection closed"),
            Err(SessionError::ClientIo(e)) => tracing::debug!(error = %e, "client connection lost"),
            Err(SessionError::Shutdown) => tracing::info!("closed for shutdown"),
            Err(e) => tracing::warn!(error = %e, "session ended"),
        }
        if let Err(e) = outcome
            && let Some(fatal) = e.fatal_response()
        {
            let _ = client.write_all(&fatal).await;
        }
        let _ = client.shutdown().await;
    }
    .instrument(span)
    .await
}

async fn serve(
    client: &mut TcpStream,
    config: &ProxyConfig,
    phase: watch::Receiver<Phase>,
) -> Result<(), SessionError> {
    let handshake = tokio::time::timeout(config.startup_timeout, handshake::run(client, config))
        .await
        .unwrap_or(Ok(Handshake::Gone))?;
    let Handshake::Session {
        mut upstream,
        params,
        pending,
    } = handshake
    else {
        return Ok(());
    };
    let span = tracing::Span::current();
    span.record("user", params.user.as_deref().unwrap_or(""));
    span.record("database", params.database.as_deref().unwrap_or(""));
    let ended = match relay::run(client, &mut upstream, pending, phase, &config.upstream).await {
        Ok(RelayEnd::Closed) => return Ok(()),
        Ok(RelayEnd::Shutdown { cancel }) => {
            // A query still running would otherwise go on after we are gone.
            if let Some(request) = cancel {
                handshake::forward_cancel(&request, config).await;
            }
            Err(SessionError::Shutdown)
        }
        Err(e) => Err(e),
    };
    let _ = upstream.write_all(TERMINATE).await;
    ended
}
