//! The rewrite of one DELETE, as edits to the client's text.
//!
//! The guard inside PostgreSQL journals and refuses (see `crate::guard`);
//! the proxy only does what the guard cannot:
//!
//! - **soft tables**: the DELETE becomes an UPDATE of the marker on the
//!   rows it matches that are still live, with the same rows, RETURNING
//!   and description; the proxy turns the tag `UPDATE n` back into
//!   `DELETE n`. The guard journals the rows the UPDATE marked.
//!
//!   ```sql
//!   UPDATE orders o SET is_active = (SELECT false WHERE softdel.proxy_check(…) AND <context>)
//!   FROM customers c WHERE (o.customer_id = c.id) AND o.is_active IS DISTINCT FROM false
//!   ```
//! - **journal and block tables**: the DELETE stays, the guard journals or
//!   refuses it;
//! - **allowed tables with a row limit**: the DELETE is counted inside the
//!   statement and refused over the limit (no guard there).
//!
//! Each one sets the client's context for the guard (connection, address,
//! the statement as the client sent it) with `set_config(..., true)`,
//! which lasts for the transaction only: nothing leaks to another client
//! sharing the server connection behind a pooler. On a protected table it
//! also calls `softdel.proxy_check`, which fails (SD005) where the guard is
//! not installed, so a proxy whose rules were never installed cannot let
//! deletes through unjournaled.

use super::refusal::limit_check;
use super::site::Site;
use super::sql::{dollar_literal, literal};
use super::template::{Hole, Template};
use super::{Shape, count_column, image_column, op_column};
use crate::guard::table::proxy_trigger;
use crate::journal::SCHEMA;
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
    /// Soft, Journal, Block, or Allow (with a limit).
    pub mode: &'a Mode,
    pub limit: Option<u64>,
    /// The table as messages name it.
    pub table: &'a str,
    /// The statement as the client sent it, for the journal.
    pub statement: &'a str,
    pub nonce: &'a str,
}

/// Adds the edits for one DELETE; returns how the result of a top-level
/// one must be translated.
pub fn rewrite(
    sql: &str,
    site: &Site,
    plan: &Plan,
    position: &Position,
    edits: &mut Vec<Edit>,
) -> Option<Shape> {
    let mut edit = |start: usize, end: usize, text: Template| edits.push(Edit { start, end, text });
    let table_literal = literal(&sql[site.name.0..site.name.1]);
    match plan.mode {
        Mode::Soft(marker) => {
            soft(sql, site, plan, marker, &table_literal, &mut edit);
            let top = matches!(position, Position::Top { .. });
            top.then(|| Shape::Update(plan.table.into()))
        }
        Mode::Journal | Mode::Block => {
            let check = format!("{} AND ", proxy_check(&table_literal, false));
            let mut condition = Template::from("(SELECT ");
            condition.push(&check).append(&context(plan.statement));
            condition.push(" IS NOT NULL)");
            and_where(site, condition, &mut edit);
            let top = matches!(position, Position::Top { .. });
            (top && *plan.mode == Mode::Journal).then(|| Shape::Journal(plan.table.into()))
        }
        Mode::Allow => limited(site, plan, position, &mut edit),
    }
}

/// The guard's check that it is installed on the table (it fails with
/// SD005 where it is not), for a statement on a table, soft or not.
fn proxy_check(table_literal: &str, soft: bool) -> String {
    format!(
        "{SCHEMA}.proxy_check({table_literal}::pg_catalog.regclass, '{}')",
        proxy_trigger(soft)
    )
}

/// `pg_catalog.set_config('softdel.context', ..., true)` for the guard (see
/// `guard/runtime.sql` for the format): the session's values are holes.
/// Every operand of `||` is text: `text || bigint` would be `anytextcat`, a
/// SQL function the planner inlines by parsing its body again for every
/// statement it plans (a third of a soft delete's planning in the simple
/// protocol).
fn context(statement: &str) -> Template {
    let mut t = Template::from("pg_catalog.set_config('softdel.context', E'softdel1\\t' || '");
    t.hole(Hole::ConnectionId)
        .push("' || E'\\t' || ")
        .hole(Hole::ClientAddr)
        .push(
            " || E'\\t' || pg_catalog.txid_current()::text \
             || E'\\t' || pg_catalog.date_part('epoch', pg_catalog.statement_timestamp())::text \
             || E'\\t' || ",
        )
        .push(&dollar_literal(statement))
        .push(", true)");
    t
}

