//! Reverting one `update` operation, column by column: a column that
//! still holds what the update wrote is set back; one that holds what it
//! held before is left; anything else is a conflict, left as it is.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};
use tokio_postgres::Transaction;
use tokio_postgres::error::SqlState;

use super::column::{self, Verdict};
use super::image::UpdateImage;
use super::report::UndoConflict;
use super::select::UpdateOp;
use super::work::Work;
use crate::journal::SCHEMA;
use crate::ops::catalog::{self, Table, quote_ident};
use crate::ops::compare::key_text;
use crate::ops::undelete::key_match;
use crate::ops::{OpsError, database_message, failed};

/// An update's row as this session renders it: the row now (if it is
/// still there), and the journal's before and after through the column
/// types (so a time zone or a numeric's spelling is no conflict).
struct Current {
    now: Option<Value>,
    before: Value,
    after: Value,
}

/// Reverts a run of updates, newest first. An update whose setting back
/// breaks a foreign key is tried again after the rest of the run, once:
/// a primary key changed under `ON UPDATE CASCADE` carries the new key
/// into the children in the same statement, and their update is
/// journaled after the parent's, so newest first would set a child back
/// to a key its parent does not have yet (once the parent is set back,
/// the cascade has set the child back too).
pub async fn revert_run(
    tx: &Transaction<'_>,
    mut order: Vec<UpdateOp>,
    work: &mut Work,
) -> Result<(), OpsError> {
    let mut deferred = BTreeSet::new();
    loop {
        let before = work.clone();
        tx.batch_execute("SAVEPOINT softdel_undo_updates").await?;
        let mut failure = None;
        for (at, op) in order.iter().enumerate() {
            if let Err(e) = revert(tx, op, work).await {
                failure = Some((at, e));
                break;
            }
        }
        match failure {
            None => {
                tx.batch_execute("RELEASE SAVEPOINT softdel_undo_updates")
                    .await?;
                return Ok(());
            }
            Some((at, OpsError::ForeignKey { .. })) if deferred.insert(order[at].id) => {
                tx.batch_execute("ROLLBACK TO SAVEPOINT softdel_undo_updates")
                    .await?;
                *work = before;
                let op = order.remove(at);
                order.push(op);
            }
            Some((_, e)) => return Err(e),
        }
    }
}

/// Reverts operation `op`'s rows that are not reverted yet, recording what
/// it did (and found) in `work`.
async fn revert(tx: &Transaction<'_>, op: &UpdateOp, work: &mut Work) -> Result<(), OpsError> {
    let display = format!("{}.{}", op.schema, op.table);
    let table = catalog::table(tx, &op.schema, &op.table)
        .await?
        .ok_or_else(|| OpsError::TableMissing(display.clone()))?;
    if table.primary_key.is_empty() {
        return Err(OpsError::NoPrimaryKey(display));
    }
    let (pending, already) = journal_rows(tx, op.id).await?;
    let current = current(tx, &table, &pending).await?;
    let tally = work.table(&op.schema, &op.table);
    tally.ops.insert(op.id);
    tally.report.updated_rows += pending.len() + already;
    tally.report.already_undone += already;
    let mut sets: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    let mut conflicts = Vec::new();
    for ((row_id, image), current) in pending.into_iter().zip(current) {
        tally.settled.push(row_id);
        let key = key_text(&table.primary_key, &Value::Object(image.key.clone()));
        let conflict = |column: Option<&str>, wrote, now, description: &str| UndoConflict {
            table: table.display(),
            key: key.clone(),
            operation: op.id,
            column: column.map(str::to_owned),
            wrote,
            now,
            description: description.to_owned(),
            resolution: "left as it is, even with --force".to_owned(),
        };
        let Some(now) = &current.now else {
            tally.report.missing_rows += 1;
            conflicts.push(conflict(None, None, None, "row no longer in the table"));
            continue;
        };
        let mut set = Map::new();
        for name in image.columns() {
            let Some(c) = table.column(name) else {
                tally.report.column(name).conflicts += 1;
                conflicts.push(conflict(
                    Some(name),
                    image.after.get(name).cloned(),
                    None,
                    "column no longer in the table",
                ));
                continue;
            };
            if c.generated {
                continue;
            }
            let (before, after) = (field(&current.before, name), field(&current.after, name));
            let value = field(now, name);
            let counts = tally.report.column(name);
            match column::classify(&value, &before, &after) {
                Verdict::Revert => {
                    counts.reverted += 1;
                    set.insert(name.clone(), image.before[name].clone());
                }
                Verdict::Already => counts.already += 1,
                Verdict::Conflict => {
                    counts.conflicts += 1;
                    conflicts.push(conflict(
                        Some(name),
                        Some(after),
                        Some(value),
                        "changed since",
                    ));
                }
            }
        }
        if !set.is_empty() {
            tally.report.reverted_rows += 1;
            let columns = set.keys().cloned().collect();
            let row = json!({"key": image.key, "set": set}).to_string();
            sets.entry(columns).or_default().push(row);
        }
    }
    for (columns, rows) in sets {
        set_back(tx, &table, &columns, &rows).await?;
    }
    work.conflicts.extend(conflicts);
    Ok(())
}

