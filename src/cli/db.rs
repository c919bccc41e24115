//! The command line's connection to a database: commands that work on one
//! connect, run their operation on a runtime of their own, and report.

use anyhow::Context;
use clap::Args;
use softdel::rewrite::sqlstate;
use softdel::rules::{Rules, RulesFile};
use tokio_postgres::{Client, NoTls};

/// Where an operator command finds the database. Not `DATABASE_URL`:
/// applications point that one at the proxy, and an operator command run
/// through the proxy would have its own statements intercepted.
#[derive(Args)]
pub struct Database {
    /// The database's own address, not the proxy's
    /// (postgres://user:password@host:port/db).
    #[arg(
        long = "database-url",
        env = "SOFTDEL_DATABASE_URL",
        value_name = "URL"
    )]
    url: Option<String>,
}

impl Database {
    fn url(&self) -> anyhow::Result<&str> {
        if let Some(url) = &self.url {
            return Ok(url);
        }
        let ignored = if std::env::var_os("DATABASE_URL").is_some() {
            " (DATABASE_URL is not read: applications point it at the proxy)"
        } else {
            ""
        };
        anyhow::bail!(
            "which database? give its own address (not the proxy's) with --database-url \
             or SOFTDEL_DATABASE_URL{ignored}"
        )
    }
}

/// The rules of the database `client` is connected to: its own when the
/// file lists it under `databases`, else the file's top-level ones; and,
/// when the file has rules per database, a line that says which apply.
pub async fn database_rules<'a>(
    client: &Client,
    file: &'a RulesFile,
    path: &std::path::Path,
) -> anyhow::Result<(&'a Rules, Option<String>)> {
    let database: String = client
        .query_one("SELECT pg_catalog.current_database()::text", &[])
        .await
        .context("asking the server which database this is")?
        .get(0);
    let rules = file.for_database(&database);
    let said = (!file.databases.is_empty()).then(|| match file.listed(&database) {
        Some(_) => format!("rules: databases.{database} of {}", path.display()),
        None => format!(
            "rules: the top level of {} (database {database} is not listed under databases)",
            path.display()
        ),
    });
    Ok((rules, said))
}

/// Runs `op` on a connection to the database named `application` (see
/// `connect_as`), on a runtime made for it: an operator command's whole
/// stay in the database.
pub fn with_client<T>(
    database: &Database,
    application: &str,
    op: impl AsyncFnOnce(&mut Client) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let url = database.url()?;
    super::runtime()?.block_on(async {
        let mut client = connect_as(url, application).await?;
        refuse_the_proxy(&client, url).await?;
        op(&mut client).await
    })
}

/// Asks the server whether it is softdel's proxy rather than PostgreSQL.
///
/// The proxy refuses a DELETE on the journal's schema before it runs,
/// whatever its rules (even with none), with `SD001`; PostgreSQL runs
/// this one (the journal's owner deletes nothing: `WHERE false`) or
/// fails with an error of its own (no journal yet, no rights), never
/// `SD001`, since no guard sits on the journal's tables. So nothing
/// changes for applications: the proxy does what it always did, and only
/// this statement, which no application sends, tells the two apart.
/// Through the proxy the refusal is logged and recorded like any other:
/// a trace of the mistake.
async fn refuse_the_proxy(client: &Client, url: &str) -> anyhow::Result<()> {
    const PROBE: &str = "DELETE FROM softdel.version WHERE false";
    let Err(error) = client.batch_execute(PROBE).await else {
        return Ok(());
    };
    if error.code().map(|c| c.code()) != Some(sqlstate::BLOCKED) {
        return Ok(());
    }
    anyhow::bail!(
        "{} is the softdel proxy, not PostgreSQL: give the database's own address \
         (operator commands work on the database itself; through the proxy their \
         statements would be intercepted like an application's)",
        redact(url)
    )
}

/// Connects without TLS (the database is usually reached on a private
/// network or a socket; TLS comes with the proxy's TLS support).
pub async fn connect(url: &str) -> anyhow::Result<Client> {
    connect_as(url, "softdel").await
}

/// Connects, naming the command in application_name (which the journal
/// records) unless the URL sets one.
async fn connect_as(url: &str, application: &str) -> anyhow::Result<Client> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .with_context(|| format!("{} is not a PostgreSQL URL", redact(url)))?;
    if config.get_application_name().is_none() {
        config.application_name(application);
    }
    let (client, connection) = config
        .connect(NoTls)
        .await
        .with_context(|| format!("cannot connect to {}", redact(url)))?;
    tokio::spawn(connection);
    Ok(client)
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..scheme + 3], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u@h:5432/db"
        );
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }
}
