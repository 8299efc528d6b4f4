//! Transfers out of host-answered calls (IVR `transfer`, queue offers) and the devices a
//! call rings.

use super::*;

impl Engine {
    /// Rings a transfer target for a host-answered call (the IVR's `transfer` action).
    pub(super) fn start_transfer(
        &mut self,
        call_id: &str,
        target: TransferTarget,
        offer: DeviceOffer,
        ring_timeout: Duration,
        priority: u8,
        now: Instant,
    ) {
        let Some(hc) = self.host_calls.get(call_id) else {
            return;
        };
        let control = hc.control.clone();
        let a = hc.dialog.clone();
        let fail = |status: u16| {
            let _ = control.try_send(HostMsg::TransferFailed { status });
        };
        let (to, targets) = match &target {
            TransferTarget::User(user) => {
                if !self.registry.user_exists(user) {
                    warn!(call_id, user, "transfer to a user that does not exist");
                    return fail(404);
                }
                let targets = self.targets_of(user);
                let to = Uri::sip(
                    Some(user),
                    a.local_addr.ip().into(),
                    Some(a.local_addr.port()),
                );
                (to, targets)
            }
            TransferTarget::External(name)
                if name == "callcenter" && self.callcenter_routes().is_some() =>
            {
                let routes = self.callcenter_routes().unwrap_or_default();
                if let Err(status) = self.ring_callcenter(call_id, routes, offer, ring_timeout, now)
                {
                    warn!(call_id, "no call-center route reachable");
                    fail(status);
                }
                self.pump(now);
                return;
            }
            TransferTarget::External(name) => {
                let uri = if name == "callcenter" {
                    self.callcenter.clone()
                } else {
                    madoguchi_sip::parse::parse_uri(name).ok()
                };
                let Some(uri) = uri else {
                    warn!(call_id, name, "external destination not configured");
                    return fail(503);
                };
                let Some(target) = self.target_for_uri(&uri) else {
                    warn!(call_id, %uri, "external destination not reachable");
                    return fail(503);
                };
                (uri, vec![target])
            }
            TransferTarget::Queue(q) => {
                match self.queues.arrive(q, call_id, priority, now) {
                    Ok(position) => {
                        self.queue_sdp.insert(call_id.to_string(), offer);
                        let _ = control.try_send(HostMsg::Queued { position });
                        self.pump(now);
                    }
                    Err(status) => fail(status),
                }
                return;
            }
        };
        if targets.is_empty() {
            info!(call_id, ?target, "transfer target has no device");
            return fail(480);
        }
        let from = a.remote.clone();
        let parties = super::super::call_log::Parties {
            caller: from.uri.user_unescaped().unwrap_or_default(),
            callee: to.user_unescaped().unwrap_or_default(),
            did: a.local.uri.user_unescaped().unwrap_or_default(),
            user: match &target {
                TransferTarget::User(u) => u.clone(),
                _ => to.user_unescaped().unwrap_or_default(),
            },
        };
        let id = self.b2bua.on_transfer(
            a,
            &from,
            &NameAddr::new(to),
            targets,
            offer,
            ring_timeout,
            now,
        );
        self.call_log
            .b2bua_started(id, call_id, "transfer", parties);
        self.transfers.insert(id, call_id.to_string());
        self.transfer_of.insert(call_id.to_string(), id);
        if let TransferTarget::User(user) = &target {
            self.busy_on_answer.insert(id, vec![user.clone()]);
        }
        self.pump(now);
    }

    /// The registered devices of a user, as B2BUA targets.
    pub(super) fn targets_of(&self, user: &str) -> Vec<Target> {
        self.registry
            .contacts_of(user)
            .into_iter()
            .filter_map(|(uri, peer)| {
                let local = self.local_addr_for(&peer)?;
                Some(Target {
                    uri,
                    peer,
                    local_addr: local,
                    presented: None,
                })
            })
            .collect()
    }

    /// A target for a SIP URI with an IP address (an external destination such as the call
    /// center): UDP to its host and port.
    pub(super) fn target_for_uri(&self, uri: &Uri) -> Option<Target> {
        let ip: std::net::IpAddr = uri.host.to_string().trim_matches(['[', ']']).parse().ok()?;
        let peer = Peer {
            transport: madoguchi_sip::message::Transport::Udp,
            addr: SocketAddr::new(ip, uri.port.unwrap_or(5060)),
        };
        let local_addr = self.local_addr_for(&peer)?;
        Some(Target {
            uri: uri.clone(),
            peer,
            local_addr,
            presented: None,
        })
    }

    /// Stops ringing the transfer of a host-answered call, if one is pending.
    pub(super) fn abandon_transfer(&mut self, call_id: &str) {
        if let Some(id) = self.transfer_of.remove(call_id) {
            self.transfers.remove(&id);
            self.b2bua.abandon(id);
        }
        if self.queue_sdp.remove(call_id).is_some() {
            self.queues.caller_gone(call_id, Instant::now());
        }
    }

    /// Carries out what the queues decided.
    pub(super) fn on_queue_action(&mut self, action: QueueAction, now: Instant) {
        match action {
            QueueAction::Ring {
                offer,
                member,
                caller,
            } => {
                let (Some(hc), Some(sdp)) =
                    (self.host_calls.get(&caller), self.queue_sdp.get(&caller))
                else {
                    self.queues.cannot_ring(offer, &member, now);
                    return;
                };
                let a = hc.dialog.clone();
                let sdp = sdp.clone();
                let targets = self.targets_of(&member);
                if targets.is_empty() {
                    info!(member, "queue member has no registered device");
                    self.queues.cannot_ring(offer, &member, now);
                    return;
                }
                let to = Uri::sip(
                    Some(&member),
                    a.local_addr.ip().into(),
                    Some(a.local_addr.port()),
                );
                let from = a.remote.clone();
                let parties = super::super::call_log::Parties {
                    caller: from.uri.user_unescaped().unwrap_or_default(),
                    callee: member.clone(),
                    did: a.local.uri.user_unescaped().unwrap_or_default(),
                    user: member.clone(),
                };
                // The ACD times the ring (ring_timeout_ms) and cancels; this is a backstop.
                let id = self.b2bua.on_transfer(
                    a,
                    &from,
                    &NameAddr::new(to),
                    targets,
                    sdp,
                    Duration::from_secs(600),
                    now,
                );
                // The queue counts its own calls: no busy/free report for this one.
                self.call_log.b2bua_started(id, &caller, "queue", parties);
                self.queues.rang(id, offer, &member, &caller);
            }
            QueueAction::StopRinging { call } => self.b2bua.abandon(call),
            QueueAction::Tell { caller, msg } => {
                if let Some(hc) = self.host_calls.get(&caller) {
                    let _ = hc.control.try_send(msg);
                }
            }
        }
    }

    /// Users of an answered call are busy for the queues until it ends.
    pub(super) fn mark_busy(&mut self, call: u64) {
        if let Some(users) = self.busy_on_answer.remove(&call) {
            let now = Instant::now();
            for u in &users {
                self.queues.acd().member_busy(u, now);
            }
            self.busy_until_end.insert(call, users);
        }
    }

    /// The local users a call between users involves: the callee and a local caller.
    pub(super) fn call_users(&self, req: &Request) -> Vec<String> {
        let mut users: Vec<String> = req.uri.user_unescaped().into_iter().collect();
        if let Some(caller) = req
            .from_hdr()
            .ok()
            .and_then(|f| f.uri.user_unescaped())
            .filter(|c| self.registry.user_exists(c))
        {
            users.push(caller);
        }
        users
    }
}
