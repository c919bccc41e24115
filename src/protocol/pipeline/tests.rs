//! The pipeline model against the server's own rules, message by message.

use super::*;
use FrontendTag::*;

type Pipeline = super::Pipeline<()>;

const IDLE: &[u8] = b"Z\0\0\0\x05I";
const IN_TX: &[u8] = b"Z\0\0\0\x05T";

/// A pipeline after authentication.
fn session() -> Pipeline {
    let mut p = Pipeline::default();
    p.server_message(BackendTag::ReadyForQuery, IDLE);
    assert!(p.idle());
    p
}

fn client(p: &mut Pipeline, tags: &[FrontendTag]) {
    for &tag in tags {
        p.client_message(tag);
    }
}

/// Feeds server messages by tag; `Z` is ReadyForQuery(I), `z` (T).
fn server(p: &mut Pipeline, tags: &[u8]) {
    answers(p, tags);
}

/// Like `server`; what each message reports as the send time of the
/// request it ends.
fn answers(p: &mut Pipeline, tags: &[u8]) -> Vec<Option<Instant>> {
    tags.iter()
        .map(|&tag| match tag {
            b'Z' => p.server_message(BackendTag::ReadyForQuery, IDLE),
            b'z' => p.server_message(BackendTag::ReadyForQuery, IN_TX),
            other => p.server_message(BackendTag::from_byte(other), &[other, 0, 0, 0, 4]),
        })
        .collect()
}

#[test]
fn simple_query() {
    let mut p = session();
    client(&mut p, &[Query]);
    assert!(p.busy() && !p.idle());
    server(&mut p, b"TDC");
    assert!(p.busy());
    server(&mut p, b"Z");
    assert!(p.idle());
}

#[test]
fn transaction_block_is_not_idle() {
    let mut p = session();
    client(&mut p, &[Query]);
    server(&mut p, b"Cz");
    assert!(!p.busy() && !p.idle());
    client(&mut p, &[Query]);
    server(&mut p, b"CZ");
    assert!(p.idle());
}

#[test]
fn pipelined_extended_batches() {
    let mut p = session();
    client(
        &mut p,
        &[Parse, Bind, Describe, Execute, Sync, Bind, Execute, Sync],
    );
    server(&mut p, b"12TDDCZ");
    assert!(p.busy());
    server(&mut p, b"2DC");
    assert!(p.busy());
    server(&mut p, b"Z");
    assert!(p.idle());
}

#[test]
fn batch_without_sync_holds_the_session() {
    let mut p = session();
    client(&mut p, &[Parse, Describe, Flush]);
    server(&mut p, b"1tT");
    assert!(!p.busy());
    assert!(!p.idle(), "an implicit transaction is open until Sync");
    client(&mut p, &[Sync]);
    server(&mut p, b"Z");
    assert!(p.idle());
}

#[test]
fn extended_error_discards_up_to_sync_including_queries() {
    let mut p = session();
    client(&mut p, &[Parse, Bind, Execute, Query, Sync]);
    server(&mut p, b"EZ");
    assert!(p.idle());
}

#[test]
fn extended_error_before_the_sync_is_sent() {
    let mut p = session();
    client(&mut p, &[Parse, Flush]);
    server(&mut p, b"E");
    client(&mut p, &[Bind, Execute, Query]);
    assert!(p.busy() || !p.idle());
    client(&mut p, &[Sync]);
    server(&mut p, b"Z");
    assert!(p.idle());
}

#[test]
fn error_in_a_simple_query_is_answered_by_ready_for_query() {
    let mut p = session();
    client(&mut p, &[Query, Query]);
    server(&mut p, b"EZ");
    assert!(p.busy());
    server(&mut p, b"CZ");
    assert!(p.idle());
}

#[test]
fn simple_copy_in() {
    let mut p = session();
    client(&mut p, &[Query]);
    server(&mut p, b"G");
    client(&mut p, &[CopyData, CopyData, CopyDone]);
    server(&mut p, b"CZ");
    assert!(p.idle());
}

#[test]
fn extended_copy_in_ignores_the_sync_sent_with_the_batch() {
    let mut p = session();
    client(&mut p, &[Parse, Bind, Execute, Sync]);
    server(&mut p, b"12G");
    client(&mut p, &[CopyData, CopyDone, Sync]);
    server(&mut p, b"C");
    assert!(p.busy());
    server(&mut p, b"Z");
    assert!(p.idle());
}

