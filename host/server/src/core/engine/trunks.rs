//! Trunks in the core: the registration and keepalive machines' requests sent and their
//! answers fed back; INVITEs from a carrier routed by DID; users' calls to outside numbers
//! routed on-net or through a trunk as the city's number; the call center's routes with
//! failover. The decisions are `madoguchi-trunk`'s; this is the glue.

use std::net::IpAddr;

use madoguchi_sip::message::Transport;
use madoguchi_trunk::config::{DidSource, IdentityHeader};
use madoguchi_trunk::keepalive::Health;
use madoguchi_trunk::route::japan_minute;
use madoguchi_trunk::set::{CcRoute, Send as TrunkSend, Token};
use madoguchi_trunk::{Outbound, PhoneNumber, Presentation};

use super::*;
use crate::core::b2bua::{DeviceOffer, Presented};
use crate::trunks::TrunkHandle;

/// How long a call-center route may stay silent before the next one is tried.
const CC_SILENCE: Duration = Duration::from_secs(4);

/// The core's trunk state.
pub(super) struct Trunks {
    pub(super) handle: TrunkHandle,
    /// Our REGISTER and OPTIONS transactions.
    by_tx: HashMap<ClientTxId, Token>,
    /// Call-center transfers that may still fail over, by B2BUA call id.
    cc: HashMap<u64, CcAttempt>,
    /// Calls out not yet set up, by Call-ID: "outbound" (a trunk) or "onnet".
    outbound: HashMap<String, &'static str>,
}

/// A call-center transfer in progress and the routes left after it.
struct CcAttempt {
    /// Until when the route must have answered something (even 100 Trying), else it is
    /// taken as down (a dead route would otherwise hold the caller for Timer B's 32 s).
    silent_until: Option<Instant>,
    call_id: String,
    dest: SocketAddr,
    rest: Vec<CcRoute>,
    offer: DeviceOffer,
    ring_timeout: Duration,
}

/// What an INVITE is, trunk-wise.
pub(super) enum TrunkInvite {
    /// Nothing to do with trunks: route it as before.
    No,
    /// A number a trunk delivers, from an address no trunk allows: no answer at all.
    Drop,
    /// From a carrier, to a DID no scenario owns.
    NotFound(String),
    /// From a carrier to a published scenario.
    Scenario(Arc<LoadedScenario>, String),
}

/// What a user's call to a number outside is.
pub(super) enum OutboundCall {
    No,
    Refuse(u16, String),
    /// Ring these; the call is `"outbound"` (a trunk) or `"onnet"`.
    Targets(Vec<Target>, &'static str),
}

impl Engine {
    /// Gives the core its trunks (`serve` does, when the configuration has any).
    pub fn with_trunks(mut self, handle: TrunkHandle) -> Engine {
        self.trunks = Some(Trunks {
            handle,
            by_tx: HashMap::new(),
            cc: HashMap::new(),
            outbound: HashMap::new(),
        });
        self
    }

    pub(super) fn trunk_timeout(&self) -> Option<Instant> {
        self.trunks.as_ref()?.handle.lock().poll_timeout()
    }

    /// Sends what the trunk machines want sent now.
    pub(super) fn poll_trunks(&mut self, now: Instant) {
        let Some(t) = self.trunks.as_ref() else {
            return;
        };
        let sends = t.handle.lock().poll_requests(now);
        for s in sends {
            self.send_trunk_request(s, now);
        }
    }

    fn send_trunk_request(&mut self, s: TrunkSend, now: Instant) {
        let Some(t) = self.trunks.as_mut() else {
            return;
        };
        match self
            .tx
            .send_request(s.request, Peer::new(Transport::Udp, s.dest), now)
        {
            Ok(ctx) => {
                t.by_tx.insert(ctx, s.token);
            }
            Err(e) => {
                warn!(error = %e, token = ?s.token, "trunk request not sent");
                t.handle.lock().on_failure(&s.token, &e.to_string(), now);
            }
        }
    }

    /// A response on one of our trunk transactions (true: it was one).
    pub(super) fn on_trunk_response(
        &mut self,
        tx: ClientTxId,
        resp: &Response,
        now: Instant,
    ) -> bool {
        let Some(t) = self.trunks.as_mut() else {
            return false;
        };
        if resp.status < 200 {
            return t.by_tx.contains_key(&tx);
        }
        let Some(token) = t.by_tx.remove(&tx) else {
            return false;
        };
        let next = {
            let mut set = t.handle.lock();
            let next = set.on_response(&token, resp, now);
            if let (Token::Register(name), None) = (&token, &next) {
                log_registration(&set, name, now);
            }
            next
        };
        if let Some(s) = next {
            self.send_trunk_request(s, now);
        }
        true
    }

