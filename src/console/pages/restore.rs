//! `/operations/{id}/undelete` and `/operations/{id}/undo`: GET previews
//! (a dry run: an undelete's only reads, an undo's is done and rolled
//! back, and neither moves a sequence), needing no login; POST applies,
//! from the preview's form, for a logged-in operator only.

use askama::Template;
use hyper::StatusCode;

use super::{Chrome, Page, Request, error, field, operation_id, render, session_form, unavailable};
use crate::console::restore::{self, Kind, Outcome};
use crate::console::{Console, READ_ONLY, api};
use crate::ops::OpsError;

/// What the page offers for applying.
enum Apply {
    /// No token configured: the command line only.
    ReadOnly,
    /// Not logged in: the login page, back here after (the path, encoded).
    LogIn(String),
    /// The form, with the session's CSRF token.
    Form(String),
}

#[derive(Template)]
#[template(path = "restore.html")]
struct RestorePage<'a> {
    chrome: &'a Chrome,
    id: i64,
    kind: &'static str,
    outcome: Outcome,
    apply: Apply,
}

pub async fn preview(console: &Console, chrome: &Chrome, id: &str, kind: &str) -> Page {
    let (id, kind) = match target(chrome, id, kind) {
        Ok(target) => target,
        Err(page) => return page,
    };
    let apply = if chrome.read_only {
        Apply::ReadOnly
    } else if chrome.logged_in {
        Apply::Form(chrome.csrf.clone())
    } else {
        let back = format!("/operations/{id}/{}", kind.name());
        Apply::LogIn(form_urlencoded::byte_serialize(back.as_bytes()).collect())
    };
    run(console, chrome, id, kind, (true, false), apply).await
}

pub async fn apply(
    console: &Console,
    chrome: &Chrome,
    request: &Request<'_>,
    id: &str,
    kind: &str,
) -> Page {
    let (id, kind) = match target(chrome, id, kind) {
        Ok(target) => target,
        Err(page) => return page,
    };
    if console.token.is_none() {
        return error(chrome, StatusCode::FORBIDDEN, "Read-only", READ_ONLY);
    }
    let Some((fields, _)) = session_form(console, request) else {
        return error(
            chrome,
            StatusCode::FORBIDDEN,
            "Not applied",
            "This form did not come from a logged-in console page (or the login has expired): nothing was changed. Log in, preview again, and apply from there.",
        );
    };
    let force = field(&fields, "force") == Some("true");
    let apply = Apply::Form(chrome.csrf.clone());
    run(console, chrome, id, kind, (false, force), apply).await
}

fn target(chrome: &Chrome, id: &str, kind: &str) -> Result<(i64, Kind), Page> {
    let Some(kind) = Kind::from_name(kind) else {
        return Err(error(
            chrome,
            StatusCode::NOT_FOUND,
            "Not found",
            "An operation can be undeleted or undone: /operations/{id}/undelete, /operations/{id}/undo.",
        ));
    };
    Ok((operation_id(chrome, id)?, kind))
}

/// Runs the command, `(dry_run, force)`, and shows its outcome.
async fn run(
    console: &Console,
    chrome: &Chrome,
    id: i64,
    kind: Kind,
    (dry_run, force): (bool, bool),
    apply: Apply,
) -> Page {
    let mut client = match crate::console::connect(console).await {
        Ok(client) => client,
        Err(e) => return unavailable(chrome, &e.to_string()),
    };
    match restore::run(&mut client, kind, id, dry_run, force).await {
        Ok(outcome) => {
            let status = if outcome.blocked && !outcome.dry_run {
                StatusCode::CONFLICT
            } else {
                StatusCode::OK
            };
            let page = RestorePage {
                chrome,
                id,
                kind: kind.name(),
                outcome,
                apply,
            };
            render(status, &page)
        }
        Err(e) => {
            let status = api::ops_status(&e);
            let heading = match e {
                OpsError::UnknownOperation(_) => "No such operation",
                _ => "Cannot bring it back",
            };
            error(chrome, status, heading, &e.to_string())
        }
    }
}
