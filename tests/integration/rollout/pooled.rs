//! softdel in front of a real PgBouncer in transaction pooling, whose one
//! server connection (pool size 1) every client shares: what each client
//! sees stays its own (refusals, hidden rows, transactions, exemptions,
//! what observe mode journals);
//! what prepared statements can and cannot do there; cancel requests when
//! several softdel instances share the pooler; and why the pooler goes
//! behind softdel, not in front of it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use crate::clients::{repo, run, which};
use crate::common::pgbouncer::{Bouncer, BouncerOptions, backend_pid};
use crate::common::{TestProxy, cluster, connect};
use crate::operator::{snapshot, softdel};
use crate::softdelete::shop::{RULES, Shop, message, sqlstate};

/// The shop's rules, with migration jobs exempt.
fn rules() -> String {
    format!("{RULES}exempt:\n  applications: [\"migrate-*\"]\n")
}

/// A shop whose proxy's upstream is a PgBouncer in transaction pooling.
struct Pooled {
    shop: Shop,
    _bouncer: Bouncer,
}

impl Pooled {
    /// One server connection for every client.
    async fn open() -> Pooled {
        Pooled::open_with(BouncerOptions::default()).await
    }

    async fn open_with(options: BouncerOptions) -> Pooled {
        Pooled::start(options, rules(), false).await
    }

    /// Every rule observed (`mode: observe`), the guard installed from
    /// them, and the proxy recording in the journal.
    async fn observing() -> Pooled {
        let observed = rules().replace("defaults:\n", "defaults:\n  mode: observe\n");
        let p = Pooled::start(BouncerOptions::default(), observed.clone(), true).await;
        p.shop.install_guard(&observed).await;
        p
    }

    async fn start(options: BouncerOptions, rules: String, journal_url: bool) -> Pooled {
        let bouncer = Bouncer::start(&cluster().addr(), options).await;
        let upstream = bouncer.addr.to_string();
        let shop = Shop::open_with(|config, database| {
            let shops = config.rules.as_ref().expect("the shop's rules file");
            let path = shops.with_file_name("pooled.yaml");
            std::fs::write(&path, rules).unwrap();
            config.rules = Some(path);
            config.upstream = upstream;
            if journal_url {
                config.journal_url = Some(cluster().url(database));
            }
        })
        .await;
        Pooled {
            shop,
            _bouncer: bouncer,
        }
    }

    /// A client through softdel and the pooler, as `application`.
    async fn client(&self, application: &str) -> Client {
        let url = format!("{}&application_name={application}", self.shop.url());
        connect(&url).await.unwrap()
    }

    /// Two clients, as `first` and `second`, served by one server connection.
    async fn sharing(&self, first: &str, second: &str) -> (Client, Client) {
        let (a, b) = (self.client(first).await, self.client(second).await);
        let pid = backend_pid(&a).await;
        assert_eq!(backend_pid(&b).await, pid, "one server connection");
        (a, b)
    }
}

/// The first column of each row of a simple query.
async fn column(client: &Client, sql: &str) -> Vec<String> {
    let messages = client.simple_query(sql).await.expect(sql);
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or("NULL").to_owned()),
            _ => None,
        })
        .collect()
}

/// The ids of orders 11 to 13 that `statement` (bounds `$1` and `$2`)
/// reads through `client`, in the extended protocol.
async fn eleven_to_thirteen<T>(client: &Client, statement: &T) -> Vec<i32>
where
    T: tokio_postgres::ToStatement + ?Sized,
{
    let rows = client.query(statement, &[&11i32, &13i32]).await.unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

/// What `softdel log` shows was done, oldest first, one line each:
/// action, table, rows, user, application_name, path.
async fn journal(shop: &Shop) -> Vec<String> {
    let url = cluster().url(&shop.database);
    let log = softdel(&["log", "--database-url", &url, "--json"]).await;
    assert!(log.ok, "{log:?}");
    let mut lines: Vec<String> = log
        .stdout
        .lines()
        .map(|line| {
            let op: serde_json::Value = serde_json::from_str(line).unwrap();
            let text = |key: &str| op[key].as_str().unwrap_or("-").to_owned();
            format!(
                "{} {} {} by {} as {} via {}",
                text("action"),
                text("table"),
                op["row_count"],
                text("db_user"),
                text("application_name"),
                text("path"),
            )
        })
        .collect();
    lines.reverse();
    lines
}

/// Runs `f` while `holder` holds the only server connection in a
/// transaction: `f` must wait until `release` ends it, then finish.
async fn waits_for<T: Send + 'static>(
    holder: &Client,
    release: &str,
    f: impl Future<Output = T> + Send + 'static,
) -> T {
    let waiting = tokio::spawn(f);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "it ran while another client's transaction held the server connection"
    );
    holder.batch_execute(release).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("it runs once the transaction ends")
        .unwrap()
}

