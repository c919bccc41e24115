//! Rules that change while the proxy runs: on SIGHUP, and when the file's
//! content changes.
//!
//! A new rules file is validated first; a broken one keeps the old rules
//! (the error is logged with file and line, and counted). A good one
//! becomes a new engine with an empty decision cache, so no decision made
//! under the old rules is ever used again. Sessions pick it up before
//! their next statement: they compare a generation number, one atomic load.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::Phase;
use super::policy::Engines;
use crate::metrics::Metrics;
use crate::rewrite::fresh_nonce;
use crate::rules::{RulesError, RulesFile};

/// The engines every session asks (one per database the rules name),
/// replaceable.
pub struct LiveEngine {
    current: RwLock<Arc<Engines>>,
    generation: AtomicU64,
}

impl LiveEngine {
    /// Engines for `rules`, with a nonce of their own.
    pub fn new(rules: RulesFile) -> LiveEngine {
        LiveEngine {
            current: RwLock::new(Arc::new(Engines::new(rules, fresh_nonce()))),
            generation: AtomicU64::new(0),
        }
    }

    pub fn current(&self) -> Arc<Engines> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Changes whenever the engine is replaced.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Puts an engine for `rules` in place. It keeps the nonce: sessions
    /// translate the answers to statements rewritten before the change.
    pub fn replace(&self, rules: RulesFile) {
        let nonce = self.current().nonce().to_owned();
        let engines = Arc::new(Engines::new(rules, nonce));
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = engines;
        self.generation.fetch_add(1, Ordering::Release);
    }
}

/// Asks a running proxy to reload its rules file now (SIGHUP does).
#[derive(Clone, Default)]
pub struct ReloadHandle(Arc<Notify>);

impl ReloadHandle {
    pub fn reload(&self) {
        self.0.notify_one();
    }
}

/// Watches the rules file until the proxy stops running.
pub struct Watcher {
    pub live: Arc<LiveEngine>,
    pub path: PathBuf,
    pub poll: Duration,
    pub trigger: ReloadHandle,
    pub metrics: Arc<Metrics>,
}

impl Watcher {
    pub async fn run(self, mut phase: watch::Receiver<Phase>) {
        // What the file held when last looked at, loaded or not: a broken
        // file is reported once, not at every poll.
        let mut seen = read(&self.path).await;
        loop {
            let forced = tokio::select! {
                _ = tokio::time::sleep(self.poll) => false,
                _ = self.trigger.0.notified() => true,
                changed = phase.changed() => {
                    if changed.is_err() || *phase.borrow() != Phase::Running {
                        return;
                    }
                    continue;
                }
            };
            let now = read(&self.path).await;
            if now == seen && !forced {
                continue;
            }
            seen = now;
            self.apply(seen.clone());
        }
    }

    fn apply(&self, content: Result<String, String>) {
        let rules = content
            .map_err(|message| RulesError {
                file: self.path.clone(),
                position: None,
                message,
            })
            .and_then(|text| RulesFile::parse(&text, &self.path));
        match rules {
            Ok(rules) => {
                self.live.replace(rules);
                let tables = self.live.current().tables();
                self.metrics.rules_reload(true);
                self.metrics.set_rules_loaded(tables);
                tracing::info!(rules = %self.path.display(), tables, "rules reloaded");
            }
            Err(error) => {
                self.metrics.rules_reload(false);
                tracing::error!(%error, "rules not reloaded: the previous rules stay in force");
            }
        }
    }
}

/// Reads off the runtime's thread: a file on a stalled mount must not
/// stop the proxy from accepting connections.
async fn read(path: &std::path::Path) -> Result<String, String> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || std::fs::read_to_string(path))
        .await
        .map_err(|e| format!("cannot read the rules file: {e}"))?
        .map_err(|e| format!("cannot read the rules file: {e}"))
}
