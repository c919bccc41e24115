//! The SQL of one table's guard: its trigger functions and triggers. Pure
//! functions of a [`GuardSpec`]; the text is stored with the guard, so a
//! later `softdel init` (or `softdel check`) sees exactly what changed.
//!
//! Every protected table gets
//! - `softdel_guard_delete`: AFTER DELETE, once per statement, with the
//!   deleted rows as a transition table: refuses (block tables, a cascade
//!   from an unjournaled parent, `outside_proxy: refuse`, the row limit)
//!   or journals every row image as one operation;
//! - `softdel_guard_truncate`: BEFORE TRUNCATE, refused;
//!
//! and soft tables also
//! - `softdel_guard_update`: AFTER UPDATE, once per statement, old and new
//!   rows as transition tables: the rows the statement marked deleted
//!   (flag from not false to false, timestamp from NULL to a time),
//!   whoever sent it, are journaled as one soft delete.
//!
//! All are ENABLE ALWAYS, so they fire under
//! `session_replication_role = replica` too; their functions run as the
//! role that installed them, with a fixed search_path.

use super::journaled::{CONTEXT, END, Journaled, declare, journal, would_refuse};
use super::resolve::{Cascade, GuardSpec, SoftCascade};
use crate::journal::{Action, SCHEMA};
use crate::ops::catalog::quote_ident;
use crate::rewrite::literal;
use crate::rules::{Marker, Mode, OutsideProxy};

/// The triggers a guard has, by name: a `mode` table's (`soft`,
/// `journal`, `block`, or `allow` when only its `updates` are journaled).
pub fn trigger_names(mode: &str, updates: bool) -> Vec<&'static str> {
    let deletes = mode != Mode::Allow.as_str();
    let mut names = Vec::with_capacity(3);
    if deletes {
        names.push("softdel_guard_delete");
    }
    if updates || mode == "soft" {
        names.push("softdel_guard_update");
    }
    if deletes {
        names.push("softdel_guard_truncate");
    }
    names
}

/// The trigger the proxy checks for before it sends a statement on a
/// table, soft or not (see `softdel.proxy_check`).
pub fn proxy_trigger(soft: bool) -> &'static str {
    if soft {
        "softdel_guard_update"
    } else {
        "softdel_guard_delete"
    }
}

/// Every function a guard may install, by name
/// (`softdel.guard_<oid>_...`): those of its deletes, updates and
/// (observed) truncates.
pub fn function_names(relid: u32) -> Vec<String> {
    ["delete", "update", "truncate"]
        .iter()
        .map(|what| format!("{SCHEMA}.guard_{relid}_{what}"))
        .collect()
}

/// The whole guard of one table, ready to run (after any earlier version
/// of it is dropped: see `drop_sql`).
pub fn create_sql(spec: &GuardSpec) -> String {
    let table = spec.quoted();
    let relid = spec.relid;
    let triggers = trigger_names(spec.mode.as_str(), spec.journal_updates);
    let mut sql = String::new();
    if triggers.contains(&"softdel_guard_delete") {
        sql.push_str(&delete_function(spec));
    }
    if triggers.contains(&"softdel_guard_update") {
        sql.push_str(&update_function(spec));
    }
    // An observed table's TRUNCATE is let through, its rows journaled.
    let truncate = if spec.observe && triggers.contains(&"softdel_guard_truncate") {
        sql.push_str(&truncate_function(spec));
        format!("{SCHEMA}.guard_{relid}_truncate")
    } else {
        format!("{SCHEMA}.refuse_truncate")
    };
    for trigger in &triggers {
        sql.push_str(&match *trigger {
            "softdel_guard_delete" => format!(
                "CREATE TRIGGER softdel_guard_delete AFTER DELETE ON {table}\n    \
                 REFERENCING OLD TABLE AS softdel_old FOR EACH STATEMENT\n    \
                 EXECUTE FUNCTION {SCHEMA}.guard_{relid}_delete();\n"
            ),
            "softdel_guard_update" => format!(
                "CREATE TRIGGER softdel_guard_update AFTER UPDATE ON {table}\n    \
                 REFERENCING OLD TABLE AS softdel_old NEW TABLE AS softdel_new FOR EACH STATEMENT\n    \
                 EXECUTE FUNCTION {SCHEMA}.guard_{relid}_update();\n"
            ),
            _ => format!(
                "CREATE TRIGGER softdel_guard_truncate BEFORE TRUNCATE ON {table}\n    \
                 FOR EACH STATEMENT EXECUTE FUNCTION {truncate}();\n"
            ),
        });
    }
    for trigger in triggers {
        sql.push_str(&format!(
            "ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger};\n"
        ));
    }
    sql
}

