//! `softdel init` and `softdel log`: the journal in one database.

use anyhow::Context;
use clap::Args;
use softdel::journal::{self, Installed, LogFilter, Operation};
use tokio_postgres::{Client, NoTls};

#[derive(Args)]
pub struct InitArgs {
    /// The database to install the journal in (postgres://user:password@host:port/db).
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
}

#[derive(Args)]
pub struct LogArgs {
    /// The database whose journal to read.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Only this table (`name` or `schema.name`).
    #[arg(long)]
    table: Option<String>,
    /// Only operations at or after this time (e.g. `2026-11-21 10:00`, `2026-11-21T10:00Z`).
    #[arg(long)]
    since: Option<String>,
    /// At most this many operations.
    #[arg(long, default_value_t = 100)]
    limit: i64,
    /// One JSON object per line, for scripts.
    #[arg(long)]
    json: bool,
}

pub fn init(args: InitArgs) -> anyhow::Result<()> {
    super::runtime()?.block_on(async {
        let client = connect(&args.database_url).await?;
        match journal::install(&client).await? {
            Installed::Created => println!(
                "softdel journal installed (schema softdel, version {})",
                journal::VERSION
            ),
            Installed::AlreadyCurrent => println!(
                "softdel journal already installed (schema softdel, version {})",
                journal::VERSION
            ),
            Installed::Upgraded { from } => println!(
                "softdel journal upgraded from version {from} to {} (schema softdel)",
                journal::VERSION
            ),
        }
        Ok(())
    })
}

pub fn log(args: LogArgs) -> anyhow::Result<()> {
    if args.limit < 1 {
        anyhow::bail!("--limit must be at least 1");
    }
    super::runtime()?.block_on(async {
        let client = connect(&args.database_url).await?;
        let filter = LogFilter {
            table: args.table,
            since: args.since,
            limit: args.limit,
        };
        let operations = journal::operations(&client, &filter).await.map_err(|e| {
            let hint = if filter.since.is_some() {
                " (is --since a time PostgreSQL can read?)"
            } else {
                ""
            };
            anyhow::anyhow!("{e}{hint}")
        })?;
        if args.json {
            for op in &operations {
                println!("{}", serde_json::to_string(op)?);
            }
        } else {
            print!("{}", table(&operations));
        }
        Ok(())
    })
}

/// Connects without TLS (the database is usually reached on a private
/// network or a socket; TLS comes with the proxy's TLS support).
pub async fn connect(url: &str) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
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

/// A readable table, newest first.
fn table(operations: &[Operation]) -> String {
    if operations.is_empty() {
        return "no operations recorded\n".to_owned();
    }
    let mut rows = vec![[
        "ID".to_owned(),
        "TIME (UTC)".to_owned(),
        "TXID".to_owned(),
        "USER".to_owned(),
        "APPLICATION".to_owned(),
        "TABLE".to_owned(),
        "ACTION".to_owned(),
        "ROWS".to_owned(),
        "SQL".to_owned(),
    ]];
    for op in operations {
        let sql: String = op.sql.split_whitespace().collect::<Vec<_>>().join(" ");
        let sql = if sql.chars().count() > 60 {
            format!("{}…", sql.chars().take(59).collect::<String>())
        } else {
            sql
        };
        let action = match &op.reason {
            Some(reason) if op.action == "blocked" => {
                format!("blocked ({})", reason.split(':').next().unwrap_or(reason))
            }
            _ => op.action.clone(),
        };
        rows.push([
            op.id.to_string(),
            op.at.replace('T', " ").trim_end_matches('Z').to_owned(),
            op.txid.to_string(),
            op.db_user.clone(),
            op.application_name.clone(),
            op.table.trim_start_matches('.').to_owned(),
            action,
            op.row_count.to_string(),
            sql,
        ]);
    }
    let widths: Vec<usize> = (0..9)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
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
