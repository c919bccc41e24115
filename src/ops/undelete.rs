//! `softdel undelete`: brings journaled rows back, in one transaction.
//!
//! Soft-deleted rows come back by clearing their mark, hard-deleted ones by
//! inserting their images, parents before children. A row that cannot
//! simply come back is a conflict: reported, never overwritten, and without
//! `--force` nothing is restored at all. The undo is journaled, and the
//! journal rows it restored remember it, so a second run restores nothing.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;
use tokio_postgres::types::Oid;
use tokio_postgres::{Client, Transaction};

use super::catalog::{self, Table, quote_ident};
use super::compare::{self, Action, Conflict};
use super::select::{self, Removal, RemovalKind, Selection};
use super::{OpsError, failed};
use crate::journal::{self, SCHEMA, require_current};
use crate::rules::Marker;

#[derive(Clone, Debug)]
pub struct Options {
    pub selection: Selection,
    /// Restore what is safe despite conflicts.
    pub force: bool,
    /// Report only; change nothing.
    pub dry_run: bool,
    /// The command as the operator ran it, for the journal.
    pub command: String,
}

/// What an undelete did, or would do.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// The journaled operations selected.
    pub operations: Vec<i64>,
    /// The transactions that made them.
    pub transactions: Vec<i64>,
    pub tables: Vec<TableReport>,
    pub conflicts: Vec<RowConflict>,
    pub dry_run: bool,
    pub force: bool,
    /// Whether anything was changed (false for a dry run, for conflicts
    /// without --force, and when there was nothing left to restore).
    pub applied: bool,
    /// The journal's record of this undelete, one operation per table.
    pub journal_ids: Vec<i64>,
}

impl Report {
    pub fn restored(&self) -> usize {
        self.tables.iter().map(|t| t.restored).sum()
    }

    pub fn already_restored(&self) -> usize {
        self.tables.iter().map(|t| t.already_restored).sum()
    }

