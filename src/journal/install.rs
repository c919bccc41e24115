//! `softdel init`: installs the journal schema, idempotently and
//! versioned.

use tokio_postgres::{Client, GenericClient};

/// The schema version this build writes and reads.
pub const VERSION: i32 = 6;

/// The schema the journal (and the guard's functions) live in.
pub const SCHEMA: &str = "softdel";

const SCHEMA_SQL: &str = include_str!("schema.sql");

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(
        "the journal schema in this database is version {found}, newer than this softdel's ({VERSION}): upgrade softdel"
    )]
    Newer { found: i32 },
    #[error(
        "the journal schema is not installed in this database: run `softdel init --database-url URL`"
    )]
    Missing,
    #[error(
        "the journal schema in this database is version {found}, but this softdel needs version {VERSION}: run `softdel init`"
    )]
    Older { found: i32 },
    #[error("{0}")]
    Database(#[from] tokio_postgres::Error),
    #[error(
        "journal row {row} of operation {op} is corrupt: its image is {found}, not a row (a JSON object); nothing was changed"
    )]
    CorruptImage { row: i64, op: i64, found: String },
}

/// What `install` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Installed {
    /// The schema was created now.
    Created,
    /// It was there already, at this version.
    AlreadyCurrent,
    /// An older version was upgraded to this one.
    Upgraded { from: i32 },
}

/// Installs the journal schema in the client's database, in one
/// transaction (serialised with an advisory lock, so two `init`s at once
/// are safe).
pub async fn install(client: &Client) -> Result<Installed, JournalError> {
    begin_install(client).await?;
    let result = install_in(client).await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    client.batch_execute(end).await?;
    result
}

/// Starts the transaction an install runs in, holding the install lock.
pub async fn begin_install(client: &impl GenericClient) -> Result<(), JournalError> {
    client
        .batch_execute(
            "BEGIN; SET LOCAL client_min_messages = warning; \
             SELECT pg_advisory_xact_lock(hashtext('softdel.install'))",
        )
        .await?;
    Ok(())
}

/// Installs or upgrades the schema, and (re)creates the guard's shared
/// functions, inside a transaction `begin_install` started.
pub async fn install_in(client: &impl GenericClient) -> Result<Installed, JournalError> {
    let found = installed_version(client).await?;
    if let Some(found) = found.filter(|&found| found > VERSION) {
        return Err(JournalError::Newer { found });
    }
    // The DDL guard lets softdel's own install through.
    let guarded: bool = client
        .query_one(
            &format!("SELECT to_regprocedure('{SCHEMA}.allow(text)') IS NOT NULL"),
            &[],
        )
        .await?
        .get(0);
    if guarded {
        allow(client, "install").await?;
    }
    // Every statement is idempotent: running them again brings the
    // functions up to this build even at the current version.
    client.batch_execute(SCHEMA_SQL).await?;
    client.batch_execute(crate::guard::RUNTIME).await?;
    if found == Some(VERSION) {
        return Ok(Installed::AlreadyCurrent);
    }
    client
        .execute(
            &format!("INSERT INTO {SCHEMA}.version (version) VALUES ($1)"),
            &[&VERSION],
        )
        .await?;
    Ok(match found {
        Some(from) => Installed::Upgraded { from },
        None => Installed::Created,
    })
}

/// Tells the guard that what this transaction does next is softdel's own
/// `what` (`install`, `purge`), which its triggers then let through.
pub async fn allow(
    client: &impl GenericClient,
    what: &'static str,
) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(&format!("SELECT {SCHEMA}.allow('{what}')"))
        .await
}

/// The installed schema version, `None` when there is none.
pub async fn installed_version(client: &impl GenericClient) -> Result<Option<i32>, JournalError> {
    let row = client
        .query_one(
            &format!("SELECT to_regclass('{SCHEMA}.version') IS NOT NULL"),
            &[],
        )
        .await?;
    if !row.get::<_, bool>(0) {
        return Ok(None);
    }
    let row = client
        .query_one(&format!("SELECT max(version) FROM {SCHEMA}.version"), &[])
        .await?;
    Ok(row.get(0))
}

/// Fails unless the current schema version is installed.
pub async fn require_current(client: &impl GenericClient) -> Result<(), JournalError> {
    match installed_version(client).await? {
        None => Err(JournalError::Missing),
        Some(VERSION) => Ok(()),
        Some(found) if found > VERSION => Err(JournalError::Newer { found }),
        Some(found) => Err(JournalError::Older { found }),
    }
}
