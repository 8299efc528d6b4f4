//! Calls the host answers itself (IVR, line test, feature codes): answering the caller with a
//! host leg, starting the call's task, requests inside such a call and from its task.

use super::*;

impl Engine {
    /// Opens a host leg for the caller and answers its SDP offer. On failure the INVITE is
    /// answered here (503 no media port, 488 no common codec, 400 unusable SDP) and `None`
    /// returned.
    pub(super) async fn answer_caller(
        &mut self,
        runtime: &madoguchi_rtp::MediaRuntime,
        tx: ServerTxId,
        req: &Request,
        local_addr: SocketAddr,
        now: Instant,
    ) -> Option<(madoguchi_rtp::Leg, String)> {
        let call_id = req.call_id().unwrap_or("-");
        let leg = match runtime.open_leg(call_id, local_addr.ip()).await {
            Ok(l) => l,
            Err(e) => {
                warn!(error = %e, "no media port for a new call");
                self.respond(tx, Response::for_request(req, 503, reason_phrase(503)), now);
                return None;
            }
        };
        if let Some(m) = self.media.as_ref() {
            leg.set_srtp(m.srtp.for_caller(req));
        }
        match leg.answer(&req.body) {
            Ok(answer) => Some((leg, answer)),
            Err(e) => {
                let status = if e.is_not_acceptable() { 488 } else { 400 };
                info!(error = %e, status, "caller's SDP offer refused");
                tokio::spawn(leg.close());
                self.respond(
                    tx,
                    Response::for_request(req, status, reason_phrase(status)),
                    now,
                );
                None
            }
        }
    }

    /// Answers a call the host serves itself (IVR, line test) with a host leg and starts
    /// its task.
    pub(super) async fn start_host_call(
        &mut self,
        tx: ServerTxId,
        req: Request,
        source: Peer,
        local_addr: SocketAddr,
        service: HostService,
    ) {
        let now = Instant::now();
        let Some(m) = self.media.as_mut() else { return };
        let call_id = req.call_id().unwrap_or("-").to_string();
        let (Ok(from), Ok(to)) = (req.from_hdr(), req.to_hdr()) else {
            self.respond(
                tx,
                Response::for_request(&req, 400, reason_phrase(400)),
                now,
            );
            return;
        };
        let runtime = m.runtime.clone();
        let store = m.store();
        let Some((leg, answer)) = self
            .answer_caller(&runtime, tx, &req, local_addr, now)
            .await
        else {
            return;
        };
        let mut local = to.clone();
        local.set_param("tag", Some(crate::core::ids::tag()));
        let dialog = LegDialog {
            call_id: call_id.clone(),
            local,
            remote: from.clone(),
            remote_target: contact_uri(&req, &from.uri),
            route_set: uas_route_set(&req),
            local_cseq: 0,
            remote_cseq: req.cseq().map(|c| c.seq).unwrap_or(0),
            peer: source,
            local_addr,
        };
        let mut ok = Response::for_request(&req, 200, "OK");
        ok.headers.set(HeaderName::TO, dialog.local.to_string());
        ok.headers
            .push(HeaderName::CONTACT, contact_for(local_addr).to_string());
        ok.headers.push(HeaderName::ALLOW, ALLOW);
        ok.headers.push(HeaderName::CONTENT_TYPE, "application/sdp");
        ok.body = answer.into();
        self.respond(tx, ok, now);
        let caller = from.uri.user.clone().unwrap_or_default();
        let did = req.uri.user_unescaped().unwrap_or_default();
        let kind = match &service {
            HostService::LineTest => "line_test",
            HostService::Confirm(_) => "feature",
            HostService::Ivr(_) => "ivr",
        };
        self.call_log.host_started(
            &call_id,
            kind,
            crate::core::call_log::Parties {
                caller: caller.clone(),
                callee: did.clone(),
                did: if kind == "ivr" {
                    did.clone()
                } else {
                    String::new()
                },
                user: String::new(),
            },
        );
        let (control, control_rx) = mpsc::channel(16);
        self.host_calls
            .insert(call_id.clone(), HostCall { dialog, control });
        match service {
            HostService::LineTest => {
                let facts = CallFacts {
                    call_id: call_id.clone(),
                    caller,
                    callee: "line-test".into(),
                    did,
                };
                let recording = begin_recording(&store, &leg, &facts)
                    .await
                    .map(|(rec, started)| (rec, started, store, facts));
                info!(call_id, "line test answered");
                tokio::spawn(line_test::run(
                    call_id,
                    leg,
                    control_rx,
                    self.host_tx.clone(),
                    recording,
                ));
            }
            HostService::Confirm(prompts) => {
                tokio::spawn(confirm(
                    call_id,
                    leg,
                    prompts,
                    control_rx,
                    self.host_tx.clone(),
                ));
            }
            HostService::Ivr(scenario) => {
                let facts = CallFacts {
                    call_id: call_id.clone(),
                    caller,
                    callee: format!("ivr:{}", scenario.name),
                    did,
                };
                tokio::spawn(ivr::task::run(ivr::task::IvrCall {
                    facts,
                    leg,
                    scenario,
                    runtime,
                    store,
                    control: control_rx,
                    requests: self.host_tx.clone(),
                    apology: self.apology.clone(),
                }));
            }
        }
    }

