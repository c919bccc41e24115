//! The rewrite engine: pure functions from SQL text and rules to a
//! decision. No sockets, no IO.
//!
//! - `scan`: the fast path; most statements cannot destroy rows and go
//!   through after one cheap pass over their text.
//! - `analyze`: sqlparser finds DELETE, TRUNCATE, DROP and MERGE wherever
//!   they stand, `statement` by statement; `site` and `delete` turn a
//!   DELETE into the statement that soft-deletes or journals it; `refusal`
//!   turns what is refused into a statement that fails inside PostgreSQL;
//!   `fallback` decides for what the parser cannot read; `words` finds
//!   where words begin and end for both; `hide` restricts every reference
//!   to a soft table with `hide` to its live rows (`clauses` finds an
//!   UPDATE's WHERE or a MERGE's ON for it).
//! - `engine`: the per-proxy cache of decisions.

mod analyze;
mod clauses;
mod delete;
mod engine;
mod fallback;
mod hide;
#[doc(hidden)]
pub mod invariants;
mod lex;
mod names;
mod prepared;
mod refusal;
pub(crate) mod scan;
pub mod setting;
mod shape;
mod shaped;
mod site;
mod sql;
mod statement;
mod template;
mod words;

#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use engine::{Engine, Lookup, View, fresh_nonce};
pub use names::Names;
pub use prepared::{PreparedUse, may_use as may_use_prepared, uses as prepared_uses};
pub use refusal::{Reason, Refusal, sqlstate};
pub use scan::{Lexing, Suspects, scan, scan_with};
pub use shape::{Observed, Shape};
pub use sql::literal;
pub use template::{Hole, SessionInfo, Template};

/// What happens to one SQL text.
#[derive(Clone, Debug)]
pub enum Decision {
    /// Forward it untouched.
    Pass,
    /// Send this instead.
    Rewrite(Arc<Rewrite>),
}

/// A rewritten text.
#[derive(Clone, Debug)]
pub struct Rewrite {
    pub template: Template,
    /// How each top-level statement's result is translated back, in order
    /// (`None`: as it comes).
    pub shapes: Vec<Option<Shape>>,
    /// SQL-level `PREPARE name AS DELETE ...` rewritten: the (folded) name,
    /// and how what `EXECUTE name` returns is translated back.
    pub prepared: Vec<(String, Shape)>,
    /// What was done, statement by statement.
    pub actions: Vec<Action>,
}

impl Rewrite {
    /// The shape of a text holding one statement (a Parse's).
    pub fn shape(&self) -> Option<&Shape> {
        match self.shapes.as_slice() {
            [shape] => shape.as_ref(),
            _ => None,
        }
    }
}

/// What the engine did to one DELETE or statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// DELETE on a soft table: an UPDATE of the marker, journaled by the
    /// guard (which also enforces the limit).
    SoftDelete {
        table: String,
        limit: Option<u64>,
    },
    /// DELETE on a journal table: sent as it is, journaled by the guard.
    JournalDelete {
        table: String,
        limit: Option<u64>,
    },
    /// An allowed DELETE, rewritten only to enforce the row limit.
    LimitOnly {
        table: String,
        limit: u64,
    },
    /// A DELETE on a block table: sent as it is, refused by the guard if
    /// it removes any row.
    BlockUnlessEmpty {
        table: String,
    },
    Refuse(Refusal),
    /// A reference to a soft table with `hide`: restricted to its live
    /// rows where it stands.
    Hide {
        table: String,
    },
    /// What would have been done, on a table whose rule is only observed
    /// (`mode: observe`): the statement runs as the client sent it.
    Would(Would),
}

/// What softdel would have done to a statement it lets through unchanged
/// because the rule that concerns it is observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Would {
    /// A DELETE on a soft, journal or block table (`mode` says which): the
    /// guard, installed from the same rules, journals the rows it removes
    /// as what softdel would have done with them.
    Guard { table: String, mode: &'static str },
    /// A top-level DELETE on an allowed table with a row limit: the proxy
    /// compares the rows it removed (its tag) with the limit.
    Limit { table: String, limit: u64 },
    /// A refusal decided before the statement runs (TRUNCATE, DROP, a
    /// statement softdel cannot analyse, a DELETE it cannot count).
    Refuse(Refusal),
}

impl Action {
    /// Whether the action only observes (the statement is not changed for
    /// it).
    pub fn observes(&self) -> bool {
        matches!(self, Action::Would(_))
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let limit =
            |l: &Option<u64>| l.map_or("no row limit".to_owned(), |l| format!("at most {l} rows"));
        match self {
            Action::SoftDelete { table, limit: l } => write!(
                f,
                "soft delete on {table} (an UPDATE of its marker), journaled by the guard, {}",
                limit(l)
            ),
            Action::JournalDelete { table, limit: l } => {
                write!(f, "delete on {table}, journaled by the guard, {}", limit(l))
            }
            Action::LimitOnly { table, limit } => {
                write!(f, "delete on {table}, at most {limit} rows")
            }
            Action::BlockUnlessEmpty { table } => write!(
                f,
                "delete on block table {table}: refused by the guard ({}) if it would remove any row",
                sqlstate::BLOCKED
            ),
            Action::Hide { table } => write!(f, "{table}: live rows only (hide)"),
            Action::Would(would) => write!(f, "observed, sent as it is: {would}"),
            Action::Refuse(r) => write!(
                f,
                "refused ({}, {}): {}",
                r.reason.as_str(),
                r.sqlstate(),
                r.message()
            ),
        }
    }
}

impl std::fmt::Display for Would {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Would::Guard { table, mode } => write!(
                f,
                "delete on {mode} table {table}: the guard journals what it removes as what softdel would have done"
            ),
            Would::Limit { table, limit } => write!(
                f,
                "delete on {table}: would be refused ({}) if it removes more than {limit} rows",
                sqlstate::ROW_LIMIT
            ),
            Would::Refuse(r) => write!(
                f,
                "would be refused ({}, {}): {}",
                r.reason.as_str(),
                r.sqlstate(),
                r.message()
            ),
        }
    }
}

/// The name of the column that carries a rewritten DELETE's row count.
pub fn count_column(nonce: &str) -> String {
    format!("softdel_count_{nonce}")
}

/// The name of the column that carries each row's image; the proxy drops
/// it from what the client sees.
pub fn image_column(nonce: &str) -> String {
    format!("softdel_image_{nonce}")
}

/// The name of the column a DELETE ... RETURNING adds after the image:
/// its journal entry (`op_id action table`), for the proxy's log line.
pub fn op_column(nonce: &str) -> String {
    format!("softdel_op_{nonce}")
}
