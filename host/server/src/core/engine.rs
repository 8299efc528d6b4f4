//! The SIP core task: one loop that owns the transaction layer, the registrar state and the
//! B2BUA, fed by the transport tasks through a bounded channel. Everything it calls is
//! sans-IO; this is the only place where their inputs and outputs meet sockets and clocks.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use madoguchi_sip::message::{reason_phrase, HeaderAccess, HeaderName, Method, Request, Response};
use madoguchi_sip::parse::{parse_datagram, Limits};
use madoguchi_sip::transaction::{
    ClientTxId, Output, ServerTxId, TransactionLayer, TxConfig, TxEvent, TxRef,
};
use madoguchi_sip::validate::{check_request, Policy};
use tokio::sync::mpsc;
use tracing::{debug, info, info_span, warn};

use super::b2bua::{Action, B2bua, ReqToken, Target, ALLOW};
use super::registry::{RegisterReply, Registry};
use crate::transport::{Inbound, Peer, Sender};

/// Listener facts the core needs: our own address on each.
#[derive(Debug, Clone)]
pub struct ListenerInfo {
    pub local: SocketAddr,
}

/// The core's state.
pub struct Engine {
    tx: TransactionLayer,
    b2bua: B2bua<ServerTxId>,
    registry: Registry,
    policy: Policy,
    limits: Limits,
    sender: Sender,
    listeners: Vec<ListenerInfo>,
    user_agent: String,
    by_client_tx: HashMap<ClientTxId, ReqToken>,
    by_token: HashMap<ReqToken, ClientTxId>,
    /// Responses held back on purpose (failed-auth slowing), earliest first.
    delayed: BinaryHeap<Reverse<(Instant, u64, ServerTxId)>>,
    delayed_bodies: HashMap<u64, Response>,
    next_delay_id: u64,
}

impl Engine {
    pub fn new(
        registry: Registry,
        sender: Sender,
        listeners: Vec<ListenerInfo>,
        user_agent: String,
        max_transactions: usize,
    ) -> Engine {
        Engine {
            tx: TransactionLayer::new(TxConfig {
                max_transactions,
                ..TxConfig::default()
            }),
            b2bua: B2bua::new(&user_agent),
            registry,
            policy: Policy::default(),
            limits: Limits::default(),
            sender,
            listeners,
            user_agent,
            by_client_tx: HashMap::new(),
            by_token: HashMap::new(),
            delayed: BinaryHeap::new(),
            delayed_bodies: HashMap::new(),
            next_delay_id: 0,
        }
    }