#[tokio::test]
async fn refusals_leave_the_shared_server_connection_to_the_other_clients() {
    let p = Pooled::open().await;
    let (a, b) = p.sharing("web-a", "web-b").await;
    let pid = backend_pid(&a).await;
    let before = snapshot(&p.shop).await;

    let refused = [
        (
            "DELETE FROM orders",
            "SD002",
            "DELETE on table public.orders refused: it would remove 20 rows, over the limit of 10",
        ),
        (
            "DELETE FROM scratch",
            "SD002",
            "DELETE on table scratch refused: it would remove 2000 rows, over the limit of 1000",
        ),
        (
            "DELETE FROM audit_logs WHERE id = 1",
            "SD001",
            "DELETE on table public.audit_logs refused: the table is protected \
             (on_delete: block) and the statement would remove 1 row",
        ),
        (
            "TRUNCATE refunds",
            "SD003",
            "TRUNCATE of table refunds refused: the table is protected",
        ),
        (
            "DO $$ BEGIN DELETE FROM refunds WHERE id = 4; END $$",
            "SD004",
            "statement refused: it may delete rows of protected table refunds \
             and softdel cannot analyse it",
        ),
    ];
    for (sql, code, text) in refused {
        let error = a.batch_execute(sql).await.unwrap_err();
        assert_eq!(sqlstate(&error), code, "{sql}");
        let said = message(&error);
        assert!(
            said.starts_with(&format!("softdel: {text}; nothing was")),
            "{sql}: {said}"
        );
        // The other client, on the same server connection, goes on at once,
        // and so does the refused one.
        assert_eq!(backend_pid(&b).await, pid);
        assert_eq!(column(&b, "SELECT count(*) FROM orders").await, ["20"]);
        assert_eq!(backend_pid(&a).await, pid);
    }
    let error = a
        .execute("DELETE FROM orders WHERE id > $1", &[&0i32])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&error), "SD002", "in the extended protocol too");
    assert_eq!(snapshot(&p.shop).await, before, "nothing was deleted");
    assert_eq!(p.shop.count("SELECT count(*) FROM scratch").await, 2000);

    // Each client's next delete is its own, with its own name.
    let one = "DELETE FROM orders WHERE id = $1";
    assert_eq!(a.execute(one, &[&11i32]).await.unwrap(), 1);
    assert_eq!(b.execute(one, &[&12i32]).await.unwrap(), 1);
    assert_eq!(
        journal(&p.shop).await,
        [
            "soft_delete public.orders 1 by postgres as web-a via proxy",
            "soft_delete public.orders 1 by postgres as web-b via proxy",
        ]
    );
    // The refusals are recorded as A's.
    let mut recorded = Vec::new();
    for _ in 0..250 {
        recorded = p
            .shop
            .blocked()
            .lines()
            .map(|line| {
                let attempt: serde_json::Value = serde_json::from_str(line).unwrap();
                format!(
                    "{} {}",
                    attempt["sqlstate"].as_str().unwrap(),
                    attempt["application_name"].as_str().unwrap()
                )
            })
            .collect();
        if recorded.len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        recorded,
        [
            "SD002 web-a",
            "SD002 web-a",
            "SD001 web-a",
            "SD003 web-a",
            "SD004 web-a",
            "SD002 web-a"
        ]
    );
}

