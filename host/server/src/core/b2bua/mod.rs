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

mod in_dialog;
mod responses;

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
    /// How the call is presented to this target (a carrier trunk: the city's number in
    /// From, P-Asserted-Identity, Privacy); `None`: the caller as it is.
    pub presented: Option<Box<Presented>>,
}

/// The From and To a target sees, and extra headers (identity, privacy).
#[derive(Debug, Clone)]
pub struct Presented {
    /// Without a tag (the B2BUA adds its own).
    pub from: NameAddr,
    pub to: NameAddr,
    pub headers: Vec<(String, String)>,
    /// Digest credentials for a carrier that challenges the INVITE (401/407): user name and
    /// password, answered once per challenge.
    pub credentials: Option<(String, madoguchi_trunk::Secret)>,
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
    pub offer_to_devices: DeviceOffer,
    pub answer_to_caller: Bytes,
}

/// The host's offer to the devices of a call: plain RTP for phones, and for browsers
/// (WebSocket devices) a WebRTC offer of the same leg, made only if a browser is rung.
#[derive(Debug, Clone)]
pub struct DeviceOffer {
    pub plain: Bytes,
    pub webrtc: Option<madoguchi_rtp::WebRtcOffer>,
    /// Extra headers for the devices' INVITEs (e.g. the IVR path the caller took).
    pub headers: Vec<(String, String)>,
}

impl DeviceOffer {
    /// A body passed through as it is (calls whose media the host does not anchor).
    pub fn plain(body: Bytes) -> DeviceOffer {
        DeviceOffer {
            plain: body,
            webrtc: None,
            headers: Vec::new(),
        }
    }

    /// The host's device leg offers both kinds.
    pub fn of(leg: &madoguchi_rtp::Leg) -> DeviceOffer {
        DeviceOffer {
            plain: leg.offer().into(),
            webrtc: Some(leg.webrtc_offerer()),
            headers: Vec::new(),
        }
    }

    /// Adds a header to every device's INVITE.
    pub fn with_header(mut self, name: &str, value: &str) -> DeviceOffer {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The body for one device: WebRTC over WebSocket flows, plain RTP elsewhere.
    pub fn for_peer(&self, peer: &Peer) -> Bytes {
        use madoguchi_sip::message::Transport;
        match (&peer.transport, &self.webrtc) {
            (Transport::Ws | Transport::Wss, Some(w)) => match w.offer() {
                Ok(sdp) => sdp.into(),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot make a WebRTC offer; offering plain RTP");
                    self.plain.clone()
                }
            },
            _ => self.plain.clone(),
        }
    }
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
    /// Digest challenges of the far end answered so far (trunk targets only).
    auth_rounds: u8,
    /// Any response (even 100 Trying) came back: the far end is alive.
    heard: bool,
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
                DeviceOffer::plain(invite.body.clone()),
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
        offer: DeviceOffer,
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

    /// Whether any device of call `id` has answered anything yet (false for a call that
    /// ended or does not exist).
    pub fn heard_from(&self, id: u64) -> bool {
        self.calls
            .get(&id)
            .is_some_and(|c| c.branches.iter().any(|b| b.heard))
    }

    /// Whether any call in progress has a leg or branch with this Call-ID.
    pub fn has_call_id(&self, call_id: &str) -> bool {
        self.by_call_id.contains_key(call_id)
    }

    /// The caller's Call-ID of call `id` (the id its trace and record are filed under).
    pub fn a_call_id(&self, id: u64) -> Option<&str> {
        self.calls.get(&id).map(|c| c.a.call_id.as_str())
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
        body: (Option<String>, DeviceOffer),
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
            let mut to_b = to_b.clone();
            if let Some(p) = &t.presented {
                from_b = p.from.clone();
                to_b = p.to.clone();
            }
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
            for (name, value) in t.presented.iter().flat_map(|p| &p.headers) {
                h.push(name, value.clone());
            }
            if let Some(ct) = &body.0 {
                h.push(HeaderName::CONTENT_TYPE, ct.clone());
            }
            for (name, value) in &body.1.headers {
                h.push(name, value.clone());
            }
            req.body = body.1.for_peer(&t.peer);
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
                auth_rounds: 0,
                heard: false,
            });
        }
        branches
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
}

/// Methods we accept in dialogs.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REGISTER";

fn opposite(s: Side) -> Side {
    match s {
        Side::A => Side::B,
        Side::B => Side::A,
    }
}

#[cfg(test)]
mod tests;
