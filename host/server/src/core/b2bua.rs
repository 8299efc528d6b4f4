//! Calls between users: a back-to-back user agent, as a sans-IO state machine.
//!
//! An INVITE to a user forks to **all** of that user's registered contacts at once
//! (R-PBX-2: browser, smartphone and desk phone ring together). The first 2xx wins; the
//! other branches get CANCEL (or ACK+BYE if they answered in the same instant). If every
//! branch fails the caller gets the best final answer (486 when any device was busy). A
//! CANCEL from the caller cancels every branch; BYE and re-INVITE/UPDATE/INFO are passed
//! to the other leg.
//!
//! The machine knows nothing of sockets or transactions: it is fed events (with the time)
//! and emits [`Action`]s. The glue in [`super::engine`] turns actions into transactions and
//! feeds their results back, matching them through [`ReqToken`]. `S` is the caller's handle
//! for a server transaction (what a response must be sent on).
//!
//! Media: with [`AnchoredMedia`] the host terminates RTP on both sides (its own SDP toward
//! the caller and toward the devices) and [`Action::Answered`] tells the glue to bridge and
//! record; re-offers are answered by the host's legs ([`Action::Reoffer`]). Without it
//! (e.g. an INVITE with no SDP offer) bodies pass through end to end.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use madoguchi_sip::message::{
    reason_phrase, HeaderAccess, HeaderName, Method, NameAddr, Request, Response, Uri,
};
use madoguchi_sip::transaction::Peer;

use super::dialog::{contact_for, contact_uri, our_via, uac_route_set, uas_route_set, LegDialog};
use super::ids;

/// How long devices may ring before the caller hears 480.
pub const DEFAULT_RING_TIMEOUT: Duration = Duration::from_secs(60);

/// One device to ring: a registered contact of the called user.
#[derive(Debug, Clone)]
pub struct Target {
    /// Request-URI: the device's registered Contact.
    pub uri: Uri,
    /// Where to send (where the device registered from, so NATed phones are reached).
    pub peer: Peer,
    /// Our address on the listener that reaches it.
    pub local_addr: SocketAddr,
}

/// Identifies an outgoing request so its responses find their way back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReqToken {
    pub call: u64,
    pub kind: ReqKind,
}

/// What an outgoing request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReqKind {
    /// The INVITE to device `n`.
    Branch(usize),
    /// BYE (or other teardown) to a leg.
    Bye(Side),
    /// A request forwarded from the other leg (re-INVITE, UPDATE, INFO, …) to `Side`.
    Forward(Side),
}

/// The caller's side (A) or the answering device's side (B).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    A,
    B,
}

/// The host's own SDP for a call whose media it anchors (see `madoguchi-rtp`): what to
/// offer the devices, and what to answer the caller once one of them answers.
#[derive(Debug, Clone)]
pub struct AnchoredMedia {
    pub offer_to_devices: Bytes,
    pub answer_to_caller: Bytes,
}

