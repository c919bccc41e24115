//! How an operation's journaled rows stand now, for people looking at it
//! (the console): each image against the row that holds its key in the
//! table today. Read-only; nothing is locked.

use serde_json::Value;
use tokio_postgres::GenericClient;

use super::compare::{self, RowState};
use super::select::{RemovalKind, operations_where, removal};
use super::undelete::plan::{Lock, current_rows, keep_keys};
use super::{OpsError, catalog};
use crate::journal::{Action, JournalRow};
use crate::rules::Marker;

/// What the table says of some of an operation's images.
#[derive(Debug, Default)]
pub struct RowsNow {
    /// The table's columns in their order now; empty when it is gone.
    pub columns: Vec<String>,
    /// Each image's state, in the images' order. `None` when that cannot
    /// be told: the operation removed no rows (an update, a refusal), or
    /// its table is gone or has no primary key.
    pub states: Option<Vec<RowState>>,
    /// For each image (when `states` is known), the columns whose values
    /// differ in the row now, with the value now; the soft-delete marker
    /// left out.
    pub changed: Vec<Vec<(String, Value)>>,
}

/// `rows_now`, or nothing known when the table cannot say: an image that
/// no longer fits the table (a column's type changed since, say) must not
/// keep the operation from being looked at. The reason is logged.
pub async fn rows_now_or_unknown(
    client: &impl GenericClient,
    op: i64,
    rows: &[JournalRow],
) -> RowsNow {
    rows_now(client, op, rows).await.unwrap_or_else(|e| {
        tracing::warn!(op, error = %e, "cannot tell where operation {op}'s rows stand now");
        RowsNow::default()
    })
}

/// The state now of `rows`, some of operation `op`'s journaled rows.
pub async fn rows_now(
    client: &impl GenericClient,
    op: i64,
    rows: &[JournalRow],
) -> Result<RowsNow, OpsError> {
    let images: Vec<Value> = rows.iter().map(|r| r.image.clone()).collect();
    let found = client.query(&operations_where("id = $1"), &[&op]).await?;
    let row = found.first().ok_or(OpsError::UnknownOperation(op))?;
    let action: Action = row.try_get(4)?;
    // A soft delete journaled before markers were recorded cannot be
    // told apart from its neighbours: shown without states.
    let Ok(removal) = removal(row) else {
        return Ok(RowsNow::default());
    };
    let Some(table) = catalog::table(client, &removal.schema, &removal.table).await? else {
        return Ok(RowsNow::default());
    };
    let columns = table.columns.iter().map(|c| c.name.clone()).collect();
    if !action.restorable() || table.primary_key.is_empty() || images.is_empty() {
        return Ok(RowsNow {
            columns,
            ..RowsNow::default()
        });
    }
    let texts: Vec<String> = images.iter().map(Value::to_string).collect();
    let current = current_rows(client, &table, &texts, Lock::No).await?;
    let marker = match &removal.kind {
        RemovalKind::Soft(Marker::Flag(c) | Marker::Timestamp(c)) => Some(c.as_str()),
        RemovalKind::Hard => None,
    };
    let mut states = Vec::with_capacity(images.len());
    let mut changed = Vec::with_capacity(images.len());
    for ((image, row), (normalized, now)) in images.iter().zip(rows).zip(current) {
        // Compared as this session renders the image (time zones).
        let image = match &now {
            Some(_) => keep_keys(&normalized, image),
            None => image.clone(),
        };
        let state = match compare::state(&removal.kind, &image, now.as_ref()) {
            // Brought back by softdel, then edited: the same row.
            RowState::KeyTaken if row.restored_by.is_some() => RowState::ChangedSince,
            state => state,
        };
        states.push(state);
        // Another row's values are no change of this one.
        let same = now.filter(|_| state != RowState::KeyTaken);
        let differ = same.map_or_else(Vec::new, |now| {
            compare::changed_columns(&image, &now)
                .into_iter()
                .filter(|c| Some(c.as_str()) != marker)
                .map(|c| {
                    let value = now.get(&c).cloned().unwrap_or(Value::Null);
                    (c, value)
                })
                .collect()
        });
        changed.push(differ);
    }
    Ok(RowsNow {
        columns,
        states: Some(states),
        changed,
    })
}
