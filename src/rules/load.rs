//! Reading and validating a rules file. Every problem is reported with the
//! file, the line and the key, and nothing half-valid is ever returned.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::name::parse_identifier;
use super::{
    Defaults, Marker, Mode, OnParseError, OnUpdate, OutsideProxy, Rules, TableName, TableRule,
};

/// A rules file that cannot be used, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesError {
    pub file: PathBuf,
    /// 1-based line and column, when the problem is at a place in the file.
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => write!(
                f,
                "{}:{line}:{column}: {}",
                self.file.display(),
                self.message
            ),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for RulesError {}

impl Rules {
    /// Reads and validates the rules file at `path`.
    pub fn load(path: &Path) -> Result<Rules, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|e| RulesError {
            file: path.to_owned(),
            position: None,
            message: format!("cannot read the rules file: {e}"),
        })?;
        Rules::parse(&text, path)
    }

    /// Validates rules given as YAML text; `file` names it in errors.
    pub fn parse(text: &str, file: &Path) -> Result<Rules, RulesError> {
        let raw: RawRules = serde_yaml_ng::from_str(text).map_err(|e| RulesError {
            file: file.to_owned(),
            position: e.location().map(|l| (l.line(), l.column())),
            message: strip_location(&e.to_string()),
        })?;
        raw.into_rules(text, file)
    }
}

/// serde_yaml puts " at line L column C" in its messages (at the end, and
/// in the parser's context); the position is reported in front instead,
/// as compilers do, and only there. YAML's own wording for a mis-indented
/// key gets a word on what to look for.
fn strip_location(message: &str) -> String {
    let mut text = message.to_owned();
    let mut from = 0;
    while let Some(found) = text[from..].find(" at line ") {
        let at = from + found;
        let line = at + " at line ".len();
        let end = line + digits(&text[line..]);
        if end == line {
            // Words of the file's, not a position.
            from = line;
            continue;
        }
        let end = match text[end..].strip_prefix(" column ") {
            Some(column) => text.len() - column.len() + digits(column),
            None => end,
        };
        text.replace_range(at..end, "");
        from = at;
    }
    if text.starts_with("did not find expected key") {
        text.push_str(" (is this key indented differently from the keys beside it?)");
    }
    text
}

/// How many ASCII digits `text` starts with.
fn digits(text: &str) -> usize {
    text.find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len())
}

#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    expecting = "a rules file: a mapping with `defaults` and `tables`"
)]
struct RawRules {
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    tables: Option<Tables>,
}

/// The `tables` mapping, in file order, keys as written.
struct Tables(Vec<(String, RawTableFields)>);

impl<'de> Deserialize<'de> for Tables {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Tables, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Tables;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping from table names to rules")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Tables, A::Error> {
                let mut tables = Vec::new();
                while let Some(key) = map.next_key()? {
                    tables.push((key, map.next_value()?));
                }
                Ok(Tables(tables))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// `on_delete` as the file spells it: a soft table's marker is a key of
/// its own.
#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
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
#[serde(from = "RawDefaultsFields")]
struct RawDefaults {
    defaults: Defaults,
    /// `on_delete: soft`, refused once the text is at hand to point at it.
    soft: bool,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "the defaults: a mapping of max_rows, on_delete, on_update, on_parse_error, \
                 outside_proxy, hide"
)]
struct RawDefaultsFields {
    max_rows: Option<u64>,
    on_delete: Option<OnDelete>,
    on_update: Option<OnUpdate>,
    on_parse_error: Option<OnParseError>,
    outside_proxy: Option<OutsideProxy>,
    hide: Option<bool>,
}

impl From<RawDefaultsFields> for RawDefaults {
    fn from(raw: RawDefaultsFields) -> RawDefaults {
        let fallback = Defaults::default();
        RawDefaults {
            defaults: Defaults {
                max_rows: limit(raw.max_rows.or(fallback.max_rows)),
                on_delete: raw
                    .on_delete
                    .and_then(OnDelete::unmarked)
                    .unwrap_or(fallback.on_delete),
                on_parse_error: raw.on_parse_error.unwrap_or(fallback.on_parse_error),
                outside_proxy: raw.outside_proxy.unwrap_or(fallback.outside_proxy),
                hide: raw.hide.unwrap_or(fallback.hide),
                on_update: raw.on_update.unwrap_or(fallback.on_update),
            },
            soft: raw.on_delete == Some(OnDelete::Soft),
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
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table's rules: a mapping of on_delete, flag, timestamp, max_rows, \
                 outside_proxy, hide, on_update, indented under the table's name (is this key indented \
                 one level too shallow?)"
)]
struct RawTableFields {
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
        })
    }
}

impl RawRules {
    /// Checks each table's rule; an error names the table and points at its
    /// key in `text` (serde knows no positions once deserialization is done).
    fn into_rules(self, text: &str, file: &Path) -> Result<Rules, RulesError> {
        let RawDefaults { defaults, soft } = self.defaults;
        if soft {
            let defaults_line = key_position(text, "defaults", 0).map_or(0, |(line, _)| line);
            return Err(RulesError {
                file: file.to_owned(),
                position: key_positions(text, "on_delete").find(|&(line, _)| line > defaults_line),
                message: "defaults.on_delete: `soft` needs a flag or timestamp column, which \
                          differs per table: list the tables under `tables` instead"
                    .to_owned(),
            });
        }
        let mut seen = BTreeSet::new();
        let mut keys_read: Vec<String> = Vec::new();
        let mut tables = Vec::new();
        for (key, fields) in self.tables.map(|t| t.0).unwrap_or_default() {
            let earlier = keys_read.iter().filter(|k| **k == key).count();
            keys_read.push(key.clone());
            let at_key = |message: String| RulesError {
                file: file.to_owned(),
                position: key_position(text, &key, earlier),
                message: format!("tables.{key}: {message}"),
            };
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
            tables.push(TableRule {
                table,
                mode,
                max_rows: match raw.max_rows {
                    Some(n) => limit(Some(n)),
                    None => defaults.max_rows,
                },
                outside_proxy: raw.outside_proxy.unwrap_or(defaults.outside_proxy),
                hide,
                on_update: raw.on_update.unwrap_or(defaults.on_update),
                position: key_position(text, &key, earlier),
            });
        }
        Ok(Rules { defaults, tables })
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
