//! What softdel's own operator commands (undelete, purge) write to the
//! journal about their work, one operation per table.

use tokio_postgres::GenericClient;

use super::{Action, SCHEMA};

/// One operator operation on one table.
pub struct OwnOperation<'a> {
    pub schema: &'a str,
    pub table: &'a str,
    pub action: Action,
    pub row_count: u64,
    /// The command as the operator ran it.
    pub command: &'a str,
    pub reason: String,
}

/// Journals `op`; its id.
pub async fn record(
    client: &impl GenericClient,
    op: &OwnOperation<'_>,
) -> Result<i64, tokio_postgres::Error> {
    let row_count = i64::try_from(op.row_count).unwrap_or(i64::MAX);
    let row = client
        .query_one(
            &format!(
                "INSERT INTO {SCHEMA}.operations \
                   (table_schema, table_name, action, row_count, sql, reason) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"
            ),
            &[
                &op.schema,
                &op.table,
                &op.action,
                &row_count,
                &op.command,
                &op.reason,
            ],
        )
        .await?;
    Ok(row.get(0))
}
