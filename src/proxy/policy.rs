//! Which rules a session's statements are decided under: its database's
//! (the file's `databases.NAME`, else the top-level rules), or none at all
//! for an exempt user or application.

use std::collections::HashMap;
use std::sync::Arc;

use crate::rewrite::Engine;
use crate::rules::{Exempt, Rules, RulesFile};

/// One engine per set of rules in a rules file, all with the same nonce.
pub struct Engines {
    base: Arc<Engine>,
    databases: HashMap<String, Arc<Engine>>,
    exempt: Exempt,
    /// Exempt sessions': nothing rewritten, nothing refused.
    pass: Arc<Engine>,
}

/// Who a session is, as far as the rules care: fixed at its start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionKey {
    pub database: String,
    pub user: String,
    /// The `application_name` of the startup message.
    pub application: String,
}

impl Engines {
    pub fn new(file: RulesFile, nonce: String) -> Engines {
        let engine = |rules: Rules| Arc::new(Engine::with_nonce(rules, nonce.clone()));
        Engines {
            databases: file
                .databases
                .into_iter()
                .map(|(name, rules)| (name, engine(rules)))
                .collect(),
            base: engine(file.rules),
            exempt: file.exempt,
            pass: engine(Rules::pass_everything()),
        }
    }

    /// The engine for `session`.
    pub fn for_session(&self, session: &SessionKey) -> &Arc<Engine> {
        if self.exempt.covers(&session.user, &session.application) {
            &self.pass
        } else {
            self.databases.get(&session.database).unwrap_or(&self.base)
        }
    }

    pub fn nonce(&self) -> &str {
        self.base.nonce()
    }

    /// Tables listed, over the top level and every database.
    pub fn tables(&self) -> usize {
        self.databases
            .values()
            .chain([&self.base])
            .map(|e| e.rules().tables.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::rewrite::{Action, Decision, Lexing};

    const RULES: &str = "
tables:
  orders: {on_delete: block}
exempt:
  users: [migrator]
  applications: [\"flyway*\", psql-maintenance]
databases:
  eu:
    defaults: {max_rows: 5}
    tables:
      invoices: {on_delete: block}
";

    fn engines() -> Engines {
        let file = RulesFile::parse(RULES, Path::new("rules.yaml")).unwrap();
        Engines::new(file, "0000000000000000".to_owned())
    }

    fn key(database: &str, user: &str, application: &str) -> SessionKey {
        SessionKey {
            database: database.into(),
            user: user.into(),
            application: application.into(),
        }
    }

    /// Whether `sql` is blocked or refused in `session`.
    fn refused(engines: &Engines, session: &SessionKey, sql: &str) -> bool {
        match engines.for_session(session).decide(sql, Lexing::default()) {
            Decision::Pass => false,
            Decision::Rewrite(r) => r
                .actions
                .iter()
                .any(|a| matches!(a, Action::BlockUnlessEmpty { .. } | Action::Refuse(_))),
        }
    }

    #[test]
    fn a_listed_database_has_its_own_rules_the_others_the_top_level_ones() {
        let e = engines();
        let shop = key("shop", "app", "web");
        let eu = key("eu", "app", "web");
        assert!(refused(&e, &shop, "DELETE FROM orders WHERE id = 1"));
        assert!(!refused(&e, &shop, "DELETE FROM invoices WHERE id = 1"));
        assert!(refused(&e, &eu, "DELETE FROM invoices WHERE id = 1"));
        assert!(!refused(&e, &eu, "DELETE FROM orders WHERE id = 1"));
        assert_eq!(e.for_session(&eu).rules().defaults.max_rows, Some(5));
        assert_eq!(e.for_session(&shop).rules().defaults.max_rows, Some(1000));
    }

    #[test]
    fn exempt_users_and_applications_pass_untouched_in_every_database() {
        let e = engines();
        for session in [
            key("shop", "migrator", "web"),
            key("eu", "app", "flyway 9.1"),
            key("eu", "app", "flyway"),
            key("shop", "app", "psql-maintenance"),
        ] {
            for sql in [
                "DELETE FROM orders WHERE id = 1",
                "DELETE FROM invoices",
                "TRUNCATE orders",
                "DROP TABLE orders",
                "DELETE FROM orders WHERE (((",
            ] {
                assert!(
                    matches!(
                        e.for_session(&session).decide(sql, Lexing::default()),
                        Decision::Pass
                    ),
                    "{session:?}: {sql}"
                );
            }
        }
        assert!(refused(&e, &key("shop", "app", "psql"), "TRUNCATE orders"));
        assert!(refused(&e, &key("shop", "Migrator", ""), "TRUNCATE orders"));
    }
}
