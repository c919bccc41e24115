//! The rewriter's exact outputs, input by input: what is rewritten
//! (`rewrites`), what is refused or passed (`refusals`), and the engine's
//! cache and robustness (`engine`). The helpers below spell the pieces a
//! rewrite is made of.

mod engine;
mod hiding;
mod observe;
mod refusals;
mod rewrites;

use super::{Decision, Engine, Lexing, Refusal};
use crate::rules::Rules;

pub const RULES: &str = "
defaults:
  max_rows: 1000
  on_delete: allow
  on_parse_error: refuse
tables:
  orders:
    on_delete: soft
    flag: is_active
    max_rows: 100
  billing.payments:
    on_delete: soft
    timestamp: deleted_at
  refunds:
    on_delete: journal
  audit_logs:
    on_delete: block
  '\"Mixed\"':
    on_delete: soft
    flag: alive
  scratch:
    on_delete: allow
    max_rows: 0
";

pub fn engine_with(rules: &str) -> Engine {
    let rules = Rules::parse(rules, std::path::Path::new("test.yaml")).unwrap();
    Engine::with_nonce(rules, "n".to_owned())
}

pub fn rewrite_with(engine: &Engine, sql: &str, lexing: Lexing) -> Option<String> {
    match engine.decide(sql, lexing) {
        Decision::Pass => None,
        Decision::Rewrite(r) => Some(r.template.display()),
    }
}

pub fn rewrite(sql: &str) -> Option<String> {
    rewrite_with(&engine_with(RULES), sql, Lexing::default())
}

pub const IMAGE: &str = "softdel_image_n";

/// The client's context, as a rewrite sets it for the guard.
pub fn context(statement: &str) -> String {
    format!(
        "pg_catalog.set_config('softdel.context', E'softdel1\\t' || ':connection_id' || E'\\t' || :client_addr || E'\\t' || pg_catalog.txid_current()::text || E'\\t' || pg_catalog.date_part('epoch', pg_catalog.statement_timestamp())::text || E'\\t' || $softdel${statement}$softdel$, true)"
    )
}

/// The SET clause of a soft delete's UPDATE.
pub fn set(column: &str, value: &str, table: &str, statement: &str) -> String {
    format!(
        "SET {column} = (SELECT {value} WHERE softdel.proxy_check(E'{table}'::pg_catalog.regclass, 'softdel_guard_update') AND {} IS NOT NULL)",
        context(statement)
    )
}

/// The condition a DELETE on a journal or block table gets.
pub fn guarded(table: &str, statement: &str) -> String {
    format!(
        "(SELECT softdel.proxy_check(E'{table}'::pg_catalog.regclass, 'softdel_guard_delete') AND {} IS NOT NULL)",
        context(statement)
    )
}

/// The refusal a rewritten text raises, read back from the error the
/// server would report.
pub fn refusal(sql: &str) -> Refusal {
    let out = rewrite(sql).unwrap_or_else(|| panic!("{sql}: not refused"));
    raised(&out).unwrap_or_else(|| panic!("{sql}: {out}"))
}

/// The server's error for a refusal statement: the literal, quoted.
pub fn raised(statement: &str) -> Option<Refusal> {
    let literal = statement.split("E'").nth(1)?.split('\'').next()?;
    Refusal::from_error(
        &format!("invalid input syntax for type integer: \"{literal}\""),
        "n",
    )
}