    /// A trunk transaction timed out or could not be sent (true: it was one).
    pub(super) fn on_trunk_failure(&mut self, tx: ClientTxId, why: &str, now: Instant) -> bool {
        let Some(t) = self.trunks.as_mut() else {
            return false;
        };
        let Some(token) = t.by_tx.remove(&tx) else {
            return false;
        };
        let mut set = t.handle.lock();
        set.on_failure(&token, why, now);
        if let Token::Register(name) = &token {
            log_registration(&set, name, now);
        }
        true
    }

    /// Whether an INVITE comes from a carrier, and where it goes. Requests from local users
    /// (already authenticated) are never trunk calls.
    pub(super) fn trunk_invite(&self, req: &Request, source: &Peer) -> TrunkInvite {
        let Some(t) = self.trunks.as_ref() else {
            return TrunkInvite::No;
        };
        let from_local = req
            .from_hdr()
            .ok()
            .and_then(|f| f.uri.user_unescaped())
            .is_some_and(|u| self.registry.user_exists(&u));
        if from_local {
            return TrunkInvite::No;
        }
        let set = t.handle.lock();
        let Some(trunk) = set.trunk_for_source(source.addr.ip()) else {
            // Not from a carrier: the numbers a trunk delivers are not answered at all.
            let owned = req
                .uri
                .user_unescaped()
                .and_then(|u| PhoneNumber::parse(&u).ok())
                .and_then(|n| set.trunk_owning_did(&n.national()).map(|t| t.name.clone()));
            return match owned {
                Some(trunk) => {
                    info!(peer = %source.addr, trunk, "INVITE for a trunk's DID from an address the trunk does not allow: no answer");
                    TrunkInvite::Drop
                }
                None => TrunkInvite::No,
            };
        };
        let raw = match trunk.did_from {
            DidSource::RequestUri => req.uri.user_unescaped(),
            DidSource::To => req.to_hdr().ok().and_then(|t| t.uri.user_unescaped()),
        }
        .unwrap_or_default();
        let did = PhoneNumber::parse(&raw)
            .map(|n| n.national())
            .unwrap_or_else(|_| raw.clone());
        match self.ivr.as_ref().and_then(|i| i.for_did(&did)) {
            Some(s) => TrunkInvite::Scenario(s, trunk.name.clone()),
            None => TrunkInvite::NotFound(format!(
                "no scenario owns DID {did:?} (trunk {}, dialled {raw:?})",
                trunk.name
            )),
        }
    }

    /// A local user's call to `dialled` when it is no user: on-net, a trunk, or refused.
    pub(super) fn outbound_call(&self, req: &Request, dialled: &str) -> OutboundCall {
        let Some(t) = self.trunks.as_ref() else {
            return OutboundCall::No;
        };
        let Some(user) = req
            .from_hdr()
            .ok()
            .and_then(|f| f.uri.user_unescaped())
            .filter(|u| self.registry.user_exists(u))
        else {
            // Only authenticated staff dial out (toll fraud).
            return OutboundCall::No;
        };
        let set = t.handle.lock();
        if !set.plan().is_active() {
            return OutboundCall::No;
        }
        let minute = japan_minute(super::super::unix_now());
        let route = match set.plan().route(dialled, &user, minute) {
            Ok(r) => r,
            Err(e) => {
                let looks_dialled = dialled.starts_with(['0', '+', '#']) || dialled.len() > 4;
                if !looks_dialled {
                    return OutboundCall::No;
                }
                info!(user, dialled, error = %e, "outbound call refused: malformed number");
                return OutboundCall::Refuse(484, format!("Address Incomplete ({e})"));
            }
        };
        match route {
            Outbound::Refused { status, reason } => {
                warn!(user, dialled, status, reason, "outbound call refused");
                OutboundCall::Refuse(status, reason)
            }
            Outbound::OnNet { uri, number } => {
                let Some(target) = madoguchi_sip::parse::parse_uri(&uri)
                    .ok()
                    .and_then(|u| self.target_for_uri(&u))
                else {
                    warn!(user, uri, "on-net destination not reachable");
                    return OutboundCall::Refuse(503, "Service Unavailable (on-net route)".into());
                };
                info!(user, number = %number.national(), %uri, "on-net call");
                OutboundCall::Targets(vec![target], "onnet")
            }
            Outbound::Trunk {
                trunk,
                number,
                caller_id,
                presentation,
            } => {
                let (Some(cfg), Some(proxy)) = (set.get(&trunk), set.proxy_of(&trunk)) else {
                    return OutboundCall::Refuse(503, "Service Unavailable (no trunk)".into());
                };
                let peer = Peer::new(Transport::Udp, proxy);
                let Some(local_addr) = self.local_addr_for(&peer) else {
                    return OutboundCall::Refuse(503, "Service Unavailable (no listener)".into());
                };
                let domain = cfg.domain();
                let called = cfg.format(&number);
                let Ok(uri) = madoguchi_sip::parse::parse_uri(&format!("sip:{called}@{domain}"))
                else {
                    return OutboundCall::Refuse(500, "Server Internal Error (trunk URI)".into());
                };
                let presented = present(cfg, &domain, &uri, caller_id.as_ref(), presentation);
                info!(
                    user,
                    trunk,
                    number = %number.e164(),
                    kind = number.kind().as_str(),
                    withheld = presentation == Presentation::Withhold,
                    "outbound call through a trunk"
                );
                OutboundCall::Targets(
                    vec![Target {
                        uri,
                        peer,
                        local_addr,
                        presented: Some(Box::new(presented)),
                    }],
                    "outbound",
                )
            }
        }
    }

