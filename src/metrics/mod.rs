//! The proxy's counters, and their Prometheus text rendering.
//!
//! One `Metrics` per proxy, shared as `Arc<Metrics>`: nothing here is
//! global, so several proxies in one process count separately.
//!
//! - `hot`: counters bumped per message, each on its own cache line;
//! - `histogram`: statement latency, lock-free;
//! - `labeled`: counters by table and action, bounded in size;
//! - `text`, `render`: the exposition format.

mod histogram;
mod hot;
mod labeled;
mod render;
mod text;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use histogram::Histogram;
use hot::Hot;
use labeled::Labeled;

pub use text::CONTENT_TYPE;

/// Distinct (table, action) and (table, reason) series kept before new
/// tables are counted as "(other)".
pub const LABEL_SETS_LIMIT: usize = 1000;

/// Every counter is monotonic and every update Relaxed: no reader infers
/// anything about other memory from a counter's value, and a scrape only
/// needs recent values, not a consistent cut across counters.
#[derive(Debug)]
pub struct Metrics {
    // Bumped per message or statement: each on its own cache line.
    statements: Hot,
    bytes_from_client: Hot,
    bytes_to_client: Hot,
    cache_hits: Hot,
    cache_misses: Hot,
    statement_duration: Histogram,

    // Bumped per connection or reload: sharing lines costs nothing here.
    clients_current: AtomicI64,
    clients_total: AtomicU64,
    upstream_connect_errors: AtomicU64,
    tls_handshake_errors: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_error: AtomicU64,
    reprepared: AtomicU64,
    /// Unix time of the last successful reload in milliseconds; 0: never.
    last_reload_success_millis: AtomicU64,
    rules_tables: AtomicU64,

    /// Reasons are `&'static str`s from the proxy's own text, so this list
    /// cannot grow past the handful the program names.
    clients_refused: Mutex<Vec<(&'static str, u64)>>,
    decisions: Labeled,
    refused: Labeled,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            statements: Hot::default(),
            bytes_from_client: Hot::default(),
            bytes_to_client: Hot::default(),
            cache_hits: Hot::default(),
            cache_misses: Hot::default(),
            statement_duration: Histogram::default(),
            clients_current: AtomicI64::new(0),
            clients_total: AtomicU64::new(0),
            upstream_connect_errors: AtomicU64::new(0),
            tls_handshake_errors: AtomicU64::new(0),
            reloads_ok: AtomicU64::new(0),
            reloads_error: AtomicU64::new(0),
            reprepared: AtomicU64::new(0),
            last_reload_success_millis: AtomicU64::new(0),
            rules_tables: AtomicU64::new(0),
            clients_refused: Mutex::new(Vec::new()),
            decisions: Labeled::new(LABEL_SETS_LIMIT),
            refused: Labeled::new(LABEL_SETS_LIMIT),
        }
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// A client connection was accepted.
    pub fn client_connected(&self) {
        self.clients_current.fetch_add(1, Relaxed);
        self.clients_total.fetch_add(1, Relaxed);
    }

    /// A client connection ended (for each `client_connected`).
    pub fn client_disconnected(&self) {
        // Signed, so that an unmatched call shows as -1 rather than
        // wrapping to 2^64 - 1.
        self.clients_current.fetch_sub(1, Relaxed);
    }

    /// A client was turned away before its session started, e.g.
    /// "too_many_connections" or "tls_required".
    pub fn client_refused(&self, reason: &'static str) {
        let mut refused = self
            .clients_refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match refused.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n = n.saturating_add(1),
            None => refused.push((reason, 1)),
        }
    }

    /// A statement was seen (a simple Query, or an extended-protocol one).
    pub fn statement(&self) {
        self.statements.add(1);
    }

    /// The rules decided what to do with a statement on `table`: "soft",
    /// "journal", "limit" or "block".
    pub fn decision(&self, table: &str, action: &str) {
        self.decisions.add(table, action);
    }

    /// A statement on `table` was refused: "block", "truncate", "drop",
    /// "limit" or "parse".
    pub fn refused(&self, table: &str, reason: &str) {
        self.refused.add(table, reason);
    }

    /// The rewrite cache answered (`hit`) or the statement was analysed.
    pub fn cache(&self, hit: bool) {
        if hit {
            self.cache_hits.add(1);
        } else {
            self.cache_misses.add(1);
        }
    }

    pub fn upstream_connect_error(&self) {
        self.upstream_connect_errors.fetch_add(1, Relaxed);
    }

    pub fn bytes_from_client(&self, n: usize) {
        self.bytes_from_client.add(widen(n));
    }

    pub fn bytes_to_client(&self, n: usize) {
        self.bytes_to_client.add(widen(n));
    }

    /// How long a statement took, from the client's message to the
    /// server's answer.
    pub fn observe_statement(&self, latency: Duration) {
        self.statement_duration.observe(latency);
    }

    /// A rules reload finished; on success it also stamps the time.
    pub fn rules_reload(&self, ok: bool) {
        if ok {
            self.reloads_ok.fetch_add(1, Relaxed);
            self.last_reload_success_millis
                .store(unix_millis(SystemTime::now()), Relaxed);
        } else {
            self.reloads_error.fetch_add(1, Relaxed);
        }
    }

    /// A prepared statement was prepared again under new rules.
    pub fn reprepared(&self) {
        self.reprepared.fetch_add(1, Relaxed);
    }

    /// How many tables the rules in force list.
    pub fn set_rules_loaded(&self, tables: usize) {
        self.rules_tables.store(widen(tables), Relaxed);
    }

    pub fn tls_handshake_error(&self) {
        self.tls_handshake_errors.fetch_add(1, Relaxed);
    }
}

fn widen(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// A clock before 1970 reads as 0 ("never") rather than failing.
fn unix_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
