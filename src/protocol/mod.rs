//! The PostgreSQL wire protocol, as far as the proxy needs it.
//!
//! Sans-IO: everything here works on byte buffers and knows nothing about
//! sockets, sessions or rules. Parsers return `Ok(None)` when the buffer
//! holds an incomplete message ("read more") and an error when the bytes can
//! never become a valid message ("end this connection").

pub mod codec;
mod error;
mod frame;
mod frontend;
mod messages;
mod pipeline;
mod reader;
mod startup;

pub use error::ProtocolError;
pub use frame::{
    BackendTag, FrontendTag, Header, MAX_MESSAGE_LEN, next_backend_frame, next_frontend_frame,
};
pub use frontend::{ClientFrame, ClientMessage, ParseFields, Target, next_client_frame};
pub use messages::{ErrorFields, Severity, TransactionStatus, error_response};
pub use pipeline::{Answering, Parsed, Pipeline};
pub use startup::{
    MAX_STARTUP_LEN, SSL_REQUEST, StartupPacket, StartupParams, cancel_request, parse_startup,
};

#[cfg(test)]
mod robustness {
    //! Arbitrary bytes never panic a parser: they parse, ask for more, or
    //! are refused. (A coverage-guided fuzzer goes further; this runs in
    //! every test run.)
    use super::*;

    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn random_bytes_never_panic_the_parsers() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            let len = (xorshift(&mut state) % 48) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| xorshift(&mut state) as u8).collect();
            // Plausible lengths reach the deeper paths more often.
            if len >= 8 && xorshift(&mut state) % 2 == 0 {
                bytes[..4].copy_from_slice(&(len as i32).to_be_bytes());
                bytes[4..8].copy_from_slice(&196_608i32.to_be_bytes());
            }
            let _ = parse_startup(&bytes);
            let _ = next_frontend_frame(&bytes, true);
            let _ = next_frontend_frame(&bytes, false);
            let _ = next_backend_frame(&bytes);
            if let Some(rest) = bytes.get(1..) {
                let _ = next_frontend_frame(rest, true);
            }
        }
    }
}
