//! Call queues (ACD) in the SIP core: the sans-IO [`Acd`] machine decides who is offered
//! which caller; this glue keeps track of the SIP side of its offers (one B2BUA transfer
//! per member, ringing all of that member's devices), feeds SIP outcomes back (answered,
//! busy, no answer, ended) and turns its commands into messages for the waiting callers'
//! tasks (queued, announcements, event-log lines, fallback).
//!
//! The machine sits behind a mutex shared with the admin API (member log-in/out, pause,
//! statistics); whoever changes it wakes the core, which drains its commands.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use madoguchi_acd::{Acd, CallerId, Command, FallbackReason, OfferFailure, OfferId};
use tracing::{debug, info, warn};

use super::host_call::HostMsg;
use super::queue_history::QueueHistory;

/// What the engine must do for the queues.
#[derive(Debug)]
pub enum QueueAction {
    /// Ring every device of `member` with the waiting caller `caller` (its Call-ID).
    Ring {
        offer: OfferId,
        member: String,
        caller: String,
    },
    /// Stop ringing (abandon) the B2BUA transfer `call`.
    StopRinging { call: u64 },
    /// Tell a waiting caller's task.
    Tell { caller: String, msg: HostMsg },
}

/// One member being rung for one caller.
#[derive(Debug, Clone)]
struct Ringing {
    offer: OfferId,
    member: String,
    caller: String,
}

/// The ACD and the SIP state of its offers.
pub struct Queues {
    acd: Arc<Mutex<Acd>>,
    /// B2BUA transfer id → the offer it rings.
    ringing: HashMap<u64, Ringing>,
    /// (offer, member) → B2BUA transfer id.
    by_offer: HashMap<(OfferId, String), u64>,
    /// B2BUA transfer id → the caller connected through the queue (for `call_ended`).
    connected: HashMap<u64, String>,
    /// Where each caller's passage is stored for reports (none in unit setups).
    history: Option<QueueHistory>,
}

impl Queues {
    pub fn new(acd: Arc<Mutex<Acd>>, history: Option<QueueHistory>) -> Queues {
        Queues {
            acd,
            ringing: HashMap::new(),
            by_offer: HashMap::new(),
            connected: HashMap::new(),
            history,
        }
    }

    pub fn acd(&self) -> MutexGuard<'_, Acd> {
        self.acd.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether B2BUA call `call` is one of the queue's offers.
    pub fn is_offer(&self, call: u64) -> bool {
        self.ringing.contains_key(&call)
    }

    /// A caller asks to join `queue`: `Ok(position)` or `Err(status)` for the transfer node.
    pub fn arrive(
        &mut self,
        queue: &str,
        caller: &str,
        priority: u8,
        now: Instant,
    ) -> Result<usize, u16> {
        let r = self
            .acd()
            .caller_arrives(queue, CallerId::new(caller), priority, now);
        match r {
            Ok(madoguchi_acd::Admission::Queued { position }) => Ok(position),
            Ok(madoguchi_acd::Admission::Refused { route, reason }) => {
                info!(caller, queue, route, ?reason, "queue refused the caller");
                Err(fallback_status(reason))
            }
            Err(e) => {
                warn!(caller, queue, error = %e, "cannot queue the caller");
                Err(404)
            }
        }
    }

    /// The SIP side rang `member` for `offer` as B2BUA transfer `call`.
    pub fn rang(&mut self, call: u64, offer: OfferId, member: &str, caller: &str) {
        self.ringing.insert(
            call,
            Ringing {
                offer,
                member: member.to_string(),
                caller: caller.to_string(),
            },
        );
        self.by_offer.insert((offer, member.to_string()), call);
    }

    /// `member` cannot be rung at all (no device): the offer failed at once.
    pub fn cannot_ring(&mut self, offer: OfferId, member: &str, now: Instant) {
        let _ = self
            .acd()
            .offer_failed(offer, member, OfferFailure::Error, now);
    }

