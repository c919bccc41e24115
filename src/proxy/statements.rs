//! The prepared statements a session follows (those the rules may
//! concern), kept to what the server really made: a Parse is taken as
//! made when it is sent, so that the Bind and Execute pipelined behind it
//! are followed, and undone when the server reports it failed or skipped
//! it. Without the undo, a rejected Parse (a name already in use, an
//! error earlier in its batch) would be prepared again by the proxy at the
//! next rules change, running SQL the client never got prepared.

use std::collections::HashMap;
use std::sync::Arc;

use super::examined::Examined;
use crate::protocol::{FrontendTag, Parsed, Pipeline};

/// A prepared statement the rules may concern: what the client prepared,
/// and what was prepared instead under which rules. When the rules change,
/// its next Bind prepares it again (see `Intercept::refresh`).
pub struct Prepared {
    /// The client's Parse message, as it came.
    pub parse: Vec<u8>,
    /// The rules generation the statement was decided under; `STALE`
    /// when what the server holds is in doubt.
    pub generation: u64,
    /// The session's `softdel.show_deleted` it was decided under.
    pub shown: bool,
    /// The SQL sent instead of the client's, if it was rewritten.
    pub sent: Option<String>,
    pub examined: Arc<Examined>,
}

/// No generation: a statement that must be prepared again.
pub const STALE: u64 = u64::MAX;

/// A Parse sent and not yet answered: what its name held before it.
struct Unsettled {
    number: u64,
    name: Vec<u8>,
    previous: Option<Followed>,
}

struct Followed {
    /// The Parse that made it.
    number: u64,
    prepared: Prepared,
}

#[derive(Default)]
pub struct Statements {
    by_name: HashMap<Vec<u8>, Followed>,
    unsettled: Vec<Unsettled>,
    parses: u64,
}

impl Statements {
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    pub fn get(&self, name: &[u8]) -> Option<&Prepared> {
        self.by_name.get(name).map(|f| &f.prepared)
    }

    pub fn get_mut(&mut self, name: &[u8]) -> Option<&mut Prepared> {
        self.by_name.get_mut(name).map(|f| &mut f.prepared)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Prepared> {
        self.by_name.values_mut().map(|f| &mut f.prepared)
    }

    /// A Parse of `name` is sent: it holds `prepared` from now on (`None`:
    /// a text the rules do not concern, which is not followed). Records
    /// the Parse in `pipeline`.
    pub fn parse(
        &mut self,
        name: &[u8],
        prepared: Option<Prepared>,
        pipeline: &mut Pipeline<Examined>,
    ) {
        if prepared.is_none() && !self.by_name.contains_key(name) {
            pipeline.client_message(FrontendTag::Parse);
            return;
        }
        self.parses += 1;
        let number = self.parses;
        let previous = match prepared {
            Some(prepared) => self
                .by_name
                .insert(name.to_vec(), Followed { number, prepared }),
            None => self.by_name.remove(name),
        };
        self.unsettled.push(Unsettled {
            number,
            name: name.to_vec(),
            previous,
        });
        pipeline.client_parse(number);
    }

    /// A Close of `name` (or a simple Query, for the unnamed statement):
    /// nothing of that name is followed any more, whatever its Parses do.
    pub fn close(&mut self, name: &[u8]) {
        self.by_name.remove(name);
        self.unsettled.retain(|u| u.name != name);
    }

    /// What the server made of the Parses answered since (see
    /// `Pipeline::take_parsed`).
    pub fn settle(&mut self, outcomes: Vec<(u64, Parsed)>) {
        for (number, outcome) in outcomes {
            let Some(at) = self.unsettled.iter().position(|u| u.number == number) else {
                continue;
            };
            let mut failed = self.unsettled.remove(at);
            match outcome {
                Parsed::Made => continue,
                // The server drops the unnamed statement before it parses
                // the new one: a failure leaves none.
                Parsed::Failed if failed.name.is_empty() => failed.previous = None,
                Parsed::Failed | Parsed::Skipped => {}
            }
            // A later Parse of the name took over what this one left:
            // if it fails too, the name goes back to what was there before.
            if let Some(later) = self.unsettled[at..]
                .iter_mut()
                .find(|u| u.name == failed.name)
            {
                later.previous = failed.previous;
                continue;
            }
            let current = self.by_name.get(&failed.name).map(|f| f.number);
            if current.is_none_or(|n| n == number) {
                match failed.previous {
                    Some(previous) => self.by_name.insert(failed.name, previous),
                    None => self.by_name.remove(&failed.name),
                };
            }
        }
    }
}
