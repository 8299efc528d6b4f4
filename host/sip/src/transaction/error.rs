//! Errors of the transaction layer.

use crate::parse::ParseError;

/// Why the transaction layer refused an input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxError {
    /// A header the layer needs (Via, CSeq, Call-ID) is missing or malformed.
    #[error("malformed message: {0}")]
    Malformed(#[from] ParseError),
    /// The request's top Via has no RFC 3261 branch (`z9hG4bK…`); we only send such.
    #[error("top Via of an outgoing request lacks a z9hG4bK branch")]
    MissingBranch,
    /// CSeq method differs from the request method.
    #[error("CSeq method does not match the request method")]
    CSeqMethodMismatch,
    /// A client transaction with this branch and method already exists.
    #[error("duplicate transaction (branch and method already in use)")]
    Duplicate,
    /// ACK is not a transaction; use `send_2xx_ack` or `send_stateless`.
    #[error("ACK cannot start a transaction")]
    AckNotATransaction,
    /// The transaction table is at `max_transactions`.
    #[error("transaction table full")]
    TableFull,
    /// No such transaction (it has terminated, or the id is from another layer).
    #[error("unknown or terminated transaction")]
    UnknownTransaction,
    /// The transaction's state does not allow this (e.g. a second final response).
    #[error("not allowed in the transaction's current state")]
    InvalidState,
    /// A status code outside 100..=699.
    #[error("invalid status code {0}")]
    InvalidStatus(u16),
    /// `cancel` was called on a non-INVITE transaction.
    #[error("only INVITE transactions can be cancelled")]
    NotInvite,
}
