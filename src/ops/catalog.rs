//! What the operator commands need to know about tables, read from the
//! live catalog: primary keys, columns, sequences and foreign keys.

use tokio_postgres::GenericClient;
use tokio_postgres::types::Oid;

use super::OpsError;

/// One table, as the catalog describes it now.
#[derive(Clone, Debug)]
pub struct Table {
    pub oid: Oid,
    pub schema: String,
    pub name: String,
    /// Primary-key columns, in key order; empty when there is none.
    pub primary_key: Vec<String>,
    pub columns: Vec<Column>,
}

#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    /// `bool`, `timestamptz`, ... (pg_type.typname).
    pub type_name: String,
    /// Generated columns cannot be inserted into.
    pub generated: bool,
    /// `GENERATED ALWAYS AS IDENTITY`: inserting needs OVERRIDING SYSTEM VALUE.
    pub identity_always: bool,
    /// The sequence that feeds it (serial or identity), already quoted.
    pub sequence: Option<String>,
}

impl Table {
    /// `"schema"."name"`, for SQL.
    pub fn quoted(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }

    /// `schema.name`, for people.
    pub fn display(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// A PostgreSQL identifier, quoted.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The table `schema.name`, `None` when it does not exist (any more).
pub async fn table(
    client: &impl GenericClient,
    schema: &str,
    name: &str,
) -> Result<Option<Table>, OpsError> {
    let Some(row) = client
        .query_opt(
            "SELECT c.oid FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
            &[&schema, &name],
        )
        .await?
    else {
        return Ok(None);
    };
    let oid: Oid = row.get(0);
    let primary_key = client
        .query(
            "SELECT a.attname::text FROM pg_catalog.pg_index i \
             CROSS JOIN LATERAL pg_catalog.unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.ord",
            &[&oid],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let columns = client
        .query(
            "SELECT a.attname::text, t.typname::text, a.attgenerated <> '', a.attidentity = 'a', \
                    pg_catalog.pg_get_serial_sequence($2, a.attname) \
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[
                &oid,
                &format!("{}.{}", quote_ident(schema), quote_ident(name)),
            ],
        )
        .await?
        .iter()
        .map(|r| Column {
            name: r.get(0),
            type_name: r.get(1),
            generated: r.get(2),
            identity_always: r.get(3),
            sequence: r.get(4),
        })
        .collect();
    Ok(Some(Table {
        oid,
        schema: schema.to_owned(),
        name: name.to_owned(),
        primary_key,
        columns,
    }))
}

/// Tables named `name` in any schema (or in `schema` only), excluding the
/// system schemas: what a rule that names a table applies to.
pub async fn tables_named(
    client: &impl GenericClient,
    schema: Option<&str>,
    name: &str,
) -> Result<Vec<Table>, OpsError> {
    let rows = client
        .query(
            "SELECT n.nspname::text FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relname = $2 AND c.relkind IN ('r', 'p') \
               AND ($1::text IS NULL OR n.nspname = $1) \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' \
             ORDER BY 1",
            &[&schema, &name],
        )
        .await?;
    let mut tables = Vec::new();
    for row in rows {
        let schema: String = row.get(0);
        if let Some(table) = table(client, &schema, name).await? {
            tables.push(table);
        }
    }
    Ok(tables)
}

/// A foreign key, child → parent.
#[derive(Clone, Debug)]
pub struct ForeignKey {
    pub name: String,
    pub child: Oid,
    pub child_name: String,
    pub parent: Oid,
    pub parent_name: String,
    /// `a` no action, `r` restrict, `c` cascade, `n` set null, `d` set default.
    pub on_delete: char,
    pub deferrable: bool,
}

/// Every foreign key from or to one of `oids`.
pub async fn foreign_keys(
    client: &impl GenericClient,
    oids: &[Oid],
) -> Result<Vec<ForeignKey>, OpsError> {
    let rows = client
        .query(
            "SELECT c.conname::text, c.conrelid, c.conrelid::pg_catalog.regclass::text, \
                    c.confrelid, c.confrelid::pg_catalog.regclass::text, c.confdeltype::text, \
                    c.condeferrable \
             FROM pg_catalog.pg_constraint c \
             WHERE c.contype = 'f' AND (c.conrelid = ANY($1) OR c.confrelid = ANY($1)) \
             ORDER BY 1",
            &[&oids],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| ForeignKey {
            name: r.get(0),
            child: r.get(1),
            child_name: r.get(2),
            parent: r.get(3),
            parent_name: r.get(4),
            on_delete: r.get::<_, String>(5).chars().next().unwrap_or('a'),
            deferrable: r.get(6),
        })
        .collect())
}

/// `tables` ordered parents before children, as far as the foreign keys
/// among them allow (a cycle keeps the remaining tables in their order).
pub fn parents_first(tables: &[Oid], keys: &[ForeignKey]) -> Vec<Oid> {
    let mut left: Vec<Oid> = tables.to_vec();
    let mut ordered = Vec::with_capacity(left.len());
    while !left.is_empty() {
        // A table is ready when none of its parents is still waiting.
        let ready = left.iter().position(|&t| {
            !keys
                .iter()
                .any(|k| k.child == t && k.parent != t && left.contains(&k.parent))
        });
        let next = left.remove(ready.unwrap_or(0));
        ordered.push(next);
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(child: Oid, parent: Oid) -> ForeignKey {
        ForeignKey {
            name: String::new(),
            child,
            child_name: String::new(),
            parent,
            parent_name: String::new(),
            on_delete: 'c',
            deferrable: false,
        }
    }

    #[test]
    fn parents_come_before_children() {
        // 3 → 2 → 1, listed children first; 4 references itself.
        let keys = [key(3, 2), key(2, 1), key(4, 4)];
        assert_eq!(parents_first(&[3, 4, 2, 1], &keys), vec![4, 1, 2, 3]);
    }

    #[test]
    fn a_cycle_does_not_loop() {
        let keys = [key(1, 2), key(2, 1)];
        assert_eq!(parents_first(&[1, 2], &keys).len(), 2);
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("Orders"), "\"Orders\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
