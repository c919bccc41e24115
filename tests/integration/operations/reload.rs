//! Rules reloaded while sessions are open: on request (SIGHUP in the
//! binary, see `logs`) and when the file changes.

use std::time::Duration;

use super::{sample, scrape};
use crate::softdelete::shop::{RULES, Shop, sqlstate};

/// Waits until `check` holds, for up to 10 s.
async fn eventually<F: std::future::Future<Output = bool>>(mut check: impl FnMut() -> F) -> bool {
    for _ in 0..100 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn a_changed_file_applies_to_the_next_statement_of_open_sessions() {
    let shop = Shop::open_with(|config, _| {
        config.rules_poll = Duration::from_millis(100);
        config.admin_listen = Some(([127, 0, 0, 1], 0).into());
    })
    .await;
    let admin = shop.proxy.admin.unwrap();
    let client = shop.client().await;
    // Unlisted: allowed, and the decision is cached for this very text.
    let delete = "DELETE FROM scratch WHERE id <= 3";
    assert_eq!(client.execute(delete, &[]).await.unwrap(), 3);

    let rules = shop.dir.join("rules.yaml");
    let blocked = format!("{RULES}  scratch:\n    on_delete: block\n");
    shop.install_guard(&blocked).await;
    let reloaded = eventually(|| async {
        sample(
            &scrape(admin).await,
            r#"softdel_rules_reloads_total{result="ok"}"#,
        ) == 1.0
    })
    .await;
    assert!(reloaded, "the change was picked up");
    assert_eq!(sample(&scrape(admin).await, "softdel_rules_tables"), 8.0);

    // The same session, the same text: the new rules, not the cached
    // decision.
    let delete = "DELETE FROM scratch WHERE id <= 6";
    let err = client.execute(delete, &[]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "SD001");
    assert_eq!(shop.count("SELECT count(*) FROM scratch").await, 1997);

    // A broken file: the rules in force stay, the failure is counted.
    std::fs::write(&rules, "tables:\n  scratch:\n    on_delete: sometimes\n").unwrap();
    let failed = eventually(|| async {
        sample(
            &scrape(admin).await,
            r#"softdel_rules_reloads_total{result="error"}"#,
        ) == 1.0
    })
    .await;
    assert!(failed, "the broken file was noticed");
    let err = client.execute(delete, &[]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "SD001");
    // Reported once, not at every poll.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let metrics = scrape(admin).await;
    assert_eq!(
        sample(&metrics, r#"softdel_rules_reloads_total{result="error"}"#),
        1.0
    );

    // Back to the original rules, by request rather than by polling.
    shop.install_guard(RULES).await;
    shop.proxy.reload.reload();
    let back = eventually(|| async { client.execute(delete, &[]).await.is_ok() }).await;
    assert!(back, "allowed again");
    assert_eq!(shop.count("SELECT count(*) FROM scratch").await, 1994);
    shop.proxy.stop().await;
}

/// Writes `rules` (with the guard brought in line when the database can
/// have it), asks for a reload, and waits until it is the `nth` good one.
async fn reload_to(shop: &Shop, admin: std::net::SocketAddr, rules: &str, nth: f64) {
    std::fs::write(shop.dir.join("rules.yaml"), rules).unwrap();
    let parsed = softdel::rules::Rules::parse(rules, &shop.dir.join("rules.yaml")).unwrap();
    // A rule naming a missing column installs nothing: the guard stays.
    let _ = softdel::guard::install(
        &shop.direct,
        Some((&parsed, &shop.dir.join("rules.yaml"))),
        &[],
    )
    .await;
    shop.proxy.reload.reload();
    let reloaded = eventually(|| async {
        sample(
            &scrape(admin).await,
            r#"softdel_rules_reloads_total{result="ok"}"#,
        ) == nth
    })
    .await;
    assert!(reloaded, "reload {nth} in time");
}

#[tokio::test]
async fn statements_prepared_before_a_reload_follow_the_new_rules() {
    let shop = Shop::open_with(|config, _| {
        config.rules_poll = Duration::from_secs(3600);
        config.admin_listen = Some(([127, 0, 0, 1], 0).into());
    })
    .await;
    let admin = shop.proxy.admin.unwrap();
    shop.direct
        .batch_execute(
            "CREATE TABLE tickets (id int PRIMARY KEY, open boolean NOT NULL DEFAULT true);
             INSERT INTO tickets (id) SELECT generate_series(1, 10);",
        )
        .await
        .unwrap();
    let tickets = |extra: &str| format!("{RULES}  tickets:\n{extra}");
    let soft = tickets("    on_delete: soft\n    flag: open\n");
    let alive = "SELECT count(*) FROM tickets WHERE open";
    let rows = "SELECT count(*) FROM tickets";

    // Prepared while tickets is unlisted: plain DELETEs.
    let client = shop.client().await;
    let delete = client
        .prepare("DELETE FROM tickets WHERE id = $1")
        .await
        .unwrap();
    let returning = client
        .prepare("DELETE FROM tickets WHERE id = $1 RETURNING id")
        .await
        .unwrap();
    assert_eq!(client.execute(&delete, &[&1]).await.unwrap(), 1);
    assert_eq!(shop.count(rows).await, 9);

    // Soft now: the same statements soft-delete, journaled, and return
    // what a DELETE returns.
    reload_to(&shop, admin, &soft, 1.0).await;
    assert_eq!(client.execute(&delete, &[&2]).await.unwrap(), 1);
    let returned = client.query(&returning, &[&3]).await.unwrap();
    assert_eq!(returned.len(), 1);
    assert_eq!((returned[0].len(), returned[0].get::<_, i32>(0)), (1, 3));
    assert_eq!((shop.count(rows).await, shop.count(alive).await), (9, 7));
    let journaled = shop.operations().await;
    let tickets_ops: Vec<_> = journaled
        .iter()
        .filter(|(_, table, _, _)| table == "public.tickets")
        .map(|(action, _, n, _)| (action.as_str(), *n))
        .collect();
    assert_eq!(tickets_ops, [("soft_delete", 1), ("soft_delete", 1)]);
    let metrics = scrape(admin).await;
    assert_eq!(sample(&metrics, "softdel_statements_reprepared_total"), 2.0);

    // Blocked: refused, nothing changed; a DELETE that removes nothing
    // is still allowed.
    reload_to(&shop, admin, &tickets("    on_delete: block\n"), 2.0).await;
    let err = client.execute(&delete, &[&4]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "SD001");
    assert_eq!(client.execute(&delete, &[&99]).await.unwrap(), 0);
    assert_eq!(shop.count(alive).await, 7);

    // Rules naming a column the table lacks: the statement fails with
    // PostgreSQL's error, and keeps failing the same way (not with
    // "prepared statement does not exist") until the rules are fixed.
    let broken = tickets("    on_delete: soft\n    flag: closed\n");
    reload_to(&shop, admin, &broken, 3.0).await;
    for _ in 0..2 {
        let err = client.execute(&delete, &[&4]).await.unwrap_err();
        assert_eq!(sqlstate(&err), "42703", "{err:?}");
    }
    reload_to(&shop, admin, &soft, 4.0).await;
    assert_eq!(client.execute(&delete, &[&4]).await.unwrap(), 1);
    assert_eq!(shop.count(alive).await, 6);

    // Unlisted again, first seen inside a failed transaction block: the
    // statement fails as any would there, and works after the ROLLBACK.
    reload_to(&shop, admin, RULES, 5.0).await;
    client.batch_execute("BEGIN").await.unwrap();
    assert!(client.execute("SELECT 1/0", &[]).await.is_err());
    let err = client.execute(&delete, &[&5]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "25P02", "{err:?}");
    client.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(client.execute(&delete, &[&5]).await.unwrap(), 1);
    assert_eq!((shop.count(rows).await, shop.count(alive).await), (8, 5));
    shop.proxy.stop().await;
}
