//! Refusals: statements softdel will not let through, and the errors the
//! client sees for them.
//!
//! A refusal is raised inside PostgreSQL, so that the transaction is left
//! exactly as a server error leaves it (aborted in a block, rolled back
//! otherwise, the extended protocol skipping to Sync). The statement is
//! replaced by a cast that fails with a marked value (`'softdel:…'::int4`)
//! at the point the refused statement would have run; for the row limit the
//! cast sits in the rewritten statement and fails only when the count is
//! over. The proxy recognises the marker in the error (it carries a nonce
//! the client cannot know) and replaces the error with the one below.

use super::sql::{hex, literal, unhex};
use crate::text::plural;

/// Why a statement was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// DELETE on a table whose rule is `block`: refused when it would
    /// remove rows (`rows`, once counted), or whenever it cannot be counted.
    Blocked { rows: Option<u64> },
    /// TRUNCATE of a protected table.
    Truncate,
    /// DROP TABLE (or DROP SCHEMA) of a protected table.
    Drop,
    /// More rows than the table's `max_rows`.
    RowLimit { rows: u64, limit: u64 },
    /// A statement softdel cannot analyse that may destroy rows of a
    /// protected table.
    Unanalysable,
}

/// A refused statement, as reported to the client and journaled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: Reason,
    /// The table, as written in the rules or the statement.
    pub table: String,
    /// The statement as the client sent it.
    pub sql: String,
}

/// The SQLSTATEs softdel's refusals carry (class `SD`, softdel's own).
pub mod sqlstate {
    pub const BLOCKED: &str = "SD001";
    pub const ROW_LIMIT: &str = "SD002";
    pub const TRUNCATE_OR_DROP: &str = "SD003";
    pub const UNANALYSABLE: &str = "SD004";
    /// Raised by `softdel.proxy_check` where the rules protect a table the
    /// guard was never installed on.
    pub const UNGUARDED: &str = "SD005";
}

impl Reason {
    /// A short name, as in markers and metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::Blocked { .. } => "block",
            Reason::Truncate => "truncate",
            Reason::Drop => "drop",
            Reason::RowLimit { .. } => "limit",
            Reason::Unanalysable => "parse",
        }
    }

    /// The name the journal and the logs use.
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::Blocked { .. } => "blocked table",
            Reason::Truncate => "truncate",
            Reason::Drop => "drop",
            Reason::RowLimit { .. } => "row limit",
            Reason::Unanalysable => "unanalysable",
        }
    }
}

impl Refusal {
    pub fn sqlstate(&self) -> &'static str {
        match self.reason {
            Reason::Blocked { .. } => sqlstate::BLOCKED,
            Reason::RowLimit { .. } => sqlstate::ROW_LIMIT,
            Reason::Truncate | Reason::Drop => sqlstate::TRUNCATE_OR_DROP,
            Reason::Unanalysable => sqlstate::UNANALYSABLE,
        }
    }

    pub fn message(&self) -> String {
        let t = &self.table;
        match self.reason {
            Reason::Blocked { rows: None } => format!(
                "DELETE on table {t} refused: the table is protected (on_delete: block); nothing was deleted"
            ),
            Reason::Blocked { rows: Some(rows) } => format!(
                "DELETE on table {t} refused: the table is protected (on_delete: block) and the statement would remove {}; nothing was deleted",
                plural(rows, "row")
            ),
            Reason::RowLimit { rows, limit } => format!(
                "DELETE on table {t} refused: it would remove {}, over the limit of {limit}; nothing was deleted",
                plural(rows, "row")
            ),
            Reason::Truncate => format!(
                "TRUNCATE of table {t} refused: the table is protected; nothing was deleted"
            ),
            Reason::Drop => {
                format!("DROP of table {t} refused: the table is protected; nothing was deleted")
            }
            Reason::Unanalysable => format!(
                "statement refused: it may delete rows of protected table {t} and softdel cannot analyse it; nothing was changed"
            ),
        }
    }

    pub fn hint(&self) -> String {
        let t = &self.table;
        match self.reason {
            Reason::Blocked { .. } => format!(
                "Rows of {t} may not be deleted. If this delete is intended, change the rule for {t} in the rules file."
            ),
            Reason::RowLimit { limit, .. } => format!(
                "Delete at most {limit} rows per statement (in batches), or raise max_rows for {t} in the rules file."
            ),
            Reason::Truncate | Reason::Drop => format!(
                "Use DELETE, which softdel makes recoverable, or change the rule for {t} in the rules file."
            ),
            Reason::Unanalysable => "Write the delete as a plain DELETE statement, or set on_parse_error: pass in the rules file.".to_owned(),
        }
    }

    /// The marked value that carries this refusal through the server.
    pub fn marker(&self, nonce: &str) -> String {
        let (rows, limit) = match self.reason {
            Reason::RowLimit { rows, limit } => (rows.to_string(), limit.to_string()),
            Reason::Blocked { rows: Some(rows) } => (rows.to_string(), String::new()),
            _ => (String::new(), String::new()),
        };
        format!(
            "{}{}:{rows}{}",
            marker_start(nonce),
            self.reason.kind(),
            marker_tail(&limit, &self.table, &self.sql)
        )
    }

    /// A statement that fails with this refusal's marker. It fails while
    /// being parsed (the literal is converted then), so a refused Parse
    /// fails at once.
    pub fn statement(&self, nonce: &str) -> String {
        format!("SELECT {}::pg_catalog.int4", literal(&self.marker(nonce)))
    }

    /// Reads a refusal back from the text of a server error.
    pub fn from_error(message: &str, nonce: &str) -> Option<Refusal> {
        let prefix = marker_start(nonce);
        let start = message.find(&prefix)? + prefix.len();
        let rest = &message[start..];
        let rest = &rest[..rest.find('"').unwrap_or(rest.len())];
        let mut fields = rest.split(':');
        let kind = fields.next()?;
        let rows = fields.next()?;
        let limit = fields.next()?;
        let table = unhex(fields.next()?)?;
        let sql = unhex(fields.next()?)?;
        let reason = match kind {
            "block" => Reason::Blocked {
                rows: match rows {
                    "" => None,
                    rows => Some(rows.parse().ok()?),
                },
            },
            "truncate" => Reason::Truncate,
            "drop" => Reason::Drop,
            "parse" => Reason::Unanalysable,
            "limit" => Reason::RowLimit {
                rows: rows.parse().ok()?,
                limit: limit.parse().ok()?,
            },
            _ => return None,
        };
        Some(Refusal { reason, table, sql })
    }
}

