//! What the session's `softdel.show_deleted` is, followed from the
//! statements that set it and from the transaction status, as PostgreSQL
//! keeps it: a SET in a transaction block is undone if the block rolls
//! back, a SET LOCAL ends with its transaction.

use crate::protocol::TransactionStatus;
use crate::rewrite::setting::Change;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShowDeleted {
    /// The value outside any transaction.
    session: bool,
    /// Set by SET in the transaction block under way (kept if it commits).
    in_block: Option<bool>,
    /// Set by SET LOCAL, until the transaction ends.
    local: Option<bool>,
    /// The transaction under way was rolled back (a ROLLBACK's tag, or
    /// its failure).
    rolled_back: bool,
}

impl ShowDeleted {
    /// Whether the session sees deleted rows now.
    pub fn current(&self) -> bool {
        self.local.or(self.in_block).unwrap_or(self.session)
    }

    /// A statement changing the setting was sent; `status` is the
    /// transaction status it runs in (outside a block, a SET holds at once).
    pub fn change(&mut self, change: Change, status: Option<TransactionStatus>) {
        let in_block = status.is_some_and(|s| s != TransactionStatus::Idle);
        match change {
            Change::Session(value) if in_block => {
                self.in_block = Some(value);
                self.local = None;
            }
            Change::Session(value) => {
                self.session = value;
                self.local = None;
            }
            Change::Local(value) => self.local = Some(value),
            Change::Discard => *self = ShowDeleted::default(),
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
        match status {
            TransactionStatus::Idle => {
                if let (Some(value), false) = (self.in_block.take(), self.rolled_back) {
                    self.session = value;
                }
                self.local = None;
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

    #[test]
    fn session_values_hold_and_local_ones_end_with_the_transaction() {
        let mut s = ShowDeleted::default();
        s.change(Change::Session(true), Some(Idle));
        assert!(s.current());
        s.ready(Idle);
        assert!(s.current());
        s.change(Change::Local(false), Some(InTransaction));
        assert!(!s.current());
        s.ready(InTransaction);
        assert!(!s.current());
        s.completed(b"COMMIT");
        s.ready(Idle);
        assert!(s.current(), "SET LOCAL ended with its transaction");
        s.change(Change::Discard, Some(Idle));
        assert!(!s.current());
    }

    #[test]
    fn a_set_in_a_rolled_back_block_is_undone() {
        let mut s = ShowDeleted::default();
        s.change(Change::Session(true), Some(InTransaction));
        assert!(s.current());
        s.completed(b"ROLLBACK");
        s.ready(Idle);
        assert!(!s.current());
        s.change(Change::Session(true), Some(InTransaction));
        s.ready(Failed);
        s.completed(b"ROLLBACK");
        s.ready(Idle);
        assert!(!s.current());
        s.change(Change::Session(true), Some(InTransaction));
        s.completed(b"COMMIT");
        s.ready(Idle);
        assert!(s.current(), "committed");
    }
}
