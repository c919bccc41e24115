//! Simple and extended queries through the proxy with tokio-postgres.

use futures_util::future::try_join_all;

use crate::common::TestProxy;

#[tokio::test]
async fn simple_and_extended_queries() {
    let proxy = TestProxy::start().await;
    let client = proxy.connect().await;

    let rows = client
        .simple_query("SELECT 1 AS one, 'two' AS two; SELECT generate_series(1, 3)")
        .await
        .unwrap();
    let values: Vec<String> = rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(values, ["1", "1", "2", "3"]);

    let row = client
        .query_one(
            "SELECT $1::int + $2::int, $3::text, $4::text IS NULL",
            &[&40i32, &2i32, &"ünï'code", &None::<String>],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 42);
    assert_eq!(row.get::<_, String>(1), "ünï'code");
    assert!(row.get::<_, bool>(2));
}

#[tokio::test]
async fn prepared_statement_reused_many_times() {
    let proxy = TestProxy::start().await;
    let client = proxy.connect().await;
    client
        .batch_execute("CREATE TEMP TABLE items (id int PRIMARY KEY, name text)")
        .await
        .unwrap();
    let insert = client
        .prepare("INSERT INTO items VALUES ($1, $2)")
        .await
        .unwrap();
    for i in 0..500i32 {
        let n = client
            .execute(&insert, &[&i, &format!("item {i}")])
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
    let select = client
        .prepare("SELECT name FROM items WHERE id = $1")
        .await
        .unwrap();
    for i in (0..500i32).step_by(7) {
        let name: String = client.query_one(&select, &[&i]).await.unwrap().get(0);
        assert_eq!(name, format!("item {i}"));
    }
    let count: i64 = client
        .query_one("SELECT count(*) FROM items", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 500);
}

#[tokio::test]
async fn pipelined_queries_on_one_connection() {
    let proxy = TestProxy::start().await;
    let client = proxy.connect().await;
    let statement = client
        .prepare("SELECT $1::int * 2, pg_sleep(0.001)")
        .await
        .unwrap();
    // tokio-postgres sends every query before reading any answer.
    let queries = (0..200i32).map(|i| {
        let client = &client;
        let statement = &statement;
        async move {
            client
                .query_one(statement, &[&i])
                .await
                .map(|r| (i, r.get::<_, i32>(0)))
        }
    });
    for (i, doubled) in try_join_all(queries).await.unwrap() {
        assert_eq!(doubled, i * 2);
    }
}

#[tokio::test]
async fn large_results_and_large_parameters() {
    let proxy = TestProxy::start().await;
    let client = proxy.connect().await;
    let rows = client
        .query(
            "SELECT g, repeat('x', 100) FROM generate_series(1, 50000) g",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 50_000);
    assert_eq!(rows[49_999].get::<_, i32>(0), 50_000);
    // A 4 MiB parameter spans many reads and grows the proxy's buffer.
    let big = "y".repeat(4 << 20);
    let len: i32 = client
        .query_one("SELECT length($1::text)", &[&big])
        .await
        .unwrap()
        .get(0);
    assert_eq!(len, 4 << 20);
}

#[tokio::test]
async fn transactions_and_errors_inside_them() {
    let proxy = TestProxy::start().await;
    let mut client = proxy.connect().await;
    client
        .batch_execute("CREATE TEMP TABLE accounts (id int PRIMARY KEY, balance int)")
        .await
        .unwrap();

    let tx = client.transaction().await.unwrap();
    tx.execute("INSERT INTO accounts VALUES (1, 100)", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let tx = client.transaction().await.unwrap();
    tx.execute("INSERT INTO accounts VALUES (2, 50)", &[])
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    // An error inside a transaction block aborts it until ROLLBACK.
    client.batch_execute("BEGIN").await.unwrap();
    let dup = client
        .execute("INSERT INTO accounts VALUES (1, 1)", &[])
        .await
        .unwrap_err();
    assert_eq!(
        dup.code(),
        Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
    );
    let aborted = client.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(
        aborted.code(),
        Some(&tokio_postgres::error::SqlState::IN_FAILED_SQL_TRANSACTION)
    );
    client.batch_execute("ROLLBACK").await.unwrap();

    let ids: Vec<i32> = client
        .query("SELECT id FROM accounts ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, [1]);

    // Errors outside a transaction leave the session usable.
    let zero = client.query("SELECT 1 / 0", &[]).await.unwrap_err();
    assert_eq!(
        zero.code(),
        Some(&tokio_postgres::error::SqlState::DIVISION_BY_ZERO)
    );
    let syntax = client.simple_query("SELEC 1").await.unwrap_err();
    assert_eq!(
        syntax.code(),
        Some(&tokio_postgres::error::SqlState::SYNTAX_ERROR)
    );
    assert_eq!(
        client
            .query_one("SELECT 7", &[])
            .await
            .unwrap()
            .get::<_, i32>(0),
        7
    );
}

#[tokio::test]
async fn many_clients_at_once() {
    let proxy = TestProxy::start().await;
    let tasks = (0..40).map(|n| {
        let url = proxy.url("postgres", None, "postgres");
        tokio::spawn(async move {
            let client = crate::common::connect(&url).await.unwrap();
            for i in 0..50i32 {
                let v: i32 = client
                    .query_one("SELECT $1::int + $2::int", &[&n, &i])
                    .await
                    .unwrap()
                    .get(0);
                assert_eq!(v, n + i);
            }
        })
    });
    for task in tasks {
        task.await.unwrap();
    }
}
