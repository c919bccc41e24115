//! `softdel.show_deleted`: the statements that set or reset it. PostgreSQL
//! takes them as they are (a placeholder setting, the client sees `SET`);
//! the proxy follows them to know what the session sees, since custom
//! settings are not reported in ParameterStatus.

use sqlparser::tokenizer::Token;

use super::lex::{self, Tok};

/// The setting's name, as PostgreSQL folds it.
pub const SHOW_DELETED: &str = "softdel.show_deleted";

/// What one statement does to the setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// `SET [SESSION]`, `RESET`, `RESET ALL`, `SET ... TO DEFAULT`: the
    /// value for the session (reverted if its transaction rolls back).
    Session(bool),
    /// `SET LOCAL`: the value until the end of the transaction.
    Local(bool),
    /// `DISCARD ALL`: back to the default, whatever the transaction.
    Discard,
}

/// Whether `sql` may change the setting: it names it, or (while it is
/// on) may reset every setting. Cheap: most texts are rejected on bytes,
/// by a vectorised search for the name's `_` (memchr).
pub fn may_change(sql: &[u8], showing: bool) -> bool {
    let names = memchr::memchr_iter(b'_', sql).any(|at| {
        at.checked_sub(4)
            .and_then(|start| sql.get(start..at + 8))
            .is_some_and(|w| w.eq_ignore_ascii_case(b"show_deleted"))
    });
    names || (showing && first_word_resets(sql))
}

fn first_word_resets(sql: &[u8]) -> bool {
    let start = sql
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    let word = &sql[start..];
    ["reset", "discard"].iter().any(|w| {
        word.get(..w.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(w.as_bytes()))
    })
}

/// What the statements of `sql` do to the setting, in order, each with
/// whether the same text opened a transaction block before it
/// (`BEGIN; SET ...`).
pub fn changes(sql: &str) -> Vec<(Change, bool)> {
    let Some((toks, _)) = lex::tokenize(sql) else {
        return Vec::new();
    };
    let mut begun = false;
    let mut out = Vec::new();
    for range in lex::statements(&toks) {
        let words: Vec<String> = toks[range]
            .iter()
            .filter(|t| !t.is_trivia())
            .map(word)
            .collect();
        match words.first().map(String::as_str) {
            Some("begin" | "start") => begun = true,
            Some("commit" | "rollback" | "end" | "abort") => begun = false,
            _ => {}
        }
        out.extend(change(&words).map(|c| (c, begun)));
    }
    out
}

/// A token as the grammar below reads it: keywords and unquoted names
/// folded, strings by their value.
fn word(t: &Tok) -> String {
    match &t.token {
        Token::Word(w) if w.quote_style.is_none() => w.value.to_lowercase(),
        Token::Word(w) => w.value.clone(),
        Token::SingleQuotedString(s) => s.clone(),
        other => other.to_string(),
    }
}

fn change(words: &[String]) -> Option<Change> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["discard", "all"] => Some(Change::Discard),
        ["reset", "all"] | ["reset", "softdel", ".", "show_deleted"] => {
            Some(Change::Session(false))
        }
        ["set", "local", rest @ ..] => assignment(rest).map(Change::Local),
        ["set", "session", rest @ ..] | ["set", rest @ ..] => assignment(rest).map(Change::Session),
        _ => None,
    }
}

/// `softdel.show_deleted {=|TO} value`: whether it is on.
fn assignment(words: &[&str]) -> Option<bool> {
    match words {
        ["softdel", ".", "show_deleted", "=" | "to", value] => Some(is_on(value)),
        _ => None,
    }
}

/// PostgreSQL's boolean spellings; anything else (a placeholder takes any
/// string, `DEFAULT` too) is off.
fn is_on(value: &str) -> bool {
    matches!(
        value.to_lowercase().as_str(),
        "on" | "true" | "yes" | "1" | "t" | "y"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_reset_and_local_are_followed() {
        let cases: &[(&str, &[Change])] = &[
            ("SET softdel.show_deleted = on", &[Change::Session(true)]),
            (
                "set SOFTDEL.Show_Deleted to 'true'",
                &[Change::Session(true)],
            ),
            (
                "SET SESSION softdel.show_deleted = off",
                &[Change::Session(false)],
            ),
            (
                "SET softdel.show_deleted TO DEFAULT",
                &[Change::Session(false)],
            ),
            ("SET LOCAL softdel.show_deleted = 1", &[Change::Local(true)]),
            ("RESET softdel.show_deleted", &[Change::Session(false)]),
            ("RESET ALL", &[Change::Session(false)]),
            ("DISCARD ALL", &[Change::Discard]),
            (
                "BEGIN; SET LOCAL softdel.show_deleted = on; SELECT 1",
                &[Change::Local(true)],
            ),
            ("SET work_mem = '4MB'", &[]),
            ("SELECT 'SET softdel.show_deleted = on'", &[]),
            ("SET \"softdel.show_deleted\" = on", &[]),
        ];
        for (sql, expected) in cases {
            let found: Vec<Change> = changes(sql).into_iter().map(|(c, _)| c).collect();
            assert_eq!(found, *expected, "{sql}");
        }
        assert_eq!(
            changes("BEGIN; SET softdel.show_deleted = on"),
            [(Change::Session(true), true)]
        );
        assert_eq!(
            changes("BEGIN; COMMIT; SET softdel.show_deleted = on"),
            [(Change::Session(true), false)]
        );
    }

    #[test]
    fn most_texts_are_rejected_on_their_bytes() {
        assert!(may_change(b"SET softdel.show_deleted = on", false));
        assert!(may_change(b"set softdel.SHOW_DELETED to off", false));
        assert!(!may_change(b"SELECT * FROM orders WHERE is_deleted", false));
        assert!(!may_change(b"RESET ALL", false));
        assert!(may_change(b"  reset all", true));
        assert!(may_change(b"DISCARD ALL", true));
        assert!(!may_change(b"_", true));
        assert!(may_change(b"show_deleted", false) && may_change(b"a_b SHOW_DELETED", false));
        assert!(!may_change(b"how_deleted", false) && !may_change(b"show_delete", false));
    }
}
