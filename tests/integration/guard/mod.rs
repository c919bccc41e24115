//! The guard inside PostgreSQL: every path a delete can take, through the
//! proxy and straight to the database, journaled or refused, and each
//! brought back exactly by `softdel undelete`.

mod ddl;
mod install;
mod paths;
mod pooled;
mod roles;
mod updates;

use std::path::PathBuf;

use tokio_postgres::Client;

use crate::common::{TestProxy, cluster, connect, fresh_database};
use crate::operator::{Run, softdel};

/// What the guard protects here. `customers` is journaled, so a cascade
/// from it into `orders` can be brought back; `suppliers` is not, so a
/// cascade from it into `refunds` is refused.
pub const RULES: &str = "
defaults:
  max_rows: 1000
  on_parse_error: pass
tables:
  customers:
    on_delete: journal
  orders:
    flag: is_active
    max_rows: 10
  refunds:
    on_delete: journal
  audit_logs:
    on_delete: block
  archive:
    timestamp: archived_at
    outside_proxy: refuse
  # A table with a DO ALSO rule: the proxy's row-limit rewrite (a CTE)
  # cannot be used on it.
  refund_requests:
    max_rows: 0
";

const SCHEMA: &str = "
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE suppliers (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers ON DELETE CASCADE,
                     is_active boolean NOT NULL DEFAULT true, note text);
CREATE TABLE refunds (id int PRIMARY KEY, order_id int, amount int NOT NULL,
                      supplier_id int REFERENCES suppliers ON DELETE CASCADE);
CREATE TABLE audit_logs (id int PRIMARY KEY, what text);
CREATE TABLE archive (id int PRIMARY KEY, body text, archived_at timestamptz);
CREATE TABLE refund_requests (id int PRIMARY KEY);
INSERT INTO refund_requests SELECT generate_series(1, 30);
INSERT INTO customers VALUES (1, 'alice'), (2, 'bob'), (3, 'carol');
INSERT INTO suppliers VALUES (1, 'acme'), (2, 'globex');
INSERT INTO orders (id, customer_id, note) SELECT g, 1 + g % 3, 'order ' || g FROM generate_series(1, 30) g;
INSERT INTO refunds SELECT g, g, g * 10, CASE WHEN g > 25 THEN 1 END FROM generate_series(1, 30) g;
INSERT INTO audit_logs SELECT g, 'event ' || g FROM generate_series(1, 5) g;
INSERT INTO archive SELECT g, 'doc ' || g FROM generate_series(1, 5) g;
";

/// A database with the tables above, the journal and the guard installed,
/// and a proxy in front of it applying the same rules.
pub struct Guarded {
    pub database: String,
    /// Straight to PostgreSQL, as the superuser that installed the guard.
    pub direct: Client,
    pub proxy: TestProxy,
    pub dir: PathBuf,
}

impl Guarded {
    pub async fn open() -> Guarded {
        Guarded::open_with(|_| {}).await
    }

    pub async fn open_with(adjust: impl FnOnce(&mut softdel::proxy::ProxyConfig)) -> Guarded {
        let database = fresh_database("guard");
        let direct = connect(&cluster().url(&database)).await.unwrap();
        direct.batch_execute(SCHEMA).await.unwrap();
        let dir = std::env::temp_dir().join(format!("softdel-{database}"));
        std::fs::create_dir_all(&dir).unwrap();
        crate::softdelete::shop::install_guard(&direct, &dir, RULES).await;
        let rules = dir.join("rules.yaml");
        let blocked = dir.join("blocked.jsonl");
        let proxy = TestProxy::start_with(|config| {
            config.rules = Some(rules);
            config.blocked_log = blocked;
            adjust(config);
        })
        .await;
        Guarded {
            database,
            direct,
            proxy,
            dir,
        }
    }

    /// A client through the proxy.
    pub async fn proxied(&self) -> Client {
        connect(&self.proxy.url("postgres", None, &self.database))
            .await
            .unwrap()
    }

    /// Another client straight to PostgreSQL.
    pub async fn unproxied(&self) -> Client {
        connect(&self.url()).await.unwrap()
    }

    /// The database's own URL (for the operator's commands).
    pub fn url(&self) -> String {
        cluster().url(&self.database)
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.direct.query_one(sql, &[]).await.unwrap().get(0)
    }

    /// Every table's rows, as text, in key order.
    pub async fn snapshot(&self) -> Vec<Vec<String>> {
        let mut state = Vec::new();
        for table in [
            "customers",
            "suppliers",
            "orders",
            "refunds",
            "audit_logs",
            "archive",
        ] {
            let rows = self
                .direct
                .query(&format!("SELECT t::text FROM {table} t ORDER BY id"), &[])
                .await
                .unwrap();
            state.push(rows.iter().map(|r| r.get(0)).collect());
        }
        state
    }

    /// The journal's operations after `after`, oldest first.
    pub async fn operations_after(&self, after: i64) -> Vec<Op> {
        self.direct
            .query(
                "SELECT id, txid, action, table_name, row_count, path, sql, connection_id, \
                        client_addr, db_user, (SELECT count(*) FROM softdel.rows r WHERE r.op_id = o.id) \
                 FROM softdel.operations o WHERE id > $1 ORDER BY id",
                &[&after],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| Op {
                id: r.get(0),
                txid: r.get(1),
                action: r.get(2),
                table: r.get(3),
                rows: r.get(4),
                path: r.get(5),
                sql: r.get(6),
                connection_id: r.get(7),
                client_addr: r.get(8),
                db_user: r.get(9),
                images: r.get(10),
            })
            .collect()
    }

    pub async fn last_op(&self) -> i64 {
        self.count("SELECT coalesce(max(id), 0) FROM softdel.operations")
            .await
    }

    /// `softdel undelete --txid TXID` against the database.
    pub async fn undelete_txid(&self, txid: i64) -> Run {
        softdel(&[
            "undelete",
            "--database-url",
            &self.url(),
            "--txid",
            &txid.to_string(),
        ])
        .await
    }
}

/// One journaled operation.
#[derive(Clone, Debug)]
pub struct Op {
    pub id: i64,
    pub txid: i64,
    pub action: String,
    pub table: String,
    pub rows: i64,
    pub path: Option<String>,
    pub sql: String,
    pub connection_id: Option<i64>,
    pub client_addr: Option<String>,
    pub db_user: String,
    /// Row images journaled with it.
    pub images: i64,
}

impl Op {
    /// (action, table, rows): what a test expects of it.
    pub fn summary(&self) -> (&str, &str, i64) {
        (self.action.as_str(), self.table.as_str(), self.rows)
    }
}

/// The SQLSTATE and message of a failed statement.
pub fn refused(error: &tokio_postgres::Error) -> (String, String) {
    let db = error.as_db_error().expect("a server error");
    (db.code().code().to_owned(), db.message().to_owned())
}
