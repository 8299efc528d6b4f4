//! The table of all transactions, and the public inputs/outputs.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use super::client::{ClientTx, Fate as ClientFate};
use super::key::{is_rfc3261_branch, server_key, ClientKey, ServerKey};
use super::server::{AckKey, ServerTx};
use super::timers::{Slot, TimerHeap};
use super::{
    CancelOutcome, ClientState, ClientTxId, Output, Peer, ServerState, ServerTxId, Transmit,
    TxConfig, TxError, TxEvent, TxRef,
};
use crate::message::{reason_phrase, HeaderAccess, Method, Request, Response, SipMessage, Via};
use crate::transport_rules;

/// All client and server transactions of one SIP endpoint (RFC 3261 §17), as a sans-IO
/// state machine: feed it messages, calls from the TU and the time; poll what to send and
/// what happened. See the [module docs](super) for the run loop.
#[derive(Debug)]
pub struct TransactionLayer {
    cfg: TxConfig,
    next_id: u64,
    pub(crate) t: Tables,
    pub(crate) io: Io,
}

#[derive(Debug, Default)]
pub(crate) struct Tables {
    pub clients: HashMap<u64, ClientTx>,
    pub client_keys: HashMap<ClientKey, u64>,
    pub servers: HashMap<u64, ServerTx>,
    pub server_keys: HashMap<ServerKey, u64>,
    /// 2xx responses sent on INVITE server transactions, found by their ACK.
    pub ack_index: HashMap<AckKey, u64>,
}

#[derive(Debug, Default)]
pub(crate) struct Io {
    pub out: VecDeque<Output>,
    pub timers: TimerHeap,
}

/// What a transaction's step needs besides itself: settings, the output queue, timers, time.
pub(crate) struct Ctx<'a> {
    pub cfg: &'a TxConfig,
    pub io: &'a mut Io,
    pub now: Instant,
}

impl Ctx<'_> {
    pub fn transmit(&mut self, peer: &Peer, bytes: &Bytes, origin: TxRef) {
        self.io.out.push_back(Output::Transmit(Transmit {
            peer: peer.clone(),
            bytes: bytes.clone(),
            origin,
        }));
    }

    pub fn event(&mut self, ev: TxEvent) {
        self.io.out.push_back(Output::Event(ev));
    }

    pub fn schedule(&mut self, at: Instant, tx: TxRef, slot: Slot) {
        self.io.timers.schedule(at, tx, slot);
    }
}

impl TransactionLayer {
    pub fn new(cfg: TxConfig) -> TransactionLayer {
        TransactionLayer {
            cfg,
            next_id: 1,
            t: Tables::default(),
            io: Io::default(),
        }
    }

    pub fn config(&self) -> &TxConfig {
        &self.cfg
    }

    /// Live transactions (client + server).
    pub fn len(&self) -> usize {
        self.t.clients.len() + self.t.servers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// State of a client transaction; `None` once terminated.
    pub fn client_state(&self, tx: ClientTxId) -> Option<ClientState> {
        self.t.clients.get(&tx.0).map(|c| c.state)
    }

    /// State of a server transaction; `None` once terminated.
    pub fn server_state(&self, tx: ServerTxId) -> Option<ServerState> {
        self.t.servers.get(&tx.0).map(|s| s.state)
    }

    fn alloc(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn ctx(&mut self, now: Instant) -> (&mut Tables, Ctx<'_>) {
        (
            &mut self.t,
            Ctx {
                cfg: &self.cfg,
                io: &mut self.io,
                now,
            },
        )
    }

    /// Next output, if any. Drain this after every input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.io.out.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next; `None` when no
    /// timer runs. Skips (and drops) deadlines of transactions that have moved on.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some((at, tx, slot)) = self.io.timers.peek() {
            if self.is_live(at, tx, slot) {
                return Some(at);
            }
            self.io.timers.pop();
        }
        None
    }

