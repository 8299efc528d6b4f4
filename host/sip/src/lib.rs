//! madoguchi's SIP stack (RFC 3261), written as sans-IO state machines.
//!
//! Layers, bottom up (the tokio drivers that own sockets live in the `madoguchi` binary):
//!
//! | module | job |
//! |---|---|
//! | [`message`] | our own message types; what every other layer speaks |
//! | [`parse`] | bytes → [`message::SipMessage`], strict, bounded; errors carry the 4xx to send |
//! | [`transaction`] | client/server transactions, timers A–K, retransmissions |
//! | [`dialog`] | dialog state, in-dialog requests, 2xx retransmission until ACK |
//! | [`auth`] | digest authentication (RFC 8760: SHA-256 and MD5) |
//! | [`registrar`] | REGISTER processing with several contacts per user |
//!
//! Nothing here opens a socket or reads a clock: inputs carry the time, outputs are polled.
#![forbid(unsafe_code)]

pub mod auth;
pub mod dialog;
pub mod guard;
pub mod message;
pub mod parse;
pub mod registrar;
pub mod transaction;
pub mod transport_rules;
pub mod validate;
