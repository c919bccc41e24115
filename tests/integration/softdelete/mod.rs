//! The soft-delete engine through the proxy: soft, journal and block
//! tables, refusals, the journal, in both protocols.

mod clients;
mod extended;
mod journal;
mod refusals;
pub mod shop;
mod simple;
