use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::tls::UpstreamTlsMode;
use crate::console::Token;
use crate::webhook::Target;

/// Everything a proxy needs to run; passed in, never global, so that many
/// proxies can run side by side in one process (the tests do).
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The PostgreSQL server, as `host:port`.
    pub upstream: String,
    /// Rules file; without one, every statement passes unchanged.
    pub rules: Option<PathBuf>,
    /// Database the proxy records refused statements in (its own
    /// connection, with its own credentials).
    pub journal_url: Option<String>,
    /// Where refused statements are appended when `journal_url` is unset or
    /// unreachable (JSON lines).
    pub blocked_log: PathBuf,
    /// How long open sessions may go on after SIGTERM/SIGINT.
    pub shutdown_grace: Duration,
    /// How long to wait for the upstream to accept a connection.
    pub connect_timeout: Duration,
    /// How long a client may take to send its startup packet.
    pub startup_timeout: Duration,
    /// Worker threads sessions are spread over (one runtime each).
    pub workers: usize,
    /// The certificate chain and key offered to clients that ask for TLS
    /// (PEM files); without them, clients are told TLS is not available.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Refuse clients that do not use TLS.
    pub tls_required: bool,
    /// TLS towards the upstream, as libpq's `sslmode`.
    pub upstream_tls: UpstreamTlsMode,
    /// The CA that signed the upstream's certificate (verify-ca/full).
    pub upstream_ca: Option<PathBuf>,
    /// The certificate chain and key the proxy shows the upstream when it
    /// asks for one (`clientcert` or `cert` in pg_hba.conf).
    pub upstream_cert: Option<PathBuf>,
    pub upstream_key: Option<PathBuf>,
    /// Open client connections allowed at once; beyond, FATAL 53300.
    pub max_client_connections: Option<usize>,
    /// A client that sends nothing for this long, while the server owes it
    /// nothing, is disconnected (FATAL 57P05).
    pub client_idle_timeout: Option<Duration>,
    /// Where /metrics, /healthz and /readyz are served, if anywhere.
    pub admin_listen: Option<SocketAddr>,
    /// The journal's database for the operator's console on the admin
    /// listener (as the journal's owner); `None`: no console.
    pub console_url: Option<String>,
    /// What the console's changes (an undelete) need; without it the
    /// console is read-only.
    pub console_token: Option<Token>,
    /// Host names the console answers to besides IP addresses and
    /// localhost (`--console-host`).
    pub console_hosts: Vec<String>,
    /// Where each refusal is POSTed as JSON (`--notify-url`).
    pub notify_url: Option<Target>,
    /// How often the rules file is checked for changes; at least
    /// `MIN_RULES_POLL`.
    pub rules_poll: Duration,
}

/// The rules file is checked at most this often (each check is a stat).
pub const MIN_RULES_POLL: Duration = Duration::from_millis(100);
/// Worker threads a proxy may run.
pub const MAX_WORKERS: usize = 1024;

/// A setting no proxy can run with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("--rules-poll must be at least {MIN_RULES_POLL:?}, not {0:?}")]
    RulesPoll(Duration),
    #[error("--workers must be from 1 to {MAX_WORKERS}, not {0}")]
    Workers(usize),
    #[error("--max-client-connections must be at least 1 (leave it unset for no limit)")]
    NoClientConnections,
    #[error("--client-idle-timeout must be longer than 0 (leave it unset for none)")]
    ZeroIdleTimeout,
    #[error("--console-url needs --admin-listen: the console is served there")]
    ConsoleWithoutAdmin,
    #[error("--console-token needs --console-url: there is no console to protect")]
    TokenWithoutConsole,
}

impl ProxyConfig {
    pub fn new(listen: SocketAddr, upstream: impl Into<String>) -> ProxyConfig {
        ProxyConfig {
            listen,
            upstream: upstream.into(),
            rules: None,
            journal_url: None,
            blocked_log: PathBuf::from("softdel-blocked.jsonl"),
            shutdown_grace: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            startup_timeout: Duration::from_secs(60),
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            tls_cert: None,
            tls_key: None,
            tls_required: false,
            upstream_tls: UpstreamTlsMode::default(),
            upstream_ca: None,
            upstream_cert: None,
            upstream_key: None,
            max_client_connections: None,
            client_idle_timeout: None,
            admin_listen: None,
            console_url: None,
            console_token: None,
            console_hosts: Vec::new(),
            notify_url: None,
            rules_poll: Duration::from_secs(2),
        }
    }

    /// Every setting checked, before anything starts (the TLS files are
    /// checked as they are loaded).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.rules_poll < MIN_RULES_POLL {
            return Err(ConfigError::RulesPoll(self.rules_poll));
        }
        if !(1..=MAX_WORKERS).contains(&self.workers) {
            return Err(ConfigError::Workers(self.workers));
        }
        if self.max_client_connections == Some(0) {
            return Err(ConfigError::NoClientConnections);
        }
        if self.client_idle_timeout == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroIdleTimeout);
        }
        if self.console_url.is_some() && self.admin_listen.is_none() {
            return Err(ConfigError::ConsoleWithoutAdmin);
        }
        if self.console_token.is_some() && self.console_url.is_none() {
            return Err(ConfigError::TokenWithoutConsole);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let good = ProxyConfig::new(([127, 0, 0, 1], 0).into(), "127.0.0.1:5432");
        assert_eq!(good.validate(), Ok(()));
        let bad = |change: fn(&mut ProxyConfig)| {
            let mut config = good.clone();
            change(&mut config);
            config.validate().unwrap_err().to_string()
        };
        assert_eq!(
            bad(|c| c.rules_poll = Duration::ZERO),
            "--rules-poll must be at least 100ms, not 0ns"
        );
        assert_eq!(
            bad(|c| c.workers = 0),
            "--workers must be from 1 to 1024, not 0"
        );
        assert!(bad(|c| c.max_client_connections = Some(0)).contains("at least 1"));
        assert!(bad(|c| c.client_idle_timeout = Some(Duration::ZERO)).contains("longer than 0"));
        assert_eq!(
            bad(|c| c.console_url = Some("postgres://localhost/shop".into())),
            "--console-url needs --admin-listen: the console is served there"
        );
        assert_eq!(
            bad(|c| c.console_token = Some(Token::new("0123456789abcdef").unwrap())),
            "--console-token needs --console-url: there is no console to protect"
        );
    }
}
