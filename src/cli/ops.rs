//! `softdel undelete`, `softdel undo`, `softdel purge` and `softdel check`:
//! the operator's commands, printed for people (or as JSON for scripts).

use std::path::PathBuf;

use clap::Args;
use softdel::ops::check::{self, Level};
use softdel::ops::{Selection, purge, undelete};
use softdel::rules::RulesFile;
use softdel::text::plural;

use super::db::{Database, database_rules, with_client};
use super::text::columns;

#[derive(Args)]
pub struct UndeleteArgs {
    #[command(flatten)]
    database: Database,
    /// Operation ids, as `softdel log` shows them.
    #[arg(value_name = "OP_ID", conflicts_with_all = ["txid", "table"])]
    ops: Vec<i64>,
    /// Everything one transaction removed (an ORM's cascade, for example).
    #[arg(long, conflicts_with = "table")]
    txid: Option<i64>,
    /// Every removal from this table (`name` or `schema.name`); needs --since.
    #[arg(long, requires = "since")]
    table: Option<String>,
    /// With --table: removals at or after this time.
    #[arg(long, requires = "table")]
    since: Option<String>,
    /// With --table: removals before this time.
    #[arg(long, requires = "table")]
    until: Option<String>,
    /// With --table: removals by this database user only.
    #[arg(long, requires = "table")]
    user: Option<String>,
    /// Restore what is safe despite conflicts (never overwrites a row).
    #[arg(long)]
    force: bool,
    /// Show what would come back, and the conflicts; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// The report as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    database: Database,
    /// Only what was deleted longer ago than this: a duration with its
    /// unit, e.g. 30d, 12h, 90m, 45s, 2w.
    #[arg(long, required = true, value_name = "AGE")]
    older_than: String,
    /// Only this table (`name` or `schema.name`).
    #[arg(long)]
    table: Option<String>,
    /// Show what would be purged; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// The report as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct CheckArgs {
    /// The rules file the proxy runs with.
    #[arg(long, env = "SOFTDEL_RULES")]
    rules: PathBuf,
    #[command(flatten)]
    database: Database,
    /// The report as one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn undelete(args: UndeleteArgs) -> anyhow::Result<()> {
    let (selection, mut command) = selection(&args)?;
    if args.force {
        command.push_str(" --force");
    }
    let options = undelete::Options {
        selection,
        force: args.force,
        dry_run: args.dry_run,
        command,
    };
    let report = with_client(&args.database, "softdel undelete", async |client| {
        Ok(undelete::undelete(client, &options).await?)
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", undelete_text(&report));
    }
    if report.blocked_by_conflicts() {
        let outcome = if report.dry_run {
            "the undelete would restore nothing"
        } else {
            "nothing was restored"
        };
        anyhow::bail!(
            "{}: {outcome}. Resolve them, or run again with --force to restore the rest",
            plural(report.conflicts.len(), "conflict")
        );
    }
    Ok(())
}

/// The selection, and how the journal will name the command.
fn selection(args: &UndeleteArgs) -> anyhow::Result<(Selection, String)> {
    if !args.ops.is_empty() {
        let ids: Vec<String> = args.ops.iter().map(i64::to_string).collect();
        return Ok((
            Selection::Operations(args.ops.clone()),
            format!("softdel undelete {}", ids.join(" ")),
        ));
    }
    if let Some(txid) = args.txid {
        return Ok((
            Selection::Transaction(txid),
            format!("softdel undelete --txid {txid}"),
        ));
    }
    let (Some(table), Some(since)) = (&args.table, &args.since) else {
        anyhow::bail!(
            "say what to undelete: OP_ID..., --txid X, or --table T --since TS (see `softdel log`)"
        );
    };
    let mut command = format!("softdel undelete --table {table} --since '{since}'");
    if let Some(until) = &args.until {
        command.push_str(&format!(" --until '{until}'"));
    }
    if let Some(user) = &args.user {
        command.push_str(&format!(" --user {user}"));
    }
    Ok((
        Selection::Table {
            table: table.clone(),
            since: since.clone(),
            until: args.until.clone(),
            user: args.user.clone(),
        },
        command,
    ))
}

/// `operation 9`, `operations 9, 10`.
fn operations(ids: &[i64]) -> String {
    numbered("operation", ids)
}

/// `transaction 741`, `transactions 741, 744`.
pub(super) fn numbered(word: &str, ids: &[i64]) -> String {
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    let s = if ids.len() == 1 { "" } else { "s" };
    format!("{word}{s} {}", list.join(", "))
}

fn undelete_text(report: &undelete::Report) -> String {
    let mut out = format!(
        "{} ({})\n\n",
        operations(&report.operations),
        numbered("transaction", &report.transactions),
    );
    let mut rows = vec![
        [
            "TABLE",
            "HOW",
            "ROWS",
            "RESTORED",
            "CONFLICTS",
            "ALREADY RESTORED",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for t in &report.tables {
        rows.push(vec![
            t.table.clone(),
            t.how.clone(),
            t.rows.to_string(),
            t.restored.to_string(),
            t.conflicts.to_string(),
            t.already_restored.to_string(),
        ]);
    }
    out.push_str(&columns(&rows));
    if !report.conflicts.is_empty() {
        out.push_str("\nconflicts:\n");
        for c in &report.conflicts {
            out.push_str(&format!(
                "  {} {} (operation {}): {}; {}\n",
                c.table, c.key, c.operation, c.description, c.resolution
            ));
        }
    }
    out.push('\n');
    let restored = report.restored();
    let tables = report.tables.iter().filter(|t| t.restored > 0).count();
    if report.dry_run && report.blocked_by_conflicts() {
        out.push_str(&format!(
            "dry run: nothing was changed; with these conflicts the undelete would restore \
             nothing (with --force, {} in {})\n",
            plural(restored, "row"),
            plural(tables, "table"),
        ));
    } else if report.dry_run {
        out.push_str(&format!(
            "dry run: nothing was changed; {} in {} would come back\n",
            plural(restored, "row"),
            plural(tables, "table"),
        ));
    } else if report.applied {
        out.push_str(&format!(
            "restored {} in {}, in one transaction; journaled as {}\n",
            plural(restored, "row"),
            plural(tables, "table"),
            operations(&report.journal_ids),
        ));
        for t in &report.tables {
            for s in &t.sequences {
                out.push_str(&format!(
                    "sequence {s} moved past the largest restored value of {}\n",
                    t.table
                ));
            }
        }
    } else if !report.blocked_by_conflicts() {
        let already = report.already_restored();
        out.push_str(&format!(
            "nothing to restore: {} of these operations {} already restored (`softdel log --action undelete` shows when)\n",
            plural(already, "row"),
            if already == 1 { "was" } else { "were" },
        ));
        if !report.conflicts.is_empty() {
            out.push_str("the conflicts above are left as they are\n");
        }
    }
    out
}

pub fn purge(args: PurgeArgs) -> anyhow::Result<()> {
    let secs = softdel::duration::parse_age(&args.older_than)
        .map_err(|e| anyhow::anyhow!("--older-than: {e}"))?;
    let mut command = format!("softdel purge --older-than {}", args.older_than);
    if let Some(table) = &args.table {
        command.push_str(&format!(" --table {table}"));
    }
    let options = purge::Options {
        older_than_secs: secs,
        table: args.table.clone(),
        dry_run: args.dry_run,
        command,
    };
    let report = with_client(&args.database, "softdel purge", async |client| {
        Ok(purge::purge(client, &options).await?)
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!("purge: what was deleted before {} UTC", report.cutoff);
    if report.tables.is_empty() {
        println!("nothing is that old");
        return Ok(());
    }
    let mut rows = vec![vec![
        "TABLE".to_owned(),
        "ROWS DELETED".to_owned(),
        "JOURNAL ENTRIES PRUNED".to_owned(),
    ]];
    for t in &report.tables {
        rows.push(vec![
            t.table.clone(),
            t.rows_deleted.to_string(),
            t.entries_pruned.to_string(),
        ]);
    }
    println!("\n{}", columns(&rows));
    let deleted: u64 = report.tables.iter().map(|t| t.rows_deleted).sum();
    let pruned: u64 = report.tables.iter().map(|t| t.entries_pruned).sum();
    if report.dry_run {
        println!(
            "dry run: nothing was changed; {deleted} rows would be deleted and {pruned} journal entries pruned"
        );
    } else {
        println!(
            "deleted {deleted} rows and pruned {pruned} journal entries, in one transaction; journaled as {}",
            operations(&report.journal_ids)
        );
    }
    Ok(())
}

pub fn check(args: CheckArgs) -> anyhow::Result<()> {
    let file = RulesFile::load(&args.rules)?;
    let (report, said) = with_client(&args.database, "softdel check", async |client| {
        let (rules, said) = database_rules(client, &file, &args.rules).await?;
        Ok((check::check(client, rules, &args.rules).await?, said))
    })?;
    if let Some(said) = said.filter(|_| !args.json) {
        println!("{said}");
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", check_text(&report));
    }
    let problems = report.count(Level::Problem);
    if problems > 0 {
        anyhow::bail!(
            "{} would make softdel misbehave",
            plural(problems, "problem")
        );
    }
    Ok(())
}

fn level(level: Level) -> &'static str {
    match level {
        Level::Ok => "ok",
        Level::Warning => "warning",
        Level::Problem => "PROBLEM",
    }
}

fn check_text(report: &check::Report) -> String {
    let mut out = format!(
        "journal\n  {:<8} {}\n\nguard\n",
        level(report.journal.level),
        report.journal.message
    );
    for f in &report.guard {
        out.push_str(&format!("  {:<8} {}\n", level(f.level), f.message));
    }
    for t in &report.tables {
        let resolved = t
            .table
            .as_ref()
            .map_or(String::new(), |t| format!(" -> {t}"));
        out.push_str(&format!("\n{}{resolved}\n", t.rule));
        for f in &t.findings {
            out.push_str(&format!("  {:<8} {}\n", level(f.level), f.message));
            if let Some(fix) = &f.fix {
                out.push_str(&format!("  {:<8} fix: {fix}\n", ""));
            }
        }
    }
    out.push_str(&format!(
        "\n{}, {}\n",
        plural(report.count(Level::Problem), "problem"),
        plural(report.count(Level::Warning), "warning")
    ));
    out
}
