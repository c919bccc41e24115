//! `softdel purge`: data retention. Rows soft-deleted longer ago than an
//! age the operator must give are really deleted, and the journal entries
//! of that age (row images included) are pruned; the purge is journaled.

use tokio_postgres::types::Oid;
use tokio_postgres::{Client, Transaction};

use super::catalog::{self, Table, quote_ident};
use super::select::split_table;
use super::{OpsError, failed};
use crate::journal::{self, Action, SCHEMA, require_current};
use crate::rules::Marker;

#[derive(Clone, Debug)]
pub struct Options {
    /// Only what is older than this many seconds.
    pub older_than_secs: u64,
    /// Only this table (`name` or `schema.name`).
    pub table: Option<String>,
    pub dry_run: bool,
    /// The command as the operator ran it, for the journal.
    pub command: String,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// Everything before this time (UTC) was purged.
    pub cutoff: String,
    pub tables: Vec<TableReport>,
    pub dry_run: bool,
    pub journal_ids: Vec<i64>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct TableReport {
    pub table: String,
    /// Soft-deleted rows really deleted.
    pub rows_deleted: u64,
    /// Journal operations pruned, with their row images.
    pub entries_pruned: u64,
}

/// The soft deletes of one table that are old enough.
struct SoftGroup {
    schema: String,
    name: String,
    marker: Marker,
    ops: Vec<i64>,
}

pub async fn purge(client: &mut Client, options: &Options) -> Result<Report, OpsError> {
    require_current(client).await?;
    let tx = client.transaction().await?;
    // The guard journals rows a DELETE takes; purge takes rows soft-deleted
    // (and journaled) long ago, which it must not journal again.
    journal::allow(&tx, "purge").await.map_err(failed(
        "telling the guard this is a purge (run purge as the role that ran softdel init)",
    ))?;
    let secs = i64::try_from(options.older_than_secs).unwrap_or(i64::MAX);
    let (schema, name) = match options.table.as_deref().map(split_table) {
        Some((schema, name)) => (schema, Some(name)),
        None => (None, None),
    };
    let cutoff_row = tx
        .query_one(
            "SELECT pg_catalog.now() - pg_catalog.make_interval(secs => $1::float8), \
                    pg_catalog.to_char((pg_catalog.now() - pg_catalog.make_interval(secs => $1::float8)) \
                    AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')",
            &[&(secs as f64)],
        )
        .await?;
    let cutoff: std::time::SystemTime = cutoff_row.get(0);
    let cutoff_text: String = cutoff_row.get(1);
    let old = old_operations(&tx, cutoff, schema, name).await?;
    let (tables, groups) = tally(&old);
    let mut report = Report {
        cutoff: cutoff_text,
        tables,
        dry_run: options.dry_run,
        journal_ids: Vec::new(),
    };
    delete_rows(&tx, &groups, &mut report.tables).await?;
    let ids: Vec<i64> = old.iter().map(|o| o.id).collect();
    prune(&tx, &ids).await?;
    if options.dry_run {
        tx.rollback().await?;
        return Ok(report);
    }
    report.journal_ids = record(&tx, &report, &options.command).await?;
    tx.commit().await?;
    Ok(report)
}

/// One journal operation old enough to be pruned.
struct OldOperation {
    id: i64,
    schema: String,
    name: String,
    action: Action,
    marker: Option<Marker>,
}

/// The actions whose rows stay in their table, marked deleted (with the
/// marker recorded): what purge deletes for good.
const MARKING: [Action; 2] = [Action::SoftDelete, Action::WouldRefuse];

/// The operations from before `cutoff` (of one table, if named), locked.
/// Purges stay: they are the record of what retention removed.
async fn old_operations(
    tx: &Transaction<'_>,
    cutoff: std::time::SystemTime,
    schema: Option<&str>,
    name: Option<&str>,
) -> Result<Vec<OldOperation>, OpsError> {
    let rows = tx
        .query(
            &format!(
                "SELECT id, table_schema, table_name, action, marker_kind, marker_column \
                 FROM {SCHEMA}.operations \
                 WHERE at < $1 AND action <> $4 \
                   AND ($2::text IS NULL OR table_schema = $2) AND ($3::text IS NULL OR table_name = $3) \
                 ORDER BY id FOR UPDATE"
            ),
            &[&cutoff, &schema, &name, &Action::Purge],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(OldOperation {
                id: row.get(0),
                schema: row.get(1),
                name: row.get(2),
                action: row.try_get(3)?,
                marker: Marker::from_journal(row.get(4), row.get(5)),
            })
        })
        .collect()
}

/// Per table, the entries to prune; and the soft deletes whose rows are
/// to be deleted for good.
fn tally(old: &[OldOperation]) -> (Vec<TableReport>, Vec<SoftGroup>) {
    let mut reports: Vec<TableReport> = Vec::new();
    let mut groups: Vec<SoftGroup> = Vec::new();
    for o in old {
        let (id, schema, name) = (o.id, o.schema.clone(), o.name.clone());
        let display = format!("{schema}.{name}");
        match reports.iter_mut().find(|r| r.table == display) {
            Some(r) => r.entries_pruned += 1,
            None => reports.push(TableReport {
                table: display,
                rows_deleted: 0,
                entries_pruned: 1,
            }),
        }
        let Some(marker) = o.marker.clone() else {
            continue;
        };
        // Rows marked deleted: a soft delete's, or an application's own
        // soft delete over the limit under an observed rule.
        if !MARKING.contains(&o.action) {
            continue;
        }
        match groups
            .iter_mut()
            .find(|g| g.schema == schema && g.name == name && g.marker == marker)
        {
            Some(g) => g.ops.push(id),
            None => groups.push(SoftGroup {
                schema,
                name,
                marker,
                ops: vec![id],
            }),
        }
    }
    (reports, groups)
}

