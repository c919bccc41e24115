//! Refused statements are recorded although they rolled back; `softdel
//! log` lists what was journaled.

use super::shop::Shop;

#[tokio::test]
async fn refusals_are_recorded_in_the_blocked_log() {
    let shop = Shop::open().await;
    let client = shop.client().await;
    let _ = client
        .simple_query("DELETE FROM audit_logs WHERE id = 3")
        .await;
    let _ = client.simple_query("DELETE FROM orders").await;
    // The recorder writes in the background.
    let mut log = String::new();
    for _ in 0..100 {
        log = shop.blocked();
        if log.lines().count() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert_eq!(lines[0]["table"], "public.audit_logs");
    assert_eq!(lines[0]["sqlstate"], "SD001");
    assert_eq!(lines[0]["sql"], "DELETE FROM audit_logs WHERE id = 3");
    assert_eq!(lines[0]["database"], shop.database.as_str());
    assert_eq!(lines[1]["reason"], "row limit");
}

#[tokio::test]
async fn with_a_journal_url_refusals_are_recorded_in_the_database() {
    let shop = Shop::open_with(|config, database| {
        config.journal_url = Some(crate::common::cluster().url(database));
    })
    .await;
    let client = shop.client().await;
    let _ = client
        .simple_query("DELETE FROM audit_logs WHERE id = 3")
        .await;
    let _ = client.simple_query("TRUNCATE orders").await;
    let mut blocked = Vec::new();
    for _ in 0..100 {
        blocked = shop
            .direct
            .query(
                "SELECT table_name, reason, sql, db_user, client_addr FROM softdel.operations \
                 WHERE action = 'blocked' ORDER BY id",
                &[],
            )
            .await
            .unwrap();
        if blocked.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(blocked.len(), 2);
    assert_eq!(blocked[0].get::<_, String>(0), "public.audit_logs");
    assert!(
        blocked[0]
            .get::<_, String>(1)
            .starts_with("blocked table: DELETE on table public.audit_logs refused")
    );
    assert_eq!(
        blocked[0].get::<_, String>(2),
        "DELETE FROM audit_logs WHERE id = 3"
    );
    assert_eq!(blocked[0].get::<_, String>(3), "postgres");
    assert_eq!(blocked[0].get::<_, String>(4), "127.0.0.1");
    assert!(blocked[1].get::<_, String>(1).starts_with("truncate"));
    assert_eq!(shop.blocked(), "", "nothing needed the file");
}

#[tokio::test]
async fn an_unreachable_journal_database_falls_back_to_the_file() {
    let shop = Shop::open_with(|config, _| {
        // Nothing listens on port 1.
        config.journal_url =
            Some("postgres://postgres@127.0.0.1:1/postgres?connect_timeout=2".to_owned());
    })
    .await;
    let client = shop.client().await;
    let _ = client
        .simple_query("DELETE FROM audit_logs WHERE id = 3")
        .await;
    let mut log = String::new();
    for _ in 0..250 {
        log = shop.blocked();
        if !log.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(log.contains("\"table\":\"public.audit_logs\""), "{log}");
}

#[tokio::test]
async fn softdel_log_lists_operations_newest_first() {
    let shop = Shop::open().await;
    let client = shop.client().await;
    client
        .simple_query("DELETE FROM orders WHERE id = 1")
        .await
        .unwrap();
    client
        .simple_query("DELETE FROM refunds WHERE id IN (1, 2)")
        .await
        .unwrap();
    let url = crate::common::cluster().url(&shop.database);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_softdel"))
        .args(["log", "--database-url", &url, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ops: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(ops.len(), 2);
    assert_eq!(
        (
            ops[0]["table"].as_str(),
            ops[0]["action"].as_str(),
            ops[0]["row_count"].as_i64()
        ),
        (Some("public.refunds"), Some("journal_delete"), Some(2))
    );
    assert_eq!(ops[1]["table"], "public.orders");
    // Filtered by table, human-readable.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_softdel"))
        .args(["log", "--database-url", &url, "--table", "orders"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("ID  TIME (UTC)"), "{text}");
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("soft_delete") && text.contains("DELETE FROM orders WHERE id = 1"));
    // A time PostgreSQL cannot read is a clear error.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_softdel"))
        .args(["log", "--database-url", &url, "--since", "yesterday-ish"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--since"));
}

/// `softdel init --recorder ROLE` lets the proxy's own role record refusals
/// and what observe mode would have refused, and nothing else; a later
/// init (an upgrade) keeps that for the roles allowed before.
#[tokio::test]
async fn a_recorder_role_records_refusals_and_nothing_else() {
    let shop = Shop::open().await;
    let role = format!("recorder_{}", shop.database);
    shop.direct
        .batch_execute(&format!("CREATE ROLE {role} LOGIN"))
        .await
        .unwrap();
    let url = crate::common::cluster().url(&shop.database);
    let init =
        crate::operator::softdel(&["init", "--database-url", &url, "--recorder", &role]).await;
    assert!(init.ok, "{init:?}");
    // An upgrade from before `record_would_refuse` existed: its grant is
    // missing, and an init without --recorder puts it back.
    let signature = "(timestamptz, text, text, text, text, bigint, text, text, text)";
    shop.direct
        .batch_execute(&format!(
            "REVOKE EXECUTE ON FUNCTION softdel.record_would_refuse{signature} FROM {role}"
        ))
        .await
        .unwrap();
    let init = crate::operator::softdel(&["init", "--database-url", &url]).await;
    assert!(init.ok, "{init:?}");
    let addr = crate::common::cluster().addr().parse().unwrap();
    let recorder = crate::common::connect(&crate::common::url(addr, &role, None, &shop.database))
        .await
        .unwrap();
    for function in ["record_refusal", "record_would_refuse"] {
        let sql = format!(
            "SELECT softdel.{function}(now(), 'app', 'web', current_database(), '10.0.0.1', 1, \
             'orders', 'DELETE FROM orders', 'row limit: test')"
        );
        recorder
            .query_one(&sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{function}: {e}"));
    }
    assert_eq!(
        shop.strings("SELECT action FROM softdel.operations ORDER BY id")
            .await,
        ["blocked", "would_refuse"]
    );
    // Reading or changing the journal otherwise is not its business.
    for sql in [
        "SELECT count(*) FROM softdel.operations",
        "DELETE FROM softdel.rows",
    ] {
        let err = recorder.simple_query(sql).await.unwrap_err();
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}"
        );
    }
}
