//! The client-to-server direction, without IO: given the bytes received
//! so far, which complete messages go on, and what is sent instead of the
//! ones that are rewritten.

use std::time::Instant;

use super::between::Between;
use super::intercept::Intercept;
use super::spliced::Spliced;
use crate::metrics::Metrics;
use crate::protocol::{FrontendTag, ProtocolError, next_client_frame};

pub struct FromClient {
    intercept: Intercept,
}

/// The complete client messages at the front of a buffer.
#[derive(Debug, Default)]
pub struct ClientStep {
    /// How many bytes they span.
    pub end: usize,
    /// A Terminate is among them (and ends them).
    pub terminated: bool,
    /// The bytes after them can never be a valid message.
    pub error: Option<ProtocolError>,
    /// What to send for them.
    pub out: Spliced,
}

impl FromClient {
    pub fn new(intercept: Intercept) -> FromClient {
        FromClient { intercept }
    }

    pub fn metrics(&self) -> &Metrics {
        self.intercept.metrics()
    }

    /// Takes the complete messages at the front of `buf`. They are about
    /// to be written: the requests among them are timed from now.
    pub fn step(&mut self, buf: &[u8], between: &mut Between) -> ClientStep {
        let mut step = ClientStep::default();
        loop {
            let authenticated = between.pipeline.authenticated();
            let frame = match next_client_frame(&buf[step.end..], authenticated) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    step.error = Some(e);
                    break;
                }
            };
            let rewritten = self.intercept.client_frame(&frame, between);
            match rewritten {
                Some(bytes) => {
                    between.rewritten = true;
                    step.out.replace(&buf[..step.end], &bytes);
                }
                None => step.out.keep(frame.bytes),
            }
            step.end += frame.bytes.len();
            if matches!(
                frame.tag,
                FrontendTag::Query | FrontendTag::Sync | FrontendTag::FunctionCall
            ) {
                between.show_deleted.request();
            }
            if frame.tag == FrontendTag::Terminate {
                step.terminated = true;
                break;
            }
        }
        between.pipeline.sent(Instant::now);
        step
    }
}
