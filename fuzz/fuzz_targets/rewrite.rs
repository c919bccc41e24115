//! Arbitrary SQL under arbitrary rules through the rewrite engine.
//!
//! Input: a 9-byte header that picks the rules, then the SQL (any bytes:
//! the proxy hands the engine whatever a client sent).
//!
//! - byte 0, the defaults: bits 0-1 on_delete (allow, allow, journal,
//!   block), bit 2 on_parse_error pass, bits 3-4 max_rows (none, 1, 100,
//!   1000);
//! - bytes 1-8, up to four tables, two bytes each: the name (its low five
//!   bits index `NAMES`; past its end, no table), then bits 0-1 the mode (soft,
//!   journal, block, allow), bit 2 timestamp rather than flag, bits 3-5 the
//!   marker column (index into `COLUMNS`, modulo its length), bits 6-7
//!   max_rows (the default's, none, 1, 100).
//!
//! Every decision is made under both settings of
//! standard_conforming_strings, and checked: the cache and the uncached
//! analysis agree, text without a destructive keyword passes, every
//! refusal is in the rewritten text and reads back from the error the
//! server would raise, every rewritten DELETE carries the image column,
//! the statement's literal in the guard's context ends where PostgreSQL will end it,
//! and a text sqlparser reads still reads once rewritten.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softdel::rewrite::{
    Action, Decision, Engine, Lexing, Refusal, SessionInfo, Shape, count_column, image_column,
    op_column, scan,
};
use softdel::rules::{Defaults, Marker, Mode, OnParseError, Rules, TableName, TableRule};

const HEADER: usize = 9;
const NONCE: &str = "0123456789abcdef";

/// Table names as a rules file writes them.
const NAMES: &[&str] = &[
    "orders",
    "billing.payments",
    "refunds",
    "audit_logs",
    "\"Mixed\"",
    "t",
    "public.t",
    "\"a b\"",
    "\"Ö\"",
    "users",
    "\"select\"",
    "s.\"x.y\"",
    "Straße",
    "\"İ\"",
    "softdel.operations",
    "\"q\"\"uote\"",
];

const COLUMNS: &[&str] = &[
    "is_active",
    "deleted_at",
    "\"Alive\"",
    "\"x\"\"y\"",
    "\"Ö\"",
];

fn rules(header: &[u8; HEADER]) -> Rules {
    let d = header[0];
    let defaults = Defaults {
        on_delete: [Mode::Allow, Mode::Allow, Mode::Journal, Mode::Block][usize::from(d & 3)],
        on_parse_error: if d & 4 != 0 {
            OnParseError::Pass
        } else {
            OnParseError::Refuse
        },
        max_rows: [None, Some(1), Some(100), Some(1000)][usize::from(d >> 3 & 3)],
        outside_proxy: softdel::rules::OutsideProxy::Journal,
    };
    let mut tables: Vec<TableRule> = Vec::new();
    for pair in header[1..].chunks_exact(2) {
        let Some(name) = NAMES.get(usize::from(pair[0] & 0x1f)) else {
            continue;
        };
        let table = TableName::parse(name).expect("a valid name");
        // A rules file lists a table once.
        if tables.iter().any(|t| t.table == table) {
            continue;
        }
        let b = pair[1];
        let mode = [Mode::Soft, Mode::Journal, Mode::Block, Mode::Allow][usize::from(b & 3)];
        let column =
            softdel::rules::parse_identifier(COLUMNS[usize::from(b >> 3 & 7) % COLUMNS.len()])
                .expect("a valid column");
        let marker = match (mode, b & 4) {
            (Mode::Soft, 0) => Some(Marker::Flag(column)),
            (Mode::Soft, _) => Some(Marker::Timestamp(column)),
            _ => None,
        };
        let max_rows = match b >> 6 {
            0 => defaults.max_rows,
            1 => None,
            2 => Some(1),
            _ => Some(100),
        };
        tables.push(TableRule {
            table,
            mode,
            marker,
            max_rows,
            outside_proxy: softdel::rules::OutsideProxy::Journal,
            position: None,
        });
    }
    Rules { defaults, tables }
}

fuzz_target!(|data: &[u8]| {
    let Some((header, sql)) = data.split_first_chunk::<HEADER>() else {
        return;
    };
    let engine = Engine::with_nonce(rules(header), NONCE.to_owned());
    for standard_conforming_strings in [true, false] {
        let lexing = Lexing {
            standard_conforming_strings,
        };
        check(&engine, sql, lexing);
    }
});

