//! What softdel refuses: an ERROR with its own SQLSTATE, nothing changed,
//! the transaction left as a server error leaves it.

use super::shop::{Shop, message, sqlstate};

#[tokio::test]
async fn block_tables_refuse_delete_in_both_protocols() {
    let shop = Shop::open().await;
    let client = shop.client().await;
    let e = client
        .simple_query("DELETE FROM audit_logs WHERE id = 1")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "SD001");
    let text = message(&e);
    assert!(
        text.contains("audit_logs") && text.contains("nothing was deleted"),
        "{text}"
    );
    assert!(
        e.as_db_error()
            .unwrap()
            .hint()
            .unwrap()
            .contains("rules file")
    );
    // Extended protocol: refused when it would remove a row...
    let statement = client
        .prepare("DELETE FROM audit_logs WHERE id = $1")
        .await
        .unwrap();
    let e = client.execute(&statement, &[&2i32]).await.unwrap_err();
    assert_eq!(sqlstate(&e), "SD001");
    assert!(message(&e).contains("would remove 1 row;"), "{e}");
    // ... and lets through one that removes nothing (ORMs delete the
    // dependants of a row without looking for them first).
    assert_eq!(client.execute(&statement, &[&99i32]).await.unwrap(), 0);
    // The guard counts wherever the DELETE stands: inside the client's
    // own CTE too.
    client
        .simple_query(
            "WITH d AS (DELETE FROM audit_logs WHERE id = 99 RETURNING id) SELECT * FROM d",
        )
        .await
        .unwrap();
    let e = client
        .simple_query(
            "WITH d AS (DELETE FROM audit_logs WHERE id = 3 RETURNING id) SELECT * FROM d",
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "SD001");
    // The session goes on.
    let n: i64 = client
        .query_one("SELECT count(*) FROM audit_logs", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 5);
}

#[tokio::test]
async fn truncate_and_drop_of_protected_tables_are_refused() {
    let shop = Shop::open().await;
    let client = shop.client().await;
    for sql in [
        "TRUNCATE orders",
        "TRUNCATE TABLE ONLY scratch, billing.payments",
        "DROP TABLE refunds",
        "DROP TABLE IF EXISTS \"Mixed\" CASCADE",
        "DROP SCHEMA billing CASCADE",
        "DELETE FROM softdel.operations",
    ] {
        let e = client.simple_query(sql).await.unwrap_err();
        assert!(
            ["SD003", "SD001"].contains(&sqlstate(&e).as_str()),
            "{sql}: {e}"
        );
    }
    assert_eq!(shop.count("SELECT count(*) FROM orders").await, 20);
    assert_eq!(shop.count("SELECT count(*) FROM scratch").await, 2000);
    assert_eq!(shop.count("SELECT count(*) FROM refunds").await, 10);
    // Unprotected tables are not the proxy's business.
    client.simple_query("TRUNCATE scratch").await.unwrap();
}

#[tokio::test]
async fn over_the_row_limit_nothing_is_deleted() {
    let shop = Shop::open().await;
    let client = shop.client().await;
    // 20 live orders; the limit is 10.
    let e = client
        .execute("DELETE FROM orders WHERE id > $1", &[&0i32])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "SD002");
    let text = message(&e);
    assert!(
        text.contains("20 rows") && text.contains("limit of 10"),
        "{text}"
    );
    assert_eq!(
        shop.count("SELECT count(*) FROM orders WHERE is_active")
            .await,
        20
    );
    assert_eq!(
        shop.count("SELECT count(*) FROM softdel.operations").await,
        0
    );
    // At the limit it goes through.
    assert_eq!(
        client
            .execute("DELETE FROM orders WHERE id <= 10", &[])
            .await
            .unwrap(),
        10
    );
    // Unlisted tables get the default limit (1000).
    let e = client
        .simple_query("DELETE FROM scratch")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "SD002");
    assert!(message(&e).contains("2000 rows"));
    assert_eq!(shop.count("SELECT count(*) FROM scratch").await, 2000);
}

#[tokio::test]
async fn in_a_transaction_a_refusal_aborts_it() {
    let shop = Shop::open().await;
    let client = shop.client().await;
    client.simple_query("BEGIN").await.unwrap();
    client
        .simple_query("DELETE FROM orders WHERE id = 1")
        .await
        .unwrap();
    let e = client
        .simple_query("DELETE FROM audit_logs")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "SD001");
    let e = client.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(
        sqlstate(&e),
        "25P02",
        "in a failed transaction, as after a server error"
    );
    client.simple_query("COMMIT").await.unwrap(); // really a rollback
    assert!(
        shop.value::<bool>("SELECT is_active FROM orders WHERE id = 1")
            .await
    );
    assert_eq!(
        shop.count("SELECT count(*) FROM softdel.operations").await,
        0
    );
}

#[tokio::test]
async fn a_refused_statement_stops_the_rest_of_its_query() {
    let shop = Shop::open().await;
    let client = shop.client().await;
    let e = client
        .simple_query("DELETE FROM orders WHERE id = 1; DELETE FROM audit_logs; DELETE FROM orders WHERE id = 2")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "SD001");
    // One implicit transaction: the first DELETE rolled back with it.
    assert_eq!(
        shop.count("SELECT count(*) FROM orders WHERE NOT is_active")
            .await,
        0
    );
}

#[tokio::test]
async fn what_cannot_be_analysed_is_refused_when_it_may_touch_a_protected_table() {
    let shop = Shop::open().await;
    let client = shop.client().await;
    let e = client
        .simple_query("DO $$ BEGIN DELETE FROM orders; END $$")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "SD004");
    client
        .simple_query("BEGIN; DECLARE c CURSOR FOR SELECT * FROM orders FOR UPDATE")
        .await
        .unwrap();
    client.simple_query("FETCH 1 FROM c").await.unwrap();
    let e = client
        .simple_query("DELETE FROM orders WHERE CURRENT OF c")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "SD004");
    client.simple_query("ROLLBACK").await.unwrap();
    assert_eq!(
        shop.count("SELECT count(*) FROM orders WHERE is_active")
            .await,
        20
    );
    // A DO block that touches no protected table passes.
    client
        .simple_query("DO $$ BEGIN DELETE FROM scratch WHERE id = 1; END $$")
        .await
        .unwrap();
    assert_eq!(shop.count("SELECT count(*) FROM scratch").await, 1999);
}

#[tokio::test]
async fn a_delete_hidden_by_backslash_quoting_is_not_missed() {
    let shop = Shop::open().await;
    let client = shop.client().await;
    // With standard_conforming_strings off, '\'' is a whole string and the
    // DELETE after it is real; read with it on, the DELETE would sit
    // inside a string. softdel follows the server's setting.
    client
        .simple_query("SET standard_conforming_strings = off")
        .await
        .unwrap();
    let e = client
        .simple_query(r"SELECT 'a\'' AS x; DELETE FROM orders; -- '")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "SD004", "{e}");
    assert_eq!(
        shop.count("SELECT count(*) FROM orders WHERE is_active")
            .await,
        20
    );
    // Back on: deletes are rewritten as usual.
    client
        .simple_query("SET standard_conforming_strings = on")
        .await
        .unwrap();
    let n = client
        .execute(
            r"DELETE FROM orders WHERE note IS DISTINCT FROM 'a' AND id = 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
}
