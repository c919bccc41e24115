//! `softdel check`: the rules held against the live catalog. Problems are
//! what makes softdel misbehave (exit status non-zero); warnings are what a
//! soft delete changes for the application.

use std::path::Path;

use tokio_postgres::Client;

use super::OpsError;
use super::catalog::{self, ForeignKey, Table, quote_ident};
use crate::journal::{JournalError, VERSION, require_current};
use crate::rules::{Marker, Mode, Rules, TableRule};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Problem,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Finding {
    pub level: Level,
    pub message: String,
    /// SQL that fixes it, when there is one.
    pub fix: Option<String>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct TableCheck {
    /// The rule as the file writes it, with its mode.
    pub rule: String,
    /// The table it resolved to (`schema.name`), when it exists.
    pub table: Option<String>,
    pub findings: Vec<Finding>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub journal: Finding,
    /// The guard installed in the database against the rules: what differs.
    pub guard: Vec<Finding>,
    pub tables: Vec<TableCheck>,
}

impl Report {
    fn all(&self) -> impl Iterator<Item = &Finding> {
        std::iter::once(&self.journal)
            .chain(&self.guard)
            .chain(self.tables.iter().flat_map(|t| &t.findings))
    }

    pub fn count(&self, level: Level) -> usize {
        self.all().filter(|f| f.level == level).count()
    }
}

fn ok(message: String) -> Finding {
    Finding {
        level: Level::Ok,
        message,
        fix: None,
    }
}

fn warning(message: String, fix: Option<String>) -> Finding {
    Finding {
        level: Level::Warning,
        message,
        fix,
    }
}

fn problem(message: String) -> Finding {
    Finding {
        level: Level::Problem,
        message,
        fix: None,
    }
}

pub async fn check(client: &Client, rules: &Rules, file: &Path) -> Result<Report, OpsError> {
    let journal = match require_current(client).await {
        Ok(()) => ok(format!(
            "journal installed (schema softdel, version {VERSION})"
        )),
        Err(JournalError::Database(e)) => return Err(e.into()),
        Err(e) => problem(e.to_string()),
    };
    let guard = if journal.level == Level::Ok {
        guard_findings(client, rules, file).await?
    } else {
        vec![problem(
            "the guard cannot be checked before the journal is installed at this version"
                .to_owned(),
        )]
    };
    let mut tables = Vec::new();
    for rule in &rules.tables {
        let found =
            catalog::tables_named(client, rule.table.schema.as_deref(), &rule.table.name).await?;
        let label = format!("{} ({})", rule.table, describe(rule));
        if found.is_empty() {
            tables.push(TableCheck {
                rule: label,
                table: None,
                findings: vec![problem(format!(
                    "no table {} in this database: the rule protects nothing (a typo?)",
                    rule.table
                ))],
            });
            continue;
        }
        for table in found {
            let findings = check_table(client, rules, rule, &table).await?;
            tables.push(TableCheck {
                rule: label.clone(),
                table: Some(table.display()),
                findings,
            });
        }
    }
    Ok(Report {
        journal,
        guard,
        tables,
    })
}

/// Where the installed guards and the rules disagree.
async fn guard_findings(
    client: &Client,
    rules: &Rules,
    file: &Path,
) -> Result<Vec<Finding>, OpsError> {
    let drifts = crate::guard::drift(client, rules, file)
        .await
        .map_err(|e| OpsError::Failed {
            context: "reading the installed guard".to_owned(),
            message: e.to_string(),
        })?;
    if drifts.is_empty() {
        return Ok(vec![ok(
            "every protected table has its guard, as the rules say, and DDL is guarded".to_owned(),
        )]);
    }
    Ok(drifts
        .into_iter()
        .map(|d| {
            let message = if d.table.is_empty() {
                d.message
            } else {
                format!("{}: {}", d.table, d.message)
            };
            if d.problem {
                problem(message)
            } else {
                warning(message, None)
            }
        })
        .collect())
}

fn describe(rule: &TableRule) -> String {
    match rule.mode.marker() {
        Some(m) => format!("{}, {} {}", rule.mode.as_str(), m.kind(), m.column()),
        None => rule.mode.as_str().to_owned(),
    }
}

async fn check_table(
    client: &Client,
    rules: &Rules,
    rule: &TableRule,
    table: &Table,
) -> Result<Vec<Finding>, OpsError> {
    let mut findings = vec![ok(format!("table {} exists", table.display()))];
    if let Some(marker) = rule.mode.marker() {
        findings.push(marker_finding(table, marker));
    }
    if matches!(rule.mode, Mode::Soft(_) | Mode::Journal) {
        findings.push(if table.primary_key.is_empty() {
            problem("no primary key: `softdel undelete` cannot match its rows".to_owned())
        } else {
            ok(format!("primary key ({})", table.primary_key.join(", ")))
        });
    }
    if let Some(marker) = rule.mode.marker() {
        findings.extend(unique_indexes(client, table, marker).await?);
    }
    if rule.hide {
        findings.extend(views_reading(client, table).await?);
    }
    let keys = catalog::foreign_keys(client, &[table.oid]).await?;
    for key in &keys {
        if let Some(finding) = cascade_finding(rules, rule, table, key) {
            findings.push(finding);
        }
    }
    Ok(findings)
}

fn marker_finding(table: &Table, marker: &Marker) -> Finding {
    let (column, (wanted, kind)) = (marker.column(), marker.column_types());
    match table.column(column) {
        None => problem(format!(
            "no column {column}: every DELETE on this table will fail (add it as {kind})"
        )),
        Some(c) if !wanted.contains(&c.type_name.as_str()) => problem(format!(
            "column {column} is {}, not {kind}: every DELETE on this table will fail",
            c.type_name
        )),
        Some(_) => ok(format!("column {column} is a {kind}")),
    }
}

/// Unique indexes other than the primary key count soft-deleted rows: a
/// new row with a deleted row's value is refused. A partial index over the
/// live rows fixes that.
async fn unique_indexes(
    client: &Client,
    table: &Table,
    marker: &Marker,
) -> Result<Vec<Finding>, OpsError> {
    let (column, live) = match marker {
        Marker::Flag(c) => (c, format!("{} IS DISTINCT FROM false", quote_if_plain(c))),
        Marker::Timestamp(c) => (c, format!("{} IS NULL", quote_if_plain(c))),
    };
    let rows = client
        .query(
            "SELECT i.indexrelid::pg_catalog.regclass::text, c.relname::text, \
                    pg_catalog.pg_get_indexdef(i.indexrelid), \
                    pg_catalog.pg_get_expr(i.indpred, i.indrelid), k.conname::text \
             FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid \
             LEFT JOIN pg_catalog.pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid \
             WHERE i.indrelid = $1 AND i.indisunique AND NOT i.indisprimary ORDER BY 1",
            &[&table.oid],
        )
        .await?;
    let mut findings = Vec::new();
    for row in rows {
        let (qualified, name, definition): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        let predicate: Option<String> = row.get(3);
        if predicate
            .as_deref()
            .is_some_and(|p| p.contains(column.as_str()))
        {
            findings.push(ok(format!("unique index {name} covers live rows only")));
            continue;
        }
        let constraint: Option<String> = row.get(4);
        let live_name = quote_if_plain(&format!("{name}_live"));
        let create = definition
            .replacen(" INDEX ", " INDEX CONCURRENTLY ", 1)
            .replacen(
                &format!(" {} ON ", quote_if_plain(&name)),
                &format!(" {live_name} ON "),
                1,
            );
        // pg_get_indexdef writes an existing predicate in parentheses.
        let create = match predicate {
            Some(_) => format!("{create} AND {live}"),
            None => format!("{create} WHERE {live}"),
        };
        let drop = match constraint {
            Some(c) => format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                table.quoted(),
                quote_ident(&c)
            ),
            None => format!("DROP INDEX CONCURRENTLY {qualified}"),
        };
        findings.push(warning(
            format!(
                "unique index {name} counts soft-deleted rows: a new row with a deleted row's value will be refused"
            ),
            Some(format!("{create}; {drop};")),
        ));
    }
    Ok(findings)
}

