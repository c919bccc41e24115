//! The guard: what softdel installs inside PostgreSQL so that every
//! destruction of a protected table's rows is journaled or refused,
//! whichever way it comes (through the proxy or straight to the database,
//! from a function, a cascade, a view, MERGE, COPY).
//!
//! - `runtime.sql`: the shared functions the triggers call (journal
//!   writing, refusals), installed with the journal by every `softdel
//!   init`; `ddl.sql`: the event triggers that refuse DDL taking the guard
//!   away (installed by `softdel init --rules` run as a superuser);
//! - [`resolve`]: a rules file held against the catalog: which tables
//!   (by oid) get which guard;
//! - [`table`]: the SQL of one table's guard (pure);
//! - [`install`]: `softdel init --rules`, bringing the installed guards in
//!   line with the rules (adds, changes, removes);
//! - [`drift`]: what `softdel check` reports of the difference.

pub mod drift;
pub mod install;
mod journaled;
pub mod resolve;
pub mod table;

pub use drift::{Drift, drift};
pub use install::{Change, InstallReport, JournalState, TableChange, describe, install};
pub use resolve::{Cascade, GuardSpec, resolve, resolve_usable};

use std::path::PathBuf;

/// The shared functions, installed (CREATE OR REPLACE) with the journal.
pub const RUNTIME: &str = include_str!("runtime.sql");

/// The DDL guard: event triggers and their functions (superuser only).
pub const DDL: &str = include_str!("ddl.sql");

/// The event triggers that refuse DDL on protected tables.
pub const EVENT_TRIGGERS: [&str; 2] = ["softdel_guard_drop", "softdel_guard_ddl"];

#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error(
        "{}: {rule}: database {database} has no such table (in any schema but the system's); nothing was installed",
        place(.file, .position)
    )]
    MissingTable {
        file: PathBuf,
        position: Option<(usize, usize)>,
        rule: String,
        database: String,
    },
    #[error("{}: {message}; nothing was installed", place(.file, .position))]
    Unusable {
        file: PathBuf,
        position: Option<(usize, usize)>,
        message: String,
    },
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    #[error(transparent)]
    Ops(#[from] crate::ops::OpsError),
    #[error("{context}: {message}; nothing was installed")]
    Failed { context: String, message: String },
    #[error("{}", crate::ops::database_message(.0))]
    Database(#[from] tokio_postgres::Error),
}

fn place(file: &std::path::Path, position: &Option<(usize, usize)>) -> String {
    match position {
        Some((line, column)) => format!("{}:{line}:{column}", file.display()),
        None => file.display().to_string(),
    }
}

impl GuardError {
    /// A database failure, with the step that hit it.
    pub(crate) fn failed(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Self {
        let context = context.into();
        move |e| GuardError::Failed {
            context,
            message: crate::ops::database_message(&e),
        }
    }
}
