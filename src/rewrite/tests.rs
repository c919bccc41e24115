//! The rewriter's exact outputs, input by input.

use super::{Decision, Engine, Lexing};
use crate::rules::Rules;

const RULES: &str = "
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

fn engine() -> Engine {
    let rules = Rules::parse(RULES, std::path::Path::new("test.yaml")).unwrap();
    Engine::with_nonce(rules, "N".to_owned())
}

fn rewrite(sql: &str) -> Option<String> {
    match engine().decide(sql, Lexing::default()) {
        Decision::Pass => None,
        Decision::Rewrite(r) => Some(r.template.display()),
    }
}

#[test]
fn print_samples() {
    for sql in [
        "DELETE FROM orders WHERE id = $1",
        "DELETE FROM ONLY orders o USING customers c WHERE o.cid = c.id RETURNING o.id -- done",
        "WITH d AS (DELETE FROM refunds WHERE id < 5 RETURNING *) SELECT count(*) FROM d",
        "DELETE FROM audit_logs",
        "TRUNCATE orders",
        "DELETE FROM t",
        "DO $$ BEGIN DELETE FROM orders; END $$",
    ] {
        println!("{sql}\n => {:?}\n", rewrite(sql));
    }
}

#[test]
#[ignore]
fn emit() {
    let sql = std::env::var("SQL").unwrap();
    let r = rewrite(&sql).unwrap_or(sql);
    println!(
        "{}",
        r.replace(":connection_id", "7")
            .replace(":client_addr", "'1.2.3.4'")
    );
}
