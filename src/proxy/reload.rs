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
use crate::metrics::Metrics;
use crate::rewrite::Engine;
use crate::rules::{Rules, RulesError};

/// The engine every session asks, replaceable.
pub struct LiveEngine {
    current: RwLock<Arc<Engine>>,
    generation: AtomicU64,
}

impl LiveEngine {
    pub fn new(engine: Engine) -> LiveEngine {
        LiveEngine {
            current: RwLock::new(Arc::new(engine)),
            generation: AtomicU64::new(0),
        }
    }

    pub fn current(&self) -> Arc<Engine> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Changes whenever the engine is replaced.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Puts an engine for `rules` in place. It keeps the nonce: sessions
    /// translate the answers to statements rewritten before the change.
    pub fn replace(&self, rules: Rules) {
        let nonce = self.current().nonce().to_owned();
        let engine = Arc::new(Engine::with_nonce(rules, nonce));
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = engine;
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
            .and_then(|text| Rules::parse(&text, &self.path));
        match rules {
            Ok(rules) => {
                let tables = rules.tables.len();
                self.live.replace(rules);
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
