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

/// The functions a guard installs, by name (`softdel.guard_<oid>_...`).
pub fn function_names(relid: u32, soft: bool, observe: bool) -> Vec<String> {
    let mut names = vec![format!("{SCHEMA}.guard_{relid}_delete")];
    if soft {
        names.push(format!("{SCHEMA}.guard_{relid}_update"));
    }
    if observe {
        names.push(format!("{SCHEMA}.guard_{relid}_truncate"));
    }
    names
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
    let truncate = if spec.observe {
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
    for function in function_names(relid, true, true) {
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

/// The variables every trigger function declares (see `journal`).
const DECLARE: &str = "DECLARE
    n bigint;
    c text[];
    via text;
    connection bigint;
    client text;
    statement text;
";

/// `DECLARE`, and under an observed rule what the operation is journaled
/// as (`act`, `action` unless a check finds it would have been refused)
/// and why (`why`, set by that check).
fn declare(observe: Option<(Action, Option<&str>)>) -> String {
    let mut sql = DECLARE.to_owned();
    if let Some((action, why)) = observe {
        let why = why.map_or("NULL".to_owned(), literal);
        sql.push_str(&format!(
            "    act text := {};\n    why text := {why};\n",
            action.literal()
        ));
    }
    sql
}

/// Under an observed rule, what a refusal becomes: the operation is
/// journaled as `would_refuse`, with `why` (an SQL expression).
fn would_refuse(why: &str) -> String {
    format!("act := {}; why := {why};", Action::WouldRefuse.literal())
}

/// One operation the guard journals: the rows `rows` (a FROM clause over
/// the transition tables, `image` the row to keep), as `action`.
struct Journaled<'a> {
    rows: &'a str,
    image: &'a str,
    action: Action,
    marker: Option<&'a Marker>,
    /// Refused over this many rows; `limit_kind` says how.
    limit: Option<u64>,
    limit_kind: &'a str,
    /// The operation names the one whose soft delete cascaded into it.
    cascaded: bool,
    /// Statements run after the operation is written, with its id in `op`.
    then: String,
    /// An observed rule: nothing refused, the action and reason are in
    /// `act` and `why` (see `declare`).
    observe: bool,
}

/// Journals the operation when there are rows: counts them into `n`
/// (refusing over the limit), then writes the operation and its images in
/// one statement. A block of statements: the caller ends the function. The client's context is read only then, into plain
/// variables: the statement's plan does not depend on their values (a plan
/// that did would be made again at every call).
fn journal(j: Journaled) -> String {
    let Journaled {
        rows,
        image,
        action,
        marker,
        limit,
        limit_kind,
        cascaded,
        then,
        observe,
    } = j;
    let (kind, column) = match marker {
        Some(m) => (format!("'{}'", m.kind()), literal(m.column())),
        None => ("NULL".to_owned(), "NULL".to_owned()),
    };
    let limit = limit.map_or(String::new(), |limit| {
        let over = if observe {
            would_refuse(&format!(
                "format('row limit: %s rows, over the limit of %s', n, {limit})"
            ))
        } else {
            format!(
                "PERFORM {SCHEMA}.refuse(TG_TABLE_SCHEMA, TG_TABLE_NAME, {limit_kind}, n, {limit}, NULL);"
            )
        };
        format!(
            "    IF n > {limit} THEN
        {over}
    END IF;
"
        )
    });
    let (action, reason_column, reason) = if observe {
        ("act".to_owned(), ", reason", ", why")
    } else {
        (action.literal(), "", "")
    };
    let (cause_column, cause) = if cascaded {
        (", cascaded_from", format!(", {SCHEMA}.cascade_parent()"))
    } else {
        ("", String::new())
    };
    // Without statements to follow, the operation's id is not needed.
    let write_images = format!(
        "INSERT INTO {SCHEMA}.rows (op_id, image) SELECT softdel_op.id, to_jsonb({image}) FROM softdel_op, {rows}"
    );
    let finish = if then.is_empty() {
        format!(
            "    {write_images};
"
        )
    } else {
        format!(
            "    , softdel_images AS ({write_images})
    SELECT id INTO op FROM softdel_op;
{then}"
        )
    };
    format!(
        "    SELECT count(*) INTO n FROM {rows};
    IF n > 0 THEN
{limit}{CONTEXT}    WITH softdel_op AS (
        INSERT INTO {SCHEMA}.operations (path, connection_id, client_addr, table_schema, table_name,
                                        action, row_count, sql, marker_kind, marker_column{cause_column}{reason_column})
        VALUES (via, connection, client, TG_TABLE_SCHEMA, TG_TABLE_NAME,
                {action}, n, statement, {kind}, {column}{cause}{reason})
        RETURNING id)
{finish}    END IF;
",
    )
}

/// Reads the client's context into the variables of `DECLARE`, once there
/// is something to journal.
const CONTEXT: &str = "    c := softdel.context();
    via := CASE WHEN c IS NULL THEN 'direct' ELSE 'proxy' END;
    connection := nullif(c[2], '')::bigint;
    client := coalesce(c[3], host(inet_client_addr()), 'local');
    statement := softdel.statement(c);
";

/// The end of every trigger function (AFTER triggers' results are ignored).
const END: &str = "    RETURN NULL;\nEND\n";

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
    let refuse = if observe {
        would_refuse(&literal(&format!(
            "cascade: foreign key {} cascades a delete from {}, which softdel does not journal",
            cascade.constraint, cascade.parent_display
        )))
    } else {
        format!(
            "SELECT count(*) INTO n FROM softdel_old;\n        \
             PERFORM {SCHEMA}.refuse(TG_TABLE_SCHEMA, TG_TABLE_NAME, 'cascade', n, NULL, {detail});"
        )
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
mod tests {
    use super::*;
    use crate::guard::resolve::Cascade;

    fn spec(mode: Mode) -> GuardSpec {
        GuardSpec {
            relid: 16384,
            schema: "public".into(),
            name: "orders".into(),
            mode,
            journal_updates: false,
            max_rows: Some(10),
            outside_proxy: OutsideProxy::Journal,
            primary_key: vec!["id".into()],
            cascades: Vec::new(),
            soft_cascades: Vec::new(),
            cascaded_into: false,
            observe: false,
            rule: "rules.yaml:3:3 (orders)".into(),
        }
    }

    #[test]
    fn a_soft_tables_guard_journals_marked_rows_and_physical_deletes() {
        let sql = create_sql(&spec(Mode::Soft(Marker::Flag("is_active".into()))));
        for part in [
            "CREATE OR REPLACE FUNCTION softdel.guard_16384_delete() RETURNS trigger\nLANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $guard$",
            "-- softdel guard of public.orders: soft, flag is_active, at most 10 rows\n",
            // Purge's rows (already soft-deleted, and journaled) are left out.
            "SELECT count(*) INTO n FROM softdel_old o WHERE NOT purging OR o.\"is_active\" IS NOT FALSE;",
            "'hard_delete', n, statement, NULL, NULL)",
            "SELECT softdel_op.id, to_jsonb(o) FROM softdel_op, softdel_old o WHERE NOT purging OR o.\"is_active\" IS NOT FALSE;",
            "SELECT count(*) INTO n FROM softdel_new w JOIN softdel_old o ON o.\"id\" = w.\"id\"\n        WHERE w.\"is_active\" IS FALSE AND o.\"is_active\" IS NOT FALSE;",
            "'soft_delete', n, statement, 'flag', E'is_active')",
            "statement := softdel.statement(c);",
            "CREATE TRIGGER softdel_guard_update AFTER UPDATE ON \"public\".\"orders\"\n    REFERENCING OLD TABLE AS softdel_old NEW TABLE AS softdel_new FOR EACH STATEMENT\n    EXECUTE FUNCTION softdel.guard_16384_update();",
            "ALTER TABLE \"public\".\"orders\" ENABLE ALWAYS TRIGGER softdel_guard_truncate;",
            "IF n > 10 THEN",
        ] {
            assert!(sql.contains(part), "{part}\n--- in ---\n{sql}");
        }
        assert_eq!(sql.matches("ENABLE ALWAYS TRIGGER").count(), 3);
    }

    #[test]
    fn journal_and_block_guards_have_no_update_trigger() {
        let journal = create_sql(&spec(Mode::Journal));
        assert!(journal.contains("'journal_delete'") && !journal.contains("_update"));
        let block = create_sql(&spec(Mode::Block));
        assert!(block.contains(
            "PERFORM softdel.refuse(TG_TABLE_SCHEMA, TG_TABLE_NAME, 'block', n, NULL, NULL);"
        ));
        assert_eq!(block.matches("ENABLE ALWAYS TRIGGER").count(), 2);
    }

    #[test]
    fn a_cascade_from_an_unjournaled_parent_is_checked_by_key() {
        let mut s = spec(Mode::Journal);
        s.cascades.push(Cascade {
            constraint: "orders_customer_fk".into(),
            parent_display: "shop.customers".into(),
            parent_quoted: "\"shop\".\"customers\"".into(),
            columns: vec![
                ("customer_id".into(), "id".into()),
                ("region".into(), "region".into()),
            ],
        });
        let sql = create_sql(&s);
        assert!(
            sql.contains(
                "IF EXISTS (SELECT FROM softdel_old o WHERE o.\"customer_id\" IS NOT NULL AND o.\"region\" IS NOT NULL AND NOT EXISTS\n               (SELECT FROM \"shop\".\"customers\" p WHERE p.\"id\" = o.\"customer_id\" AND p.\"region\" = o.\"region\")) THEN"
            ),
            "{sql}"
        );
        assert!(
            sql.contains("E'orders_customer_fk\tshop.customers'"),
            "{sql}"
        );
    }

    #[test]
    fn journaled_updates_get_the_update_trigger_on_any_mode() {
        let mut s = spec(Mode::Allow);
        s.journal_updates = true;
        let sql = create_sql(&s);
        // Only updates: no delete or truncate trigger on an allowed table.
        assert_eq!(sql.matches("CREATE TRIGGER").count(), 1, "{sql}");
        assert!(sql.contains("CREATE TRIGGER softdel_guard_update AFTER UPDATE"));
        assert!(sql.contains("'update', count(*), statement"), "{sql}");
        assert!(
            sql.contains("jsonb_build_object('key', jsonb_build_object(E'id', w.r -> E'id'),"),
            "{sql}"
        );
        assert!(!sql.contains("AND w.marked AND o.live"), "{sql}");
        // A soft table: the soft delete first, then what else changed,
        // its marker left to the soft delete.
        let mut s = spec(Mode::Soft(Marker::Flag("is_active".into())));
        s.journal_updates = true;
        let sql = create_sql(&s);
        let soft = sql.find("'soft_delete', n, statement").unwrap();
        let update = sql.find("'update', count(*), statement").unwrap();
        assert!(soft < update, "{sql}");
        assert!(
            sql.contains("AND NOT (a.key = E'is_active' AND w.marked AND o.live)"),
            "{sql}"
        );
        assert_eq!(sql.matches("ENABLE ALWAYS TRIGGER").count(), 3);
        assert_eq!(trigger_names("allow", true), ["softdel_guard_update"]);
        assert_eq!(
            trigger_names("journal", true),
            [
                "softdel_guard_delete",
                "softdel_guard_update",
                "softdel_guard_truncate"
            ]
        );
        assert_eq!(
            trigger_names("block", false),
            ["softdel_guard_delete", "softdel_guard_truncate"]
        );
    }

    #[test]
    fn any_table_name_stays_inside_the_function_body() {
        let mut s = spec(Mode::Journal);
        s.name = "a$guard$b".into();
        let sql = create_sql(&s);
        assert!(sql.contains("AS $guard1$"), "{sql}");
        assert!(sql.contains("\nEND\n$guard1$;"), "{sql}");
        // The same spec, the same text: what init compares.
        assert_eq!(sql, create_sql(&s));
    }
}
