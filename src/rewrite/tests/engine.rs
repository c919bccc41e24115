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
            invariants::check(&engine, sql.as_bytes(), lexing);
            rewritten += usize::from(matches!(engine.decide(&sql, lexing), Decision::Rewrite(_)));
        }
    }
    // The invariants were checked on rewrites, not only on passes.
    assert!(rewritten > 1_000, "{rewritten} rewrites");
}
