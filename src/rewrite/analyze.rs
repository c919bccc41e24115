//! Analysis: which statements in a text destroy rows of which tables, and
//! what each becomes.
//!
//! sqlparser (PostgreSqlDialect) finds the statements: DELETEs at any depth
//! (top level, in CTEs, after PREPARE or EXPLAIN), TRUNCATE, DROP, MERGE.
//! Each statement is analysed on its own (`statement`); the client's text
//! is then edited by byte offsets, never re-printed.
//! Known gaps of the parser are closed before it runs: `DELETE FROM ONLY t`
//! (read as a table named "only") and `DELETE FROM t *` (rejected) have
//! those tokens blanked in the parser's copy, so the parser sees
//! `DELETE FROM t` while the edits keep the client's `ONLY` and `*`.

use sqlparser::ast::{SetExpr, Statement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, TokenWithSpan};
use std::ops::Range;

use super::delete::Edit;
use super::lex::{self, Tok, next_significant};
use super::refusal::Refusal;
use super::site::fold_ident;
use super::statement::{Statement1, Text};
use super::template::Template;
use super::words::{ends_in_word, starts_with_word};
use super::{Action, Decision, Lexing, Rewrite, Shape, fallback};
use crate::rules::Rules;

/// Analyses a text that the fast path found suspect.
pub fn analyze(sql: &str, lexing: Lexing, rules: &Rules, nonce: &str, hide: bool) -> Decision {
    let Some(Parsed {
        toks,
        spanned,
        statements,
    }) = parse(sql, lexing)
    else {
        return unparsed(sql, lexing, rules, nonce);
    };
    let text = Text {
        sql,
        toks: &toks,
        spanned: &spanned,
    };
    let mut outcome = Outcome::default();
    for (statement, range) in statements {
        let mut analysis = Statement1::new(&text, range, rules, nonce, hide);
        let result = analysis.run(&statement);
        outcome.add(&statement, analysis, result);
    }
    // Under observed rules the text goes as it is, but the proxy still
    // needs to know what would have been done to it.
    if outcome.edits.is_empty() && !outcome.actions.iter().any(Action::observes) {
        return Decision::Pass;
    }
    let Some(template) = apply(sql, outcome.edits) else {
        return unparsed(sql, lexing, rules, nonce);
    };
    Decision::Rewrite(std::sync::Arc::new(Rewrite {
        template,
        shapes: outcome.shapes,
        prepared: outcome.prepared,
        actions: outcome.actions,
    }))
}

/// A text the engine cannot rewrite: the fallback decides when it may
/// destroy rows; one that only reads a hidden table goes as it is (its
/// deleted rows are not hidden).
fn unparsed(sql: &str, lexing: Lexing, rules: &Rules, nonce: &str) -> Decision {
    if super::scan(sql, lexing).any() {
        fallback::decide(sql, rules, nonce)
    } else {
        Decision::Pass
    }
}

/// A text as sqlparser reads it: its tokens, and its statements with the
/// tokens each spans.
struct Parsed {
    toks: Vec<Tok>,
    spanned: Vec<TokenWithSpan>,
    statements: Vec<(Statement, Range<usize>)>,
}

/// `None` where sqlparser cannot be trusted to read the text as the
/// server will: the fallback decides then.
fn parse(sql: &str, lexing: Lexing) -> Option<Parsed> {
    // Without standard_conforming_strings a backslash escapes a quote in
    // any string; sqlparser would read such a text differently from the
    // server.
    if !lexing.standard_conforming_strings && sql.contains('\\') {
        return None;
    }
    let (toks, mut spanned) = lex::tokenize(sql)?;
    blank_parser_gaps(&toks, &mut spanned);
    let parsed = Parser::new(&PostgreSqlDialect {})
        .with_tokens_with_locations(spanned.clone())
        .parse_statements()
        .ok()?;
    let ranges = lex::statements(&toks);
    if ranges.len() != parsed.len() {
        return None;
    }
    Some(Parsed {
        toks,
        spanned,
        statements: parsed.into_iter().zip(ranges).collect(),
    })
}

/// What the statements of a text add up to, before the edits are made.
#[derive(Default)]
struct Outcome {
    edits: Vec<Edit>,
    actions: Vec<Action>,
    shapes: Vec<Option<Shape>>,
    prepared: Vec<(String, Shape)>,
}

impl Outcome {
    /// Adds one statement's analysis: its edits, or its refusal in its place.
    fn add(&mut self, statement: &Statement, analysis: Statement1, result: Result<(), Refusal>) {
        match result {
            Ok(()) => self.add_rewrite(statement, analysis),
            Err(refusal) => self.add_refusal(&analysis, refusal),
        }
    }

