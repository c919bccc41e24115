//! What the pages show of the journal's values: pure functions.

use serde_json::Value;

use crate::journal::{Action, Operation, shortened};

/// A refusal's mark in a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub label: &'static str,
    /// The badge's CSS class.
    pub class: &'static str,
}

/// Refusals are marked: a refused statement, or under observe mode one
/// that softdel would have refused.
pub fn refusal(action: Action) -> Option<Refusal> {
    match action {
        Action::Blocked => Some(Refusal {
            label: "refused",
            class: "refused",
        }),
        Action::WouldRefuse => Some(Refusal {
            label: "would refuse",
            class: "would",
        }),
        _ => None,
    }
}

/// How a statement came: through softdel, directly, or an operator's
/// command (which journals no path).
pub fn path(operation: &Operation) -> &str {
    operation.path.as_deref().unwrap_or("softdel command")
}

/// One line of the operations list.
pub struct OpLine {
    pub id: i64,
    pub at: String,
    pub action: &'static str,
    pub refusal: Option<Refusal>,
    pub table: String,
    pub rows: i64,
    pub user: String,
    pub application: String,
    pub path: String,
    pub sql: String,
}

/// Statements are cut to this many characters in the list (the whole
/// statement is on the operation's page).
const SQL_SHOWN: usize = 160;

impl OpLine {
    pub fn of(operation: &Operation) -> OpLine {
        OpLine {
            id: operation.id,
            at: operation.at.clone(),
            action: operation.action.as_str(),
            refusal: refusal(operation.action),
            table: operation.table.clone(),
            rows: operation.row_count,
            user: operation.db_user.clone(),
            application: operation.application_name.clone(),
            path: path(operation).to_owned(),
            sql: shortened(&one_line(&operation.sql), SQL_SHOWN),
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A cell's longest text; longer values are cut (the API has them whole).
const CELL_SHOWN: usize = 200;

/// A value as a cell shows it: text as itself, NULL as `None`, anything
/// else as JSON. A column the image lacks (added since) is empty.
pub fn cell(value: Option<&Value>) -> Option<String> {
    match value {
        None => Some(String::new()),
        Some(Value::Null) => None,
        Some(Value::String(text)) => Some(shortened(text, CELL_SHOWN)),
        Some(other) => Some(shortened(&other.to_string(), CELL_SHOWN)),
    }
}

/// The columns to show for `images`: the table's own, in its order, as
/// far as the images have them; then any others the images hold (dropped
/// since, or an update's `key`/`before`/`after`), by name.
pub fn columns(table_columns: &[String], images: &[&Value]) -> Vec<String> {
    let held = |column: &str| images.iter().any(|i| i.get(column).is_some());
    let mut columns: Vec<String> = table_columns.iter().filter(|c| held(c)).cloned().collect();
    let mut others: Vec<String> = images
        .iter()
        .filter_map(|i| i.as_object())
        .flat_map(|o| o.keys())
        .filter(|k| !columns.contains(k))
        .cloned()
        .collect();
    others.sort();
    others.dedup();
    columns.extend(others);
    columns
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_show_text_null_and_json() {
        assert_eq!(cell(Some(&json!("Ada"))), Some("Ada".to_owned()));
        assert_eq!(cell(Some(&json!(null))), None);
        assert_eq!(cell(Some(&json!(12.5))), Some("12.5".to_owned()));
        assert_eq!(cell(Some(&json!({"a": 1}))), Some("{\"a\":1}".to_owned()));
        assert_eq!(cell(None), Some(String::new()));
        let long = "x".repeat(500);
        assert_eq!(cell(Some(&json!(long))).unwrap().chars().count(), 200);
    }

    #[test]
    fn columns_follow_the_table_then_the_rest() {
        let one = json!({"name": "a", "id": 1, "legacy": 2});
        let two = json!({"id": 2, "name": "b"});
        let table = ["id", "name", "note"].map(String::from);
        assert_eq!(columns(&table, &[&one, &two]), vec!["id", "name", "legacy"]);
        assert_eq!(columns(&[], &[&one]), vec!["id", "legacy", "name"]);
    }

    #[test]
    fn refusals_are_marked() {
        assert_eq!(refusal(Action::Blocked).unwrap().label, "refused");
        assert_eq!(refusal(Action::WouldRefuse).unwrap().class, "would");
        assert_eq!(refusal(Action::SoftDelete), None);
    }
}