/// Views and materialized views that read a hidden table: their
/// definitions run inside PostgreSQL, where the proxy does not rewrite
/// them, so they still show the soft-deleted rows.
async fn views_reading(client: &Client, table: &Table) -> Result<Vec<Finding>, OpsError> {
    let rows = client
        .query(
            "SELECT DISTINCT v.oid::pg_catalog.regclass::text, v.relkind::text \
             FROM pg_catalog.pg_depend d \
             JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid \
             JOIN pg_catalog.pg_class v ON v.oid = r.ev_class \
             WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass \
               AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass \
               AND d.refobjid = $1 AND v.oid <> $1 ORDER BY 1",
            &[&table.oid],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let (view, kind): (String, String) = (row.get(0), row.get(1));
            let kind = if kind == "m" { "materialized view" } else { "view" };
            warning(
                format!(
                    "{kind} {view} reads this table: views are not rewritten, so it shows soft-deleted rows (filter them in its definition)"
                ),
                None,
            )
        })
        .collect())
}

/// How pg_get_indexdef writes an index name: quoted only when it must be.
fn quote_if_plain(name: &str) -> String {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        name.to_owned()
    } else {
        quote_ident(name)
    }
}

/// Foreign keys whose ON DELETE action works inside PostgreSQL: what the
/// guard does about them.
fn cascade_finding(
    rules: &Rules,
    rule: &TableRule,
    table: &Table,
    key: &ForeignKey,
) -> Option<Finding> {
    let action = match key.on_delete {
        'c' => "CASCADE",
        'n' => "SET NULL",
        'd' => "SET DEFAULT",
        _ => return None,
    };
    let mode_of = |name: &str| {
        let (schema, name) = split_regclass(name);
        rules.lookup(schema.as_deref(), &name).mode()
    };
    if key.parent == table.oid && key.child != table.oid {
        // This table is the parent: its deletes reach the child.
        let child_mode = mode_of(&key.child_name);
        let child_protected = *child_mode != Mode::Allow;
        let consequence = match rule.mode {
            Mode::Soft(_) if key.on_delete == 'c' && child_mode.is_soft() => format!(
                "a soft delete also soft-deletes the rows of {} that refer to it (undelete brings them back with it)",
                key.child_name
            ),
            Mode::Soft(_) if key.on_delete == 'c' => format!(
                "a soft delete does not {action} into {}, which is not soft: its rows stay, referring to soft-deleted rows",
                key.child_name
            ),
            Mode::Soft(_) => format!(
                "a soft delete does not {action}: rows of {} stay as they are, referring to soft-deleted rows",
                key.child_name
            ),
            Mode::Journal if key.on_delete == 'c' && !child_protected => format!(
                "a delete also deletes rows of {} inside PostgreSQL, which softdel does not journal: protect {} too",
                key.child_name, key.child_name
            ),
            _ => return None,
        };
        return Some(warning(
            format!(
                "foreign key {} from {} ON DELETE {action}: {consequence}",
                key.name, key.child_name
            ),
            None,
        ));
    }
    if key.child == table.oid && key.parent != table.oid && rule.mode != Mode::Allow {
        // This table is the child: a delete on the parent reaches it.
        if *mode_of(&key.parent_name) != Mode::Allow {
            // The parent's rows are journaled (or refused) too.
            return None;
        }
        let consequence = if key.on_delete == 'c' {
            format!(
                "the guard refuses a DELETE on {} that would cascade into rows of this table (their parents would not be journaled): protect {} (journal) to let such deletes through",
                key.parent_name, key.parent_name
            )
        } else {
            format!(
                "a DELETE on {} changes the key of rows of this table inside PostgreSQL, unjournaled",
                key.parent_name
            )
        };
        return Some(warning(
            format!(
                "foreign key {} to {} ON DELETE {action}: {consequence}",
                key.name, key.parent_name
            ),
            None,
        ));
    }
    None
}

/// `schema.name` or `name` as regclass prints them, unquoted.
fn split_regclass(text: &str) -> (Option<String>, String) {
    let unquote = |s: &str| s.trim_matches('"').replace("\"\"", "\"");
    match text.rsplit_once('.') {
        Some((schema, name)) => (Some(unquote(schema)), unquote(name)),
        None => (None, unquote(text)),
    }
}
