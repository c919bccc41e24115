//! The journal: a `softdel` schema in each database behind the proxy.
//!
//! Rewritten statements write it in the client's own transaction (see
//! `rewrite::delete`); this module installs it, reads it for `softdel
//! log`, and records refused statements, which roll back with the client's
//! transaction and so are written on a separate path.

mod blocked;
mod install;
mod log;

pub use blocked::{BlockedAttempt, Recorder};
pub use install::{
    Installed, JournalError, SCHEMA, VERSION, begin_install, install, install_in,
    installed_version, require_current,
};
pub use log::{ACTIONS, JournalRow, LogFilter, Operation, operation_rows, operations};
