//! Rules: which tables are protected and how, from a YAML file.
//!
//! Names follow PostgreSQL: unquoted identifiers fold to lower case, quoted
//! ones (`'"Orders"'` in YAML) keep their case.

mod error;
mod file;
mod load;
mod model;
mod name;

pub use error::RulesError;
pub use file::{ApplicationPattern, Exempt, RulesFile};
pub use model::{
    Applies, Defaults, Enforcement, Marker, Mode, OnParseError, OnUpdate, OutsideProxy, Rules,
    TableRule,
};
pub use name::{TableName, parse_identifier, quote_if_needed};

#[cfg(test)]
mod tests;