    /// `external: callcenter` through the configured routes (None: not configured that
    /// way, use `--callcenter-uri`). Down routes are skipped while another is not.
    pub(super) fn callcenter_routes(&self) -> Option<Vec<CcRoute>> {
        let set = self.trunks.as_ref()?.handle.lock();
        if !set.has_callcenter() {
            return None;
        }
        let all = set.callcenter_routes(Instant::now());
        let (mut up, down): (Vec<_>, Vec<_>) =
            all.into_iter().partition(|r| r.health != Health::Down);
        up.extend(down);
        Some(up)
    }

    /// Rings the first of `routes` for host call `call_id`; the rest wait for its failure.
    pub(super) fn ring_callcenter(
        &mut self,
        call_id: &str,
        mut routes: Vec<CcRoute>,
        offer: DeviceOffer,
        ring_timeout: Duration,
        now: Instant,
    ) -> Result<(), u16> {
        let Some(a) = self.host_calls.get(call_id).map(|hc| hc.dialog.clone()) else {
            return Err(481);
        };
        while !routes.is_empty() {
            let route = routes.remove(0);
            let Some(target) = madoguchi_sip::parse::parse_uri(&route.uri)
                .ok()
                .and_then(|u| self.target_for_uri(&u))
            else {
                warn!(call_id, uri = route.uri, "call-center route not reachable");
                continue;
            };
            info!(call_id, uri = route.uri, health = ?route.health, "call center: trying route");
            let from = a.remote.clone();
            let to = NameAddr::new(target.uri.clone());
            let parties = crate::core::call_log::Parties {
                caller: from.uri.user_unescaped().unwrap_or_default(),
                callee: target.uri.user_unescaped().unwrap_or_default(),
                did: a.local.uri.user_unescaped().unwrap_or_default(),
                user: String::new(),
            };
            let id = self.b2bua.on_transfer(
                a.clone(),
                &from,
                &to,
                vec![target],
                offer.clone(),
                ring_timeout,
                now,
            );
            self.call_log
                .b2bua_started(id, call_id, "transfer", parties);
            self.transfers.insert(id, call_id.to_string());
            self.transfer_of.insert(call_id.to_string(), id);
            if let Some(t) = self.trunks.as_mut() {
                t.cc.insert(
                    id,
                    CcAttempt {
                        silent_until: Some(now + CC_SILENCE),
                        call_id: call_id.to_string(),
                        dest: route.dest,
                        rest: routes,
                        offer,
                        ring_timeout,
                    },
                );
            }
            return Ok(());
        }
        Err(503)
    }

    /// A transfer failed: if it was a call-center route that is down (5xx, 408), the next
    /// route rings and the caller's task hears nothing of it. True when handled here.
    pub(super) fn callcenter_failed(&mut self, call: u64, status: u16, now: Instant) -> bool {
        let Some(t) = self.trunks.as_mut() else {
            return false;
        };
        let Some(attempt) = t.cc.remove(&call) else {
            return false;
        };
        let down = status >= 500 || status == 408;
        if !down || attempt.rest.is_empty() {
            return false;
        }
        t.handle.lock().route_failed(attempt.dest, status);
        warn!(call_id = attempt.call_id, status, dest = %attempt.dest, "call-center route failed: failing over");
        self.transfers.remove(&call);
        self.transfer_of.remove(&attempt.call_id);
        match self.ring_callcenter(
            &attempt.call_id,
            attempt.rest,
            attempt.offer,
            attempt.ring_timeout,
            now,
        ) {
            Ok(()) => true,
            Err(_) => false,
        }
    }

    /// Remembers that call `call_id` goes out (for its recording's direction).
    pub(super) fn note_outbound(&mut self, call_id: &str, kind: &'static str) {
        if let Some(t) = self.trunks.as_mut() {
            if t.outbound.len() > 10_000 {
                // Calls that never reached media set-up (late offer): forget them.
                t.outbound.clear();
            }
            t.outbound.insert(call_id.to_string(), kind);
        }
    }

