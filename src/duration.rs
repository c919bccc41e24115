//! The one grammar for durations, on every flag that takes one: a whole
//! number and a unit, `ms`, `s`, `m` (or `min`), `h`, `d` or `w`: `500ms`,
//! `30s`, `5m`, `1h`, `30d`, `2w`. A bare number is seconds where a flag
//! allows it (the proxy's timeouts); purge's age requires the unit, since
//! a number read in the wrong unit deletes the wrong rows.

use std::time::Duration;

/// Parses a duration; `bare_seconds` allows a number without a unit.
pub fn parse(text: &str, bare_seconds: bool) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| {
        format!("invalid duration {text:?}: expected a whole number and a unit, e.g. 500ms, 30s, 5m, 1h, 30d, 2w")
    })?;
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "" if bare_seconds => 1_000,
        "" => {
            return Err(format!(
                "{text:?} has no unit: write it as e.g. 45s, 90m, 12h, 30d or 2w"
            ));
        }
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        other => {
            return Err(format!(
                "invalid duration unit {other:?} in {text:?}: use ms, s, m, h, d or w"
            ));
        }
    };
    number
        .checked_mul(millis_per_unit)
        .filter(|&millis| millis / 1_000 <= i64::MAX as u64)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("duration {text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse;
    use std::time::Duration;

    #[test]
    fn one_grammar() {
        let secs = Duration::from_secs;
        for (text, want) in [
            ("500ms", Duration::from_millis(500)),
            ("30s", secs(30)),
            ("5m", secs(300)),
            ("5min", secs(300)),
            ("1h", secs(3600)),
            ("30d", secs(30 * 86_400)),
            ("2w", secs(14 * 86_400)),
            ("0s", secs(0)),
        ] {
            assert_eq!(parse(text, false), Ok(want), "{text}");
            assert_eq!(parse(text, true), Ok(want), "{text}");
        }
        assert_eq!(parse("30", true), Ok(secs(30)));
        assert!(parse("30", false).unwrap_err().contains("no unit"));
        for bad in [
            "",
            "s",
            "-1s",
            "1.5s",
            "3 weeks",
            "3y",
            "99999999999999999999h",
        ] {
            assert!(parse(bad, true).is_err(), "{bad}");
        }
    }
}
