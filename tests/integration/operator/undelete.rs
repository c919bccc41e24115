//! `softdel undelete` against rows deleted through the proxy.

use super::{direct_url, journal_state, last_txid, snapshot, softdel};
use crate::common::MD5_USER;
use crate::softdelete::shop::Shop;

/// One transaction through the proxy: soft deletes (flag and timestamp)
/// and journaled hard deletes of a parent and its children.
const CASCADE: &str = "BEGIN;
    DELETE FROM billing.payments WHERE order_id IN (1, 2);
    DELETE FROM orders WHERE id IN (1, 2);
    DELETE FROM refunds WHERE id IN (1, 2);
    DELETE FROM note_tags WHERE note_id IN (1, 2);
    DELETE FROM notes WHERE id IN (1, 2);
    COMMIT";

#[tokio::test]
async fn a_transaction_comes_back_exactly_and_only_once() {
    let shop = Shop::open().await;
    let before = snapshot(&shop).await;
    shop.client().await.batch_execute(CASCADE).await.unwrap();
    assert_ne!(
        snapshot(&shop).await,
        before,
        "the deletes changed the shop"
    );
    let txid = last_txid(&shop).await;
    let url = direct_url(&shop);

    let run = softdel(&["undelete", "--database-url", &url, "--txid", &txid]).await;
    assert!(run.ok, "{run:?}");
    // Every row is back as it was: flags and timestamps cleared, the
    // parent notes inserted before their tags (a non-deferrable key).
    assert_eq!(snapshot(&shop).await, before);
    assert!(
        run.stdout
            .contains("restored 12 rows in 5 tables, in one transaction"),
        "{run:?}"
    );
    for line in [
        "public.orders     clear is_active   2     2",
        "billing.payments  clear deleted_at  2     2",
        "public.refunds    re-insert         2     2",
        "public.note_tags  re-insert         4     4",
        "public.notes      re-insert         2     2",
    ] {
        assert!(run.stdout.contains(line), "{line:?} in\n{run:?}");
    }
    // The undo is journaled: one operation per table, naming the command,
    // by this session's user, and every journal row points at it.
    let undeletes = shop
        .direct
        .query(
            "SELECT table_name, row_count, sql, db_user, application_name FROM softdel.operations \
             WHERE action = 'undelete' ORDER BY table_name",
            &[],
        )
        .await
        .unwrap();
    let undeletes: Vec<(String, i64, String, String, String)> = undeletes
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(undeletes.len(), 5, "{undeletes:?}");
    let command = format!("softdel undelete --txid {txid}");
    assert!(
        undeletes
            .iter()
            .all(|u| u.2 == command && u.3 == "postgres" && u.4 == "softdel undelete"),
        "{undeletes:?}"
    );
    assert_eq!(
        shop.count("SELECT count(*) FROM softdel.rows WHERE restored_by IS NULL")
            .await,
        0
    );

    // Twice: nothing more comes back, and it says so.
    let journal = journal_state(&shop).await;
    let again = softdel(&["undelete", "--database-url", &url, "--txid", &txid]).await;
    assert!(again.ok, "{again:?}");
    assert!(
        again
            .stdout
            .contains("nothing to restore: 12 rows of these operations were already restored"),
        "{again:?}"
    );
    assert_eq!(journal_state(&shop).await, journal);
    assert_eq!(snapshot(&shop).await, before);

    // Through the proxy, the application sees its rows again.
    let live: i64 = shop
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM orders WHERE id IN (1, 2) AND is_active",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(live, 2);
}

