//! The analysis of one statement: what it destroys (TRUNCATE, DROP,
//! MERGE, DELETEs wherever they stand), whether the rules let it, and the
//! edits that rewrite its DELETEs.

use sqlparser::ast::{MergeAction, ObjectName, ObjectNamePart, ObjectType, SetExpr, Statement};
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan};
use std::ops::{ControlFlow, Range};

use super::delete::{self, Edit, Plan, Position};
use super::hide;
use super::lex::Tok;
use super::refusal::{Reason, Refusal};
use super::shape::Observed;
use super::site::{self, fold_ident};
use super::{Action, Shape, Would};
use crate::journal::SCHEMA as JOURNAL_SCHEMA;
use crate::rules::{Mode, OnParseError, Rules};

/// The client's text, its tokens, and the parser's copy of them.
pub struct Text<'a> {
    pub sql: &'a str,
    pub toks: &'a [Tok],
    pub spanned: &'a [TokenWithSpan],
}

impl Text<'_> {
    pub fn token_at(&self, location: Location) -> Option<usize> {
        self.spanned.iter().position(|t| t.span.start == location)
    }
}

/// The analysis of one statement of the text.
pub struct Statement1<'a> {
    text: &'a Text<'a>,
    /// Its tokens.
    range: Range<usize>,
    rules: &'a Rules,
    pub nonce: &'a str,
    /// Whether hidden tables' deleted rows are hidden (the session does
    /// not show them).
    hide: bool,
    /// What it adds up to once `run` succeeds.
    pub edits: Vec<Edit>,
    pub actions: Vec<Action>,
    pub shape: Option<Shape>,
}

/// A DELETE found in a statement, and the client's CTE it stands in.
struct Found {
    location: Location,
    cte: Option<(String, Location)>,
}

impl<'a> Statement1<'a> {
    pub fn new(
        text: &'a Text<'a>,
        range: Range<usize>,
        rules: &'a Rules,
        nonce: &'a str,
        hide: bool,
    ) -> Self {
        Statement1 {
            text,
            range,
            rules,
            nonce,
            hide,
            edits: Vec::new(),
            actions: Vec::new(),
            shape: None,
        }
    }

