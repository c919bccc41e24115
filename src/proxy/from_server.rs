//! The server-to-client direction, without IO: given the bytes received
//! so far, which complete messages go on, what the client sees instead of
//! the answers to rewritten statements, and what the session learns on
//! the way (the cancel key, settings, refusals, the end of the session).

use super::Phase;
use super::between::Between;
use super::policy::SessionKey;
use super::refusals::Refusals;
use super::reload::LiveEngine;
use super::spliced::Spliced;
use super::translate::{Event, Translated, Translator};
use super::unique_hint;
use crate::metrics::Metrics;
use crate::protocol::{
    Answering, BackendTag, Header, ProtocolError, TransactionStatus, cancel_request, codec,
    next_backend_frame,
};
use crate::rewrite::Lexing;
use std::sync::Arc;

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

pub struct FromServer {
    auth: Auth,
    /// The rules in force, and whose session this is (which of them
    /// apply), for the hint on a unique key a hidden row holds.
    live: Arc<LiveEngine>,
    session: SessionKey,
    translator: Translator,
    refusals: Refusals,
    /// The server's BackendKeyData body: what a CancelRequest must carry.
    cancel_key: Option<Vec<u8>>,
    last_was_error: bool,
    /// The server ended the session with a FATAL (or PANIC): it sends
    /// nothing after it, and neither may the proxy.
    ended: bool,
}

/// The complete server messages at the front of a buffer.
#[derive(Debug, Default)]
pub struct ServerStep {
    pub end: usize,
    pub out: Spliced,
}

impl FromServer {
    pub fn new(
        auth: Auth,
        live: Arc<LiveEngine>,
        session: SessionKey,
        translator: Translator,
        refusals: Refusals,
    ) -> FromServer {
        FromServer {
            auth,
            live,
            session,
            translator,
            refusals,
            cancel_key: None,
            last_was_error: false,
            ended: false,
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.refusals.metrics
    }

    /// The last message was an ErrorResponse: a close after it was
    /// explained to the client.
    pub fn last_was_error(&self) -> bool {
        self.last_was_error
    }

    /// The server ended the session, and said so in a message that has
    /// been taken: once it is written, the client is to be closed.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Takes the complete messages at the front of `buf`; none after one
    /// that ends the session.
    pub fn step(&mut self, buf: &[u8], between: &mut Between) -> Result<ServerStep, ProtocolError> {
        let mut step = ServerStep::default();
        for (refused, guard_journals) in between.observed.drain(..) {
            self.refusals.would(refused, guard_journals);
        }
        while !self.ended
            && let Some((tag, len)) = next_backend_frame(&buf[step.end..])?
        {
            let frame = &buf[step.end..step.end + len];
            match self.message(tag, frame, between) {
                Translated::Original => step.out.keep(frame),
                Translated::Replaced(bytes) => step.out.replace(&buf[..step.end], &bytes),
                Translated::Dropped => step.out.replace(&buf[..step.end], &[]),
            }
            step.end += len;
        }
        Ok(step)
    }

    /// One server message: what the session learns from it, and what the
    /// client is to see instead.
    fn message(&mut self, tag: BackendTag, frame: &[u8], between: &mut Between) -> Translated {
        match tag {
            BackendTag::BackendKeyData => self.cancel_key = Some(frame[Header::LEN..].to_vec()),
            BackendTag::ParameterStatus => self.parameter_status(frame, between),
            BackendTag::ErrorResponse => self.ended = codec::ends_session(frame),
            BackendTag::CommandComplete => {
                let tag = codec::command_tag_bytes(frame).unwrap_or_default();
                between.show_deleted.completed(tag);
            }
            BackendTag::ReadyForQuery if between.pipeline.authenticated() => {
                if let Some(status) = TransactionStatus::from_ready_for_query(frame) {
                    between.show_deleted.ready(status);
                }
            }
            _ => {}
        }
        self.last_was_error = tag == BackendTag::ErrorResponse;
        let mut translated = if !between.pipeline.authenticated() {
            self.authentication(tag, frame)
        } else if between.rewritten {
            self.translate(tag, frame, between.pipeline.answering())
        } else {
            Translated::Original
        };
        let hidden = !between.show_deleted.current();
        if tag == BackendTag::ErrorResponse && hidden && matches!(translated, Translated::Original)
        {
            let engines = self.live.current();
            let rules = engines.for_session(&self.session).rules();
            if let Some(hinted) = unique_hint::hinted(frame, rules) {
                translated = Translated::Replaced(hinted);
            }
        }
        if let Some(sent) = between.pipeline.server_message(tag, frame) {
            self.refusals.metrics.observe_statement(sent.elapsed());
        }
        translated
    }

    /// An answer, once the session has rewritten a statement.
    fn translate(
        &mut self,
        tag: BackendTag,
        frame: &[u8],
        answering: Answering<'_, super::examined::Examined>,
    ) -> Translated {
        let completes = matches!(tag, BackendTag::ParseComplete | BackendTag::CloseComplete);
        if answering == Answering::Injected && completes {
            // The completion of a Close or Parse the proxy added.
            return Translated::Dropped;
        }
        let (translated, event) = self.translator.server_frame(tag, frame, answering);
        match event {
            Some(Event::Refused(refused)) => self.refusals.record(refused),
            Some(Event::Would {
                refused,
                guard_journals,
            }) => self.refusals.would(refused, guard_journals),
            Some(Event::Deleted { table, rows, soft }) => {
                self.refusals.metrics.deleted_rows(&table, rows, soft);
                log_deleted(&table, rows, soft);
            }
            None => {}
        }
        translated
    }

    /// A message of the authentication exchange, as the client is to see it.
    fn authentication(&self, tag: BackendTag, frame: &[u8]) -> Translated {
        let changed = match tag {
            BackendTag::Authentication if self.auth.strip_scram_plus => {
                codec::without_scram_plus(frame)
            }
            BackendTag::ErrorResponse
                if codec::error_field(frame, b'M')
                    .is_some_and(|m| m.windows(15).any(|w| w == b"channel binding")) =>
            {
                codec::with_hint(frame, CHANNEL_BINDING_HINT)
            }
            _ => None,
        };
        changed.map_or(Translated::Original, Translated::Replaced)
    }

    /// Settings the proxy follows: how strings are read, and the
    /// application's name for the record.
    fn parameter_status(&mut self, frame: &[u8], between: &mut Between) {
        match codec::parameter_status(frame) {
            Some((b"standard_conforming_strings", value)) => {
                between.lexing = Lexing {
                    standard_conforming_strings: value == b"on",
                };
            }
            Some((b"application_name", value)) => self.refusals.application_name(value),
            _ => {}
        }
    }

    /// Whether a draining session may close now, and if so the
    /// CancelRequest for the query it leaves running, if any.
    pub fn may_close(&self, phase: Phase, between: &Between) -> Option<Option<Vec<u8>>> {
        let pipeline = &between.pipeline;
        let close = phase == Phase::Closing || (phase == Phase::Draining && pipeline.idle());
        close.then(|| {
            self.cancel_key
                .as_deref()
                .filter(|_| pipeline.busy())
                .map(cancel_request)
        })
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
