//! A cancel request arrives on its own connection and must reach the
//! server that runs the query.

use std::time::{Duration, Instant};

use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::common::TestProxy;

#[tokio::test]
async fn cancel_stops_a_running_query() {
    let proxy = TestProxy::start().await;
    let client = proxy.connect().await;
    let token = client.cancel_token();
    let started = Instant::now();
    let cancel = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(NoTls).await.expect("send cancel");
    };
    let (result, ()) = tokio::join!(client.simple_query("SELECT pg_sleep(30)"), cancel);
    let err = result.expect_err("the query is cancelled");
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // The session survives a cancel.
    assert_eq!(
        client
            .query_one("SELECT 5", &[])
            .await
            .unwrap()
            .get::<_, i32>(0),
        5
    );
}
