//! Reading and validating a rules file. Every problem is reported with the
//! file, the line and the key, and nothing half-valid is ever returned.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use super::error::strip_location;
use super::name::parse_identifier;
use super::{
    ApplicationPattern, Defaults, Enforcement, Exempt, Marker, Mode, OnParseError, OnUpdate,
    OutsideProxy, Rules, RulesError, RulesFile, TableName, TableRule,
};

impl RulesFile {
    /// Reads and validates the rules file at `path`.
    pub fn load(path: &Path) -> Result<RulesFile, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|e| RulesError {
            file: path.to_owned(),
            position: None,
            message: format!("cannot read the rules file: {e}"),
        })?;
        RulesFile::parse(&text, path)
    }

    /// Validates rules given as YAML text; `file` names it in errors.
    pub fn parse(text: &str, file: &Path) -> Result<RulesFile, RulesError> {
        let raw: RawRules = serde_yaml_ng::from_str(text).map_err(|e| RulesError {
            file: file.to_owned(),
            position: e.location().map(|l| (l.line(), l.column())),
            message: strip_location(&e.to_string()),
        })?;
        raw.into_file(text, file)
    }
}

impl Rules {
    /// The top-level rules of the file at `path` (what databases it does
    /// not list under `databases` get); see [`RulesFile::load`].
    pub fn load(path: &Path) -> Result<Rules, RulesError> {
        RulesFile::load(path).map(|f| f.rules)
    }

    /// The top-level rules of a file given as text; see
    /// [`RulesFile::parse`].
    pub fn parse(text: &str, file: &Path) -> Result<Rules, RulesError> {
        RulesFile::parse(text, file).map(|f| f.rules)
    }
}

#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    expecting = "a rules file: a mapping with `defaults`, `tables`, `exempt` and `databases`"
)]
struct RawRules {
    #[serde(default)]
    defaults: Option<RawDefaultsFields>,
    #[serde(default)]
    tables: Option<Ordered<RawTableFields>>,
    #[serde(default)]
    exempt: Option<RawExempt>,
    #[serde(default)]
    databases: Option<Ordered<RawDatabase>>,
}

#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    expecting = "the exemptions: a mapping with `users` and `applications`, each a list of names"
)]
struct RawExempt {
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    applications: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    expecting = "a database's rules: a mapping with `defaults` and `tables` (exemptions are \
                 the file's, at the top level)"
)]
struct RawDatabase {
    #[serde(default)]
    defaults: Option<RawDefaultsFields>,
    #[serde(default)]
    tables: Option<Ordered<RawTableFields>>,
}

/// A mapping (`tables`, `databases`) in file order, keys as written.
struct Ordered<T>(Vec<(String, T)>);

/// What an `Ordered` mapping holds, for its error message.
trait Entry {
    const MAPPING: &'static str;
}

impl Entry for RawTableFields {
    const MAPPING: &'static str = "a mapping from table names to rules";
}

impl Entry for RawDatabase {
    const MAPPING: &'static str = "a mapping from database names to their rules";
}

impl<'de, T: Deserialize<'de> + Entry> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Ordered<T>, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Entry> serde::de::Visitor<'de> for Visitor<T> {
            type Value = Ordered<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::MAPPING)
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Ordered<T>, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key()? {
                    entries.push((key, map.next_value()?));
                }
                Ok(Ordered(entries))
            }
        }
        deserializer.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

/// `on_delete` as the file spells it: a soft table's marker is a key of
/// its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum OnDelete {
    Soft,
    Journal,
    Block,
    Allow,
}

impl OnDelete {
    /// The mode it names, but for `soft`, which needs a marker.
    fn unmarked(self) -> Option<Mode> {
        match self {
            OnDelete::Soft => None,
            OnDelete::Journal => Some(Mode::Journal),
            OnDelete::Block => Some(Mode::Block),
            OnDelete::Allow => Some(Mode::Allow),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    expecting = "the defaults: a mapping of mode, max_rows, on_delete, on_update, \
                 on_parse_error, outside_proxy, hide"
)]
struct RawDefaultsFields {
    mode: Option<Enforcement>,
    max_rows: Option<u64>,
    on_delete: Option<OnDelete>,
    on_update: Option<OnUpdate>,
    on_parse_error: Option<OnParseError>,
    outside_proxy: Option<OutsideProxy>,
    hide: Option<bool>,
}

impl RawDefaultsFields {
    /// These defaults, with what they leave out taken from `base` (a
    /// database's defaults over the file's).
    fn over(&self, base: &RawDefaultsFields) -> RawDefaultsFields {
        RawDefaultsFields {
            mode: self.mode.or(base.mode),
            max_rows: self.max_rows.or(base.max_rows),
            on_delete: self.on_delete.or(base.on_delete),
            on_update: self.on_update.or(base.on_update),
            on_parse_error: self.on_parse_error.or(base.on_parse_error),
            outside_proxy: self.outside_proxy.or(base.outside_proxy),
            hide: self.hide.or(base.hide),
        }
    }