fn field(row: &Value, column: &str) -> Value {
    row.get(column).cloned().unwrap_or(Value::Null)
}

/// The operation's journal rows not handled yet (locked: a concurrent
/// undo of the same operation waits, then finds them handled), and how
/// many were.
async fn journal_rows(
    tx: &Transaction<'_>,
    op: i64,
) -> Result<(Vec<(i64, UpdateImage)>, usize), OpsError> {
    let rows = tx
        .query(
            &format!(
                "SELECT id, image, restored_by FROM {SCHEMA}.rows \
                 WHERE op_id = $1 ORDER BY id FOR UPDATE"
            ),
            &[&op],
        )
        .await?;
    let mut pending = Vec::with_capacity(rows.len());
    let mut already = 0;
    for row in &rows {
        let id: i64 = row.get(0);
        let image = UpdateImage::parse(id, op, row.try_get(1)?)?;
        if row.get::<_, Option<i64>>(2).is_some() {
            already += 1;
        } else {
            pending.push((id, image));
        }
    }
    Ok((pending, already))
}

/// `unnest($1) ... AS i`, each element `{"key": .., ...}`, with `k`
/// the key as a row of the table.
fn keyed_rows(table: &Table) -> String {
    format!(
        "pg_catalog.unnest($1::text[]) WITH ORDINALITY AS i(image, ord) \
         CROSS JOIN LATERAL pg_catalog.jsonb_populate_record(NULL::{t}, i.image::jsonb -> 'key') AS k",
        t = table.quoted()
    )
}

/// Each pending row as it is now (locked), found by its key.
async fn current(
    tx: &Transaction<'_>,
    table: &Table,
    pending: &[(i64, UpdateImage)],
) -> Result<Vec<Current>, OpsError> {
    let images: Vec<String> = pending
        .iter()
        .map(|(_, i)| json!({"key": i.key, "before": i.before, "after": i.after}).to_string())
        .collect();
    let t = table.quoted();
    let sql = format!(
        "SELECT i.ord, pg_catalog.to_jsonb(t.*), \
           pg_catalog.to_jsonb(pg_catalog.jsonb_populate_record(NULL::{t}, i.image::jsonb -> 'before')), \
           pg_catalog.to_jsonb(pg_catalog.jsonb_populate_record(NULL::{t}, i.image::jsonb -> 'after')) \
         FROM {rows} JOIN {t} AS t ON {keys} FOR UPDATE OF t",
        rows = keyed_rows(table),
        keys = key_match(table, "t", "k"),
    );
    let found = tx
        .query(&sql, &[&images])
        .await
        .map_err(failed(format!("reading the rows of {}", table.display())))?;
    let mut current: Vec<Current> = pending
        .iter()
        .map(|_| Current {
            now: None,
            before: Value::Null,
            after: Value::Null,
        })
        .collect();
    for row in found {
        let ord: i64 = row.get(0);
        if let Some(slot) = usize::try_from(ord - 1)
            .ok()
            .and_then(|i| current.get_mut(i))
        {
            *slot = Current {
                now: Some(row.try_get(1)?),
                before: row.try_get(2)?,
                after: row.try_get(3)?,
            };
        }
    }
    Ok(current)
}

/// Sets `columns` of the rows back, each element `{"key": .., "set": ..}`.
async fn set_back(
    tx: &Transaction<'_>,
    table: &Table,
    columns: &[String],
    rows: &[String],
) -> Result<(), OpsError> {
    let assignments: Vec<String> = columns
        .iter()
        .map(|c| format!("{c} = r.{c}", c = quote_ident(c)))
        .collect();
    let sql = format!(
        "UPDATE {t} AS t SET {assignments} FROM {rows} \
         CROSS JOIN LATERAL pg_catalog.jsonb_populate_record(NULL::{t}, i.image::jsonb -> 'set') AS r \
         WHERE {keys}",
        t = table.quoted(),
        assignments = assignments.join(", "),
        rows = keyed_rows(table),
        keys = key_match(table, "t", "k"),
    );
    let context = format!("setting back {} of {}", columns.join(", "), table.display());
    let updated = tx.execute(&sql, &[&rows]).await.map_err(|e| {
        if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) {
            OpsError::ForeignKey {
                message: database_message(&e),
                context: context.clone(),
            }
        } else {
            failed(&context)(e)
        }
    })?;
    if updated != rows.len() as u64 {
        return Err(OpsError::Failed {
            context,
            message: format!(
                "{updated} rows matched where {} were expected (the table changed meanwhile?)",
                rows.len()
            ),
        });
    }
    Ok(())
}
