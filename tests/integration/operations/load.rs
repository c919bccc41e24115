//! The load test: hundreds of clients at once through the real binary,
//! mixing reads, soft deletes (committed and rolled back) and refused
//! deletes, with clients that send garbage or vanish mid-message. Twice,
//! so that a leak shows as growth from one round to the next.
//!
//! Bounded in time (`LOAD_SECONDS` per round, default 8) and size
//! (`LOAD_CLIENTS`, default 300), loopback only. It runs alone (see
//! .config/nextest.toml). The figures are printed; `--no-capture` shows
//! them.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use softdel::pgcluster::{ClusterOptions, TempCluster};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_postgres::Client;

use crate::common::{connect, raw};

const RULES: &str = "\
defaults:
  max_rows: 50
tables:
  items:
    on_delete: soft
    flag: alive
  ledger:
    on_delete: block
";

/// Rows each deleting client owns (ids `client * ROWS_EACH + 1 ..`).
const ROWS_EACH: i64 = 2_000;
/// Rows past the clients' own that mass deletes aim at: a refused soft
/// delete runs (and rolls back) its UPDATE, so aimed at the deleters'
/// rows it would only make them wait on its locks.
const POOL: i64 = 200;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A cluster of its own: the others allow 200 connections.
fn load_cluster() -> &'static TempCluster {
    static CLUSTER: OnceLock<TempCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let options = ClusterOptions {
            settings: vec![("max_connections".into(), "600".into())],
            ..ClusterOptions::default()
        };
        TempCluster::start(&options).expect("start the load test's PostgreSQL")
    })
}

/// What the clients did, to be checked against the database.
#[derive(Default)]
struct Tally {
    committed: BTreeSet<i64>,
    rolled_back: BTreeSet<i64>,
    refused: u64,
    reads: u64,
    garbage: u64,
    vanished: u64,
    /// Anything unexpected a client saw.
    surprises: Vec<String>,
}

type Shared = Arc<Mutex<Tally>>;

fn note(tally: &Shared, f: impl FnOnce(&mut Tally)) {
    f(&mut tally.lock().unwrap());
}

/// The proxy process's open file descriptors and resident memory (KiB).
fn usage(pid: u32) -> (usize, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    (fds, rss)
}

struct Proxy {
    child: Child,
    addr: SocketAddr,
    pid: u32,
}

