//! One operation the guard journals, as PL/pgSQL statements shared by
//! every trigger function: the variables they declare, the client's
//! context, and the INSERT of the operation and its row images. Under an
//! observed rule (`mode: observe`) a refusal becomes a note in `act` and
//! `why`, unless the statement is an enforcing proxy's own rewrite.

use crate::journal::{Action, SCHEMA};
use crate::rewrite::literal;
use crate::rules::Marker;

/// The variables every trigger function declares (see `journal`).
pub(super) const DECLARE: &str = "DECLARE
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
pub(super) fn declare(observe: Option<(Action, Option<&str>)>) -> String {
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
/// journaled as `would_refuse`, adding `why` (an SQL expression) to what
/// other checks found. A statement an enforcing proxy rewrote (its rules
/// say `enforce` while the guard's still say `observe`, during a switch)
/// is refused (`enforce`) all the same: that proxy left the refusal to
/// the guard.
pub(super) fn would_refuse(enforce: &str, why: &str) -> String {
    format!(
        "IF {SCHEMA}.proxied_statement() THEN
            {enforce}
        END IF;
        act := {}; why := concat_ws('; ', why, {why});",
        Action::WouldRefuse.literal()
    )
}

/// One operation the guard journals: the rows `rows` (a FROM clause over
/// the transition tables, `image` the row to keep), as `action`.
pub(super) struct Journaled<'a> {
    pub(super) rows: &'a str,
    pub(super) image: &'a str,
    pub(super) action: Action,
    pub(super) marker: Option<&'a Marker>,
    /// Refused over this many rows; `limit_kind` says how.
    pub(super) limit: Option<u64>,
    pub(super) limit_kind: &'a str,
    /// The operation names the one whose soft delete cascaded into it.
    pub(super) cascaded: bool,
    /// Statements run after the operation is written, with its id in `op`.
    pub(super) then: String,
    /// An observed rule: nothing refused, the action and reason are in
    /// `act` and `why` (see `declare`).
    pub(super) observe: bool,
}

/// Journals the operation when there are rows: counts them into `n`
/// (refusing over the limit), then writes the operation and its images in
/// one statement. A block of statements: the caller ends the function. The client's context is read only then, into plain
/// variables: the statement's plan does not depend on their values (a plan
/// that did would be made again at every call).
pub(super) fn journal(j: Journaled) -> String {
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
        let refuse = format!(
            "PERFORM {SCHEMA}.refuse(TG_TABLE_SCHEMA, TG_TABLE_NAME, {limit_kind}, n, {limit}, NULL);"
        );
        let over = if observe {
            would_refuse(
                &refuse,
                &format!("format('row limit: %s rows, over the limit of %s', n, {limit})"),
            )
        } else {
            refuse
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
pub(super) const CONTEXT: &str = "    c := softdel.context();
    via := CASE WHEN c IS NULL THEN 'direct' ELSE 'proxy' END;
    connection := nullif(c[2], '')::bigint;
    client := coalesce(c[3], host(inet_client_addr()), 'local');
    statement := softdel.statement(c);
";

/// The end of every trigger function (AFTER triggers' results are ignored).
pub(super) const END: &str = "    RETURN NULL;\nEND\n";
