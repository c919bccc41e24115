//! One changed column of one row, held against the row as it is now.
//! Pure: the values come in as this session renders them.

use serde_json::Value;

/// What reverting one column comes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It still holds what the update wrote: set it back.
    Revert,
    /// It holds what it held before the update: nothing to do.
    Already,
    /// Someone changed it since: left as it is.
    Conflict,
}

/// `now` against what the update found (`before`) and wrote (`after`).
/// What the update wrote wins a tie: an update that wrote the value it
/// found changed nothing, and setting it back changes nothing either.
pub fn classify(now: &Value, before: &Value, after: &Value) -> Verdict {
    if now == after {
        Verdict::Revert
    } else if now == before {
        Verdict::Already
    } else {
        Verdict::Conflict
    }
}

/// A value for people: numbers and strings as they are, `null`, JSON for
/// the rest.
pub fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_column_still_as_written_is_reverted() {
        assert_eq!(classify(&json!(4), &json!(3), &json!(4)), Verdict::Revert);
    }

    #[test]
    fn a_column_back_as_it_was_is_already_reverted() {
        assert_eq!(classify(&json!(3), &json!(3), &json!(4)), Verdict::Already);
        assert_eq!(
            classify(&Value::Null, &Value::Null, &json!("x")),
            Verdict::Already
        );
    }

    #[test]
    fn a_column_changed_since_is_a_conflict() {
        assert_eq!(classify(&json!(7), &json!(3), &json!(4)), Verdict::Conflict);
        assert_eq!(
            classify(&Value::Null, &json!(3), &json!(4)),
            Verdict::Conflict
        );
    }

    #[test]
    fn values_are_shown_plainly() {
        assert_eq!(shown(&json!(3)), "3");
        assert_eq!(shown(&json!("Acme")), "\"Acme\"");
        assert_eq!(shown(&Value::Null), "null");
    }
}
