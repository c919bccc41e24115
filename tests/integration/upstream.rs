//! The upstream unreachable or gone: a clear FATAL naming it, and the
//! proxy serves again once the upstream is back.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_postgres::error::SqlState;

use crate::common::raw::RawConn;
use crate::common::{TestProxy, cluster, connect};

/// A TCP forwarder to the cluster that the test can take down, standing in
/// for an upstream that goes away and comes back.
struct Forwarder {
    task: JoinHandle<()>,
}

impl Forwarder {
    async fn start(addr: SocketAddr) -> Forwarder {
        let listener = TcpListener::bind(addr).await.expect("bind forwarder");
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                connections.spawn(async move {
                    let mut outbound = TcpStream::connect(cluster().addr()).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
            }
        });
        Forwarder { task }
    }

    /// Stops listening and drops every forwarded connection.
    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

fn unused_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[tokio::test]
async fn upstream_down_then_back() {
    let upstream = unused_addr();
    let proxy = TestProxy::start_with(|c| c.upstream = upstream.to_string()).await;
    let url = proxy.url("postgres", None, "postgres");

    let err = connect(&url).await.expect_err("no upstream, no session");
    assert_eq!(err.code(), Some(&SqlState::CONNECTION_FAILURE), "{err}");
    let text = err.as_db_error().map(|e| e.message()).unwrap_or_default();
    assert!(
        text.contains(&upstream.to_string()),
        "names the upstream: {text}"
    );
    assert!(text.contains("could not connect to upstream"), "{text}");

    let forwarder = Forwarder::start(upstream).await;
    let client = connect(&url).await.expect("upstream is back");
    assert_eq!(
        client
            .query_one("SELECT 3", &[])
            .await
            .unwrap()
            .get::<_, i32>(0),
        3
    );
    forwarder.stop().await;
}

#[tokio::test]
async fn upstream_lost_mid_session() {
    let upstream = unused_addr();
    let forwarder = Forwarder::start(upstream).await;
    let proxy = TestProxy::start_with(|c| c.upstream = upstream.to_string()).await;

    let mut conn = RawConn::login(proxy.addr, "postgres", "postgres").await;
    let client = proxy.connect().await;
    forwarder.stop().await;

    let msgs = conn.until_closed().await;
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let fields = msgs[0].fields();
    assert_eq!(
        (fields[&b'S'].as_str(), fields[&b'C'].as_str()),
        ("FATAL", "08006")
    );
    assert!(fields[&b'M'].contains(&upstream.to_string()), "{fields:?}");

    let err = tokio::time::timeout(Duration::from_secs(10), client.simple_query("SELECT 1"))
        .await
        .expect("no hang")
        .expect_err("session is gone");
    // The error arrives before the client's connection task has read the
    // end of the stream: wait for it rather than racing it.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while !client.is_closed() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(closed.is_ok(), "client still open after: {err}");

    // A new upstream, a new session.
    let _forwarder = Forwarder::start(upstream).await;
    proxy
        .connect()
        .await
        .simple_query("SELECT 1")
        .await
        .unwrap();
}