#[test]
fn server_error_during_copy_in_drops_the_later_copy_done() {
    let mut p = session();
    client(&mut p, &[Query]);
    server(&mut p, b"G");
    client(&mut p, &[CopyData]);
    server(&mut p, b"EZ");
    assert!(p.idle());
    client(&mut p, &[CopyData, CopyDone]);
    assert!(p.idle());
}

#[test]
fn copy_fail_in_extended_mode() {
    let mut p = session();
    client(&mut p, &[Bind, Execute, Sync]);
    server(&mut p, b"2G");
    client(&mut p, &[CopyFail, Sync]);
    server(&mut p, b"E");
    assert!(p.busy());
    server(&mut p, b"Z");
    assert!(p.idle());
}

#[test]
fn copy_out() {
    let mut p = session();
    client(&mut p, &[Query]);
    server(&mut p, b"HddcC");
    assert!(p.busy());
    server(&mut p, b"Z");
    assert!(p.idle());
}

#[test]
fn function_call() {
    let mut p = session();
    client(&mut p, &[FunctionCall]);
    server(&mut p, b"V");
    assert!(p.busy());
    server(&mut p, b"Z");
    assert!(p.idle());
}

#[test]
fn unreadable_ready_for_query_keeps_the_session_authenticated_and_busy() {
    // Found by fuzzing: a ReadyForQuery without a known status byte
    // made the model forget that authentication was over, so the next
    // ReadyForQuery was taken for the end of authentication and the
    // query it answered stayed pending.
    for frame in [&b"Z\0\0\0\x05?"[..], b"Z\0\0\0\x04"] {
        let mut p = session();
        client(&mut p, &[Query]);
        p.server_message(BackendTag::ReadyForQuery, frame);
        assert!(p.authenticated());
        assert!(!p.busy() && !p.idle(), "unknown status: not idle");
        client(&mut p, &[Query]);
        server(&mut p, b"CZ");
        assert!(p.authenticated() && p.idle());
    }
    let mut p = Pipeline::default();
    p.server_message(BackendTag::ReadyForQuery, b"Z\0\0\0\x04");
    assert!(p.authenticated());
}

#[test]
fn query_pipelined_before_authentication_ends() {
    let mut p = Pipeline::default();
    client(&mut p, &[Query]);
    server(&mut p, b"RSKZ");
    assert!(p.busy(), "the first ReadyForQuery ends authentication");
    server(&mut p, b"TDCZ");
    assert!(p.idle());
}

/// Send times a second apart, from a common origin.
fn at(origin: Instant, seconds: u64) -> Instant {
    origin + std::time::Duration::from_secs(seconds)
}

/// The client sends `tags` at `when`.
fn exchange(p: &mut Pipeline, tags: &[FrontendTag], when: Instant) {
    client(p, tags);
    p.sent(|| when);
}

#[test]
fn ready_for_query_reports_its_own_requests_send_time() {
    let t = Instant::now();
    let mut p = session();
    exchange(&mut p, &[Query, Query], at(t, 1));
    exchange(&mut p, &[Parse, Bind, Execute, Sync], at(t, 2));
    assert_eq!(
        answers(&mut p, b"CZCZ12CZ"),
        [
            None,
            Some(at(t, 1)),
            None,
            Some(at(t, 1)),
            None,
            None,
            None,
            Some(at(t, 2))
        ]
    );
    assert!(p.idle());
}

#[test]
fn latency_does_not_drift_after_extended_copy_in() {
    // The Sync sent with the batch is ignored during COPY: one
    // ReadyForQuery for two Syncs.
    let t = Instant::now();
    let mut p = session();
    exchange(&mut p, &[Parse, Bind, Execute, Sync], at(t, 1));
    answers(&mut p, b"12G");
    exchange(&mut p, &[CopyData, CopyDone, Sync], at(t, 2));
    assert_eq!(answers(&mut p, b"CZ"), [None, Some(at(t, 2))]);
    exchange(&mut p, &[Query], at(t, 3));
    assert_eq!(answers(&mut p, b"CZ"), [None, Some(at(t, 3))]);
    assert!(p.idle());
}

