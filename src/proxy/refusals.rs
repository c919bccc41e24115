//! Refused statements, as the session reports them: counted in the
//! metrics and recorded with who sent them.

use std::sync::Arc;

use super::translate::Refused;
use crate::journal::{BlockedAttempt, Recorder};
use crate::metrics::Metrics;

pub struct Refusals {
    pub recorder: Recorder,
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
        let mut attempt = self.who.clone();
        attempt.at_unix = BlockedAttempt::now_unix();
        attempt.table = refused.table;
        attempt.reason = refused.reason.to_owned();
        attempt.sqlstate = refused.sqlstate;
        attempt.message = refused.message;
        attempt.sql = refused.sql;
        self.recorder.record(attempt);
    }
}
