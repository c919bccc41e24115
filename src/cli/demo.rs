use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use softdel::pgcluster::{ClusterOptions, TempCluster};
use softdel::proxy::ProxyConfig;
use softdel::rules::Rules;

use super::demo_env::DemoEnv;

/// The rules the demo applies unless told otherwise.
const EXAMPLE_RULES: &str = include_str!("../../rules/example.yaml");
/// Tables and data for those rules.
const DEMO_SHOP: &str = include_str!("demo.sql");

#[derive(Args)]
pub struct DemoArgs {
    /// Address the proxy listens on.
    #[arg(long, env = "SOFTDEL_LISTEN", default_value = "127.0.0.1:6432")]
    listen: SocketAddr,
    /// Address of the admin listener, where the operator's console is
    /// served (with a token the demo makes up and writes to --env-file).
    #[arg(long, default_value = "127.0.0.1:9930")]
    admin_listen: SocketAddr,
    /// Rules file [default: rules/example.yaml, with its tables created and filled].
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Where to write the environment a reader sources in another
    /// terminal (PROXY, DIRECT, SOFTDEL_DATABASE_URL, softdel on PATH);
    /// removed when the demo stops.
    #[arg(long, value_name = "FILE", default_value = "softdel-demo.env")]
    env_file: PathBuf,
}

/// Starts a throwaway PostgreSQL (trust authentication, user `postgres`)
/// with the journal installed and a small shop in it, then the proxy in
/// front of it until Ctrl-C; the cluster is removed on exit.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.rules {
        Rules::load(path)?;
    }
    let runtime = super::runtime()?;
    runtime.block_on(port_is_free(args.listen))?;
    runtime.block_on(port_is_free(args.admin_listen))?;
    eprintln!("softdel demo: starting a throwaway PostgreSQL...");
    let cluster = TempCluster::start(&ClusterOptions::default())
        .context("cannot start a throwaway PostgreSQL")?;
    let dir = cluster.dir().to_path_buf();
    let rules = match args.rules {
        Some(path) => path,
        None => {
            let path = dir.join("rules.yaml");
            std::fs::write(&path, EXAMPLE_RULES).context("cannot write the demo rules")?;
            path
        }
    };
    let mut config = ProxyConfig::new(args.listen, cluster.addr());
    config.rules = Some(rules.clone());
    config.blocked_log = dir.join("blocked.jsonl");
    let token = softdel::console::random_token().context("cannot make the console's token")?;
    config.admin_listen = Some(args.admin_listen);
    config.console_url = Some(cluster.url("postgres"));
    config.console_token = Some(softdel::console::Token::new(&token)?);
    let example = config.rules.as_deref() == Some(dir.join("rules.yaml").as_path());
    runtime.block_on(prepare(&cluster.url("postgres"), &rules, example))?;
    let installed = if example {
        "with the journal and the guard installed".to_owned()
    } else {
        format!(
            "with the journal installed; create your tables, then install the guard with\n    \
             softdel init --database-url postgres://postgres@{}/postgres --rules {}",
            cluster.addr(),
            rules.display()
        )
    };
    // Bound before it says where to connect.
    let proxy = runtime.block_on(super::proxy::start(config.clone()))?;
    let env = DemoEnv {
        proxy_url: format!("postgres://postgres@{}/postgres", proxy.local_addr()?),
        direct_url: cluster.url("postgres"),
        console_url: proxy
            .admin_addr()
            .map(|addr| format!("http://{addr}"))
            .unwrap_or_default(),
        console_token: token,
    };
    let env_file = std::path::absolute(&args.env_file).unwrap_or(args.env_file);
    let written = env.write(&env_file)?;
    eprintln!(
        "softdel demo: PostgreSQL is at {upstream} (direct, bypassing softdel), {installed}\n\
         softdel demo: rules: {rules}\n\
         softdel demo: refused statements are also appended to {blocked}\n\
         softdel demo: the environment for another terminal, also in {file}:\n\n\
         {exports}\n\
         softdel demo: in another terminal, connect through softdel with\n\n    \
         source {file}\n    \
         psql \"$PROXY\"\n\n\
         softdel demo: the operator's console is at {console} (log in with $SOFTDEL_CONSOLE_TOKEN)\n\n\
         (Ctrl-C stops both and deletes the throwaway database)",
        upstream = cluster.addr(),
        rules = rules.display(),
        blocked = config.blocked_log.display(),
        file = env_file.display(),
        exports = indent(&env.shown()?),
        console = env.console_url,
    );
    runtime.block_on(proxy.run());
    drop(written);
    drop(cluster);
    Ok(())
}

/// Installs the journal; with the example rules, the shop's tables and
/// rows too, and the guard on them.
async fn prepare(url: &str, rules: &Path, example: bool) -> anyhow::Result<()> {
    let client = super::db::connect(url).await?;
    if !example {
        softdel::journal::install(&client).await?;
        return Ok(());
    }
    client
        .batch_execute(DEMO_SHOP)
        .await
        .context("cannot create the demo shop")?;
    let loaded = Rules::load(rules)?;
    softdel::guard::install(&client, Some((&loaded, rules)), &[])
        .await
        .context("cannot install the guard")?;
    Ok(())
}

/// The environment file's exports, indented as the banner's commands are.
fn indent(text: &str) -> String {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| format!("    {line}\n"))
        .collect()
}

/// A second demo (or anything else on the port) stops here, before a
/// PostgreSQL is started for nothing.
async fn port_is_free(listen: SocketAddr) -> anyhow::Result<()> {
    let bound = tokio::net::TcpListener::bind(listen).await;
    bound.map(drop).with_context(|| {
        format!(
            "cannot listen on {listen} (is another softdel demo running? stop it, or give \
             another address and file: softdel demo --listen 127.0.0.1:6433 --env-file demo2.env)"
        )
    })
}
