//! Writing SQL text: literals that read back exactly, whatever the
//! client's settings.

/// A string literal. `E'...'` escapes backslashes and quotes the same way
/// whatever `standard_conforming_strings` says.
pub fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    out.push_str("E'");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A dollar-quoted literal, for long texts (the client's SQL): nothing
/// inside it is interpreted. The literal ends at the tag's first
/// occurrence, so the text must not contain the tag, nor end with all of
/// it but its last `$` (`-- $softdel` would close `$softdel$` early).
pub fn dollar_literal(text: &str) -> String {
    let mut tag = String::from("$softdel$");
    let mut n = 0u32;
    while text.contains(&tag) || text.ends_with(&tag[..tag.len() - 1]) {
        n += 1;
        tag = format!("$softdel{n}$");
    }
    format!("{tag}{text}{tag}")
}

/// Lower-case hexadecimal: safe inside any literal and any error message.
pub fn hex(text: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len() * 2);
    for b in text.bytes() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The inverse of [`hex`]; `None` for anything it did not produce.
pub fn unhex(text: &str) -> Option<String> {
    if text.len() % 2 == 1 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_what_they_must() {
        assert_eq!(literal(r"it's a \ path"), r"E'it''s a \\ path'");
        assert_eq!(dollar_literal("a $b$"), "$softdel$a $b$$softdel$");
        assert_eq!(
            dollar_literal("x $softdel$ y"),
            "$softdel1$x $softdel$ y$softdel1$"
        );
    }

    /// The text of a dollar-quoted literal as PostgreSQL reads it: up to
    /// the first occurrence of the opening tag.
    fn read_dollar_literal(literal: &str) -> &str {
        let tag_len = literal[1..].find('$').unwrap() + 2;
        let (tag, rest) = literal.split_at(tag_len);
        &rest[..rest.find(tag).unwrap()]
    }

    #[test]
    fn dollar_literals_end_where_the_text_does() {
        // A statement ending in `$softdel` (in a comment) used to close
        // the journal's literal early: the rest of the rewritten statement
        // was a syntax error.
        for text in [
            "DELETE FROM t -- $softdel",
            "x $softdel$ -- $softdel1",
            "$softdel",
            "$",
            "a$softdel$",
            "",
        ] {
            let literal = dollar_literal(text);
            assert_eq!(read_dollar_literal(&literal), text, "{literal}");
        }
        assert_eq!(
            dollar_literal("-- $softdel"),
            "$softdel1$-- $softdel$softdel1$"
        );
    }

    #[test]
    fn hex_round_trips() {
        for text in ["", "orders", "\"Ö\".x'y"] {
            assert_eq!(unhex(&hex(text)).as_deref(), Some(text));
        }
        assert_eq!(unhex("6"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("ff"), None, "not UTF-8");
    }
}