/// What the glue must do.
#[derive(Debug)]
pub enum Action<S> {
    /// Send a response on a server transaction.
    Respond { stx: S, response: Response },
    /// Send a request in a new client transaction.
    Request {
        token: ReqToken,
        request: Request,
        peer: Peer,
    },
    /// Cancel the INVITE sent as `token` (the transaction layer defers the CANCEL until a
    /// provisional response has arrived, RFC 3261 §9.1).
    Cancel { token: ReqToken },
    /// Send a message outside any transaction (ACK for a 2xx, 2xx retransmissions).
    Raw { peer: Peer, bytes: Bytes },
    /// A device answered an anchored call: give its SDP answer to the device-side leg,
    /// bridge the legs and start recording.
    Answered { call: u64, device_sdp: Bytes },
    /// An anchored call got a new offer (re-INVITE/UPDATE: hold, resume) from `side`; the
    /// host's leg answers it: call [`B2bua::answer_reoffer`].
    Reoffer {
        call: u64,
        side: Side,
        stx: S,
        request: Request,
    },
    /// A call ended (for logs and the call record).
    Ended { call: u64, reason: &'static str },
    /// A transfer (see [`B2bua::on_transfer`]) did not connect: every device refused or
    /// nobody answered in time. The A dialog stays the host's.
    TransferFailed { call: u64, status: u16 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BranchState {
    Calling,
    Ringing,
    Cancelling,
    Answered,
    Failed(u16),
}

#[derive(Debug)]
struct Branch {
    invite: Request,
    target: Target,
    state: BranchState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallState {
    Ringing,
    Answered,
    Ended,
}

/// A request forwarded to the other leg, waiting for its final answer.
#[derive(Debug)]
struct Forwarded<S> {
    stx: S,
    from: Side,
    request: Request,
}

/// Where a call's A side comes from.
#[derive(Debug)]
enum Origin<S> {
    /// The caller's INVITE, still to be answered on this server transaction.
    Invite { stx: S, request: Box<Request> },
    /// A transfer: A is an established dialog of the host's; nothing is answered to it, and
    /// failure is reported with [`Action::TransferFailed`] instead of a final response.
    Transfer,
}

#[derive(Debug)]
struct Call<S> {
    id: u64,
    state: CallState,
    /// How the caller's side came to the call: its INVITE (answered when a device answers), or
    /// a transfer out of a call the host already answered (the IVR).
    origin: Origin<S>,
    a: LegDialog,
    branches: Vec<Branch>,
    b: Option<(usize, LegDialog)>,
    ring_deadline: Instant,
    /// ACK owed to B for its 2xx, held when A's INVITE had no offer (B's 2xx carries it
    /// and A's ACK carries the answer).
    b_ack_held: Option<u32>,
    forwarded: Vec<Forwarded<S>>,
    sent_180: bool,
    /// Media anchored in the host: our answer for the caller.
    anchored: Option<Bytes>,
}

impl<S> Call<S> {
    /// A call whose branches are ringing.
    fn ringing(
        id: u64,
        origin: Origin<S>,
        a: LegDialog,
        branches: Vec<Branch>,
        ring_deadline: Instant,
    ) -> Self {
        Call {
            id,
            state: CallState::Ringing,
            origin,
            a,
            branches,
            b: None,
            ring_deadline,
            b_ack_held: None,
            forwarded: Vec::new(),
            sent_180: false,
            anchored: None,
        }
    }
}

/// The B2BUA: every call between users in progress.
#[derive(Debug)]
pub struct B2bua<S> {
    calls: HashMap<u64, Call<S>>,
    /// Call-ID (of either leg, and of every branch) → call.
    /// Several entries for one Call-ID happen when a call loops back through this server
    /// (the demo's call center is a user here): the request's To-tag tells them apart.
    by_call_id: HashMap<String, Vec<(u64, Side)>>,
    next_id: u64,
    ring_timeout: Duration,
    user_agent: String,
    out: VecDeque<Action<S>>,
}

impl<S: Copy + PartialEq + std::fmt::Debug> B2bua<S> {
    pub fn new(user_agent: &str) -> Self {
        B2bua {
            calls: HashMap::new(),
            by_call_id: HashMap::new(),
            next_id: 1,
            ring_timeout: DEFAULT_RING_TIMEOUT,
            user_agent: user_agent.to_string(),
            out: VecDeque::new(),
        }
    }

    /// Next action for the glue.
    pub fn poll_action(&mut self) -> Option<Action<S>> {
        self.out.pop_front()
    }

    /// A new INVITE from the caller to a user with these devices (non-empty).
    /// `source` is where the INVITE came from, `local_addr` the listener address it came in
    /// on. With `media`, the host anchors RTP and the bodies are its own SDP. Returns the
    /// call's id.
    #[allow(clippy::too_many_arguments)]
    pub fn on_invite(
        &mut self,
        stx: S,
        invite: Request,
        source: Peer,
        local_addr: SocketAddr,
        targets: Vec<Target>,
        media: Option<AnchoredMedia>,
        now: Instant,
    ) -> Option<u64> {
        let (Ok(from), Ok(to)) = (invite.from_hdr(), invite.to_hdr()) else {
            self.respond_to(stx, &invite, 400);
            return None;
        };
        let Some(a_call_id) = invite.call_id().map(str::to_string) else {
            self.respond_to(stx, &invite, 400);
            return None;
        };
        let remote_cseq = invite.cseq().map(|c| c.seq).unwrap_or(0);
        let id = self.next_id;
        self.next_id += 1;
        let mut local = to.clone();
        local.set_param("tag", Some(ids::tag()));
        let a = LegDialog {
            call_id: a_call_id.clone(),
            local,
            remote: from.clone(),
            remote_target: contact_uri(&invite, &from.uri),
            route_set: uas_route_set(&invite),
            local_cseq: 0,
            remote_cseq,
            peer: source,
            local_addr,
        };
        let max_forwards = invite
            .headers
            .get(HeaderName::MAX_FORWARDS)
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(70)
            .saturating_sub(1);
        let body = match &media {
            Some(m) => (
                Some("application/sdp".to_string()),
                m.offer_to_devices.clone(),
            ),
            None => (
                invite
                    .headers
                    .get(HeaderName::CONTENT_TYPE)
                    .map(str::to_string),
                invite.body.clone(),
            ),
        };
        let to_b = NameAddr::new(to.uri.clone());
        let branches = self.fork(id, &from, &to_b, targets, body, max_forwards);
        self.index(a_call_id, id, Side::A);
        tracing::info!(
            call = id,
            branches = branches.len(),
            "forking call to all devices"
        );
        let origin = Origin::Invite {
            stx,
            request: Box::new(invite),
        };
        let call = Call::ringing(id, origin, a, branches, now + self.ring_timeout);
        self.calls.insert(
            id,
            Call {
                anchored: media.map(|m| m.answer_to_caller),
                ..call
            },
        );
        Some(id)
    }

    /// A transfer out of a call the host answered (the IVR): rings every target with the
    /// host's own SDP `offer` for `ring_timeout`. `a` is the host's dialog with the caller;
    /// `from` is who the devices see calling (the caller), `to` whom they see called. On
    /// answer the machine emits [`Action::Answered`] and from then on owns the A dialog
    /// (BYE, re-INVITE); on failure [`Action::TransferFailed`] and A stays the host's.
    #[allow(clippy::too_many_arguments)]
    pub fn on_transfer(
        &mut self,
        a: LegDialog,
        from: &NameAddr,
        to: &NameAddr,
        targets: Vec<Target>,
        offer: Bytes,
        ring_timeout: Duration,
        now: Instant,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let body = (Some("application/sdp".to_string()), offer.clone());
        let mut from = from.clone();
        from.params.retain(|(k, _)| !k.eq_ignore_ascii_case("tag"));
        let branches = self.fork(id, &from, to, targets, body, 70);
        self.index(a.call_id.clone(), id, Side::A);
        tracing::info!(
            call = id,
            branches = branches.len(),
            "transferring to every device"
        );
        let call = Call::ringing(id, Origin::Transfer, a, branches, now + ring_timeout);
        self.calls.insert(
            id,
            Call {
                // Nothing to answer the caller with: its dialog is the host's already.
                sent_180: true,
                anchored: Some(Bytes::new()),
                ..call
            },
        );
        if self.calls.get(&id).is_some_and(|c| c.branches.is_empty()) {
            if let Some(c) = self.calls.get_mut(&id) {
                c.state = CallState::Ended;
            }
            self.answer_a(id, 480, None);
            self.finish(id, "no device to ring");
        }
        id
    }

    /// Gives up a transfer that is still ringing (the caller hung up, or the IVR moved on):
    /// every device stops ringing; nothing is sent to the caller.
    pub fn abandon(&mut self, id: u64) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.state != CallState::Ringing {
            return;
        }
        call.state = CallState::Ended;
        self.cancel_branches(id, None);
        self.finish(id, "transfer abandoned");
    }

    /// Hangs up the device side of a transfer that answered when it was no longer wanted
    /// (a queue offer another member took): BYE to B; the caller's dialog is untouched.
    pub fn drop_answered_transfer(&mut self, id: u64) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if !matches!(call.origin, Origin::Transfer) || call.state != CallState::Answered {
            return;
        }
        call.state = CallState::Ended;
        if let Some((_, b)) = call.b.as_mut() {
            let bye = b.request(Method::Bye, None);
            let peer = b.peer.clone();
            self.out.push_back(Action::Request {
                token: ReqToken {
                    call: id,
                    kind: ReqKind::Bye(Side::B),
                },
                request: bye,
                peer,
            });
        }
        self.finish(id, "answer no longer wanted");
    }

    /// Whether call `id` is connected (answered and not yet ended).
    pub fn is_connected(&self, id: u64) -> bool {
        self.calls
            .get(&id)
            .is_some_and(|c| c.state == CallState::Answered)
    }

    /// Sends an INVITE to every target (one branch each) and returns the branches.
    fn fork(
        &mut self,
        id: u64,
        from: &NameAddr,
        to_b: &NameAddr,
        targets: Vec<Target>,
        body: (Option<String>, Bytes),
        max_forwards: u32,
    ) -> Vec<Branch> {
        let mut branches = Vec::new();
        for (n, t) in targets.into_iter().enumerate() {
            let call_id = format!("b{n}-{}", ids::call_id());
            let mut from_b = NameAddr {
                display: from.display.clone(),
                uri: Uri::sip(
                    from.uri.user.as_deref(),
                    t.local_addr.ip().into(),
                    Some(t.local_addr.port()),
                ),
                params: Vec::new(),
            };
            from_b.set_param("tag", Some(ids::tag()));
            let mut req = Request::new(Method::Invite, t.uri.clone());
            let h = req.headers_mut();
            h.push(
                HeaderName::VIA,
                our_via(t.peer.transport.clone(), t.local_addr).to_string(),
            );
            h.push(HeaderName::MAX_FORWARDS, max_forwards.to_string());
            h.push(HeaderName::FROM, from_b.to_string());
            h.push(HeaderName::TO, to_b.to_string());
            h.push(HeaderName::CALL_ID, call_id.clone());
            h.push(HeaderName::CSEQ, "1 INVITE");
            h.push(HeaderName::CONTACT, contact_for(t.local_addr).to_string());
            h.push(HeaderName::ALLOW, ALLOW);
            h.push(HeaderName::USER_AGENT, self.user_agent.clone());
            if let Some(ct) = &body.0 {
                h.push(HeaderName::CONTENT_TYPE, ct.clone());
            }
            req.body = body.1.clone();
            self.index(call_id, id, Side::B);
            self.out.push_back(Action::Request {
                token: ReqToken {
                    call: id,
                    kind: ReqKind::Branch(n),
                },
                request: req.clone(),
                peer: t.peer.clone(),
            });
            branches.push(Branch {
                invite: req,
                target: t,
                state: BranchState::Calling,
            });
        }
        branches
    }

    /// The host's answer to a re-offer on an anchored call (`Err` = not acceptable: 488).
    pub fn answer_reoffer(
        &mut self,
        call: u64,
        side: Side,
        stx: S,
        request: &Request,
        sdp: Result<String, ()>,
    ) {
        let Some(c) = self.calls.get(&call) else {
            self.respond_to(stx, request, 481);
            return;
        };
        let leg = match side {
            Side::A => Some(&c.a),
            Side::B => c.b.as_ref().map(|(_, b)| b),
        };
        let Some(leg) = leg else {
            self.respond_to(stx, request, 481);
            return;
        };
        let status = if sdp.is_ok() { 200 } else { 488 };
        let mut r = Response::for_request(request, status, reason_phrase(status));
        r.headers.set(HeaderName::TO, leg.local.to_string());
        r.headers
            .push(HeaderName::CONTACT, contact_for(leg.local_addr).to_string());
        if let Ok(sdp) = sdp {
            r.headers.push(HeaderName::CONTENT_TYPE, "application/sdp");
            r.body = Bytes::from(sdp);
        }
        self.out.push_back(Action::Respond { stx, response: r });
    }

    /// A response to one of our requests.
    pub fn on_response(&mut self, token: ReqToken, resp: Response) {
        match token.kind {
            ReqKind::Branch(n) => self.on_branch_response(token.call, n, resp),
            ReqKind::Forward(to_side) => self.on_forward_response(token.call, to_side, resp),
            ReqKind::Bye(_) => {}
        }
    }

    /// One of our requests got no answer (Timer B/F) or could not be sent: treated as 408.
    pub fn on_request_failed(&mut self, token: ReqToken) {
        let resp = Response {
            status: 408,
            reason: reason_phrase(408).into(),
            headers: Default::default(),
            body: Bytes::new(),
        };
        match token.kind {
            ReqKind::Branch(n) => self.on_branch_response(token.call, n, resp),
            ReqKind::Forward(side) => self.on_forward_response(token.call, side, resp),
            ReqKind::Bye(_) => {}
        }
    }

    /// CANCEL from the caller for its INVITE (the glue already answered the CANCEL 200).
    pub fn on_cancel(&mut self, a_call_id: &str) {
        let Some((id, Side::A)) = self.lookup(a_call_id, None, Some(Side::A)) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.state != CallState::Ringing {
            return;
        }
        call.state = CallState::Ended;
        self.answer_a(id, 487, None);
        self.cancel_branches(id, None);
        self.finish(id, "caller cancelled");
    }

    /// The caller never ACKed our 2xx (the transaction layer gave up retransmitting it after
    /// 64*T1): end both legs with BYE (RFC 3261 §13.3.1.4).
    pub fn on_ack_timeout_stx(&mut self, stx: S) {
        let Some(id) = self
            .calls
            .values()
            .find(|c| matches!(&c.origin, Origin::Invite { stx: s, .. } if *s == stx))
            .map(|c| c.id)
        else {
            return;
        };
        self.hang_up_both(id);
        self.finish(id, "no ACK from caller");
    }

    /// An ACK from the caller for our 2xx.
    pub fn on_ack(&mut self, ack: &Request) {
        let Some(call_id) = ack.call_id() else { return };
        let to_tag = ack.to_hdr().ok().and_then(|t| t.tag().map(str::to_string));
        let Some((id, Side::A)) = self.lookup(call_id, to_tag.as_deref(), Some(Side::A)) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if let Some(b_cseq) = call.b_ack_held.take() {
            if let Some((_, b)) = call.b.as_mut() {
                let mut ack_b = b.request(Method::Ack, Some(b_cseq));
                if !ack.body.is_empty() {
                    if let Some(ct) = ack.headers.get(HeaderName::CONTENT_TYPE) {
                        ack_b.headers.push(HeaderName::CONTENT_TYPE, ct.to_string());
                    }
                    ack_b.body = ack.body.clone();
                }
                let peer = b.peer.clone();
                self.out.push_back(Action::Raw {
                    peer,
                    bytes: ack_b.to_bytes().into(),
                });
            }
        }
    }

    /// A request inside one of our dialogs (BYE, re-INVITE, UPDATE, INFO, OPTIONS…).
    /// Returns false when the Call-ID is not ours (the glue answers 481).
    pub fn on_in_dialog_request(&mut self, stx: S, req: Request, now: Instant) -> bool {
        let Some(call_id) = req.call_id() else {
            return false;
        };
        let to_tag = req.to_hdr().ok().and_then(|t| t.tag().map(str::to_string));
        let Some((id, side)) = self.lookup(call_id, to_tag.as_deref(), None) else {
            return false;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return false;
        };
        let _ = now;
        // A request from a losing branch device (e.g. BYE after a late 2xx): just accept.
        let from_winner = match side {
            Side::A => true,
            Side::B => call
                .b
                .as_ref()
                .is_some_and(|(_, b)| Some(b.call_id.as_str()) == req.call_id()),
        };
        if !from_winner || call.state != CallState::Answered {
            let status = if req.method == Method::Bye { 200 } else { 481 };
            self.respond_to(stx, &req, status);
            return true;
        }
        let (this, other) = match side {
            Side::A => (Some(&mut call.a), call.b.as_mut().map(|(_, b)| b)),
            Side::B => (call.b.as_mut().map(|(_, b)| b), Some(&mut call.a)),
        };
        let (Some(this), Some(other)) = (this, other) else {
            return true;
        };
        let cseq = req.cseq().map(|c| c.seq).unwrap_or(0);
        if cseq <= this.remote_cseq && req.method != Method::Ack {
            let r = Response::for_request(&req, 500, "Server Internal Error");
            self.out.push_back(Action::Respond { stx, response: r });
            return true;
        }
        this.remote_cseq = cseq;
        match req.method {
            Method::Bye => {
                let bye = other.request(Method::Bye, None);
                let peer = other.peer.clone();
                let other_side = opposite(side);
                self.respond_to(stx, &req, 200);
                self.out.push_back(Action::Request {
                    token: ReqToken {
                        call: id,
                        kind: ReqKind::Bye(other_side),
                    },
                    request: bye,
                    peer,
                });
                if let Some(c) = self.calls.get_mut(&id) {
                    c.state = CallState::Ended;
                }
                self.finish(
                    id,
                    if side == Side::A {
                        "caller hung up"
                    } else {
                        "callee hung up"
                    },
                );
            }
            Method::Options => self.respond_to(stx, &req, 200),
            Method::Invite | Method::Update if call.anchored.is_some() && !req.body.is_empty() => {
                // The host anchors the media: its own leg answers hold/resume.
                if req.method == Method::Invite {
                    this.remote_target = contact_uri(&req, &this.remote_target);
                }
                self.out.push_back(Action::Reoffer {
                    call: id,
                    side,
                    stx,
                    request: req,
                });
            }
            _ => {
                // re-INVITE (hold/resume), UPDATE, INFO (DTMF relay): pass to the other leg.
                if req.method == Method::Invite {
                    this.remote_target = contact_uri(&req, &this.remote_target);
                }
                let mut fwd = other.request(req.method.clone(), None);
                if let Some(ct) = req.headers.get(HeaderName::CONTENT_TYPE) {
                    fwd.headers.push(HeaderName::CONTENT_TYPE, ct.to_string());
                }
                fwd.body = req.body.clone();
                let peer = other.peer.clone();
                let to = opposite(side);
                call.forwarded.push(Forwarded {
                    stx,
                    from: side,
                    request: req,
                });
                self.out.push_back(Action::Request {
                    token: ReqToken {
                        call: id,
                        kind: ReqKind::Forward(to),
                    },
                    request: fwd,
                    peer,
                });
            }
        }
        true
    }

    /// Earliest time [`B2bua::handle_timeout`] must run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.calls
            .values()
            .filter(|c| c.state == CallState::Ringing)
            .map(|c| c.ring_deadline)
            .min()
    }

    /// Ring timeouts: the caller hears 480 and every device stops ringing.
    pub fn handle_timeout(&mut self, now: Instant) {
        let ring_expired: Vec<u64> = self
            .calls
            .values()
            .filter(|c| c.state == CallState::Ringing && now >= c.ring_deadline)
            .map(|c| c.id)
            .collect();
        for id in ring_expired {
            if let Some(call) = self.calls.get_mut(&id) {
                call.state = CallState::Ended;
            }
            self.answer_a(id, 480, None);
            self.cancel_branches(id, None);
            self.finish(id, "no answer");
        }
    }

    fn on_branch_response(&mut self, id: u64, n: usize, resp: Response) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(branch) = call.branches.get_mut(n) else {
            return;
        };
        let status = resp.status;
        if status < 200 {
            if status > 100 && branch.state == BranchState::Calling {
                branch.state = BranchState::Ringing;
            }
            if (status == 180 || status == 183)
                && !call.sent_180
                && call.state == CallState::Ringing
            {
                call.sent_180 = true;
                self.answer_a(id, 180, None);
            }
            return;
        }
        if (200..300).contains(&status) {
            let mut b = LegDialog {
                call_id: branch.invite.call_id().unwrap_or_default().to_string(),
                local: branch
                    .invite
                    .from_hdr()
                    .unwrap_or_else(|_| NameAddr::new(branch.target.uri.clone())),
                remote: resp
                    .to_hdr()
                    .unwrap_or_else(|_| NameAddr::new(branch.target.uri.clone())),
                remote_target: contact_uri(&resp, &branch.target.uri),
                route_set: uac_route_set(&resp),
                local_cseq: 1,
                remote_cseq: 0,
                peer: branch.target.peer.clone(),
                local_addr: branch.target.local_addr,
            };
            if call.state != CallState::Ringing || call.b.is_some() {
                // Lost the race: ACK then BYE this device.
                branch.state = BranchState::Answered;
                let ack = b.request(Method::Ack, Some(1));
                let bye = b.request(Method::Bye, None);
                let peer = b.peer.clone();
                self.out.push_back(Action::Raw {
                    peer: peer.clone(),
                    bytes: ack.to_bytes().into(),
                });
                self.out.push_back(Action::Request {
                    token: ReqToken {
                        call: id,
                        kind: ReqKind::Bye(Side::B),
                    },
                    request: bye,
                    peer,
                });
                self.try_remove(id);
                return;
            }
            branch.state = BranchState::Answered;
            call.state = CallState::Answered;
            let offer_in_invite = call.anchored.is_some()
                || matches!(&call.origin, Origin::Invite { request, .. } if !request.body.is_empty());
            if offer_in_invite {
                let ack = b.request(Method::Ack, Some(1));
                self.out.push_back(Action::Raw {
                    peer: b.peer.clone(),
                    bytes: ack.to_bytes().into(),
                });
            } else {
                call.b_ack_held = Some(1);
            }
            call.b = Some((n, b));
            let body = match &call.anchored {
                Some(answer) => {
                    self.out.push_back(Action::Answered {
                        call: id,
                        device_sdp: resp.body.clone(),
                    });
                    (Some("application/sdp".to_string()), answer.clone())
                }
                None => {
                    let ct = resp
                        .headers
                        .get(HeaderName::CONTENT_TYPE)
                        .map(str::to_string);
                    (ct, resp.body.clone())
                }
            };
            self.answer_a(id, 200, Some(body));
            tracing::info!(
                call = id,
                branch = n,
                "answered; cancelling the other devices"
            );
            self.cancel_branches(id, Some(n));
            return;
        }
        // Final failure of this branch.
        branch.state = BranchState::Failed(status);
        if call.state != CallState::Ringing {
            self.try_remove(id);
            return;
        }
        let all_failed = call
            .branches
            .iter()
            .all(|b| matches!(b.state, BranchState::Failed(_)));
        if all_failed {
            let codes: Vec<u16> = call
                .branches
                .iter()
                .filter_map(|b| {
                    if let BranchState::Failed(c) = b.state {
                        Some(c)
                    } else {
                        None
                    }
                })
                .collect();
            let best = best_final(&codes);
            call.state = CallState::Ended;
            self.answer_a(id, best, None);
            self.finish(id, "every device refused");
        }
    }

