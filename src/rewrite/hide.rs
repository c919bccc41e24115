//! Hiding: every reference to a soft table with `hide` sees only its live
//! rows, where it stands.
//!
//! - A SELECT's FROM item stays a table (its key still makes its other
//!   columns groupable, its system columns and row type stay) and the
//!   condition goes where it filters that table alone: the SELECT's WHERE
//!   when no join of its FROM item can null-extend it (inner, left and
//!   cross joins), else the ON of the inner or left join it is the
//!   right-hand table of. Outer joins keep their meaning.
//! - Any other FROM item (under a right or full join, in a parenthesised
//!   join, USING or NATURAL, UPDATE ... FROM, DELETE ... USING, MERGE's
//!   source) `t [AS] a` becomes `(SELECT * FROM t WHERE <live>) [AS] a`,
//!   or `... AS t` without an alias: the planner flattens the subquery,
//!   the indexes are used.
//! - An UPDATE's or a MERGE's target cannot be a subquery: its own WHERE
//!   (MERGE: its ON) gets `AND <t is live>`. A DELETE's target is already
//!   restricted to live rows by the soft delete's rewrite (`delete`).
//! - `COPY t [(cols)] TO` becomes `COPY (SELECT cols FROM t WHERE <live>) TO`.
//!
//! Names resolve as for DELETE (`Rules::lookup`); a name that is one of
//! the statement's CTEs in scope is the CTE, not the table. Definitions
//! stored in the database (views, functions, triggers, policies) are never
//! rewritten: they would keep the filter for good, whatever the session's
//! `softdel.show_deleted`.

use std::collections::HashMap;
use std::ops::ControlFlow;

use sqlparser::ast::{
    CopySource, Ident, JoinConstraint, JoinOperator, ObjectName, ObjectNamePart, Query, Select,
    Statement, TableAlias, TableFactor, TableWithJoins, Visit, Visitor,
};
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use super::clauses::{self, Stops};
use super::delete::Edit;
use super::lex::next_significant;
use super::site::fold_ident;
use super::statement::{Text, split_name};
use crate::rules::{Applies, Marker, Rules};

/// The edits that hide deleted rows in one statement, and the tables they
/// hide (as written).
#[derive(Default)]
pub struct Hidden {
    pub edits: Vec<Edit>,
    pub tables: Vec<String>,
}

/// Hides the deleted rows of every hidden table `statement` reads;
/// `None` where a reference cannot be placed in the text (the caller then
/// leaves the statement as it is).
pub fn hide(text: &Text, rules: &Rules, statement: &Statement) -> Option<Hidden> {
    let stored = matches!(
        statement,
        Statement::CreateView { .. }
            | Statement::AlterView { .. }
            | Statement::CreateFunction { .. }
            | Statement::CreateProcedure { .. }
            | Statement::CreateTrigger { .. }
            | Statement::CreatePolicy { .. }
    );
    if stored {
        return Some(Hidden::default());
    }
    let mut hider = Hider {
        text,
        rules,
        scopes: vec![Vec::new()],
        cte_scopes: HashMap::new(),
        targets: Vec::new(),
        places: HashMap::new(),
        wheres: Vec::new(),
        hidden: Hidden::default(),
        lost: false,
    };
    let _ = statement.visit(&mut hider);
    for (keyword, conditions) in std::mem::take(&mut hider.wheres) {
        let condition = conditions.join(" AND ");
        match clauses::and_condition(text.toks, keyword, Stops::SELECT, &condition) {
            Some(mut edits) => hider.hidden.edits.append(&mut edits),
            None => hider.lost = true,
        }
    }
    (!hider.lost).then_some(hider.hidden)
}

/// Where a SELECT's FROM item is restricted while it stays a table.
#[derive(Clone, Copy)]
enum Place {
    /// The WHERE of the SELECT whose keyword is this token.
    Where(usize),
    /// The ON right after it.
    On,
}

