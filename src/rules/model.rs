//! The rules: what happens to DELETE, TRUNCATE and DROP on each table.

use super::TableName;

/// What a DELETE on a table becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The rows stay, marked deleted by this column, journaled.
    Soft(Marker),
    /// The rows are really deleted; every row image is journaled.
    Journal,
    /// DELETE, TRUNCATE and DROP are refused.
    Block,
    /// Nothing changes (still subject to the row limit).
    Allow,
}

impl Mode {
    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::Soft(_) => "soft",
            Mode::Journal => "journal",
            Mode::Block => "block",
            Mode::Allow => "allow",
        }
    }

    pub fn is_soft(&self) -> bool {
        matches!(self, Mode::Soft(_))
    }

    /// A soft table's marker column.
    pub fn marker(&self) -> Option<&Marker> {
        match self {
            Mode::Soft(marker) => Some(marker),
            _ => None,
        }
    }
}

/// What happens to a statement the parser cannot read but that may destroy
/// rows of a protected table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnParseError {
    #[default]
    Refuse,
    Pass,
}

impl OnParseError {
    pub fn as_str(self) -> &'static str {
        match self {
            OnParseError::Refuse => "refuse",
            OnParseError::Pass => "pass",
        }
    }
}

/// What the guard does to a physical DELETE on a soft table (anything but
/// the proxy's rewrite into an UPDATE of the marker: a client connected
/// straight to PostgreSQL, a function, a cascade).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutsideProxy {
    /// The rows are really deleted and journaled as a hard delete, which
    /// `softdel undelete` re-inserts.
    #[default]
    Journal,
    /// Refused (SD001): rows of this table are only ever soft-deleted.
    Refuse,
}

impl OutsideProxy {
    pub fn as_str(self) -> &'static str {
        match self {
            OutsideProxy::Journal => "journal",
            OutsideProxy::Refuse => "refuse",
        }
    }
}

/// What the guard does with an UPDATE of a table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnUpdate {
    /// Nothing (a soft table's rows marked deleted are still journaled, as
    /// the soft deletes they are).
    #[default]
    Off,
    /// Every row an UPDATE changes is journaled, with the before and after
    /// values of the columns it changed, on every path, so that `softdel
    /// undo` can revert them.
    Journal,
}

impl OnUpdate {
    pub fn as_str(self) -> &'static str {
        match self {
            OnUpdate::Off => "off",
            OnUpdate::Journal => "journal",
        }
    }

    pub fn journaled(self) -> bool {
        self == OnUpdate::Journal
    }
}

/// Whether softdel acts on what its rules say, or only records what it
/// would have done (`mode: observe`, for a rollout).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Enforcement {
    /// Soft deletes, refusals, hiding, as the rules say.
    #[default]
    Enforce,
    /// Statements run exactly as sent: nothing is rewritten, hidden or
    /// refused. What would have been done is journaled (`would_*`
    /// actions), logged and counted, and the images of rows really
    /// deleted are journaled as ever.
    Observe,
}

impl Enforcement {
    pub fn as_str(self) -> &'static str {
        match self {
            Enforcement::Enforce => "enforce",
            Enforcement::Observe => "observe",
        }
    }

    pub fn observes(self) -> bool {
        self == Enforcement::Observe
    }
}

/// How a soft-deleted row is marked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Marker {
    /// A boolean column: delete sets it false; live while not false.
    Flag(String),
    /// A timestamp column: delete sets now(); live while NULL.
    Timestamp(String),
}

impl Marker {
    /// `flag` or `timestamp`: its key in a rules file, and its name in the
    /// journal and the guard's records (`marker_kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            Marker::Flag(_) => "flag",
            Marker::Timestamp(_) => "timestamp",
        }
    }

    pub fn column(&self) -> &str {
        match self {
            Marker::Flag(c) | Marker::Timestamp(c) => c,
        }
    }

    /// The marker the journal recorded (`marker_kind`, `marker_column`),
    /// if it recorded one.
    pub fn from_journal(kind: Option<String>, column: Option<String>) -> Option<Marker> {
        match (kind?.as_str(), column?) {
            ("flag", column) => Some(Marker::Flag(column)),
            (_, column) => Some(Marker::Timestamp(column)),
        }
    }

    /// The condition that holds for a live row (not marked deleted);
    /// `row` qualifies the column (`o`), or leaves it bare when empty.
    pub fn live(&self, row: &str) -> String {
        let column = super::quote_if_needed(self.column());
        let dot = if row.is_empty() { "" } else { "." };
        match self {
            Marker::Flag(_) => format!("{row}{dot}{column} IS DISTINCT FROM false"),
            Marker::Timestamp(_) => format!("{row}{dot}{column} IS NULL"),
        }
    }

    /// The PostgreSQL types its column may have (`pg_type.typname`), and
    /// what people call them.
    pub fn column_types(&self) -> (&'static [&'static str], &'static str) {
        match self {
            Marker::Flag(_) => (&["bool"], "boolean"),
            Marker::Timestamp(_) => (&["timestamptz", "timestamp"], "timestamp"),
        }
    }
}

