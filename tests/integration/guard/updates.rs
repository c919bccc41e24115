//! `on_update: journal`: every UPDATE of such a table, on every path, is
//! one `update` operation per table per statement holding, for each row it
//! changed, the key and the changed columns before and after; rows it left
//! equal, and a soft delete's marker, are not in it.

use serde_json::{Value, json};
use tokio_postgres::Client;

use crate::common::{TestProxy, cluster, connect, fresh_database};
use crate::softdelete::shop::install_guard;

const RULES: &str = "
defaults:
  on_update: journal
tables:
  companies:
    on_delete: allow
  notes:
    flag: is_active
  tags:
    on_delete: journal
    on_update: off
  settings: {}
";

const SCHEMA: &str = "
CREATE TABLE companies (id int PRIMARY KEY, name text NOT NULL, info jsonb, founded timestamptz,
                        score double precision, shape point);
CREATE TABLE notes (id int PRIMARY KEY, company_id int REFERENCES companies ON UPDATE CASCADE,
                    body text, is_active boolean NOT NULL DEFAULT true);
CREATE TABLE tags (id int PRIMARY KEY, label text);
CREATE TABLE settings (k text PRIMARY KEY, v text);
INSERT INTO companies VALUES (1, 'acme', '{\"a\": 1}', '2020-01-01 10:00+00', 1.5, '(1,2)'),
                             (2, 'globex', NULL, NULL, NULL, NULL),
                             (3, 'initech', NULL, NULL, NULL, NULL);
INSERT INTO notes (id, company_id, body) SELECT g, 1 + g % 3, 'note ' || g FROM generate_series(1, 9) g;
INSERT INTO tags VALUES (1, 'x');
INSERT INTO settings VALUES ('mode', 'a');
";

struct Db {
    database: String,
    direct: Client,
    proxy: TestProxy,
}

impl Db {
    async fn open() -> Db {
        let database = fresh_database("updates");
        let direct = connect(&cluster().url(&database)).await.unwrap();
        direct.batch_execute(SCHEMA).await.unwrap();
        let dir = std::env::temp_dir().join(format!("softdel-{database}"));
        std::fs::create_dir_all(&dir).unwrap();
        install_guard(&direct, &dir, RULES).await;
        let rules = dir.join("rules.yaml");
        let proxy = TestProxy::start_with(|config| config.rules = Some(rules)).await;
        Db {
            database,
            direct,
            proxy,
        }
    }

    async fn proxied(&self, application: &str) -> Client {
        let url = self.proxy.url("postgres", None, &self.database);
        connect(&format!("{url}&application_name={application}"))
            .await
            .unwrap()
    }

    async fn last_op(&self) -> i64 {
        self.direct
            .query_one("SELECT coalesce(max(id), 0) FROM softdel.operations", &[])
            .await
            .unwrap()
            .get(0)
    }

    /// The operations after `after`: (action, table, row_count, images in
    /// order).
    async fn ops_after(&self, after: i64) -> Vec<(String, String, i64, Vec<Value>)> {
        let rows = self
            .direct
            .query(
                "SELECT o.action, o.table_name, o.row_count, \
                        coalesce((SELECT jsonb_agg(r.image ORDER BY r.image->'key'::text, r.id) \
                                  FROM softdel.rows r WHERE r.op_id = o.id), '[]') \
                 FROM softdel.operations o WHERE o.id > $1 ORDER BY o.id",
                &[&after],
            )
            .await
            .unwrap();
        rows.iter()
            .map(|r| {
                let images: Value = r.get(3);
                (
                    r.get(0),
                    r.get(1),
                    r.get(2),
                    images.as_array().unwrap().clone(),
                )
            })
            .collect()
    }

    /// Runs `sql` straight to PostgreSQL and returns what it journaled.
    async fn journaled(
        &self,
        client: &Client,
        sql: &str,
    ) -> Vec<(String, String, i64, Vec<Value>)> {
        let last = self.last_op().await;
        client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        self.ops_after(last).await
    }
}

fn update(table: &str, images: Vec<Value>) -> (String, String, i64, Vec<Value>) {
    ("update".into(), table.into(), images.len() as i64, images)
}