/// Adds `condition` to the DELETE's WHERE clause (or gives it one).
fn and_where(site: &Site, condition: Template, edit: &mut impl FnMut(usize, usize, Template)) {
    match site.where_ {
        Some(w) => {
            edit(w.body_start, w.body_start, "(".into());
            let mut tail = Template::from(") AND ");
            tail.append(&condition);
            edit(w.end, w.end, tail);
        }
        None => {
            let at = site.using.map_or(site.target_end, |u| u.end);
            let mut clause = Template::from(" WHERE ");
            clause.append(&condition);
            edit(at, at, clause);
        }
    }
}

/// DELETE → UPDATE of the marker on the rows still live.
fn soft(
    sql: &str,
    site: &Site,
    plan: &Plan,
    marker: &Marker,
    table_literal: &str,
    edit: &mut impl FnMut(usize, usize, Template),
) {
    let reference = &sql[site.reference.0..site.reference.1];
    let (column, value, live) = match marker {
        Marker::Flag(c) => (c, "false", "IS DISTINCT FROM false"),
        Marker::Timestamp(c) => (c, "pg_catalog.now()", "IS NULL"),
    };
    let column = quote_if_needed(column);
    edit(site.delete, site.from_end, "UPDATE".into());
    // An uncorrelated subquery: evaluated once, when the first row is
    // marked (and not at all when none is).
    let mut set = Template::from(
        format!(
            " SET {column} = (SELECT {value} WHERE {} AND ",
            proxy_check(table_literal, true)
        )
        .as_str(),
    );
    set.append(&context(plan.statement));
    set.push(" IS NOT NULL)");
    edit(site.target_end, site.target_end, set);
    if let Some(using) = site.using {
        edit(using.keyword_start, using.keyword_end, "FROM".into());
    }
    let live = Template::from(format!("{reference}.{column} {live}").as_str());
    and_where(site, live, edit);
}

/// An allowed DELETE with a row limit: counted in the statement, refused
/// over the limit. At the top of a statement it becomes
/// `WITH softdel_rows AS (DELETE … RETURNING …) SELECT count …`, whose
/// count the proxy turns into the tag; inside the client's own CTE, an
/// INSERT into `softdel.row_limit` that never inserts a row does the
/// counting (a data-modifying CTE always runs).
fn limited(
    site: &Site,
    plan: &Plan,
    position: &Position,
    edit: &mut impl FnMut(usize, usize, Template),
) -> Option<Shape> {
    let limit = plan.limit?;
    let mut condition = Template::from("(SELECT ");
    condition.append(&context(plan.statement));
    condition.push(" IS NOT NULL)");
    and_where(site, condition, edit);
    let check = |count: &str| limit_check(count, limit, plan.table, plan.statement, plan.nonce);
    match position {
        Position::Top { with_before } => {
            let open = if *with_before {
                ", softdel_rows AS ("
            } else {
                "WITH softdel_rows AS ("
            };
            edit(site.delete, site.delete, open.into());
            let image = format!("NULL::pg_catalog.jsonb AS {}", image_column(plan.nonce));
            let returned = match site.returning {
                Some(r) => (r.end, format!(", {image}")),
                None => (site.end, format!(" RETURNING {image}")),
            };
            edit(returned.0, returned.0, returned.1.as_str().into());
            let (outer, shape) = if site.returning.is_some() {
                let outer = format!(
                    "SELECT softdel_rows.*, NULL::pg_catalog.text AS {} FROM softdel_rows \
                     WHERE (SELECT {} FROM softdel_rows) IS NULL",
                    op_column(plan.nonce),
                    check("pg_catalog.count(*)")
                );
                (outer, Shape::Returning)
            } else {
                let outer = format!(
                    "SELECT pg_catalog.count(*)::pg_catalog.text AS {} FROM softdel_rows HAVING {} IS NULL",
                    count_column(plan.nonce),
                    check("pg_catalog.count(*)")
                );
                (outer, Shape::Count)
            };
            edit(site.end, site.end, format!(") {outer}").as_str().into());
            Some(shape)
        }
        Position::Cte {
            name,
            close_end,
            index,
        } => {
            // A data-modifying CTE without RETURNING cannot be read (nor
            // referenced by the client): one is added only then.
            if site.returning.is_none() {
                edit(site.end, site.end, " RETURNING 1".into());
            }
            let probe = format!(
                ", softdel_limit_{index} AS (INSERT INTO {SCHEMA}.row_limit (n) \
                 SELECT softdel_n.n FROM (SELECT pg_catalog.count(*) AS n FROM {name}) softdel_n \
                 WHERE {} IS NOT NULL)",
                check("softdel_n.n")
            );
            edit(*close_end, *close_end, probe.as_str().into());
            None
        }
    }
}
