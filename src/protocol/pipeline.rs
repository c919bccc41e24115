//! What the server still owes the client.
//!
//! A model of how PostgreSQL processes a session's messages, fed with the
//! client's messages as they are forwarded and the server's as they come
//! back. It answers one question exactly: is the session between requests
//! (nothing in flight, no open extended-protocol batch, outside a
//! transaction block), so that it can be closed without losing anything?
//!
//! The server does not answer every message: during COPY FROM STDIN it
//! ignores Sync, and after an error in an extended-protocol batch it
//! discards everything up to the next Sync. Counting requests and
//! ReadyForQuery messages drifts on both; following the server's own rules
//! does not. When unsure, the model keeps an entry (the session looks busy)
//! rather than drop one: a busy-looking session is only closed at the end
//! of the grace period.
//!
//! The requests ReadyForQuery answers (Query, FunctionCall, Sync) carry the
//! time they were sent, so a statement's latency is measured from its own
//! request whatever the server skipped or ignored on the way. Queries and
//! Executes also carry what the session attached to them (`T`: for the
//! proxy, what it knows of the statement), so that the answers can be
//! matched to it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use super::{BackendTag, FrontendTag, TransactionStatus};

/// What the server's next message answers.
#[derive(Debug, PartialEq, Eq)]
pub enum Answering<'a, T> {
    Describe,
    /// An Execute, and what was attached to it.
    Execute(Option<&'a T>),
    /// A simple Query (or FunctionCall), and what was attached to it.
    Query(Option<&'a T>),
    /// A message the proxy added (see `Pipeline::proxy_message`): its
    /// completion is not for the client.
    Injected,
    Other,
}

// Not derived: a reference is Copy whatever it points to.
impl<T> Clone for Answering<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Answering<'_, T> {}

/// A client message the server has not finished with.
#[derive(Debug)]
enum Pending<T> {
    /// A Parse; numbered when the session follows its outcome.
    Parse(Option<u64>),
    Bind,
    Describe,
    Execute(Option<Arc<T>>),
    Close,
    /// Query and FunctionCall: answered by ReadyForQuery.
    Query(Option<Arc<T>>, Sent),
    Sync(Sent),
    /// CopyDone or CopyFail: ends COPY FROM STDIN.
    CopyEnd,
    /// A Close or Parse the proxy added, whose answer it drops.
    InjectedClose,
    InjectedParse,
}

impl<T> Pending<T> {
    fn from_tag(tag: FrontendTag) -> Option<Pending<T>> {
        Some(match tag {
            FrontendTag::Parse => Pending::Parse(None),
            FrontendTag::Bind => Pending::Bind,
            FrontendTag::Describe => Pending::Describe,
            FrontendTag::Execute => Pending::Execute(None),
            FrontendTag::Close => Pending::Close,
            FrontendTag::Query | FrontendTag::FunctionCall => Pending::Query(None, None),
            FrontendTag::Sync => Pending::Sync(None),
            FrontendTag::CopyDone | FrontendTag::CopyFail => Pending::CopyEnd,
            // No answer of their own.
            FrontendTag::CopyData
            | FrontendTag::Flush
            | FrontendTag::Password
            | FrontendTag::Terminate => return None,
        })
    }

    fn is_extended(&self) -> bool {
        matches!(
            self,
            Pending::Parse(_)
                | Pending::Bind
                | Pending::Describe
                | Pending::Execute(_)
                | Pending::Close
                | Pending::InjectedClose
                | Pending::InjectedParse
        )
    }

    fn injected(&self) -> bool {
        matches!(self, Pending::InjectedClose | Pending::InjectedParse)
    }

    /// A client Parse the session follows, by its number.
    fn followed_parse(&self) -> Option<u64> {
        match self {
            Pending::Parse(followed) => *followed,
            _ => None,
        }
    }

    fn is_sync(&self) -> bool {
        matches!(self, Pending::Sync(_))
    }

    /// Where a request answered by ReadyForQuery keeps its send time.
    fn sent_mut(&mut self) -> Option<&mut Sent> {
        match self {
            Pending::Query(_, sent) | Pending::Sync(sent) => Some(sent),
            _ => None,
        }
    }

    /// Whether server message `tag` is this message's final answer.
    fn completed_by(&self, tag: BackendTag) -> bool {
        use BackendTag::*;
        match self {
            Pending::Parse(_) | Pending::InjectedParse => tag == ParseComplete,
            Pending::Bind => tag == BindComplete,
            Pending::Close | Pending::InjectedClose => tag == CloseComplete,
            Pending::Describe => matches!(tag, RowDescription | NoData),
            Pending::Execute(_) => {
                matches!(tag, CommandComplete | EmptyQueryResponse | PortalSuspended)
            }
            Pending::Query(..) | Pending::Sync(_) | Pending::CopyEnd => false,
        }
    }
}

/// What the server made of a client's Parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// ParseComplete: the statement exists.
    Made,
    /// An error answered it: the statement does not exist (and an unnamed
    /// one before it is gone too: the server drops it first).
    Failed,
    /// Skipped after an earlier error in its batch: nothing happened.
    Skipped,
}