    /// The statement's text, from its first token to its last.
    pub fn bounds(&self) -> (usize, usize) {
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

    /// Finds what the statement destroys: its edits and actions, or the
    /// refusal that takes its place.
    pub fn run(&mut self, statement: &Statement) -> Result<(), Refusal> {
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
        if self.hide {
            self.hide(statement);
        }
        Ok(())
    }

    /// Restricts the references to hidden tables to their live rows. A
    /// statement whose references cannot all be placed in the text is
    /// left as it is.
    fn hide(&mut self, statement: &Statement) {
        let Some(mut hidden) = hide::hide(self.text, self.rules, statement) else {
            tracing::debug!("hidden table references not found in the text: not hidden");
            return;
        };
        self.edits.append(&mut hidden.edits);
        self.actions.extend(
            hidden
                .tables
                .into_iter()
                .map(|table| Action::Hide { table }),
        );
    }

    /// Refuses `reason` when the table's rule protects it (or notes that
    /// it would, when the rule is observed). The journal is never observed.
    fn protect(&mut self, name: &ObjectName, reason: Reason) -> Result<(), Refusal> {
        let (schema, table) = split_name(name);
        let journal = schema.as_deref() == Some(JOURNAL_SCHEMA);
        let applies = self.rules.lookup(schema.as_deref(), &table);
        if journal || *applies.mode() != Mode::Allow {
            let observed = !journal && applies.observed();
            return self.refuse_or_observe(reason, &name.to_string(), observed);
        }
        Ok(())
    }

    /// The refusal, or, under an observed rule, a note that it would have
    /// been refused.
    fn refuse_or_observe(
        &mut self,
        reason: Reason,
        table: &str,
        observed: bool,
    ) -> Result<(), Refusal> {
        let refusal = self.refuse(reason, table);
        if !observed {
            return Err(refusal);
        }
        self.actions.push(Action::Would(Would::Refuse(refusal)));
        Ok(())
    }

    /// DROP SCHEMA of a schema a rule names: refused if an enforced rule
    /// names it (or it is the journal's), observed if only observed ones do.
    fn protect_schema(&mut self, name: &ObjectName) -> Result<(), Refusal> {
        let (_, schema) = split_name(name);
        let mut named = self.rules.tables.iter().filter(|r| {
            r.mode != Mode::Allow && r.table.schema.as_deref() == Some(schema.as_str())
        });
        let journal = schema == JOURNAL_SCHEMA;
        let enforced = named.clone().any(|r| !r.enforcement.observes());
        if journal || enforced || named.next().is_some() {
            let observed = !journal && !enforced;
            return self.refuse_or_observe(Reason::Drop, &format!("{name} (schema)"), observed);
        }
        Ok(())
    }

    fn delete(&mut self, found: &Found, index: usize) -> Result<(), Refusal> {
        let text = self.text;
        // A DELETE the proxy cannot rewrite (where it stands, or its form)
        // goes through with `on_parse_error: pass`: the guard journals or
        // refuses what it removes.
        let pass = self.rules.defaults.on_parse_error == OnParseError::Pass;
        let unanalysable = |s: &mut Self, table: &str, observed: bool| {
            if pass {
                Ok(())
            } else {
                s.refuse_or_observe(Reason::Unanalysable, table, observed)
            }
        };
        // A DELETE whose table cannot be read is under the defaults.
        let observes_unknown = self.rules.defaults.enforcement.observes();
        let Some(i) = text.token_at(found.location) else {
            return unanalysable(self, "(unknown)", observes_unknown);
        };
        let Some(site) = site::read(text.toks, i) else {
            return unanalysable(self, "(unknown)", observes_unknown);
        };
        let written = &text.sql[site.name.0..site.name.1];
        let applies = self.rules.lookup(site.schema.as_deref(), &site.table);
        let mode = applies.mode();
        let limit = applies.max_rows();
        let observed = applies.observed();
        if site.schema.as_deref() == Some(JOURNAL_SCHEMA) {
            return Err(self.refuse(Reason::Blocked { rows: None }, written));
        }
        if *mode == Mode::Allow && limit.is_none() {
            return Ok(());
        }
        let position = self.position(i, found, index);
        if observed {
            self.observe(written, mode, limit, position.as_ref());
            return Ok(());
        }
        let Some(position) = position else {
            return unanalysable(self, written, false);
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

    /// A DELETE under an observed rule: sent as it is. The guard journals
    /// what it removes from a guarded table; on an allowed table with a
    /// row limit, a top-level DELETE's tag is compared with the limit.
    fn observe(&mut self, table: &str, mode: &Mode, limit: Option<u64>, at: Option<&Position>) {
        // Only a top-level DELETE's tag tells how many rows it removed.
        if matches!(at, Some(Position::Top { .. })) {
            let observed = |blocked, limit, guarded| {
                Shape::Observed(std::sync::Arc::new(Observed {
                    table: table.into(),
                    blocked,
                    limit,
                    guarded,
                }))
            };
            self.shape = match (mode, limit) {
                (Mode::Block, _) => Some(observed(true, 0, true)),
                (Mode::Allow, Some(limit)) => Some(observed(false, limit, false)),
                (_, Some(limit)) => Some(observed(false, limit, true)),
                (_, None) => None,
            };
        }
        let would = match (mode, limit) {
            (Mode::Allow, Some(limit)) if self.shape.is_some() => Would::Limit {
                table: table.to_owned(),
                limit,
            },
            // Not counted where it stands (in a CTE, a subquery): nothing
            // the proxy can see would be refused.
            (Mode::Allow, _) => return,
            (mode, _) => Would::Guard {
                table: table.to_owned(),
                mode: mode.as_str(),
            },
        };
        self.actions.push(Action::Would(would));
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
pub fn split_name(name: &ObjectName) -> (Option<String>, String) {
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
