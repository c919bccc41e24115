//! Bringing the planned rows back, and journaling that it was done.

use std::collections::BTreeSet;

use tokio_postgres::Transaction;
use tokio_postgres::types::Oid;

use super::images::{images_as_rows, key_match};
use super::plan::Planned;
use crate::journal::{self, SCHEMA};
use crate::ops::catalog::{self, quote_ident};
use crate::ops::compare::Action;
use crate::ops::select::RemovalKind;
use crate::ops::{OpsError, failed};
use crate::rules::Marker;

/// Clears marks first, then inserts, parents before children, with
/// deferrable keys checked at commit.
pub async fn apply(tx: &Transaction<'_>, planned: &mut [Planned]) -> Result<(), OpsError> {
    tx.batch_execute("SET CONSTRAINTS ALL DEFERRED").await?;
    for p in planned.iter_mut() {
        if let RemovalKind::Soft(marker) = &p.kind {
            clear_marks(tx, p, marker).await?;
        }
    }
    let oids: Vec<Oid> = planned.iter().map(|p| p.table.oid).collect();
    let keys = catalog::foreign_keys(tx, &oids).await?;
    for oid in catalog::parents_first(&oids, &keys) {
        for p in planned.iter_mut().filter(|p| p.table.oid == oid) {
            insert_images(tx, p).await?;
        }
    }
    Ok(())
}

async fn clear_marks(tx: &Transaction<'_>, p: &Planned, marker: &Marker) -> Result<(), OpsError> {
    let images = images_for(p, Action::Clear);
    if images.is_empty() {
        return Ok(());
    }
    let (column, live) = match marker {
        Marker::Flag(c) => (c, "true"),
        Marker::Timestamp(c) => (c, "NULL"),
    };
    let sql = format!(
        "UPDATE {table} AS t SET {column} = {live} FROM (SELECT r.* FROM {rows}) AS r WHERE {keys}",
        table = p.table.quoted(),
        column = quote_ident(column),
        rows = images_as_rows(&p.table),
        keys = key_match(&p.table, "t", "r"),
    );
    let context = format!("restoring the soft-deleted rows of {}", p.table.display());
    let updated = tx
        .execute(&sql, &[&images])
        .await
        .map_err(failed(&context))?;
    if updated != images.len() as u64 {
        return Err(OpsError::Failed {
            context,
            message: format!(
                "{updated} rows matched where {} were expected (the table changed meanwhile?)",
                images.len()
            ),
        });
    }
    Ok(())
}

async fn insert_images(tx: &Transaction<'_>, p: &mut Planned) -> Result<(), OpsError> {
    let images = images_for(p, Action::Insert);
    if images.is_empty() {
        return Ok(());
    }
    // The table's insertable columns that the images have: a column added
    // since the delete gets its default.
    let mut present = BTreeSet::new();
    for (_, image, action) in &p.rows {
        if let (Action::Insert, Some(object)) = (action, image.as_object()) {
            present.extend(object.keys().cloned());
        }
    }
    let columns: Vec<&catalog::Column> = p
        .table
        .columns
        .iter()
        .filter(|c| !c.generated && present.contains(&c.name))
        .collect();
    let names: Vec<String> = columns.iter().map(|c| quote_ident(&c.name)).collect();
    let overriding = if columns.iter().any(|c| c.identity_always) {
        " OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    let sql = format!(
        "INSERT INTO {} ({}){overriding} SELECT {} FROM {} ORDER BY i.ord",
        p.table.quoted(),
        names.join(", "),
        names
            .iter()
            .map(|n| format!("r.{n}"))
            .collect::<Vec<_>>()
            .join(", "),
        images_as_rows(&p.table),
    );
    tx.execute(&sql, &[&images]).await.map_err(failed(format!(
        "re-inserting the rows of {}",
        p.table.display()
    )))?;
    for column in columns {
        if let Some(sequence) = &column.sequence
            && let Some(value) = sequence_past(tx, p, &column.name, sequence, &images).await?
        {
            p.report.sequences.push(sequence.clone());
            p.sequence_moves.push((sequence.clone(), value));
        }
    }
    Ok(())
}

