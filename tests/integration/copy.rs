//! COPY FROM STDIN and COPY TO STDOUT: data streams that are never SQL.

use bytes::Bytes;
use futures_util::{SinkExt, TryStreamExt};
use tokio_postgres::error::SqlState;

use crate::common::TestProxy;

#[tokio::test]
async fn copy_in_and_out_round_trip() {
    let proxy = TestProxy::start().await;
    let client = proxy.connect().await;
    client
        .batch_execute("CREATE TEMP TABLE rows_in (id int, payload text)")
        .await
        .unwrap();

    // 100,000 rows in many chunks of different sizes.
    let mut expected = String::new();
    for i in 0..100_000 {
        expected.push_str(&format!(
            "{i}\tpayload number {i} with a tab\\tand a quote '\n"
        ));
    }
    let sink = client.copy_in("COPY rows_in FROM STDIN").await.unwrap();
    futures_util::pin_mut!(sink);
    for chunk in expected.as_bytes().chunks(7_919) {
        sink.send(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    assert_eq!(sink.finish().await.unwrap(), 100_000);

    let out: Vec<Bytes> = client
        .copy_out("COPY (SELECT * FROM rows_in ORDER BY id) TO STDOUT")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let out: Vec<u8> = out.concat();
    assert_eq!(String::from_utf8(out).unwrap(), expected);
}

#[tokio::test]
async fn bad_copy_data_is_an_error_and_the_session_goes_on() {
    let proxy = TestProxy::start().await;
    let client = proxy.connect().await;
    client
        .batch_execute("CREATE TEMP TABLE nums (n int)")
        .await
        .unwrap();
    let sink = client.copy_in("COPY nums FROM STDIN").await.unwrap();
    futures_util::pin_mut!(sink);
    sink.send(Bytes::from_static(b"1\nnot a number\n"))
        .await
        .unwrap();
    let err = sink.finish().await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(&SqlState::INVALID_TEXT_REPRESENTATION),
        "{err}"
    );
    let count: i64 = client
        .query_one("SELECT count(*) FROM nums", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0);
}
