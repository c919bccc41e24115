//! Bringing an operation's rows back from the console: `softdel undelete`
//! for a delete, `softdel undo` for an update, as a preview or for real.
//! The API answers the command's own JSON report; the pages show the
//! summary read here, the same for both.

use serde_json::{Value, json};
use tokio_postgres::Client;

use crate::journal::{Action, SCHEMA};
use crate::ops::undo::{self, Scope, UndoConflict};
use crate::ops::{OpsError, Selection, undelete};

/// Which command brings an operation back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Undelete,
    Undo,
}

impl Kind {
    /// What the console offers for an operation that did `action`.
    pub fn offered_for(action: Action) -> Option<Kind> {
        if action.restorable() {
            Some(Kind::Undelete)
        } else if action == Action::Update {
            Some(Kind::Undo)
        } else {
            None
        }
    }

    /// As in paths and commands: `undelete`, `undo`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Undelete => "undelete",
            Kind::Undo => "undo",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        match name {
            "undelete" => Some(Kind::Undelete),
            "undo" => Some(Kind::Undo),
            _ => None,
        }
    }
}

/// What a run did, or would do.
#[derive(Debug)]
pub struct Outcome {
    /// The command's own report, as `--json` prints it.
    pub report: Value,
    pub dry_run: bool,
    pub applied: bool,
    /// Conflicts stop it (or would): nothing changed.
    pub blocked: bool,
    /// Rows brought back or set back (or that would be).
    pub changed: usize,
    pub tables: Vec<TableLine>,
    pub conflicts: Vec<UndoConflict>,
    /// The journal's record of this run.
    pub journal_ids: Vec<i64>,
}

/// One table of an outcome.
#[derive(Debug)]
pub struct TableLine {
    pub table: String,
    /// `clear is_active`, `re-insert`, `revert 3 updated rows`.
    pub how: String,
    pub changed: usize,
    pub conflicts: usize,
    /// Rows an earlier undelete or undo already brought back.
    pub already: usize,
}

/// Journaled rows the console brings back at most in one request: a
/// restoration holds all of its row images in the proxy's memory, which
/// is its clients'. Larger ones are for the command line.
pub const MAX_ROWS: i64 = 50_000;

/// Runs `kind` on operation `id`, journaled as the console's
/// (`softdel console: undelete 7`).
pub async fn run(
    client: &mut Client,
    kind: Kind,
    id: i64,
    dry_run: bool,
    force: bool,
) -> Result<Outcome, OpsError> {
    crate::journal::require_current(client).await?;
    let rows = rows_held(client, id).await?;
    if rows > MAX_ROWS {
        return Err(OpsError::TooManyRows {
            id,
            max: MAX_ROWS,
            command: kind.name(),
        });
    }
    let command = format!(
        "softdel console: {} {id}{}",
        kind.name(),
        if force { " --force" } else { "" }
    );
    match kind {
        Kind::Undelete => {
            let options = undelete::Options {
                selection: Selection::Operations(vec![id]),
                force,
                dry_run,
                command,
            };
            undelete::undelete(client, &options)
                .await
                .map(from_undelete)
        }
        Kind::Undo => {
            let options = undo::Options {
                selection: undo::Selection {
                    scope: Scope::Operations(vec![id]),
                    user: None,
                    application: None,
                },
                force,
                dry_run,
                command,
            };
            undo::undo(client, &options).await.map(from_undo)
        }
    }
}

/// The journaled rows of operation `id` and of the soft deletes it
/// cascaded into, counted up to one past `MAX_ROWS`.
async fn rows_held(client: &Client, id: i64) -> Result<i64, OpsError> {
    let row = client
        .query_one(
            &format!(
                "WITH RECURSIVE c(id) AS (SELECT $1::bigint \
                   UNION SELECT o.id FROM {SCHEMA}.operations o JOIN c ON o.cascaded_from = c.id) \
                 SELECT count(*) FROM (SELECT FROM {SCHEMA}.rows r JOIN c ON r.op_id = c.id \
                                       LIMIT $2) AS held"
            ),
            &[&id, &(MAX_ROWS + 1)],
        )
        .await?;
    Ok(row.get(0))
}

fn from_undelete(report: undelete::Report) -> Outcome {
    Outcome {
        report: json!(report),
        dry_run: report.dry_run,
        applied: report.applied,
        blocked: report.blocked_by_conflicts(),
        changed: report.restored(),
        tables: report
            .tables
            .iter()
            .map(|t| TableLine {
                table: t.table.clone(),
                how: t.how.clone(),
                changed: t.restored,
                conflicts: t.conflicts,
                already: t.already_restored,
            })
            .collect(),
        conflicts: report.conflicts.into_iter().map(Into::into).collect(),
        journal_ids: report.journal_ids,
    }
}

fn from_undo(report: undo::Report) -> Outcome {
    let tables = report
        .tables
        .iter()
        .map(|t| {
            let mut how = t.restore.clone();
            if t.updated_rows > 0 {
                how.push(format!("revert {} updated rows", t.updated_rows));
            }
            TableLine {
                table: t.table.clone(),
                how: how.join(", "),
                changed: t.changed(),
                conflicts: t.restore_conflicts
                    + t.columns.iter().map(|c| c.conflicts).sum::<usize>(),
                already: t.already_restored + t.already_undone,
            }
        })
        .collect();
    Outcome {
        report: json!(report),
        dry_run: report.dry_run,
        applied: report.applied,
        blocked: report.blocked_by_conflicts(),
        changed: report.changed(),
        tables,
        conflicts: report.conflicts,
        journal_ids: report.journal_ids,
    }
}
