//! Statements the parser cannot read (DO blocks, `WHERE CURRENT OF`,
//! `U&"…"` names, …) that contain a keyword able to destroy rows.
//!
//! Whether one may touch a protected table is decided from its words: it
//! does when any protected table's name appears in it as a word (in a
//! string or a body too), when its names may be escaped (`U&`), or when
//! unlisted tables are protected. Such a statement follows
//! `on_parse_error`; the others pass. When only observed rules
//! (`mode: observe`) concern it, it goes as it is, noted as a statement
//! that would have been refused.

use super::refusal::{Reason, Refusal};
use super::words::contains_word;
use super::{Action, Decision, Rewrite, Would};
use crate::journal;
use crate::rules::{Mode, OnParseError, Rules};

pub fn decide(sql: &str, rules: &Rules, nonce: &str) -> Decision {
    if rules.defaults.on_parse_error == OnParseError::Pass {
        return Decision::Pass;
    }
    let Some((table, observed)) = protected_table_in(sql, rules) else {
        return Decision::Pass;
    };
    let refusal = Refusal {
        reason: Reason::Unanalysable,
        table,
        sql: sql.trim().to_owned(),
    };
    let (template, action) = if observed {
        (sql.into(), Action::Would(Would::Refuse(refusal)))
    } else {
        (
            refusal.statement(nonce).as_str().into(),
            Action::Refuse(refusal),
        )
    };
    Decision::Rewrite(std::sync::Arc::new(Rewrite {
        template,
        shapes: vec![None],
        prepared: Vec::new(),
        actions: vec![action],
    }))
}

/// The first protected table the text may name, and whether its rule is
/// only observed: an enforced one is found first.
fn protected_table_in(sql: &str, rules: &Rules) -> Option<(String, bool)> {
    let lower = sql.to_lowercase();
    let named = |r: &&crate::rules::TableRule| {
        r.mode != Mode::Allow && contains_word(&lower, &r.table.name.to_lowercase())
    };
    let mut observed = None;
    for rule in rules.tables.iter().filter(named) {
        if !rule.enforcement.observes() {
            return Some((rule.table.to_string(), false));
        }
        observed.get_or_insert_with(|| rule.table.to_string());
    }
    if contains_word(&lower, journal::SCHEMA) {
        return Some((journal::SCHEMA.to_owned(), false));
    }
    let unknown = rules.defaults.on_delete != Mode::Allow || lower.contains("u&\"");
    if unknown && !rules.defaults.enforcement.observes() {
        return Some(("(unknown)".to_owned(), false));
    }
    observed
        .or_else(|| unknown.then(|| "(unknown)".to_owned()))
        .map(|table| (table, true))
}