/// Removes a guard: its triggers (when the table is still there, as
/// `table`) and its functions.
pub fn drop_sql(relid: u32, table: Option<&str>) -> String {
    let mut sql = String::new();
    if let Some(table) = table {
        for trigger in trigger_names("soft", true) {
            sql.push_str(&format!("DROP TRIGGER IF EXISTS {trigger} ON {table};\n"));
        }
    }
    for function in function_names(relid) {
        sql.push_str(&format!("DROP FUNCTION IF EXISTS {function}();\n"));
    }
    sql
}

/// A trigger function: `body` (from DECLARE to END) dollar-quoted with a
/// tag it does not contain (a table's name may hold anything).
fn function(name: &str, comment: &str, body: &str) -> String {
    let mut tag = "$guard$".to_owned();
    let mut n = 0;
    while body.contains(&tag) || comment.contains(&tag) {
        n += 1;
        tag = format!("$guard{n}$");
    }
    format!(
        "CREATE OR REPLACE FUNCTION {name}() RETURNS trigger\n\
         LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS {tag}\n\
         -- {comment}\n{body}{tag};\n"
    )
}

/// What a rule says, for the functions' comments.
fn describe(spec: &GuardSpec) -> String {
    let mut text = format!(
        "softdel guard of {}: {}",
        spec.display(),
        spec.mode.as_str()
    );
    if let Some(marker) = spec.mode.marker() {
        text.push_str(&format!(", {} {}", marker.kind(), marker.column()));
    }
    if let Some(limit) = spec.max_rows.filter(|_| spec.mode != Mode::Allow) {
        text.push_str(&format!(", at most {limit} rows"));
    }
    if spec.mode.is_soft() && spec.outside_proxy == OutsideProxy::Refuse {
        text.push_str(", outside_proxy refuse");
    }
    if spec.journal_updates {
        text.push_str(", on_update journal");
    }
    if spec.observe {
        text.push_str(", mode observe");
    }
    text.replace(['\n', '\r'], " ")
}

/// `o.live` for the marker: not marked deleted.
fn live(marker: &Marker, row: &str) -> String {
    match marker {
        Marker::Flag(c) => format!("{row}.{} IS NOT FALSE", quote_ident(c)),
        Marker::Timestamp(c) => format!("{row}.{} IS NULL", quote_ident(c)),
    }
}

/// Rows DELETE took from the table: refused, or journaled as one operation.
fn delete_function(spec: &GuardSpec) -> String {
    let relid = spec.relid;
    let refuse = |kind: &str, detail: &str| {
        format!(
            "PERFORM {SCHEMA}.refuse(TG_TABLE_SCHEMA, TG_TABLE_NAME, '{kind}', n, NULL, {detail});"
        )
    };
    // Purge really deletes rows soft-deleted long ago (journaled when they
    // were): only what else the statement takes (live rows) counts.
    let soft = spec.mode.marker();
    let taken = match soft {
        Some(marker) => format!("softdel_old o WHERE NOT purging OR {}", live(marker, "o")),
        None => "softdel_old o".to_owned(),
    };
    let action = if spec.mode.is_soft() {
        Action::HardDelete
    } else {
        Action::JournalDelete
    };
    // Under an observed rule, rows of a soft table are journaled as what
    // the proxy would have made of their delete (the guard cannot tell
    // which way it came: the proxy adds nothing to the statement), and a
    // block table's as refused.
    let observed = spec.observe.then_some(match spec.mode {
        Mode::Soft(_) => (Action::WouldSoftDelete, None),
        Mode::Block => (Action::WouldRefuse, Some("blocked table")),
        _ => (action, None),
    });
    let mut sql = declare(observed);
    if soft.is_some() {
        sql.push_str(&format!(
            "    purging boolean := current_setting('softdel.allow_purge', true) IS NOT NULL\n                       \
             AND {SCHEMA}.allowed('purge');\n",
        ));
    }
    sql.push_str("BEGIN\n");
    let refused = match spec.mode {
        _ if spec.observe => None,
        Mode::Block => Some(refuse("block", "NULL")),
        Mode::Soft(_) if spec.outside_proxy == OutsideProxy::Refuse => {
            Some(refuse("outside_proxy", "NULL"))
        }
        _ => None,
    };
    if let Some(refused) = refused {
        // Nothing to journal: any row is refused.
        sql.push_str(&format!(
            "    SELECT count(*) INTO n FROM {taken};\n    \
             IF n > 0 THEN\n        {refused}\n    END IF;\n{END}"
        ));
    } else {
        if spec.observe && spec.mode == Mode::Block {
            // An enforcing proxy's rewrite is refused as it expects.
            sql.push_str(&format!(
                "    IF {SCHEMA}.proxied_statement() THEN\n        \
                 SELECT count(*) INTO n FROM {taken};\n        \
                 IF n > 0 THEN\n            {}\n        END IF;\n    END IF;\n",
                refuse("block", "NULL")
            ));
        }
        for cascade in &spec.cascades {
            sql.push_str(&cascade_check(cascade, spec.observe));
        }
        // A block table's rows are all refused: no limit on top.
        let limit = spec.max_rows.filter(|_| spec.mode != Mode::Block);
        sql.push_str(&journal(Journaled {
            rows: &taken,
            image: "o",
            action,
            marker: None,
            limit,
            limit_kind: "'limit'",
            cascaded: false,
            then: String::new(),
            observe: spec.observe,
        }));
        sql.push_str(END);
    }
    function(
        &format!("{SCHEMA}.guard_{relid}_delete"),
        &describe(spec),
        &sql,
    )
}

