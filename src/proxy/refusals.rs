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
    /// would have refused: counted, notified, and recorded as
    /// `would_refuse` unless the guard journals it itself.
    pub fn would(&self, mut refused: Refused, guard_journals: bool) {
        self.metrics
            .observed(&refused.table, &format!("refuse_{}", refused.kind));
        // The refusal's own words say nothing was deleted; here the
        // statement ran.
        let said = refused
            .message
            .split("; nothing was")
            .next()
            .unwrap_or_default();
        refused.message = format!("sent as it is (mode: observe), would have been refused: {said}");
        if guard_journals {
            let attempt = self.attempt(refused, Action::WouldRefuse);
            self.notify(&attempt);
            tracing::warn!(
                table = %attempt.table,
                reason = %attempt.reason,
                "observe mode: {} (the guard journals it)",
                attempt.message
            );
        } else {
            self.write(refused, Action::WouldRefuse);
        }
    }

    fn write(&self, refused: Refused, action: Action) {
        let attempt = self.attempt(refused, action);
        self.notify(&attempt);
        self.recorder.record(attempt);
    }

    /// The session's record of `refused`.
    fn attempt(&self, refused: Refused, action: Action) -> BlockedAttempt {
        let mut attempt = self.who.clone();
        attempt.action = action;
        attempt.at_unix = BlockedAttempt::now_unix();
        attempt.table = refused.table;
        attempt.reason = refused.reason.to_owned();
        attempt.sqlstate = refused.sqlstate;
        attempt.message = refused.message;
        attempt.sql = refused.sql;
        attempt
    }

    fn notify(&self, attempt: &BlockedAttempt) {
        if let Some(webhook) = &self.webhook {
            webhook.notify(attempt);
        }
    }
}
