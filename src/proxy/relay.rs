//! The relay: client messages to the upstream, server messages back.
//!
//! Each direction reads into its own buffer, finds the complete messages by
//! their headers, and writes those original bytes on in one write. The two
//! directions run concurrently (a client may pipeline requests while the
//! server streams results: relaying one direction at a time could deadlock).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, watch};

use super::conn::{self, Conn};
use super::error::Cause;
use super::intercept::Intercept;
use super::translate::{Event, Refused, Translated, Translator};
use super::{Phase, SessionError};
use crate::journal::{BlockedAttempt, Recorder};
use crate::metrics::Metrics;
use crate::protocol::{
    Answering, BackendTag, FrontendTag, Header, Pipeline, ProtocolError, cancel_request, codec,
    next_backend_frame, next_frontend_frame,
};
use crate::rewrite::Lexing;

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
    /// The server's `standard_conforming_strings`, which decides how the
    /// client's SQL is read.
    nonstandard_strings: AtomicBool,
    /// A statement was rewritten: the server's answers need translating.
    rewritten: AtomicBool,
}

impl Shared {
    fn lexing(&self) -> Lexing {
        Lexing {
            standard_conforming_strings: !self.nonstandard_strings.load(Relaxed),
        }
    }

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

/// What the session does to statements: the rewriting on the way in, the
/// translation on the way out, and who is recorded for refusals.
pub struct Rewriting {
    pub intercept: Intercept,
    pub translator: Translator,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    /// The session, as refusals are recorded (the SQL and reason are
    /// filled in per refusal).
    pub who: BlockedAttempt,
}

/// How a relay starts, past the two connections.
pub struct Start<'a> {
    /// Client bytes read during the handshake.
    pub pending: BytesMut,
    pub auth: Auth,
    pub limits: Limits,
    pub phase: watch::Receiver<Phase>,
    /// The upstream's address, for messages.
    pub addr: &'a str,
}

/// Relays until either side ends the session.
pub async fn run(
    client: &mut Conn,
    upstream: &mut Conn,
    start: Start<'_>,
    rewriting: Rewriting,
) -> Relayed {
    let Start {
        pending,
        auth,
        limits,
        phase,
        addr,
    } = start;
    let shared = Shared::default();
    let ctx = Context {
        pending,
        auth,
        limits,
        phase,
        addr,
        shared: &shared,
    };
    // Plain TCP splits into borrowed halves at no cost; a TLS stream is one
    // state machine, shared by its halves behind a lock.
    let end = match (client, upstream) {
        (Conn::Plain(client), Conn::Plain(upstream)) => {
            let (client_rx, client_tx) = client.split();
            let (upstream_rx, upstream_tx) = upstream.split();
            relay_both(
                client_rx,
                client_tx,
                upstream_rx,
                upstream_tx,
                ctx,
                rewriting,
            )
            .await
        }
        (client, upstream) => {
            let (client_rx, client_tx) = tokio::io::split(client);
            let (upstream_rx, upstream_tx) = tokio::io::split(upstream);
            relay_both(
                client_rx,
                client_tx,
                upstream_rx,
                upstream_tx,
                ctx,
                rewriting,
            )
            .await
        }
    };
    Relayed {
        end,
        client_at_boundary: !shared.client_writing.load(Relaxed),
        upstream_at_boundary: !shared.upstream_writing.load(Relaxed),
    }
}

/// What both directions are started with.
struct Context<'a> {
    pending: BytesMut,
    auth: Auth,
    limits: Limits,
    phase: watch::Receiver<Phase>,
    addr: &'a str,
    shared: &'a Shared,
}

async fn relay_both(
    mut client_rx: impl AsyncRead + Unpin,
    mut client_tx: impl AsyncWrite + Unpin,
    mut upstream_rx: impl AsyncRead + Unpin,
    mut upstream_tx: impl AsyncWrite + Unpin,
    ctx: Context<'_>,
    rewriting: Rewriting,
) -> Result<RelayEnd, SessionError> {
    let Context {
        pending,
        auth,
        limits,
        phase,
        addr,
        shared,
    } = ctx;
    let Rewriting {
        mut intercept,
        translator,
        recorder,
        metrics,
        who,
    } = rewriting;
    let c2s = async {
        let end = client_to_server(
            &mut client_rx,
            &mut upstream_tx,
            pending,
            shared,
            addr,
            &mut intercept,
            limits,
        )
        .await;
        if end.is_err() {
            shared.stop.notify_one();
        }
        end
    };
    let state = ServerState {
        auth,
        metrics,
        cancel_key: None,
        last_was_error: false,
        translator,
        recorder,
        who,
    };
    let s2c = server_to_client(&mut upstream_rx, &mut client_tx, shared, phase, addr, state);
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
            cause: Cause::new("the server closed the connection"),
        }),
    }
}

