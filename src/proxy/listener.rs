//! The listener: accepts clients, spawns a session for each, and drains
//! them on shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::admin;
use super::limits::Admissions;
use super::reload::{LiveEngine, ReloadHandle, Watcher};
use super::session::Services;
use super::tls::{ClientTls, UpstreamTls, UpstreamTlsFiles};
use super::upstream::Upstream;
use super::workers::Workers;
use super::{Phase, ProxyConfig, ShutdownHandle, StartError, session};
use crate::admin::Admin;
use crate::journal::Recorder;
use crate::metrics::Metrics;
use crate::rules::{Rules, RulesFile};
use crate::webhook::Webhook;

/// After the grace period, how long sessions get to say goodbye before
/// their tasks are aborted.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A bound, not yet running proxy.
pub struct Proxy {
    listener: TcpListener,
    config: Arc<ProxyConfig>,
    shutdown: ShutdownHandle,
    workers: Workers,
    services: Services,
    admissions: Arc<Admissions>,
    reload: ReloadHandle,
    admin: Option<Admin>,
}

impl Proxy {
    /// Loads the rules and binds the listener. A broken rules file is an
    /// `InvalidData` error naming the file, line and key.
    pub async fn bind(config: ProxyConfig) -> Result<Proxy, StartError> {
        config.validate()?;
        let rules = match &config.rules {
            Some(path) => {
                let file = RulesFile::load(path)?;
                tracing::info!(
                    rules = %path.display(),
                    tables = file.rules.tables.len(),
                    databases = file.databases.len(),
                    "rules loaded"
                );
                file
            }
            None => {
                tracing::warn!("no rules file: every statement passes through unchanged");
                RulesFile {
                    rules: Rules::pass_everything(),
                    ..RulesFile::default()
                }
            }
        };
        let client_tls = ClientTls::load(
            config.tls_cert.as_deref(),
            config.tls_key.as_deref(),
            config.tls_required,
        )?;
        let upstream = Upstream {
            addr: config.upstream.clone(),
            tls: UpstreamTls::load(
                &config.upstream,
                config.upstream_tls,
                &UpstreamTlsFiles {
                    ca: config.upstream_ca.as_deref(),
                    cert: config.upstream_cert.as_deref(),
                    key: config.upstream_key.as_deref(),
                },
            )?,
            timeout: config.connect_timeout,
        };
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let workers = Workers::start(config.workers).map_err(StartError::Workers)?;
        let metrics = Arc::new(Metrics::new());
        let engines = LiveEngine::new(rules);
        metrics.set_rules_loaded(engines.current().tables());
        let services = Services {
            engine: Arc::new(engines),
            recorder: Recorder::start(config.journal_url.clone(), config.blocked_log.clone()),
            webhook: config
                .notify_url
                .clone()
                .map(|target| Webhook::start(target, Arc::clone(&metrics))),
            client_tls,
            upstream,
            metrics,
        };
        let shutdown = ShutdownHandle::new();
        let admin = match config.admin_listen {
            Some(addr) => Some(admin::bind(addr, &services, &shutdown, &config).await?),
            None => None,
        };
        Ok(Proxy {
            listener,
            admissions: Admissions::new(config.max_client_connections),
            config: Arc::new(config),
            shutdown,
            workers,
            services,
            reload: ReloadHandle::default(),
            admin,
        })
    }

    /// Where /metrics, /healthz and /readyz are served, when they are.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|a| a.local_addr().ok())
    }

    /// Reloads the rules file when asked (the CLI asks on SIGHUP).
    pub fn reload_handle(&self) -> ReloadHandle {
        self.reload.clone()
    }

    /// The proxy's counters, as /metrics shows them.
    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.services.metrics)
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
    pub async fn run(mut self) {
        let mut background = JoinSet::new();
        if let Some(path) = self.config.rules.clone() {
            let watcher = Watcher {
                live: Arc::clone(&self.services.engine),
                path,
                poll: self.config.rules_poll,
                trigger: self.reload.clone(),
                metrics: Arc::clone(&self.services.metrics),
            };
            background.spawn(watcher.run(self.shutdown.subscribe()));
        }
        if let Some(admin) = self.admin.take() {
            background.spawn(admin::run(admin));
        }
        let mut sessions = JoinSet::new();
        let mut next_id = 0;
        self.accept_until_shutdown(&mut sessions, &mut next_id)
            .await;
        tracing::info!(
            sessions = sessions.len(),
            grace = ?self.config.shutdown_grace,
            "shutting down: no new sessions; waiting for open ones to finish"
        );
        let drained = tokio::time::timeout(
            self.config.shutdown_grace,
            self.accept_while_draining(&mut sessions, &mut next_id),
        )
        .await
        .is_ok();
        drop(self.listener);
        if !drained {
            close_sessions(&mut sessions, &self.shutdown).await;
        }
        background.abort_all();
        tracing::info!("proxy stopped");
    }

    async fn accept_until_shutdown(&self, sessions: &mut JoinSet<()>, next_id: &mut u64) {
        let mut phase = self.shutdown.subscribe();
        loop {
            tokio::select! {
                biased;
                changed = phase.changed() => {
                    if changed.is_err() || *phase.borrow() != Phase::Running {
                        return;
                    }
                }
                accepted = self.listener.accept() => self.accepted(accepted, sessions, next_id).await,
                Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            }
        }
    }

    /// While sessions drain, connections are still accepted: a cancel
    /// request for a query being waited for must get through. Sessions
    /// themselves refuse to start (57P03).
    async fn accept_while_draining(&self, sessions: &mut JoinSet<()>, next_id: &mut u64) {
        while !sessions.is_empty() {
            tokio::select! {
                accepted = self.listener.accept() => self.accepted(accepted, sessions, next_id).await,
                _ = sessions.join_next() => {}
            }
        }
    }

    async fn accepted(
        &self,
        accepted: io::Result<(TcpStream, SocketAddr)>,
        sessions: &mut JoinSet<()>,
        next_id: &mut u64,
    ) {
        match accepted {
            Ok((stream, peer)) => {
                *next_id += 1;
                self.spawn_session(sessions, *next_id, stream, peer);
            }
            Err(e) => crate::accept::failed("proxy", &e).await,
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
        let services = self.services.clone();
        let seat = self.admissions.admit();
        if seat.is_none() {
            tracing::warn!(%peer, open = self.admissions.open(), "too many client connections: refusing");
        }
        let session = async move {
            match TcpStream::from_std(stream) {
                Ok(stream) => session::run(id, stream, peer, &config, phase, services, seat).await,
                Err(e) => tracing::warn!(error = %e, %peer, "cannot register connection"),
            }
        };
        sessions.spawn_on(session, self.workers.next());
    }
}

/// The grace period is over: tells the sessions to close, and aborts those
/// that have not after `CLOSE_TIMEOUT`.
async fn close_sessions(sessions: &mut JoinSet<()>, shutdown: &ShutdownHandle) {
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
