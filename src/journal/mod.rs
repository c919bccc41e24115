//! The journal: a `softdel` schema in each database behind the proxy.
//!
//! The guard's triggers write it in the client's own transaction (see
//! `guard`); this module installs it, reads it for `softdel log`, and
//! records refused statements, which roll back with the client's
//! transaction and so are written on a separate path.

mod action;
mod blocked;
mod install;
mod log;
mod record;

pub use action::{Action, UnknownAction};
pub use blocked::{BlockedAttempt, Recorder};
pub use install::{
    Installed, JournalError, SCHEMA, VERSION, allow, begin_install, install, install_in,
    installed_version, require_current,
};
pub use log::{
    JournalRow, LogFilter, Operation, operation, operation_rows, operation_rows_page, operations,
    row_image, shortened,
};
pub use record::{OwnOperation, record};
