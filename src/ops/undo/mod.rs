//! `softdel undo`: reverts journaled operations, newest first, in one
//! transaction.
//!
//! Deletes come back as `softdel undelete` brings them back; updates are
//! reverted column by column, and only the columns they changed: a column
//! someone changed since is a conflict, reported with what the update
//! wrote and what is there now. Without `--force` a conflict stops the
//! undo and nothing changes; with it, conflicting columns stay as they
//! are and the rest is reverted. The undo is journaled as `undo`
//! operations, and the journal rows it handled remember it, so a second
//! run changes nothing.
//!
//! - `select`: which operations, and in which order;
//! - `runs`: consecutive deletes and updates, undone together;
//! - `image`: an update's journal row (key, before, after);
//! - `column`: one column against the row as it is now;
//! - `revert`: one update operation reverted;
//! - `work`, `report`: the tally, and what is said about it;
//! - `record`: the journal's record of the undo.

mod column;
mod image;
mod record;
mod report;
mod revert;
mod runs;
mod select;
mod work;

use std::collections::BTreeSet;

use tokio_postgres::{Client, Transaction};

pub use column::shown;
pub use report::{ColumnReport, INSERTS_NOTE, Report, TableReport, UndoConflict};
pub use select::{Scope, Selection};

use self::runs::Run;
use self::work::Work;
use super::OpsError;
use super::select::{Removal, check_time};
use super::undelete;
use crate::journal::require_current;

#[derive(Clone, Debug)]
pub struct Options {
    pub selection: Selection,
    /// Revert what does not conflict despite conflicts.
    pub force: bool,
    /// Report only; change nothing.
    pub dry_run: bool,
    /// The command as the operator ran it, for the journal.
    pub command: String,
}

pub async fn undo(client: &mut Client, options: &Options) -> Result<Report, OpsError> {
    require_current(client).await?;
    if let Scope::Window { since, until, .. } = &options.selection.scope {
        check_time(client, "--since", since).await?;
        if let Some(until) = until {
            check_time(client, "--until", until).await?;
        }
    }
    let tx = client.transaction().await?;
    undelete::allow_restore(&tx).await?;
    let steps = select::steps(&tx, &options.selection).await?;
    let mut report = Report {
        operations: steps.iter().rev().map(select::Step::id).collect(),
        transactions: steps
            .iter()
            .map(select::Step::txid)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        tables: Vec::new(),
        conflicts: Vec::new(),
        dry_run: options.dry_run,
        force: options.force,
        applied: false,
        journal_ids: Vec::new(),
        note: INSERTS_NOTE,
    };
    // Each run sees what the runs before it did: the undo is worked out
    // and done as it goes, and rolled back if it must not stand.
    let mut work = Work::default();
    for run in runs::runs(steps) {
        match run {
            Run::Deletes(removals) => restore(&tx, &removals, &mut work).await?,
            Run::Updates(ops) => revert::revert_run(&tx, ops, &mut work).await?,
        }
    }
    let stopped = !work.conflicts.is_empty() && !options.force;
    if options.dry_run || stopped || work.changed() == 0 {
        // What the real run would fail on at its commit, a rehearsal
        // fails on too.
        if options.dry_run && !stopped && work.changed() > 0 {
            undelete::check_deferred(&tx).await?;
        }
        tx.rollback().await?;
    } else {
        report.journal_ids = record::journal(&tx, &work, &options.command).await?;
        let moved = undelete::before_commit(&tx, &work.sequence_moves).await?;
        for table in &mut work.tables {
            table.report.sequences.retain(|s| moved.contains(s));
        }
        tx.commit().await?;
        report.applied = true;
    }
    report.conflicts = work.conflicts;
    report.tables = work.tables.into_iter().map(|t| t.report).collect();
    Ok(report)
}

/// Brings back a run of deletes as undelete does, resolving conflicts as
/// its `--force` does (whether this undo stands is decided at the end).
async fn restore(
    tx: &Transaction<'_>,
    removals: &[Removal],
    work: &mut Work,
) -> Result<(), OpsError> {
    let mut conflicts = Vec::new();
    let mut planned = undelete::plan_removals(tx, removals, true, &mut conflicts).await?;
    undelete::apply(tx, &mut planned).await?;
    for p in &planned {
        let settled = p.settled();
        let tally = work.table(&p.table.schema, &p.table.name);
        let r = &p.report;
        if !tally.report.restore.contains(&r.how) {
            tally.report.restore.push(r.how.clone());
        }
        tally.report.restored += r.restored;
        tally.report.already_restored += r.already_restored;
        tally.report.restore_conflicts += r.conflicts;
        tally.report.sequences.extend(r.sequences.iter().cloned());
        tally.ops.extend(p.ops.iter().copied());
        tally.settled.extend(settled);
    }
    for p in &planned {
        work.sequence_moves.extend(p.sequence_moves.iter().cloned());
    }
    work.conflicts
        .extend(conflicts.into_iter().map(UndoConflict::from));
    Ok(())
}
