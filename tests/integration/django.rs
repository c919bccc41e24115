//! The Django ORM through the proxy: cascades soft-deleted, refused and
//! journaled in one transaction; and deleted rows hidden from an
//! application that knows nothing of soft deletes (`hiding`).
//!
//! tests/clients/django_scenario/scenario.py drives Django (5.2, psycopg 3)
//! through the proxy and checks each step as it goes; afterwards this test
//! reads the database directly and checks the end state and the journal on
//! its own. It runs twice: with psycopg's client-side binding (the simple
//! query protocol, values inlined) and with server-side binding (the
//! extended protocol, `$n` parameters).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;
use tokio_postgres::Client;

use crate::common::{TestProxy, cluster, connect, fresh_database};

/// The rules the scenario expects (Django names tables `<app>_<model>`).
const RULES: &str = "\
defaults:
  max_rows: 1000
tables:
  shop_order:
    flag: is_active
    max_rows: 5
  shop_payment:
    timestamp: deleted_at
  shop_refund:
    on_delete: journal
  shop_auditlog:
    on_delete: block
  shop_subscription:
    flag: is_active
";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A directory of the test's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("softdel-{name}"));
        std::fs::create_dir_all(&dir).expect("create scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn django_cascade_client_side_binding() {
    scenario(false).await;
}

#[tokio::test]
async fn django_cascade_server_side_binding() {
    scenario(true).await;
}

/// A fresh database with the journal installed, and a proxy in front of
/// it applying `rules` (the scripts install the guard once they have
/// created the tables).
struct Setup {
    direct_url: String,
    direct: Client,
    proxy_url: String,
    proxy: TestProxy,
    /// The rules file, for `softdel init --rules` once the tables exist.
    rules: String,
    _scratch: Scratch,
}

async fn setup(prefix: &str, rules_text: &str) -> Setup {
    let database = fresh_database(prefix);
    let direct_url = cluster().url(&database);
    let direct = connect(&direct_url).await.expect("connect directly");
    softdel::journal::install(&direct)
        .await
        .expect("install the journal");
    let scratch = Scratch::new(&database);
    let rules = scratch.0.join("rules.yaml");
    std::fs::write(&rules, rules_text).expect("write the rules file");
    let proxy = TestProxy::start_with(|config| config.rules = Some(rules.clone())).await;
    let proxy_url = proxy.url("postgres", None, &database);
    Setup {
        direct_url,
        direct,
        proxy_url,
        proxy,
        rules: rules.display().to_string(),
        _scratch: scratch,
    }
}

async fn scenario(server_side_binding: bool) {
    let Setup {
        direct_url,
        direct,
        proxy_url,
        proxy,
        rules,
        _scratch,
    } = setup("django", RULES).await;

    let mut args = vec![
        proxy_url.as_str(),
        direct_url.as_str(),
        env!("CARGO_BIN_EXE_softdel"),
        rules.as_str(),
    ];
    if server_side_binding {
        args.push("--server-side-binding");
    }
    run_python("scenario.py", &args).await;

    check_end_state(&direct).await;
    proxy.stop().await;
}

/// Runs tests/clients/django_scenario/SCRIPT ARGS with the project's
/// Python, and fails unless it passes its checks.
async fn run_python(script: &str, args: &[&str]) -> String {
    let python = repo().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-deps.sh python",
        python.display()
    );
    let script = repo().join("tests/clients/django_scenario").join(script);
    let mut command = Command::new(&python);
    command
        .arg(&script)
        .args(args)
        .current_dir(repo())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(180), command.output())
        .await
        .expect("the Django scenario finished within 180 s")
        .expect("run the Django scenario");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{} failed ({}):\n{stdout}\n{stderr}",
        script.display(),
        output.status
    );
    assert!(
        stdout.contains("checks passed"),
        "{} did not finish:\n{stdout}\n{stderr}",
        script.display()
    );
    stdout
}

/// The rules of the incident: everything the cascade reaches is protected.
const INCIDENT_RULES: &str = "\
tables:
  shop_customer:
    on_delete: journal
  shop_order:
    flag: is_active
  shop_payment:
    timestamp: deleted_at
  shop_refund:
    on_delete: journal
  shop_auditlog:
    on_delete: journal
";

#[tokio::test]
async fn django_incident_undone_by_txid_client_side_binding() {
    incident(false).await;
}

