//! Server transactions (RFC 3261 §17.2, with the RFC 6026 "Accepted" state for INVITE).
//!
//! ```text
//! INVITE:   Proceeding --2xx--> Accepted (2xx resent until ACK, §13.3.1.4) --Timer L--> gone
//!   (100 after 200 ms) \--300-699--> Completed --ACK--> Confirmed --Timer I--> gone
//!                                    G: resend (UDP), H: no ACK
//! non-INVITE: Trying --1xx--> Proceeding --final--> Completed --Timer J--> gone
//! ```

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::build::trying_for;
use super::key::ServerKey;
use super::layer::Ctx;
use super::timers::Slot;
use super::{Peer, ServerTxId, TxError, TxEvent, TxRef};
use crate::dialog::{AckWait, AckWaitAction};
use crate::message::{HeaderAccess, Method, Request, Response};

/// Server transaction states; a terminated transaction is simply gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// Non-INVITE received, no response yet.
    Trying,
    /// INVITE received (or a provisional response sent).
    Proceeding,
    /// Non-2xx final sent; INVITE: waiting for ACK, resending on Timer G.
    Completed,
    /// INVITE: ACK for the non-2xx received; absorbing ACK retransmissions.
    Confirmed,
    /// INVITE: 2xx sent; resent until its ACK arrives, INVITE retransmissions absorbed.
    Accepted,
}

/// How an ACK for a 2xx finds its INVITE transaction: the ACK has a new branch (§17.1.1.3),
/// so it is matched by dialog (Call-ID, our To-tag) and the INVITE's CSeq number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct AckKey {
    pub call_id: String,
    pub cseq: u32,
    pub to_tag: String,
}

#[derive(Debug)]
pub(crate) struct ServerTx {
    pub key: ServerKey,
    invite: bool,
    pub state: ServerState,
    /// Where responses go (§18.2.2), fixed when the request arrived.
    reply: Peer,
    last: Option<Bytes>,
    last_status: u16,
    /// The automatic 100 Trying and when it is due.
    trying: Option<(Instant, Response)>,
    retransmit_at: Option<Instant>,
    interval: Duration,
    timeout_at: Option<Instant>,
    pub ack_key: Option<AckKey>,
    ack_wait: Option<AckWait>,
}

impl ServerTx {
    pub fn start(
        id: ServerTxId,
        key: ServerKey,
        req: &Request,
        reply: Peer,
        ctx: &mut Ctx<'_>,
    ) -> ServerTx {
        let invite = req.method == Method::Invite;
        let mut trying = None;
        let mut timeout_at = None;
        if invite {
            if let Some(d) = ctx.cfg.trying_delay {
                let at = ctx.now + d;
                ctx.schedule(at, TxRef::Server(id), Slot::Trying);
                trying = Some((at, trying_for(req)));
            }
        } else {
            // Not in RFC 3261: a non-INVITE the TU never answers would live forever. The
            // client gave up at its Timer F (64*T1), so we drop ours then too.
            let at = ctx.now + ctx.cfg.timeout_64t1();
            ctx.schedule(at, TxRef::Server(id), Slot::Timeout);
            timeout_at = Some(at);
        }
        ServerTx {
            key,
            invite,
            state: if invite {
                ServerState::Proceeding
            } else {
                ServerState::Trying
            },
            reply,
            last: None,
            last_status: 0,
            trying,
            retransmit_at: None,
            interval: ctx.cfg.t1,
            timeout_at,
            ack_key: None,
            ack_wait: None,
        }
    }

    pub fn deadline(&self, slot: Slot) -> Option<Instant> {
        match slot {
            Slot::Trying => self.trying.as_ref().map(|(at, _)| *at),
            Slot::Retransmit if self.state == ServerState::Accepted => {
                self.ack_wait.as_ref().and_then(AckWait::retransmit_at)
            }
            Slot::Retransmit => self.retransmit_at,
            Slot::Timeout => self.timeout_at,
        }
    }

    fn resend(&self, id: ServerTxId, ctx: &mut Ctx<'_>) {
        if let Some(b) = &self.last {
            ctx.transmit(&self.reply, b, TxRef::Server(id));
        }
    }

    /// The request arrived again: repeat the last response where the state calls for it.
    pub fn on_retransmission(&mut self, id: ServerTxId, ctx: &mut Ctx<'_>) {
        match self.state {
            ServerState::Proceeding | ServerState::Completed => self.resend(id, ctx),
            // Trying: nothing to repeat yet. Confirmed: absorbed. Accepted: the 2xx has its
            // own retransmission schedule (RFC 6026 §7.1).
            _ => {}
        }
    }

    /// Sets the timeout slot to `now + d`; a zero wait means "terminate now" (true).
    fn linger(&mut self, id: ServerTxId, d: Duration, ctx: &mut Ctx<'_>) -> bool {
        if d.is_zero() {
            return true;
        }
        let at = ctx.now + d;
        self.timeout_at = Some(at);
        ctx.schedule(at, TxRef::Server(id), Slot::Timeout);
        false
    }

