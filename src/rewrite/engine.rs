//! The engine a proxy holds: rules, the nonce that marks its rewrites, and
//! a cache of decisions.

use std::hash::{BuildHasher, Hasher};

use dashmap::DashMap;

use super::{Decision, Lexing, analyze, fallback, scan};
use crate::rules::Rules;

/// Distinct suspect texts kept; past this the cache starts over (an
/// application that inlines literals makes every text distinct).
const CACHE_CAPACITY: usize = 10_000;

/// How a decision was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// No destructive keyword: passed on a scan, never cached.
    Skipped,
    Hit,
    Miss,
}

pub struct Engine {
    rules: Rules,
    nonce: String,
    /// Decisions for suspect texts, one map per lexing mode.
    cache: [DashMap<Box<str>, Decision>; 2],
}

impl Engine {
    pub fn new(rules: Rules) -> Engine {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        Engine::with_nonce(rules, format!("{:016x}", hasher.finish()))
    }

    /// An engine with a fixed nonce (for tests and `softdel rewrite`).
    pub fn with_nonce(rules: Rules, nonce: String) -> Engine {
        Engine {
            rules,
            nonce,
            cache: [DashMap::new(), DashMap::new()],
        }
    }

    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// What to do with `sql`. Texts without a destructive keyword cost one
    /// scan; the others one parse per distinct text.
    pub fn decide(&self, sql: &str, lexing: Lexing) -> Decision {
        self.decide_traced(sql, lexing).0
    }

    /// `decide`, saying whether the cache answered.
    pub fn decide_traced(&self, sql: &str, lexing: Lexing) -> (Decision, Lookup) {
        if !scan(sql, lexing).any() {
            return (Decision::Pass, Lookup::Skipped);
        }
        let cache = &self.cache[usize::from(lexing.standard_conforming_strings)];
        if let Some(hit) = cache.get(sql) {
            return (hit.clone(), Lookup::Hit);
        }
        let decision = analyze::analyze(sql, lexing, &self.rules, &self.nonce);
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(sql.into(), decision.clone());
        (decision, Lookup::Miss)
    }

    /// What to do with SQL as it came off the wire. Text that is not UTF-8
    /// cannot be parsed: when it may destroy rows it follows
    /// `on_parse_error`.
    pub fn decide_bytes(&self, sql: &[u8], lexing: Lexing) -> Decision {
        self.decide_bytes_traced(sql, lexing).0
    }

    /// `decide_bytes`, saying whether the cache answered.
    pub fn decide_bytes_traced(&self, sql: &[u8], lexing: Lexing) -> (Decision, Lookup) {
        match std::str::from_utf8(sql) {
            Ok(sql) => self.decide_traced(sql, lexing),
            Err(_) => {
                let lossy = String::from_utf8_lossy(sql);
                if !scan(&lossy, lexing).any() {
                    return (Decision::Pass, Lookup::Skipped);
                }
                let decision = fallback::decide(&lossy, &self.rules, &self.nonce);
                (decision, Lookup::Miss)
            }
        }
    }

    /// The analysis without the cache (for benchmarks).
    pub fn analyze_uncached(&self, sql: &str, lexing: Lexing) -> Decision {
        analyze::analyze(sql, lexing, &self.rules, &self.nonce)
    }
}
