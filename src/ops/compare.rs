//! Deciding, row by row, whether a journaled row can come back: its image
//! against the row that holds its primary key now. Pure functions.

use serde_json::Value;

use super::select::RemovalKind;
use crate::rules::Marker;

/// Why a row cannot simply come back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Conflict {
    /// Soft-deleted, but live again (someone restored it by hand).
    AlreadyLive,
    /// Soft-deleted, still marked deleted, but changed since.
    Changed,
    /// Soft-deleted, and since really deleted (purged, or by hand).
    Missing,
    /// Hard-deleted, and a different row has taken its primary key.
    KeyTaken,
    /// Hard-deleted, and the same row is back (re-inserted by hand).
    AlreadyBack,
}

impl Conflict {
    pub fn describe(self) -> &'static str {
        match self {
            Conflict::AlreadyLive => "already live again",
            Conflict::Changed => "changed since it was deleted",
            Conflict::Missing => "no longer in the table",
            Conflict::KeyTaken => "primary key taken by another row",
            Conflict::AlreadyBack => "already back in the table",
        }
    }

    /// What `--force` does about it: only what overwrites nothing.
    pub fn forced(self) -> Action {
        match self {
            // The row's current values stay; only the mark is cleared.
            Conflict::Changed => Action::Clear,
            // The key is free: the image goes back in, live.
            Conflict::Missing => Action::Insert,
            Conflict::AlreadyLive | Conflict::KeyTaken | Conflict::AlreadyBack => Action::Skip,
        }
    }

    pub fn forced_description(self) -> &'static str {
        match self.forced() {
            Action::Clear => "--force clears the mark, keeping the row's current values",
            Action::Insert => "--force re-inserts the image",
            Action::Skip => "left as it is, even with --force",
        }
    }
}

/// What happens to one journaled row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Clear the soft-delete mark.
    Clear,
    /// Insert the image.
    Insert,
    /// Leave it.
    Skip,
}

/// The verdict on one row: restore it this way, or a conflict.
pub fn classify(
    kind: &RemovalKind,
    image: &Value,
    current: Option<&Value>,
) -> Result<Action, Conflict> {
    match (kind, current) {
        (RemovalKind::Soft(_), None) => Err(Conflict::Missing),
        (RemovalKind::Soft(marker), Some(row)) if is_live(marker, row) => {
            Err(Conflict::AlreadyLive)
        }
        (RemovalKind::Soft(_), Some(row)) if !same_row(image, row) => Err(Conflict::Changed),
        (RemovalKind::Soft(_), Some(_)) => Ok(Action::Clear),
        (RemovalKind::Hard, None) => Ok(Action::Insert),
        (RemovalKind::Hard, Some(row)) if same_row(image, row) => Err(Conflict::AlreadyBack),
        (RemovalKind::Hard, Some(_)) => Err(Conflict::KeyTaken),
    }
}

/// Where a journaled row stands now, for people looking at an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowState {
    /// In the table and live, as it was (or, soft-deleted, unmarked).
    LiveAgain,
    /// Still marked deleted, as the operation left it.
    SoftDeleted,
    /// No row holds its key: still deleted, or purged.
    Gone,
    /// Still the same row (soft-deleted, or back), but other values
    /// differ from the image.
    ChangedSince,
    /// Hard-deleted, and a different row holds its key now.
    KeyTaken,
}

impl RowState {
    pub fn describe(self) -> &'static str {
        match self {
            RowState::LiveAgain => "live again",
            RowState::SoftDeleted => "still soft-deleted",
            RowState::Gone => "gone",
            RowState::ChangedSince => "changed since",
            RowState::KeyTaken => "key taken by another row",
        }
    }

    /// The name the API and the pages' styles use.
    pub fn as_str(self) -> &'static str {
        match self {
            RowState::LiveAgain => "live_again",
            RowState::SoftDeleted => "soft_deleted",
            RowState::Gone => "gone",
            RowState::ChangedSince => "changed_since",
            RowState::KeyTaken => "key_taken",
        }
    }
}

/// The state of a row removed `kind`-wise, from its image and the row that
/// holds its key now.
pub fn state(kind: &RemovalKind, image: &Value, current: Option<&Value>) -> RowState {
    match (kind, current) {
        (_, None) => RowState::Gone,
        (RemovalKind::Soft(marker), Some(row)) if is_live(marker, row) => RowState::LiveAgain,
        (RemovalKind::Soft(_), Some(row)) if !same_row(image, row) => RowState::ChangedSince,
        (RemovalKind::Soft(_), Some(_)) => RowState::SoftDeleted,
        (RemovalKind::Hard, Some(row)) if !same_row(image, row) => RowState::KeyTaken,
        (RemovalKind::Hard, Some(_)) => RowState::LiveAgain,
    }
}

/// Live as the proxy's rewrite defines it: flag not false, timestamp NULL.
pub fn is_live(marker: &Marker, row: &Value) -> bool {
    match marker {
        Marker::Flag(c) => row.get(c) != Some(&Value::Bool(false)),
        Marker::Timestamp(c) => matches!(row.get(c), None | Some(Value::Null)),
    }
}

/// The same row, as far as both know: columns added or dropped since the
/// image was taken are not a change.
pub fn same_row(image: &Value, current: &Value) -> bool {
    let (Some(image), Some(current)) = (image.as_object(), current.as_object()) else {
        return image == current;
    };
    image
        .iter()
        .all(|(column, value)| current.get(column).is_none_or(|now| now == value))
}

