//! `/api/operations`: what `softdel log` and `softdel undelete` give, over
//! HTTP, with the token guarding every change.

use std::net::SocketAddr;

use serde_json::Value;

use super::{TOKEN, shop};
use crate::operations::http;

async fn json(admin: SocketAddr, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .as_deref()
        .map(|b| vec![("Authorization", b)])
        .unwrap_or_default();
    let (status, head, body) = http(admin, method, path, &headers).await;
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    let value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status, value)
}

fn error(value: &Value) -> &str {
    value["error"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn the_api_lists_shows_and_undeletes_with_the_token() {
    let (shop, admin) = shop(Some(TOKEN)).await;
    let app = shop.client().await;
    app.batch_execute("DELETE FROM orders WHERE id IN (11, 12)")
        .await
        .unwrap();
    app.batch_execute("DELETE FROM refunds WHERE id = 3")
        .await
        .unwrap();

    // The list: newest first, the fields of `softdel log --json`.
    let (status, list) = json(admin, "GET", "/api/operations", None).await;
    assert_eq!(status, 200, "{list}");
    let ops = list.as_array().unwrap();
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[0]["action"], "journal_delete");
    assert_eq!(ops[0]["table"], "public.refunds");
    assert_eq!(ops[1]["action"], "soft_delete");
    assert_eq!(ops[1]["row_count"], 2);
    assert_eq!(ops[1]["sql"], "DELETE FROM orders WHERE id IN (11, 12)");
    assert_eq!(ops[1]["path"], "proxy");
    let soft = ops[1]["id"].as_i64().unwrap();
    // Filters, as softdel log's flags.
    let (_, only) = json(
        admin,
        "GET",
        "/api/operations?table=orders&action=soft-delete",
        None,
    )
    .await;
    assert_eq!(only.as_array().unwrap().len(), 1);
    assert_eq!(only[0]["id"], soft);
    let (_, none) = json(admin, "GET", "/api/operations?user=nobody", None).await;
    assert_eq!(none, serde_json::json!([]));
    for (path, said) in [
        ("/api/operations?action=erase", "\"erase\" is not an action"),
        ("/api/operations?since=yesterdayish", "yesterdayish"),
        (
            "/api/operations?tabel=orders",
            "unknown parameter \"tabel\"",
        ),
        ("/api/operations/abc", "\"abc\" is not an operation id"),
    ] {
        let (status, body) = json(admin, "GET", path, None).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(error(&body).contains(said), "{path}: {body}");
    }

    // One operation, with its rows.
    let (status, one) = json(admin, "GET", &format!("/api/operations/{soft}"), None).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["operation"]["id"], soft);
    let ids: Vec<i64> = one["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["image"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [11, 12]);
    assert_eq!(one["next_after"], Value::Null, "one page holds them");
    assert_eq!(one["rows"][0]["state"], "soft_deleted");
    assert_eq!(one["rows"][0]["changed"], serde_json::json!({}));
    // Rows come a page at a time.
    let (_, first) = json(
        admin,
        "GET",
        &format!("/api/operations/{soft}?limit=1"),
        None,
    )
    .await;
    assert_eq!(first["rows"].as_array().unwrap().len(), 1);
    assert_eq!(first["rows"][0]["image"]["id"], 11);
    let after = first["next_after"].as_i64().expect("a next page");
    let (_, second) = json(
        admin,
        "GET",
        &format!("/api/operations/{soft}?limit=1&after={after}"),
        None,
    )
    .await;
    assert_eq!(second["rows"][0]["image"]["id"], 12);
    let (status, _) = json(
        admin,
        "GET",
        &format!("/api/operations/{soft}?limit=5000"),
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (status, missing) = json(admin, "GET", "/api/operations/999999", None).await;
    assert_eq!(status, 404);
    assert!(error(&missing).contains("no operation 999999"), "{missing}");

    // A preview needs no token and changes nothing.
    let undelete = format!("/api/operations/{soft}/undelete");
    let (status, preview) = json(admin, "POST", &undelete, None).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["dry_run"], true);
    assert_eq!(preview["applied"], false);
    assert_eq!(preview["tables"][0]["restored"], 2);
    let live = "SELECT count(*) FROM orders WHERE id IN (11, 12) AND is_active";
    assert_eq!(shop.count(live).await, 0);
    // The real one needs the token: none, or a wrong one, is 401.
    let real = format!("{undelete}?dry_run=false");
    for token in [None, Some("console-token-0123456780")] {
        let (status, refused) = json(admin, "POST", &real, token).await;
        assert_eq!(status, 401, "{refused}");
        assert!(
            error(&refused).contains("needs the console's token"),
            "{refused}"
        );
    }
    assert_eq!(shop.count(live).await, 0);
    // No change on GET.
    let (status, _) = json(admin, "GET", &real, Some(TOKEN)).await;
    assert_eq!(status, 405);
    // Another site's page: refused even with the token, even a preview.
    let bearer = format!("Bearer {TOKEN}");
    for headers in [
        vec![
            ("Origin", "http://evil.example"),
            ("Authorization", bearer.as_str()),
        ],
        vec![("Sec-Fetch-Site", "cross-site")],
    ] {
        let (status, _, body) = http(admin, "POST", &undelete, &headers).await;
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("another site"), "{body}");
    }
    // Another site's name pointed at this address (DNS rebinding).
    let (status, _, body) = http(
        admin,
        "GET",
        "/api/operations",
        &[("Host", "evil.example:9930")],
    )
    .await;
    assert_eq!(status, 421, "{body}");
    let (status, _, _) = http(admin, "GET", "/metrics", &[("Host", "evil.example")]).await;
    assert_eq!(status, 200, "the probes answer to any name");
    assert_eq!(shop.count(live).await, 0);
    let (status, done) = json(admin, "POST", &real, Some(TOKEN)).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["applied"], true);
    assert_eq!(shop.count(live).await, 2);
    let (_, now) = json(admin, "GET", &format!("/api/operations/{soft}"), None).await;
    assert_eq!(now["rows"][1]["state"], "live_again");
    assert!(now["rows"][1]["restored_by"].is_i64(), "{now}");
    // The journal records the console's undelete.
    let (_, latest) = json(admin, "GET", "/api/operations?action=undelete", None).await;
    assert_eq!(
        latest[0]["sql"],
        format!("softdel console: undelete {soft}")
    );
    // Again: nothing left to restore.
    let (status, again) = json(admin, "POST", &real, Some(TOKEN)).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["tables"][0]["already_restored"], 2);
}