fn check(engine: &Engine, sql: &[u8], lexing: Lexing) {
    let decision = engine.decide_bytes(sql, lexing);
    let text = String::from_utf8_lossy(sql);
    if !scan(&text, lexing).any() {
        assert!(
            matches!(decision, Decision::Pass),
            "no destructive keyword, yet rewritten"
        );
    }
    // The cached decision is the one first made.
    assert_eq!(shown(&engine.decide_bytes(sql, lexing)), shown(&decision));
    if let Ok(text) = std::str::from_utf8(sql) {
        assert_eq!(shown(&engine.decide(text, lexing)), shown(&decision));
        if scan(text, lexing).any() {
            assert_eq!(
                shown(&engine.analyze_uncached(text, lexing)),
                shown(&decision)
            );
        }
    }
    let Decision::Rewrite(rewrite) = decision else {
        return;
    };
    assert!(!rewrite.actions.is_empty(), "a rewrite says what it did");
    let display = rewrite.template.display();
    let rendered = rewrite.template.render(&SessionInfo {
        connection_id: 7,
        client_addr: "10.0.0.1'\\".to_owned(),
    });
    assert!(!display.trim().is_empty() && !rendered.trim().is_empty());
    for action in &rewrite.actions {
        match action {
            Action::Refuse(refusal) => {
                let marker = refusal.marker(NONCE);
                assert!(rendered.contains(&marker), "refusal {marker} not raised");
                // What PostgreSQL reports for the failing cast.
                let error = format!("invalid input syntax for type integer: \"{marker}\"");
                assert_eq!(Refusal::from_error(&error, NONCE).as_ref(), Some(refusal));
                assert_eq!(Refusal::from_error(&error, "fedcba9876543210"), None);
            }
            // The guard journals them: the statement checks it is there and
            // passes the client's context.
            Action::SoftDelete { table, .. } => {
                assert!(!table.is_empty());
                assert!(rendered.contains("UPDATE"));
                assert!(rendered.contains("softdel.proxy_check("));
                assert!(rendered.contains("'softdel.context'"));
            }
            Action::JournalDelete { table, .. } | Action::BlockUnlessEmpty { table } => {
                assert!(!table.is_empty());
                assert!(rendered.contains("softdel.proxy_check("));
            }
            Action::LimitOnly { table, .. } => {
                assert!(!table.is_empty());
                assert!(
                    rendered.contains(&image_column(NONCE))
                        || rendered.contains("INSERT INTO softdel.row_limit")
                );
            }
        }
    }
    if rewrite
        .actions
        .iter()
        .any(|a| matches!(a, Action::SoftDelete { .. }))
    {
        assert!(rendered.contains(CONTEXT_LITERAL), "no context in {rendered}");
    }
    journal_literals_close(&rendered);
    // Edits are whole tokens at token boundaries: text the parser reads,
    // it reads rewritten too.
    if let Ok(text) = std::str::from_utf8(sql)
        && parses(text)
    {
        assert!(
            parses(&rendered),
            "the rewritten text does not parse:\n{text}\n=>\n{rendered}"
        );
    }
    for shape in rewrite.shapes.iter().flatten() {
        match shape {
            Shape::Count => assert!(rendered.contains(&count_column(NONCE))),
            Shape::Returning => assert!(rendered.contains(&op_column(NONCE))),
            Shape::Update(_) => assert!(rendered.contains("UPDATE")),
            Shape::Journal(_) => assert!(rendered.contains("softdel.proxy_check(")),
        }
    }
}

fn parses(sql: &str) -> bool {
    sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, sql).is_ok()
}

/// What comes just before the statement's literal in the client's context.
const CONTEXT_LITERAL: &str = "pg_catalog.statement_timestamp())::text || E'\\t' || $softdel";

/// The client's context carries its statement as a dollar-quoted literal
/// at its end. PostgreSQL ends such a literal at the first occurrence of
/// its tag: what follows must be what the rewrite wrote there, not the
/// rest of the client's text.
fn journal_literals_close(rendered: &str) {
    const BEFORE: &str = CONTEXT_LITERAL;
    for (at, _) in rendered.match_indices(BEFORE) {
        let literal = &rendered[at + BEFORE.len() - "$softdel".len()..];
        let tag_len = literal[1..].find('$').expect("a tag") + 2;
        let (tag, body) = literal.split_at(tag_len);
        let close = body.find(tag).expect("a closed literal");
        let after = &body[close + tag_len..];
        assert!(
            after.starts_with(", true)"),
            "the statement in the context ends early: {tag}{}{tag} then {after:?}",
            &body[..close]
        );
    }
}

/// A decision as text, to compare two.
fn shown(decision: &Decision) -> Option<String> {
    match decision {
        Decision::Pass => None,
        Decision::Rewrite(r) => Some(format!(
            "{}\n{:?}\n{:?}",
            r.template.display(),
            r.shapes,
            r.actions
        )),
    }
}
