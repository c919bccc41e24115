//! SIGTERM and SIGINT start a graceful shutdown; a second one is not
//! needed (the grace period bounds it) but is honoured by exiting at once.

use softdel::proxy::{ReloadHandle, ShutdownHandle};
use tokio::signal::unix::{SignalKind, signal};

pub async fn shutdown_on_signal(handle: ShutdownHandle) -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received: shutting down"),
            _ = int.recv() => tracing::info!("SIGINT received: shutting down"),
        }
        handle.shutdown();
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::warn!("second signal: exiting now");
        std::process::exit(1);
    });
    Ok(())
}

/// SIGHUP reloads the rules file (it is also reloaded when it changes).
pub fn reload_on_sighup(handle: ReloadHandle) -> anyhow::Result<()> {
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP received: reloading the rules");
            handle.reload();
        }
    });
    Ok(())
}