    /// The defaults they make, the built-in ones where they say nothing.
    fn defaults(&self) -> Defaults {
        let fallback = Defaults::default();
        Defaults {
            max_rows: limit(self.max_rows.or(fallback.max_rows)),
            on_delete: self
                .on_delete
                .and_then(OnDelete::unmarked)
                .unwrap_or(fallback.on_delete),
            on_parse_error: self.on_parse_error.unwrap_or(fallback.on_parse_error),
            outside_proxy: self.outside_proxy.unwrap_or(fallback.outside_proxy),
            hide: self.hide.unwrap_or(fallback.hide),
            on_update: self.on_update.unwrap_or(fallback.on_update),
            enforcement: self.mode.unwrap_or(fallback.enforcement),
        }
    }
}

struct RawTable {
    /// `None`: the default's.
    mode: Option<Mode>,
    max_rows: Option<u64>,
    outside_proxy: Option<OutsideProxy>,
    hide: Option<bool>,
    on_update: Option<OnUpdate>,
    enforcement: Option<Enforcement>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table's rules: a mapping of mode, on_delete, flag, timestamp, max_rows, \
                 outside_proxy, hide, on_update, indented under the table's name (is this key indented \
                 one level too shallow?)"
)]
struct RawTableFields {
    mode: Option<Enforcement>,
    on_delete: Option<OnDelete>,
    flag: Option<String>,
    timestamp: Option<String>,
    max_rows: Option<u64>,
    outside_proxy: Option<OutsideProxy>,
    hide: Option<bool>,
    on_update: Option<OnUpdate>,
}

impl TryFrom<RawTableFields> for RawTable {
    type Error = String;

    fn try_from(raw: RawTableFields) -> Result<RawTable, String> {
        let marker = match (raw.flag, raw.timestamp) {
            (Some(_), Some(_)) => {
                return Err("a table has either `flag` or `timestamp`, not both".to_owned());
            }
            (Some(flag), None) => Some(Marker::Flag(parse_identifier(&flag)?)),
            (None, Some(ts)) => Some(Marker::Timestamp(parse_identifier(&ts)?)),
            (None, None) => None,
        };
        let mode = match (raw.on_delete, marker) {
            (Some(OnDelete::Soft), None) => {
                return Err(
                    "on_delete: soft needs `flag: COLUMN` (a boolean column set false \
                     on delete) or `timestamp: COLUMN` (set to now() on delete)"
                        .to_owned(),
                );
            }
            (Some(OnDelete::Soft) | None, Some(marker)) => Some(Mode::Soft(marker)),
            (on_delete, None) => on_delete.and_then(OnDelete::unmarked),
            (Some(on_delete), Some(_)) => {
                let mode = on_delete.unmarked().map_or("soft", |m| m.as_str());
                return Err(format!(
                    "`flag` and `timestamp` only apply to soft tables, and this one is `{mode}`"
                ));
            }
        };
        Ok(RawTable {
            mode,
            max_rows: raw.max_rows,
            outside_proxy: raw.outside_proxy,
            hide: raw.hide,
            on_update: raw.on_update,
            enforcement: raw.mode,
        })
    }
}

impl RawRules {
    /// The whole file: its own rules, each database's, the exemptions.
    fn into_file(self, text: &str, file: &Path) -> Result<RulesFile, RulesError> {
        let top = Scope {
            text,
            file,
            prefix: String::new(),
            from_line: 0,
        };
        let base = self.defaults.unwrap_or_default();
        let rules = top.rules(&base, &base, self.tables)?;
        let exempt = top.exempt(self.exempt.unwrap_or_default())?;
        let mut databases: Vec<(String, Rules)> = Vec::new();
        let databases_line = key_position(text, "databases", 0).map_or(0, |(line, _)| line);
        for (name, raw) in self.databases.map(|d| d.0).unwrap_or_default() {
            let at = key_positions(text, &name).find(|&(line, _)| line > databases_line);
            let scope = Scope {
                text,
                file,
                prefix: format!("databases.{name}."),
                from_line: at.map_or(databases_line, |(line, _)| line),
            };
            if name.is_empty() {
                return Err(scope.error(at, "a database's name is empty".to_owned()));
            }
            let own = raw.defaults.unwrap_or_default();
            let rules = scope.rules(&own.over(&base), &own, raw.tables)?;
            databases.push((name, rules));
        }
        Ok(RulesFile {
            rules,
            databases,
            exempt,
        })
    }
}

/// Where in the file a set of rules stands: the top level, or under
/// `databases.NAME` (from its line on), for errors that point at a key.
struct Scope<'a> {
    text: &'a str,
    file: &'a Path,
    /// `databases.NAME.`, or nothing at the top.
    prefix: String,
    from_line: usize,
}

