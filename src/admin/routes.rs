//! What each path answers.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, HOST,
    HeaderName, HeaderValue, LOCATION, ORIGIN, REFERRER_POLICY, SET_COOKIE, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use hyper::{HeaderMap, Method, Response, StatusCode, Uri};

use super::Readiness;
use super::connection::Shared;
use crate::console::{Console, Request};
use crate::metrics;

/// How long /readyz waits for the checks. A check stuck on an unreachable
/// server must not hold the probe (and an admin connection) forever.
pub(super) const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

const TEXT: &str = "text/plain; charset=utf-8";

const JSON: &str = "application/json";

const HTML: &str = "text/html; charset=utf-8";

/// Answers `method uri`. HEAD gets GET's headers, Content-Length
/// included; hyper leaves out the body.
pub(super) async fn route(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    shared: &Shared,
) -> Response<Full<Bytes>> {
    let path = uri.path();
    if !matches!(path, "/metrics" | "/healthz" | "/readyz") {
        return match shared.console.as_deref() {
            Some(console) => console_answer(console, &request(method, uri, headers, body)).await,
            None if path == "/api" || path.starts_with("/api/") => {
                let body = r#"{"error":"no console here: start softdel with --console-url (the journal's database) and --admin-listen"}"#;
                respond(StatusCode::NOT_FOUND, JSON, body.to_owned())
            }
            None => text(StatusCode::NOT_FOUND, "not found\n"),
        };
    }
    if method != Method::GET && method != Method::HEAD {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        let allow = HeaderValue::from_static("GET, HEAD");
        response.headers_mut().insert(ALLOW, allow);
        return response;
    }
    match path {
        "/metrics" => respond(
            StatusCode::OK,
            metrics::CONTENT_TYPE,
            shared.metrics.render(),
        ),
        "/readyz" => readyz(shared.ready.as_ref(), shared.check_timeout).await,
        // The process answers, so it is alive.
        _ => text(StatusCode::OK, "ok\n"),
    }
}

/// What the console needs of a request.
fn request<'a>(
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    body: &'a [u8],
) -> Request<'a> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    Request {
        method,
        path: uri.path(),
        query: uri.query(),
        authorization: header(AUTHORIZATION.as_str()),
        cookie: header(COOKIE.as_str()),
        // A Host that is not text is no name the console answers to.
        host: headers.get(HOST).map(|v| v.to_str().unwrap_or_default()),
        origin: header(ORIGIN.as_str()),
        fetch_site: header("sec-fetch-site"),
        fetch_mode: header("sec-fetch-mode"),
        fetch_dest: header("sec-fetch-dest"),
        body,
    }
}

/// The console's API (under `/api`) or one of its pages.
async fn console_answer(console: &Console, request: &Request<'_>) -> Response<Full<Bytes>> {
    if !console.answers_host(request.host) {
        // Another site's name pointed at this address (DNS rebinding).
        return text(
            StatusCode::MISDIRECTED_REQUEST,
            "the console answers requests addressed to an IP address, localhost, or a name \
             given with --console-host\n",
        );
    }
    if request.path == "/api" || request.path.starts_with("/api/") {
        api(console, request).await
    } else {
        page(console, request).await
    }
}

/// The console's JSON API.
async fn api(console: &Console, request: &Request<'_>) -> Response<Full<Bytes>> {
    let answer = console.answer(request).await;
    let mut response = respond(answer.status, JSON, answer.body.to_string());
    if let Some((name, value)) = answer.header {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    response
}

/// What the pages send with every answer: no framing by another site,
/// no scripts at all, forms only to this console, no guessing of types.
const PAGE_HEADERS: [(HeaderName, &str); 4] = [
    (
        CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    ),
    (X_FRAME_OPTIONS, "DENY"),
    (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (REFERRER_POLICY, "same-origin"),
];

/// One of the console's web pages.
async fn page(console: &Console, request: &Request<'_>) -> Response<Full<Bytes>> {
    let page = console.page(request).await;
    let mut response = respond(page.status, HTML, page.html);
    let headers = response.headers_mut();
    for (name, value) in PAGE_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if let Some(allow) = page.allow {
        headers.insert(ALLOW, HeaderValue::from_static(allow));
    }
    let values = page.location.into_iter().map(|v| (LOCATION, v));
    for (name, value) in values.chain(page.cookies.into_iter().map(|v| (SET_COOKIE, v))) {
        // Paths and cookies are built from checked values; one that is
        // not a valid header is left out rather than sent broken.
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.append(name, value);
        }
    }
    response
}

/// One line per check, "ok <name>" or "failed <name>: <reason>"; 200 only
/// if every check passed.
async fn readyz(ready: &dyn Readiness, check_timeout: Duration) -> Response<Full<Bytes>> {
    let Ok(checks) = tokio::time::timeout(check_timeout, ready.check()).await else {
        let body = format!("failed checks: not finished within {check_timeout:?}\n");
        return text(StatusCode::SERVICE_UNAVAILABLE, body);
    };
    let mut body = String::new();
    let mut all_ok = true;
    for (name, result) in checks {
        match result {
            Ok(()) => {
                body.push_str("ok ");
                body.push_str(&one_line(name));
            }
            Err(reason) => {
                all_ok = false;
                body.push_str("failed ");
                body.push_str(&one_line(name));
                body.push_str(": ");
                body.push_str(&one_line(&reason));
            }
        }
        body.push('\n');
    }
    let status = if all_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    text(status, body)
}

/// A reason may be a multi-line error message; each check keeps to its
/// own line so that the body reads (and greps) one check per line.
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

pub(super) fn text(status: StatusCode, body: impl Into<String>) -> Response<Full<Bytes>> {
    respond(status, TEXT, body.into())
}

/// Every answer is fresh: a cached /readyz or /metrics would mislead.
fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
