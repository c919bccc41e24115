//! The invariants every decision of the engine keeps, whatever the text
//! and the rules: checked by the fuzz target on arbitrary input and by the
//! unit tests on random statements.

use super::{
    Action, Decision, Engine, Lexing, Refusal, SessionInfo, Shape, View, count_column,
    image_column, op_column, scan,
};

/// Checks every invariant of the engine's decision on `sql` (panics on a
/// broken one, with what broke).
pub fn check(engine: &Engine, sql: &[u8], lexing: Lexing) {
    let nonce = engine.nonce();
    // Any other nonce: a refusal must not read back under it.
    let other_nonce: String = nonce.chars().rev().chain("x".chars()).collect();
    let decision = engine.decide_bytes(sql, lexing);
    let text = String::from_utf8_lossy(sql);
    if !engine.suspect(&text, lexing) {
        assert!(
            matches!(decision, Decision::Pass),
            "no destructive keyword nor hidden table, yet rewritten"
        );
    }
    if !scan(&text, lexing).any() {
        assert!(!refuses(&decision), "no destructive keyword, yet refused");
    }
    // A session that shows deleted rows gets nothing hidden.
    let showing = View {
        lexing,
        show_deleted: true,
    };
    if let Decision::Rewrite(r) = engine.decide_bytes(sql, showing) {
        assert!(
            !r.actions.iter().any(|a| matches!(a, Action::Hide { .. })),
            "hidden under show_deleted"
        );
    }
    // The cached decision is the one first made.
    assert_eq!(shown(&engine.decide_bytes(sql, lexing)), shown(&decision));
    if let Ok(text) = std::str::from_utf8(sql) {
        assert_eq!(shown(&engine.decide(text, lexing)), shown(&decision));
        if engine.suspect(text, lexing) {
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
                let marker = refusal.marker(nonce);
                assert!(rendered.contains(&marker), "refusal {marker} not raised");
                // What PostgreSQL reports for the failing cast.
                let error = format!("invalid input syntax for type integer: \"{marker}\"");
                assert_eq!(Refusal::from_error(&error, nonce).as_ref(), Some(refusal));
                assert_eq!(Refusal::from_error(&error, &other_nonce), None);
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
            Action::Hide { table } => {
                assert!(!table.is_empty());
                assert!(
                    rendered.contains(" IS NULL") || rendered.contains(" IS DISTINCT FROM false")
                );
            }
            Action::LimitOnly { table, .. } => {
                assert!(!table.is_empty());
                assert!(
                    rendered.contains(&image_column(nonce))
                        || rendered.contains("INSERT INTO softdel.row_limit")
                );
            }
            Action::Would(_) => {}
        }
    }
    // Observed rules change nothing of what the client sent (the proxy
    // sends the client's own bytes then).
    if rewrite.actions.iter().all(Action::observes) {
        assert_eq!(
            rendered,
            String::from_utf8_lossy(sql),
            "an observed text was changed"
        );
    }
    if rewrite
        .actions
        .iter()
        .any(|a| matches!(a, Action::SoftDelete { .. }))
    {
        assert!(
            rendered.contains(CONTEXT_LITERAL),
            "no context in {rendered}"
        );
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
            Shape::Count => assert!(rendered.contains(&count_column(nonce))),
            Shape::Returning => assert!(rendered.contains(&op_column(nonce))),
            Shape::Update(_) => assert!(rendered.contains("UPDATE")),
            Shape::Journal(_) => assert!(rendered.contains("softdel.proxy_check(")),
            Shape::Observed(observed) => assert!(!observed.table.is_empty()),
        }
    }
}

fn refuses(decision: &Decision) -> bool {
    matches!(decision, Decision::Rewrite(r) if r.actions.iter().any(|a| matches!(a, Action::Refuse(_))))
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
