//! The relay: the two IO loops of a session.
//!
//! Each direction reads into its own buffer, has its step (`FromClient`,
//! `FromServer`: bytes in, what to forward out) find the complete
//! messages, and writes what the step says in one write. The two
//! directions run concurrently (a client may pipeline requests while the
//! server streams results: relaying one direction at a time could
//! deadlock), in one task, each polled when woken (see `wakes`).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use super::between::Between;
use super::conn::{self, Conn};
use super::error::Cause;
use super::from_client::FromClient;
use super::from_server::FromServer;
use super::wakes::{Polled, Woken};
use super::{Phase, SessionError};
use crate::protocol::Header;

/// Read buffers start at this size and are given at least this much room
/// before each read.
const READ_CHUNK: usize = 8 * 1024;
/// A message is buffered as its bytes arrive, at most this much more at a
/// time: a length claimed in a header is never allocated up front.
const MAX_RESERVE: usize = 1024 * 1024;
/// How long the server-to-client direction may take to reach a message
/// boundary once the client side has failed, or to say why the server
/// went away once writing to it has failed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// How a relay starts, past the two connections and the two steps.
pub struct Start<'a> {
    /// Client bytes read during the handshake.
    pub pending: BytesMut,
    /// See `ProxyConfig::client_idle_timeout`.
    pub idle_timeout: Option<Duration>,
    pub phase: watch::Receiver<Phase>,
    /// The upstream's address, for messages.
    pub addr: &'a str,
}

/// How a relay ended without error.
pub enum RelayEnd {
    /// Either side closed the session normally, or the server ended it
    /// and told the client why.
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

enum ServerEnd {
    /// The server closed the connection; `explained` when its last message
    /// was an ErrorResponse (it told the client why).
    Closed { explained: bool },
    /// The server ended the session with a FATAL, now with the client:
    /// nothing may follow it.
    Ended,
    /// Asked to stop because the client side failed.
    Stopped,
    /// The proxy is shutting down and this session may close now; with the
    /// CancelRequest that stops the query still running, if one is.
    Shutdown { cancel: Option<Vec<u8>> },
}

/// What the two loops share besides `Between`. Both run in one task, so
/// the mutex is never contended; it is there because the task must be Send.
#[derive(Default)]
struct Shared {
    between: Mutex<Between>,
    /// The client side failed: the server side stops at the next boundary
    /// (see `stopped`).
    stop: AtomicBool,
    /// A write is under way in that direction: cut off now, the stream
    /// would end inside a message, and nothing more may be written to it.
    upstream_writing: AtomicBool,
    client_writing: AtomicBool,
}

impl Shared {
    fn between(&self) -> MutexGuard<'_, Between> {
        // A poisoned lock means a panic elsewhere in this session's task,
        // which has already ended it; the state itself is still usable.
        self.between.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Relays until either side ends the session.
pub async fn run(
    client: &mut Conn,
    upstream: &mut Conn,
    start: Start<'_>,
    from_client: FromClient,
    from_server: FromServer,
) -> Relayed {
    let shared = Shared::default();
    let steps = (from_client, from_server);
    // Plain TCP splits into borrowed halves at no cost, each direction
    // alone on its readiness of a socket, so each can be woken apart; a
    // TLS stream is one state machine, shared by its halves behind a lock.
    let end = match (client, upstream) {
        (Conn::Plain(client), Conn::Plain(upstream)) => {
            let client = client.split();
            let upstream = upstream.split();
            relay_both(client, upstream, start, steps, (&shared, Polled::Apart)).await
        }
        (client, upstream) => {
            let client = tokio::io::split(client);
            let upstream = tokio::io::split(upstream);
            relay_both(client, upstream, start, steps, (&shared, Polled::Together)).await
        }
    };
    Relayed {
        end,
        client_at_boundary: !shared.client_writing.load(Relaxed),
        upstream_at_boundary: !shared.upstream_writing.load(Relaxed),
    }
}

async fn relay_both(
    (mut client_rx, mut client_tx): (impl AsyncRead + Unpin, impl AsyncWrite + Unpin),
    (mut upstream_rx, mut upstream_tx): (impl AsyncRead + Unpin, impl AsyncWrite + Unpin),
    start: Start<'_>,
    (from_client, from_server): (FromClient, FromServer),
    (shared, polled): (&Shared, Polled),
) -> Result<RelayEnd, SessionError> {
    let Start {
        pending,
        idle_timeout,
        phase,
        addr,
    } = start;
    let to_server = ToServer {
        shared,
        addr,
        idle_timeout,
    };
    let c2s = async {
        let end = to_server
            .run(&mut client_rx, &mut upstream_tx, pending, from_client)
            .await;
        // A failed write to the server leaves the server side to read why
        // (a FATAL it sent before going); any other failure stops it.
        if end.as_ref().is_err_and(|e| !e.is_upstream_lost()) {
            shared.stop.store(true, Relaxed);
        }
        end
    };
    let s2c = server_to_client(
        &mut upstream_rx,
        &mut client_tx,
        shared,
        phase,
        addr,
        from_server,
    );
    tokio::pin!(c2s, s2c);
    let (mut c2s, mut s2c) = (Woken::new(c2s, polled), Woken::new(s2c, polled));

    let mut client_end = None;
    let server_end = loop {
        tokio::select! {
            // In order, not at random: each branch completes once, so
            // there is nothing to be fair about, and a random start costs
            // a draw at every wake-up. When both end at one wake-up, the
            // client side's end is taken first, as at any other time.
            biased;
            end = &mut c2s, if client_end.is_none() => {
                let failed = end.is_err();
                client_end = Some(end);
                if failed {
                    // To see `stopped`, if the client side set it.
                    s2c.mark();
                    break tokio::time::timeout(STOP_TIMEOUT, &mut s2c)
                        .await
                        .unwrap_or(Ok(ServerEnd::Stopped));
                }
            }
            end = &mut s2c => break end,
        }
    };
    // The server's FATAL is the last word: whatever failed after it (a
    // write of the client's next message to the closed socket, say) is
    // its consequence, and the client must see nothing more.
    if matches!(server_end, Ok(ServerEnd::Ended)) {
        return Ok(RelayEnd::Closed);
    }
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
            cause: Cause::new("the server closed the connection"),
        }),
    }
}

