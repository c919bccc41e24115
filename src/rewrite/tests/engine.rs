//! The engine's cache, and random statements that must never panic it.

use super::{RULES, engine_with};
use crate::rewrite::{Decision, Lexing, invariants};

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
    // The rules as they are, and with all but one table only observed.
    let observing = RULES
        .replace("defaults:\n", "defaults:\n  mode: observe\n")
        .replace("  refunds:\n", "  refunds:\n    mode: enforce\n");
    let engines = [engine_with(RULES), engine_with(&observing)];
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
        for (engine, standard) in engines.iter().flat_map(|e| [(e, true), (e, false)]) {
            let lexing = Lexing {
                standard_conforming_strings: standard,
            };
            invariants::check(engine, sql.as_bytes(), lexing);
            rewritten += usize::from(matches!(engine.decide(&sql, lexing), Decision::Rewrite(_)));
        }
    }
    // The invariants were checked on rewrites, not only on passes.
    assert!(rewritten > 1_000, "{rewritten} rewrites");
}

/// The rewritten text, or the text itself when it passes.
fn sent(decision: &Decision, sql: &str) -> String {
    match decision {
        Decision::Rewrite(r) => r.template.display(),
        Decision::Pass => sql.to_owned(),
    }
}

#[test]
fn texts_that_differ_in_their_literals_share_one_analysis_and_get_their_own_values() {
    use crate::rewrite::Lookup;
    let engine = engine_with(RULES);
    let first = "SELECT note FROM orders WHERE id = 17 AND note <> 'it''s' LIMIT 5";
    let (decision, lookup) = engine.decide_traced(first, Lexing::default());
    assert_eq!(lookup, Lookup::Miss);
    assert_eq!(
        sent(&decision, first),
        sent(&engine.analyze_uncached(first, Lexing::default()), first)
    );
    for sql in [
        "SELECT note FROM orders WHERE id = 123456 AND note <> '' LIMIT 1.5e3",
        "SELECT note FROM orders WHERE id = 4 AND note <> 'FROM orders WHERE x' LIMIT 0",
    ] {
        let (decision, lookup) = engine.decide_traced(sql, Lexing::default());
        assert_eq!(lookup, Lookup::Hit, "{sql}");
        let alone = engine.analyze_uncached(sql, Lexing::default());
        assert_eq!(sent(&decision, sql), sent(&alone, sql), "{sql}");
        assert!(sent(&decision, sql).contains("is_active"), "{sql}");
    }
    // A text that may destroy rows is decided on its own (a DELETE's
    // rewrite carries its text).
    for id in [1, 2] {
        let sql = format!("DELETE FROM orders WHERE id = {id} AND note = 'x'");
        let decision = engine.decide(&sql, Lexing::default());
        assert!(
            sent(&decision, &sql).contains(&format!("WHERE id = {id}")),
            "{sql}"
        );
    }
    // Escape strings and dollar quotes stay in the shape; with
    // standard_conforming_strings off a backslash escapes a quote.
    let old = Lexing {
        standard_conforming_strings: false,
    };
    for sql in [
        "SELECT 1 FROM orders WHERE note = E'a\\'b' AND id = 3",
        "SELECT 1 FROM orders WHERE note = $$a'b$$ AND id = 3",
    ] {
        for lexing in [Lexing::default(), old] {
            let decision = engine.decide(sql, lexing);
            assert_eq!(
                sent(&decision, sql),
                sent(&engine.analyze_uncached(sql, lexing), sql)
            );
        }
    }
    // Off, the string runs to the last quote: one literal, its shape
    // `note = ''`, hidden as such (the text alone does not parse).
    let sql = "SELECT 1 FROM orders WHERE note = 'a\\' AND id = 3 -- '";
    assert_eq!(
        sent(&engine.decide(sql, old), sql),
        "SELECT 1 FROM orders WHERE (note = 'a\\' AND id = 3 -- ') AND orders.is_active IS DISTINCT FROM false"
    );
}

#[test]
fn literals_are_found_as_postgresql_reads_them() {
    use crate::rewrite::scan::literals;
    let sql = "SELECT 1abc, 2.5e-3, x1, $1, 'a''b', E'c', \"d'\", 7 -- 8\n/* 9 */ .5";
    let found: Vec<&str> = literals(sql, Lexing::default())
        .into_iter()
        .map(|r| &sql[r])
        .collect();
    assert_eq!(found, ["1", "2.5e-3", "'a''b'", "7", ".5"]);
}

#[test]
fn texts_that_are_not_utf8_are_decided_on_their_ascii() {
    use crate::rewrite::{Lookup, View};
    let engine = engine_with(RULES);
    let showing = View {
        lexing: Lexing::default(),
        show_deleted: true,
    };
    for view in [View::from(Lexing::default()), showing] {
        let (decision, lookup) = engine.decide_bytes_traced(b"SELECT '\xff' FROM t", view);
        assert!(matches!(decision, Decision::Pass), "{view:?}");
        assert_eq!(lookup, Lookup::Skipped, "{view:?}");
        let delete = b"DELETE FROM orders WHERE note = '\xff'";
        let (decision, _) = engine.decide_bytes_traced(delete, view);
        assert!(matches!(decision, Decision::Rewrite(_)), "{view:?}");
    }
}
