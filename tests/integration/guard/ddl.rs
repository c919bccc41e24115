//! DDL that would take the guard away is refused (event triggers); the
//! way to drop a protected table on purpose is through the rules.

use super::{Guarded, refused};
use crate::operator::softdel;

#[tokio::test]
async fn ddl_that_would_lose_rows_or_the_guard_is_refused() {
    let g = Guarded::open().await;
    let direct = g.unproxied().await;
    for sql in [
        "TRUNCATE orders",
        "TRUNCATE customers CASCADE",
        "DROP TABLE refunds",
        "DROP TABLE audit_logs CASCADE",
        "DROP SCHEMA public CASCADE",
        "ALTER TABLE orders DROP COLUMN is_active",
        "ALTER TABLE orders RENAME COLUMN is_active TO live",
        "ALTER TABLE refunds DISABLE TRIGGER ALL",
        "ALTER TABLE orders DISABLE TRIGGER softdel_guard_update",
        "ALTER TABLE orders ENABLE TRIGGER softdel_guard_update",
        "DROP TRIGGER softdel_guard_delete ON refunds",
        "ALTER TRIGGER softdel_guard_delete ON refunds RENAME TO x",
        "DROP SCHEMA softdel CASCADE",
        "DROP TABLE softdel.rows",
        "DROP FUNCTION softdel.refuse(text, text, text, bigint, bigint, text) CASCADE",
    ] {
        let error = direct.batch_execute(sql).await.expect_err(sql);
        let (code, message) = refused(&error);
        assert_eq!(code, "SD003", "{sql}: {message}");
        assert!(message.contains("nothing was"), "{sql}: {message}");
    }
    assert_eq!(g.count("SELECT count(*) FROM refunds").await, 30);
    assert_eq!(g.count("SELECT count(*) FROM softdel.guarded").await, 5);
    // What takes no protected row goes on as usual.
    direct
        .batch_execute(
            "ALTER TABLE orders ADD COLUMN shipped boolean;
             CREATE INDEX ON refunds (amount);
             ALTER TABLE orders RENAME COLUMN note TO remark;
             CREATE TABLE scratch (id int); TRUNCATE scratch; DROP TABLE scratch;",
        )
        .await
        .unwrap();
    // ... unless it reaches one: TRUNCATE of an unprotected parent cascades
    // into refunds.
    let error = direct
        .batch_execute("TRUNCATE suppliers CASCADE")
        .await
        .unwrap_err();
    assert_eq!(refused(&error).0, "SD003");

    // On purpose: out of the rules, init again, then it may go.
    let rules = g.dir.join("fewer.yaml");
    std::fs::write(
        &rules,
        super::RULES.replace("  refunds:\n    on_delete: journal\n", ""),
    )
    .unwrap();
    let run = softdel(&[
        "init",
        "--database-url",
        &g.url(),
        "--rules",
        rules.to_str().unwrap(),
    ])
    .await;
    assert!(run.ok, "{run:?}");
    assert!(
        run.stdout.contains("public.refunds")
            && run
                .stdout
                .lines()
                .any(|l| l.starts_with("public.refunds") && l.ends_with("removed")),
        "{run:?}"
    );
    direct.batch_execute("DROP TABLE refunds").await.unwrap();
}

#[tokio::test]
async fn the_hint_says_how_to_drop_a_protected_table_on_purpose() {
    let g = Guarded::open().await;
    let error = g
        .direct
        .batch_execute("DROP TABLE orders CASCADE")
        .await
        .unwrap_err();
    let db = error.as_db_error().unwrap();
    assert_eq!(db.code().code(), "SD003");
    assert!(
        db.message()
            .contains("DROP of table public.orders refused: the table is protected"),
        "{}",
        db.message()
    );
    assert!(
        db.hint()
            .unwrap()
            .contains("take the table out of the rules file and run softdel init --rules again")
    );
    // Through the proxy the refusal comes before anything runs.
    let error = g
        .proxied()
        .await
        .batch_execute("DROP TABLE orders")
        .await
        .unwrap_err();
    assert_eq!(refused(&error).0, "SD003");
}
