//! `softdel undo` against a merge incident: a dedup job merged companies
//! it wrongly took for duplicates, through the proxy, and users kept
//! editing before anyone noticed.

use serde_json::Value;
use tokio_postgres::Client;

use super::{Run, softdel};
use crate::common::{TestProxy, cluster, connect, fresh_database};
use crate::softdelete::shop::install_guard;

const RULES: &str = "
defaults:
  on_update: journal
tables:
  companies:
    on_delete: journal
  financials:
    on_delete: journal
  notes:
    on_delete: soft
    flag: is_active
  followers:
    on_delete: journal
";

/// Companies 1 and 2 are the same company; 5 and 6, 7 and 8 are not.
const SCHEMA: &str = "
CREATE TABLE companies (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE financials (id int PRIMARY KEY, company_id int NOT NULL REFERENCES companies,
                         year int NOT NULL, revenue numeric NOT NULL,
                         reported timestamptz NOT NULL DEFAULT '2026-01-01 09:00+00');
CREATE TABLE notes (id int PRIMARY KEY, company_id int NOT NULL REFERENCES companies,
                    body text NOT NULL, is_active boolean NOT NULL DEFAULT true);
CREATE TABLE followers (id int PRIMARY KEY, company_id int NOT NULL REFERENCES companies,
                        user_name text NOT NULL);
INSERT INTO companies VALUES (1, 'Acme'), (2, 'ACME Inc'), (3, 'Globex'),
    (5, 'Initech'), (6, 'Initrode'), (7, 'Umbrella Corp'), (8, 'Umbrella Health');
INSERT INTO financials (id, company_id, year, revenue)
    SELECT c * 10 + y, c, 2023 + y, c * 1000 + y FROM generate_series(1, 8) c,
           generate_series(1, 2) y WHERE c <> 4;
INSERT INTO notes (id, company_id, body)
    SELECT c * 10 + n, c, CASE n WHEN 3 THEN 'auto: profile' ELSE 'note ' || n || ' on ' || c END
    FROM generate_series(1, 8) c, generate_series(1, 3) n WHERE c <> 4;
INSERT INTO followers VALUES (11, 1, 'ann'), (21, 2, 'ann'), (22, 2, 'bob'),
    (51, 5, 'ann'), (52, 5, 'carl'), (61, 6, 'ann'), (71, 7, 'dina'), (81, 8, 'eve');
";

/// The dedup job's merge of `dup` into `keep`: one transaction.
fn merge(dup: i32, keep: i32) -> String {
    format!(
        "BEGIN;
         UPDATE financials SET company_id = {keep} WHERE company_id = {dup};
         DELETE FROM notes WHERE company_id = {dup} AND body LIKE 'auto:%';
         UPDATE notes SET company_id = {keep} WHERE company_id = {dup};
         DELETE FROM followers WHERE company_id = {dup}
             AND user_name IN (SELECT user_name FROM followers WHERE company_id = {keep});
         UPDATE followers SET company_id = {keep} WHERE company_id = {dup};
         UPDATE companies SET name = name || ' (merged)' WHERE id = {dup};
         COMMIT"
    )
}

struct Crm {
    database: String,
    direct: Client,
    proxy: TestProxy,
}

impl Crm {
    async fn open() -> Crm {
        let database = fresh_database("undo");
        let direct = connect(&cluster().url(&database)).await.unwrap();
        direct.batch_execute(SCHEMA).await.unwrap();
        let dir = std::env::temp_dir().join(format!("softdel-{database}"));
        std::fs::create_dir_all(&dir).unwrap();
        install_guard(&direct, &dir, RULES).await;
        let rules = dir.join("rules.yaml");
        let proxy = TestProxy::start_with(|config| config.rules = Some(rules)).await;
        Crm {
            database,
            direct,
            proxy,
        }
    }

    /// A client through the proxy, as `application`.
    async fn app(&self, application: &str) -> Client {
        let url = self.proxy.url("postgres", None, &self.database);
        connect(&format!("{url}&application_name={application}"))
            .await
            .unwrap()
    }

    fn url(&self) -> String {
        cluster().url(&self.database)
    }

    /// Runs `sql` (one transaction) and returns its transaction id.
    async fn transaction(&self, client: &Client, sql: &str) -> String {
        client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        self.value::<i64>("SELECT max(txid) FROM softdel.operations")
            .await
            .to_string()
    }

    async fn value<T>(&self, sql: &str) -> T
    where
        T: for<'a> tokio_postgres::types::FromSql<'a>,
    {
        self.direct.query_one(sql, &[]).await.expect(sql).get(0)
    }

    /// Every table's rows, as text, in key order.
    async fn state(&self) -> Vec<String> {
        let mut state = Vec::new();
        for table in ["companies", "financials", "notes", "followers"] {
            let rows = self
                .direct
                .query(&format!("SELECT t::text FROM {table} t ORDER BY id"), &[])
                .await
                .unwrap();
            state.extend(
                rows.iter()
                    .map(|r| format!("{table} {}", r.get::<_, String>(0))),
            );
        }
        state
    }

    /// The journal: operations and rows, with what restored them.
    async fn journal(&self) -> Vec<String> {
        let mut journal: Vec<String> = self
            .direct
            .query(
                "SELECT id || ' ' || action || ' ' || table_name || ' ' || row_count \
                 FROM softdel.operations ORDER BY id",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let rows = self
            .direct
            .query(
                "SELECT op_id || ' ' || id || ' ' || coalesce(restored_by::text, '-') \
                 FROM softdel.rows ORDER BY id",
                &[],
            )
            .await
            .unwrap();
        journal.extend(rows.iter().map(|r| r.get::<_, String>(0)));
        journal
    }

    async fn undo(&self, args: &[&str]) -> Run {
        let url = self.url();
        let mut all = vec!["undo", "--database-url", &url];
        all.extend(args);
        softdel(&all).await
    }
}

fn has(run: &Run, text: &str) {
    assert!(run.stdout.contains(text), "{text:?} in\n{run:?}");
}

#[tokio::test]
async fn the_wrong_merges_are_undone_and_the_users_edits_survive() {
    let crm = Crm::open().await;
    let original = crm.state().await;
    let since: String = crm.value("SELECT now()::text").await;

    // The job merges three pairs, each in one transaction: 2 into 1
    // (right), 5 into 6 and 7 into 8 (wrong).
    let job = crm.app("dedup-job").await;
    let _right = crm.transaction(&job, &merge(2, 1)).await;
    let after_right = crm.state().await;
    assert_ne!(after_right, original);
    let wrong_a = crm.transaction(&job, &merge(5, 6)).await;
    let wrong_b = crm.transaction(&job, &merge(7, 8)).await;
    let merged: String = crm
        .value(
            "SELECT string_agg(name, ', ' ORDER BY id) FROM companies WHERE name LIKE '%(merged)'",
        )
        .await;
    assert_eq!(
        merged,
        "ACME Inc (merged), Initech (merged), Umbrella Corp (merged)"
    );

    // Days later, users edit: a re-pointed note's text, a re-pointed
    // financial re-assigned to another company, and a column the merge
    // never touched.
    let users = crm.app("crm").await;
    users
        .batch_execute(
            "UPDATE notes SET body = 'called them, all fine' WHERE id = 51;
             UPDATE financials SET company_id = 3 WHERE id = 52;
             UPDATE financials SET revenue = 7777 WHERE id = 71;",
        )
        .await
        .unwrap();
    let edited = crm.state().await;
    let journal = crm.journal().await;

    // The job's operations, and only its: by application and time.
    let run = crm
        .undo(&[
            "--application",
            "dedup-job",
            "--since",
            &since,
            "--dry-run",
            "--json",
        ])
        .await;
    assert!(
        !run.ok,
        "a conflict: a dry run exits as the real run would {run:?}"
    );
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let job_ops: Vec<i64> = crm
        .direct
        .query(
            "SELECT id FROM softdel.operations WHERE application_name = 'dedup-job' ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(report["operations"], serde_json::json!(job_ops), "{run:?}");
    assert_eq!(report["transactions"].as_array().unwrap().len(), 3);
    assert_eq!(report["applied"], Value::Bool(false));
    assert_eq!(crm.state().await, edited);

    let txids = ["--txid", &wrong_a, "--txid", &wrong_b];
    let financial_op: i64 = crm
        .value(&format!(
            "SELECT id FROM softdel.operations WHERE txid = {wrong_a} \
             AND table_name = 'financials' AND action = 'update'"
        ))
        .await;
    let conflict =
        format!("public.financials id=52 company_id: operation {financial_op} wrote 6, now 3");

    // Dry run: the plan per table and column, the conflict, nothing changed.
    let dry = crm.undo(&[&txids[..], &["--dry-run"]].concat()).await;
    assert!(!dry.ok, "{dry:?}");
    has(&dry, &conflict);
    has(
        &dry,
        "public.financials\n  revert company_id: 3 reverted, 1 conflict\n",
    );
    has(&dry, "public.notes\n");
    has(&dry, "  clear is_active: 2 rows restored\n");
    has(&dry, "  revert company_id: 4 reverted\n");
    has(&dry, "public.followers\n");
    has(&dry, "  re-insert: 1 row restored\n");
    has(&dry, "  revert company_id: 2 reverted\n");
    has(&dry, "public.companies\n  revert name: 2 reverted\n");
    has(
        &dry,
        "dry run: nothing was changed; with these conflicts the undo would change nothing",
    );
    has(
        &dry,
        "note: rows the selected transactions inserted are not removed",
    );
    assert!(
        dry.stderr
            .contains("1 conflict: the undo would change nothing"),
        "{dry:?}"
    );
    assert_eq!(crm.state().await, edited);
    assert_eq!(crm.journal().await, journal);

    // Without --force: stopped, nothing changed.
    let stopped = crm.undo(&txids).await;
    assert!(!stopped.ok, "{stopped:?}");
    has(&stopped, &conflict);
    assert!(
        stopped
            .stderr
            .contains("1 conflict: nothing was changed. Resolve them, or run again with --force"),
        "{stopped:?}"
    );
    assert_eq!(crm.state().await, edited);
    assert_eq!(crm.journal().await, journal);

    // With --force: everything but the conflicting column is reverted.
    let forced = crm.undo(&[&txids[..], &["--force"]].concat()).await;
    assert!(forced.ok, "{forced:?}");
    has(&forced, &conflict);
    has(
        &forced,
        "changed 14 rows in 4 tables, in one transaction; journaled as operations",
    );
    // As after the right merge, but for the users' edits: the note's
    // text, the re-assigned financial (left as the user set it) and the
    // revenue nobody merged.
    let expected: Vec<String> = after_right
        .iter()
        .map(|row| match row.as_str() {
            "notes (51,5,\"note 1 on 5\",t)" => {
                "notes (51,5,\"called them, all fine\",t)".to_owned()
            }
            r if r.starts_with("financials (52,5,2025,5002,") => r.replacen("(52,5,", "(52,3,", 1),
            r if r.starts_with("financials (71,7,2024,7001,") => r.replacen(",7001,", ",7777,", 1),
            r => r.to_owned(),
        })
        .collect();
    assert_eq!(crm.state().await, expected, "{forced:?}");

    // Journaled as undo, one operation per table, by the command; the
    // guard journaled none of the undo's own changes as updates.
    let undos: Vec<(String, i64, String, String)> = crm
        .direct
        .query(
            "SELECT table_name, row_count, sql, application_name FROM softdel.operations \
             WHERE action = 'undo' ORDER BY table_name",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let command = format!("softdel undo --txid {wrong_a} --txid {wrong_b} --force");
    assert_eq!(
        undos,
        [
            (
                "companies".to_owned(),
                2,
                command.clone(),
                "softdel undo".to_owned()
            ),
            (
                "financials".to_owned(),
                3,
                command.clone(),
                "softdel undo".to_owned()
            ),
            (
                "followers".to_owned(),
                3,
                command.clone(),
                "softdel undo".to_owned()
            ),
            (
                "notes".to_owned(),
                6,
                command.clone(),
                "softdel undo".to_owned()
            ),
        ]
    );
    let updates_after: i64 = crm
        .value("SELECT count(*) FROM softdel.operations WHERE action = 'update' AND application_name = 'softdel undo'")
        .await;
    assert_eq!(updates_after, 0);

    // A second run changes nothing and says so.
    let after = crm.state().await;
    let journal = crm.journal().await;
    let again = crm.undo(&txids).await;
    assert!(again.ok, "{again:?}");
    has(&again, "nothing to undo:");
    has(&again, "already undone");
    assert_eq!(crm.state().await, after);
    assert_eq!(crm.journal().await, journal);
}

#[tokio::test]
async fn a_transaction_of_updates_inserts_and_deletes_is_undone_but_its_inserts() {
    let crm = Crm::open().await;
    let original = crm.state().await;
    let app = crm.app("crm").await;
    let txid = crm
        .transaction(
            &app,
            "BEGIN;
             UPDATE financials SET revenue = 0, year = 1999 WHERE id = 11;
             INSERT INTO followers VALUES (99, 1, 'zed');
             DELETE FROM followers WHERE id = 22;
             DELETE FROM notes WHERE id = 12;
             UPDATE companies SET name = 'Acme!' WHERE id = 1;
             COMMIT",
        )
        .await;
    let run = crm.undo(&["--txid", &txid]).await;
    assert!(run.ok, "{run:?}");
    has(
        &run,
        "public.financials\n  revert revenue: 1 reverted\n  revert year: 1 reverted\n",
    );
    has(&run, "public.followers\n  re-insert: 1 row restored\n");
    has(&run, "public.notes\n  clear is_active: 1 row restored\n");
    has(
        &run,
        "note: rows the selected transactions inserted are not removed: softdel does not journal inserts",
    );
    // Everything is back, and the inserted row is still there.
    let mut expected = original.clone();
    expected.push("followers (99,1,zed)".to_owned());
    expected.sort();
    let mut now = crm.state().await;
    now.sort();
    assert_eq!(now, expected);
    let json = crm.undo(&["--txid", &txid, "--json"]).await;
    assert!(json.ok, "{json:?}");
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["applied"], Value::Bool(false));
    assert!(report["note"].as_str().unwrap().contains("not removed"));
}

#[tokio::test]
async fn what_cannot_be_undone_is_a_clear_error_that_changes_nothing() {
    let crm = Crm::open().await;
    let app = crm.app("crm").await;
    let txid = crm
        .transaction(&app, "UPDATE companies SET name = 'x' WHERE id = 3")
        .await;
    let blocked: i64 = crm
        .value(
            "INSERT INTO softdel.operations (table_schema, table_name, action, row_count, sql) \
             VALUES ('public', 'companies', 'blocked', 0, 'TRUNCATE companies') RETURNING id",
        )
        .await;
    let state = crm.state().await;
    let journal = crm.journal().await;
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["999999".into()],
            "there is no operation 999999 in the journal".into(),
        ),
        (
            vec![blocked.to_string()],
            format!("operation {blocked} is \"blocked\": softdel undo reverts deletes"),
        ),
        (
            vec!["--txid".into(), "1".into()],
            "the journal has no delete or update to undo in transaction 1".into(),
        ),
        (
            vec![
                "--txid".into(),
                txid.clone(),
                "--application".into(),
                "dedup-job".into(),
            ],
            format!(
                "the journal has no delete or update to undo in transaction {txid} from application dedup-job"
            ),
        ),
        (
            vec!["--since".into(), "yesterday-ish".into()],
            "--since: \"yesterday-ish\" is not a time PostgreSQL can read".into(),
        ),
        (vec![], "say what to undo".into()),
    ];
    for (args, message) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = crm.undo(&args).await;
        assert!(!run.ok, "{args:?}: {run:?}");
        assert!(run.stderr.contains(&message), "{message:?} in {run:?}");
    }
    assert_eq!(crm.state().await, state);
    assert_eq!(crm.journal().await, journal);
    // An undo's own operation cannot be undone.
    let undone = crm.undo(&["--txid", &txid]).await;
    assert!(undone.ok, "{undone:?}");
    let undo_op: i64 = crm
        .value("SELECT max(id) FROM softdel.operations WHERE action = 'undo'")
        .await;
    let run = crm.undo(&[&undo_op.to_string()]).await;
    assert!(
        run.stderr
            .contains(&format!("operation {undo_op} is \"undo\"")),
        "{run:?}"
    );
    // A corrupt update image names its journal row, and changes nothing.
    crm.direct
        .batch_execute(
            "UPDATE companies SET name = 'y' WHERE id = 3;
             UPDATE softdel.rows SET image = '{\"key\": {\"id\": 3}, \"before\": 5, \"after\": {}}'
             WHERE id = (SELECT max(id) FROM softdel.rows)",
        )
        .await
        .unwrap();
    let (row, op): (i64, i64) = {
        let r = crm
            .direct
            .query_one(
                "SELECT id, op_id FROM softdel.rows WHERE id = (SELECT max(id) FROM softdel.rows)",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    let before = crm.state().await;
    let run = crm.undo(&[&op.to_string()]).await;
    assert!(
        run.stderr.contains(&format!(
            "journal row {row} of operation {op} is corrupt: its \"before\" is 5"
        )),
        "{run:?}"
    );
    assert_eq!(crm.state().await, before);

    // No journal at all.
    let database = fresh_database("undo_nojournal");
    let run = softdel(&["undo", "--database-url", &cluster().url(&database), "1"]).await;
    assert!(!run.ok);
    assert!(
        run.stderr
            .contains("the journal schema is not installed in this database"),
        "{run:?}"
    );
}

#[tokio::test]
async fn updates_and_deletes_of_one_row_are_undone_newest_first() {
    let crm = Crm::open().await;
    let original = crm.state().await;
    let app = crm.app("crm").await;
    // Updated, then soft-deleted: the undo brings it back, then reverts.
    let a = crm
        .transaction(&app, "UPDATE notes SET body = 'edited' WHERE id = 11")
        .await;
    let b = crm
        .transaction(&app, "DELETE FROM notes WHERE id = 11")
        .await;
    // Soft-deleted, then brought back by undelete, then updated.
    let c = crm
        .transaction(&app, "DELETE FROM notes WHERE id = 12")
        .await;
    let url = crm.url();
    let run = softdel(&["undelete", "--database-url", &url, "--txid", &c]).await;
    assert!(run.ok, "{run:?}");
    let undelete_updates: i64 = crm
        .value(
            "SELECT count(*) FROM softdel.operations \
             WHERE action = 'update' AND application_name = 'softdel undelete'",
        )
        .await;
    assert_eq!(
        undelete_updates, 0,
        "undelete's own change is not an update"
    );
    let d = crm
        .transaction(&app, "UPDATE notes SET body = 'again' WHERE id = 12")
        .await;
    let run = crm.undo(&["--txid", &a, "--txid", &b, "--txid", &d]).await;
    assert!(run.ok, "{run:?}");
    has(
        &run,
        "public.notes\n  clear is_active: 1 row restored\n  revert body: 2 reverted\n",
    );
    assert_eq!(crm.state().await, original);
}

#[tokio::test]
async fn a_changed_primary_key_is_undone_and_its_cascade_follows() {
    let database = fresh_database("undo_key");
    let direct = connect(&cluster().url(&database)).await.unwrap();
    direct
        .batch_execute(
            "CREATE TABLE teams (id int PRIMARY KEY, name text NOT NULL);
             CREATE TABLE members (id int PRIMARY KEY, name text NOT NULL,
                                   team_id int NOT NULL REFERENCES teams ON UPDATE CASCADE);
             INSERT INTO teams VALUES (1, 'red'), (2, 'blue');
             INSERT INTO members VALUES (1, 'ann', 1), (2, 'bob', 1), (3, 'carl', 2);",
        )
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("softdel-{database}"));
    std::fs::create_dir_all(&dir).unwrap();
    install_guard(
        &direct,
        &dir,
        "defaults:\n  on_update: journal\ntables:\n  teams: {}\n  members: {}\n",
    )
    .await;
    let rows = |sql: &'static str| {
        let direct = &direct;
        async move {
            direct
                .query(sql, &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
        }
    };
    // Renumbered: the cascade carries the new key into the members.
    direct
        .batch_execute("UPDATE teams SET id = 10, name = 'crimson' WHERE id = 1")
        .await
        .unwrap();
    let txid: i64 = direct
        .query_one("SELECT max(txid) FROM softdel.operations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        rows(
            "SELECT action || ' ' || table_name || ' ' || row_count FROM softdel.operations \
              WHERE action = 'update' ORDER BY table_name"
        )
        .await,
        ["update members 2", "update teams 1"]
    );
    assert_eq!(
        rows(
            "SELECT r.image::text FROM softdel.rows r JOIN softdel.operations o ON o.id = r.op_id \
              WHERE o.table_name = 'teams'"
        )
        .await,
        [
            r#"{"key": {"id": 10}, "after": {"id": 10, "name": "crimson"}, "before": {"id": 1, "name": "red"}}"#
        ]
    );
    // A later edit of another column survives the undo.
    direct
        .batch_execute("UPDATE members SET name = 'ann b.' WHERE id = 1")
        .await
        .unwrap();
    let url = cluster().url(&database);
    let txid = txid.to_string();
    let run = softdel(&["undo", "--database-url", &url, "--txid", &txid]).await;
    assert!(run.ok, "{run:?}");
    assert!(!run.stdout.contains("conflict"), "{run:?}");
    // The teams' undo sets the key back, and the cascade the members'.
    has(
        &run,
        "public.teams\n  revert id: 1 reverted\n  revert name: 1 reverted\n",
    );
    has(
        &run,
        "public.members\n  revert team_id: 0 reverted, 2 already as before\n",
    );
    let state = || {
        rows(
            "SELECT 'teams ' || t::text FROM teams t UNION ALL \
              SELECT 'members ' || m::text FROM members m ORDER BY 1",
        )
    };
    assert_eq!(
        state().await,
        [
            "members (1,\"ann b.\",1)",
            "members (2,bob,1)",
            "members (3,carl,2)",
            "teams (1,red)",
            "teams (2,blue)",
        ]
    );
    let again = softdel(&["undo", "--database-url", &url, "--txid", &txid]).await;
    assert!(again.ok, "{again:?}");
    assert_eq!(state().await.len(), 5);
    assert_eq!(
        rows("SELECT count(*)::text FROM softdel.operations WHERE action = 'undo'").await,
        ["1"]
    );
}
