//! What the session's `softdel.show_deleted` is, followed from the
//! statements that set it and from the transaction status, as PostgreSQL
//! keeps it: a SET in a transaction block is undone if the block rolls
//! back, a SET LOCAL ends with its transaction.
//!
//! Requests are pipelined: the ReadyForQuery that ends a transaction may
//! answer a request sent before the SET. Each change is numbered by the
//! request that carries it (a Query, or the Sync after a Parse) and only
//! a ReadyForQuery answering that request or a later one ends it.

use crate::protocol::TransactionStatus;
use crate::rewrite::setting::Change;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShowDeleted {
    /// The value outside any transaction.
    session: bool,
    /// Set by SET in the transaction block under way (kept if it commits),
    /// and the request that carries it.
    in_block: Option<(bool, u64)>,
    /// Set by SET LOCAL, until the transaction ends.
    local: Option<(bool, u64)>,
    /// Requests answered by ReadyForQuery (Query, Sync) sent, and answered.
    sent: u64,
    answered: u64,
    /// The transaction under way was rolled back (a ROLLBACK's tag, or
    /// its failure).
    rolled_back: bool,
}

impl ShowDeleted {
    /// Whether the session sees deleted rows now.
    pub fn current(&self) -> bool {
        self.local
            .or(self.in_block)
            .map_or(self.session, |(value, _)| value)
    }

    /// A Query or a Sync went to the server.
    pub fn request(&mut self) {
        self.sent += 1;
    }

    /// A statement changing the setting was sent, in a transaction block
    /// or not (outside one, a SET holds at once).
    pub fn change(&mut self, change: Change, in_block: bool) {
        // Answered by the next ReadyForQuery not yet owed.
        let at = self.sent + 1;
        match change {
            Change::Session(value) if in_block => {
                self.in_block = Some((value, at));
                self.local = None;
            }
            Change::Session(value) => {
                self.session = value;
                self.local = None;
            }
            Change::Local(value) => self.local = Some((value, at)),
            Change::Discard => {
                self.session = false;
                self.in_block = None;
                self.local = None;
            }
        }
    }

    /// A CommandComplete with this tag.
    pub fn completed(&mut self, tag: &[u8]) {
        if tag.starts_with(b"ROLLBACK") {
            self.rolled_back = true;
        }
    }

    /// A ReadyForQuery: at the end of a transaction what it set is kept
    /// (committed) or dropped (rolled back), and SET LOCAL ends.
    pub fn ready(&mut self, status: TransactionStatus) {
        self.answered += 1;
        let answered = self.answered;
        let ended = |change: Option<(bool, u64)>| change.filter(|&(_, at)| at <= answered);
        match status {
            TransactionStatus::Idle => {
                if let Some((value, _)) = ended(self.in_block) {
                    if !self.rolled_back {
                        self.session = value;
                    }
                    self.in_block = None;
                }
                if ended(self.local).is_some() {
                    self.local = None;
                }
                self.rolled_back = false;
            }
            TransactionStatus::Failed => self.rolled_back = true,
            // `ROLLBACK TO SAVEPOINT` also says ROLLBACK; the block goes on.
            TransactionStatus::InTransaction => self.rolled_back = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TransactionStatus::{Failed, Idle, InTransaction};

    /// Sends a request carrying `change` and gets its ReadyForQuery.
    fn round(s: &mut ShowDeleted, change: Option<Change>, status: TransactionStatus) {
        if let Some(change) = change {
            s.change(change, status != Idle);
        }
        s.request();
        s.ready(status);
    }

    #[test]
    fn a_ready_for_query_owed_from_before_the_set_does_not_end_it() {
        let mut s = ShowDeleted::default();
        s.request(); // an earlier Sync, not answered yet
        s.change(Change::Local(true), false);
        s.request();
        s.ready(Idle); // the earlier Sync's
        assert!(s.current());
        s.ready(InTransaction);
        assert!(s.current());
        round(&mut s, None, Idle);
        assert!(!s.current());
    }

    #[test]
    fn session_values_hold_and_local_ones_end_with_the_transaction() {
        let mut s = ShowDeleted::default();
        round(&mut s, Some(Change::Session(true)), Idle);
        assert!(s.current());
        round(&mut s, Some(Change::Local(false)), InTransaction);
        assert!(!s.current());
        s.completed(b"COMMIT");
        round(&mut s, None, Idle);
        assert!(s.current(), "SET LOCAL ended with its transaction");
        round(&mut s, Some(Change::Discard), Idle);
        assert!(!s.current());
    }

    #[test]
    fn a_set_in_a_rolled_back_block_is_undone() {
        let mut s = ShowDeleted::default();
        round(&mut s, Some(Change::Session(true)), InTransaction);
        assert!(s.current());
        s.completed(b"ROLLBACK");
        round(&mut s, None, Idle);
        assert!(!s.current());
        round(&mut s, Some(Change::Session(true)), InTransaction);
        round(&mut s, None, Failed);
        s.completed(b"ROLLBACK");
        round(&mut s, None, Idle);
        assert!(!s.current());
        round(&mut s, Some(Change::Session(true)), InTransaction);
        s.completed(b"COMMIT");
        round(&mut s, None, Idle);
        assert!(s.current(), "committed");
    }
}