    fn on_forward_response(&mut self, id: u64, to_side: Side, resp: Response) {
        if resp.status < 200 {
            return;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let from = opposite(to_side);
        let Some(pos) = call.forwarded.iter().position(|f| f.from == from) else {
            return;
        };
        let fwd = call.forwarded.remove(pos);
        // ACK the other leg's 2xx to a re-INVITE ourselves.
        if fwd.request.method == Method::Invite && resp.is_success() {
            let cseq = resp.cseq().map(|c| c.seq).unwrap_or(0);
            let leg = match to_side {
                Side::A => Some(&mut call.a),
                Side::B => call.b.as_mut().map(|(_, b)| b),
            };
            if let Some(leg) = leg {
                let ack = leg.request(Method::Ack, Some(cseq));
                self.out.push_back(Action::Raw {
                    peer: leg.peer.clone(),
                    bytes: ack.to_bytes().into(),
                });
            }
        }
        let ct = resp
            .headers
            .get(HeaderName::CONTENT_TYPE)
            .map(str::to_string);
        let mut r = Response::for_request(&fwd.request, resp.status, &resp.reason);
        let leg = match from {
            Side::A => Some(&call.a),
            Side::B => call.b.as_ref().map(|(_, b)| b),
        };
        if let Some(leg) = leg {
            r.headers.set(HeaderName::TO, leg.local.to_string());
            r.headers
                .push(HeaderName::CONTACT, contact_for(leg.local_addr).to_string());
        }
        if let Some(ct) = ct {
            r.headers.push(HeaderName::CONTENT_TYPE, ct);
        }
        r.body = resp.body.clone();
        self.out.push_back(Action::Respond {
            stx: fwd.stx,
            response: r,
        });
    }

    /// CANCELs every branch still ringing, except `keep`.
    fn cancel_branches(&mut self, id: u64, keep: Option<usize>) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        for (n, b) in call.branches.iter_mut().enumerate() {
            if Some(n) == keep {
                continue;
            }
            if matches!(b.state, BranchState::Calling | BranchState::Ringing) {
                b.state = BranchState::Cancelling;
                self.out.push_back(Action::Cancel {
                    token: ReqToken {
                        call: id,
                        kind: ReqKind::Branch(n),
                    },
                });
            }
        }
    }

