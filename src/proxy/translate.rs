//! The server side of rewriting: what the server returns for a rewritten
//! statement is turned back into what the client's statement returns, and
//! refusals (the proxy's own, carried through the server as marked errors,
//! and the guard's) are reported for the record.
//!
//! - A soft delete is an UPDATE: same rows, same description; only its
//!   tag `UPDATE n` becomes `DELETE n`. Which results those are the
//!   proxy knows from what it examined: the portal's statement for an
//!   Execute, the statement's place in a simple Query (one CommandComplete
//!   per statement, in order).
//! - A limit-checked DELETE on an allowed table returns a count (or its
//!   rows plus two columns): its last column is named with the proxy's
//!   nonce (`softdel_count_…` or `softdel_op_…`).

use std::sync::Arc;

use super::examined::Examined;
use crate::journal::SCHEMA;
use crate::protocol::{Answering, BackendTag, ErrorFields, Severity, codec, error_response};
use crate::rewrite::{Reason, Refusal, Shape, count_column, op_column, sqlstate};

pub struct Translator {
    nonce: String,
    count_column: Vec<u8>,
    op_column: Vec<u8>,
    /// The shape of the simple-protocol result being streamed, from its
    /// RowDescription.
    current: Option<Shape>,
    /// How many statements of the simple Query being answered are done.
    index: usize,
    /// The row count a Count-shaped result carried.
    count: u64,
}

/// A refused statement, for the log, the metrics and the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub table: String,
    /// The metrics label: block, limit, truncate, drop, parse, unguarded.
    pub kind: &'static str,
    /// For the record: blocked table, row limit, ...
    pub reason: &'static str,
    pub sqlstate: String,
    pub message: String,
    pub sql: String,
}

impl Refused {
    pub(super) fn from_refusal(refusal: Refusal) -> Refused {
        Refused {
            kind: refusal.reason.kind(),
            reason: refusal.reason.as_str(),
            sqlstate: refusal.sqlstate().to_owned(),
            message: refusal.message(),
            table: refusal.table,
            sql: refusal.sql,
        }
    }
}

