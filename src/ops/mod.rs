//! Operator commands that work on a database and its journal: undelete,
//! purge and check. Each runs in one transaction on the operator's own
//! connection (not through the proxy): everything or nothing.

pub mod catalog;
pub mod check;
mod compare;
pub mod now;
pub mod purge;
mod select;
pub mod tree;
pub mod undelete;
pub mod undo;

pub use compare::RowState;
pub use select::{Selection, check_time};

use crate::journal::{Action, JournalError};

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{}", database_message(.0))]
    Database(#[from] tokio_postgres::Error),
    #[error("there is no operation {0} in the journal (see `softdel log`)")]
    UnknownOperation(i64),
    #[error(
        "operation {id} is \"{action}\", not a soft or journaled delete: it has no rows to undelete"
    )]
    NotRestorable { id: i64, action: Action },
    #[error(
        "operation {id} is \"{action}\": softdel undo reverts deletes (soft_delete, journal_delete, hard_delete) and updates, not that"
    )]
    NotUndoable { id: i64, action: Action },
    #[error(
        "journal row {row} of operation {op} is corrupt: {reason}, not {{\"key\": {{..}}, \"before\": {{..}}, \"after\": {{..}}}}; nothing was changed"
    )]
    CorruptUpdate { row: i64, op: i64, reason: String },
    #[error("{0}")]
    NothingSelected(String),
    #[error(
        "operation {id} holds more than {max} journaled rows (with what it cascaded into): the console brings back at most {max} at once; run `softdel {command} {id}` instead"
    )]
    TooManyRows {
        id: i64,
        max: i64,
        command: &'static str,
    },
    #[error("{what}: {value:?} is not a time PostgreSQL can read ({reason})")]
    BadTime {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("table {0} does not exist (any more): its rows cannot be restored")]
    TableMissing(String),
    #[error(
        "table {0} has no primary key: softdel cannot tell its rows apart (add one; `softdel check` lists such tables)"
    )]
    NoPrimaryKey(String),
    #[error(
        "operation {op} soft-deleted rows of {table} but the journal does not say which column marks them (journaled by a softdel older than journal version 2)"
    )]
    NoMarker { op: i64, table: String },
    #[error(
        "column {column} of {table}, which operation {op} set to delete its rows, does not exist any more"
    )]
    MarkerMissing {
        op: i64,
        table: String,
        column: String,
    },
    #[error("{context}: {message}; nothing was changed")]
    Failed { context: String, message: String },
    /// A change that broke a foreign key (undo tries it again later).
    #[error("{context}: {message}; nothing was changed")]
    ForeignKey { context: String, message: String },
}

/// A database error with the server's own message, detail and hint, not
/// tokio-postgres's bare "db error".
pub(crate) fn database_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{}: {}", db.severity(), db.message());
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ({detail})"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!(" hint: {hint}"));
            }
            text
        }
        None => e.to_string(),
    }
}

/// Wraps a database failure in the step that hit it.
pub(crate) fn failed(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> OpsError {
    let context = context.into();
    move |e| OpsError::Failed {
        context,
        message: database_message(&e),
    }
}
