//! A unique key a hidden row holds: the server's 23505 reaches the client
//! with a HINT saying the row may be a deleted one, and how to fix it.

use super::Pair;

/// The hint of a statement's error (it must fail with 23505).
async fn hint(client: &tokio_postgres::Client, sql: &str) -> Option<String> {
    let error = client.execute(sql, &[]).await.expect_err(sql);
    let db = error.as_db_error().expect("a server error");
    assert_eq!(db.code().code(), "23505", "{sql}: {db:?}");
    db.hint().map(str::to_owned)
}

#[tokio::test]
async fn a_key_held_by_a_hidden_row_gets_a_hint_the_others_do_not() {
    let pair = Pair::open().await;
    pair.delete().await;
    let c = pair.soft_client().await;
    // Product 3 was soft-deleted: the application no longer sees it, and
    // its id is still taken.
    let gone = "SELECT count(*) FROM products WHERE id = 3";
    assert_eq!(c.query_one(gone, &[]).await.unwrap().get::<_, i64>(0), 0);
    let taken = "INSERT INTO products (id, name, price) VALUES (3, 'again', 1)";
    let text = hint(&c, taken).await.expect("a hint");
    assert!(
        text.contains("soft-deleted rows of public.products")
            && text.contains("WHERE deleted_at IS NULL")
            && text.contains("in place of products_pkey"),
        "{text}"
    );
    // Both protocols: the same error.
    c.batch_execute(taken)
        .await
        .expect_err("simple protocol too");
    // Not a hidden table: the server's error as it is.
    let customer = "INSERT INTO customers (id, name) VALUES (1, 'again')";
    assert_eq!(hint(&c, customer).await, None);
    // A session that shows deleted rows sees the row itself.
    c.batch_execute("SET softdel.show_deleted = on")
        .await
        .unwrap();
    assert_eq!(hint(&c, taken).await, None);
}