/// What happened, besides the bytes: for the record and the logs.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    Refused(Refused),
    /// A statement sent as it is under an observed rule that softdel would
    /// have refused (a DELETE over its table's row limit, or on a block
    /// table), and whether the guard journals it (the proxy records the
    /// others).
    Would {
        refused: Refused,
        guard_journals: bool,
    },
    /// A DELETE on a soft (`soft`) or journal table completed, in its
    /// transaction (which may still roll back): the guard journaled it.
    Deleted {
        table: Arc<str>,
        rows: u64,
        soft: bool,
    },
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
            index: 0,
            count: 0,
        }
    }

    /// Translates one server message (a whole frame); what happened is
    /// returned too, to be recorded.
    pub fn server_frame(
        &mut self,
        tag: BackendTag,
        frame: &[u8],
        answering: Answering<'_, Examined>,
    ) -> (Translated, Option<Event>) {
        let (examined, shape) = match answering {
            Answering::Execute(examined) => (examined, examined.and_then(|e| e.shape(0)).cloned()),
            Answering::Query(examined) => (
                examined,
                examined
                    .and_then(|e| e.shape(self.index))
                    .cloned()
                    .or_else(|| self.current.clone()),
            ),
            _ => (None, self.current.clone()),
        };
        let translated = match tag {
            BackendTag::RowDescription => {
                self.row_description(frame, answering == Answering::Describe)
            }
            BackendTag::DataRow => match shape {
                Some(Shape::Count) => {
                    self.count = parse_count(codec::first_column(frame));
                    Translated::Dropped
                }
                Some(Shape::Returning) => {
                    replaced(codec::without_last_columns(frame, EXTRA_COLUMNS))
                }
                _ => Translated::Original,
            },
            BackendTag::CommandComplete => {
                self.current = None;
                if matches!(answering, Answering::Query(_)) {
                    self.index += 1;
                }
                return self.command_complete(frame, shape, examined);
            }
            BackendTag::ErrorResponse => {
                self.current = None;
                return self.error(frame, examined);
            }
            BackendTag::ReadyForQuery => {
                self.current = None;
                self.index = 0;
                Translated::Original
            }
            BackendTag::EmptyQueryResponse => {
                self.current = None;
                Translated::Original
            }
            _ => Translated::Original,
        };
        (translated, None)
    }

    fn command_complete(
        &self,
        frame: &[u8],
        shape: Option<Shape>,
        examined: Option<&Examined>,
    ) -> (Translated, Option<Event>) {
        let tag = codec::command_tag(frame);
        let rows = |prefix: &str| {
            tag.and_then(|t| t.strip_prefix(prefix))
                .and_then(|n| n.parse::<u64>().ok())
        };
        match shape {
            Some(Shape::Count) => (
                Translated::Replaced(codec::command_complete(&format!("DELETE {}", self.count))),
                None,
            ),
            Some(Shape::Returning) => {
                let tag = rows("SELECT ").map(|n| codec::command_complete(&format!("DELETE {n}")));
                (replaced(tag), None)
            }
            Some(Shape::Update(table)) => match rows("UPDATE ") {
                Some(n) => (
                    Translated::Replaced(codec::command_complete(&format!("DELETE {n}"))),
                    Some(Event::Deleted {
                        table,
                        rows: n,
                        soft: true,
                    }),
                ),
                None => (Translated::Original, None),
            },
            Some(Shape::Journal(table)) => {
                let event = rows("DELETE ").map(|n| Event::Deleted {
                    table,
                    rows: n,
                    soft: false,
                });
                (Translated::Original, event)
            }
            Some(Shape::Observed(observed)) => {
                let rows = rows("DELETE ").unwrap_or(0);
                let reason = if observed.blocked {
                    Reason::Blocked { rows: Some(rows) }
                } else {
                    Reason::RowLimit {
                        rows,
                        limit: observed.limit,
                    }
                };
                let event = (rows > observed.limit).then(|| Event::Would {
                    refused: Refused::from_refusal(Refusal {
                        reason,
                        table: observed.table.to_string(),
                        sql: examined.map(|e| e.sql.to_string()).unwrap_or_default(),
                    }),
                    guard_journals: observed.guarded,
                });
                (Translated::Original, event)
            }
            None => (Translated::Original, None),
        }
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
            self.current.clone_from(&shape);
        }
        match shape {
            // A DELETE without RETURNING describes as NoData, and in the
            // simple protocol sends no description at all.
            Some(Shape::Count) if describing => Translated::Replaced(codec::NO_DATA.to_vec()),
            Some(Shape::Count) => Translated::Dropped,
            Some(Shape::Returning) => replaced(codec::without_last_fields(frame, EXTRA_COLUMNS)),
            _ => Translated::Original,
        }
    }

    fn error(&self, frame: &[u8], examined: Option<&Examined>) -> (Translated, Option<Event>) {
        let field = |code| codec::error_field(frame, code).map(String::from_utf8_lossy);
        let message = field(b'M').unwrap_or_default();
        if let Some(refusal) = Refusal::from_error(&message, &self.nonce) {
            let error = client_error(refusal.sqlstate(), &refusal.message(), &refusal.hint());
            return (
                Translated::Replaced(error),
                Some(Event::Refused(Refused::from_refusal(refusal))),
            );
        }
        let code = field(b'C').unwrap_or_default();
        if code == "42883" && message.contains(&format!("{SCHEMA}.proxy_check")) {
            // The journal is missing, or older than the guard.
            let error = client_error(
                sqlstate::UNGUARDED,
                "this database has no softdel guard; nothing was changed",
                "Install the journal and the guard as the tables' owner: softdel init --database-url URL --rules FILE.",
            );
            return (Translated::Replaced(error), None);
        }
        if !code.starts_with("SD") {
            return (Translated::Original, None);
        }
        // The guard's own refusal: the client sees its message, hint and
        // SQLSTATE, without the PL/pgSQL call stack (CONTEXT) behind it.
        let table = match (field(b's'), field(b't')) {
            (Some(schema), Some(table)) => format!("{schema}.{table}"),
            (None, Some(table)) => table.into_owned(),
            _ => String::new(),
        };
        let message = message.strip_prefix("softdel: ").unwrap_or(&message);
        let (kind, reason) = match code.as_ref() {
            sqlstate::BLOCKED => ("block", "blocked table"),
            sqlstate::ROW_LIMIT => ("limit", "row limit"),
            sqlstate::TRUNCATE_OR_DROP if message.starts_with("TRUNCATE") => {
                ("truncate", "truncate")
            }
            sqlstate::TRUNCATE_OR_DROP => ("drop", "drop"),
            sqlstate::UNGUARDED => ("unguarded", "no guard"),
            _ => ("guard", "refused by the guard"),
        };
        let refused = Refused {
            table,
            kind,
            reason,
            sqlstate: code.into_owned(),
            message: message.to_owned(),
            sql: examined.map(|e| e.sql.to_string()).unwrap_or_default(),
        };
        let without_stack = codec::without_field(frame, b'W');
        (replaced(without_stack), Some(Event::Refused(refused)))
    }
}

/// An ERROR from softdel itself.
fn client_error(sqlstate: &str, message: &str, hint: &str) -> Vec<u8> {
    error_response(&ErrorFields {
        severity: Severity::Error,
        sqlstate,
        message,
        detail: None,
        hint: Some(hint),
    })
    .to_vec()
}

/// The columns a Returning-shaped result has past the client's: the
/// row's image and the journal entry.
pub(super) const EXTRA_COLUMNS: usize = 2;

fn replaced(bytes: Option<Vec<u8>>) -> Translated {
    bytes.map_or(Translated::Original, Translated::Replaced)
}

/// The count column's row count.
fn parse_count(column: Option<&[u8]>) -> u64 {
    column
        .and_then(|c| std::str::from_utf8(c).ok())
        .and_then(|text| text.split(' ').next())
        .and_then(|rows| rows.parse().ok())
        .unwrap_or(0)
}
