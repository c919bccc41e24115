//! The rewriter's exact outputs, input by input.

use super::{Decision, Engine, Lexing, Reason, Refusal};
use crate::rules::Rules;

const RULES: &str = "
defaults:
  max_rows: 1000
  on_delete: allow
  on_parse_error: refuse
tables:
  orders:
    on_delete: soft
    flag: is_active
    max_rows: 100
  billing.payments:
    on_delete: soft
    timestamp: deleted_at
  refunds:
    on_delete: journal
  audit_logs:
    on_delete: block
  '\"Mixed\"':
    on_delete: soft
    flag: alive
  scratch:
    on_delete: allow
    max_rows: 0
";

fn engine_with(rules: &str) -> Engine {
    let rules = Rules::parse(rules, std::path::Path::new("test.yaml")).unwrap();
    Engine::with_nonce(rules, "n".to_owned())
}

fn rewrite_with(engine: &Engine, sql: &str, lexing: Lexing) -> Option<String> {
    match engine.decide(sql, lexing) {
        Decision::Pass => None,
        Decision::Rewrite(r) => Some(r.template.display()),
    }
}

fn rewrite(sql: &str) -> Option<String> {
    rewrite_with(&engine_with(RULES), sql, Lexing::default())
}

const IMAGE: &str = "softdel_image_n";

/// The client's context, as a rewrite sets it for the guard.
fn context(statement: &str) -> String {
    format!(
        "pg_catalog.set_config('softdel.context', E'softdel1\\t' || ':connection_id' || E'\\t' || :client_addr || E'\\t' || pg_catalog.txid_current()::text || E'\\t' || pg_catalog.date_part('epoch', pg_catalog.statement_timestamp())::text || E'\\t' || $softdel${statement}$softdel$, true)"
    )
}

/// The SET clause of a soft delete's UPDATE.
fn set(column: &str, value: &str, table: &str, statement: &str) -> String {
    format!(
        "SET {column} = (SELECT {value} WHERE softdel.proxy_check(E'{table}'::pg_catalog.regclass, 'softdel_guard_update') AND {} IS NOT NULL)",
        context(statement)
    )
}

/// The condition a DELETE on a journal or block table gets.
fn guarded(table: &str, statement: &str) -> String {
    format!(
        "(SELECT softdel.proxy_check(E'{table}'::pg_catalog.regclass, 'softdel_guard_delete') AND {} IS NOT NULL)",
        context(statement)
    )
}

/// The refusal a rewritten text raises, read back from the error the
/// server would report.
fn refusal(sql: &str) -> Refusal {
    let out = rewrite(sql).unwrap_or_else(|| panic!("{sql}: not refused"));
    raised(&out).unwrap_or_else(|| panic!("{sql}: {out}"))
}

/// The server's error for a refusal statement: the literal, quoted.
fn raised(statement: &str) -> Option<Refusal> {
    let literal = statement.split("E'").nth(1)?.split('\'').next()?;
    Refusal::from_error(
        &format!("invalid input syntax for type integer: \"{literal}\""),
        "n",
    )
}

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
        vec![None, Some(super::Shape::Update("orders".into())), None]
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
        vec![("del".to_owned(), super::Shape::Update("\"Mixed\"".into()))]
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

#[test]
fn what_cannot_destroy_protected_rows_passes_untouched() {
    for sql in [
        "SELECT * FROM orders",
        "SELECT 'DELETE FROM orders'",
        "-- DELETE FROM orders\nSELECT 1",
        "SELECT \"delete\" FROM t",
        "UPDATE orders SET note = 'deleted'",
        "DELETE FROM scratch WHERE id = 1",
        "TRUNCATE scratch",
        "DROP TABLE scratch",
        "DROP INDEX orders_idx",
        "CREATE FUNCTION f() RETURNS void AS $$ DELETE FROM orders $$ LANGUAGE sql",
        "DO $$ BEGIN DELETE FROM scratch; END $$",
    ] {
        assert_eq!(rewrite(sql), None, "{sql}");
    }
}

