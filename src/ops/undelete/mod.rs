//! `softdel undelete`: brings journaled rows back, in one transaction.
//!
//! Soft-deleted rows come back by clearing their mark, hard-deleted ones by
//! inserting their images, parents before children. A row that cannot
//! simply come back is a conflict: reported, never overwritten, and without
//! `--force` nothing is restored at all. The undo is journaled, and the
//! journal rows it restored remember it, so a second run restores nothing.
//!
//! - `journal_rows`: the selected operations' journal rows, by table;
//! - `plan`: each row held against the table as it is now;
//! - `apply`: the marks cleared, the images re-inserted, the undo journaled;
//! - `images`: the journal's images as rows of their table, in SQL.

mod apply;
mod images;
mod journal_rows;
pub(crate) mod plan;

use std::collections::BTreeSet;

use tokio_postgres::{Client, Transaction};

pub(crate) use apply::{apply, before_commit, check_deferred};
pub(crate) use images::key_match;
pub(crate) use plan::Planned;

use super::compare::Conflict;
use super::select::{self, Removal, Selection};
use super::{OpsError, failed};
use crate::journal::{self, require_current};

#[derive(Clone, Debug)]
pub struct Options {
    pub selection: Selection,
    /// Restore what is safe despite conflicts.
    pub force: bool,
    /// Report only; change nothing.
    pub dry_run: bool,
    /// The command as the operator ran it, for the journal.
    pub command: String,
}

/// What an undelete did, or would do.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// The journaled operations selected.
    pub operations: Vec<i64>,
    /// The transactions that made them.
    pub transactions: Vec<i64>,
    pub tables: Vec<TableReport>,
    pub conflicts: Vec<RowConflict>,
    pub dry_run: bool,
    pub force: bool,
    /// Whether anything was changed (false for a dry run, for conflicts
    /// without --force, and when there was nothing left to restore).
    pub applied: bool,
    /// The journal's record of this undelete, one operation per table.
    pub journal_ids: Vec<i64>,
}

impl Report {
    pub fn restored(&self) -> usize {
        self.tables.iter().map(|t| t.restored).sum()
    }

    pub fn already_restored(&self) -> usize {
        self.tables.iter().map(|t| t.already_restored).sum()
    }

    /// Conflicts stopped it (or, for a dry run, would stop the real run):
    /// nothing was changed. A dry run answers as the real run would, so
    /// that a script rehearsing an undelete gets the same exit status.
    pub fn blocked_by_conflicts(&self) -> bool {
        !self.conflicts.is_empty() && !self.applied && !self.force
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct TableReport {
    pub table: String,
    /// `clear is_active`, `clear deleted_at` or `re-insert`.
    pub how: String,
    /// Journaled rows selected (each key counted once).
    pub rows: usize,
    /// Rows brought back (or that would be, in a dry run).
    pub restored: usize,
    pub conflicts: usize,
    /// Rows an earlier undelete already brought back.
    pub already_restored: usize,
    /// Sequences moved past the largest restored value.
    pub sequences: Vec<String>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct RowConflict {
    pub table: String,
    pub key: String,
    pub operation: i64,
    pub conflict: Conflict,
    pub description: &'static str,
    /// What --force does (or did) about it.
    pub resolution: &'static str,
}

pub async fn undelete(client: &mut Client, options: &Options) -> Result<Report, OpsError> {
    require_current(client).await?;
    if let Selection::Table { since, until, .. } = &options.selection {
        select::check_time(client, "--since", since).await?;
        if let Some(until) = until {
            select::check_time(client, "--until", until).await?;
        }
    }
    let tx = client.transaction().await?;
    allow_restore(&tx).await?;
    let removals = select::removals(&tx, &options.selection).await?;
    let mut conflicts = Vec::new();
    let mut planned = plan_removals(&tx, &removals, options.force, &mut conflicts).await?;
    let mut report = Report {
        operations: removals.iter().map(|r| r.id).collect(),
        transactions: removals
            .iter()
            .map(|r| r.txid)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        tables: Vec::new(),
        conflicts,
        dry_run: options.dry_run,
        force: options.force,
        applied: false,
        journal_ids: Vec::new(),
    };
    let stopped = !report.conflicts.is_empty() && !options.force;
    let restorable = planned.iter().any(|p| p.report.restored > 0);
    if options.dry_run || stopped || !restorable {
        report.tables = planned.into_iter().map(|p| p.report).collect();
        tx.rollback().await?;
        return Ok(report);
    }
    apply::apply(&tx, &mut planned).await?;
    report.journal_ids = apply::journal(&tx, &planned, &options.command).await?;
    let moves: Vec<(String, i64)> = planned
        .iter()
        .flat_map(|p| p.sequence_moves.iter().cloned())
        .collect();
    let moved = before_commit(&tx, &moves).await?;
    for p in &mut planned {
        p.report.sequences.retain(|s| moved.contains(s));
    }
    tx.commit().await?;
    report.applied = true;
    report.tables = planned.into_iter().map(|p| p.report).collect();
    Ok(report)
}

/// Tells the guard that the rows changed from here on are the operator's
/// own restoration, journaled by the command itself, not by the guard.
pub(crate) async fn allow_restore(tx: &Transaction<'_>) -> Result<(), OpsError> {
    journal::allow(tx, "restore").await.map_err(failed(
        "telling the guard this is a restoration (run it as the role that ran softdel init)",
    ))
}

/// The removals' journal rows held against the tables as they are now:
/// what to do with each, the conflicts added to `conflicts` (with `force`,
/// resolved as far as overwrites nothing). `apply` then does it.
pub(crate) async fn plan_removals(
    tx: &Transaction<'_>,
    removals: &[Removal],
    force: bool,
    conflicts: &mut Vec<RowConflict>,
) -> Result<Vec<Planned>, OpsError> {
    let groups = journal_rows::load_groups(tx, removals).await?;
    let mut planned = Vec::with_capacity(groups.len());
    for group in groups {
        planned.push(plan::plan(tx, group, force, conflicts).await?);
    }
    Ok(planned)
}
