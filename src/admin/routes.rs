//! What each path answers.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Response, StatusCode};

use super::Readiness;
use crate::metrics::{self, Metrics};

/// How long /readyz waits for the checks. A check stuck on an unreachable
/// server must not hold the probe (and an admin connection) forever.
pub(super) const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

const TEXT: &str = "text/plain; charset=utf-8";

/// Answers `method path`. HEAD gets GET's headers, Content-Length
/// included; hyper leaves out the body.
pub(super) async fn route(
    method: &Method,
    path: &str,
    metrics: &Metrics,
    ready: &dyn Readiness,
    check_timeout: Duration,
) -> Response<Full<Bytes>> {
    if !matches!(path, "/metrics" | "/healthz" | "/readyz") {
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    if method != Method::GET && method != Method::HEAD {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        let allow = HeaderValue::from_static("GET, HEAD");
        response.headers_mut().insert(ALLOW, allow);
        return response;
    }
    match path {
        "/metrics" => respond(StatusCode::OK, metrics::CONTENT_TYPE, metrics.render()),
        "/readyz" => readyz(ready, check_timeout).await,
        // The process answers, so it is alive.
        _ => text(StatusCode::OK, "ok\n"),
    }
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

fn text(status: StatusCode, body: impl Into<String>) -> Response<Full<Bytes>> {
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
