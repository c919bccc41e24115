//! What `softdel check` says about the guard: where the installed guards
//! and the rules file disagree.

use std::collections::HashMap;
use std::path::Path;

use tokio_postgres::Client;
use tokio_postgres::types::Oid;

use super::GuardError;
use super::install::{Installed1, describe, event_triggers_installed, installed};
use super::resolve::{GuardSpec, resolve_usable};
use super::table::create_sql;
use crate::rules::{Mode, Rules};

/// One disagreement.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Drift {
    /// `schema.name`, or empty for the database as a whole.
    pub table: String,
    /// A problem (deletes are not protected as the rules say) or a warning.
    pub problem: bool,
    pub message: String,
}

/// The differences between `rules` and the guards installed in the
/// client's database. Rules that cannot be resolved (a table that does
/// not exist) are left to the rest of `softdel check`.
pub async fn drift(client: &Client, rules: &Rules, file: &Path) -> Result<Vec<Drift>, GuardError> {
    let specs = resolve_usable(client, rules, file).await?;
    let mut installed: HashMap<Oid, _> = installed(client)
        .await?
        .into_iter()
        .map(|i| (i.relid, i))
        .collect();
    let mut drifts = Vec::new();
    let mut problem = |table: String, message: String| {
        drifts.push(Drift {
            table,
            problem: true,
            message,
        })
    };
    for spec in &specs {
        if let Some(message) = guard_drift(spec, installed.remove(&spec.relid).as_ref()) {
            problem(spec.display(), message);
        }
    }
    let mut left: Vec<_> = installed.into_values().collect();
    left.sort_by(|a, b| a.display.cmp(&b.display));
    for gone in left {
        let message = unwanted(rules, &gone);
        problem(gone.display, message);
    }
    if !event_triggers_installed(client).await? {
        drifts.push(Drift {
            table: String::new(),
            problem: false,
            message: "DDL is unguarded: DROP TABLE, DROP COLUMN of a marker and ALTER TABLE ... \
                      DISABLE TRIGGER on protected tables are not refused outside the proxy (the \
                      event triggers need a superuser: run softdel init --rules as one)"
                .to_owned(),
        });
    }
    Ok(drifts)
}

/// How the guard installed on a table the rules protect (if any) differs
/// from the one they want.
fn guard_drift(spec: &GuardSpec, installed: Option<&Installed1>) -> Option<String> {
    let wanted = describe(spec);
    match installed {
        None => Some(format!(
            "no guard installed (the rules say {wanted}): deletes that do not come through \
             the proxy are neither journaled nor refused; run softdel init --rules"
        )),
        Some(i) if !i.triggers_ok => Some(
            "the guard's triggers are missing or disabled: run softdel init --rules".to_owned(),
        ),
        Some(i) if i.guard != wanted => Some(format!(
            "the guard installed is {}, the rules say {wanted}: run softdel init --rules",
            i.guard
        )),
        Some(i) if i.definition != create_sql(spec) => Some(
            "the guard was built from an earlier state of the table (its name, primary key or \
             the foreign keys cascading into it changed): run softdel init --rules"
                .to_owned(),
        ),
        Some(_) => None,
    }
}

/// What to say of a guard no usable rule wants.
fn unwanted(rules: &Rules, gone: &Installed1) -> String {
    let named = rules
        .tables
        .iter()
        .any(|r| r.mode != Mode::Allow && r.table.matches(Some(&gone.schema), &gone.name));
    match &gone.quoted_now {
        Some(now) if named && renamed(&gone.display, now).is_empty() => format!(
            "guarded ({}), but its rule cannot be installed as written (see the table's findings below)",
            gone.guard
        ),
        Some(now) => format!(
            "guarded ({}), but the rules do not protect it{}: run softdel init --rules to remove the guard",
            gone.guard,
            renamed(&gone.display, now)
        ),
        None => "guarded, but the table is gone: run softdel init --rules".to_owned(),
    }
}

/// `, renamed to x since` when the table's name changed since its guard
/// was installed.
fn renamed(display: &str, quoted_now: &str) -> String {
    let plain = quoted_now.replace('"', "");
    if plain == display {
        String::new()
    } else {
        format!(" (renamed to {plain} since)")
    }
}
