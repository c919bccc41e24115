//! An `update` operation's journal row: the row's key after the update,
//! and the columns it changed, before and after. Pure.

use serde_json::{Map, Value};

use crate::ops::OpsError;

/// One row an UPDATE changed.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateImage {
    /// The primary key as the update left it.
    pub key: Map<String, Value>,
    /// The changed columns' values before the update.
    pub before: Map<String, Value>,
    /// The same columns' values after it.
    pub after: Map<String, Value>,
}

impl UpdateImage {
    /// Reads journal row `row` of operation `op`; anything but an object
    /// with object `key`, `before` and `after` (the same columns in both)
    /// is a corrupt journal, never read as "nothing changed".
    pub fn parse(row: i64, op: i64, image: Option<Value>) -> Result<UpdateImage, OpsError> {
        let corrupt = |reason: String| OpsError::CorruptUpdate { row, op, reason };
        let Some(Value::Object(mut image)) = image else {
            let found = image.map_or_else(|| "NULL".to_owned(), |v| short(&v));
            return Err(corrupt(format!("its image is {found}")));
        };
        let mut part = |name: &str| match image.remove(name) {
            Some(Value::Object(part)) => Ok(part),
            Some(other) => Err(corrupt(format!("its \"{name}\" is {}", short(&other)))),
            None => Err(corrupt(format!("its image has no \"{name}\""))),
        };
        let (key, before, after) = (part("key")?, part("before")?, part("after")?);
        if key.is_empty() {
            return Err(corrupt("its \"key\" is empty".to_owned()));
        }
        if let Some(column) = after.keys().find(|c| !before.contains_key(*c)) {
            return Err(corrupt(format!(
                "column {column} is in its \"after\" but not its \"before\""
            )));
        }
        if let Some(column) = before.keys().find(|c| !after.contains_key(*c)) {
            return Err(corrupt(format!(
                "column {column} is in its \"before\" but not its \"after\""
            )));
        }
        Ok(UpdateImage { key, before, after })
    }

    /// The columns the update changed, in the journal's order.
    pub fn columns(&self) -> impl Iterator<Item = &String> {
        self.after.keys()
    }
}

fn short(value: &Value) -> String {
    crate::journal::shortened(&value.to_string(), 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_update_row_reads_back() {
        let image =
            json!({"key": {"id": 9}, "before": {"company_id": 3}, "after": {"company_id": 4}});
        let parsed = UpdateImage::parse(1, 2, Some(image)).unwrap();
        assert_eq!(parsed.key.get("id"), Some(&json!(9)));
        assert_eq!(parsed.columns().collect::<Vec<_>>(), ["company_id"]);
        assert_eq!(parsed.before.get("company_id"), Some(&json!(3)));
    }

    #[test]
    fn corrupt_images_are_errors_naming_the_row() {
        for (image, reason) in [
            (None, "its image is NULL"),
            (Some(json!([1])), "its image is [1]"),
            (
                Some(json!({"before": {}, "after": {}})),
                "its image has no \"key\"",
            ),
            (
                Some(json!({"key": 7, "before": {}, "after": {}})),
                "its \"key\" is 7",
            ),
            (
                Some(json!({"key": {}, "before": {}, "after": {}})),
                "its \"key\" is empty",
            ),
            (
                Some(json!({"key": {"id": 1}, "before": {}, "after": {"a": 1}})),
                "column a is in its \"after\" but not its \"before\"",
            ),
        ] {
            let err = UpdateImage::parse(5, 3, image).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!(
                    "journal row 5 of operation 3 is corrupt: {reason}"
                )),
                "{err}"
            );
            assert!(err.ends_with("nothing was changed"), "{err}");
        }
    }
}
