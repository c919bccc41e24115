//! The admin listener: accepts connections, a bounded number at a time.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use super::Readiness;
use super::connection::{HEAD_TIMEOUT, Shared, serve};
use super::routes::CHECK_TIMEOUT;
use crate::console::Console;
use crate::metrics::Metrics;

/// Admin connections served at once by default. Further clients wait in
/// the listen backlog; each served one is bounded in time, so they do not
/// wait long, and the admin port cannot pile up tasks and buffers.
pub const MAX_CONNECTIONS: usize = 64;

/// A bound, not yet running admin listener.
pub struct Admin {
    listener: TcpListener,
    shared: Shared,
    max_connections: usize,
}

impl Admin {
    pub async fn bind(
        addr: SocketAddr,
        metrics: Arc<Metrics>,
        ready: Arc<dyn Readiness>,
    ) -> io::Result<Admin> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Admin {
            listener,
            shared: Shared {
                metrics,
                ready,
                console: None,
                head_timeout: HEAD_TIMEOUT,
                check_timeout: CHECK_TIMEOUT,
            },
            max_connections: MAX_CONNECTIONS,
        })
    }

    /// The address actually listened on (the port, when bound to port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves the operator's console under `/api/`.
    pub fn with_console(mut self, console: Console) -> Admin {
        self.shared.console = Some(Arc::new(console));
        self
    }

    /// Connections served at once (at least one); default `MAX_CONNECTIONS`.
    pub fn with_max_connections(mut self, max: usize) -> Admin {
        self.max_connections = max.max(1);
        self
    }

    /// How long a client may take to send its request head; default 5 s.
    /// Slower clients are disconnected without an answer.
    pub fn with_head_timeout(mut self, timeout: Duration) -> Admin {
        self.shared.head_timeout = timeout;
        self
    }

    /// How long /readyz waits for the checks; default 5 s. Slower checks
    /// answer 503.
    pub fn with_check_timeout(mut self, timeout: Duration) -> Admin {
        self.shared.check_timeout = timeout;
        self
    }

    /// Serves until `stop` becomes true or its sender is dropped. Requests
    /// still being answered then are abandoned: an admin request holds
    /// nothing that needs finishing.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let shared = Arc::new(self.shared);
        let permits = Arc::new(Semaphore::new(self.max_connections));
        let mut connections = JoinSet::new();
        // `wait_for` ends with Ok when the value is true and with Err when
        // the sender is gone: both mean stop. Its Ok holds a lock guard,
        // dropped here so that `run` stays `Send` (spawnable).
        let stopped = async {
            let _ = stop.wait_for(|&stop| stop).await.is_ok();
        };
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                biased;
                _ = &mut stopped => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                next = next_connection(&self.listener, &permits) => match next {
                    (Ok((stream, _peer)), permit) => {
                        let shared = Arc::clone(&shared);
                        connections.spawn(async move {
                            serve(stream, shared).await;
                            drop(permit);
                        });
                    }
                    (Err(e), _) => crate::accept::failed("admin", &e).await,
                },
            }
        }
        tracing::debug!(open = connections.len(), "admin listener stopped");
    }
}

/// Waits for a free slot, then for a client. Dropping this future (when
/// the loop stops, or another branch wins) gives the slot back and loses
/// no connection: accepting is cancel-safe.
async fn next_connection(
    listener: &TcpListener,
    permits: &Arc<Semaphore>,
) -> (
    io::Result<(TcpStream, SocketAddr)>,
    Option<OwnedSemaphorePermit>,
) {
    // The semaphore is never closed, so this never fails; were it to, the
    // connection would be served unbounded rather than the loop stopped.
    let permit = Arc::clone(permits).acquire_owned().await.ok();
    (listener.accept().await, permit)
}
