//! softdel: a PostgreSQL wire-protocol proxy that makes deletes recoverable.
//!
//! Layers, each knowing only the one below it:
//! - [`protocol`]: framing and the few message codecs the proxy needs (sans-IO);
//! - [`proxy`]: listener, per-connection sessions, shutdown;
//! - [`rules`], [`rewrite`]: what the proxy does to a statement (pure);
//! - [`journal`]: the `softdel` schema; [`guard`]: the triggers that journal
//!   or refuse every delete inside PostgreSQL; [`ops`]: undelete, purge, check;
//! - [`pgcluster`]: throwaway PostgreSQL clusters for `softdel demo` and tests;
//! - [`metrics`]: the proxy's counters in Prometheus text format;
//!   [`admin`]: the HTTP listener serving them, with health and readiness;
//! - [`text`]: wording shared by messages for people;
//! - [`duration`]: the one grammar of durations on the command line;
//!   [`accept`]: what both listeners do when accept fails.
#![forbid(unsafe_code)]

pub mod accept;
pub mod admin;
pub mod console;
pub mod duration;
pub mod guard;
pub mod journal;
pub mod metrics;
pub mod ops;
pub mod pgcluster;
pub mod protocol;
pub mod proxy;
pub mod rewrite;
pub mod rules;
pub mod text;
pub mod webhook;
