//! What each client sees stays its own on the shared server connection:
//! refusals, hidden rows, transactions, exemptions, observe mode.

use std::time::Duration;

use tokio_postgres::error::SqlState;

use super::{Pooled, column, eleven_to_thirteen, journal, waits_for};
use crate::common::pgbouncer::backend_pid;
use crate::operator::snapshot;
use crate::softdelete::shop::{message, sqlstate};

#[tokio::test]
async fn refusals_leave_the_shared_server_connection_to_the_other_clients() {
    let p = Pooled::open().await;
    let (a, b) = p.sharing("web-a", "web-b").await;
    let pid = backend_pid(&a).await;
    let before = snapshot(&p.shop).await;

    let refused = [
        (
            "DELETE FROM orders",
            "SD002",
            "DELETE on table public.orders refused: it would remove 20 rows, over the limit of 10",
        ),
        (
            "DELETE FROM scratch",
            "SD002",
            "DELETE on table scratch refused: it would remove 2000 rows, over the limit of 1000",
        ),
        (
            "DELETE FROM audit_logs WHERE id = 1",
            "SD001",
            "DELETE on table public.audit_logs refused: the table is protected \
             (on_delete: block) and the statement would remove 1 row",
        ),
        (
            "TRUNCATE refunds",
            "SD003",
            "TRUNCATE of table refunds refused: the table is protected",
        ),
        (
            "DO $$ BEGIN DELETE FROM refunds WHERE id = 4; END $$",
            "SD004",
            "statement refused: it may delete rows of protected table refunds \
             and softdel cannot analyse it",
        ),
    ];
    for (sql, code, text) in refused {
        let error = a.batch_execute(sql).await.unwrap_err();
        assert_eq!(sqlstate(&error), code, "{sql}");
        let said = message(&error);
        assert!(
            said.starts_with(&format!("softdel: {text}; nothing was")),
            "{sql}: {said}"
        );
        // The other client, on the same server connection, goes on at once,
        // and so does the refused one.
        assert_eq!(backend_pid(&b).await, pid);
        assert_eq!(column(&b, "SELECT count(*) FROM orders").await, ["20"]);
        assert_eq!(backend_pid(&a).await, pid);
    }
    let error = a
        .execute("DELETE FROM orders WHERE id > $1", &[&0i32])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&error), "SD002", "in the extended protocol too");
    assert_eq!(snapshot(&p.shop).await, before, "nothing was deleted");
    assert_eq!(p.shop.count("SELECT count(*) FROM scratch").await, 2000);

    // Each client's next delete is its own, with its own name.
    let one = "DELETE FROM orders WHERE id = $1";
    assert_eq!(a.execute(one, &[&11i32]).await.unwrap(), 1);
    assert_eq!(b.execute(one, &[&12i32]).await.unwrap(), 1);
    assert_eq!(
        journal(&p.shop).await,
        [
            "soft_delete public.orders 1 by postgres as web-a via proxy",
            "soft_delete public.orders 1 by postgres as web-b via proxy",
        ]
    );
    // The refusals are recorded as A's.
    let mut recorded = Vec::new();
    for _ in 0..250 {
        recorded = p
            .shop
            .blocked()
            .lines()
            .map(|line| {
                let attempt: serde_json::Value = serde_json::from_str(line).unwrap();
                format!(
                    "{} {}",
                    attempt["sqlstate"].as_str().unwrap(),
                    attempt["application_name"].as_str().unwrap()
                )
            })
            .collect();
        if recorded.len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        recorded,
        [
            "SD002 web-a",
            "SD002 web-a",
            "SD001 web-a",
            "SD003 web-a",
            "SD004 web-a",
            "SD002 web-a"
        ]
    );
}

