//! What hiding does to each form of reference to a hidden table, to the
//! byte. `orders` (flag is_active), `billing.payments` (timestamp
//! deleted_at) and `"Mixed"` (flag alive) hide their deleted rows.

use super::{RULES, engine_with, rewrite, rewrite_with};
use crate::rewrite::{Decision, Lexing, View};

const O: &str = "(SELECT * FROM orders WHERE is_active IS DISTINCT FROM false)";
const P: &str = "(SELECT * FROM billing.payments WHERE deleted_at IS NULL)";

#[test]
fn every_reference_is_restricted_where_it_stands() {
    let cases: Vec<(&str, String)> = vec![
        ("SELECT * FROM orders", format!("SELECT * FROM {O} AS orders")),
        ("select * from ORDERS", "select * from (SELECT * FROM ORDERS WHERE is_active IS DISTINCT FROM false) AS ORDERS".into()),
        ("SELECT o.* FROM orders o WHERE o.id = $1", format!("SELECT o.* FROM {O} o WHERE o.id = $1")),
        ("SELECT o FROM orders AS o", format!("SELECT o FROM {O} AS o")),
        ("SELECT * FROM orders AS o (a, b)", format!("SELECT * FROM {O} AS o (a, b)")),
        (
            "SELECT * FROM public.orders /* keep */ JOIN billing.payments p USING (id)",
            format!("SELECT * FROM (SELECT * FROM public.orders WHERE is_active IS DISTINCT FROM false) AS orders /* keep */ JOIN {P} p USING (id)"),
        ),
        (
            "SELECT * FROM \"Mixed\" m",
            "SELECT * FROM (SELECT * FROM \"Mixed\" WHERE alive IS DISTINCT FROM false) m".into(),
        ),
        (
            "SELECT c.id, o.id FROM customers c LEFT JOIN orders o ON o.cid = c.id",
            format!("SELECT c.id, o.id FROM customers c LEFT JOIN {O} o ON o.cid = c.id"),
        ),
        (
            "SELECT * FROM orders o RIGHT JOIN customers c ON true FULL JOIN payments p ON true CROSS JOIN orders x NATURAL JOIN orders",
            format!("SELECT * FROM {O} o RIGHT JOIN customers c ON true FULL JOIN (SELECT * FROM payments WHERE deleted_at IS NULL) p ON true CROSS JOIN {O} x NATURAL JOIN {O} AS orders"),
        ),
        (
            "SELECT * FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.cid = c.id) AND c.id IN (SELECT cid FROM orders)",
            format!("SELECT * FROM customers c WHERE EXISTS (SELECT 1 FROM {O} o WHERE o.cid = c.id) AND c.id IN (SELECT cid FROM {O} AS orders)"),
        ),
        (
            "SELECT * FROM customers c, LATERAL (SELECT * FROM orders o WHERE o.cid = c.id LIMIT 1) l",
            format!("SELECT * FROM customers c, LATERAL (SELECT * FROM {O} o WHERE o.cid = c.id LIMIT 1) l"),
        ),
        (
            "SELECT id FROM orders UNION ALL SELECT id FROM orders EXCEPT SELECT 1",
            format!("SELECT id FROM {O} AS orders UNION ALL SELECT id FROM {O} AS orders EXCEPT SELECT 1"),
        ),
        (
            "SELECT * FROM ONLY orders FOR UPDATE OF orders",
            "SELECT * FROM (SELECT * FROM ONLY orders WHERE is_active IS DISTINCT FROM false) AS orders FOR UPDATE OF orders".into(),
        ),
        (
            "INSERT INTO orders (id) SELECT id FROM orders o RETURNING id",
            format!("INSERT INTO orders (id) SELECT id FROM {O} o RETURNING id"),
        ),
        (
            "CREATE TABLE snapshot AS SELECT * FROM orders",
            format!("CREATE TABLE snapshot AS SELECT * FROM {O} AS orders"),
        ),
        (
            "EXPLAIN SELECT * FROM orders",
            format!("EXPLAIN SELECT * FROM {O} AS orders"),
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(rewrite(sql), Some(expected), "{sql}");
    }
}

#[test]
fn ctes_shadow_the_table_in_their_scope_only() {
    let cases: Vec<(&str, String)> = vec![
        (
            "WITH orders AS (SELECT * FROM orders) SELECT * FROM orders",
            format!("WITH orders AS (SELECT * FROM {O} AS orders) SELECT * FROM orders"),
        ),
        (
            "WITH a AS (SELECT * FROM orders), orders AS (SELECT * FROM a) SELECT * FROM orders, (SELECT * FROM orders) x",
            format!("WITH a AS (SELECT * FROM {O} AS orders), orders AS (SELECT * FROM a) SELECT * FROM orders, (SELECT * FROM orders) x"),
        ),
        (
            "WITH RECURSIVE orders AS (SELECT 1 AS id UNION SELECT id + 1 FROM orders WHERE id < 3) SELECT * FROM orders",
            "WITH RECURSIVE orders AS (SELECT 1 AS id UNION SELECT id + 1 FROM orders WHERE id < 3) SELECT * FROM orders".into(),
        ),
        (
            "SELECT * FROM (WITH orders AS (SELECT 1) SELECT * FROM orders) x, orders",
            format!("SELECT * FROM (WITH orders AS (SELECT 1) SELECT * FROM orders) x, {O} AS orders"),
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(rewrite(sql), Some(expected).filter(|e| e != sql), "{sql}");
    }
}

#[test]
fn targets_of_update_and_merge_get_the_condition_in_their_own_clause() {
    let cases: Vec<(&str, String)> = vec![
        (
            "UPDATE orders SET note = 'x' WHERE id = $1 RETURNING *",
            "UPDATE orders SET note = 'x' WHERE (id = $1) AND orders.is_active IS DISTINCT FROM false RETURNING *".into(),
        ),
        (
            "UPDATE orders AS o SET note = (SELECT max(id) FROM orders WHERE true)",
            format!("UPDATE orders AS o SET note = (SELECT max(id) FROM {O} AS orders WHERE true) WHERE o.is_active IS DISTINCT FROM false"),
        ),
        (
            "UPDATE customers c SET n = 1 FROM orders o WHERE o.cid = c.id",
            format!("UPDATE customers c SET n = 1 FROM {O} o WHERE o.cid = c.id"),
        ),
        (
            "UPDATE billing.payments SET amount = 0",
            "UPDATE billing.payments SET amount = 0 WHERE payments.deleted_at IS NULL".into(),
        ),
        (
            "WITH u AS (UPDATE orders SET n = 1 WHERE id = 2 RETURNING id) SELECT * FROM u",
            "WITH u AS (UPDATE orders SET n = 1 WHERE (id = 2) AND orders.is_active IS DISTINCT FROM false RETURNING id) SELECT * FROM u".into(),
        ),
        (
            "MERGE INTO orders o USING orders s ON o.id = s.id WHEN MATCHED THEN UPDATE SET n = 1",
            format!("MERGE INTO orders o USING {O} s ON (o.id = s.id) AND o.is_active IS DISTINCT FROM false WHEN MATCHED THEN UPDATE SET n = 1"),
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(rewrite(sql), Some(expected), "{sql}");
    }
}

#[test]
fn copy_to_reads_the_live_rows_and_copy_from_is_left_alone() {
    let cases: Vec<(&str, Option<String>)> = vec![
        (
            "COPY orders TO STDOUT",
            Some(format!("COPY {O} TO STDOUT")),
        ),
        (
            "COPY orders (id, note) TO STDOUT WITH (FORMAT csv)",
            Some("COPY (SELECT id, note FROM orders WHERE is_active IS DISTINCT FROM false) TO STDOUT WITH (FORMAT csv)".into()),
        ),
        (
            "COPY (SELECT id FROM orders) TO STDOUT",
            Some(format!("COPY (SELECT id FROM {O} AS orders) TO STDOUT")),
        ),
        ("COPY orders FROM STDIN", None),
    ];
    for (sql, expected) in cases {
        assert_eq!(rewrite(sql), expected, "{sql}");
    }
}

#[test]
fn a_soft_delete_combines_with_hiding() {
    let out = rewrite("DELETE FROM orders o USING orders p WHERE o.pid = p.id").unwrap();
    assert!(out.starts_with("UPDATE orders o SET is_active = "), "{out}");
    assert!(
        out.ends_with(&format!(
            "FROM {O} p WHERE (o.pid = p.id) AND o.is_active IS DISTINCT FROM false"
        )),
        "{out}"
    );
}

#[test]
fn views_other_tables_and_unhidden_soft_tables_are_left_alone() {
    for sql in [
        "CREATE VIEW v AS SELECT * FROM orders",
        "CREATE MATERIALIZED VIEW v AS SELECT * FROM orders",
        "CREATE OR REPLACE VIEW v AS SELECT o.id FROM customers c JOIN orders o ON true",
        "ALTER VIEW v AS SELECT * FROM orders",
        "CREATE POLICY p ON customers USING (EXISTS (SELECT 1 FROM orders))",
        "SELECT * FROM orders_archive",
        "SELECT * FROM generate_series(1, 3) orders",
        "INSERT INTO orders (id) VALUES (1)",
        "SELECT 'orders'",
        "SELECT * FROM mixed",
    ] {
        assert_eq!(rewrite(sql), None, "{sql}");
    }
    let rules = format!("{RULES}  unhidden:\n    flag: f\n    hide: false\n");
    let engine = engine_with(&rules);
    assert_eq!(
        rewrite_with(&engine, "SELECT * FROM unhidden", Lexing::default()),
        None
    );
}

#[test]
fn show_deleted_sees_everything_and_is_cached_apart() {
    let engine = engine_with(RULES);
    let sql = "SELECT * FROM orders";
    let shown = View {
        lexing: Lexing::default(),
        show_deleted: true,
    };
    assert!(matches!(engine.decide(sql, shown), Decision::Pass));
    assert!(matches!(
        engine.decide(sql, Lexing::default()),
        Decision::Rewrite(_)
    ));
    assert!(matches!(engine.decide(sql, shown), Decision::Pass));
    // A soft delete is still one, and touches live rows only.
    let delete = "DELETE FROM orders WHERE id = 1";
    match engine.decide(delete, shown) {
        Decision::Rewrite(r) => assert!(
            r.template
                .display()
                .ends_with("AND orders.is_active IS DISTINCT FROM false")
        ),
        Decision::Pass => panic!("not rewritten"),
    }
}

#[test]
fn what_the_parser_cannot_read_is_sent_as_it_is() {
    // `DO` is not parsed; nothing in it is hidden, nothing refused.
    assert_eq!(rewrite("SELECT * FROM orders WHERE CURRENT OF c"), None);
}
