//! The server side of rewriting: what the server returns for a rewritten
//! statement is turned back into what the client's statement returns, and
//! the errors that carry a refusal into softdel's own.
//!
//! A rewritten DELETE's result says what it is: its last column is named
//! with the proxy's nonce (`softdel_count_…` or `softdel_op_…`). In the
//! simple protocol that name, in the RowDescription ahead of the rows, is
//! enough; in the extended protocol rows come without one, and the shape
//! comes from the Execute's portal (see `intercept`).

use crate::protocol::{Answering, ErrorFields, Severity, Shape, codec, error_response};
use crate::rewrite::{Refusal, count_column, op_column};

pub struct Translator {
    nonce: String,
    count_column: Vec<u8>,
    op_column: Vec<u8>,
    /// The shape of the simple-protocol result being streamed.
    current: Option<Shape>,
    /// The row count a Count-shaped result carried, and the journal entry
    /// when there is one (a Returning-shaped result carries it in every
    /// row).
    count: u64,
    journaled: Option<Journaled>,
}

/// A DELETE that was journaled: what the log line says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Journaled {
    pub op_id: u64,
    /// `soft_delete` or `journal_delete`.
    pub action: String,
    pub table: String,
    pub rows: u64,
}

/// What happened, besides the bytes: for the journal and the logs.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    Refused(Refusal),
    Journaled(Journaled),
}

/// What to send the client instead of a server message.
#[derive(Debug, PartialEq, Eq)]
pub enum Translated {
    Original,
    Replaced(Vec<u8>),
    Dropped,
}

impl Translator {
    pub fn new(nonce: &str) -> Translator {
        Translator {
            nonce: nonce.to_owned(),
            count_column: count_column(nonce).into_bytes(),
            op_column: op_column(nonce).into_bytes(),
            current: None,
            count: 0,
            journaled: None,
        }
    }

    /// Translates one server message (a whole frame); a refusal is
    /// returned too, to be recorded.
    pub fn server_frame(
        &mut self,
        frame: &[u8],
        answering: Answering,
    ) -> (Translated, Option<Event>) {
        let describing = answering == Answering::Describe;
        let shape = match answering {
            Answering::Execute(shape) => shape,
            _ => self.current,
        };
        let translated = match frame[0] {
            b'T' => self.row_description(frame, describing),
            b'D' => match shape {
                Some(Shape::Count) => {
                    (self.count, self.journaled) = parse_count(codec::first_column(frame));
                    Translated::Dropped
                }
                Some(Shape::Returning) => {
                    if self.journaled.is_none() {
                        self.journaled = codec::last_column(frame).and_then(parse_entry);
                    }
                    replaced(codec::without_last_columns(frame, EXTRA_COLUMNS))
                }
                None => Translated::Original,
            },
            b'C' => {
                self.current = None;
                match shape {
                    Some(Shape::Count) => {
                        let tag = codec::command_complete(&format!("DELETE {}", self.count));
                        let event = self.journaled.take().map(Event::Journaled);
                        return (Translated::Replaced(tag), event);
                    }
                    Some(Shape::Returning) => {
                        let rows = codec::command_tag(frame)
                            .and_then(|t| t.strip_prefix("SELECT "))
                            .and_then(|n| n.parse::<u64>().ok());
                        let event = self.journaled.take().map(|mut journaled| {
                            journaled.rows = rows.unwrap_or(0);
                            Event::Journaled(journaled)
                        });
                        let tag = rows.map(|n| codec::command_complete(&format!("DELETE {n}")));
                        return (replaced(tag), event);
                    }
                    None => Translated::Original,
                }
            }
            b'E' => {
                self.current = None;
                return self.error(frame);
            }
            b'Z' | b'I' => {
                self.current = None;
                Translated::Original
            }
            _ => Translated::Original,
        };
        (translated, None)
    }

    fn row_description(&mut self, frame: &[u8], describing: bool) -> Translated {
        let last = codec::last_field_name(frame);
        let shape = if last == Some(&self.count_column[..]) {
            Some(Shape::Count)
        } else if last == Some(&self.op_column[..]) {
            Some(Shape::Returning)
        } else {
            None
        };
        if !describing {
            self.current = shape;
        }
        match shape {
            // A DELETE without RETURNING describes as NoData, and in the
            // simple protocol sends no description at all.
            Some(Shape::Count) if describing => Translated::Replaced(codec::NO_DATA.to_vec()),
            Some(Shape::Count) => Translated::Dropped,
            Some(Shape::Returning) => replaced(codec::without_last_fields(frame, EXTRA_COLUMNS)),
            None => Translated::Original,
        }
    }

    fn error(&self, frame: &[u8]) -> (Translated, Option<Event>) {
        let refusal = codec::error_field(frame, b'M')
            .map(String::from_utf8_lossy)
            .and_then(|message| Refusal::from_error(&message, &self.nonce));
        let Some(refusal) = refusal else {
            return (Translated::Original, None);
        };
        let message = refusal.message();
        let hint = refusal.hint();
        let error = error_response(&ErrorFields {
            severity: Severity::Error,
            sqlstate: refusal.sqlstate(),
            message: &message,
            detail: None,
            hint: Some(&hint),
        });
        (
            Translated::Replaced(error.to_vec()),
            Some(Event::Refused(refusal)),
        )
    }
}

/// The columns a Returning-shaped result has past the client's: the
/// row's image and the journal entry.
pub(super) const EXTRA_COLUMNS: usize = 2;

fn replaced(bytes: Option<Vec<u8>>) -> Translated {
    bytes.map_or(Translated::Original, Translated::Replaced)
}

/// The count column: `rows`, or `rows op_id action table` when the DELETE
/// was journaled.
fn parse_count(column: Option<&[u8]>) -> (u64, Option<Journaled>) {
    let text = column
        .and_then(|c| std::str::from_utf8(c).ok())
        .unwrap_or("");
    let (rows, entry) = text.split_once(' ').unwrap_or((text, ""));
    let rows = rows.parse().unwrap_or(0);
    let journaled = parse_entry(entry.as_bytes()).map(|journaled| Journaled { rows, ..journaled });
    (rows, journaled)
}

/// A journal entry as a rewritten DELETE reports it: `op_id action table`
/// (the row count is filled in by the caller).
fn parse_entry(column: &[u8]) -> Option<Journaled> {
    let text = std::str::from_utf8(column).ok()?;
    let mut parts = text.splitn(3, ' ');
    let (op, action, table) = (parts.next()?, parts.next()?, parts.next()?);
    Some(Journaled {
        op_id: op.parse().ok()?,
        action: action.to_owned(),
        table: table.to_owned(),
        rows: 0,
    })
}
