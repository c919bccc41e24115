use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use softdel::proxy::{Proxy, ProxyConfig, UpstreamTlsMode, parse_duration};
use softdel::rules::Rules;

use super::signals::shutdown_on_signal;

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
    /// How long to wait for the upstream to accept a connection.
    #[arg(long, env = "SOFTDEL_CONNECT_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    connect_timeout: Duration,
    /// Database the proxy records refused statements in, with its own
    /// credentials (postgres://user:password@host:port/db).
    #[arg(long, env = "SOFTDEL_JOURNAL_URL")]
    journal_url: Option<String>,
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
    #[arg(long, env = "SOFTDEL_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, env = "SOFTDEL_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Refuse clients that do not use TLS (FATAL 28000).
    #[arg(long, env = "SOFTDEL_TLS_REQUIRED", requires = "tls_cert")]
    tls_required: bool,
    /// TLS to the upstream, as libpq's sslmode: disable, prefer, require,
    /// verify-ca or verify-full.
    #[arg(long, env = "SOFTDEL_UPSTREAM_TLS", default_value = "prefer")]
    upstream_tls: UpstreamTlsMode,
    /// CA certificate(s) (PEM) that signed the upstream's certificate; for
    /// --upstream-tls verify-ca and verify-full.
    #[arg(long, env = "SOFTDEL_UPSTREAM_CA")]
    upstream_ca: Option<PathBuf>,
}

impl ProxyArgs {
    fn config(self) -> anyhow::Result<ProxyConfig> {
        match &self.rules {
            Some(path) => {
                let rules = Rules::load(path)?;
                tracing::info!(rules = %path.display(), tables = rules.tables.len(), "rules loaded");
            }
            None => tracing::warn!("no --rules file: every statement passes through unchanged"),
        }
        let mut config = ProxyConfig::new(self.listen, self.upstream);
        config.rules = self.rules;
        config.journal_url = self.journal_url;
        config.blocked_log = self.blocked_log;
        config.shutdown_grace = self.shutdown_grace;
        config.connect_timeout = self.connect_timeout;
        config.tls_cert = self.tls_cert;
        config.tls_key = self.tls_key;
        config.tls_required = self.tls_required;
        config.upstream_tls = self.upstream_tls;
        config.upstream_ca = self.upstream_ca;
        if let Some(workers) = self.workers {
            config.workers = workers.into();
        }
        Ok(config)
    }
}

pub fn run(args: ProxyArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    super::runtime()?.block_on(serve(config))
}

pub async fn serve(config: ProxyConfig) -> anyhow::Result<()> {
    let upstream = config.upstream.clone();
    let proxy = Proxy::bind(config.clone()).await?;
    shutdown_on_signal(proxy.shutdown_handle()).await?;
    tracing::info!(listen = %proxy.local_addr()?, %upstream, "softdel proxy ready");
    proxy.run().await;
    Ok(())
}
