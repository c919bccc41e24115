//! The rewrite engine: pure functions from SQL text and rules to a
//! decision. No sockets, no IO.
//!
//! So far: the fast path that tells statements which cannot destroy rows
//! from those that must be analysed.

mod scan;

pub use scan::{Lexing, Suspects, scan};
