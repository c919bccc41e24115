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
    /// A top-level DELETE under an observed rule, sent as it is: its tag
    /// `DELETE n` says whether softdel would have refused it (more than
    /// `limit` rows; any row of a block table).
    Observed(Arc<Observed>),
}

/// What the tag of an observed DELETE is held against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// The table as the statement names it.
    pub table: Arc<str>,
    /// A block table: any row would have been refused.
    pub blocked: bool,
    pub limit: u64,
    /// The guard journals the statement itself (a soft, journal or block
    /// table); the proxy only counts and notifies.
    pub guarded: bool,
}
