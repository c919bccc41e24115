//! /metrics, /healthz and /readyz, scraped and parsed.

use super::{http_get, sample, scrape};
use crate::common::{TestProxy, copy_in_extended};
use crate::softdelete::shop::{Shop, sqlstate};

#[tokio::test]
async fn metrics_count_what_the_proxy_did() {
    let shop = Shop::open_with(|config, _| {
        config.admin_listen = Some(([127, 0, 0, 1], 0).into());
    })
    .await;
    let admin = shop.proxy.admin.expect("admin listener");
    let before = scrape(admin).await;
    assert_eq!(sample(&before, "softdel_client_connections"), 0.0);

    let client = shop.client().await;
    client.simple_query("SELECT 1").await.unwrap();
    for id in [1, 2] {
        let sql = format!("DELETE FROM orders WHERE id = {id}");
        client.execute(sql.as_str(), &[]).await.unwrap();
    }
    // The same text twice: the second decision comes from the cache.
    client
        .batch_execute("DELETE FROM refunds WHERE id = 1")
        .await
        .unwrap();
    client
        .batch_execute("DELETE FROM refunds WHERE id = 1")
        .await
        .unwrap();
    let err = client
        .batch_execute("DELETE FROM audit_logs WHERE id = 1")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "SD001");
    let err = client.batch_execute("TRUNCATE orders").await.unwrap_err();
    assert_eq!(sqlstate(&err), "SD003");

    let after = scrape(admin).await;
    let m = |name: &str| sample(&after, name);
    assert_eq!(m("softdel_client_connections"), 1.0);
    assert_eq!(m("softdel_client_connections_total"), 1.0);
    assert_eq!(
        m(r#"softdel_decisions_total{table="orders",action="soft"}"#),
        2.0
    );
    assert_eq!(
        m(r#"softdel_decisions_total{table="refunds",action="journal"}"#),
        2.0
    );
    assert_eq!(
        m(r#"softdel_decisions_total{table="audit_logs",action="block"}"#),
        1.0
    );
    assert_eq!(
        m(r#"softdel_refused_total{table="public.audit_logs",reason="block"}"#),
        1.0
    );
    assert_eq!(
        m(r#"softdel_refused_total{table="orders",reason="truncate"}"#),
        1.0
    );
    assert_eq!(m("softdel_rewrite_cache_hits_total"), 1.0);
    // Two orders texts (extended: one Parse each), refunds, audit_logs,
    // TRUNCATE.
    assert_eq!(m("softdel_rewrite_cache_misses_total"), 5.0);
    // SELECT 1, two Executes, four queries.
    assert_eq!(m("softdel_statements_total"), 7.0);
    assert!(m("softdel_client_bytes_received_total") > 100.0);
    assert!(m("softdel_client_bytes_sent_total") > 100.0);
    // One ReadyForQuery per Query or Sync: the connection's own setup
    // statements (tokio-postgres prepares, then syncs) are timed too.
    let timed = m("softdel_statement_duration_seconds_count");
    assert!(timed >= 8.0, "{timed}");
    assert_eq!(
        m(r#"softdel_statement_duration_seconds_bucket{le="+Inf"}"#),
        timed
    );
    assert_eq!(m("softdel_rules_tables"), 7.0);

    drop(client);
    // The session ends asynchronously once the client is gone.
    let mut open = 1.0;
    for _ in 0..50 {
        open = sample(&scrape(admin).await, "softdel_client_connections");
        if open == 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(open, 0.0);
    assert_eq!(http_get(admin, "/healthz").await.0, 200);
    let (status, body) = http_get(admin, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ok upstream"), "{body}");
    shop.proxy.stop().await;
}

#[tokio::test]
async fn readyz_fails_while_the_upstream_is_down() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let proxy = TestProxy::start_with(|config| {
        config.upstream = addr.to_string();
        config.admin_listen = Some(([127, 0, 0, 1], 0).into());
    })
    .await;
    let admin = proxy.admin.unwrap();
    let (status, body) = http_get(admin, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(&format!("failed upstream: {addr}")), "{body}");
    // The process itself is fine.
    assert_eq!(http_get(admin, "/healthz").await.0, 200);

    // A client is told why, and the failure is counted.
    let err = crate::common::connect(&proxy.url("postgres", None, "postgres"))
        .await
        .expect_err("no upstream");
    assert_eq!(sqlstate(&err), "08006");
    let metrics = scrape(admin).await;
    assert_eq!(
        sample(&metrics, "softdel_upstream_connect_errors_total"),
        1.0
    );
    proxy.stop().await;
}

#[tokio::test]
async fn statement_latency_is_timed_from_its_own_request() {
    use std::time::Duration;
    let proxy = TestProxy::start_with(|config| {
        config.admin_listen = Some(([127, 0, 0, 1], 0).into());
    })
    .await;
    let admin = proxy.admin.unwrap();
    let client = proxy.connect().await;
    // Two Syncs, one ReadyForQuery.
    copy_in_extended(&client).await;
    // Idle, then quick statements: none of them took a second.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for _ in 0..3 {
        client.simple_query("SELECT 1").await.unwrap();
    }
    let metrics = scrape(admin).await;
    let timed = sample(&metrics, "softdel_statement_duration_seconds_count");
    let within_a_second = sample(
        &metrics,
        r#"softdel_statement_duration_seconds_bucket{le="1"}"#,
    );
    assert!(timed >= 5.0, "{timed}");
    assert_eq!(
        within_a_second, timed,
        "a statement timed from an earlier request's send time"
    );
    proxy.stop().await;
}
