//! `softdel init` and `softdel log`: the journal in one database.

use clap::Args;
use softdel::guard::{self, Change, InstallReport, JournalState};
use softdel::journal::{self, JournalRow, LogFilter, Operation};
use softdel::rules::RulesFile;

use super::db::{Database, database_rules, with_client};

#[derive(Args)]
pub struct InitArgs {
    #[command(flatten)]
    database: Database,
    /// Also install the guard for the tables this rules file protects, and
    /// bring guards installed earlier in line with it (add, change, remove).
    #[arg(long, value_name = "FILE")]
    rules: Option<std::path::PathBuf>,
    /// A role that may record refused statements (the proxy's --journal-url
    /// role); may be given more than once.
    #[arg(long, value_name = "ROLE")]
    recorder: Vec<String>,
    /// Print what was done as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct LogArgs {
    #[command(flatten)]
    database: Database,
    /// Only this table (`name` or `schema.name`).
    #[arg(long)]
    table: Option<String>,
    /// Only operations at or after this time (e.g. `2026-11-21 10:00`, `2026-11-21T10:00Z`).
    #[arg(long)]
    since: Option<String>,
    /// Only operations before this time.
    #[arg(long)]
    until: Option<String>,
    /// Only operations by this database user.
    #[arg(long)]
    user: Option<String>,
    /// Only operations by clients with this application_name.
    #[arg(long)]
    application: Option<String>,
    /// Only this action: soft_delete, journal_delete, hard_delete, delete, blocked, undelete,
    /// purge, update, undo, or under observed rules would_soft_delete and would_refuse.
    #[arg(long)]
    action: Option<String>,
    /// Show this one operation and the rows it journaled.
    #[arg(long = "op", value_name = "ID")]
    op: Option<i64>,
    /// At most this many operations.
    #[arg(long, default_value_t = 100)]
    limit: i64,
    /// One JSON object per line, for scripts.
    #[arg(long)]
    json: bool,
}

pub fn init(args: InitArgs) -> anyhow::Result<()> {
    // A broken rules file is refused before anything is touched.
    let file = match &args.rules {
        Some(path) => Some((RulesFile::load(path)?, path.clone())),
        None => None,
    };
    with_client(&args.database, "softdel", async |client| {
        let rules = match &file {
            Some((file, path)) => {
                let (rules, said) = database_rules(client, file, path).await?;
                if let Some(said) = said.filter(|_| !args.json) {
                    println!("{said}");
                }
                Some((rules, path.as_path()))
            }
            None => None,
        };
        let report = guard::install(client, rules, &args.recorder).await?;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            print!("{}", init_text(&report, rules.is_some()));
        }
        Ok(())
    })
}

/// What `softdel init` did, for people.
fn init_text(report: &InstallReport, with_rules: bool) -> String {
    let (version, schema) = (journal::VERSION, journal::SCHEMA);
    let mut text = match report.journal {
        JournalState::Created => {
            format!("softdel journal installed (schema {schema}, version {version})\n")
        }
        JournalState::AlreadyCurrent => {
            format!("softdel journal already installed (schema {schema}, version {version})\n")
        }
        JournalState::Upgraded { from } => {
            format!("softdel journal upgraded from version {from} to {version} (schema {schema})\n")
        }
    };
    if with_rules {
        if report.tables.is_empty() {
            text.push_str("guard: the rules protect no table\n");
        }
        let rows: Vec<Vec<String>> = std::iter::once(vec![
            "TABLE".to_owned(),
            "GUARD".to_owned(),
            "CHANGE".to_owned(),
        ])
        .chain(report.tables.iter().map(|t| {
            let change = match t.change {
                Change::Added => "added",
                Change::Changed => "changed",
                Change::Unchanged => "unchanged",
                Change::Removed => "removed",
            };
            vec![t.table.clone(), t.guard.clone(), change.to_owned()]
        }))
        .collect();
        if !report.tables.is_empty() {
            text.push_str(&super::text::columns(&rows));
        }
        if report.ddl_guarded {
            text.push_str("DDL guarded: DROP, DROP COLUMN of a marker and DISABLE TRIGGER on protected tables are refused\n");
        } else {
            text.push_str("warning: DDL is unguarded (the event triggers need a superuser): DROP TABLE of a protected table outside the proxy is not refused\n");
        }
    }
    for role in &report.recorders {
        text.push_str(&format!("role {role} may record refused statements\n"));
    }
    text
}

