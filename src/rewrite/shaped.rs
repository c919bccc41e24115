//! Texts that differ only in their literals. A client that writes its
//! values into the SQL (the simple protocol, most ORMs without server-side
//! binding) sends a new text for every key it reads; parsing each one to
//! hide deleted rows would cost a parse per statement. Hiding does not
//! depend on the literals' values: the text with every literal replaced
//! by a placeholder (its *shape*) is decided once, and each text of that
//! shape gets the shape's rewrite with its own literals put back.
//!
//! Only rewrites that hide and do nothing else are shared this way: a
//! DELETE's rewrite carries the client's text, and a refusal its reasons.

use std::ops::Range;
use std::sync::Arc;

use super::scan::literals;
use super::{Action, Decision, Lexing, Rewrite, Template};

/// A text's shape and its literals.
pub struct Shaped<'a> {
    /// The text with each number written `0` and each string `''`.
    pub key: String,
    sql: &'a str,
    literals: Vec<Range<usize>>,
}

/// A shape's rewrite, cut where its literals stand; `None`: texts of this
/// shape are decided one by one.
pub type Entry = Option<Arc<Cut>>;

pub struct Cut {
    /// The text between the literals (one more than there are literals).
    between: Vec<Box<str>>,
    rewrite: Rewrite,
}

impl<'a> Shaped<'a> {
    /// `None` for a text without literals: its own text is its shape.
    pub fn of(sql: &'a str, lexing: Lexing) -> Option<Shaped<'a>> {
        let literals = literals(sql, lexing);
        if literals.is_empty() {
            return None;
        }
        let mut key = String::with_capacity(sql.len());
        let mut at = 0;
        for range in &literals {
            key.push_str(&sql[at..range.start]);
            key.push_str(placeholder(&sql[range.clone()]));
            at = range.end;
        }
        key.push_str(&sql[at..]);
        Some(Shaped { key, sql, literals })
    }

    /// What the shape's decision says for this text.
    pub fn decide(&self, cut: &Cut) -> Decision {
        let mut text = String::with_capacity(self.sql.len() + cut.rewrite.template.text().len());
        for (between, literal) in cut.between.iter().zip(&self.literals) {
            text.push_str(between);
            text.push_str(&self.sql[literal.clone()]);
        }
        text.push_str(cut.between.last().map_or("", |b| b));
        let mut template = Template::default();
        template.push(&text);
        Decision::Rewrite(Arc::new(Rewrite {
            template,
            ..cut.rewrite.clone()
        }))
    }

    /// The entry for the shape, from the decision on its key: cut when
    /// the rewrite only hides, and its literals are the key's, in order.
    pub fn entry(&self, decision: &Decision, lexing: Lexing) -> Entry {
        let Decision::Rewrite(rewrite) = decision else {
            return None;
        };
        let only_hides = rewrite
            .actions
            .iter()
            .all(|a| matches!(a, Action::Hide { .. }))
            && rewrite.template.is_plain()
            && rewrite.prepared.is_empty()
            && rewrite.shapes.iter().all(Option::is_none);
        if !only_hides {
            return None;
        }
        let text = rewrite.template.text();
        let found = literals(text, lexing);
        let same = found.len() == self.literals.len()
            && found
                .iter()
                .zip(&self.literals)
                .all(|(f, l)| text[f.clone()] == *placeholder(&self.sql[l.clone()]));
        if !same {
            return None;
        }
        let mut between = Vec::with_capacity(found.len() + 1);
        let mut at = 0;
        for range in found {
            between.push(text[at..range.start].into());
            at = range.end;
        }
        between.push(text[at..].into());
        Some(Arc::new(Cut {
            between,
            rewrite: (**rewrite).clone(),
        }))
    }
}

fn placeholder(literal: &str) -> &'static str {
    if literal.starts_with('\'') { "''" } else { "0" }
}
