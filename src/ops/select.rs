//! Which journaled operations an operator command works on.

use tokio_postgres::{GenericClient, Row};

use super::OpsError;
use crate::journal::{Action, SCHEMA};
use crate::rules::Marker;

/// How the operator chose the operations to undo.
#[derive(Clone, Debug)]
pub enum Selection {
    /// These operation ids (`softdel log` shows them).
    Operations(Vec<i64>),
    /// Everything one transaction removed, e.g. an ORM's cascade.
    Transaction(i64),
    /// Every removal from one table in a time window, optionally by one user.
    Table {
        table: String,
        since: String,
        until: Option<String>,
        user: Option<String>,
    },
}

/// One journaled operation that removed rows.
#[derive(Clone, Debug)]
pub struct Removal {
    pub id: i64,
    pub txid: i64,
    pub schema: String,
    pub table: String,
    pub kind: RemovalKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemovalKind {
    /// The rows are still there, marked deleted by this column.
    Soft(Marker),
    /// The rows were really deleted; the journal has their images.
    Hard,
}

/// `name` or `schema.name` split as the journal stores it.
pub fn split_table(table: &str) -> (Option<&str>, &str) {
    match table.rsplit_once('.') {
        Some((schema, name)) => (Some(schema), name),
        None => (None, table),
    }
}

/// Fails with a clear message unless PostgreSQL reads `value` as a time.
/// Run before a transaction starts: a failed cast would abort it.
pub async fn check_time(
    client: &impl GenericClient,
    what: &'static str,
    value: &str,
) -> Result<(), OpsError> {
    match client
        .query_one("SELECT $1::text::timestamptz", &[&value])
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => Err(OpsError::BadTime {
            what,
            value: value.to_owned(),
            reason: e
                .as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_owned()),
        }),
    }
}

/// The removals `selection` names, oldest first, with the soft deletes
/// they cascaded into (at any depth). Every id must exist and be a
/// removal; a selection that matches nothing is an error that says what
/// was looked for.
pub async fn removals(
    client: &impl GenericClient,
    selection: &Selection,
) -> Result<Vec<Removal>, OpsError> {
    let mut rows = match selection {
        Selection::Operations(ids) => by_id(client, ids).await?,
        Selection::Transaction(txid) => in_transaction(client, *txid).await?,
        Selection::Table {
            table,
            since,
            until,
            user,
        } => on_table(client, table, since, until.as_deref(), user.as_deref()).await?,
    };
    let selected: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    rows.extend(cascaded(client, &selected).await?);
    rows.sort_by_key(|r| r.get::<_, i64>(0));
    rows.iter().map(removal).collect()
}

/// The soft deletes that operations `ids` cascaded into, at any depth,
/// leaving out `ids` themselves.
pub(super) async fn cascaded(
    client: &impl GenericClient,
    ids: &[i64],
) -> Result<Vec<Row>, OpsError> {
    let condition = format!(
        "id <> ALL($1) AND action = ANY($2) AND {WITH_ROWS} AND id IN ( \
           WITH RECURSIVE c(id) AS ( \
             SELECT o.id FROM {SCHEMA}.operations o WHERE o.cascaded_from = ANY($1) \
             UNION SELECT o.id FROM {SCHEMA}.operations o JOIN c ON o.cascaded_from = c.id) \
           SELECT id FROM c)"
    );
    Ok(client
        .query(
            &operations_where(&condition),
            &[&ids, &Action::RESTORABLE.as_slice()],
        )
        .await?)
}

/// Leaves out what the proxy recorded of a statement it would have refused
/// under an observed rule and that journaled no rows (nothing to bring back).
pub(super) const WITH_ROWS: &str = "(action <> 'would_refuse' OR row_count > 0)";

/// The journal's operations that meet `condition`, oldest first.
pub(super) fn operations_where(condition: &str) -> String {
    format!(
        "SELECT id, txid, table_schema, table_name, action, marker_kind, marker_column \
         FROM {SCHEMA}.operations WHERE {condition} ORDER BY id"
    )
}

async fn by_id(client: &impl GenericClient, ids: &[i64]) -> Result<Vec<Row>, OpsError> {
    let rows = client
        .query(&operations_where("id = ANY($1)"), &[&ids])
        .await?;
    for id in ids {
        let row = rows.iter().find(|r| r.get::<_, i64>(0) == *id);
        let Some(row) = row else {
            return Err(OpsError::UnknownOperation(*id));
        };
        let action: Action = row.try_get(4)?;
        if !action.restorable() {
            return Err(OpsError::NotRestorable { id: *id, action });
        }
    }
    Ok(rows)
}

async fn in_transaction(client: &impl GenericClient, txid: i64) -> Result<Vec<Row>, OpsError> {
    let rows = client
        .query(
            &operations_where(&format!("txid = $1 AND action = ANY($2) AND {WITH_ROWS}")),
            &[&txid, &Action::RESTORABLE.as_slice()],
        )
        .await?;
    if rows.is_empty() {
        return Err(OpsError::NothingSelected(format!(
            "the journal has no soft or journaled delete in transaction {txid} (see `softdel log`)"
        )));
    }
    Ok(rows)
}

async fn on_table(
    client: &impl GenericClient,
    table: &str,
    since: &str,
    until: Option<&str>,
    user: Option<&str>,
) -> Result<Vec<Row>, OpsError> {
    let (schema, name) = split_table(table);
    let rows = client
        .query(
            &operations_where(&format!(
                "action = ANY($1) AND {WITH_ROWS} \
                 AND ($2::text IS NULL OR table_schema = $2) AND table_name = $3 \
                 AND at >= $4::text::timestamptz \
                 AND ($5::text IS NULL OR at < $5::text::timestamptz) \
                 AND ($6::text IS NULL OR db_user = $6)",
            )),
            &[
                &Action::RESTORABLE.as_slice(),
                &schema,
                &name,
                &since,
                &until,
                &user,
            ],
        )
        .await?;
    if rows.is_empty() {
        let by = user.map_or(String::new(), |u| format!(" by {u}"));
        let to = until.map_or(String::new(), |u| format!(" and before {u}"));
        return Err(OpsError::NothingSelected(format!(
            "the journal has no soft or journaled delete on {table}{by} since {since}{to}"
        )));
    }
    Ok(rows)
}

pub(super) fn removal(r: &Row) -> Result<Removal, OpsError> {
    let id: i64 = r.get(0);
    let schema: String = r.get(2);
    let table: String = r.get(3);
    let action: Action = r.try_get(4)?;
    // Rows marked deleted come back unmarked; rows deleted, re-inserted. An
    // observed soft delete over the limit (`would_refuse` with a marker)
    // marked them.
    let kind = match (action, Marker::from_journal(r.get(5), r.get(6))) {
        (Action::SoftDelete | Action::WouldRefuse, Some(marker)) => RemovalKind::Soft(marker),
        (Action::SoftDelete, None) => {
            return Err(OpsError::NoMarker {
                op: id,
                table: format!("{schema}.{table}"),
            });
        }
        _ => RemovalKind::Hard,
    };
    Ok(Removal {
        id,
        txid: r.get(1),
        schema,
        table,
        kind,
    })
}
