//! The pages' checks that need no database: routing, the login form, and
//! forms refused before anything is read or changed.

use hyper::{Method, StatusCode};

use super::answer;
use crate::console::{Console, Request, Token};

const TOKEN: &str = "0123456789abcdef-token";

/// A console whose database does not exist: these pages must not need it.
fn console(token: Option<&str>) -> Console {
    let token = token.map(|t| Token::new(t).unwrap());
    Console::new("postgres://nobody@127.0.0.1:1/none".to_owned(), token)
}

fn request<'a>(method: &'a Method, path: &'a str, body: &'a [u8]) -> Request<'a> {
    Request {
        method,
        path,
        query: None,
        authorization: None,
        cookie: None,
        host: Some("127.0.0.1:9930"),
        origin: None,
        fetch_site: None,
        fetch_mode: None,
        fetch_dest: None,
        body,
    }
}

#[test]
fn another_sites_form_is_not_this_consoles() {
    let post = Method::POST;
    let mut r = request(&post, "/logout", b"");
    assert!(r.same_origin(), "curl sends neither header");
    r.origin = Some("http://127.0.0.1:9930");
    r.fetch_site = Some("same-origin");
    assert!(r.same_origin());
    r.origin = Some("http://evil.example");
    assert!(!r.same_origin());
    r.origin = Some("null");
    assert!(!r.same_origin());
    r.origin = None;
    r.fetch_site = Some("cross-site");
    assert!(!r.same_origin());
}

#[tokio::test]
async fn the_login_form_sets_its_own_cookie() {
    let console = console(Some(TOKEN));
    let get = Method::GET;
    let page = answer(&console, &request(&get, "/login", b"")).await;
    assert_eq!(page.status, StatusCode::OK);
    let cookie = &page.cookies[0];
    let value = cookie
        .strip_prefix("softdel_login=")
        .and_then(|c| c.split(';').next())
        .unwrap();
    assert!(cookie.contains("HttpOnly; SameSite=Strict"), "{cookie}");
    assert!(page.html.contains(&format!("value=\"{value}\"")));
}

#[tokio::test]
async fn a_login_without_the_forms_cookie_or_with_a_wrong_token_is_refused() {
    let console = console(Some(TOKEN));
    let post = Method::POST;
    let body = format!("login_csrf=abc&next=%2Foperations&token={TOKEN}");
    let page = answer(&console, &request(&post, "/login", body.as_bytes())).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(
        page.cookies
            .iter()
            .all(|c| !c.starts_with("softdel_session"))
    );

    let mut wrong = request(&post, "/login", b"login_csrf=abc&token=guess");
    wrong.cookie = Some("softdel_login=abc");
    let page = answer(&console, &wrong).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.html.contains("Wrong token."));

    let body = format!("login_csrf=abc&next=%2Foperations%2F7&token={TOKEN}");
    let mut right = request(&post, "/login", body.as_bytes());
    right.cookie = Some("softdel_login=abc");
    let page = answer(&console, &right).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/operations/7"));
    assert!(page.cookies[0].starts_with("softdel_session="));
}

#[tokio::test]
async fn an_apply_without_a_session_changes_nothing() {
    // The database is unreachable: reaching it would answer 503, so a 403
    // shows the form was refused before anything was read or changed.
    let console = console(Some(TOKEN));
    let post = Method::POST;
    let mut forged = request(&post, "/operations/7/undelete", b"csrf=guess&force=true");
    forged.cookie = Some("softdel_session=made-up");
    let page = answer(&console, &forged).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    let read_only = self::console(None);
    let page = answer(&read_only, &request(&post, "/operations/7/undelete", b"")).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.html.contains("read-only"));
}

#[tokio::test]
async fn unknown_pages_and_methods() {
    let console = console(None);
    let (get, delete) = (Method::GET, Method::DELETE);
    let page = answer(&console, &request(&get, "/", b"")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = answer(&console, &request(&get, "/nowhere", b"")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = answer(&console, &request(&delete, "/operations/7", b"")).await;
    assert_eq!(page.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(page.allow, Some("GET, HEAD"));
    let page = answer(&console, &request(&get, "/logout", b"")).await;
    assert_eq!(page.allow, Some("POST"));
    let page = answer(&console, &request(&get, "/operations/7/undelete/x", b"")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = answer(&console, &request(&get, "/operations/seven", b"")).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let page = answer(&console, &request(&get, "/operations/7/erase", b"")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}
