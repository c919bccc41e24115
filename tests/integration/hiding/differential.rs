//! The corpus on both databases: the same rows, tags and errors.

use std::net::SocketAddr;

use super::Pair;
use super::corpus::{CORPUS, Q};
use crate::common::raw::{self, Msg, RawConn};

/// What a user compares of a statement's answer: its rows (in any order:
/// the plans may differ), its tags, its copied data, its error's SQLSTATE.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    rows: Vec<Vec<u8>>,
    tags: Vec<String>,
    errors: Vec<String>,
}

impl Answer {
    fn of(msgs: &[Msg]) -> Answer {
        let mut rows: Vec<Vec<u8>> = msgs
            .iter()
            .filter(|m| m.tag == b'D' || m.tag == b'd')
            .map(|m| m.body.clone())
            .collect();
        rows.sort();
        let text = |m: &Msg| {
            String::from_utf8_lossy(&m.body)
                .trim_end_matches('\0')
                .to_owned()
        };
        Answer {
            rows,
            tags: msgs.iter().filter(|m| m.tag == b'C').map(text).collect(),
            errors: msgs.iter().filter_map(Msg::sqlstate).collect(),
        }
    }
}

async fn login(addr: SocketAddr, database: &str) -> RawConn {
    RawConn::login(addr, "postgres", database).await
}

async fn answer(conn: &mut RawConn, bytes: &[u8]) -> Answer {
    conn.send(bytes).await;
    Answer::of(&conn.until_ready().await)
}

#[tokio::test]
async fn reads_and_writes_agree_with_a_database_where_the_rows_are_gone() {
    let pair = Pair::open().await;
    pair.delete().await;
    let mut soft = login(pair.soft_addr(), &pair.soft).await;
    let mut hard = login(pair.hard_addr(), &pair.hard).await;
    let (soft_pg, hard_pg) = (pair.soft_client().await, pair.hard_client().await);
    let mut compared = 0;
    let mut nonempty = 0;
    for (i, q) in CORPUS.iter().enumerate() {
        let runs: Vec<Vec<u8>> = match q {
            Q::R(sql) => vec![raw::query(sql), raw::extended(sql)],
            Q::W(sql) => vec![raw::query(sql)],
            Q::P(sql, param) => {
                let a = soft_pg.query(*sql, &[param]).await.map(|r| texts(&r));
                let b = hard_pg.query(*sql, &[param]).await.map(|r| texts(&r));
                let (a, b) = (a.expect(sql), b.expect(sql));
                assert_eq!(a, b, "statement {i}: {sql} with ${param}");
                compared += 1;
                nonempty += usize::from(!a.is_empty());
                continue;
            }
        };
        for bytes in runs {
            let (a, b) = (
                answer(&mut soft, &bytes).await,
                answer(&mut hard, &bytes).await,
            );
            let sql = match q {
                Q::R(s) | Q::W(s) | Q::P(s, _) => s,
            };
            assert_eq!(a, b, "statement {i}: {sql}");
            assert!(a.errors.is_empty(), "statement {i}: {sql}: {:?}", a.errors);
            compared += 1;
            nonempty += usize::from(!a.rows.is_empty());
        }
    }
    assert!(CORPUS.len() >= 150, "{} statements", CORPUS.len());
    assert!(
        nonempty > compared / 2,
        "{nonempty} of {compared} returned rows"
    );
}

#[tokio::test]
async fn pipelined_reads_agree_too() {
    let pair = Pair::open().await;
    pair.delete().await;
    let reads: Vec<&str> = CORPUS
        .iter()
        .filter_map(|q| match q {
            Q::R(sql) => Some(*sql),
            _ => None,
        })
        .collect();
    // Every read in one write, alternating the protocols; the answers
    // are read back one ReadyForQuery at a time.
    let mut batch = Vec::new();
    for (i, sql) in reads.iter().enumerate() {
        batch.extend(if i % 2 == 0 {
            raw::query(sql)
        } else {
            raw::extended(sql)
        });
    }
    let mut answers = Vec::new();
    for (addr, database) in [
        (pair.soft_addr(), &pair.soft),
        (pair.hard_addr(), &pair.hard),
    ] {
        let mut conn = login(addr, database).await;
        conn.send(&batch).await;
        let mut out = Vec::new();
        for _ in &reads {
            out.push(Answer::of(&conn.until_ready().await));
        }
        answers.push(out);
    }
    for (i, sql) in reads.iter().enumerate() {
        assert_eq!(answers[0][i], answers[1][i], "pipelined read {i}: {sql}");
    }
    // Prepared statements with parameters, all in flight at once on one
    // connection (tokio-postgres pipelines concurrent queries).
    let prepared: Vec<(&str, i32)> = CORPUS
        .iter()
        .filter_map(|q| match q {
            Q::P(sql, param) => Some((*sql, *param)),
            _ => None,
        })
        .collect();
    let (soft, hard) = (pair.soft_client().await, pair.hard_client().await);
    let (a, b) = (
        all_at_once(&soft, &prepared).await,
        all_at_once(&hard, &prepared).await,
    );
    for (i, (a, b)) in a.into_iter().zip(b).enumerate() {
        let (a, b) = (a.expect("soft"), b.expect("hard"));
        assert_eq!(
            texts(&a),
            texts(&b),
            "pipelined prepared {i}: {}",
            prepared[i].0
        );
    }
}

/// Runs every statement at once on one connection.
async fn all_at_once(
    c: &tokio_postgres::Client,
    statements: &[(&str, i32)],
) -> Vec<Result<Vec<tokio_postgres::Row>, tokio_postgres::Error>> {
    let each = statements
        .iter()
        .map(|(sql, param)| async move { c.query(*sql, &[param]).await });
    futures_util::future::join_all(each).await
}

/// Every column of every row as text (tokio-postgres, extended protocol).
fn texts(rows: &[tokio_postgres::Row]) -> Vec<String> {
    let mut out: Vec<String> = rows
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|c| format!("{:?}", value(r, c)))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    out.sort();
    out
}

fn value(row: &tokio_postgres::Row, column: usize) -> String {
    use tokio_postgres::types::Type;
    match *row.columns()[column].type_() {
        Type::INT4 => format!("{:?}", row.get::<_, Option<i32>>(column)),
        Type::INT8 => format!("{:?}", row.get::<_, Option<i64>>(column)),
        Type::BOOL => format!("{:?}", row.get::<_, Option<bool>>(column)),
        Type::TEXT => format!("{:?}", row.get::<_, Option<String>>(column)),
        ref other => format!("({other})"),
    }
}
