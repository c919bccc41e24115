//! Every path a delete can take, straight to PostgreSQL and through the
//! proxy: journaled (then `softdel undelete --txid` brings back exactly
//! what was destroyed) or refused (and nothing changed).

use tokio_postgres::Client;

use super::{Guarded, Op, refused};

/// Runs `sql` on `client` in one transaction and checks that the journal
/// holds exactly `expected` (action, table, rows), each with its row
/// images, by `path`, in that transaction; then that undelete of the
/// transaction restores every table to what it was.
async fn destroyed_and_restored(
    g: &Guarded,
    client: &Client,
    sql: &str,
    expected: &[(&str, &str, i64)],
    path: &str,
) -> Vec<Op> {
    let before = g.snapshot().await;
    let last = g.last_op().await;
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    assert_ne!(g.snapshot().await, before, "{sql}: nothing was deleted");
    let ops = g.operations_after(last).await;
    let summary: Vec<_> = ops.iter().map(Op::summary).collect();
    assert_eq!(summary, expected, "{sql}");
    for op in &ops {
        assert_eq!(op.images, op.rows, "{sql}: every row image: {op:?}");
        assert_eq!(op.path.as_deref(), Some(path), "{sql}: {op:?}");
        assert_eq!(op.txid, ops[0].txid, "{sql}: one transaction");
    }
    let run = g.undelete_txid(ops[0].txid).await;
    assert!(run.ok, "{sql}: {run:?}");
    assert_eq!(
        g.snapshot().await,
        before,
        "{sql}: undelete brought back exactly what was destroyed\n{run:?}"
    );
    ops
}

/// Runs `sql` on `client`: refused with `sqlstate`, and nothing changed.
async fn refused_unchanged(g: &Guarded, client: &Client, sql: &str, sqlstate: &str) -> String {
    let before = g.snapshot().await;
    let last = g.last_op().await;
    let error = client
        .batch_execute(sql)
        .await
        .expect_err(&format!("{sql}: refused"));
    let (code, message) = refused(&error);
    assert_eq!(code, sqlstate, "{sql}: {message}");
    assert_eq!(g.snapshot().await, before, "{sql}: nothing changed");
    assert_eq!(g.last_op().await, last, "{sql}: nothing journaled");
    message
}

#[tokio::test]
async fn plain_deletes_straight_to_postgresql_and_through_the_proxy() {
    let g = Guarded::open().await;
    let (direct, proxied) = (g.unproxied().await, g.proxied().await);
    let mut session = None;
    for (client, path) in [(&direct, "direct"), (&proxied, "proxy")] {
        let sql = "DELETE FROM refunds WHERE id IN (1, 2)";
        let ops =
            destroyed_and_restored(&g, client, sql, &[("journal_delete", "refunds", 2)], path)
                .await;
        assert_eq!(ops[0].sql, sql, "the statement as the client sent it");
        session = ops[0].connection_id;
        refused_unchanged(&g, client, "DELETE FROM audit_logs WHERE id = 1", "SD001").await;
        // Over the limit (10) on every path.
        refused_unchanged(&g, client, "DELETE FROM orders WHERE id <= 11", "SD002").await;
    }
    // A soft table: outside the proxy the rows are really deleted, and
    // journaled as a hard delete that undelete re-inserts...
    let sql = "DELETE FROM orders WHERE id = 3";
    destroyed_and_restored(&g, &direct, sql, &[("hard_delete", "orders", 1)], "direct").await;
    // ... through it, the DELETE is a soft delete, in either protocol.
    destroyed_and_restored(&g, &proxied, sql, &[("soft_delete", "orders", 1)], "proxy").await;
    let before = g.snapshot().await;
    let n = proxied
        .execute("DELETE FROM orders WHERE id = $1", &[&4i32])
        .await
        .unwrap();
    assert_eq!(n, 1, "DELETE 1");
    let ops = g.operations_after(g.last_op().await - 1).await;
    assert_eq!(ops[0].summary(), ("soft_delete", "orders", 1));
    assert_eq!(ops[0].sql, "DELETE FROM orders WHERE id = $1");
    assert!(session.is_some(), "the proxy's session");
    assert_eq!(ops[0].connection_id, session, "the same session");
    assert_eq!(ops[0].client_addr.as_deref(), Some("127.0.0.1"));
    assert!(g.undelete_txid(ops[0].txid).await.ok);
    assert_eq!(g.snapshot().await, before);
}

