//! The listener: accepts clients, spawns a session for each, and drains
//! them on shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::workers::Workers;
use super::{Phase, ProxyConfig, ShutdownHandle, session};

/// After the grace period, how long sessions get to say goodbye before
/// their tasks are aborted.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause after a failed accept (e.g. out of file descriptors) so that the
/// loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A bound, not yet running proxy.
pub struct Proxy {
    listener: TcpListener,
    config: Arc<ProxyConfig>,
    shutdown: ShutdownHandle,
}

impl Proxy {
    pub async fn bind(config: ProxyConfig) -> io::Result<Proxy> {
        let listener = TcpListener::bind(config.listen).await?;
        Ok(Proxy {
            listener,
            config: Arc::new(config),
            shutdown: ShutdownHandle::new(),
        })
    }

    /// The address actually listened on (the port, when bound to port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Serves until shut down, then waits for the sessions: those still
    /// open after the grace period are closed.
    pub async fn run(self) {
        let Proxy {
            listener,
            config,
            shutdown,
        } = self;
        let workers = match Workers::start(config.workers) {
            Ok(workers) => workers,
            Err(e) => {
                tracing::error!(error = %e, "cannot start worker threads");
                return;
            }
        };
        let mut phase = shutdown.subscribe();
        let mut sessions = JoinSet::new();
        let mut next_id: u64 = 0;
        loop {
            tokio::select! {
                biased;
                changed = phase.changed() => {
                    if changed.is_err() || *phase.borrow() != Phase::Running {
                        break;
                    }
                }
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        next_id += 1;
                        let config = Arc::clone(&config);
                        let phase = shutdown.subscribe();
                        // Re-registered with the worker's reactor, below.
                        let stream = match stream.into_std() {
                            Ok(stream) => stream,
                            Err(e) => {
                                tracing::warn!(error = %e, %peer, "cannot hand connection to a worker");
                                continue;
                            }
                        };
                        sessions.spawn_on(async move {
                            match TcpStream::from_std(stream) {
                                Ok(stream) => session::run(next_id, stream, peer, &config, phase).await,
                                Err(e) => tracing::warn!(error = %e, %peer, "cannot register connection"),
                            }
                        }, workers.next());
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                },
                Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            }
        }
        drop(listener);
        tracing::info!(
            sessions = sessions.len(),
            grace = ?config.shutdown_grace,
            "no longer accepting connections; waiting for sessions to finish"
        );
        if tokio::time::timeout(config.shutdown_grace, join_all(&mut sessions))
            .await
            .is_err()
        {
            tracing::info!(
                sessions = sessions.len(),
                "grace period over; closing sessions"
            );
            shutdown.advance(Phase::Closing);
            if tokio::time::timeout(CLOSE_TIMEOUT, join_all(&mut sessions))
                .await
                .is_err()
            {
                sessions.abort_all();
            }
        }
        tracing::info!("proxy stopped");
    }
}

async fn join_all(sessions: &mut JoinSet<()>) {
    while sessions.join_next().await.is_some() {}
}