#[tokio::test]
async fn each_changed_row_is_journaled_with_the_columns_it_changed() {
    let db = Db::open().await;
    let c = &db.direct;
    // One row, one column.
    assert_eq!(
        db.journaled(c, "UPDATE companies SET name = 'ACME' WHERE id = 1")
            .await,
        [update(
            "companies",
            vec![json!({"key": {"id": 1}, "before": {"name": "acme"}, "after": {"name": "ACME"}})]
        )]
    );
    // Rows an UPDATE matched but left equal are not journaled; nothing
    // changed at all, no operation.
    assert_eq!(
        db.journaled(c, "UPDATE companies SET name = name").await,
        []
    );
    assert_eq!(
        db.journaled(c, "UPDATE companies SET name = 'ACME' WHERE id IN (1, 2)")
            .await,
        [update(
            "companies",
            vec![
                json!({"key": {"id": 2}, "before": {"name": "globex"}, "after": {"name": "ACME"}})
            ]
        )]
    );
    // Any column type, NULLs both ways, a type without equality (point).
    assert_eq!(
        db.journaled(
            c,
            "UPDATE companies SET info = NULL, score = 2.25, shape = '(3,4)', \
             founded = '2021-06-01 00:00+00' WHERE id = 1"
        )
        .await,
        [update(
            "companies",
            vec![json!({"key": {"id": 1},
                "before": {"info": {"a": 1}, "score": 1.5, "shape": "(1,2)", "founded": "2020-01-01T10:00:00+00:00"},
                "after": {"info": null, "score": 2.25, "shape": "(3,4)", "founded": "2021-06-01T00:00:00+00:00"}})]
        )]
    );
    // A changed primary key: the row's key is where it is now, and an ON
    // UPDATE CASCADE key carries the change into notes, journaled there
    // too (PostgreSQL runs the cascade as a statement of its own).
    let ops = db
        .journaled(c, "UPDATE companies SET id = 30 WHERE id = 3")
        .await;
    assert_eq!(
        ops[0],
        update(
            "companies",
            vec![json!({"key": {"id": 30}, "before": {"id": 3}, "after": {"id": 30}})]
        )
    );
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert_eq!(
        (ops[1].0.as_str(), ops[1].1.as_str(), ops[1].2),
        ("update", "notes", 3)
    );
    assert_eq!(
        ops[1].3[0],
        json!({"key": {"id": 2}, "before": {"company_id": 3}, "after": {"company_id": 30}})
    );
    // Many rows in one statement: one operation, each row paired right.
    let ops = db
        .journaled(c, "UPDATE notes SET body = body || '!' WHERE id <= 4")
        .await;
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].2, 4);
    for image in &ops[0].3 {
        let id = image["key"]["id"].as_i64().unwrap();
        assert_eq!(image["before"], json!({"body": format!("note {id}")}));
        assert_eq!(image["after"], json!({"body": format!("note {id}!")}));
    }
    // A function, a DO block, ON CONFLICT DO UPDATE: every path.
    c.batch_execute(
        "CREATE FUNCTION rename(i int, n text) RETURNS void LANGUAGE sql AS \
         $$ UPDATE companies SET name = n WHERE id = i $$",
    )
    .await
    .unwrap();
    for (sql, key, before, after) in [
        (
            "SELECT rename(2, 'Globex')",
            json!({"id": 2}),
            "ACME",
            "Globex",
        ),
        (
            "DO $$ BEGIN UPDATE companies SET name = 'GLOBEX' WHERE id = 2; END $$",
            json!({"id": 2}),
            "Globex",
            "GLOBEX",
        ),
        (
            "INSERT INTO settings VALUES ('mode', 'b') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
            json!({"k": "mode"}),
            "a",
            "b",
        ),
    ] {
        let ops = db.journaled(c, sql).await;
        assert_eq!(ops.len(), 1, "{sql}: {ops:?}");
        let column = if key.get("k").is_some() { "v" } else { "name" };
        assert_eq!(
            ops[0].3,
            [json!({"key": key, "before": {column: before}, "after": {column: after}})],
            "{sql}"
        );
    }
    // on_update: off on a listed table: nothing.
    assert_eq!(db.journaled(c, "UPDATE tags SET label = 'y'").await, []);
    // The journal says who: statement, user, application, path.
    let row = c
        .query_one(
            "SELECT sql, db_user, path FROM softdel.operations WHERE action = 'update' \
             ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, String>(1), row.get::<_, String>(2)),
        (
            "INSERT INTO settings VALUES ('mode', 'b') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v"
                .to_owned(),
            "postgres".to_owned(),
            "direct".to_owned()
        )
    );
}