async fn client_to_server(
    client: &mut (impl AsyncRead + Unpin),
    upstream: &mut (impl AsyncWrite + Unpin),
    mut buf: BytesMut,
    shared: &Shared,
    addr: &str,
    intercept: &mut Intercept,
    limits: Limits,
) -> Result<(), SessionError> {
    loop {
        let scanned = scan_client(&buf, shared, intercept);
        if scanned.end > 0 {
            shared.upstream_writing.store(true, Relaxed);
            let out = scanned.rewritten.as_deref().unwrap_or(&buf[..scanned.end]);
            conn::send(upstream, out)
                .await
                .map_err(|e| SessionError::upstream_lost(addr, e))?;
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
        let read = read_within(client, &mut buf, limits.idle_timeout, shared).await?;
        if read == 0 {
            // Half-close: the server sees EOF, as it would from the client.
            let _ = upstream.shutdown().await;
            return Ok(());
        }
        intercept.metrics().bytes_from_client(read);
    }
}

/// Reads from the client. With an idle timeout, a client that sends
/// nothing for that long while the server owes it nothing (no statement
/// running, no result streaming) is cut off.
async fn read_within(
    client: &mut (impl AsyncRead + Unpin),
    buf: &mut BytesMut,
    idle_timeout: Option<Duration>,
    shared: &Shared,
) -> Result<usize, SessionError> {
    let Some(timeout) = idle_timeout else {
        return client.read_buf(buf).await.map_err(SessionError::ClientIo);
    };
    loop {
        match tokio::time::timeout(timeout, client.read_buf(buf)).await {
            Ok(read) => return read.map_err(SessionError::ClientIo),
            Err(_) if shared.pipeline().idle() => return Err(SessionError::IdleTimeout(timeout)),
            Err(_) => {}
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
    /// What to send instead of them, when a message was rewritten.
    rewritten: Option<Vec<u8>>,
}

/// Scans the client's buffer; what it finds is about to be written, so the
/// statements among it are timed from now.
fn scan_client(buf: &[u8], shared: &Shared, intercept: &mut Intercept) -> Scanned {
    let mut pipeline = shared.pipeline();
    let scanned = scan_client_frames(buf, shared, intercept, &mut pipeline);
    pipeline.sent(Instant::now);
    scanned
}

fn scan_client_frames(
    buf: &[u8],
    shared: &Shared,
    intercept: &mut Intercept,
    pipeline: &mut Pipeline,
) -> Scanned {
    let lexing = shared.lexing();
    let mut scanned = Scanned {
        end: 0,
        terminated: false,
        error: None,
        rewritten: None,
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
        let frame = &buf[scanned.end..scanned.end + len];
        match intercept.client_frame(tag, frame, lexing, pipeline) {
            Some(replacement) => {
                shared.rewritten.store(true, Relaxed);
                replace(&mut scanned.rewritten, &buf[..scanned.end], &replacement);
            }
            None => keep(&mut scanned.rewritten, frame),
        }
        scanned.end += len;
        if tag == FrontendTag::Terminate {
            scanned.terminated = true;
            return scanned;
        }
    }
}

/// Limits on the client's behaviour.
#[derive(Clone, Copy, Debug, Default)]
pub struct Limits {
    /// See `ProxyConfig::client_idle_timeout`.
    pub idle_timeout: Option<Duration>,
}

/// How the authentication exchange is relayed.
#[derive(Clone, Copy, Debug)]
pub struct Auth {
    /// Take SCRAM-SHA-256-PLUS off the server's offer: channel binding
    /// cannot work through the proxy (see `tls::binding_survives`).
    pub strip_scram_plus: bool,
}

/// Added to the server's refusal when a client insists on channel binding.
const CHANNEL_BINDING_HINT: &str = "softdel terminates TLS, so SCRAM channel binding cannot \
     reach the server: connect with channel_binding=disable, or give softdel the server's own \
     certificate and key (--tls-cert/--tls-key), which lets channel binding through.";

/// What the server side keeps of the server's messages.
struct ServerState {
    auth: Auth,
    metrics: Arc<Metrics>,
    /// The server's BackendKeyData body: what a CancelRequest must carry.
    cancel_key: Option<Vec<u8>>,
    last_was_error: bool,
    translator: Translator,
    recorder: Recorder,
    who: BlockedAttempt,
}

/// The complete server messages at the front of a buffer.
struct ScannedServer {
    end: usize,
    /// What to send instead of them, when one was translated.
    translated: Option<Vec<u8>>,
}

impl ServerState {
    /// Finds the complete server messages at the front of `buf`.
    fn scan(&mut self, buf: &[u8], shared: &Shared) -> Result<ScannedServer, ProtocolError> {
        let mut pipeline = shared.pipeline();
        let rewritten = shared.rewritten.load(Relaxed);
        let mut scanned = ScannedServer {
            end: 0,
            translated: None,
        };
        while let Some((tag, len)) = next_backend_frame(&buf[scanned.end..])? {
            let frame = &buf[scanned.end..scanned.end + len];
            match tag {
                BackendTag::BackendKeyData => self.cancel_key = Some(frame[Header::LEN..].to_vec()),
                BackendTag::Other(b'S') => self.parameter_status(frame, shared),
                _ => {}
            }
            self.last_was_error = tag == BackendTag::ErrorResponse;
            let translated = if !pipeline.authenticated() {
                self.authentication(frame)
            } else if rewritten {
                let answering = pipeline.answering();
                if answering == Answering::Injected && matches!(frame[0], b'1' | b'3') {
                    // The completion of a Close or Parse the proxy added.
                    Translated::Dropped
                } else {
                    let (translated, event) = self.translator.server_frame(frame, answering);
                    match event {
                        Some(Event::Refused(refused)) => self.record(refused),
                        Some(Event::Deleted { table, rows, soft }) => {
                            log_deleted(&table, rows, soft)
                        }
                        None => {}
                    }
                    translated
                }
            } else {
                Translated::Original
            };
            if let Some(sent) = pipeline.server_message(frame[0], frame) {
                self.metrics.observe_statement(sent.elapsed());
            }
            let before = &buf[..scanned.end];
            match translated {
                Translated::Original => keep(&mut scanned.translated, frame),
                Translated::Replaced(bytes) => replace(&mut scanned.translated, before, &bytes),
                Translated::Dropped => replace(&mut scanned.translated, before, &[]),
            }
            scanned.end += len;
        }
        Ok(scanned)
    }

    /// A message of the authentication exchange, as the client is to see it.
    fn authentication(&self, frame: &[u8]) -> Translated {
        let changed = match frame[0] {
            b'R' if self.auth.strip_scram_plus => codec::without_scram_plus(frame),
            b'E' if codec::error_field(frame, b'M')
                .is_some_and(|m| m.windows(15).any(|w| w == b"channel binding")) =>
            {
                codec::with_hint(frame, CHANNEL_BINDING_HINT)
            }
            _ => None,
        };
        changed.map_or(Translated::Original, Translated::Replaced)
    }

    /// Settings the proxy follows: how strings are read, and the
    /// application's name for the journal.
    fn parameter_status(&mut self, frame: &[u8], shared: &Shared) {
        match codec::parameter_status(frame) {
            Some((b"standard_conforming_strings", value)) => {
                shared.nonstandard_strings.store(value != b"on", Relaxed);
            }
            Some((b"application_name", value)) => {
                self.who.application_name = String::from_utf8_lossy(value).into_owned();
            }
            _ => {}
        }
    }

    fn record(&self, refused: Refused) {
        self.metrics.refused(&refused.table, refused.kind);
        let mut attempt = self.who.clone();
        attempt.at_unix = BlockedAttempt::now_unix();
        attempt.table = refused.table;
        attempt.reason = refused.reason.to_owned();
        attempt.sqlstate = refused.sqlstate;
        attempt.message = refused.message;
        attempt.sql = refused.sql;
        self.recorder.record(attempt);
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
    upstream: &mut (impl AsyncRead + Unpin),
    client: &mut (impl AsyncWrite + Unpin),
    shared: &Shared,
    mut phase: watch::Receiver<Phase>,
    addr: &str,
    mut state: ServerState,
) -> Result<ServerEnd, SessionError> {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut now = *phase.borrow_and_update();
    loop {
        let scanned =
            state
                .scan(&buf, shared)
                .map_err(|source| SessionError::UpstreamProtocol {
                    addr: addr.to_owned(),
                    source,
                })?;
        if scanned.end > 0 {
            shared.client_writing.store(true, Relaxed);
            let out = scanned.translated.as_deref().unwrap_or(&buf[..scanned.end]);
            conn::send(client, out)
                .await
                .map_err(SessionError::ClientIo)?;
            shared.client_writing.store(false, Relaxed);
            state.metrics.bytes_to_client(out.len());
            buf.advance(scanned.end);
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
                if read.map_err(|e| SessionError::upstream_lost(addr, e))? == 0 {
                    return Ok(ServerEnd::Closed { explained: state.last_was_error });
                }
            }
        }
    }
}

/// The log line of a DELETE the guard journaled (inside the session's
/// span: id, peer, user, database). The journal entry commits with the
/// client's transaction, or not at all: `softdel log --table T` shows it.
fn log_deleted(table: &str, rows: u64, soft: bool) {
    if rows == 0 {
        return;
    }
    let message = if soft {
        "soft delete"
    } else {
        "journaled delete"
    };
    tracing::info!(table, rows, "{message}");
}

/// Forwarding a run of messages: while none is changed, the original
/// buffer is written as is (`out` stays `None`); from the first change on,
/// a copy is built. `keep` adds a message unchanged to that copy.
fn keep(out: &mut Option<Vec<u8>>, frame: &[u8]) {
    if let Some(out) = out {
        out.extend_from_slice(frame);
    }
}

/// Puts `bytes` in place of a message; `before` is what precedes it in the
/// buffer, copied when this is the first change.
fn replace(out: &mut Option<Vec<u8>>, before: &[u8], bytes: &[u8]) {
    out.get_or_insert_with(|| before.to_vec())
        .extend_from_slice(bytes);
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
