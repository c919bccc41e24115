//! Putting softdel in front of production step by step: sessions it
//! leaves alone (`exempt`), and rules per database behind one proxy.

mod databases;
mod exempt;
mod observe;