#[tokio::test]
async fn show_deleted_is_each_clients_own_on_the_shared_server_connection() {
    let p = Pooled::open().await;
    let (a, b) = p.sharing("web-a", "web-b").await;
    a.batch_execute("DELETE FROM orders WHERE id IN (11, 12)")
        .await
        .unwrap();
    let simple = "SELECT id FROM orders WHERE id BETWEEN 11 AND 13 ORDER BY id";
    let extended = "SELECT id FROM orders WHERE id BETWEEN $1 AND $2 ORDER BY id";
    let prepared_a = a.prepare(extended).await.unwrap();
    let prepared_b = b.prepare(extended).await.unwrap();

    a.batch_execute("SET softdel.show_deleted = on")
        .await
        .unwrap();
    // In turns on the one server connection: A sees every row, B the live
    // ones, in the simple protocol, the extended one, and through the
    // statements each prepared before A's SET.
    for _ in 0..2 {
        assert_eq!(column(&a, simple).await, ["11", "12", "13"]);
        assert_eq!(column(&b, simple).await, ["13"]);
        assert_eq!(eleven_to_thirteen(&a, extended).await, [11, 12, 13]);
        assert_eq!(eleven_to_thirteen(&b, extended).await, [13]);
        assert_eq!(eleven_to_thirteen(&a, &prepared_a).await, [11, 12, 13]);
        assert_eq!(eleven_to_thirteen(&b, &prepared_b).await, [13]);
    }
    // What the server says is its session's, which both share: A's SET is
    // there for B too. What B sees is softdel's own setting for B.
    assert_eq!(column(&b, "SHOW softdel.show_deleted").await, ["on"]);
    assert_eq!(column(&b, simple).await, ["13"]);

    a.batch_execute("RESET softdel.show_deleted").await.unwrap();
    assert_eq!(column(&a, simple).await, ["13"]);
    // For one transaction: B waits for the server connection meanwhile.
    a.batch_execute("BEGIN; SET LOCAL softdel.show_deleted = on")
        .await
        .unwrap();
    assert_eq!(eleven_to_thirteen(&a, extended).await, [11, 12, 13]);
    let (_b, seen) = waits_for(&a, "COMMIT", async move {
        let seen = eleven_to_thirteen(&b, extended).await;
        (b, seen)
    })
    .await;
    assert_eq!(seen, [13]);
    assert_eq!(eleven_to_thirteen(&a, extended).await, [13], "it ended");
}

#[tokio::test]
async fn transactions_take_turns_on_the_shared_server_connection() {
    let p = Pooled::open().await;
    let (a, b) = p.sharing("web-a", "web-b").await;

    // Refused inside its transaction, A's block is aborted, as by any
    // error, and holds the server connection until A ends it.
    a.batch_execute("BEGIN; DELETE FROM orders WHERE id = 11")
        .await
        .unwrap();
    let error = a.batch_execute("DELETE FROM orders").await.unwrap_err();
    assert_eq!(sqlstate(&error), "SD002");
    let error = a.batch_execute("SELECT 1").await.unwrap_err();
    assert_eq!(error.code(), Some(&SqlState::IN_FAILED_SQL_TRANSACTION));
    let count = "SELECT count(*) FROM orders";
    let (b, seen) = waits_for(&a, "ROLLBACK", async move {
        let seen = column(&b, count).await;
        (b, seen)
    })
    .await;
    assert_eq!(seen, ["20"], "A's soft delete was rolled back");

    // A commits a soft delete while B's (extended protocol) waits.
    a.batch_execute("BEGIN; DELETE FROM orders WHERE id = 12")
        .await
        .unwrap();
    assert_eq!(column(&a, count).await, ["19"]);
    let (_b, deleted) = waits_for(&a, "COMMIT", async move {
        let deleted = b
            .execute("DELETE FROM refunds WHERE id = $1", &[&3i32])
            .await
            .unwrap();
        (b, deleted)
    })
    .await;
    assert_eq!(deleted, 1);
    assert!(
        !p.shop
            .value::<bool>("SELECT is_active FROM orders WHERE id = 12")
            .await
    );
    assert_eq!(
        journal(&p.shop).await,
        [
            "soft_delete public.orders 1 by postgres as web-a via proxy",
            "journal_delete public.refunds 1 by postgres as web-b via proxy",
        ]
    );
}

