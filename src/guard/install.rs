//! `softdel init --rules`: the journal, and the guards brought in line with
//! the rules, in one transaction: a guard is added for each table the
//! rules protect, changed where its rule (or what it was built from: the
//! table's key, the cascades into it) changed, and removed from a table
//! the rules no longer protect. Nothing is installed when any rule is
//! unusable.

use std::collections::HashMap;
use std::path::Path;

use tokio_postgres::Client;
use tokio_postgres::types::Oid;

use super::resolve::{GuardSpec, resolve};
use super::table::{create_sql, drop_sql, trigger_names};
use super::{EVENT_TRIGGERS, GuardError};
use crate::journal::{self, Installed, SCHEMA};
use crate::rules::{Marker, Mode, Rules};

/// What `install` did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct InstallReport {
    pub journal: JournalState,
    /// Per table, when rules were given.
    pub tables: Vec<TableChange>,
    /// Whether the event triggers that refuse DDL on protected tables are
    /// in place (they need a superuser).
    pub ddl_guarded: bool,
    /// Roles now allowed to record refusals (`--recorder`).
    pub recorders: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalState {
    Created,
    AlreadyCurrent,
    Upgraded { from: i32 },
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TableChange {
    /// `schema.name` (as the table is named now).
    pub table: String,
    pub change: Change,
    /// The guard, as its rule says: `soft, flag is_active, at most 100 rows`.
    pub guard: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    Changed,
    Unchanged,
    Removed,
}

/// An installed guard, as `softdel.guarded` records it.
pub(crate) struct Installed1 {
    pub relid: Oid,
    /// `schema.name` when the guard was installed, and its parts.
    pub display: String,
    pub schema: String,
    pub name: String,
    /// The table's name now, quoted; `None` once it is gone.
    pub quoted_now: Option<String>,
    pub definition: String,
    pub guard: String,
    /// Every trigger of its guard is there, enabled ALWAYS.
    pub triggers_ok: bool,
}

/// Installs the journal and, with `rules`, brings the guards in line with
/// them. `recorders` may record refused statements (the proxy's
/// `--journal-url` role).
pub async fn install(
    client: &Client,
    rules: Option<(&Rules, &Path)>,
    recorders: &[String],
) -> Result<InstallReport, GuardError> {
    journal::begin_install(client).await?;
    let result = install_in(client, rules, recorders).await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    client.batch_execute(end).await?;
    result
}

async fn install_in(
    client: &Client,
    rules: Option<(&Rules, &Path)>,
    recorders: &[String],
) -> Result<InstallReport, GuardError> {
    let journal = match journal::install_in(client).await? {
        Installed::Created => JournalState::Created,
        Installed::AlreadyCurrent => JournalState::AlreadyCurrent,
        Installed::Upgraded { from } => JournalState::Upgraded { from },
    };
    let superuser: bool = client
        .query_one(
            "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user",
            &[],
        )
        .await?
        .get(0);
    let mut tables = Vec::new();
    if let Some((rules, file)) = rules {
        // The event triggers would refuse what follows.
        journal::allow(client, "install").await?;
        let specs = resolve(client, rules, file).await?;
        tables = apply(client, &specs).await?;
        if superuser {
            install_event_triggers(client).await?;
        }
    }
    for role in recorders {
        client
            .batch_execute(&format!(
                "GRANT USAGE ON SCHEMA {SCHEMA} TO {role}; \
                 GRANT EXECUTE ON FUNCTION {SCHEMA}.record_refusal(timestamptz, text, text, text, text, bigint, text, text, text) TO {role}; \
                 GRANT EXECUTE ON FUNCTION {SCHEMA}.record_would_refuse(timestamptz, text, text, text, text, bigint, text, text, text) TO {role}",
                role = crate::ops::catalog::quote_ident(role)
            ))
            .await
            .map_err(GuardError::failed(format!(
                "allowing role {role} to record refusals"
            )))?;
    }
    Ok(InstallReport {
        journal,
        tables,
        ddl_guarded: event_triggers_installed(client).await?,
        recorders: recorders.to_vec(),
    })
}

/// Adds, changes and removes guards so that exactly `specs` are installed.
async fn apply(client: &Client, specs: &[GuardSpec]) -> Result<Vec<TableChange>, GuardError> {
    let mut installed: HashMap<Oid, Installed1> = installed(client)
        .await?
        .into_iter()
        .map(|i| (i.relid, i))
        .collect();
    let mut changes = Vec::new();
    for spec in specs {
        let definition = create_sql(spec);
        let before = installed.remove(&spec.relid);
        let change = match &before {
            Some(i) if i.definition == definition && i.triggers_ok => Change::Unchanged,
            Some(_) => Change::Changed,
            None => Change::Added,
        };
        if change != Change::Unchanged {
            let context = format!("installing the guard of {}", spec.display());
            client
                .batch_execute(&drop_sql(spec.relid, Some(&spec.quoted())))
                .await
                .map_err(GuardError::failed(&context))?;
            client
                .batch_execute(&definition)
                .await
                .map_err(GuardError::failed(&context))?;
            record(client, spec, &definition).await?;
        }
        changes.push(TableChange {
            table: spec.display(),
            change,
            guard: describe(spec),
        });
    }
    // What is left is no longer protected.
    let mut removed: Vec<Installed1> = installed.into_values().collect();
    removed.sort_by(|a, b| a.display.cmp(&b.display));
    for gone in removed {
        client
            .batch_execute(&drop_sql(gone.relid, gone.quoted_now.as_deref()))
            .await
            .map_err(GuardError::failed(format!(
                "removing the guard of {}",
                gone.display
            )))?;
        client
            .execute(
                &format!("DELETE FROM {SCHEMA}.guarded WHERE relid = $1"),
                &[&gone.relid],
            )
            .await?;
        changes.push(TableChange {
            table: gone.display,
            change: Change::Removed,
            guard: gone.guard,
        });
    }
    Ok(changes)
}

async fn record(client: &Client, spec: &GuardSpec, definition: &str) -> Result<(), GuardError> {
    let marker = spec.mode.marker();
    let (kind, column) = (marker.map(Marker::kind), marker.map(Marker::column));
    let max_rows = spec.max_rows.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    let outside_proxy = spec.mode.is_soft().then(|| spec.outside_proxy.as_str());
    let on_update = spec.journal_updates.then_some("journal");
    client
        .execute(
            &format!(
                "INSERT INTO {SCHEMA}.guarded (relid, table_schema, table_name, mode, marker_kind, \
               marker_column, max_rows, outside_proxy, rule, definition, on_update, observe) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (relid) DO UPDATE SET table_schema = EXCLUDED.table_schema, \
               table_name = EXCLUDED.table_name, mode = EXCLUDED.mode, \
               marker_kind = EXCLUDED.marker_kind, marker_column = EXCLUDED.marker_column, \
               max_rows = EXCLUDED.max_rows, outside_proxy = EXCLUDED.outside_proxy, \
               rule = EXCLUDED.rule, definition = EXCLUDED.definition, \
               on_update = EXCLUDED.on_update, observe = EXCLUDED.observe, installed_at = now()"
            ),
            &[
                &spec.relid,
                &spec.schema,
                &spec.name,
                &spec.mode.as_str(),
                &kind,
                &column,
                &max_rows,
                &outside_proxy,
                &spec.rule,
                &definition,
                &on_update,
                &spec.observe,
            ],
        )
        .await?;
    Ok(())
}

/// The guards installed now.
pub(crate) async fn installed(client: &Client) -> Result<Vec<Installed1>, GuardError> {
    let rows = client
        .query(
            &format!(
                "SELECT g.relid, g.table_schema || '.' || g.table_name, \
                    CASE WHEN c.oid IS NOT NULL THEN pg_catalog.format('%I.%I', n.nspname, c.relname) END, \
                    g.definition, g.mode, \
                    g.marker_kind, g.marker_column, g.max_rows, g.outside_proxy, \
                    g.table_schema, g.table_name, g.on_update IS NOT NULL, g.observe \
             FROM {SCHEMA}.guarded g \
             LEFT JOIN pg_catalog.pg_class c ON c.oid = g.relid \
             LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             ORDER BY 2"
            ),
            &[],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let relid: Oid = row.get(0);
        let mode: String = row.get(4);
        let updates: bool = row.get(11);
        let quoted_now: Option<String> = row.get(2);
        let triggers_ok = match &quoted_now {
            Some(_) => triggers_in_place(client, relid, &mode, updates).await?,
            None => false,
        };
        let guard = describe_parts(
            &mode,
            updates,
            row.get::<_, Option<String>>(5).as_deref(),
            row.get::<_, Option<String>>(6).as_deref(),
            row.get::<_, Option<i64>>(7),
            row.get::<_, Option<String>>(8).as_deref(),
            row.get::<_, Option<bool>>(12).unwrap_or(false),
        );
        out.push(Installed1 {
            relid,
            display: row.get(1),
            schema: row.get(9),
            name: row.get(10),
            quoted_now,
            definition: row.get(3),
            guard,
            triggers_ok,
        });
    }
    Ok(out)
}

/// Every trigger of a `mode` guard (journaling `updates`) on `relid` is
/// there, enabled ALWAYS.
async fn triggers_in_place(
    client: &Client,
    relid: Oid,
    mode: &str,
    updates: bool,
) -> Result<bool, GuardError> {
    let names = trigger_names(mode, updates);
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_catalog.pg_trigger \
             WHERE tgrelid = $1 AND tgname::text = ANY($2) AND tgenabled = 'A'",
            &[&relid, &names],
        )
        .await?
        .get(0);
    Ok(n == names.len() as i64)
}

