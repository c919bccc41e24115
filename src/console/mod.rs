//! The operator's console on the admin listener: web pages
//! (`/operations...`) and a JSON API (`/api/...`) over the journal, the
//! same data `softdel log`, `softdel undelete` and `softdel undo` give, for
//! whoever is on call.
//!
//! - `pages`: the HTML pages, and their login;
//! - `api`: what each `/api` path answers;
//! - `restore`: undelete and undo, previewed or applied, for both;
//! - `query`: a request's query string, read into the journal's filters;
//! - `token`: who may change anything (`--console-token`);
//! - `session`: the pages' logins and their CSRF tokens.
//!
//! Reading is open to whoever reaches the admin listener (bind it to
//! localhost, the default). Every change needs the token; without one
//! configured the console is read-only. It is off unless given its own
//! database URL (`--console-url`, the journal's owner): the proxy's
//! `--journal-url` may only record refusals. Each request opens its own
//! connection: the console is for people, a few requests a minute, and
//! holds nothing between them; at most `AT_ONCE` are answered at a time, so
//! that it cannot take the database's connections or the admin listener's
//! slots from the probes.

mod api;
pub mod host;
mod pages;
mod query;
mod restore;
mod session;
mod token;

#[cfg(test)]
mod tests;

use std::time::Duration;

use hyper::{Method, StatusCode};
use tokio::sync::Semaphore;
use tokio_postgres::{Client, NoTls};

pub use pages::Page;
pub use session::random_token;
pub use token::Token;

/// Why a change is refused without a token configured.
pub const READ_ONLY: &str =
    "the console is read-only: start softdel with --console-token to allow changes";

/// Longest the console waits for the journal's database to answer a
/// connection: the admin listener bounds every request's life.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The journal's database did not answer.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach the journal's database: {0}")]
pub struct Unreachable(String);

/// A connection of its own for one console request.
async fn connect(console: &Console) -> Result<Client, Unreachable> {
    let connecting = tokio_postgres::connect(&console.database_url, NoTls);
    let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| Unreachable(format!("no answer within {CONNECT_TIMEOUT:?}")))?
        .map_err(|e| Unreachable(crate::ops::database_message(&e)))?;
    tokio::spawn(connection);
    // A console request gives up rather than wait behind the application's
    // locks, and its statements end before the admin listener drops the
    // request (60 s): nothing runs on after nobody waits for it.
    client
        .batch_execute("SET lock_timeout = '5s'; SET statement_timeout = '50s'")
        .await
        .map_err(|e| Unreachable(crate::ops::database_message(&e)))?;
    // PostgreSQL 14 and later also stop a statement whose client went
    // away (the request dropped at its time limit); older ones lack the
    // setting, which is fine.
    let _ = client
        .batch_execute("SET client_connection_check_interval = '1s'")
        .await;
    Ok(client)
}

/// Console requests answered at once; more get 503.
pub const AT_ONCE: usize = 4;

/// The console of one proxy.
pub struct Console {
    /// The journal's database, as a role that may read it (and, for
    /// undelete, its owner).
    database_url: String,
    /// Who may change anything; `None`: read-only.
    token: Option<Token>,
    /// Host names it answers to besides IP addresses and localhost
    /// (`--console-host`).
    hosts: Vec<String>,
    /// The pages' logins.
    sessions: session::Sessions,
    answering: Semaphore,
}

/// What the console needs of an HTTP request, for the API and the pages
/// alike.
pub struct Request<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// The `Authorization` header (the API's bearer token).
    pub authorization: Option<&'a str>,
    /// The `Cookie` header (the pages' session).
    pub cookie: Option<&'a str>,
    /// `Host`, `Origin` and `Sec-Fetch-Site/Mode/Dest`: where the request
    /// comes from and goes to (see `host`).
    pub host: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub fetch_site: Option<&'a str>,
    pub fetch_mode: Option<&'a str>,
    pub fetch_dest: Option<&'a str>,
    /// A POST's body (a form, `application/x-www-form-urlencoded`).
    pub body: &'a [u8],
}

impl Request<'_> {
    /// Whether it comes from a page of the console itself, or from no
    /// browser page at all (see `host::same_origin`).
    pub fn same_origin(&self) -> bool {
        host::same_origin(self.fetch_site, self.origin, self.host)
    }

    /// Whether a GET that does work may run for it (see `host::may_work`).
    pub fn may_work(&self) -> bool {
        host::may_work(self.fetch_site, self.fetch_mode, self.fetch_dest)
    }
}

/// A JSON answer.
#[derive(Debug)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub body: serde_json::Value,
    /// `Allow` for 405, `WWW-Authenticate` for 401.
    pub header: Option<(&'static str, &'static str)>,
}

impl ApiResponse {
    fn ok(body: serde_json::Value) -> ApiResponse {
        ApiResponse {
            status: StatusCode::OK,
            body,
            header: None,
        }
    }

    /// An error: `{"error": message}`.
    fn error(status: StatusCode, message: impl std::fmt::Display) -> ApiResponse {
        ApiResponse {
            status,
            body: serde_json::json!({ "error": message.to_string() }),
            header: None,
        }
    }

    fn with_header(mut self, name: &'static str, value: &'static str) -> ApiResponse {
        self.header = Some((name, value));
        self
    }
}

impl Console {
    pub fn new(database_url: String, token: Option<Token>) -> Console {
        Console {
            database_url,
            token,
            hosts: Vec::new(),
            sessions: session::Sessions::default(),
            answering: Semaphore::new(AT_ONCE),
        }
    }

    /// Also answers requests addressed to these host names.
    pub fn with_hosts(mut self, hosts: Vec<String>) -> Console {
        self.hosts = hosts;
        self
    }

    /// Whether a request with this `Host` is for the console (see `host`).
    pub fn answers_host(&self, host: Option<&str>) -> bool {
        host::allowed(host, &self.hosts)
    }

    /// Answers a request under `/api/`.
    pub async fn answer(&self, request: &Request<'_>) -> ApiResponse {
        let Ok(_answering) = self.answering.try_acquire() else {
            return ApiResponse::error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the console is answering {AT_ONCE} requests already: try again"),
            );
        };
        api::answer(self, request).await
    }

    /// Answers a request for a page.
    pub async fn page(&self, request: &Request<'_>) -> Page {
        let page = {
            let Ok(_answering) = self.answering.try_acquire() else {
                return Page::busy();
            };
            pages::answer(self, request).await
        };
        // A delay (after a wrong token) holds no request slot: a guesser
        // cannot keep the console from others.
        if let Some(delay) = page.delay {
            tokio::time::sleep(delay).await;
        }
        page
    }
}
