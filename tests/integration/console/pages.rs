//! The console's pages over HTTP, as a browser without scripts uses them:
//! what they show of a real journal, and that only a logged-in form from
//! the console itself changes anything.

use super::web::{Answer, Browser};
use super::{TOKEN, shop};

/// The ids of the operations a list page shows, in order.
fn listed(page: &Answer) -> Vec<i64> {
    page.body
        .split("data-id=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect()
}

/// The state column of a row table, per journaled row, in order.
fn states(page: &Answer) -> Vec<String> {
    page.body
        .split("<td class=\"state state-")
        .skip(1)
        .filter_map(|rest| Some(rest.split_once('>')?.1.split('<').next()?.to_owned()))
        .collect()
}

#[tokio::test]
async fn the_pages_show_what_happened_and_what_is_left() {
    let (shop, admin) = shop(Some(TOKEN)).await;
    let app = shop.client().await;
    // An ORM's delete, leaves first, in one transaction; a soft delete;
    // a refused mass delete.
    app.batch_execute(
        "BEGIN; DELETE FROM note_tags WHERE note_id = 2; DELETE FROM notes WHERE id = 2; COMMIT",
    )
    .await
    .unwrap();
    app.batch_execute("DELETE FROM orders WHERE id IN (5, 6, 7)")
        .await
        .unwrap();
    assert!(app.batch_execute("DELETE FROM audit_logs").await.is_err());
    // Since: one row edited, one restored by hand.
    shop.direct
        .batch_execute(
            "UPDATE orders SET note = 'edited' WHERE id = 6; \
             UPDATE orders SET is_active = true WHERE id = 7",
        )
        .await
        .unwrap();
    let mut browser = Browser::new(admin);

    // The list: newest first, refusals marked.
    let root = browser.get("/").await;
    assert_eq!(root.status, 303);
    assert_eq!(root.header("location"), Some("/operations"));
    // The proxy records its refusal in the background.
    let mut list = browser.get("/operations").await;
    for _ in 0..50 {
        if listed(&list).len() == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        list = browser.get("/operations").await;
    }
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(
        list.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(list.header("content-security-policy").is_some());
    let ids = listed(&list);
    assert_eq!(ids.len(), 4, "{}", list.text());
    let text = list.text();
    assert!(
        text.contains("blocked refused public.audit_logs 0 postgres proxy DELETE FROM audit_logs"),
        "the refusal, marked: {text}"
    );
    let soft = text
        .find("soft_delete public.orders 3")
        .expect("the soft delete");
    let notes = text
        .find("journal_delete public.notes 1")
        .expect("the notes");
    assert!(soft < notes, "newest first: {text}");
    let id_of = |action: &str| {
        let only = &list.body[list.body.find(action).expect(action)..];
        let at = list.body.len() - only.len();
        let before = &list.body[..at];
        let row = &before[before.rfind("data-id=\"").unwrap() + 9..];
        row[..row.find('"').unwrap()].parse::<i64>().unwrap()
    };
    let (notes, tags) = (id_of("public.notes"), id_of("public.note_tags"));
    // Filtered, and paged.
    let only = browser.get("/operations?table=orders&user=&action=").await;
    assert_eq!(listed(&only).len(), 1);
    let soft_id = listed(&only)[0];
    let first = browser.get("/operations?limit=2").await;
    assert_eq!(listed(&first), ids[..2]);
    let older = first
        .body
        .split("href=\"")
        .find_map(|rest| rest.split('"').next().filter(|l| l.contains("before=")))
        .expect("a link to older operations")
        .replace("&#38;", "&");
    assert!(
        older.contains("limit=2"),
        "the link keeps the page's size: {older}"
    );
    let second = browser.get(&older).await;
    assert_eq!(listed(&second), ids[2..]);
    let gone = browser.get("/operations?before=999999").await;
    assert_eq!(gone.status, 400);
    assert!(
        gone.text().contains("no operation 999999"),
        "{}",
        gone.text()
    );
    let bad = browser.get("/operations?since=yesterdayish").await;
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("yesterdayish"), "{}", bad.text());

    // One operation: who, the statement, each row's state now.
    let one = browser.get(&format!("/operations/{soft_id}")).await;
    assert_eq!(one.status, 200, "{}", one.body);
    let text = one.text();
    assert!(
        text.contains("DELETE FROM orders WHERE id IN (5, 6, 7)"),
        "{text}"
    );
    assert!(text.contains("Path proxy"), "{text}");
    assert_eq!(
        states(&one),
        ["still soft-deleted", "changed since", "live again"]
    );
    assert!(text.contains("Preview undelete"), "{text}");
    // The ORM's transaction: notes before note_tags, under it.
    let tree_of_tags = browser.get(&format!("/operations/{notes}")).await;
    let tree = tree_of_tags
        .body
        .split("id=\"transaction\"")
        .nth(1)
        .unwrap();
    let (at_notes, at_tags) = (
        tree.find(&format!("#{notes}<")).expect("notes in the tree"),
        tree.find(&format!("#{tags}<")).expect("tags in the tree"),
    );
    assert!(at_notes < at_tags, "parents first: {tree}");
    assert!(
        tree.contains("padding-left: 22px"),
        "tags one level down: {tree}"
    );
    assert!(
        tree_of_tags.text().contains("2 operations, 3 rows in all"),
        "{}",
        tree_of_tags.text()
    );
    assert_eq!(states(&tree_of_tags), ["gone"]);
    let missing = browser.get("/operations/999999").await;
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("no operation 999999"));
}