    /// A device of the member answered transfer `call`. `Some(caller)`: connect them;
    /// `None`: the offer was no longer wanted (hang that leg up).
    pub fn answered(&mut self, call: u64, now: Instant) -> Option<String> {
        let r = self.ringing.remove(&call)?;
        self.by_offer.remove(&(r.offer, r.member.clone()));
        let answered = self.acd().offer_answered(r.offer, &r.member, now);
        match answered {
            Ok(_) => {
                self.connected.insert(call, r.caller.clone());
                Some(r.caller)
            }
            Err(e) => {
                debug!(call, error = %e, "late answer to a queue offer");
                None
            }
        }
    }

    /// Transfer `call` failed with SIP `status`.
    pub fn failed(&mut self, call: u64, status: u16, now: Instant) {
        let Some(r) = self.ringing.remove(&call) else {
            return;
        };
        self.by_offer.remove(&(r.offer, r.member.clone()));
        let why = match status {
            486 | 600 | 603 => OfferFailure::Busy,
            408 | 480 | 487 => OfferFailure::NoAnswer,
            _ => OfferFailure::Error,
        };
        let _ = self.acd().offer_failed(r.offer, &r.member, why, now);
    }

    /// B2BUA call `call` ended: a queue call's talk time ends (wrap-up starts).
    pub fn ended(&mut self, call: u64, now: Instant) {
        if let Some(caller) = self.connected.remove(&call) {
            let _ = self.acd().call_ended(&CallerId::new(caller), now);
        }
        if let Some(r) = self.ringing.remove(&call) {
            self.by_offer.remove(&(r.offer, r.member));
        }
    }

    /// The caller hung up (or its IVR ended) while waiting or ringing.
    pub fn caller_gone(&mut self, caller: &str, now: Instant) {
        let _ = self.acd().caller_leaves(&CallerId::new(caller), now);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.acd().poll_timeout()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.acd().handle_timeout(now);
    }

    /// The machine's pending commands as engine actions.
    pub fn drain(&mut self) -> Vec<QueueAction> {
        let commands: Vec<Command> = {
            let mut acd = self.acd.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(h) = &mut self.history {
                h.sync_presences(&acd);
            }
            std::iter::from_fn(|| acd.poll_command()).collect()
        };
        let mut out = Vec::new();
        for c in commands {
            match c {
                Command::Offer {
                    offer_id,
                    caller,
                    members,
                } => {
                    for member in members {
                        out.push(QueueAction::Ring {
                            offer: offer_id,
                            member,
                            caller: caller.0.clone(),
                        });
                    }
                }
                Command::CancelOffer { offer_id, members } => {
                    for m in members {
                        if let Some(call) = self.by_offer.remove(&(offer_id, m)) {
                            self.ringing.remove(&call);
                            out.push(QueueAction::StopRinging { call });
                        }
                    }
                }
                Command::Connect { caller, member, .. } => {
                    info!(caller = %caller.0, member, "queue: connecting");
                }
                Command::Announce {
                    caller,
                    position,
                    expected_wait_ms,
                } => out.push(QueueAction::Tell {
                    caller: caller.0,
                    msg: HostMsg::QueueAnnounce {
                        position,
                        expected_wait_ms,
                    },
                }),
                Command::ToFallback {
                    caller,
                    route,
                    reason,
                } => {
                    info!(caller = %caller.0, route, ?reason, "queue: to the fallback route");
                    out.push(QueueAction::Tell {
                        caller: caller.0,
                        msg: HostMsg::TransferFailed {
                            status: fallback_status(reason),
                        },
                    });
                }
                Command::MemberStateChanged { member, state } => {
                    info!(member, state = state.name(), "queue member state");
                }
                Command::Event {
                    caller,
                    kind,
                    detail,
                } => {
                    if let Some(h) = &mut self.history {
                        h.observe(&caller.0, kind, &detail);
                    }
                    out.push(QueueAction::Tell {
                        caller: caller.0,
                        msg: HostMsg::QueueEvent {
                            kind: kind.as_str().to_string(),
                            detail,
                        },
                    })
                }
            }
        }
        out
    }
}

/// How a caller leaving the queue for its fallback looks to the transfer node: no answer
/// (the node's `no_answer` route, e.g. the call center).
fn fallback_status(reason: FallbackReason) -> u16 {
    match reason {
        FallbackReason::MaxWait => 408,
        _ => 480,
    }
}
