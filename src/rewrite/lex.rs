//! Tokens with byte offsets, from sqlparser's tokenizer.
//!
//! sqlparser reports token positions as line and column (in characters);
//! splicing a rewrite into the client's text needs byte offsets. The
//! tokens cover the text without gaps (whitespace and comments are tokens
//! too), so one pass over the characters converts them all.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace};

/// One token of the client's text.
#[derive(Clone, Debug)]
pub struct Tok {
    pub token: Token,
    /// Byte offsets in the text.
    pub start: usize,
    pub end: usize,
}

impl Tok {
    /// Whitespace and comments.
    pub fn is_trivia(&self) -> bool {
        matches!(self.token, Token::Whitespace(_))
    }

    /// An unquoted word that is this keyword.
    pub fn is_keyword(&self, keyword: Keyword) -> bool {
        matches!(&self.token, Token::Word(w) if w.quote_style.is_none() && w.keyword == keyword)
    }
}

/// The tokens of `sql`, and the same tokens in sqlparser's form (for the
/// parser), or `None` when the tokenizer rejects the text.
pub fn tokenize(sql: &str) -> Option<(Vec<Tok>, Vec<TokenWithSpan>)> {
    let spanned = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    let mut toks: Vec<Tok> = Vec::with_capacity(spanned.len());
    let mut cursor = Cursor::new(sql);
    for t in &spanned {
        let start = cursor.seek(t.span.start.line, t.span.start.column)?;
        if let Some(prev) = toks.last_mut() {
            prev.end = start;
        }
        toks.push(Tok {
            token: t.token.clone(),
            start,
            end: sql.len(),
        });
    }
    Some((toks, spanned))
}

/// Walks the text's characters, keeping line, column and byte offset.
struct Cursor<'a> {
    chars: std::str::CharIndices<'a>,
    len: usize,
    line: u64,
    column: u64,
    byte: usize,
}

impl<'a> Cursor<'a> {
    fn new(sql: &'a str) -> Cursor<'a> {
        Cursor {
            chars: sql.char_indices(),
            len: sql.len(),
            line: 1,
            column: 1,
            byte: 0,
        }
    }

    /// The byte offset of a line and column at or after the cursor.
    fn seek(&mut self, line: u64, column: u64) -> Option<usize> {
        while (self.line, self.column) < (line, column) {
            let (_, c) = self.chars.next()?;
            self.byte += c.len_utf8();
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        ((self.line, self.column) == (line, column) && self.byte <= self.len).then_some(self.byte)
    }
}

/// Replaces a token by a space for the parser, keeping every other
/// token's position.
pub fn blank(tokens: &mut [TokenWithSpan], index: usize) {
    tokens[index].token = Token::Whitespace(Whitespace::Space);
}

/// The index of the next token after `i` that is not whitespace or a
/// comment.
pub fn next_significant(toks: &[Tok], i: usize) -> Option<usize> {
    (i + 1..toks.len()).find(|&j| !toks[j].is_trivia())
}

/// Top-level statements: index ranges of tokens between `;` at paren depth
/// zero, without the empty ones (PostgreSQL ignores those too).
pub fn statements(toks: &[Tok]) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        match t.token {
            Token::LParen | Token::LBracket => depth += 1,
            Token::RParen | Token::RBracket => depth -= 1,
            Token::SemiColon if depth == 0 => {
                push_statement(toks, start..i, &mut ranges);
                start = i + 1;
            }
            _ => {}
        }
    }
    push_statement(toks, start..toks.len(), &mut ranges);
    ranges
}

fn push_statement(
    toks: &[Tok],
    range: std::ops::Range<usize>,
    ranges: &mut Vec<std::ops::Range<usize>>,
) {
    if toks[range.clone()].iter().any(|t| !t.is_trivia()) {
        ranges.push(range);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_bytes_across_lines_and_wide_characters() {
        let sql = "SELECT 'é'\n  , \"ü\" -- ß\nFROM t";
        let (toks, _) = tokenize(sql).unwrap();
        for t in &toks {
            assert!(sql.is_char_boundary(t.start) && sql.is_char_boundary(t.end));
        }
        let text: String = toks.iter().map(|t| &sql[t.start..t.end]).collect();
        assert_eq!(text, sql);
        let words: Vec<&str> = toks
            .iter()
            .filter(|t| !t.is_trivia())
            .map(|t| &sql[t.start..t.end])
            .collect();
        assert_eq!(words, ["SELECT", "'é'", ",", "\"ü\"", "FROM", "t"]);
    }

    #[test]
    fn statements_split_at_top_level_semicolons_only() {
        let sql = "SELECT 1; ; SELECT (1;2) ;\n-- c\n";
        let (toks, _) = tokenize(sql).unwrap();
        let spans: Vec<&str> = statements(&toks)
            .into_iter()
            .map(|r| sql[toks[r.start].start..toks[r.end - 1].end].trim())
            .collect();
        assert_eq!(spans, ["SELECT 1", "SELECT (1;2)"]);
    }
}
