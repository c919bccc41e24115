//! Soft deletes cascade as the deletes would: a soft parent's rows marked
//! deleted (through the proxy's rewrite or by an UPDATE straight to
//! PostgreSQL) mark the live rows of soft children that reference them ON
//! DELETE CASCADE, transitively, in one operation tree; `softdel undelete`
//! of the parent's operation brings back exactly the children it took.
//! Reads through softdel then agree with a database where the same
//! delete really ran, cascades and all.

use tokio_postgres::Client;

use crate::common::{TestProxy, cluster, connect, fresh_database};
use crate::operator::softdel;
use crate::softdelete::shop::{install_guard, message, sqlstate};

const RULES: &str = r#"
tables:
  customers:
    timestamp: deleted_at
  orders:
    flag: is_active
    max_rows: 4
  items:
    timestamp: deleted_at
  replies:
    flag: live
  notes:
    on_delete: journal
"#;

/// Customers own orders, orders own items, replies (a thread, replying
/// to each other) and notes; every key cascades. Customer 1 has orders
/// 1-3, customer 2 orders 4-5, customer 3 orders 6-10.
const SCHEMA: &str = r#"
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, deleted_at timestamptz);
CREATE TABLE orders (id int PRIMARY KEY,
                     customer_id int REFERENCES customers ON DELETE CASCADE,
                     is_active boolean NOT NULL DEFAULT true);
CREATE TABLE items (id int PRIMARY KEY,
                    order_id int NOT NULL REFERENCES orders ON DELETE CASCADE,
                    deleted_at timestamptz);
CREATE TABLE replies (id int PRIMARY KEY,
                      order_id int NOT NULL REFERENCES orders ON DELETE CASCADE,
                      parent_id int REFERENCES replies ON DELETE CASCADE,
                      live boolean);
CREATE TABLE notes (id int PRIMARY KEY, order_id int REFERENCES orders ON DELETE CASCADE,
                    body text);
INSERT INTO customers (id, name) SELECT g, 'customer ' || g FROM generate_series(1, 3) g;
INSERT INTO orders (id, customer_id)
  SELECT g, CASE WHEN g <= 3 THEN 1 WHEN g <= 5 THEN 2 ELSE 3 END FROM generate_series(1, 10) g;
INSERT INTO items (id, order_id) SELECT g, 1 + (g - 1) % 10 FROM generate_series(1, 30) g;
INSERT INTO replies VALUES (1, 1, NULL, true), (2, 4, 1, true), (3, 5, 2, true), (4, 6, NULL, true);
INSERT INTO notes SELECT g, g, 'note ' || g FROM generate_series(1, 10) g;
"#;

/// What an application reads: through softdel on one side, straight on
/// the other (where the rows are really gone).
const READS: &[&str] = &[
    "SELECT id, name FROM customers ORDER BY id",
    "SELECT id, customer_id FROM orders ORDER BY id",
    "SELECT id, order_id FROM items ORDER BY id",
    "SELECT id, order_id, parent_id FROM replies ORDER BY id",
    "SELECT c.id, count(o.id) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id \
     GROUP BY c.id ORDER BY c.id",
    "SELECT o.id, count(i.id) FROM orders o LEFT JOIN items i ON i.order_id = o.id \
     GROUP BY o.id ORDER BY o.id",
];

struct Setup {
    proxy: TestProxy,
    soft: String,
    hard: String,
}

impl Setup {
    async fn open() -> Setup {
        let (soft, hard) = (
            fresh_database("cascade_soft"),
            fresh_database("cascade_hard"),
        );
        for database in [&soft, &hard] {
            direct(database).await.batch_execute(SCHEMA).await.unwrap();
        }
        let dir = std::env::temp_dir().join(format!("softdel-{soft}"));
        std::fs::create_dir_all(&dir).unwrap();
        install_guard(&direct(&soft).await, &dir, RULES).await;
        let rules = dir.join("rules.yaml");
        let proxy = TestProxy::start_with(|config| config.rules = Some(rules)).await;
        Setup { proxy, soft, hard }
    }

