//! --max-client-connections, --client-idle-timeout and the upstream
//! connect timeout.

use std::time::{Duration, Instant};

use super::{sample, scrape};
use crate::clients::{psql, run};
use crate::common::{TestProxy, connect, raw::RawConn};
use crate::softdelete::shop::sqlstate;

#[tokio::test]
async fn clients_beyond_the_limit_are_told_too_many_connections() {
    let proxy = TestProxy::start_with(|config| {
        config.max_client_connections = Some(2);
        config.admin_listen = Some(([127, 0, 0, 1], 0).into());
    })
    .await;
    let url = proxy.url("postgres", None, "postgres");
    let first = connect(&url).await.unwrap();
    let second = connect(&url).await.unwrap();

    let err = connect(&url).await.expect_err("a third is refused");
    assert_eq!(sqlstate(&err), "53300");
    let (ok, _, err) = run(&psql(), &[&url, "-X", "-c", "SELECT 1"], None).await;
    assert!(!ok);
    assert!(
        err.contains("FATAL:  softdel: sorry, too many clients already"),
        "{err}"
    );
    // The ones in are unaffected.
    first.simple_query("SELECT 1").await.unwrap();

    drop(second);
    let mut third = None;
    for _ in 0..50 {
        if let Ok(client) = connect(&url).await {
            third = Some(client);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let third = third.expect("a seat came free");
    third.simple_query("SELECT 1").await.unwrap();
    let metrics = scrape(proxy.admin.unwrap()).await;
    let refused = sample(
        &metrics,
        r#"softdel_client_connections_refused_total{reason="too_many_connections"}"#,
    );
    assert!(refused >= 2.0, "{refused}");
    assert_eq!(sample(&metrics, "softdel_client_connections"), 2.0);
    proxy.stop().await;
}

#[tokio::test]
async fn idle_clients_are_disconnected_busy_ones_are_not() {
    let proxy = TestProxy::start_with(|config| {
        config.client_idle_timeout = Some(Duration::from_millis(300));
    })
    .await;
    // Waiting on its own long query is not idle.
    let client = connect(&proxy.url("postgres", None, "postgres"))
        .await
        .unwrap();
    client.simple_query("SELECT pg_sleep(1)").await.unwrap();

    // Silent, and owed nothing: told why, then closed.
    let mut conn = RawConn::login(proxy.addr, "postgres", "postgres").await;
    let started = Instant::now();
    let messages = conn.until_closed().await;
    let fatal = messages.iter().find(|m| m.tag == b'E').expect("a FATAL");
    assert_eq!(fatal.sqlstate().as_deref(), Some("57P05"));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(5),
        "{waited:?}"
    );

    // A client that stops in the middle of a message, too.
    let mut conn = RawConn::login(proxy.addr, "postgres", "postgres").await;
    conn.send(b"Q\0\0\0\x20SELECT").await;
    let messages = conn.until_closed().await;
    assert!(
        messages
            .iter()
            .any(|m| m.sqlstate().as_deref() == Some("57P05"))
    );
    proxy.stop().await;
}

#[tokio::test]
async fn an_upstream_that_never_answers_times_out() {
    // Accepts connections, never says a word (not even to SSLRequest).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let keep = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let proxy = TestProxy::start_with(|config| {
        config.upstream = addr.to_string();
        config.connect_timeout = Duration::from_millis(300);
    })
    .await;
    let started = Instant::now();
    let err = connect(&proxy.url("postgres", None, "postgres"))
        .await
        .expect_err("no upstream");
    assert!(started.elapsed() < Duration::from_secs(5));
    let message = err
        .as_db_error()
        .map(|e| e.message().to_owned())
        .unwrap_or_default();
    assert!(
        message.contains(&format!("could not connect to upstream {addr}")),
        "{message}"
    );
    assert!(message.contains("timed out after 300ms"), "{message}");
    let rendered = proxy.metrics.render();
    assert!(
        rendered.contains("softdel_upstream_connect_errors_total 1\n"),
        "{rendered}"
    );
    proxy.stop().await;
    keep.abort();
}
