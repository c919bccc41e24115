use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use softdel::console::Token;
use softdel::duration::parse_duration;
use softdel::proxy::{Proxy, ProxyConfig, UpstreamTlsMode};

use super::signals::{reload_on_sighup, shutdown_on_signal};

#[derive(Args)]
pub struct ProxyArgs {
    /// Address to accept client connections on.
    #[arg(long, env = "SOFTDEL_LISTEN", default_value = "127.0.0.1:6432")]
    listen: SocketAddr,
    /// PostgreSQL server to forward to, as host:port.
    #[arg(long, env = "SOFTDEL_UPSTREAM", default_value = "127.0.0.1:5432")]
    upstream: String,
    /// Rules file (YAML).
    #[arg(long, env = "SOFTDEL_RULES")]
    rules: Option<PathBuf>,
    /// How long open sessions may finish after SIGTERM/SIGINT (e.g. 30s).
    #[arg(long, env = "SOFTDEL_SHUTDOWN_GRACE", default_value = "30s", value_parser = parse_duration)]
    shutdown_grace: Duration,
    /// How long to wait for the upstream to accept a connection (TCP and
    /// TLS handshake together).
    #[arg(long, visible_alias = "upstream-connect-timeout", env = "SOFTDEL_CONNECT_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    connect_timeout: Duration,
    /// Open client connections allowed at once; beyond it, clients get
    /// FATAL 53300 "too many clients" [default: no limit].
    #[arg(long, env = "SOFTDEL_MAX_CLIENT_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    max_client_connections: Option<u32>,
    /// Disconnect a client that sends nothing for this long while no
    /// statement of its is running (FATAL 57P05), e.g. 10m [default: never].
    #[arg(long, env = "SOFTDEL_CLIENT_IDLE_TIMEOUT", value_parser = parse_duration)]
    client_idle_timeout: Option<Duration>,
    /// Address for the admin HTTP listener: /metrics (Prometheus),
    /// /healthz, /readyz, e.g. 127.0.0.1:9930 [default: off].
    #[arg(long, env = "SOFTDEL_ADMIN_LISTEN")]
    admin_listen: Option<SocketAddr>,
    /// How often the rules file is checked for changes (SIGHUP reloads at
    /// once).
    #[arg(long, env = "SOFTDEL_RULES_POLL", default_value = "2s", value_parser = parse_duration)]
    rules_poll: Duration,
    /// Database the proxy records refused statements in, with its own
    /// credentials (postgres://user:password@host:port/db).
    #[arg(long, env = "SOFTDEL_JOURNAL_URL")]
    journal_url: Option<String>,
    /// The journal's database for the operator's console on
    /// --admin-listen (its pages and /api), as the journal's owner
    /// [default: no console].
    #[arg(long, env = "SOFTDEL_CONSOLE_URL", hide_env_values = true)]
    console_url: Option<String>,
    /// Webhook each refused statement is POSTed to as JSON, e.g.
    /// http://alerts.internal:8080/softdel (http only; queued, retried, never
    /// slowing the client) [default: none].
    #[arg(long, env = "SOFTDEL_NOTIFY_URL")]
    notify_url: Option<softdel::webhook::Target>,
    /// Host name the console also answers to (besides IP addresses and
    /// localhost), e.g. the name a TLS proxy in front of it forwards;
    /// repeat it, or separate names with commas.
    #[arg(
        long,
        env = "SOFTDEL_CONSOLE_HOSTS",
        value_delimiter = ',',
        value_parser = softdel::console::host::name
    )]
    console_host: Vec<String>,
    /// The token the console's changes (an undelete, an undo) need: a
    /// bearer token for the API, the login form's for the pages; without
    /// it the console is read-only. At least 16 characters.
    #[arg(long, env = "SOFTDEL_CONSOLE_TOKEN", hide_env_values = true, value_parser = parse_token)]
    console_token: Option<Token>,
    /// File refused statements are appended to (JSON lines) when there is no
    /// --journal-url or it cannot be reached.
    #[arg(
        long,
        env = "SOFTDEL_BLOCKED_LOG",
        default_value = "softdel-blocked.jsonl"
    )]
    blocked_log: PathBuf,
    /// Worker threads sessions are spread over [default: one per CPU].
    #[arg(long, env = "SOFTDEL_WORKERS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    workers: Option<u16>,
    /// Certificate chain (PEM) offered to clients that ask for TLS.
    #[arg(long, env = "SOFTDEL_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, env = "SOFTDEL_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Refuse clients that do not use TLS (FATAL 28000).
    #[arg(long, env = "SOFTDEL_TLS_REQUIRED")]
    tls_required: bool,
    /// TLS to the upstream, as libpq's sslmode.
    #[arg(long, env = "SOFTDEL_UPSTREAM_TLS", default_value = "prefer")]
    upstream_tls: UpstreamTlsMode,
    /// CA certificate(s) (PEM) that signed the upstream's certificate; for
    /// --upstream-tls verify-ca and verify-full.
    #[arg(long, env = "SOFTDEL_UPSTREAM_CA")]
    upstream_ca: Option<PathBuf>,
    /// Client certificate chain (PEM) shown to the upstream when it asks
    /// for one (pg_hba.conf `cert`, or `clientcert=verify-ca/full`).
    #[arg(long, env = "SOFTDEL_UPSTREAM_CERT")]
    upstream_cert: Option<PathBuf>,
    /// Private key (PEM) of --upstream-cert.
    #[arg(long, env = "SOFTDEL_UPSTREAM_KEY")]
    upstream_key: Option<PathBuf>,
}

