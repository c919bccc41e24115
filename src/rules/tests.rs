//! Rules files in, rules or exact errors out.

use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<Rules, RulesError> {
    Rules::parse(text, Path::new("rules.yaml"))
}

fn table(text: &str) -> TableName {
    TableName::parse(text).unwrap()
}

#[test]
fn the_example_file_is_valid() {
    let rules = Rules::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/rules/example.yaml"
    )))
    .unwrap();
    assert_eq!(
        rules.defaults,
        Defaults {
            max_rows: Some(1000),
            on_delete: Mode::Allow,
            on_parse_error: OnParseError::Refuse,
            outside_proxy: OutsideProxy::Journal,
            hide: true,
            on_update: OnUpdate::Off,
            enforcement: Enforcement::Enforce,
        }
    );
    assert_eq!(
        rules.tables,
        vec![
            TableRule {
                table: table("orders"),
                mode: Mode::Soft(Marker::Flag("is_active".into())),
                max_rows: Some(100),
                outside_proxy: OutsideProxy::Journal,
                hide: true,
                on_update: OnUpdate::Off,
                enforcement: Enforcement::Enforce,
                position: Some((11, 3)),
            },
            TableRule {
                table: table("payments"),
                mode: Mode::Soft(Marker::Timestamp("deleted_at".into())),
                max_rows: Some(1000),
                outside_proxy: OutsideProxy::Journal,
                hide: false,
                on_update: OnUpdate::Off,
                enforcement: Enforcement::Enforce,
                position: Some((15, 3)),
            },
            TableRule {
                table: table("refunds"),
                mode: Mode::Journal,
                max_rows: Some(1000),
                outside_proxy: OutsideProxy::Journal,
                hide: false,
                on_update: OnUpdate::Journal,
                enforcement: Enforcement::Enforce,
                position: Some((19, 3)),
            },
            TableRule {
                table: table("audit_logs"),
                mode: Mode::Block,
                max_rows: Some(1000),
                outside_proxy: OutsideProxy::Journal,
                hide: false,
                on_update: OnUpdate::Off,
                enforcement: Enforcement::Enforce,
                position: Some((22, 3)),
            },
        ]
    );
}

#[test]
fn defaults_apply_when_keys_are_left_out() {
    // YAML needs the SQL quotes inside its own: '"Orders"'.
    let rules = parse("tables:\n  '\"Orders\"':\n    flag: Active\n").unwrap();
    assert_eq!(rules.defaults, Defaults::default());
    assert_eq!(
        rules.tables,
        vec![TableRule {
            table: TableName {
                schema: None,
                name: "Orders".into()
            },
            mode: Mode::Soft(Marker::Flag("active".into())),
            max_rows: Some(1000),
            outside_proxy: OutsideProxy::Journal,
            hide: true,
            on_update: OnUpdate::Off,
            enforcement: Enforcement::Enforce,
            position: Some((2, 3)),
        }]
    );
    // Zero means no limit, by default and per table.
    let rules = parse("defaults:\n  max_rows: 0\ntables:\n  t:\n    on_delete: journal\n").unwrap();
    assert_eq!(rules.defaults.max_rows, None);
    assert_eq!(rules.tables[0].max_rows, None);
    assert_eq!(parse("{}").unwrap(), Rules::default());
}

#[test]
fn on_update_is_per_table_with_a_default_and_brings_the_guard() {
    let rules = parse(
        "defaults:\n  on_update: journal\ntables:\n  a:\n    flag: f\n  b:\n    on_update: off\n    on_delete: journal\n  c:\n    on_delete: allow\n",
    )
    .unwrap();
    let updates: Vec<OnUpdate> = rules.tables.iter().map(|r| r.on_update).collect();
    assert_eq!(
        updates,
        [OnUpdate::Journal, OnUpdate::Off, OnUpdate::Journal]
    );
    // An allowed table whose updates are journaled still gets a guard.
    let guarded: Vec<String> = rules.guarded().map(|r| r.table.to_string()).collect();
    assert_eq!(guarded, ["a", "b", "c"]);
    assert_eq!(parse("{}").unwrap().defaults.on_update, OnUpdate::Off);
    let err = parse("tables:\n  a:\n    on_update: always\n").unwrap_err();
    assert_eq!(err.position, Some((3, 16)), "{err}");
    assert!(err.message.contains("unknown variant `always`"), "{err}");
    assert!(err.message.contains("expected `off` or `journal`"), "{err}");
}