/// When a request was sent; `None` until `Pipeline::sent` is called.
type Sent = Option<Instant>;

#[derive(Debug)]
pub struct Pipeline<T> {
    pending: VecDeque<Pending<T>>,
    /// How many entries at the back of `pending` wait for their send time
    /// (the relay calls `sent` under the same lock as it adds them, so no
    /// answer can take one first).
    unsent: usize,
    /// Status from the last ReadyForQuery; `None` until authentication ends.
    status: Option<TransactionStatus>,
    /// Extended-protocol messages were sent since the last Sync: the server
    /// holds an implicit transaction open.
    unsynced: bool,
    /// The server is reading COPY data.
    copy_in: bool,
    /// After an extended-protocol error the server discards messages until
    /// Sync; set while that Sync has not been forwarded yet.
    skipping: bool,
    /// A COPY ended on the server before the client's CopyDone/CopyFail
    /// arrived: the server will drop it.
    orphan_copy_end: bool,
    /// A message the proxy added did not complete (it failed, or the
    /// server skipped it after an earlier error).
    injection_lost: bool,
    /// Followed client Parses the server answered: their numbers, and
    /// what became of them.
    parsed: Vec<(u64, Parsed)>,
}

// Not derived: the default is empty whatever `T` is.
impl<T> Default for Pipeline<T> {
    fn default() -> Self {
        Pipeline {
            pending: VecDeque::new(),
            unsent: 0,
            status: None,
            unsynced: false,
            copy_in: false,
            skipping: false,
            orphan_copy_end: false,
            injection_lost: false,
            parsed: Vec::new(),
        }
    }
}

impl<T> Pipeline<T> {
    /// A client message was forwarded to the server.
    pub fn client_message(&mut self, tag: FrontendTag) {
        if let Some(pending) = Pending::from_tag(tag) {
            self.push(pending);
        }
    }

    /// A Close (`tag` Close) or Parse the proxy sends of its own accord,
    /// ahead of the client's next message: its answer is the proxy's.
    pub fn proxy_message(&mut self, tag: FrontendTag) {
        match tag {
            FrontendTag::Close => self.push(Pending::InjectedClose),
            FrontendTag::Parse => self.push(Pending::InjectedParse),
            _ => {}
        }
    }

    /// A client Parse whose outcome the session wants to know (see
    /// `take_parsed`), numbered by the session.
    pub fn client_parse(&mut self, number: u64) {
        self.push(Pending::Parse(Some(number)));
    }

    /// The followed Parses answered since the last call, by number.
    pub fn take_parsed(&mut self) -> Vec<(u64, Parsed)> {
        std::mem::take(&mut self.parsed)
    }

    /// Whether a message the proxy added has failed or been skipped since
    /// the last call: what it was to set up may not be in place.
    pub fn take_injection_lost(&mut self) -> bool {
        std::mem::take(&mut self.injection_lost)
    }

    /// An Execute of a portal, with what the session attaches to it.
    pub fn client_execute(&mut self, attached: Option<Arc<T>>) {
        self.push(Pending::Execute(attached));
    }

    /// A simple Query, with what the session attaches to it.
    pub fn client_query(&mut self, attached: Option<Arc<T>>) {
        self.push(Pending::Query(attached, None));
    }

    /// The client messages given since the last call were sent now: the
    /// requests among them that ReadyForQuery answers take `now()` as their
    /// send time (the clock is read only when there is one).
    pub fn sent(&mut self, now: impl FnOnce() -> Instant) {
        let unsent = std::mem::take(&mut self.unsent);
        let mut timed = self
            .pending
            .iter_mut()
            .rev()
            .take(unsent)
            .filter_map(Pending::sent_mut)
            .peekable();
        if timed.peek().is_some() {
            let at = now();
            timed.for_each(|sent| *sent = Some(at));
        }
    }