#[tokio::test]
async fn without_a_token_the_console_is_read_only_and_without_a_journal_absent() {
    let (shop, admin) = shop(None).await;
    let app = shop.client().await;
    app.batch_execute("DELETE FROM orders WHERE id = 13")
        .await
        .unwrap();
    let (_, list) = json(admin, "GET", "/api/operations", None).await;
    let id = list[0]["id"].as_i64().unwrap();
    let path = format!("/api/operations/{id}/undelete?dry_run=false");
    let (status, refused) = json(admin, "POST", &path, Some(TOKEN)).await;
    assert_eq!(status, 403);
    assert!(error(&refused).contains("read-only"), "{refused}");
    assert!(
        !shop
            .value::<bool>("SELECT is_active FROM orders WHERE id = 13")
            .await
    );

    let plain = crate::common::TestProxy::start_with(|config| {
        config.admin_listen = Some(([127, 0, 0, 1], 0).into());
    })
    .await;
    let (status, absent) = json(plain.admin.unwrap(), "GET", "/api/operations", None).await;
    assert_eq!(status, 404);
    assert!(error(&absent).contains("--console-url"), "{absent}");
    plain.stop().await;
}

#[tokio::test]
async fn an_update_is_undone_from_the_api_and_previewed_on_its_page() {
    let (shop, admin) = shop(Some(TOKEN)).await;
    let rules = crate::softdelete::shop::RULES.replace(
        "refunds:\n    on_delete: journal",
        "refunds:\n    on_delete: journal\n    on_update: journal",
    );
    shop.install_guard(&rules).await;
    let app = shop.client().await;
    app.batch_execute("UPDATE refunds SET amount = 0 WHERE id IN (1, 2)")
        .await
        .unwrap();
    let (_, list) = json(admin, "GET", "/api/operations?action=update", None).await;
    let id = list[0]["id"].as_i64().expect("the update, journaled");
    let zeroed = "SELECT count(*) FROM refunds WHERE amount = 0";

    // Its page offers an undo, and the preview says what would change.
    let mut browser = super::web::Browser::new(admin);
    let page = browser.get(&format!("/operations/{id}")).await;
    assert!(page.text().contains("Preview undo"), "{}", page.text());
    let preview = browser.get(&format!("/operations/{id}/undo")).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(
        preview.text().contains("2 rows would come back"),
        "{}",
        preview.text()
    );
    assert!(
        preview.text().contains("revert 2 updated rows"),
        "{}",
        preview.text()
    );
    // Undelete is for deletes: an update is not one.
    let (status, wrong) = json(
        admin,
        "POST",
        &format!("/api/operations/{id}/undelete"),
        None,
    )
    .await;
    assert_eq!(status, 422, "{wrong}");
    assert_eq!(shop.count(zeroed).await, 2);

    let undo = format!("/api/operations/{id}/undo?dry_run=false");
    let (status, _) = json(admin, "POST", &undo, None).await;
    assert_eq!(status, 401);
    let (status, done) = json(admin, "POST", &undo, Some(TOKEN)).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["applied"], true);
    assert_eq!(shop.count(zeroed).await, 0);
    let amounts: i64 = shop
        .value("SELECT sum(amount)::bigint FROM refunds WHERE id IN (1, 2)")
        .await;
    assert_eq!(amounts, 30);
    let (_, latest) = json(admin, "GET", "/api/operations?action=undo", None).await;
    assert_eq!(latest[0]["sql"], format!("softdel console: undo {id}"));
}