/// The client-to-server loop's settings.
struct ToServer<'a> {
    shared: &'a Shared,
    addr: &'a str,
    idle_timeout: Option<Duration>,
}

impl ToServer<'_> {
    async fn run(
        &self,
        client: &mut (impl AsyncRead + Unpin),
        upstream: &mut (impl AsyncWrite + Unpin),
        mut buf: BytesMut,
        mut from_client: FromClient,
    ) -> Result<(), SessionError> {
        loop {
            let step = from_client.step(&buf, &mut self.shared.between());
            if step.end > 0 {
                self.shared.upstream_writing.store(true, Relaxed);
                conn::send(upstream, step.out.bytes(&buf[..step.end]))
                    .await
                    .map_err(|e| SessionError::upstream_lost(self.addr, e))?;
                self.shared.upstream_writing.store(false, Relaxed);
                buf.advance(step.end);
            }
            // The valid messages before bad bytes are delivered first, as
            // the server would have processed them.
            if let Some(e) = step.error {
                return Err(e.into());
            }
            if step.terminated {
                return Ok(());
            }
            make_room(&mut buf);
            let read = self.read(client, &mut buf).await?;
            if read == 0 {
                // Half-close: the server sees EOF, as it would from the client.
                let _ = upstream.shutdown().await;
                return Ok(());
            }
            from_client.metrics().bytes_from_client(read);
        }
    }

    /// Reads from the client. With an idle timeout, a client that sends
    /// nothing for that long while the server owes it nothing (no statement
    /// running, no result streaming) is cut off.
    async fn read(
        &self,
        client: &mut (impl AsyncRead + Unpin),
        buf: &mut BytesMut,
    ) -> Result<usize, SessionError> {
        let Some(timeout) = self.idle_timeout else {
            return client.read_buf(buf).await.map_err(SessionError::ClientIo);
        };
        loop {
            match tokio::time::timeout(timeout, client.read_buf(buf)).await {
                Ok(read) => return read.map_err(SessionError::ClientIo),
                Err(_) if self.shared.between().pipeline.idle() => {
                    return Err(SessionError::IdleTimeout(timeout));
                }
                Err(_) => {}
            }
        }
    }
}

async fn server_to_client(
    upstream: &mut (impl AsyncRead + Unpin),
    client: &mut (impl AsyncWrite + Unpin),
    shared: &Shared,
    mut phase: watch::Receiver<Phase>,
    addr: &str,
    mut from_server: FromServer,
) -> Result<ServerEnd, SessionError> {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut now = *phase.borrow_and_update();
    // Made once, not at every read: a new one would register a waiter, and
    // drop it, at every message the server sends; and polled only when the
    // phase changed, not at every read.
    let changed = next_phase(phase);
    tokio::pin!(changed);
    let mut changed = Woken::apart(changed);
    loop {
        let step = from_server
            .step(&buf, &mut shared.between())
            .map_err(|source| SessionError::UpstreamProtocol {
                addr: addr.to_owned(),
                source,
            })?;
        if step.end > 0 {
            shared.client_writing.store(true, Relaxed);
            let out = step.out.bytes(&buf[..step.end]);
            conn::send(client, out)
                .await
                .map_err(SessionError::ClientIo)?;
            shared.client_writing.store(false, Relaxed);
            from_server.metrics().bytes_to_client(out.len());
            buf.advance(step.end);
        }
        if from_server.ended() {
            return Ok(ServerEnd::Ended);
        }
        if now != Phase::Running
            && let Some(cancel) = from_server.may_close(now, &shared.between())
        {
            return Ok(ServerEnd::Shutdown { cancel });
        }
        make_room(&mut buf);
        tokio::select! {
            biased;
            () = stopped(shared) => return Ok(ServerEnd::Stopped),
            (next, phase) = &mut changed => {
                now = next;
                changed.set(next_phase(phase));
            }
            read = upstream.read_buf(&mut buf) => {
                if read.map_err(|e| SessionError::upstream_lost(addr, e))? == 0 {
                    return Ok(ServerEnd::Closed { explained: from_server.last_was_error() });
                }
            }
        }
    }
}

/// Ready once the client side has failed. It needs no waker: the client
/// side fails in this same task, and `relay_both` polls this side at once
/// after it (marked woken, see `Woken::mark`).
fn stopped(shared: &Shared) -> impl Future<Output = ()> + '_ {
    std::future::poll_fn(|_| match shared.stop.load(Relaxed) {
        true => Poll::Ready(()),
        false => Poll::Pending,
    })
}

/// The phase the proxy moves to next, and the receiver to wait for the
/// one after it with.
async fn next_phase(mut phase: watch::Receiver<Phase>) -> (Phase, watch::Receiver<Phase>) {
    // A dropped sender means the proxy itself is gone.
    let next = match phase.changed().await {
        Ok(()) => *phase.borrow_and_update(),
        Err(_) => Phase::Closing,
    };
    (next, phase)
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
