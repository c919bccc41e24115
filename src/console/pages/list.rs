//! `GET /operations`: the journal's operations, newest first, filtered as
//! `softdel log` filters them, a page at a time.

use askama::Template;
use hyper::StatusCode;

use super::view::OpLine;
use super::{Chrome, Page, render, unavailable};
use crate::console::{Console, api, query};
use crate::journal::{self, Action};

/// The filters as the form shows them back.
#[derive(Default)]
struct Form {
    table: String,
    user: String,
    application: String,
    action: String,
    since: String,
    until: String,
}

impl Form {
    fn read(query: Option<&str>) -> Form {
        let mut form = Form::default();
        for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            if let Some(slot) = form.slot(&key) {
                *slot = value.trim().to_owned();
            }
        }
        form
    }

    fn slot(&mut self, key: &str) -> Option<&mut String> {
        Some(match key {
            "table" => &mut self.table,
            "user" => &mut self.user,
            "application" => &mut self.application,
            "action" => &mut self.action,
            "since" => &mut self.since,
            "until" => &mut self.until,
            _ => return None,
        })
    }
}

/// A link to this list with the same parameters (filters, `txid`,
/// `limit`), from `before` on.
fn link(query: Option<&str>, before: Option<i64>) -> String {
    let mut url = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if key != "before" && !value.trim().is_empty() {
            url.append_pair(&key, &value);
        }
    }
    if let Some(before) = before {
        url.append_pair("before", &before.to_string());
    }
    let query = url.finish();
    if query.is_empty() {
        "/operations".to_owned()
    } else {
        format!("/operations?{query}")
    }
}

#[derive(Template)]
#[template(path = "operations.html")]
struct ListPage<'a> {
    chrome: &'a Chrome,
    form: Form,
    actions: Vec<&'static str>,
    operations: Vec<OpLine>,
    error: Option<String>,
    newest: Option<String>,
    older: Option<String>,
}

pub async fn page(console: &Console, chrome: &Chrome, query: Option<&str>) -> Page {
    let mut page = ListPage {
        chrome,
        form: Form::read(query),
        actions: Action::ALL.iter().map(|a| a.as_str()).collect(),
        operations: Vec::new(),
        error: None,
        newest: None,
        older: None,
    };
    let filter = match query::filter(query) {
        Ok(filter) => filter,
        Err(message) => {
            page.error = Some(message);
            return render(StatusCode::BAD_REQUEST, &page);
        }
    };
    let client = match crate::console::connect(console).await {
        Ok(client) => client,
        Err(e) => return unavailable(chrome, &e.to_string()),
    };
    if let Err(message) = api::check_filter(&client, &filter).await {
        page.error = Some(message);
        return render(StatusCode::BAD_REQUEST, &page);
    }
    let operations = match journal::operations(&client, &filter).await {
        Ok(operations) => operations,
        Err(e) => return unavailable(chrome, &e.to_string()),
    };
    let full = i64::try_from(operations.len()).is_ok_and(|n| n == filter.limit);
    if full {
        page.older = operations.last().map(|op| link(query, Some(op.id)));
    }
    if filter.before.is_some() {
        page.newest = Some(link(query, None));
    }
    page.operations = operations.iter().map(OpLine::of).collect();
    render(StatusCode::OK, &page)
}
