//! The simple query protocol (what psql and many ORMs' plain queries use).

use tokio_postgres::SimpleQueryMessage;

use super::shop::Shop;

/// The tags (CommandComplete row counts) and rows of a simple query.
async fn run(client: &tokio_postgres::Client, sql: &str) -> (Vec<u64>, Vec<Vec<String>>) {
    let mut tags = Vec::new();
    let mut rows = Vec::new();
    for message in client.simple_query(sql).await.expect(sql) {
        match message {
            SimpleQueryMessage::CommandComplete(n) => tags.push(n),
            SimpleQueryMessage::Row(row) => rows.push(
                (0..row.len())
                    .map(|i| row.get(i).unwrap_or("NULL").to_owned())
                    .collect(),
            ),
            _ => {}
        }
    }
    (tags, rows)
}

#[tokio::test]
async fn soft_delete_keeps_the_row_and_journals_it() {
    let shop = Shop::open().await;
    let client = shop.client().await;
    let (tags, rows) = run(&client, "DELETE FROM orders WHERE id = 1 /* admin page */").await;
    assert_eq!((tags, rows.len()), (vec![1], 0));
    assert!(
        !shop
            .value::<bool>("SELECT is_active FROM orders WHERE id = 1")
            .await
    );
    assert_eq!(
        shop.count("SELECT count(*) FROM orders").await,
        20,
        "nothing really deleted"
    );
    // Deleting it again finds no live row.
    assert_eq!(
        run(&client, "DELETE FROM orders WHERE id = 1").await.0,
        vec![0]
    );
    let ops = shop.operations().await;
    assert_eq!(
        ops[0],
        (
            "soft_delete".into(),
            "public.orders".into(),
            1,
            "DELETE FROM orders WHERE id = 1 /* admin page */".into()
        )
    );
    assert_eq!(
        ops.len(),
        1,
        "a DELETE that removed nothing is not journaled"
    );
    let row = shop
        .direct
        .query_one(
            "SELECT client_addr, connection_id IS NOT NULL, db_user, txid > 0, \
                    (SELECT image FROM softdel.rows WHERE op_id = o.id)::text \
             FROM softdel.operations o ORDER BY id LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "127.0.0.1");
    assert!(row.get::<_, bool>(1) && row.get::<_, bool>(3));
    assert_eq!(row.get::<_, String>(2), "postgres");
    assert_eq!(
        row.get::<_, String>(4),
        r#"{"id": 1, "note": null, "is_active": false, "customer_id": 2}"#
    );
}

#[tokio::test]
async fn returning_rows_have_the_clients_columns_only() {
    let shop = Shop::open().await;
    let client = shop.client().await;
    let (tags, rows) = run(
        &client,
        "DELETE FROM ONLY orders o USING customers c \
         WHERE o.customer_id = c.id AND c.name = 'alice' AND o.id < 8 RETURNING o.id, c.name",
    )
    .await;
    assert_eq!(tags, vec![2]);
    assert_eq!(rows, vec![vec!["3", "alice"], vec!["6", "alice"]]);
    assert_eq!(shop.last_images().await, vec![3, 6]);
}

#[tokio::test]
async fn every_form_of_delete_is_found() {
    let shop = Shop::open().await;
    let client = shop.client().await;
    let cases: &[(&str, Vec<u64>)] = &[
        // Several statements in one Query; the SELECT between is untouched.
        (
            "DELETE FROM orders WHERE id = 2; SELECT 1; DELETE FROM refunds WHERE id = 9",
            vec![1, 1, 1],
        ),
        // A DELETE inside a CTE.
        (
            "WITH d AS (DELETE FROM orders WHERE id = 3 RETURNING id) SELECT count(*) FROM d",
            vec![1],
        ),
        // A WITH ahead of the DELETE.
        (
            "WITH ids AS (SELECT 4 AS id) DELETE FROM orders USING ids WHERE orders.id = ids.id",
            vec![1],
        ),
        // Schema-qualified, timestamp marker.
        ("DELETE FROM billing.payments WHERE id = 1", vec![1]),
        // Quoted name, alias with AS, inheritance star.
        ("DELETE FROM \"Mixed\" AS m WHERE m.id = 1", vec![1]),
        ("DELETE FROM orders * WHERE id = 5", vec![1]),
        // Mixed-case keywords and names fold like PostgreSQL's.
        ("delete from ORDERS where ID = 6", vec![1]),
        // SQL-level PREPARE: the EXECUTE returns what a DELETE returns.
        (
            "PREPARE p(int) AS DELETE FROM orders WHERE id = $1; EXECUTE p(7)",
            vec![0, 1],
        ),
    ];
    for (sql, tags) in cases {
        assert_eq!(&run(&client, sql).await.0, tags, "{sql}");
    }
    let flagged: Vec<i32> = shop
        .direct
        .query("SELECT id FROM orders WHERE NOT is_active ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(flagged, vec![2, 3, 4, 5, 6, 7]);
    assert_eq!(
        shop.count("SELECT count(*) FROM billing.payments WHERE deleted_at IS NOT NULL")
            .await,
        1
    );
    assert!(
        !shop
            .value::<bool>("SELECT alive FROM \"Mixed\" WHERE id = 1")
            .await
    );
    assert_eq!(
        shop.count("SELECT count(*) FROM refunds").await,
        9,
        "journal tables really delete"
    );
    let journaled = shop.count("SELECT count(*) FROM softdel.operations").await;
    assert_eq!(journaled, 9, "one operation per DELETE");
}

#[tokio::test]
async fn a_rolled_back_delete_leaves_no_journal() {
    let shop = Shop::open().await;
    let client = shop.client().await;
    run(&client, "BEGIN; DELETE FROM orders WHERE id = 9; ROLLBACK").await;
    assert!(
        shop.value::<bool>("SELECT is_active FROM orders WHERE id = 9")
            .await
    );
    assert_eq!(
        shop.count("SELECT count(*) FROM softdel.operations").await,
        0
    );
}

#[tokio::test]
async fn journal_tables_really_delete_and_keep_the_images() {
    let shop = Shop::open().await;
    let client = shop.client().await;
    let (tags, rows) = run(
        &client,
        "DELETE FROM refunds WHERE id <= 3 RETURNING amount",
    )
    .await;
    assert_eq!(tags, vec![3]);
    assert_eq!(rows, vec![vec!["10"], vec!["20"], vec!["30"]]);
    assert_eq!(shop.count("SELECT count(*) FROM refunds").await, 7);
    assert_eq!(shop.last_images().await, vec![1, 2, 3]);
    assert_eq!(shop.operations().await[0].0, "journal_delete");
}

#[tokio::test]
async fn unlisted_tables_are_deleted_within_the_default_limit() {
    let shop = Shop::open().await;
    let client = shop.client().await;
    assert_eq!(
        run(&client, "DELETE FROM scratch WHERE id <= 10").await.0,
        vec![10]
    );
    assert_eq!(shop.count("SELECT count(*) FROM scratch").await, 1990);
    assert_eq!(
        shop.count("SELECT count(*) FROM softdel.operations").await,
        0,
        "allowed, not journaled"
    );
}
