//! `softdel purge`: only what is older than the age, journaled.

use super::{direct_url, journal_state, snapshot, softdel};
use crate::softdelete::shop::Shop;

#[tokio::test]
async fn purge_deletes_only_what_is_older_than_its_age() {
    let shop = Shop::open().await;
    let client = shop.client().await;
    for sql in [
        // Old: orders 15 and 16 soft-deleted, refund 5 hard-deleted.
        "DELETE FROM orders WHERE id IN (15, 16)",
        "DELETE FROM refunds WHERE id = 5",
        // Old too, but order 17 was restored since: it stays.
        "DELETE FROM orders WHERE id = 17",
        // Old, and deleted again recently after a restore: it stays.
        "DELETE FROM orders WHERE id = 18",
    ] {
        client.batch_execute(sql).await.unwrap();
    }
    let url = direct_url(&shop);
    let run = softdel(&["undelete", "--database-url", &url, "3", "4"]).await;
    assert!(run.ok, "{run:?}");
    client
        .batch_execute("DELETE FROM orders WHERE id = 18")
        .await
        .unwrap();
    // Recent: order 19.
    client
        .batch_execute("DELETE FROM orders WHERE id = 19")
        .await
        .unwrap();
    // Operations 1-4 happened 40 days ago.
    shop.direct
        .batch_execute("UPDATE softdel.operations SET at = at - interval '40 days' WHERE id <= 4")
        .await
        .unwrap();

    // A dry run reports and changes nothing.
    let before = snapshot(&shop).await;
    let journal = journal_state(&shop).await;
    let run = softdel(&[
        "purge",
        "--database-url",
        &url,
        "--older-than",
        "30d",
        "--dry-run",
    ])
    .await;
    assert!(run.ok, "{run:?}");
    assert!(
        run.stdout.contains(
            "dry run: nothing was changed; 2 rows would be deleted and 4 journal entries pruned"
        ),
        "{run:?}"
    );
    assert_eq!(snapshot(&shop).await, before);
    assert_eq!(journal_state(&shop).await, journal);

    let run = softdel(&["purge", "--database-url", &url, "--older-than", "30d"]).await;
    assert!(run.ok, "{run:?}");
    let orders: Vec<String> = shop
        .strings("SELECT id || ':' || is_active FROM orders WHERE id BETWEEN 15 AND 19 ORDER BY id")
        .await;
    assert_eq!(orders, ["17:true", "18:false", "19:false"]);
    // The old entries are gone with their images; the recent ones, the
    // undelete and the purge itself remain.
    let actions: Vec<String> = shop.strings("SELECT action || ' ' || table_name || ' ' || row_count FROM softdel.operations ORDER BY id").await;
    assert_eq!(
        actions,
        [
            "undelete orders 2",
            "soft_delete orders 1",
            "soft_delete orders 1",
            "purge orders 2",
            "purge refunds 0",
        ]
    );
    assert_eq!(
        shop.count("SELECT count(*) FROM softdel.rows WHERE op_id <= 4")
            .await,
        0
    );
    let reason: String = shop
        .value("SELECT reason FROM softdel.operations WHERE action = 'purge' AND table_name = 'orders'")
        .await;
    assert!(
        reason.starts_with("deleted 2 rows soft-deleted before ")
            && reason.ends_with("pruned 3 journal entries"),
        "{reason}"
    );

    // Nothing is that old any more.
    let run = softdel(&["purge", "--database-url", &url, "--older-than", "30d"]).await;
    assert!(
        run.ok && run.stdout.contains("nothing is that old"),
        "{run:?}"
    );
}

#[tokio::test]
async fn purge_needs_an_explicit_age() {
    let shop = Shop::open().await;
    let url = direct_url(&shop);
    let run = softdel(&["purge", "--database-url", &url]).await;
    assert!(!run.ok);
    assert!(run.stderr.contains("--older-than"), "{run:?}");
    for (age, message) in [
        ("30", "time unit needed"),
        ("3x", "unknown time unit"),
        ("soon", "expected number"),
    ] {
        let run = softdel(&["purge", "--database-url", &url, "--older-than", age]).await;
        assert!(!run.ok);
        assert!(run.stderr.contains(message), "{age}: {run:?}");
    }
}