impl ProxyArgs {
    fn config(self) -> anyhow::Result<ProxyConfig> {
        let mut config = ProxyConfig::new(self.listen, self.upstream);
        config.rules = self.rules;
        config.journal_url = self.journal_url;
        config.blocked_log = self.blocked_log;
        config.shutdown_grace = self.shutdown_grace;
        config.connect_timeout = self.connect_timeout;
        config.max_client_connections = self.max_client_connections.map(|n| n as usize);
        config.client_idle_timeout = self.client_idle_timeout.filter(|d| !d.is_zero());
        config.admin_listen = self.admin_listen;
        config.console_url = self.console_url;
        config.console_token = self.console_token;
        config.console_hosts = self.console_host;
        config.notify_url = self.notify_url;
        config.rules_poll = self.rules_poll;
        config.tls_cert = self.tls_cert;
        config.tls_key = self.tls_key;
        config.tls_required = self.tls_required;
        config.upstream_tls = self.upstream_tls;
        config.upstream_ca = self.upstream_ca;
        config.upstream_cert = self.upstream_cert;
        config.upstream_key = self.upstream_key;
        if let Some(workers) = self.workers {
            config.workers = workers.into();
        }
        Ok(config)
    }
}

pub fn run(args: ProxyArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    super::runtime()?.block_on(async {
        start(config).await?.run().await;
        Ok(())
    })
}

/// Binds the proxy, installs its signal handlers and says it is ready:
/// once this returns, clients can connect (`Proxy::run` serves them).
pub async fn start(config: ProxyConfig) -> anyhow::Result<Proxy> {
    let upstream = config.upstream.clone();
    // What the ready line says of TLS on each side.
    let client_tls = match (&config.tls_cert, config.tls_required) {
        (None, _) => "off",
        (Some(_), false) => "offered",
        (Some(_), true) => "required",
    };
    let upstream_tls = config.upstream_tls.as_str();
    let proxy = Proxy::bind(config.clone()).await?;
    shutdown_on_signal(proxy.shutdown_handle()).await?;
    reload_on_sighup(proxy.reload_handle())?;
    if let Some(admin) = proxy.admin_addr() {
        tracing::info!(%admin, "admin listener: /metrics, /healthz, /readyz");
    }
    tracing::info!(
        listen = %proxy.local_addr()?,
        %upstream,
        client_tls,
        upstream_tls,
        "softdel proxy ready"
    );
    Ok(proxy)
}

fn parse_token(text: &str) -> Result<Token, String> {
    Token::new(text).map_err(|e| e.to_string())
}
