//! One client connection, from accept to close.

use std::net::SocketAddr;
use std::sync::Arc;

use socket2::SockRef;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tracing::Instrument;

use super::conn::{self, Conn};
use super::from_client::FromClient;
use super::from_server::{Auth, FromServer};
use super::handshake::{self, Handshake};
use super::intercept::Intercept;
use super::limits::{REFUSAL_TIMEOUT, Seat};
use super::policy::SessionKey;
use super::refusals::Refusals;
use super::relay::{self, RelayEnd};
use super::reload::LiveEngine;
use super::tls::{self, ClientTls};
use super::translate::Translator;
use super::upstream::Upstream;
use super::{Phase, ProxyConfig, SessionError};
use crate::journal::{BlockedAttempt, Recorder};
use crate::metrics::Metrics;
use crate::protocol::StartupParams;
use crate::rewrite::SessionInfo;
use crate::webhook::Webhook;

/// What every session of a proxy shares.
#[derive(Clone)]
pub struct Services {
    pub engine: Arc<LiveEngine>,
    pub recorder: Recorder,
    /// `--notify-url`: refusals POSTed to a webhook.
    pub webhook: Option<Webhook>,
    pub client_tls: ClientTls,
    pub upstream: Upstream,
    pub metrics: Arc<Metrics>,
}

/// Terminate, sent to the upstream when the proxy ends a session itself so
/// that the server logs a clean disconnect.
const TERMINATE: &[u8] = b"X\0\0\0\x04";

/// Runs one client connection. Without a seat (the proxy is at
/// `--max-client-connections`) the client is refused once it has sent its
/// startup packet.
pub async fn run(
    id: u64,
    client: TcpStream,
    peer: SocketAddr,
    config: &ProxyConfig,
    phase: watch::Receiver<Phase>,
    services: Services,
    seat: Option<Seat>,
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
        let mut client = Conn::Plain(client);
        tracing::debug!("connection accepted");
        let metrics = Arc::clone(&services.metrics);
        if seat.is_some() {
            metrics.client_connected();
        }
        let who = Who { id, peer, services };
        let (outcome, at_boundary) = serve(&mut client, config, phase, who, seat.is_some()).await;
        count_end(&metrics, &outcome, seat.is_some());
        match &outcome {
            Ok(()) => tracing::debug!("connection closed"),
            Err(SessionError::ClientIo(e)) => tracing::debug!(error = %e, "client connection lost"),
            Err(SessionError::TlsHandshake(e)) => {
                tracing::info!(error = %e, "client TLS handshake failed")
            }
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
            let _ = conn::send(&mut client, &fatal).await;
        }
        let _ = client.shutdown().await;
    }
    .instrument(span)
    .await
}

/// Runs the session; also says whether the client's stream stopped between
/// messages (so that the proxy may still write to it).
async fn serve(
    client: &mut Conn,
    config: &ProxyConfig,
    phase: watch::Receiver<Phase>,
    who: Who,
    seated: bool,
) -> (Result<(), SessionError>, bool) {
    let upstream_at = who.services.upstream.clone();
    let startup_timeout = if seated {
        config.startup_timeout
    } else {
        REFUSAL_TIMEOUT.min(config.startup_timeout)
    };
    let handshake = handshake::run(
        client,
        &who.services.client_tls,
        &upstream_at,
        phase.clone(),
        seated,
    );
    let started = tokio::time::timeout(startup_timeout, handshake);
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
    let ours = who.services.client_tls.certificate.clone();
    let auth = Auth {
        strip_scram_plus: !tls::binding_survives(client, &upstream, ours.as_ref()),
    };
    let (from_client, from_server) = who.steps(&params, auth);
    let start = relay::Start {
        pending,
        idle_timeout: config.client_idle_timeout,
        phase,
        addr: &config.upstream,
    };
    let relayed = relay::run(client, &mut upstream, start, from_client, from_server).await;
    let ended = match relayed.end {
        Ok(RelayEnd::Closed) => return (Ok(()), relayed.client_at_boundary),
        Ok(RelayEnd::Shutdown { cancel }) => {
            // A query still running would otherwise go on after we are gone.
            if let Some(request) = cancel {
                handshake::forward_cancel(&request, &upstream_at).await;
            }
            Err(SessionError::Shutdown)
        }
        Err(e) => Err(e),
    };
    if relayed.upstream_at_boundary {
        let _ = conn::send(&mut upstream, TERMINATE).await;
    }
    (ended, relayed.client_at_boundary)
}

/// The session's identity, for the journal.
struct Who {
    id: u64,
    peer: SocketAddr,
    services: Services,
}

impl Who {
    /// What each direction of the session does to its messages.
    fn steps(self, params: &StartupParams, auth: Auth) -> (FromClient, FromServer) {
        let live = self.services.engine;
        let info = SessionInfo {
            connection_id: self.id,
            client_addr: self.peer.ip().to_string(),
        };
        let user = params.user.clone().unwrap_or_default();
        let application = params.application_name.clone().unwrap_or_default();
        // PostgreSQL's default database is the user's name.
        let database = params.database.clone().unwrap_or_else(|| user.clone());
        let metrics = self.services.metrics;
        // Reloads keep the nonce, so one translator serves throughout.
        let translator = Translator::new(live.current().nonce());
        let session = SessionKey {
            database: database.clone(),
            user: user.clone(),
            application: application.clone(),
        };
        let intercept = Intercept::new(
            Arc::clone(&live),
            session.clone(),
            Arc::clone(&metrics),
            info.clone(),
        );
        let refusals = Refusals {
            metrics,
            recorder: self.services.recorder,
            webhook: self.services.webhook,
            who: BlockedAttempt {
                action: crate::journal::Action::Blocked,
                at_unix: 0,
                database,
                db_user: user,
                application_name: application,
                client_addr: info.client_addr,
                connection_id: info.connection_id,
                table: String::new(),
                reason: String::new(),
                sqlstate: String::new(),
                message: String::new(),
                sql: String::new(),
            },
        };
        (
            FromClient::new(intercept),
            FromServer::new(auth, live, session, translator, refusals),
        )
    }
}

/// Counts how a connection ended, for /metrics.
fn count_end(metrics: &Metrics, outcome: &Result<(), SessionError>, seated: bool) {
    if seated {
        metrics.client_disconnected();
    }
    match outcome {
        Err(SessionError::TooManyClients) => metrics.client_refused("too_many_connections"),
        Err(SessionError::TlsRequired) => metrics.client_refused("tls_required"),
        Err(SessionError::TlsHandshake(_)) => metrics.tls_handshake_error(),
        Err(SessionError::UpstreamConnect { .. }) => metrics.upstream_connect_error(),
        _ => {}
    }
}
