//! The fast path: does this SQL text contain a keyword that can destroy
//! rows? Most statements do not, and deciding that must cost far less than
//! parsing them.
//!
//! The scan reads tokens the way PostgreSQL's lexer delimits them (strings,
//! escape strings, quoted identifiers, dollar quotes, nested block
//! comments, line comments) and looks at bare words only. It errs towards
//! "suspect": a false alarm costs a parse, a miss would let a DELETE
//! through unexamined.

use super::names::Names;

/// Keywords that can destroy rows, as found in one SQL text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Suspects {
    pub delete: bool,
    pub truncate: bool,
    pub drop: bool,
    /// One of them inside a dollar-quoted body (a DO block or a function
    /// that may run it later).
    pub in_body: bool,
    /// A bare word or quoted identifier that is a hidden table's name
    /// (`scan_with`): the text may read a table whose deleted rows are
    /// hidden.
    pub hidden: bool,
}

impl Suspects {
    /// A keyword that can destroy rows.
    pub fn any(self) -> bool {
        self.delete || self.truncate || self.drop || self.in_body
    }

    /// Whether the engine must parse the text: it may destroy rows, or
    /// read a hidden table.
    pub fn worth_parsing(self) -> bool {
        self.any() || self.hidden
    }
}

/// How string literals are read: with `standard_conforming_strings` off
/// (the server reports it in a ParameterStatus), a backslash escapes the
/// next character in every string, not only in `E'...'`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lexing {
    pub standard_conforming_strings: bool,
}

impl Default for Lexing {
    fn default() -> Lexing {
        Lexing {
            standard_conforming_strings: true,
        }
    }
}

/// Scans `sql` for keywords that can destroy rows.
pub fn scan(sql: &str, lexing: Lexing) -> Suspects {
    scan_with(sql, lexing, &Names::default())
}

/// Scans `sql` for keywords that can destroy rows and for the names of
/// hidden tables (folded, as rules hold them). A bare word matches a name
/// whatever its ASCII case (a false alarm only costs a parse), a quoted
/// identifier exactly.
pub fn scan_with(sql: &str, lexing: Lexing, hidden: &Names) -> Suspects {
    if hidden.is_empty() && !may_name_keyword(sql.as_bytes()) {
        return Suspects::default();
    }
    scan_tokens(sql.as_bytes(), lexing, hidden)
}

/// `scan_with`, token by token.
fn scan_tokens(bytes: &[u8], lexing: Lexing, hidden: &Names) -> Suspects {
    let mut suspects = Suspects::default();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i = match b {
            b'-' if bytes.get(i + 1) == Some(&b'-') => skip_line(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => skip_block_comment(bytes, i),
            b'\'' => skip_string(bytes, i + 1, !lexing.standard_conforming_strings),
            b'"' => {
                let end = skip_quoted_identifier(bytes, i + 1);
                if !suspects.hidden && !hidden.is_empty() {
                    let inner = &bytes[i + 1..end.saturating_sub(1).max(i + 1)];
                    suspects.hidden = hidden.quoted(inner);
                }
                end
            }
            b'$' => match dollar_tag(bytes, i) {
                Some(tag_len) => {
                    let (end, body) = dollar_body(bytes, i, tag_len);
                    suspects.in_body |= keywords_in(body).any();
                    end
                }
                None => i + 1,
            },
            _ if is_word_start(b) => {
                let end = word_end(bytes, i);
                let word = &bytes[i..end];
                // E'...' is an escape string: backslashes escape.
                if word.eq_ignore_ascii_case(b"e") && bytes.get(end) == Some(&b'\'') {
                    skip_string(bytes, end + 1, true)
                } else {
                    mark(&mut suspects, word);
                    suspects.hidden = suspects.hidden || hidden.word(word);
                    end
                }
            }
            _ => i + 1,
        };
    }
    suspects
}

/// A number or a plain string literal of a text (`'...'`, also after a
/// type name or `B`/`X`/`N`/`U&`; not `E'...'` nor dollar quotes), by
/// byte range: what `shaped` lifts out of a text.
pub fn literals(sql: &str, lexing: Lexing) -> Vec<std::ops::Range<usize>> {
    let bytes = sql.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i = match b {
            b'-' if bytes.get(i + 1) == Some(&b'-') => skip_line(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => skip_block_comment(bytes, i),
            b'\'' => {
                let end = skip_string(bytes, i + 1, !lexing.standard_conforming_strings);
                found.push(i..end);
                end
            }
            b'"' => skip_quoted_identifier(bytes, i + 1),
            b'$' => match dollar_tag(bytes, i) {
                Some(tag_len) => dollar_body(bytes, i, tag_len).0,
                // `$1`: a parameter, not a number.
                None => word_end(bytes, i + 1),
            },
            _ if is_word_start(b) => {
                let end = word_end(bytes, i);
                if bytes[i..end].eq_ignore_ascii_case(b"e") && bytes.get(end) == Some(&b'\'') {
                    skip_string(bytes, end + 1, true)
                } else {
                    end
                }
            }
            _ if b.is_ascii_digit()
                || (b == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                let end = number_end(bytes, i);
                found.push(i..end);
                end
            }
            _ => i + 1,
        };
    }
    found
}

