//! The one grammar of every duration on the command line: humantime's.
//!
//! A number and a unit (`500ms`, `30s`, `5m`, `12h`, `30d`, `2w`), several
//! of them adding up (`1h 30m`); a bare number is refused except `0`, so
//! that `--older-than 30` cannot silently mean seconds to someone who
//! meant days.

use std::time::Duration;

/// Parses `text`; the error says what was wrong, the caller names the flag.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| format!("invalid duration {text:?}: {e}"))
}

/// An age in whole seconds that fits PostgreSQL's bigint, for
/// `softdel purge --older-than`.
pub fn parse_age(text: &str) -> Result<u64, String> {
    let secs = parse_duration(text)?.as_secs();
    i64::try_from(secs)
        .map(|_| secs)
        .map_err(|_| format!("{text:?} is too long an age"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_users_write_is_understood() {
        let secs = |s: u64| Ok(Duration::from_secs(s));
        assert_eq!(parse_duration("30s"), secs(30));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), secs(120));
        assert_eq!(parse_duration("1h"), secs(3600));
        assert_eq!(parse_duration("10min"), secs(600));
        assert_eq!(parse_duration(" 1h 30m "), secs(5400));
        assert_eq!(parse_duration("0"), secs(0));
        assert_eq!(parse_age("30d"), Ok(30 * 86_400));
        assert_eq!(parse_age("12h"), Ok(12 * 3600));
        assert_eq!(parse_age("2w"), Ok(14 * 86_400));
        assert_eq!(parse_age("0s"), Ok(0));
    }

    #[test]
    fn mistakes_are_named() {
        for (text, why) in [
            ("30", "time unit needed"),
            ("3x", "unknown time unit"),
            ("soon", "expected number"),
            ("", "value was empty"),
            ("-1s", "expected number"),
            ("99999999999999999999d", "too large"),
        ] {
            let err = parse_duration(text).unwrap_err();
            assert!(
                err.contains("invalid duration") && err.contains(why),
                "{text}: {err}"
            );
        }
        let too_long = format!("{}s", u64::MAX);
        assert!(parse_age(&too_long).unwrap_err().contains("too long"));
    }
}
