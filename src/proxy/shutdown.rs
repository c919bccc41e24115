//! Shutdown phases, broadcast to the listener and every session.

use tokio::sync::watch;

/// Where the proxy is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Accepting and serving.
    Running,
    /// No longer accepting; sessions close as soon as they are idle.
    Draining,
    /// The grace period is over: every session closes now.
    Closing,
}

/// Starts a proxy's shutdown; cheap to clone, usable from any task.
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    tx: watch::Sender<Phase>,
}

impl ShutdownHandle {
    pub(crate) fn new() -> ShutdownHandle {
        ShutdownHandle {
            tx: watch::Sender::new(Phase::Running),
        }
    }

    /// Stop accepting connections and let sessions finish (graceful).
    pub fn shutdown(&self) {
        self.advance(Phase::Draining);
    }

    pub(crate) fn advance(&self, phase: Phase) {
        self.tx.send_if_modified(|current| {
            let later = phase > *current;
            if later {
                *current = phase;
            }
            later
        });
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Phase> {
        self.tx.subscribe()
    }
}
