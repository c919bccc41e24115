//! A shop database with protected tables, the journal installed, and a
//! proxy in front of it that applies the rules below.

use std::path::PathBuf;

use tokio_postgres::Client;

use crate::common::{TestProxy, cluster, connect, fresh_database};

pub const RULES: &str = r#"
defaults:
  max_rows: 1000
  on_delete: allow
  on_parse_error: refuse
tables:
  orders:
    on_delete: soft
    flag: is_active
    max_rows: 10
  billing.payments:
    on_delete: soft
    timestamp: deleted_at
  refunds:
    on_delete: journal
  audit_logs:
    on_delete: block
  '"Mixed"':
    on_delete: soft
    flag: alive
  notes:
    on_delete: journal
  note_tags:
    on_delete: journal
"#;

const SCHEMA: &str = r#"
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers,
                     is_active boolean NOT NULL DEFAULT true, note text);
CREATE SCHEMA billing;
CREATE TABLE billing.payments (id int PRIMARY KEY, order_id int REFERENCES orders,
                               deleted_at timestamptz);
CREATE TABLE refunds (id int PRIMARY KEY, amount int NOT NULL);
CREATE TABLE audit_logs (id int PRIMARY KEY, what text);
CREATE TABLE "Mixed" (id int PRIMARY KEY, alive boolean);
CREATE TABLE scratch (id int);
CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);
CREATE TABLE note_tags (id serial PRIMARY KEY, note_id int NOT NULL REFERENCES notes, tag text);
INSERT INTO customers VALUES (1, 'alice'), (2, 'bob'), (3, 'carol');
INSERT INTO orders (id, customer_id) SELECT g, 1 + g % 3 FROM generate_series(1, 20) g;
INSERT INTO billing.payments SELECT g, g FROM generate_series(1, 10) g;
INSERT INTO refunds SELECT g, g * 10 FROM generate_series(1, 10) g;
INSERT INTO audit_logs SELECT g, 'event ' || g FROM generate_series(1, 5) g;
INSERT INTO "Mixed" SELECT g, true FROM generate_series(1, 5) g;
INSERT INTO scratch SELECT generate_series(1, 2000);
INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, 5) g;
INSERT INTO note_tags (note_id, tag) SELECT 1 + g % 5, 'tag ' || g FROM generate_series(1, 10) g;
"#;

pub struct Shop {
    pub proxy: TestProxy,
    pub database: String,
    /// Straight to PostgreSQL, to check what really happened.
    pub direct: Client,
    pub dir: PathBuf,
}

impl Shop {
    pub async fn open() -> Shop {
        Shop::open_with(|_, _| {}).await
    }

    /// A shop whose proxy config the test adjusts (given the database name).
    pub async fn open_with(adjust: impl FnOnce(&mut softdel::proxy::ProxyConfig, &str)) -> Shop {
        let database = fresh_database("shop");
        let direct = connect(&cluster().url(&database))
            .await
            .expect("connect directly");
        direct.batch_execute(SCHEMA).await.expect("create the shop");
        let dir = std::env::temp_dir().join(format!("softdel-{database}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("rules.yaml"), RULES).unwrap();
        install_guard(&direct, &dir, RULES).await;
        let (rules, blocked) = (dir.join("rules.yaml"), dir.join("blocked.jsonl"));
        let proxy = TestProxy::start_with(|config| {
            config.rules = Some(rules);
            config.blocked_log = blocked;
            adjust(config, &database);
        })
        .await;
        Shop {
            proxy,
            database,
            direct,
            dir,
        }
    }

    /// A tokio-postgres client through the proxy.
    pub async fn client(&self) -> Client {
        connect(&self.url())
            .await
            .expect("connect through the proxy")
    }

    pub fn url(&self) -> String {
        self.proxy.url("postgres", None, &self.database)
    }

    /// One value, read directly.
    pub async fn value<T>(&self, sql: &str) -> T
    where
        T: for<'a> tokio_postgres::types::FromSql<'a>,
    {
        self.direct.query_one(sql, &[]).await.expect(sql).get(0)
    }

    /// The first column of every row, read directly.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        self.direct
            .query(sql, &[])
            .await
            .expect(sql)
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.value(sql).await
    }

    /// The journal's operations: (action, table, row_count, sql), oldest first.
    pub async fn operations(&self) -> Vec<(String, String, i64, String)> {
        self.direct
            .query(
                "SELECT action, table_schema || '.' || table_name, row_count, sql \
                 FROM softdel.operations ORDER BY id",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect()
    }

    /// The ids in the row images of the journal's last operation.
    pub async fn last_images(&self) -> Vec<i32> {
        self.direct
            .query(
                "SELECT (image->>'id')::int FROM softdel.rows \
                 WHERE op_id = (SELECT max(id) FROM softdel.operations) ORDER BY 1",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// Writes `rules` for the proxy and brings the guard in line with them,
    /// as an operator does when the rules change.
    pub async fn install_guard(&self, rules: &str) {
        install_guard(&self.direct, &self.dir, rules).await;
    }

    /// Refused statements the proxy recorded in its file.
    pub fn blocked(&self) -> String {
        std::fs::read_to_string(self.dir.join("blocked.jsonl")).unwrap_or_default()
    }
}

/// `softdel init --rules` with `rules` (written to `dir/rules.yaml`, where
/// the proxy reads it): the journal, and the guard in line with them.
pub async fn install_guard(direct: &Client, dir: &std::path::Path, rules: &str) {
    let path = dir.join("rules.yaml");
    std::fs::write(&path, rules).unwrap();
    let parsed = softdel::rules::Rules::parse(rules, &path).expect("valid rules");
    softdel::guard::install(direct, Some((&parsed, &path)), &[])
        .await
        .expect("install the journal and the guard");
}

/// The SQLSTATE of a failed statement.
pub fn sqlstate(error: &tokio_postgres::Error) -> String {
    error
        .as_db_error()
        .map(|e| e.code().code().to_owned())
        .unwrap_or_else(|| format!("not a server error: {error}"))
}

/// The message of a failed statement.
pub fn message(error: &tokio_postgres::Error) -> String {
    error
        .as_db_error()
        .map(|e| e.message().to_owned())
        .unwrap_or_default()
}
