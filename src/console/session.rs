//! Who is logged in to the console's pages: a session per login, named by
//! a random cookie, each with its own token against cross-site requests.
//!
//! The pages cannot send `Authorization: Bearer`, so a login form takes
//! the console's token once and sets a cookie. Every form that changes
//! something carries the session's CSRF token, which another site cannot
//! read. The cookie is `SameSite=Strict`, which a browser does not send
//! with another site's requests; but a site is a registrable domain, not
//! an origin, so another port or service on the same host is "same site",
//! and only the CSRF token and the `Sec-Fetch-Site`/`Origin` check stop a
//! form from there. Sessions live in the proxy's memory: a restart logs
//! everyone out. A session ends after `LIFETIME`, or `IDLE` unused.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const COOKIE: &str = "softdel_session";

/// How long a login lasts at most.
pub const LIFETIME: Duration = Duration::from_secs(8 * 60 * 60);

/// How long a login lasts unused: a cookie left in a browser (and sent to
/// any service on the same host name, which cookies do not tell apart by
/// port) is worth little for long.
pub const IDLE: Duration = Duration::from_secs(30 * 60);

/// Sessions kept at most: a script logging in again and again cannot
/// grow the proxy's memory. The one unused longest goes first.
pub const MAX_SESSIONS: usize = 64;

/// The open sessions.
#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<String, Session>>,
}

struct Session {
    csrf: String,
    expires: Instant,
    last_used: Instant,
}

impl Session {
    fn live(&self, now: Instant) -> bool {
        now < self.expires && now.duration_since(self.last_used) < IDLE
    }
}

/// A new session: the cookie's value and the forms' token.
#[derive(Debug)]
pub struct Opened {
    pub id: String,
    pub csrf: String,
}

/// The system's random source failed: no session can be made safely.
#[derive(Debug, thiserror::Error)]
#[error("no random numbers for a session: {0}")]
pub struct NoRandom(String);

impl Sessions {
    /// Opens a session, for a login with the right token.
    pub fn open(&self) -> Result<Opened, NoRandom> {
        let opened = Opened {
            id: random_token()?,
            csrf: random_token()?,
        };
        let now = Instant::now();
        let mut open = self.lock();
        open.retain(|_, s| s.live(now));
        while open.len() >= MAX_SESSIONS {
            let oldest = open
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => open.remove(&id),
                None => break,
            };
        }
        open.insert(
            opened.id.clone(),
            Session {
                csrf: opened.csrf.clone(),
                expires: now + LIFETIME,
                last_used: now,
            },
        );
        Ok(opened)
    }

    /// The CSRF token of the live session `id`, if it is one; it counts
    /// as a use.
    pub fn csrf(&self, id: &str) -> Option<String> {
        let now = Instant::now();
        let mut open = self.lock();
        let session = open.get_mut(id).filter(|s| s.live(now))?;
        session.last_used = now;
        Some(session.csrf.clone())
    }

    /// Whether a form's `csrf` field is session `id`'s token.
    pub fn admits(&self, id: &str, csrf: &str) -> bool {
        self.csrf(id)
            .is_some_and(|expected| bool::from(expected.as_bytes().ct_eq(csrf.as_bytes())))
    }

    pub fn close(&self, id: &str) {
        self.lock().remove(id);
    }

    /// The map, even if a thread panicked while holding it: nothing in it
    /// can be left inconsistent (at worst an expired session is still
    /// there, and is never admitted).
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// 32 random bytes, in hex.
pub fn random_token() -> Result<String, NoRandom> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| NoRandom(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_admits_its_own_token_only() {
        let sessions = Sessions::default();
        let one = sessions.open().unwrap();
        let two = sessions.open().unwrap();
        assert_ne!(one.id, two.id);
        assert_eq!(one.id.len(), 64);
        assert!(sessions.admits(&one.id, &one.csrf));
        assert!(!sessions.admits(&one.id, &two.csrf));
        assert!(!sessions.admits("forged", &one.csrf));
        sessions.close(&one.id);
        assert!(!sessions.admits(&one.id, &one.csrf));
        assert!(sessions.admits(&two.id, &two.csrf));
    }

    #[test]
    fn sessions_are_bounded() {
        let sessions = Sessions::default();
        let first = sessions.open().unwrap();
        for _ in 0..MAX_SESSIONS {
            sessions.open().unwrap();
        }
        assert_eq!(sessions.lock().len(), MAX_SESSIONS);
        assert!(sessions.csrf(&first.id).is_none(), "the oldest went first");
    }

    #[test]
    fn cookies_are_found_by_name() {
        let header = Some("theme=dark; softdel_session=abc123; x=1");
        assert_eq!(cookie(header, COOKIE), Some("abc123"));
        assert_eq!(cookie(header, "softdel"), None);
        assert_eq!(cookie(None, COOKIE), None);
    }
}