/// The rule for one table, with the defaults applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableRule {
    pub table: TableName,
    pub mode: Mode,
    /// Most rows one DELETE may remove; `None` means no limit.
    pub max_rows: Option<u64>,
    /// Soft tables: what a physical DELETE outside the proxy's rewrite gets.
    pub outside_proxy: OutsideProxy,
    /// Soft tables: statements through the proxy see only live rows.
    /// Always false for other tables.
    pub hide: bool,
    /// Whether the guard journals this table's updates.
    pub on_update: OnUpdate,
    /// `mode`: enforced, or only observed.
    pub enforcement: Enforcement,
    /// Where the rule stands in its file (line, column), for errors about
    /// it found later (a table the database does not have).
    pub position: Option<(usize, usize)>,
}

/// What applies to tables the file does not list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Defaults {
    pub max_rows: Option<u64>,
    /// Never `Soft`: its marker column differs per table, so the loader
    /// refuses `soft` here.
    pub on_delete: Mode,
    pub on_parse_error: OnParseError,
    /// What soft tables that do not say get (see `TableRule`).
    pub outside_proxy: OutsideProxy,
    /// Whether soft tables that do not say hide their deleted rows.
    pub hide: bool,
    /// What listed tables that do not say get (the guard goes on listed
    /// tables only).
    pub on_update: OnUpdate,
    /// `mode` of the tables that do not say, and of what concerns no table
    /// the file lists.
    pub enforcement: Enforcement,
}

impl Default for Defaults {
    fn default() -> Defaults {
        Defaults {
            max_rows: Some(1000),
            on_delete: Mode::Allow,
            on_parse_error: OnParseError::Refuse,
            outside_proxy: OutsideProxy::Journal,
            hide: true,
            on_update: OnUpdate::Off,
            enforcement: Enforcement::Enforce,
        }
    }
}

/// A validated rules file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    pub defaults: Defaults,
    pub tables: Vec<TableRule>,
}

/// The rule that applies to one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applies<'a> {
    Listed(&'a TableRule),
    Unlisted(&'a Defaults),
}

impl<'a> Applies<'a> {
    pub fn mode(&self) -> &'a Mode {
        match self {
            Applies::Listed(rule) => &rule.mode,
            Applies::Unlisted(defaults) => &defaults.on_delete,
        }
    }

    pub fn max_rows(&self) -> Option<u64> {
        match self {
            Applies::Listed(rule) => rule.max_rows,
            Applies::Unlisted(defaults) => defaults.max_rows,
        }
    }

    /// Whether what the rule says is only observed (`mode: observe`).
    pub fn observed(&self) -> bool {
        match self {
            Applies::Listed(rule) => rule.enforcement.observes(),
            Applies::Unlisted(defaults) => defaults.enforcement.observes(),
        }
    }
}

impl Rules {
    /// Rules under which nothing is rewritten or refused: a proxy without
    /// a rules file, and exempt sessions.
    pub fn pass_everything() -> Rules {
        Rules {
            defaults: Defaults {
                max_rows: None,
                on_delete: Mode::Allow,
                on_parse_error: OnParseError::Pass,
                hide: false,
                ..Defaults::default()
            },
            tables: Vec::new(),
        }
    }

    /// The rules the guard installs: every table whose deletes or updates
    /// it journals or refuses.
    pub fn guarded(&self) -> impl Iterator<Item = &TableRule> {
        self.tables
            .iter()
            .filter(|r| r.mode != Mode::Allow || r.on_update.journaled())
    }

    /// The soft tables whose deleted rows statements do not see (an
    /// observed table's are seen: statements run as sent).
    pub fn hidden(&self) -> impl Iterator<Item = &TableRule> {
        self.tables
            .iter()
            .filter(|r| r.hide && r.mode.is_soft() && !r.enforcement.observes())
    }

    /// The rule for a table written in SQL as `schema.name` or `name`
    /// (both already case-folded). A rule naming the schema wins over one
    /// that does not.
    pub fn lookup(&self, schema: Option<&str>, name: &str) -> Applies<'_> {
        let matching = self.tables.iter().filter(|r| r.table.matches(schema, name));
        let best = matching.max_by_key(|r| r.table.schema.is_some() && schema.is_some());
        best.map_or(Applies::Unlisted(&self.defaults), Applies::Listed)
    }
}
