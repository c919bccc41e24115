//! The admin HTTP listener: /metrics for Prometheus, /healthz and /readyz
//! for orchestrators.
//!
//! HTTP/1.1 by hyper: GET and HEAD, one request per connection, bounded
//! in size, time and number of connections so that the admin port cannot
//! be used to exhaust the process.
//!
//! - `routes`: what each path answers;
//! - `connection`: one connection from accept to close, with its bounds;
//! - `server`: the listener and its connection cap.

mod connection;
mod routes;
mod server;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::pin::Pin;

pub use server::{Admin, MAX_CONNECTIONS};

/// What /readyz checks: each check returns Ok or a reason.
///
/// Checks run on every probe, concurrently with serving; a check that
/// may block (connecting upstream, say) should bound its own time. The
/// server gives all of them together at most 5 s by default
/// (`Admin::with_check_timeout`) and then answers 503.
pub trait Readiness: Send + Sync + 'static {
    fn check(&self) -> Checks<'_>;
}

/// One check's result: its name, and Ok or why it failed.
pub type Check = (&'static str, Result<(), String>);

/// What `Readiness::check` returns: the same type as spelled out,
/// `Pin<Box<dyn Future<Output = Vec<(&'static str, Result<(), String>)>> + Send + '_>>`,
/// named so that implementations can write `Checks<'_>`.
pub type Checks<'a> = Pin<Box<dyn Future<Output = Vec<Check>> + Send + 'a>>;
