//! Command-line parsing and the commands themselves (anyhow lives here, at
//! the edge, and nowhere in the library).

mod db;
mod demo;
mod demo_env;
mod journal;
mod op_rows;
mod ops;
mod proxy;
mod rewrite;
mod rules;
mod signals;
mod text;
mod undo;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "softdel",
    version,
    about = "A PostgreSQL proxy that makes deletes recoverable"
)]
struct Cli {
    /// Log filter (tracing's EnvFilter syntax), e.g. `info` or `softdel=debug`.
    #[arg(long, env = "SOFTDEL_LOG", default_value = "info", global = true)]
    log: String,
    /// Log lines as text for people, or JSON (one object per line) for
    /// collectors.
    #[arg(
        long,
        env = "SOFTDEL_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the proxy in front of a PostgreSQL server.
    Proxy(Box<proxy::ProxyArgs>),
    /// Start a throwaway PostgreSQL and the proxy in front of it, to try softdel.
    Demo(demo::DemoArgs),
    /// Work with rules files.
    Rules(rules::RulesArgs),
    /// Install the journal (schema `softdel`) in a database; safe to run again.
    Init(journal::InitArgs),
    /// List journaled operations, newest first.
    Log(journal::LogArgs),
    /// Show what the proxy would send for a statement under a rules file.
    Rewrite(rewrite::RewriteArgs),
    /// Bring back journaled rows: by operation, by transaction, or by table and time.
    Undelete(ops::UndeleteArgs),
    /// Revert journaled deletes and updates, newest first: by operation, by transaction, or by time.
    Undo(undo::UndoArgs),
    /// Really delete rows soft-deleted longer ago than an age, and prune the journal.
    Purge(ops::PurgeArgs),
    /// Hold a rules file against a database's catalog and report what would misbehave.
    Check(ops::CheckArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log, cli.log_format);
    let result = match cli.command {
        Command::Proxy(args) => proxy::run(*args),
        Command::Demo(args) => demo::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Init(args) => journal::init(args),
        Command::Log(args) => journal::log(args),
        Command::Rewrite(args) => rewrite::run(args),
        Command::Undelete(args) => ops::undelete(args),
        Command::Undo(args) => undo::run(args),
        Command::Purge(args) => ops::purge(args),
        Command::Check(args) => ops::check(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("softdel: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logging(filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|e| {
        eprintln!("softdel: invalid --log filter {filter:?} ({e}); using `info`");
        tracing_subscriber::EnvFilter::new("info")
    });
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        // Span fields (session id, user, database) flattened into each line.
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

/// The runtime that accepts connections and handles signals; sessions run
/// on the proxy's own worker threads.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
