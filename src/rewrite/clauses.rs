//! A condition ANDed to a statement's own WHERE (UPDATE) or ON (MERGE),
//! found in the client's tokens at the statement's own parenthesis depth,
//! so a subquery's WHERE is never mistaken for it.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use super::delete::Edit;
use super::lex::Tok;

/// Which clause takes the condition, and which keywords end it.
#[derive(Clone, Copy)]
pub struct Stops {
    condition: Keyword,
    ends: &'static [Keyword],
    /// Without the clause, the statement gets one (UPDATE); MERGE always
    /// has its ON.
    add_missing: bool,
}

impl Stops {
    pub const UPDATE: Stops = Stops {
        condition: Keyword::WHERE,
        ends: &[Keyword::RETURNING],
        add_missing: true,
    };
    pub const MERGE: Stops = Stops {
        condition: Keyword::ON,
        ends: &[Keyword::WHEN],
        add_missing: false,
    };
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
        if depth == 0 && stops.ends.iter().any(|&k| t.is_keyword(k)) {
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
