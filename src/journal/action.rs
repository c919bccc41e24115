//! What a journal operation did. The journal's `action` column holds one
//! of these names; this is the only place the names are spelled, and rows
//! are read into (and parameters written from) this type, so an unknown
//! name is an error where it is read.

use std::fmt;
use std::str::FromStr;

use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Rows of a soft table marked deleted (the proxy's rewrite, or an
    /// application's own UPDATE of the marker).
    SoftDelete,
    /// Rows of a journal table deleted, their images kept.
    JournalDelete,
    /// Rows of a soft table physically deleted outside the proxy's
    /// rewrite, their images kept.
    HardDelete,
    /// A version-2 journal's delete (kept by upgrades).
    Delete,
    /// A statement refused.
    Blocked,
    /// Rows brought back by `softdel undelete`.
    Undelete,
    /// Rows removed for good by `softdel purge`.
    Purge,
    /// Rows of a table whose rule journals updates (`on_update: journal`)
    /// changed by one statement: each row's key and the columns that
    /// changed, before and after.
    Update,
    /// Operations reverted by `softdel undo`.
    Undo,
    /// Under an observed rule (`mode: observe`): rows of a soft table
    /// really deleted, which softdel would have soft-deleted; their
    /// images kept, so undelete re-inserts them.
    WouldSoftDelete,
    /// Under an observed rule: a statement softdel would have refused,
    /// which ran. `reason` says why; the images of any rows it deleted (or
    /// marked deleted, with the marker recorded) are kept.
    WouldRefuse,
}

impl Action {
    pub const ALL: [Action; 11] = [
        Action::SoftDelete,
        Action::JournalDelete,
        Action::HardDelete,
        Action::Delete,
        Action::Blocked,
        Action::Undelete,
        Action::Purge,
        Action::Update,
        Action::Undo,
        Action::WouldSoftDelete,
        Action::WouldRefuse,
    ];

    /// The actions whose rows `softdel undelete` can bring back.
    pub const RESTORABLE: [Action; 5] = [
        Action::SoftDelete,
        Action::JournalDelete,
        Action::HardDelete,
        Action::WouldSoftDelete,
        Action::WouldRefuse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::SoftDelete => "soft_delete",
            Action::JournalDelete => "journal_delete",
            Action::HardDelete => "hard_delete",
            Action::Delete => "delete",
            Action::Blocked => "blocked",
            Action::Undelete => "undelete",
            Action::Purge => "purge",
            Action::Update => "update",
            Action::Undo => "undo",
            Action::WouldSoftDelete => "would_soft_delete",
            Action::WouldRefuse => "would_refuse",
        }
    }

    /// As an SQL literal, for the SQL the guard installs (the names need
    /// no escaping).
    pub fn literal(self) -> String {
        format!("'{}'", self.as_str())
    }

    pub fn restorable(self) -> bool {
        Action::RESTORABLE.contains(&self)
    }

    /// Every name, for messages.
    pub fn names() -> String {
        let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        names.join(", ")
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not an action the journal records ({names})", names = Action::names())]
pub struct UnknownAction(pub String);

impl FromStr for Action {
    type Err = UnknownAction;

    /// The journal's names; `-` is read as `_` (`--action soft-delete`).
    fn from_str(s: &str) -> Result<Action, UnknownAction> {
        let name = s.replace('-', "_");
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == name)
            .ok_or_else(|| UnknownAction(s.to_owned()))
    }
}

impl<'a> FromSql<'a> for Action {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Action, Box<dyn std::error::Error + Sync + Send>> {
        let name = <&str as FromSql>::from_sql(ty, raw)?;
        Ok(name.parse()?)
    }

    fn accepts(ty: &Type) -> bool {
        <&str as FromSql>::accepts(ty)
    }
}

impl ToSql for Action {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.as_str().to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        <&str as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for action in Action::ALL {
            assert_eq!(action.as_str().parse::<Action>().unwrap(), action);
            assert_eq!(
                serde_json::to_value(action).unwrap(),
                serde_json::Value::from(action.as_str())
            );
        }
        assert_eq!("soft-delete".parse::<Action>().unwrap(), Action::SoftDelete);
        let err = "erase".parse::<Action>().unwrap_err().to_string();
        assert!(err.starts_with("\"erase\" is not an action"), "{err}");
        assert!(err.contains("soft_delete, journal_delete"), "{err}");
    }
}
