//! The console's parts that need no database: query strings and tokens.

use super::query::{self, UndeleteParams};
use super::token::Token;
use crate::journal::Action;

#[test]
fn filters_read_like_softdel_logs_flags() {
    let f = query::filter(Some(
        "table=billing.payments&user=app&application=web%20shop&action=soft-delete&since=2026-12-01+10%3A00&limit=5",
    ))
    .unwrap();
    assert_eq!(f.table.as_deref(), Some("billing.payments"));
    assert_eq!(f.user.as_deref(), Some("app"));
    assert_eq!(f.application.as_deref(), Some("web shop"));
    assert_eq!(f.action, Some(Action::SoftDelete));
    assert_eq!(f.since.as_deref(), Some("2026-12-01 10:00"));
    assert_eq!(f.limit, 5);
    assert_eq!(query::filter(None).unwrap().limit, query::DEFAULT_LIMIT);
}

#[test]
fn a_filter_that_cannot_be_applied_is_an_error() {
    for (q, said) in [
        (
            "tabel=orders",
            "unknown parameter \"tabel\" (known: table, since",
        ),
        ("action=erase", "\"erase\" is not an action"),
        (
            "limit=0",
            "limit must be a number from 1 to 1000, not \"0\"",
        ),
        ("limit=lots", "limit must be a number"),
    ] {
        let err = query::filter(Some(q)).unwrap_err();
        assert!(err.contains(said), "{q}: {err}");
    }
}

#[test]
fn an_undelete_is_a_preview_unless_it_says_otherwise() {
    assert_eq!(
        query::undelete(None).unwrap(),
        UndeleteParams {
            dry_run: true,
            force: false
        }
    );
    assert_eq!(
        query::undelete(Some("dry_run=false&force=true")).unwrap(),
        UndeleteParams {
            dry_run: false,
            force: true
        }
    );
    assert!(query::undelete(Some("dry_run=no")).is_err());
    assert!(query::undelete(Some("apply=true")).is_err());
}

#[test]
fn the_token_admits_only_itself_as_a_bearer() {
    let token = Token::new("0123456789abcdef0123").unwrap();
    assert!(token.admits(Some("Bearer 0123456789abcdef0123")));
    for wrong in [
        None,
        Some("0123456789abcdef0123"),
        Some("Bearer 0123456789abcdef012"),
        Some("Bearer 0123456789abcdef01234"),
        Some("Bearer 0123456789abcdef0124"),
        Some("Basic 0123456789abcdef0123"),
    ] {
        assert!(!token.admits(wrong), "{wrong:?}");
    }
    let err = Token::new("short").unwrap_err().to_string();
    assert!(err.contains("at least 16 characters (it is 5)"), "{err}");
    assert_eq!(format!("{token:?}"), "Token(..)", "never printed");
}

#[test]
fn empty_fields_filter_nothing_and_pages_follow_on() {
    let f = query::filter(Some("table=&user=&action=&txid=812&before=40")).unwrap();
    assert_eq!(f.table, None);
    assert_eq!(f.action, None);
    assert_eq!(f.txid, Some(812));
    assert_eq!(f.before, Some(40));
    let err = query::filter(Some("before=last")).unwrap_err();
    assert_eq!(err, "before must be an operation id, not \"last\"");
    assert!(query::filter(Some("colour=")).is_err());
}
