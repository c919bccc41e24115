//! Journaling an undo: one `undo` operation per table it changed, and the
//! journal rows it handled marked with it, so that a second run finds
//! nothing left to do.

use tokio_postgres::Transaction;

use super::work::Work;
use crate::journal::{self, SCHEMA};
use crate::ops::OpsError;

/// Records the undo; the ids of its operations.
pub async fn journal(
    tx: &Transaction<'_>,
    work: &Work,
    command: &str,
) -> Result<Vec<i64>, OpsError> {
    let mut ids = Vec::new();
    for t in work.tables.iter().filter(|t| t.report.changed() > 0) {
        let ops: Vec<String> = t.ops.iter().map(i64::to_string).collect();
        let s = if ops.len() == 1 { "" } else { "s" };
        let op = journal::OwnOperation {
            schema: &t.schema,
            table: &t.name,
            action: journal::Action::Undo,
            row_count: t.report.changed() as u64,
            command,
            reason: format!("undid operation{s} {}", ops.join(", ")),
        };
        let id = journal::record(tx, &op).await?;
        tx.execute(
            &format!("UPDATE {SCHEMA}.rows SET restored_by = $1 WHERE id = ANY($2)"),
            &[&id, &t.settled],
        )
        .await?;
        ids.push(id);
    }
    Ok(ids)
}
