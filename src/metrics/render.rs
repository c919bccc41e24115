//! `Metrics::render`: every family, in a fixed order.

use std::sync::PoisonError;
use std::sync::atomic::Ordering::Relaxed;

use super::Metrics;
use super::histogram::{BOUNDS_NANOS, bound_label};
use super::text::{Exposition, Kind};

impl Metrics {
    /// The Prometheus text exposition (format 0.0.4) of every metric.
    ///
    /// Families without a sample yet (no refusal so far, say) still get
    /// their HELP and TYPE lines, so that dashboards find the names.
    pub fn render(&self) -> String {
        let mut e = Exposition::default();
        self.render_clients(&mut e);
        self.render_statements(&mut e);
        self.render_rules(&mut e);
        self.render_errors(&mut e);
        e.family(
            "softdel_build_info",
            Kind::Gauge,
            "Always 1; the label is the softdel version.",
        );
        e.sample(
            "softdel_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1,
        );
        e.finish()
    }

    fn render_clients(&self, e: &mut Exposition) {
        single(
            e,
            "softdel_client_connections",
            Kind::Gauge,
            "Client connections open now.",
            self.clients_current.load(Relaxed),
        );
        single(
            e,
            "softdel_client_connections_total",
            Kind::Counter,
            "Client connections accepted.",
            self.clients_total.load(Relaxed),
        );
        let name = "softdel_client_connections_refused_total";
        e.family(
            name,
            Kind::Counter,
            "Client connections turned away, by reason.",
        );
        let mut refused = self
            .clients_refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        refused.sort_unstable();
        for (reason, n) in refused {
            e.sample(name, &[("reason", reason)], n);
        }
        single(
            e,
            "softdel_client_bytes_received_total",
            Kind::Counter,
            "Bytes received from clients.",
            self.bytes_from_client.get(),
        );
        single(
            e,
            "softdel_client_bytes_sent_total",
            Kind::Counter,
            "Bytes sent to clients.",
            self.bytes_to_client.get(),
        );
    }

    fn render_statements(&self, e: &mut Exposition) {
        single(
            e,
            "softdel_statements_total",
            Kind::Counter,
            "Statements seen from clients.",
            self.statements.get(),
        );
        let name = "softdel_decisions_total";
        e.family(
            name,
            Kind::Counter,
            "Statements the rules acted on, by table and action.",
        );
        for (table, action, n) in self.decisions.snapshot() {
            e.sample(name, &[("table", &table), ("action", &action)], n);
        }
        let name = "softdel_refused_total";
        e.family(
            name,
            Kind::Counter,
            "Statements refused, by table and reason.",
        );
        for (table, reason, n) in self.refused.snapshot() {
            e.sample(name, &[("table", &table), ("reason", &reason)], n);
        }
        single(
            e,
            "softdel_rewrite_cache_hits_total",
            Kind::Counter,
            "Statements whose decision came from the rewrite cache.",
            self.cache_hits.get(),
        );
        single(
            e,
            "softdel_rewrite_cache_misses_total",
            Kind::Counter,
            "Statements analysed because the rewrite cache did not hold them.",
            self.cache_misses.get(),
        );
        self.render_duration(e);
    }

    fn render_duration(&self, e: &mut Exposition) {
        let name = "softdel_statement_duration_seconds";
        e.family(
            name,
            Kind::Histogram,
            "Time from a client's statement to the server's answer.",
        );
        let s = self.statement_duration.snapshot();
        let bucket = format!("{name}_bucket");
        for (bound, count) in BOUNDS_NANOS.iter().zip(s.cumulative) {
            e.sample(&bucket, &[("le", &bound_label(*bound))], count);
        }
        e.sample(&bucket, &[("le", "+Inf")], s.count);
        e.sample(&format!("{name}_sum"), &[], s.sum_seconds);
        e.sample(&format!("{name}_count"), &[], s.count);
    }

    fn render_rules(&self, e: &mut Exposition) {
        let name = "softdel_rules_reloads_total";
        e.family(name, Kind::Counter, "Rules reloads, by result.");
        e.sample(name, &[("result", "ok")], self.reloads_ok.load(Relaxed));
        e.sample(
            name,
            &[("result", "error")],
            self.reloads_error.load(Relaxed),
        );
        let millis = self.last_reload_success_millis.load(Relaxed);
        single(
            e,
            "softdel_rules_last_reload_success_timestamp_seconds",
            Kind::Gauge,
            "Unix time of the last successful rules reload; 0 if none.",
            millis as f64 / 1000.0,
        );
        single(
            e,
            "softdel_rules_tables",
            Kind::Gauge,
            "Tables listed in the rules in force.",
            self.rules_tables.load(Relaxed),
        );
        single(
            e,
            "softdel_statements_reprepared_total",
            Kind::Counter,
            "Prepared statements prepared again because the rules changed.",
            self.reprepared.load(Relaxed),
        );
    }

    fn render_errors(&self, e: &mut Exposition) {
        single(
            e,
            "softdel_upstream_connect_errors_total",
            Kind::Counter,
            "Failed connections to the upstream server.",
            self.upstream_connect_errors.load(Relaxed),
        );
        single(
            e,
            "softdel_tls_handshake_errors_total",
            Kind::Counter,
            "Client TLS handshakes that failed.",
            self.tls_handshake_errors.load(Relaxed),
        );
    }
}

/// A family of one sample without labels.
fn single(e: &mut Exposition, name: &str, kind: Kind, help: &str, value: impl std::fmt::Display) {
    e.family(name, kind, help);
    e.sample(name, &[], value);
}
