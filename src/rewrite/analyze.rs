//! Analysis: which statements in a text destroy rows of which tables, and
//! what each becomes.
//!
//! sqlparser (PostgreSqlDialect) finds the statements: DELETEs at any depth
//! (top level, in CTEs, after PREPARE or EXPLAIN), TRUNCATE, DROP, MERGE.
//! The client's text is then edited by byte offsets, never re-printed.
//! Known gaps of the parser are closed before it runs: `DELETE FROM ONLY t`
//! (read as a table named "only") and `DELETE FROM t *` (rejected) have
//! those tokens blanked in the parser's copy, so the parser sees
//! `DELETE FROM t` while the edits keep the client's `ONLY` and `*`.

use sqlparser::ast::{MergeAction, ObjectName, ObjectNamePart, ObjectType, SetExpr, Statement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan};
use std::ops::{ControlFlow, Range};

use super::delete::{self, Edit, Plan, Position};
use super::lex::{self, Tok, next_significant};
use super::refusal::{Reason, Refusal};
use super::site::{self, fold_ident};
use super::template::Template;
use super::words::{ends_in_word, starts_with_word};
use super::{Action, Decision, Lexing, Rewrite, Shape, fallback};
use crate::journal::SCHEMA as JOURNAL_SCHEMA;
use crate::rules::{Mode, OnParseError, Rules};

/// Analyses a text that the fast path found suspect.
pub fn analyze(sql: &str, lexing: Lexing, rules: &Rules, nonce: &str) -> Decision {
    // Without standard_conforming_strings a backslash escapes a quote in
    // any string; sqlparser would read such a text differently from the
    // server.
    if !lexing.standard_conforming_strings && sql.contains('\\') {
        return fallback::decide(sql, rules, nonce);
    }
    let Some((toks, mut spanned)) = lex::tokenize(sql) else {
        return fallback::decide(sql, rules, nonce);
    };
    blank_parser_gaps(&toks, &mut spanned);
    let parsed = match Parser::new(&PostgreSqlDialect {})
        .with_tokens_with_locations(spanned.clone())
        .parse_statements()
    {
        Ok(parsed) => parsed,
        Err(_) => return fallback::decide(sql, rules, nonce),
    };
    let ranges = lex::statements(&toks);
    if ranges.len() != parsed.len() {
        return fallback::decide(sql, rules, nonce);
    }
    let text = Text {
        sql,
        toks: &toks,
        spanned: &spanned,
    };
    let mut edits = Vec::new();
    let mut actions = Vec::new();
    let mut shapes = Vec::with_capacity(parsed.len());
    let mut prepared = Vec::new();
    for (statement, range) in parsed.iter().zip(ranges) {
        let mut analysis = Statement1 {
            text: &text,
            range,
            rules,
            nonce,
            edits: Vec::new(),
            actions: Vec::new(),
            shape: None,
        };
        match analysis.run(statement) {
            Ok(()) => {
                edits.append(&mut analysis.edits);
                actions.append(&mut analysis.actions);
                let shape = analysis.shape.take();
                match (statement, shape) {
                    // What EXECUTE of it returns, later.
                    (Statement::Prepare { name, .. }, Some(shape)) => {
                        prepared.push((fold_ident(&name.value, name.quote_style), shape));
                        shapes.push(None);
                    }
                    (statement, shape) => shapes.push(shape.filter(|_| returns_delete(statement))),
                }
            }
            Err(refusal) => {
                shapes.push(None);
                let (start, end) = analysis.bounds();
                edits.push(Edit {
                    start,
                    end,
                    text: refusal.statement(nonce).as_str().into(),
                });
                actions.push(Action::Refuse(refusal));
            }
        }
    }
    if edits.is_empty() {
        return Decision::Pass;
    }
    let Some(template) = apply(sql, edits) else {
        return fallback::decide(sql, rules, nonce);
    };
    Decision::Rewrite(std::sync::Arc::new(Rewrite {
        template,
        shapes,
        prepared,
        actions,
    }))
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
/// blanked in the parser's copy of the tokens.
fn blank_parser_gaps(toks: &[Tok], spanned: &mut [TokenWithSpan]) {
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

struct Text<'a> {
    sql: &'a str,
    toks: &'a [Tok],
    spanned: &'a [TokenWithSpan],
}

impl Text<'_> {
    fn token_at(&self, location: Location) -> Option<usize> {
        self.spanned.iter().position(|t| t.span.start == location)
    }
}

