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
    std::fs::write(&rules, &blocked).unwrap();
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
    std::fs::write(&rules, RULES).unwrap();
    shop.proxy.reload.reload();
    let back = eventually(|| async { client.execute(delete, &[]).await.is_ok() }).await;
    assert!(back, "allowed again");
    assert_eq!(shop.count("SELECT count(*) FROM scratch").await, 1994);
    shop.proxy.stop().await;
}