    async fn proxied(&self) -> Client {
        connect(&self.proxy.url("postgres", None, &self.soft))
            .await
            .expect("connect through the proxy")
    }

    /// Every read gives the same rows through softdel as on the database
    /// where the deletes really ran.
    async fn agree(&self, when: &str) {
        let (soft, hard) = (self.proxied().await, direct(&self.hard).await);
        for sql in READS {
            assert_eq!(
                rows(&soft, sql).await,
                rows(&hard, sql).await,
                "{when}: {sql}"
            );
        }
    }

    /// The journal's soft deletes after operation `after`: (id, table,
    /// rows, the operation that cascaded into it).
    async fn operations_after(&self, after: i64) -> Vec<(i64, String, i64, Option<i64>)> {
        direct(&self.soft)
            .await
            .query(
                "SELECT id, table_name, row_count, cascaded_from FROM softdel.operations \
                 WHERE id > $1 AND action = 'soft_delete' ORDER BY id",
                &[&after],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect()
    }

    async fn last_op(&self) -> i64 {
        direct(&self.soft)
            .await
            .query_one("SELECT coalesce(max(id), 0) FROM softdel.operations", &[])
            .await
            .unwrap()
            .get(0)
    }

    /// Every row, deleted or not, straight from the soft database.
    async fn everything(&self) -> Vec<Vec<String>> {
        let client = direct(&self.soft).await;
        let mut all = Vec::new();
        for table in ["customers", "orders", "items", "replies", "notes"] {
            all.extend(rows(&client, &format!("SELECT * FROM {table} ORDER BY id")).await);
        }
        all
    }
}

async fn direct(database: &str) -> Client {
    connect(&cluster().url(database)).await.expect("connect")
}

async fn rows(client: &Client, sql: &str) -> Vec<Vec<String>> {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_owned())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_soft_delete_through_the_proxy_cascades_and_undelete_brings_back_what_it_took() {
    let s = Setup::open().await;
    let (app, hard) = (s.proxied().await, direct(&s.hard).await);
    // Deleted earlier, by itself: item 1 (of order 1) must stay deleted
    // when the customer's delete is undone.
    for client in [&app, &hard] {
        client
            .execute("DELETE FROM items WHERE id = 1", &[])
            .await
            .unwrap();
    }
    let before = s.everything().await;
    let last = s.last_op().await;
    let soft_tag = app
        .execute("DELETE FROM customers WHERE id = 1", &[])
        .await
        .unwrap();
    let hard_tag = hard
        .execute("DELETE FROM customers WHERE id = 1", &[])
        .await
        .unwrap();
    assert_eq!(
        (soft_tag, hard_tag),
        (1, 1),
        "the tag counts the customer alone"
    );
    s.agree("after the cascade").await;

    // One tree: the customer, its 3 orders, their 8 live items (item 1
    // was gone already), the thread that starts on order 1 (reply 1, then
    // 2 and 3 under it, though they stand on orders 4 and 5); notes (a
    // journal table) stay, pointing at hidden orders.
    let ops = s.operations_after(last).await;
    let customer = ops[0].0;
    let by_table = |t: &str| ops.iter().find(|o| o.1 == t).cloned().unwrap();
    assert_eq!(ops[0], (customer, "customers".into(), 1, None), "{ops:?}");
    let orders = by_table("orders");
    assert_eq!((orders.2, orders.3), (3, Some(customer)), "{ops:?}");
    let items = by_table("items");
    assert_eq!((items.2, items.3), (8, Some(orders.0)), "{ops:?}");
    let replies: Vec<_> = ops.iter().filter(|o| o.1 == "replies").collect();
    assert_eq!(replies.iter().map(|o| o.2).sum::<i64>(), 3, "{ops:?}");
    assert_eq!(replies[0].3, Some(orders.0), "{ops:?}");
    assert_eq!(ops.len(), 3 + replies.len(), "{ops:?}");
    let notes = rows(&app, "SELECT count(*) FROM notes WHERE order_id <= 3").await;
    assert_eq!(notes, [["3"]], "notes stay");

    let url = cluster().url(&s.soft);
    let log = softdel(&["log", "--database-url", &url, "--op", &orders.0.to_string()]).await;
    let cause = format!("cascaded:    from operation {customer} (ON DELETE CASCADE)");
    assert!(log.ok && log.stdout.contains(&cause), "{log:?}");

    // Undelete of the customer's operation alone: exactly what it took.
    let run = softdel(&["undelete", "--database-url", &url, &customer.to_string()]).await;
    assert!(run.ok, "{run:?}");
    let after = s.everything().await;
    assert_eq!(after, before, "{run:?}");
    let item1 = rows(&app, "SELECT count(*) FROM items WHERE id = 1").await;
    assert_eq!(
        item1,
        [["0"]],
        "item 1 was deleted before, by something else"
    );
    let again = softdel(&["undelete", "--database-url", &url, &customer.to_string()]).await;
    assert!(again.ok && s.everything().await == before, "{again:?}");
}

#[tokio::test]
async fn marking_a_parent_deleted_by_hand_cascades_too_and_the_transaction_comes_back() {
    let s = Setup::open().await;
    let before = s.everything().await;
    let last = s.last_op().await;
    let client = direct(&s.soft).await;
    let txid: i64 = client
        .query_one(
            "WITH marked AS (UPDATE customers SET deleted_at = now() WHERE id = 2 RETURNING 1) \
             SELECT txid_current()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let ops = s.operations_after(last).await;
    let tables: Vec<(&str, i64)> = ops.iter().map(|o| (o.1.as_str(), o.2)).collect();
    // Orders 4 and 5, their 6 items, replies 2 and 3 (on orders 4 and 5;
    // reply 3 also under reply 2).
    assert_eq!(
        tables
            .iter()
            .filter(|t| t.0 != "replies")
            .collect::<Vec<_>>(),
        [&("customers", 1), &("orders", 2), &("items", 6)],
        "{ops:?}"
    );
    assert_eq!(
        tables
            .iter()
            .filter(|t| t.0 == "replies")
            .map(|t| t.1)
            .sum::<i64>(),
        2,
        "{ops:?}"
    );
    let hard = direct(&s.hard).await;
    hard.execute("DELETE FROM customers WHERE id = 2", &[])
        .await
        .unwrap();
    s.agree("after an UPDATE of the marker").await;

    let url = cluster().url(&s.soft);
    let run = softdel(&[
        "undelete",
        "--database-url",
        &url,
        "--txid",
        &txid.to_string(),
    ])
    .await;
    assert!(run.ok, "{run:?}");
    assert_eq!(s.everything().await, before, "{run:?}");
}

#[tokio::test]
async fn a_cascade_over_a_childs_row_limit_is_refused_and_changes_nothing() {
    let s = Setup::open().await;
    let before = s.everything().await;
    let app = s.proxied().await;
    // Customer 3 has 5 orders; orders allows 4 per statement.
    let error = app
        .execute("DELETE FROM customers WHERE id = 3", &[])
        .await
        .expect_err("over the limit of orders");
    assert_eq!(sqlstate(&error), "SD002", "{error:?}");
    assert!(message(&error).contains("orders"), "{error:?}");
    assert_eq!(s.everything().await, before);
}

#[tokio::test]
async fn a_cascade_pointer_a_client_sets_itself_names_nothing() {
    let s = Setup::open().await;
    let last = s.last_op().await;
    let client = direct(&s.soft).await;
    client
        .batch_execute(&format!(
            "BEGIN; SET LOCAL softdel.cascade = '{last}'; \
             UPDATE items SET deleted_at = now() WHERE id = 30; \
             SET LOCAL softdel.cascade = 'not a number'; \
             UPDATE items SET deleted_at = now() WHERE id = 29; COMMIT"
        ))
        .await
        .unwrap();
    let ops = s.operations_after(last).await;
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert!(ops.iter().all(|o| o.3.is_none()), "{ops:?}");
}