#[tokio::test]
async fn an_exempt_application_shares_the_server_connection_with_one_that_is_not() {
    let p = Pooled::open().await;
    let (job, web) = p.sharing("migrate-2026", "web").await;

    // The job's DELETE passes untouched: a real delete, which the guard
    // journals as the job's; the application's is a soft delete.
    let delete = "DELETE FROM orders WHERE id = $1";
    assert_eq!(job.execute(delete, &[&11i32]).await.unwrap(), 1);
    assert_eq!(web.execute(delete, &[&12i32]).await.unwrap(), 1);
    let there = "SELECT id::text || ' ' || is_active FROM orders WHERE id IN (11, 12)";
    assert_eq!(p.shop.strings(there).await, ["12 false"]);
    // Hiding is for the application only.
    let read = "SELECT id FROM orders WHERE id IN (11, 12, 13) ORDER BY id";
    assert_eq!(column(&job, read).await, ["12", "13"]);
    assert_eq!(column(&web, read).await, ["13"]);
    // Refusals: the proxy's for the application only; the guard's for both.
    let error = web.batch_execute("DELETE FROM scratch").await.unwrap_err();
    assert_eq!(sqlstate(&error), "SD002");
    assert_eq!(job.execute("DELETE FROM scratch", &[]).await.unwrap(), 2000);
    let unreadable = "DO $$ BEGIN DELETE FROM refunds WHERE id = 3; END $$";
    let error = web.batch_execute(unreadable).await.unwrap_err();
    assert_eq!(sqlstate(&error), "SD004");
    job.batch_execute(unreadable).await.unwrap();
    for client in [&job, &web] {
        let error = client
            .batch_execute("TRUNCATE audit_logs")
            .await
            .unwrap_err();
        assert_eq!(sqlstate(&error), "SD003");
    }
    assert_eq!(p.shop.count("SELECT count(*) FROM audit_logs").await, 5);
    // Each one's name on what it did, though they took turns on one
    // server connection (the pooler sets application_name for each).
    assert_eq!(
        journal(&p.shop).await,
        [
            "hard_delete public.orders 1 by postgres as migrate-2026 via direct",
            "soft_delete public.orders 1 by postgres as web via proxy",
            "journal_delete public.refunds 1 by postgres as migrate-2026 via direct",
        ]
    );
}

