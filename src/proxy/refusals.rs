//! Refused statements, as the session reports them: counted in the
//! metrics and recorded with who sent them.

use std::sync::Arc;

use super::translate::Refused;
use crate::journal::{Action, BlockedAttempt, Recorder};
use crate::metrics::Metrics;
use crate::webhook::Webhook;

pub struct Refusals {
    pub recorder: Recorder,
    pub webhook: Option<Webhook>,
    pub metrics: Arc<Metrics>,
    /// The session, as refusals are recorded (the SQL and reason are
    /// filled in per refusal).
    pub who: BlockedAttempt,
}

impl Refusals {
    /// The application's name changed (the server reported a new one).
    pub fn application_name(&mut self, name: &[u8]) {
        self.who.application_name = String::from_utf8_lossy(name).into_owned();
    }

    pub fn record(&self, refused: Refused) {
        self.metrics.refused(&refused.table, refused.kind);
        self.write(refused, Action::Blocked);
    }

    /// A statement sent as it is under an observed rule, which softdel
    /// would have refused: recorded as `would_refuse`.
    pub fn would(&self, mut refused: Refused) {
        // A limit is counted here, once the tag showed it; the refusals
        // decided before the statement ran were counted then.
        if refused.kind == "limit" {
            self.metrics.observed(&refused.table, "refuse_limit");
        }
        // The refusal's own words say nothing was deleted; here the
        // statement ran.
        let said = refused
            .message
            .split("; nothing was")
            .next()
            .unwrap_or_default();
        refused.message = format!("sent as it is (mode: observe), would have been refused: {said}");
        self.write(refused, Action::WouldRefuse);
    }

    fn write(&self, refused: Refused, action: Action) {
        let mut attempt = self.who.clone();
        attempt.action = action;
        attempt.at_unix = BlockedAttempt::now_unix();
        attempt.table = refused.table;
        attempt.reason = refused.reason.to_owned();
        attempt.sqlstate = refused.sqlstate;
        attempt.message = refused.message;
        attempt.sql = refused.sql;
        if let Some(webhook) = &self.webhook {
            webhook.notify(&attempt);
        }
        self.recorder.record(attempt);
    }
}
