//! What the two directions of a session know of each other: each one's
//! step reads and updates it, under one lock (see `relay`).

use super::examined::Examined;
use super::show_deleted::ShowDeleted;
use super::translate::Refused;
use crate::protocol::Pipeline;
use crate::rewrite::Lexing;

#[derive(Debug, Default)]
pub struct Between {
    /// What the server still owes the client, and for which statements.
    pub pipeline: Pipeline<Examined>,
    /// How the client's SQL is read: the server's
    /// `standard_conforming_strings`, as it last reported it.
    pub lexing: Lexing,
    /// A statement was rewritten: from then on, the server's answers are
    /// translated.
    pub rewritten: bool,
    /// The session's `softdel.show_deleted`, followed from its statements
    /// and the server's transaction status.
    pub show_deleted: ShowDeleted,
    /// Refusals softdel would have made under observed rules, seen by the
    /// client side, for the server side to count, notify and (when the
    /// guard does not journal them: `false`) record; it knows the
    /// session's application name as the server reports it.
    pub observed: Vec<(Refused, bool)>,
}
