//! A rules file held against a database's catalog: the tables the guard
//! goes on, resolved as the proxy resolves names (a rule without a schema
//! names the table in every schema), with what each table's guard needs
//! to know (its primary key, and the cascades it cannot let through).

use std::collections::BTreeMap;
use std::path::Path;

use tokio_postgres::GenericClient;
use tokio_postgres::types::Oid;

use super::GuardError;
use crate::ops::catalog::{self, Table};
use crate::rules::{Marker, Mode, OutsideProxy, Rules, TableRule};

/// The guard one table gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardSpec {
    pub relid: Oid,
    pub schema: String,
    pub name: String,
    /// Soft, Journal or Block; Allow when the guard only journals updates.
    pub mode: Mode,
    /// `on_update: journal`: every row an UPDATE changes is journaled.
    pub journal_updates: bool,
    pub max_rows: Option<u64>,
    pub outside_proxy: OutsideProxy,
    pub primary_key: Vec<String>,
    /// Foreign keys that cascade deletes into this table from parents the
    /// guard does not journal: such a cascade is refused.
    pub cascades: Vec<Cascade>,
    /// Soft tables: ON DELETE CASCADE foreign keys from soft tables into
    /// this one, whose live rows a soft delete of this table's rows marks
    /// deleted too, in the same operation.
    pub soft_cascades: Vec<SoftCascade>,
    /// Soft tables: another soft table's soft delete cascades into this
    /// one (its journal entries then name the operation that caused them).
    pub cascaded_into: bool,
    /// `mode: observe`: nothing is refused and no soft delete cascades;
    /// what would have been refused is journaled as `would_refuse`.
    pub observe: bool,
    /// Where the rule stands: `rules.yaml:8:3 (orders)`.
    pub rule: String,
}

/// An ON DELETE CASCADE foreign key from an unguarded parent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cascade {
    pub constraint: String,
    /// `schema.name`, for people.
    pub parent_display: String,
    /// `"schema"."name"`, for SQL.
    pub parent_quoted: String,
    /// (column of this table, column of the parent), in key order.
    pub columns: Vec<(String, String)>,
}

/// An ON DELETE CASCADE foreign key into a soft table (the parent) from
/// a soft table (the child): the soft delete cascades as the delete would.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoftCascade {
    pub constraint: String,
    /// The child, `"schema"."name"`, for SQL.
    pub child: Oid,
    pub child_quoted: String,
    pub child_marker: Marker,
    /// (column of the child, column of this table), in key order.
    pub columns: Vec<(String, String)>,
}

impl GuardSpec {
    /// `"schema"."name"`, for SQL.
    pub fn quoted(&self) -> String {
        format!(
            "{}.{}",
            catalog::quote_ident(&self.schema),
            catalog::quote_ident(&self.name)
        )
    }

