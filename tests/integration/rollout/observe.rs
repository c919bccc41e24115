//! Observe mode (`mode: observe`): statements run exactly as sent, and
//! what softdel would have done is journaled (`would_soft_delete`,
//! `would_refuse`), with the images of the rows really deleted, so that
//! `softdel undelete` still brings them back.

use std::time::Duration;

use crate::common::cluster;
use crate::operator::softdel;
use crate::softdelete::shop::{RULES, Shop, sqlstate};

/// The shop's rules, every table observed.
fn observed() -> String {
    RULES.replace("defaults:\n", "defaults:\n  mode: observe\n")
}

/// A shop whose proxy records in the journal and reloads only when told.
async fn shop() -> Shop {
    Shop::open_with(|config, database| {
        config.rules_poll = Duration::from_secs(3600);
        config.journal_url = Some(cluster().url(database));
    })
    .await
}

/// Installs `rules` (the guard with them) and waits until the proxy runs
/// under them, as an operator's `softdel init --rules` and reload do.
async fn switch(shop: &Shop, rules: &str) {
    let reloads = || {
        let text = shop.proxy.metrics.render();
        text.lines()
            .find_map(|l| l.strip_prefix("softdel_rules_reloads_total{result=\"ok\"} "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let before = reloads();
    shop.install_guard(rules).await;
    shop.proxy.reload.reload();
    for _ in 0..100 {
        if reloads() > before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the proxy did not reload the rules");
}

/// The journal's operations since `after`: (id, action, table, rows, reason).
async fn journal(shop: &Shop, after: i64) -> Vec<(i64, String, String, i64, String)> {
    shop.direct
        .query(
            "SELECT id, action, table_name, row_count, coalesce(reason, '') \
             FROM softdel.operations WHERE id > $1 ORDER BY id",
            &[&after],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

async fn last_id(shop: &Shop) -> i64 {
    shop.value("SELECT coalesce(max(id), 0) FROM softdel.operations")
        .await
}

/// Waits for the proxy's own record (written by its recorder, after the
/// statement) of a refusal it would have made on `table`.
async fn recorded(shop: &Shop, table: &str) -> (String, String) {
    for _ in 0..100 {
        let row = shop
            .direct
            .query_opt(
                "SELECT action, reason FROM softdel.operations \
                 WHERE table_name = $1 AND path = 'proxy' AND action = 'would_refuse'",
                &[&table],
            )
            .await
            .unwrap();
        if let Some(row) = row {
            return (row.get(0), row.get(1));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no would_refuse recorded for {table}");
}

fn metric(shop: &Shop, table: &str, would: &str) -> u64 {
    let line = format!("softdel_observed_total{{table=\"{table}\",would=\"{would}\"}} ");
    shop.proxy
        .metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(line.as_str()).map(str::to_owned))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[tokio::test]
async fn observe_mode_runs_statements_as_sent_and_journals_what_would_have_been_done() {
    let shop = shop().await;
    switch(&shop, &observed()).await;
    let app = shop.client().await;
    // (Orders free of payments, so that they can really go.)
    shop.direct
        .batch_execute("UPDATE billing.payments SET order_id = NULL")
        .await
        .unwrap();
    let start = last_id(&shop).await;

    // A soft table's DELETE is a real one, journaled with its image.
    assert_eq!(
        app.execute("DELETE FROM orders WHERE id = 1", &[])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        shop.count("SELECT count(*) FROM orders WHERE id = 1").await,
        0
    );
    assert_eq!(shop.last_images().await, [1]);
    // Over its limit of 10: not refused, journaled as refused.
    assert_eq!(
        app.execute("DELETE FROM orders WHERE id BETWEEN 2 AND 15", &[])
            .await
            .unwrap(),
        14
    );
    // A block table, TRUNCATE, and an allowed table over the default
    // limit of 1000: all run.
    app.batch_execute("DELETE FROM audit_logs WHERE id = 1")
        .await
        .unwrap();
    app.batch_execute("TRUNCATE refunds").await.unwrap();
    assert_eq!(shop.count("SELECT count(*) FROM refunds").await, 0);
    assert_eq!(app.execute("DELETE FROM scratch", &[]).await.unwrap(), 2000);
    // One softdel cannot analyse: runs, and the guard journals its delete.
    app.batch_execute("DO $$ BEGIN DELETE FROM \"Mixed\" WHERE id = 1; END $$")
        .await
        .unwrap();
    // Nothing is hidden: a row marked deleted is still seen.
    shop.direct
        .batch_execute("UPDATE orders SET is_active = false WHERE id = 20")
        .await
        .unwrap();
    let seen = app
        .query("SELECT id FROM orders WHERE id = 20", &[])
        .await
        .unwrap();
    assert_eq!(seen.len(), 1, "observed tables hide nothing");

    let guard: Vec<_> = journal(&shop, start)
        .await
        .into_iter()
        .map(|(_, action, table, rows, reason)| (action, table, rows, reason))
        .collect();
    let expected = [
        ("would_soft_delete", "orders", 1, ""),
        (
            "would_refuse",
            "orders",
            14,
            "row limit: 14 rows, over the limit of 10",
        ),
        ("would_refuse", "audit_logs", 1, "blocked table"),
        ("would_refuse", "refunds", 10, "truncate"),
        ("would_soft_delete", "Mixed", 1, ""),
        // The application's own soft delete is one.
        ("soft_delete", "orders", 1, ""),
    ];
    let guard_only: Vec<_> = guard
        .iter()
        .filter(|(_, table, ..)| table != "scratch")
        .filter(|(action, _, _, reason)| {
            !(action == "would_refuse" && reason.starts_with("unanalysable"))
        })
        .map(|(a, t, n, r)| (a.as_str(), t.as_str(), *n, r.as_str()))
        .collect();
    assert_eq!(guard_only, expected);

    // What only the proxy sees, it records itself.
    let (action, reason) = recorded(&shop, "scratch").await;
    assert_eq!(action, "would_refuse");
    assert!(
        reason.starts_with("row limit: sent as it is (mode: observe), would have been refused: DELETE on table scratch refused: it would remove 2000 rows, over the limit of 1000"),
        "{reason}"
    );
    // (The rule's name for the table, as written.)
    let (_, reason) = recorded(&shop, "\"Mixed\"").await;
    assert!(reason.starts_with("unanalysable: "), "{reason}");
    // And counts it all.
    assert_eq!(metric(&shop, "orders", "soft"), 2);
    assert_eq!(metric(&shop, "audit_logs", "block"), 1);
    // What the guard journals as refused, the proxy counts from the tag.
    assert_eq!(metric(&shop, "orders", "refuse_limit"), 1);
    assert_eq!(metric(&shop, "audit_logs", "refuse_block"), 1);
    assert_eq!(metric(&shop, "refunds", "refuse_truncate"), 1);
    assert_eq!(metric(&shop, "scratch", "refuse_limit"), 1);
    assert_eq!(metric(&shop, "\\\"Mixed\\\"", "refuse_parse"), 1);
    assert_eq!(
        shop.proxy
            .metrics
            .render()
            .matches("softdel_refused_total{")
            .count(),
        0,
        "nothing refused"
    );

    // `softdel log --action` picks them out.
    let url = cluster().url(&shop.database);
    let log = softdel(&["log", "--database-url", &url, "--action", "would_refuse"]).await;
    assert!(log.ok, "{log:?}");
    for reason in [
        "(row limit)",
        "(blocked table)",
        "(truncate)",
        "(unanalysable)",
    ] {
        assert!(
            log.stdout.contains(&format!("would_refuse {reason}")),
            "{reason}\n{log:?}"
        );
    }
    assert!(!log.stdout.contains("would_soft_delete"), "{log:?}");

    // Nothing was lost: undelete brings back the truncated refunds and
    // the orders deleted over the limit.
    let ops = journal(&shop, start).await;
    let id_of = |table: &str, action: &str| {
        ops.iter()
            .find(|(_, a, t, ..)| t == table && a == action)
            .map(|(id, ..)| id.to_string())
            .unwrap()
    };
    let (truncate, over) = (
        id_of("refunds", "would_refuse"),
        id_of("orders", "would_refuse"),
    );
    let first = id_of("orders", "would_soft_delete");
    let run = softdel(&["undelete", "--database-url", &url, &truncate, &over, &first]).await;
    assert!(run.ok, "{run:?}");
    assert_eq!(shop.count("SELECT count(*) FROM refunds").await, 10);
    // The proxy's own record of the allowed table's mass delete has no
    // rows: there is nothing there to bring back, and undelete says so.
    let run = softdel(&[
        "undelete",
        "--database-url",
        &url,
        "--table",
        "scratch",
        "--since",
        "2000-01-01",
    ])
    .await;
    assert!(!run.ok, "{run:?}");
    assert!(
        run.stderr
            .contains("no soft or journaled delete on scratch"),
        "{run:?}"
    );
    assert_eq!(
        shop.count("SELECT count(*) FROM orders WHERE id <= 15")
            .await,
        15
    );
}

#[tokio::test]
async fn the_guard_from_an_observe_file_refuses_nothing_outside_the_proxy() {
    let shop = shop().await;
    shop.install_guard(&observed()).await;
    let start = last_id(&shop).await;
    let direct = &shop.direct;
    // The application's own soft delete over the limit: done, journaled as
    // refused with its marker, and undelete unmarks the rows.
    direct
        .batch_execute("UPDATE orders SET is_active = false WHERE id <= 12")
        .await
        .unwrap();
    let ops = journal(&shop, start).await;
    let [(id, action, table, rows, reason)] = ops.as_slice() else {
        panic!("{ops:?}")
    };
    assert_eq!(
        (action.as_str(), table.as_str(), *rows, reason.as_str()),
        (
            "would_refuse",
            "orders",
            12,
            "row limit: 12 rows, over the limit of 10"
        )
    );
    let url = cluster().url(&shop.database);
    let run = softdel(&["undelete", "--database-url", &url, &id.to_string()]).await;
    assert!(run.ok, "{run:?}");
    assert_eq!(
        shop.count("SELECT count(*) FROM orders WHERE is_active")
            .await,
        20
    );

    // What stays marked that long is purged for good, as a soft delete's
    // rows are.
    direct
        .batch_execute(
            "UPDATE billing.payments SET order_id = NULL; \
             UPDATE orders SET is_active = false WHERE id <= 12",
        )
        .await
        .unwrap();
    direct
        .execute(
            "UPDATE softdel.operations SET at = at - interval '40 days' WHERE id > $1",
            &[&start],
        )
        .await
        .unwrap();
    let run = softdel(&["purge", "--database-url", &url, "--older-than", "30d"]).await;
    assert!(run.ok, "{run:?}");
    assert_eq!(
        shop.count("SELECT count(*) FROM orders WHERE id <= 12")
            .await,
        0
    );
    assert_eq!(shop.count("SELECT count(*) FROM orders").await, 8);

    // DROP TABLE of an observed table goes through (its rows cannot be
    // kept), and is journaled as what softdel would have refused.
    let start = last_id(&shop).await;
    direct.batch_execute("DROP TABLE audit_logs").await.unwrap();
    let ops = journal(&shop, start).await;
    let [(_, action, table, _, reason)] = ops.as_slice() else {
        panic!("{ops:?}")
    };
    assert_eq!(
        (action.as_str(), table.as_str(), reason.as_str()),
        (
            "would_refuse",
            "audit_logs",
            "drop: the table was dropped; its rows were not kept"
        )
    );
    // The guard itself is still softdel's: its triggers stay.
    let err = direct
        .batch_execute("ALTER TABLE refunds DISABLE TRIGGER softdel_guard_delete")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "SD003");
    // The dropped table's guard functions stay until the next init, which
    // `softdel check` says; after it, the guard is what the rules ask for.
    let rules = shop.dir.join("rules.yaml");
    std::fs::write(
        &rules,
        observed().replace("  audit_logs:\n    on_delete: block\n", ""),
    )
    .unwrap();
    let rules_arg = rules.to_str().unwrap();
    let check = |url: String| async move {
        softdel(&["check", "--database-url", &url, "--rules", rules_arg]).await
    };
    let before = check(url.clone()).await;
    assert!(!before.ok, "{before:?}");
    assert!(
        before
            .stdout
            .contains("guarded, but the table is gone: run softdel init --rules"),
        "{before:?}"
    );
    let functions = "SELECT count(*) FROM pg_proc WHERE proname LIKE 'guard\\_%' \
                     AND pronamespace = 'softdel'::regnamespace";
    let with_dropped = shop.count(functions).await;
    let init = softdel(&["init", "--database-url", &url, "--rules", rules_arg]).await;
    assert!(init.ok, "{init:?}");
    assert!(
        shop.count(functions).await < with_dropped,
        "the dropped table's guard functions are removed"
    );
    let after = check(url.clone()).await;
    assert!(after.ok, "{after:?}");
    assert!(
        after
            .stdout
            .contains("every protected table has its guard, as the rules say"),
        "{after:?}"
    );
    let listed = softdel(&["rules", "check", rules.to_str().unwrap()]).await;
    assert!(
        listed.stdout.contains(
            "orders: soft, flag is_active, at most 10 rows, observed only (mode: observe)"
        ),
        "{listed:?}"
    );
}

#[tokio::test]
async fn a_reload_switches_between_enforce_and_observe_at_the_next_statement() {
    let shop = shop().await;
    let app = shop.client().await;
    let delete = app
        .prepare("DELETE FROM scratch WHERE id <= $1")
        .await
        .unwrap();
    let err = app.execute(&delete, &[&1500i32]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "SD002", "enforced");
    switch(&shop, &observed()).await;
    // The same prepared statement, now observed.
    assert_eq!(app.execute(&delete, &[&1500i32]).await.unwrap(), 1500);
    let (action, _) = recorded(&shop, "scratch").await;
    assert_eq!(action, "would_refuse");
    switch(&shop, RULES).await;
    shop.direct
        .batch_execute("INSERT INTO scratch SELECT generate_series(1, 1500)")
        .await
        .unwrap();
    let err = app.execute(&delete, &[&1500i32]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "SD002", "enforced again");
    assert_eq!(shop.count("SELECT count(*) FROM scratch").await, 2000);
}

/// During a switch the proxy may already enforce while the guard still
/// observes (or the other way round): what an enforcing proxy leaves to
/// the guard (row limits, block tables) is still refused.
#[tokio::test]
async fn an_enforcing_proxy_is_refused_by_an_observing_guard_as_it_expects() {
    let shop = shop().await;
    // The proxy keeps the enforced rules; the guard is reinstalled observing.
    shop.install_guard(&observed()).await;
    std::fs::write(shop.dir.join("rules.yaml"), RULES).unwrap();
    let app = shop.client().await;
    let err = app
        .batch_execute("DELETE FROM orders WHERE id <= 15")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "SD002");
    let err = app
        .batch_execute("DELETE FROM audit_logs WHERE id = 1")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "SD001");
    assert_eq!(
        shop.count("SELECT count(*) FROM orders WHERE is_active")
            .await,
        20
    );
    assert_eq!(shop.count("SELECT count(*) FROM audit_logs").await, 5);
    // The same statements outside the proxy are observed.
    shop.direct
        .batch_execute("DELETE FROM audit_logs WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(shop.count("SELECT count(*) FROM audit_logs").await, 4);
}
