//! What hiding does to each form of reference to a hidden table, to the
//! byte. `orders` (flag is_active), `billing.payments` (timestamp
//! deleted_at) and `"Mixed"` (flag alive) hide their deleted rows.

use super::{RULES, engine_with, rewrite, rewrite_with};
use crate::rewrite::{Decision, Lexing, View};

const O: &str = "(SELECT * FROM orders WHERE is_active IS DISTINCT FROM false)";

#[test]
fn every_reference_is_restricted_where_it_stands() {
    let cases: Vec<(&str, String)> = vec![
        ("SELECT * FROM orders", "SELECT * FROM orders WHERE orders.is_active IS DISTINCT FROM false".into()),
        ("select * from ORDERS", "select * from ORDERS WHERE ORDERS.is_active IS DISTINCT FROM false".into()),
        ("SELECT o.* FROM orders o WHERE o.id = $1", "SELECT o.* FROM orders o WHERE (o.id = $1) AND o.is_active IS DISTINCT FROM false".into()),
        ("SELECT o FROM orders AS o", "SELECT o FROM orders AS o WHERE o.is_active IS DISTINCT FROM false".into()),
        ("SELECT * FROM orders AS o (a, b)", "SELECT * FROM (SELECT * FROM orders WHERE is_active IS DISTINCT FROM false) AS o (a, b)".into()),
        ("SELECT * FROM public.orders /* keep */ JOIN billing.payments p USING (id)", "SELECT * FROM public.orders /* keep */ JOIN (SELECT * FROM billing.payments WHERE deleted_at IS NULL) p USING (id) WHERE orders.is_active IS DISTINCT FROM false".into()),
        ("SELECT * FROM \"Mixed\" m", "SELECT * FROM \"Mixed\" m WHERE m.alive IS DISTINCT FROM false".into()),
        ("SELECT c.id, o.id FROM customers c LEFT JOIN orders o ON o.cid = c.id", "SELECT c.id, o.id FROM customers c LEFT JOIN orders o ON (o.cid = c.id) AND o.is_active IS DISTINCT FROM false".into()),
        ("SELECT * FROM orders o RIGHT JOIN customers c ON true FULL JOIN payments p ON true CROSS JOIN orders x NATURAL JOIN orders", "SELECT * FROM (SELECT * FROM orders WHERE is_active IS DISTINCT FROM false) o RIGHT JOIN customers c ON true FULL JOIN (SELECT * FROM payments WHERE deleted_at IS NULL) p ON true CROSS JOIN (SELECT * FROM orders WHERE is_active IS DISTINCT FROM false) x NATURAL JOIN (SELECT * FROM orders WHERE is_active IS DISTINCT FROM false) AS orders".into()),
        ("SELECT * FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.cid = c.id) AND c.id IN (SELECT cid FROM orders)", "SELECT * FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE (o.cid = c.id) AND o.is_active IS DISTINCT FROM false) AND c.id IN (SELECT cid FROM orders WHERE orders.is_active IS DISTINCT FROM false)".into()),
        ("SELECT * FROM customers c, LATERAL (SELECT * FROM orders o WHERE o.cid = c.id LIMIT 1) l", "SELECT * FROM customers c, LATERAL (SELECT * FROM orders o WHERE (o.cid = c.id) AND o.is_active IS DISTINCT FROM false LIMIT 1) l".into()),
        ("SELECT id FROM orders UNION ALL SELECT id FROM orders EXCEPT SELECT 1", "SELECT id FROM orders WHERE orders.is_active IS DISTINCT FROM false UNION ALL SELECT id FROM orders WHERE orders.is_active IS DISTINCT FROM false EXCEPT SELECT 1".into()),
        ("SELECT * FROM ONLY orders FOR UPDATE OF orders", "SELECT * FROM ONLY orders WHERE orders.is_active IS DISTINCT FROM false FOR UPDATE OF orders".into()),
        ("INSERT INTO orders (id) SELECT id FROM orders o RETURNING id", "INSERT INTO orders (id) SELECT id FROM orders o WHERE o.is_active IS DISTINCT FROM false RETURNING id".into()),
        ("CREATE TABLE snapshot AS SELECT * FROM orders", "CREATE TABLE snapshot AS SELECT * FROM orders WHERE orders.is_active IS DISTINCT FROM false".into()),
        ("EXPLAIN SELECT * FROM orders", "EXPLAIN SELECT * FROM orders WHERE orders.is_active IS DISTINCT FROM false".into()),
    ];
    for (sql, expected) in cases {
        assert_eq!(rewrite(sql), Some(expected), "{sql}");
    }
}

