//! Opening a connection to the PostgreSQL server, with TLS when asked.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::SessionError;
use super::conn::Conn;
use super::error::Cause;
use super::tls::{UpstreamTls, UpstreamTlsMode};
use crate::protocol::SSL_REQUEST;

/// Where the upstream is and how to reach it.
#[derive(Clone)]
pub struct Upstream {
    pub addr: String,
    pub tls: UpstreamTls,
    /// For the TCP connection and the TLS handshake together.
    pub timeout: Duration,
}

impl Upstream {
    /// Connects within the timeout, negotiating TLS as the mode says.
    pub async fn connect(&self) -> Result<Conn, SessionError> {
        match tokio::time::timeout(self.timeout, self.open()).await {
            Ok(opened) => opened,
            Err(_) => Err(self.failed(Cause::new(format!("timed out after {:?}", self.timeout)))),
        }
    }

    async fn open(&self) -> Result<Conn, SessionError> {
        let mut stream = TcpStream::connect(&self.addr)
            .await
            .map_err(|e| self.failed(Cause::Io(e)))?;
        // The protocol is request/response: every delayed small write
        // would be added latency.
        stream
            .set_nodelay(true)
            .map_err(|e| self.failed(Cause::Io(e)))?;
        // The server's own keepalives now probe the proxy, not the client:
        // ours notice a vanished peer on either side (with the OS's timings).
        let _ = socket2::SockRef::from(&stream).set_keepalive(true);
        let Some(connector) = &self.tls.connector else {
            return Ok(Conn::Plain(stream));
        };
        if !self.server_offers_tls(&mut stream).await? {
            return match self.tls.mode {
                UpstreamTlsMode::Prefer => Ok(Conn::Plain(stream)),
                mode => Err(self.failed(Cause::new(format!(
                    "the server does not support TLS (--upstream-tls {})",
                    mode.as_str()
                )))),
            };
        }
        let tls = connector
            .connect(self.tls.server_name.clone(), stream)
            .await
            .map_err(|e| {
                self.failed(Cause::While {
                    doing: "TLS handshake failed",
                    source: e,
                })
            })?;
        Ok(Conn::ToServer(Box::new(tls)))
    }

    /// Sends SSLRequest; the answer is one byte. Nothing more is read before
    /// the handshake (bytes a man in the middle slipped in would otherwise
    /// count as encrypted: CVE-2021-23222).
    async fn server_offers_tls(&self, stream: &mut TcpStream) -> Result<bool, SessionError> {
        stream
            .write_all(&SSL_REQUEST)
            .await
            .map_err(|e| self.failed(Cause::Io(e)))?;
        let mut answer = [0u8; 1];
        stream.read_exact(&mut answer).await.map_err(|e| {
            self.failed(Cause::While {
                doing: "no answer to SSLRequest",
                source: e,
            })
        })?;
        match answer[0] {
            b'S' => Ok(true),
            b'N' => Ok(false),
            other => Err(self.failed(Cause::new(format!(
                "unexpected answer {:?} to SSLRequest",
                char::from(other)
            )))),
        }
    }

    fn failed(&self, cause: Cause) -> SessionError {
        SessionError::UpstreamConnect {
            addr: self.addr.clone(),
            cause,
        }
    }

    pub fn lost(&self, e: std::io::Error) -> SessionError {
        SessionError::upstream_lost(&self.addr, e)
    }
}