impl Scope<'_> {
    fn error(&self, position: Option<(usize, usize)>, message: String) -> RulesError {
        RulesError {
            file: self.file.to_owned(),
            position,
            message: format!("{}{message}", self.prefix),
        }
    }

    /// Key `key` (its `earlier`-th repeat) in this scope.
    fn position(&self, key: &str, earlier: usize) -> Option<(usize, usize)> {
        key_positions(self.text, key)
            .filter(|&(line, _)| line > self.from_line)
            .nth(earlier)
    }

    /// Checks each table's rule under `defaults` (already merged over the
    /// file's); `own` is what this scope's `defaults` key says itself.
    fn rules(
        &self,
        defaults: &RawDefaultsFields,
        own: &RawDefaultsFields,
        tables: Option<Ordered<RawTableFields>>,
    ) -> Result<Rules, RulesError> {
        if own.on_delete == Some(OnDelete::Soft) {
            let defaults_line = self.position("defaults", 0).map_or(0, |(line, _)| line);
            return Err(self.error(
                key_positions(self.text, "on_delete").find(|&(line, _)| line > defaults_line),
                "defaults.on_delete: `soft` needs a flag or timestamp column, which \
                 differs per table: list the tables under `tables` instead"
                    .to_owned(),
            ));
        }
        let defaults = defaults.defaults();
        let mut seen = BTreeSet::new();
        let mut keys_read: Vec<String> = Vec::new();
        let mut rules = Vec::new();
        for (key, fields) in tables.map(|t| t.0).unwrap_or_default() {
            let earlier = keys_read.iter().filter(|k| **k == key).count();
            keys_read.push(key.clone());
            let position = self.position(&key, earlier);
            let at_key = |message: String| self.error(position, format!("tables.{key}: {message}"));
            let table = TableName::parse(&key).map_err(at_key)?;
            let raw = RawTable::try_from(fields).map_err(at_key)?;
            if !seen.insert(table.clone()) {
                return Err(at_key(format!(
                    "table {table} is listed twice (names fold to lower case unless quoted)"
                )));
            }
            let mode = raw.mode.unwrap_or_else(|| defaults.on_delete.clone());
            for (key, given) in [
                ("outside_proxy", raw.outside_proxy.is_some()),
                ("hide", raw.hide.is_some()),
            ] {
                if given && !mode.is_soft() {
                    return Err(at_key(format!(
                        "`{key}` only applies to soft tables, and this one is `{}`",
                        mode.as_str()
                    )));
                }
            }
            let hide = mode.is_soft() && raw.hide.unwrap_or(defaults.hide);
            rules.push(TableRule {
                table,
                mode,
                max_rows: match raw.max_rows {
                    Some(n) => limit(Some(n)),
                    None => defaults.max_rows,
                },
                outside_proxy: raw.outside_proxy.unwrap_or(defaults.outside_proxy),
                hide,
                on_update: raw.on_update.unwrap_or(defaults.on_update),
                enforcement: raw.enforcement.unwrap_or(defaults.enforcement),
                position,
            });
        }
        Ok(Rules {
            defaults,
            tables: rules,
        })
    }

    /// The exemptions, each name checked.
    fn exempt(&self, raw: RawExempt) -> Result<Exempt, RulesError> {
        let at = |key: &str, message: String| {
            self.error(self.position(key, 0), format!("exempt.{key}: {message}"))
        };
        let mut users = Vec::with_capacity(raw.users.len());
        for user in raw.users {
            if user.is_empty() {
                return Err(at("users", "a user name is empty".to_owned()));
            }
            users.push(user);
        }
        let mut applications = Vec::with_capacity(raw.applications.len());
        for name in raw.applications {
            applications.push(
                ApplicationPattern::parse(&name).map_err(|message| at("applications", message))?,
            );
        }
        Ok(Exempt {
            users,
            applications,
        })
    }
}

/// Where key `key` stands in `text` (its `earlier`-th repeat, counting from
/// 0), written plain or quoted.
fn key_position(text: &str, key: &str, earlier: usize) -> Option<(usize, usize)> {
    key_positions(text, key).nth(earlier)
}

/// Every place key `key` stands in `text`, written plain or quoted.
fn key_positions<'a>(text: &'a str, key: &str) -> impl Iterator<Item = (usize, usize)> + 'a {
    let spellings = [
        format!("{key}:"),
        format!("\"{}\":", key.replace('\\', "\\\\").replace('"', "\\\"")),
        format!("'{}':", key.replace('\'', "''")),
    ];
    text.lines().enumerate().filter_map(move |(i, line)| {
        let trimmed = line.trim_start();
        let column = line.len() - trimmed.len() + 1;
        spellings
            .iter()
            .any(|s| trimmed.starts_with(s.as_str()))
            .then_some((i + 1, column))
    })
}

/// 0 means no limit.
fn limit(max_rows: Option<u64>) -> Option<u64> {
    max_rows.filter(|&n| n > 0)
}
