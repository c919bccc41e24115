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
    workers: Workers,
}

impl Proxy {
    pub async fn bind(config: ProxyConfig) -> io::Result<Proxy> {
        let listener = TcpListener::bind(config.listen).await?;
        let workers = Workers::start(config.workers)?;
        Ok(Proxy {
            listener,
            config: Arc::new(config),
            shutdown: ShutdownHandle::new(),
            workers,
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
        let mut sessions = JoinSet::new();
        self.accept_until_shutdown(&mut sessions).await;
        drop(self.listener);
        drain(&mut sessions, &self.config, &self.shutdown).await;
        tracing::info!("proxy stopped");
    }

    async fn accept_until_shutdown(&self, sessions: &mut JoinSet<()>) {
        let mut phase = self.shutdown.subscribe();
        let mut next_id: u64 = 0;
        loop {
            tokio::select! {
                biased;
                changed = phase.changed() => {
                    if changed.is_err() || *phase.borrow() != Phase::Running {
                        return;
                    }
                }
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        next_id += 1;
                        self.spawn_session(sessions, next_id, stream, peer);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                },
                Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            }
        }
    }

    /// Runs the session on the next worker. The socket was registered with
    /// this runtime's reactor; it is moved to the worker's.
    fn spawn_session(
        &self,
        sessions: &mut JoinSet<()>,
        id: u64,
        stream: TcpStream,
        peer: SocketAddr,
    ) {
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(e) => {
                return tracing::warn!(error = %e, %peer, "cannot hand connection to a worker");
            }
        };
        let config = Arc::clone(&self.config);
        let phase = self.shutdown.subscribe();
        let session = async move {
            match TcpStream::from_std(stream) {
                Ok(stream) => session::run(id, stream, peer, &config, phase).await,
                Err(e) => tracing::warn!(error = %e, %peer, "cannot register connection"),
            }
        };
        sessions.spawn_on(session, self.workers.next());
    }
}

/// Waits for the sessions to finish; after the grace period, tells them to
/// close, and after that aborts what is left.
async fn drain(sessions: &mut JoinSet<()>, config: &ProxyConfig, shutdown: &ShutdownHandle) {
    tracing::info!(
        sessions = sessions.len(),
        grace = ?config.shutdown_grace,
        "no longer accepting connections; waiting for sessions to finish"
    );
    if tokio::time::timeout(config.shutdown_grace, join_all(sessions))
        .await
        .is_ok()
    {
        return;
    }
    tracing::info!(
        sessions = sessions.len(),
        "grace period over; closing sessions"
    );
    shutdown.advance(Phase::Closing);
    if tokio::time::timeout(CLOSE_TIMEOUT, join_all(sessions))
        .await
        .is_err()
    {
        sessions.abort_all();
    }
}

async fn join_all(sessions: &mut JoinSet<()>) {
    while sessions.join_next().await.is_some() {}
}
