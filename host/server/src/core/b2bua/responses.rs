//! Responses from the devices and the other leg: the first 2xx wins, the rest are cancelled,
//! the caller hears the best final answer.

use super::*;

impl<S: Copy + PartialEq + std::fmt::Debug> B2bua<S> {
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

    pub(super) fn on_branch_response(&mut self, id: u64, n: usize, resp: Response) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(branch) = call.branches.get_mut(n) else {
            return;
        };
        branch.heard = true;
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
        if matches!(status, 401 | 407) && call.state == CallState::Ringing {
            if let Some(req) = answer_challenge(branch, &resp) {
                let peer = branch.target.peer.clone();
                self.out.push_back(Action::Request {
                    token: ReqToken {
                        call: id,
                        kind: ReqKind::Branch(n),
                    },
                    request: req,
                    peer,
                });
                return;
            }
        }
        let invite_cseq = branch.invite.cseq().map(|c| c.seq).unwrap_or(1);
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
                local_cseq: invite_cseq,
                remote_cseq: 0,
                peer: branch.target.peer.clone(),
                local_addr: branch.target.local_addr,
            };
            if call.state != CallState::Ringing || call.b.is_some() {
                // Lost the race: ACK then BYE this device.
                branch.state = BranchState::Answered;
                let ack = b.request(Method::Ack, Some(invite_cseq));
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
                let ack = b.request(Method::Ack, Some(invite_cseq));
                self.out.push_back(Action::Raw {
                    peer: b.peer.clone(),
                    bytes: ack.to_bytes().into(),
                });
            } else {
                call.b_ack_held = Some(invite_cseq);
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

    pub(super) fn on_forward_response(&mut self, id: u64, to_side: Side, resp: Response) {
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
    pub(super) fn cancel_branches(&mut self, id: u64, keep: Option<usize>) {
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

    /// Answers the caller's INVITE (`Origin::Invite`); for a transfer, a final failure is
    /// reported as [`Action::TransferFailed`] and provisional/2xx answers are not needed.
    pub(super) fn answer_a(&mut self, id: u64, status: u16, body: Option<(Option<String>, Bytes)>) {
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
}

/// A response on the caller's INVITE with our To-tag and Contact.
pub(super) fn a_response<S>(
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
pub(super) fn best_final(codes: &[u16]) -> u16 {
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

/// The INVITE again with an answer to the far end's digest challenge, when the branch has
/// credentials (a carrier trunk) and has not answered this challenge already. It becomes
/// the branch's INVITE (CANCEL and ACK derive from it).
fn answer_challenge(branch: &mut Branch, resp: &Response) -> Option<Request> {
    use madoguchi_sip::auth::client::{authorization, choose_challenge};
    let (user, password) = branch.target.presented.as_ref()?.credentials.as_ref()?;
    let (challenge_header, answer_header) = if resp.status == 407 {
        (
            HeaderName::PROXY_AUTHENTICATE,
            HeaderName::PROXY_AUTHORIZATION,
        )
    } else {
        (HeaderName::WWW_AUTHENTICATE, HeaderName::AUTHORIZATION)
    };
    let ch = choose_challenge(resp.headers.get_all(challenge_header))?;
    if branch.auth_rounds >= 2 || (branch.auth_rounds == 1 && !ch.stale) {
        return None;
    }
    branch.auth_rounds += 1;
    let mut req = branch.invite.clone();
    let seq = req.cseq().map(|c| c.seq).unwrap_or(1) + 1;
    let cnonce = format!("{:016x}", rand::random::<u64>());
    let value = authorization(
        &ch,
        user,
        password.expose(),
        "INVITE",
        &req.uri.to_string(),
        &cnonce,
        1,
    );
    let via = our_via(
        branch.target.peer.transport.clone(),
        branch.target.local_addr,
    );
    let h = req.headers_mut();
    h.remove(HeaderName::VIA);
    h.push_front(HeaderName::VIA, via.to_string());
    h.set(HeaderName::CSEQ, format!("{seq} INVITE"));
    h.remove(HeaderName::AUTHORIZATION);
    h.remove(HeaderName::PROXY_AUTHORIZATION);
    h.push(answer_header, value);
    branch.invite = req.clone();
    branch.state = BranchState::Calling;
    Some(req)
}
