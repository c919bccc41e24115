//! SQL-level prepared statements: `PREPARE p AS DELETE ...` is rewritten
//! when it is prepared, and what a later `EXECUTE p` returns must be
//! translated back like the DELETE's own result. A session that prepared
//! such a statement has its texts read for EXECUTE (and DEALLOCATE,
//! DISCARD) with this; the others never are.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use super::lex::{self, Tok, next_significant};
use super::site::fold_ident;

/// What one top-level statement does with SQL-level prepared statements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PreparedUse {
    /// `EXECUTE name ...` (the folded name).
    Execute(String),
    /// `DEALLOCATE [PREPARE] name`.
    Deallocate(String),
    /// `DEALLOCATE [PREPARE] ALL`, `DISCARD ALL`.
    DeallocateAll,
    /// `PREPARE name ...`: whatever was known of an earlier `name` is void.
    Prepare(String),
    None,
}

/// Whether `sql` may use a prepared statement at all: a cheap test before
/// tokenizing.
pub fn may_use(sql: &str) -> bool {
    let lower = |w: &str| {
        sql.as_bytes()
            .windows(w.len())
            .any(|b| b.eq_ignore_ascii_case(w.as_bytes()))
    };
    lower("execute") || lower("deallocate") || lower("discard") || lower("prepare")
}

/// Per top-level statement of `sql`, what it does with prepared
/// statements; `None` when the text cannot be tokenized.
pub fn uses(sql: &str) -> Option<Vec<PreparedUse>> {
    let (toks, _) = lex::tokenize(sql)?;
    Some(
        lex::statements(&toks)
            .into_iter()
            .map(|range| statement_use(&toks, range.start, range.end))
            .collect(),
    )
}

fn statement_use(toks: &[Tok], start: usize, end: usize) -> PreparedUse {
    let first = (start..end).find(|&i| !toks[i].is_trivia());
    let Some(first) = first else {
        return PreparedUse::None;
    };
    let next = |i: usize| next_significant(toks, i).filter(|&j| j < end);
    let word = |i: usize| match &toks[i].token {
        Token::Word(w) => Some(fold_ident(&w.value, w.quote_style)),
        _ => None,
    };
    if toks[first].is_keyword(Keyword::EXECUTE) {
        return next(first)
            .and_then(word)
            .map_or(PreparedUse::None, PreparedUse::Execute);
    }
    if toks[first].is_keyword(Keyword::DEALLOCATE) {
        let mut at = next(first);
        if at.is_some_and(|i| toks[i].is_keyword(Keyword::PREPARE)) {
            at = at.and_then(next);
        }
        return match at {
            Some(i) if toks[i].is_keyword(Keyword::ALL) => PreparedUse::DeallocateAll,
            Some(i) => word(i).map_or(PreparedUse::None, PreparedUse::Deallocate),
            None => PreparedUse::None,
        };
    }
    if toks[first].is_keyword(Keyword::PREPARE) {
        return next(first)
            .and_then(word)
            .map_or(PreparedUse::None, PreparedUse::Prepare);
    }
    if toks[first].is_keyword(Keyword::DISCARD)
        && next(first).is_some_and(|i| toks[i].is_keyword(Keyword::ALL))
    {
        return PreparedUse::DeallocateAll;
    }
    PreparedUse::None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executes_and_deallocations_are_read_per_statement() {
        assert_eq!(
            uses("EXECUTE p(1); select 1; execute \"P\" (2); DEALLOCATE PREPARE p; deallocate all; DISCARD ALL")
                .unwrap(),
            [
                PreparedUse::Execute("p".into()),
                PreparedUse::None,
                PreparedUse::Execute("P".into()),
                PreparedUse::Deallocate("p".into()),
                PreparedUse::DeallocateAll,
                PreparedUse::DeallocateAll,
            ]
        );
        assert_eq!(
            uses("/* c */ Execute Del_One ( 3 )").unwrap(),
            [PreparedUse::Execute("del_one".into())]
        );
        assert_eq!(uses("SELECT 'execute p'").unwrap(), [PreparedUse::None]);
        assert_eq!(
            uses("PREPARE q (int) AS UPDATE t SET a = $1").unwrap(),
            [PreparedUse::Prepare("q".into())]
        );
        assert!(may_use("EXECUTE p") && may_use("discard all") && !may_use("SELECT 1"));
    }
}
