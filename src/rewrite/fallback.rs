//! Statements the parser cannot read (DO blocks, `WHERE CURRENT OF`,
//! `U&"…"` names, …) that contain a keyword able to destroy rows.
//!
//! Whether one may touch a protected table is decided from its words: it
//! does when any protected table's name appears in it as a word (in a
//! string or a body too), when its names may be escaped (`U&`), or when
//! unlisted tables are protected. Such a statement follows
//! `on_parse_error`; the others pass.

use super::refusal::{Reason, Refusal};
use super::{Action, Decision, Rewrite};
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
    if contains_word(&lower, super::analyze::JOURNAL_SCHEMA) {
        return Some(super::analyze::JOURNAL_SCHEMA.to_owned());
    }
    if rules.defaults.on_delete != Mode::Allow || lower.contains("u&\"") {
        return Some("(unknown)".to_owned());
    }
    None
}

fn contains_word(text: &str, word: &str) -> bool {
    let is_ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
    text.match_indices(word).any(|(at, _)| {
        !is_ident(text[..at].chars().next_back())
            && !is_ident(text[at + word.len()..].chars().next())
    })
}

#[cfg(test)]
mod tests {
    use super::contains_word;

    #[test]
    fn words_are_whole() {
        assert!(contains_word("delete from orders;", "orders"));
        assert!(contains_word("delete from \"orders\"", "orders"));
        assert!(contains_word("s.orders", "orders"));
        assert!(!contains_word("delete from orders_archive", "orders"));
        assert!(!contains_word("delete from preorders", "orders"));
    }
}