pub fn log(args: LogArgs) -> anyhow::Result<()> {
    if args.limit < 1 {
        anyhow::bail!("--limit must be at least 1");
    }
    let action = (args.action.as_deref())
        .map(str::parse::<journal::Action>)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--action {e}"))?;
    with_client(&args.database, "softdel", async |client| {
        for (what, value) in [("--since", &args.since), ("--until", &args.until)] {
            if let Some(value) = value {
                softdel::ops::check_time(&*client, what, value).await?;
            }
        }
        let filter = LogFilter {
            table: args.table,
            since: args.since,
            until: args.until,
            user: args.user,
            application: args.application,
            action,
            id: args.op,
            limit: args.limit,
            ..LogFilter::default()
        };
        let operations = journal::operations(client, &filter).await?;
        if let Some(id) = args.op {
            let Some(op) = operations.first() else {
                anyhow::bail!("there is no operation {id} in the journal (see `softdel log`)");
            };
            let rows = journal::operation_rows(client, id).await?;
            return show_operation(op, &rows, args.json);
        }
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

/// One operation in full, then its rows.
fn show_operation(op: &Operation, rows: &[JournalRow], json: bool) -> anyhow::Result<()> {
    if json {
        let mut value = serde_json::to_value(op)?;
        value["rows"] = serde_json::to_value(rows)?;
        println!("{value}");
        return Ok(());
    }
    let fields = [
        ("operation", op.id.to_string()),
        (
            "time (UTC)",
            op.at.replace('T', " ").trim_end_matches('Z').to_owned(),
        ),
        ("transaction", op.txid.to_string()),
        ("user", op.db_user.clone()),
        ("application", op.application_name.clone()),
        ("database", op.database.clone()),
        ("client", op.client_addr.clone().unwrap_or_default()),
        ("path", op.path.clone().unwrap_or_default()),
        (
            "connection",
            op.connection_id.map(|c| c.to_string()).unwrap_or_default(),
        ),
        ("table", op.table.trim_start_matches('.').to_owned()),
        ("action", op.action.to_string()),
        ("rows", op.row_count.to_string()),
        ("reason", op.reason.clone().unwrap_or_default()),
        (
            "cascaded",
            op.cascaded_from
                .map(|id| format!("from operation {id} (ON DELETE CASCADE)"))
                .unwrap_or_default(),
        ),
        ("sql", op.sql.clone()),
    ];
    for (name, value) in fields.iter().filter(|(_, v)| !v.is_empty()) {
        println!("{:<12} {value}", format!("{name}:"));
    }
    if rows.is_empty() {
        println!("\nno row images (only deletes and journaled updates keep them)");
        return Ok(());
    }
    println!(
        "\n{} row{}:",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    );
    let table = if op.action == journal::Action::Update {
        super::op_rows::changes(rows)
    } else {
        super::op_rows::images(rows)
    };
    print!("{}", super::text::columns(&table));
    Ok(())
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
        "PATH".to_owned(),
        "TABLE".to_owned(),
        "ACTION".to_owned(),
        "ROWS".to_owned(),
        "SQL".to_owned(),
    ]];
    for op in operations {
        let sql: String = op.sql.split_whitespace().collect::<Vec<_>>().join(" ");
        let sql = journal::shortened(&sql, 60);
        let action = match &op.reason {
            Some(reason)
                if matches!(
                    op.action,
                    journal::Action::Blocked | journal::Action::WouldRefuse
                ) =>
            {
                let why = reason.split(':').next().unwrap_or(reason);
                format!("{} ({why})", op.action)
            }
            _ => op.action.to_string(),
        };
        rows.push([
            op.id.to_string(),
            op.at.replace('T', " ").trim_end_matches('Z').to_owned(),
            op.txid.to_string(),
            op.db_user.clone(),
            op.application_name.clone(),
            op.path.clone().unwrap_or_default(),
            op.table.trim_start_matches('.').to_owned(),
            action,
            op.row_count.to_string(),
            sql,
        ]);
    }
    let rows: Vec<Vec<String>> = rows.into_iter().map(Vec::from).collect();
    super::text::columns(&rows)
}
