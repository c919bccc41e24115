//! A browser's side of the console's pages, over plain HTTP: a cookie jar,
//! forms, and the values a page holds.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// Header names in lower case; `set-cookie` may come more than once.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of the hidden (or any) input `name` in the page.
    pub fn input(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no input {name} in:\n{}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').expect("a closing quote");
        self.body[start..start + end].to_owned()
    }

    /// The text of the page with its tags taken out, spaces collapsed: what
    /// a reader sees, to search in.
    pub fn text(&self) -> String {
        let mut text = String::new();
        let mut in_tag = false;
        for c in self.body.chars() {
            match c {
                '<' => {
                    in_tag = true;
                    text.push(' ');
                }
                '>' => in_tag = false,
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// A client that keeps cookies, as a browser does.
pub struct Browser {
    pub admin: SocketAddr,
    pub cookies: BTreeMap<String, String>,
    /// Sent as `Origin` with every POST, as a browser does.
    pub origin: Option<String>,
}

impl Browser {
    pub fn new(admin: SocketAddr) -> Browser {
        Browser {
            admin,
            cookies: BTreeMap::new(),
            origin: Some(format!("http://{admin}")),
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        self.send("GET", path, "", &[]).await
    }

    /// A GET with headers of its own, as a browser sends for what a page
    /// loads (`Sec-Fetch-*`).
    pub async fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.send("GET", path, "", headers).await
    }

    /// Posts a form (fields already URL-encoded where needed).
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.send("POST", path, &body, &[]).await
    }

    /// Logs in with `token` through the login form.
    pub async fn log_in(&mut self, token: &str, next: &str) -> Answer {
        let form = self.get(&format!("/login?next={next}")).await;
        assert_eq!(form.status, 200, "{}", form.body);
        let login_csrf = form.input("login_csrf");
        let next = form.input("next");
        self.post(
            "/login",
            &[
                ("login_csrf", &login_csrf),
                ("next", &next),
                ("token", token),
            ],
        )
        .await
    }

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut stream = tokio::net::TcpStream::connect(self.admin)
            .await
            .expect("admin listener");
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.admin
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request.push_str(&format!("Cookie: {}\r\n", jar.join("; ")));
        }
        if method == "POST" {
            if let Some(origin) = &self.origin {
                request.push_str(&format!("Origin: {origin}\r\n"));
            }
            request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        }
        request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let (head, body) = response.split_once("\r\n\r\n").expect("a whole response");
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
            .collect();
        for (_, cookie) in headers.iter().filter(|(n, _)| n == "set-cookie") {
            let pair = cookie.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || cookie.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        Answer {
            status,
            headers,
            body: body.to_owned(),
        }
    }
}
