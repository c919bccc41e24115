//! Reading the journal: `softdel log`.

use tokio_postgres::Client;

use super::install::{JournalError, require_current};

/// Which operations to list.
#[derive(Clone, Debug, Default)]
pub struct LogFilter {
    /// `name` or `schema.name` (as stored: folded, unquoted).
    pub table: Option<String>,
    /// A timestamp PostgreSQL reads (`2026-11-21 10:00`, `2026-11-21T10:00Z`).
    pub since: Option<String>,
    /// Only operations before this time.
    pub until: Option<String>,
    /// Only this database user.
    pub user: Option<String>,
    /// Only this action (soft_delete, journal_delete, hard_delete, delete, blocked, undelete, purge).
    pub action: Option<String>,
    /// Only this operation.
    pub id: Option<i64>,
    pub limit: i64,
}

/// The actions the journal records.
pub const ACTIONS: [&str; 7] = [
    "soft_delete",
    "journal_delete",
    "hard_delete",
    "delete",
    "blocked",
    "undelete",
    "purge",
];

/// One journaled operation.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Operation {
    pub id: i64,
    pub at: String,
    pub txid: i64,
    pub db_user: String,
    pub application_name: String,
    pub database: String,
    pub client_addr: Option<String>,
    pub connection_id: Option<i64>,
    /// `proxy` or `direct`; none for the operator's own commands.
    pub path: Option<String>,
    pub table: String,
    pub action: String,
    pub row_count: i64,
    pub sql: String,
    pub reason: Option<String>,
}

/// Operations matching `filter`, newest first.
pub async fn operations(
    client: &Client,
    filter: &LogFilter,
) -> Result<Vec<Operation>, JournalError> {
    require_current(client).await?;
    let (schema, table) = match filter.table.as_deref().map(|t| t.rsplit_once('.')) {
        Some(Some((s, t))) => (Some(s.to_owned()), Some(t.to_owned())),
        Some(None) => (None, filter.table.clone()),
        None => (None, None),
    };
    let rows = client
        .query(
            "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), txid, \
                    db_user, application_name, database, client_addr, connection_id, \
                    table_schema || '.' || table_name, action, row_count, sql, reason, path \
             FROM softdel.operations \
             WHERE ($1::text IS NULL OR table_schema = $1) \
               AND ($2::text IS NULL OR table_name = $2) \
               AND ($3::text IS NULL OR at >= $3::timestamptz) \
               AND ($5::text IS NULL OR at < $5::timestamptz) \
               AND ($6::text IS NULL OR db_user = $6) \
               AND ($7::text IS NULL OR action = $7) \
               AND ($8::bigint IS NULL OR id = $8) \
             ORDER BY at DESC, id DESC LIMIT $4",
            &[
                &schema,
                &table,
                &filter.since,
                &filter.limit,
                &filter.until,
                &filter.user,
                &filter.action,
                &filter.id,
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Operation {
            id: r.get(0),
            at: r.get(1),
            txid: r.get(2),
            db_user: r.get(3),
            application_name: r.get(4),
            database: r.get(5),
            client_addr: r.get(6),
            connection_id: r.get(7),
            path: r.get(13),
            table: r.get(8),
            action: r.get(9),
            row_count: r.get(10),
            sql: r.get(11),
            reason: r.get(12),
        })
        .collect())
}

/// One journaled row of an operation.
#[derive(Clone, Debug, serde::Serialize)]
pub struct JournalRow {
    pub id: i64,
    pub image: serde_json::Value,
    /// The undelete operation that brought it back, if one did.
    pub restored_by: Option<i64>,
}

/// The row images an operation journaled, in the order it wrote them.
pub async fn operation_rows(client: &Client, op: i64) -> Result<Vec<JournalRow>, JournalError> {
    require_current(client).await?;
    let rows = client
        .query(
            "SELECT id, image::text, restored_by FROM softdel.rows WHERE op_id = $1 ORDER BY id",
            &[&op],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| JournalRow {
            id: r.get(0),
            image: serde_json::from_str(r.get(1)).unwrap_or(serde_json::Value::Null),
            restored_by: r.get(2),
        })
        .collect())
}