#[test]
fn refusals_name_the_table_and_reason() {
    let cases = [
        (
            "DELETE FROM softdel.rows",
            Reason::Blocked { rows: None },
            "softdel.rows",
        ),
        ("TRUNCATE orders", Reason::Truncate, "orders"),
        (
            "TRUNCATE TABLE ONLY scratch, billing.payments CASCADE",
            Reason::Truncate,
            "billing.payments",
        ),
        (
            "DROP TABLE IF EXISTS refunds CASCADE",
            Reason::Drop,
            "refunds",
        ),
        (
            "DROP SCHEMA billing CASCADE",
            Reason::Drop,
            "billing (schema)",
        ),
        (
            "DO $$BEGIN DELETE FROM orders; END$$",
            Reason::Unanalysable,
            "orders",
        ),
        (
            "DELETE FROM orders WHERE CURRENT OF c",
            Reason::Unanalysable,
            "orders",
        ),
        (
            "DELETE FROM U&\"\\0061udit_logs\"",
            Reason::Unanalysable,
            "(unknown)",
        ),
        (
            "MERGE INTO orders o USING x ON o.id = x.id WHEN MATCHED THEN DELETE",
            Reason::Unanalysable,
            "orders",
        ),
        (
            "COPY (DELETE FROM orders RETURNING *) TO STDOUT",
            Reason::Unanalysable,
            "orders",
        ),
    ];
    for (sql, reason, table) in cases {
        let r = refusal(sql);
        assert_eq!((&r.reason, r.table.as_str()), (&reason, table), "{sql}");
        assert_eq!(r.sql, sql);
    }
}

#[test]
fn only_the_refused_statement_is_replaced() {
    let out = rewrite("SELECT 1; TRUNCATE orders; SELECT 2").unwrap();
    assert!(
        out.starts_with("SELECT 1; SELECT E'softdel:n:truncate:::"),
        "{out}"
    );
    assert!(out.ends_with("'::pg_catalog.int4; SELECT 2"), "{out}");
}

#[test]
fn on_parse_error_pass_lets_unanalysable_statements_through() {
    let engine = engine_with(&RULES.replace("on_parse_error: refuse", "on_parse_error: pass"));
    let sql = "DO $$BEGIN DELETE FROM orders; END$$";
    assert_eq!(rewrite_with(&engine, sql, Lexing::default()), None);
}

#[test]
fn backslash_escapes_are_not_guessed_at() {
    // With standard_conforming_strings off, '\'' is one quote inside the
    // string, and the DELETE is real: the parser would read it otherwise.
    let sql = r"SELECT 'a\''; DELETE FROM orders; SELECT '";
    let off = Lexing {
        standard_conforming_strings: false,
    };
    let out = rewrite_with(&engine_with(RULES), sql, off).unwrap();
    assert_eq!(raised(&out).unwrap().reason, Reason::Unanalysable);
}

#[test]
fn decisions_are_cached_per_text() {
    let engine = engine_with(RULES);
    let sql = "DELETE FROM orders WHERE id = 1";
    let (Decision::Rewrite(a), Decision::Rewrite(b)) = (
        engine.decide(sql, Lexing::default()),
        engine.decide(sql, Lexing::default()),
    ) else {
        panic!("rewritten");
    };
    assert!(std::sync::Arc::ptr_eq(&a, &b));
}

#[test]
fn arbitrary_statements_never_panic_the_engine() {
    // Statements put together from the words and punctuation the analysis
    // looks at, in random order: every one parses, falls back or passes.
    const WORDS: &[&str] = &[
        "DELETE",
        "FROM",
        "ONLY",
        "orders",
        "audit_logs",
        "refunds",
        "\"Mixed\"",
        "billing",
        ".",
        "*",
        "AS",
        "o",
        "USING",
        "WHERE",
        "RETURNING",
        "WITH",
        "d",
        "(",
        ")",
        ";",
        ",",
        "id",
        "=",
        "$1",
        "'x'",
        "E'\\''",
        "$$",
        "$q$",
        "--c\n",
        "/*",
        "*/",
        "TRUNCATE",
        "DROP",
        "TABLE",
        "SCHEMA",
        "CURRENT",
        "OF",
        "PREPARE",
        "EXPLAIN",
        "SELECT",
        "MERGE",
        "INTO",
        "U&\"a\"",
        "é",
        "\u{0}",
    ];
    let engine = engine_with(RULES);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut rewritten = 0;
    for _ in 0..20_000 {
        let len = 1 + next() % 14;
        let sql: Vec<&str> = (0..len)
            .map(|_| WORDS[(next() % WORDS.len() as u64) as usize])
            .collect();
        let sql = sql.join(" ");
        for standard in [true, false] {
            let lexing = Lexing {
                standard_conforming_strings: standard,
            };
            super::invariants::check(&engine, sql.as_bytes(), lexing);
            rewritten += usize::from(matches!(engine.decide(&sql, lexing), Decision::Rewrite(_)));
        }
    }
    // The invariants were checked on rewrites, not only on passes.
    assert!(rewritten > 1_000, "{rewritten} rewrites");
}