/// Where a marker starts. The whole is `softdel:NONCE:KIND:ROWS:LIMIT:TABLE:SQL`,
/// the table and the statement in hex.
fn marker_start(nonce: &str) -> String {
    format!("softdel:{nonce}:")
}

/// What follows a marker's row count.
fn marker_tail(limit: &str, table: &str, sql: &str) -> String {
    format!(":{limit}:{}:{}", hex(table), hex(sql))
}

/// The row-limit check inside a rewritten statement: NULL when `count` (an
/// SQL expression) is within `limit`, an error carrying the refusal's
/// marker when it is over. (`count` is cast to text: `text || bigint` is a
/// SQL function the planner would inline, parsing it, at every planning.)
pub fn limit_check(count: &str, limit: u64, table: &str, sql: &str, nonce: &str) -> String {
    let prefix = format!("{}limit:", marker_start(nonce));
    let suffix = marker_tail(&limit.to_string(), table, sql);
    format!(
        "(CASE WHEN {count} > {limit} THEN ({} || ({count})::pg_catalog.text || {})::pg_catalog.int4 END)",
        literal(&prefix),
        literal(&suffix)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_read_back_from_the_server_error() {
        let refusal = Refusal {
            reason: Reason::Blocked { rows: None },
            table: "audit\"logs".to_owned(),
            sql: "DELETE FROM \"audit\"\"logs\" -- 'x'".to_owned(),
        };
        let error = format!(
            "invalid input syntax for type integer: \"{}\"",
            refusal.marker("abc")
        );
        assert_eq!(Refusal::from_error(&error, "abc"), Some(refusal));
        assert_eq!(Refusal::from_error(&error, "abd"), None, "wrong nonce");
    }

    #[test]
    fn row_limit_marker_is_completed_by_the_server() {
        // What the server's concatenation produces for 150 rows.
        let check = limit_check("n", 100, "orders", "DELETE FROM orders", "abc");
        assert!(check.starts_with(
            "(CASE WHEN n > 100 THEN (E'softdel:abc:limit:' || (n)::pg_catalog.text || E':100:"
        ));
        let error = format!(
            "invalid input syntax for type integer: \"softdel:abc:limit:150:100:{}:{}\"",
            hex("orders"),
            hex("DELETE FROM orders")
        );
        let refusal = Refusal::from_error(&error, "abc").unwrap();
        assert_eq!(
            refusal.reason,
            Reason::RowLimit {
                rows: 150,
                limit: 100
            }
        );
        assert!(
            refusal
                .message()
                .contains("150 rows, over the limit of 100")
        );
    }

    #[test]
    fn garbage_is_not_a_refusal() {
        for message in [
            "softdel:abc:",
            "softdel:abc:limit:x:1:00:00",
            "softdel:abc:nope::::",
            "softdel:abc:block:::zz:",
        ] {
            assert_eq!(Refusal::from_error(message, "abc"), None, "{message}");
        }
    }
}
