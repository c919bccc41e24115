//! The hidden tables' names, as the fast path looks for them: most words
//! of a statement are not a table's name, and telling so must cost about
//! nothing, so each word is first checked against the lengths and first
//! letters of the names before any comparison.

/// Folded table names, with a filter on their lengths and first bytes.
#[derive(Clone, Debug, Default)]
pub struct Names {
    names: Vec<Box<str>>,
    /// Bit `n` set: a name is `n` bytes long (names of 64 bytes or more,
    /// beyond PostgreSQL's 63, set bit 63).
    lengths: u64,
    /// Bit `b % 128` set: a name starts with byte `b`, or its ASCII
    /// lower and upper case (a bare word matches whatever its case).
    first: u128,
    /// A name holds a `"`: only then can a quoted identifier with `""`
    /// in it be one of them.
    quotes: bool,
}

impl Names {
    /// No names: what the scan is given while deleted rows show.
    pub const EMPTY: Names = Names {
        names: Vec::new(),
        lengths: 0,
        first: 0,
        quotes: false,
    };

    pub fn new(names: impl IntoIterator<Item = Box<str>>) -> Names {
        let mut set = Names::default();
        for name in names {
            set.lengths |= length_bit(name.len());
            if let Some(&b) = name.as_bytes().first() {
                set.first |= byte_bit(b.to_ascii_lowercase()) | byte_bit(b.to_ascii_uppercase());
            }
            set.quotes |= name.contains('"');
            set.names.push(name);
        }
        set
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Whether a bare word is one of the names, whatever its ASCII case.
    pub fn word(&self, word: &[u8]) -> bool {
        self.may_be(word)
            && self
                .names
                .iter()
                .any(|name| name.as_bytes().eq_ignore_ascii_case(word))
    }

    /// Whether a quoted identifier's body (between its quotes) is one of
    /// the names, exactly; `""` inside stands for one quote.
    pub fn quoted(&self, inner: &[u8]) -> bool {
        if self.quotes && inner.contains(&b'"') {
            let unescaped = String::from_utf8_lossy(inner).replace("\"\"", "\"");
            return self.names.iter().any(|name| **name == *unescaped);
        }
        self.may_be(inner) && self.names.iter().any(|name| name.as_bytes() == inner)
    }

    fn may_be(&self, word: &[u8]) -> bool {
        match word.first() {
            Some(&b) => self.lengths & length_bit(word.len()) != 0 && self.first & byte_bit(b) != 0,
            None => false,
        }
    }
}

fn length_bit(len: usize) -> u64 {
    1 << len.min(63)
}

fn byte_bit(b: u8) -> u128 {
    1 << (b % 128)
}

#[cfg(test)]
mod tests {
    use super::Names;

    #[test]
    fn words_match_whatever_their_case_and_quoted_ones_exactly() {
        let names = Names::new(["orders".into(), "Mixed".into(), "a\"b".into(), "é".into()]);
        assert!(names.word(b"orders") && names.word(b"ORDERS") && names.word(b"mixed"));
        assert!(!names.word(b"order") && !names.word(b"orderz") && !names.word(b""));
        assert!(names.quoted(b"Mixed") && !names.quoted(b"mixed"));
        assert!(names.quoted(b"a\"\"b") && !names.quoted(b"ab"));
        assert!(names.word("é".as_bytes()) && !names.word("è".as_bytes()));
        // A byte above 127 shares its filter bit with one below: the
        // comparison still decides.
        assert!(!names.word(&[b'o' + 128, b'r', b'd', b'e', b'r', b's']));
        let long = "x".repeat(70);
        let names = Names::new([long.clone().into()]);
        assert!(names.word(long.as_bytes()) && !names.word("x".repeat(64).as_bytes()));
        assert!(Names::default().is_empty() && !Names::default().word(b"orders"));
    }
}