    fn is_live(&self, at: Instant, tx: TxRef, slot: Slot) -> bool {
        match tx {
            TxRef::Client(id) => {
                self.t.clients.get(&id.0).and_then(|c| c.deadline(slot)) == Some(at)
            }
            TxRef::Server(id) => {
                self.t.servers.get(&id.0).and_then(|s| s.deadline(slot)) == Some(at)
            }
            TxRef::Stateless => false,
        }
    }

    /// Fires every timer due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, tx, slot)) = self.io.timers.peek() {
            if at > now {
                break;
            }
            self.io.timers.pop();
            if !self.is_live(at, tx, slot) {
                continue;
            }
            match tx {
                TxRef::Client(id) => {
                    let (t, mut ctx) = self.ctx(now);
                    let Some(c) = t.clients.get_mut(&id.0) else {
                        continue;
                    };
                    if c.on_timer(id, slot, at, &mut ctx) == ClientFate::Remove {
                        self.remove_client(id);
                    }
                }
                TxRef::Server(id) => {
                    let (t, mut ctx) = self.ctx(now);
                    let Some(s) = t.servers.get_mut(&id.0) else {
                        continue;
                    };
                    if s.on_timer(id, slot, at, &mut ctx) {
                        self.remove_server(id);
                    }
                }
                TxRef::Stateless => {}
            }
        }
    }

    /// A message from the network (already parsed). Requests are matched to server
    /// transactions (retransmissions are absorbed here), responses to client transactions.
    /// Errors mean the message was dropped (or answered 400/503 statelessly); the driver
    /// may log them, nothing else is needed.
    pub fn handle_incoming(
        &mut self,
        msg: SipMessage,
        source: Peer,
        now: Instant,
    ) -> Result<(), TxError> {
        match msg {
            SipMessage::Request(req) => self.on_request(req, source, now),
            SipMessage::Response(resp) => self.on_response(resp, source, now),
        }
    }

    fn on_request(&mut self, mut req: Request, source: Peer, now: Instant) -> Result<(), TxError> {
        let mut via = req.top_via()?;
        let cseq = match req.cseq() {
            Ok(c) => c,
            Err(e) => {
                self.reject(&req, &via, &source, 400);
                return Err(e.into());
            }
        };
        if cseq.method != req.method {
            self.reject(&req, &via, &source, 400);
            return Err(TxError::CSeqMethodMismatch);
        }
        let key = server_key(&req, &via, &cseq, None)?;
        // A CANCEL looks up its INVITE with the same (unstamped) Via.
        let invite_key = if req.method == Method::Cancel {
            Some(server_key(&req, &via, &cseq, Some(Method::Invite))?)
        } else {
            None
        };
        if transport_rules::stamp_via(&mut via, source.addr) {
            transport_rules::replace_top_via(&mut req, &via)?;
        }
        if req.method == Method::Ack {
            return self.on_ack(req, key, cseq.seq, source, now);
        }
        if let Some(&id) = self.t.server_keys.get(&key) {
            let (t, mut ctx) = self.ctx(now);
            if let Some(s) = t.servers.get_mut(&id) {
                s.on_retransmission(ServerTxId(id), &mut ctx);
            }
            return Ok(());
        }
        if self.len() >= self.cfg.max_transactions {
            self.reject(&req, &via, &source, 503);
            return Err(TxError::TableFull);
        }
        let reply = Peer::new(
            source.transport.clone(),
            transport_rules::response_destination(&via, &source),
        );
        let id = self.alloc();
        let cancels = invite_key.map(|k| self.t.server_keys.get(&k).map(|&i| ServerTxId(i)));
        let (t, mut ctx) = self.ctx(now);
        let tx = ServerTx::start(ServerTxId(id), key.clone(), &req, reply, &mut ctx);
        t.servers.insert(id, tx);
        t.server_keys.insert(key, id);
        let tx = ServerTxId(id);
        ctx.event(match cancels {
            Some(invite) => TxEvent::Cancel {
                tx,
                request: req,
                source,
                invite,
            },
            None => TxEvent::Request {
                tx,
                request: req,
                source,
            },
        });
        Ok(())
    }

    /// ACK: absorbed by an INVITE server transaction that sent a non-2xx; otherwise it
    /// acknowledges a 2xx (stops its retransmission) and goes to the TU.
    fn on_ack(
        &mut self,
        req: Request,
        key: ServerKey,
        cseq: u32,
        source: Peer,
        now: Instant,
    ) -> Result<(), TxError> {
        if let Some(&id) = self.t.server_keys.get(&key) {
            let (t, mut ctx) = self.ctx(now);
            if let Some(s) = t.servers.get_mut(&id) {
                if s.state != ServerState::Accepted {
                    if s.on_non2xx_ack(ServerTxId(id), &mut ctx) {
                        self.remove_server(ServerTxId(id));
                    }
                    return Ok(());
                }
            }
        }
        let to_tag = req.to_hdr()?.tag().unwrap_or_default().to_string();
        let ack_key = AckKey {
            call_id: req.call_id().unwrap_or_default().to_string(),
            cseq,
            to_tag,
        };
        let (t, mut ctx) = self.ctx(now);
        let invite = match t
            .ack_index
            .get(&ack_key)
            .and_then(|id| t.servers.get_mut(id).map(|s| (*id, s)))
        {
            Some((id, s)) => {
                if !s.on_2xx_ack() {
                    return Ok(()); // retransmitted ACK
                }
                Some(ServerTxId(id))
            }
            None => None,
        };
        ctx.event(TxEvent::Ack {
            request: req,
            source,
            invite,
        });
        Ok(())
    }

    /// Answers a request we keep no state for (400, 503).
    fn reject(&mut self, req: &Request, via: &Via, source: &Peer, status: u16) {
        if req.method == Method::Ack {
            return;
        }
        let mut via = via.clone();
        transport_rules::stamp_via(&mut via, source.addr);
        let mut resp = Response::for_request(req, status, reason_phrase(status));
        let _ = transport_rules::replace_top_via_in(&mut resp.headers, &via);
        let dest = Peer::new(
            source.transport.clone(),
            transport_rules::response_destination(&via, source),
        );
        self.io.out.push_back(Output::Transmit(Transmit {
            peer: dest,
            bytes: resp.to_bytes().into(),
            origin: TxRef::Stateless,
        }));
    }

    fn on_response(&mut self, resp: Response, source: Peer, now: Instant) -> Result<(), TxError> {
        if !(100..=699).contains(&resp.status) {
            return Err(TxError::InvalidStatus(resp.status));
        }
        let via = resp.top_via()?;
        let cseq = resp.cseq()?;
        let found = via.branch().and_then(|branch| {
            self.t
                .client_keys
                .get(&ClientKey {
                    branch: branch.to_string(),
                    method: cseq.method.clone(),
                })
                .copied()
        });
        let Some(id) = found else {
            self.io.out.push_back(Output::Event(TxEvent::StrayResponse {
                response: resp,
                source,
            }));
            return Ok(());
        };
        let id = ClientTxId(id);
        let (t, mut ctx) = self.ctx(now);
        let Some(c) = t.clients.get_mut(&id.0) else {
            return Ok(());
        };
        match c.on_response(id, resp, &mut ctx) {
            ClientFate::Keep => {}
            ClientFate::Remove => self.remove_client(id),
            ClientFate::SendCancel => self.send_cancel(id, now),
        }
        Ok(())
    }

    /// Starts a client transaction and transmits `req` to `dest`. The request must carry
    /// a top Via with a `z9hG4bK` branch (see [`transport_rules::new_via`]) and a CSeq
    /// whose method matches. ACK is not a transaction: use [`send_2xx_ack`](Self::send_2xx_ack).
    pub fn send_request(
        &mut self,
        req: Request,
        dest: Peer,
        now: Instant,
    ) -> Result<ClientTxId, TxError> {
        if req.method == Method::Ack {
            return Err(TxError::AckNotATransaction);
        }
        let via = req.top_via()?;
        let branch = via
            .branch()
            .filter(|b| is_rfc3261_branch(b))
            .ok_or(TxError::MissingBranch)?
            .to_string();
        let cseq = req.cseq()?;
        if cseq.method != req.method {
            return Err(TxError::CSeqMethodMismatch);
        }
        if self.len() >= self.cfg.max_transactions {
            return Err(TxError::TableFull);
        }
        let key = ClientKey {
            branch,
            method: req.method.clone(),
        };
        if self.t.client_keys.contains_key(&key) {
            return Err(TxError::Duplicate);
        }
        let id = ClientTxId(self.alloc());
        self.start_client(id, key, req, dest, false, now);
        Ok(id)
    }

    fn start_client(
        &mut self,
        id: ClientTxId,
        key: ClientKey,
        req: Request,
        dest: Peer,
        internal: bool,
        now: Instant,
    ) {
        let (t, mut ctx) = self.ctx(now);
        let tx = ClientTx::start(id, key.clone(), req, dest, internal, &mut ctx);
        t.clients.insert(id.0, tx);
        t.client_keys.insert(key, id.0);
    }

    /// Sends a response on a server transaction. 1xx may repeat; one final response
    /// (several 2xx on INVITE are allowed, for forking UAS cores). A 2xx to INVITE is
    /// retransmitted by the layer until its ACK arrives (RFC 3261 §13.3.1.4, see
    /// [`crate::dialog::AckWait`]).
    pub fn send_response(
        &mut self,
        tx: ServerTxId,
        resp: Response,
        now: Instant,
    ) -> Result<(), TxError> {
        if !(100..=699).contains(&resp.status) {
            return Err(TxError::InvalidStatus(resp.status));
        }
        let (t, mut ctx) = self.ctx(now);
        let s = t
            .servers
            .get_mut(&tx.0)
            .ok_or(TxError::UnknownTransaction)?;
        let (remove, ack_key) = s.send_response(tx, &resp, &mut ctx)?;
        if let Some(k) = ack_key {
            t.ack_index.insert(k, tx.0);
        }
        if remove {
            self.remove_server(tx);
        }
        Ok(())
    }

    /// Cancels a pending INVITE (RFC 3261 §9.1). The CANCEL is its own client transaction,
    /// managed here: its responses and timeouts are not reported. What the TU sees is the
    /// INVITE's final response (normally 487), or [`Timer::CancelNoFinal`](super::Timer)
    /// when none comes within 64*T1.
    pub fn cancel(&mut self, tx: ClientTxId, now: Instant) -> Result<CancelOutcome, TxError> {
        let c = self
            .t
            .clients
            .get_mut(&tx.0)
            .ok_or(TxError::UnknownTransaction)?;
        if !c.invite {
            return Err(TxError::NotInvite);
        }
        match c.state {
            ClientState::Calling => {
                c.cancel_requested = true;
                Ok(CancelOutcome::Deferred)
            }
            ClientState::Proceeding => {
                if !c.cancel_sent {
                    self.send_cancel(tx, now);
                }
                Ok(CancelOutcome::Sent)
            }
            _ => Ok(CancelOutcome::TooLate),
        }
    }

    fn send_cancel(&mut self, invite: ClientTxId, now: Instant) {
        let Some(c) = self.t.clients.get_mut(&invite.0) else {
            return;
        };
        let Ok(cancel) = super::build::cancel_for(&c.request) else {
            return; // we sent that INVITE ourselves, so its headers parsed before
        };
        let dest = c.peer.clone();
        c.cancel_sent = true;
        let guard = now + self.cfg.timeout_64t1();
        c.timeout_at = Some(guard);
        self.io
            .timers
            .schedule(guard, TxRef::Client(invite), Slot::Timeout);
        let key = ClientKey {
            branch: c.key.branch.clone(),
            method: Method::Cancel,
        };
        if self.t.client_keys.contains_key(&key) {
            return;
        }
        let id = ClientTxId(self.alloc());
        self.start_client(id, key, cancel, dest, true, now);
    }

    /// Sends the ACK for a 2xx received on INVITE transaction `tx` (built by the dialog,
    /// [`crate::dialog::Dialog::ack`]) and remembers it: while the transaction lingers
    /// (64*T1, RFC 6026 "Accepted"), retransmissions of that 2xx are answered with this
    /// ACK without bothering the TU.
    pub fn send_2xx_ack(
        &mut self,
        tx: ClientTxId,
        ack: &Request,
        dest: Peer,
        now: Instant,
    ) -> Result<(), TxError> {
        let bytes: Bytes = ack.to_bytes().into();
        let tag = ack.to_hdr()?.tag().unwrap_or_default().to_string();
        let (t, mut ctx) = self.ctx(now);
        let origin = match t.clients.get_mut(&tx.0) {
            Some(c) => {
                c.remember_ack(&tag, bytes.clone(), dest.clone());
                TxRef::Client(tx)
            }
            None => TxRef::Stateless,
        };
        ctx.transmit(&dest, &bytes, origin);
        Ok(())
    }

    /// Sends a message outside any transaction (e.g. a stateless reply, or an ACK the
    /// dialog rebuilt for a late 2xx).
    pub fn send_stateless(&mut self, msg: &SipMessage, dest: Peer) {
        self.io.out.push_back(Output::Transmit(Transmit {
            peer: dest,
            bytes: msg.to_bytes().into(),
            origin: TxRef::Stateless,
        }));
    }

    /// The driver could not send a [`Transmit`] (connection refused, ICMP unreachable, …).
    /// The transaction ends; the TU gets [`TxEvent::TransportError`].
    pub fn handle_transport_error(&mut self, origin: TxRef, _now: Instant) {
        match origin {
            TxRef::Client(id) => {
                let Some(c) = self.t.clients.get(&id.0) else {
                    return;
                };
                let internal = c.internal;
                self.remove_client(id);
                if !internal {
                    self.io
                        .out
                        .push_back(Output::Event(TxEvent::TransportError { tx: origin }));
                }
            }
            TxRef::Server(id) => {
                if self.t.servers.contains_key(&id.0) {
                    self.remove_server(id);
                    self.io
                        .out
                        .push_back(Output::Event(TxEvent::TransportError { tx: origin }));
                }
            }
            TxRef::Stateless => {}
        }
    }

    /// The INVITE server transaction a CANCEL refers to (RFC 3261 §9.2: same matching as
    /// for the INVITE itself). The same answer is already in [`TxEvent::Cancel`].
    pub fn server_tx_for_cancel(&self, cancel: &Request) -> Option<ServerTxId> {
        let via = cancel.top_via().ok()?;
        let cseq = cancel.cseq().ok()?;
        let key = server_key(cancel, &via, &cseq, Some(Method::Invite)).ok()?;
        self.t.server_keys.get(&key).map(|&i| ServerTxId(i))
    }

    fn remove_client(&mut self, id: ClientTxId) {
        if let Some(c) = self.t.clients.remove(&id.0) {
            if self.t.client_keys.get(&c.key) == Some(&id.0) {
                self.t.client_keys.remove(&c.key);
            }
        }
    }

    fn remove_server(&mut self, id: ServerTxId) {
        if let Some(s) = self.t.servers.remove(&id.0) {
            if self.t.server_keys.get(&s.key) == Some(&id.0) {
                self.t.server_keys.remove(&s.key);
            }
            if let Some(k) = &s.ack_key {
                if self.t.ack_index.get(k) == Some(&id.0) {
                    self.t.ack_index.remove(k);
                }
            }
        }
    }

    /// Pending timer entries, including stale ones (for tests of the heap's bound).
    #[doc(hidden)]
    pub fn timer_entries(&self) -> usize {
        self.io.timers.len()
    }
}