    /// A request from the task of a host-answered call.
    pub(super) fn on_host_request(&mut self, req: HostReq, now: Instant) {
        match req {
            HostReq::Hangup { call_id } => self.hang_up_host_call(&call_id, now),
            HostReq::Transfer {
                call_id,
                target,
                offer,
                ring_timeout,
                priority,
            } => self.start_transfer(&call_id, target, offer, ring_timeout, priority, now),
            HostReq::Adopt { call, media } => {
                let AdoptedMedia {
                    facts,
                    caller,
                    device,
                    recording,
                    record_now,
                } = *media;
                let device_sdp = self.answered_transfers.remove(&call);
                let live = self.b2bua.is_connected(call);
                match (self.media.as_mut(), device_sdp) {
                    (Some(m), Some(sdp)) if live => {
                        m.calls.insert(
                            call,
                            CallMedia {
                                facts,
                                caller,
                                device,
                                bridge: None,
                                recording,
                            },
                        );
                        m.answered(call, &sdp);
                        if record_now {
                            self.jobs.push_back(Job::StartRecording { call });
                        }
                    }
                    _ => {
                        // The call ended while the task was handing it over.
                        let store = self.media.as_ref().map(|m| m.store());
                        tokio::spawn(async move {
                            if let (Some((rec, started)), Some(store)) = (recording, store) {
                                let legs = vec![leg_stats(&caller).await, leg_stats(&device).await];
                                finish_recording(store, rec, started, &facts, legs).await;
                            }
                            caller.close().await;
                            device.close().await;
                        });
                    }
                }
            }
        }
        self.pump(now);
    }

    /// A request inside a host-answered call.
    pub(super) fn on_host_call_request(&mut self, tx: ServerTxId, req: Request, now: Instant) {
        let call_id = req.call_id().unwrap_or("").to_string();
        match req.method {
            Method::Bye => {
                self.respond(tx, Response::for_request(&req, 200, "OK"), now);
                if let Some(call) = self.host_calls.remove(&call_id) {
                    let _ = call.control.try_send(HostMsg::Stop);
                }
                self.call_log.host_ended(&call_id, "caller hung up");
                self.abandon_transfer(&call_id);
            }
            Method::Info => {
                self.respond(tx, Response::for_request(&req, 200, "OK"), now);
                if let Some(call) = self.host_calls.get(&call_id) {
                    let body = String::from_utf8_lossy(&req.body).into_owned();
                    let content_type = req
                        .headers
                        .get(HeaderName::CONTENT_TYPE)
                        .unwrap_or("")
                        .to_string();
                    let _ = call.control.try_send(HostMsg::Info { body, content_type });
                }
            }
            Method::Options => self.respond(tx, Response::for_request(&req, 200, "OK"), now),
            // The line test keeps its media as negotiated.
            Method::Invite | Method::Update => self.respond(
                tx,
                Response::for_request(&req, 488, reason_phrase(488)),
                now,
            ),
            _ => {
                let mut r = Response::for_request(&req, 405, reason_phrase(405));
                r.headers.push(HeaderName::ALLOW, ALLOW);
                self.respond(tx, r, now);
            }
        }
    }

