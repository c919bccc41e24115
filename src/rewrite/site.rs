//! Where the parts of one DELETE lie in the client's text.
//!
//! The parser has already accepted the statement; this reads the same
//! tokens again to find byte offsets for splicing:
//! `DELETE FROM [ONLY] name [*] [[AS] alias] [USING …] [WHERE …] [RETURNING …]`.
//! Clause keywords are recognised at the DELETE's own parenthesis depth
//! only, so a subquery's WHERE is never mistaken for the DELETE's.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use super::lex::{Tok, next_significant};

/// A clause: where its keyword starts and ends, and where its last token
/// ends (trailing comments stay outside).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clause {
    pub keyword_start: usize,
    pub keyword_end: usize,
    /// Start of the clause's first token after the keyword.
    pub body_start: usize,
    pub end: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// Start of `DELETE`.
    pub delete: usize,
    /// End of `FROM`.
    pub from_end: usize,
    /// The table name as written (`s.t`, `"T"`), and its folded parts.
    pub name: (usize, usize),
    pub schema: Option<String>,
    pub table: String,
    /// How the row is referred to: the alias, or the table's last name part.
    pub reference: (usize, usize),
    /// End of the target: name, `*`, alias.
    pub target_end: usize,
    pub using: Option<Clause>,
    pub where_: Option<Clause>,
    pub returning: Option<Clause>,
    /// End of the DELETE's last token.
    pub end: usize,
    /// Index of the token after the DELETE (`;`, `)` or past the end).
    pub after: usize,
}

/// Reads the DELETE whose keyword is token `i`.
pub fn read(toks: &[Tok], i: usize) -> Option<Site> {
    let from = next_significant(toks, i)?;
    if !toks[from].is_keyword(Keyword::FROM) {
        return None;
    }
    let mut k = next_significant(toks, from)?;
    if toks[k].is_keyword(Keyword::ONLY) {
        k = next_significant(toks, k)?;
    }
    let (name_start, mut parts) = (toks[k].start, vec![folded(&toks[k].token)?]);
    let mut last = k;
    while let Some(dot) = next_significant(toks, last).filter(|&d| toks[d].token == Token::Period) {
        last = next_significant(toks, dot)?;
        parts.push(folded(&toks[last].token)?);
    }
    let name_end = toks[last].end;
    let mut reference = (toks[last].start, name_end);
    let mut target_last = last;
    let mut n = next_significant(toks, last);
    if let Some(star) = n.filter(|&s| toks[s].token == Token::Mul) {
        target_last = star;
        n = next_significant(toks, star);
    }
    if let Some(a) = n {
        let alias = if toks[a].is_keyword(Keyword::AS) {
            next_significant(toks, a)
        } else {
            Some(a).filter(|&a| is_alias(&toks[a]))
        };
        if let Some(alias) = alias {
            folded(&toks[alias].token)?;
            reference = (toks[alias].start, toks[alias].end);
            target_last = alias;
        }
    }
    let table = parts.pop()?;
    let schema = parts.pop();
    let mut site = Site {
        delete: toks[i].start,
        from_end: toks[from].end,
        name: (name_start, name_end),
        schema,
        table,
        reference,
        target_end: toks[target_last].end,
        using: None,
        where_: None,
        returning: None,
        end: toks[target_last].end,
        after: toks.len(),
    };
    read_clauses(toks, target_last, &mut site)?;
    Some(site)
}

/// The clauses after the target, up to the end of the DELETE.
fn read_clauses(toks: &[Tok], target_last: usize, site: &mut Site) -> Option<()> {
    let mut depth = 0i32;
    let mut current: Option<Keyword> = None;
    let mut j = target_last + 1;
    while j < toks.len() {
        let t = &toks[j];
        match t.token {
            Token::LParen | Token::LBracket => depth += 1,
            Token::RParen | Token::RBracket if depth == 0 => break,
            Token::RParen | Token::RBracket => depth -= 1,
            Token::SemiColon if depth == 0 => break,
            _ => {}
        }
        j += 1;
        if t.is_trivia() {
            continue;
        }
        site.end = t.end;
        let keyword = [Keyword::USING, Keyword::WHERE, Keyword::RETURNING]
            .into_iter()
            .find(|&k| depth == 0 && t.is_keyword(k));
        if let Some(keyword) = keyword {
            let slot = site.clause(keyword);
            if slot.is_some() {
                return None;
            }
            *slot = Some(Clause {
                keyword_start: t.start,
                keyword_end: t.end,
                body_start: t.end,
                end: t.end,
            });
            current = Some(keyword);
        } else if let Some(Some(clause)) = current.map(|k| site.clause(k)) {
            if clause.end == clause.keyword_end {
                clause.body_start = t.start;
            }
            clause.end = t.end;
        } else {
            // Something between the target and the first clause.
            return None;
        }
    }
    site.after = j;
    Some(())
}

impl Site {
    fn clause(&mut self, keyword: Keyword) -> &mut Option<Clause> {
        match keyword {
            Keyword::USING => &mut self.using,
            Keyword::WHERE => &mut self.where_,
            _ => &mut self.returning,
        }
    }
}

/// A word that can be an alias right after the table name: anything but
/// the clause keywords.
fn is_alias(t: &Tok) -> bool {
    matches!(&t.token, Token::Word(_))
        && ![Keyword::USING, Keyword::WHERE, Keyword::RETURNING]
            .iter()
            .any(|&k| t.is_keyword(k))
}

/// An identifier as PostgreSQL reads it: unquoted names fold to lower case.
fn folded(token: &Token) -> Option<String> {
    match token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_lowercase()),
        Token::Word(w) if w.quote_style == Some('"') => Some(w.value.clone()),
        _ => None,
    }
}

/// The folded parts of a name written as sqlparser identifiers.
pub fn fold_ident(value: &str, quote_style: Option<char>) -> String {
    match quote_style {
        None => value.to_lowercase(),
        Some(_) => value.to_owned(),
    }
}
