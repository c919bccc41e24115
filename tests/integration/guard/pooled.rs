//! softdel in front of a real PgBouncer in transaction pooling: clients
//! share one server connection, and nothing one of them sets reaches
//! another's journal entries (the context holds for one transaction).

use super::{Guarded, Op};
use crate::common::pgbouncer::{Bouncer, BouncerOptions, backend_pid};
use crate::common::{cluster, connect};

#[tokio::test]
async fn behind_a_transaction_pooler_each_client_keeps_its_own_context() {
    let bouncer = Bouncer::start(&cluster().addr(), BouncerOptions::default()).await;
    let upstream = bouncer.addr.to_string();
    let g = Guarded::open_with(|config| config.upstream = upstream).await;
    g.direct
        .batch_execute(
            "CREATE FUNCTION drop_refund(int) RETURNS void LANGUAGE sql \
             AS 'DELETE FROM refunds WHERE id = $1'",
        )
        .await
        .unwrap();
    let before = g.snapshot().await;
    let a = g.proxied().await;
    let b = g.proxied().await;
    let c = connect(&bouncer.url("postgres", &g.database))
        .await
        .unwrap();
    let pid = backend_pid(&a).await;
    assert_eq!(backend_pid(&b).await, pid, "one server connection");
    assert_eq!(backend_pid(&c).await, pid, "one server connection");

    // A soft-deletes, then leaves a context of its own in the server
    // session (a session-level setting, which the pooler passes on).
    a.batch_execute("DELETE FROM orders WHERE id = 1")
        .await
        .unwrap();
    a.batch_execute(
        "SELECT set_config('softdel.context', \
         E'softdel1\\t4242\\t6.6.6.6\\t' || txid_current() || E'\\t0\\tforged', false)",
    )
    .await
    .unwrap();
    // B, on the same server connection: a delete the proxy does not see
    // (inside a function), then one it rewrites, in the extended protocol.
    b.batch_execute("SELECT drop_refund(3)").await.unwrap();
    assert_eq!(
        b.execute("DELETE FROM refunds WHERE id = $1", &[&4i32])
            .await
            .unwrap(),
        1
    );
    // C, straight to the pooler.
    c.batch_execute("DELETE FROM refunds WHERE id = 5")
        .await
        .unwrap();
    // A and B in turns, in transactions: B waits for A's to end.
    a.batch_execute("BEGIN; DELETE FROM orders WHERE id = 6")
        .await
        .unwrap();
    let waiting = tokio::spawn(async move {
        b.batch_execute("BEGIN; DELETE FROM orders WHERE id = 7; COMMIT")
            .await
            .unwrap();
        b
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "B waits for the server connection");
    a.batch_execute("COMMIT").await.unwrap();
    let _b = waiting.await.unwrap();

    let ops = g.operations_after(0).await;
    /// action, table, rows, path, session, sql
    type Seen<'a> = (&'a str, &'a str, i64, Option<&'a str>, Option<i64>, &'a str);
    let seen: Vec<Seen> = ops
        .iter()
        .map(|o| {
            (
                o.action.as_str(),
                o.table.as_str(),
                o.rows,
                o.path.as_deref(),
                o.connection_id,
                o.sql.as_str(),
            )
        })
        .collect();
    let session_a = ops[0].connection_id;
    let session_b = ops[2].connection_id;
    assert!(session_a.is_some() && session_b.is_some() && session_a != session_b);
    assert_eq!(
        seen,
        [
            (
                "soft_delete",
                "orders",
                1,
                Some("proxy"),
                session_a,
                "DELETE FROM orders WHERE id = 1"
            ),
            (
                "journal_delete",
                "refunds",
                1,
                Some("direct"),
                None,
                "SELECT drop_refund(3)"
            ),
            (
                "journal_delete",
                "refunds",
                1,
                Some("proxy"),
                session_b,
                "DELETE FROM refunds WHERE id = $1"
            ),
            (
                "journal_delete",
                "refunds",
                1,
                Some("direct"),
                None,
                "DELETE FROM refunds WHERE id = 5"
            ),
            (
                "soft_delete",
                "orders",
                1,
                Some("proxy"),
                session_a,
                "DELETE FROM orders WHERE id = 6"
            ),
            (
                "soft_delete",
                "orders",
                1,
                Some("proxy"),
                session_b,
                "DELETE FROM orders WHERE id = 7"
            ),
        ]
    );
    assert!(
        ops.iter()
            .all(|o| o.client_addr.as_deref() != Some("6.6.6.6") && o.images == 1),
        "{ops:?}"
    );
    // Refusals work there too, and everything comes back.
    let error = g
        .proxied()
        .await
        .batch_execute("DELETE FROM audit_logs")
        .await
        .unwrap_err();
    assert_eq!(super::refused(&error).0, "SD001");
    let ids: Vec<String> = ops.iter().map(|o: &Op| o.id.to_string()).collect();
    let mut args = vec!["undelete", "--database-url"];
    let url = g.url();
    args.push(&url);
    args.extend(ids.iter().map(String::as_str));
    let run = crate::operator::softdel(&args).await;
    assert!(run.ok, "{run:?}");
    assert_eq!(g.snapshot().await, before);
}
