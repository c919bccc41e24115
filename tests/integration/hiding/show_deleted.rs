//! `softdel.show_deleted`: a session opts out of hiding and back in.

use super::Pair;

async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.expect(sql).get(0)
}

#[tokio::test]
async fn a_session_sees_everything_while_show_deleted_is_on() {
    let pair = Pair::open().await;
    pair.delete().await;
    let c = pair.soft_client().await;
    let sql = "SELECT count(*) FROM orders";
    assert_eq!(count(&c, sql).await, 27);
    // PostgreSQL takes the statement too: the client sees SET.
    let tags = c
        .simple_query("SET softdel.show_deleted = on")
        .await
        .unwrap();
    assert!(matches!(
        tags[..],
        [tokio_postgres::SimpleQueryMessage::CommandComplete(_)]
    ));
    assert_eq!(count(&c, sql).await, 30);
    assert_eq!(
        count(&c, "SELECT count(*) FROM orders WHERE NOT is_active").await,
        3
    );
    c.batch_execute("RESET softdel.show_deleted").await.unwrap();
    assert_eq!(count(&c, sql).await, 27);

    // SET LOCAL: until the end of the transaction.
    c.batch_execute("BEGIN; SET LOCAL softdel.show_deleted = on")
        .await
        .unwrap();
    assert_eq!(count(&c, sql).await, 30);
    c.batch_execute("COMMIT").await.unwrap();
    assert_eq!(count(&c, sql).await, 27);

    // A SET in a block that rolls back is undone, as PostgreSQL undoes it.
    c.batch_execute("BEGIN; SET softdel.show_deleted = on")
        .await
        .unwrap();
    assert_eq!(count(&c, sql).await, 30);
    c.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(count(&c, sql).await, 27);
    let shown: String = c
        .query_one(
            "SELECT coalesce(current_setting('softdel.show_deleted', true), '')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_ne!(shown, "on", "the server agrees");

    // A statement prepared under one setting follows the next.
    let prepared = c.prepare(sql).await.unwrap();
    let run = async |c: &tokio_postgres::Client| -> i64 {
        c.query_one(&prepared, &[]).await.unwrap().get(0)
    };
    assert_eq!(run(&c).await, 27);
    c.batch_execute("SET softdel.show_deleted TO true")
        .await
        .unwrap();
    assert_eq!(run(&c).await, 30);
    c.batch_execute("DISCARD ALL").await.unwrap();
    let prepared = c.prepare(sql).await.unwrap();
    assert_eq!(
        c.query_one(&prepared, &[]).await.unwrap().get::<_, i64>(0),
        27
    );

    // Other sessions never saw deleted rows.
    let other = pair.soft_client().await;
    assert_eq!(count(&other, sql).await, 27);
}