#[tokio::test]
async fn only_a_logged_in_consoles_own_form_undeletes() {
    let (shop, admin) = shop(Some(TOKEN)).await;
    let app = shop.client().await;
    app.batch_execute("DELETE FROM orders WHERE id IN (5, 6)")
        .await
        .unwrap();
    shop.direct
        .batch_execute("UPDATE orders SET note = 'edited' WHERE id = 6")
        .await
        .unwrap();
    let live = "SELECT count(*) FROM orders WHERE id IN (5, 6) AND is_active";
    let mut browser = Browser::new(admin);
    let id = listed(&browser.get("/operations").await)[0];
    let undelete = format!("/operations/{id}/undelete");

    // The preview: one row would come back, one conflicts; log in first.
    let preview = browser.get(&undelete).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    let text = preview.text();
    assert!(
        text.contains("1 conflict: as it is, the undelete would stop"),
        "{text}"
    );
    assert!(text.contains("id=6"), "{text}");
    assert!(text.contains("changed since it was deleted"), "{text}");
    assert!(text.contains("Log in to apply"), "{text}");
    assert_eq!(shop.count(live).await, 0);
    // Another site's page cannot make the preview run (as an image, say);
    // a person following a link to it can.
    let image = [
        ("Sec-Fetch-Site", "cross-site"),
        ("Sec-Fetch-Mode", "no-cors"),
        ("Sec-Fetch-Dest", "image"),
    ];
    assert_eq!(browser.get_with(&undelete, &image).await.status, 403);
    let link = [
        ("Sec-Fetch-Site", "cross-site"),
        ("Sec-Fetch-Mode", "navigate"),
        ("Sec-Fetch-Dest", "document"),
    ];
    assert_eq!(browser.get_with(&undelete, &link).await.status, 200);

    // No session: refused before anything runs.
    let forged = browser
        .post(&undelete, &[("csrf", "guess"), ("force", "true")])
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(shop.count(live).await, 0);
    // A wrong token logs nobody in.
    let wrong = browser.log_in("console-token-0123456780", &undelete).await;
    assert_eq!(wrong.status, 401);
    assert!(!browser.cookies.contains_key("softdel_session"));
    let login = browser.log_in(TOKEN, &undelete).await;
    assert_eq!(login.status, 303, "{}", login.body);
    assert_eq!(login.header("location"), Some(undelete.as_str()));
    let cookie = login.header("set-cookie").unwrap();
    assert!(cookie.contains("HttpOnly; SameSite=Strict"), "{cookie}");

    let preview = browser.get(&undelete).await;
    let csrf = preview.input("csrf");
    // Another site's form, even with the session's cookie and token.
    browser.origin = Some("http://evil.example".to_owned());
    let cross = browser.post(&undelete, &[("csrf", &csrf)]).await;
    assert_eq!(cross.status, 403);
    browser.origin = Some(format!("http://{admin}"));
    // The session's cookie without its token.
    let no_token = browser.post(&undelete, &[("csrf", "guess")]).await;
    assert_eq!(no_token.status, 403);
    assert_eq!(shop.count(live).await, 0);

    // Conflicts stop it; force brings back what overwrites nothing.
    let stopped = browser.post(&undelete, &[("csrf", &csrf)]).await;
    assert_eq!(stopped.status, 409, "{}", stopped.text());
    assert!(
        stopped
            .text()
            .contains("Stopped by 1 conflict: nothing was changed")
    );
    assert_eq!(shop.count(live).await, 0);
    let done = browser
        .post(&undelete, &[("csrf", &csrf), ("force", "true")])
        .await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert!(
        done.text().contains("2 rows brought back"),
        "{}",
        done.text()
    );
    assert_eq!(shop.count(live).await, 2);
    let note: String = shop.value("SELECT note FROM orders WHERE id = 6").await;
    assert_eq!(note, "edited", "force keeps the row's current values");
    // The journal says who.
    let list = browser.get("/operations?action=undelete").await;
    assert!(
        list.text()
            .contains(&format!("softdel console: undelete {id} --force")),
        "{}",
        list.text()
    );
    let after = browser.get(&format!("/operations/{id}")).await;
    assert_eq!(states(&after), ["live again", "live again"]);

    // Logged out, the same form does nothing.
    let logout = browser.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(logout.status, 303);
    browser
        .cookies
        .insert("softdel_session".into(), "stale".into());
    let again = browser.post(&undelete, &[("csrf", &csrf)]).await;
    assert_eq!(again.status, 403);
}
