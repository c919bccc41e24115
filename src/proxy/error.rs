//! Why a session ended, which side caused it, and what the client is told.

use std::io;

use thiserror::Error;

use bytes::Bytes;

use crate::protocol::{ErrorFields, ProtocolError, Severity, error_response};

/// Why a proxy could not start.
#[derive(Debug, Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] super::ConfigError),
    #[error(transparent)]
    Rules(#[from] crate::rules::RulesError),
    #[error(transparent)]
    Tls(#[from] super::TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("cannot start worker threads: {0}")]
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

/// What went wrong: what the proxy was doing, and the IO error behind it
/// when there is one (kept, not flattened into text).
#[derive(Debug)]
pub struct Cause {
    doing: Option<std::borrow::Cow<'static, str>>,
    error: Option<io::Error>,
}

impl Cause {
    /// A failure the proxy itself noticed (a timeout, an unexpected answer).
    pub fn new(what: impl Into<std::borrow::Cow<'static, str>>) -> Cause {
        Cause {
            doing: Some(what.into()),
            error: None,
        }
    }

    /// `error`, met while `doing` something (`None`: the plain IO error).
    pub fn io(doing: Option<&'static str>, error: io::Error) -> Cause {
        Cause {
            doing: doing.map(Into::into),
            error: Some(error),
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.doing, &self.error) {
            (Some(doing), Some(error)) => write!(f, "{doing}: {error}"),
            (Some(doing), None) => f.write_str(doing),
            (None, Some(error)) => write!(f, "{error}"),
            (None, None) => Ok(()),
        }
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
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