#[tokio::test]
async fn a_reinserted_row_moves_its_sequence_past_it() {
    let shop = Shop::open().await;
    shop.client()
        .await
        .batch_execute(
            "DELETE FROM note_tags WHERE note_id IN (4, 5); DELETE FROM notes WHERE id IN (4, 5)",
        )
        .await
        .unwrap();
    // As after restoring a schema dump: the sequence is behind the rows.
    shop.direct
        .batch_execute("SELECT setval('notes_id_seq', 3)")
        .await
        .unwrap();
    let ids = shop
        .strings("SELECT id::text FROM softdel.operations ORDER BY id")
        .await;
    let url = direct_url(&shop);
    let mut args = vec!["undelete", "--database-url", &url];
    args.extend(ids.iter().map(String::as_str));
    let run = softdel(&args).await;
    assert!(run.ok, "{run:?}");
    assert!(
        run.stdout
            .contains("sequence public.notes_id_seq moved past the largest restored value"),
        "{run:?}"
    );
    assert_eq!(
        shop.value::<i64>("SELECT last_value FROM notes_id_seq")
            .await,
        5
    );
    let next: i32 = shop
        .client()
        .await
        .query_one("INSERT INTO notes (body) VALUES ('new') RETURNING id", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(next, 6, "a new row does not collide with a restored one");
    // The sequence of note_tags was ahead already: left alone.
    assert_eq!(
        shop.value::<i64>("SELECT last_value FROM note_tags_id_seq")
            .await,
        10
    );
}

#[tokio::test]
async fn conflicts_are_reported_and_change_nothing_without_force() {
    let shop = Shop::open().await;
    shop.client()
        .await
        .batch_execute(
            "BEGIN; DELETE FROM orders WHERE id IN (3, 4, 5); DELETE FROM refunds WHERE id IN (3, 4); COMMIT",
        )
        .await
        .unwrap();
    let txid = last_txid(&shop).await;
    // Meanwhile: order 3 restored by hand, order 4 edited while deleted,
    // refund 3's key taken by a new row.
    shop.direct
        .batch_execute(
            "UPDATE orders SET is_active = true WHERE id = 3;
             UPDATE orders SET note = 'edited' WHERE id = 4;
             INSERT INTO refunds VALUES (3, 999);",
        )
        .await
        .unwrap();
    let before = snapshot(&shop).await;
    let journal = journal_state(&shop).await;
    let url = direct_url(&shop);

    let run = softdel(&["undelete", "--database-url", &url, "--txid", &txid]).await;
    assert!(!run.ok, "{run:?}");
    for line in [
        "public.orders id=3 (operation 1): already live again",
        "public.orders id=4 (operation 1): changed since it was deleted",
        "public.refunds id=3 (operation 2): primary key taken by another row",
    ] {
        assert!(run.stdout.contains(line), "{line:?} in\n{run:?}");
    }
    assert!(
        run.stderr
            .contains("3 conflicts: nothing was restored. Resolve them, or run again with --force"),
        "{run:?}"
    );
    assert_eq!(snapshot(&shop).await, before, "nothing changed");
    assert_eq!(journal_state(&shop).await, journal, "nothing journaled");

    // --force restores what overwrites nothing: order 4's mark is cleared
    // (its edit kept), order 5 and refund 4 come back; order 3 and the new
    // refund 3 stay as they are.
    let run = softdel(&[
        "undelete",
        "--database-url",
        &url,
        "--txid",
        &txid,
        "--force",
    ])
    .await;
    assert!(run.ok, "{run:?}");
    assert!(
        run.stdout.contains("restored 3 rows in 2 tables"),
        "{run:?}"
    );
    let orders: Vec<String> = shop.strings("SELECT id || ':' || is_active || ':' || coalesce(note, '') FROM orders WHERE id IN (3, 4, 5) ORDER BY id").await;
    assert_eq!(orders, ["3:true:", "4:true:edited", "5:true:"]);
    let refunds: Vec<String> = shop
        .strings("SELECT id || ':' || amount FROM refunds WHERE id IN (3, 4) ORDER BY id")
        .await;
    assert_eq!(refunds, ["3:999", "4:40"]);
}

#[tokio::test]
async fn a_dry_run_shows_what_would_come_back_and_changes_nothing() {
    let shop = Shop::open().await;
    shop.client().await.batch_execute(CASCADE).await.unwrap();
    shop.direct
        .batch_execute("UPDATE orders SET is_active = true WHERE id = 1")
        .await
        .unwrap();
    let before = snapshot(&shop).await;
    let journal = journal_state(&shop).await;
    let sequence: i64 = shop.value("SELECT last_value FROM notes_id_seq").await;
    let url = direct_url(&shop);
    let txid = last_txid(&shop).await;

    let run = softdel(&[
        "undelete",
        "--database-url",
        &url,
        "--txid",
        &txid,
        "--dry-run",
    ])
    .await;
    // The real run would stop at the conflict: so does its rehearsal.
    assert!(!run.ok, "{run:?}");
    assert!(
        run.stdout.contains(
            "dry run: nothing was changed; with these conflicts the undelete would restore \
             nothing (with --force, 11 rows in 5 tables)"
        ),
        "{run:?}"
    );
    assert!(
        run.stderr.contains(
            "1 conflict: the undelete would restore nothing. Resolve them, or run again \
             with --force to restore the rest"
        ),
        "{run:?}"
    );
    let forced = softdel(&[
        "undelete",
        "--database-url",
        &url,
        "--txid",
        &txid,
        "--dry-run",
        "--force",
    ])
    .await;
    assert!(forced.ok, "{forced:?}");
    assert!(
        forced
            .stdout
            .contains("dry run: nothing was changed; 11 rows in 5 tables would come back"),
        "{forced:?}"
    );
    assert!(
        run.stdout
            .contains("public.orders id=1 (operation 2): already live again"),
        "{run:?}"
    );
    assert_eq!(snapshot(&shop).await, before);
    assert_eq!(journal_state(&shop).await, journal);
    assert_eq!(
        shop.value::<i64>("SELECT last_value FROM notes_id_seq")
            .await,
        sequence
    );

    // As JSON, for scripts.
    let run = softdel(&[
        "undelete",
        "--database-url",
        &url,
        "--txid",
        &txid,
        "--dry-run",
        "--json",
    ])
    .await;
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["applied"], false);
    assert_eq!(report["conflicts"][0]["conflict"], "already_live");
    assert_eq!(report["tables"].as_array().map(Vec::len), Some(5));
}

