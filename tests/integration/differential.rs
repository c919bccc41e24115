//! The same statements, run directly and through the proxy, must produce
//! the same messages: results, command tags, errors, notices, parameter
//! changes and transaction states.

use std::net::SocketAddr;

use crate::common::raw::{self, Msg, RawConn};
use crate::common::{TestProxy, cluster, fresh_database};

enum Step {
    Simple(&'static str),
    Extended(&'static str),
}
use Step::{Extended, Simple};

const STEPS: &[Step] = &[
    Simple(
        "CREATE TABLE orders (id serial PRIMARY KEY, customer text NOT NULL, total numeric(10,2), placed timestamptz DEFAULT '2026-01-01 00:00:00+00')",
    ),
    Simple("INSERT INTO orders (customer, total) VALUES ('ada', 10.50), ('bob', 20), ('cy', NULL)"),
    Extended(
        "INSERT INTO orders (customer, total) VALUES ('dee', 1.25) RETURNING id, customer, total",
    ),
    Simple("SELECT * FROM orders ORDER BY id"),
    Extended("SELECT id, customer, total, placed FROM orders ORDER BY id DESC"),
    Simple("UPDATE orders SET total = total * 2 WHERE total IS NOT NULL"),
    Extended("UPDATE orders SET customer = upper(customer) WHERE id > 2 RETURNING *"),
    Simple("DELETE FROM orders WHERE id = 4 RETURNING customer"),
    Simple("SELECT 1; SELECT 2, 'two'; VALUES (1, 'a'), (2, 'b')"),
    Simple(""),
    Simple(";"),
    Extended(""),
    Simple("SELEC 1"),
    Extended("SELECT * FROM no_such_table"),
    Simple("SELECT 1/0"),
    Extended("SELECT 1; SELECT 2"),
    Simple("INSERT INTO orders (id, customer) VALUES (1, 'dup')"),
    Simple("INSERT INTO orders (customer) VALUES (NULL)"),
    Simple("BEGIN"),
    Simple("INSERT INTO orders (customer) VALUES ('in tx')"),
    Extended("SELECT count(*) FROM orders"),
    Simple("SELECT nonsense_column FROM orders"),
    Simple("SELECT 1"),
    Extended("SELECT 1"),
    Simple("ROLLBACK"),
    Simple("BEGIN; SELECT 1; COMMIT"),
    Simple("BEGIN; SELECT 1/0; COMMIT"),
    // The error skipped the COMMIT: the block is still open and aborted.
    Simple("SELECT 1"),
    Simple("ROLLBACK"),
    Simple("SELECT 1"),
    Simple("SET application_name = 'differential'"),
    Simple("SHOW application_name"),
    Simple("SET TimeZone = 'Europe/Paris'"),
    Simple("SELECT placed FROM orders WHERE id = 1"),
    Simple("DO $$ BEGIN RAISE NOTICE 'notice %', 1; RAISE WARNING 'careful'; END $$"),
    Simple("PREPARE by_id(int) AS SELECT customer FROM orders WHERE id = $1"),
    Simple("EXECUTE by_id(2)"),
    Simple("DEALLOCATE by_id"),
    Simple("COPY orders (id, customer) TO STDOUT"),
    Simple(
        "COPY (SELECT g, md5(g::text) FROM generate_series(1, 2000) g) TO STDOUT WITH (FORMAT csv, HEADER)",
    ),
    Extended("SELECT g, repeat('x', g % 50) FROM generate_series(1, 5000) g"),
    Simple(
        "SELECT '\\x00ff'::bytea, 'ünïcødé', 1.5::float8, ARRAY[1,2,3], '{\"a\": 1}'::jsonb, NULL::int",
    ),
    Simple("CREATE TEMP TABLE t (a int)"),
    Simple("TRUNCATE t"),
    Simple("DROP TABLE t"),
    Simple("LISTEN chan"),
    Simple("NOTIFY chan, 'payload'"),
    Simple("UNLISTEN *"),
    Simple("SELECT pg_sleep(0.01)"),
    Simple("DROP TABLE orders"),
];

#[tokio::test]
async fn same_messages_directly_and_through_the_proxy() {
    let proxy = TestProxy::start().await;
    let direct_addr: SocketAddr = cluster().addr().parse().unwrap();
    let direct = transcript(direct_addr, &fresh_database("diff_direct")).await;
    let proxied = transcript(proxy.addr, &fresh_database("diff_proxy")).await;
    assert_eq!(direct.len(), proxied.len());
    for (i, (d, p)) in direct.iter().zip(&proxied).enumerate() {
        assert_eq!(d, p, "step {i} differs");
    }
    // The comparison is only worth something if the steps did things.
    let all: Vec<&Msg> = direct.iter().flatten().collect();
    for tag in [b'T', b'D', b'C', b'E', b'N', b'S', b'H', b'I', b'A', b'Z'] {
        assert!(
            all.iter().any(|m| m.tag == tag),
            "no {:?} message seen",
            tag as char
        );
    }
}

/// Every message the server sends for each step, normalised where two
/// databases legitimately differ.
async fn transcript(addr: SocketAddr, database: &str) -> Vec<Vec<Msg>> {
    let mut conn = RawConn::connect(addr).await;
    conn.send(&raw::startup("postgres", database)).await;
    let mut out = vec![normalise(conn.until_ready().await)];
    for step in STEPS {
        match step {
            Simple(sql) => conn.send(&raw::query(sql)).await,
            Extended(sql) => conn.send(&raw::extended(sql)).await,
        }
        out.push(normalise(conn.until_ready().await));
    }
    conn.send(raw::TERMINATE).await;
    assert!(conn.until_closed().await.is_empty());
    out
}

fn normalise(msgs: Vec<Msg>) -> Vec<Msg> {
    msgs.into_iter()
        .map(|mut m| {
            match m.tag {
                // Table OIDs of result columns.
                b'T' => zero_table_oids(&mut m.body),
                // Backend PIDs and cancel keys.
                b'K' | b'A' => m.body[..4].fill(0),
                _ => {}
            }
            if m.tag == b'K' {
                m.body.fill(0);
            }
            m
        })
        .collect()
}

fn zero_table_oids(body: &mut [u8]) {
    let count = u16::from_be_bytes([body[0], body[1]]) as usize;
    let mut pos = 2;
    for _ in 0..count {
        pos += body[pos..].iter().position(|&b| b == 0).unwrap() + 1;
        body[pos..pos + 4].fill(0);
        pos += 18;
    }
}

/// The server answers Describe only when asked to flush: the proxy must
/// pass Flush on and must not wait for a Sync that has not been sent.
#[tokio::test]
async fn flush_without_sync_gets_answers() {
    use crate::common::raw::message;
    let proxy = TestProxy::start().await;
    let mut conn = RawConn::login(proxy.addr, "postgres", "postgres").await;
    let mut batch = message(b'P', b"s1\0SELECT $1::int + 1\0\0\0");
    batch.extend(message(b'D', b"Ss1\0"));
    batch.extend(message(b'H', b""));
    conn.send(&batch).await;
    let tags: Vec<u8> = [conn.recv().await, conn.recv().await, conn.recv().await]
        .into_iter()
        .map(|m| m.expect("answer before any Sync").tag)
        .collect();
    // ParseComplete, ParameterDescription, RowDescription.
    assert_eq!(tags, b"1tT");

    // Portal "", statement s1, no format codes, one parameter "41", no
    // result format codes.
    let bind = [&b"\0s1\0"[..], &[0, 0, 0, 1, 0, 0, 0, 2], b"41", &[0, 0]].concat();
    let mut batch = message(b'B', &bind);
    batch.extend(message(b'E', b"\0\0\0\0\0"));
    batch.extend(message(b'S', b""));
    conn.send(&batch).await;
    let msgs = conn.until_ready().await;
    let row = msgs.iter().find(|m| m.tag == b'D').expect("a row");
    assert_eq!(&row.body[6..], b"42");
}
