//! Client transactions (RFC 3261 §17.1, with the RFC 6026 "Accepted" state for INVITE).
//!
//! ```text
//! INVITE:   Calling --1xx--> Proceeding --2xx--> Accepted --Timer M--> gone
//!              |  A: resend (UDP), B: timeout      \--300-699: ACK--> Completed --Timer D--> gone
//! non-INVITE: Trying --1xx--> Proceeding --final--> Completed --Timer K--> gone
//!              E: resend (UDP, capped at T2), F: timeout
//! ```

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::build::ack_for_non2xx;
use super::key::ClientKey;
use super::layer::Ctx;
use super::timers::Slot;
use super::{ClientTxId, Peer, Timer, TxEvent, TxRef};
use crate::message::{HeaderAccess, Method, Request, Response};

/// Client transaction states; a terminated transaction is simply gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// INVITE sent, nothing heard yet.
    Calling,
    /// Non-INVITE sent, nothing heard yet.
    Trying,
    /// A provisional response arrived.
    Proceeding,
    /// A non-2xx final arrived (INVITE: ACK sent); absorbing its retransmissions.
    Completed,
    /// A 2xx to INVITE arrived; lingering 64*T1 to catch 2xx retransmissions and forks.
    Accepted,
}

/// What the layer must do with the transaction after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    Keep,
    Remove,
    /// Keep, and send the CANCEL the TU asked for before any provisional response.
    SendCancel,
}

/// A 2xx-answered branch of a (possibly forked) INVITE: its To-tag and our ACK for it.
#[derive(Debug)]
struct AcceptedFork {
    to_tag: String,
    ack: Option<(Bytes, Peer)>,
}

#[derive(Debug)]
pub(crate) struct ClientTx {
    pub key: ClientKey,
    pub invite: bool,
    /// A CANCEL we generated: nothing about it is reported to the TU.
    pub internal: bool,
    pub state: ClientState,
    /// Kept to build the non-2xx ACK and the CANCEL.
    pub request: Request,
    bytes: Bytes,
    pub peer: Peer,
    retransmit_at: Option<Instant>,
    interval: Duration,
    pub timeout_at: Option<Instant>,
    pub cancel_requested: bool,
    pub cancel_sent: bool,
    ack: Option<Bytes>,
    forks: Vec<AcceptedFork>,
}

impl ClientTx {
    /// Sends the request and starts timers A/B or E/F.
    pub fn start(
        id: ClientTxId,
        key: ClientKey,
        request: Request,
        peer: Peer,
        internal: bool,
        ctx: &mut Ctx<'_>,
    ) -> ClientTx {
        let invite = request.method == Method::Invite;
        let bytes: Bytes = request.to_bytes().into();
        let me = TxRef::Client(id);
        ctx.transmit(&peer, &bytes, me);
        let retransmit_at = (!peer.is_reliable()).then(|| ctx.now + ctx.cfg.t1);
        if let Some(at) = retransmit_at {
            ctx.schedule(at, me, Slot::Retransmit);
        }
        let timeout_at = ctx.now + ctx.cfg.timeout_64t1();
        ctx.schedule(timeout_at, me, Slot::Timeout);
        ClientTx {
            key,
            invite,
            internal,
            state: if invite {
                ClientState::Calling
            } else {
                ClientState::Trying
            },
            request,
            bytes,
            peer,
            retransmit_at,
            interval: ctx.cfg.t1,
            timeout_at: Some(timeout_at),
            cancel_requested: false,
            cancel_sent: false,
            ack: None,
            forks: Vec::new(),
        }
    }

    pub fn deadline(&self, slot: Slot) -> Option<Instant> {
        match slot {
            Slot::Retransmit => self.retransmit_at,
            Slot::Timeout => self.timeout_at,
            Slot::Trying => None,
        }
    }

    fn report(&self, ctx: &mut Ctx<'_>, ev: TxEvent) {
        if !self.internal {
            ctx.event(ev);
        }
    }

    /// Waits `d` in the current state, or ends now when `d` is zero (reliable transport).
    fn linger(&mut self, id: ClientTxId, d: Duration, ctx: &mut Ctx<'_>) -> Fate {
        self.retransmit_at = None;
        if d.is_zero() {
            return Fate::Remove;
        }
        let at = ctx.now + d;
        self.timeout_at = Some(at);
        ctx.schedule(at, TxRef::Client(id), Slot::Timeout);
        Fate::Keep
    }

