//! Integration tests: a real PostgreSQL, the real proxy, real clients.

mod common;

mod auth;
mod bouncer;
mod browser;
mod cancel;
mod cli;
mod clients;
mod console;
mod copy;
mod differential;
mod django;
mod guard;
mod hiding;
mod malformed;
mod notify;
mod operations;
mod operator;
mod peer_suite;
mod queries;
mod rollout;
mod shutdown;
mod softdelete;
mod terminated;
mod tls;
mod transcripts;
mod upstream;