    /// A host-answered call ends on our side: send BYE.
    pub(super) fn hang_up_host_call(&mut self, call_id: &str, now: Instant) {
        self.abandon_transfer(call_id);
        self.call_log.host_ended(call_id, "host hung up");
        let Some(mut call) = self.host_calls.remove(call_id) else {
            return;
        };
        let bye = call.dialog.request(Method::Bye, None);
        let peer = call.dialog.peer.clone();
        if let Err(e) = self.tx.send_request(bye, peer, now) {
            debug!(error = %e, "BYE for a host call not sent");
        }
        self.pump(now);
    }

    /// A member's feature code: log in/out of every queue (`login`) or pause/resume. The
    /// caller is an authenticated local user (checked before). Returns the confirmation:
    /// rising beeps = now available, falling = logged out or paused, a low tone = refused.
    pub(super) fn feature_code(&mut self, req: &Request, login: bool, now: Instant) -> Vec<Audio> {
        use madoguchi_acd::MemberState;
        let beeps = |freqs: &[f64]| -> Vec<Audio> {
            freqs
                .iter()
                .flat_map(|f| [line_test::tone(*f, 200), Audio::from_pcm(vec![0; 800])])
                .collect()
        };
        let user = req
            .from_hdr()
            .ok()
            .and_then(|f| f.uri.user_unescaped())
            .filter(|u| self.registry.user_exists(u));
        let Some(user) = user else {
            return vec![line_test::tone(300.0, 1000)];
        };
        let mut acd = self.queues.acd();
        let result: Result<bool, String> = match (login, acd.member_state(&user)) {
            (_, None) => Err("not a member of any queue".to_string()),
            (true, Some(MemberState::LoggedOut)) => acd
                .member_login(&user, now)
                .map(|_| true)
                .map_err(|e| e.to_string()),
            (true, Some(_)) => acd
                .member_logout(&user, now)
                .map(|_| false)
                .map_err(|e| e.to_string()),
            (false, Some(MemberState::Paused { .. })) => acd
                .member_unpause(&user, now)
                .map(|_| true)
                .map_err(|e| e.to_string()),
            (false, Some(_)) => acd
                .member_pause(&user, "feature code", now)
                .map(|_| false)
                .map_err(|e| e.to_string()),
        };
        drop(acd);
        info!(user, login, ?result, "queue feature code");
        match result {
            Ok(true) => beeps(&[660.0, 880.0]),
            Ok(false) => beeps(&[880.0, 660.0]),
            Err(_) => vec![line_test::tone(300.0, 1000)],
        }
    }

    /// Queues a call the host answers itself (it needs an SDP offer and the media runtime).
    pub(super) fn host_service(
        &mut self,
        tx: ServerTxId,
        req: Request,
        source: Peer,
        service: HostService,
        now: Instant,
    ) {
        match self.local_addr_for(&source) {
            Some(local_addr) if self.media.is_some() && !req.body.is_empty() => {
                self.jobs.push_back(Job::HostCall {
                    tx,
                    req: Box::new(req),
                    source,
                    local_addr,
                    service,
                });
            }
            _ => self.respond(
                tx,
                Response::for_request(&req, 488, reason_phrase(488)),
                now,
            ),
        }
    }
}

/// A feature code's confirmation: play it, then hang up.
pub(super) async fn confirm(
    call_id: String,
    mut leg: madoguchi_rtp::Leg,
    prompts: Vec<Audio>,
    mut control: mpsc::Receiver<HostMsg>,
    host: mpsc::Sender<HostReq>,
) {
    let id = leg.play(prompts, false);
    let hang_up = loop {
        tokio::select! {
            ev = leg.events().recv() => match ev {
                Some(madoguchi_rtp::LegEvent::PlayFinished(p)) if p == id => break true,
                Some(_) => {}
                None => break false,
            },
            msg = control.recv() => match msg {
                Some(HostMsg::Stop) | None => break false,
                Some(_) => {}
            },
            _ = tokio::time::sleep(Duration::from_secs(10)) => break true,
        }
    };
    if hang_up {
        let _ = host.send(HostReq::Hangup { call_id }).await;
    }
    leg.close().await;
}
