//! What is refused (and how the refusal reads back), and what passes untouched.

use super::{RULES, engine_with, raised, refusal, rewrite, rewrite_with};
use crate::rewrite::{Lexing, Reason};

#[test]
fn what_cannot_destroy_protected_rows_passes_untouched() {
    for sql in [
        "SELECT * FROM customers",
        "SELECT 'DELETE FROM orders'",
        "-- DELETE FROM orders\nSELECT 1",
        "SELECT \"delete\" FROM t",
        "UPDATE refunds SET note = 'deleted'",
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