#[tokio::test]
async fn show_deleted_is_each_clients_own_on_the_shared_server_connection() {
    let p = Pooled::open().await;
    let (a, b) = p.sharing("web-a", "web-b").await;
    a.batch_execute("DELETE FROM orders WHERE id IN (11, 12)")
        .await
        .unwrap();
    let simple = "SELECT id FROM orders WHERE id BETWEEN 11 AND 13 ORDER BY id";
    let extended = "SELECT id FROM orders WHERE id BETWEEN $1 AND $2 ORDER BY id";
    let prepared_a = a.prepare(extended).await.unwrap();
    let prepared_b = b.prepare(extended).await.unwrap();

    a.batch_execute("SET softdel.show_deleted = on")
        .await
        .unwrap();
    // In turns on the one server connection: A sees every row, B the live
    // ones, in the simple protocol, the extended one, and through the
    // statements each prepared before A's SET.
    for _ in 0..2 {
        assert_eq!(column(&a, simple).await, ["11", "12", "13"]);
        assert_eq!(column(&b, simple).await, ["13"]);
        assert_eq!(eleven_to_thirteen(&a, extended).await, [11, 12, 13]);
        assert_eq!(eleven_to_thirteen(&b, extended).await, [13]);
        assert_eq!(eleven_to_thirteen(&a, &prepared_a).await, [11, 12, 13]);
        assert_eq!(eleven_to_thirteen(&b, &prepared_b).await, [13]);
    }
    // What the server says is its session's, which both share: A's SET is
    // there for B too. What B sees is softdel's own setting for B.
    assert_eq!(column(&b, "SHOW softdel.show_deleted").await, ["on"]);
    assert_eq!(column(&b, simple).await, ["13"]);

    a.batch_execute("RESET softdel.show_deleted").await.unwrap();
    assert_eq!(column(&a, simple).await, ["13"]);
    // For one transaction: B waits for the server connection meanwhile.
    a.batch_execute("BEGIN; SET LOCAL softdel.show_deleted = on")
        .await
        .unwrap();
    assert_eq!(eleven_to_thirteen(&a, extended).await, [11, 12, 13]);
    let (_b, seen) = waits_for(&a, "COMMIT", async move {
        let seen = eleven_to_thirteen(&b, extended).await;
        (b, seen)
    })
    .await;
    assert_eq!(seen, [13]);
    assert_eq!(eleven_to_thirteen(&a, extended).await, [13], "it ended");
}

#[tokio::test]
async fn transactions_take_turns_on_the_shared_server_connection() {
    let p = Pooled::open().await;
    let (a, b) = p.sharing("web-a", "web-b").await;

    // Refused inside its transaction, A's block is aborted, as by any
    // error, and holds the server connection until A ends it.
    a.batch_execute("BEGIN; DELETE FROM orders WHERE id = 11")
        .await
        .unwrap();
    let error = a.batch_execute("DELETE FROM orders").await.unwrap_err();
    assert_eq!(sqlstate(&error), "SD002");
    let error = a.batch_execute("SELECT 1").await.unwrap_err();
    assert_eq!(error.code(), Some(&SqlState::IN_FAILED_SQL_TRANSACTION));
    let count = "SELECT count(*) FROM orders";
    let (b, seen) = waits_for(&a, "ROLLBACK", async move {
        let seen = column(&b, count).await;
        (b, seen)
    })
    .await;
    assert_eq!(seen, ["20"], "A's soft delete was rolled back");

    // A commits a soft delete while B's (extended protocol) waits.
    a.batch_execute("BEGIN; DELETE FROM orders WHERE id = 12")
        .await
        .unwrap();
    assert_eq!(column(&a, count).await, ["19"]);
    let (_b, deleted) = waits_for(&a, "COMMIT", async move {
        let deleted = b
            .execute("DELETE FROM refunds WHERE id = $1", &[&3i32])
            .await
            .unwrap();
        (b, deleted)
    })
    .await;
    assert_eq!(deleted, 1);
    assert!(
        !p.shop
            .value::<bool>("SELECT is_active FROM orders WHERE id = 12")
            .await
    );
    assert_eq!(
        journal(&p.shop).await,
        [
            "soft_delete public.orders 1 by postgres as web-a via proxy",
            "journal_delete public.refunds 1 by postgres as web-b via proxy",
        ]
    );
}

