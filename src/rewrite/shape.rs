//! How the result of a rewritten statement differs from what the client's
//! statement returns, so that the proxy can translate it back.

use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One row, one column: a row count. The client sees no rows and the
    /// tag `DELETE n`.
    Count,
    /// A DELETE ... RETURNING: the client's columns, then two the proxy
    /// drops (the row's image and the journal entry); the tag becomes
    /// `DELETE n`.
    Returning,
    /// An UPDATE standing for the client's DELETE on a soft table (named
    /// here, for the log): the same rows and description; the tag
    /// `UPDATE n` becomes `DELETE n`.
    Update(Arc<str>),
    /// A DELETE on a journal table (named here, for the log), sent as it
    /// is: the guard journals it.
    Journal(Arc<str>),
    /// A DELETE on an allowed table whose rule is only observed, sent as
    /// it is: its tag `DELETE n` is compared with the table's row limit.
    Observed { table: Arc<str>, limit: u64 },
}
