//! What the transaction layer hands back: datagrams to send and events for the TU.

use bytes::Bytes;

use super::Peer;
use crate::message::{Request, Response};

/// A client transaction (a request we sent). Stable for the transaction's life; never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientTxId(pub(crate) u64);

/// A server transaction (a request we received). Stable for its life; never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerTxId(pub(crate) u64);

/// Which transaction a [`Transmit`] belongs to, so a failed send can be reported back with
/// [`TransactionLayer::handle_transport_error`](super::TransactionLayer::handle_transport_error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TxRef {
    Client(ClientTxId),
    Server(ServerTxId),
    /// Sent outside any transaction (stateless 503, ACK for a 2xx, …).
    Stateless,
}

/// RFC 3261 timer names, as reported in [`TxEvent::Timeout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// INVITE got no response at all within 64*T1.
    B,
    /// Non-INVITE got no final response within 64*T1.
    F,
    /// We sent CANCEL for this INVITE and no final response came within 64*T1 after it
    /// (RFC 3261 §9.1: consider the INVITE cancelled).
    CancelNoFinal,
}

/// One item from [`TransactionLayer::poll_output`](super::TransactionLayer::poll_output).
// Events own the message they carry; boxing them would cost an allocation per event,
// while an `Output` only lives between the layer's queue and the driver's match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Output {
    /// Send these bytes to the peer (for TCP/TLS: on the connection to `peer`).
    Transmit(Transmit),
    /// Something the transaction user (B2BUA, registrar, …) must act on.
    Event(TxEvent),
}

/// A serialized message to put on the wire.
#[derive(Debug, Clone)]
pub struct Transmit {
    pub peer: Peer,
    pub bytes: Bytes,
    /// Pass back to `handle_transport_error` when the send fails.
    pub origin: TxRef,
}

/// Events for the transaction user.
#[derive(Debug)]
pub enum TxEvent {
    /// A new request (not ACK, not CANCEL). Answer it with `send_response(tx, …)`.
    /// Retransmissions of it never show up here again.
    Request {
        tx: ServerTxId,
        /// With `received`/`rport` already stamped into the top Via (§18.2.1, RFC 3581),
        /// so `Response::for_request` copies them.
        request: Request,
        source: Peer,
    },
    /// A new CANCEL. The TU answers it (`send_response(tx, 200)`) and, when `invite` is
    /// still unanswered, sends 487 on `invite` (RFC 3261 §9.2). `invite` is `None` when no
    /// INVITE server transaction matches: answer 481.
    Cancel {
        tx: ServerTxId,
        request: Request,
        source: Peer,
        invite: Option<ServerTxId>,
    },
    /// An ACK that belongs to no transaction of ours: the ACK for a 2xx (end-to-end, RFC
    /// 3261 §13.3.1.4). `invite` names the INVITE server transaction whose 2xx it
    /// acknowledges (its retransmissions have now stopped); `None` for a stray ACK.
    /// Retransmitted ACKs for an already acknowledged 2xx are absorbed.
    Ack {
        request: Request,
        source: Peer,
        invite: Option<ServerTxId>,
    },
    /// A response to one of our requests. For INVITE: every provisional, the final
    /// response, and each 2xx with a new To-tag (forking). Non-2xx finals to INVITE have
    /// already been ACKed; a 2xx must be ACKed by the TU with
    /// [`send_2xx_ack`](super::TransactionLayer::send_2xx_ack).
    Response { tx: ClientTxId, response: Response },
    /// No final response in time: treat as 408 Request Timeout (RFC 3261 §8.1.3.1).
    Timeout { tx: ClientTxId, timer: Timer },
    /// We sent a final response on an INVITE and no ACK came within 64*T1 (Timer H for
    /// non-2xx, Timer L for 2xx). For a 2xx the TU should end the dialog with BYE
    /// (RFC 3261 §13.3.1.4).
    AckTimeout { tx: ServerTxId, status: u16 },
    /// The driver reported that sending for this transaction failed; it is gone.
    /// For a client transaction treat as 503 (RFC 3261 §8.1.3.1).
    TransportError { tx: TxRef },
    /// A response that matches no client transaction (late 2xx retransmissions after the
    /// INVITE transaction ended, or junk). Dialog code may still ACK it.
    StrayResponse { response: Response, source: Peer },
}

/// Result of [`TransactionLayer::cancel`](super::TransactionLayer::cancel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// CANCEL went out now.
    Sent,
    /// No provisional response yet: CANCEL goes out when the first one arrives (§9.1).
    Deferred,
    /// A final response already arrived; nothing to cancel (for a 2xx: ACK then BYE).
    TooLate,
}
