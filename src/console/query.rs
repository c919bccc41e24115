//! A request's query string, read into what the journal's readers take.
//! Unknown parameters and bad values are errors that say which, never
//! silently ignored: a filter that was not applied would show the wrong
//! operations.

use crate::journal::{Action, LogFilter};

/// Operations listed when the request does not say, and at most.
pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

/// The parameters `GET /api/operations` takes.
pub const FILTERS: &str = "table, since, until, user, application, action, txid, before, limit";

/// `table`, `since`, `until`, `user`, `application`, `action`, `limit`:
/// the filters of `softdel log`; `txid`, one transaction's operations; and
/// `before`, the operation a page ends with, for the next page.
pub fn filter(query: Option<&str>) -> Result<LogFilter, String> {
    let mut filter = LogFilter {
        limit: DEFAULT_LIMIT,
        ..LogFilter::default()
    };
    for (key, value) in pairs(query) {
        let value = value.trim().to_owned();
        // A form's empty field filters nothing (an unknown name is still
        // an error, below).
        if value.is_empty() && FILTERS.split(", ").any(|known| known == key) {
            continue;
        }
        match key.as_str() {
            "table" => filter.table = Some(value),
            "since" => filter.since = Some(value),
            "until" => filter.until = Some(value),
            "user" => filter.user = Some(value),
            "application" => filter.application = Some(value),
            "action" => filter.action = Some(value.parse::<Action>().map_err(|e| e.to_string())?),
            "txid" => filter.txid = Some(number("txid", "a transaction id", &value)?),
            "before" => filter.before = Some(number("before", "an operation id", &value)?),
            "limit" => filter.limit = limit(&value)?,
            other => return Err(unknown(other, FILTERS)),
        }
    }
    Ok(filter)
}

/// A page of an operation's rows: `after` (a journal row id, default 0)
/// and `limit` (default `DEFAULT_LIMIT`, at most `MAX_LIMIT`).
pub fn rows(query: Option<&str>) -> Result<(i64, i64), String> {
    let (mut after, mut count) = (0, DEFAULT_LIMIT);
    for (key, value) in pairs(query) {
        match key.as_str() {
            "after" => after = number("after", "a journal row id", &value)?,
            "limit" => count = limit(&value)?,
            other => return Err(unknown(other, "after, limit")),
        }
    }
    Ok((after, count))
}

/// What `POST /api/operations/{id}/undelete` takes: `dry_run` (default
/// true: a preview unless the request says otherwise) and `force`.
#[derive(Debug, PartialEq, Eq)]
pub struct UndeleteParams {
    pub dry_run: bool,
    pub force: bool,
}

pub fn undelete(query: Option<&str>) -> Result<UndeleteParams, String> {
    let mut params = UndeleteParams {
        dry_run: true,
        force: false,
    };
    for (key, value) in pairs(query) {
        match key.as_str() {
            "dry_run" => params.dry_run = boolean(&key, &value)?,
            "force" => params.force = boolean(&key, &value)?,
            other => return Err(unknown(other, "dry_run, force")),
        }
    }
    Ok(params)
}

fn pairs(query: Option<&str>) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
}

fn unknown(key: &str, known: &str) -> String {
    format!("unknown parameter {key:?} (known: {known})")
}

fn limit(value: &str) -> Result<i64, String> {
    match value.parse::<i64>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(format!(
            "limit must be a number from 1 to {MAX_LIMIT}, not {value:?}"
        )),
    }
}

fn number(key: &str, what: &str, value: &str) -> Result<i64, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("{key} must be {what}, not {value:?}"))
}

fn boolean(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("{key} must be true or false, not {value:?}")),
    }
}
