//! Unsolicited server messages: notifications and notices.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, NoTls};

use crate::common::TestProxy;

/// A client whose notifications and notices are collected in a channel.
async fn listening_client(url: &str) -> (Client, mpsc::UnboundedReceiver<AsyncMessage>) {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if tx.send(message).is_err() {
                break;
            }
        }
    });
    (client, rx)
}

#[tokio::test]
async fn listen_notify_between_two_sessions() {
    let proxy = TestProxy::start().await;
    let url = proxy.url("postgres", None, "postgres");
    let (listener, mut messages) = listening_client(&url).await;
    listener
        .batch_execute("LISTEN orders_changed")
        .await
        .unwrap();

    let notifier = proxy.connect().await;
    notifier
        .batch_execute("NOTIFY orders_changed, 'order 42'")
        .await
        .unwrap();
    notifier
        .query("SELECT pg_notify('orders_changed', $1)", &[&"order 43"])
        .await
        .unwrap();

    // The listener is idle: the notifications arrive unsolicited.
    let mut payloads = Vec::new();
    while payloads.len() < 2 {
        let message = tokio::time::timeout(Duration::from_secs(10), messages.recv())
            .await
            .expect("notification arrives")
            .expect("connection open");
        if let AsyncMessage::Notification(n) = message {
            assert_eq!(n.channel(), "orders_changed");
            payloads.push(n.payload().to_owned());
        }
    }
    assert_eq!(payloads, ["order 42", "order 43"]);
}

#[tokio::test]
async fn notices_reach_the_client() {
    let proxy = TestProxy::start().await;
    let (client, mut messages) = listening_client(&proxy.url("postgres", None, "postgres")).await;
    client
        .batch_execute("DO $$ BEGIN RAISE NOTICE 'hello from %', 'plpgsql'; END $$")
        .await
        .unwrap();
    let message = tokio::time::timeout(Duration::from_secs(10), messages.recv())
        .await
        .unwrap()
        .unwrap();
    match message {
        AsyncMessage::Notice(notice) => assert_eq!(notice.message(), "hello from plpgsql"),
        other => panic!("expected a notice, got {other:?}"),
    }
}
