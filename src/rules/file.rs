//! A whole rules file: the rules of the databases it does not list, each
//! listed database's own, and the sessions no rule applies to.

use super::Rules;

/// A validated rules file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RulesFile {
    /// The top-level `defaults` and `tables`: every database not listed
    /// under `databases`.
    pub rules: Rules,
    /// `databases.NAME`: its own tables, and its own defaults merged over
    /// the file's, in file order.
    pub databases: Vec<(String, Rules)>,
    /// Whose statements pass the proxy untouched.
    pub exempt: Exempt,
}

impl RulesFile {
    /// The rules of database `name` (as the client names it in its
    /// startup message: exactly, as PostgreSQL compares database names).
    pub fn for_database(&self, name: &str) -> &Rules {
        self.listed(name).unwrap_or(&self.rules)
    }

    /// Database `name`'s own rules, when the file lists it.
    pub fn listed(&self, name: &str) -> Option<&Rules> {
        self.databases
            .iter()
            .find(|(listed, _)| listed == name)
            .map(|(_, rules)| rules)
    }
}

/// `exempt`: users and applications whose statements the proxy neither
/// rewrites nor refuses (the guard inside PostgreSQL still journals what
/// they destroy).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exempt {
    /// Database user names, exactly.
    pub users: Vec<String>,
    pub applications: Vec<ApplicationPattern>,
}

impl Exempt {
    /// Whether a session of `user`, whose `application_name` is
    /// `application`, is exempt.
    pub fn covers(&self, user: &str, application: &str) -> bool {
        self.users.iter().any(|u| u == user)
            || self.applications.iter().any(|a| a.matches(application))
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.applications.is_empty()
    }
}

/// An `application_name`, exactly, or a prefix of one when it ends in `*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationPattern {
    text: String,
}

impl ApplicationPattern {
    /// `name`, or `prefix*`; anything else is an error saying why.
    pub fn parse(name: &str) -> Result<ApplicationPattern, String> {
        let stem = name.strip_suffix('*').unwrap_or(name);
        if stem.contains('*') {
            return Err(format!(
                "{name:?}: `*` may only end an application name (a prefix), not stand inside it"
            ));
        }
        if stem.is_empty() {
            return Err(format!(
                "{name:?} would exempt every session: name the applications (or their prefix, \
                 such as \"migrate-*\")"
            ));
        }
        Ok(ApplicationPattern {
            text: name.to_owned(),
        })
    }

    pub fn matches(&self, application: &str) -> bool {
        match self.text.strip_suffix('*') {
            Some(prefix) => application.starts_with(prefix),
            None => application == self.text,
        }
    }

    /// As the file wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}
