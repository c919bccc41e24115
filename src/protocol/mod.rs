//! The PostgreSQL wire protocol, as far as the proxy needs it.
//!
//! Sans-IO: everything here works on byte buffers and knows nothing about
//! sockets, sessions or rules. Parsers return `Ok(None)` when the buffer
//! holds an incomplete message ("read more") and an error when the bytes can
//! never become a valid message ("end this connection").

mod error;
mod frame;
mod messages;
mod startup;

pub use error::ProtocolError;
pub use frame::{
    BackendTag, FrontendTag, Header, MAX_MESSAGE_LEN, next_backend_frame, next_frontend_frame,
};
pub use messages::{ErrorFields, Severity, TransactionStatus, error_response};
pub use startup::{MAX_STARTUP_LEN, StartupPacket, StartupParams, cancel_request, parse_startup};
