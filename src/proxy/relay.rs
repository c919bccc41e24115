//! The relay: client messages to the upstream, server messages back.
//!
//! Each direction reads into its own buffer, finds the complete messages by
//! their headers, and writes those original bytes on in one write. The two
//! directions run concurrently (a client may pipeline requests while the
//! server streams results: relaying one direction at a time could deadlock).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::sync::{Notify, watch};

use super::{Phase, SessionError};
use crate::protocol::{
    BackendTag, FrontendTag, Header, Pipeline, ProtocolError, cancel_request, next_backend_frame,
    next_frontend_frame,
};

/// Read buffers start at this size and are given at least this much room
/// before each read.
const READ_CHUNK: usize = 8 * 1024;
/// A message is buffered as its bytes arrive, at most this much more at a
/// time: a length claimed in a header is never allocated up front.
const MAX_RESERVE: usize = 1024 * 1024;
/// How long the server-to-client direction may take to reach a message
/// boundary once the client side has failed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// What the two directions know of each other. Both run in one task, so
/// the mutex is never contended; it is there because the task must be Send.
#[derive(Default)]
struct Shared {
    pipeline: Mutex<Pipeline>,
    /// The client side failed: the server side stops at the next boundary.
    stop: Notify,
    /// A write is under way in that direction: cut off now, the stream
    /// would end inside a message, and nothing more may be written to it.
    upstream_writing: AtomicBool,
    client_writing: AtomicBool,
}

impl Shared {
    fn pipeline(&self) -> std::sync::MutexGuard<'_, Pipeline> {
        // A poisoned lock means a panic elsewhere in this session's task,
        // which has already ended it; the model itself is still usable.
        self.pipeline.lock().unwrap_or_else(|e| e.into_inner())
    }
}

enum ServerEnd {
    /// The server closed the connection; `explained` when its last message
    /// was an ErrorResponse (it told the client why).
    Closed { explained: bool },
    /// Asked to stop because the client side failed.
    Stopped,
    /// The proxy is shutting down and this session may close now; with the
    /// CancelRequest that stops the query still running, if one is.
    Shutdown { cancel: Option<Vec<u8>> },
}

/// How a relay ended without error.
pub enum RelayEnd {
    /// Either side closed the session normally.
    Closed,
    /// Closed by shutdown; `cancel` stops the query still running upstream.
    Shutdown { cancel: Option<Vec<u8>> },
}

/// A finished relay, and whether each stream stopped between messages (only
/// then may the proxy add a message of its own: FATAL, Terminate).
pub struct Relayed {
    pub end: Result<RelayEnd, SessionError>,
    pub client_at_boundary: bool,
    pub upstream_at_boundary: bool,
}

/// Relays until either side ends the session. `pending` holds client bytes
/// read during the handshake.
pub async fn run(
    client: &mut TcpStream,
    upstream: &mut TcpStream,
    pending: BytesMut,
    phase: watch::Receiver<Phase>,
    addr: &str,
) -> Relayed {
    let shared = Shared::default();
    let end = relay_both(client, upstream, pending, phase, addr, &shared).await;
    Relayed {
        end,
        client_at_boundary: !shared.client_writing.load(Relaxed),
        upstream_at_boundary: !shared.upstream_writing.load(Relaxed),
    }
}

async fn relay_both(
    client: &mut TcpStream,
    upstream: &mut TcpStream,
    pending: BytesMut,
    phase: watch::Receiver<Phase>,
    addr: &str,
    shared: &Shared,
) -> Result<RelayEnd, SessionError> {
    let (mut client_rx, mut client_tx) = client.split();
    let (mut upstream_rx, mut upstream_tx) = upstream.split();
    let c2s = async {
        let end = client_to_server(&mut client_rx, &mut upstream_tx, pending, shared, addr).await;
        if end.is_err() {
            shared.stop.notify_one();
        }
        end
    };
    let s2c = server_to_client(&mut upstream_rx, &mut client_tx, shared, phase, addr);
    tokio::pin!(c2s, s2c);

    let mut client_end = None;
    let server_end = loop {
        tokio::select! {
            end = &mut c2s, if client_end.is_none() => {
                let failed = end.is_err();
                client_end = Some(end);
                if failed {
                    break tokio::time::timeout(STOP_TIMEOUT, &mut s2c)
                        .await
                        .unwrap_or(Ok(ServerEnd::Stopped));
                }
            }
            end = &mut s2c => break end,
        }
    };
    // The client's failure is the cause of whatever the server side saw
    // afterwards, so it is the one reported.
    let client_finished = match client_end {
        Some(Err(e)) => return Err(e),
        Some(Ok(())) => true,
        None => false,
    };
    match server_end? {
        ServerEnd::Shutdown { cancel } => Ok(RelayEnd::Shutdown { cancel }),
        ServerEnd::Closed { explained } if explained || client_finished => Ok(RelayEnd::Closed),
        _ => Err(SessionError::UpstreamLost {
            addr: addr.to_owned(),
            reason: "the server closed the connection".to_owned(),
        }),
    }
}

