//! The client side of rewriting: asks the engine about every Query and
//! Parse, sends the rewritten SQL instead when there is one, and tracks
//! which prepared statements and portals were rewritten, so that the rows
//! an Execute returns can be translated back (they come without a
//! description).

use std::collections::HashMap;
use std::sync::Arc;

use crate::protocol::{FrontendTag, Pipeline, Shape, codec};
use crate::rewrite::{Decision, Engine, Lexing, SessionInfo};

pub struct Intercept {
    engine: Arc<Engine>,
    info: SessionInfo,
    /// Rewritten prepared statements (by name; "" is the unnamed one) and
    /// the portals bound to them. Empty in sessions that never delete, so
    /// their Bind and Execute messages are not even read.
    statements: HashMap<Vec<u8>, Shape>,
    portals: HashMap<Vec<u8>, Shape>,
}

impl Intercept {
    pub fn new(engine: Arc<Engine>, info: SessionInfo) -> Intercept {
        Intercept {
            engine,
            info,
            statements: HashMap::new(),
            portals: HashMap::new(),
        }
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
    fn decide(&self, sql: &[u8], lexing: Lexing) -> Option<Arc<crate::rewrite::Rewrite>> {
        match self.engine.decide_bytes(sql, lexing) {
            Decision::Pass => None,
            Decision::Rewrite(rewrite) => {
                for action in &rewrite.actions {
                    tracing::debug!(%action, "statement rewritten");
                }
                Some(rewrite)
            }
        }
    }

    fn query(&self, frame: &[u8], lexing: Lexing) -> Option<Vec<u8>> {
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
