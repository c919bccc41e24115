//! `softdel rewrite`: what the proxy would do with a statement.

use std::path::PathBuf;

use clap::Args;
use softdel::rewrite::{Decision, Engine, Lexing};
use softdel::rules::RulesFile;

#[derive(Args)]
pub struct RewriteArgs {
    /// The rules file (YAML).
    #[arg(long, env = "SOFTDEL_RULES")]
    rules: PathBuf,
    /// Under the rules of this database (`databases.NAME` in the file);
    /// the top-level rules when not given or not listed.
    #[arg(long, value_name = "NAME")]
    database: Option<String>,
    /// The SQL, as the application would send it.
    sql: String,
}

pub fn run(args: RewriteArgs) -> anyhow::Result<()> {
    let file = RulesFile::load(&args.rules)?;
    let rules = match &args.database {
        Some(name) => file.for_database(name).clone(),
        None => file.rules,
    };
    // A fixed nonce: the output is the same from run to run. The proxy
    // picks its own at start.
    let engine = Engine::with_nonce(rules, "0000000000000000".to_owned());
    match engine.decide(&args.sql, Lexing::default()) {
        Decision::Pass => {
            println!("decision: pass (sent unchanged)");
            println!("{}", args.sql);
        }
        Decision::Rewrite(rewrite) => {
            for action in &rewrite.actions {
                println!("decision: {action}");
            }
            println!("{}", rewrite.template.display());
        }
    }
    Ok(())
}
