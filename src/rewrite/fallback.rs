//! Statements the parser cannot read (DO blocks, `WHERE CURRENT OF`,
//! `U&"…"` names, …) that contain a keyword able to destroy rows.
//!
//! Whether one may touch a protected table is decided from its words: it
//! does when any protected table's name appears in it as a word (in a
//! string or a body too), when its names may be escaped (`U&`), or when
//! unlisted tables are protected. Such a statement follows
//! `on_parse_error`; the others pass.

use super::refusal::{Reason, Refusal};
use super::words::contains_word;
use super::{Action, Decision, Rewrite};
use crate::journal;
use crate::rules::{Mode, OnParseError, Rules};

pub fn decide(sql: &str, rules: &Rules, nonce: &str) -> Decision {
    if rules.defaults.on_parse_error == OnParseError::Pass {
        return Decision::Pass;
    }
    let Some(table) = protected_table_in(sql, rules) else {
        return Decision::Pass;
    };
    let refusal = Refusal {
        reason: Reason::Unanalysable,
        table,
        sql: sql.trim().to_owned(),
    };
    Decision::Rewrite(std::sync::Arc::new(Rewrite {
        template: refusal.statement(nonce).as_str().into(),
        shapes: vec![None],
        prepared: Vec::new(),
        actions: vec![Action::Refuse(refusal)],
    }))
}

/// The first protected table the text may name.
fn protected_table_in(sql: &str, rules: &Rules) -> Option<String> {
    let lower = sql.to_lowercase();
    for rule in rules.tables.iter().filter(|r| r.mode != Mode::Allow) {
        if contains_word(&lower, &rule.table.name.to_lowercase()) {
            return Some(rule.table.to_string());
        }
    }
    if contains_word(&lower, journal::SCHEMA) {
        return Some(journal::SCHEMA.to_owned());
    }
    if rules.defaults.on_delete != Mode::Allow || lower.contains("u&\"") {
        return Some("(unknown)".to_owned());
    }
    None
}