    fn hang_up_both(&mut self, id: u64) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.state = CallState::Ended;
        let bye_a = call.a.request(Method::Bye, None);
        self.out.push_back(Action::Request {
            token: ReqToken {
                call: id,
                kind: ReqKind::Bye(Side::A),
            },
            request: bye_a,
            peer: call.a.peer.clone(),
        });
        if let Some((_, b)) = call.b.as_mut() {
            let bye_b = b.request(Method::Bye, None);
            self.out.push_back(Action::Request {
                token: ReqToken {
                    call: id,
                    kind: ReqKind::Bye(Side::B),
                },
                request: bye_b,
                peer: b.peer.clone(),
            });
        }
    }

    /// Marks a call ended; it is forgotten once no device can still answer (a branch being
    /// cancelled may still send a 2xx that must be ACKed and BYEd).
    fn finish(&mut self, id: u64, reason: &'static str) {
        self.out.push_back(Action::Ended { call: id, reason });
        self.try_remove(id);
    }

    fn try_remove(&mut self, id: u64) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let unsettled = call.branches.iter().any(|b| {
            matches!(
                b.state,
                BranchState::Calling | BranchState::Ringing | BranchState::Cancelling
            )
        });
        if call.state != CallState::Ended || unsettled {
            return;
        }
        if let Some(call) = self.calls.remove(&id) {
            self.unindex(&call.a.call_id, id);
            for b in &call.branches {
                if let Some(cid) = b.invite.call_id() {
                    self.unindex(cid, id);
                }
            }
        }
    }

    fn index(&mut self, call_id: String, id: u64, side: Side) {
        self.by_call_id.entry(call_id).or_default().push((id, side));
    }

    fn unindex(&mut self, call_id: &str, id: u64) {
        if let Some(v) = self.by_call_id.get_mut(call_id) {
            v.retain(|(c, _)| *c != id);
            if v.is_empty() {
                self.by_call_id.remove(call_id);
            }
        }
    }

    /// The call and side a request with this Call-ID (and To-tag, our tag in that dialog)
    /// belongs to.
    fn lookup(
        &self,
        call_id: &str,
        to_tag: Option<&str>,
        side: Option<Side>,
    ) -> Option<(u64, Side)> {
        let entries = self.by_call_id.get(call_id)?;
        let candidates: Vec<(u64, Side)> = entries
            .iter()
            .copied()
            .filter(|(_, s)| side.is_none_or(|want| want == *s))
            .collect();
        if candidates.len() <= 1 {
            return candidates.first().copied();
        }
        // Several transfers of one caller (a queue ringing members one after another):
        // the live one wins over those still settling.
        let live: Vec<(u64, Side)> = candidates
            .iter()
            .copied()
            .filter(|(id, _)| {
                self.calls
                    .get(id)
                    .is_some_and(|c| c.state != CallState::Ended)
            })
            .collect();
        let candidates = if live.is_empty() { candidates } else { live };
        if candidates.len() == 1 {
            return candidates.first().copied();
        }
        let ours = |&(id, s): &(u64, Side)| -> bool {
            let Some(call) = self.calls.get(&id) else {
                return false;
            };
            let tag = to_tag.unwrap_or_default();
            match s {
                Side::A => call.a.local.tag() == Some(tag),
                Side::B => call.branches.iter().any(|b| {
                    b.invite.call_id() == Some(call_id)
                        && b.invite
                            .from_hdr()
                            .ok()
                            .and_then(|f| f.tag().map(str::to_string))
                            .as_deref()
                            == Some(tag)
                }),
            }
        };
        candidates
            .iter()
            .copied()
            .find(ours)
            .or_else(|| candidates.first().copied())
    }

    /// Answers the caller's INVITE (`Origin::Invite`); for a transfer, a final failure is
    /// reported as [`Action::TransferFailed`] and provisional/2xx answers are not needed.
    fn answer_a(&mut self, id: u64, status: u16, body: Option<(Option<String>, Bytes)>) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        match &call.origin {
            Origin::Invite { stx, request } => {
                let response = a_response(call, request, status, body, &self.user_agent);
                let stx = *stx;
                self.out.push_back(Action::Respond { stx, response });
            }
            Origin::Transfer if status >= 300 => {
                self.out
                    .push_back(Action::TransferFailed { call: id, status });
            }
            Origin::Transfer => {}
        }
    }

    fn respond_to(&mut self, stx: S, req: &Request, status: u16) {
        let r = Response::for_request(req, status, reason_phrase(status));
        self.out.push_back(Action::Respond { stx, response: r });
    }
}

