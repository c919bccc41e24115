//! The console's pages in headless Chromium, as the person on call uses
//! them: a delete through the proxy appears, its page shows the rows and
//! their state now, the preview shows a conflict, and the undelete (after
//! logging in) brings the rows back. The screenshots in the README are
//! taken here: `SOFTDEL_SCREENSHOTS=docs/images` writes them there (by
//! default they go to target/console-screenshots).

use std::path::PathBuf;

use super::{TOKEN, shop};
use crate::common::browser::Browser;

fn screenshots() -> PathBuf {
    match std::env::var_os("SOFTDEL_SCREENSHOTS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots"),
    }
}

#[tokio::test]
async fn an_operator_finds_a_delete_previews_it_and_brings_it_back() {
    let (shop, admin) = shop(Some(TOKEN)).await;
    let console = format!("http://{admin}");
    let app = shop.client().await;
    app.batch_execute(
        "BEGIN; DELETE FROM note_tags WHERE note_id = 2; DELETE FROM notes WHERE id = 2; COMMIT",
    )
    .await
    .unwrap();
    assert!(app.batch_execute("DELETE FROM audit_logs").await.is_err());
    app.batch_execute("DELETE FROM orders WHERE id IN (5, 6, 7)")
        .await
        .unwrap();
    // After the delete, someone edits one of the rows by hand.
    shop.direct
        .batch_execute("UPDATE orders SET note = 'edited by support' WHERE id = 6")
        .await
        .unwrap();
    let live = "SELECT count(*) FROM orders WHERE id IN (5, 6, 7) AND is_active";
    let dir = screenshots();
    let browser = Browser::start().await;

    // The delete is the newest operation.
    browser.goto(&format!("{console}/")).await;
    let first = browser.text_of("#operations tbody tr").await;
    assert!(
        first.contains("soft_delete") && first.contains("DELETE FROM orders WHERE id IN (5, 6, 7)"),
        "{first}"
    );
    // Refusals are marked (the proxy records them in the background).
    for _ in 0..50 {
        if browser.exists("#operations .badge.refused").await {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        browser.goto(&format!("{console}/operations")).await;
    }
    assert_eq!(
        browser.text_of("#operations .badge.refused").await,
        "refused"
    );
    browser.screenshot(dir.join("console-operations.png")).await;

    // Its page: the rows, and each one's state now.
    browser.click("#operations tbody tr:first-child a").await;
    assert!(
        browser
            .text_of("h1")
            .await
            .contains("soft_delete on public.orders")
    );
    assert_eq!(
        browser.texts_of("#rows td.state").await,
        ["still soft-deleted", "changed since", "still soft-deleted"]
    );
    let ids: Vec<String> = browser.texts_of("#rows tbody td:nth-child(2)").await;
    assert_eq!(ids, ["5", "6", "7"]);
    // What changed since: the note, with what it holds now.
    assert_eq!(
        browser.texts_of("#rows .now").await,
        ["→ edited by support"]
    );
    browser.screenshot(dir.join("console-operation.png")).await;

    // The preview: two rows would come back, one conflicts.
    browser.click("#preview").await;
    assert!(
        browser
            .text_of("#outcome")
            .await
            .contains("1 conflict: as it is, the undelete would stop"),
    );
    let conflict = browser.text_of("#conflicts tbody tr").await;
    assert!(conflict.contains("id=6") && conflict.contains("changed since it was deleted"));
    browser.screenshot(dir.join("console-preview.png")).await;
    assert_eq!(shop.count(live).await, 0, "a preview changes nothing");

    // Applying needs a login; the login leads back to the preview.
    browser.click("#login").await;
    browser.fill("input[name=token]", TOKEN).await;
    browser.submit("form[action='/login']").await;
    assert!(browser.current_url().await.ends_with("/undelete"));
    assert!(
        browser
            .cookie_names()
            .await
            .contains(&"softdel_session".to_owned())
    );
    browser.click_in_page("input[name=force]").await;
    browser.submit("#apply").await;
    let outcome = browser.text_of("#outcome").await;
    assert!(outcome.contains("3 rows brought back"), "{outcome}");
    browser.screenshot(dir.join("console-undeleted.png")).await;
    assert_eq!(shop.count(live).await, 3);
    let note: String = shop.value("SELECT note FROM orders WHERE id = 6").await;
    assert_eq!(note, "edited by support", "force keeps later edits");

    // The operation's page now says so.
    browser.click("h1 a").await;
    assert_eq!(
        browser.texts_of("#rows td.state").await,
        ["live again", "live again", "live again"]
    );
    browser.close().await;
}
