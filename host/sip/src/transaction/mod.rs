//! RFC 3261 transactions (§17) as one sans-IO state machine: [`TransactionLayer`].
//!
//! (run-loop docs below)

mod build;
mod client;
mod config;
mod error;
mod key;
mod layer;
mod output;
mod peer;
mod server;
mod timers;

pub use build::{ack_for_non2xx, cancel_for};
pub use client::ClientState;
pub use config::TxConfig;
pub use error::TxError;
pub use layer::TransactionLayer;
pub use output::{
    CancelOutcome, ClientTxId, Output, ServerTxId, Timer, Transmit, TxEvent, TxRef,
};
pub use peer::Peer;
pub use server::ServerState;
