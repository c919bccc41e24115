//! The extended protocol (tokio-postgres): prepared statements, Describe,
//! binary results, pipelines.

use futures_util::future::try_join_all;
use tokio_postgres::types::Type;

use super::shop::Shop;

#[tokio::test]
async fn execute_counts_soft_deleted_rows() {
    let shop = Shop::open().await;
    let client = shop.client().await;
    let n = client
        .execute("DELETE FROM orders WHERE id = $1", &[&1i32])
        .await
        .unwrap();
    assert_eq!(n, 1);
    let n = client
        .execute("DELETE FROM orders WHERE id = $1", &[&1i32])
        .await
        .unwrap();
    assert_eq!(n, 0, "already soft-deleted");
    let n = client
        .execute(
            "DELETE FROM orders WHERE customer_id = $1 AND id < $2",
            &[&2i32, &10i32],
        )
        .await
        .unwrap();
    assert_eq!(n, 2, "orders 4 and 7 (1 was deleted already)");
    assert_eq!(
        shop.count("SELECT count(*) FROM orders WHERE NOT is_active")
            .await,
        3
    );
}

#[tokio::test]
async fn describe_shows_the_deletes_shape() {
    let shop = Shop::open().await;
    let client = shop.client().await;
    // No RETURNING: NoData, and the parameter keeps the type it has in the
    // DELETE.
    let statement = client
        .prepare("DELETE FROM orders WHERE id = $1")
        .await
        .unwrap();
    assert_eq!(statement.params(), &[Type::INT4]);
    assert!(statement.columns().is_empty());
    // RETURNING: exactly the client's columns.
    let statement = client
        .prepare("DELETE FROM orders o USING customers c WHERE o.customer_id = c.id AND c.id = $1 RETURNING o.id, c.name AS customer")
        .await
        .unwrap();
    let columns: Vec<(&str, &Type)> = statement
        .columns()
        .iter()
        .map(|c| (c.name(), c.type_()))
        .collect();
    assert_eq!(
        columns,
        vec![("id", &Type::INT4), ("customer", &Type::TEXT)]
    );
}

#[tokio::test]
async fn a_named_statement_runs_many_times() {
    let shop = Shop::open().await;
    let client = shop.client().await;
    let statement = client
        .prepare("DELETE FROM orders WHERE id = $1 RETURNING id, note")
        .await
        .unwrap();
    for id in 1..=5i32 {
        let rows = client.query(&statement, &[&id]).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0].get::<_, i32>(0),
            id,
            "binary results survive the rewrite"
        );
        assert_eq!(rows[0].get::<_, Option<String>>(1), None);
        assert_eq!(rows[0].len(), 2);
    }
    assert_eq!(
        shop.count("SELECT count(*) FROM softdel.operations WHERE row_count = 1")
            .await,
        5
    );
}

#[tokio::test]
async fn pipelined_deletes_and_selects() {
    let shop = Shop::open().await;
    let client = shop.client().await;
    let delete = client
        .prepare("DELETE FROM orders WHERE id = $1")
        .await
        .unwrap();
    let select = client
        .prepare("SELECT count(*) FROM orders WHERE is_active")
        .await
        .unwrap();
    // tokio-postgres sends these without waiting for each other's answers.
    let deletes = try_join_all((1..=8i32).map(|id| {
        let (client, delete) = (&client, &delete);
        async move { client.execute(delete, &[&id]).await }
    }));
    let selects = try_join_all((0..4).map(|_| {
        let (client, select) = (&client, &select);
        async move {
            client
                .query_one(select, &[])
                .await
                .map(|r| r.get::<_, i64>(0))
        }
    }));
    let (deleted, _counts) = tokio::try_join!(deletes, selects).unwrap();
    assert_eq!(deleted, vec![1; 8]);
    assert_eq!(
        shop.count("SELECT count(*) FROM orders WHERE is_active")
            .await,
        12
    );
}

