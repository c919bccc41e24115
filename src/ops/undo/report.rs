//! What an undo did, or would do: per table, per column, and the
//! conflicts. Serialized as is for `--json`.

use serde_json::Value;

use crate::ops::undelete::RowConflict;

/// Said in every report: an undo reverts what the journal holds.
pub const INSERTS_NOTE: &str = "rows the selected transactions inserted are not removed: \
                                softdel does not journal inserts";

#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// The journaled operations selected, oldest first.
    pub operations: Vec<i64>,
    /// The transactions that made them.
    pub transactions: Vec<i64>,
    pub tables: Vec<TableReport>,
    pub conflicts: Vec<UndoConflict>,
    pub dry_run: bool,
    pub force: bool,
    /// Whether anything was changed (false for a dry run, for conflicts
    /// without --force, and when there was nothing left to undo).
    pub applied: bool,
    /// The journal's record of this undo, one operation per table.
    pub journal_ids: Vec<i64>,
    pub note: &'static str,
}

impl Report {
    /// Rows changed (or that would be, in a dry run).
    pub fn changed(&self) -> usize {
        self.tables.iter().map(TableReport::changed).sum()
    }

    /// Journal rows an earlier undo or undelete already handled.
    pub fn already_undone(&self) -> usize {
        self.tables
            .iter()
            .map(|t| t.already_restored + t.already_undone)
            .sum()
    }

    /// Conflicts stopped it (or, for a dry run, would stop the real run):
    /// nothing was changed.
    pub fn blocked_by_conflicts(&self) -> bool {
        !self.conflicts.is_empty() && !self.applied && !self.force
    }
}

/// One table: the deleted rows brought back, the updated rows reverted.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct TableReport {
    pub table: String,
    /// How its deleted rows come back (`clear is_active`, `re-insert`);
    /// empty when no delete of it was selected.
    pub restore: Vec<String>,
    /// Deleted rows brought back.
    pub restored: usize,
    /// Deleted rows an earlier undelete or undo already brought back.
    pub already_restored: usize,
    /// Deleted rows that conflict.
    pub restore_conflicts: usize,
    /// Sequences moved past the largest re-inserted value.
    pub sequences: Vec<String>,
    /// Updated rows selected (journal rows).
    pub updated_rows: usize,
    /// Updated rows with at least one column set back.
    pub reverted_rows: usize,
    /// Updated rows an earlier undo already handled.
    pub already_undone: usize,
    /// Updated rows no longer in the table.
    pub missing_rows: usize,
    /// Per column the updates changed.
    pub columns: Vec<ColumnReport>,
}

impl TableReport {
    pub fn changed(&self) -> usize {
        self.restored + self.reverted_rows
    }

    pub fn column(&mut self, name: &str) -> &mut ColumnReport {
        let at = match self.columns.iter().position(|c| c.column == name) {
            Some(at) => at,
            None => {
                self.columns.push(ColumnReport {
                    column: name.to_owned(),
                    ..ColumnReport::default()
                });
                self.columns.len() - 1
            }
        };
        &mut self.columns[at]
    }
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ColumnReport {
    pub column: String,
    /// Set back to the value before the update.
    pub reverted: usize,
    /// Already holding it.
    pub already: usize,
    /// Changed since: left as they are.
    pub conflicts: usize,
}

/// Something the undo cannot set back without overwriting a later change.
#[derive(Clone, Debug, serde::Serialize)]
pub struct UndoConflict {
    pub table: String,
    /// `id=7`
    pub key: String,
    pub operation: i64,
    /// The column, for an update; none for a whole row.
    pub column: Option<String>,
    /// What the operation wrote (updates).
    pub wrote: Option<Value>,
    /// What the column holds now (updates).
    pub now: Option<Value>,
    pub description: String,
    /// What --force does (or did) about it.
    pub resolution: String,
}

impl From<RowConflict> for UndoConflict {
    fn from(c: RowConflict) -> UndoConflict {
        UndoConflict {
            table: c.table,
            key: c.key,
            operation: c.operation,
            column: None,
            wrote: None,
            now: None,
            description: c.description.to_owned(),
            resolution: c.resolution.to_owned(),
        }
    }
}