#[tokio::test]
async fn observe_mode_journals_each_clients_statements_as_its_own() {
    let p = Pooled::observing().await;
    let (a, b) = p.sharing("web-a", "web-b").await;
    // A's DELETE on a soft table is a real one; B's mass delete on an
    // allowed table runs; A's TRUNCATE too.
    assert_eq!(
        a.execute("DELETE FROM orders WHERE id = 15", &[])
            .await
            .unwrap(),
        1
    );
    assert_eq!(b.execute("DELETE FROM scratch", &[]).await.unwrap(), 2000);
    a.batch_execute("TRUNCATE audit_logs").await.unwrap();
    // Nothing is hidden, for either.
    p.shop
        .direct
        .batch_execute("UPDATE orders SET is_active = false WHERE id = 16")
        .await
        .unwrap();
    assert_eq!(
        column(&b, "SELECT id FROM orders WHERE id = 16").await,
        ["16"]
    );
    // Each is journaled under its own client's name: the guard's entries
    // in the statement's transaction, the proxy's own record of B's
    // mass delete (which only it could see) by its recorder, meanwhile.
    let expected = [
        "soft_delete public.orders 1 by postgres as  via direct",
        "would_refuse .scratch 0 by postgres as web-b via proxy",
        "would_refuse public.audit_logs 5 by postgres as web-a via direct",
        "would_soft_delete public.orders 1 by postgres as web-a via direct",
    ];
    let mut lines = Vec::new();
    for _ in 0..100 {
        lines = journal(&p.shop).await;
        if lines.len() == expected.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    lines.sort();
    assert_eq!(lines, expected);
}

#[tokio::test]
async fn named_prepared_statements_work_while_one_server_connection_serves_all() {
    let p = Pooled::open().await;
    let (a, b) = p.sharing("web-a", "web-b").await;
    // tokio-postgres names its statements s0, s1, ... for the whole
    // process: two clients of one process never pick the same name.
    let read = a
        .prepare("SELECT count(*) FROM orders WHERE id > $1")
        .await
        .unwrap();
    let delete = b.prepare("DELETE FROM orders WHERE id = $1").await.unwrap();
    for (id, live) in [(11i32, 19i64), (12, 18), (13, 17)] {
        assert_eq!(b.execute(&delete, &[&id]).await.unwrap(), 1);
        let row = a.query_one(&read, &[&0i32]).await.unwrap();
        assert_eq!(row.get::<_, i64>(0), live);
    }
    assert_eq!(
        p.shop
            .count("SELECT count(*) FROM orders WHERE NOT is_active")
            .await,
        3
    );
    assert_eq!(
        journal(&p.shop).await,
        ["soft_delete public.orders 1 by postgres as web-b via proxy"; 3]
    );
}

#[tokio::test]
async fn named_prepared_statements_break_once_the_pool_has_two_server_connections() {
    let p = Pooled::open_with(BouncerOptions {
        default_pool_size: 2,
        ..BouncerOptions::default()
    })
    .await;
    let (a, c, d) = (
        p.client("web-a").await,
        p.client("web-c").await,
        p.client("web-d").await,
    );
    // C holds one server connection; A prepares on the other, which D
    // then holds; C lets its own go, and A's next statement runs there.
    c.batch_execute("BEGIN").await.unwrap();
    let first = backend_pid(&c).await;
    let statement = a
        .prepare("SELECT id FROM orders WHERE id = $1")
        .await
        .unwrap();
    let second = backend_pid(&a).await;
    assert_ne!(first, second);
    d.batch_execute("BEGIN").await.unwrap();
    assert_eq!(backend_pid(&d).await, second);
    c.batch_execute("COMMIT").await.unwrap();
    let error = a.query(&statement, &[&1i32]).await.unwrap_err();
    assert_eq!(
        error.code(),
        Some(&SqlState::INVALID_SQL_STATEMENT_NAME),
        "{error}"
    );
    assert!(message(&error).ends_with("does not exist"), "{error}");
    d.batch_execute("COMMIT").await.unwrap();
}

#[tokio::test]
async fn psycopg_and_node_postgres_share_the_server_connection() {
    let p = Pooled::open().await;
    let url = p.shop.url();
    let python = repo().join(".venv/bin/python");
    let script = repo().join("tests/clients/pooled.py");
    let (ok, out, err) = run(&python, &[script.to_str().unwrap(), &url], None).await;
    assert!(ok, "{out}\n{err}");
    assert_eq!(out, PSYCOPG);

    let node = which("node").expect("node is missing: run scripts/install-deps.sh");
    let script = repo().join("tests/clients/node/pooled.js");
    let (ok, out, err) = run(&node, &[script.to_str().unwrap(), &url], None).await;
    assert!(ok, "{out}\n{err}");
    assert_eq!(out, NODE_POSTGRES);
    assert_eq!(
        journal(&p.shop).await,
        [
            "soft_delete public.orders 1 by postgres as psycopg-a via proxy",
            "soft_delete public.orders 1 by postgres as node-a via proxy",
        ]
    );
}

/// What tests/clients/pooled.py prints: unnamed statements are each
/// client's own; named ones clash between connections (each starts at
/// `_pg3_0`), also when psycopg prepares by itself at a query's sixth run.
const PSYCOPG: &str = "\
one server connection: True
a deletes 14: DELETE 1 None
b reads: SELECT 1 [15]
a shows deleted: SET None
a reads: SELECT 2 [14, 15]
b reads: SELECT 1 [15]
a prepares: SELECT 2 [14, 15]
b prepares: 42P05 prepared statement \"_pg3_0\" already exists
a prepared: SELECT 2 [14, 15]
c reads (1): SELECT 1 [19]
c reads (2): SELECT 1 [19]
c reads (3): SELECT 1 [19]
c reads (4): SELECT 1 [19]
c reads (5): SELECT 1 [19]
c reads (6): 42P05 prepared statement \"_pg3_0\" already exists
d reads (1): SELECT 1 [19]
d reads (2): SELECT 1 [19]
d reads (3): SELECT 1 [19]
d reads (4): SELECT 1 [19]
d reads (5): SELECT 1 [19]
d reads (6): SELECT 1 [19]
";

/// What tests/clients/node/pooled.js prints: the same, for a statement
/// node-postgres prepares under the name a query gives.
const NODE_POSTGRES: &str = "\
one server connection: true
a deletes 16: DELETE 1 null
b reads: SELECT 1 [17]
a shows deleted: SET null null
a reads: SELECT 2 [16,17]
b reads: SELECT 1 [17]
a prepares: SELECT 2 [16,17]
b prepares: 42P05 prepared statement \"orders-by-id\" already exists
a prepared: SELECT 2 [16,17]
";

/// Runs `sql` on `client` and, 300 ms in, sends its cancel request to
/// `addr` (where a load balancer may send it: any instance); the outcome
/// and how long the statement took.
async fn cancelled_through(
    client: &Client,
    sql: &str,
    addr: SocketAddr,
) -> (Result<(), tokio_postgres::Error>, Duration) {
    let token = client.cancel_token();
    let cancel = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stream = TcpStream::connect(addr).await.unwrap();
        token.cancel_query_raw(stream, NoTls).await.unwrap();
    };
    let started = Instant::now();
    let (result, ()) = tokio::join!(client.batch_execute(sql), cancel);
    (result, started.elapsed())
}

