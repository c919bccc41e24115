//! Why a session ended, which side caused it, and what the client is told.

use std::io;

use thiserror::Error;

use bytes::Bytes;

use crate::protocol::{ErrorFields, ProtocolError, Severity, error_response};

/// Why a proxy could not start. The OS's reason is the error's source,
/// not part of its text, so that a chain printed whole (the command
/// line's) says it once.
#[derive(Debug, Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] super::ConfigError),
    #[error(transparent)]
    Rules(#[from] crate::rules::RulesError),
    #[error(transparent)]
    Tls(#[from] super::TlsError),
    #[error("cannot listen on {addr}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("cannot start worker threads")]
    Workers(#[source] io::Error),
}

#[derive(Debug, Error)]
pub enum SessionError {
    /// The client sent bytes that are not a valid message here.
    #[error("client protocol violation: {0}")]
    ClientProtocol(#[from] ProtocolError),
    /// The client's socket failed.
    #[error("client connection: {0}")]
    ClientIo(#[source] io::Error),
    /// The upstream could not be reached.
    #[error("could not connect to upstream {addr}: {cause}")]
    UpstreamConnect {
        addr: String,
        #[source]
        cause: Cause,
    },
    /// The upstream's socket failed or closed unexpectedly.
    #[error("lost connection to upstream {addr}: {cause}")]
    UpstreamLost {
        addr: String,
        #[source]
        cause: Cause,
    },
    /// The upstream sent bytes that are not a valid message.
    #[error("upstream {addr} protocol violation: {source}")]
    UpstreamProtocol {
        addr: String,
        #[source]
        source: ProtocolError,
    },
    /// The client asked for TLS and the handshake failed.
    #[error("client TLS handshake: {0}")]
    TlsHandshake(#[source] io::Error),
    /// A plaintext client, and `--tls-required`.
    #[error("TLS is required: connect with sslmode=require or stricter")]
    TlsRequired,
    /// More clients than `--max-client-connections`.
    #[error("sorry, too many clients already")]
    TooManyClients,
    /// The client sent nothing for longer than `--client-idle-timeout`.
    #[error("terminating connection due to idle timeout ({0:?} without a message)")]
    IdleTimeout(std::time::Duration),
    /// The proxy is shutting down and takes no new sessions.
    #[error("softdel is shutting down and accepts no new sessions")]
    NotAccepting,
    /// The proxy is shutting down and closed the session.
    #[error("terminating connection because softdel is shutting down")]
    Shutdown,
}

/// Why an upstream connection failed: something the proxy noticed itself,
/// or an IO error, kept as the source (not flattened into text).
#[derive(Debug, Error)]
pub enum Cause {
    /// A timeout, an unexpected answer.
    #[error("{0}")]
    Noticed(std::borrow::Cow<'static, str>),
    #[error("{0}")]
    Io(#[source] io::Error),
    /// An IO error met while doing something worth naming.
    #[error("{doing}: {source}")]
    While {
        doing: &'static str,
        #[source]
        source: io::Error,
    },
}

impl Cause {
    pub fn new(what: impl Into<std::borrow::Cow<'static, str>>) -> Cause {
        Cause::Noticed(what.into())
    }
}

impl SessionError {
    /// The upstream at `addr` failed mid-session.
    pub fn upstream_lost(addr: &str, error: io::Error) -> SessionError {
        SessionError::UpstreamLost {
            addr: addr.to_owned(),
            cause: Cause::Io(error),
        }
    }

    /// The upstream failed (not the client, not the proxy).
    pub fn is_upstream_lost(&self) -> bool {
        matches!(self, SessionError::UpstreamLost { .. })
    }
}

const UPSTREAM_HINT: &str = "Check that PostgreSQL is running and reachable from softdel; \
     softdel keeps serving and connects again for each new client.";

const TLS_HINT: &str = "This softdel is configured with --tls-required.";

const LIMIT_HINT: &str = "softdel is at its --max-client-connections; try again later.";

const SHUTDOWN_HINT: &str = "Reconnect: a restarted softdel will accept the connection.";

impl SessionError {
    /// The FATAL ErrorResponse the client is sent before the connection
    /// closes, or `None` when the client can no longer be told anything.
    pub fn fatal_response(&self) -> Option<Bytes> {
        let (sqlstate, hint) = match self {
            SessionError::ClientIo(_) | SessionError::TlsHandshake(_) => return None,
            SessionError::TlsRequired => ("28000", Some(TLS_HINT)),
            SessionError::TooManyClients => ("53300", Some(LIMIT_HINT)),
            SessionError::IdleTimeout(_) => ("57P05", None),
            SessionError::ClientProtocol(e) => (e.sqlstate(), None),
            SessionError::UpstreamConnect { .. } | SessionError::UpstreamLost { .. } => {
                ("08006", Some(UPSTREAM_HINT))
            }
            SessionError::UpstreamProtocol { .. } => ("08P01", None),
            SessionError::Shutdown => ("57P01", Some(SHUTDOWN_HINT)),
            SessionError::NotAccepting => ("57P03", Some(SHUTDOWN_HINT)),
        };
        Some(error_response(&ErrorFields {
            severity: Severity::Fatal,
            sqlstate,
            message: &self.to_string(),
            detail: None,
            hint,
        }))
    }
}