#[test]
fn outside_proxy_is_per_soft_table_with_a_default() {
    let rules = parse(
        "defaults:\n  outside_proxy: refuse\ntables:\n  a:\n    flag: f\n  b:\n    flag: f\n    outside_proxy: journal\n",
    )
    .unwrap();
    assert_eq!(rules.tables[0].outside_proxy, OutsideProxy::Refuse);
    assert_eq!(rules.tables[1].outside_proxy, OutsideProxy::Journal);
    assert_eq!(rules.tables[1].position, Some((6, 3)));
}

#[test]
fn hide_is_per_soft_table_with_a_default() {
    let text = "tables:\n  a:\n    flag: f\n  b:\n    flag: f\n    hide: false\n  c:\n    on_delete: journal\n";
    let rules = parse(text).unwrap();
    let hide: Vec<bool> = rules.tables.iter().map(|t| t.hide).collect();
    assert_eq!(hide, [true, false, false]);
    let names: Vec<&str> = rules.hidden().map(|t| t.table.name.as_str()).collect();
    assert_eq!(names, ["a"]);
    let rules = parse(&format!("defaults:\n  hide: false\n{text}")).unwrap();
    assert_eq!(rules.hidden().count(), 0);
    let rules = parse("defaults:\n  hide: false\ntables:\n  a:\n    flag: f\n    hide: true\n");
    assert_eq!(rules.unwrap().hidden().count(), 1);
}

#[test]
fn lookup_prefers_the_rule_naming_the_schema() {
    let rules = parse(
        "tables:\n  orders:\n    on_delete: journal\n  billing.orders:\n    on_delete: block\n",
    )
    .unwrap();
    assert_eq!(rules.lookup(Some("billing"), "orders").mode(), &Mode::Block);
    assert_eq!(rules.lookup(Some("shop"), "orders").mode(), &Mode::Journal);
    assert_eq!(rules.lookup(None, "items").mode(), &Mode::Allow);
    assert_eq!(rules.lookup(None, "items").max_rows(), Some(1000));
}

#[test]
fn broken_files_name_the_line_and_the_key() {
    let cases: &[(&str, usize, &str)] = &[
        ("default:\n  max_rows: 5\n", 1, "unknown field `default`"),
        ("defaults:\n  max_row: 5\n", 2, "unknown field `max_row`"),
        (
            "tables:\n  orders:\n    on_delete: soft\n    flagg: x\n",
            4,
            "unknown field `flagg`",
        ),
        (
            "tables:\n  orders:\n    flag: is_active\n    timestamp: deleted_at\n",
            2,
            "either `flag` or `timestamp`, not both",
        ),
        (
            "tables:\n  orders:\n    max_rows: -1\n",
            3,
            "tables.orders.max_rows: invalid type: integer `-1`",
        ),
        (
            "defaults:\n  max_rows: -5\n",
            2,
            "defaults.max_rows: invalid type: integer `-5`",
        ),
        (
            "tables:\n  orders:\n    on_delete: soft\n",
            2,
            "tables.orders: on_delete: soft needs",
        ),
        (
            "tables:\n  orders:\n    on_delete: journal\n    flag: f\n",
            2,
            "only apply to soft tables",
        ),
        (
            "tables:\n  orders:\n    on_delete: block\n  ORDERS:\n    on_delete: allow\n",
            4,
            "table orders is listed twice",
        ),
        (
            "tables:\n  my orders:\n    on_delete: block\n",
            2,
            "invalid identifier",
        ),
        (
            "tables:\n  a:\n    on_delete: block\n  'b':\n    on_delete: soft\n",
            4,
            "tables.b: on_delete: soft needs",
        ),
        (
            "tables:\n  orders:\n    on_delete: sof\n",
            3,
            "unknown variant `sof`",
        ),
        (
            "defaults:\n  on_delete: soft\n",
            2,
            "defaults.on_delete: `soft`",
        ),
        (
            "defaults:\n  on_parse_error: ignore\n",
            2,
            "unknown variant `ignore`",
        ),
        (
            "tables: [orders]\n",
            1,
            "a mapping from table names to rules",
        ),
        ("defaults: {max_rows: 5\n", 2, "did not find expected"),
        (
            "tables:\n  refunds:\n    on_delete: journal\n    outside_proxy: refuse\n",
            2,
            "`outside_proxy` only applies to soft tables",
        ),
        (
            "tables:\n  audit:\n    on_delete: block\n    hide: true\n",
            2,
            "tables.audit: `hide` only applies to soft tables, and this one is `block`",
        ),
        (
            "tables:\n  orders:\n    flag: f\n    hide: sometimes\n",
            4,
            "invalid type",
        ),
        (
            "tables:\n  orders:\n    flag: f\n    outside_proxy: reject\n",
            4,
            "unknown variant `reject`",
        ),
    ];
    for err in broken(cases) {
        let line = err.position.map_or(0, |(l, _)| l);
        assert!(
            err.to_string().starts_with(&format!("rules.yaml:{line}:")),
            "{err}"
        );
    }
}