    /// What the server's next message answers.
    pub fn answering(&self) -> Answering<'_, T> {
        match self.pending.front() {
            Some(Pending::Describe) => Answering::Describe,
            Some(Pending::Execute(attached)) => Answering::Execute(attached.as_deref()),
            Some(Pending::Query(attached, _)) => Answering::Query(attached.as_deref()),
            Some(p) if p.injected() => Answering::Injected,
            _ => Answering::Other,
        }
    }

    fn push(&mut self, pending: Pending<T>) {
        if pending.is_sync() {
            self.unsynced = false;
        } else if pending.is_extended() {
            self.unsynced = true;
        }
        if matches!(pending, Pending::CopyEnd) && std::mem::take(&mut self.orphan_copy_end) {
            return;
        }
        if self.skipping {
            if !pending.is_sync() {
                self.lost(&pending, Parsed::Skipped);
                return;
            }
            self.skipping = false;
        }
        self.pending.push_back(pending);
        self.unsent += 1;
    }

    /// A server message (its tag and whole frame) was forwarded to the
    /// client. For a ReadyForQuery: when the request it answers was sent.
    pub fn server_message(&mut self, tag: BackendTag, frame: &[u8]) -> Option<Instant> {
        match tag {
            BackendTag::ReadyForQuery => return self.ready_for_query(frame),
            BackendTag::CopyInResponse | BackendTag::CopyBothResponse => self.copy_in = true,
            BackendTag::ErrorResponse => self.error(),
            _ => self.answer(tag),
        }
        None
    }

    /// The status the last ReadyForQuery reported (`None` before
    /// authentication ends).
    pub fn status(&self) -> Option<TransactionStatus> {
        self.status
    }

    /// Nothing owed, no open batch, outside any transaction block.
    pub fn idle(&self) -> bool {
        self.pending.is_empty()
            && !self.unsynced
            && !matches!(
                self.status,
                Some(TransactionStatus::InTransaction | TransactionStatus::Failed)
            )
    }

    /// Authentication is over (the first ReadyForQuery has been seen).
    pub fn authenticated(&self) -> bool {
        self.status.is_some()
    }

    /// The server is working on something the client asked for.
    pub fn busy(&self) -> bool {
        !self.pending.is_empty()
    }

    fn ready_for_query(&mut self, frame: &[u8]) -> Option<Instant> {
        let first = self.status.is_none();
        // A status the model cannot read (a truncated or unknown byte) is
        // taken for an open transaction block: the session looks busy,
        // and authentication stays over.
        self.status = Some(
            TransactionStatus::from_ready_for_query(frame)
                .unwrap_or(TransactionStatus::InTransaction),
        );
        self.copy_in = false;
        if first {
            // The end of authentication, not an answer to a request.
            return None;
        }
        while let Some(mut done) = self.pending.pop_front() {
            self.lost(&done, Parsed::Skipped);
            if let Some(sent) = done.sent_mut() {
                return *sent;
            }
        }
        None
    }

    fn answer(&mut self, tag: BackendTag) {
        if tag == BackendTag::CommandComplete && self.copy_in {
            self.end_copy();
        }
        if self.pending.front().is_some_and(|p| p.completed_by(tag))
            && let Some(done) = self.pending.pop_front()
            && let Some(number) = done.followed_parse()
        {
            self.parsed.push((number, Parsed::Made));
        }
    }

    /// A message the server will not answer: skipped after an error, or
    /// left when the request it belonged to ended.
    fn lost(&mut self, pending: &Pending<T>, outcome: Parsed) {
        self.injection_lost |= pending.injected();
        if let Some(number) = pending.followed_parse() {
            self.parsed.push((number, outcome));
        }
    }

    fn error(&mut self) {
        if self.copy_in {
            self.end_copy();
        }
        if self.pending.front().is_some_and(|p| p.is_extended()) {
            // The error answers the message in front; the server skips
            // the others up to the Sync.
            if let Some(failed) = self.pending.pop_front() {
                self.lost(&failed, Parsed::Failed);
            }
            self.skip_to_sync();
        }
    }

    /// COPY FROM STDIN is over: the Syncs sent during it were ignored, and
    /// its CopyDone/CopyFail was consumed (or will be dropped on arrival).
    fn end_copy(&mut self) {
        self.copy_in = false;
        // Index 0 is the Query or Execute that started the COPY.
        while let Some(pending) = self.pending.get(1) {
            match pending {
                Pending::Sync(_) => {
                    self.pending.remove(1);
                }
                Pending::CopyEnd => {
                    self.pending.remove(1);
                    return;
                }
                _ => return,
            }
        }
        self.orphan_copy_end = true;
    }

    /// The server discards messages up to the next Sync.
    fn skip_to_sync(&mut self) {
        while let Some(p) = self.pending.pop_front() {
            if p.is_sync() {
                self.pending.push_front(p);
                break;
            }
            self.lost(&p, Parsed::Skipped);
        }
        self.skipping = self.pending.is_empty();
    }
}

#[cfg(test)]
mod tests;
