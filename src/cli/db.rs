//! The command line's connection to a database: commands that work on one
//! connect, run their operation on a runtime of their own, and report.

use anyhow::Context;
use tokio_postgres::{Client, NoTls};

/// Runs `op` on a connection to `url` named `application` (see
/// `connect_as`), on a runtime made for it: an operator command's whole
/// stay in the database.
pub fn with_client<T>(
    url: &str,
    application: &str,
    op: impl AsyncFnOnce(&mut Client) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    super::runtime()?.block_on(async {
        let mut client = connect_as(url, application).await?;
        op(&mut client).await
    })
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
