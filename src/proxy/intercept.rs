//! The client side of rewriting: asks the engine about every Query and
//! Parse, sends the rewritten SQL instead when there is one, and tracks
//! which prepared statements and portals were rewritten, so that the rows
//! an Execute returns can be translated back (they come without a
//! description).

use std::collections::HashMap;
use std::sync::Arc;

use super::between::Between;
use super::examined::Examined;
use super::policy::SessionKey;
use super::reload::LiveEngine;
use super::show_deleted::ShowDeleted;
use super::statements::{Prepared, STALE, Statements};
use super::translate::{EXTRA_COLUMNS, Refused};
use crate::metrics::Metrics;
use crate::protocol::{
    ClientFrame, ClientMessage, FrontendTag, ParseFields, Pipeline, Target, TransactionStatus,
    codec,
};
use crate::rewrite::{
    Action, Decision, Engine, Lookup, PreparedUse, Reason, SessionInfo, Shape, View, Would,
    may_use_prepared, prepared_uses, setting,
};

pub struct Intercept {
    live: Arc<LiveEngine>,
    /// Whose statements these are: which of the rules' engines decides.
    session: SessionKey,
    /// The engine in use, and the generation it was taken at: a new one is
    /// taken before the first statement after the rules change.
    engine: Arc<Engine>,
    generation: u64,
    metrics: Arc<Metrics>,
    info: SessionInfo,
    /// Prepared statements (by name; "" is the unnamed one) whose text has
    /// a destructive keyword, and the portals bound to them. Empty in
    /// sessions that never delete, so their Bind and Execute messages are
    /// not even read.
    statements: Statements,
    portals: HashMap<Vec<u8>, Arc<Examined>>,
    /// SQL-level prepared statements (`PREPARE name AS DELETE ...`) that
    /// were rewritten, by folded name: what `EXECUTE name` returns is
    /// translated like the DELETE's result.
    sql_prepared: HashMap<String, Shape>,
}

/// A decision on one text, as the session uses it.
struct Decided {
    /// The SQL to send instead of the client's, if any.
    rewritten: Option<String>,
    /// Only observed rules (`mode: observe`) concern it: the client's own
    /// bytes go, and its answers are followed all the same.
    observed: bool,
    /// What the proxy knows of the text, when it may destroy rows or
    /// executes a statement prepared from one; `None` for the rest.
    examined: Option<Arc<Examined>>,
}

