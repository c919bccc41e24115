//! The engine a proxy holds: rules, the nonce that marks its rewrites, and
//! a cache of decisions.

use std::hash::{BuildHasher, Hasher};

use dashmap::DashMap;

use super::names::Names;
use super::scan::{Suspects, may_name_keyword, scan_with};
use super::shaped::{self, Shaped};
use super::{Decision, Lexing, analyze, fallback};
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
    /// The folded names of the tables whose deleted rows are hidden, for
    /// the scan.
    hidden: Names,
    /// Decisions for suspect texts, one map per lexing mode and
    /// `softdel.show_deleted` setting.
    cache: [DashMap<Box<str>, Decision>; 4],
    /// The same, for texts that differ only in their literals, by shape
    /// (see `shaped`).
    shapes: [DashMap<Box<str>, shaped::Entry>; 4],
}

/// What a session contributes to the decision on a text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct View {
    pub lexing: Lexing,
    /// `SET softdel.show_deleted = on`: nothing is hidden.
    pub show_deleted: bool,
}

impl From<Lexing> for View {
    fn from(lexing: Lexing) -> View {
        View {
            lexing,
            show_deleted: false,
        }
    }
}

impl View {
    fn slot(self) -> usize {
        usize::from(self.lexing.standard_conforming_strings) * 2 + usize::from(self.show_deleted)
    }
}

/// A nonce no client can guess (see `Engine::with_nonce`).
pub fn fresh_nonce() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:016x}", hasher.finish())
}

impl Engine {
    pub fn new(rules: Rules) -> Engine {
        Engine::with_nonce(rules, fresh_nonce())
    }

    /// An engine with a fixed nonce (for tests and `softdel rewrite`).
    pub fn with_nonce(rules: Rules, nonce: String) -> Engine {
        let hidden = Names::new(rules.hidden().map(|r| r.table.name.as_str().into()));
        Engine {
            rules,
            nonce,
            hidden,
            cache: Default::default(),
            shapes: Default::default(),
        }
    }

    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// What to do with `sql`. Texts without a destructive keyword or a
    /// hidden table's name cost one scan; the others one parse per
    /// distinct text.
    pub fn decide(&self, sql: &str, view: impl Into<View>) -> Decision {
        self.decide_traced(sql, view).0
    }

    /// Whether `sql` is worth parsing under `view`: it may destroy rows,
    /// or read a table whose deleted rows the session does not see.
    pub fn suspect(&self, sql: &str, view: impl Into<View>) -> bool {
        self.scan(sql, view.into()).worth_parsing()
    }

    fn scan(&self, sql: &str, view: View) -> Suspects {
        scan_with(sql, view.lexing, self.hidden(view))
    }

    /// The names the scan looks for under `view`: none while deleted
    /// rows show.
    fn hidden(&self, view: View) -> &Names {
        static NOTHING: Names = Names::EMPTY;
        if view.show_deleted {
            &NOTHING
        } else {
            &self.hidden
        }
    }

    /// The decision for a text from its shape's, when the shape's rewrite
    /// only hides (the shape is decided the first time it is seen).
    fn shape(&self, shaped: &Shaped, view: View) -> Option<(Decision, Lookup)> {
        let shapes = &self.shapes[view.slot()];
        if let Some(entry) = shapes.get(shaped.key.as_str()) {
            return entry.as_ref().map(|cut| (shaped.decide(cut), Lookup::Hit));
        }
        let entry = shaped.entry(&self.analyze_uncached(&shaped.key, view), view.lexing);
        if shapes.len() >= CACHE_CAPACITY {
            shapes.clear();
        }
        shapes.insert(shaped.key.as_str().into(), entry.clone());
        entry.map(|cut| (shaped.decide(&cut), Lookup::Miss))
    }

    /// `decide`, saying whether the cache answered.
    pub fn decide_traced(&self, sql: &str, view: impl Into<View>) -> (Decision, Lookup) {
        let view = view.into();
        let suspects = self.scan(sql, view);
        if !suspects.worth_parsing() {
            return (Decision::Pass, Lookup::Skipped);
        }
        let cache = &self.cache[view.slot()];
        if let Some(hit) = cache.get(sql) {
            return (hit.clone(), Lookup::Hit);
        }
        // Only hiding is shared between texts of one shape: a text that
        // may destroy rows is decided on its own.
        if !suspects.any()
            && let Some(shaped) = Shaped::of(sql, view.lexing)
            && let Some(found) = self.shape(&shaped, view)
        {
            return found;
        }
        let decision = self.analyze_uncached(sql, view);
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(sql.into(), decision.clone());
        (decision, Lookup::Miss)
    }

    /// What to do with SQL as it came off the wire. Text that is not UTF-8
    /// cannot be parsed: when it may destroy rows it follows
    /// `on_parse_error`.
    pub fn decide_bytes(&self, sql: &[u8], view: impl Into<View>) -> Decision {
        self.decide_bytes_traced(sql, view).0
    }

    /// `decide_bytes`, saying whether the cache answered.
    pub fn decide_bytes_traced(&self, sql: &[u8], view: impl Into<View>) -> (Decision, Lookup) {
        let view = view.into();
        // Most texts pass on their bytes alone, before their UTF-8 is
        // checked: the test reads only ASCII, which a lossy conversion
        // keeps as it is.
        if self.hidden(view).is_empty() && !may_name_keyword(sql) {
            return (Decision::Pass, Lookup::Skipped);
        }
        match std::str::from_utf8(sql) {
            Ok(sql) => self.decide_traced(sql, view),
            Err(_) => {
                let lossy = String::from_utf8_lossy(sql);
                if !scan_with(&lossy, view.lexing, &Names::default()).any() {
                    return (Decision::Pass, Lookup::Skipped);
                }
                let decision = fallback::decide(&lossy, &self.rules, &self.nonce);
                (decision, Lookup::Miss)
            }
        }
    }

    /// The analysis without the cache (for benchmarks).
    pub fn analyze_uncached(&self, sql: &str, view: impl Into<View>) -> Decision {
        let view = view.into();
        let hide = !view.show_deleted && !self.hidden.is_empty();
        analyze::analyze(sql, view.lexing, &self.rules, &self.nonce, hide)
    }
}