#[test]
fn ctes_shadow_the_table_in_their_scope_only() {
    let cases: Vec<(&str, String)> = vec![
        ("WITH orders AS (SELECT * FROM orders) SELECT * FROM orders", "WITH orders AS (SELECT * FROM orders WHERE orders.is_active IS DISTINCT FROM false) SELECT * FROM orders".into()),
        ("WITH a AS (SELECT * FROM orders), orders AS (SELECT * FROM a) SELECT * FROM orders, (SELECT * FROM orders) x", "WITH a AS (SELECT * FROM orders WHERE orders.is_active IS DISTINCT FROM false), orders AS (SELECT * FROM a) SELECT * FROM orders, (SELECT * FROM orders) x".into()),
        ("WITH RECURSIVE orders AS (SELECT 1 AS id UNION SELECT id + 1 FROM orders WHERE id < 3) SELECT * FROM orders", "WITH RECURSIVE orders AS (SELECT 1 AS id UNION SELECT id + 1 FROM orders WHERE id < 3) SELECT * FROM orders".into()),
        ("SELECT * FROM (WITH orders AS (SELECT 1) SELECT * FROM orders) x, orders", "SELECT * FROM (WITH orders AS (SELECT 1) SELECT * FROM orders) x, orders WHERE orders.is_active IS DISTINCT FROM false".into()),
    ];
    for (sql, expected) in cases {
        assert_eq!(rewrite(sql), Some(expected).filter(|e| e != sql), "{sql}");
    }
}

#[test]
fn targets_of_update_and_merge_get_the_condition_in_their_own_clause() {
    let cases: Vec<(&str, String)> = vec![
        ("UPDATE orders SET note = 'x' WHERE id = $1 RETURNING *", "UPDATE orders SET note = 'x' WHERE (id = $1) AND orders.is_active IS DISTINCT FROM false RETURNING *".into()),
        ("UPDATE orders AS o SET note = (SELECT max(id) FROM orders WHERE true)", "UPDATE orders AS o SET note = (SELECT max(id) FROM orders WHERE (true) AND orders.is_active IS DISTINCT FROM false) WHERE o.is_active IS DISTINCT FROM false".into()),
        ("UPDATE customers c SET n = 1 FROM orders o WHERE o.cid = c.id", "UPDATE customers c SET n = 1 FROM (SELECT * FROM orders WHERE is_active IS DISTINCT FROM false) o WHERE o.cid = c.id".into()),
        ("UPDATE billing.payments SET amount = 0", "UPDATE billing.payments SET amount = 0 WHERE payments.deleted_at IS NULL".into()),
        ("WITH u AS (UPDATE orders SET n = 1 WHERE id = 2 RETURNING id) SELECT * FROM u", "WITH u AS (UPDATE orders SET n = 1 WHERE (id = 2) AND orders.is_active IS DISTINCT FROM false RETURNING id) SELECT * FROM u".into()),
        ("MERGE INTO orders o USING orders s ON o.id = s.id WHEN MATCHED THEN UPDATE SET n = 1", "MERGE INTO orders o USING (SELECT * FROM orders WHERE is_active IS DISTINCT FROM false) s ON (o.id = s.id) AND o.is_active IS DISTINCT FROM false WHEN MATCHED THEN UPDATE SET n = 1".into()),
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
            Some("COPY (SELECT id FROM orders WHERE orders.is_active IS DISTINCT FROM false) TO STDOUT".into()),
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

#[test]
fn tables_of_a_select_stay_tables_with_the_condition_where_it_filters_them_alone() {
    let cases = [
        (
            "SELECT c.id, c.name, count(o.id) FROM orders c LEFT JOIN orders o ON o.cid = c.id GROUP BY c.id HAVING count(*) > 1 ORDER BY c.id LIMIT 5 FOR UPDATE",
            "SELECT c.id, c.name, count(o.id) FROM orders c LEFT JOIN orders o ON (o.cid = c.id) AND o.is_active IS DISTINCT FROM false WHERE c.is_active IS DISTINCT FROM false GROUP BY c.id HAVING count(*) > 1 ORDER BY c.id LIMIT 5 FOR UPDATE",
        ),
        (
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY total) FROM orders GROUP BY cid",
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY total) FROM orders WHERE orders.is_active IS DISTINCT FROM false GROUP BY cid",
        ),
        (
            "INSERT INTO x SELECT * FROM orders ON CONFLICT DO NOTHING",
            "INSERT INTO x SELECT * FROM orders WHERE orders.is_active IS DISTINCT FROM false ON CONFLICT DO NOTHING",
        ),
        (
            "SELECT * FROM customers c JOIN orders o ON left(o.code, 1) = c.k LEFT JOIN orders p ON p.left = 1, items i WHERE i.x = 1",
            "SELECT * FROM customers c JOIN orders o ON (left(o.code, 1) = c.k) AND o.is_active IS DISTINCT FROM false LEFT JOIN orders p ON (p.left = 1) AND p.is_active IS DISTINCT FROM false, items i WHERE i.x = 1",
        ),
        (
            "SELECT * FROM orders a, orders b WHERE a.id = 1 OR b.id = 2",
            "SELECT * FROM orders a, orders b WHERE (a.id = 1 OR b.id = 2) AND a.is_active IS DISTINCT FROM false AND b.is_active IS DISTINCT FROM false",
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(rewrite(sql).as_deref(), Some(expected), "{sql}");
    }
}

#[test]
fn a_clause_that_starts_with_a_parenthesis_still_ends_the_condition() {
    let sql = "SELECT 1 FROM a JOIN orders o ON (a.id = o.aid) WHERE (o.x = 1) GROUP BY (a.k) ORDER BY (1)";
    assert_eq!(
        rewrite(sql).as_deref(),
        Some(
            "SELECT 1 FROM a JOIN orders o ON ((a.id = o.aid)) AND o.is_active IS DISTINCT FROM false WHERE (o.x = 1) GROUP BY (a.k) ORDER BY (1)"
        )
    );
}
