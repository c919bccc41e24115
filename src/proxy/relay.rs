//! The relay: client messages to the upstream, server messages back.
//!
//! Each direction reads into its own buffer, finds the complete messages by
//! their headers, and writes those original bytes on in one write. The two
//! directions run concurrently (a client may pipeline requests while the
//! server streams results: relaying one direction at a time could deadlock).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::sync::{Notify, watch};

use super::{Phase, SessionError};
use crate::protocol::{
    BackendTag, FrontendTag, Header, ProtocolError, TransactionStatus, cancel_request,
    next_backend_frame, next_frontend_frame,
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

/// What the two directions know of each other.
#[derive(Default)]
struct Shared {
    /// The server has sent its first ReadyForQuery.
    authenticated: AtomicBool,
    /// Query, Sync and FunctionCall messages forwarded: each is answered by
    /// exactly one ReadyForQuery.
    requests: AtomicU64,
    /// Extended-protocol messages were forwarded since the last Sync.
    open_extended: AtomicBool,
    /// The client side failed: the server side stops at the next boundary.
    stop: Notify,
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

/// Relays until either side ends the session. `pending` holds client bytes
/// read during the handshake.
pub async fn run(
    client: &mut TcpStream,
    upstream: &mut TcpStream,
    pending: BytesMut,
    phase: watch::Receiver<Phase>,
    addr: &str,
) -> Result<RelayEnd, SessionError> {
    let shared = Shared::default();
    let (mut client_rx, mut client_tx) = client.split();
    let (mut upstream_rx, mut upstream_tx) = upstream.split();
    let c2s = async {
        let end = client_to_server(&mut client_rx, &mut upstream_tx, pending, &shared, addr).await;
        if end.is_err() {
            shared.stop.notify_one();
        }
        end
    };
    let s2c = server_to_client(&mut upstream_rx, &mut client_tx, &shared, phase, addr);
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
        let (end, terminated) = scan_client(&buf, shared)?;
        if end > 0 {
            upstream
                .write_all(&buf[..end])
                .await
                .map_err(|e| lost(addr, e))?;
            buf.advance(end);
        }
        if terminated {
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

/// Finds the complete client messages at the front of `buf`: returns how
/// many bytes they span and whether a Terminate is among them.
fn scan_client(buf: &[u8], shared: &Shared) -> Result<(usize, bool), ProtocolError> {
    let mut end = 0;
    while let Some((tag, len)) = next_frontend_frame(&buf[end..])? {
        check_order(tag, buf[end], shared.authenticated.load(Relaxed))?;
        end += len;
        match tag {
            FrontendTag::Terminate => return Ok((end, true)),
            FrontendTag::Query | FrontendTag::Sync | FrontendTag::FunctionCall => {
                shared.requests.fetch_add(1, Relaxed);
                shared.open_extended.store(false, Relaxed);
            }
            FrontendTag::Parse
            | FrontendTag::Bind
            | FrontendTag::Describe
            | FrontendTag::Execute
            | FrontendTag::Close
            | FrontendTag::Flush => shared.open_extended.store(true, Relaxed),
            _ => {}
        }
    }
    Ok((end, false))
}

/// Until authentication is over a client may only answer the server's
/// challenges (or leave); afterwards it may no longer send them.
fn check_order(tag: FrontendTag, byte: u8, authenticated: bool) -> Result<(), ProtocolError> {
    let allowed = match tag {
        FrontendTag::Terminate => true,
        FrontendTag::Password => !authenticated,
        _ => authenticated,
    };
    if allowed {
        return Ok(());
    }
    Err(ProtocolError::UnexpectedMessage {
        tag: byte as char,
        phase: if authenticated {
            "after authentication"
        } else {
            "during authentication"
        },
    })
}

/// What the server side tracks of the server's messages.
#[derive(Default)]
struct ServerState {
    /// The server's BackendKeyData body: what a CancelRequest must carry.
    cancel_key: Option<Vec<u8>>,
    ready_for_query: u64,
    status: Option<TransactionStatus>,
    last_was_error: bool,
}

impl ServerState {
    /// Between requests, outside any transaction: a session that can be
    /// closed without losing anything.
    fn idle(&self, shared: &Shared) -> bool {
        self.status == Some(TransactionStatus::Idle) && self.caught_up(shared)
    }

    /// Every request sent has been answered.
    fn caught_up(&self, shared: &Shared) -> bool {
        self.ready_for_query == shared.requests.load(Relaxed) && !shared.open_extended.load(Relaxed)
    }

    /// A CancelRequest for the query still running, if one is.
    fn cancel_request(&self, shared: &Shared) -> Option<Vec<u8>> {
        let key = self
            .cancel_key
            .as_ref()
            .filter(|_| !self.caught_up(shared))?;
        Some(cancel_request(key))
    }

    /// Finds the complete server messages at the front of `buf` and returns
    /// how many bytes they span.
    fn scan(&mut self, buf: &[u8], shared: &Shared) -> Result<usize, ProtocolError> {
        let mut end = 0;
        while let Some((tag, len)) = next_backend_frame(&buf[end..])? {
            if tag == BackendTag::ReadyForQuery {
                // The first one ends authentication; the others answer requests.
                if shared.authenticated.swap(true, Relaxed) {
                    self.ready_for_query += 1;
                }
                self.status = TransactionStatus::from_ready_for_query(&buf[end..end + len]);
            }
            if tag == BackendTag::BackendKeyData {
                self.cancel_key = Some(buf[end + Header::LEN..end + len].to_vec());
            }
            self.last_was_error = tag == BackendTag::ErrorResponse;
            end += len;
        }
        Ok(end)
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
            client
                .write_all(&buf[..end])
                .await
                .map_err(SessionError::ClientIo)?;
            buf.advance(end);
        }
        if now == Phase::Closing || (now == Phase::Draining && state.idle(shared)) {
            return Ok(ServerEnd::Shutdown {
                cancel: state.cancel_request(shared),
            });
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
