//! One admin connection, served by hyper: one request, then close.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;

use super::Readiness;
use super::routes::{route, text};
use crate::console::Console;
use crate::metrics::Metrics;

/// Longest request head accepted (hyper's read buffer, whose floor this
/// is). Scrapers and probes send a few hundred bytes; the bound keeps a
/// client from making the proxy buffer more. Larger heads get 431.
pub(super) const MAX_HEAD: usize = 8 * 1024;

/// How long a client may take to send its request head. Slower clients
/// are disconnected.
pub(super) const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a client may take to take the response. A scraper that stops
/// reading must not hold an admin connection forever; hyper has no write
/// timeout, so this bounds the connection's whole life past the head and
/// the checks.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a console request may take once read (an undelete of many
/// rows included).
const CONSOLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What every connection task shares.
pub(super) struct Shared {
    pub(super) metrics: Arc<Metrics>,
    pub(super) ready: Arc<dyn Readiness>,
    /// The operator's console (`--console-url`).
    pub(super) console: Option<Arc<Console>>,
    pub(super) head_timeout: Duration,
    pub(super) check_timeout: Duration,
}

/// Longest request body accepted: the console's forms are a few hundred
/// bytes. A longer one is answered 413 as soon as it is seen to be longer.
pub(super) const MAX_BODY: usize = 16 * 1024;

/// How long a client may take to send a POST's body, once its head is in:
/// a slow sender must not hold one of the admin listener's slots (and the
/// probes' turn) for long.
const BODY_TIMEOUT: Duration = Duration::from_secs(5);

/// A POST's body, at most `MAX_BODY` bytes within `BODY_TIMEOUT`. Other
/// requests' bodies are not read: nothing else takes one.
async fn read_body(method: &Method, body: Incoming) -> Result<Bytes, Response<Full<Bytes>>> {
    if *method != Method::POST {
        return Ok(Bytes::new());
    }
    let reading = Limited::new(body, MAX_BODY).collect();
    match tokio::time::timeout(BODY_TIMEOUT, reading).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body over {MAX_BODY} bytes\n"),
        )),
        Ok(Err(_)) => Err(text(StatusCode::BAD_REQUEST, "request body unreadable\n")),
        Err(_) => Err(text(
            StatusCode::REQUEST_TIMEOUT,
            format!("request body not sent within {BODY_TIMEOUT:?}\n"),
        )),
    }
}

pub(super) async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let head_timeout = shared.head_timeout;
    let work = if shared.console.is_some() {
        shared.check_timeout.max(CONSOLE_TIMEOUT)
    } else {
        shared.check_timeout
    };
    let lifetime = head_timeout + work + WRITE_TIMEOUT;
    let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let shared = Arc::clone(&shared);
        async move {
            let (head, body) = request.into_parts();
            let response = match read_body(&head.method, body).await {
                Ok(body) => route(&head.method, &head.uri, &head.headers, &body, &shared).await,
                Err(response) => response,
            };
            Ok::<_, Infallible>(response)
        }
    });
    // One request per connection: a scrape or probe is one request, and
    // not keeping connections alive is what lets the server cap them
    // simply (every answer says `Connection: close`).
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout)
        .max_buf_size(MAX_HEAD)
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service);
    match tokio::time::timeout(lifetime, connection).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "admin connection failed"),
        Err(_) => tracing::debug!("admin connection timed out"),
    }
}
