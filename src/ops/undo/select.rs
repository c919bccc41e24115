//! Which journaled operations an undo reverts: deletes (as undelete
//! selects them, with the soft deletes they cascaded into) and updates.

use tokio_postgres::{GenericClient, Row};

use crate::journal::Action;
use crate::ops::OpsError;
use crate::ops::select::{Removal, WITH_ROWS, cascaded, operations_where, removal, split_table};

/// How the operator chose the operations to undo.
#[derive(Clone, Debug)]
pub enum Scope {
    /// These operation ids (`softdel log` shows them).
    Operations(Vec<i64>),
    /// Everything these transactions did.
    Transactions(Vec<i64>),
    /// Everything since a time (and before another), on one table or all.
    Window {
        table: Option<String>,
        since: String,
        until: Option<String>,
    },
}

/// A scope, narrowed to one database user and one application.
#[derive(Clone, Debug)]
pub struct Selection {
    pub scope: Scope,
    pub user: Option<String>,
    pub application: Option<String>,
}

/// The actions an undo reverts.
pub const UNDOABLE: [Action; 6] = [
    Action::SoftDelete,
    Action::JournalDelete,
    Action::HardDelete,
    Action::WouldSoftDelete,
    Action::WouldRefuse,
    Action::Update,
];

/// One selected operation.
#[derive(Clone, Debug)]
pub enum Step {
    /// Rows removed: brought back as undelete does.
    Delete(Removal),
    /// Rows changed: reverted column by column.
    Update(UpdateOp),
}

#[derive(Clone, Debug)]
pub struct UpdateOp {
    pub id: i64,
    pub txid: i64,
    pub schema: String,
    pub table: String,
}

impl Step {
    pub fn id(&self) -> i64 {
        match self {
            Step::Delete(r) => r.id,
            Step::Update(u) => u.id,
        }
    }

    pub fn txid(&self) -> i64 {
        match self {
            Step::Delete(r) => r.txid,
            Step::Update(u) => u.txid,
        }
    }
}

/// The selected operations, newest first. Every named id must exist and
/// be undoable; a selection that matches nothing says what was looked for.
pub async fn steps(
    client: &impl GenericClient,
    selection: &Selection,
) -> Result<Vec<Step>, OpsError> {
    let mut rows = match &selection.scope {
        Scope::Operations(ids) => by_id(client, ids, selection).await?,
        Scope::Transactions(txids) => {
            narrowed(client, "txid = ANY($3)", &txids.as_slice(), selection).await?
        }
        Scope::Window {
            table,
            since,
            until,
        } => window(client, table.as_deref(), since, until.as_deref(), selection).await?,
    };
    if rows.is_empty() {
        return Err(OpsError::NothingSelected(nothing(selection)));
    }
    let deletes: Vec<i64> = rows
        .iter()
        .filter(|r| r.get::<_, String>(4) != Action::Update.as_str())
        .map(|r| r.get(0))
        .collect();
    let taken: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    rows.extend(
        cascaded(client, &deletes)
            .await?
            .into_iter()
            .filter(|r| !taken.contains(&r.get(0))),
    );
    rows.sort_by_key(|r| std::cmp::Reverse(r.get::<_, i64>(0)));
    rows.iter().map(step).collect()
}

fn step(r: &Row) -> Result<Step, OpsError> {
    let action: Action = r.try_get(4)?;
    if action == Action::Update {
        return Ok(Step::Update(UpdateOp {
            id: r.get(0),
            txid: r.get(1),
            schema: r.get(2),
            table: r.get(3),
        }));
    }
    Ok(Step::Delete(removal(r)?))
}

/// The user and application filters, as parameters $1 and $2.
const NARROW: &str = "($1::text IS NULL OR db_user = $1) \
                      AND ($2::text IS NULL OR application_name = $2)";

