//! Putting softdel in front of production step by step: watching what it
//! would do first (`observe`), sessions it leaves alone (`exempt`), rules
//! per database behind one proxy, and softdel in front of a transaction
//! pooler (`pooled`).

mod databases;
mod exempt;
mod observe;
mod pooled;
