//! Soft deletes through psql, psycopg 3 and node-postgres.

use super::shop::Shop;
use crate::clients::{psql, repo, run, which};

#[tokio::test]
async fn psql_sees_delete_tags_and_refusals() {
    let shop = Shop::open().await;
    let script = "\
DELETE FROM orders WHERE id = 1;
DELETE FROM orders WHERE id IN (2, 3) RETURNING id;
DELETE FROM audit_logs;
BEGIN;
DELETE FROM orders WHERE id = 4;
DELETE FROM orders;
SELECT 1;
ROLLBACK;
SELECT count(*) AS live FROM orders WHERE is_active;
";
    let url = shop.url();
    let (ok, out, err) = run(&psql(), &["-X", "-d", &url], Some(script)).await;
    assert!(ok, "{out}\n{err}");
    let expected_out = "\
DELETE 1
 id 
----
  2
  3
(2 rows)

DELETE 2
BEGIN
DELETE 1
ROLLBACK
 live 
------
   17
(1 row)

";
    assert_eq!(out, expected_out);
    assert!(
        err.contains("ERROR:  softdel: DELETE on table public.audit_logs refused"),
        "{err}"
    );
    assert!(
        err.contains("HINT:  Rows of public.audit_logs may not be deleted"),
        "{err}"
    );
    assert!(
        err.contains("it would remove 16 rows, over the limit of 10"),
        "{err}"
    );
    assert!(err.contains("current transaction is aborted"), "{err}");
    assert!(
        !err.contains("CONTEXT:"),
        "the guard's call stack stays with the server: {err}"
    );
}

#[tokio::test]
async fn psycopg3_soft_deletes() {
    let shop = Shop::open().await;
    let python = repo().join(".venv/bin/python");
    let script = repo().join("tests/clients/soft_delete.py");
    let (ok, out, err) = run(&python, &[script.to_str().unwrap(), &shop.url()], None).await;
    assert!(ok, "psycopg soft-delete checks failed:\n{out}\n{err}");
    assert!(out.contains("all checks passed"));
    // Every soft delete the script made is journaled with its images.
    let images = shop.count("SELECT count(*) FROM softdel.rows r JOIN softdel.operations o ON o.id = r.op_id WHERE o.table_name = 'orders'").await;
    assert_eq!(images, 7, "orders 1 to 7");
}

#[tokio::test]
async fn node_postgres_soft_deletes() {
    let shop = Shop::open().await;
    let node = which("node").expect("node is missing: run scripts/install-deps.sh");
    let script = repo().join("tests/clients/node/soft_delete.js");
    let (ok, out, err) = run(&node, &[script.to_str().unwrap(), &shop.url()], None).await;
    assert!(ok, "node-postgres soft-delete checks failed:\n{out}\n{err}");
    assert!(out.contains("all checks passed"));
    assert_eq!(
        shop.count("SELECT count(*) FROM orders WHERE NOT is_active")
            .await,
        6
    );
}
