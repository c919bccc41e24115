//! Graceful shutdown: stop accepting, let sessions finish up to the grace
//! period, then close them with a FATAL 57P01.

use std::time::{Duration, Instant};

use crate::common::raw::{self, RawConn};
use crate::common::{TestProxy, connect, connect_direct, copy_in_extended};

fn assert_shutdown_fatal(msgs: &[raw::Msg]) {
    let last = msgs.last().expect("a goodbye message");
    let fields = last.fields();
    assert_eq!(
        (last.tag, fields[&b'S'].as_str()),
        (b'E', "FATAL"),
        "{msgs:?}"
    );
    assert_eq!(fields[&b'C'], "57P01");
    assert!(fields[&b'M'].contains("shutting down"));
}

/// A new session while draining is refused with 57P03.
async fn assert_cannot_connect_now(url: &str) {
    let err = connect(url)
        .await
        .expect_err("no new sessions while draining");
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::CANNOT_CONNECT_NOW),
        "{err}"
    );
}

#[tokio::test]
async fn idle_sessions_close_and_transactions_finish() {
    let proxy = TestProxy::start_with(|c| c.shutdown_grace = Duration::from_secs(30)).await;
    let url = proxy.url("postgres", None, "postgres");
    let mut idle = RawConn::login(proxy.addr, "postgres", "postgres").await;
    let mut busy = RawConn::login(proxy.addr, "postgres", "postgres").await;
    busy.send(&raw::query("BEGIN")).await;
    busy.until_ready().await;

    let started = Instant::now();
    proxy.shutdown.shutdown();

    // The idle session is closed at once, with a reason.
    assert_shutdown_fatal(&idle.until_closed().await);
    // New connections are refused, and told why.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_cannot_connect_now(&url).await;

    // The open transaction may finish; then its session closes too.
    busy.send(&raw::query("SELECT 42")).await;
    let msgs = busy.until_ready().await;
    assert!(msgs.iter().any(|m| m.tag == b'D'), "{msgs:?}");
    busy.send(&raw::query("COMMIT")).await;
    let msgs = busy.until_closed().await;
    assert!(
        msgs.iter()
            .any(|m| m.tag == b'C' && m.body.starts_with(b"COMMIT")),
        "{msgs:?}"
    );
    assert_shutdown_fatal(&msgs);

    tokio::time::timeout(Duration::from_secs(10), proxy.task)
        .await
        .expect("proxy stops once sessions are gone")
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "did not wait for the grace period"
    );
}

#[tokio::test]
async fn grace_period_bounds_the_wait() {
    let proxy = TestProxy::start_with(|c| c.shutdown_grace = Duration::from_millis(500)).await;
    let mut busy = RawConn::login(proxy.addr, "postgres", "postgres").await;
    busy.send(&raw::query("SELECT pg_sleep(30)")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    proxy.shutdown.shutdown();
    let msgs = busy.until_closed().await;
    assert_shutdown_fatal(&msgs);
    tokio::time::timeout(Duration::from_secs(10), proxy.task)
        .await
        .expect("proxy stops")
        .unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(8),
        "{waited:?}"
    );

    // The query the closed session was running was cancelled, not left to
    // run on in a backend nobody is listening to.
    let direct = connect_direct().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let running: i64 = direct
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if running == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the backend still runs the query"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn while_draining_cancels_get_through_and_new_sessions_are_refused() {
    let proxy = TestProxy::start_with(|c| c.shutdown_grace = Duration::from_secs(30)).await;
    let url = proxy.url("postgres", None, "postgres");
    let client = connect(&url).await.unwrap();
    let token = client.cancel_token();
    let running = tokio::spawn(async move {
        let result = client.simple_query("SELECT pg_sleep(30)").await;
        (client, result)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.shutdown.shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;

    assert_cannot_connect_now(&url).await;

    token
        .cancel_query(tokio_postgres::NoTls)
        .await
        .expect("the cancel request reaches the server");
    let (_client, result) = running.await.unwrap();
    let err = result.expect_err("cancelled");
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::QUERY_CANCELED),
        "{err}"
    );
    tokio::time::timeout(Duration::from_secs(10), proxy.task)
        .await
        .expect("the now idle session closes and the proxy stops")
        .unwrap();
}

#[tokio::test]
async fn sessions_that_used_extended_copy_still_close_promptly() {
    let proxy = TestProxy::start_with(|c| c.shutdown_grace = Duration::from_secs(30)).await;
    let client = proxy.connect().await;
    copy_in_extended(&client).await;
    // So does an error in the middle of a pipelined extended batch.
    let bad = client.prepare("SELECT no_such_column FROM n").await;
    assert!(bad.is_err());
    client.simple_query("SELECT 1").await.unwrap();

    let started = Instant::now();
    proxy.shutdown.shutdown();
    tokio::time::timeout(Duration::from_secs(10), proxy.task)
        .await
        .expect("proxy stops")
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(client.is_closed() || client.simple_query("SELECT 1").await.is_err());
}
