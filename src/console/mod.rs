//! The operator's console on the admin listener: a JSON API over the
//! journal (`/api/...`), the same data `softdel log` and `softdel
//! undelete` give, for whoever is on call.
//!
//! - `api`: what each `/api` path answers;
//! - `query`: a request's query string, read into the journal's filters;
//! - `token`: who may change anything (`--console-token`).
//!
//! Reading is open to whoever reaches the admin listener (bind it to
//! localhost, the default). Every change needs the token; without one
//! configured the console is read-only. Each request opens its own
//! connection to the journal's database (`--journal-url`): the console is
//! for people, a few requests a minute, and holds nothing between them.

mod api;
mod query;
mod token;

#[cfg(test)]
mod tests;

use hyper::{Method, StatusCode};

pub use token::Token;

/// The console of one proxy.
pub struct Console {
    /// The journal's database, as a role that may read it (and, for
    /// undelete, its owner).
    pub journal_url: String,
    /// Who may change anything; `None`: read-only.
    pub token: Option<Token>,
}

/// What the console needs of an HTTP request.
pub struct ApiRequest<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
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
    /// Answers a request under `/api/`.
    pub async fn answer(&self, request: &ApiRequest<'_>) -> ApiResponse {
        api::answer(self, request).await
    }
}
