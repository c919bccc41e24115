//! The journal rows an undelete brings back, by table.

use std::collections::HashMap;

use serde_json::Value;
use tokio_postgres::Transaction;

use crate::journal::{self, SCHEMA};
use crate::ops::OpsError;
use crate::ops::select::{Removal, RemovalKind};

/// One journaled row.
pub struct JournalRow {
    pub id: i64,
    pub op: i64,
    pub image: Value,
    pub restored_by: Option<i64>,
}

/// The journaled rows of one table removed one way.
pub struct Group {
    pub schema: String,
    pub name: String,
    pub kind: RemovalKind,
    pub ops: Vec<i64>,
    pub rows: Vec<JournalRow>,
}

/// The selected operations' journal rows, locked (a concurrent undelete of
/// the same rows waits, then finds them restored), grouped by table.
pub async fn load_groups(
    tx: &Transaction<'_>,
    removals: &[Removal],
) -> Result<Vec<Group>, OpsError> {
    let ids: Vec<i64> = removals.iter().map(|r| r.id).collect();
    let rows = tx
        .query(
            &format!(
                "SELECT id, op_id, image, restored_by FROM {SCHEMA}.rows \
                 WHERE op_id = ANY($1) ORDER BY id FOR UPDATE"
            ),
            &[&ids],
        )
        .await?;
    let mut by_op: HashMap<i64, Vec<JournalRow>> = HashMap::new();
    for row in &rows {
        let (id, op): (i64, i64) = (row.get(0), row.get(1));
        by_op.entry(op).or_default().push(JournalRow {
            id,
            op,
            image: journal::row_image(id, op, row.try_get(2)?)?,
            restored_by: row.get(3),
        });
    }
    let mut groups: Vec<Group> = Vec::new();
    for removal in removals {
        let at = groups.iter().position(|g| {
            g.schema == removal.schema && g.name == removal.table && g.kind == removal.kind
        });
        let at = at.unwrap_or_else(|| {
            groups.push(Group {
                schema: removal.schema.clone(),
                name: removal.table.clone(),
                kind: removal.kind.clone(),
                ops: Vec::new(),
                rows: Vec::new(),
            });
            groups.len() - 1
        });
        groups[at].ops.push(removal.id);
        groups[at]
            .rows
            .extend(by_op.remove(&removal.id).unwrap_or_default());
    }
    Ok(groups)
}
