//! `softdel check`: rules against the live catalog.

use super::{direct_url, softdel};
use crate::softdelete::shop::Shop;

const GOOD: &str = "
tables:
  orders: {on_delete: soft, flag: is_active}
  billing.payments: {on_delete: soft, timestamp: deleted_at}
  refunds: {on_delete: journal}
  audit_logs: {on_delete: block}
";

const BAD: &str = "
tables:
  orders: {on_delete: soft, flag: is_active}
  refunds: {on_delete: soft, flag: is_active}
  scratch: {on_delete: journal}
  invoices: {on_delete: soft, timestamp: deleted_at}
";

#[tokio::test]
async fn check_passes_a_good_rules_file_and_offers_fixes() {
    let shop = Shop::open().await;
    // The guard installed as these rules say.
    shop.install_guard(GOOD).await;
    let rules = shop.dir.join("good.yaml");
    std::fs::write(&rules, GOOD).unwrap();
    let rules = rules.to_string_lossy().into_owned();
    let url = direct_url(&shop);
    // A unique index that soft-deleted orders will collide with.
    shop.direct
        .batch_execute("ALTER TABLE orders ADD CONSTRAINT orders_note_key UNIQUE (note)")
        .await
        .unwrap();

    let run = softdel(&["check", "--rules", &rules, "--database-url", &url]).await;
    assert!(run.ok, "warnings are not problems: {run:?}");
    for line in [
        "  ok       journal installed (schema softdel, version 6)",
        "  ok       every protected table has its guard, as the rules say, and DDL is guarded",
        "orders (soft, flag is_active) -> public.orders",
        "  ok       column is_active is a boolean",
        "  ok       primary key (id)",
        "billing.payments (soft, timestamp deleted_at) -> billing.payments",
        "  ok       column deleted_at is a timestamp",
        "  warning  unique index orders_note_key counts soft-deleted rows",
        "0 problems, 1 warning",
    ] {
        assert!(run.stdout.contains(line), "{line:?} in\n{run:?}");
    }
    // The fix it prints is SQL that works, and afterwards the warning is gone.
    let fix = run
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("fix: "))
        .expect("a fix")
        .to_owned();
    assert_eq!(
        fix,
        "CREATE UNIQUE INDEX CONCURRENTLY orders_note_key_live ON public.orders USING btree (note) \
         WHERE is_active IS DISTINCT FROM false; ALTER TABLE \"public\".\"orders\" DROP CONSTRAINT \"orders_note_key\";"
    );
    for statement in fix.split(';').filter(|s| !s.trim().is_empty()) {
        shop.direct.batch_execute(statement).await.unwrap();
    }
    let run = softdel(&["check", "--rules", &rules, "--database-url", &url]).await;
    assert!(run.ok, "{run:?}");
    assert!(
        run.stdout
            .contains("  ok       unique index orders_note_key_live covers live rows only"),
        "{run:?}"
    );
    assert!(run.stdout.contains("0 problems, 0 warnings"), "{run:?}");
}

#[tokio::test]
async fn check_fails_on_what_would_make_softdel_misbehave() {
    let shop = Shop::open().await;
    let rules = shop.dir.join("bad.yaml");
    std::fs::write(&rules, BAD).unwrap();
    let rules = rules.to_string_lossy().into_owned();
    let url = direct_url(&shop);
    shop.direct
        .batch_execute(
            "CREATE TABLE shipments (id int PRIMARY KEY, order_id int REFERENCES orders ON DELETE CASCADE);
             ALTER TABLE orders DROP CONSTRAINT orders_customer_id_fkey,
                 ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers ON DELETE CASCADE;",
        )
        .await
        .unwrap();

    let run = softdel(&["check", "--rules", &rules, "--database-url", &url]).await;
    assert!(!run.ok, "{run:?}");
    for line in [
        "  PROBLEM  no column is_active: every DELETE on this table will fail",
        "  PROBLEM  no primary key: `softdel undelete` cannot match its rows",
        "  PROBLEM  no table invoices in this database: the rule protects nothing",
        "  warning  foreign key shipments_order_id_fkey from shipments ON DELETE CASCADE: a soft delete does not CASCADE into shipments, which is not soft",
        "  warning  foreign key orders_customer_fk to customers ON DELETE CASCADE: the guard refuses a DELETE on customers that would cascade into rows of this table",
        // The guard installed is the shop's, not what these rules say.
        "  PROBLEM  public.scratch: no guard installed (the rules say journal, at most 1000 rows)",
        "  PROBLEM  public.audit_logs: guarded (block, at most 1000 rows), but the rules do not protect it",
        "  PROBLEM  public.refunds: guarded (journal, at most 1000 rows), but its rule cannot be installed as written",
        "11 problems, 2 warnings",
    ] {
        assert!(run.stdout.contains(line), "{line:?} in\n{run:?}");
    }
    assert!(
        run.stderr
            .contains("11 problems would make softdel misbehave"),
        "{run:?}"
    );

    // Without the journal, that is a problem too (removed on purpose: the
    // DDL guard first).
    shop.direct
        .batch_execute("DROP SCHEMA softdel_ddl CASCADE; DROP SCHEMA softdel CASCADE")
        .await
        .unwrap();
    let run = softdel(&["check", "--rules", &rules, "--database-url", &url]).await;
    assert!(!run.ok);
    assert!(
        run.stdout
            .contains("  PROBLEM  the journal schema is not installed in this database"),
        "{run:?}"
    );
}