/// Where a number ends, as PostgreSQL 15 reads it: digits and a point,
/// then an exponent (`e`, a sign, digits) if one follows; a letter after
/// that starts the next token (`1abc` is `1 abc`).
fn number_end(bytes: &[u8], start: usize) -> usize {
    let digits = |mut i: usize| {
        while bytes
            .get(i)
            .is_some_and(|b| b.is_ascii_digit() || *b == b'.')
        {
            i += 1;
        }
        i
    };
    let i = digits(start);
    if !matches!(bytes.get(i), Some(b'e' | b'E')) {
        return i;
    }
    let sign = usize::from(matches!(bytes.get(i + 1), Some(b'+' | b'-')));
    match bytes.get(i + 1 + sign) {
        Some(b) if b.is_ascii_digit() => digits(i + 1 + sign),
        _ => i,
    }
}

/// Whether one of the keywords `mark` looks for is anywhere in `bytes`,
/// in any ASCII case: in a word, a string, a comment, wherever. Every word
/// the scan marks is one of these, so a text without any (most texts) has
/// nothing for the scan to find but hidden names. Telling so reads eight
/// bytes at a time for the keywords' first letters and looks closer only
/// where one is, several times cheaper than telling tokens apart.
pub fn may_name_keyword(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    let mut start = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let mut found = first_letters(word);
        while found != 0 {
            let i = start + found.trailing_zeros() as usize / 8;
            if keyword_at(bytes, i) {
                return true;
            }
            found &= found - 1;
        }
        start += 8;
    }
    (start..bytes.len()).any(|i| keyword_at(bytes, i))
}

/// The bytes of `word` (eight, little-endian) that are `d`, `D`, `t` or
/// `T`, each as its top bit. Those four, and no other byte, are 0x74 once
/// bits 0x30 are set; the zero bytes of the difference are found without
/// a carry from one byte to the next (bit tricks after Hacker's Delight).
fn first_letters(word: u64) -> u64 {
    const EACH: u64 = 0x0101_0101_0101_0101;
    let diff = (word | (0x30 * EACH)) ^ (0x74 * EACH);
    let low = 0x7f * EACH;
    !(((diff & low) + low) | diff | low)
}

/// Whether a keyword `mark` looks for starts at `i`, in any ASCII case.
fn keyword_at(bytes: &[u8], i: usize) -> bool {
    let is = |word: &[u8]| {
        bytes
            .get(i..i + word.len())
            .is_some_and(|b| b.eq_ignore_ascii_case(word))
    };
    // `| 0x20` folds an ASCII capital to its small letter.
    match bytes[i] | 0x20 {
        b'd' => is(b"delete") || is(b"drop"),
        b't' => is(b"truncate"),
        _ => false,
    }
}

fn mark(suspects: &mut Suspects, word: &[u8]) {
    if word.len() < 4 || word.len() > 8 {
        return;
    }
    suspects.delete |= word.eq_ignore_ascii_case(b"delete");
    suspects.truncate |= word.eq_ignore_ascii_case(b"truncate");
    suspects.drop |= word.eq_ignore_ascii_case(b"drop");
}

/// Keywords anywhere in a body, as bare words (the body's own strings and
/// comments are not told apart: a false alarm only costs a parse).
fn keywords_in(body: &[u8]) -> Suspects {
    let mut suspects = Suspects::default();
    let mut i = 0;
    while i < body.len() {
        if is_word_start(body[i]) {
            let end = word_end(body, i);
            mark(&mut suspects, &body[i..end]);
            i = end;
        } else {
            i += 1;
        }
    }
    suspects
}

/// Identifier characters: letters, digits, `_`, `$`, and any non-ASCII
/// byte (PostgreSQL accepts non-ASCII letters in identifiers).
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn word_end(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|&b| !is_word_byte(b))
        .map_or(bytes.len(), |n| start + n)
}

fn skip_line(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map_or(bytes.len(), |n| start + n + 1)
}

