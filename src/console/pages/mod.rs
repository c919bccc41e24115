//! The console's web pages: server-rendered HTML (askama templates in
//! `../templates`), no JavaScript.
//!
//! - `list`: the operations, filtered and paged;
//! - `detail`: one operation, its rows and their state now, and its
//!   transaction as a tree;
//! - `restore`: an undelete (or undo) previewed, then applied;
//! - `login`: the login form that opens a session (`../session`);
//! - `view`: what the templates show of the journal's values.
//!
//! GET never changes anything. Each POST checks, before it does anything,
//! that it comes from this console's own page: its Origin (when sent) is
//! this host, and its form carries the session's CSRF token.

mod detail;
mod list;
mod login;
mod restore;
mod view;

use askama::Template;
use hyper::{Method, StatusCode};

use super::session::{self, COOKIE};
use super::{Console, Request};

/// An HTML answer, or a redirect.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub html: String,
    /// `Location`, for a redirect.
    pub location: Option<String>,
    /// `Set-Cookie` headers.
    pub cookies: Vec<String>,
    /// `Allow`, for 405.
    pub allow: Option<&'static str>,
    /// How long to wait before answering (a wrong token), once the
    /// console's request slot is given back.
    pub delay: Option<std::time::Duration>,
}

impl Page {
    /// Too many console requests at once (the frame shows no login
    /// state: finding it would be a request's work).
    pub(super) fn busy() -> Page {
        let chrome = Chrome {
            logged_in: false,
            read_only: false,
            csrf: String::new(),
        };
        let message = format!(
            "The console is answering {} requests already: try again in a moment.",
            super::AT_ONCE
        );
        error(&chrome, StatusCode::SERVICE_UNAVAILABLE, "Busy", &message)
    }

    fn redirect(to: impl Into<String>) -> Page {
        Page {
            status: StatusCode::SEE_OTHER,
            html: String::new(),
            location: Some(to.into()),
            cookies: Vec::new(),
            allow: None,
            delay: None,
        }
    }

    fn with_cookie(mut self, cookie: String) -> Page {
        self.cookies.push(cookie);
        self
    }
}

/// What every page's frame shows: who is logged in.
pub(super) struct Chrome {
    pub logged_in: bool,
    pub read_only: bool,
    /// The session's CSRF token (for the log-out form); empty when not
    /// logged in.
    pub csrf: String,
}

impl Chrome {
    fn of(console: &Console, request: &Request<'_>) -> Chrome {
        let csrf = session::cookie(request.cookie, COOKIE)
            .and_then(|id| console.sessions.csrf(id))
            .filter(|_| console.token.is_some());
        Chrome {
            logged_in: csrf.is_some(),
            read_only: console.token.is_none(),
            csrf: csrf.unwrap_or_default(),
        }
    }
}

pub async fn answer(console: &Console, request: &Request<'_>) -> Page {
    let chrome = Chrome::of(console, request);
    let parts: Vec<&str> = request.path.split('/').filter(|p| !p.is_empty()).collect();
    let get = *request.method == Method::GET || *request.method == Method::HEAD;
    let post = *request.method == Method::POST;
    match parts.as_slice() {
        [] if get => Page::redirect("/operations"),
        ["operations"] if get => list::page(console, &chrome, request.query).await,
        ["operations", id] if get => detail::page(console, &chrome, id, request.query).await,
        ["operations", id, kind] if get => {
            if !request.may_work() {
                return error(
                    &chrome,
                    StatusCode::FORBIDDEN,
                    "Not previewed",
                    "Another site's page asked for this preview: open it yourself (follow a link to it, or type it in).",
                );
            }
            restore::preview(console, &chrome, id, kind).await
        }
        ["operations", id, kind] if post => {
            restore::apply(console, &chrome, request, id, kind).await
        }
        ["login"] if get => login::form(&chrome, request.query),
        ["login"] if post => login::submit(console, &chrome, request),
        ["logout"] if post => login::logout(console, &chrome, request),
        _ => match allowed(&parts) {
            Some(allow) => {
                let mut page = error(
                    &chrome,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "Wrong method",
                    &format!("This page answers {allow}."),
                );
                page.allow = Some(allow);
                page
            }
            None => error(
                &chrome,
                StatusCode::NOT_FOUND,
                "Not found",
                "No such page: the console's pages are under /operations.",
            ),
        },
    }
}

/// The methods a page answers, if it is one.
fn allowed(parts: &[&str]) -> Option<&'static str> {
    match parts {
        [] | ["operations"] | ["operations", _] => Some("GET, HEAD"),
        ["operations", _, "undelete" | "undo"] | ["login"] => Some("GET, HEAD, POST"),
        ["logout"] => Some("POST"),
        _ => None,
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: &'a Chrome,
    heading: &'a str,
    message: &'a str,
}

fn error(chrome: &Chrome, status: StatusCode, heading: &str, message: &str) -> Page {
    render(
        status,
        &ErrorPage {
            chrome,
            heading,
            message,
        },
    )
}

/// The journal could not answer (its database unreachable, the journal
/// missing or of another version), as a page.
fn unavailable(chrome: &Chrome, message: &str) -> Page {
    error(
        chrome,
        StatusCode::SERVICE_UNAVAILABLE,
        "The journal cannot be read",
        message,
    )
}

fn render(status: StatusCode, template: &impl Template) -> Page {
    match template.render() {
        Ok(html) => Page {
            status,
            html,
            location: None,
            cookies: Vec::new(),
            allow: None,
            delay: None,
        },
        // Templates are checked when softdel is built; rendering fails
        // only if a value's Display does.
        Err(e) => Page {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            html: format!("<!doctype html><p>the page could not be rendered: {e}</p>"),
            location: None,
            cookies: Vec::new(),
            allow: None,
            delay: None,
        },
    }
}

/// A logged-in session's form from this console: its fields, and the
/// session's id. `None` when it is not one (no session, an expired one,
/// a wrong CSRF token, or another site's request).
fn session_form<'a>(
    console: &Console,
    request: &Request<'a>,
) -> Option<(Vec<(String, String)>, &'a str)> {
    let fields = form_fields(request.body);
    let session = session::cookie(request.cookie, COOKIE)?;
    let csrf = field(&fields, "csrf").unwrap_or_default();
    (request.same_origin() && console.sessions.admits(session, csrf)).then_some((fields, session))
}

/// A form's fields.
fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// An operation id from a path, or the page that says it is not one.
fn operation_id(chrome: &Chrome, text: &str) -> Result<i64, Page> {
    text.parse().map_err(|_| {
        error(
            chrome,
            StatusCode::BAD_REQUEST,
            "Not an operation",
            &format!("{text:?} is not an operation id: operations are numbered."),
        )
    })
}

#[cfg(test)]
mod tests;