/// The places of the tables of one FROM item (a table and its joins).
fn places(item: &TableWithJoins, select: usize, into: &mut HashMap<*const TableFactor, Place>) {
    // Inner, left and cross joins never null-extend their left-hand side:
    // the tables there may be filtered after the joins, in the WHERE.
    let preserved = item.joins.iter().all(|j| {
        matches!(
            j.join_operator,
            JoinOperator::Join(_)
                | JoinOperator::Inner(_)
                | JoinOperator::Left(_)
                | JoinOperator::LeftOuter(_)
                | JoinOperator::CrossJoin(JoinConstraint::None)
        )
    });
    if preserved {
        into.insert(&item.relation, Place::Where(select));
    }
    for join in &item.joins {
        match &join.join_operator {
            JoinOperator::Join(JoinConstraint::On(_))
            | JoinOperator::Inner(JoinConstraint::On(_))
            | JoinOperator::Left(JoinConstraint::On(_))
            | JoinOperator::LeftOuter(JoinConstraint::On(_)) => {
                into.insert(&join.relation, Place::On);
            }
            JoinOperator::CrossJoin(JoinConstraint::None) if preserved => {
                into.insert(&join.relation, Place::Where(select));
            }
            _ => {}
        }
    }
}

struct Hider<'a> {
    text: &'a Text<'a>,
    rules: &'a Rules,
    /// CTE names (folded) visible where the visit is, innermost last.
    scopes: Vec<Vec<String>>,
    /// The names a CTE's body sees, by the body's address (a CTE sees
    /// only the CTEs before it, unless WITH RECURSIVE).
    cte_scopes: HashMap<*const Query, Vec<String>>,
    /// Where UPDATE, DELETE and MERGE targets start: not FROM items.
    targets: Vec<usize>,
    /// SELECTs' FROM items that stay tables, and where their condition
    /// goes (by the items' addresses in the statement).
    places: HashMap<*const TableFactor, Place>,
    /// The conditions for each SELECT's WHERE, by its keyword's token.
    wheres: Vec<(usize, Vec<String>)>,
    hidden: Hidden,
    /// A reference could not be placed in the text.
    lost: bool,
}

impl Visitor for Hider<'_> {
    type Break = ();

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<()> {
        match statement {
            Statement::Update(update) => {
                let start = update.update_token.0.span.start;
                if let Some(i) = self.text.token_at(start) {
                    self.target(&update.table.relation, i, Stops::UPDATE);
                }
            }
            Statement::Delete(delete) => {
                let (sqlparser::ast::FromTable::WithFromKeyword(from)
                | sqlparser::ast::FromTable::WithoutKeyword(from)) = &delete.from;
                for t in from {
                    if let Some(i) = self.start_of(&t.relation) {
                        self.targets.push(i);
                    }
                }
            }
            Statement::Merge(merge) => {
                let start = merge.merge_token.0.span.start;
                if let Some(i) = self.text.token_at(start) {
                    self.target(&merge.table, i, Stops::MERGE);
                }
            }
            Statement::Copy {
                source:
                    CopySource::Table {
                        table_name,
                        columns,
                    },
                to: true,
                ..
            } => self.copy(table_name, columns),
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let key: *const Query = query;
        let base = match self.cte_scopes.remove(&key) {
            Some(names) => names,
            None => self.scopes.last().cloned().unwrap_or_default(),
        };
        let mut inner = base.clone();
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                let name = fold_ident(&cte.alias.name.value, cte.alias.name.quote_style);
                let mut seen = base.clone();
                if with.recursive {
                    seen.extend(
                        with.cte_tables
                            .iter()
                            .map(|c| fold_ident(&c.alias.name.value, c.alias.name.quote_style)),
                    );
                } else {
                    seen.extend(inner[base.len()..].iter().cloned());
                }
                self.cte_scopes.insert(&*cte.query, seen);
                inner.push(name);
            }
        }
        self.scopes.push(inner);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.scopes.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        if let Some(keyword) = self.text.token_at(select.select_token.0.span.start) {
            for item in &select.from {
                places(item, keyword, &mut self.places);
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } = factor
        {
            let place = self.places.get(&(factor as *const TableFactor)).copied();
            self.restrict_item(name, alias.as_ref(), place);
        }
        ControlFlow::Continue(())
    }
}

