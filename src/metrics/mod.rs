//! The proxy's counters, in a prometheus-client `Registry`.
//!
//! One `Metrics` per proxy, shared as `Arc<Metrics>`, each with its own
//! registry: nothing here is global, so several proxies in one process
//! count separately.
//!
//! - `hot`: counters bumped per message, each on its own cache line;
//! - `histogram`: statement latency, lock-free;
//! - `labeled`: counters by table and action, bounded in size.

mod histogram;
mod hot;
mod labeled;

#[cfg(test)]
mod tests;

use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use histogram::Histogram;
use hot::HotCounter;
use labeled::Labeled;

/// The content type of what `render` writes: Prometheus text, 0.0.4.
pub use prometheus_text::CONTENT_TYPE;

/// Distinct (table, action) and (table, reason) series kept before new
/// tables are counted as "(other)".
pub const LABEL_SETS_LIMIT: usize = 1000;

/// One label whose value the program names: a reason, a result.
type Static = [(&'static str, &'static str); 1];

/// Every update is a relaxed atomic add (prometheus-client's counters and
/// gauges are atomics; the two labelled families keep a small map behind a
/// mutex, touched only by intercepted statements): no reader infers
/// anything about other memory from a counter's value, and a scrape only
/// needs recent values, not a consistent cut across counters.
#[derive(Debug)]
pub struct Metrics {
    // Bumped per message or statement: each on its own cache line.
    statements: HotCounter,
    bytes_from_client: HotCounter,
    bytes_to_client: HotCounter,
    cache_hits: HotCounter,
    cache_misses: HotCounter,
    statement_duration: Histogram,

    // Bumped per connection or reload: sharing lines costs nothing here.
    clients_current: Gauge,
    clients_total: Counter,
    upstream_connect_errors: Counter,
    tls_handshake_errors: Counter,
    reloads: Family<Static, Counter>,
    notifications: Family<Static, Counter>,
    reprepared: Counter,
    last_reload_success: Gauge<f64, AtomicU64>,
    rules_tables: Gauge,

    /// Reasons are `&'static str`s from the proxy's own text, so this
    /// family cannot grow past the handful the program names.
    clients_refused: Family<Static, Counter>,
    decisions: Labeled,
    refused: Labeled,
    observed: Labeled,
    deleted_rows: Labeled,