impl Intercept {
    pub fn new(
        live: Arc<LiveEngine>,
        session: SessionKey,
        metrics: Arc<Metrics>,
        info: SessionInfo,
    ) -> Intercept {
        Intercept {
            generation: live.generation(),
            engine: Arc::clone(live.current().for_session(&session)),
            session,
            live,
            metrics,
            info,
            statements: Statements::default(),
            portals: HashMap::new(),
            sql_prepared: HashMap::new(),
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Records a client message in the session's pipeline and returns the
    /// bytes to send instead of it, if any (the same bytes, for a text only
    /// observed rules concern: its answers are to be followed).
    pub fn client_frame(
        &mut self,
        frame: &ClientFrame<'_>,
        between: &mut Between,
    ) -> Option<Vec<u8>> {
        let view = View {
            lexing: between.lexing,
            show_deleted: between.show_deleted.current(),
        };
        let show = &mut between.show_deleted;
        let pipeline = &mut between.pipeline;
        self.statements.settle(pipeline.take_parsed());
        let observed = &mut between.observed;
        match &frame.message {
            ClientMessage::Query { sql } => {
                self.metrics.statement();
                let out = self.query(frame.bytes, sql, view, pipeline, observed);
                follow_setting(sql, show, pipeline);
                out
            }
            ClientMessage::Execute { portal } => {
                self.metrics.statement();
                pipeline.client_execute(self.execute_examined(portal));
                None
            }
            // It may be prepared again first.
            ClientMessage::Bind { portal, statement } => {
                self.bind(frame.bytes, (portal, statement), view, pipeline)
            }
            ClientMessage::Parse(fields) => {
                let out = self.parse(frame.bytes, fields, view, observed, pipeline);
                follow_setting(fields.sql, show, pipeline);
                out
            }
            ClientMessage::Close(target) => {
                pipeline.client_message(frame.tag);
                self.close(target);
                None
            }
            ClientMessage::Other => {
                if frame.tag == FrontendTag::Query {
                    // Unreadable: the server answers it, with an error.
                    self.metrics.statement();
                    pipeline.client_query(None);
                } else {
                    pipeline.client_message(frame.tag);
                }
                None
            }
        }
    }

    /// The engine's decision on `sql`, under the rules in force now; what
    /// it would have refused under observed rules goes to `observed`.
    fn decide(&mut self, sql: &[u8], view: View, observed: &mut Vec<(Refused, bool)>) -> Decided {
        let generation = self.live.generation();
        if generation != self.generation {
            self.engine = Arc::clone(self.live.current().for_session(&self.session));
            self.generation = generation;
        }
        let (decision, lookup) = self.engine.decide_bytes_traced(sql, view);
        let mut suspect = lookup != Lookup::Skipped;
        // A statement prepared while deleted rows show is followed too:
        // it is prepared again, hiding them, once they no longer show.
        if !suspect && view.show_deleted {
            let hiding = View::from(view.lexing);
            suspect = std::str::from_utf8(sql).is_ok_and(|t| self.engine.suspect(t, hiding));
        }
        if suspect {
            self.metrics.cache(lookup == Lookup::Hit);
        }
        let mut shapes = Vec::new();
        let mut rewritten = None;
        let mut only_observed = false;
        let mut prepared: &[(String, Shape)] = &[];
        if let Decision::Rewrite(rewrite) = &decision {
            for action in &rewrite.actions {
                match action {
                    Action::Would(would) => self.observe(would, observed),
                    action => {
                        if let Some((table, name)) = counted(action) {
                            self.metrics.decision(table, name);
                        }
                        tracing::debug!(%action, "statement rewritten");
                    }
                }
            }
            only_observed = rewrite.actions.iter().all(Action::observes);
            if !only_observed {
                rewritten = Some(rewrite.template.render(&self.info));
            }
            shapes.clone_from(&rewrite.shapes);
            prepared = &rewrite.prepared;
        }
        let executes = self.follow_sql_prepared(sql, prepared, &mut shapes);
        let examined = (suspect || executes).then(|| {
            Arc::new(Examined {
                sql: String::from_utf8_lossy(sql).into(),
                shapes,
            })
        });
        Decided {
            rewritten,
            observed: only_observed,
            examined,
        }
    }

    /// A statement sent as it is under an observed rule: logged and
    /// counted. A refusal decided before it runs goes to the server side
    /// (see `Between::observed`), to be counted and notified once the
    /// statement is answered; the proxy records it only when the guard
    /// cannot (a statement softdel cannot analyse).
    fn observe(&self, would: &Would, observed: &mut Vec<(Refused, bool)>) {
        match would {
            Would::Guard { table, mode } => self.metrics.observed(table, mode),
            // Counted once the tag shows it removed more.
            Would::Limit { .. } => {}
            Would::Refuse(refusal) => {
                let guard_journals = refusal.reason != Reason::Unanalysable;
                observed.push((Refused::from_refusal(refusal.clone()), guard_journals));
            }
        }
        tracing::info!(%would, "observe mode: statement sent as it is");
    }

    /// Keeps `sql_prepared` up to date with what `sql` prepares,
    /// deallocates and executes; gives each statement that executes one of
    /// them its shape. Returns whether any does.
    fn follow_sql_prepared(
        &mut self,
        sql: &[u8],
        prepared: &[(String, Shape)],
        shapes: &mut Vec<Option<Shape>>,
    ) -> bool {
        // Most sessions prepare nothing in SQL: there is nothing to follow,
        // and their texts are not even checked for UTF-8 here.
        if self.sql_prepared.is_empty() && prepared.is_empty() {
            return false;
        }
        let mut executes = false;
        let text = if self.sql_prepared.is_empty() {
            None
        } else {
            std::str::from_utf8(sql).ok()
        };
        let uses = text.filter(|t| may_use_prepared(t)).and_then(prepared_uses);
        for (index, used) in uses.into_iter().flatten().enumerate() {
            match used {
                PreparedUse::Execute(name) => {
                    if let Some(shape) = self.sql_prepared.get(&name) {
                        if shapes.len() <= index {
                            shapes.resize(index + 1, None);
                        }
                        shapes[index] = Some(shape.clone());
                        executes = true;
                    }
                }
                PreparedUse::Deallocate(name) | PreparedUse::Prepare(name) => {
                    self.sql_prepared.remove(&name);
                }
                PreparedUse::DeallocateAll => self.sql_prepared.clear(),
                PreparedUse::None => {}
            }
        }
        for (name, shape) in prepared {
            self.sql_prepared.insert(name.clone(), shape.clone());
        }
        executes
    }

    fn query(
        &mut self,
        frame: &[u8],
        sql: &[u8],
        view: View,
        pipeline: &mut Pipeline<Examined>,
        observed: &mut Vec<(Refused, bool)>,
    ) -> Option<Vec<u8>> {
        // A simple Query destroys the unnamed statement.
        if !self.statements.is_empty() {
            self.statements.close(b"");
        }
        let decided = self.decide(sql, view, observed);
        pipeline.client_query(decided.examined);
        if decided.observed {
            return Some(frame.to_vec());
        }
        Some(codec::query(&decided.rewritten?))
    }

    fn parse(
        &mut self,
        frame: &[u8],
        fields: &ParseFields<'_>,
        view: View,
        observed: &mut Vec<(Refused, bool)>,
        pipeline: &mut Pipeline<Examined>,
    ) -> Option<Vec<u8>> {
        let decided = self.decide(fields.sql, view, observed);
        let Some(examined) = decided.examined else {
            self.statements.parse(fields.name, None, pipeline);
            return None;
        };
        let replacement = match &decided.rewritten {
            Some(sql) => Some(codec::parse_with_sql(fields, sql)),
            None => decided.observed.then(|| frame.to_vec()),
        };
        let prepared = Prepared {
            parse: frame.to_vec(),
            generation: self.generation,
            shown: view.show_deleted,
            sent: decided.rewritten,
            examined,
        };
        self.statements.parse(fields.name, Some(prepared), pipeline);
        replacement
    }

    fn bind(
        &mut self,
        frame: &[u8],
        (portal, statement): (&[u8], &[u8]),
        view: View,
        pipeline: &mut Pipeline<Examined>,
    ) -> Option<Vec<u8>> {
        if self.statements.is_empty() && self.portals.is_empty() {
            pipeline.client_message(FrontendTag::Bind);
            return None;
        }
        if pipeline.take_injection_lost() {
            for prepared in self.statements.values_mut() {
                prepared.generation = STALE;
            }
        }
        let again = self.refresh(statement, view);
        if again.is_some() {
            pipeline.proxy_message(FrontendTag::Close);
            pipeline.proxy_message(FrontendTag::Parse);
        }
        pipeline.client_message(FrontendTag::Bind);
        let examined = self
            .statements
            .get(statement)
            .map(|p| Arc::clone(&p.examined));
        let bind = match examined {
            Some(examined) => {
                // The client asks for formats for its columns; the
                // rewritten statement has more.
                let extra = examined.shape(0) == Some(&Shape::Returning);
                self.portals.insert(portal.to_vec(), examined);
                extra
                    .then(|| codec::bind_with_extra_columns(frame, EXTRA_COLUMNS))
                    .flatten()
            }
            None => {
                self.portals.remove(portal);
                None
            }
        };
        let Some(mut again) = again else {
            return bind;
        };
        again.extend_from_slice(bind.as_deref().unwrap_or(frame));
        Some(again)
    }

    /// Brings `statement` up to the rules in force: when they have changed
    /// since it was prepared and decide its text differently, returns the
    /// Close and Parse that prepare it again (the server's answers to
    /// them are dropped), to go ahead of the Bind. A statement already
    /// prepared never runs under old rules: a DELETE on a table the new
    /// rules protect is soft from its next execution. The same holds when
    /// the session's `softdel.show_deleted` changed.
    fn refresh(&mut self, statement: &[u8], view: View) -> Option<Vec<u8>> {
        let generation = self.live.generation();
        let prepared = self.statements.get(statement)?;
        if prepared.generation == generation && prepared.shown == view.show_deleted {
            return None;
        }
        let parse = prepared.parse.clone();
        let ClientMessage::Parse(fields) = ClientFrame::decode(FrontendTag::Parse, &parse).message
        else {
            return None;
        };
        // Observed refusals were recorded when it was first prepared.
        let decided = self.decide(fields.sql, view, &mut Vec::new());
        let sent = decided.rewritten;
        let examined = decided.examined?;
        let prepared = self.statements.get_mut(statement)?;
        let same = prepared.generation != STALE && prepared.sent == sent;
        let mut again = None;
        if !same {
            let mut bytes = codec::close_statement(statement);
            bytes.extend_from_slice(&match &sent {
                Some(sql) => codec::parse_with_sql(&fields, sql),
                None => parse.clone(),
            });
            self.metrics.reprepared();
            tracing::debug!(
                statement = %String::from_utf8_lossy(statement),
                "prepared again under the new rules"
            );
            again = Some(bytes);
        }
        *prepared = Prepared {
            generation: self.generation,
            shown: view.show_deleted,
            sent,
            examined,
            parse,
        };
        again
    }

    fn execute_examined(&self, portal: &[u8]) -> Option<Arc<Examined>> {
        self.portals.get(portal).cloned()
    }

    fn close(&mut self, target: &Target<'_>) {
        match target {
            Target::Statement(name) => self.statements.close(name),
            Target::Portal(name) => drop(self.portals.remove(*name)),
        }
    }
}

/// Follows what `sql` does to the session's `softdel.show_deleted` (from
/// the next message on), in the transaction it is sent in.
fn follow_setting(sql: &[u8], show: &mut ShowDeleted, pipeline: &Pipeline<Examined>) {
    if !setting::may_change(sql, show.current()) {
        return;
    }
    let Ok(text) = std::str::from_utf8(sql) else {
        return;
    };
    let in_block = pipeline
        .status()
        .is_some_and(|s| s != TransactionStatus::Idle);
    for (change, begun) in setting::changes(text) {
        show.change(change, in_block || begun);
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
        Action::Refuse(_) | Action::Hide { .. } | Action::Would(_) => None,
    }
}
