//! `softdel init --rules`: installs the guard, keeps it in line with the
//! rules when they change, refuses rules naming missing tables, upgrades a
//! version-2 journal without losing anything restorable.

use super::{Guarded, Op, RULES};
use crate::common::{cluster, connect, fresh_database};
use crate::operator::softdel;

async fn init(url: &str, rules: &std::path::Path) -> crate::operator::Run {
    softdel(&[
        "init",
        "--database-url",
        url,
        "--rules",
        rules.to_str().unwrap(),
    ])
    .await
}

/// The CHANGE column of `softdel init`'s table, per table.
fn changes(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("TABLE"))
        .skip(1)
        .take_while(|l| l.starts_with(|c: char| c.is_alphanumeric()) && !l.starts_with("DDL"))
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            (
                words[0].to_owned(),
                words.last().copied().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn init_is_idempotent_and_follows_the_rules_as_they_change() {
    let g = Guarded::open().await;
    let rules = g.dir.join("rules.yaml");
    let run = init(&g.url(), &rules).await;
    assert!(run.ok, "{run:?}");
    assert!(
        run.stdout
            .starts_with("softdel journal already installed (schema softdel, version 6)"),
        "{run:?}"
    );
    assert!(
        changes(&run.stdout).iter().all(|(_, c)| c == "unchanged"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("DDL guarded"),
        "installed as a superuser: {run:?}"
    );
    let check = softdel(&[
        "check",
        "--rules",
        rules.to_str().unwrap(),
        "--database-url",
        &g.url(),
    ])
    .await;
    assert!(check.ok, "{check:?}");

    // refunds no longer protected, orders' limit raised, suppliers added.
    let changed = RULES
        .replace("  refunds:\n    on_delete: journal\n", "")
        .replace("    max_rows: 10\n", "    max_rows: 20\n")
        + "  suppliers:\n    on_delete: journal\n";
    std::fs::write(&rules, &changed).unwrap();
    // Until init runs again, check says what differs.
    let check = softdel(&[
        "check",
        "--rules",
        rules.to_str().unwrap(),
        "--database-url",
        &g.url(),
    ])
    .await;
    assert!(!check.ok, "{check:?}");
    for line in [
        "public.suppliers: no guard installed",
        "public.orders: the guard installed is soft, flag is_active, at most 10 rows, the rules say soft, flag is_active, at most 20 rows",
        "public.refunds: guarded (journal, at most 1000 rows), but the rules do not protect it",
    ] {
        assert!(check.stdout.contains(line), "{line} in {check:?}");
    }
    let run = init(&g.url(), &rules).await;
    assert!(run.ok, "{run:?}");
    let mut seen = changes(&run.stdout);
    seen.sort();
    assert_eq!(
        seen,
        [
            ("public.archive".into(), "unchanged".into()),
            ("public.audit_logs".into(), "unchanged".into()),
            ("public.customers".into(), "unchanged".into()),
            ("public.orders".into(), "changed".into()),
            ("public.refunds".into(), "removed".into()),
            ("public.suppliers".into(), "added".into()),
        ],
        "{run:?}"
    );
    // Each change is in force: refunds goes unjournaled, orders takes 20,
    // suppliers is journaled (so its cascade into refunds is no longer a
    // cascade from an unjournaled parent: refunds is not protected now).
    let client = g.unproxied().await;
    client
        .batch_execute("DELETE FROM refunds WHERE id = 1")
        .await
        .unwrap();
    client
        .batch_execute("UPDATE orders SET is_active = false WHERE id <= 15")
        .await
        .unwrap();
    client
        .batch_execute("DELETE FROM suppliers WHERE id = 1")
        .await
        .unwrap();
    let ops = g.operations_after(0).await;
    assert_eq!(
        ops.iter().map(Op::summary).collect::<Vec<_>>(),
        [
            ("soft_delete", "orders", 15),
            ("journal_delete", "suppliers", 1)
        ]
    );
    let check = softdel(&[
        "check",
        "--rules",
        rules.to_str().unwrap(),
        "--database-url",
        &g.url(),
    ])
    .await;
    assert!(check.ok, "{check:?}");
}

#[tokio::test]
async fn a_rule_naming_a_missing_table_installs_nothing() {
    let g = Guarded::open().await;
    let rules = g.dir.join("typo.yaml");
    std::fs::write(
        &rules,
        "tables:\n  refunds:\n    on_delete: block\n  ordrs:\n    flag: is_active\n",
    )
    .unwrap();
    let run = init(&g.url(), &rules).await;
    assert!(!run.ok, "{run:?}");
    assert!(
        run.stderr.contains(&format!(
            "{}:4:3: tables.ordrs: database {} has no such table",
            rules.display(),
            g.database
        )) && run.stderr.contains("nothing was installed"),
        "{run:?}"
    );
    // The guards stay as they were: refunds still journal, not block.
    g.unproxied()
        .await
        .batch_execute("DELETE FROM refunds WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(g.operations_after(0).await[0].action, "journal_delete");
    // A marker column that is not there, or a soft table without a key.
    std::fs::write(&rules, "tables:\n  refunds:\n    flag: is_active\n").unwrap();
    let run = init(&g.url(), &rules).await;
    assert!(
        !run.ok && run.stderr.contains("has no column is_active"),
        "{run:?}"
    );
    // And without --rules, init leaves the guards alone.
    let run = softdel(&["init", "--database-url", &g.url()]).await;
    assert!(run.ok, "{run:?}");
    assert_eq!(g.count("SELECT count(*) FROM softdel.guarded").await, 5);
}

#[tokio::test]
async fn a_version_2_journal_is_upgraded_and_stays_restorable() {
    let database = fresh_database("v2");
    let url = cluster().url(&database);
    let direct = connect(&url).await.unwrap();
    // What version 2 installed and journaled: a soft delete and a
    // journaled hard delete, made through the proxy of that version.
    direct
        .batch_execute(
            "CREATE TABLE orders (id int PRIMARY KEY, is_active boolean NOT NULL DEFAULT true);
             CREATE TABLE refunds (id int PRIMARY KEY, amount int);
             INSERT INTO orders VALUES (1, false), (2, true);
             INSERT INTO refunds VALUES (2, 20);
             CREATE SCHEMA softdel;
             CREATE TABLE softdel.version (version integer NOT NULL, installed_at timestamptz NOT NULL DEFAULT now());
             CREATE TABLE softdel.operations (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(),
                 txid bigint NOT NULL DEFAULT txid_current(), db_user text NOT NULL DEFAULT session_user,
                 application_name text NOT NULL DEFAULT current_setting('application_name'),
                 database text NOT NULL DEFAULT current_database(), client_addr text, connection_id bigint,
                 table_schema text NOT NULL, table_name text NOT NULL, action text NOT NULL,
                 row_count bigint NOT NULL, sql text NOT NULL, reason text, marker_kind text, marker_column text);
             CREATE TABLE softdel.rows (op_id bigint NOT NULL REFERENCES softdel.operations (id) ON DELETE CASCADE,
                 image jsonb NOT NULL, id bigint GENERATED ALWAYS AS IDENTITY,
                 restored_by bigint REFERENCES softdel.operations (id) ON DELETE SET NULL);
             GRANT USAGE ON SCHEMA softdel TO PUBLIC;
             GRANT INSERT ON softdel.operations, softdel.rows TO PUBLIC;
             INSERT INTO softdel.version VALUES (1), (2);
             INSERT INTO softdel.operations (table_schema, table_name, action, row_count, sql, marker_kind, marker_column)
                 VALUES ('public', 'orders', 'soft_delete', 1, 'DELETE FROM orders WHERE id = 1', 'flag', 'is_active');
             INSERT INTO softdel.operations (table_schema, table_name, action, row_count, sql)
                 VALUES ('public', 'refunds', 'journal_delete', 1, 'DELETE FROM refunds WHERE id = 1');
             INSERT INTO softdel.rows (op_id, image) VALUES (1, '{\"id\": 1, \"is_active\": false}'),
                 (2, '{\"id\": 1, \"amount\": 10}');",
        )
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("softdel-{database}"));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.yaml");
    std::fs::write(
        &rules,
        "tables:\n  orders:\n    flag: is_active\n  refunds:\n    on_delete: journal\n",
    )
    .unwrap();
    let run = init(&url, &rules).await;
    assert!(run.ok, "{run:?}");
    assert!(
        run.stdout
            .contains("softdel journal upgraded from version 2 to 6"),
        "{run:?}"
    );
    // PUBLIC no longer writes the journal.
    let public_insert: bool = direct
        .query_one(
            "SELECT has_table_privilege('public', 'softdel.operations', 'INSERT')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!public_insert);
    // Both old operations come back, and new deletes are journaled beside them.
    direct
        .batch_execute("DELETE FROM refunds WHERE id = 2")
        .await
        .unwrap();
    let run = softdel(&["undelete", "--database-url", &url, "1", "2", "3"]).await;
    assert!(run.ok, "{run:?}");
    let state: Vec<String> = direct
        .query(
            "SELECT 'orders ' || string_agg(o::text, ' ' ORDER BY id) FROM orders o \
             UNION ALL SELECT 'refunds ' || string_agg(r::text, ' ' ORDER BY id) FROM refunds r",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(state, ["orders (1,t) (2,t)", "refunds (1,10) (2,20)"]);
}

#[tokio::test]
async fn a_table_owner_who_is_not_a_superuser_installs_the_guard_without_the_ddl_guard() {
    let database = fresh_database("owner");
    let admin = connect(&cluster().url(&database)).await.unwrap();
    admin
        .batch_execute(&format!(
            "DO $$ BEGIN
                 IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shop_owner') THEN
                     CREATE ROLE shop_owner LOGIN;
                 END IF;
             END $$;
             GRANT CREATE ON DATABASE {database} TO shop_owner;
             GRANT CREATE ON SCHEMA public TO shop_owner;"
        ))
        .await
        .unwrap();
    let owner_url = crate::common::url(
        cluster().addr().parse().unwrap(),
        "shop_owner",
        None,
        &database,
    );
    let owner = connect(&owner_url).await.unwrap();
    owner
        .batch_execute(
            "CREATE TABLE refunds (id int PRIMARY KEY, amount int);
             INSERT INTO refunds SELECT g, g FROM generate_series(1, 5) g;",
        )
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("softdel-{database}"));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.yaml");
    std::fs::write(&rules, "tables:\n  refunds:\n    on_delete: journal\n").unwrap();
    let run = init(&owner_url, &rules).await;
    assert!(run.ok, "{run:?}");
    assert!(run.stdout.contains("warning: DDL is unguarded"), "{run:?}");
    // The guard works all the same, and the journal is the owner's.
    owner
        .batch_execute("DELETE FROM refunds WHERE id = 1")
        .await
        .unwrap();
    let n: i64 = owner
        .query_one(
            "SELECT count(*) FROM softdel.operations WHERE action = 'journal_delete'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    let error = owner.batch_execute("TRUNCATE refunds").await.unwrap_err();
    assert_eq!(error.as_db_error().unwrap().code().code(), "SD003");
    // check warns that DDL is unguarded (a warning: it still passes).
    let check = softdel(&[
        "check",
        "--rules",
        rules.to_str().unwrap(),
        "--database-url",
        &owner_url,
    ])
    .await;
    assert!(check.ok, "{check:?}");
    assert!(
        check.stdout.contains("warning  DDL is unguarded"),
        "{check:?}"
    );
    // Unguarded indeed: the owner may drop the table.
    owner.batch_execute("DROP TABLE refunds").await.unwrap();
}

#[tokio::test]
async fn partitions_of_a_protected_table_are_guarded_too() {
    let database = fresh_database("parts");
    let url = cluster().url(&database);
    let direct = connect(&url).await.unwrap();
    direct
        .batch_execute(
            "CREATE TABLE events (id int, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
             CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
             CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
             INSERT INTO events SELECT g, CASE WHEN g % 2 = 0 THEN date '2025-06-01' ELSE date '2026-06-01' END
                 FROM generate_series(1, 10) g;",
        )
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("softdel-{database}"));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.yaml");
    std::fs::write(&rules, "tables:\n  events:\n    on_delete: journal\n").unwrap();
    let run = init(&url, &rules).await;
    assert!(run.ok, "{run:?}");
    for table in [
        "public.events ",
        "public.events_2025 ",
        "public.events_2026 ",
    ] {
        assert!(run.stdout.contains(table), "{table} in {run:?}");
    }
    // Through the parent (one operation, rows of both partitions) and
    // straight on a partition.
    direct
        .batch_execute("DELETE FROM events WHERE id <= 4")
        .await
        .unwrap();
    direct
        .batch_execute("DELETE FROM events_2026 WHERE id = 5")
        .await
        .unwrap();
    let ops: Vec<(String, i64)> = direct
        .query(
            "SELECT table_name, row_count FROM softdel.operations ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(ops, [("events".into(), 4), ("events_2026".into(), 1)]);
    let error = direct
        .batch_execute("TRUNCATE events_2025")
        .await
        .unwrap_err();
    assert_eq!(error.as_db_error().unwrap().code().code(), "SD003");
    let run = softdel(&["undelete", "--database-url", &url, "1", "2"]).await;
    assert!(run.ok, "{run:?}");
    let n: i64 = direct
        .query_one("SELECT count(*) FROM events", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 10);
}