    fn add_rewrite(&mut self, statement: &Statement, mut analysis: Statement1) {
        self.edits.append(&mut analysis.edits);
        self.actions.append(&mut analysis.actions);
        match (statement, analysis.shape) {
            // What EXECUTE of it returns, later.
            (Statement::Prepare { name, .. }, Some(shape)) => {
                let name = fold_ident(&name.value, name.quote_style);
                self.prepared.push((name, shape));
                self.shapes.push(None);
            }
            (statement, shape) => self
                .shapes
                .push(shape.filter(|_| returns_delete(statement))),
        }
    }

    fn add_refusal(&mut self, analysis: &Statement1, refusal: Refusal) {
        let (start, end) = analysis.bounds();
        self.edits.push(Edit {
            start,
            end,
            text: refusal.statement(analysis.nonce).as_str().into(),
        });
        self.actions.push(Action::Refuse(refusal));
        self.shapes.push(None);
    }
}

/// Whether a statement's own result is its DELETE's (not a PREPARE's or
/// an EXPLAIN's, nor a SELECT's over a DELETE in a CTE).
fn returns_delete(statement: &Statement) -> bool {
    match statement {
        Statement::Delete(_) => true,
        Statement::Query(q) => matches!(q.body.as_ref(), SetExpr::Delete(_)),
        _ => false,
    }
}

/// The parser's gaps: `ONLY` and a trailing `*` after `DELETE FROM` are
/// blanked in the parser's copy of the tokens, and so is `ONLY` before any
/// other table name (`FROM ONLY t`, `JOIN ONLY t`, `UPDATE ONLY t`), which
/// the parser reads as a table named "only".
fn blank_parser_gaps(toks: &[Tok], spanned: &mut [TokenWithSpan]) {
    let before_table = [
        Keyword::FROM,
        Keyword::JOIN,
        Keyword::UPDATE,
        Keyword::USING,
    ];
    let mut previous: Option<usize> = None;
    for i in 0..toks.len() {
        if toks[i].is_trivia() {
            continue;
        }
        let after_table_keyword = previous.is_some_and(|p| {
            before_table.iter().any(|&k| toks[p].is_keyword(k)) || toks[p].token == Token::Comma
        });
        let names_next =
            next_significant(toks, i).is_some_and(|n| matches!(toks[n].token, Token::Word(_)));
        if toks[i].is_keyword(Keyword::ONLY) && after_table_keyword && names_next {
            lex::blank(spanned, i);
        }
        previous = Some(i);
    }
    for i in 0..toks.len() {
        if !toks[i].is_keyword(Keyword::DELETE) {
            continue;
        }
        let Some(from) = next_significant(toks, i).filter(|&f| toks[f].is_keyword(Keyword::FROM))
        else {
            continue;
        };
        let Some(mut k) = next_significant(toks, from) else {
            continue;
        };
        if toks[k].is_keyword(Keyword::ONLY) {
            lex::blank(spanned, k);
            let Some(next) = next_significant(toks, k) else {
                continue;
            };
            k = next;
        }
        // Past the name's parts to what follows them.
        while let Some(dot) = next_significant(toks, k).filter(|&d| toks[d].token == Token::Period)
        {
            let Some(part) = next_significant(toks, dot) else {
                break;
            };
            k = part;
        }
        if let Some(star) = next_significant(toks, k).filter(|&s| toks[s].token == Token::Mul) {
            lex::blank(spanned, star);
        }
    }
}

/// The client's text with the edits made.
fn apply(sql: &str, mut edits: Vec<Edit>) -> Option<Template> {
    // Stable: edits at one offset stay in the order they were made.
    edits.sort_by_key(|e| e.start);
    let mut out = Template::default();
    let mut at = 0;
    for edit in edits {
        if edit.start < at || edit.end < edit.start {
            return None;
        }
        out.push(&sql[at..edit.start]);
        // PostgreSQL needs no space between `)` and a word, so neither does
        // the client (`... IN (SELECT 1)RETURNING *`); an edit that ends in a
        // word there must not run into the next one (`IS NULLRETURNING`).
        if ends_in_word(out.text()) && starts_with_word(edit.text.text()) {
            out.push(" ");
        }
        out.append(&edit.text);
        if ends_in_word(edit.text.text()) && starts_with_word(&sql[edit.end..]) {
            out.push(" ");
        }
        at = edit.end;
    }
    out.push(&sql[at..]);
    Some(out)
}
