//! Graceful shutdown: stop accepting, let sessions finish up to the grace
//! period, then close them with a FATAL 57P01.

use std::time::{Duration, Instant};

use crate::common::raw::{self, RawConn};
use crate::common::{TestProxy, connect, connect_direct};

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
    // New connections are refused.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(connect(&url).await.is_err());

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