    /// Whether call `call_id` goes out, and how (once: the entry is taken).
    pub(super) fn take_outbound(&mut self, call_id: &str) -> Option<&'static str> {
        self.trunks.as_mut()?.outbound.remove(call_id)
    }

    /// When a call-center route must have answered something.
    pub(super) fn callcenter_timeout(&self) -> Option<Instant> {
        self.trunks
            .as_ref()?
            .cc
            .values()
            .filter_map(|a| a.silent_until)
            .min()
    }

    /// Call-center routes that answered nothing in time are taken as down: the attempt is
    /// abandoned (CANCEL) and the next route rings; the caller's task hears nothing of it.
    pub(super) fn callcenter_silence(&mut self, now: Instant) {
        let Some(t) = self.trunks.as_mut() else {
            return;
        };
        let due: Vec<u64> =
            t.cc.iter()
                .filter(|(_, a)| a.silent_until.is_some_and(|at| at <= now))
                .map(|(id, _)| *id)
                .collect();
        for id in due {
            if self.b2bua.heard_from(id) {
                if let Some(a) = self.trunks.as_mut().and_then(|t| t.cc.get_mut(&id)) {
                    a.silent_until = None;
                }
                continue;
            }
            let Some(attempt) = self.trunks.as_mut().and_then(|t| t.cc.remove(&id)) else {
                continue;
            };
            if attempt.rest.is_empty() {
                // The last route: let it ring out as it will.
                continue;
            }
            if let Some(t) = self.trunks.as_ref() {
                t.handle.lock().route_failed(attempt.dest, 408);
            }
            warn!(call_id = attempt.call_id, dest = %attempt.dest, "call-center route silent: failing over");
            self.transfers.remove(&id);
            self.transfer_of.remove(&attempt.call_id);
            self.b2bua.abandon(id);
            if self
                .ring_callcenter(
                    &attempt.call_id,
                    attempt.rest,
                    attempt.offer,
                    attempt.ring_timeout,
                    now,
                )
                .is_err()
            {
                if let Some(hc) = self.host_calls.get(&attempt.call_id) {
                    let _ = hc.control.try_send(HostMsg::TransferFailed { status: 503 });
                }
            }
        }
    }

    /// A transfer ended one way or another: forget its failover state.
    pub(super) fn callcenter_done(&mut self, call: u64) {
        if let Some(t) = self.trunks.as_mut() {
            t.cc.remove(&call);
        }
    }

    /// Whether `ip` is some trunk's carrier address.
    #[allow(dead_code)]
    pub(super) fn is_trunk_source(&self, ip: IpAddr) -> bool {
        self.trunks
            .as_ref()
            .is_some_and(|t| t.handle.lock().trunk_for_source(ip).is_some())
    }
}

/// From, To and identity headers of an outbound trunk call.
fn present(
    cfg: &madoguchi_trunk::TrunkConfig,
    domain: &str,
    to: &Uri,
    caller_id: Option<&PhoneNumber>,
    presentation: Presentation,
) -> Presented {
    let parse = |s: &str| madoguchi_sip::parse::parse_name_addr(s).ok();
    let identity = caller_id
        .map(|c| cfg.format(c))
        .unwrap_or_else(|| cfg.username.clone());
    let ours = format!("<sip:{identity}@{domain}>");
    let mut headers = Vec::new();
    let from = if presentation == Presentation::Withhold {
        headers.push(("Privacy".to_string(), "id".to_string()));
        parse("\"Anonymous\" <sip:anonymous@anonymous.invalid>")
    } else {
        parse(&ours)
    };
    match cfg.identity {
        IdentityHeader::Pai => headers.push(("P-Asserted-Identity".into(), ours.clone())),
        IdentityHeader::Ppi => headers.push(("P-Preferred-Identity".into(), ours.clone())),
        IdentityHeader::None => {}
    }
    let credentials = (!cfg.username.is_empty() && !cfg.password.is_empty())
        .then(|| (cfg.username.clone(), cfg.password.clone()));
    Presented {
        from: from.unwrap_or_else(|| NameAddr::new(to.clone())),
        to: NameAddr::new(to.clone()),
        headers,
        credentials,
    }
}

/// One log line per registration outcome (never the password).
fn log_registration(set: &madoguchi_trunk::TrunkSet, name: &str, now: Instant) {
    let Some(st) = set.status(now).into_iter().find(|s| s.name == name) else {
        return;
    };
    let Some(reg) = st.registration else { return };
    let next = reg
        .next_attempt
        .map(|t| t.saturating_duration_since(now).as_secs());
    if reg.registered && reg.last_error.is_none() {
        info!(trunk = name, refresh_in_s = next, "trunk registered");
    } else if let Some(e) = &reg.last_error {
        warn!(trunk = name, error = %e, retry_in_s = next, failures = reg.failures, "trunk registration failed");
    }
}
