//! Identifiers as PostgreSQL reads them: unquoted names fold to lower case,
//! quoted names keep their case and may contain anything ("" is a quote).

use std::fmt;

/// A table named in a rules file: `orders` (any schema) or
/// `billing.orders` (that schema, or unqualified `orders`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableName {
    pub schema: Option<String>,
    pub name: String,
}

impl TableName {
    /// Parses `name`, `schema.name`, with either part possibly quoted.
    pub fn parse(text: &str) -> Result<TableName, String> {
        let mut parts = split_qualified(text)?;
        match parts.len() {
            1 => Ok(TableName {
                schema: None,
                name: parts.remove(0),
            }),
            2 => {
                let name = parts.remove(1);
                Ok(TableName {
                    schema: Some(parts.remove(0)),
                    name,
                })
            }
            _ => Err(format!(
                "invalid table name {text:?}: expected `table` or `schema.table`"
            )),
        }
    }

    /// Whether a table written in SQL as `schema.name` (or just `name`,
    /// resolved through search_path) is this one. Both sides are already
    /// case-folded.
    pub fn matches(&self, schema: Option<&str>, name: &str) -> bool {
        self.name == name
            && match (&self.schema, schema) {
                (None, _) | (Some(_), None) => true,
                (Some(mine), Some(theirs)) => mine == theirs,
            }
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{}.", quote_if_needed(schema))?;
        }
        write!(f, "{}", quote_if_needed(&self.name))
    }
}

/// A single identifier (a column name), folded as PostgreSQL would.
pub fn parse_identifier(text: &str) -> Result<String, String> {
    let mut parts = split_qualified(text)?;
    if parts.len() != 1 {
        return Err(format!(
            "invalid column name {text:?}: expected one identifier"
        ));
    }
    Ok(parts.remove(0))
}

/// Splits on dots outside quotes, folding unquoted parts to lower case.
fn split_qualified(text: &str) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    let mut chars = text.trim().chars().peekable();
    loop {
        let part = if chars.peek() == Some(&'"') {
            chars.next();
            quoted(&mut chars)
                .ok_or_else(|| format!("unterminated quoted identifier in {text:?}"))?
        } else {
            let mut part = String::new();
            while let Some(&c) = chars.peek() {
                if c == '.' {
                    break;
                }
                part.push(c);
                chars.next();
            }
            unquoted(&part).ok_or_else(|| {
                format!(
                    "invalid identifier {part:?} in {text:?}: unquoted names are letters, digits, \
                     _ and $ (quote others, e.g. '\"Order Items\"')"
                )
            })?
        };
        if part.is_empty() {
            return Err(format!("empty identifier in {text:?}"));
        }
        parts.push(part);
        match chars.next() {
            None => return Ok(parts),
            Some('.') => {}
            Some(c) => {
                return Err(format!(
                    "unexpected {c:?} after a quoted identifier in {text:?}"
                ));
            }
        }
    }
}

fn quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
    let mut part = String::new();
    loop {
        match chars.next()? {
            '"' if chars.peek() == Some(&'"') => {
                chars.next();
                part.push('"');
            }
            '"' => return Some(part),
            c => part.push(c),
        }
    }
}

fn unquoted(part: &str) -> Option<String> {
    let mut chars = part.chars();
    let first = chars.next()?;
    let valid = (first.is_alphabetic() || first == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    valid.then(|| part.to_lowercase())
}

/// `ident` as SQL must write it: quoted unless it reads back unchanged.
pub fn quote_if_needed(ident: &str) -> String {
    let plain = unquoted(ident).is_some_and(|folded| folded == ident);
    if plain {
        ident.to_owned()
    } else {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(schema: Option<&str>, name: &str) -> TableName {
        TableName {
            schema: schema.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    #[test]
    fn names_fold_like_postgres() {
        let cases = [
            ("orders", name(None, "orders")),
            ("Orders", name(None, "orders")),
            ("billing.orders", name(Some("billing"), "orders")),
            ("\"Orders\"", name(None, "Orders")),
            (
                "\"My Schema\".\"Order \"\"Items\"\"\"",
                name(Some("My Schema"), "Order \"Items\""),
            ),
            ("Billing.\"Orders\"", name(Some("billing"), "Orders")),
            ("\"a.b\"", name(None, "a.b")),
        ];
        for (text, expected) in cases {
            assert_eq!(TableName::parse(text).as_ref(), Ok(&expected), "{text}");
        }
    }

    #[test]
    fn bad_names_are_errors() {
        for text in [
            "", "a.", ".a", "a.b.c", "\"open", "my table", "1abc", "\"\"", "\"a\"b",
        ] {
            assert!(TableName::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "orders",
            "billing.orders",
            "\"Orders\"",
            "\"My Schema\".\"x\"\"y\"",
        ] {
            let parsed = TableName::parse(text).unwrap();
            assert_eq!(TableName::parse(&parsed.to_string()).unwrap(), parsed);
        }
    }

    #[test]
    fn schema_matching() {
        let any = TableName::parse("orders").unwrap();
        let billing = TableName::parse("billing.orders").unwrap();
        assert!(any.matches(None, "orders") && any.matches(Some("shop"), "orders"));
        assert!(billing.matches(None, "orders") && billing.matches(Some("billing"), "orders"));
        assert!(!billing.matches(Some("shop"), "orders"));
        assert!(!any.matches(None, "Orders"));
    }
}
