//! One admin connection: read a request, answer it, close.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::Readiness;
use super::request::{Head, MAX_HEAD, Malformed, Method, parse, read_head};
use super::response::{Response, Status};
use super::routes::route;
use crate::metrics::Metrics;

/// How long a client may take to take the response. A scraper that stops
/// reading must not hold an admin connection forever.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// After answering, how long and how much of what the client still sends
/// is read and discarded before closing (see `linger`).
const LINGER_TIME: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 64 * 1024;

/// What every connection task shares.
pub(super) struct Shared {
    pub(super) metrics: Arc<Metrics>,
    pub(super) ready: Arc<dyn Readiness>,
    pub(super) head_timeout: Duration,
    pub(super) check_timeout: Duration,
}

pub(super) async fn serve(mut stream: TcpStream, shared: &Shared) {
    let (response, head_only) = match timeout(shared.head_timeout, read_head(&mut stream)).await {
        Err(_) => (
            Response::text(
                Status::RequestTimeout,
                "request head not received in time\n",
            ),
            false,
        ),
        Ok(Err(e)) => return tracing::debug!(error = %e, "admin connection failed"),
        // Connected and left without a word (a TCP health check, a port
        // scan): nothing to answer.
        Ok(Ok(Head::Closed(0))) => return,
        Ok(Ok(Head::Closed(_))) => (
            Response::text(Status::BadRequest, "bad request: incomplete head\n"),
            false,
        ),
        Ok(Ok(Head::TooLarge)) => (
            Response::text(
                Status::HeaderTooLarge,
                format!("request head larger than {MAX_HEAD} bytes\n"),
            ),
            false,
        ),
        Ok(Ok(Head::Complete(head))) => match parse(&head) {
            Err(Malformed(why)) => (
                Response::text(Status::BadRequest, format!("bad request: {why}\n")),
                false,
            ),
            Ok(request) => {
                let response = route(
                    &request,
                    &shared.metrics,
                    shared.ready.as_ref(),
                    shared.check_timeout,
                )
                .await;
                (response, request.method == Method::Head)
            }
        },
    };
    let bytes = response.encode(head_only);
    let sent = timeout(WRITE_TIMEOUT, async {
        stream.write_all(&bytes).await?;
        stream.shutdown().await
    })
    .await;
    if matches!(sent, Ok(Ok(()))) {
        linger(&mut stream).await;
    }
}

/// Reads and drops what the client still sends (a body, the rest of an
/// oversized head) until it closes. Closing a socket with unread input
/// makes the kernel send a reset, and a reset can destroy the response
/// before the client has read it.
async fn linger(stream: &mut TcpStream) {
    let drain = async {
        let mut buf = [0u8; 4096];
        let mut drained = 0;
        while drained < LINGER_BYTES {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    };
    let _ = timeout(LINGER_TIME, drain).await;
}
