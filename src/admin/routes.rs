//! What each path answers.

use std::time::Duration;

use super::Readiness;
use super::request::{Method, Request};
use super::response::{Response, Status};
use crate::metrics::{CONTENT_TYPE, Metrics};

/// How long /readyz waits for the checks. A check stuck on an unreachable
/// server must not hold the probe (and an admin connection) forever.
pub(super) const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) async fn route(
    request: &Request,
    metrics: &Metrics,
    ready: &dyn Readiness,
    check_timeout: Duration,
) -> Response {
    let known = matches!(request.path.as_str(), "/metrics" | "/healthz" | "/readyz");
    if !known {
        return Response::text(Status::NotFound, "not found\n");
    }
    if request.method == Method::Other {
        return Response::text(Status::MethodNotAllowed, "only GET and HEAD\n");
    }
    match request.path.as_str() {
        "/metrics" => Response {
            status: Status::Ok,
            content_type: CONTENT_TYPE,
            body: metrics.render(),
        },
        "/readyz" => readyz(ready, check_timeout).await,
        // The process answers, so it is alive.
        _ => Response::text(Status::Ok, "ok\n"),
    }
}

/// One line per check, "ok <name>" or "failed <name>: <reason>"; 200 only
/// if every check passed.
async fn readyz(ready: &dyn Readiness, check_timeout: Duration) -> Response {
    let Ok(checks) = tokio::time::timeout(check_timeout, ready.check()).await else {
        let body = format!("failed checks: not finished within {check_timeout:?}\n");
        return Response::text(Status::Unavailable, body);
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
        Status::Ok
    } else {
        Status::Unavailable
    };
    Response::text(status, body)
}

/// A reason may be a multi-line error message; each check keeps to its
/// own line so that the body reads (and greps) one check per line.
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}