async fn narrowed(
    client: &impl GenericClient,
    condition: &str,
    param: &(dyn tokio_postgres::types::ToSql + Sync),
    selection: &Selection,
) -> Result<Vec<Row>, OpsError> {
    let sql = operations_where(&format!(
        "{NARROW} AND {WITH_ROWS} AND action = ANY($4) AND {condition}"
    ));
    Ok(client
        .query(
            &sql,
            &[
                &selection.user,
                &selection.application,
                param,
                &UNDOABLE.as_slice(),
            ],
        )
        .await?)
}

async fn by_id(
    client: &impl GenericClient,
    ids: &[i64],
    selection: &Selection,
) -> Result<Vec<Row>, OpsError> {
    let all = client
        .query(&operations_where("id = ANY($1)"), &[&ids])
        .await?;
    for id in ids {
        let Some(row) = all.iter().find(|r| r.get::<_, i64>(0) == *id) else {
            return Err(OpsError::UnknownOperation(*id));
        };
        let action: Action = row.try_get(4)?;
        if !UNDOABLE.contains(&action) {
            return Err(OpsError::NotUndoable { id: *id, action });
        }
    }
    narrowed(client, "id = ANY($3)", &ids, selection).await
}

async fn window(
    client: &impl GenericClient,
    table: Option<&str>,
    since: &str,
    until: Option<&str>,
    selection: &Selection,
) -> Result<Vec<Row>, OpsError> {
    let (schema, name) = match table.map(split_table) {
        Some((schema, name)) => (schema, Some(name)),
        None => (None, None),
    };
    let sql = operations_where(&format!(
        "{NARROW} AND {WITH_ROWS} AND action = ANY($3) \
         AND ($4::text IS NULL OR table_schema = $4) AND ($5::text IS NULL OR table_name = $5) \
         AND at >= $6::text::timestamptz \
         AND ($7::text IS NULL OR at < $7::text::timestamptz)"
    ));
    Ok(client
        .query(
            &sql,
            &[
                &selection.user,
                &selection.application,
                &UNDOABLE.as_slice(),
                &schema,
                &name,
                &since,
                &until,
            ],
        )
        .await?)
}

/// What was looked for, when nothing was found.
fn nothing(selection: &Selection) -> String {
    let what = match &selection.scope {
        Scope::Operations(ids) => {
            let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
            format!("in operations {}", ids.join(", "))
        }
        Scope::Transactions(txids) => {
            let txids: Vec<String> = txids.iter().map(i64::to_string).collect();
            let s = if txids.len() == 1 { "" } else { "s" };
            format!("in transaction{s} {}", txids.join(", "))
        }
        Scope::Window {
            table,
            since,
            until,
        } => {
            let on = table.as_ref().map_or(String::new(), |t| format!("on {t}"));
            let to = until
                .as_ref()
                .map_or(String::new(), |u| format!(" and before {u}"));
            format!("{on} since {since}{to}").trim_start().to_owned()
        }
    };
    let by = selection
        .user
        .as_ref()
        .map_or(String::new(), |u| format!(" by user {u}"));
    let from = selection
        .application
        .as_ref()
        .map_or(String::new(), |a| format!(" from application {a}"));
    format!("the journal has no delete or update to undo {what}{by}{from} (see `softdel log`)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_says_what_was_looked_for() {
        let selection = Selection {
            scope: Scope::Window {
                table: Some("notes".into()),
                since: "2026-12-01".into(),
                until: None,
            },
            user: Some("bob".into()),
            application: Some("dedup-job".into()),
        };
        assert_eq!(
            nothing(&selection),
            "the journal has no delete or update to undo on notes since 2026-12-01 \
             by user bob from application dedup-job (see `softdel log`)"
        );
        let selection = Selection {
            scope: Scope::Transactions(vec![7, 9]),
            user: None,
            application: None,
        };
        assert!(nothing(&selection).contains("in transactions 7, 9 (see"));
    }
}