#[tokio::test]
async fn a_transaction_of_deletes_commits_together() {
    let shop = Shop::open().await;
    let mut client = shop.client().await;
    let tx = client.transaction().await.unwrap();
    tx.execute("DELETE FROM orders WHERE id = $1", &[&11i32])
        .await
        .unwrap();
    tx.execute("DELETE FROM refunds WHERE id = $1", &[&1i32])
        .await
        .unwrap();
    tx.execute("DELETE FROM billing.payments WHERE order_id = $1", &[&2i32])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let txids = shop
        .count("SELECT count(DISTINCT txid) FROM softdel.operations")
        .await;
    let ops = shop.count("SELECT count(*) FROM softdel.operations").await;
    assert_eq!((ops, txids), (3, 1), "three operations, one transaction");
}

/// A Parse the server refused (a name in use, an error earlier in its
/// batch) is not a statement the proxy prepares again later: when the
/// session's view changes (`show_deleted`, a reload), the statement the
/// server really holds is the one that runs, or none.
#[tokio::test]
async fn a_parse_the_server_refused_is_never_prepared_again_by_the_proxy() {
    use crate::common::raw::{RawConn, SYNC, execute_named, parse_named, query};
    let shop = Shop::open().await;
    let mut c = RawConn::login(shop.proxy.addr, "postgres", &shop.database).await;
    let tags = |msgs: &[crate::common::raw::Msg]| -> Vec<String> {
        msgs.iter()
            .map(|m| match m.tag {
                b'E' => format!("E {}", m.sqlstate().unwrap_or_default()),
                b'C' => format!(
                    "C {}",
                    String::from_utf8_lossy(&m.body).trim_end_matches('\0')
                ),
                t => (t as char).to_string(),
            })
            .collect()
    };
    let run = async |c: &mut RawConn, bytes: Vec<u8>| {
        c.send(&bytes).await;
        tags(&c.until_ready().await)
    };
    let with_sync = |mut bytes: Vec<u8>| {
        bytes.extend_from_slice(SYNC);
        bytes
    };
    // `s` is a SELECT; a second Parse of `s`, a DELETE, fails (42P05).
    let select = "SELECT id FROM orders WHERE id = $1";
    let delete = "DELETE FROM refunds WHERE id IN (SELECT id FROM orders WHERE id = $1)";
    assert_eq!(
        run(&mut c, with_sync(parse_named("s", select))).await,
        ["1", "Z"]
    );
    assert_eq!(
        run(&mut c, with_sync(parse_named("s", delete))).await,
        ["E 42P05", "Z"]
    );
    // In one batch, an error skips the Parse behind it: `t` is never made.
    let mut batch = parse_named("bad", "SELEC 1");
    batch.extend(parse_named("t", "DELETE FROM refunds WHERE id = $1"));
    assert_eq!(run(&mut c, with_sync(batch)).await, ["E 42601", "Z"]);
    // The session's view changes: followed statements are prepared again
    // at their next Bind.
    assert_eq!(
        run(&mut c, query("SET softdel.show_deleted = on")).await,
        ["C SET", "Z"]
    );
    assert_eq!(
        run(&mut c, with_sync(execute_named("s", &["5"]))).await,
        ["2", "D", "C SELECT 1", "Z"],
        "the SELECT the server holds"
    );
    assert_eq!(
        run(&mut c, with_sync(execute_named("t", &["6"]))).await,
        ["E 26000", "Z"],
        "no statement t"
    );
    assert_eq!(shop.count("SELECT count(*) FROM refunds").await, 10);
    assert!(
        shop.operations().await.is_empty(),
        "nothing journaled: nothing deleted"
    );
    // A Parse of the unnamed statement skipped after an error leaves the
    // one before it in place: a soft DELETE, still answered as one.
    let soft = "DELETE FROM orders WHERE id = $1";
    let mut first = parse_named("", soft);
    first.extend(execute_named("", &["7"]));
    assert_eq!(
        run(&mut c, with_sync(first)).await,
        ["1", "2", "C DELETE 1", "Z"]
    );
    let mut batch = parse_named("bad", "SELEC 1");
    batch.extend(parse_named("", "SELECT 1"));
    assert_eq!(run(&mut c, with_sync(batch)).await, ["E 42601", "Z"]);
    assert_eq!(
        run(&mut c, with_sync(execute_named("", &["8"]))).await,
        ["2", "C DELETE 1", "Z"]
    );
    assert!(
        !shop
            .value::<bool>("SELECT is_active FROM orders WHERE id = 8")
            .await
    );
}
