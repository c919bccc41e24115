//! `GET /operations/{id}`: one operation. Who, when and the statement;
//! the other operations of its transaction as a tree; its journaled rows,
//! a page at a time, each with its state now.

use askama::Template;
use hyper::StatusCode;
use serde_json::Value;

use super::view::{self, Refusal};
use super::{Chrome, Page, error, operation_id, render, unavailable};
use crate::console::restore::Kind;
use crate::console::{Console, query};
use crate::journal::{self, JournalRow, Operation};
use crate::ops::now::RowsNow;
use crate::ops::{self, OpsError};

/// One operation of the transaction's tree.
struct TreeLine {
    id: i64,
    depth: usize,
    action: &'static str,
    table: String,
    rows: i64,
    refusal: Option<Refusal>,
}

/// One journaled row.
struct RowLine {
    id: i64,
    /// CSS name and words.
    state: (&'static str, &'static str),
    cells: Vec<Cell>,
    restored_by: Option<i64>,
}

/// One value of a row image; `None` is NULL.
struct Cell {
    then: Option<String>,
    /// What the row holds now, when it differs.
    now: Option<Option<String>>,
}

#[derive(Template)]
#[template(path = "operation.html")]
struct OperationPage<'a> {
    chrome: &'a Chrome,
    op: Operation,
    path: String,
    refusal: Option<Refusal>,
    restore: Option<&'static str>,
    tree: Vec<TreeLine>,
    tree_rows: i64,
    tree_more: bool,
    tree_added_current: bool,
    tree_max: i64,
    has_states: bool,
    columns: Vec<String>,
    rows: Vec<RowLine>,
    next_rows: Option<String>,
}

pub async fn page(console: &Console, chrome: &Chrome, id: &str, query: Option<&str>) -> Page {
    let id = match operation_id(chrome, id) {
        Ok(id) => id,
        Err(page) => return page,
    };
    let (after, limit) = match query::rows(query) {
        Ok(page) => page,
        Err(message) => return error(chrome, StatusCode::BAD_REQUEST, "Bad request", &message),
    };
    let client = match crate::console::connect(console).await {
        Ok(client) => client,
        Err(e) => return unavailable(chrome, &e.to_string()),
    };
    let op = match journal::operation(&client, id).await {
        Ok(Some(op)) => op,
        Ok(None) => {
            let message = OpsError::UnknownOperation(id).to_string();
            return error(chrome, StatusCode::NOT_FOUND, "No such operation", &message);
        }
        Err(e) => return unavailable(chrome, &e.to_string()),
    };
    match gather(&client, op, after, limit, chrome).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error(
            chrome,
            StatusCode::INTERNAL_SERVER_ERROR,
            "The operation cannot be shown",
            &e.to_string(),
        ),
    }
}

/// Everything the page shows of `op`.
async fn gather<'a>(
    client: &tokio_postgres::Client,
    op: Operation,
    after: i64,
    limit: i64,
    chrome: &'a Chrome,
) -> Result<OperationPage<'a>, OpsError> {
    let rows = journal::operation_rows_page(client, op.id, after, limit).await?;
    let now = ops::now::rows_now_or_unknown(client, op.id, &rows).await;
    let tree = ops::tree::transaction(client, &op).await?;
    let full = i64::try_from(rows.len()).is_ok_and(|n| n == limit);
    let next_rows = rows
        .last()
        .filter(|_| full)
        .map(|r| format!("/operations/{}?after={}", op.id, r.id));
    let image_refs: Vec<&Value> = rows.iter().map(|r| &r.image).collect();
    let columns = view::columns(&now.columns, &image_refs);
    // Nothing to bring back when the journal holds no rows of it.
    let restore = Kind::offered_for(op.action)
        .filter(|_| op.row_count > 0 || !rows.is_empty())
        .map(Kind::name);
    Ok(OperationPage {
        chrome,
        path: view::path(&op).to_owned(),
        refusal: view::refusal(op.action),
        restore,
        tree_rows: tree.nodes.iter().map(|n| n.operation.row_count).sum(),
        tree_more: tree.more,
        tree_added_current: tree.added_current,
        tree: tree.nodes.iter().map(tree_line).collect(),
        tree_max: ops::tree::MAX_SHOWN,
        has_states: now.states.is_some(),
        rows: row_lines(&columns, rows, &now),
        columns,
        next_rows,
        op,
    })
}

fn tree_line(node: &ops::tree::Node) -> TreeLine {
    let op = &node.operation;
    TreeLine {
        id: op.id,
        depth: node.depth,
        action: op.action.as_str(),
        table: op.table.clone(),
        rows: op.row_count,
        refusal: view::refusal(op.action),
    }
}

fn row_lines(columns: &[String], rows: Vec<JournalRow>, now: &RowsNow) -> Vec<RowLine> {
    rows.into_iter()
        .enumerate()
        .map(|(at, row)| {
            let state = now.states.as_ref().and_then(|s| s.get(at)).copied();
            let changed = now.changed.get(at).map(Vec::as_slice).unwrap_or_default();
            RowLine {
                id: row.id,
                state: state.map_or(("unknown", ""), |s| (s.as_str(), s.describe())),
                cells: columns
                    .iter()
                    .map(|c| Cell {
                        then: view::cell(row.image.get(c)),
                        now: changed
                            .iter()
                            .find(|(column, _)| column == c)
                            .map(|(_, value)| view::cell(Some(value))),
                    })
                    .collect(),
                restored_by: row.restored_by,
            }
        })
        .collect()
}
