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
/// inside it is interpreted. The tag is one the text does not contain.
pub fn dollar_literal(text: &str) -> String {
    let mut tag = String::from("$softdel$");
    let mut n = 0u32;
    while text.contains(&tag) {
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