impl Hider<'_> {
    /// The marker of the hidden table `name` refers to, if it does.
    fn hidden_marker(&self, name: &ObjectName) -> Option<&Marker> {
        let (schema, table) = split_name(name);
        let in_cte_scope = schema.is_none()
            && self
                .scopes
                .last()
                .is_some_and(|names| names.contains(&table));
        if in_cte_scope {
            return None;
        }
        match self.rules.lookup(schema.as_deref(), &table) {
            Applies::Listed(rule) if rule.hide => rule.mode.marker(),
            _ => None,
        }
    }

    /// The token of a name's first part.
    fn start_of(&self, factor: &TableFactor) -> Option<usize> {
        match factor {
            TableFactor::Table { name, .. } => self.ident_token(name.0.first()?),
            _ => None,
        }
    }

    fn ident_token(&self, part: &ObjectNamePart) -> Option<usize> {
        match part {
            ObjectNamePart::Identifier(ident) => self.token(ident),
            ObjectNamePart::Function(_) => None,
        }
    }

    fn token(&self, ident: &Ident) -> Option<usize> {
        self.text.token_at(ident.span.start)
    }

    /// The bytes a name covers, from its first part to its last.
    fn name_span(&mut self, name: &ObjectName) -> Option<(usize, usize)> {
        let first = self.ident_token(name.0.first()?)?;
        let last = self.ident_token(name.0.last()?)?;
        Some((self.text.toks[first].start, self.text.toks[last].end))
    }

    /// A FROM item restricted in `place`, or else `t [AS] a` →
    /// `(SELECT * FROM t WHERE <live>) [AS] a`.
    fn restrict_item(
        &mut self,
        name: &ObjectName,
        alias: Option<&TableAlias>,
        place: Option<Place>,
    ) {
        let Some(marker) = self.hidden_marker(name).cloned() else {
            return;
        };
        let Some(first) = name.0.first().and_then(|p| self.ident_token(p)) else {
            self.lost = true;
            return;
        };
        if self.targets.contains(&first) {
            return;
        }
        if place.is_some_and(|place| self.place(place, name, alias, &marker)) {
            return;
        }
        let Some((start, end)) = self.name_span(name) else {
            self.lost = true;
            return;
        };
        let sql = self.text.sql;
        let written = &sql[start..end];
        // `ONLY t` keeps its ONLY inside, where it still applies.
        let (start, only) = match self.only_before(first) {
            Some(only_start) => (only_start, "ONLY "),
            None => (start, ""),
        };
        let mut text = format!("(SELECT * FROM {only}{written} WHERE {})", marker.live(""));
        if alias.is_none() {
            let Some(last) = name.0.last().and_then(|p| self.ident_token(p)) else {
                self.lost = true;
                return;
            };
            let t = &self.text.toks[last];
            text.push_str(" AS ");
            text.push_str(&sql[t.start..t.end]);
        }
        self.hidden.tables.push(written.to_owned());
        self.hidden.edits.push(Edit {
            start,
            end,
            text: text.as_str().into(),
        });
    }

    /// `AND <live>` on the table's WHERE or ON; false when the text is not
    /// as expected, or an alias renames its columns (the marker's too).
    fn place(
        &mut self,
        place: Place,
        name: &ObjectName,
        alias: Option<&TableAlias>,
        marker: &Marker,
    ) -> bool {
        if alias.is_some_and(|a| !a.columns.is_empty()) {
            return false;
        }
        let reference = match alias {
            Some(alias) => self.token(&alias.name),
            None => name.0.last().and_then(|p| self.ident_token(p)),
        };
        let Some(reference) = reference else {
            return false;
        };
        let toks = self.text.toks;
        let t = &toks[reference];
        let live = marker.live(&self.text.sql[t.start..t.end]);
        match place {
            Place::Where(keyword) => match self.wheres.iter_mut().find(|w| w.0 == keyword) {
                Some(conditions) => conditions.1.push(live),
                None => self.wheres.push((keyword, vec![live])),
            },
            Place::On => {
                let on = next_significant(toks, reference);
                if !on.is_some_and(|on| toks[on].is_keyword(Keyword::ON)) {
                    return false;
                }
                match clauses::and_condition(toks, reference, Stops::JOIN_ON, &live) {
                    Some(mut edits) => self.hidden.edits.append(&mut edits),
                    None => return false,
                }
            }
        }
        if let Some((start, end)) = self.name_span(name) {
            self.hidden
                .tables
                .push(self.text.sql[start..end].to_owned());
        }
        true
    }

    /// Where `ONLY` starts, when it stands right before token `first`.
    fn only_before(&self, first: usize) -> Option<usize> {
        let toks = self.text.toks;
        let before = (0..first).rev().find(|&j| !toks[j].is_trivia())?;
        toks[before]
            .is_keyword(Keyword::ONLY)
            .then_some(toks[before].start)
    }

    /// An UPDATE's or MERGE's target: `AND <live>` on its WHERE or ON.
    fn target(&mut self, factor: &TableFactor, keyword: usize, stops: Stops) {
        let TableFactor::Table { name, alias, .. } = factor else {
            return;
        };
        let Some(first) = self.start_of(factor) else {
            self.lost = true;
            return;
        };
        self.targets.push(first);
        let Some(marker) = self.hidden_marker(name).cloned() else {
            return;
        };
        let reference = match alias {
            Some(alias) => self.token(&alias.name),
            None => name.0.last().and_then(|p| self.ident_token(p)),
        };
        let Some(reference) = reference else {
            self.lost = true;
            return;
        };
        let t = &self.text.toks[reference];
        let live = marker.live(&self.text.sql[t.start..t.end]);
        match clauses::and_condition(self.text.toks, keyword, stops, &live) {
            Some(mut edits) => {
                let (start, end) = self.name_span(name).unwrap_or_default();
                self.hidden
                    .tables
                    .push(self.text.sql[start..end].to_owned());
                self.hidden.edits.append(&mut edits);
            }
            None => self.lost = true,
        }
    }

    /// `COPY t [(cols)] TO ...` → `COPY (SELECT cols FROM t WHERE <live>) TO ...`.
    fn copy(&mut self, name: &ObjectName, columns: &[Ident]) {
        let Some(marker) = self.hidden_marker(name).cloned() else {
            return;
        };
        let Some((start, name_end)) = self.name_span(name) else {
            self.lost = true;
            return;
        };
        let sql = self.text.sql;
        let (list, end) = match columns.last().and_then(|c| self.token(c)) {
            Some(last) => {
                let toks = self.text.toks;
                let Some(close) =
                    next_significant(toks, last).filter(|&c| toks[c].token == Token::RParen)
                else {
                    self.lost = true;
                    return;
                };
                let open = self.token(&columns[0]).and_then(|c| {
                    (0..c)
                        .rev()
                        .find(|&j| toks[j].token == Token::LParen)
                        .map(|j| toks[j].end)
                });
                let Some(open) = open else {
                    self.lost = true;
                    return;
                };
                (sql[open..toks[close].start].trim(), toks[close].end)
            }
            None => ("*", name_end),
        };
        let written = &sql[start..name_end];
        let text = format!("(SELECT {list} FROM {written} WHERE {})", marker.live(""));
        self.hidden.tables.push(written.to_owned());
        self.hidden.edits.push(Edit {
            start,
            end,
            text: text.as_str().into(),
        });
    }
}