    pub fn display(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// The guards `rules` call for in the client's database, by table oid.
/// A rule naming a table the database does not have, a missing or
/// mistyped marker column and a soft table without a primary key are
/// errors naming the rule's place in `file`.
pub async fn resolve(
    client: &impl GenericClient,
    rules: &Rules,
    file: &Path,
) -> Result<Vec<GuardSpec>, GuardError> {
    resolve_with(client, rules, file, true).await
}

/// `resolve`, leaving out the rules it cannot use (for `softdel check`,
/// which reports those itself).
pub async fn resolve_usable(
    client: &impl GenericClient,
    rules: &Rules,
    file: &Path,
) -> Result<Vec<GuardSpec>, GuardError> {
    resolve_with(client, rules, file, false).await
}

async fn resolve_with(
    client: &impl GenericClient,
    rules: &Rules,
    file: &Path,
    strict: bool,
) -> Result<Vec<GuardSpec>, GuardError> {
    let database: String = client
        .query_one("SELECT current_database()::text", &[])
        .await?
        .get(0);
    let mut specs: BTreeMap<Oid, GuardSpec> = BTreeMap::new();
    // Rules naming a table first, then the partitions and inheritance
    // children they bring (a statement naming a child fires only the
    // child's statement triggers); a child with a rule of its own keeps it.
    let mut children = Vec::new();
    for rule in rules.guarded() {
        let found = catalog::tables_named(client, rule.table.schema.as_deref(), &rule.table.name)
            .await?
            .into_iter()
            .filter(|t| t.schema != crate::journal::SCHEMA)
            .collect::<Vec<_>>();
        if found.is_empty() && !strict {
            continue;
        }
        if found.is_empty() {
            return Err(GuardError::MissingTable {
                file: file.to_owned(),
                position: rule.position,
                rule: format!("tables.{}", rule.table),
                database,
            });
        }
        for table in found {
            let spec = match spec_for(rule, &table, file) {
                Ok(spec) => spec,
                Err(_) if !strict => continue,
                Err(e) => return Err(e),
            };
            children.extend(
                descendants(client, table.oid)
                    .await?
                    .into_iter()
                    .map(|c| (rule, c)),
            );
            specs.entry(table.oid).or_insert(spec);
        }
    }
    for (rule, (schema, name)) in children {
        let Some(table) = catalog::table(client, &schema, &name).await? else {
            continue;
        };
        if let std::collections::btree_map::Entry::Vacant(entry) = specs.entry(table.oid) {
            match spec_for(rule, &table, file) {
                Ok(spec) => entry.insert(spec),
                Err(_) if !strict => continue,
                Err(e) => return Err(e),
            };
        }
    }
    // A parent only journaled for its updates lets its deletes through
    // unjournaled: its cascades into a child are refused as any other's.
    let guarded: Vec<Oid> = specs
        .values()
        .filter(|s| s.mode != Mode::Allow)
        .map(|s| s.relid)
        .collect();
    let soft: BTreeMap<Oid, Marker> = specs
        .values()
        .filter_map(|s| Some((s.relid, s.mode.marker()?.clone())))
        .collect();
    for spec in specs.values_mut().filter(|s| s.mode != Mode::Allow) {
        spec.cascades = unguarded_cascades(client, spec.relid, &guarded).await?;
        // An observed table's soft deletes are the application's own
        // UPDATEs: softdel adds nothing to them.
        if soft.contains_key(&spec.relid) && !spec.observe {
            spec.soft_cascades = soft_cascades(client, spec.relid, &soft).await?;
        }
    }
    let children: Vec<Oid> = specs
        .values()
        .flat_map(|s| s.soft_cascades.iter().map(|c| c.child))
        .collect();
    for spec in specs.values_mut() {
        spec.cascaded_into = children.contains(&spec.relid);
    }
    Ok(specs.into_values().collect())
}

fn spec_for(rule: &TableRule, table: &Table, file: &Path) -> Result<GuardSpec, GuardError> {
    let unusable = |message: String| GuardError::Unusable {
        file: file.to_owned(),
        position: rule.position,
        message: format!("tables.{}: {message}", rule.table),
    };
    let journal_updates = rule.on_update.journaled();
    if journal_updates && table.primary_key.is_empty() {
        return Err(unusable(format!(
            "table {} has no primary key: a journaled update names each row by it (on_update: journal)",
            table.display()
        )));
    }
    if let Mode::Soft(marker) = &rule.mode {
        let (column, (wanted, kind)) = (marker.column(), marker.column_types());
        match table.column(column) {
            None => {
                return Err(unusable(format!(
                    "table {} has no column {column} (the {kind} that marks deleted rows)",
                    table.display()
                )));
            }
            Some(c) if !wanted.contains(&c.type_name.as_str()) => {
                return Err(unusable(format!(
                    "column {column} of {} is {}, not a {kind}",
                    table.display(),
                    c.type_name
                )));
            }
            Some(_) => {}
        }
        if table.primary_key.is_empty() {
            return Err(unusable(format!(
                "table {} has no primary key: the guard tells a soft delete from other updates by it",
                table.display()
            )));
        }
    }
    let place = match rule.position {
        Some((line, column)) => format!("{}:{line}:{column}", file.display()),
        None => file.display().to_string(),
    };
    Ok(GuardSpec {
        relid: table.oid,
        schema: table.schema.clone(),
        name: table.name.clone(),
        mode: rule.mode.clone(),
        journal_updates,
        max_rows: rule.max_rows,
        outside_proxy: rule.outside_proxy,
        primary_key: table.primary_key.clone(),
        cascades: Vec::new(),
        soft_cascades: Vec::new(),
        cascaded_into: false,
        observe: rule.enforcement.observes(),
        rule: format!("{place} ({})", rule.table),
    })
}

/// Partitions and inheritance children, at any depth: (schema, name).
async fn descendants(
    client: &impl GenericClient,
    relid: Oid,
) -> Result<Vec<(String, String)>, GuardError> {
    let rows = client
        .query(
            "WITH RECURSIVE d(relid) AS ( \
               SELECT inhrelid FROM pg_catalog.pg_inherits WHERE inhparent = $1 \
               UNION SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN d ON i.inhparent = d.relid) \
             SELECT n.nspname::text, c.relname::text FROM d \
             JOIN pg_catalog.pg_class c ON c.oid = d.relid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') ORDER BY 1, 2",
            &[&relid],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// ON DELETE CASCADE keys into `relid` from parents not in `guarded`.
async fn unguarded_cascades(
    client: &impl GenericClient,
    relid: Oid,
    guarded: &[Oid],
) -> Result<Vec<Cascade>, GuardError> {
    let rows = client
        .query(
            &format!(
                "SELECT c.conname::text, n.nspname || '.' || p.relname, \
                    pg_catalog.format('%I.%I', n.nspname, p.relname), {FOREIGN_KEY_COLUMNS} \
             FROM pg_catalog.pg_constraint c \
             JOIN pg_catalog.pg_class p ON p.oid = c.confrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = p.relnamespace \
             WHERE c.contype = 'f' AND c.conrelid = $1 AND c.confdeltype = 'c' \
               AND c.confrelid <> ALL($2) AND c.conparentid = 0 \
             ORDER BY 1"
            ),
            &[&relid, &guarded],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let child: Vec<String> = r.get(3);
            let parent: Vec<String> = r.get(4);
            Cascade {
                constraint: r.get(0),
                parent_display: r.get(1),
                parent_quoted: r.get(2),
                columns: child.into_iter().zip(parent).collect(),
            }
        })
        .collect())
}

/// The columns of a foreign key `c`, the child's and the parent's, in key
/// order: the last two columns of a select list.
const FOREIGN_KEY_COLUMNS: &str = "\
    ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(c.conkey) WITH ORDINALITY k(num, ord) \
          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num \
          ORDER BY k.ord), \
    ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(c.confkey) WITH ORDINALITY k(num, ord) \
          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num \
          ORDER BY k.ord)";

/// ON DELETE CASCADE keys from soft tables (`soft`, with their markers)
/// into the soft table `relid`.
async fn soft_cascades(
    client: &impl GenericClient,
    relid: Oid,
    soft: &BTreeMap<Oid, Marker>,
) -> Result<Vec<SoftCascade>, GuardError> {
    let oids: Vec<Oid> = soft.keys().copied().collect();
    let rows = client
        .query(
            &format!(
                "SELECT c.conname::text, c.conrelid, \
                        pg_catalog.format('%I.%I', n.nspname, t.relname), {FOREIGN_KEY_COLUMNS} \
                 FROM pg_catalog.pg_constraint c \
                 JOIN pg_catalog.pg_class t ON t.oid = c.conrelid \
                 JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace \
                 WHERE c.contype = 'f' AND c.confrelid = $1 AND c.confdeltype = 'c' \
                   AND c.conrelid = ANY($2) AND c.conparentid = 0 \
                 ORDER BY 3, 1"
            ),
            &[&relid, &oids],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let child: Oid = r.get(1);
            let columns: Vec<String> = r.get(3);
            let parent: Vec<String> = r.get(4);
            Some(SoftCascade {
                constraint: r.get(0),
                child,
                child_quoted: r.get(2),
                child_marker: soft.get(&child)?.clone(),
                columns: columns.into_iter().zip(parent).collect(),
            })
        })
        .collect())
}
