//! What DELETE on each kind of table becomes, to the byte.

use super::{IMAGE, RULES, context, engine_with, guarded, rewrite, set};
use crate::rewrite::{Decision, Lexing, Shape};

#[test]
fn soft_deletes_become_updates_of_the_live_rows() {
    let live = "orders.is_active IS DISTINCT FROM false";
    let flag = |sql: &str| set("is_active", "false", "orders", sql);
    let cases: Vec<(&str, String)> = vec![
        (
            "DELETE FROM orders WHERE id = $1",
            format!(
                "UPDATE orders {} WHERE (id = $1) AND {live}",
                flag("DELETE FROM orders WHERE id = $1")
            ),
        ),
        (
            "DELETE FROM ONLY orders WHERE id = 1",
            format!(
                "UPDATE ONLY orders {} WHERE (id = 1) AND {live}",
                flag("DELETE FROM ONLY orders WHERE id = 1")
            ),
        ),
        (
            "DELETE FROM orders * WHERE id = 1",
            format!(
                "UPDATE orders * {} WHERE (id = 1) AND {live}",
                flag("DELETE FROM orders * WHERE id = 1")
            ),
        ),
        (
            "DELETE FROM orders",
            format!("UPDATE orders {} WHERE {live}", flag("DELETE FROM orders")),
        ),
        (
            "DELETE FROM orders AS o",
            format!(
                "UPDATE orders AS o {} WHERE o.is_active IS DISTINCT FROM false",
                flag("DELETE FROM orders AS o")
            ),
        ),
        (
            "DELETE FROM orders o USING customers c, regions r WHERE o.cid = c.id AND c.rid = r.id RETURNING o.id, r.*",
            format!(
                "UPDATE orders o {} FROM customers c, regions r WHERE (o.cid = c.id AND c.rid = r.id) AND o.is_active IS DISTINCT FROM false RETURNING o.id, r.*",
                flag(
                    "DELETE FROM orders o USING customers c, regions r WHERE o.cid = c.id AND c.rid = r.id RETURNING o.id, r.*"
                )
            ),
        ),
        (
            "delete from public.ORDERS where id=1 or (id in (select x from y where z))",
            format!(
                "UPDATE public.ORDERS {} where (id=1 or (id in (select x from y where z))) AND ORDERS.is_active IS DISTINCT FROM false",
                set(
                    "is_active",
                    "false",
                    "public.ORDERS",
                    "delete from public.ORDERS where id=1 or (id in (select x from y where z))"
                )
            ),
        ),
        (
            "DELETE /* a */ FROM orders WHERE /* b */ id = 1 -- c\n AND true",
            format!(
                "UPDATE orders {} WHERE /* b */ (id = 1 -- c\n AND true) AND {live}",
                flag("DELETE /* a */ FROM orders WHERE /* b */ id = 1 -- c\n AND true")
            ),
        ),
        (
            "DELETE FROM orders WHERE id = $1 RETURNING *",
            format!(
                "UPDATE orders {} WHERE (id = $1) AND {live} RETURNING *",
                flag("DELETE FROM orders WHERE id = $1 RETURNING *")
            ),
        ),
        (
            "DELETE FROM billing.payments WHERE id = 1",
            format!(
                "UPDATE billing.payments {} WHERE (id = 1) AND payments.deleted_at IS NULL",
                set(
                    "deleted_at",
                    "pg_catalog.now()",
                    "billing.payments",
                    "DELETE FROM billing.payments WHERE id = 1"
                )
            ),
        ),
        (
            "DELETE FROM \"Mixed\" m WHERE m.id = 1",
            format!(
                "UPDATE \"Mixed\" m {} WHERE (m.id = 1) AND m.alive IS DISTINCT FROM false",
                set(
                    "alive",
                    "false",
                    "\"Mixed\"",
                    "DELETE FROM \"Mixed\" m WHERE m.id = 1"
                )
            ),
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(rewrite(sql).as_deref(), Some(expected.as_str()), "{sql}");
    }
}

#[test]
fn a_soft_delete_keeps_its_result_shape_and_renames_its_tag() {
    let engine = engine_with(RULES);
    let Decision::Rewrite(r) = engine.decide(
        "SELECT 1; DELETE FROM orders WHERE id = 1; WITH d AS (DELETE FROM orders RETURNING id) SELECT * FROM d",
        Lexing::default(),
    ) else {
        panic!("rewritten");
    };
    // Only the statement whose own result is the DELETE's has its tag
    // renamed; the client's SELECT over a CTE keeps its own.
    assert_eq!(
        r.shapes,
        vec![None, Some(Shape::Update("orders".into())), None]
    );
    let Decision::Rewrite(r) = engine.decide(
        "PREPARE del (int) AS DELETE FROM \"Mixed\" WHERE id = $1",
        Lexing::default(),
    ) else {
        panic!("rewritten");
    };
    assert_eq!(r.shapes, vec![None], "PREPARE says PREPARE");
    assert_eq!(
        r.prepared,
        vec![("del".to_owned(), Shape::Update("\"Mixed\"".into()))]
    );
}

#[test]
fn edits_keep_words_apart_where_the_client_wrote_no_space() {
    // Found by fuzzing: PostgreSQL reads `)RETURNING` and `"orders"WHERE`
    // as two tokens each, and the rewrite ran its own last word into the
    // client's next one (`... IS DISTINCT FROM falseRETURNING`).
    let live = "orders.is_active IS DISTINCT FROM false";
    let flag = |sql: &str| set("is_active", "false", "orders", sql);
    let cases = [
        (
            "DELETE FROM orders WHERE id IN (SELECT 1)RETURNING id",
            format!(
                "UPDATE orders {} WHERE (id IN (SELECT 1)) AND {live} RETURNING id",
                flag("DELETE FROM orders WHERE id IN (SELECT 1)RETURNING id")
            ),
        ),
        (
            "DELETE FROM \"orders\"WHERE id = 1",
            format!(
                "UPDATE \"orders\" {}WHERE (id = 1) AND \"orders\".is_active IS DISTINCT FROM false",
                set(
                    "is_active",
                    "false",
                    "\"orders\"",
                    "DELETE FROM \"orders\"WHERE id = 1"
                )
            ),
        ),
        (
            "DELETE FROM orders USING \"c\"RETURNING *",
            format!(
                "UPDATE orders {} FROM \"c\" WHERE {live} RETURNING *",
                flag("DELETE FROM orders USING \"c\"RETURNING *")
            ),
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(rewrite(sql).as_deref(), Some(expected.as_str()), "{sql}");
    }
}

#[test]
fn journal_and_block_deletes_stay_deletes_for_the_guard() {
    let cases = [
        (
            "DELETE FROM refunds WHERE id = 1",
            format!(
                "DELETE FROM refunds WHERE (id = 1) AND {}",
                guarded("refunds", "DELETE FROM refunds WHERE id = 1")
            ),
        ),
        (
            "DELETE FROM refunds USING x RETURNING *",
            format!(
                "DELETE FROM refunds USING x WHERE {} RETURNING *",
                guarded("refunds", "DELETE FROM refunds USING x RETURNING *")
            ),
        ),
        (
            "DELETE FROM public.AUDIT_LOGS a WHERE a.id = $1",
            format!(
                "DELETE FROM public.AUDIT_LOGS a WHERE (a.id = $1) AND {}",
                guarded(
                    "public.AUDIT_LOGS",
                    "DELETE FROM public.AUDIT_LOGS a WHERE a.id = $1"
                )
            ),
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(rewrite(sql).as_deref(), Some(expected.as_str()), "{sql}");
    }
}

#[test]
fn a_limited_delete_is_counted_in_the_statement() {
    let sql = "DELETE FROM t WHERE x < 5 -- tidy up";
    let limit = "(CASE WHEN pg_catalog.count(*) > 1000 THEN (E'softdel:n:limit:' || (pg_catalog.count(*))::pg_catalog.text || E':1000:74:44454c4554452046524f4d20742057484552452078203c2035202d2d2074696479207570')::pg_catalog.int4 END)";
    let expected = format!(
        "WITH softdel_rows AS (DELETE FROM t WHERE (x < 5) AND (SELECT {} IS NOT NULL) RETURNING NULL::pg_catalog.jsonb AS {IMAGE}) \
         SELECT pg_catalog.count(*)::pg_catalog.text AS softdel_count_n FROM softdel_rows HAVING {limit} IS NULL -- tidy up",
        context(sql)
    );
    assert_eq!(rewrite(sql).unwrap(), expected);
    // billing.payments is protected in schema billing only.
    let out = rewrite("DELETE FROM other.payments WHERE id = 1 RETURNING id").unwrap();
    assert!(
        out.starts_with("WITH softdel_rows AS (DELETE FROM other.payments WHERE (id = 1) AND (SELECT pg_catalog.set_config(")
            && out.contains("RETURNING id, NULL::pg_catalog.jsonb AS softdel_image_n) SELECT softdel_rows.*, NULL::pg_catalog.text AS softdel_op_n FROM softdel_rows WHERE (SELECT (CASE"),
        "{out}"
    );
    // Inside the client's CTE: counted by an INSERT that never inserts.
    let out = rewrite("WITH d AS (DELETE FROM t WHERE id < 5) SELECT 1").unwrap();
    assert!(
        out.contains("RETURNING 1), softdel_limit_1 AS (INSERT INTO softdel.row_limit (n) SELECT softdel_n.n FROM (SELECT pg_catalog.count(*) AS n FROM d) softdel_n WHERE (CASE WHEN softdel_n.n > 1000"),
        "{out}"
    );
    assert!(out.ends_with(") SELECT 1"), "{out}");
}

#[test]
fn deletes_are_found_wherever_they_stand() {
    let starts = [
        (
            "PREPARE p (int) AS DELETE FROM orders WHERE id = $1",
            "PREPARE p (int) AS UPDATE orders SET is_active = (SELECT false WHERE",
        ),
        (
            "EXPLAIN ANALYZE DELETE FROM orders WHERE id = 1",
            "EXPLAIN ANALYZE UPDATE orders SET is_active = (SELECT false",
        ),
        (
            "WITH x AS (SELECT 1 AS id) DELETE FROM orders USING x WHERE orders.id = x.id",
            "WITH x AS (SELECT 1 AS id) UPDATE orders SET is_active = (SELECT false",
        ),
        (
            "SELECT 1; DELETE FROM orders WHERE id = 1; SELECT 2",
            "SELECT 1; UPDATE orders SET",
        ),
        (
            "WITH d AS (DELETE FROM refunds WHERE id < 5 RETURNING *) SELECT count(*) FROM d",
            "WITH d AS (DELETE FROM refunds WHERE (id < 5) AND (SELECT softdel.proxy_check(E'refunds'",
        ),
        (
            "WITH a AS (DELETE FROM orders WHERE id = 1), b AS (DELETE FROM refunds WHERE id = 2) SELECT 1",
            "WITH a AS (UPDATE orders SET is_active = (SELECT false WHERE softdel.proxy_check(E'orders'",
        ),
    ];
    for (sql, start) in starts {
        let out = rewrite(sql).unwrap_or_else(|| panic!("{sql}"));
        assert!(out.starts_with(start), "{sql}\n{out}");
    }
    let out = rewrite("SELECT 1; DELETE FROM orders WHERE id = 1; SELECT 2").unwrap();
    assert!(
        out.ends_with("AND orders.is_active IS DISTINCT FROM false; SELECT 2"),
        "{out}"
    );
    // A DELETE with RETURNING inside the client's CTE exposes no column
    // of softdel's to `SELECT *`.
    let out =
        rewrite("WITH d AS (DELETE FROM orders WHERE id = 1 RETURNING *) SELECT * FROM d").unwrap();
    assert!(
        out.ends_with("AND orders.is_active IS DISTINCT FROM false RETURNING *) SELECT * FROM d"),
        "{out}"
    );
    // Block tables are left to the guard wherever the DELETE stands.
    let out = rewrite("WITH d AS (DELETE FROM audit_logs RETURNING *) SELECT * FROM d").unwrap();
    assert!(out.contains("'softdel_guard_delete'"), "{out}");
}
