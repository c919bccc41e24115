use std::path::PathBuf;

use clap::{Args, Subcommand};
use softdel::rules::{OutsideProxy, Rules, RulesFile, quote_if_needed};

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
            let rules = RulesFile::load(&file)?;
            print!("{}", describe_file(&rules));
            println!("{}: ok", file.display());
            Ok(())
        }
    }
}

/// The effective rules: the top level's, each listed database's, and the
/// exemptions.
fn describe_file(file: &RulesFile) -> String {
    let mut out = String::new();
    if file.databases.is_empty() {
        out.push_str(&describe(&file.rules));
    } else {
        let names: Vec<&str> = file.databases.iter().map(|(n, _)| n.as_str()).collect();
        out.push_str(&format!(
            "every database but {}:\n{}",
            names.join(", "),
            indent(&describe(&file.rules))
        ));
        for (name, rules) in &file.databases {
            out.push_str(&format!("database {name}:\n{}", indent(&describe(rules))));
        }
    }
    let exempt = &file.exempt;
    if !exempt.is_empty() {
        let mut who: Vec<String> = exempt.users.iter().map(|u| format!("user {u}")).collect();
        who.extend(
            exempt
                .applications
                .iter()
                .map(|a| format!("application {}", a.as_str())),
        );
        out.push_str(&format!(
            "exempt (passed through the proxy untouched; the guard still journals and refuses): {}\n",
            who.join(", ")
        ));
    }
    out
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// What `rules check` adds to a rule that is only observed.
const OBSERVED: &str = ", observed only (mode: observe)";

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
        let observed = rule.enforcement.observes();
        let hidden = if rule.hide && !observed {
            ", deleted rows hidden"
        } else {
            ""
        };
        let updates = if rule.on_update.journaled() {
            ", updates journaled"
        } else {
            ""
        };
        let observed = if observed { OBSERVED } else { "" };
        out.push_str(&format!(
            "{}: {}{marker}, {}{outside}{hidden}{updates}{observed}\n",
            rule.table,
            rule.mode.as_str(),
            limit(rule.max_rows)
        ));
    }
    let d = &rules.defaults;
    let observed = if d.enforcement.observes() {
        OBSERVED
    } else {
        ""
    };
    out.push_str(&format!(
        "other tables: {}, {}; unparsable statements: {}{observed}\n",
        d.on_delete.as_str(),
        limit(d.max_rows),
        d.on_parse_error.as_str()
    ));
    out
}