async fn install_event_triggers(client: &Client) -> Result<(), GuardError> {
    client
        .batch_execute(super::DDL)
        .await
        .map_err(GuardError::failed(
            "installing the event triggers that guard DDL",
        ))
}

/// Both event triggers are there, enabled ALWAYS.
pub(crate) async fn event_triggers_installed(client: &Client) -> Result<bool, GuardError> {
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_catalog.pg_event_trigger \
             WHERE evtname::text = ANY($1) AND evtenabled = 'A'",
            &[&EVENT_TRIGGERS.as_slice()],
        )
        .await?
        .get(0);
    Ok(n == EVENT_TRIGGERS.len() as i64)
}

/// A guard as people read it: `soft, flag is_active, at most 100 rows`.
pub fn describe(spec: &GuardSpec) -> String {
    let marker = spec.mode.marker();
    let (kind, column) = (marker.map(Marker::kind), marker.map(Marker::column));
    describe_parts(
        spec.mode.as_str(),
        spec.journal_updates,
        kind,
        column,
        spec.max_rows.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
        spec.mode.is_soft().then(|| spec.outside_proxy.as_str()),
        spec.observe,
    )
}

fn describe_parts(
    mode: &str,
    updates: bool,
    marker_kind: Option<&str>,
    marker_column: Option<&str>,
    max_rows: Option<i64>,
    outside_proxy: Option<&str>,
    observe: bool,
) -> String {
    // Deletes of an allowed table are not the guard's business.
    if mode == Mode::Allow.as_str() {
        return "updates journaled".to_owned();
    }
    let mut text = mode.to_owned();
    if let (Some(kind), Some(column)) = (marker_kind, marker_column) {
        text.push_str(&format!(", {kind} {column}"));
    }
    match max_rows {
        Some(n) => text.push_str(&format!(", at most {n} rows")),
        None => text.push_str(", no row limit"),
    }
    if outside_proxy == Some("refuse") {
        text.push_str(", deletes outside the proxy refused");
    }
    if updates {
        text.push_str(", updates journaled");
    }
    if observe {
        text.push_str(", observed only (mode: observe)");
    }
    text
}