    registry: Registry,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let m = Metrics {
            statements: HotCounter::default(),
            bytes_from_client: HotCounter::default(),
            bytes_to_client: HotCounter::default(),
            cache_hits: HotCounter::default(),
            cache_misses: HotCounter::default(),
            statement_duration: Histogram::default(),
            clients_current: Gauge::default(),
            clients_total: Counter::default(),
            upstream_connect_errors: Counter::default(),
            tls_handshake_errors: Counter::default(),
            reloads: Family::default(),
            notifications: Family::default(),
            reprepared: Counter::default(),
            last_reload_success: Gauge::default(),
            rules_tables: Gauge::default(),
            clients_refused: Family::default(),
            decisions: Labeled::new(["table", "action"], LABEL_SETS_LIMIT),
            refused: Labeled::new(["table", "reason"], LABEL_SETS_LIMIT),
            observed: Labeled::new(["table", "would"], LABEL_SETS_LIMIT),
            deleted_rows: Labeled::new(["table", "how"], LABEL_SETS_LIMIT),
            registry: Registry::default(),
        };
        // Both results from the start, so that a dashboard's rate() of
        // errors reads 0 rather than nothing.
        for result in ["ok", "error"] {
            drop(m.reloads.get_or_create(&[("result", result)]));
        }
        for result in ["sent", "failed", "dropped"] {
            drop(m.notifications.get_or_create(&[("result", result)]));
        }
        // The two reasons the proxy has, for the same reason; and so that
        // the family's HELP and TYPE are there before the first refusal
        // (prometheus-client leaves out an empty family).
        for reason in ["too_many_connections", "tls_required"] {
            drop(m.clients_refused.get_or_create(&[("reason", reason)]));
        }
        m.register()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Registers a handle to every metric, in the order a scrape lists
    /// them. prometheus-client adds `_total` to a counter's name and a
    /// full stop to every help text.
    fn register(mut self) -> Metrics {
        let r = &mut self.registry;
        let build_info = Family::<Static, Gauge>::default();
        build_info
            .get_or_create(&[("version", env!("CARGO_PKG_VERSION"))])
            .set(1);
        r.register(
            "softdel_client_connections",
            "Client connections open now",
            self.clients_current.clone(),
        );
        r.register(
            "softdel_client_connections",
            "Client connections accepted",
            self.clients_total.clone(),
        );
        r.register(
            "softdel_client_connections_refused",
            "Client connections turned away, by reason",
            self.clients_refused.clone(),
        );
        r.register(
            "softdel_client_bytes_received",
            "Bytes received from clients",
            self.bytes_from_client.clone(),
        );
        r.register(
            "softdel_client_bytes_sent",
            "Bytes sent to clients",
            self.bytes_to_client.clone(),
        );
        r.register(
            "softdel_statements",
            "Statements seen from clients",
            self.statements.clone(),
        );
        r.register(
            "softdel_decisions",
            "Statements the rules acted on, by table and action",
            self.decisions.clone(),
        );
        r.register(
            "softdel_refused",
            "Statements refused, by table and reason",
            self.refused.clone(),
        );
        r.register(
            "softdel_observed",
            "Statements sent as they are under observed rules (mode: observe), by table and \
             what softdel would have done: soft, journal, block (a delete the guard journals), \
             refuse_limit, refuse_truncate, refuse_drop, refuse_parse, refuse_block",
            self.observed.clone(),
        );
        r.register(
            "softdel_deleted_rows",
            "Rows that DELETEs through the proxy soft-deleted (how=soft) or deleted with their \
             images journaled (how=journal), by table: what the journal grows by",
            self.deleted_rows.clone(),
        );
        r.register(
            "softdel_rewrite_cache_hits",
            "Statements whose decision came from the rewrite cache",
            self.cache_hits.clone(),
        );
        r.register(
            "softdel_rewrite_cache_misses",
            "Statements analysed because the rewrite cache did not hold them",
            self.cache_misses.clone(),
        );
        r.register(
            "softdel_statement_duration_seconds",
            "Time from a client's statement to the server's answer",
            self.statement_duration.clone(),
        );
        r.register(
            "softdel_notifications",
            "Refusals notified to --notify-url, by result: sent, failed (after retries), \
             dropped (queue full)",
            self.notifications.clone(),
        );
        r.register(
            "softdel_rules_reloads",
            "Rules reloads, by result",
            self.reloads.clone(),
        );
        r.register(
            "softdel_rules_last_reload_success_timestamp_seconds",
            "Unix time of the last successful rules reload; 0 if none",
            self.last_reload_success.clone(),
        );
        r.register(
            "softdel_rules_tables",
            "Tables listed in the rules in force",
            self.rules_tables.clone(),
        );
        r.register(
            "softdel_statements_reprepared",
            "Prepared statements prepared again because the rules changed",
            self.reprepared.clone(),
        );
        r.register(
            "softdel_upstream_connect_errors",
            "Failed connections to the upstream server",
            self.upstream_connect_errors.clone(),
        );
        r.register(
            "softdel_tls_handshake_errors",
            "Client TLS handshakes that failed",
            self.tls_handshake_errors.clone(),
        );
        r.register(
            "softdel_build_info",
            "Always 1; the label is the softdel version",
            build_info,
        );
        self
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail, and none of the metrics' own
        // encoders returns an error.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }

    /// A client connection was accepted.
    pub fn client_connected(&self) {
        self.clients_current.inc();
        self.clients_total.inc();
    }

    /// A client connection ended (for each `client_connected`).
    pub fn client_disconnected(&self) {
        // Signed, so that an unmatched call shows as -1 rather than
        // wrapping to 2^64 - 1.
        self.clients_current.dec();
    }

    /// A client was turned away before its session started, e.g.
    /// "too_many_connections" or "tls_required".
    pub fn client_refused(&self, reason: &'static str) {
        self.clients_refused
            .get_or_create(&[("reason", reason)])
            .inc();
    }

    /// A statement was seen (a simple Query, or an extended-protocol one).
    pub fn statement(&self) {
        self.statements.inc();
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

    /// A DELETE through the proxy removed `rows` rows of `table`, soft or
    /// journaled.
    pub fn deleted_rows(&self, table: &str, rows: u64, soft: bool) {
        let how = if soft { "soft" } else { "journal" };
        self.deleted_rows.add_n(table, how, rows);
    }

    /// A statement on `table` was sent as it is under an observed rule;
    /// `would` says what softdel would have done.
    pub fn observed(&self, table: &str, would: &str) {
        self.observed.add(table, would);
    }

    /// The rewrite cache answered (`hit`) or the statement was analysed.
    pub fn cache(&self, hit: bool) {
        if hit {
            self.cache_hits.inc();
        } else {
            self.cache_misses.inc();
        }
    }

    pub fn upstream_connect_error(&self) {
        self.upstream_connect_errors.inc();
    }

    pub fn bytes_from_client(&self, n: usize) {
        self.bytes_from_client.inc_by(widen(n));
    }

    pub fn bytes_to_client(&self, n: usize) {
        self.bytes_to_client.inc_by(widen(n));
    }

    /// How long a statement took, from the client's message to the
    /// server's answer.
    pub fn observe_statement(&self, latency: Duration) {
        self.statement_duration.observe(latency);
    }

    /// A rules reload finished; on success it also stamps the time.
    pub fn rules_reload(&self, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.reloads.get_or_create(&[("result", result)]).inc();
        if ok {
            self.last_reload_success
                .set(unix_seconds(SystemTime::now()));
        }
    }

    /// A webhook notification was `sent`, `failed` (after its retries) or
    /// `dropped` (the queue was full).
    pub fn notification(&self, result: &'static str) {
        self.notifications
            .get_or_create(&[("result", result)])
            .inc();
    }

    /// A prepared statement was prepared again under new rules.
    pub fn reprepared(&self) {
        self.reprepared.inc();
    }

    /// How many tables the rules in force list.
    pub fn set_rules_loaded(&self, tables: usize) {
        self.rules_tables
            .set(i64::try_from(tables).unwrap_or(i64::MAX));
    }

    pub fn tls_handshake_error(&self) {
        self.tls_handshake_errors.inc();
    }
}

fn widen(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// A clock before 1970 reads as 0 ("never") rather than failing. Kept to
/// the millisecond, as before.
fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as f64 / 1000.0)
        .unwrap_or(0.0)
}
