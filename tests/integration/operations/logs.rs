//! The binary's logs in JSON: one object per line, a line per DELETE the
//! guard journaled (with and without RETURNING, in both protocols), and a
//! rules reload on SIGHUP that fails with the file and line.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, Command};

use crate::common::{cluster, connect};
use crate::softdelete::shop::Shop;

struct Logs {
    lines: Lines<BufReader<ChildStderr>>,
}

impl Logs {
    /// The next line that satisfies `wanted`; every line on the way must
    /// be a JSON object.
    async fn until(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        let read = async {
            loop {
                let line = self
                    .lines
                    .next_line()
                    .await
                    .unwrap()
                    .expect("softdel exited");
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                assert!(value.is_object(), "{line}");
                if wanted(&value) {
                    return value;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .expect("the log line in time")
    }
}

fn message(value: &Value) -> &str {
    value["message"].as_str().unwrap_or("")
}

fn spawn(shop: &Shop) -> (Child, Logs) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_softdel"))
        .args(["--log-format", "json", "proxy", "--listen", "127.0.0.1:0"])
        .args(["--upstream", &cluster().addr()])
        .arg("--rules")
        .arg(shop.dir.join("rules.yaml"))
        .args(["--rules-poll", "1h"])
        .arg("--blocked-log")
        .arg(shop.dir.join("blocked.jsonl"))
        .env_remove("SOFTDEL_LOG")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start softdel");
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    (child, Logs { lines })
}

#[tokio::test]
async fn json_lines_for_journaled_deletes_and_reload_errors() {
    let shop = Shop::open().await;
    let (mut child, mut logs) = spawn(&shop);
    let ready = logs.until(|v| message(v) == "softdel proxy ready").await;
    let listen = ready["listen"].as_str().expect("listen address").to_owned();
    let url = format!("postgres://postgres@{listen}/{}", shop.database);
    let client = connect(&url).await.unwrap();
    client
        .execute("DELETE FROM orders WHERE id = 3", &[])
        .await
        .unwrap();
    client
        .batch_execute("DELETE FROM refunds WHERE id < 3")
        .await
        .unwrap();
    // RETURNING, extended protocol (binary results): the client's columns
    // only, and the log line still says what was deleted.
    let returned = client
        .query(
            "DELETE FROM orders WHERE id IN (4, 5) RETURNING id, customer_id",
            &[],
        )
        .await
        .unwrap();
    let ids: Vec<i32> = returned.iter().map(|r| r.get(0)).collect();
    assert_eq!((ids.len(), returned[0].len()), (2, 2));
    // And in the simple protocol.
    let simple = client
        .simple_query("DELETE FROM refunds WHERE id BETWEEN 5 AND 7 RETURNING amount")
        .await
        .unwrap();
    let amounts: Vec<&str> = simple
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => {
                assert_eq!(row.len(), 1);
                row.get(0)
            }
            _ => None,
        })
        .collect();
    assert_eq!(amounts, ["50", "60", "70"]);

    // Each line is what the journal holds.
    let journaled = shop.operations().await;
    let summary: Vec<(&str, &str, i64)> = journaled
        .iter()
        .map(|(action, table, rows, _)| (action.as_str(), table.as_str(), *rows))
        .collect();
    assert_eq!(
        summary,
        [
            ("soft_delete", "public.orders", 1),
            ("journal_delete", "public.refunds", 2),
            ("soft_delete", "public.orders", 2),
            ("journal_delete", "public.refunds", 3),
        ]
    );
    let line = |v: &Value| message(v) == "soft delete" || message(v) == "journaled delete";
    let soft = logs.until(line).await;
    assert_eq!(
        (&soft["message"], &soft["table"], &soft["rows"]),
        (&"soft delete".into(), &"orders".into(), &1.into()),
        "{soft}"
    );
    assert_eq!(soft["level"], "INFO");
    assert_eq!(soft["span"]["user"], "postgres", "{soft}");
    assert_eq!(soft["span"]["database"], shop.database.as_str());
    let journal = logs.until(line).await;
    assert_eq!(
        (&journal["message"], &journal["table"], &journal["rows"]),
        (&"journaled delete".into(), &"refunds".into(), &2.into()),
        "{journal}"
    );
    let returning = logs.until(line).await;
    assert_eq!(
        (
            &returning["message"],
            &returning["table"],
            &returning["rows"]
        ),
        (&"soft delete".into(), &"orders".into(), &2.into()),
        "{returning}"
    );
    let simple = logs.until(line).await;
    assert_eq!(
        (&simple["message"], &simple["table"], &simple["rows"]),
        (&"journaled delete".into(), &"refunds".into(), &3.into()),
        "{simple}"
    );

    // A delete whose transaction rolls back still gets its line (the
    // proxy sees the statement succeed, not the commit), but the line
    // names no operation id: there is none, and the journal holds nothing.
    client
        .batch_execute("BEGIN; DELETE FROM orders WHERE id = 6; ROLLBACK")
        .await
        .unwrap();
    let pending = logs.until(line).await;
    assert_eq!(
        (&pending["message"], &pending["table"], &pending["rows"]),
        (&"soft delete".into(), &"orders".into(), &1.into()),
        "{pending}"
    );
    let fields: Vec<&str> = pending
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "level",
            "message",
            "rows",
            "span",
            "table",
            "target",
            "timestamp"
        ],
        "{pending}"
    );
    assert_eq!(shop.operations().await.len(), journaled.len());

    // A broken file and SIGHUP: the error names the file and line, the
    // old rules stay.
    let rules = shop.dir.join("rules.yaml");
    std::fs::write(&rules, "tables:\n  orders:\n    on_delete: sometimes\n").unwrap();
    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let failed = logs.until(|v| v["level"] == "ERROR").await;
    assert_eq!(
        message(&failed),
        "rules not reloaded: the previous rules stay in force"
    );
    let error = failed["error"].as_str().unwrap_or("");
    assert!(
        error.starts_with(&format!("{}:3:", rules.display())),
        "{failed}"
    );
    let err = client.batch_execute("TRUNCATE orders").await.unwrap_err();
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("SD003"));

    drop(client);
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(stopped.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    shop.proxy.stop().await;
}
