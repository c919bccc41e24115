//! `--notify-url`: a JSON POST per refused statement (and, under observed
//! rules, per statement softdel would have refused) to a webhook, for
//! chat or paging.
//!
//! The session never waits for it: a refusal is queued (bounded) and a
//! background task delivers it, retrying a failed POST with backoff. A
//! full queue (a flood of refusals while the webhook is slow or away)
//! drops the notification, counted (`softdel_notifications_total
//! {result="dropped"}`) and logged: the refusal itself is recorded in the
//! journal or the blocked log all the same.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::mpsc::{self, error::TrySendError};

use crate::journal::BlockedAttempt;
use crate::metrics::Metrics;

/// Notifications waiting for delivery.
const QUEUE: usize = 1024;
/// Tries per notification, waiting `BACKOFF` doubled after each failure.
const ATTEMPTS: u32 = 4;
const BACKOFF: Duration = Duration::from_millis(500);
/// Longest one POST may take, connecting included.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where notifications go: an `http://host[:port]/path` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    uri: Uri,
    /// `host:port`, to connect to.
    address: String,
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(text: &str) -> Result<Target, String> {
        let uri: Uri = text
            .parse()
            .map_err(|e| format!("{text:?} is not a URL: {e}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(format!(
                    "{other}:// is not supported: give an http:// URL (a relay on this host or network for an https webhook)"
                ));
            }
            None => return Err(format!("{text:?} has no scheme: give an http:// URL")),
        }
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("{text:?} has no host"))?;
        let address = format!("{host}:{}", uri.port_u16().unwrap_or(80));
        Ok(Target { uri, address })
    }
}

/// The handle sessions notify through. Cloning shares the delivery task.
#[derive(Clone, Debug)]
pub struct Webhook {
    tx: mpsc::Sender<BlockedAttempt>,
    metrics: Arc<Metrics>,
}

impl Webhook {
    /// Starts delivering to `target` on the current runtime.
    pub fn start(target: Target, metrics: Arc<Metrics>) -> Webhook {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(deliver_all(rx, target, Arc::clone(&metrics)));
        Webhook { tx, metrics }
    }

    /// Queues a notification of `attempt`; never waits.
    pub fn notify(&self, attempt: &BlockedAttempt) {
        match self.tx.try_send(attempt.clone()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.metrics.notification("dropped");
                tracing::warn!(
                    table = %attempt.table,
                    "webhook queue full ({QUEUE} waiting): notification dropped (the refusal is recorded)"
                );
            }
            // The task only ends with the runtime.
            Err(TrySendError::Closed(_)) => {}
        }
    }
}

async fn deliver_all(
    mut rx: mpsc::Receiver<BlockedAttempt>,
    target: Target,
    metrics: Arc<Metrics>,
) {
    while let Some(attempt) = rx.recv().await {
        let body = match serde_json::to_vec(&attempt) {
            Ok(body) => Bytes::from(body),
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a notification");
                continue;
            }
        };
        let result = deliver(&target, body).await;
        match &result {
            Ok(()) => metrics.notification("sent"),
            Err(e) => {
                metrics.notification("failed");
                tracing::error!(url = %target.uri, error = %e, "webhook notification not delivered after {ATTEMPTS} tries");
            }
        }
    }
}

/// POSTs `body`, retrying connection errors, timeouts and 5xx answers.
async fn deliver(target: &Target, body: Bytes) -> Result<(), String> {
    let mut wait = BACKOFF;
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        match tokio::time::timeout(TIMEOUT, post(target, body.clone())).await {
            Ok(Ok(status)) if status.is_success() => return Ok(()),
            // The webhook refuses this notification: trying again would
            // get the same answer.
            Ok(Ok(status)) if status.is_client_error() => {
                return Err(format!("the webhook answered {status}"));
            }
            Ok(Ok(status)) => last = format!("the webhook answered {status}"),
            Ok(Err(e)) => last = e,
            Err(_) => last = format!("no answer within {TIMEOUT:?}"),
        }
        if attempt < ATTEMPTS {
            tracing::debug!(attempt, error = %last, "webhook notification failed; retrying");
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    Err(last)
}

async fn post(target: &Target, body: Bytes) -> Result<StatusCode, String> {
    let stream = TcpStream::connect(&target.address)
        .await
        .map_err(|e| format!("{}: {e}", target.address))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let path = target
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let request = Request::post(path)
        .header(hyper::header::HOST, target.address.as_str())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    Ok(response.status())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_with_a_host_are_targets() {
        let t: Target = "http://hooks.internal:8080/softdel?team=db"
            .parse()
            .unwrap();
        assert_eq!(t.address, "hooks.internal:8080");
        assert_eq!(t.uri.path_and_query().unwrap().as_str(), "/softdel?team=db");
        let t: Target = "http://127.0.0.1/".parse().unwrap();
        assert_eq!(t.address, "127.0.0.1:80");
        for (bad, said) in [
            ("https://hooks.slack.com/x", "https:// is not supported"),
            ("hooks.internal:8080", "has no scheme"),
            ("http://", "is not a URL"),
            ("not a url", "is not a URL"),
        ] {
            let err = bad.parse::<Target>().unwrap_err();
            assert!(err.contains(said), "{bad}: {err}");
        }
    }
}
