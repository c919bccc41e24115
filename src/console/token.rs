//! `--console-token`: the bearer token every change needs.

use subtle::ConstantTimeEq;

/// A token, kept as bytes and compared in constant time (a comparison that
/// stops at the first different byte would tell an attacker, by its time,
/// how much of a guess was right).
#[derive(Clone)]
pub struct Token(Vec<u8>);

/// Shorter tokens are refused at start: they can be guessed.
pub const MIN_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
#[error(
    "--console-token must be at least {MIN_LEN} characters (it is {0}); generate one with: openssl rand -hex 32"
)]
pub struct TooShort(usize);

impl Token {
    pub fn new(token: &str) -> Result<Token, TooShort> {
        let token = token.trim();
        if token.len() < MIN_LEN {
            return Err(TooShort(token.len()));
        }
        Ok(Token(token.as_bytes().to_vec()))
    }

    /// Whether an `Authorization` header carries this token
    /// (`Bearer TOKEN`).
    pub fn admits(&self, authorization: Option<&str>) -> bool {
        authorization
            .and_then(|a| a.strip_prefix("Bearer "))
            .is_some_and(|given| self.matches(given))
    }

    /// Whether `given` (a login form's field, say) is this token.
    pub fn matches(&self, given: &str) -> bool {
        // Lengths differ: not equal (the length is no secret worth
        // hiding; the content is).
        bool::from(given.trim().as_bytes().ct_eq(&self.0))
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}