#[test]
fn latency_does_not_drift_after_an_extended_error() {
    // The Query after the failed Execute is discarded with it: one
    // ReadyForQuery for the Query and the Sync.
    let t = Instant::now();
    let mut p = session();
    exchange(&mut p, &[Parse, Bind, Execute, Query, Sync], at(t, 1));
    assert_eq!(answers(&mut p, b"12EZ")[3], Some(at(t, 1)));
    exchange(&mut p, &[Query], at(t, 2));
    assert_eq!(answers(&mut p, b"CZ"), [None, Some(at(t, 2))]);
    // The error arrives before the Sync is sent.
    exchange(&mut p, &[Parse, Flush], at(t, 3));
    answers(&mut p, b"E");
    exchange(&mut p, &[Query, Sync], at(t, 4));
    assert_eq!(answers(&mut p, b"Z"), [Some(at(t, 4))]);
    exchange(&mut p, &[Query], at(t, 5));
    assert_eq!(answers(&mut p, b"CZ"), [None, Some(at(t, 5))]);
    assert!(p.idle());
}

#[test]
fn the_clock_is_read_only_for_timed_requests() {
    let mut p = session();
    exchange(&mut p, &[Parse, Bind, Execute, Flush], Instant::now());
    client(&mut p, &[Describe]);
    p.sent(|| panic!("no request waits for ReadyForQuery"));
    exchange(&mut p, &[Sync], Instant::now());
}

/// Close and Parse sent ahead of a Bind by the proxy.
fn reprepare(p: &mut Pipeline) {
    p.proxy_message(Close);
    p.proxy_message(Parse);
}

#[test]
fn injected_messages_are_answered_to_the_proxy() {
    let mut p = session();
    reprepare(&mut p);
    client(&mut p, &[Bind, Execute, Sync]);
    assert_eq!(p.answering(), Answering::Injected);
    server(&mut p, b"3");
    assert_eq!(p.answering(), Answering::Injected);
    server(&mut p, b"1");
    assert_eq!(p.answering(), Answering::Other, "the Bind's turn");
    server(&mut p, b"2CZ");
    assert!(p.idle());
    assert!(!p.take_injection_lost());
}

#[test]
fn an_injected_parse_that_fails_is_lost() {
    let mut p = session();
    reprepare(&mut p);
    client(&mut p, &[Bind, Execute, Sync]);
    server(&mut p, b"3E");
    assert!(p.take_injection_lost());
    assert!(!p.take_injection_lost(), "reported once");
    server(&mut p, b"Z");
    assert!(p.idle());
}

#[test]
fn injected_messages_skipped_after_an_earlier_error_are_lost() {
    // The error arrives while they are queued...
    let mut p = session();
    client(&mut p, &[Parse, Bind, Execute]);
    reprepare(&mut p);
    client(&mut p, &[Bind, Execute, Sync]);
    server(&mut p, b"12E");
    assert!(p.take_injection_lost());
    server(&mut p, b"Z");
    assert!(p.idle());
    // ... or before they are sent.
    let mut p = session();
    client(&mut p, &[Execute]);
    server(&mut p, b"E");
    reprepare(&mut p);
    client(&mut p, &[Bind, Sync]);
    assert!(p.take_injection_lost());
    server(&mut p, b"Z");
    assert!(p.idle());
}

#[test]
fn followed_parses_report_whether_the_server_made_them() {
    let mut p = session();
    // One made, one failed, one skipped after the failure, and one sent
    // while the server still skips.
    p.client_parse(1);
    client(&mut p, &[Sync]);
    p.client_parse(2);
    p.client_parse(3);
    client(&mut p, &[Bind]);
    server(&mut p, b"1Z");
    assert_eq!(p.take_parsed(), [(1, Parsed::Made)]);
    server(&mut p, b"E");
    assert_eq!(p.take_parsed(), [(2, Parsed::Failed), (3, Parsed::Skipped)]);
    p.client_parse(4);
    client(&mut p, &[Sync]);
    server(&mut p, b"Z");
    assert_eq!(p.take_parsed(), [(4, Parsed::Skipped)]);
    assert!(p.take_parsed().is_empty(), "reported once");
    // A Parse the session does not follow reports nothing.
    client(&mut p, &[Parse, Sync]);
    server(&mut p, b"1Z");
    assert!(p.take_parsed().is_empty());
}
