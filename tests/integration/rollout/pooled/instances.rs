//! Several softdel instances: cancel requests through any of them with the
//! same upstream; and a pooler in front of softdel, which makes its clients
//! one softdel session.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use super::column;
use crate::common::pgbouncer::{Bouncer, BouncerOptions};
use crate::common::{TestProxy, cluster, connect};
use crate::softdelete::shop::Shop;

/// Runs `sql` on `client` and, 300 ms in, sends its cancel request to
/// `addr` (where a load balancer may send it: any instance); the outcome
/// and how long the statement took.
async fn cancelled_through(
    client: &Client,
    sql: &str,
    addr: SocketAddr,
) -> (Result<(), tokio_postgres::Error>, Duration) {
    let token = client.cancel_token();
    let cancel = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stream = TcpStream::connect(addr).await.unwrap();
        token.cancel_query_raw(stream, NoTls).await.unwrap();
    };
    let started = Instant::now();
    let (result, ()) = tokio::join!(client.batch_execute(sql), cancel);
    (result, started.elapsed())
}

#[tokio::test]
async fn a_cancel_reaches_the_query_through_any_softdel_with_the_same_upstream() {
    let bouncer = Bouncer::start(&cluster().addr(), BouncerOptions::default()).await;
    let upstream = bouncer.addr.to_string();
    let one = TestProxy::start_with(|c| c.upstream.clone_from(&upstream)).await;
    let two = TestProxy::start_with(|c| c.upstream = upstream).await;
    // An instance with another upstream: PostgreSQL itself.
    let elsewhere = TestProxy::start().await;
    let client = one.connect().await;

    let (result, took) = cancelled_through(&client, "SELECT pg_sleep(30)", two.addr).await;
    let error = result.unwrap_err();
    assert_eq!(error.code(), Some(&SqlState::QUERY_CANCELED), "{error}");
    assert!(took < Duration::from_secs(10), "{took:?}");

    // The key is the pooler's: PostgreSQL knows nothing of it.
    let (result, took) = cancelled_through(&client, "SELECT pg_sleep(2)", elsewhere.addr).await;
    assert!(result.is_ok(), "{result:?}");
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert_eq!(column(&client, "SELECT 1").await, ["1"]);
}

#[tokio::test]
async fn a_pooler_in_front_of_softdel_makes_its_clients_one_softdel_session() {
    let shop = Shop::open().await;
    let bouncer = Bouncer::start(&shop.proxy.addr.to_string(), BouncerOptions::default()).await;
    let url = bouncer.url("postgres", &shop.database);
    let a = connect(&format!("{url}&application_name=web-a"))
        .await
        .unwrap();
    let b = connect(&format!("{url}&application_name=web-b"))
        .await
        .unwrap();
    a.batch_execute("DELETE FROM orders WHERE id = 11")
        .await
        .unwrap();
    let read = "SELECT id FROM orders WHERE id = 11";
    assert!(column(&b, read).await.is_empty());
    // softdel sees the pooler's one connection: A's setting is B's too.
    a.batch_execute("SET softdel.show_deleted = on")
        .await
        .unwrap();
    assert_eq!(column(&b, read).await, ["11"]);
    b.batch_execute("DELETE FROM orders WHERE id = 12")
        .await
        .unwrap();
    let sessions = "SELECT count(*), count(DISTINCT connection_id) FROM softdel.operations";
    let row = shop.direct.query_one(sessions, &[]).await.unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, i64>(1)),
        (2, 1),
        "one softdel session for both clients' deletes"
    );
}
