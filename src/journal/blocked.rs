//! Refused statements, recorded durably although the client's statement
//! rolled back: through the proxy's own connection to the journal when it
//! has one, else (or when the database cannot be reached) appended to a
//! local file, one JSON object per line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc::{self, error::TrySendError};
use tokio_postgres::{Client, NoTls};

use super::{Action, SCHEMA};

/// One refused statement (or, under an observed rule, one that would have
/// been refused).
#[derive(Clone, Debug, serde::Serialize)]
pub struct BlockedAttempt {
    /// `blocked`, or `would_refuse`.
    pub action: Action,
    /// Seconds since the Unix epoch.
    pub at_unix: u64,
    pub db_user: String,
    pub database: String,
    pub application_name: String,
    pub client_addr: String,
    pub connection_id: u64,
    pub table: String,
    pub reason: String,
    pub sqlstate: String,
    pub message: String,
    pub sql: String,
}

impl BlockedAttempt {
    pub fn now_unix() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// Refusals waiting for the writer. Past this (a flood of refusals while
/// the journal database is slow or away), the session appends to the file
/// itself: memory stays bounded and nothing is lost.
const QUEUE: usize = 4096;

/// Where refused statements go. Cloning shares the writer.
#[derive(Clone, Debug)]
pub struct Recorder {
    tx: mpsc::Sender<BlockedAttempt>,
    file: Arc<Path>,
}

impl Recorder {
    /// Starts the writer on the current runtime. `journal_url`: the
    /// database to record into (its `softdel` schema); `file`: the
    /// fallback.
    pub fn start(journal_url: Option<String>, file: PathBuf) -> Recorder {
        Recorder::with_queue(journal_url, file, QUEUE)
    }

    fn with_queue(journal_url: Option<String>, file: PathBuf, queue: usize) -> Recorder {
        let (tx, rx) = mpsc::channel(queue);
        let file: Arc<Path> = file.into();
        tokio::spawn(write_all(rx, journal_url, Arc::clone(&file)));
        Recorder { tx, file }
    }

    pub fn record(&self, attempt: BlockedAttempt) {
        let what = if attempt.action == Action::WouldRefuse {
            "observe mode: statement sent as it is, which softdel would have refused"
        } else {
            "statement refused"
        };
        tracing::warn!(
            table = %attempt.table,
            reason = %attempt.reason,
            sqlstate = %attempt.sqlstate,
            user = %attempt.db_user,
            database = %attempt.database,
            "{what}: {}",
            attempt.message
        );
        match self.tx.try_send(attempt) {
            Ok(()) => {}
            Err(TrySendError::Full(attempt)) => append_or_log(&self.file, &attempt),
            // The writer only stops with the proxy.
            Err(TrySendError::Closed(_)) => {}
        }
    }
}

async fn write_all(mut rx: mpsc::Receiver<BlockedAttempt>, url: Option<String>, file: Arc<Path>) {
    let mut client: Option<Client> = None;
    while let Some(attempt) = rx.recv().await {
        if let Some(url) = &url {
            match write_to_database(&mut client, url, &attempt).await {
                Ok(()) => continue,
                Err(e) => {
                    client = None;
                    let error = crate::ops::database_message(&e);
                    tracing::error!(%error, "cannot record a refused statement in the journal database (is the role allowed to? softdel init --recorder ROLE); appending it to {}", file.display());
                }
            }
        }
        append_or_log(&file, &attempt);
    }
}

fn append_or_log(file: &Path, attempt: &BlockedAttempt) {
    if let Err(e) = append(file, attempt) {
        tracing::error!(error = %e, file = %file.display(), "cannot record a refused statement");
    }
}

async fn write_to_database(
    client: &mut Option<Client>,
    url: &str,
    attempt: &BlockedAttempt,
) -> Result<(), tokio_postgres::Error> {
    let c = match client.take().filter(|c| !c.is_closed()) {
        Some(c) => client.insert(c),
        None => {
            let (new, connection) = tokio_postgres::connect(url, NoTls).await?;
            tokio::spawn(connection);
            client.insert(new)
        }
    };
    let connection_id = i64::try_from(attempt.connection_id).unwrap_or(i64::MAX);
    let at = attempt.at_unix as f64;
    // The journal's own functions: the only things the proxy's role may
    // write (`softdel init --recorder ROLE` allows them).
    let function = if attempt.action == Action::WouldRefuse {
        "record_would_refuse"
    } else {
        "record_refusal"
    };
    c.execute(
        &format!("SELECT {SCHEMA}.{function}(to_timestamp($1), $2, $3, $4, $5, $6, $7, $8, $9)"),
        &[
            &at,
            &attempt.db_user,
            &attempt.application_name,
            &attempt.database,
            &attempt.client_addr,
            &connection_id,
            &attempt.table,
            &attempt.sql,
            &format!("{}: {}", attempt.reason, attempt.message),
        ],
    )
    .await?;
    Ok(())
}

fn append(file: &Path, attempt: &BlockedAttempt) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(attempt)?;
    line.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    // One write per line: concurrent appenders never interleave within it.
    f.write_all(&line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(n: u64) -> BlockedAttempt {
        BlockedAttempt {
            action: Action::Blocked,
            at_unix: n,
            db_user: "app".into(),
            database: "shop".into(),
            application_name: String::new(),
            client_addr: "127.0.0.1:5000".into(),
            connection_id: n,
            table: "orders".into(),
            reason: "blocked table".into(),
            sqlstate: crate::rewrite::sqlstate::BLOCKED.into(),
            message: "refused".into(),
            sql: format!("DELETE FROM orders WHERE id = {n}"),
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_full_queue_spills_to_the_file_and_loses_nothing() {
        let dir = std::env::temp_dir().join(format!("softdel-recorder-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("blocked.jsonl");
        let _ = std::fs::remove_file(&file);
        // One place in the queue, and the writer does not run until this
        // task yields: the second and third refusals find it full.
        let recorder = Recorder::with_queue(None, file.clone(), 1);
        for n in 1..=3 {
            recorder.record(attempt(n));
        }
        let mut lines = Vec::new();
        for _ in 0..100 {
            tokio::task::yield_now().await;
            lines = std::fs::read_to_string(&file)
                .unwrap_or_default()
                .lines()
                .map(|l| {
                    serde_json::from_str::<serde_json::Value>(l).unwrap()["connection_id"].clone()
                })
                .collect();
            if lines.len() == 3 {
                break;
            }
        }
        // The spilled ones first, then the queued one.
        assert_eq!(lines, [2, 3, 1]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