/// A cascade from `cascade`'s parent: the deleted rows point at parent
/// rows that are gone, which the guard has no record of. Refused, or under
/// an observed rule journaled as refused.
fn cascade_check(cascade: &Cascade, observe: bool) -> String {
    let present: Vec<String> = cascade
        .columns
        .iter()
        .map(|(child, _)| format!("o.{} IS NOT NULL", quote_ident(child)))
        .collect();
    let matches: Vec<String> = cascade
        .columns
        .iter()
        .map(|(child, parent)| format!("p.{} = o.{}", quote_ident(parent), quote_ident(child)))
        .collect();
    let detail = literal(&format!(
        "{}\t{}",
        cascade.constraint, cascade.parent_display
    ));
    let refuse = format!(
        "SELECT count(*) INTO n FROM softdel_old;\n        \
         PERFORM {SCHEMA}.refuse(TG_TABLE_SCHEMA, TG_TABLE_NAME, 'cascade', n, NULL, {detail});"
    );
    let refuse = if observe {
        let why = literal(&format!(
            "cascade: foreign key {} cascades a delete from {}, which softdel does not journal",
            cascade.constraint, cascade.parent_display
        ));
        would_refuse(&refuse, &why)
    } else {
        refuse
    };
    format!(
        "    IF EXISTS (SELECT FROM softdel_old o WHERE {} AND NOT EXISTS\n               \
         (SELECT FROM {} p WHERE {})) THEN\n        \
         {refuse}\n    END IF;\n",
        present.join(" AND "),
        cascade.parent_quoted,
        matches.join(" AND "),
    )
}

/// The UPDATE trigger's function: on a soft table, the rows the statement
/// marked deleted are journaled as one soft delete; with `on_update:
/// journal`, the rows it changed otherwise as one update.
fn update_function(spec: &GuardSpec) -> String {
    let relid = spec.relid;
    // An application's own soft delete is one under an observed rule too.
    let mut sql = declare(spec.observe.then_some((Action::SoftDelete, None)));
    if spec.mode.is_soft() && !spec.soft_cascades.is_empty() {
        sql.push_str("    op bigint;\n    previous text;\n");
    }
    sql.push_str("BEGIN\n");
    if let Mode::Soft(marker) = &spec.mode {
        sql.push_str(&soft_deletes(spec, marker));
    }
    if spec.journal_updates {
        sql.push_str(&updates(spec));
    }
    sql.push_str(END);
    function(
        &format!("{SCHEMA}.guard_{relid}_update"),
        &describe(spec),
        &sql,
    )
}

