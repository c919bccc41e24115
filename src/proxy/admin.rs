//! The proxy's side of the admin listener: what /readyz checks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::watch;

use super::session::Services;
use super::{Phase, ProxyConfig, ShutdownHandle, StartError};
use crate::admin::{Admin, Checks, Readiness};
use crate::console::Console;

/// Longest a readiness probe waits for the upstream to accept.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The admin listener; with `--console-url`, the operator's console on it
/// too.
pub async fn bind(
    addr: SocketAddr,
    services: &Services,
    shutdown: &ShutdownHandle,
    config: &ProxyConfig,
) -> Result<Admin, StartError> {
    let ready = Arc::new(ProxyReadiness {
        upstream: services.upstream.addr.clone(),
        timeout: services.upstream.timeout.min(PROBE_TIMEOUT),
        phase: shutdown.subscribe(),
    });
    let admin = Admin::bind(addr, Arc::clone(&services.metrics), ready)
        .await
        .map_err(|source| StartError::Listen { addr, source })?;
    let Some(url) = &config.console_url else {
        return Ok(admin);
    };
    // Reading the journal is open to whoever reaches the listener: say so
    // when that is more than this host.
    if !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "the operator's console is readable by anyone who reaches {addr}: bind --admin-listen \
             to 127.0.0.1 (or a private network) unless a TLS proxy with its own access control \
             is in front"
        );
    }
    let console = Console::new(url.clone(), config.console_token.clone())
        .with_hosts(config.console_hosts.clone());
    Ok(admin.with_console(console))
}

/// Serves until the proxy's task set aborts it, draining included: a
/// draining proxy still answers /metrics, and /readyz says it is going.
pub async fn run(admin: Admin) {
    let (_keep, stop) = watch::channel(false);
    admin.run(stop).await;
}

struct ProxyReadiness {
    upstream: String,
    timeout: Duration,
    phase: watch::Receiver<Phase>,
}

impl Readiness for ProxyReadiness {
    fn check(&self) -> Checks<'_> {
        Box::pin(async move {
            let accepting = match *self.phase.borrow() {
                Phase::Running => Ok(()),
                _ => Err("shutting down: no new sessions".to_owned()),
            };
            // A TCP connection closed without a byte: PostgreSQL does not
            // log it (monitoring probes do this).
            let upstream = match tokio::time::timeout(
                self.timeout,
                TcpStream::connect(&self.upstream),
            )
            .await
            {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(format!("{}: {e}", self.upstream)),
                Err(_) => Err(format!(
                    "{}: no answer within {:?}",
                    self.upstream, self.timeout
                )),
            };
            // Rules are loaded before the proxy listens, and a reload that
            // fails keeps them: once serving, they are always in force.
            vec![
                ("accepting", accepting),
                ("upstream", upstream),
                ("rules", Ok(())),
            ]
        })
    }
}