/// Methods we accept in dialogs.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REGISTER";

fn opposite(s: Side) -> Side {
    match s {
        Side::A => Side::B,
        Side::B => Side::A,
    }
}

/// A response on the caller's INVITE with our To-tag and Contact.
fn a_response<S>(
    call: &Call<S>,
    invite: &Request,
    status: u16,
    body: Option<(Option<String>, Bytes)>,
    agent: &str,
) -> Response {
    let mut r = Response::for_request(invite, status, reason_phrase(status));
    r.headers.set(HeaderName::TO, call.a.local.to_string());
    if status < 300 {
        r.headers.push(
            HeaderName::CONTACT,
            contact_for(call.a.local_addr).to_string(),
        );
        r.headers.push(HeaderName::ALLOW, ALLOW);
    }
    r.headers.push(HeaderName::SERVER, agent.to_string());
    if let Some((ct, b)) = body {
        if let Some(ct) = ct {
            r.headers.push(HeaderName::CONTENT_TYPE, ct);
        }
        r.body = b;
    }
    r
}

/// The answer the caller hears when every device failed (RFC 3261 §16.7, simplified for a
/// PBX): 6xx first, then busy, then the lowest other code; all timeouts → 480.
fn best_final(codes: &[u16]) -> u16 {
    if let Some(c) = codes.iter().find(|c| **c >= 600) {
        return *c;
    }
    if codes.contains(&486) {
        return 486;
    }
    if codes.iter().all(|c| *c == 408 || *c == 487) {
        return 480;
    }
    codes
        .iter()
        .copied()
        .filter(|c| *c != 408)
        .min()
        .unwrap_or(480)
}