/// The value a sequence must be moved to so that it is past the largest
/// restored value, if it is not already.
async fn sequence_past(
    tx: &Transaction<'_>,
    p: &Planned,
    column: &str,
    sequence: &str,
    images: &[String],
) -> Result<Option<i64>, OpsError> {
    let sql = format!(
        "SELECT m FROM (SELECT pg_catalog.max(r.{})::bigint AS m FROM {}) AS x \
         WHERE m > COALESCE(pg_catalog.pg_sequence_last_value($2::text::pg_catalog.regclass), 0)",
        quote_ident(column),
        images_as_rows(&p.table),
    );
    let past = tx
        .query_opt(&sql, &[&images, &sequence])
        .await
        .map_err(failed(format!("reading sequence {sequence}")))?;
    Ok(past.map(|row| row.get(0)))
}

/// What must happen last, just before a restoration commits: the foreign
/// keys and other checks deferred until now are checked, so that a
/// failing one fails here and not at the commit; then each sequence is
/// moved to its value (never backwards). setval is not transactional: a
/// dry run, or a run that conflicts stop, must not get this far. Returns
/// the sequences moved.
///
/// Until then, an application's `nextval` may hand out a value a restored
/// row holds; its insert then waits on the key and fails when this
/// commits. The window is the restoration's own length.
pub async fn before_commit(
    tx: &Transaction<'_>,
    moves: &[(String, i64)],
) -> Result<BTreeSet<String>, OpsError> {
    check_deferred(tx).await?;
    let mut moved = BTreeSet::new();
    for (sequence, value) in moves {
        let set = tx
            .query(
                "SELECT pg_catalog.setval($1::text::pg_catalog.regclass, $2) \
                 WHERE $2 > COALESCE(pg_catalog.pg_sequence_last_value($1::text::pg_catalog.regclass), 0)",
                &[sequence, value],
            )
            .await
            .map_err(failed(format!("moving sequence {sequence}")))?;
        if !set.is_empty() {
            moved.insert(sequence.clone());
        }
    }
    Ok(moved)
}

/// Checks now what `apply` deferred (foreign keys, deferrable unique
/// keys): a dry run that does the work checks it too, so that its report
/// fails as the real run would.
pub async fn check_deferred(tx: &Transaction<'_>) -> Result<(), OpsError> {
    tx.batch_execute("SET CONSTRAINTS ALL IMMEDIATE")
        .await
        .map_err(failed("checking the restored rows' foreign keys"))
}

fn images_for(p: &Planned, wanted: Action) -> Vec<String> {
    p.rows
        .iter()
        .filter(|(_, _, action)| *action == wanted)
        .map(|(_, image, _)| image.to_string())
        .collect()
}

/// Records the undelete, one operation per table, and marks the journal
/// rows it settled.
pub async fn journal(
    tx: &Transaction<'_>,
    planned: &[Planned],
    command: &str,
) -> Result<Vec<i64>, OpsError> {
    let mut ids = Vec::new();
    for p in planned.iter().filter(|p| p.report.restored > 0) {
        let ops: Vec<String> = p.ops.iter().map(i64::to_string).collect();
        let reason = format!("restored rows of operation {}", ops.join(", "));
        let op = journal::OwnOperation {
            schema: &p.table.schema,
            table: &p.table.name,
            action: journal::Action::Undelete,
            row_count: p.report.restored as u64,
            command,
            reason,
        };
        let id = journal::record(tx, &op).await?;
        let settled = p.settled();
        tx.execute(
            &format!("UPDATE {SCHEMA}.rows SET restored_by = $1 WHERE id = ANY($2)"),
            &[&id, &settled],
        )
        .await?;
        ids.push(id);
    }
    Ok(ids)
}
