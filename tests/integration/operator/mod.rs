//! The operator's commands (`softdel undelete`, `purge`, `check`, `log`)
//! run as an operator would: the real binary, against a database whose
//! rows were deleted through the proxy.

mod check;
mod errors;
mod purge;
mod undelete;
mod undo;

use std::process::{Command, Output, Stdio};

use crate::common::cluster;
use crate::softdelete::shop::Shop;

/// The outcome of one command: exit status and both streams.
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ok: {}\n--- stdout\n{}--- stderr\n{}",
            self.ok, self.stdout, self.stderr
        )
    }
}

/// Runs `softdel ARGS` with no standard input, as CI does.
pub async fn softdel(args: &[&str]) -> Run {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out: Output = Command::new(env!("CARGO_BIN_EXE_softdel"))
            .args(&args)
            .env_remove("DATABASE_URL")
            .env_remove("SOFTDEL_DATABASE_URL")
            .env_remove("SOFTDEL_RULES")
            .stdin(Stdio::null())
            .output()
            .expect("run softdel");
        Run {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("softdel finished")
}

/// The shop's database, straight to PostgreSQL.
pub fn direct_url(shop: &Shop) -> String {
    cluster().url(&shop.database)
}

/// Every protected table's rows, as text, in key order: what "the same
/// state as before" means.
pub async fn snapshot(shop: &Shop) -> Vec<(String, Vec<String>)> {
    let mut state = Vec::new();
    for table in [
        "orders",
        "billing.payments",
        "refunds",
        "audit_logs",
        "notes",
        "note_tags",
        "customers",
    ] {
        let rows = shop
            .direct
            .query(&format!("SELECT t::text FROM {table} t ORDER BY id"), &[])
            .await
            .unwrap();
        state.push((table.to_owned(), rows.iter().map(|r| r.get(0)).collect()));
    }
    state
}

/// The journal's operations and which rows were restored by what.
pub async fn journal_state(shop: &Shop) -> (Vec<String>, Vec<String>) {
    let ops = shop
        .strings(
            "SELECT id || ' ' || action || ' ' || table_name || ' ' || row_count \
             FROM softdel.operations ORDER BY id",
        )
        .await;
    let rows = shop
        .strings(
            "SELECT op_id || ' ' || (image->>'id') || ' ' || coalesce(restored_by::text, '-') \
             FROM softdel.rows ORDER BY id",
        )
        .await;
    (ops, rows)
}

/// The transaction id of the journal's newest operation.
pub async fn last_txid(shop: &Shop) -> String {
    shop.value::<i64>("SELECT txid FROM softdel.operations ORDER BY id DESC LIMIT 1")
        .await
        .to_string()
}
