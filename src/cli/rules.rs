use std::path::PathBuf;

use clap::{Args, Subcommand};
use softdel::rules::{OutsideProxy, Rules, quote_if_needed};

#[derive(Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Validate a rules file and print what it protects.
    Check {
        /// The rules file (YAML).
        file: PathBuf,
    },
}

pub fn run(args: RulesArgs) -> anyhow::Result<()> {
    match args.command {
        RulesCommand::Check { file } => {
            let rules = Rules::load(&file)?;
            print!("{}", describe(&rules));
            println!("{}: ok", file.display());
            Ok(())
        }
    }
}

/// One line per table, then what unlisted tables get.
fn describe(rules: &Rules) -> String {
    let limit =
        |n: Option<u64>| n.map_or("no row limit".to_owned(), |n| format!("at most {n} rows"));
    let mut out = String::new();
    for rule in &rules.tables {
        let marker = rule.mode.marker().map_or(String::new(), |m| {
            format!(", {} {}", m.kind(), quote_if_needed(m.column()))
        });
        let outside = if rule.mode.is_soft() && rule.outside_proxy == OutsideProxy::Refuse {
            ", deletes outside the proxy refused"
        } else {
            ""
        };
        let hidden = if rule.hide {
            ", deleted rows hidden"
        } else {
            ""
        };
        let updates = if rule.on_update.journaled() {
            ", updates journaled"
        } else {
            ""
        };
        out.push_str(&format!(
            "{}: {}{marker}, {}{outside}{hidden}{updates}\n",
            rule.table,
            rule.mode.as_str(),
            limit(rule.max_rows)
        ));
    }
    let d = &rules.defaults;
    out.push_str(&format!(
        "other tables: {}, {}; unparsable statements: {}\n",
        d.on_delete.as_str(),
        limit(d.max_rows),
        d.on_parse_error.as_str()
    ));
    out
}
