//! The test harness: one throwaway PostgreSQL per test process, and a
//! softdel proxy in front of it per test, in-process on port 0.
//!
//! ```ignore
//! let proxy = TestProxy::start().await;
//! let client = proxy.connect().await;
//! ```

#![allow(dead_code)]

pub mod browser;
pub mod pgbouncer;
pub mod raw;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use softdel::metrics::Metrics;
use softdel::pgcluster::{ClusterOptions, TempCluster};
use softdel::proxy::{Proxy, ProxyConfig, ReloadHandle, ShutdownHandle};
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};

pub const MD5_USER: (&str, &str) = ("md5user", "md5 pass'word");
pub const SCRAM_USER: (&str, &str) = ("scramuser", "scram pässword");

/// The process's cluster, started on first use. Users `md5user` and
/// `scramuser` log in with passwords (md5 and scram-sha-256); everyone
/// else is trusted.
pub fn cluster() -> &'static TempCluster {
    static CLUSTER: OnceLock<TempCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let options = ClusterOptions {
            hba: vec![
                format!("host all {} 127.0.0.1/32 md5", MD5_USER.0),
                format!("host all {} 127.0.0.1/32 scram-sha-256", SCRAM_USER.0),
            ],
            settings: vec![],
            files: vec![],
        };
        let cluster = TempCluster::start(&options).expect("start a throwaway PostgreSQL");
        let setup = format!(
            "SET password_encryption = 'md5'; CREATE ROLE {} LOGIN PASSWORD '{}';
             SET password_encryption = 'scram-sha-256'; CREATE ROLE {} LOGIN PASSWORD '{}';",
            MD5_USER.0,
            MD5_USER.1.replace('\'', "''"),
            SCRAM_USER.0,
            SCRAM_USER.1.replace('\'', "''"),
        );
        cluster.psql("postgres", &setup).expect("create test roles");
        cluster
    })
}

/// A proxy running in this test's runtime.
pub struct TestProxy {
    pub addr: SocketAddr,
    pub shutdown: ShutdownHandle,
    pub task: JoinHandle<()>,
    /// The admin listener, when the config asked for one.
    pub admin: Option<SocketAddr>,
    pub reload: ReloadHandle,
    pub metrics: Arc<Metrics>,
}

impl TestProxy {
    /// A proxy in front of the process's cluster.
    pub async fn start() -> TestProxy {
        TestProxy::start_with(|_| {}).await
    }

    /// A proxy whose config the test adjusts first.
    pub async fn start_with(adjust: impl FnOnce(&mut ProxyConfig)) -> TestProxy {
        let mut config = ProxyConfig::new(([127, 0, 0, 1], 0).into(), cluster().addr());
        // Refusals are recorded outside the repository.
        config.blocked_log =
            std::env::temp_dir().join(format!("softdel-blocked-{}.jsonl", std::process::id()));
        adjust(&mut config);
        let proxy = Proxy::bind(config).await.expect("bind proxy");
        let addr = proxy.local_addr().unwrap();
        let shutdown = proxy.shutdown_handle();
        let (admin, reload, metrics) = (proxy.admin_addr(), proxy.reload_handle(), proxy.metrics());
        let task = tokio::spawn(proxy.run());
        TestProxy {
            addr,
            shutdown,
            task,
            admin,
            reload,
            metrics,
        }
    }

    pub fn url(&self, user: &str, password: Option<&str>, database: &str) -> String {
        url(self.addr, user, password, database)
    }

    /// A tokio-postgres client through the proxy, as the superuser.
    pub async fn connect(&self) -> Client {
        connect(&self.url("postgres", None, "postgres"))
            .await
            .expect("connect through proxy")
    }

    /// Shuts the proxy down and waits until it has stopped.
    pub async fn stop(self) {
        self.shutdown.shutdown();
        tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("proxy stops")
            .expect("proxy task");
    }
}

/// A tokio-postgres client straight to the cluster, bypassing the proxy.
pub async fn connect_direct() -> Client {
    connect(&cluster().url("postgres"))
        .await
        .expect("connect directly")
}

pub fn url(addr: SocketAddr, user: &str, password: Option<&str>, database: &str) -> String {
    let password = password
        .map(|p| format!(":{}", encode(p)))
        .unwrap_or_default();
    format!("postgres://{user}{password}@{addr}/{database}?connect_timeout=10")
}

/// Percent-encodes a URL userinfo part.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

pub async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// A database of its own for a test that changes schema.
pub fn fresh_database(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let salt = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let name = format!("{prefix}_{:08x}", salt as u32);
    cluster()
        .psql("postgres", &format!("CREATE DATABASE {name}"))
        .expect("create database");
    name
}

/// Copies two rows into a new temporary table `n` (one column `i int`).
/// tokio-postgres sends COPY with the extended protocol: the Sync sent with
/// the batch arrives while the server reads the data, which ignores it.
pub async fn copy_in_extended(client: &Client) {
    use futures_util::SinkExt;
    client
        .batch_execute("CREATE TEMP TABLE n (i int)")
        .await
        .unwrap();
    let sink = client.copy_in("COPY n FROM STDIN").await.unwrap();
    futures_util::pin_mut!(sink);
    sink.send(bytes::Bytes::from_static(b"1\n2\n"))
        .await
        .unwrap();
    assert_eq!(sink.finish().await.unwrap(), 2);
}
