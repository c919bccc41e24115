//! Wording shared by what softdel says to people: the proxy's refusals and
//! the command line's reports.

use std::fmt::Display;

/// `1 row`, `2 rows`.
pub fn plural<N: Display + PartialEq + From<u8>>(n: N, what: &str) -> String {
    if n == N::from(1) {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    use super::plural;

    #[test]
    fn one_is_singular() {
        assert_eq!(plural(1usize, "row"), "1 row");
        assert_eq!(plural(3u64, "row"), "3 rows");
        assert_eq!(plural(0usize, "conflict"), "0 conflicts");
    }
}
