//! The SQL of one table's guard, piece by piece.

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
