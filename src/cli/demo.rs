use std::net::SocketAddr;

use anyhow::Context;
use clap::Args;
use softdel::pgcluster::{ClusterOptions, TempCluster};
use softdel::proxy::ProxyConfig;

#[derive(Args)]
pub struct DemoArgs {
    /// Address the proxy listens on.
    #[arg(long, env = "SOFTDEL_LISTEN", default_value = "127.0.0.1:6432")]
    listen: SocketAddr,
}

/// Starts a throwaway PostgreSQL (trust authentication, user `postgres`),
/// then the proxy in front of it until Ctrl-C; the cluster is removed on
/// exit.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    eprintln!("softdel demo: starting a throwaway PostgreSQL...");
    let cluster = TempCluster::start(&ClusterOptions::default())
        .context("cannot start a throwaway PostgreSQL")?;
    let config = ProxyConfig::new(args.listen, cluster.addr());
    eprintln!(
        "softdel demo: PostgreSQL is at {}; connect through softdel with\n\n    \
         psql postgres://postgres@{}/postgres\n\n\
         (Ctrl-C stops both and deletes the throwaway database)",
        cluster.addr(),
        args.listen
    );
    let served = super::runtime()?.block_on(super::proxy::serve(config));
    drop(cluster);
    served
}