#[tokio::test]
async fn a_cancel_reaches_the_query_through_any_softdel_with_the_same_upstream() {
    let bouncer = Bouncer::start(&cluster().addr(), BouncerOptions::default()).await;
    let upstream = bouncer.addr.to_string();
    let one = TestProxy::start_with(|c| c.upstream.clone_from(&upstream)).await;
    let two = TestProxy::start_with(|c| c.upstream = upstream).await;
    // An instance with another upstream: PostgreSQL itself.
    let elsewhere = TestProxy::start().await;
    let client = one.connect().await;

    let (result, took) = cancelled_through(&client, "SELECT pg_sleep(30)", two.addr).await;
    let error = result.unwrap_err();
    assert_eq!(error.code(), Some(&SqlState::QUERY_CANCELED), "{error}");
    assert!(took < Duration::from_secs(10), "{took:?}");

    // The key is the pooler's: PostgreSQL knows nothing of it.
    let (result, took) = cancelled_through(&client, "SELECT pg_sleep(2)", elsewhere.addr).await;
    assert!(result.is_ok(), "{result:?}");
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert_eq!(column(&client, "SELECT 1").await, ["1"]);
}

#[tokio::test]
async fn a_pooler_in_front_of_softdel_makes_its_clients_one_softdel_session() {
    let shop = Shop::open().await;
    let bouncer = Bouncer::start(&shop.proxy.addr.to_string(), BouncerOptions::default()).await;
    let url = bouncer.url("postgres", &shop.database);
    let a = connect(&format!("{url}&application_name=web-a"))
        .await
        .unwrap();
    let b = connect(&format!("{url}&application_name=web-b"))
        .await
        .unwrap();
    a.batch_execute("DELETE FROM orders WHERE id = 11")
        .await
        .unwrap();
    let read = "SELECT id FROM orders WHERE id = 11";
    assert!(column(&b, read).await.is_empty());
    // softdel sees the pooler's one connection: A's setting is B's too.
    a.batch_execute("SET softdel.show_deleted = on")
        .await
        .unwrap();
    assert_eq!(column(&b, read).await, ["11"]);
    b.batch_execute("DELETE FROM orders WHERE id = 12")
        .await
        .unwrap();
    let sessions = "SELECT count(*), count(DISTINCT connection_id) FROM softdel.operations";
    let row = shop.direct.query_one(sessions, &[]).await.unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, i64>(1)),
        (2, 1),
        "one softdel session for both clients' deletes"
    );
}
