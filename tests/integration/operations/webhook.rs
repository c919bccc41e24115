//! `--notify-url`: a JSON POST per refused statement, retried when the
//! webhook fails, never holding up the client that was refused.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::{sample, scrape};
use crate::softdelete::shop::{Shop, sqlstate};

/// A webhook that answers each POST with the next of `statuses` (the last
/// one from then on) and passes on each request's path and body; with no
/// statuses it reads the request and never answers.
async fn webhook(
    statuses: &'static [u16],
) -> (SocketAddr, mpsc::UnboundedReceiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut answered = 0;
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Up to the end of the body its Content-Length announces.
            let (head, body) = loop {
                let n = stream.read(&mut buf).await.unwrap();
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(str::to_owned)
                        })
                        .and_then(|n| n.trim().parse().ok())
                        .unwrap_or(0);
                    if body.len() >= length {
                        break (head.to_owned(), body.to_owned());
                    }
                }
            };
            let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
            let _ = tx.send((path, body));
            let Some(&status) = statuses.get(answered).or(statuses.last()) else {
                // Never answers: keep the connection open.
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    drop(stream);
                });
                continue;
            };
            answered += 1;
            let response =
                format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = stream.write_all(response.as_bytes()).await;
        }
    });
    (addr, rx)
}

async fn shop_notifying(addr: SocketAddr) -> Shop {
    Shop::open_with(|config, _| {
        config.admin_listen = Some(([127, 0, 0, 1], 0).into());
        config.notify_url = Some(format!("http://{addr}/hooks/softdel").parse().unwrap());
    })
    .await
}

/// Refused through the proxy; how long the client waited.
async fn refused(shop: &Shop) -> Duration {
    let client = shop.client().await;
    let started = Instant::now();
    let err = client
        .batch_execute("DELETE FROM orders WHERE id <= 15")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "SD002");
    started.elapsed()
}

/// `softdel_notifications_total{result}` once it reaches 1 (delivery
/// happens in the background), or what it is after 10 s.
async fn notifications(shop: &Shop, result: &str) -> f64 {
    let admin = shop.proxy.admin.unwrap();
    let name = format!("softdel_notifications_total{{result=\"{result}\"}}");
    let mut value = 0.0;
    for _ in 0..100 {
        value = sample(&scrape(admin).await, &name);
        if value >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    value
}

#[tokio::test]
async fn each_refusal_is_posted_and_a_failed_post_retried() {
    let (addr, mut posts) = webhook(&[503, 200]).await;
    let shop = shop_notifying(addr).await;
    assert!(refused(&shop).await < Duration::from_secs(1));
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let (path, body) = tokio::time::timeout(Duration::from_secs(10), posts.recv())
            .await
            .expect("the webhook is called, then called again after its 503")
            .unwrap();
        assert_eq!(path, "/hooks/softdel");
        bodies.push(body);
    }
    assert_eq!(bodies[0], bodies[1], "the same notification, retried");
    let note: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(note["action"], "blocked");
    assert_eq!(note["table"], "public.orders");
    assert_eq!(note["reason"], "row limit");
    assert_eq!(note["sqlstate"], "SD002");
    assert_eq!(note["sql"], "DELETE FROM orders WHERE id <= 15");
    assert_eq!(note["database"], shop.database.as_str());
    assert_eq!(note["db_user"], "postgres");
    assert_eq!(notifications(&shop, "sent").await, 1.0);
    assert_eq!(
        shop.count("SELECT count(*) FROM orders WHERE is_active")
            .await,
        20,
        "nothing deleted"
    );
}

#[tokio::test]
async fn a_webhook_that_never_answers_holds_up_no_client() {
    let (addr, mut posts) = webhook(&[]).await;
    let shop = shop_notifying(addr).await;
    for _ in 0..3 {
        assert!(refused(&shop).await < Duration::from_secs(1));
    }
    // It was called, and is still being waited for.
    tokio::time::timeout(Duration::from_secs(10), posts.recv())
        .await
        .expect("the webhook is called")
        .unwrap();
}

#[tokio::test]
async fn past_a_full_queue_notifications_are_dropped_and_counted_not_waited_for() {
    let (addr, _posts) = webhook(&[]).await;
    let shop = shop_notifying(addr).await;
    let client = shop.client().await;
    // The webhook holds the first POST (5 s a try): 1,024 more fill the
    // queue, and the rest are dropped.
    let started = Instant::now();
    for _ in 0..1100 {
        let err = client
            .batch_execute("DELETE FROM orders WHERE id <= 15")
            .await
            .unwrap_err();
        assert_eq!(sqlstate(&err), "SD002");
    }
    let took = started.elapsed();
    let dropped = sample(
        &scrape(shop.proxy.admin.unwrap()).await,
        "softdel_notifications_total{result=\"dropped\"}",
    );
    assert!(
        (70.0..=76.0).contains(&dropped),
        "1,100 refusals, one in flight and 1,024 queued: {dropped} dropped"
    );
    assert!(
        took < Duration::from_secs(30),
        "1,100 refusals took {took:?}: the client waited for the webhook"
    );
}

#[tokio::test]
async fn under_observe_mode_what_would_have_been_refused_is_posted() {
    let (addr, mut posts) = webhook(&[200]).await;
    let shop = shop_notifying(addr).await;
    let observed =
        crate::softdelete::shop::RULES.replace("defaults:\n", "defaults:\n  mode: observe\n");
    // The guard observes too (as `softdel init --rules` does), then the
    // proxy reloads.
    shop.install_guard(&observed).await;
    shop.proxy.reload.reload();
    let client = shop.client().await;
    // Runs, as sent, once the reload is in: then the webhook hears of it.
    let mut ran = false;
    for _ in 0..100 {
        if client
            .batch_execute("DELETE FROM audit_logs WHERE id = 1")
            .await
            .is_ok()
        {
            ran = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ran, "the observed delete never ran");
    let note = loop {
        let (_, body) = tokio::time::timeout(Duration::from_secs(10), posts.recv())
            .await
            .expect("the would-refuse is posted")
            .unwrap();
        let note: serde_json::Value = serde_json::from_str(&body).unwrap();
        // Refusals from before the reload came in were real ones.
        if note["action"] == "would_refuse" {
            break note;
        }
    };
    // Decided before the statement ran: the table as the statement names it.
    assert_eq!(note["table"], "audit_logs", "{note}");
    assert_eq!(note["reason"], "blocked table", "{note}");
    assert_eq!(note["sql"], "DELETE FROM audit_logs WHERE id = 1", "{note}");
    assert_eq!(
        shop.count("SELECT count(*) FROM audit_logs WHERE id = 1")
            .await,
        0,
        "observed: it ran"
    );
}

#[tokio::test]
async fn a_webhook_that_cannot_be_reached_counts_as_failed_after_its_retries() {
    // A port nothing listens on.
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let shop = shop_notifying(addr).await;
    assert!(refused(&shop).await < Duration::from_secs(1));
    // Four tries, 0.5 + 1 + 2 s apart.
    assert_eq!(notifications(&shop, "failed").await, 1.0);
}