/// Removes the operations `ids` from the journal. The images go with their
/// operations; rows an undelete being pruned restored are simply restored
/// (by nothing the journal still holds).
async fn prune(tx: &Transaction<'_>, ids: &[i64]) -> Result<(), OpsError> {
    tx.execute(
        &format!("DELETE FROM {SCHEMA}.rows WHERE op_id = ANY($1)"),
        &[&ids],
    )
    .await?;
    tx.execute(
        &format!("UPDATE {SCHEMA}.rows SET restored_by = NULL WHERE restored_by = ANY($1)"),
        &[&ids],
    )
    .await?;
    tx.execute(
        &format!("DELETE FROM {SCHEMA}.operations WHERE id = ANY($1)"),
        &[&ids],
    )
    .await?;
    Ok(())
}

/// Journals the purge, one operation per table; their ids.
async fn record(
    tx: &Transaction<'_>,
    report: &Report,
    command: &str,
) -> Result<Vec<i64>, OpsError> {
    let mut ids = Vec::with_capacity(report.tables.len());
    for t in &report.tables {
        let (schema, name) = t.table.split_once('.').unwrap_or(("", &t.table));
        let reason = format!(
            "deleted {} rows soft-deleted before {} UTC; pruned {} journal entries",
            t.rows_deleted, report.cutoff, t.entries_pruned
        );
        let op = journal::OwnOperation {
            schema,
            table: name,
            action: Action::Purge,
            row_count: t.rows_deleted,
            command,
            reason,
        };
        ids.push(journal::record(tx, &op).await?);
    }
    Ok(ids)
}

/// Deletes the rows still soft-deleted by the old operations, children
/// before parents; a row soft-deleted again since (by a newer operation)
/// stays.
async fn delete_rows(
    tx: &Transaction<'_>,
    groups: &[SoftGroup],
    reports: &mut [TableReport],
) -> Result<(), OpsError> {
    let mut tables: Vec<(Table, &SoftGroup)> = Vec::new();
    for g in groups {
        let display = format!("{}.{}", g.schema, g.name);
        // A table dropped since has nothing left to delete.
        let Some(table) = catalog::table(tx, &g.schema, &g.name).await? else {
            continue;
        };
        if table.primary_key.is_empty() {
            return Err(OpsError::NoPrimaryKey(display));
        }
        tables.push((table, g));
    }
    let oids: Vec<Oid> = tables.iter().map(|(t, _)| t.oid).collect();
    let keys = catalog::foreign_keys(tx, &oids).await?;
    let mut order = catalog::parents_first(&oids, &keys);
    order.reverse();
    for oid in order {
        for (table, group) in tables.iter().filter(|(t, _)| t.oid == oid) {
            let deleted = delete_group(tx, table, group).await?;
            if let Some(r) = reports.iter_mut().find(|r| r.table == table.display()) {
                r.rows_deleted += deleted;
            }
        }
    }
    Ok(())
}

async fn delete_group(
    tx: &Transaction<'_>,
    table: &Table,
    group: &SoftGroup,
) -> Result<u64, OpsError> {
    let quoted = table.quoted();
    let keys: Vec<String> = table.primary_key.iter().map(|c| quote_ident(c)).collect();
    let key_list = keys
        .iter()
        .map(|k| format!("r.{k}"))
        .collect::<Vec<_>>()
        .join(", ");
    let matches = |other: &str| {
        keys.iter()
            .map(|k| format!("t.{k} = {other}.{k}"))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let deleted = match &group.marker {
        Marker::Flag(c) => format!("t.{} IS FALSE", quote_ident(c)),
        Marker::Timestamp(c) => format!("t.{} IS NOT NULL", quote_ident(c)),
    };
    let sql = format!(
        "WITH old AS (SELECT {key_list} FROM {SCHEMA}.rows sr \
           CROSS JOIN LATERAL pg_catalog.jsonb_populate_record(NULL::{quoted}, sr.image) r \
           WHERE sr.op_id = ANY($1) AND sr.restored_by IS NULL), \
         newer AS (SELECT {key_list} FROM {SCHEMA}.operations o JOIN {SCHEMA}.rows sr ON sr.op_id = o.id \
           CROSS JOIN LATERAL pg_catalog.jsonb_populate_record(NULL::{quoted}, sr.image) r \
           WHERE o.table_schema = $2 AND o.table_name = $3 AND o.action = ANY($4) \
             AND o.marker_column IS NOT NULL \
             AND o.id <> ALL($1)) \
         DELETE FROM {quoted} AS t USING old \
         WHERE {old_match} AND {deleted} \
           AND NOT EXISTS (SELECT 1 FROM newer WHERE {newer_match})",
        old_match = matches("old"),
        newer_match = matches("newer"),
    );
    tx.execute(
        &sql,
        &[&group.ops, &table.schema, &table.name, &MARKING.as_slice()],
    )
    .await
    .map_err(failed(format!(
        "deleting the soft-deleted rows of {}",
        table.display()
    )))
}
