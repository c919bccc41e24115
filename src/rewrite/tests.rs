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

/// The rewritten DML of a top-level DELETE: what stands inside
/// `WITH softdel_rows AS (…)`.
fn dml(sql: &str) -> String {
    let out = rewrite(sql).unwrap_or_else(|| panic!("{sql}: not rewritten"));
    let start = out
        .find("softdel_rows AS (")
        .unwrap_or_else(|| panic!("{out}"))
        + 17;
    let end = [
        out.find("), softdel_op AS ("),
        out.find(") SELECT pg_catalog.count(*)"),
        out.find(") SELECT softdel_rows.*"),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or_else(|| panic!("{out}"));
    out[start..end].to_owned()
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
    let image = format!("RETURNING pg_catalog.to_jsonb(orders.*) AS {IMAGE}");
    let cases: Vec<(&str, String)> = vec![
        (
            "DELETE FROM orders WHERE id = $1",
            format!("UPDATE orders SET is_active = false WHERE (id = $1) AND {live} {image}"),
        ),
        (
            "DELETE FROM ONLY orders WHERE id = 1",
            format!("UPDATE ONLY orders SET is_active = false WHERE (id = 1) AND {live} {image}"),
        ),
        (
            "DELETE FROM orders * WHERE id = 1",
            format!("UPDATE orders * SET is_active = false WHERE (id = 1) AND {live} {image}"),
        ),
        (
            "DELETE FROM orders",
            format!("UPDATE orders SET is_active = false WHERE {live} {image}"),
        ),
        (
            "DELETE FROM orders AS o",
            format!(
                "UPDATE orders AS o SET is_active = false WHERE o.is_active IS DISTINCT FROM false RETURNING pg_catalog.to_jsonb(o.*) AS {IMAGE}"
            ),
        ),
        (
            "DELETE FROM orders o USING customers c, regions r WHERE o.cid = c.id AND c.rid = r.id RETURNING o.id, r.*",
            format!(
                "UPDATE orders o SET is_active = false FROM customers c, regions r WHERE (o.cid = c.id AND c.rid = r.id) AND o.is_active IS DISTINCT FROM false RETURNING o.id, r.*, pg_catalog.to_jsonb(o.*) AS {IMAGE}"
            ),
        ),
        (
            "delete from public.ORDERS where id=1 or (id in (select x from y where z))",
            format!(
                "UPDATE public.ORDERS SET is_active = false where (id=1 or (id in (select x from y where z))) AND ORDERS.is_active IS DISTINCT FROM false RETURNING pg_catalog.to_jsonb(ORDERS.*) AS {IMAGE}"
            ),
        ),
        (
            "DELETE /* a */ FROM orders WHERE /* b */ id = 1 -- c\n AND true",
            format!(
                "UPDATE orders SET is_active = false WHERE /* b */ (id = 1 -- c\n AND true) AND {live} {image}"
            ),
        ),
        (
            "DELETE FROM orders WHERE id = $1 RETURNING *",
            format!(
                "UPDATE orders SET is_active = false WHERE (id = $1) AND {live} RETURNING *, pg_catalog.to_jsonb(orders.*) AS {IMAGE}"
            ),
        ),
        (
            "DELETE FROM billing.payments WHERE id = 1",
            format!(
                "UPDATE billing.payments SET deleted_at = pg_catalog.now() WHERE (id = 1) AND payments.deleted_at IS NULL RETURNING pg_catalog.to_jsonb(payments.*) AS {IMAGE}"
            ),
        ),
        (
            "DELETE FROM \"Mixed\" m WHERE m.id = 1",
            format!(
                "UPDATE \"Mixed\" m SET alive = false WHERE (m.id = 1) AND m.alive IS DISTINCT FROM false RETURNING pg_catalog.to_jsonb(m.*) AS {IMAGE}"
            ),
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(dml(sql), expected, "{sql}");
    }
}

#[test]
fn edits_keep_words_apart_where_the_client_wrote_no_space() {
    // Found by fuzzing: PostgreSQL reads `)RETURNING` and `"orders"WHERE`
    // as two tokens each, and the rewrite ran its own last word into the
    // client's next one (`... IS DISTINCT FROM falseRETURNING`).
    let live = "orders.is_active IS DISTINCT FROM false";
    let image = format!("pg_catalog.to_jsonb(orders.*) AS {IMAGE}");
    let cases = [
        (
            "DELETE FROM orders WHERE id IN (SELECT 1)RETURNING id",
            format!(
                "UPDATE orders SET is_active = false WHERE (id IN (SELECT 1)) AND {live} RETURNING id, {image}"
            ),
        ),
        (
            "DELETE FROM \"orders\"WHERE id = 1",
            format!(
                "UPDATE \"orders\" SET is_active = false WHERE (id = 1) AND \"orders\".is_active IS DISTINCT FROM false RETURNING pg_catalog.to_jsonb(\"orders\".*) AS {IMAGE}"
            ),
        ),
        (
            "DELETE FROM orders USING \"c\"RETURNING *",
            format!(
                "UPDATE orders SET is_active = false FROM \"c\" WHERE {live} RETURNING *, {image}"
            ),
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(dml(sql), expected, "{sql}");
    }
}

#[test]
fn journal_and_limited_deletes_stay_deletes() {
    let cases = [
        (
            "DELETE FROM refunds WHERE id = 1",
            format!(
                "DELETE FROM refunds WHERE id = 1 RETURNING pg_catalog.to_jsonb(refunds.*) AS {IMAGE}"
            ),
        ),
        // billing.payments is protected in schema billing only.
        (
            "DELETE FROM other.payments WHERE id = 1",
            format!(
                "DELETE FROM other.payments WHERE id = 1 RETURNING NULL::pg_catalog.jsonb AS {IMAGE}"
            ),
        ),
        (
            "DELETE FROM t RETURNING a",
            format!("DELETE FROM t RETURNING a, NULL::pg_catalog.jsonb AS {IMAGE}"),
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(dml(sql), expected, "{sql}");
    }
}

#[test]
fn block_tables_delete_only_to_count_and_refuse_any_row() {
    let sql = "DELETE FROM public.AUDIT_LOGS a WHERE a.id = $1";
    assert_eq!(
        dml(sql),
        format!(
            "DELETE FROM public.AUDIT_LOGS a WHERE a.id = $1 RETURNING NULL::pg_catalog.jsonb AS {IMAGE}"
        )
    );
    let out = rewrite(sql).unwrap();
    assert!(out.contains("HAVING (CASE WHEN pg_catalog.count(*) > 0 THEN (E'softdel:n:block:' || pg_catalog.count(*) || E'::"), "{out}");
    assert!(
        !out.contains("softdel.operations"),
        "nothing to journal: {out}"
    );
}

#[test]
fn a_whole_rewrite_exactly() {
    let sql = "DELETE FROM t WHERE x < 5 -- tidy up";
    let limit = "(CASE WHEN pg_catalog.count(*) > 1000 THEN (E'softdel:n:limit:' || pg_catalog.count(*) || E':1000:74:44454c4554452046524f4d20742057484552452078203c2035202d2d2074696479207570')::pg_catalog.int4 END)";
    let expected = format!(
        "WITH softdel_rows AS (DELETE FROM t WHERE x < 5 RETURNING NULL::pg_catalog.jsonb AS {IMAGE}) \
         SELECT pg_catalog.count(*)::pg_catalog.text AS softdel_count_n FROM softdel_rows HAVING {limit} IS NULL -- tidy up"
    );
    assert_eq!(rewrite(sql).unwrap(), expected);

    let sql = "DELETE FROM orders WHERE id = 7 RETURNING id";
    let expected = format!(
        "WITH softdel_rows AS (UPDATE orders SET is_active = false WHERE (id = 7) AND orders.is_active IS DISTINCT FROM false RETURNING id, pg_catalog.to_jsonb(orders.*) AS {IMAGE}), \
         softdel_op AS (INSERT INTO softdel.operations (connection_id, client_addr, table_schema, table_name, action, row_count, sql, marker_kind, marker_column) \
         SELECT :connection_id, :client_addr, softdel_t.names[1], softdel_t.names[2], 'soft_delete', softdel_n.n, $softdel$DELETE FROM orders WHERE id = 7 RETURNING id$softdel$, 'flag', E'is_active' \
         FROM (SELECT pg_catalog.count(*) AS n FROM softdel_rows) softdel_n, \
         (SELECT (pg_catalog.pg_identify_object_as_address('pg_catalog.pg_class'::pg_catalog.regclass, \
         E'orders'::pg_catalog.regclass, 0)).object_names AS names) softdel_t \
         WHERE softdel_n.n > 0 AND (CASE WHEN softdel_n.n > 100 THEN (E'softdel:n:limit:' || softdel_n.n || E':100:6f7264657273:44454c4554452046524f4d206f7264657273205748455245206964203d20372052455455524e494e47206964')::pg_catalog.int4 END) IS NULL RETURNING id), \
         softdel_images AS (INSERT INTO softdel.rows (op_id, image) SELECT softdel_o.id, softdel_r.{IMAGE} FROM softdel_op softdel_o, softdel_rows softdel_r) \
         SELECT softdel_rows.*, (SELECT softdel_o.id::pg_catalog.text || E' soft_delete orders' FROM softdel_op softdel_o) AS softdel_op_n FROM softdel_rows"
    );
    assert_eq!(rewrite(sql).unwrap(), expected);
}

#[test]
fn deletes_are_found_wherever_they_stand() {
    let starts = [
        (
            "PREPARE p (int) AS DELETE FROM orders WHERE id = $1",
            "PREPARE p (int) AS WITH softdel_rows AS (UPDATE orders SET",
        ),
        (
            "EXPLAIN ANALYZE DELETE FROM orders WHERE id = 1",
            "EXPLAIN ANALYZE WITH softdel_rows AS (UPDATE orders SET",
        ),
        (
            "WITH x AS (SELECT 1 AS id) DELETE FROM orders USING x WHERE orders.id = x.id",
            "WITH x AS (SELECT 1 AS id) , softdel_rows AS (UPDATE orders SET is_active = false FROM x WHERE (orders.id = x.id)",
        ),
        (
            "SELECT 1; DELETE FROM orders WHERE id = 1; SELECT 2",
            "SELECT 1; WITH softdel_rows AS (UPDATE orders SET",
        ),
        (
            "WITH d AS (DELETE FROM refunds WHERE id < 5 RETURNING *) SELECT count(*) FROM d",
            "WITH d AS (DELETE FROM refunds WHERE id < 5 RETURNING *, pg_catalog.to_jsonb(refunds.*) AS softdel_image_n), softdel_op_1 AS (INSERT INTO softdel.operations",
        ),
        (
            "WITH a AS (DELETE FROM orders WHERE id = 1), b AS (DELETE FROM refunds WHERE id = 2) SELECT 1",
            "WITH a AS (UPDATE orders SET is_active = false WHERE (id = 1) AND orders.is_active IS DISTINCT FROM false RETURNING pg_catalog.to_jsonb(orders.*) AS softdel_image_n), softdel_op_1 AS (",
        ),
    ];
    for (sql, start) in starts {
        let out = rewrite(sql).unwrap_or_else(|| panic!("{sql}"));
        assert!(out.starts_with(start), "{sql}\n{out}");
    }
    let out = rewrite("SELECT 1; DELETE FROM orders WHERE id = 1; SELECT 2").unwrap();
    assert!(out.ends_with("FROM softdel_rows; SELECT 2"), "{out}");
    let out = rewrite("WITH a AS (DELETE FROM orders WHERE id = 1), b AS (DELETE FROM refunds WHERE id = 2) SELECT 1").unwrap();
    assert!(
        out.contains("softdel_op_2 AS (")
            && out.contains("FROM softdel_op_2 softdel_o, b softdel_r)"),
        "{out}"
    );
    assert!(out.ends_with(") SELECT 1"), "{out}");
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
            "WITH d AS (DELETE FROM audit_logs RETURNING *) SELECT * FROM d",
            Reason::Blocked { rows: None },
            "audit_logs",
        ),
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
            if let Decision::Rewrite(r) = engine.decide(&sql, lexing) {
                let _ = r.template.display();
            }
        }
    }
}
