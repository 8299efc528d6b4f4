//! What the core does with each transaction event: requests routed to the registrar, the
//! B2BUA or a host service; the B2BUA's actions carried out; anchored calls set up.

use super::*;
use crate::core::call_log::Parties;

impl Engine {
    pub(super) fn on_tx_event(&mut self, ev: TxEvent, now: Instant) {
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
                if self.on_trunk_response(tx, &response, now) {
                    return;
                }
                let Some(token) = self.by_client_tx.get(&tx).copied() else {
                    return;
                };
                if response.status >= 200 {
                    self.forget_client(tx);
                }
                self.b2bua.on_response(token, response);
            }
            TxEvent::Timeout { tx, .. } => {
                if self.on_trunk_failure(tx, "no answer (timeout)", now) {
                    return;
                }
                if let Some(token) = self.forget_client(tx) {
                    self.b2bua.on_request_failed(token);
                }
            }
            TxEvent::TransportError {
                tx: TxRef::Client(tx),
            } => {
                if self.on_trunk_failure(tx, "could not be sent", now) {
                    return;
                }
                if let Some(token) = self.forget_client(tx) {
                    self.b2bua.on_request_failed(token);
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

    pub(super) fn on_request(&mut self, tx: ServerTxId, req: Request, source: Peer, now: Instant) {
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
            Method::Register => {
                let reply = self.registry.register(&req, &source, now);
                self.send_guarded(tx, reply, &source, now);
            }
            Method::Options if !in_dialog => {
                let mut r = Response::for_request(&req, 200, "OK");
                r.headers.push(HeaderName::ALLOW, ALLOW);
                r.headers.push(HeaderName::ACCEPT, "application/sdp");
                r.headers.push(HeaderName::SERVER, self.user_agent.clone());
                self.respond(tx, r, now);
            }
            Method::Invite if !in_dialog => self.on_new_invite(tx, req, source, now),
            _ if in_dialog
                && req
                    .call_id()
                    .is_some_and(|c| self.host_calls.contains_key(c)) =>
            {
                self.on_host_call_request(tx, req, now)
            }
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

    /// The call limits (`[limits]`): a call over one is answered 503 with Retry-After, and
    /// the limit that acted is logged once a minute per source.
    fn admit_call(&mut self, tx: ServerTxId, req: &Request, source: &Peer, now: Instant) -> bool {
        let call_id = req.call_id().unwrap_or("");
        let now_ms = now.saturating_duration_since(self.started).as_millis() as u64;
        let (host_calls, b2bua) = (&self.host_calls, &self.b2bua);
        let admitted = self
            .admission
            .admit(source.addr.ip(), call_id, now_ms, |c| {
                host_calls.contains_key(c) || b2bua.has_call_id(c)
            });
        for (ip, why) in self.admission.take_log() {
            warn!(%ip, limit = why.as_str(), live = self.admission.live(), "new calls refused with 503 (logged once a minute per source)");
        }
        let Err(why) = admitted else {
            return true;
        };
        let mut r = Response::for_request(req, 503, reason_phrase(503));
        r.headers
            .push(HeaderName::RETRY_AFTER, why.retry_after_s().to_string());
        self.respond(tx, r, now);
        false
    }

    pub(super) fn on_new_invite(
        &mut self,
        tx: ServerTxId,
        req: Request,
        source: Peer,
        now: Instant,
    ) {
        if !self.admit_call(tx, &req, &source, now) {
            return;
        }
        if let Some(reply) = self.registry.check_local_caller(&req, &source, now) {
            self.send_guarded(tx, reply, &source, now);
            return;
        }
        match self.trunk_invite(&req, &source) {
            trunks::TrunkInvite::No => {}
            trunks::TrunkInvite::Drop => return,
            trunks::TrunkInvite::NotFound(why) => {
                warn!(why, "trunk call to a DID nobody owns");
                self.respond(
                    tx,
                    Response::for_request(&req, 404, reason_phrase(404)),
                    now,
                );
                return;
            }
            trunks::TrunkInvite::Scenario(scenario, trunk) => {
                info!(scenario = %scenario.name, version = scenario.version, trunk, "trunk call to a scenario DID");
                self.host_service(tx, req, source, HostService::Ivr(scenario), now);
                return;
            }
        }
        let dialled = req.uri.user_unescaped();
        if dialled.is_some() && (dialled == self.queue_login || dialled == self.queue_pause) {
            let login = dialled == self.queue_login;
            let confirmation = self.feature_code(&req, login, now);
            self.host_service(tx, req, source, HostService::Confirm(confirmation), now);
            return;
        }
        if self.line_test.is_some() && dialled == self.line_test {
            self.host_service(tx, req, source, HostService::LineTest, now);
            return;
        }
        if let Some(scenario) = dialled
            .as_deref()
            .and_then(|d| self.ivr.as_ref()?.for_did(d))
        {
            info!(scenario = %scenario.name, version = scenario.version, "call to a scenario DID");
            self.host_service(tx, req, source, HostService::Ivr(scenario), now);
            return;
        }
        // Past the public numbers: only local users and trusted sources reach extensions,
        // and nothing below may tell a scanner whether an extension exists.
        if let Some(reply) = self.registry.check_unknown_caller(&req, &source, now) {
            self.send_guarded(tx, reply, &source, now);
            return;
        }
        let user = req.uri.user_unescaped().unwrap_or_default();
        let Some(local_addr) = self.local_addr_for(&source) else {
            self.respond(
                tx,
                Response::for_request(&req, 500, reason_phrase(500)),
                now,
            );
            return;
        };
        let outbound = if self.registry.user_exists(&user) {
            trunks::OutboundCall::No
        } else {
            self.outbound_call(&req, &user)
        };
        let targets = match outbound {
            trunks::OutboundCall::Refuse(status, reason) => {
                self.respond(tx, Response::for_request(&req, status, &reason), now);
                return;
            }
            trunks::OutboundCall::Targets(t, kind) => {
                self.note_outbound(req.call_id().unwrap_or_default(), kind);
                Some(t)
            }
            trunks::OutboundCall::No => None,
        };
        if targets.is_none() && !self.registry.user_exists(&user) {
            info!(user, "call to unknown user");
            self.respond(
                tx,
                Response::for_request(&req, 404, reason_phrase(404)),
                now,
            );
            return;
        }
        let targets = targets.unwrap_or_else(|| self.targets_of(&user));
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
        if self.media.is_some() && !req.body.is_empty() {
            self.jobs.push_back(Job::NewCall {
                tx,
                req: Box::new(req),
                source,
                local_addr,
                targets,
            });
        } else {
            // No offer to answer (late offer) or no media runtime: bodies pass end to end.
            let users = self.call_users(&req);
            let call_id = req.call_id().unwrap_or("-").to_string();
            let parties = Parties {
                user: user.clone(),
                ..Parties::of(&req)
            };
            let id = self
                .b2bua
                .on_invite(tx, req, source, local_addr, targets, None, now);
            if let Some(id) = id {
                self.busy_on_answer.insert(id, users);
                self.call_log.b2bua_started(id, &call_id, "user", parties);
            }
        }
    }

    /// Opens the host's two legs, answers the caller's offer with the caller leg and offers
    /// the device leg to every device.
    pub(super) async fn start_anchored_call(
        &mut self,
        tx: ServerTxId,
        req: Request,
        source: Peer,
        local_addr: SocketAddr,
        targets: Vec<Target>,
    ) {
        let now = Instant::now();
        let Some(runtime) = self.media.as_ref().map(|m| m.runtime.clone()) else {
            return;
        };
        let call_id = req.call_id().unwrap_or("-").to_string();
        let Some((caller, answer)) = self
            .answer_caller(&runtime, tx, &req, local_addr, now)
            .await
        else {
            return;
        };
        let device_ip = targets
            .first()
            .map(|t| t.local_addr.ip())
            .unwrap_or(local_addr.ip());
        let device = match runtime
            .open_leg(&format!("{call_id}-device"), device_ip)
            .await
        {
            Ok(l) => l,
            Err(e) => {
                warn!(error = %e, "no media port for the device side");
                tokio::spawn(caller.close());
                self.respond(
                    tx,
                    Response::for_request(&req, 503, reason_phrase(503)),
                    now,
                );
                return;
            }
        };
        let media = AnchoredMedia {
            offer_to_devices: DeviceOffer::of(&device),
            answer_to_caller: answer.into(),
        };
        let caller_number = req
            .from_hdr()
            .ok()
            .and_then(|f| f.uri.user)
            .unwrap_or_default();
        let callee = req.uri.user_unescaped().unwrap_or_default();
        // Calls out (through a trunk or on-net) are named so in the call's recording.
        let callee = match self.take_outbound(&call_id) {
            Some(kind) => format!("{kind}:{callee}"),
            None => callee,
        };
        let users = self.call_users(&req);
        let parties = Parties {
            user: callee.clone(),
            ..Parties::of(&req)
        };
        match self
            .b2bua
            .on_invite(tx, req, source, local_addr, targets, Some(media), now)
        {
            Some(id) => {
                self.busy_on_answer.insert(id, users);
                self.call_log.b2bua_started(id, &call_id, "user", parties);
                if let Some(m) = self.media.as_mut() {
                    m.calls.insert(
                        id,
                        CallMedia {
                            // A call between users: the number dialled is the user reached.
                            facts: CallFacts {
                                call_id,
                                caller: caller_number,
                                did: callee.clone(),
                                callee,
                            },
                            caller,
                            device,
                            bridge: None,
                            recording: None,
                        },
                    );
                }
            }
            None => {
                tokio::spawn(caller.close());
                tokio::spawn(device.close());
            }
        }
    }

    pub(super) fn on_action(&mut self, action: Action<ServerTxId>, now: Instant) {
        if let Action::Answered { call, .. } = &action {
            self.call_log.answered(*call);
        }
        match action {
            Action::Respond { stx, response } => self.respond(stx, response, now),
            Action::Request {
                token,
                request,
                peer,
            } => {
                self.link_trace(token.call, &request);
                self.send_b2bua_request(token, request, peer, now)
            }
            Action::Cancel { token } => {
                if let Some(ctx) = self.by_token.get(&token).copied() {
                    let _ = self.tx.cancel(ctx, now);
                }
            }
            Action::Raw { peer, bytes } => self.sender.send(&peer, bytes),
            Action::Answered { call, device_sdp } if self.queues.is_offer(call) => {
                self.mark_busy(call);
                match self.queues.answered(call, now) {
                    Some(caller) => {
                        self.queue_sdp.remove(&caller);
                        self.answered_transfers.insert(call, device_sdp);
                        if let Some(hc) = self.host_calls.remove(&caller) {
                            let _ = hc.control.try_send(HostMsg::TransferAnswered { call });
                        }
                        self.call_log
                            .host_ended(&caller, "answered by a queue member");
                    }
                    None => self.b2bua.drop_answered_transfer(call),
                }
            }
            Action::TransferFailed { call, status } if self.queues.is_offer(call) => {
                self.queues.failed(call, status, now);
            }
            Action::Answered { call, device_sdp } if self.transfers.contains_key(&call) => {
                self.mark_busy(call);
                self.callcenter_done(call);
                // A transfer out of the IVR connected: the B2BUA owns the caller's dialog
                // from now on; the task hands its legs over (HostReq::Adopt).
                let call_id = self.transfers.remove(&call).unwrap_or_default();
                self.transfer_of.remove(&call_id);
                self.answered_transfers.insert(call, device_sdp);
                if let Some(hc) = self.host_calls.remove(&call_id) {
                    let _ = hc.control.try_send(HostMsg::TransferAnswered { call });
                }
                self.call_log.host_ended(&call_id, "transferred");
            }
            Action::TransferFailed { call, status } => {
                if self.callcenter_failed(call, status, now) {
                    return;
                }
                if let Some(call_id) = self.transfers.remove(&call) {
                    self.transfer_of.remove(&call_id);
                    if let Some(hc) = self.host_calls.get(&call_id) {
                        let _ = hc.control.try_send(HostMsg::TransferFailed { status });
                    }
                }
            }
            Action::Answered { call, device_sdp } => {
                self.mark_busy(call);
                if let Some(m) = self.media.as_mut() {
                    m.answered(call, &device_sdp);
                    self.jobs.push_back(Job::StartRecording { call });
                }
            }
            Action::Reoffer {
                call,
                side,
                stx,
                request,
            } => {
                let sdp = match self.media.as_mut() {
                    Some(m) => m.reoffer(call, side, &request.body),
                    None => Err(()),
                };
                self.b2bua.answer_reoffer(call, side, stx, &request, sdp);
            }
            Action::Ended { call, reason } => {
                info!(call, reason, "call ended");
                self.callcenter_done(call);
                let recording = self.media.as_ref().and_then(|m| {
                    let (rec, _) = m.calls.get(&call)?.recording.as_ref()?;
                    Some(rec.file_name().to_string())
                });
                self.call_log.b2bua_ended(call, reason, recording);
                self.answered_transfers.remove(&call);
                self.queues.ended(call, now);
                self.busy_on_answer.remove(&call);
                for user in self.busy_until_end.remove(&call).unwrap_or_default() {
                    self.queues.acd().member_free(&user, now);
                }
                if let Some(m) = self.media.as_mut() {
                    m.ended(call);
                }
            }
        }
    }

    fn send_b2bua_request(&mut self, token: ReqToken, request: Request, peer: Peer, now: Instant) {
        match self.tx.send_request(request, peer, now) {
            Ok(ctx) => {
                self.by_client_tx.insert(ctx, token);
                self.by_token.insert(token, ctx);
            }
            Err(e) => {
                warn!(error = %e, "cannot send request");
                self.b2bua.on_request_failed(token);
            }
        }
    }

    /// Files a device leg's messages under its call's trace.
    fn link_trace(&self, call: u64, request: &Request) {
        if let (Some(tap), Some(leg), Some(a)) = (
            self.sender.tap(),
            request.call_id(),
            self.b2bua.a_call_id(call),
        ) {
            tap.trace.link(leg, a);
        }
    }
}
