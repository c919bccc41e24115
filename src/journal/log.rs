//! Reading the journal: `softdel log`.

use tokio_postgres::Client;

use super::Action;
use super::install::{JournalError, SCHEMA, require_current};

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
    /// Only clients with this application_name.
    pub application: Option<String>,
    /// Only this action.
    pub action: Option<Action>,
    /// Only this operation.
    pub id: Option<i64>,
    /// Only the operations of this transaction.
    pub txid: Option<i64>,
    /// Only operations listed after this one (newest first): the next
    /// page of a list whose last operation it was.
    pub before: Option<i64>,
    /// Oldest first (and `before` then means after): a transaction's
    /// operations in the order they ran.
    pub oldest_first: bool,
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
    /// `proxy` or `direct`; none for the operator's own commands.
    pub path: Option<String>,
    pub table: String,
    pub action: Action,
    pub row_count: i64,
    pub sql: String,
    pub reason: Option<String>,
    /// The soft delete whose ON DELETE CASCADE key carried this one.
    pub cascaded_from: Option<i64>,
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
    let (before, order) = if filter.oldest_first {
        (">", "ASC")
    } else {
        ("<", "DESC")
    };
    let rows = client
        .query(
            &format!(
                "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), txid, \
                    db_user, application_name, database, client_addr, connection_id, \
                    CASE WHEN table_schema = '' THEN table_name \
                         ELSE table_schema || '.' || table_name END, action, row_count, sql, reason, path, cascaded_from \
             FROM {SCHEMA}.operations \
             WHERE ($1::text IS NULL OR table_schema = $1) \
               AND ($2::text IS NULL OR table_name = $2) \
               AND ($3::text IS NULL OR at >= $3::timestamptz) \
               AND ($5::text IS NULL OR at < $5::timestamptz) \
               AND ($6::text IS NULL OR db_user = $6) \
               AND ($7::text IS NULL OR action = $7) \
               AND ($8::bigint IS NULL OR id = $8) \
               AND ($9::text IS NULL OR application_name = $9) \
               AND ($10::bigint IS NULL OR txid = $10) \
               AND ($11::bigint IS NULL OR (at, id) {before} \
                    (SELECT b.at, b.id FROM {SCHEMA}.operations b WHERE b.id = $11)) \
             ORDER BY at {order}, id {order} LIMIT $4"
            ),
            &[
                &schema,
                &table,
                &filter.since,
                &filter.limit,
                &filter.until,
                &filter.user,
                &filter.action,
                &filter.id,
                &filter.application,
                &filter.txid,
                &filter.before,
            ],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Operation {
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
                action: r.try_get(9)?,
                row_count: r.get(10),
                sql: r.get(11),
                reason: r.get(12),
                cascaded_from: r.get(14),
            })
        })
        .collect()
}

/// Operation `id`, if the journal has it.
pub async fn operation(client: &Client, id: i64) -> Result<Option<Operation>, JournalError> {
    let filter = LogFilter {
        id: Some(id),
        limit: 1,
        ..LogFilter::default()
    };
    Ok(operations(client, &filter).await?.into_iter().next())
}

/// One journaled row of an operation.
#[derive(Clone, Debug, serde::Serialize)]
pub struct JournalRow {
    pub id: i64,
    pub image: serde_json::Value,
    /// The undelete (or undo) operation that brought it back, if one did.
    pub restored_by: Option<i64>,
}

/// The row images an operation journaled, in the order it wrote them.
pub async fn operation_rows(client: &Client, op: i64) -> Result<Vec<JournalRow>, JournalError> {
    operation_rows_page(client, op, 0, i64::MAX).await
}

/// At most `limit` of the row images an operation journaled, those after
/// journal row `after`, in the order it wrote them (a page: an operation
/// may hold millions).
pub async fn operation_rows_page(
    client: &Client,
    op: i64,
    after: i64,
    limit: i64,
) -> Result<Vec<JournalRow>, JournalError> {
    require_current(client).await?;
    let rows = client
        .query(
            &format!(
                "SELECT id, image, restored_by FROM {SCHEMA}.rows \
                 WHERE op_id = $1 AND id > $2 ORDER BY id LIMIT $3"
            ),
            &[&op, &after, &limit],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let id = r.get(0);
            Ok(JournalRow {
                id,
                image: row_image(id, op, r.try_get(1)?)?,
                restored_by: r.get(2),
            })
        })
        .collect()
}

/// A journal row's image, which must be a row (a JSON object): anything
/// else is a corrupt journal, never read as an empty row.
pub fn row_image(
    row: i64,
    op: i64,
    image: Option<serde_json::Value>,
) -> Result<serde_json::Value, JournalError> {
    match image {
        Some(image @ serde_json::Value::Object(_)) => Ok(image),
        other => Err(JournalError::CorruptImage {
            row,
            op,
            found: other.map_or_else(|| "NULL".to_owned(), |v| shortened(&v.to_string(), 60)),
        }),
    }
}

/// `text` in at most `max` characters, for a message or a column: cut
/// short, it ends in `…`.
pub fn shortened(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some(_) => {
            let cut = text
                .char_indices()
                .nth(max.saturating_sub(1))
                .map_or(0, |(at, _)| at);
            format!("{}…", &text[..cut])
        }
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::shortened;

    #[test]
    fn shortened_keeps_at_most_max_characters() {
        assert_eq!(shortened("abc", 3), "abc");
        assert_eq!(shortened("abcd", 3), "ab…");
        assert_eq!(shortened("ééééé", 4), "ééé…");
        assert_eq!(shortened("", 0), "");
    }
}
