//! The rewrite of one DELETE, as edits to the client's text.
//!
//! A DELETE at the top of a statement becomes one statement of
//! data-modifying CTEs:
//!
//! ```sql
//! WITH softdel_rows AS (
//!     UPDATE orders o SET is_active = false            -- soft; journal and
//!     FROM customers c                                  -- allow keep DELETE
//!     WHERE (o.customer_id = c.id) AND o.is_active IS DISTINCT FROM false
//!     RETURNING o.id, to_jsonb(o.*) AS softdel_image_<nonce>
//! ), softdel_op AS (INSERT INTO softdel.operations … HAVING-like limit check …)
//! , softdel_images AS (INSERT INTO softdel.rows …)
//! SELECT softdel_rows.*, (SELECT id … FROM softdel_op)  -- or count(*)
//! FROM softdel_rows
//! ```
//!
//! The outer SELECT's last column is named with the proxy's nonce: the
//! proxy drops it and the image (or turns the count into the `DELETE n`
//! tag), so the client sees what its DELETE returns; the journal id it
//! carries goes to the log. A DELETE inside the client's own
//! CTE is rewritten in place and journaled by CTEs added after it.

use super::refusal::{Check, limit_check};
use super::site::Site;
use super::sql::{dollar_literal, literal};
use super::template::{Hole, Template};
use super::{Shape, count_column, image_column, op_column};
use crate::rules::{Marker, Mode, quote_if_needed};

/// Replace bytes `start..end` of the client's text (`start == end`
/// inserts).
#[derive(Clone, Debug)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: Template,
}

/// Where the DELETE stands in its statement.
#[derive(Clone, Debug)]
pub enum Position {
    /// The statement's own DELETE; `with_before` when the client wrote a
    /// WITH clause ahead of it.
    Top { with_before: bool },
    /// Inside the client's CTE `name`, whose closing parenthesis ends at
    /// `close_end`; `index` keeps the names of added CTEs apart.
    Cte {
        name: String,
        close_end: usize,
        index: usize,
    },
}

/// What to do to the DELETE.
pub struct Plan<'a> {
    /// Soft, Journal, Allow (with a limit), or Block (allowed only when it
    /// removes no row).
    pub mode: Mode,
    pub marker: Option<&'a Marker>,
    pub limit: Option<u64>,
    /// The table as messages name it.
    pub table: &'a str,
    /// The whole statement as the client sent it, for the journal.
    pub statement: &'a str,
    pub nonce: &'a str,
}

/// Adds the edits for one DELETE; returns how its result must be
/// translated (only for a top-level DELETE).
pub fn rewrite(
    sql: &str,
    site: &Site,
    plan: &Plan,
    position: &Position,
    edits: &mut Vec<Edit>,
) -> Option<Shape> {
    let reference = &sql[site.reference.0..site.reference.1];
    let image = image_column(plan.nonce);
    let mut edit = |start: usize, end: usize, text: Template| edits.push(Edit { start, end, text });

    if let Position::Top { with_before } = position {
        let open = if *with_before {
            ", softdel_rows AS ("
        } else {
            "WITH softdel_rows AS ("
        };
        edit(site.delete, site.delete, open.into());
    }
    if plan.mode == Mode::Soft {
        let marker = plan.marker?;
        let (column, value, live) = match marker {
            Marker::Flag(c) => (c, "false", "IS DISTINCT FROM false"),
            Marker::Timestamp(c) => (c, "pg_catalog.now()", "IS NULL"),
        };
        let column = quote_if_needed(column);
        edit(site.delete, site.from_end, "UPDATE".into());
        edit(
            site.target_end,
            site.target_end,
            format!(" SET {column} = {value}").as_str().into(),
        );
        if let Some(using) = site.using {
            edit(using.keyword_start, using.keyword_end, "FROM".into());
        }
        let live = format!("{reference}.{column} {live}");
        match site.where_ {
            Some(w) => {
                edit(w.body_start, w.body_start, "(".into());
                edit(w.end, w.end, format!(") AND {live}").as_str().into());
            }
            None => {
                let at = site.using.map_or(site.target_end, |u| u.end);
                edit(at, at, format!(" WHERE {live}").as_str().into());
            }
        }
    }
    let image_value = if !journaled(plan.mode) {
        "NULL::pg_catalog.jsonb".to_owned()
    } else {
        format!("pg_catalog.to_jsonb({reference}.*)")
    };
    let returned = match site.returning {
        Some(r) => (r.end, format!(", {image_value} AS {image}")),
        None => (site.end, format!(" RETURNING {image_value} AS {image}")),
    };
    edit(returned.0, returned.0, returned.1.as_str().into());

    let table_literal = literal(&sql[site.name.0..site.name.1]);
    match position {
        Position::Top { .. } => {
            let mut tail = Template::from(")");
            if journaled(plan.mode) {
                tail.append(&journal(plan, "softdel_rows", "", &table_literal));
            }
            let (outer, shape) = outer_select(plan, site.returning.is_some());
            tail.push(" ").push(&outer);
            edit(site.end, site.end, tail);
            Some(shape)
        }
        Position::Cte {
            name,
            close_end,
            index,
        } => {
            let suffix = format!("_{index}");
            edit(
                *close_end,
                *close_end,
                journal(plan, name, &suffix, &table_literal),
            );
            None
        }
    }
}

