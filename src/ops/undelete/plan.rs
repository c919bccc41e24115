//! Each journaled row held against the table as it is now: restored,
//! skipped, or a conflict.

use std::collections::HashMap;

use serde_json::Value;
use tokio_postgres::{GenericClient, Transaction};

use super::images::{images_as_rows, key_match};
use super::journal_rows::{Group, JournalRow};
use super::{RowConflict, TableReport};
use crate::ops::catalog::{self, Table};
use crate::ops::compare::{self, Action};
use crate::ops::select::RemovalKind;
use crate::ops::{OpsError, failed};
use crate::rules::Marker;

/// A group checked against the table: what to do with each row.
pub struct Planned {
    pub table: Table,
    pub kind: RemovalKind,
    pub ops: Vec<i64>,
    /// (journal row ids it settles, the image, what to do)
    pub rows: Vec<(Vec<i64>, Value, Action)>,
    pub report: TableReport,
    /// Sequences to move past the re-inserted values (sequence, value),
    /// once the restoration is sure to commit.
    pub sequence_moves: Vec<(String, i64)>,
}

impl Planned {
    /// The journal rows that bringing these rows back settles (not those
    /// left as they are).
    pub fn settled(&self) -> Vec<i64> {
        self.rows
            .iter()
            .filter(|(_, _, action)| *action != Action::Skip)
            .flat_map(|(settles, _, _)| settles.iter().copied())
            .collect()
    }
}

/// Holds one group's rows against the table as it is now.
pub async fn plan(
    tx: &Transaction<'_>,
    group: Group,
    force: bool,
    conflicts: &mut Vec<RowConflict>,
) -> Result<Planned, OpsError> {
    let display = format!("{}.{}", group.schema, group.name);
    let table = catalog::table(tx, &group.schema, &group.name)
        .await?
        .ok_or_else(|| OpsError::TableMissing(display.clone()))?;
    if table.primary_key.is_empty() {
        return Err(OpsError::NoPrimaryKey(display));
    }
    let how = how(&group, &table, display)?;
    let already_restored = group
        .rows
        .iter()
        .filter(|r| r.restored_by.is_some())
        .count();
    let pending = newest_per_key(&table, group.rows);
    let images: Vec<String> = pending
        .iter()
        .map(|(_, row)| row.image.to_string())
        .collect();
    let current = current_rows(tx, &table, &images, Lock::ForUpdate).await?;
    let mut rows = Vec::with_capacity(pending.len());
    for ((settles, row), now) in pending.into_iter().zip(current) {
        let action = decide(&group.kind, &table, &row, now, force, conflicts);
        let image = match (&group.kind, action) {
            (RemovalKind::Soft(marker), Action::Insert) => compare::revived(&row.image, marker),
            _ => row.image,
        };
        rows.push((settles, image, action));
    }
    let report = TableReport {
        table: table.display(),
        how,
        rows: rows.len() + already_restored,
        restored: rows.iter().filter(|r| r.2 != Action::Skip).count(),
        conflicts: conflicts
            .iter()
            .filter(|c| c.table == table.display())
            .count(),
        already_restored,
        sequences: Vec::new(),
    };
    Ok(Planned {
        table,
        kind: group.kind,
        ops: group.ops,
        rows,
        report,
        sequence_moves: Vec::new(),
    })
}

/// How the group's rows come back (`clear is_active`, `re-insert`), when
/// they can.
fn how(group: &Group, table: &Table, display: String) -> Result<String, OpsError> {
    match &group.kind {
        RemovalKind::Soft(Marker::Flag(c) | Marker::Timestamp(c)) => {
            if table.column(c).is_none() {
                return Err(OpsError::MarkerMissing {
                    op: group.ops[0],
                    table: display,
                    column: c.clone(),
                });
            }
            Ok(format!("clear {c}"))
        }
        RemovalKind::Hard => Ok("re-insert".to_owned()),
    }
}

/// What to do with one row, given the image as this session renders it
/// and the row that holds its key now; a conflict is recorded, and skipped
/// unless forced.
fn decide(
    kind: &RemovalKind,
    table: &Table,
    row: &JournalRow,
    (normalized, now): (Value, Option<Value>),
    force: bool,
    conflicts: &mut Vec<RowConflict>,
) -> Action {
    let verdict = match &now {
        // Compare the image as this session renders it (time zones).
        Some(now) => compare::classify(kind, &keep_keys(&normalized, &row.image), Some(now)),
        None => compare::classify(kind, &row.image, None),
    };
    match verdict {
        Ok(action) => action,
        Err(conflict) => {
            conflicts.push(RowConflict {
                table: table.display(),
                key: compare::key_text(&table.primary_key, &row.image),
                operation: row.op,
                conflict,
                description: conflict.describe(),
                resolution: conflict.forced_description(),
            });
            if force {
                conflict.forced()
            } else {
                Action::Skip
            }
        }
    }
}

/// The rows not yet restored, one per primary key: when a key was removed
/// more than once, the newest image wins and settles the older ones too.
fn newest_per_key(table: &Table, rows: Vec<JournalRow>) -> Vec<(Vec<i64>, JournalRow)> {
    let mut pending: Vec<(Vec<i64>, JournalRow)> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for row in rows.into_iter().filter(|r| r.restored_by.is_none()) {
        let key = compare::key_text(&table.primary_key, &row.image);
        match by_key.get(&key) {
            // Rows arrive in journal order: this one is newer.
            Some(&at) => {
                let (settles, newest) = &mut pending[at];
                settles.push(row.id);
                *newest = row;
            }
            None => {
                by_key.insert(key, pending.len());
                pending.push((vec![row.id], row));
            }
        }
    }
    pending
}

/// Only the columns the image had.
pub(crate) fn keep_keys(normalized: &Value, image: &Value) -> Value {
    match (normalized.as_object(), image.as_object()) {
        (Some(n), Some(i)) => Value::Object(
            n.iter()
                .filter(|(k, _)| i.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        _ => image.clone(),
    }
}

/// Whether reading the rows that hold the images' keys locks them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock {
    /// For a restoration: nobody changes them before it commits.
    ForUpdate,
    /// For a look: nobody is kept waiting.
    No,
}

/// For each image: the image as this session renders it, and the row that
/// holds its key now, if any.
pub(crate) async fn current_rows(
    client: &impl GenericClient,
    table: &Table,
    images: &[String],
    lock: Lock,
) -> Result<Vec<(Value, Option<Value>)>, OpsError> {
    let sql = format!(
        "SELECT i.ord, pg_catalog.to_jsonb(r.*), pg_catalog.to_jsonb(t.*) \
         FROM {} JOIN {} AS t ON {}{}",
        images_as_rows(table),
        table.quoted(),
        key_match(table, "t", "r"),
        if lock == Lock::ForUpdate {
            " FOR UPDATE OF t"
        } else {
            ""
        },
    );
    let found = client
        .query(&sql, &[&images])
        .await
        .map_err(failed(format!("reading the rows of {}", table.display())))?;
    let mut current = vec![(Value::Null, None); images.len()];
    for row in found {
        let ord: i64 = row.get(0);
        if let Some(slot) = usize::try_from(ord - 1)
            .ok()
            .and_then(|i| current.get_mut(i))
        {
            *slot = (row.try_get(1)?, Some(row.try_get(2)?));
        }
    }
    Ok(current)
}