#[tokio::test]
async fn foreign_key_cascades() {
    let g = Guarded::open().await;
    for (client, path) in [
        (g.unproxied().await, "direct"),
        (g.proxied().await, "proxy"),
    ] {
        // From a journaled parent: the children go with it, journaled in
        // the same transaction, and come back with it (parents first).
        destroyed_and_restored(
            &g,
            &client,
            "DELETE FROM customers WHERE id = 3",
            &[
                ("journal_delete", "customers", 1),
                ("hard_delete", "orders", 10),
            ],
            path,
        )
        .await;
        // From a parent whose rows are not journaled: refused, naming the
        // foreign key, since the children could not be brought back whole.
        let message =
            refused_unchanged(&g, &client, "DELETE FROM suppliers WHERE id = 1", "SD001").await;
        assert!(
            message.contains("foreign key refunds_supplier_id_fkey")
                && message.contains("public.suppliers"),
            "{message}"
        );
        // A parent whose delete reaches no protected row is none of the
        // guard's business.
        client
            .batch_execute("DELETE FROM suppliers WHERE id = 2")
            .await
            .unwrap();
        g.direct
            .batch_execute("INSERT INTO suppliers VALUES (2, 'globex')")
            .await
            .unwrap();
    }
}

const ROUTINES: &str = "
CREATE FUNCTION drop_refund(int) RETURNS void LANGUAGE sql AS 'DELETE FROM refunds WHERE id = $1';
CREATE FUNCTION drop_orders_of(int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE n int;
BEGIN
    DELETE FROM orders WHERE customer_id = $1;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
CREATE PROCEDURE drop_big_refunds(floor int) LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM refunds WHERE amount >= floor AND supplier_id IS NULL;
END $$;
CREATE FUNCTION drop_audit_logs() RETURNS void LANGUAGE sql AS 'DELETE FROM audit_logs';
CREATE FUNCTION drop_first_orders(int) RETURNS void LANGUAGE sql AS 'DELETE FROM orders WHERE id <= $1';
";

#[tokio::test]
async fn functions_procedures_and_do_blocks() {
    let g = Guarded::open().await;
    g.direct.batch_execute(ROUTINES).await.unwrap();
    // The proxy does not see inside them: these calls reach PostgreSQL as
    // they were sent, and the guard knows them as direct.
    for client in [g.unproxied().await, g.proxied().await] {
        let ops = destroyed_and_restored(
            &g,
            &client,
            "SELECT drop_refund(3)",
            &[("journal_delete", "refunds", 1)],
            "direct",
        )
        .await;
        assert_eq!(ops[0].sql, "SELECT drop_refund(3)");
        destroyed_and_restored(
            &g,
            &client,
            "SELECT drop_orders_of(2)",
            &[("hard_delete", "orders", 10)],
            "direct",
        )
        .await;
        destroyed_and_restored(
            &g,
            &client,
            "CALL drop_big_refunds(240)",
            &[("journal_delete", "refunds", 2)],
            "direct",
        )
        .await;
        destroyed_and_restored(
            &g,
            &client,
            "DO $$ BEGIN EXECUTE format('DELETE FROM refunds WHERE id IN (%s, %s)', 4, 5); END $$",
            &[("journal_delete", "refunds", 2)],
            "direct",
        )
        .await;
        refused_unchanged(&g, &client, "SELECT drop_audit_logs()", "SD001").await;
        refused_unchanged(&g, &client, "SELECT drop_first_orders(11)", "SD002").await;
    }
}

#[tokio::test]
async fn views_rules_merge_and_copy() {
    let g = Guarded::open().await;
    g.direct
        .batch_execute(
            "CREATE VIEW small_refunds AS SELECT * FROM refunds WHERE amount < 100;
             CREATE RULE cancel_refund AS ON DELETE TO refund_requests
                 DO ALSO DELETE FROM refunds WHERE id = OLD.id;",
        )
        .await
        .unwrap();
    for (client, path) in [
        (g.unproxied().await, "direct"),
        (g.proxied().await, "proxy"),
    ] {
        // The proxy has no rule for the view: it only passes the client's
        // context along (and checks the default row limit).
        destroyed_and_restored(
            &g,
            &client,
            "DELETE FROM small_refunds WHERE id < 3",
            &[("journal_delete", "refunds", 2)],
            path,
        )
        .await;
        // The rule deletes refunds too (refund_requests itself is not
        // protected, so its row stays gone).
        let last = g.last_op().await;
        client
            .batch_execute("DELETE FROM refund_requests WHERE id = 7")
            .await
            .unwrap();
        let ops = g.operations_after(last).await;
        assert_eq!(ops.len(), 1, "{ops:?}");
        assert_eq!(ops[0].summary(), ("journal_delete", "refunds", 1));
        assert!(g.undelete_txid(ops[0].txid).await.ok);
        assert_eq!(g.count("SELECT count(*) FROM refunds").await, 30);
        g.direct
            .batch_execute("INSERT INTO refund_requests VALUES (7)")
            .await
            .unwrap();
        // MERGE goes through as it is (on_parse_error: pass).
        destroyed_and_restored(
            &g,
            &client,
            "MERGE INTO refunds r USING (VALUES (8), (9)) v(id) ON r.id = v.id WHEN MATCHED THEN DELETE",
            &[("journal_delete", "refunds", 2)],
            "direct",
        )
        .await;
        // MERGE on a soft table: really deleted, journaled, re-inserted.
        destroyed_and_restored(
            &g,
            &client,
            "MERGE INTO orders o USING (VALUES (5)) v(id) ON o.id = v.id WHEN MATCHED THEN DELETE",
            &[("hard_delete", "orders", 1)],
            "direct",
        )
        .await;
    }
    // COPY (DELETE ... RETURNING) TO STDOUT, both ways.
    for client in [g.unproxied().await, g.proxied().await] {
        use futures_util::StreamExt;
        let before = g.snapshot().await;
        let last = g.last_op().await;
        let out = client
            .copy_out("COPY (DELETE FROM refunds WHERE id IN (10, 11) RETURNING id) TO STDOUT")
            .await
            .unwrap();
        let chunks: Vec<_> = out.collect().await;
        let text: String = chunks
            .into_iter()
            .map(|c| String::from_utf8(c.unwrap().to_vec()).unwrap())
            .collect();
        assert_eq!(text, "10\n11\n");
        let ops = g.operations_after(last).await;
        assert_eq!(
            ops.iter().map(Op::summary).collect::<Vec<_>>(),
            [("journal_delete", "refunds", 2)]
        );
        assert!(g.undelete_txid(ops[0].txid).await.ok);
        assert_eq!(g.snapshot().await, before);
    }
}

#[tokio::test]
async fn renamed_tables_search_path_tricks_and_replica_role() {
    let g = Guarded::open().await;
    // A renamed table keeps its guard (the rules name it no more: the proxy
    // leaves it alone, `softdel check` reports the drift).
    g.direct
        .batch_execute("ALTER TABLE refunds RENAME TO refunds_2025")
        .await
        .unwrap();
    for (client, path) in [
        (g.unproxied().await, "direct"),
        (g.proxied().await, "proxy"),
    ] {
        let count = "SELECT count(*) FROM refunds_2025";
        let last = g.last_op().await;
        client
            .batch_execute("DELETE FROM refunds_2025 WHERE id = 12")
            .await
            .unwrap();
        assert_eq!(g.count(count).await, 29);
        let ops = g.operations_after(last).await;
        assert_eq!(
            ops.iter().map(Op::summary).collect::<Vec<_>>(),
            [("journal_delete", "refunds_2025", 1)]
        );
        assert_eq!(ops[0].path.as_deref(), Some(path));
        assert_eq!(ops[0].sql, "DELETE FROM refunds_2025 WHERE id = 12");
        assert!(g.undelete_txid(ops[0].txid).await.ok);
        assert_eq!(g.count(count).await, 30);
    }
    let check = crate::operator::softdel(&[
        "check",
        "--rules",
        g.dir.join("rules.yaml").to_str().unwrap(),
        "--database-url",
        &g.url(),
    ])
    .await;
    assert!(
        check
            .stdout
            .contains("public.refunds: guarded (journal, at most 1000 rows), but the rules do not protect it (renamed to public.refunds_2025 since)"),
        "{check:?}"
    );
    g.direct
        .batch_execute("ALTER TABLE refunds_2025 RENAME TO refunds")
        .await
        .unwrap();

    // A view named like a protected table, first on the search_path: the
    // DELETE reaches the table through it, and the table's guard journals it.
    g.direct
        .batch_execute(
            "CREATE SCHEMA shadow; CREATE VIEW shadow.refunds AS SELECT * FROM public.refunds;",
        )
        .await
        .unwrap();
    let direct = g.unproxied().await;
    direct
        .batch_execute("SET search_path = shadow, public")
        .await
        .unwrap();
    destroyed_and_restored(
        &g,
        &direct,
        "DELETE FROM refunds WHERE id = 13",
        &[("journal_delete", "refunds", 1)],
        "direct",
    )
    .await;
    // Through the proxy the rule for `refunds` names the view, which has
    // no guard: refused before anything runs.
    let proxied = g.proxied().await;
    proxied
        .batch_execute("SET search_path = shadow, public")
        .await
        .unwrap();
    let message =
        refused_unchanged(&g, &proxied, "DELETE FROM refunds WHERE id = 13", "SD005").await;
    assert!(message.contains("shadow.refunds"), "{message}");

    // session_replication_role = replica disables ordinary triggers and
    // foreign keys; the guard's fire all the same.
    for (client, path) in [
        (g.unproxied().await, "direct"),
        (g.proxied().await, "proxy"),
    ] {
        client
            .batch_execute("SET session_replication_role = replica")
            .await
            .unwrap();
        destroyed_and_restored(
            &g,
            &client,
            "DELETE FROM refunds WHERE id = 14",
            &[("journal_delete", "refunds", 1)],
            path,
        )
        .await;
        refused_unchanged(&g, &client, "DELETE FROM audit_logs", "SD001").await;
        refused_unchanged(&g, &client, "TRUNCATE refunds", "SD003").await;
    }
}

#[tokio::test]
async fn soft_deletes_by_the_application_itself_and_outside_proxy_refuse() {
    let g = Guarded::open().await;
    let (direct, proxied) = (g.unproxied().await, g.proxied().await);
    // An application that soft-deletes by itself is journaled too.
    for (client, path) in [(&direct, "direct"), (&proxied, "direct")] {
        destroyed_and_restored(
            &g,
            client,
            "UPDATE orders SET is_active = false WHERE id IN (6, 7)",
            &[("soft_delete", "orders", 2)],
            path,
        )
        .await;
        // Rows already marked are not counted twice; other updates are
        // not soft deletes.
        let last = g.last_op().await;
        client
            .batch_execute("UPDATE orders SET note = 'x' WHERE id = 6")
            .await
            .unwrap();
        assert_eq!(g.last_op().await, last);
        let message = refused_unchanged(
            &g,
            client,
            "UPDATE orders SET is_active = false WHERE id <= 11",
            "SD002",
        )
        .await;
        assert!(message.contains("would mark 11 rows deleted"), "{message}");
    }
    // archive: soft (timestamp), outside_proxy: refuse.
    let message = refused_unchanged(&g, &direct, "DELETE FROM archive WHERE id = 1", "SD001").await;
    assert!(message.contains("outside_proxy: refuse"), "{message}");
    destroyed_and_restored(
        &g,
        &proxied,
        "DELETE FROM archive WHERE id = 1",
        &[("soft_delete", "archive", 1)],
        "proxy",
    )
    .await;
    destroyed_and_restored(
        &g,
        &direct,
        "UPDATE archive SET archived_at = now() WHERE id = 2",
        &[("soft_delete", "archive", 1)],
        "direct",
    )
    .await;
}

#[tokio::test]
async fn a_rolled_back_delete_leaves_no_journal_entry() {
    let g = Guarded::open().await;
    for client in [g.unproxied().await, g.proxied().await] {
        let before = g.snapshot().await;
        let last = g.last_op().await;
        client
            .batch_execute(
                "BEGIN; DELETE FROM orders WHERE id = 1; DELETE FROM refunds WHERE id = 1; ROLLBACK",
            )
            .await
            .unwrap();
        let tx = client
            .batch_execute("BEGIN; DELETE FROM refunds WHERE id = 2; SELECT 1/0; COMMIT")
            .await;
        assert!(tx.is_err());
        client.batch_execute("ROLLBACK").await.unwrap();
        assert_eq!(g.snapshot().await, before);
        assert_eq!(g.last_op().await, last, "nothing journaled");
    }
}

#[tokio::test]
async fn a_delete_in_the_clients_own_cte_and_sql_level_execute() {
    let g = Guarded::open().await;
    let client = g.proxied().await;
    // The client's own CTE: SELECT * sees the table's columns only.
    let rows = client
        .query(
            "WITH d AS (DELETE FROM orders WHERE id = 1 RETURNING *) SELECT * FROM d",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let columns: Vec<&str> = rows[0].columns().iter().map(|c| c.name()).collect();
    assert_eq!(columns, ["id", "customer_id", "is_active", "note"]);
    let simple = client
        .simple_query("WITH d AS (DELETE FROM refunds WHERE id = 1 RETURNING *) SELECT * FROM d")
        .await
        .unwrap();
    let row = simple
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .unwrap();
    assert_eq!(row.len(), 4, "id, order_id, amount, supplier_id");
    let ops = g.operations_after(0).await;
    assert_eq!(
        ops.iter().map(Op::summary).collect::<Vec<_>>(),
        [
            ("soft_delete", "orders", 1),
            ("journal_delete", "refunds", 1)
        ]
    );

    // SQL-level PREPARE and EXECUTE: the DELETE n tag, in the simple
    // protocol and in the extended one without a Describe.
    client
        .batch_execute("PREPARE del (int) AS DELETE FROM orders WHERE id = $1")
        .await
        .unwrap();
    let tags: Vec<u64> = client
        .simple_query("EXECUTE del(2); EXECUTE del(2)")
        .await
        .unwrap()
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::CommandComplete(n) => Some(*n),
            _ => None,
        })
        .collect();
    assert_eq!(tags, [1, 0], "the second finds the row already deleted");
    let mut raw = crate::common::raw::RawConn::login(g.proxy.addr, "postgres", &g.database).await;
    raw.send(&crate::common::raw::query(
        "PREPARE del (int) AS DELETE FROM orders WHERE id = $1",
    ))
    .await;
    raw.until_ready().await;
    raw.send(&execute_without_describe("EXECUTE del(3)")).await;
    let answer = raw.until_ready().await;
    let tags: Vec<String> = answer
        .iter()
        .filter(|m| m.tag == b'C')
        .map(|m| {
            String::from_utf8_lossy(&m.body)
                .trim_end_matches('\0')
                .to_owned()
        })
        .collect();
    assert_eq!(tags, ["DELETE 1"], "{answer:?}");
    assert!(answer.iter().all(|m| m.tag != b'D'), "no rows: {answer:?}");
    // DEALLOCATE forgets it: a later PREPARE under the name of an UPDATE
    // keeps its own tag.
    raw.send(&crate::common::raw::query(
        "DEALLOCATE del; PREPARE del AS UPDATE orders SET note = 'n' WHERE id = 4; EXECUTE del",
    ))
    .await;
    let answer = raw.until_ready().await;
    let tags: Vec<String> = answer
        .iter()
        .filter(|m| m.tag == b'C')
        .map(|m| {
            String::from_utf8_lossy(&m.body)
                .trim_end_matches('\0')
                .to_owned()
        })
        .collect();
    assert_eq!(tags, ["DEALLOCATE", "PREPARE", "UPDATE 1"]);
    assert_eq!(
        g.count("SELECT count(*) FROM orders WHERE NOT is_active")
            .await,
        3
    );
}

/// Parse, Bind and Execute of `sql` (unnamed), then Sync: no Describe.
fn execute_without_describe(sql: &str) -> Vec<u8> {
    use crate::common::raw::message;
    let mut parse = Vec::new();
    parse.extend_from_slice(b"\0");
    parse.extend_from_slice(sql.as_bytes());
    parse.extend_from_slice(&[0, 0, 0]);
    let bind = [0u8, 0, 0, 0, 0, 0, 0, 0];
    let execute = [0u8, 0, 0, 0, 0];
    let mut out = message(b'P', &parse);
    out.extend(message(b'B', &bind));
    out.extend(message(b'E', &execute));
    out.extend(message(b'S', b""));
    out
}