    pub fn on_response(&mut self, id: ClientTxId, resp: Response, ctx: &mut Ctx<'_>) -> Fate {
        let status = resp.status;
        let reliable = self.peer.is_reliable();
        match (self.invite, self.state) {
            (true, ClientState::Calling | ClientState::Proceeding) => {
                if status < 200 {
                    let first = self.state == ClientState::Calling;
                    if first {
                        // Timers A and B run only in Calling.
                        self.state = ClientState::Proceeding;
                        self.retransmit_at = None;
                        if !self.cancel_sent {
                            self.timeout_at = None;
                        }
                    }
                    self.report(
                        ctx,
                        TxEvent::Response {
                            tx: id,
                            response: resp,
                        },
                    );
                    if first && self.cancel_requested && !self.cancel_sent {
                        return Fate::SendCancel;
                    }
                    Fate::Keep
                } else if status < 300 {
                    self.state = ClientState::Accepted;
                    self.forks.push(AcceptedFork {
                        to_tag: to_tag(&resp),
                        ack: None,
                    });
                    self.report(
                        ctx,
                        TxEvent::Response {
                            tx: id,
                            response: resp,
                        },
                    );
                    self.linger(id, ctx.cfg.timeout_64t1(), ctx)
                } else {
                    self.state = ClientState::Completed;
                    if let Ok(ack) = ack_for_non2xx(&self.request, &resp) {
                        let bytes: Bytes = ack.to_bytes().into();
                        ctx.transmit(&self.peer, &bytes, TxRef::Client(id));
                        self.ack = Some(bytes);
                    }
                    self.report(
                        ctx,
                        TxEvent::Response {
                            tx: id,
                            response: resp,
                        },
                    );
                    let d = if reliable {
                        Duration::ZERO
                    } else {
                        ctx.cfg.timer_d
                    };
                    self.linger(id, d, ctx)
                }
            }
            (true, ClientState::Completed) => {
                if status >= 300 {
                    if let Some(ack) = &self.ack {
                        ctx.transmit(&self.peer, ack, TxRef::Client(id));
                    }
                }
                Fate::Keep
            }
            (true, ClientState::Accepted) => {
                if (200..300).contains(&status) {
                    let tag = to_tag(&resp);
                    match self.forks.iter().find(|f| f.to_tag == tag) {
                        Some(f) => {
                            // Retransmitted 2xx: repeat our ACK, if the TU sent one yet.
                            if let Some((bytes, peer)) = &f.ack {
                                ctx.transmit(peer, bytes, TxRef::Client(id));
                            }
                        }
                        None => {
                            // Another fork answered too: the TU must ACK and BYE it.
                            self.forks.push(AcceptedFork {
                                to_tag: tag,
                                ack: None,
                            });
                            self.report(
                                ctx,
                                TxEvent::Response {
                                    tx: id,
                                    response: resp,
                                },
                            );
                        }
                    }
                }
                Fate::Keep
            }
            (false, ClientState::Trying | ClientState::Proceeding) => {
                if status < 200 {
                    self.state = ClientState::Proceeding;
                    self.report(
                        ctx,
                        TxEvent::Response {
                            tx: id,
                            response: resp,
                        },
                    );
                    Fate::Keep
                } else {
                    self.state = ClientState::Completed;
                    self.report(
                        ctx,
                        TxEvent::Response {
                            tx: id,
                            response: resp,
                        },
                    );
                    let d = if reliable { Duration::ZERO } else { ctx.cfg.t4 };
                    self.linger(id, d, ctx)
                }
            }
            _ => Fate::Keep,
        }
    }

    pub fn on_timer(&mut self, id: ClientTxId, slot: Slot, at: Instant, ctx: &mut Ctx<'_>) -> Fate {
        let me = TxRef::Client(id);
        match slot {
            Slot::Retransmit => {
                let next = match self.state {
                    // Timer A doubles without cap (RFC 3261 §17.1.1.2); B ends it.
                    ClientState::Calling => self.interval * 2,
                    // Timer E doubles up to T2 (§17.1.2.2) …
                    ClientState::Trying => (self.interval * 2).min(ctx.cfg.t2),
                    // … and runs at T2 once a provisional response arrived.
                    ClientState::Proceeding if !self.invite => ctx.cfg.t2,
                    _ => {
                        self.retransmit_at = None;
                        return Fate::Keep;
                    }
                };
                ctx.transmit(&self.peer, &self.bytes, me);
                self.interval = next;
                let due = at + next;
                self.retransmit_at = Some(due);
                ctx.schedule(due, me, Slot::Retransmit);
                Fate::Keep
            }
            Slot::Timeout => {
                let timer = match (self.invite, self.state) {
                    (true, ClientState::Calling) => Some(Timer::B),
                    (true, ClientState::Proceeding) => Some(Timer::CancelNoFinal),
                    (false, ClientState::Trying | ClientState::Proceeding) => Some(Timer::F),
                    _ => None, // D, K, M: quietly done
                };
                if let Some(timer) = timer {
                    self.report(ctx, TxEvent::Timeout { tx: id, timer });
                }
                Fate::Remove
            }
            Slot::Trying => Fate::Keep,
        }
    }

    /// Stores the TU's ACK for the 2xx with this To-tag, to repeat it on retransmissions.
    pub fn remember_ack(&mut self, to_tag: &str, bytes: Bytes, peer: Peer) {
        if self.state != ClientState::Accepted {
            return;
        }
        match self.forks.iter_mut().find(|f| f.to_tag == to_tag) {
            Some(f) => f.ack = Some((bytes, peer)),
            None => self.forks.push(AcceptedFork {
                to_tag: to_tag.to_string(),
                ack: Some((bytes, peer)),
            }),
        }
    }
}

fn to_tag(resp: &Response) -> String {
    resp.to_hdr()
        .ok()
        .and_then(|t| t.tag().map(str::to_string))
        .unwrap_or_default()
}
