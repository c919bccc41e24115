//! An application role that is not a superuser: its soft deletes work and
//! are journaled, and it can neither write nor erase the journal itself.

use super::{Guarded, Op, refused};
use crate::common::connect;

const ROLE: &str = "shop_app";

async fn app_role(g: &Guarded) {
    g.direct
        .batch_execute(&format!(
            "DO $$ BEGIN
                 IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
                     CREATE ROLE {ROLE} LOGIN;
                 END IF;
             END $$;
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {ROLE};"
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_application_role_deletes_but_cannot_touch_the_journal() {
    let g = Guarded::open().await;
    app_role(&g).await;
    let proxied = connect(&g.proxy.url(ROLE, None, &g.database))
        .await
        .unwrap();
    let direct = connect(&crate::common::url(
        crate::common::cluster()
            .addr()
            .parse()
            .expect("cluster address"),
        ROLE,
        None,
        &g.database,
    ))
    .await
    .unwrap();

    // Soft deletes through the proxy, journaled deletes straight to the
    // database: both work, journaled under the application's name.
    assert_eq!(
        proxied
            .execute("DELETE FROM orders WHERE id = $1", &[&1i32])
            .await
            .unwrap(),
        1
    );
    direct
        .batch_execute("DELETE FROM refunds WHERE id = 1")
        .await
        .unwrap();
    let ops = g.operations_after(0).await;
    assert_eq!(
        ops.iter().map(Op::summary).collect::<Vec<_>>(),
        [
            ("soft_delete", "orders", 1),
            ("journal_delete", "refunds", 1)
        ]
    );
    assert!(ops.iter().all(|o| o.db_user == ROLE), "{ops:?}");
    let error = proxied
        .batch_execute("DELETE FROM audit_logs")
        .await
        .unwrap_err();
    assert_eq!(refused(&error).0, "SD001");

    // The journal is out of its reach, straight or through the proxy.
    for client in [&direct, &proxied] {
        for sql in [
            "SELECT count(*) FROM softdel.operations",
            "INSERT INTO softdel.operations (table_schema, table_name, action, row_count, sql) \
             VALUES ('public', 'orders', 'undelete', 0, 'forged')",
            "INSERT INTO softdel.rows (op_id, image) VALUES (1, '{}')",
            "UPDATE softdel.rows SET restored_by = NULL",
            "DELETE FROM softdel.rows",
            "TRUNCATE softdel.operations",
            "SELECT softdel.refuse('public', 'orders', 'block', 1, NULL, NULL)",
            "SELECT softdel.allow('purge')",
            "SELECT softdel.record_refusal(now(), 'x', 'x', 'x', 'x', 1, 'x', 'x', 'x')",
            "SELECT token FROM softdel.secret",
            "INSERT INTO softdel.row_limit VALUES (1)",
        ] {
            let error = client.batch_execute(sql).await.expect_err(sql);
            let code = refused(&error).0;
            assert!(
                ["42501", "SD001", "SD003", "23514"].contains(&code.as_str()),
                "{sql}: {error:?}"
            );
        }
    }
    assert_eq!(g.operations_after(0).await.len(), 2, "nothing forged");

    // A context it forges (settings are no security boundary) may claim
    // the proxy, but cannot keep its deletes out of the journal.
    direct
        .batch_execute(
            "SET softdel.context = E'softdel1\\t999\\tforged\\t1\\t1\\tforged'; \
             DELETE FROM refunds WHERE id = 2",
        )
        .await
        .unwrap();
    let ops = g.operations_after(0).await;
    let forged = ops.last().unwrap();
    assert_eq!(forged.summary(), ("journal_delete", "refunds", 1));
    assert_eq!(forged.images, 1);
    assert_eq!(
        (forged.path.as_deref(), forged.connection_id),
        (Some("direct"), None),
        "a context from another transaction is not this one's"
    );

    // The operator brings it all back.
    for op in &ops {
        let run =
            crate::operator::softdel(&["undelete", "--database-url", &g.url(), &op.id.to_string()])
                .await;
        assert!(run.ok, "{run:?}");
    }
    assert_eq!(
        g.count("SELECT count(*) FROM orders WHERE is_active").await,
        30
    );
    assert_eq!(g.count("SELECT count(*) FROM refunds").await, 30);
}
