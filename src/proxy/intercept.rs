//! The client side of rewriting: asks the engine about every Query and
//! Parse, sends the rewritten SQL instead when there is one, and tracks
//! which prepared statements and portals were rewritten, so that the rows
//! an Execute returns can be translated back (they come without a
//! description).

use std::collections::HashMap;
use std::sync::Arc;

use super::reload::LiveEngine;
use crate::metrics::Metrics;
use crate::protocol::{FrontendTag, Pipeline, Shape, codec};
use crate::rewrite::{Action, Decision, Engine, Lexing, Lookup, SessionInfo};

pub struct Intercept {
    live: Arc<LiveEngine>,
    /// The engine in use, and the generation it was taken at: a new one is
    /// taken before the first statement after the rules change.
    engine: Arc<Engine>,
    generation: u64,
    metrics: Arc<Metrics>,
    info: SessionInfo,
    /// Rewritten prepared statements (by name; "" is the unnamed one) and
    /// the portals bound to them. Empty in sessions that never delete, so
    /// their Bind and Execute messages are not even read.
    statements: HashMap<Vec<u8>, Shape>,
    portals: HashMap<Vec<u8>, Shape>,
}

impl Intercept {
    pub fn new(live: Arc<LiveEngine>, metrics: Arc<Metrics>, info: SessionInfo) -> Intercept {
        Intercept {
            generation: live.generation(),
            engine: live.current(),
            live,
            metrics,
            info,
            statements: HashMap::new(),
            portals: HashMap::new(),
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Records a client message in `pipeline` and returns the bytes to send
    /// instead of it, if any. `rewrote` is set when a statement is
    /// rewritten (the server side then starts translating).
    pub fn client_frame(
        &mut self,
        tag: FrontendTag,
        frame: &[u8],
        lexing: Lexing,
        pipeline: &mut Pipeline,
    ) -> Option<Vec<u8>> {
        if matches!(tag, FrontendTag::Query | FrontendTag::Execute) {
            self.metrics.statement();
        }
        if tag == FrontendTag::Execute {
            let shape = self.execute_shape(frame);
            pipeline.client_execute(shape);
            return None;
        }
        pipeline.client_message(tag);
        match tag {
            FrontendTag::Query => self.query(frame, lexing),
            FrontendTag::Parse => self.parse(frame, lexing),
            FrontendTag::Bind => self.bind(frame),
            FrontendTag::Close => {
                self.close(frame);
                None
            }
            _ => None,
        }
    }

    /// The engine's rewrite of `sql`, if it has one.
    fn decide(&mut self, sql: &[u8], lexing: Lexing) -> Option<Arc<crate::rewrite::Rewrite>> {
        let generation = self.live.generation();
        if generation != self.generation {
            self.engine = self.live.current();
            self.generation = generation;
        }
        let (decision, lookup) = self.engine.decide_bytes_traced(sql, lexing);
        if lookup != Lookup::Skipped {
            self.metrics.cache(lookup == Lookup::Hit);
        }
        match decision {
            Decision::Pass => None,
            Decision::Rewrite(rewrite) => {
                for action in &rewrite.actions {
                    if let Some((table, name)) = counted(action) {
                        self.metrics.decision(table, name);
                    }
                    tracing::debug!(%action, "statement rewritten");
                }
                if rewrite.shape == Some(Shape::DropLast) {
                    log_returning(&rewrite.actions);
                }
                Some(rewrite)
            }
        }
    }

    fn query(&mut self, frame: &[u8], lexing: Lexing) -> Option<Vec<u8>> {
        let rewrite = self.decide(codec::query_sql(frame)?, lexing)?;
        Some(codec::query(&rewrite.template.render(&self.info)))
    }

    fn parse(&mut self, frame: &[u8], lexing: Lexing) -> Option<Vec<u8>> {
        let fields = codec::parse_fields(frame)?;
        let Some(rewrite) = self.decide(fields.sql, lexing) else {
            if !self.statements.is_empty() {
                self.statements.remove(fields.name);
            }
            return None;
        };
        match rewrite.shape {
            Some(shape) => self.statements.insert(fields.name.to_vec(), shape),
            None => self.statements.remove(fields.name),
        };
        Some(codec::parse_with_sql(
            &fields,
            &rewrite.template.render(&self.info),
        ))
    }

    fn bind(&mut self, frame: &[u8]) -> Option<Vec<u8>> {
        if self.statements.is_empty() && self.portals.is_empty() {
            return None;
        }
        let (portal, statement) = codec::bind_names(frame)?;
        match self.statements.get(statement).copied() {
            Some(shape) => {
                self.portals.insert(portal.to_vec(), shape);
                // The client asks for formats for its columns; the
                // rewritten statement has one more.
                (shape == Shape::DropLast)
                    .then(|| codec::bind_with_extra_column(frame))
                    .flatten()
            }
            None => {
                self.portals.remove(portal);
                None
            }
        }
    }

    fn execute_shape(&self, frame: &[u8]) -> Option<Shape> {
        if self.portals.is_empty() {
            return None;
        }
        self.portals.get(codec::execute_portal(frame)?).copied()
    }

    fn close(&mut self, frame: &[u8]) {
        if self.statements.is_empty() && self.portals.is_empty() {
            return;
        }
        match codec::target(frame) {
            Some((b'S', name)) => self.statements.remove(name),
            Some((b'P', name)) => self.portals.remove(name),
            _ => None,
        };
    }
}

/// The table and name a decision is counted under; refusals are counted
/// when the client is refused (see `relay`), which for most of them is
/// decided by the server.
fn counted(action: &Action) -> Option<(&str, &'static str)> {
    match action {
        Action::SoftDelete { table, .. } => Some((table, "soft")),
        Action::JournalDelete { table, .. } => Some((table, "journal")),
        Action::LimitOnly { table, .. } => Some((table, "limit")),
        Action::BlockUnlessEmpty { table } => Some((table, "block")),
        Action::Refuse(_) => None,
    }
}

/// A journaled `DELETE ... RETURNING` returns the client's rows, with no
/// room for the journal id that a plain DELETE's count carries back (see
/// `translate`): its line is written when it is rewritten, without one.
fn log_returning(actions: &[Action]) {
    for action in actions {
        let (table, name) = match action {
            Action::SoftDelete { table, .. } => (table, "soft_delete"),
            Action::JournalDelete { table, .. } => (table, "journal_delete"),
            _ => continue,
        };
        tracing::info!(
            action = name,
            %table,
            "delete with RETURNING rewritten (journal id not reported: see softdel log)"
        );
    }
}
