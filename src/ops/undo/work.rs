//! What an undo has done so far inside its transaction: per table, the
//! report, the operations undone and the journal rows settled; and the
//! conflicts met.

use std::collections::BTreeSet;

use super::report::{TableReport, UndoConflict};

#[derive(Clone, Default)]
pub struct Work {
    pub tables: Vec<TableWork>,
    pub conflicts: Vec<UndoConflict>,
    /// Sequences to move past re-inserted values, if the undo stands.
    pub sequence_moves: Vec<(String, i64)>,
}

#[derive(Clone)]
pub struct TableWork {
    pub schema: String,
    pub name: String,
    pub report: TableReport,
    /// The selected operations on it that this undo handled.
    pub ops: BTreeSet<i64>,
    /// Journal rows to mark as handled by this undo's operation.
    pub settled: Vec<i64>,
}

impl Work {
    /// The table's tally, started the first time it is met.
    pub fn table(&mut self, schema: &str, name: &str) -> &mut TableWork {
        let at = match self
            .tables
            .iter()
            .position(|t| t.schema == schema && t.name == name)
        {
            Some(at) => at,
            None => {
                self.tables.push(TableWork {
                    schema: schema.to_owned(),
                    name: name.to_owned(),
                    report: TableReport {
                        table: format!("{schema}.{name}"),
                        ..TableReport::default()
                    },
                    ops: BTreeSet::new(),
                    settled: Vec::new(),
                });
                self.tables.len() - 1
            }
        };
        &mut self.tables[at]
    }

    /// Rows changed so far.
    pub fn changed(&self) -> usize {
        self.tables.iter().map(|t| t.report.changed()).sum()
    }
}
