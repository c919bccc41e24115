//! A real PgBouncer (transaction pooling, one server connection) in front
//! of the test cluster: the harness itself, and softdel in front of it.

use std::time::Duration;

use tokio_postgres::{Client, SimpleQueryMessage};

use crate::common::pgbouncer::{Bouncer, BouncerOptions, backend_pid};
use crate::common::{TestProxy, cluster, connect};

async fn bouncer() -> Bouncer {
    Bouncer::start(&cluster().addr(), BouncerOptions::default()).await
}

async fn through(bouncer: &Bouncer) -> Client {
    connect(&bouncer.url("postgres", "postgres"))
        .await
        .expect("connect through pgbouncer")
}

/// The first column of the first row, NULL as None.
async fn value(client: &Client, sql: &str) -> Option<String> {
    client
        .simple_query(sql)
        .await
        .unwrap()
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::to_owned)),
            _ => None,
        })
        .expect("a row")
}

#[tokio::test]
async fn clients_share_one_server_connection() {
    let bouncer = bouncer().await;
    let a = through(&bouncer).await;
    let b = through(&bouncer).await;
    let pid = backend_pid(&a).await;
    assert_eq!(backend_pid(&b).await, pid, "one server connection for both");
    assert_ne!(
        backend_pid(&crate::common::connect_direct().await).await,
        pid
    );

    // While A holds the only server connection in a transaction, B waits.
    a.batch_execute("BEGIN").await.unwrap();
    let waiting = tokio::spawn(async move {
        let pid = backend_pid(&b).await;
        (b, pid)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "B ran while A's transaction was open"
    );
    a.batch_execute("COMMIT").await.unwrap();
    let (b, pid_b) = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("B runs once A commits")
        .unwrap();
    assert_eq!(pid_b, pid);

    // A transaction-local setting ends with A's transaction...
    a.batch_execute("BEGIN; SET LOCAL softdel_test.local = 'from A'")
        .await
        .unwrap();
    assert_eq!(
        value(&a, "SELECT current_setting('softdel_test.local', true)").await,
        Some("from A".into())
    );
    a.batch_execute("COMMIT").await.unwrap();
    let seen = value(&b, "SELECT current_setting('softdel_test.local', true)").await;
    assert!(
        matches!(seen.as_deref(), None | Some("")),
        "B sees A's SET LOCAL: {seen:?}"
    );

    // ...but a session-level one stays on the server connection, for B.
    a.batch_execute("SET softdel_test.session = 'from A'")
        .await
        .unwrap();
    assert_eq!(
        value(&b, "SELECT current_setting('softdel_test.session', true)").await,
        Some("from A".into()),
        "B shares A's session"
    );
    a.batch_execute("RESET softdel_test.session").await.unwrap();
}

#[tokio::test]
async fn proxy_in_front_of_pgbouncer() {
    let bouncer = bouncer().await;
    let upstream = bouncer.addr.to_string();
    let proxy = TestProxy::start_with(|c| c.upstream = upstream).await;
    let a = proxy.connect().await;
    let b = proxy.connect().await;

    assert_eq!(value(&a, "SELECT 1").await, Some("1".into()));
    let row = a
        .query_one(
            "SELECT $1::int + $2::int, $3::text",
            &[&40i32, &2i32, &"ünï'code"],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 42);
    assert_eq!(row.get::<_, String>(1), "ünï'code");
    assert_eq!(backend_pid(&a).await, backend_pid(&b).await);

    a.batch_execute(
        "BEGIN; CREATE TEMP TABLE bounced (id int); INSERT INTO bounced VALUES (1), (2)",
    )
    .await
    .unwrap();
    assert_eq!(
        value(&a, "SELECT count(*) FROM bounced").await,
        Some("2".into())
    );
    a.batch_execute("ROLLBACK").await.unwrap();
    let err = b.simple_query("SELECT * FROM bounced").await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE)
    );

    drop((a, b));
    proxy.stop().await;
}
