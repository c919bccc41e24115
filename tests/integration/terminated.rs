//! When the server ends a session (pg_terminate_backend, shutdown, idle
//! timeout), the client gets exactly the server's FATAL and the
//! connection closes: PostgreSQL sends nothing after a FATAL, and libpq
//! reports "received 2 results" when a proxy adds its own.

use std::time::Duration;

use tokio_postgres::error::SqlState;

use crate::clients::{repo, run};
use crate::common::raw::{Msg, RawConn, extended, query};
use crate::common::{TestProxy, cluster, connect_direct};

/// Rounds per case: the second FATAL came from a race (the client's next
/// message written to the closed upstream), seen in most rounds.
const ROUNDS: usize = 15;

/// Ends backend `pid` from a direct connection, without waiting for it to
/// go: the client's next message races its end, as in the reports.
async fn terminate(pid: i32) {
    let direct = connect_direct().await;
    let ended: bool = direct
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap()
        .get(0);
    assert!(ended, "backend {pid} was not signalled");
}

async fn backend_pid(conn: &mut RawConn) -> i32 {
    conn.send(&query("SELECT pg_backend_pid()")).await;
    let msgs = conn.until_ready().await;
    let row = msgs.iter().find(|m| m.tag == b'D').expect("a row");
    // One column: Int16 count, Int32 length, the text.
    std::str::from_utf8(&row.body[6..])
        .unwrap()
        .parse()
        .unwrap()
}

/// What the client received after the server ended its session: complete
/// answers to what ran before the end, then the server's FATAL and
/// nothing else.
fn assert_ends_with_the_servers_fatal(msgs: &[Msg], case: &str) {
    let errors: Vec<_> = msgs.iter().filter(|m| m.tag == b'E').collect();
    assert_eq!(errors.len(), 1, "{case}: one error, got {msgs:?}");
    let last = msgs.last().unwrap();
    assert_eq!(
        last.sqlstate().as_deref(),
        Some("57P01"),
        "{case}: {msgs:?}"
    );
    assert_eq!(last.fields()[&b'V'], "FATAL", "{case}");
    assert!(
        !last.fields()[&b'M'].starts_with("softdel"),
        "{case}: the server's own message: {msgs:?}"
    );
}

#[tokio::test]
async fn a_terminated_session_gets_only_the_servers_fatal() {
    let proxy = TestProxy::start().await;
    for round in 0..ROUNDS {
        for case in ["idle", "in a transaction", "with a pipeline in flight"] {
            let mut conn = RawConn::login(proxy.addr, "postgres", "postgres").await;
            if case == "in a transaction" {
                conn.send(&query("BEGIN; SELECT 1")).await;
                conn.until_ready().await;
            }
            let pid = backend_pid(&mut conn).await;
            terminate(pid).await;
            let next = match case {
                "with a pipeline in flight" => {
                    [extended("SELECT 1"), extended("SELECT 2")].concat()
                }
                _ => query("SELECT 1"),
            };
            // The proxy may already have closed: what it sent is read all
            // the same.
            conn.try_send(&next).await;
            let msgs = conn.until_closed().await;
            assert_ends_with_the_servers_fatal(&msgs, &format!("{case}, round {round}"));
        }
    }
    proxy.stop().await;
}

#[tokio::test]
async fn tokio_postgres_sees_the_servers_error_and_a_closed_connection() {
    let proxy = TestProxy::start().await;
    for round in 0..ROUNDS {
        let client = proxy.connect().await;
        let pid: i32 = client
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0);
        terminate(pid).await;
        let err = client
            .simple_query("SELECT 1")
            .await
            .expect_err("the session is over");
        // tokio-postgres reads a FATAL that arrives before the query as the
        // end of the connection, as it does straight against PostgreSQL;
        // an error it does report is the server's.
        if let Some(db) = err.as_db_error() {
            assert_eq!(db.code(), &SqlState::ADMIN_SHUTDOWN, "round {round}: {err}");
        } else {
            assert!(err.is_closed(), "round {round}: {err}");
        }
        let closed = tokio::time::timeout(Duration::from_secs(10), async {
            while !client.is_closed() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert!(closed.is_ok(), "round {round}: the connection stays open");
    }
    proxy.stop().await;
}

/// psycopg (libpq) through the proxy and straight to PostgreSQL: every
/// round ends in AdminShutdown (or, in pipeline mode, the closed
/// connection libpq reads first), never InternalError.
#[tokio::test]
async fn libpq_sees_admin_shutdown_not_two_results() {
    let proxy = TestProxy::start().await;
    let python = repo().join(".venv/bin/python");
    let script = repo().join("tests/clients/terminated.py");
    let direct = cluster().url("postgres");
    let through = proxy.url("postgres", None, "postgres");
    let rounds = ROUNDS.to_string();
    for target in [&direct, &through] {
        let args = [script.to_str().unwrap(), target, &direct, &rounds];
        let (ok, out, err) = run(&python, &args, None).await;
        assert!(ok, "{target}:\n{out}\n{err}");
        assert!(
            out.contains("all rounds ended as PostgreSQL ends them"),
            "{out}"
        );
    }
    proxy.stop().await;
}