/// Each file of `cases` fails at its line with its message; the errors.
fn broken(cases: &[(&str, usize, &str)]) -> Vec<RulesError> {
    cases
        .iter()
        .map(|&(text, line, message)| {
            let err = file(text).expect_err(text);
            assert_eq!(err.position.map(|(l, _)| l), Some(line), "{text:?}: {err}");
            assert!(err.message.contains(message), "{text:?}: {err}");
            err
        })
        .collect()
}

#[test]
fn the_key_path_is_in_the_message() {
    let err = parse("tables:\n  orders:\n    max_rows: -1\n").unwrap_err();
    assert!(err.message.contains("tables"), "{err}");
}

#[test]
fn an_unreadable_file_is_an_error() {
    let err = Rules::load(Path::new("/nonexistent/rules.yaml")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/rules.yaml: cannot read"),
        "{err}"
    );
}

/// Mistakes of indentation: the message says what the reader wrote wrong
/// in the file's words (never a type of softdel's), and the position is
/// given once, in front.
#[test]
fn misplaced_keys_are_named_in_the_files_words() {
    let shallow = parse("tables:\n  orders:\n  on_delete: soft\n").unwrap_err();
    assert_eq!(
        shallow.to_string(),
        "rules.yaml:3:14: tables.on_delete: invalid type: string \"soft\", expected a \
         table's rules: a mapping of mode, on_delete, flag, timestamp, max_rows, outside_proxy, \
         hide, on_update, indented under the table's name (is this key indented one level too shallow?)"
    );
    let odd = parse("tables:\n  orders:\n    on_delete: soft\n   flag: is_active\n").unwrap_err();
    assert_eq!(
        odd.to_string(),
        "rules.yaml:4:4: did not find expected key, while parsing a block mapping \
         (is this key indented differently from the keys beside it?)"
    );
    let scalar = parse("orders\n").unwrap_err();
    assert!(!scalar.message.contains("Raw"), "{scalar}");
    let defaults = parse("defaults: 3\n").unwrap_err();
    assert!(!defaults.message.contains("Raw"), "{defaults}");
}

fn file(text: &str) -> Result<RulesFile, RulesError> {
    RulesFile::parse(text, Path::new("rules.yaml"))
}

const PER_DATABASE: &str = "
defaults:
  max_rows: 50
  on_update: journal
tables:
  orders: {flag: is_active}