/// Block comments nest in PostgreSQL.
fn skip_block_comment(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

/// From just after an opening quote to just after the closing one; `''`
/// is a quote, and with `backslash` so is `\'`.
fn skip_string(bytes: &[u8], mut i: usize, backslash: bool) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if backslash => i += 2,
            b'\'' if bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

fn skip_quoted_identifier(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'"' if bytes.get(i + 1) == Some(&b'"') => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The length of a dollar-quote tag starting at `start` (`$$` or `$tag$`),
/// if one starts there. A `$` inside a word (`a$b`) or before digits (`$1`)
/// is not one; the caller only gets here outside words.
fn dollar_tag(bytes: &[u8], start: usize) -> Option<usize> {
    let rest = &bytes[start + 1..];
    let name_len = rest
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80))
        .unwrap_or(rest.len());
    let starts_with_digit = rest.first().is_some_and(u8::is_ascii_digit);
    (rest.get(name_len) == Some(&b'$') && !starts_with_digit).then_some(name_len + 2)
}

/// The end of a dollar-quoted string and its body.
fn dollar_body(bytes: &[u8], start: usize, tag_len: usize) -> (usize, &[u8]) {
    let tag = &bytes[start..start + tag_len];
    let body_start = start + tag_len;
    match bytes[body_start..]
        .windows(tag_len)
        .position(|window| window == tag)
    {
        Some(n) => (body_start + n + tag_len, &bytes[body_start..body_start + n]),
        None => (bytes.len(), &bytes[body_start..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(sql: &str) -> Suspects {
        scan(sql, Lexing::default())
    }

    const NONE: Suspects = Suspects {
        delete: false,
        truncate: false,
        drop: false,
        in_body: false,
        hidden: false,
    };
    const DELETE: Suspects = Suspects {
        delete: true,
        ..NONE
    };

    #[test]
    fn statements_that_destroy_rows_are_suspects() {
        let cases: &[(&str, Suspects)] = &[
            ("DELETE FROM orders", DELETE),
            ("delete from orders where id = $1", DELETE),
            ("  DeLeTe\nFROM ONLY orders *", DELETE),
            (
                "WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d",
                DELETE,
            ),
            ("SELECT 1; DELETE FROM orders", DELETE),
            ("PREPARE p AS DELETE FROM orders WHERE id = $1", DELETE),
            ("/* app:web */ DELETE FROM orders", DELETE),
            ("SELECT 'x''y'; DELETE FROM t", DELETE),
            ("SELECT $$a$$; DELETE FROM t", DELETE),
            ("SELECT E'\\''; DELETE FROM t", DELETE),
            ("SELECT \"a\"\"b\"; DELETE FROM t", DELETE),
            (
                "SELECT 1 /* /* nested */ still comment */; DELETE FROM t",
                DELETE,
            ),
            (
                "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
                DELETE,
            ),
            (
                "TRUNCATE orders",
                Suspects {
                    truncate: true,
                    ..NONE
                },
            ),
            ("DROP TABLE orders", Suspects { drop: true, ..NONE }),
            ("DROP SCHEMA shop CASCADE", Suspects { drop: true, ..NONE }),
            (
                "DO $$ BEGIN DELETE FROM orders; END $$",
                Suspects {
                    in_body: true,
                    ..NONE
                },
            ),
            (
                "CREATE FUNCTION f() RETURNS void AS $fn$ TRUNCATE orders $fn$ LANGUAGE sql",
                Suspects {
                    in_body: true,
                    ..NONE
                },
            ),
            // An unterminated string or comment hides nothing from the
            // server either (it is a syntax error there).
            ("DELETE FROM t WHERE a = 'unterminated", DELETE),
        ];
        for &(sql, expected) in cases {
            assert_eq!(found(sql), expected, "{sql}");
        }
    }

    #[test]
    fn other_statements_are_not() {
        for sql in [
            "SELECT * FROM orders",
            "SELECT 'DELETE FROM orders'",
            "SELECT E'it\\'s DELETE'",
            "SELECT \"delete\" FROM t",
            "-- DELETE FROM orders\nSELECT 1",
            "/* DELETE FROM orders */ SELECT 1",
            "/* outer /* DELETE */ DELETE */ SELECT 1",
            "SELECT deleted, is_deleted, undelete, dropped, truncated FROM t",
            "UPDATE orders SET is_active = false WHERE id = $1",
            "INSERT INTO log (action) VALUES ('delete')",
            "SELECT $tag$ DROP TABLE x $tag$::text",
            "SELECT a$delete FROM t",
            "",
        ] {
            let suspects = found(sql);
            // A quoted body is only examined for what it could run.
            if sql.contains("$tag$") {
                assert!(!suspects.delete && !suspects.drop, "{sql}: {suspects:?}");
            } else {
                assert_eq!(suspects, NONE, "{sql}");
            }
        }
    }

    #[test]
    fn names_of_hidden_tables_are_found_as_words_and_quoted_identifiers() {
        let hidden = Names::new(["orders".into(), "Mixed".into(), "a\"b".into()]);
        let hides = |sql: &str| scan_with(sql, Lexing::default(), &hidden).hidden;
        for sql in [
            "SELECT * FROM orders",
            "select * from ORDERS o",
            "SELECT * FROM shop.orders",
            "SELECT * FROM \"orders\"",
            "SELECT * FROM \"Mixed\"",
            "SELECT * FROM \"a\"\"b\"",
            "SELECT 1; SELECT * FROM x JOIN orders USING (id)",
        ] {
            assert!(hides(sql), "{sql}");
        }
        for sql in [
            "SELECT * FROM customers",
            "SELECT 'orders'",
            "SELECT * FROM orders_archive",
            "-- orders\nSELECT 1",
            "SELECT * FROM \"Orders\"",
            "SELECT * FROM \"mixed\"",
            "SELECT $$ orders $$",
        ] {
            assert!(!hides(sql), "{sql}");
        }
    }

    #[test]
    fn backslashes_follow_standard_conforming_strings() {
        // With standard_conforming_strings on, '\' is a whole string and
        // the DELETE after it runs; off, the quote is escaped and the
        // string goes on past the DELETE.
        let sql = "SELECT '\\'; DELETE FROM t; --'";
        assert!(found(sql).delete);
        let off = Lexing {
            standard_conforming_strings: false,
        };
        assert!(!scan(sql, off).delete);
        let sql = "SELECT '\\'' DELETE FROM t; -- '";
        assert!(
            scan(sql, off).delete,
            "off: the string ends at the third quote"
        );
        assert!(!found(sql).delete, "on: '' is a quote inside the string");
    }

    #[test]
    fn texts_without_a_keyword_are_passed_as_the_whole_scan_would() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        // Pieces that make keywords, near misses, and the tokens that
        // hide them (strings, comments, quoted names, dollar quotes).
        let pieces: &[&str] = &[
            "DELETE", "delete", "DeLeTe", "drop", "DROP", "truncate", "TRUNCATE", "dele", "te",
            "dro", "p", "trunc", "ate", "d", "t", " ", "'", "\"", "$$", "$x$", "--", "\n", "/*",
            "*/", "E'", "\\", "_", ";", "x", "é",
        ];
        for _ in 0..100_000 {
            let len = (state % 12) as usize;
            let mut text = String::new();
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(pieces[(state % pieces.len() as u64) as usize]);
            }
            for lexing in [
                Lexing::default(),
                Lexing {
                    standard_conforming_strings: false,
                },
            ] {
                let whole = scan_tokens(text.as_bytes(), lexing, &Names::EMPTY);
                assert_eq!(scan(&text, lexing), whole, "{text:?}");
                if !may_name_keyword(text.as_bytes()) {
                    assert_eq!(whole, NONE, "{text:?}");
                }
            }
        }
        assert!(may_name_keyword(b"SELECT 1; DrOp TABLE t") && may_name_keyword(b"'truncate'"));
        assert!(!may_name_keyword(
            b"SELECT abalance FROM pgbench_accounts WHERE aid = 1"
        ));
        assert!(!may_name_keyword(b"dele") && !may_name_keyword(b"dro") && !may_name_keyword(b""));
    }

    #[test]
    fn first_letters_are_found_at_every_place_of_a_chunk_and_nothing_else_is() {
        for b in 0..=u8::MAX {
            for place in 0..8 {
                let mut chunk = [b'x'; 8];
                chunk[place] = b;
                let expected = if b"dDtT".contains(&b) {
                    0x80 << (8 * place)
                } else {
                    0
                };
                assert_eq!(
                    first_letters(u64::from_le_bytes(chunk)),
                    expected,
                    "{b} at {place}"
                );
            }
        }
        let all = u64::from_le_bytes(*b"dDtTdDtT");
        assert_eq!(first_letters(all), 0x8080_8080_8080_8080);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let alphabet = b"'\"$-/*\\eE delt;ruanc\n0_";
        for _ in 0..50_000 {
            let len = (state % 24) as usize;
            let text: String = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize] as char
                })
                .collect();
            let _ = found(&text);
        }
    }
}
