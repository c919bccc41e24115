//! The JSON API:
//!
//! - `GET /api/operations`: the fields of `softdel log --json`, newest
//!   first, with its filters as query parameters;
//! - `GET /api/operations/{id}`: one operation and its journaled rows;
//! - `POST /api/operations/{id}/undelete?dry_run=true|false[&force=true]`:
//!   the report of `softdel undelete --json` (a preview by default; a
//!   real one needs the token);
//! - `POST /api/operations/{id}/undo?...`: the same with `softdel undo`,
//!   which also reverts updates.

use hyper::{Method, StatusCode};
use serde_json::json;
use tokio_postgres::Client;

use super::restore::{self, Kind};
use super::{ApiResponse, Console, Request, query};
use crate::journal::{self, JournalError, LogFilter, SCHEMA};
use crate::ops::{self, OpsError};

/// Where a path leads.
enum Route {
    List,
    One(i64),
    Restore(i64, Kind),
}

pub async fn answer(console: &Console, request: &Request<'_>) -> ApiResponse {
    let route = match route(request.path) {
        Ok(route) => route,
        Err(response) => return response,
    };
    let wanted = match route {
        Route::List | Route::One(_) => Method::GET,
        Route::Restore(..) => Method::POST,
    };
    let allowed =
        *request.method == wanted || (wanted == Method::GET && *request.method == Method::HEAD);
    // A form on another site can POST here in the operator's browser; a
    // preview runs the restoration and rolls it back, so refuse even that.
    if *request.method == Method::POST && !request.same_origin() {
        return ApiResponse::error(
            StatusCode::FORBIDDEN,
            "a request from another site's page: the API is for scripts and the console's own pages",
        );
    }
    if !allowed {
        let allow = if wanted == Method::GET {
            "GET, HEAD"
        } else {
            "POST"
        };
        return ApiResponse::error(StatusCode::METHOD_NOT_ALLOWED, format!("use {allow}"))
            .with_header("allow", allow);
    }
    match route {
        Route::List => list(console, request.query).await,
        Route::One(id) => one(console, id, request.query).await,
        Route::Restore(id, kind) => restore(console, request, id, kind).await,
    }
}

fn route(path: &str) -> Result<Route, ApiResponse> {
    let not_found = || {
        ApiResponse::error(
            StatusCode::NOT_FOUND,
            "not found: /api/operations, /api/operations/{id}, /api/operations/{id}/undelete, /api/operations/{id}/undo",
        )
    };
    let rest = path
        .strip_prefix("/api/operations")
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
        .ok_or_else(not_found)?;
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    let id = |text: &str| {
        text.parse::<i64>().map_err(|_| {
            ApiResponse::error(
                StatusCode::BAD_REQUEST,
                format!("{text:?} is not an operation id (a number, see /api/operations)"),
            )
        })
    };
    match parts.as_slice() {
        [] => Ok(Route::List),
        [op] => Ok(Route::One(id(op)?)),
        [op, command] => match Kind::from_name(command) {
            Some(kind) => Ok(Route::Restore(id(op)?, kind)),
            None => Err(not_found()),
        },
        _ => Err(not_found()),
    }
}