    /// Returns (terminate now, ACK index entry to add).
    pub fn send_response(
        &mut self,
        id: ServerTxId,
        resp: &Response,
        ctx: &mut Ctx<'_>,
    ) -> Result<(bool, Option<AckKey>), TxError> {
        let status = resp.status;
        let me = TxRef::Server(id);
        let reliable = self.reply.is_reliable();
        match self.state {
            ServerState::Trying | ServerState::Proceeding => {}
            ServerState::Accepted if (200..300).contains(&status) => {
                // A further 2xx on the same INVITE (e.g. a corrected answer): send it and
                // make it the one we retransmit.
                let bytes: Bytes = resp.to_bytes().into();
                ctx.transmit(&self.reply, &bytes, me);
                self.last = Some(bytes);
                return Ok((false, None));
            }
            _ => return Err(TxError::InvalidState),
        }
        // For a 2xx to INVITE we need the ACK key; parse before sending anything.
        let ack_key = if self.invite && (200..300).contains(&status) {
            Some(AckKey {
                call_id: resp.call_id().unwrap_or_default().to_string(),
                cseq: resp.cseq()?.seq,
                to_tag: resp.to_hdr()?.tag().unwrap_or_default().to_string(),
            })
        } else {
            None
        };
        let bytes: Bytes = resp.to_bytes().into();
        ctx.transmit(&self.reply, &bytes, me);
        self.last = Some(bytes);
        self.last_status = status;
        self.trying = None;
        if status < 200 {
            self.state = ServerState::Proceeding;
            return Ok((false, None));
        }
        if !self.invite {
            self.state = ServerState::Completed;
            let j = if reliable {
                Duration::ZERO
            } else {
                ctx.cfg.timeout_64t1()
            };
            return Ok((self.linger(id, j, ctx), None));
        }
        if let Some(key) = ack_key {
            self.state = ServerState::Accepted;
            let retransmit = !reliable || ctx.cfg.retransmit_2xx_on_reliable;
            let wait = AckWait::new(ctx.now, ctx.cfg.t1, ctx.cfg.t2, retransmit);
            if let Some(at) = wait.retransmit_at() {
                ctx.schedule(at, me, Slot::Retransmit);
            }
            // Timer L: the transaction (and the wait for ACK) ends 64*T1 after the 2xx.
            self.timeout_at = Some(wait.give_up_at());
            ctx.schedule(wait.give_up_at(), me, Slot::Timeout);
            self.ack_wait = Some(wait);
            self.ack_key = Some(key.clone());
            return Ok((false, Some(key)));
        }
        self.state = ServerState::Completed;
        if !reliable {
            let g = ctx.now + ctx.cfg.t1;
            self.retransmit_at = Some(g);
            ctx.schedule(g, me, Slot::Retransmit);
        }
        Ok((self.linger(id, ctx.cfg.timeout_64t1(), ctx), None))
    }

    /// ACK matched by transaction key while not Accepted (the ACK for our non-2xx).
    /// Returns true when the transaction ends now.
    pub fn on_non2xx_ack(&mut self, id: ServerTxId, ctx: &mut Ctx<'_>) -> bool {
        if self.state != ServerState::Completed {
            return false; // Confirmed: absorbed; Proceeding: ACK before any final, ignored
        }
        self.state = ServerState::Confirmed;
        self.retransmit_at = None;
        let i = if self.reply.is_reliable() {
            Duration::ZERO
        } else {
            ctx.cfg.t4
        };
        self.linger(id, i, ctx)
    }

    /// ACK for our 2xx; true for the first one (which the TU sees).
    pub fn on_2xx_ack(&mut self) -> bool {
        self.ack_wait.as_mut().is_some_and(AckWait::on_ack)
    }

    /// Returns true when the transaction ends.
    pub fn on_timer(&mut self, id: ServerTxId, slot: Slot, at: Instant, ctx: &mut Ctx<'_>) -> bool {
        let me = TxRef::Server(id);
        match slot {
            Slot::Trying => {
                if let Some((_, resp)) = self.trying.take() {
                    if self.state == ServerState::Proceeding && self.last.is_none() {
                        let bytes: Bytes = resp.to_bytes().into();
                        ctx.transmit(&self.reply, &bytes, me);
                        self.last = Some(bytes);
                    }
                }
                false
            }
            Slot::Retransmit => {
                match self.state {
                    ServerState::Completed => {
                        // Timer G: double up to T2.
                        self.resend(id, ctx);
                        self.interval = (self.interval * 2).min(ctx.cfg.t2);
                        let due = at + self.interval;
                        self.retransmit_at = Some(due);
                        ctx.schedule(due, me, Slot::Retransmit);
                    }
                    ServerState::Accepted => {
                        if let Some(w) = self.ack_wait.as_mut() {
                            if w.poll(at) == AckWaitAction::Retransmit {
                                if let Some(next) = w.retransmit_at() {
                                    ctx.schedule(next, me, Slot::Retransmit);
                                }
                                self.resend(id, ctx);
                            }
                        }
                    }
                    _ => self.retransmit_at = None,
                }
                false
            }
            Slot::Timeout => {
                match self.state {
                    // Timer H: our non-2xx was never ACKed.
                    ServerState::Completed if self.invite => ctx.event(TxEvent::AckTimeout {
                        tx: id,
                        status: self.last_status,
                    }),
                    // Timer L: the 2xx was never ACKed (§13.3.1.4: end the dialog).
                    ServerState::Accepted
                        if !self.ack_wait.as_ref().is_some_and(AckWait::is_acked) =>
                    {
                        ctx.event(TxEvent::AckTimeout {
                            tx: id,
                            status: self.last_status,
                        })
                    }
                    // I, J, L after the ACK came, and the unanswered non-INVITE guard.
                    _ => {}
                }
                true
            }
        }
    }
}
