//! `softdel undo`, printed for people (or as JSON for scripts).

use clap::Args;
use softdel::ops::undo::{self, Report, Scope, Selection, UndoConflict, shown};
use softdel::text::plural;

use super::db::{Database, with_client};
use super::ops::numbered;

#[derive(Args)]
pub struct UndoArgs {
    #[command(flatten)]
    database: Database,
    /// Operation ids, as `softdel log` shows them.
    #[arg(value_name = "OP_ID", conflicts_with_all = ["txid", "since"])]
    ops: Vec<i64>,
    /// Everything this transaction did; give it more than once for more.
    #[arg(long, conflicts_with = "since")]
    txid: Vec<i64>,
    /// With --since: only this table (`name` or `schema.name`).
    #[arg(long, requires = "since")]
    table: Option<String>,
    /// Operations at or after this time (on every table, or on --table).
    #[arg(long)]
    since: Option<String>,
    /// With --since: operations before this time.
    #[arg(long, requires = "since")]
    until: Option<String>,
    /// Only operations by this database user.
    #[arg(long)]
    user: Option<String>,
    /// Only operations by this application (its application_name).
    #[arg(long)]
    application: Option<String>,
    /// Revert what does not conflict despite conflicts (never overwrites a
    /// later change).
    #[arg(long)]
    force: bool,
    /// Show what would be undone, and the conflicts; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// The report as one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: UndoArgs) -> anyhow::Result<()> {
    let options = undo::Options {
        selection: selection(&args)?,
        force: args.force,
        dry_run: args.dry_run,
        command: command(&args),
    };
    let report = with_client(&args.database, "softdel undo", async |client| {
        Ok(undo::undo(client, &options).await?)
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", text(&report));
    }
    if report.blocked_by_conflicts() {
        let outcome = if report.dry_run {
            "the undo would change nothing"
        } else {
            "nothing was changed"
        };
        anyhow::bail!(
            "{}: {outcome}. Resolve them, or run again with --force to revert the rest",
            plural(report.conflicts.len(), "conflict")
        );
    }
    Ok(())
}

fn selection(args: &UndoArgs) -> anyhow::Result<Selection> {
    let scope = if !args.ops.is_empty() {
        Scope::Operations(args.ops.clone())
    } else if !args.txid.is_empty() {
        Scope::Transactions(args.txid.clone())
    } else if let Some(since) = &args.since {
        Scope::Window {
            table: args.table.clone(),
            since: since.clone(),
            until: args.until.clone(),
        }
    } else {
        anyhow::bail!(
            "say what to undo: OP_ID..., --txid X [--txid Y...], or --since TS [--table T] \
             (see `softdel log`)"
        );
    };
    Ok(Selection {
        scope,
        user: args.user.clone(),
        application: args.application.clone(),
    })
}

/// How the journal names the command.
fn command(args: &UndoArgs) -> String {
    let mut command = "softdel undo".to_owned();
    for id in &args.ops {
        command.push_str(&format!(" {id}"));
    }
    for txid in &args.txid {
        command.push_str(&format!(" --txid {txid}"));
    }
    if let Some(table) = &args.table {
        command.push_str(&format!(" --table {table}"));
    }
    if let Some(since) = &args.since {
        command.push_str(&format!(" --since '{since}'"));
    }
    if let Some(until) = &args.until {
        command.push_str(&format!(" --until '{until}'"));
    }
    if let Some(user) = &args.user {
        command.push_str(&format!(" --user {user}"));
    }
    if let Some(application) = &args.application {
        command.push_str(&format!(" --application {application}"));
    }
    if args.force {
        command.push_str(" --force");
    }
    command
}

fn text(report: &Report) -> String {
    let mut out = format!(
        "{} ({})\n",
        numbered("operation", &report.operations),
        numbered("transaction", &report.transactions),
    );
    for t in &report.tables {
        out.push_str(&format!("\n{}\n", t.table));
        for how in &t.restore {
            let mut parts = vec![format!("{} restored", plural(t.restored, "row"))];
            if t.already_restored > 0 {
                parts.push(format!("{} already restored", t.already_restored));
            }
            if t.restore_conflicts > 0 {
                parts.push(plural(t.restore_conflicts, "conflict"));
            }
            out.push_str(&format!("  {how}: {}\n", parts.join(", ")));
        }
        for c in &t.columns {
            let mut parts = vec![format!("{} reverted", c.reverted)];
            if c.already > 0 {
                parts.push(format!("{} already as before", c.already));
            }
            if c.conflicts > 0 {
                parts.push(plural(c.conflicts, "conflict"));
            }
            out.push_str(&format!("  revert {}: {}\n", c.column, parts.join(", ")));
        }
        if t.already_undone > 0 {
            out.push_str(&format!(
                "  {} already undone\n",
                plural(t.already_undone, "updated row")
            ));
        }
        if t.missing_rows > 0 {
            out.push_str(&format!(
                "  {} no longer in the table\n",
                plural(t.missing_rows, "updated row")
            ));
        }
        for s in &t.sequences {
            out.push_str(&format!(
                "  sequence {s} moved past the largest restored value\n"
            ));
        }
    }
    if !report.conflicts.is_empty() {
        out.push_str("\nconflicts:\n");
        for c in &report.conflicts {
            out.push_str(&format!("  {}\n", conflict(c)));
        }
        if report.force {
            out.push_str("--force leaves the conflicting columns and rows as they are\n");
        }
    }
    out.push('\n');
    out.push_str(&summary(report));
    out.push_str(&format!("note: {}\n", report.note));
    out
}

/// `public.financials id=9 company_id: operation 15 wrote 3, now 7`
fn conflict(c: &UndoConflict) -> String {
    match (&c.column, &c.wrote, &c.now) {
        (Some(column), Some(wrote), Some(now)) => format!(
            "{} {} {column}: operation {} wrote {}, now {}",
            c.table,
            c.key,
            c.operation,
            shown(wrote),
            shown(now)
        ),
        (Some(column), _, _) => format!(
            "{} {} {column}: operation {} changed it; {}",
            c.table, c.key, c.operation, c.description
        ),
        (None, _, _) => format!(
            "{} {} (operation {}): {}; {}",
            c.table, c.key, c.operation, c.description, c.resolution
        ),
    }
}

fn summary(report: &Report) -> String {
    let changed = report.changed();
    let tables = report.tables.iter().filter(|t| t.changed() > 0).count();
    let rows = format!("{} in {}", plural(changed, "row"), plural(tables, "table"));
    if report.dry_run && report.blocked_by_conflicts() {
        format!(
            "dry run: nothing was changed; with these conflicts the undo would change nothing \
             (with --force, {rows})\n"
        )
    } else if report.dry_run {
        format!("dry run: nothing was changed; {rows} would be changed\n")
    } else if report.applied {
        format!(
            "changed {rows}, in one transaction; journaled as {}\n",
            numbered("operation", &report.journal_ids)
        )
    } else if report.blocked_by_conflicts() {
        String::new()
    } else {
        let already = report.already_undone();
        format!(
            "nothing to undo: {} of these operations {} already undone \
             (`softdel log --action undo` shows when)\n",
            plural(already, "journal row"),
            if already == 1 { "was" } else { "were" },
        )
    }
}