#[tokio::test]
async fn a_preview_moves_no_sequence_and_the_real_run_does() {
    let (shop, admin) = shop(Some(TOKEN)).await;
    let app = shop.client().await;
    app.batch_execute(
        "BEGIN; DELETE FROM note_tags WHERE note_id = 5; DELETE FROM notes WHERE id = 5; COMMIT",
    )
    .await
    .unwrap();
    // The sequence forgot the deleted note's id: re-inserting it must
    // move the sequence past it, but only for real.
    shop.direct
        .batch_execute("ALTER SEQUENCE notes_id_seq RESTART WITH 1")
        .await
        .unwrap();
    let sequence =
        "SELECT last_value::bigint * (CASE WHEN is_called THEN 1 ELSE -1 END) FROM notes_id_seq";
    let (_, list) = json(admin, "GET", "/api/operations?table=notes", None).await;
    let id = list[0]["id"].as_i64().unwrap();
    let mut browser = super::web::Browser::new(admin);
    for kind in ["undelete", "undo"] {
        let path = format!("/api/operations/{id}/{kind}");
        let (status, preview) = json(admin, "POST", &path, None).await;
        assert_eq!(status, 200, "{preview}");
        let page = browser.get(&format!("/operations/{id}/{kind}")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(
            shop.value::<i64>(sequence).await,
            -1,
            "{kind}: a preview moved it"
        );
    }
    assert_eq!(
        shop.count("SELECT count(*) FROM notes WHERE id = 5").await,
        0
    );
    let path = format!("/api/operations/{id}/undo?dry_run=false");
    let (status, done) = json(admin, "POST", &path, Some(TOKEN)).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        shop.count("SELECT count(*) FROM notes WHERE id = 5").await,
        1
    );
    assert_eq!(shop.value::<i64>(sequence).await, 5, "moved past the note");
}
