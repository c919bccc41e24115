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