exempt:
  users: [migrator, \"Ops\"]
  applications: [\"flyway*\", nightly-cleanup]
databases:
  eu:
    defaults:
      on_delete: journal
    tables:
      invoices: {on_delete: block}
      orders: {timestamp: deleted_at, max_rows: 5}
  archive: {}
";

#[test]
fn a_database_has_its_own_tables_and_its_defaults_merged_over_the_files() {
    let f = file(PER_DATABASE).unwrap();
    assert_eq!(f.rules.tables.len(), 1);
    assert_eq!(f.rules.defaults.on_delete, Mode::Allow);
    let eu = f.for_database("eu");
    // Its own key, and the file's where it says nothing.
    assert_eq!(eu.defaults.on_delete, Mode::Journal);
    assert_eq!(eu.defaults.max_rows, Some(50));
    assert_eq!(eu.defaults.on_update, OnUpdate::Journal);
    let names: Vec<String> = eu.tables.iter().map(|t| t.table.to_string()).collect();
    assert_eq!(names, ["invoices", "orders"]);
    let orders = eu
        .tables
        .iter()
        .find(|t| t.table == table("orders"))
        .unwrap();
    assert_eq!(
        orders.mode,
        Mode::Soft(Marker::Timestamp("deleted_at".into()))
    );
    assert_eq!(orders.max_rows, Some(5));
    assert_eq!(orders.on_update, OnUpdate::Journal);
    // Listed without rules: no tables, the file's defaults.
    let archive = f.listed("archive").unwrap();
    assert!(archive.tables.is_empty());
    assert_eq!(archive.defaults, f.rules.defaults);
    // Not listed, or named differently (database names are exact).
    assert_eq!(f.for_database("shop"), &f.rules);
    assert_eq!(f.for_database("EU"), &f.rules);
    assert!(f.listed("EU").is_none());
}

#[test]
fn exemptions_name_users_exactly_and_applications_by_prefix() {
    let f = file(PER_DATABASE).unwrap();
    let e = &f.exempt;
    assert!(e.covers("migrator", "web"));
    assert!(e.covers("Ops", ""));
    assert!(!e.covers("ops", ""), "user names are exact");
    assert!(e.covers("app", "flyway"));
    assert!(e.covers("app", "flyway 10.1"));
    assert!(e.covers("app", "nightly-cleanup"));
    assert!(!e.covers("app", "nightly-cleanup-2"));
    assert!(!e.covers("app", "my flyway"));
    assert!(file("tables: {}\n").unwrap().exempt.is_empty());
}

#[test]
fn broken_exemptions_and_databases_name_the_line_and_the_key() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "exempt:\n  users: [a]\n  applications: [\"*\"]\n",
            3,
            "exempt.applications: \"*\" would exempt every session",
        ),
        (
            "exempt:\n  applications: [\"fly*way\"]\n",
            2,
            "`*` may only end an application name",
        ),
        ("exempt:\n  user: [a]\n", 2, "unknown field `user`"),
        (
            "exempt:\n  users: [\"\"]\n",
            2,
            "exempt.users: a user name is empty",
        ),
        (
            "databases:\n  eu:\n    exempt: {users: [a]}\n",
            3,
            "unknown field `exempt`",
        ),
        (
            "tables:\n  orders: {on_delete: block}\ndatabases:\n  eu:\n    tables:\n      orders:\n        on_delete: soft\n",
            6,
            "databases.eu.tables.orders: on_delete: soft needs",
        ),
        (
            "databases:\n  eu:\n    defaults:\n      on_delete: soft\n",
            4,
            "databases.eu.defaults.on_delete: `soft`",
        ),
        (
            "databases:\n  eu:\n    tables:\n      a: {on_delete: block}\n      A: {on_delete: allow}\n",
            5,
            "databases.eu.tables.A: table a is listed twice",
        ),
        (
            "databases: [eu]\n",
            1,
            "a mapping from database names to their rules",
        ),
    ];
    broken(cases);
}

#[test]
fn observe_mode_is_set_in_the_defaults_per_table_and_per_database() {
    let text = "defaults:\n  mode: observe\n\
                tables:\n  orders:\n    flag: is_active\n  \
                audit_logs:\n    on_delete: block\n    mode: enforce\n\
                databases:\n  eu:\n    defaults:\n      max_rows: 5\n    \
                tables:\n      orders:\n        flag: is_active\n  \
                us:\n    defaults:\n      mode: enforce\n";
    let file = file(text).unwrap();
    let rules = &file.rules;
    assert_eq!(rules.defaults.enforcement, Enforcement::Observe);
    assert!(rules.lookup(None, "orders").observed());
    assert!(!rules.lookup(None, "audit_logs").observed());
    assert!(rules.lookup(None, "anything").observed());
    // An observed soft table hides nothing: statements run as sent.
    assert_eq!(rules.hidden().count(), 0);
    // A database's defaults merge over the file's, `mode` included.
    assert!(file.for_database("eu").lookup(None, "orders").observed());
    assert!(!file.for_database("us").lookup(None, "orders").observed());
    broken(&[
        ("defaults:\n  mode: watch\n", 2, "unknown variant `watch`"),
        (
            "tables:\n  orders:\n    mode: Observe\n",
            3,
            "unknown variant `Observe`",
        ),
    ]);
}