#[tokio::test]
async fn a_table_and_time_window_and_user_select_what_comes_back() {
    let shop = Shop::open().await;
    let (user, password) = MD5_USER;
    shop.direct
        .batch_execute(&format!("GRANT ALL ON orders TO {user}"))
        .await
        .unwrap();
    let start: String = shop.value("SELECT now()::text").await;
    shop.client()
        .await
        .batch_execute("DELETE FROM orders WHERE id = 6")
        .await
        .unwrap();
    let clerk = crate::common::connect(&shop.proxy.url(user, Some(password), &shop.database))
        .await
        .expect("connect as the clerk");
    clerk
        .batch_execute("DELETE FROM orders WHERE id IN (7, 8)")
        .await
        .unwrap();
    let url = direct_url(&shop);

    let run = softdel(&[
        "undelete",
        "--database-url",
        &url,
        "--table",
        "orders",
        "--since",
        &start,
        "--user",
        user,
    ])
    .await;
    assert!(run.ok, "{run:?}");
    assert!(run.stdout.contains("restored 2 rows in 1 table"), "{run:?}");
    let live: Vec<String> = shop
        .strings("SELECT id || ':' || is_active FROM orders WHERE id IN (6, 7, 8) ORDER BY id")
        .await;
    assert_eq!(
        live,
        ["6:false", "7:true", "8:true"],
        "only the clerk's delete"
    );

    // A window that ends before anything was deleted selects nothing.
    let run = softdel(&[
        "undelete",
        "--database-url",
        &url,
        "--table",
        "orders",
        "--since",
        "2000-01-01",
        "--until",
        "2000-01-02",
    ])
    .await;
    assert!(!run.ok);
    assert!(
        run.stderr.contains(
            "the journal has no soft or journaled delete on orders since 2000-01-01 and before 2000-01-02"
        ),
        "{run:?}"
    );
}
