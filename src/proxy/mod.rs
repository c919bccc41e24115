//! The proxy: a listener, one session per client connection, shutdown.
//!
//! A session relays the client's messages to its own upstream connection
//! (session mode) and the server's messages back, framed by header and
//! forwarded as the original bytes.

mod admin;
mod between;
mod config;
mod conn;
mod error;
mod examined;
mod from_client;
mod from_server;
mod handshake;
mod intercept;
mod limits;
mod listener;
mod policy;
mod refusals;
mod relay;
mod reload;
mod session;
mod show_deleted;
mod shutdown;
mod spliced;
mod statements;
mod tls;
mod translate;
mod unique_hint;
mod upstream;
mod wakes;
mod workers;

pub use config::{ConfigError, MIN_RULES_POLL, ProxyConfig};
pub use error::{SessionError, StartError};
pub use listener::Proxy;
pub use reload::ReloadHandle;
pub use shutdown::{Phase, ShutdownHandle};
pub use tls::{TlsError, UpstreamTlsMode};