#[cfg(test)]
mod tests {
    use super::*;

    use madoguchi_sip::message::{SipMessage, Transport};
    use madoguchi_sip::parse::{parse_datagram, parse_uri, Limits};

    fn invite() -> Request {
        let raw = "INVITE sip:1001@127.0.0.1:5060 SIP/2.0\r\n\
                   Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKring1\r\n\
                   From: <sip:0462009999@127.0.0.1>;tag=c1\r\nTo: <sip:1001@127.0.0.1>\r\n\
                   Call-ID: ring-1@test\r\nCSeq: 1 INVITE\r\n\
                   Contact: <sip:0462009999@127.0.0.1:5070>\r\nMax-Forwards: 70\r\n\
                   Content-Length: 0\r\n\r\n";
        match parse_datagram(raw.as_bytes(), &Limits::default()) {
            Ok(SipMessage::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn device(port: u16) -> Target {
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        Target {
            uri: parse_uri(&format!("sip:1001@{addr}")).unwrap(),
            peer: Peer::new(Transport::Udp, addr),
            local_addr: ([127, 0, 0, 1], 5060).into(),
        }
    }

    /// The B2BUA's ring timeout stands in for Timer C: devices that ring and never answer
    /// are cancelled after 60 s and the caller hears 480, not a second earlier.
    #[test]
    fn devices_that_never_answer_are_cancelled_and_the_caller_hears_480() {
        let mut b = B2bua::<u32>::new("test");
        let t0 = Instant::now();
        let caller = Peer::new(Transport::Udp, ([127, 0, 0, 1], 5070).into());
        let local = ([127, 0, 0, 1], 5060).into();
        let id = b
            .on_invite(
                7,
                invite(),
                caller,
                local,
                vec![device(5081), device(5082)],
                None,
                t0,
            )
            .unwrap();
        let mut invites = Vec::new();
        while let Some(a) = b.poll_action() {
            if let Action::Request { token, request, .. } = a {
                assert_eq!(request.method, Method::Invite);
                invites.push(token);
            }
        }
        assert_eq!(invites.len(), 2, "both devices ring");
        assert_eq!(b.poll_timeout(), Some(t0 + DEFAULT_RING_TIMEOUT));
        b.handle_timeout(t0 + DEFAULT_RING_TIMEOUT - Duration::from_millis(1));
        assert!(b.poll_action().is_none(), "nothing before the deadline");
        b.handle_timeout(t0 + DEFAULT_RING_TIMEOUT);
        let (mut status, mut cancelled, mut ended) = (None, Vec::new(), false);
        while let Some(a) = b.poll_action() {
            match a {
                Action::Respond { stx: 7, response } => status = Some(response.status),
                Action::Cancel { token } => cancelled.push(token),
                Action::Ended { call, .. } if call == id => ended = true,
                _ => {}
            }
        }
        assert_eq!(status, Some(480));
        cancelled.sort_by_key(|t| format!("{t:?}"));
        invites.sort_by_key(|t| format!("{t:?}"));
        assert_eq!(cancelled, invites, "every ringing device is cancelled");
        assert!(ended);
        assert_eq!(b.poll_timeout(), None);
    }

    #[test]
    fn best_final_prefers_busy_and_6xx() {
        assert_eq!(best_final(&[486, 480]), 486);
        assert_eq!(best_final(&[603, 486]), 603);
        assert_eq!(best_final(&[408, 408]), 480);
        assert_eq!(best_final(&[404, 500]), 404);
    }
}