async fn client_to_server(
    client: &mut ReadHalf<'_>,
    upstream: &mut WriteHalf<'_>,
    mut buf: BytesMut,
    shared: &Shared,
    addr: &str,
) -> Result<(), SessionError> {
    loop {
        let scanned = scan_client(&buf, shared);
        if scanned.end > 0 {
            shared.upstream_writing.store(true, Relaxed);
            upstream
                .write_all(&buf[..scanned.end])
                .await
                .map_err(|e| lost(addr, e))?;
            shared.upstream_writing.store(false, Relaxed);
            buf.advance(scanned.end);
        }
        // The valid messages before bad bytes are delivered first, as the
        // server would have processed them.
        if let Some(e) = scanned.error {
            return Err(e.into());
        }
        if scanned.terminated {
            return Ok(());
        }
        make_room(&mut buf);
        if client
            .read_buf(&mut buf)
            .await
            .map_err(SessionError::ClientIo)?
            == 0
        {
            // Half-close: the server sees EOF, as it would from the client.
            let _ = upstream.shutdown().await;
            return Ok(());
        }
    }
}

/// The complete client messages at the front of a buffer.
struct Scanned {
    /// How many bytes they span.
    end: usize,
    /// A Terminate is among them (and ends them).
    terminated: bool,
    /// The bytes after them can never be a valid message.
    error: Option<ProtocolError>,
}

fn scan_client(buf: &[u8], shared: &Shared) -> Scanned {
    let mut pipeline = shared.pipeline();
    let mut scanned = Scanned {
        end: 0,
        terminated: false,
        error: None,
    };
    loop {
        let authenticated = pipeline.authenticated();
        let (tag, len) = match next_frontend_frame(&buf[scanned.end..], authenticated) {
            Ok(Some(frame)) => frame,
            Ok(None) => return scanned,
            Err(e) => {
                scanned.error = Some(e);
                return scanned;
            }
        };
        // Everything else is for the server to judge (it refuses a query
        // sent during password authentication itself).
        if tag == FrontendTag::Password && authenticated {
            scanned.error = Some(ProtocolError::UnexpectedMessage {
                tag: 'p',
                phase: "after authentication",
            });
            return scanned;
        }
        pipeline.client_message(tag);
        scanned.end += len;
        if tag == FrontendTag::Terminate {
            scanned.terminated = true;
            return scanned;
        }
    }
}

/// What the server side keeps of the server's messages.
#[derive(Default)]
struct ServerState {
    /// The server's BackendKeyData body: what a CancelRequest must carry.
    cancel_key: Option<Vec<u8>>,
    last_was_error: bool,
}

impl ServerState {
    /// Finds the complete server messages at the front of `buf` and returns
    /// how many bytes they span.
    fn scan(&mut self, buf: &[u8], shared: &Shared) -> Result<usize, ProtocolError> {
        let mut pipeline = shared.pipeline();
        let mut end = 0;
        while let Some((tag, len)) = next_backend_frame(&buf[end..])? {
            let frame = &buf[end..end + len];
            if tag == BackendTag::BackendKeyData {
                self.cancel_key = Some(frame[Header::LEN..].to_vec());
            }
            self.last_was_error = tag == BackendTag::ErrorResponse;
            pipeline.server_message(frame[0], frame);
            end += len;
        }
        Ok(end)
    }

    /// Whether a draining session may close now, and if so the
    /// CancelRequest for the query it leaves running, if any.
    fn may_close(&self, phase: Phase, shared: &Shared) -> Option<Option<Vec<u8>>> {
        let pipeline = shared.pipeline();
        let close = phase == Phase::Closing || (phase == Phase::Draining && pipeline.idle());
        close.then(|| {
            self.cancel_key
                .as_deref()
                .filter(|_| pipeline.busy())
                .map(cancel_request)
        })
    }
}

async fn server_to_client(
    upstream: &mut ReadHalf<'_>,
    client: &mut WriteHalf<'_>,
    shared: &Shared,
    mut phase: watch::Receiver<Phase>,
    addr: &str,
) -> Result<ServerEnd, SessionError> {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut state = ServerState::default();
    let mut now = *phase.borrow_and_update();
    loop {
        let end = state
            .scan(&buf, shared)
            .map_err(|source| SessionError::UpstreamProtocol {
                addr: addr.to_owned(),
                source,
            })?;
        if end > 0 {
            shared.client_writing.store(true, Relaxed);
            client
                .write_all(&buf[..end])
                .await
                .map_err(SessionError::ClientIo)?;
            shared.client_writing.store(false, Relaxed);
            buf.advance(end);
        }
        if now != Phase::Running
            && let Some(cancel) = state.may_close(now, shared)
        {
            return Ok(ServerEnd::Shutdown { cancel });
        }
        make_room(&mut buf);
        tokio::select! {
            biased;
            _ = shared.stop.notified() => return Ok(ServerEnd::Stopped),
            changed = phase.changed() => {
                // A dropped sender means the proxy itself is gone.
                now = if changed.is_ok() { *phase.borrow_and_update() } else { Phase::Closing };
            }
            read = upstream.read_buf(&mut buf) => {
                if read.map_err(|e| lost(addr, e))? == 0 {
                    return Ok(ServerEnd::Closed { explained: state.last_was_error });
                }
            }
        }
    }
}

/// Makes room for the next read: enough for the rest of a partly received
/// message (bounded by `MAX_RESERVE`), and gives back memory a large
/// message left behind.
fn make_room(buf: &mut BytesMut) {
    if buf.is_empty() && buf.capacity() > MAX_RESERVE {
        *buf = BytesMut::with_capacity(READ_CHUNK);
        return;
    }
    let missing = match Header::parse(buf) {
        Ok(Some(header)) => header.frame_len.saturating_sub(buf.len()),
        _ => 0,
    };
    buf.reserve(missing.clamp(READ_CHUNK, MAX_RESERVE));
}

fn lost(addr: &str, e: std::io::Error) -> SessionError {
    SessionError::UpstreamLost {
        addr: addr.to_owned(),
        reason: e.to_string(),
    }
}
