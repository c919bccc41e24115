//! The operator's console on the admin listener: its JSON API against a
//! real journal.

mod api;
