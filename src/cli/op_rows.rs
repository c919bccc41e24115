//! The rows of one journaled operation, as `softdel log --op` prints them.

use serde_json::Value;
use softdel::journal::JournalRow;

/// A deleted row's image per line, columns in the order the images have
/// them (jsonb sorts keys).
pub fn images(rows: &[JournalRow]) -> Vec<Vec<String>> {
    let mut columns: Vec<String> = Vec::new();
    for row in rows {
        if let Some(object) = row.image.as_object() {
            for key in object.keys() {
                if !columns.contains(key) {
                    columns.push(key.clone());
                }
            }
        }
    }
    let header = columns.iter().cloned().chain(["RESTORED BY".to_owned()]);
    let mut table = vec![header.collect::<Vec<_>>()];
    for row in rows {
        let mut cells: Vec<String> = columns.iter().map(|c| cell(row.image.get(c))).collect();
        cells.push(restored_by(row));
        table.push(cells);
    }
    table
}

/// An updated row per changed column: its key (on the row's first line),
/// the column, its value before and after.
pub fn changes(rows: &[JournalRow]) -> Vec<Vec<String>> {
    let mut table = vec![
        ["KEY", "COLUMN", "BEFORE", "AFTER", "UNDONE BY"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for row in rows {
        let key = match row.image.get("key").and_then(Value::as_object) {
            Some(key) => key
                .iter()
                .map(|(k, v)| format!("{k}={}", cell(Some(v))))
                .collect::<Vec<_>>()
                .join(", "),
            None => "?".to_owned(),
        };
        let after = row.image.get("after");
        let columns = row.image.get("before").and_then(Value::as_object);
        for (i, (column, before)) in columns.into_iter().flatten().enumerate() {
            let first = i == 0;
            table.push(vec![
                if first { key.clone() } else { String::new() },
                column.clone(),
                cell(Some(before)),
                cell(after.and_then(|a| a.get(column))),
                if first {
                    restored_by(row)
                } else {
                    String::new()
                },
            ]);
        }
    }
    table
}

/// A value as people read it: strings bare, NULL empty, JSON otherwise.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

fn restored_by(row: &JournalRow) -> String {
    row.restored_by
        .map(|u| format!("operation {u}"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(image: Value, restored_by: Option<i64>) -> JournalRow {
        JournalRow {
            id: 1,
            image,
            restored_by,
        }
    }

    #[test]
    fn an_update_shows_each_changed_column_under_its_key() {
        let rows = [
            row(
                json!({"key": {"id": 7}, "before": {"company_id": 3, "name": "a"}, "after": {"company_id": 1, "name": null}}),
                Some(42),
            ),
            row(
                json!({"key": {"id": 8}, "before": {"company_id": 3}, "after": {"company_id": 1}}),
                None,
            ),
        ];
        assert_eq!(
            changes(&rows),
            [
                vec!["KEY", "COLUMN", "BEFORE", "AFTER", "UNDONE BY"],
                vec!["id=7", "company_id", "3", "1", "operation 42"],
                vec!["", "name", "a", "", ""],
                vec!["id=8", "company_id", "3", "1", ""],
            ]
        );
    }
}
