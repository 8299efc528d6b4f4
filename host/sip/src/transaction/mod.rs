//! RFC 3261 transactions (§17) as one sans-IO state machine: [`TransactionLayer`].
//!
//! The layer holds every client and server transaction of an endpoint. It never reads a
//! clock, opens a socket or sleeps: the driver (tokio UDP/TCP tasks in the `madoguchi`
//! binary) passes parsed messages and the current time in, and polls out datagrams to send
//! and events for the transaction user (TU: the B2BUA, registrar, OPTIONS responder).
//!
//! | input | when |
//! |---|---|
//! | [`handle_incoming`](TransactionLayer::handle_incoming) | a datagram/frame parsed into a [`SipMessage`](crate::message::SipMessage) |
//! | [`handle_timeout`](TransactionLayer::handle_timeout) | the instant from [`poll_timeout`](TransactionLayer::poll_timeout) passed |
//! | [`send_request`](TransactionLayer::send_request) → [`ClientTxId`] | TU sends a request (not ACK) |
//! | [`send_response`](TransactionLayer::send_response) | TU answers a [`ServerTxId`] |
//! | [`cancel`](TransactionLayer::cancel) | TU gives up on an INVITE it sent |
//! | [`send_2xx_ack`](TransactionLayer::send_2xx_ack) | TU ACKs a 2xx (built by [`crate::dialog::Dialog::ack`]) |
//! | [`handle_transport_error`](TransactionLayer::handle_transport_error) | a [`Transmit`] could not be sent |
//!
//! Outputs ([`poll_output`](TransactionLayer::poll_output)) are [`Output::Transmit`] and
//! [`Output::Event`] ([`TxEvent`]). What the layer does on its own:
//! - retransmits requests (Timers A, E) and final responses (G) on unreliable transports,
//!   and absorbs retransmissions it receives (resending the last response);
//! - sends 100 Trying for an INVITE the TU has not answered within 200 ms (§17.2.1);
//! - ACKs non-2xx final responses to INVITE (§17.1.1.3), absorbs the ACK for its own;
//! - retransmits a 2xx to INVITE until the ACK arrives, and reports
//!   [`TxEvent::AckTimeout`] after 64*T1 so the TU sends BYE (§13.3.1.4);
//! - repeats the TU's ACK when a 2xx is retransmitted, and reports a 2xx with a new To-tag
//!   (another fork) as a new [`TxEvent::Response`] (RFC 6026 "Accepted" states);
//! - defers a CANCEL until the INVITE got a provisional response (§9.1), runs it as an
//!   internal transaction, and gives up 64*T1 later ([`Timer::CancelNoFinal`]);
//! - stamps `received`/`rport` into the top Via of requests and sends responses where
//!   §18.2.2 / RFC 3581 say ([`crate::transport_rules`]);
//! - answers 503 statelessly when [`TxConfig::max_transactions`] is reached;
//! - drops a non-INVITE server transaction the TU left unanswered for 64*T1 (the client
//!   has given up by then). An INVITE must always be answered by the TU.
//!
//! Timers live in one binary heap keyed by deadline; a timeout costs O(log n), not a scan.
//! Timer C (proxy INVITE timeout) is not run: the B2BUA owns ring timeouts and calls
//! [`cancel`](TransactionLayer::cancel).
//!
//! # Run loop
//!
//! ```
//! use std::time::{Duration, Instant};
//! use madoguchi_sip::message::{Response, SipMessage};
//! use madoguchi_sip::parse::{parse_datagram, Limits};
//! use madoguchi_sip::transaction::{Output, Peer, TransactionLayer, TxConfig, TxEvent};
//!
//! /// What the driver needs from its sockets. The real one is a tokio task that
//! /// `select!`s between `recv_from` and `sleep_until(layer.poll_timeout())`.
//! trait Net {
//!     fn now(&self) -> Instant;
//!     /// Waits for a datagram until `deadline`; `None` when the deadline passed.
//!     fn recv_until(&mut self, deadline: Option<Instant>) -> Option<(Vec<u8>, Peer)>;
//!     fn send(&mut self, to: &Peer, bytes: &[u8]);
//! }
//!
//! fn run(layer: &mut TransactionLayer, net: &mut impl Net, rounds: usize) {
//!     for _ in 0..rounds {
//!         // 1. Input: a datagram, or the timer that came due.
//!         match net.recv_until(layer.poll_timeout()) {
//!             Some((bytes, from)) => match parse_datagram(&bytes, &Limits::default()) {
//!                 Ok(msg) => {
//!                     // Errors mean "dropped or answered 400/503": log and go on.
//!                     let _ = layer.handle_incoming(msg, from, net.now());
//!                 }
//!                 Err(rejected) => {
//!                     if let Some(reply) = rejected.reply {
//!                         layer.send_stateless(&SipMessage::Response(reply), from);
//!                     }
//!                 }
//!             },
//!             None => layer.handle_timeout(net.now()),
//!         }
//!         // 2. Output: drain everything before waiting again.
//!         while let Some(out) = layer.poll_output() {
//!             match out {
//!                 Output::Transmit(t) => net.send(&t.peer, &t.bytes),
//!                 Output::Event(TxEvent::Request { tx, request, .. }) => {
//!                     // The TU. A B2BUA would fork INVITEs here (see below).
//!                     let mut ok = Response::for_request(&request, 200, "OK");
//!                     ok.headers.push("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS");
//!                     let _ = layer.send_response(tx, ok, net.now());
//!                 }
//!                 Output::Event(_other) => { /* responses, ACK, CANCEL, timeouts */ }
//!             }
//!         }
//!     }
//! }
//!
//! // A fake network with a synthetic clock, as in the tests.
//! struct Fake { now: Instant, inbox: Vec<(Vec<u8>, Peer)>, sent: Vec<Vec<u8>> }
//! impl Net for Fake {
//!     fn now(&self) -> Instant { self.now }
//!     fn recv_until(&mut self, deadline: Option<Instant>) -> Option<(Vec<u8>, Peer)> {
//!         match self.inbox.pop() {
//!             Some(m) => Some(m),
//!             None => { self.now = deadline.unwrap_or(self.now + Duration::from_secs(1)); None }
//!         }
//!     }
//!     fn send(&mut self, _to: &Peer, bytes: &[u8]) { self.sent.push(bytes.to_vec()) }
//! }
//!
//! let options = "OPTIONS sip:pbx@192.0.2.2 SIP/2.0\r\n\
//!     Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n\
//!     Max-Forwards: 70\r\nFrom: <sip:alice@192.0.2.1>;tag=1928301774\r\n\
//!     To: <sip:pbx@192.0.2.2>\r\nCall-ID: a84b4c76e66710\r\nCSeq: 63104 OPTIONS\r\n\
//!     Content-Length: 0\r\n\r\n";
//! let from = Peer::udp("192.0.2.1:5060".parse().unwrap());
//! let mut net = Fake { now: Instant::now(), inbox: vec![(options.as_bytes().to_vec(), from)], sent: vec![] };
//! let mut layer = TransactionLayer::new(TxConfig::default());
//! run(&mut layer, &mut net, 3);
//! assert!(net.sent[0].starts_with(b"SIP/2.0 200 OK\r\n"));
//! // After Timer J (64*T1 on UDP) the transaction is gone.
//! assert!(layer.is_empty());
//! ```
//!
//! # Using it from a B2BUA
//!
//! - **INVITE from the caller** ([`TxEvent::Request`], `tx = in_tx`): send 180/183 with
//!   `send_response(in_tx, …)`; for each registered contact build an INVITE with a top Via
//!   from [`crate::transport_rules::new_via`] and `send_request(…, contact_peer, now)`;
//!   keep `out_tx → (call, branch)` and a [`crate::dialog::DialogSet`] per branch.
//! - **[`TxEvent::Response`] on a branch**: 1xx → relay; first 2xx → ACK it
//!   ([`Dialog::ack`](crate::dialog::Dialog::ack) + `send_2xx_ack`), `cancel` every other
//!   branch, answer the caller 200; a later 2xx on any branch → ACK, then BYE; a final
//!   ≥ 300 on every branch → relay the best one (486 when all were busy).
//! - **[`TxEvent::Timeout`] / [`TxEvent::TransportError`]** on a branch: treat as 408 / 503.
//! - **[`TxEvent::Cancel`]** from the caller: answer it 200, `cancel` every branch, answer
//!   `invite` 487 (`send_response` fails with [`TxError::InvalidState`] if a 2xx won the race:
//!   then the call goes on and is torn down with BYE).
//! - **[`TxEvent::Ack`]** with `invite: Some(_)`: the caller confirmed our 2xx.
//! - **[`TxEvent::AckTimeout`]** with a 2xx status: the caller never ACKed — send BYE.
//! - **BYE / re-INVITE / INFO** arrive as [`TxEvent::Request`]: find the dialog with
//!   [`DialogId::from_incoming_request`](crate::dialog::DialogId::from_incoming_request),
//!   check it with [`Dialog::on_request`](crate::dialog::Dialog::on_request) (500 on
//!   out-of-order CSeq), relay with [`Dialog::request`](crate::dialog::Dialog::request)
//!   on the other leg.

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
pub use output::{CancelOutcome, ClientTxId, Output, ServerTxId, Timer, Transmit, TxEvent, TxRef};
pub use peer::Peer;
pub use server::ServerState;
