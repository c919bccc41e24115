//! Observed rules (`mode: observe`): the text goes exactly as the client
//! sent it, and the decision says what would have been done.

use std::sync::Arc;

use super::{RULES, engine_with};
use crate::rewrite::{Action, Decision, Lexing, Observed, Reason, Rewrite, Shape, Would};

/// RULES with `orders`, `audit_logs` and everything unlisted observed;
/// `refunds` stays enforced.
fn observing() -> crate::rewrite::Engine {
    let rules = RULES
        .replace("defaults:\n", "defaults:\n  mode: observe\n")
        .replace("  refunds:\n", "  refunds:\n    mode: enforce\n");
    engine_with(&rules)
}

fn decided(sql: &str) -> Arc<Rewrite> {
    match observing().decide(sql, Lexing::default()) {
        Decision::Rewrite(r) => r,
        Decision::Pass => panic!("{sql}: passed without a word"),
    }
}

/// What the text would have met, statement by statement.
fn would(sql: &str) -> Vec<Would> {
    let rewrite = decided(sql);
    assert_eq!(
        rewrite.template.display(),
        sql,
        "an observed text is sent as it is"
    );
    rewrite
        .actions
        .iter()
        .map(|a| match a {
            Action::Would(w) => w.clone(),
            other => panic!("{sql}: {other} under observed rules"),
        })
        .collect()
}

fn refused(sql: &str) -> (Reason, String) {
    match would(sql).as_slice() {
        [Would::Refuse(r)] => (r.reason.clone(), r.table.clone()),
        other => panic!("{sql}: {other:?}"),
    }
}

#[test]
fn observed_deletes_go_as_sent_and_say_what_the_guard_will_journal() {
    assert_eq!(
        would("DELETE FROM orders WHERE id = 1"),
        [Would::Guard {
            table: "orders".into(),
            mode: "soft"
        }]
    );
    assert_eq!(
        would("DELETE FROM audit_logs"),
        [Would::Guard {
            table: "audit_logs".into(),
            mode: "block"
        }]
    );
    // An allowed table's limit: the tag is compared with it.
    let rewrite = decided("DELETE FROM customers WHERE region = 'eu'");
    let observed = |table: &str, blocked, limit, guarded| {
        Some(Shape::Observed(std::sync::Arc::new(Observed {
            table: table.into(),
            blocked,
            limit,
            guarded,
        })))
    };
    assert_eq!(rewrite.shapes, [observed("customers", false, 1000, false)]);
    // On guarded tables too: the tag is counted, the guard journals.
    let shapes = |sql| decided(sql).shapes.clone();
    assert_eq!(
        shapes("DELETE FROM orders WHERE id > 1"),
        [observed("orders", false, 100, true)]
    );
    assert_eq!(
        shapes("DELETE FROM audit_logs"),
        [observed("audit_logs", true, 0, true)]
    );
    // Where no tag tells the count (a CTE), nothing is said of the limit.
    assert!(matches!(
        observing().decide(
            "WITH d AS (DELETE FROM customers RETURNING id) SELECT count(*) FROM d",
            Lexing::default()
        ),
        Decision::Pass
    ));
}

#[test]
fn observed_refusals_are_noted_not_made() {
    assert_eq!(
        refused("TRUNCATE orders"),
        (Reason::Truncate, "orders".into())
    );
    assert_eq!(
        refused("DROP TABLE audit_logs"),
        (Reason::Drop, "audit_logs".into())
    );
    assert_eq!(
        refused("DO $$ BEGIN DELETE FROM orders; END $$"),
        (Reason::Unanalysable, "orders".into())
    );
    assert_eq!(
        refused("DROP SCHEMA billing CASCADE"),
        (Reason::Drop, "billing (schema)".into())
    );
}

#[test]
fn enforced_rules_and_the_journal_are_never_only_observed() {
    let engine = observing();
    let enforced = |sql: &str| match engine.decide(sql, Lexing::default()) {
        Decision::Rewrite(r) => r.actions.iter().any(|a| !a.observes()),
        Decision::Pass => false,
    };
    // refunds says `mode: enforce`.
    assert!(enforced("DELETE FROM refunds WHERE id = 1"));
    assert!(enforced("TRUNCATE refunds"));
    assert!(enforced("DO $$ BEGIN DELETE FROM refunds; END $$"));
    // A text naming both: the enforced one decides.
    assert!(enforced("TRUNCATE orders, refunds"));
    assert!(enforced(
        "DO $$ BEGIN DELETE FROM orders; DELETE FROM refunds; END $$"
    ));
    // The journal is softdel's own.
    assert!(enforced("DELETE FROM softdel.rows"));
    assert!(enforced("DROP SCHEMA softdel CASCADE"));
    // One statement observed, the next enforced: only the second changes.
    let Decision::Rewrite(r) = engine.decide(
        "DELETE FROM orders WHERE id = 1; DELETE FROM refunds WHERE id = 2",
        Lexing::default(),
    ) else {
        panic!("passed")
    };
    let text = r.template.display();
    assert!(
        text.starts_with("DELETE FROM orders WHERE id = 1; DELETE FROM refunds WHERE (id = 2) AND"),
        "{text}"
    );
}

#[test]
fn observed_tables_hide_nothing() {
    let rules = "defaults:\n  mode: observe\ntables:\n  orders:\n    flag: is_active\n";
    let engine = engine_with(rules);
    assert!(matches!(
        engine.decide("SELECT * FROM orders", Lexing::default()),
        Decision::Pass
    ));
}
