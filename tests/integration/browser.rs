//! The browser harness itself (`common::browser`), end to end: headless
//! Chromium fills in and submits a form served by a tiny HTTP server in
//! the test, and takes a screenshot of the answer.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::browser::Browser;

#[tokio::test]
async fn fills_and_submits_a_form_and_takes_a_screenshot() {
    let started = Instant::now();
    let addr = serve_echo_form().await;
    let browser = Browser::start().await;
    let page = format!("http://{addr}/");

    browser.goto(&page).await;
    assert_eq!(browser.text_of("h1").await, "Echo");
    assert!(!browser.exists("#echo").await);

    let said = "héllo <world> & 1+1=2";
    browser.fill("input[name=said]", said).await;
    browser.submit("form#echo-form").await;
    assert_eq!(browser.text_of("#echo").await, format!("You said: {said}"));
    assert_eq!(browser.current_url().await, page);
    assert_eq!(browser.texts_of("li").await, ["one", "two"]);
    assert_eq!(browser.cookie_names().await, ["echoed"]);

    // Submitting again through a button, typed over the old value.
    browser.fill("input[name=said]", "again").await;
    browser.click("button[type=submit]").await;
    assert_eq!(browser.text_of("#echo").await, "You said: again");

    // A button a script handles, then a link.
    browser.click_in_page("#local").await;
    assert_eq!(browser.text_of("#local-out").await, "clicked");
    browser.click("a#home").await;
    assert!(!browser.exists("#echo").await);
    assert_eq!(browser.text_of("#local-out").await, "");
    browser.fill("input[name=said]", "once more").await;
    browser.submit("form#echo-form").await;
    assert_eq!(browser.text_of("#echo").await, "You said: once more");

    let dir = std::env::temp_dir().join(format!("softdel-browser-smoke-{}", std::process::id()));
    let path = dir.join("shots").join("echo.png");
    browser.screenshot(&path).await;
    let png = std::fs::read(&path).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(png.len() > 5_000, "a PNG of only {} bytes", png.len());
    // The IHDR chunk's width: the window's.
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 1280);
    std::fs::remove_dir_all(&dir).unwrap();

    browser.close().await;
    println!("browser smoke test: {:?}", started.elapsed());
}

/// Serves, on a port of its own, a form that posts to itself; the answer
/// echoes the posted `said` and sets a cookie.
async fn serve_echo_form() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::spawn(answer(socket));
        }
    });
    addr
}

/// Answers one request and closes the connection.
async fn answer(mut socket: TcpStream) {
    let Some((head, body)) = read_request(&mut socket).await else {
        return;
    };
    let request_line = head.lines().next().unwrap_or_default();
    let (status, extra, html) = if request_line.starts_with("GET / ") {
        ("200 OK", "", page(None))
    } else if request_line.starts_with("POST / ") {
        let said = form_urlencoded::parse(&body)
            .find(|(name, _)| name == "said")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        ("200 OK", "Set-Cookie: echoed=1\r\n", page(Some(&said)))
    } else {
        ("404 Not Found", "", "not found".to_string())
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n{extra}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{html}",
        html.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}

/// The request's head and body, or None when the client sends no request
/// (browsers open spare connections) or a broken one.
async fn read_request(socket: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let read = tokio::time::timeout(Duration::from_secs(30), socket.read(&mut chunk));
        match read.await {
            Ok(Ok(n)) if n > 0 => data.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    };
    let head = String::from_utf8_lossy(&data[..end]).into_owned();
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = data[end..].to_vec();
    while body.len() < length {
        match socket.read(&mut chunk).await {
            Ok(n) if n > 0 => body.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
    Some((head, body))
}

/// The form, with the echo of what was posted when something was.
fn page(said: Option<&str>) -> String {
    let echo = said
        .map(|s| format!("<p id=\"echo\">You said: {}</p>", escape(s)))
        .unwrap_or_default();
    format!(
        "<!doctype html><html><head><title>Echo</title></head><body>\
         <h1>Echo</h1>{echo}\
         <form id=\"echo-form\" method=\"post\" action=\"/\">\
         <label>Say <input name=\"said\" value=\"something\"></label> \
         <button type=\"submit\">Send</button></form>\
         <ul><li>one</li><li>two</li></ul>\
         <button id=\"local\" type=\"button\" \
         onclick=\"document.getElementById('local-out').textContent = 'clicked'\">\
         Here</button><p id=\"local-out\"></p><a id=\"home\" href=\"/\">Home</a>\
         </body></html>"
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
