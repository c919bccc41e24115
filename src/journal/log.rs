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
    pub limit: i64,
}

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
                    table_schema || '.' || table_name, action, row_count, sql, reason \
             FROM softdel.operations \
             WHERE ($1::text IS NULL OR table_schema = $1) \
               AND ($2::text IS NULL OR table_name = $2) \
               AND ($3::text IS NULL OR at >= $3::timestamptz) \
             ORDER BY at DESC, id DESC LIMIT $4",
            &[&schema, &table, &filter.since, &filter.limit],
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
            table: r.get(8),
            action: r.get(9),
            row_count: r.get(10),
            sql: r.get(11),
            reason: r.get(12),
        })
        .collect())
}