#[tokio::test]
async fn django_incident_undone_by_txid_server_side_binding() {
    incident(true).await;
}

/// A customer deleted in Django, every row of the cascade brought back by
/// `softdel undelete --txid` (tests/clients/django_scenario/incident.py).
async fn incident(server_side_binding: bool) {
    let Setup {
        direct_url,
        direct,
        proxy_url,
        proxy,
        rules,
        _scratch,
    } = setup("incident", INCIDENT_RULES).await;
    let mut args = vec![
        proxy_url.as_str(),
        direct_url.as_str(),
        env!("CARGO_BIN_EXE_softdel"),
        rules.as_str(),
    ];
    if server_side_binding {
        args.push("--server-side-binding");
    }
    run_python("incident.py", &args).await;

    // Read on our own: one undelete per table, in one transaction, and no
    // journaled row left unrestored.
    let undone = strings(
        &direct,
        "SELECT table_name || ':' || row_count FROM softdel.operations \
         WHERE action = 'undelete' ORDER BY table_name",
    )
    .await;
    assert_eq!(
        undone,
        [
            "shop_auditlog:12",
            "shop_customer:1",
            "shop_order:4",
            "shop_payment:8",
            "shop_refund:12"
        ]
    );
    let unrestored: i64 = direct
        .query_one(
            "SELECT count(*) FROM softdel.rows WHERE restored_by IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(unrestored, 0);
    proxy.stop().await;
}

async fn strings(client: &Client, sql: &str) -> Vec<String> {
    client
        .query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// What the scenario leaves behind, read straight from the database.
async fn check_end_state(db: &Client) {
    // alice (part 1) and dave (part 2b, whose orders had no audit logs)
    // were really deleted: shop_customer is not protected. The refused
    // deletes of carol (existing audit logs) and frank (foreign key at
    // commit) left them.
    assert_eq!(
        strings(db, "SELECT name FROM shop_customer ORDER BY id").await,
        ["bob", "carol2", "erin", "frank"]
    );
    // Soft-deleted orders stay, marked, pointing at their deleted customer
    // (no constraint); the refused six-order delete of erin's orders
    // changed nothing, the five-order one went through.
    assert_eq!(
        strings(
            db,
            "SELECT label || ':' || is_active FROM shop_order ORDER BY id"
        )
        .await,
        [
            "bob-1:true",
            "bob-2:true",
            "alice-1:false",
            "alice-2:false",
            "alice-3:false",
            "carol-1:true",
            "carol-2:true",
            "dave-1:false",
            "erin-1:false",
            "erin-2:false",
            "erin-3:false",
            "erin-4:false",
            "erin-5:false",
            "erin-6:true",
        ]
    );
    assert_eq!(
        strings(
            db,
            "SELECT o.label || ':' || p.amount || ':' || (p.deleted_at IS NOT NULL)
             FROM shop_payment p JOIN shop_order o ON o.id = p.order_id ORDER BY p.id"
        )
        .await,
        [
            "bob-1:101:false",
            "bob-1:102:false",
            "bob-2:201:false",
            "alice-1:101:true",
            "alice-1:102:true",
            "alice-2:201:true",
            "carol-1:101:false",
            "carol-2:201:false",
            "carol-2:202:false",
            "dave-1:101:true",
        ]
    );
    // alice's and dave's refunds are really gone; the others' are all there.
    assert_eq!(
        strings(
            db,
            "SELECT o.label || ':' || p.amount || ':' || r.amount
             FROM shop_refund r JOIN shop_payment p ON p.id = r.payment_id
             JOIN shop_order o ON o.id = p.order_id ORDER BY r.id"
        )
        .await,
        [
            "bob-1:101:1",
            "bob-1:102:1",
            "bob-1:102:2",
            "carol-1:101:1",
            "carol-2:201:1",
            "carol-2:202:1",
        ]
    );
    assert_eq!(
        strings(db, "SELECT message FROM shop_auditlog ORDER BY id").await,
        ["bob-1 log 0", "carol-2 log 0", "carol-2 log 1"]
    );
    assert_eq!(
        strings(
            db,
            "SELECT is_active::text FROM shop_subscription ORDER BY id"
        )
        .await,
        ["true", "true"],
        "bob's and frank's (whose delete was rolled back at commit)"
    );

    // The journal: only DELETEs that removed rows are recorded (none of the
    // DELETE 0s of absent subscriptions and audit logs, nor part 1b's):
    // part 1's three, in one transaction, part 2b's three, in another, and
    // part 3b's; the refused deletes left nothing.
    let ops = db
        .query(
            "SELECT id, txid, table_schema, table_name, action, row_count, at
             FROM softdel.operations WHERE action <> 'blocked' ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let summary: Vec<String> = ops
        .iter()
        .map(|op| {
            format!(
                "{}.{}:{}:{}",
                op.get::<_, String>(2),
                op.get::<_, String>(3),
                op.get::<_, String>(4),
                op.get::<_, i64>(5)
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "public.shop_refund:journal_delete:3",
            "public.shop_payment:soft_delete:3",
            "public.shop_order:soft_delete:3",
            "public.shop_refund:journal_delete:1",
            "public.shop_payment:soft_delete:1",
            "public.shop_order:soft_delete:1",
            "public.shop_order:soft_delete:5",
        ]
    );
    let txid = |i: usize| ops[i].get::<_, i64>(1);
    assert_eq!(txid(0), txid(1), "part 1 is one transaction");
    assert_eq!(txid(0), txid(2), "part 1 is one transaction");
    assert_eq!(txid(3), txid(4), "part 2b is one transaction");
    assert_eq!(txid(3), txid(5), "part 2b is one transaction");
    assert_ne!(txid(0), txid(3), "part 2b is a transaction of its own");
    assert_ne!(txid(3), txid(6), "part 3b is a transaction of its own");
    let part1_ops: Vec<String> = strings(
        db,
        &format!(
            "SELECT table_name || ':' || action || ':' || row_count FROM softdel.operations
             WHERE txid = {} ORDER BY id",
            txid(0)
        ),
    )
    .await;
    assert_eq!(
        part1_ops,
        [
            "shop_refund:journal_delete:3",
            "shop_payment:soft_delete:3",
            "shop_order:soft_delete:3",
        ],
        "one operation per DELETE of the cascade that removed rows, in Django's order \
         (not the DELETE 0 of the absent subscriptions)"
    );

    // Every operation holds one image per row it removed.
    let mismatched = strings(
        db,
        "SELECT o.id || ':' || o.row_count || '<>' || count(r.op_id)
         FROM softdel.operations o LEFT JOIN softdel.rows r ON r.op_id = o.id
         WHERE o.action <> 'blocked'
         GROUP BY o.id, o.row_count HAVING o.row_count <> count(r.op_id)",
    )
    .await;
    assert!(mismatched.is_empty(), "row images missing: {mismatched:?}");
    let images = |op: usize, what: &str| {
        let id: i64 = ops[op].get(0);
        format!(
            "SELECT {what} FROM softdel.rows WHERE op_id = {id} ORDER BY (image->>'id')::bigint"
        )
    };
    assert_eq!(
        strings(db, &images(0, "(image->>'amount')")).await,
        ["1", "2", "1"],
        "the refunds' images"
    );
    assert_eq!(
        strings(db, &images(1, "(image->>'amount')")).await,
        ["101", "102", "201"],
        "the payments' images"
    );
    assert_eq!(
        strings(db, &images(2, "image->>'label'")).await,
        ["alice-1", "alice-2", "alice-3"],
        "the orders' images"
    );
    assert_eq!(
        strings(db, &images(5, "image->>'label'")).await,
        ["dave-1"],
        "part 2b's order image"
    );
    assert_eq!(
        strings(db, &images(6, "image->>'label'")).await,
        ["erin-1", "erin-2", "erin-3", "erin-4", "erin-5"],
        "part 3b's images"
    );
    // The payments were marked with the transaction's now(), the time the
    // journal records.
    let at: std::time::SystemTime = ops[1].get(6);
    let marked = db
        .query(
            "SELECT p.deleted_at FROM shop_payment p JOIN shop_order o ON o.id = p.order_id
             WHERE o.label LIKE 'alice-%'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(marked.len(), 3);
    for row in marked {
        assert_eq!(row.get::<_, std::time::SystemTime>(0), at);
    }
}

/// The rules of the hiding scenario: every table of the catalog is soft,
/// its marker added behind Django's back.
const HIDING_RULES: &str = "\
tables:
  catalog_customer:
    timestamp: deleted_at
  catalog_order:
    timestamp: deleted_at
  catalog_order_tags:
    timestamp: deleted_at
  catalog_item:
    flag: live
  catalog_product:
    timestamp: deleted_at
  catalog_tag:
    timestamp: deleted_at
";

#[tokio::test]
async fn django_hides_deleted_rows_client_side_binding() {
    hiding(false).await;
}

#[tokio::test]
async fn django_hides_deleted_rows_server_side_binding() {
    hiding(true).await;
}

/// An unchanged Django application (no model knows a marker column)
/// through softdel: after a product, a tag, an order and then a customer
/// with the ORM's cascade are deleted, every ORM question (lists, counts,
/// filters, get, related managers, prefetch_related, select_related,
/// aggregates, exists, updates) gets the answer a database where they
/// were really deleted gives (tests/clients/django_scenario/hiding.py).
/// Then `softdel undelete --txid` of the customer's cascade, found with
/// `softdel log --json`, and every answer is again the one from before it.
async fn hiding(server_side_binding: bool) {
    let Setup {
        direct_url,
        direct,
        proxy_url,
        proxy,
        rules,
        _scratch,
    } = setup("djhide", HIDING_RULES).await;
    let hard_url = cluster().url(&fresh_database("djhide_hard"));
    let state = _scratch.0.join("answers.json").display().to_string();
    let softdel = env!("CARGO_BIN_EXE_softdel");
    let args = |phase: &'static str| {
        let mut args = vec![
            phase,
            proxy_url.as_str(),
            direct_url.as_str(),
            hard_url.as_str(),
            softdel,
            rules.as_str(),
            state.as_str(),
        ];
        if server_side_binding {
            args.push("--server-side-binding");
        }
        args
    };
    run_python("hiding.py", &args("delete")).await;

    // The operator: the customer's delete in `softdel log`, then undelete
    // its transaction.
    let log = softdel_command(&[
        "log",
        "--database-url",
        &direct_url,
        "--table",
        "catalog_customer",
        "--json",
    ])
    .await;
    let ops: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).expect("softdel log --json: one object a line"))
        .collect();
    assert_eq!(ops.len(), 1, "one delete of a customer: {log}");
    assert_eq!(ops[0]["action"], "soft_delete", "{log}");
    let txid = ops[0]["txid"].as_i64().expect("a txid").to_string();
    let cascade = strings(
        &direct,
        &format!(
            "SELECT table_name || ':' || action || ':' || row_count FROM softdel.operations \
             WHERE txid = {txid} ORDER BY table_name"
        ),
    )
    .await;
    assert_eq!(
        cascade,
        [
            "catalog_customer:soft_delete:1",
            "catalog_item:soft_delete:4",
            "catalog_order:soft_delete:3",
            "catalog_order_tags:soft_delete:3",
        ],
        "alice's cascade (her lamp items and gift tags went with part 1)"
    );
    let undo = softdel_command(&["undelete", "--database-url", &direct_url, "--txid", &txid]).await;
    assert!(
        undo.contains("restored 11 rows in 4 tables, in one transaction"),
        "{undo}"
    );

    // Read on our own: one undelete per table of the cascade, and only
    // part 1's operations (a product, a tag, an order) left unrestored.
    let undone = strings(
        &direct,
        "SELECT table_name || ':' || row_count FROM softdel.operations \
         WHERE action = 'undelete' ORDER BY table_name",
    )
    .await;
    assert_eq!(
        undone,
        [
            "catalog_customer:1",
            "catalog_item:4",
            "catalog_order:3",
            "catalog_order_tags:3"
        ]
    );
    let unrestored = strings(
        &direct,
        "SELECT o.table_name || ':' || count(*) FROM softdel.rows r \
         JOIN softdel.operations o ON o.id = r.op_id \
         WHERE r.restored_by IS NULL GROUP BY o.table_name ORDER BY o.table_name",
    )
    .await;
    assert_eq!(
        unrestored,
        [
            "catalog_item:5",
            "catalog_order:1",
            "catalog_order_tags:10",
            "catalog_product:1",
            "catalog_tag:1"
        ]
    );

    run_python("hiding.py", &args("restored")).await;
    proxy.stop().await;
}

/// Runs the softdel binary as an operator would; fails unless it succeeds.
async fn softdel_command(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_softdel"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run softdel");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "softdel {args:?} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
