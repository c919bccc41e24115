//! Named prepared statements through PgBouncer 1.18 (no
//! max_prepared_statements), from tokio-postgres, psycopg 3 and
//! node-postgres.

use tokio_postgres::error::SqlState;

use super::{Pooled, journal};
use crate::clients::{repo, run, which};
use crate::common::pgbouncer::{BouncerOptions, backend_pid};
use crate::softdelete::shop::message;

#[tokio::test]
async fn named_prepared_statements_work_while_one_server_connection_serves_all() {
    let p = Pooled::open().await;
    let (a, b) = p.sharing("web-a", "web-b").await;
    // tokio-postgres names its statements s0, s1, ... for the whole
    // process: two clients of one process never pick the same name.
    let read = a
        .prepare("SELECT count(*) FROM orders WHERE id > $1")
        .await
        .unwrap();
    let delete = b.prepare("DELETE FROM orders WHERE id = $1").await.unwrap();
    for (id, live) in [(11i32, 19i64), (12, 18), (13, 17)] {
        assert_eq!(b.execute(&delete, &[&id]).await.unwrap(), 1);
        let row = a.query_one(&read, &[&0i32]).await.unwrap();
        assert_eq!(row.get::<_, i64>(0), live);
    }
    assert_eq!(
        p.shop
            .count("SELECT count(*) FROM orders WHERE NOT is_active")
            .await,
        3
    );
    assert_eq!(
        journal(&p.shop).await,
        ["soft_delete public.orders 1 by postgres as web-b via proxy"; 3]
    );
}

#[tokio::test]
async fn named_prepared_statements_break_once_the_pool_has_two_server_connections() {
    let p = Pooled::open_with(BouncerOptions {
        default_pool_size: 2,
        ..BouncerOptions::default()
    })
    .await;
    let (a, c, d) = (
        p.client("web-a").await,
        p.client("web-c").await,
        p.client("web-d").await,
    );
    // C holds one server connection; A prepares on the other, which D
    // then holds; C lets its own go, and A's next statement runs there.
    c.batch_execute("BEGIN").await.unwrap();
    let first = backend_pid(&c).await;
    let statement = a
        .prepare("SELECT id FROM orders WHERE id = $1")
        .await
        .unwrap();
    let second = backend_pid(&a).await;
    assert_ne!(first, second);
    d.batch_execute("BEGIN").await.unwrap();
    assert_eq!(backend_pid(&d).await, second);
    c.batch_execute("COMMIT").await.unwrap();
    let error = a.query(&statement, &[&1i32]).await.unwrap_err();
    assert_eq!(
        error.code(),
        Some(&SqlState::INVALID_SQL_STATEMENT_NAME),
        "{error}"
    );
    assert!(message(&error).ends_with("does not exist"), "{error}");
    d.batch_execute("COMMIT").await.unwrap();
}

#[tokio::test]
async fn psycopg_and_node_postgres_share_the_server_connection() {
    let p = Pooled::open().await;
    let url = p.shop.url();
    let python = repo().join(".venv/bin/python");
    let script = repo().join("tests/clients/pooled.py");
    let (ok, out, err) = run(&python, &[script.to_str().unwrap(), &url], None).await;
    assert!(ok, "{out}\n{err}");
    assert_eq!(out, PSYCOPG);

    let node = which("node").expect("node is missing: run scripts/install-deps.sh");
    let script = repo().join("tests/clients/node/pooled.js");
    let (ok, out, err) = run(&node, &[script.to_str().unwrap(), &url], None).await;
    assert!(ok, "{out}\n{err}");
    assert_eq!(out, NODE_POSTGRES);
    assert_eq!(
        journal(&p.shop).await,
        [
            "soft_delete public.orders 1 by postgres as psycopg-a via proxy",
            "soft_delete public.orders 1 by postgres as node-a via proxy",
        ]
    );
}

/// What tests/clients/pooled.py prints: unnamed statements are each
/// client's own; named ones clash between connections (each starts at
/// `_pg3_0`), also when psycopg prepares by itself at a query's sixth run.
const PSYCOPG: &str = "\
one server connection: True
a deletes 14: DELETE 1 None
b reads: SELECT 1 [15]
a shows deleted: SET None
a reads: SELECT 2 [14, 15]
b reads: SELECT 1 [15]
a prepares: SELECT 2 [14, 15]
b prepares: 42P05 prepared statement \"_pg3_0\" already exists
a prepared: SELECT 2 [14, 15]
c reads (1): SELECT 1 [19]
c reads (2): SELECT 1 [19]
c reads (3): SELECT 1 [19]
c reads (4): SELECT 1 [19]
c reads (5): SELECT 1 [19]
c reads (6): 42P05 prepared statement \"_pg3_0\" already exists
d reads (1): SELECT 1 [19]
d reads (2): SELECT 1 [19]
d reads (3): SELECT 1 [19]
d reads (4): SELECT 1 [19]
d reads (5): SELECT 1 [19]
d reads (6): SELECT 1 [19]
";

/// What tests/clients/node/pooled.js prints: the same, for a statement
/// node-postgres prepares under the name a query gives.
const NODE_POSTGRES: &str = "\
one server connection: true
a deletes 16: DELETE 1 null
b reads: SELECT 1 [17]
a shows deleted: SET null null
a reads: SELECT 2 [16,17]
b reads: SELECT 1 [17]
a prepares: SELECT 2 [16,17]
b prepares: 42P05 prepared statement \"orders-by-id\" already exists
a prepared: SELECT 2 [16,17]
";