async fn start_proxy(dir: &std::path::Path, clients: u64) -> Proxy {
    let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listen.local_addr().unwrap();
    drop(listen);
    let log = std::fs::File::create(dir.join("proxy.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_softdel"))
        .args(["--log", "warn", "proxy", "--listen", &addr.to_string()])
        .args(["--upstream", &load_cluster().addr()])
        .arg("--rules")
        .arg(dir.join("rules.yaml"))
        .arg("--blocked-log")
        .arg(dir.join("blocked.jsonl"))
        .args(["--max-client-connections", &(clients + 100).to_string()])
        .args(["--client-idle-timeout", "20s"])
        .stdin(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("start softdel");
    let pid = child.id().unwrap();
    for _ in 0..100 {
        if TcpStream::connect(addr).await.is_ok() {
            return Proxy { child, addr, pid };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("softdel did not start listening");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_clients_no_panic_no_leak_nothing_lost() {
    let clients = setting("LOAD_CLIENTS", 300);
    let seconds = setting("LOAD_SECONDS", 8);
    let cluster = tokio::task::spawn_blocking(load_cluster).await.unwrap();
    let direct = connect(&cluster.url("postgres")).await.unwrap();
    direct
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS items, ledger;
             CREATE TABLE items (id bigint PRIMARY KEY, alive boolean NOT NULL DEFAULT true, body text);
             INSERT INTO items (id, body) SELECT g, repeat('x', 40) FROM generate_series(1, {} + {POOL}) g;
             CREATE TABLE ledger (id int PRIMARY KEY);
             INSERT INTO ledger SELECT generate_series(1, 100);",
            clients as i64 * ROWS_EACH
        ))
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("softdel-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    crate::softdelete::shop::install_guard(&direct, &dir, RULES).await;
    let mut proxy = start_proxy(&dir, clients).await;
    let url = format!(
        "postgres://postgres@{}/postgres?connect_timeout=30",
        proxy.addr
    );

    // Warm up (the runtime's first allocations), then the baseline.
    connect(&url)
        .await
        .unwrap()
        .simple_query("SELECT 1")
        .await
        .unwrap();
    let baseline = settle(proxy.pid, None).await;
    let tally = Shared::default();
    let mut after = Vec::new();
    for round in 0..2u64 {
        let started = Instant::now();
        let peak = run_round(&url, proxy.addr, proxy.pid, clients, seconds, round, &tally).await;
        let settled = settle(proxy.pid, Some(baseline.0)).await;
        println!(
            "round {}: {clients} clients for {:.1} s; peak {} fds, {} KiB; after {} fds, {} KiB (baseline {} fds, {} KiB)",
            round + 1,
            started.elapsed().as_secs_f64(),
            peak.0,
            peak.1,
            settled.0,
            settled.1,
            baseline.0,
            baseline.1
        );
        after.push(settled);
    }
    let tally = Arc::try_unwrap(tally).ok().unwrap().into_inner().unwrap();
    println!(
        "clients saw: {} reads, {} committed soft deletes, {} rolled back, {} refused, {} garbage sessions, {} vanished",
        tally.reads,
        tally.committed.len(),
        tally.rolled_back.len(),
        tally.refused,
        tally.garbage,
        tally.vanished
    );
    assert!(
        tally.surprises.is_empty(),
        "{:#?}",
        &tally.surprises[..tally.surprises.len().min(20)]
    );

    // Still alive and serving, and never panicked.
    assert!(proxy.child.try_wait().unwrap().is_none(), "softdel exited");
    connect(&url)
        .await
        .unwrap()
        .simple_query("SELECT 1")
        .await
        .unwrap();
    let log = std::fs::read_to_string(dir.join("proxy.log")).unwrap();
    assert!(!log.contains("panicked"), "{log}");

    // No leak: descriptors back to the baseline, memory not growing from
    // one round to the next (the allocator keeps some after the first).
    assert_eq!(after[0].0, baseline.0, "file descriptors after round 1");
    assert_eq!(after[1].0, baseline.0, "file descriptors after round 2");
    assert!(
        after[1].1 <= after[0].1 + 8 * 1024,
        "memory grew from {} KiB to {} KiB between rounds",
        after[0].1,
        after[1].1
    );
    check_database(&direct, &tally).await;
    proxy.child.kill().await.unwrap();
}

/// Waits for the sessions to close: descriptors back to `fds` (or steady
/// for a second when there is no target yet).
async fn settle(pid: u32, fds: Option<usize>) -> (usize, u64) {
    let mut last = usage(pid);
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = usage(pid);
        let done = match fds {
            Some(fds) => now.0 <= fds,
            None => now.0 == last.0,
        };
        last = now;
        if done {
            break;
        }
    }
    last
}

/// One round: every client for `seconds`; returns the peak usage.
async fn run_round(
    url: &str,
    addr: SocketAddr,
    pid: u32,
    clients: u64,
    seconds: u64,
    round: u64,
    tally: &Shared,
) -> (usize, u64) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..clients {
        let (url, tally) = (url.to_owned(), Arc::clone(tally));
        let seed = i * 7919 + round * 104_729 + 1;
        tasks.spawn(async move {
            match i % 10 {
                0..=4 => reader(&url, deadline, &tally).await,
                5 | 6 => deleter(&url, i, round, deadline, seed, &tally).await,
                7 => refuser(&url, clients as i64 * ROWS_EACH, deadline, &tally).await,
                8 => garbage(addr, deadline, seed, &tally).await,
                _ => vanisher(&url, addr, deadline, seed, &tally).await,
            }
        });
    }
    let mut peak = usage(pid);
    while !tasks.is_empty() {
        tokio::select! {
            joined = tasks.join_next() => {
                if let Some(Err(e)) = joined {
                    note(tally, |t| t.surprises.push(format!("client task failed: {e}")));
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(250)) => {
                let now = usage(pid);
                peak = (peak.0.max(now.0), peak.1.max(now.1));
            }
        }
    }
    peak
}

async fn client(url: &str, tally: &Shared) -> Option<Client> {
    match connect(url).await {
        Ok(client) => Some(client),
        Err(e) => {
            note(tally, |t| t.surprises.push(format!("connect: {e:?}")));
            None
        }
    }
}

async fn reader(url: &str, deadline: Instant, tally: &Shared) {
    let Some(client) = client(url, tally).await else {
        return;
    };
    let statement = client
        .prepare("SELECT count(*) FROM items WHERE id < $1 AND alive")
        .await;
    let Ok(statement) = statement else { return };
    let mut reads = 0;
    while Instant::now() < deadline {
        match client.query_one(&statement, &[&1000i64]).await {
            Ok(_) => reads += 1,
            Err(e) => note(tally, |t| t.surprises.push(format!("read: {e:?}"))),
        }
        match client.simple_query("SELECT 1").await {
            Ok(_) => reads += 1,
            Err(e) => note(tally, |t| t.surprises.push(format!("simple read: {e:?}"))),
        }
    }
    note(tally, |t| t.reads += reads);
}

/// Deletes its own rows one by one, in transactions that commit or roll
/// back, in the simple and extended protocols.
async fn deleter(url: &str, i: u64, round: u64, deadline: Instant, mut seed: u64, tally: &Shared) {
    let Some(mut client) = client(url, tally).await else {
        return;
    };
    let first = i as i64 * ROWS_EACH + 1 + round as i64 * (ROWS_EACH / 2);
    let mut id = first;
    while Instant::now() < deadline && id < first + ROWS_EACH / 2 {
        seed = next(seed);
        let outcome = match seed % 3 {
            0 => client
                .execute("DELETE FROM items WHERE id = $1", &[&id])
                .await
                .map(|n| (n, true)),
            1 => client
                .simple_query(&format!("DELETE FROM items WHERE id = {id}"))
                .await
                .map(|_| (1, true)),
            _ => in_transaction(&mut client, id, seed % 2 == 0).await,
        };
        match outcome {
            Ok((1, true)) => note(tally, |t| {
                t.committed.insert(id);
            }),
            Ok((1, false)) => note(tally, |t| {
                t.rolled_back.insert(id);
            }),
            Ok(other) => note(tally, |t| {
                t.surprises.push(format!("delete {id}: {other:?}"))
            }),
            Err(e) => note(tally, |t| t.surprises.push(format!("delete {id}: {e:?}"))),
        }
        id += 1;
    }
}

async fn in_transaction(
    client: &mut Client,
    id: i64,
    commit: bool,
) -> Result<(u64, bool), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    let n = tx
        .execute("DELETE FROM items WHERE id = $1", &[&id])
        .await?;
    if commit {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok((n, commit))
}

/// Mass deletes (over the row limit) and deletes on a blocked table.
async fn refuser(url: &str, pool_after: i64, deadline: Instant, tally: &Shared) {
    let Some(client) = client(url, tally).await else {
        return;
    };
    let mut refused = 0;
    let mass = format!("DELETE FROM items WHERE id > {pool_after}");
    while Instant::now() < deadline {
        for (sql, code) in [
            (mass.as_str(), "SD002"),
            ("DELETE FROM ledger WHERE id < 10", "SD001"),
            ("TRUNCATE items", "SD003"),
        ] {
            match client.batch_execute(sql).await {
                Err(e) if e.as_db_error().map(|d| d.code().code()) == Some(code) => refused += 1,
                other => note(tally, |t| t.surprises.push(format!("{sql}: {other:?}"))),
            }
        }
    }
    note(tally, |t| t.refused += refused);
}

/// Logs in, then sends bytes that are no protocol at all; new connection
/// each time.
async fn garbage(addr: SocketAddr, deadline: Instant, mut seed: u64, tally: &Shared) {
    let mut sessions = 0;
    while Instant::now() < deadline {
        let Ok(mut stream) = TcpStream::connect(addr).await else {
            continue;
        };
        let mut bytes = raw::startup("postgres", "postgres");
        seed = next(seed);
        if seed % 2 == 0 {
            // Garbage instead of a startup packet.
            bytes.clear();
        }
        for _ in 0..64 {
            seed = next(seed);
            bytes.push((seed >> 24) as u8);
        }
        let _ = stream.write_all(&bytes).await;
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut sink)).await;
        sessions += 1;
    }
    note(tally, |t| t.garbage += sessions);
}

