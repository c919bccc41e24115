//! `/login` and `/logout`: the console's token, given once in a form,
//! opens a session held by a cookie.
//!
//! The login form is protected too (a forged login would put the operator
//! in an attacker's session): the form carries a random value that is also
//! set as a cookie only this site can set, and the two must match.

use std::time::Duration;

use askama::Template;
use hyper::StatusCode;
use subtle::ConstantTimeEq;

use super::{Chrome, Page, Request, error, field, form_fields, render, session_form};
use crate::console::Console;
use crate::console::session::{self, COOKIE, LIFETIME, random_token};

/// The login form's cookie, matched against its hidden field.
const LOGIN_COOKIE: &str = "softdel_login";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    chrome: &'a Chrome,
    login_csrf: String,
    next: String,
    error: Option<&'a str>,
}

pub fn form_page(chrome: &Chrome, next: String, error: Option<&str>, status: StatusCode) -> Page {
    let login_csrf = match random_token() {
        Ok(token) => token,
        Err(e) => return no_random(chrome, &e),
    };
    let page = LoginPage {
        chrome,
        login_csrf: login_csrf.clone(),
        next,
        error,
    };
    render(status, &page).with_cookie(format!(
        "{LOGIN_COOKIE}={login_csrf}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=600"
    ))
}

/// `GET /login[?next=PATH]`.
pub fn form(chrome: &Chrome, query: Option<&str>) -> Page {
    let next = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "next")
        .map(|(_, value)| local(&value))
        .unwrap_or_else(|| "/operations".to_owned());
    form_page(chrome, next, None, StatusCode::OK)
}

/// How long a wrong token waits for its answer.
const WRONG_TOKEN_DELAY: Duration = Duration::from_millis(500);

/// `POST /login`: the token right, a session and back to `next`.
pub fn submit(console: &Console, chrome: &Chrome, request: &Request<'_>) -> Page {
    let Some(token) = &console.token else {
        return form_page(
            chrome,
            "/operations".to_owned(),
            None,
            StatusCode::FORBIDDEN,
        );
    };
    let fields = form_fields(request.body);
    let next = local(field(&fields, "next").unwrap_or_default());
    let expected = session::cookie(request.cookie, LOGIN_COOKIE).unwrap_or_default();
    let given = field(&fields, "login_csrf").unwrap_or_default();
    let matching = bool::from(expected.as_bytes().ct_eq(given.as_bytes()));
    if !request.same_origin() || expected.is_empty() || !matching {
        let message = "This login did not come from the console's own login page: try again.";
        return form_page(chrome, next, Some(message), StatusCode::FORBIDDEN);
    }
    if !token.matches(field(&fields, "token").unwrap_or_default()) {
        tracing::warn!("console login with a wrong token");
        // Guessing is slow.
        let mut page = form_page(chrome, next, Some("Wrong token."), StatusCode::UNAUTHORIZED);
        page.delay = Some(WRONG_TOKEN_DELAY);
        return page;
    }
    // A session the browser held before is not carried over.
    if let Some(old) = session::cookie(request.cookie, COOKIE) {
        console.sessions.close(old);
    }
    let opened = match console.sessions.open() {
        Ok(opened) => opened,
        Err(e) => return no_random(chrome, &e),
    };
    tracing::info!("console login");
    Page::redirect(next)
        .with_cookie(format!(
            "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
            opened.id,
            LIFETIME.as_secs()
        ))
        .with_cookie(format!(
            "{LOGIN_COOKIE}=; Path=/login; HttpOnly; SameSite=Strict; Max-Age=0"
        ))
}

/// `POST /logout`, from the form in every page's header. A session
/// already gone (expired, or the proxy restarted) is logged out already:
/// its cookie is cleared all the same.
pub fn logout(console: &Console, chrome: &Chrome, request: &Request<'_>) -> Page {
    let cleared = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    let Some(session) = session::cookie(request.cookie, COOKIE) else {
        return Page::redirect("/operations").with_cookie(cleared);
    };
    if console.sessions.csrf(session).is_none() {
        return Page::redirect("/operations").with_cookie(cleared);
    }
    if session_form(console, request).is_none() {
        return error(
            chrome,
            StatusCode::FORBIDDEN,
            "Not logged out",
            "This form did not come from a logged-in console page.",
        );
    }
    console.sessions.close(session);
    Page::redirect("/operations").with_cookie(cleared)
}

/// `next` if it is a path on this console, else the operations: a login
/// must not send the operator to another site.
fn local(next: &str) -> String {
    let safe = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    if safe {
        next.to_owned()
    } else {
        "/operations".to_owned()
    }
}

fn no_random(chrome: &Chrome, e: &session::NoRandom) -> Page {
    error(
        chrome,
        StatusCode::INTERNAL_SERVER_ERROR,
        "Cannot log in",
        &e.to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::local;

    #[test]
    fn a_login_only_leads_back_into_the_console() {
        assert_eq!(local("/operations/7/undelete"), "/operations/7/undelete");
        for away in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "",
            "x",
        ] {
            assert_eq!(local(away), "/operations", "{away}");
        }
    }
}