async fn list(console: &Console, query: Option<&str>) -> ApiResponse {
    let filter = match query::filter(query) {
        Ok(filter) => filter,
        Err(message) => return ApiResponse::error(StatusCode::BAD_REQUEST, message),
    };
    let client = match super::connect(console).await {
        Ok(client) => client,
        Err(e) => return ApiResponse::error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    if let Err(message) = check_filter(&client, &filter).await {
        return ApiResponse::error(StatusCode::BAD_REQUEST, message);
    }
    match journal::operations(&client, &filter).await {
        Ok(operations) => ApiResponse::ok(json!(operations)),
        Err(e) => journal_error(e),
    }
}

/// What only the database can tell of a filter: that its times are times
/// and that the operation it pages from exists.
pub(super) async fn check_filter(client: &Client, filter: &LogFilter) -> Result<(), String> {
    for (what, value) in [("since", &filter.since), ("until", &filter.until)] {
        if let Some(value) = value {
            crate::ops::check_time(client, what, value)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    if let Some(before) = filter.before {
        let exists = client
            .query_one(
                &format!("SELECT EXISTS (SELECT FROM {SCHEMA}.operations WHERE id = $1)"),
                &[&before],
            )
            .await;
        // Without a journal, listing says so.
        if let Ok(row) = exists
            && !row.get::<_, bool>(0)
        {
            return Err(format!(
                "before={before}: there is no operation {before} in the journal"
            ));
        }
    }
    Ok(())
}

async fn one(console: &Console, id: i64, query: Option<&str>) -> ApiResponse {
    let (after, limit) = match query::rows(query) {
        Ok(page) => page,
        Err(message) => return ApiResponse::error(StatusCode::BAD_REQUEST, message),
    };
    let client = match super::connect(console).await {
        Ok(client) => client,
        Err(e) => return ApiResponse::error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let operation = match journal::operation(&client, id).await {
        Ok(Some(operation)) => operation,
        Ok(None) => {
            return ApiResponse::error(StatusCode::NOT_FOUND, OpsError::UnknownOperation(id));
        }
        Err(e) => return journal_error(e),
    };
    // A page of rows: an operation may hold millions, and the proxy's
    // memory is its clients'.
    let rows = match journal::operation_rows_page(&client, id, after, limit).await {
        Ok(rows) => rows,
        Err(e) => return journal_error(e),
    };
    let now = ops::now::rows_now_or_unknown(&client, id, &rows).await;
    let full = i64::try_from(rows.len()).is_ok_and(|n| n == limit);
    let next_after = rows.last().filter(|_| full).map(|r| r.id);
    // Each row with its state now, where that can be told, and the values
    // that differ in the row now.
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .enumerate()
        .map(|(at, row)| {
            let state = now
                .states
                .as_ref()
                .and_then(|s| s.get(at))
                .map(|s| s.as_str());
            let changed: serde_json::Map<String, serde_json::Value> = now
                .changed
                .get(at)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .collect();
            json!({
                "id": row.id,
                "image": row.image,
                "restored_by": row.restored_by,
                "state": state,
                "changed": changed,
            })
        })
        .collect();
    ApiResponse::ok(json!({ "operation": operation, "rows": rows, "next_after": next_after }))
}

async fn restore(console: &Console, request: &Request<'_>, id: i64, kind: Kind) -> ApiResponse {
    let params = match query::undelete(request.query) {
        Ok(params) => params,
        Err(message) => return ApiResponse::error(StatusCode::BAD_REQUEST, message),
    };
    // A preview changes nothing: anyone who may read may ask for one.
    if !params.dry_run {
        match &console.token {
            None => {
                return ApiResponse::error(StatusCode::FORBIDDEN, super::READ_ONLY);
            }
            Some(token) if !token.admits(request.authorization) => {
                return ApiResponse::error(
                    StatusCode::UNAUTHORIZED,
                    format!(
                        "{} needs the console's token: Authorization: Bearer TOKEN",
                        kind.name()
                    ),
                )
                .with_header("www-authenticate", "Bearer");
            }
            Some(_) => {}
        }
    }
    let mut client = match super::connect(console).await {
        Ok(client) => client,
        Err(e) => return ApiResponse::error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    match restore::run(&mut client, kind, id, params.dry_run, params.force).await {
        // Conflicts stopped it: the report says which, and nothing changed.
        Ok(outcome) if outcome.blocked && !outcome.dry_run => ApiResponse {
            status: StatusCode::CONFLICT,
            body: outcome.report,
            header: None,
        },
        Ok(outcome) => ApiResponse::ok(outcome.report),
        Err(e) => ops_error(e),
    }
}

pub(super) fn journal_error(e: JournalError) -> ApiResponse {
    let status = match e {
        JournalError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        // Not installed, another version, a corrupt image: the journal is
        // not in a state to answer.
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    ApiResponse::error(status, e)
}

fn ops_error(e: OpsError) -> ApiResponse {
    ApiResponse::error(ops_status(&e), e)
}

/// The status that says what stopped an operator command.
pub(super) fn ops_status(e: &OpsError) -> StatusCode {
    match e {
        OpsError::UnknownOperation(_) => StatusCode::NOT_FOUND,
        OpsError::NotRestorable { .. }
        | OpsError::NotUndoable { .. }
        | OpsError::TooManyRows { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        OpsError::Journal(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
