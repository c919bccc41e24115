//! Putting softdel in front of production step by step: sessions it
//! leaves alone (`exempt`), rules per database behind one proxy, and
//! softdel in front of a transaction pooler (`pooled`).

mod databases;
mod exempt;
mod pooled;
