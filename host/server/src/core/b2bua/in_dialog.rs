//! Requests inside a call (BYE, re-INVITE, UPDATE, INFO, ACK, CANCEL) passed to the other leg
//! or answered by the host's media leg.

use super::*;

impl<S: Copy + PartialEq + std::fmt::Debug> B2bua<S> {
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

    /// The host ends a connected call itself (a browser's media died): BYE to both sides.
    pub fn hang_up(&mut self, id: u64, reason: &'static str) {
        if !self.is_connected(id) {
            return;
        }
        self.hang_up_both(id);
        self.finish(id, reason);
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

    pub(super) fn hang_up_both(&mut self, id: u64) {
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

    pub(super) fn respond_to(&mut self, stx: S, req: &Request, status: u16) {
        let r = Response::for_request(req, status, reason_phrase(status));
        self.out.push_back(Action::Respond { stx, response: r });
    }
}
