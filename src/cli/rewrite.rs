//! `softdel rewrite`: what the proxy would do with a statement.

use std::path::PathBuf;

use clap::Args;
use softdel::rewrite::{Decision, Engine, Lexing};
use softdel::rules::Rules;

#[derive(Args)]
pub struct RewriteArgs {
    /// The rules file (YAML).
    #[arg(long, env = "SOFTDEL_RULES")]
    rules: PathBuf,
    /// The SQL, as the application would send it.
    sql: String,
}

pub fn run(args: RewriteArgs) -> anyhow::Result<()> {
    let rules = Rules::load(&args.rules)?;
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