/// Clients that go away: in the middle of a message, or with a query
/// running.
async fn vanisher(url: &str, addr: SocketAddr, deadline: Instant, mut seed: u64, tally: &Shared) {
    let mut vanished = 0;
    while Instant::now() < deadline {
        seed = next(seed);
        if seed % 2 == 0 {
            let mut conn = raw::RawConn::login(addr, "postgres", "postgres").await;
            // Half a Query message, then gone.
            conn.send(b"Q\0\0\0\x40SELECT pg_sleep").await;
        } else if let Some(client) = client(url, tally).await {
            let running = client.simple_query("SELECT pg_sleep(5)");
            let _ = tokio::time::timeout(Duration::from_millis(50), running).await;
        }
        vanished += 1;
    }
    note(tally, |t| t.vanished += vanished);
}

/// A step of a linear congruential generator: enough to vary the mix.
fn next(seed: u64) -> u64 {
    seed.wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407)
}

/// Every committed soft delete is in place and journaled with its image;
/// nothing rolled back or refused changed anything.
async fn check_database(direct: &Client, tally: &Tally) {
    let ids = |rows: Vec<tokio_postgres::Row>| -> BTreeSet<i64> {
        rows.iter().map(|r| r.get(0)).collect()
    };
    let dead = ids(direct
        .query("SELECT id FROM items WHERE NOT alive", &[])
        .await
        .unwrap());
    assert_eq!(dead.len(), tally.committed.len(), "soft-deleted rows");
    assert!(
        dead == tally.committed,
        "the rows soft-deleted are exactly those committed"
    );
    let journaled = ids(direct
        .query(
            "SELECT (r.image->>'id')::bigint FROM softdel.rows r \
                 JOIN softdel.operations o ON o.id = r.op_id \
                 WHERE o.action = 'soft_delete' AND o.table_name = 'items'",
            &[],
        )
        .await
        .unwrap());
    assert!(
        journaled == tally.committed,
        "every committed soft delete journaled, nothing else"
    );
    let ops: i64 = direct
        .query_one(
            "SELECT count(*) FROM softdel.operations WHERE action = 'soft_delete'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        ops as usize,
        tally.committed.len(),
        "one operation per committed DELETE"
    );
    assert!(tally.rolled_back.is_disjoint(&dead));
    let ledger: i64 = direct
        .query_one("SELECT count(*) FROM ledger", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(ledger, 100, "the blocked table is untouched");
    assert!(tally.refused > 0 && tally.reads > 0 && tally.garbage > 0 && tally.vanished > 0);
}
