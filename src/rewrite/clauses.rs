//! A condition ANDed to a statement's own WHERE (UPDATE, SELECT), a
//! MERGE's ON or a join's ON, found in the client's tokens at the
//! clause's own parenthesis depth, so a subquery's WHERE is never
//! mistaken for it.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use super::delete::Edit;
use super::lex::{Tok, next_significant};

/// Which clause takes the condition, and which keywords end it.
#[derive(Clone, Copy)]
pub struct Stops {
    condition: Keyword,
    ends: &'static [Keyword],
    /// Without the clause, the statement gets one (UPDATE); MERGE always
    /// has its ON.
    add_missing: bool,
    /// A comma at the clause's depth ends it (the next FROM item).
    comma_ends: bool,
}

impl Stops {
    pub const UPDATE: Stops = Stops {
        condition: Keyword::WHERE,
        ends: &[Keyword::RETURNING],
        add_missing: true,
        comma_ends: false,
    };
    pub const MERGE: Stops = Stops {
        condition: Keyword::ON,
        ends: &[Keyword::WHEN],
        add_missing: false,
        comma_ends: false,
    };
    /// A SELECT's WHERE: what may follow it (an `INSERT ... SELECT`'s
    /// `ON CONFLICT` too: see `ends_at`).
    pub const SELECT: Stops = Stops {
        condition: Keyword::WHERE,
        ends: &[
            Keyword::GROUP,
            Keyword::HAVING,
            Keyword::WINDOW,
            Keyword::ORDER,
            Keyword::LIMIT,
            Keyword::OFFSET,
            Keyword::FETCH,
            Keyword::FOR,
            Keyword::UNION,
            Keyword::INTERSECT,
            Keyword::EXCEPT,
            Keyword::RETURNING,
        ],
        add_missing: true,
        comma_ends: false,
    };
    /// The ON of the join whose right-hand table the scan starts after:
    /// it ends where the next join or clause starts.
    pub const JOIN_ON: Stops = Stops {
        condition: Keyword::ON,
        ends: &[
            Keyword::JOIN,
            Keyword::INNER,
            Keyword::LEFT,
            Keyword::RIGHT,
            Keyword::FULL,
            Keyword::CROSS,
            Keyword::NATURAL,
            Keyword::WHERE,
            Keyword::GROUP,
            Keyword::HAVING,
            Keyword::WINDOW,
            Keyword::ORDER,
            Keyword::LIMIT,
            Keyword::OFFSET,
            Keyword::FETCH,
            Keyword::FOR,
            Keyword::UNION,
            Keyword::INTERSECT,
            Keyword::EXCEPT,
            Keyword::RETURNING,
        ],
        add_missing: false,
        comma_ends: true,
    };

    /// Whether token `j` ends the clause: one of its end keywords (not a
    /// function or a column of that name, as `left(...)` or `t.left`, nor
    /// `WITHIN GROUP`), a comma between FROM items for a join's ON, or
    /// `ON CONFLICT` after an INSERT's SELECT.
    fn ends_at(self, toks: &[Tok], j: usize) -> bool {
        let t = &toks[j];
        let next = next_significant(toks, j).map(|n| &toks[n]);
        let previous = (0..j)
            .rev()
            .find(|&p| !toks[p].is_trivia())
            .map(|p| &toks[p]);
        let function = (t.is_keyword(Keyword::LEFT) || t.is_keyword(Keyword::RIGHT))
            && next.is_some_and(|n| n.token == Token::LParen);
        let name = function || previous.is_some_and(|p| p.token == Token::Period);
        let by = |k: Keyword| {
            !matches!(k, Keyword::GROUP | Keyword::ORDER)
                || next.is_some_and(|n| n.is_keyword(Keyword::BY))
        };
        if !name && self.ends.iter().any(|&k| t.is_keyword(k) && by(k)) {
            return true;
        }
        if self.comma_ends && t.token == Token::Comma {
            return true;
        }
        self.condition == Keyword::WHERE
            && t.is_keyword(Keyword::ON)
            && next.is_some_and(|n| n.is_keyword(Keyword::CONFLICT))
    }
}

/// The edits that AND `condition` to the clause of the statement whose
/// keyword is token `start`; `None` when its text is not as expected.
pub fn and_condition(
    toks: &[Tok],
    start: usize,
    stops: Stops,
    condition: &str,
) -> Option<Vec<Edit>> {
    let mut depth = 0i32;
    // The clause keyword (the last one: a MERGE source's own JOIN ... ON
    // comes first), and the end of the last token before the clause ends.
    let mut keyword: Option<usize> = None;
    let mut last_end = toks.get(start)?.end;
    for (j, t) in toks.iter().enumerate().skip(start + 1) {
        match t.token {
            Token::LParen | Token::LBracket => depth += 1,
            Token::RParen | Token::RBracket if depth == 0 => break,
            Token::RParen | Token::RBracket => depth -= 1,
            Token::SemiColon if depth == 0 => break,
            _ => {}
        }
        if t.is_trivia() {
            continue;
        }
        if depth == 0 && stops.ends_at(toks, j) {
            break;
        }
        if depth == 0 && t.is_keyword(stops.condition) {
            keyword = Some(j);
        }
        last_end = t.end;
    }
    let edit = |at: usize, text: String| Edit {
        start: at,
        end: at,
        text: text.as_str().into(),
    };
    match keyword {
        Some(k) => {
            let body = (k + 1..toks.len()).find(|&j| !toks[j].is_trivia())?;
            Some(vec![
                edit(toks[body].start, "(".to_owned()),
                edit(last_end, format!(") AND {condition}")),
            ])
        }
        None if stops.add_missing => Some(vec![edit(last_end, format!(" WHERE {condition}"))]),
        None => None,
    }
}
