//! Refused statements, recorded durably although the client's statement
//! rolled back: through the proxy's own connection to the journal when it
//! has one, else (or when the database cannot be reached) appended to a
//! local file, one JSON object per line.

use std::io::Write;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio_postgres::{Client, NoTls};

/// One refused statement.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BlockedAttempt {
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

/// Where refused statements go. Cloning shares the writer.
#[derive(Clone, Debug)]
pub struct Recorder {
    tx: mpsc::UnboundedSender<BlockedAttempt>,
}

impl Recorder {
    /// Starts the writer on the current runtime. `journal_url`: the
    /// database to record into (its `softdel` schema); `file`: the
    /// fallback.
    pub fn start(journal_url: Option<String>, file: PathBuf) -> Recorder {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_all(rx, journal_url, file));
        Recorder { tx }
    }

    pub fn record(&self, attempt: BlockedAttempt) {
        tracing::warn!(
            table = %attempt.table,
            reason = %attempt.reason,
            sqlstate = %attempt.sqlstate,
            user = %attempt.db_user,
            database = %attempt.database,
            "statement refused: {}",
            attempt.message
        );
        // The writer only stops with the proxy.
        let _ = self.tx.send(attempt);
    }
}

async fn write_all(
    mut rx: mpsc::UnboundedReceiver<BlockedAttempt>,
    url: Option<String>,
    file: PathBuf,
) {
    let mut client: Option<Client> = None;
    while let Some(attempt) = rx.recv().await {
        if let Some(url) = &url {
            match write_to_database(&mut client, url, &attempt).await {
                Ok(()) => continue,
                Err(e) => {
                    client = None;
                    tracing::error!(error = %e, "cannot record a refused statement in the journal database; appending it to {}", file.display());
                }
            }
        }
        if let Err(e) = append(&file, &attempt) {
            tracing::error!(error = %e, file = %file.display(), "cannot record a refused statement");
        }
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
    c.execute(
        "INSERT INTO softdel.operations (at, db_user, application_name, database, client_addr, \
         connection_id, table_schema, table_name, action, row_count, sql, reason) \
         VALUES (to_timestamp($1), $2, $3, $4, $5, $6, '', $7, 'blocked', 0, $8, $9)",
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

fn append(file: &PathBuf, attempt: &BlockedAttempt) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(attempt)?;
    line.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    // One write per line: concurrent appenders never interleave within it.
    f.write_all(&line)
}
