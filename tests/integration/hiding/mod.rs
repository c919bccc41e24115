//! Hiding through the proxy: two databases with the same schema and rows;
//! the same deletes soft through softdel on one and really executed on the
//! other; then every statement of a corpus must give the same rows, tags
//! and errors on both (`differential`). `show_deleted` opts a session out.

mod cascade;
mod check;
mod corpus;
mod differential;
mod show_deleted;
mod unique;

use std::net::SocketAddr;

use crate::common::{TestProxy, cluster, connect, fresh_database};
use crate::softdelete::shop::install_guard;
use tokio_postgres::Client;

pub const RULES: &str = r#"
tables:
  orders:
    flag: is_active
  items:
    timestamp: deleted_at
  products:
    timestamp: deleted_at
  '"Notes"':
    flag: live
"#;

const SCHEMA: &str = r#"
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, city text);
CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, price numeric(8,2) NOT NULL,
                       deleted_at timestamptz);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers,
                     placed date NOT NULL, is_active boolean NOT NULL DEFAULT true, note text);
CREATE TABLE items (id int PRIMARY KEY, order_id int NOT NULL REFERENCES orders,
                    product_id int NOT NULL REFERENCES products, qty int NOT NULL,
                    deleted_at timestamptz);
CREATE SCHEMA crm;
CREATE TABLE "Notes" (id int PRIMARY KEY, order_id int, body text, live boolean);
INSERT INTO customers SELECT g, 'customer ' || g, CASE WHEN g % 2 = 0 THEN 'paris' ELSE 'oslo' END
  FROM generate_series(1, 6) g;
INSERT INTO products SELECT g, 'product ' || g, 1.5 * g FROM generate_series(1, 8) g;
INSERT INTO orders (id, customer_id, placed) SELECT g, 1 + g % 6, date '2026-01-01' + g
  FROM generate_series(1, 30) g;
INSERT INTO items SELECT g, 1 + g % 30, 1 + g % 8, 1 + g % 4 FROM generate_series(1, 90) g;
INSERT INTO "Notes" SELECT g, g, 'note ' || g, true FROM generate_series(1, 10) g;
"#;

/// The deletes both databases get: soft through the proxy on one, real on
/// the other (children first, as an ORM does).
pub const DELETES: &[&str] = &[
    "DELETE FROM items WHERE order_id IN (2, 5, 11)",
    "DELETE FROM orders WHERE id IN (2, 5, 11)",
    "DELETE FROM items WHERE product_id = 3",
    "DELETE FROM products WHERE id = 3",
    "DELETE FROM items i USING orders o WHERE i.order_id = o.id AND o.customer_id = 4 AND i.qty = 1",
    "DELETE FROM \"Notes\" WHERE id IN (4, 11)",
];

/// The two databases: `soft` behind a proxy, `hard` straight.
pub struct Pair {
    pub proxy: TestProxy,
    pub soft: String,
    pub hard: String,
}

impl Pair {
    pub async fn open() -> Pair {
        let (soft, hard) = (fresh_database("hide_soft"), fresh_database("hide_hard"));
        for database in [&soft, &hard] {
            let direct = connect(&cluster().url(database)).await.expect("connect");
            direct
                .batch_execute(SCHEMA)
                .await
                .expect("create the schema");
        }
        let direct = connect(&cluster().url(&soft)).await.expect("connect");
        let dir = std::env::temp_dir().join(format!("softdel-{soft}"));
        std::fs::create_dir_all(&dir).unwrap();
        install_guard(&direct, &dir, RULES).await;
        let rules = dir.join("rules.yaml");
        let proxy = TestProxy::start_with(|config| config.rules = Some(rules)).await;
        Pair { proxy, soft, hard }
    }

    /// A client through the proxy to the soft database.
    pub async fn soft_client(&self) -> Client {
        connect(&self.proxy.url("postgres", None, &self.soft))
            .await
            .expect("connect through the proxy")
    }

    pub async fn hard_client(&self) -> Client {
        connect(&cluster().url(&self.hard)).await.expect("connect")
    }

    pub fn soft_addr(&self) -> SocketAddr {
        self.proxy.addr
    }

    pub fn hard_addr(&self) -> SocketAddr {
        cluster().addr().parse().unwrap()
    }

    /// Runs the deletes on both.
    pub async fn delete(&self) {
        let (soft, hard) = (self.soft_client().await, self.hard_client().await);
        for sql in DELETES {
            let a = soft.execute(*sql, &[]).await.expect(sql);
            let b = hard.execute(*sql, &[]).await.expect(sql);
            assert_eq!(a, b, "{sql}: rows deleted");
        }
    }
}