/// The CTEs that journal the operation (and check the row limit) from
/// the rows CTE `rows`.
fn journal(plan: &Plan, rows: &str, suffix: &str, table_literal: &str) -> Template {
    let action = action_name(plan.mode);
    let check = plan.limit.map_or(String::new(), |limit| {
        let check = limit_check(
            "softdel_n.n",
            Check::Limit(limit),
            plan.table,
            plan.statement,
            plan.nonce,
        );
        format!(" AND {check} IS NULL")
    });
    // Undelete reads which column to clear from the journal, not from
    // rules that may have changed since.
    let (marker_columns, marker_values) = match plan.marker.filter(|_| plan.mode == Mode::Soft) {
        Some(Marker::Flag(c)) => (
            ", marker_kind, marker_column",
            format!(", 'flag', {}", literal(c)),
        ),
        Some(Marker::Timestamp(c)) => (
            ", marker_kind, marker_column",
            format!(", 'timestamp', {}", literal(c)),
        ),
        None => ("", String::new()),
    };
    let mut t = Template::default();
    t.push(&format!(
        ", softdel_op{suffix} AS (INSERT INTO softdel.operations \
         (connection_id, client_addr, table_schema, table_name, action, row_count, sql{marker_columns}) SELECT "
    ))
    .hole(Hole::ConnectionId)
    .push(", ")
    .hole(Hole::ClientAddr)
    .push(&format!(
        ", softdel_t.names[1], softdel_t.names[2], '{action}', softdel_n.n, {}{marker_values} \
         FROM (SELECT pg_catalog.count(*) AS n FROM {rows}) softdel_n, \
         (SELECT (pg_catalog.pg_identify_object_as_address('pg_catalog.pg_class'::pg_catalog.regclass, \
         {table_literal}::pg_catalog.regclass, 0)).object_names AS names) softdel_t \
         WHERE softdel_n.n > 0{check} RETURNING id)",
        dollar_literal(plan.statement)
    ));
    if journaled(plan.mode) {
        t.push(&format!(
            ", softdel_images{suffix} AS (INSERT INTO softdel.rows (op_id, image) \
             SELECT softdel_o.id, softdel_r.{} FROM softdel_op{suffix} softdel_o, {rows} softdel_r)",
            image_column(plan.nonce)
        ));
    }
    t
}

/// The statement's outer query: the client's RETURNING rows (plus the
/// image column the proxy drops), or the count the proxy makes a tag of.
fn outer_select(plan: &Plan, returning: bool) -> (String, Shape) {
    // With a journal, the row limit is checked where the operation is
    // recorded; without one, here.
    let check = match plan.mode {
        Mode::Block => Some(Check::Block),
        Mode::Allow => plan.limit.map(Check::Limit),
        _ => None,
    };
    let check = |count: &str| {
        check.map(|check| limit_check(count, check, plan.table, plan.statement, plan.nonce))
    };
    if returning {
        // The journal entry rides along as one more column ("17
        // soft_delete orders"), dropped with the image by the proxy.
        let op = if journaled(plan.mode) {
            format!(
                "(SELECT softdel_o.id::pg_catalog.text || {} FROM softdel_op softdel_o)",
                literal(&format!(" {} {}", action_name(plan.mode), plan.table))
            )
        } else {
            "NULL::pg_catalog.text".to_owned()
        };
        let mut outer = format!(
            "SELECT softdel_rows.*, {op} AS {} FROM softdel_rows",
            op_column(plan.nonce)
        );
        if let Some(check) = check("pg_catalog.count(*)") {
            outer.push_str(&format!(
                " WHERE (SELECT {check} FROM softdel_rows) IS NULL"
            ));
        }
        (outer, Shape::Returning)
    } else {
        // The journal id rides along with the count ("3 17 soft_delete
        // orders"), for the proxy's log line; the client sees `DELETE 3`.
        let op = if journaled(plan.mode) {
            format!(
                " || COALESCE((SELECT ' ' || softdel_o.id || {} FROM softdel_op softdel_o), '')",
                literal(&format!(" {} {}", action_name(plan.mode), plan.table))
            )
        } else {
            String::new()
        };
        let mut outer = format!(
            "SELECT pg_catalog.count(*)::pg_catalog.text{op} AS {} FROM softdel_rows",
            count_column(plan.nonce)
        );
        if let Some(check) = check("pg_catalog.count(*)") {
            outer.push_str(&format!(" HAVING {check} IS NULL"));
        }
        (outer, Shape::Count)
    }
}

/// The journal's name for what a DELETE became.
fn action_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Soft => "soft_delete",
        Mode::Journal => "journal_delete",
        _ => "delete",
    }
}

/// Whether the DELETE's rows are journaled (soft and journal tables).
fn journaled(mode: Mode) -> bool {
    matches!(mode, Mode::Soft | Mode::Journal)
}
