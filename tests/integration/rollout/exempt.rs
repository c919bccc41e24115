//! Exempt users and applications: their statements pass the proxy
//! untouched, and the guard inside PostgreSQL still journals (and
//! refuses) what they do.

use std::time::Duration;

use tokio_postgres::Client;

use crate::common::connect;
use crate::softdelete::shop::{RULES, Shop, sqlstate};

/// The shop's rules, with `exempt`.
fn rules(exempt: &str) -> String {
    format!("{RULES}exempt:\n{exempt}")
}

async fn as_app(shop: &Shop, application: &str) -> Client {
    connect(&format!("{}&application_name={application}", shop.url()))
        .await
        .unwrap()
}

/// Repeats `DELETE FROM orders WHERE id = {id}` through `client` (a
/// reload is picked up at a session's next statement) until the row is
/// really gone rather than soft-deleted; false after 10 s.
async fn deleted_for_real(shop: &Shop, client: &Client, id: i32) -> bool {
    let delete = format!("DELETE FROM orders WHERE id = {id}");
    let count = format!("SELECT count(*) FROM orders WHERE id = {id}");
    for _ in 0..100 {
        client.execute(&delete, &[]).await.unwrap();
        if shop.count(&count).await == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn an_exempt_application_passes_untouched_and_the_guard_still_journals() {
    let shop = Shop::open_with(|config, _| config.rules_poll = Duration::from_secs(3600)).await;
    let text = rules("  applications: [\"migrate-*\"]\n");
    std::fs::write(shop.dir.join("rules.yaml"), &text).unwrap();
    shop.install_guard(&text).await;
    shop.proxy.reload.reload();
    let web = as_app(&shop, "web").await;
    let job = as_app(&shop, "migrate-2026-12").await;
    // Once the reload is in, the job's DELETE is a real one.
    let applied = deleted_for_real(&shop, &job, 11).await;
    assert!(applied, "the exemption applies once the rules are reloaded");
    // The guard journaled the real delete, as the job's.
    let (action, application): (String, String) = {
        let r = shop
            .direct
            .query_one(
                "SELECT action, application_name FROM softdel.operations ORDER BY id DESC LIMIT 1",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(
        (action.as_str(), application.as_str()),
        ("hard_delete", "migrate-2026-12")
    );

    // The same DELETE from the application is a soft delete.
    assert_eq!(
        web.execute("DELETE FROM orders WHERE id = 12", &[])
            .await
            .unwrap(),
        1
    );
    assert!(
        !shop
            .value::<bool>("SELECT is_active FROM orders WHERE id = 12")
            .await
    );
    // Hiding is the proxy's: the job sees the soft-deleted row, the
    // application does not.
    assert_eq!(
        job.query("SELECT id FROM orders WHERE id = 12", &[])
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        web.query("SELECT id FROM orders WHERE id = 12", &[])
            .await
            .unwrap()
            .is_empty()
    );

    // The proxy refuses nothing of the job's; the guard still does.
    let err = job.batch_execute("TRUNCATE audit_logs").await.unwrap_err();
    assert_eq!(sqlstate(&err), "SD003", "TRUNCATE refused by the guard");
    // No row limit on an unguarded table for the job: the proxy's.
    let err = web.execute("DELETE FROM scratch", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "SD002");
    assert_eq!(job.execute("DELETE FROM scratch", &[]).await.unwrap(), 2000);
    // A statement the proxy cannot read passes for the job (the server
    // answers it), and is refused for the application.
    let unreadable = "DO $$ BEGIN DELETE FROM refunds WHERE id = 3; END $$";
    job.batch_execute(unreadable).await.unwrap();
    assert_eq!(
        shop.count("SELECT count(*) FROM refunds WHERE id = 3")
            .await,
        0
    );
    let err = web
        .batch_execute("DO $$ BEGIN DELETE FROM refunds WHERE id = 4; END $$")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "SD004");

    // Exemption is decided at the start: a later SET changes nothing.
    web.batch_execute("SET application_name = 'migrate-now'")
        .await
        .unwrap();
    assert_eq!(
        web.execute("DELETE FROM orders WHERE id = 13", &[])
            .await
            .unwrap(),
        1
    );
    assert!(
        !shop
            .value::<bool>("SELECT is_active FROM orders WHERE id = 13")
            .await
    );
    shop.proxy.stop().await;
}

#[tokio::test]
async fn an_exempt_user_and_a_reloaded_exemption_apply_to_open_sessions() {
    let shop = Shop::open_with(|config, _| config.rules_poll = Duration::from_secs(3600)).await;
    // A role of this test's own (roles are the cluster's).
    let migrator = format!("{}_migrator", shop.database);
    shop.direct
        .batch_execute(&format!("CREATE ROLE {migrator} LOGIN SUPERUSER"))
        .await
        .unwrap();
    let text = rules(&format!("  users: [{migrator}]\n"));
    std::fs::write(shop.dir.join("rules.yaml"), &text).unwrap();
    shop.proxy.reload.reload();
    let url = shop.proxy.url(&migrator, None, &shop.database);
    let job = connect(&url).await.unwrap();
    let web = as_app(&shop, "web").await;
    let real = |id: i32| format!("SELECT count(*) FROM orders WHERE id = {id}");
    let applied = deleted_for_real(&shop, &job, 11).await;
    assert!(applied, "the user's DELETE became a real one");
    web.execute("DELETE FROM orders WHERE id = 16", &[])
        .await
        .unwrap();
    assert_eq!(shop.count(&real(16)).await, 1, "soft-deleted, still there");

    // The rules change under open sessions: the application's is exempt
    // from its next statement on, the job's no longer.
    let text = rules("  applications: [web]\n");
    std::fs::write(shop.dir.join("rules.yaml"), &text).unwrap();
    shop.proxy.reload.reload();
    let swapped = deleted_for_real(&shop, &web, 17).await;
    assert!(swapped, "the application is exempt after the reload");
    job.execute("DELETE FROM orders WHERE id = 18", &[])
        .await
        .unwrap();
    assert_eq!(shop.count(&real(18)).await, 1, "the user no longer is");
    assert!(
        !shop
            .value::<bool>("SELECT is_active FROM orders WHERE id = 18")
            .await
    );
    shop.proxy.stop().await;
}