/// The columns whose values differ between the image and the row now
/// (columns added or dropped since are not a difference), in the image's
/// order.
pub fn changed_columns(image: &Value, current: &Value) -> Vec<String> {
    let (Some(image), Some(current)) = (image.as_object(), current.as_object()) else {
        return Vec::new();
    };
    image
        .iter()
        .filter(|(column, value)| current.get(*column).is_some_and(|now| now != *value))
        .map(|(column, _)| column.clone())
        .collect()
}

/// The image with its soft-delete mark cleared, to insert a row live.
pub fn revived(image: &Value, marker: &Marker) -> Value {
    let mut row = image.clone();
    if let Some(object) = row.as_object_mut() {
        let (column, live) = match marker {
            Marker::Flag(c) => (c, Value::Bool(true)),
            Marker::Timestamp(c) => (c, Value::Null),
        };
        object.insert(column.clone(), live);
    }
    row
}

/// The row's key for people: `id=7`, `order_id=3, line=2`.
pub fn key_text(primary_key: &[String], image: &Value) -> String {
    primary_key
        .iter()
        .map(|column| {
            let value = match image.get(column) {
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => "?".to_owned(),
            };
            format!("{column}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn soft() -> RemovalKind {
        RemovalKind::Soft(Marker::Flag("is_active".into()))
    }

    #[test]
    fn soft_deleted_rows_untouched_since_come_back() {
        let image = json!({"id": 1, "name": "a", "is_active": false});
        assert_eq!(classify(&soft(), &image, Some(&image)), Ok(Action::Clear));
    }

    #[test]
    fn soft_conflicts() {
        let image = json!({"id": 1, "name": "a", "is_active": false});
        let live = json!({"id": 1, "name": "a", "is_active": true});
        let edited = json!({"id": 1, "name": "b", "is_active": false});
        assert_eq!(classify(&soft(), &image, None), Err(Conflict::Missing));
        assert_eq!(
            classify(&soft(), &image, Some(&live)),
            Err(Conflict::AlreadyLive)
        );
        assert_eq!(
            classify(&soft(), &image, Some(&edited)),
            Err(Conflict::Changed)
        );
    }

    #[test]
    fn a_null_flag_is_live() {
        let marker = Marker::Flag("is_active".into());
        assert!(is_live(&marker, &json!({"is_active": null})));
        let stamp = Marker::Timestamp("deleted_at".into());
        assert!(!is_live(
            &stamp,
            &json!({"deleted_at": "2026-11-21T10:00:00+00:00"})
        ));
    }

    #[test]
    fn hard_deleted_rows_are_inserted_unless_their_key_is_taken() {
        let image = json!({"id": 1, "amount": 5});
        let other = json!({"id": 1, "amount": 6});
        assert_eq!(
            classify(&RemovalKind::Hard, &image, None),
            Ok(Action::Insert)
        );
        assert_eq!(
            classify(&RemovalKind::Hard, &image, Some(&image)),
            Err(Conflict::AlreadyBack)
        );
        assert_eq!(
            classify(&RemovalKind::Hard, &image, Some(&other)),
            Err(Conflict::KeyTaken)
        );
    }

    #[test]
    fn columns_added_since_are_not_a_change() {
        let image = json!({"id": 1, "name": "a"});
        let now = json!({"id": 1, "name": "a", "note": null});
        assert!(same_row(&image, &now));
    }

    #[test]
    fn force_never_overwrites() {
        assert_eq!(Conflict::KeyTaken.forced(), Action::Skip);
        assert_eq!(Conflict::AlreadyLive.forced(), Action::Skip);
        assert_eq!(Conflict::Missing.forced(), Action::Insert);
    }

    #[test]
    fn a_rows_state_now() {
        let image = json!({"id": 1, "name": "a", "is_active": false});
        let live = json!({"id": 1, "name": "a", "is_active": true});
        let edited = json!({"id": 1, "name": "b", "is_active": false});
        let kind = soft();
        assert_eq!(state(&kind, &image, Some(&image)), RowState::SoftDeleted);
        assert_eq!(state(&kind, &image, Some(&live)), RowState::LiveAgain);
        assert_eq!(state(&kind, &image, Some(&edited)), RowState::ChangedSince);
        assert_eq!(state(&kind, &image, None), RowState::Gone);
        let hard = RemovalKind::Hard;
        let row = json!({"id": 1, "amount": 5});
        assert_eq!(state(&hard, &row, None), RowState::Gone);
        assert_eq!(state(&hard, &row, Some(&row)), RowState::LiveAgain);
        let other = json!({"id": 1, "amount": 6});
        assert_eq!(state(&hard, &row, Some(&other)), RowState::KeyTaken);
    }

    #[test]
    fn changed_columns_are_named() {
        let image = json!({"id": 1, "name": "a", "is_active": false, "gone": 1});
        let now = json!({"id": 1, "name": "b", "is_active": true, "added": 2});
        assert_eq!(changed_columns(&image, &now), ["is_active", "name"]);
    }

    #[test]
    fn revived_images_are_live() {
        let marker = Marker::Timestamp("deleted_at".into());
        let row = revived(&json!({"id": 1, "deleted_at": "2026-01-01"}), &marker);
        assert!(is_live(&marker, &row));
        assert_eq!(key_text(&["id".into()], &row), "id=1");
    }
}
