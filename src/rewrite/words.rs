//! Where words begin and end in SQL text, for the engine's edits and for
//! the fallback's search for table names.

/// Characters that continue an identifier or keyword (PostgreSQL's
/// `ident_cont`, with any non-ASCII character).
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

pub fn ends_in_word(text: &str) -> bool {
    text.chars().next_back().is_some_and(is_word_char)
}

pub fn starts_with_word(text: &str) -> bool {
    text.chars().next().is_some_and(is_word_char)
}

/// Whether `word` stands in `text` as a whole word (not inside a longer
/// identifier).
pub fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word)
        .any(|(at, _)| !ends_in_word(&text[..at]) && !starts_with_word(&text[at + word.len()..]))
}

#[cfg(test)]
mod tests {
    use super::contains_word;

    #[test]
    fn words_are_whole() {
        assert!(contains_word("delete from orders;", "orders"));
        assert!(contains_word("delete from \"orders\"", "orders"));
        assert!(contains_word("s.orders", "orders"));
        assert!(!contains_word("delete from orders_archive", "orders"));
        assert!(!contains_word("delete from preorders", "orders"));
    }
}