    /// Runs until the transports go away.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Inbound>) {
        let mut housekeeping = tokio::time::interval(Duration::from_secs(5));
        loop {
            let deadline = [
                self.tx.poll_timeout(),
                self.b2bua.poll_timeout(),
                self.delayed.peek().map(|Reverse((at, _, _))| *at),
            ]
            .into_iter()
            .flatten()
            .min();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                msg = rx.recv() => {
                    let Some(inbound) = msg else { break };
                    self.on_inbound(inbound, Instant::now());
                    // Drain what is already queued before looking at timers: cheaper under load.
                    while let Ok(more) = rx.try_recv() {
                        self.on_inbound(more, Instant::now());
                    }
                }
                _ = sleep => {
                    let now = Instant::now();
                    self.tx.handle_timeout(now);
                    self.b2bua.handle_timeout(now);
                    self.release_delayed(now);
                }
                _ = housekeeping.tick() => self.registry.housekeeping(),
            }
            self.pump(Instant::now());
        }
    }

    fn on_inbound(&mut self, inbound: Inbound, now: Instant) {
        match parse_datagram(&inbound.data, &self.limits) {
            Ok(msg) => {
                if let Err(e) = self.tx.handle_incoming(msg, inbound.peer, now) {
                    debug!(error = %e, "message not accepted by the transaction layer");
                }
            }
            Err(rejected) => {
                debug!(listener = inbound.listener, peer = %inbound.peer, error = %rejected.error, "rejected message");
                // Errors for unparsable requests go back where they came from, never to an
                // address named inside the garbage; an ACK is never answered (RFC 3261 §17).
                let is_ack = inbound.data.starts_with(b"ACK ");
                if let Some(reply) = rejected.reply.filter(|_| !is_ack) {
                    self.sender.send(&inbound.peer, reply.to_bytes().into());
                }
            }
        }
        self.pump(now);
    }

    /// Moves outputs between the layers until all are quiet.
    fn pump(&mut self, now: Instant) {
        loop {
            let mut progressed = false;
            while let Some(out) = self.tx.poll_output() {
                progressed = true;
                match out {
                    Output::Transmit(t) => {
                        tracing::trace!(peer = %t.peer, bytes = t.bytes.len(), "transmit");
                        self.sender.send(&t.peer, t.bytes)
                    }
                    Output::Event(ev) => self.on_tx_event(ev, now),
                }
            }
            while let Some(action) = self.b2bua.poll_action() {
                progressed = true;
                self.on_action(action, now);
            }
            if !progressed {
                break;
            }
        }
    }

    fn on_tx_event(&mut self, ev: TxEvent, now: Instant) {
        match ev {
            TxEvent::Request {
                tx,
                request,
                source,
            } => {
                let span = info_span!("sip", call_id = request.call_id().unwrap_or("-"));
                let _g = span.enter();
                self.on_request(tx, request, source, now);
            }
            TxEvent::Cancel {
                tx,
                request,
                invite,
                ..
            } => {
                let status = if invite.is_some() { 200 } else { 481 };
                self.respond(
                    tx,
                    Response::for_request(&request, status, reason_phrase(status)),
                    now,
                );
                if invite.is_some() {
                    if let Some(cid) = request.call_id() {
                        self.b2bua.on_cancel(cid);
                    }
                }
            }
            TxEvent::Ack { request, .. } => self.b2bua.on_ack(&request),
            TxEvent::Response { tx, response } => {
                let Some(token) = self.by_client_tx.get(&tx).copied() else {
                    return;
                };
                if response.status >= 200 {
                    self.forget_client(tx);
                }
                self.b2bua.on_response(token, response, now);
            }
            TxEvent::Timeout { tx, .. } => {
                if let Some(token) = self.forget_client(tx) {
                    self.b2bua.on_request_failed(token, now);
                }
            }
            TxEvent::TransportError {
                tx: TxRef::Client(tx),
            } => {
                if let Some(token) = self.forget_client(tx) {
                    self.b2bua.on_request_failed(token, now);
                }
            }
            TxEvent::TransportError { .. } => {}
            TxEvent::AckTimeout { tx, status } => {
                if (200..300).contains(&status) {
                    self.b2bua.on_ack_timeout_stx(tx);
                }
            }
            TxEvent::StrayResponse { response, source } => {
                debug!(status = response.status, peer = %source, "response matches no transaction");
            }
        }
    }

    fn on_request(&mut self, tx: ServerTxId, req: Request, source: Peer, now: Instant) {
        if let Err(resp) = check_request(&req, &self.policy) {
            debug!(status = resp.status, method = %req.method, "request refused by validation");
            self.respond(tx, resp, now);
            return;
        }
        let in_dialog = req
            .to_hdr()
            .ok()
            .and_then(|t| t.tag().map(str::to_string))
            .is_some();
        match req.method {
            Method::Register => match self.registry.register(&req, &source, now) {
                RegisterReply::Now(resp) => self.respond(tx, resp, now),
                RegisterReply::After(wait, resp) => {
                    let id = self.next_delay_id;
                    self.next_delay_id += 1;
                    self.delayed_bodies.insert(id, resp);
                    self.delayed.push(Reverse((now + wait, id, tx)));
                }
                RegisterReply::Drop => debug!(peer = %source, "blocked source: REGISTER dropped"),
            },
            Method::Options if !in_dialog => {
                let mut r = Response::for_request(&req, 200, "OK");
                r.headers.push(HeaderName::ALLOW, ALLOW);
                r.headers.push(HeaderName::ACCEPT, "application/sdp");
                r.headers.push(HeaderName::SERVER, self.user_agent.clone());
                self.respond(tx, r, now);
            }
            Method::Invite if !in_dialog => self.on_new_invite(tx, req, source, now),
            _ if in_dialog => {
                if !self.b2bua.on_in_dialog_request(tx, req.clone(), now) {
                    self.respond(
                        tx,
                        Response::for_request(&req, 481, reason_phrase(481)),
                        now,
                    );
                }
            }
            Method::Extension(_) => {
                let mut r = Response::for_request(&req, 501, reason_phrase(501));
                r.headers.push(HeaderName::ALLOW, ALLOW);
                self.respond(tx, r, now);
            }
            _ => {
                // BYE/INFO/UPDATE… outside a dialog, SUBSCRIBE, MESSAGE, …: not offered here.
                let status = if matches!(req.method, Method::Bye | Method::Info | Method::Update) {
                    481
                } else {
                    405
                };
                let mut r = Response::for_request(&req, status, reason_phrase(status));
                r.headers.push(HeaderName::ALLOW, ALLOW);
                self.respond(tx, r, now);
            }
        }
    }

    fn on_new_invite(&mut self, tx: ServerTxId, req: Request, source: Peer, now: Instant) {
        let user = req.uri.user_unescaped().unwrap_or_default();
        let Some(local_addr) = self.local_addr_for(&source) else {
            self.respond(
                tx,
                Response::for_request(&req, 500, reason_phrase(500)),
                now,
            );
            return;
        };
        if !self.registry.user_exists(&user) {
            info!(user, "call to unknown user");
            self.respond(
                tx,
                Response::for_request(&req, 404, reason_phrase(404)),
                now,
            );
            return;
        }
        let targets: Vec<Target> = self
            .registry
            .contacts_of(&user)
            .into_iter()
            .filter_map(|(uri, peer)| {
                let local = self.local_addr_for(&peer)?;
                Some(Target {
                    uri,
                    peer,
                    local_addr: local,
                })
            })
            .collect();
        if targets.is_empty() {
            info!(user, "user has no registered device");
            self.respond(
                tx,
                Response::for_request(&req, 480, reason_phrase(480)),
                now,
            );
            return;
        }
        info!(user, devices = targets.len(), "call to user");
        self.b2bua
            .on_invite(tx, req, source, local_addr, targets, now);
    }

    fn on_action(&mut self, action: Action<ServerTxId>, now: Instant) {
        match action {
            Action::Respond { stx, response } => self.respond(stx, response, now),
            Action::Request {
                token,
                request,
                peer,
            } => match self.tx.send_request(request, peer, now) {
                Ok(ctx) => {
                    self.by_client_tx.insert(ctx, token);
                    self.by_token.insert(token, ctx);
                }
                Err(e) => {
                    warn!(error = %e, "cannot send request");
                    self.b2bua.on_request_failed(token, now);
                }
            },
            Action::Cancel { token } => {
                if let Some(ctx) = self.by_token.get(&token).copied() {
                    let _ = self.tx.cancel(ctx, now);
                }
            }
            Action::Raw { peer, bytes } => self.sender.send(&peer, bytes),
            Action::Ended { call, reason } => info!(call, reason, "call ended"),
        }
    }

    fn respond(&mut self, tx: ServerTxId, resp: Response, now: Instant) {
        if let Err(e) = self.tx.send_response(tx, resp, now) {
            debug!(error = %e, "response not sent");
        }
    }

    fn release_delayed(&mut self, now: Instant) {
        while let Some(Reverse((at, id, tx))) = self.delayed.peek().copied() {
            if at > now {
                break;
            }
            self.delayed.pop();
            if let Some(resp) = self.delayed_bodies.remove(&id) {
                self.respond(tx, resp, now);
            }
        }
    }

    fn forget_client(&mut self, tx: ClientTxId) -> Option<ReqToken> {
        let token = self.by_client_tx.remove(&tx)?;
        self.by_token.remove(&token);
        Some(token)
    }

    /// Our address on a listener of the peer's transport and address family.
    fn local_addr_for(&self, peer: &Peer) -> Option<SocketAddr> {
        self.sender.local_addr_for(peer).or_else(|| {
            self.listeners
                .iter()
                .find(|l| l.local.is_ipv4() == peer.addr.is_ipv4())
                .map(|l| l.local)
        })
    }
}
