//! A unique key a hidden row still holds. PostgreSQL's unique indexes see
//! soft-deleted rows, which the session does not: an INSERT (or UPDATE) of
//! a value no visible row has fails with 23505, and the client is left
//! wondering. The server's error then gets a HINT that says why it may
//! be, and what fixes it for good.

use crate::protocol::codec;
use crate::rules::{Applies, Rules};

const UNIQUE_VIOLATION: &[u8] = b"23505";

/// `frame` with the hint, when it is a unique violation on a table whose
/// deleted rows the session does not see and the server gave no hint of
/// its own; `None` otherwise.
pub fn hinted(frame: &[u8], rules: &Rules) -> Option<Vec<u8>> {
    if codec::error_field(frame, b'C')? != UNIQUE_VIOLATION
        || codec::error_field(frame, b'H').is_some()
    {
        return None;
    }
    let schema = std::str::from_utf8(codec::error_field(frame, b's')?).ok()?;
    let table = std::str::from_utf8(codec::error_field(frame, b't')?).ok()?;
    let Applies::Listed(rule) = rules.lookup(Some(schema), table) else {
        return None;
    };
    let marker = rule.mode.marker().filter(|_| rule.hide)?;
    let index = codec::error_field(frame, b'n')
        .and_then(|n| std::str::from_utf8(n).ok())
        .map_or(String::new(), |n| format!(" in place of {n}"));
    let hint = format!(
        "softdel hides the soft-deleted rows of {schema}.{table}, but this unique key still \
         counts them: the row holding the value may be a deleted one (SET softdel.show_deleted \
         = on shows it; softdel undelete brings it back). A unique index that leaves deleted \
         rows out ({where_live}) lets the value be used again: softdel check prints its DDL{index}.",
        where_live = format_args!("WHERE {}", marker.live("")),
    );
    codec::with_hint(frame, &hint)
}

#[cfg(test)]
mod tests {
    use super::hinted;
    use crate::protocol::codec;
    use crate::rules::Rules;

    fn error(fields: &[(u8, &str)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (code, value) in fields {
            body.push(*code);
            body.extend_from_slice(value.as_bytes());
            body.push(0);
        }
        body.push(0);
        codec::encode(b'E', &body)
    }

    fn unique(schema: &str, table: &str) -> Vec<u8> {
        error(&[
            (b'S', "ERROR"),
            (b'C', "23505"),
            (
                b'M',
                "duplicate key value violates unique constraint \"customers_email_key\"",
            ),
            (b's', schema),
            (b't', table),
            (b'n', "customers_email_key"),
        ])
    }

    #[test]
    fn only_unique_violations_on_hidden_tables_get_the_hint() {
        let rules = Rules::parse(
            "tables:\n  customers:\n    timestamp: deleted_at\n  shown:\n    flag: live\n    hide: false\n  refunds:\n    on_delete: journal\n",
            std::path::Path::new("r.yaml"),
        )
        .unwrap();
        let out = hinted(&unique("public", "customers"), &rules).expect("a hint");
        let hint = String::from_utf8(codec::error_field(&out, b'H').unwrap().to_vec()).unwrap();
        assert!(hint.contains("public.customers"), "{hint}");
        assert!(hint.contains("(WHERE deleted_at IS NULL)"), "{hint}");
        assert!(hint.contains("in place of customers_email_key"), "{hint}");
        assert_eq!(codec::error_field(&out, b'C'), Some(&b"23505"[..]));
        for (schema, table) in [
            ("public", "shown"),
            ("public", "refunds"),
            ("public", "other"),
        ] {
            assert!(hinted(&unique(schema, table), &rules).is_none(), "{table}");
        }
        let other = error(&[(b'C', "23503"), (b's', "public"), (b't', "customers")]);
        assert!(hinted(&other, &rules).is_none());
        let own = error(&[
            (b'C', "23505"),
            (b's', "public"),
            (b't', "customers"),
            (b'H', "mine"),
        ]);
        assert!(
            hinted(&own, &rules).is_none(),
            "the server's own hint stays"
        );
        assert!(hinted(b"E\0\0\0\x04", &rules).is_none());
    }
}