/// The analysis of one statement of the text.
struct Statement1<'a> {
    text: &'a Text<'a>,
    range: Range<usize>,
    rules: &'a Rules,
    nonce: &'a str,
    edits: Vec<Edit>,
    actions: Vec<Action>,
    shape: Option<Shape>,
}

/// A DELETE found in a statement, and the client's CTE it stands in.
struct Found {
    location: Location,
    cte: Option<(String, Location)>,
}

impl<'a> Statement1<'a> {
    /// The statement's text, from its first token to its last.
    fn bounds(&self) -> (usize, usize) {
        let toks = &self.text.toks[self.range.clone()];
        let first = toks.iter().find(|t| !t.is_trivia()).map_or(0, |t| t.start);
        let last = toks
            .iter()
            .rev()
            .find(|t| !t.is_trivia())
            .map_or(0, |t| t.end);
        (first, last)
    }

    /// The statement as the client sent it, comments included (for the
    /// journal).
    fn statement_sql(&self) -> &'a str {
        let toks = &self.text.toks[self.range.clone()];
        let sql: &'a str = self.text.sql;
        match (toks.first(), toks.last()) {
            (Some(first), Some(last)) => sql[first.start..last.end].trim(),
            _ => "",
        }
    }

    fn refuse(&self, reason: Reason, table: &str) -> Refusal {
        Refusal {
            reason,
            table: table.to_owned(),
            sql: self.statement_sql().to_owned(),
        }
    }

    fn run(&mut self, statement: &Statement) -> Result<(), Refusal> {
        match statement {
            Statement::Truncate(truncate) => {
                for target in &truncate.table_names {
                    self.protect(&target.name, Reason::Truncate)?;
                }
            }
            Statement::Drop {
                object_type: ObjectType::Table,
                names,
                ..
            } => {
                for name in names {
                    self.protect(name, Reason::Drop)?;
                }
            }
            Statement::Drop {
                object_type: ObjectType::Schema,
                names,
                ..
            } => {
                for name in names {
                    self.protect_schema(name)?;
                }
            }
            _ => {}
        }
        let mut found = Vec::new();
        let mut merges = Vec::new();
        let _ = sqlparser::ast::visit_statements(statement, |s| {
            match s {
                Statement::Delete(d) => found.push(Found {
                    location: d.delete_token.0.span.start,
                    cte: None,
                }),
                Statement::Merge(m) => merges.push(m.clone()),
                _ => {}
            }
            ControlFlow::<()>::Continue(())
        });
        for merge in &merges {
            let deletes = merge
                .clauses
                .iter()
                .any(|c| matches!(c.action, MergeAction::Delete { .. }));
            // Its DELETE is not rewritten: the guard journals (or refuses)
            // what it removes; `on_parse_error: refuse` refuses it here.
            let refuse = self.rules.defaults.on_parse_error == OnParseError::Refuse;
            if let (true, true, sqlparser::ast::TableFactor::Table { name, .. }) =
                (deletes, refuse, &merge.table)
            {
                self.protect(name, Reason::Unanalysable)?;
            }
        }
        mark_ctes(statement, &mut found);
        for (index, f) in found.iter().enumerate() {
            self.delete(f, index + 1)?;
        }
        Ok(())
    }

    /// Refuses `reason` when the table's rule protects it.
    fn protect(&self, name: &ObjectName, reason: Reason) -> Result<(), Refusal> {
        let (schema, table) = split_name(name);
        let protected = schema.as_deref() == Some(JOURNAL_SCHEMA)
            || *self.rules.lookup(schema.as_deref(), &table).mode() != Mode::Allow;
        if protected {
            return Err(self.refuse(reason, &name.to_string()));
        }
        Ok(())
    }

    /// DROP SCHEMA of a schema a rule names.
    fn protect_schema(&self, name: &ObjectName) -> Result<(), Refusal> {
        let (_, schema) = split_name(name);
        let named =
            self.rules.tables.iter().any(|r| {
                r.mode != Mode::Allow && r.table.schema.as_deref() == Some(schema.as_str())
            });
        if named || schema == JOURNAL_SCHEMA {
            return Err(self.refuse(Reason::Drop, &format!("{} (schema)", name)));
        }
        Ok(())
    }

    fn delete(&mut self, found: &Found, index: usize) -> Result<(), Refusal> {
        let text = self.text;
        // A DELETE the proxy cannot rewrite (where it stands, or its form)
        // goes through with `on_parse_error: pass`: the guard journals or
        // refuses what it removes.
        let pass = self.rules.defaults.on_parse_error == OnParseError::Pass;
        let unanalysable = |s: &Self, table: &str| {
            if pass {
                Ok(())
            } else {
                Err(s.refuse(Reason::Unanalysable, table))
            }
        };
        let Some(i) = text.token_at(found.location) else {
            return unanalysable(self, "(unknown)");
        };
        let Some(site) = site::read(text.toks, i) else {
            return unanalysable(self, "(unknown)");
        };
        let written = &text.sql[site.name.0..site.name.1];
        let applies = self.rules.lookup(site.schema.as_deref(), &site.table);
        let mode = applies.mode();
        let limit = applies.max_rows();
        let blocked = || self.refuse(Reason::Blocked { rows: None }, written);
        if site.schema.as_deref() == Some(JOURNAL_SCHEMA) {
            return Err(blocked());
        }
        if *mode == Mode::Allow && limit.is_none() {
            return Ok(());
        }
        let Some(position) = self.position(i, found, index) else {
            return unanalysable(self, written);
        };
        let plan = Plan {
            mode,
            limit,
            table: written,
            statement: self.statement_sql(),
            nonce: self.nonce,
        };
        if let Some(shape) = delete::rewrite(text.sql, &site, &plan, &position, &mut self.edits) {
            self.shape = Some(shape);
        }
        self.actions.push(match mode {
            Mode::Soft(_) => Action::SoftDelete {
                table: written.to_owned(),
                limit,
            },
            Mode::Journal => Action::JournalDelete {
                table: written.to_owned(),
                limit,
            },
            Mode::Block => Action::BlockUnlessEmpty {
                table: written.to_owned(),
            },
            Mode::Allow => Action::LimitOnly {
                table: written.to_owned(),
                limit: limit.unwrap_or(0),
            },
        });
        Ok(())
    }

    /// Top of the statement, or directly inside one of its CTEs; anything
    /// else is not rewritten.
    fn position(&self, i: usize, found: &Found, index: usize) -> Option<Position> {
        let toks = &self.text.toks[self.range.start..i];
        let mut depth = 0i32;
        let mut with_before = false;
        for t in toks {
            match t.token {
                Token::LParen | Token::LBracket => depth += 1,
                Token::RParen | Token::RBracket => depth -= 1,
                _ if depth == 0 && t.is_keyword(Keyword::WITH) => with_before = true,
                _ => {}
            }
        }
        match (&found.cte, depth) {
            (None, 0) => Some(Position::Top { with_before }),
            (Some((name, close)), 1) => {
                let close = self.text.token_at(*close)?;
                Some(Position::Cte {
                    name: name.clone(),
                    close_end: self.text.toks[close].end,
                    index,
                })
            }
            _ => None,
        }
    }
}

/// Marks the DELETEs that are the body of one of the statement's own CTEs.
fn mark_ctes(statement: &Statement, found: &mut [Found]) {
    let query = match statement {
        Statement::Query(q) => q,
        _ => return,
    };
    let Some(with) = &query.with else { return };
    for cte in &with.cte_tables {
        if let SetExpr::Delete(Statement::Delete(d)) = cte.query.body.as_ref() {
            let location = d.delete_token.0.span.start;
            if let Some(f) = found.iter_mut().find(|f| f.location == location) {
                let alias = &cte.alias.name;
                let name = match alias.quote_style {
                    None => alias.value.clone(),
                    Some(_) => format!("\"{}\"", alias.value.replace('"', "\"\"")),
                };
                f.cte = Some((name, cte.closing_paren_token.0.span.start));
            }
        }
    }
}

/// A name's folded schema (if written) and table.
fn split_name(name: &ObjectName) -> (Option<String>, String) {
    let mut parts: Vec<String> = name
        .0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => fold_ident(&i.value, i.quote_style),
            ObjectNamePart::Function(f) => f.name.value.clone(),
        })
        .collect();
    let table = parts.pop().unwrap_or_default();
    (parts.pop(), table)
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