#[tokio::test]
async fn an_exempt_application_shares_the_server_connection_with_one_that_is_not() {
    let p = Pooled::open().await;
    let (job, web) = p.sharing("migrate-2026", "web").await;

    // The job's DELETE passes untouched: a real delete, which the guard
    // journals as the job's; the application's is a soft delete.
    let delete = "DELETE FROM orders WHERE id = $1";
    assert_eq!(job.execute(delete, &[&11i32]).await.unwrap(), 1);
    assert_eq!(web.execute(delete, &[&12i32]).await.unwrap(), 1);
    let there = "SELECT id::text || ' ' || is_active FROM orders WHERE id IN (11, 12)";
    assert_eq!(p.shop.strings(there).await, ["12 false"]);
    // Hiding is for the application only.
    let read = "SELECT id FROM orders WHERE id IN (11, 12, 13) ORDER BY id";
    assert_eq!(column(&job, read).await, ["12", "13"]);
    assert_eq!(column(&web, read).await, ["13"]);
    // Refusals: the proxy's for the application only; the guard's for both.
    let error = web.batch_execute("DELETE FROM scratch").await.unwrap_err();
    assert_eq!(sqlstate(&error), "SD002");
    assert_eq!(job.execute("DELETE FROM scratch", &[]).await.unwrap(), 2000);
    let unreadable = "DO $$ BEGIN DELETE FROM refunds WHERE id = 3; END $$";
    let error = web.batch_execute(unreadable).await.unwrap_err();
    assert_eq!(sqlstate(&error), "SD004");
    job.batch_execute(unreadable).await.unwrap();
    for client in [&job, &web] {
        let error = client
            .batch_execute("TRUNCATE audit_logs")
            .await
            .unwrap_err();
        assert_eq!(sqlstate(&error), "SD003");
    }
    assert_eq!(p.shop.count("SELECT count(*) FROM audit_logs").await, 5);
    // Each one's name on what it did, though they took turns on one
    // server connection (the pooler sets application_name for each).
    assert_eq!(
        journal(&p.shop).await,
        [
            "hard_delete public.orders 1 by postgres as migrate-2026 via direct",
            "soft_delete public.orders 1 by postgres as web via proxy",
            "journal_delete public.refunds 1 by postgres as migrate-2026 via direct",
        ]
    );
}

#[tokio::test]
async fn observe_mode_journals_each_clients_statements_as_its_own() {
    let p = Pooled::observing().await;
    let (a, b) = p.sharing("web-a", "web-b").await;
    // A's DELETE on a soft table is a real one; B's mass delete on an
    // allowed table runs; A's TRUNCATE too.
    assert_eq!(
        a.execute("DELETE FROM orders WHERE id = 15", &[])
            .await
            .unwrap(),
        1
    );
    assert_eq!(b.execute("DELETE FROM scratch", &[]).await.unwrap(), 2000);
    a.batch_execute("TRUNCATE audit_logs").await.unwrap();
    // Nothing is hidden, for either.
    p.shop
        .direct
        .batch_execute("UPDATE orders SET is_active = false WHERE id = 16")
        .await
        .unwrap();
    assert_eq!(
        column(&b, "SELECT id FROM orders WHERE id = 16").await,
        ["16"]
    );
    // Each is journaled under its own client's name: the guard's entries
    // in the statement's transaction, the proxy's own record of B's
    // mass delete (which only it could see) by its recorder, meanwhile.
    let expected = [
        "soft_delete public.orders 1 by postgres as  via direct",
        "would_refuse public.audit_logs 5 by postgres as web-a via direct",
        // The proxy's record names the table as the statement did.
        "would_refuse scratch 0 by postgres as web-b via proxy",
        "would_soft_delete public.orders 1 by postgres as web-a via direct",
    ];
    let mut lines = Vec::new();
    for _ in 0..100 {
        lines = journal(&p.shop).await;
        if lines.len() == expected.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    lines.sort();
    assert_eq!(lines, expected);
}