    /// Conflicts stopped it: nothing was changed.
    pub fn blocked_by_conflicts(&self) -> bool {
        !self.conflicts.is_empty() && !self.applied && !self.dry_run && !self.force
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct TableReport {
    pub table: String,
    /// `clear is_active`, `clear deleted_at` or `re-insert`.
    pub how: String,
    /// Journaled rows selected (each key counted once).
    pub rows: usize,
    /// Rows brought back (or that would be, in a dry run).
    pub restored: usize,
    pub conflicts: usize,
    /// Rows an earlier undelete already brought back.
    pub already_restored: usize,
    /// Sequences moved past the largest restored value.
    pub sequences: Vec<String>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct RowConflict {
    pub table: String,
    pub key: String,
    pub operation: i64,
    pub conflict: Conflict,
    pub description: &'static str,
    /// What --force does (or did) about it.
    pub resolution: &'static str,
}

/// One journaled row.
struct JournalRow {
    id: i64,
    op: i64,
    image: Value,
    restored_by: Option<i64>,
}

/// The journaled rows of one table removed one way.
struct Group {
    schema: String,
    name: String,
    kind: RemovalKind,
    ops: Vec<i64>,
    rows: Vec<JournalRow>,
}

/// A group checked against the table: what to do with each row.
struct Planned {
    table: Table,
    kind: RemovalKind,
    ops: Vec<i64>,
    /// (journal row ids it settles, the image, what to do)
    rows: Vec<(Vec<i64>, Value, Action)>,
    report: TableReport,
}

pub async fn undelete(client: &mut Client, options: &Options) -> Result<Report, OpsError> {
    require_current(client).await?;
    if let Selection::Table { since, until, .. } = &options.selection {
        select::check_time(client, "--since", since).await?;
        if let Some(until) = until {
            select::check_time(client, "--until", until).await?;
        }
    }
    let tx = client.transaction().await?;
    let removals = select::removals(&tx, &options.selection).await?;
    let groups = load_groups(&tx, &removals).await?;
    let mut planned = Vec::with_capacity(groups.len());
    let mut conflicts = Vec::new();
    for group in groups {
        planned.push(plan(&tx, group, options.force, &mut conflicts).await?);
    }
    let mut report = Report {
        operations: removals.iter().map(|r| r.id).collect(),
        transactions: removals
            .iter()
            .map(|r| r.txid)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        tables: Vec::new(),
        conflicts,
        dry_run: options.dry_run,
        force: options.force,
        applied: false,
        journal_ids: Vec::new(),
    };
    let stopped = !report.conflicts.is_empty() && !options.force;
    let restorable = planned.iter().any(|p| p.report.restored > 0);
    if options.dry_run || stopped || !restorable {
        report.tables = planned.into_iter().map(|p| p.report).collect();
        tx.rollback().await?;
        return Ok(report);
    }
    apply(&tx, &mut planned).await?;
    report.journal_ids = journal(&tx, &planned, &options.command).await?;
    tx.commit().await?;
    report.applied = true;
    report.tables = planned.into_iter().map(|p| p.report).collect();
    Ok(report)
}

/// The selected operations' journal rows, locked (a concurrent undelete of
/// the same rows waits, then finds them restored), grouped by table.
async fn load_groups(tx: &Transaction<'_>, removals: &[Removal]) -> Result<Vec<Group>, OpsError> {
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

/// Holds one group's rows against the table as it is now.
async fn plan(
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
    let how = match &group.kind {
        RemovalKind::Soft(Marker::Flag(c) | Marker::Timestamp(c)) => {
            if table.column(c).is_none() {
                return Err(OpsError::MarkerMissing {
                    op: group.ops[0],
                    table: display,
                    column: c.clone(),
                });
            }
            format!("clear {c}")
        }
        RemovalKind::Hard => "re-insert".to_owned(),
    };
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
    let current = current_rows(tx, &table, &images).await?;
    let mut rows = Vec::with_capacity(pending.len());
    for ((settles, row), (normalized, now)) in pending.into_iter().zip(current) {
        let verdict = match &now {
            // Compare the image as this session renders it (time zones).
            Some(now) => {
                compare::classify(&group.kind, &keep_keys(&normalized, &row.image), Some(now))
            }
            None => compare::classify(&group.kind, &row.image, None),
        };
        let action = match verdict {
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
        };
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
    })
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
fn keep_keys(normalized: &Value, image: &Value) -> Value {
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

/// `FROM unnest($1) ... r`: the images as rows of the table.
fn images_as_rows(table: &Table) -> String {
    format!(
        "pg_catalog.unnest($1::text[]) WITH ORDINALITY AS i(image, ord) \
         CROSS JOIN LATERAL pg_catalog.jsonb_populate_record(NULL::{}, i.image::jsonb) AS r",
        table.quoted()
    )
}

fn key_match(table: &Table, left: &str, right: &str) -> String {
    table
        .primary_key
        .iter()
        .map(|c| format!("{left}.{c} = {right}.{c}", c = quote_ident(c)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// For each image: the image as this session renders it, and the row that
/// holds its key now (locked), if any.
async fn current_rows(
    tx: &Transaction<'_>,
    table: &Table,
    images: &[String],
) -> Result<Vec<(Value, Option<Value>)>, OpsError> {
    let sql = format!(
        "SELECT i.ord, pg_catalog.to_jsonb(r.*), pg_catalog.to_jsonb(t.*) \
         FROM {} JOIN {} AS t ON {} FOR UPDATE OF t",
        images_as_rows(table),
        table.quoted(),
        key_match(table, "t", "r"),
    );
    let found = tx
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

/// Clears marks first, then inserts, parents before children, with
/// deferrable keys checked at commit.
async fn apply(tx: &Transaction<'_>, planned: &mut [Planned]) -> Result<(), OpsError> {
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
        if let Some(sequence) = &column.sequence {
            if resync_sequence(tx, p, &column.name, sequence, &images).await? {
                p.report.sequences.push(sequence.clone());
            }
        }
    }
    Ok(())
}

/// Moves the sequence past the largest restored value, never backwards.
/// (setval is not transactional: done last, and only forwards.)
async fn resync_sequence(
    tx: &Transaction<'_>,
    p: &Planned,
    column: &str,
    sequence: &str,
    images: &[String],
) -> Result<bool, OpsError> {
    let sql = format!(
        "SELECT pg_catalog.setval($2::text::pg_catalog.regclass, m) FROM \
         (SELECT pg_catalog.max(r.{})::bigint AS m FROM {}) AS x \
         WHERE m > COALESCE(pg_catalog.pg_sequence_last_value($2::text::pg_catalog.regclass), 0)",
        quote_ident(column),
        images_as_rows(&p.table),
    );
    let moved = tx
        .query(&sql, &[&images, &sequence])
        .await
        .map_err(failed(format!("moving sequence {sequence}")))?;
    Ok(!moved.is_empty())
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
async fn journal(
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
        let settled: Vec<i64> = p
            .rows
            .iter()
            .filter(|(_, _, action)| *action != Action::Skip)
            .flat_map(|(settles, _, _)| settles.iter().copied())
            .collect();
        tx.execute(
            &format!("UPDATE {SCHEMA}.rows SET restored_by = $1 WHERE id = ANY($2)"),
            &[&id, &settled],
        )
        .await?;
        ids.push(id);
    }
    Ok(ids)
}
