//! Arbitrary SQL under arbitrary rules through the rewrite engine.
//!
//! Input: a 9-byte header that picks the rules, then the SQL (any bytes:
//! the proxy hands the engine whatever a client sent).
//!
//! - byte 0, the defaults: bits 0-1 on_delete (allow, allow, journal,
//!   block), bit 2 on_parse_error pass, bits 3-4 max_rows (none, 1, 100,
//!   1000), bit 5 hide (soft tables hide their deleted rows);
//! - bytes 1-8, up to four tables, two bytes each: the name (its low five
//!   bits index `NAMES`; past its end, no table), then bits 0-1 the mode (soft,
//!   journal, block, allow), bit 2 timestamp rather than flag, bits 3-5 the
//!   marker column (index into `COLUMNS`, modulo its length), bits 6-7
//!   max_rows (the default's, none, 1, 100).
//!
//! Every decision is made under both settings of
//! standard_conforming_strings, and checked: the cache and the uncached
//! analysis agree, text without a destructive keyword passes, every
//! refusal is in the rewritten text and reads back from the error the
//! server would raise, every rewritten DELETE carries the image column,
//! the statement's literal in the guard's context ends where PostgreSQL will end it,
//! and a text sqlparser reads still reads once rewritten.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softdel::rewrite::invariants::check;
use softdel::rewrite::{Engine, Lexing};
use softdel::rules::{Defaults, Marker, Mode, OnParseError, Rules, TableName, TableRule};

const HEADER: usize = 9;
const NONCE: &str = "0123456789abcdef";

/// Table names as a rules file writes them.
const NAMES: &[&str] = &[
    "orders",
    "billing.payments",
    "refunds",
    "audit_logs",
    "\"Mixed\"",
    "t",
    "public.t",
    "\"a b\"",
    "\"Ö\"",
    "users",
    "\"select\"",
    "s.\"x.y\"",
    "Straße",
    "\"İ\"",
    "softdel.operations",
    "\"q\"\"uote\"",
];

const COLUMNS: &[&str] = &[
    "is_active",
    "deleted_at",
    "\"Alive\"",
    "\"x\"\"y\"",
    "\"Ö\"",
];

/// Observed rules (`mode: observe`) must leave the text as it came.
fn enforcement(observe: bool) -> softdel::rules::Enforcement {
    if observe {
        softdel::rules::Enforcement::Observe
    } else {
        softdel::rules::Enforcement::Enforce
    }
}

fn rules(header: &[u8; HEADER]) -> Rules {
    let d = header[0];
    let defaults = Defaults {
        on_delete: match d & 3 {
            0 | 1 => Mode::Allow,
            2 => Mode::Journal,
            _ => Mode::Block,
        },
        on_parse_error: if d & 4 != 0 {
            OnParseError::Pass
        } else {
            OnParseError::Refuse
        },
        max_rows: [None, Some(1), Some(100), Some(1000)][usize::from(d >> 3 & 3)],
        outside_proxy: softdel::rules::OutsideProxy::Journal,
        hide: d & 32 != 0,
        // The rewrite engine ignores it: journaled updates are the guard's.
        on_update: softdel::rules::OnUpdate::Off,
        enforcement: enforcement(d & 64 != 0),
    };
    let mut tables: Vec<TableRule> = Vec::new();
    for pair in header[1..].chunks_exact(2) {
        let Some(name) = NAMES.get(usize::from(pair[0] & 0x1f)) else {
            continue;
        };
        let table = TableName::parse(name).expect("a valid name");
        // A rules file lists a table once.
        if tables.iter().any(|t| t.table == table) {
            continue;
        }
        let b = pair[1];
        let column =
            softdel::rules::parse_identifier(COLUMNS[usize::from(b >> 3 & 7) % COLUMNS.len()])
                .expect("a valid column");
        let marker = match b & 4 {
            0 => Marker::Flag(column),
            _ => Marker::Timestamp(column),
        };
        let mode = match b & 3 {
            0 => Mode::Soft(marker),
            1 => Mode::Journal,
            2 => Mode::Block,
            _ => Mode::Allow,
        };
        let max_rows = match b >> 6 {
            0 => defaults.max_rows,
            1 => None,
            2 => Some(1),
            _ => Some(100),
        };
        let hide = mode.is_soft() && defaults.hide;
        tables.push(TableRule {
            table,
            mode,
            hide,
            max_rows,
            outside_proxy: softdel::rules::OutsideProxy::Journal,
            on_update: softdel::rules::OnUpdate::Off,
            enforcement: enforcement(pair[0] & 0x20 != 0),
            position: None,
        });
    }
    Rules { defaults, tables }
}

fuzz_target!(|data: &[u8]| {
    let Some((header, sql)) = data.split_first_chunk::<HEADER>() else {
        return;
    };
    let engine = Engine::with_nonce(rules(header), NONCE.to_owned());
    for standard_conforming_strings in [true, false] {
        let lexing = Lexing {
            standard_conforming_strings,
        };
        check(&engine, sql, lexing);
    }
});