#[tokio::test]
async fn a_soft_delete_stays_a_soft_delete_and_what_else_changed_is_an_update() {
    let db = Db::open().await;
    let app = db.proxied("billing-app").await;
    // The proxy's rewrite of a DELETE: a soft delete, no update.
    let ops = db.journaled(&app, "DELETE FROM notes WHERE id = 1").await;
    let summary: Vec<_> = ops.iter().map(|o| (o.0.as_str(), o.2)).collect();
    assert_eq!(summary, [("soft_delete", 1)]);
    // An application's own soft delete that also changes a column: the
    // marker is the soft delete's, the body the update's.
    let ops = db
        .journaled(
            &app,
            "UPDATE notes SET is_active = false, body = 'gone' WHERE id = 2",
        )
        .await;
    let summary: Vec<_> = ops.iter().map(|o| (o.0.as_str(), o.2)).collect();
    assert_eq!(summary, [("soft_delete", 1), ("update", 1)]);
    assert_eq!(
        ops[1].3,
        [json!({"key": {"id": 2}, "before": {"body": "note 2"}, "after": {"body": "gone"}})]
    );
    // Through the proxy the journal has the client's application.
    let application: String = db
        .direct
        .query_one(
            "SELECT application_name FROM softdel.operations WHERE action = 'update' \
             ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(application, "billing-app");
    // Bringing a row back by hand is an update of the marker (straight to
    // PostgreSQL: through the proxy, the deleted row is hidden).
    let ops = db
        .journaled(&db.direct, "UPDATE notes SET is_active = true WHERE id = 1")
        .await;
    assert_eq!(
        ops,
        [update(
            "notes",
            vec![
                json!({"key": {"id": 1}, "before": {"is_active": false}, "after": {"is_active": true}})
            ]
        )]
    );
    // A rolled-back update leaves nothing in the journal.
    let last = db.last_op().await;
    app.batch_execute("BEGIN; UPDATE notes SET body = 'x'; ROLLBACK")
        .await
        .unwrap();
    assert_eq!(db.ops_after(last).await, []);
}

#[tokio::test]
async fn init_installs_update_guards_and_says_so() {
    let db = Db::open().await;
    // An allowed table journaling updates has only the update trigger:
    // its deletes and TRUNCATE are not the guard's business.
    let triggers: Vec<String> = db
        .direct
        .query(
            "SELECT c.relname || ':' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
             WHERE t.tgname LIKE 'softdel_guard_%' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        triggers,
        [
            "companies:softdel_guard_update",
            "notes:softdel_guard_delete",
            "notes:softdel_guard_truncate",
            "notes:softdel_guard_update",
            "settings:softdel_guard_update",
            "tags:softdel_guard_delete",
            "tags:softdel_guard_truncate",
        ]
    );
    db.direct
        .batch_execute("INSERT INTO companies (id, name) VALUES (4, 'x'); DELETE FROM companies WHERE id = 4; TRUNCATE settings")
        .await
        .unwrap();
    let run = crate::operator::softdel(&[
        "init",
        "--database-url",
        &cluster().url(&db.database),
        "--rules",
        std::env::temp_dir()
            .join(format!("softdel-{}", db.database))
            .join("rules.yaml")
            .to_str()
            .unwrap(),
    ])
    .await;
    assert!(run.ok, "{run:?}");
    for line in [
        "public.companies  updates journaled",
        "public.notes      soft, flag is_active, at most 1000 rows, updates journaled",
        "public.tags       journal, at most 1000 rows ",
    ] {
        assert!(run.stdout.contains(line), "{line:?} in {run:?}");
    }
    // The DDL guard keeps the update trigger.
    let err = db
        .direct
        .batch_execute("ALTER TABLE companies DISABLE TRIGGER softdel_guard_update")
        .await
        .unwrap_err();
    assert!(
        err.as_db_error()
            .unwrap()
            .message()
            .contains("without its trigger softdel_guard_update"),
        "{err:?}"
    );
    // A table without a primary key cannot journal its updates.
    db.direct
        .batch_execute("CREATE TABLE loose (v text)")
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("softdel-{}-loose", db.database));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rules.yaml");
    std::fs::write(&path, "tables:\n  loose:\n    on_update: journal\n").unwrap();
    let run = crate::operator::softdel(&[
        "init",
        "--database-url",
        &cluster().url(&db.database),
        "--rules",
        path.to_str().unwrap(),
    ])
    .await;
    assert!(!run.ok);
    assert!(
        run.stderr.contains(
            "tables.loose: table public.loose has no primary key: a journaled update names each row by it"
        ),
        "{run:?}"
    );
}