/// Rows an UPDATE marked deleted: journaled as one soft delete.
fn soft_deletes(spec: &GuardSpec, marker: &Marker) -> String {
    let join = spec
        .primary_key
        .iter()
        .map(|c| format!("o.{c} = w.{c}", c = quote_ident(c)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let rows = format!(
        "softdel_new w JOIN softdel_old o ON {join}\n        WHERE {} AND {}",
        marked(marker, "w"),
        live(marker, "o")
    );
    let then = spec
        .soft_cascades
        .iter()
        .map(|cascade| soft_cascade(cascade, &rows))
        .collect::<String>();
    // The proxy's rewrite of a DELETE is refused as the DELETE it was.
    let limit_kind =
        format!("CASE WHEN {SCHEMA}.proxied_statement() THEN 'limit' ELSE 'mark_limit' END");
    journal(Journaled {
        rows: &rows,
        image: "w",
        action: Action::SoftDelete,
        marker: Some(marker),
        limit: spec.max_rows,
        limit_kind: &limit_kind,
        cascaded: spec.cascaded_into,
        then,
        observe: spec.observe,
    })
}

/// An observed table's TRUNCATE: let through, every row it takes journaled
/// first as a statement softdel would have refused.
fn truncate_function(spec: &GuardSpec) -> String {
    let relid = spec.relid;
    let rows = format!("ONLY {} o", spec.quoted());
    let mut sql = declare(Some((Action::WouldRefuse, Some("truncate"))));
    sql.push_str("BEGIN\n");
    sql.push_str(&journal(Journaled {
        rows: &rows,
        image: "o",
        action: Action::WouldRefuse,
        marker: None,
        limit: None,
        limit_kind: "NULL",
        cascaded: false,
        then: String::new(),
        observe: true,
    }));
    sql.push_str(END);
    function(
        &format!("{SCHEMA}.guard_{relid}_truncate"),
        &describe(spec),
        &sql,
    )
}

/// `w.marked`: marked deleted.
fn marked(marker: &Marker, row: &str) -> String {
    match marker {
        Marker::Flag(c) => format!("{row}.{} IS FALSE", quote_ident(c)),
        Marker::Timestamp(c) => format!("{row}.{} IS NOT NULL", quote_ident(c)),
    }
}

/// Rows an UPDATE changed: journaled as one `update` operation, each row
/// as `{"key": …, "before": …, "after": …}` with only the columns that
/// changed (a soft delete's marker belongs to the soft delete), compared
/// as JSON so that any column type will do. Old and new rows pair up by
/// position: PostgreSQL appends each updated row to both transition
/// tables at once, so a statement that changes a primary key pairs
/// right too. The operator's own commands (undelete, undo) journal their
/// changes themselves.
fn updates(spec: &GuardSpec) -> String {
    let key = spec
        .primary_key
        .iter()
        .map(|c| format!("{}, w.r -> {}", literal(c), literal(c)))
        .collect::<Vec<_>>()
        .join(", ");
    let (soft_delete, old_live, new_marked) = match spec.mode.marker() {
        Some(marker) => (
            format!(
                "\n                  AND NOT (a.key = {} AND w.marked AND o.live)",
                literal(marker.column())
            ),
            live(marker, "x"),
            marked(marker, "x"),
        ),
        None => (String::new(), "false".to_owned(), "false".to_owned()),
    };
    format!(
        "    IF current_setting('softdel.allow_restore', true) IS NULL OR NOT {SCHEMA}.allowed('restore') THEN
{CONTEXT}    WITH softdel_changes AS MATERIALIZED (
        SELECT jsonb_build_object('key', jsonb_build_object({key}),
                                  'before', d.before, 'after', d.after) AS image
        FROM (SELECT row_number() OVER () AS i, to_jsonb(x) AS r, {old_live} AS live FROM softdel_old x) o
        JOIN (SELECT row_number() OVER () AS i, to_jsonb(x) AS r, {new_marked} AS marked FROM softdel_new x) w
          ON w.i = o.i
        CROSS JOIN LATERAL (
            SELECT jsonb_object_agg(a.key, b.value) AS before, jsonb_object_agg(a.key, a.value) AS after
            FROM jsonb_each(w.r) a JOIN jsonb_each(o.r) b ON b.key = a.key
            WHERE a.value <> b.value{soft_delete}) d
        WHERE d.before IS NOT NULL),
    softdel_op AS (
        INSERT INTO {SCHEMA}.operations (path, connection_id, client_addr, table_schema, table_name,
                                        action, row_count, sql)
        SELECT via, connection, client, TG_TABLE_SCHEMA, TG_TABLE_NAME, {action}, count(*), statement
        FROM softdel_changes HAVING count(*) > 0
        RETURNING id)
    INSERT INTO {SCHEMA}.rows (op_id, image) SELECT softdel_op.id, ch.image FROM softdel_op, softdel_changes ch;
    END IF;
",
        action = Action::Update.literal(),
    )
}

/// Marks deleted the live rows of a soft child whose foreign key points at
/// the rows just marked (`rows`), as ON DELETE CASCADE would delete them.
/// The child's own guard journals them, naming operation `op` as their
/// cause (`softdel.cascade`, for this statement only); its children follow
/// in turn.
fn soft_cascade(cascade: &SoftCascade, rows: &str) -> String {
    let (children, parents): (Vec<String>, Vec<String>) = cascade
        .columns
        .iter()
        .map(|(child, parent)| {
            (
                format!("k.{}", quote_ident(child)),
                format!("w.{}", quote_ident(parent)),
            )
        })
        .unzip();
    let (column, deleted) = match &cascade.child_marker {
        Marker::Flag(c) => (c, "false"),
        Marker::Timestamp(c) => (c, "now()"),
    };
    format!(
        "    -- {constraint}
    previous := current_setting('softdel.cascade', true);
    PERFORM set_config('softdel.cascade', op::text, true);
    UPDATE {child} k SET {column} = {deleted}
        WHERE {live} AND ({children}) IN (SELECT {parents} FROM {rows});
    PERFORM set_config('softdel.cascade', coalesce(previous, ''), true);
",
        constraint = cascade.constraint.replace(['\n', '\r'], " "),
        child = cascade.child_quoted,
        column = quote_ident(column),
        live = live(&cascade.child_marker, "k"),
        children = children.join(", "),
        parents = parents.join(", "),
    )
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
