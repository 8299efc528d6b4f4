//! The SIP core task: one loop that owns the transaction layer, the registrar state and the
//! B2BUA, fed by the transport tasks through a bounded channel. Everything it calls is
//! sans-IO; this is the only place where their inputs and outputs meet sockets and clocks.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use madoguchi_acd::Acd;
use std::time::{Duration, Instant};

use madoguchi_media::prompt::Prompt as Audio;
use madoguchi_plugin_host::bindings::types::TransferTarget;
use madoguchi_sip::message::{
    reason_phrase, HeaderAccess, HeaderName, Method, NameAddr, Request, Response, Uri,
};
use madoguchi_sip::parse::{parse_datagram, Limits};
use madoguchi_sip::transaction::{
    ClientTxId, Output, ServerTxId, TransactionLayer, TxConfig, TxEvent, TxRef,
};
use madoguchi_sip::validate::{check_request, Policy};
use tokio::sync::mpsc;
use tracing::{debug, info, info_span, warn};

use super::b2bua::{Action, AnchoredMedia, B2bua, ReqToken, Target, ALLOW};
use super::dialog::{contact_for, contact_uri, uas_route_set, LegDialog};
use super::host_call::{AdoptedMedia, HostMsg, HostReq};
use super::line_test;
use super::media::{
    begin_recording, finish_recording, leg_stats, CallFacts, CallMedia, MediaCalls,
};
use super::queue_history::QueueHistory;
use super::queues::{QueueAction, Queues};
use super::registry::{GuardedReply, Registry};
use crate::ivr::loaded::LoadedScenario;
use crate::ivr::{self, Ivr};
use crate::transport::{Inbound, Peer, Sender};

/// Listener facts the core needs: our own address on each.
#[derive(Debug, Clone)]
pub struct ListenerInfo {
    pub local: SocketAddr,
}

/// The core's state.
pub struct Engine {
    tx: TransactionLayer,
    b2bua: B2bua<ServerTxId>,
    registry: Registry,
    policy: Policy,
    limits: Limits,
    sender: Sender,
    listeners: Vec<ListenerInfo>,
    user_agent: String,
    by_client_tx: HashMap<ClientTxId, ReqToken>,
    by_token: HashMap<ReqToken, ClientTxId>,
    /// Responses held back on purpose (failed-auth slowing), earliest first.
    delayed: BinaryHeap<Reverse<(Instant, u64, ServerTxId)>>,
    delayed_bodies: HashMap<u64, Response>,
    next_delay_id: u64,
    /// Anchored media, when the host relays RTP (None: SDP passes end to end).
    media: Option<MediaCalls>,
    /// Work that must await (socket binds, file creation), run between message batches.
    jobs: VecDeque<Job>,
    /// The line-test number, when configured.
    line_test: Option<String>,
    /// Calls the host answered itself (IVR, line test), by Call-ID.
    host_calls: HashMap<String, HostCall>,
    /// Requests from the tasks of host-answered calls (hang up, transfer, hand over media).
    host_tx: mpsc::Sender<HostReq>,
    host_rx: Option<mpsc::Receiver<HostReq>>,
    /// Published scenarios by DID.
    ivr: Option<Arc<Ivr>>,
    /// Where `external: callcenter` transfers go.
    callcenter: Option<Uri>,
    /// Transfers out of host-answered calls, by B2BUA call id → the caller's Call-ID.
    transfers: HashMap<u64, String>,
    /// The pending transfer of a host-answered call, by its Call-ID.
    transfer_of: HashMap<String, u64>,
    /// Transfers answered whose media the task has not handed over yet: device SDP answer.
    answered_transfers: HashMap<u64, bytes::Bytes>,
    /// The host's apology, played when a scenario cannot go on.
    apology: Audio,
    /// Call queues (ACD) and their offers.
    queues: Queues,
    /// Woken by the admin API when it changed the queues (log-in, pause).
    queue_kick: Arc<tokio::sync::Notify>,
    /// Feature codes (`*45` log in/out, `*46` pause/resume).
    queue_login: Option<String>,
    queue_pause: Option<String>,
    /// The device-side SDP offer of each caller waiting in a queue.
    queue_sdp: HashMap<String, String>,
    /// Users a call makes busy once answered (queue members on direct calls), by B2BUA id.
    busy_on_answer: HashMap<u64, Vec<String>>,
    /// Users busy until the call ends.
    busy_until_end: HashMap<u64, Vec<String>>,
}

/// A call the host answered itself.
struct HostCall {
    dialog: LegDialog,
    control: mpsc::Sender<HostMsg>,
}

/// Which task a host-answered call runs.
enum HostService {
    LineTest,
    Ivr(Arc<LoadedScenario>),
    /// A feature code: play this confirmation, then hang up.
    Confirm(Vec<Audio>),
}

/// Awaited work queued by the synchronous handlers.
enum Job {
    NewCall {
        tx: ServerTxId,
        /// Boxed: a request is large next to the other jobs.
        req: Box<Request>,
        source: Peer,
        local_addr: SocketAddr,
        targets: Vec<Target>,
    },
    StartRecording {
        call: u64,
    },
    HostCall {
        tx: ServerTxId,
        req: Box<Request>,
        source: Peer,
        local_addr: SocketAddr,
        service: HostService,
    },
}

/// What the engine needs for the IVR.
pub struct IvrSetup {
    pub ivr: Arc<Ivr>,
    pub callcenter: Option<Uri>,
    pub acd: Arc<Mutex<Acd>>,
    pub queue_kick: Arc<tokio::sync::Notify>,
    /// Feature codes: log in/out of the queues, pause/resume (empty = off).
    pub queue_login: String,
    pub queue_pause: String,
    /// Stores each caller's passage through a queue, for reports.
    pub queue_history: Option<QueueHistory>,
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        registry: Registry,
        sender: Sender,
        listeners: Vec<ListenerInfo>,
        user_agent: String,
        max_transactions: usize,
        media: Option<MediaCalls>,
        line_test: Option<String>,
        mut ivr: Option<IvrSetup>,
    ) -> Engine {
        let (host_tx, host_rx) = mpsc::channel(1024);
        Engine {
            tx: TransactionLayer::new(TxConfig {
                max_transactions,
                ..TxConfig::default()
            }),
            b2bua: B2bua::new(&user_agent),
            registry,
            policy: Policy {
                // SDP for calls; DTMF relayed in SIP INFO between the legs.
                accepted_content_types: vec![
                    "application/sdp".into(),
                    "application/dtmf-relay".into(),
                    "application/dtmf".into(),
                ],
                ..Policy::default()
            },
            limits: Limits::default(),
            sender,
            listeners,
            user_agent,
            by_client_tx: HashMap::new(),
            by_token: HashMap::new(),
            delayed: BinaryHeap::new(),
            delayed_bodies: HashMap::new(),
            next_delay_id: 0,
            media,
            jobs: VecDeque::new(),
            line_test,
            host_calls: HashMap::new(),
            host_tx,
            host_rx: Some(host_rx),
            callcenter: ivr.as_ref().and_then(|i| i.callcenter.clone()),
            queues: Queues::new(
                ivr.as_ref().map(|i| i.acd.clone()).unwrap_or_default(),
                ivr.as_mut().and_then(|i| i.queue_history.take()),
            ),
            queue_kick: ivr
                .as_ref()
                .map(|i| i.queue_kick.clone())
                .unwrap_or_default(),
            queue_login: ivr
                .as_ref()
                .map(|i| i.queue_login.clone())
                .filter(|c| !c.is_empty()),
            queue_pause: ivr
                .as_ref()
                .map(|i| i.queue_pause.clone())
                .filter(|c| !c.is_empty()),
            queue_sdp: HashMap::new(),
            busy_on_answer: HashMap::new(),
            busy_until_end: HashMap::new(),
            ivr: ivr.map(|i| i.ivr),
            transfers: HashMap::new(),
            transfer_of: HashMap::new(),
            answered_transfers: HashMap::new(),
            apology: ivr::apology(),
        }
    }

    /// Runs until the transports go away.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Inbound>) {
        let mut housekeeping = tokio::time::interval(Duration::from_secs(5));
        let mut host_reqs = self.host_rx.take();
        let kick = self.queue_kick.clone();
        loop {
            let deadline = [
                self.tx.poll_timeout(),
                self.b2bua.poll_timeout(),
                self.delayed.peek().map(|Reverse((at, _, _))| *at),
                self.queues.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                msg = rx.recv() => {
                    let Some(inbound) = msg else { break };
                    self.on_inbound(inbound, Instant::now());
                    // Drain what is already queued before looking at timers: cheaper under load.
                    while let Ok(more) = rx.try_recv() {
                        self.on_inbound(more, Instant::now());
                    }
                }
                _ = sleep => {
                    let now = Instant::now();
                    self.tx.handle_timeout(now);
                    self.b2bua.handle_timeout(now);
                    self.release_delayed(now);
                    self.queues.handle_timeout(now);
                }
                _ = kick.notified() => {}
                _ = housekeeping.tick() => self.registry.housekeeping(),
                Some(req) = recv_opt(&mut host_reqs) => self.on_host_request(req, Instant::now()),
            }
            self.pump(Instant::now());
            while let Some(job) = self.jobs.pop_front() {
                self.run_job(job).await;
                self.pump(Instant::now());
            }
        }
    }

    async fn run_job(&mut self, job: Job) {
        match job {
            Job::NewCall {
                tx,
                req,
                source,
                local_addr,
                targets,
            } => {
                self.start_anchored_call(tx, *req, source, local_addr, targets)
                    .await
            }
            Job::StartRecording { call } => {
                if let Some(m) = self.media.as_mut() {
                    m.start_recording(call).await;
                }
            }
            Job::HostCall {
                tx,
                req,
                source,
                local_addr,
                service,
            } => {
                self.start_host_call(tx, *req, source, local_addr, service)
                    .await
            }
        }
    }

    /// Opens a host leg for the caller and answers its SDP offer. On failure the INVITE is
    /// answered here (503 no media port, 488 no common codec, 400 unusable SDP) and `None`
    /// returned.
    async fn answer_caller(
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
    async fn start_host_call(
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
        local.set_param("tag", Some(super::ids::tag()));
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
    fn on_host_request(&mut self, req: HostReq, now: Instant) {
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

    /// Rings a transfer target for a host-answered call (the IVR's `transfer` action).
    fn start_transfer(
        &mut self,
        call_id: &str,
        target: TransferTarget,
        offer: String,
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
        let id = self.b2bua.on_transfer(
            a,
            &from,
            &NameAddr::new(to),
            targets,
            offer.into(),
            ring_timeout,
            now,
        );
        self.transfers.insert(id, call_id.to_string());
        self.transfer_of.insert(call_id.to_string(), id);
        if let TransferTarget::User(user) = &target {
            self.busy_on_answer.insert(id, vec![user.clone()]);
        }
        self.pump(now);
    }

    /// The registered devices of a user, as B2BUA targets.
    fn targets_of(&self, user: &str) -> Vec<Target> {
        self.registry
            .contacts_of(user)
            .into_iter()
            .filter_map(|(uri, peer)| {
                let local = self.local_addr_for(&peer)?;
                Some(Target {
                    uri,
                    peer,
                    local_addr: local,
                })
            })
            .collect()
    }

    /// A target for a SIP URI with an IP address (an external destination such as the call
    /// center): UDP to its host and port.
    fn target_for_uri(&self, uri: &Uri) -> Option<Target> {
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
        })
    }

    /// A request inside a host-answered call.
    fn on_host_call_request(&mut self, tx: ServerTxId, req: Request, now: Instant) {
        let call_id = req.call_id().unwrap_or("").to_string();
        match req.method {
            Method::Bye => {
                self.respond(tx, Response::for_request(&req, 200, "OK"), now);
                if let Some(call) = self.host_calls.remove(&call_id) {
                    let _ = call.control.try_send(HostMsg::Stop);
                }
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
    fn hang_up_host_call(&mut self, call_id: &str, now: Instant) {
        self.abandon_transfer(call_id);
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

    /// Stops ringing the transfer of a host-answered call, if one is pending.
    fn abandon_transfer(&mut self, call_id: &str) {
        if let Some(id) = self.transfer_of.remove(call_id) {
            self.transfers.remove(&id);
            self.b2bua.abandon(id);
        }
        if self.queue_sdp.remove(call_id).is_some() {
            self.queues.caller_gone(call_id, Instant::now());
        }
    }

    /// Opens the host's two legs, answers the caller's offer with the caller leg and offers
    /// the device leg to every device.
    async fn start_anchored_call(
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
            offer_to_devices: device.offer().into(),
            answer_to_caller: answer.into(),
        };
        let caller_number = req
            .from_hdr()
            .ok()
            .and_then(|f| f.uri.user)
            .unwrap_or_default();
        let callee = req.uri.user_unescaped().unwrap_or_default();
        let users = self.call_users(&req);
        match self
            .b2bua
            .on_invite(tx, req, source, local_addr, targets, Some(media), now)
        {
            Some(id) => {
                self.busy_on_answer.insert(id, users);
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

    fn on_inbound(&mut self, inbound: Inbound, now: Instant) {
        match parse_datagram(&inbound.data, &self.limits) {
            Ok(msg) => {
                if let Err(e) = self.tx.handle_incoming(msg, inbound.peer, now) {
                    debug!(error = %e, "message not accepted by the transaction layer");
                }
            }
            Err(rejected) => {
                debug!(listener = inbound.listener, peer = %inbound.peer, error = %rejected.error, "rejected message");
                // Errors for unparsable requests go back where they came from, never to an
                // address named inside the garbage; an ACK is never answered (RFC 3261 §17).
                let is_ack = inbound.data.starts_with(b"ACK ");
                if let Some(reply) = rejected.reply.filter(|_| !is_ack) {
                    self.sender.send(&inbound.peer, reply.to_bytes().into());
                }
            }
        }
        self.pump(now);
    }

    /// Moves outputs between the layers until all are quiet.
    fn pump(&mut self, now: Instant) {
        loop {
            let mut progressed = false;
            while let Some(out) = self.tx.poll_output() {
                progressed = true;
                match out {
                    Output::Transmit(t) => {
                        tracing::trace!(peer = %t.peer, bytes = t.bytes.len(), "transmit");
                        self.sender.send(&t.peer, t.bytes)
                    }
                    Output::Event(ev) => self.on_tx_event(ev, now),
                }
            }
            while let Some(action) = self.b2bua.poll_action() {
                progressed = true;
                self.on_action(action, now);
            }
            for action in self.queues.drain() {
                progressed = true;
                self.on_queue_action(action, now);
            }
            if !progressed {
                break;
            }
        }
    }

    fn on_tx_event(&mut self, ev: TxEvent, now: Instant) {
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
                let Some(token) = self.by_client_tx.get(&tx).copied() else {
                    return;
                };
                if response.status >= 200 {
                    self.forget_client(tx);
                }
                self.b2bua.on_response(token, response);
            }
            TxEvent::Timeout { tx, .. } => {
                if let Some(token) = self.forget_client(tx) {
                    self.b2bua.on_request_failed(token);
                }
            }
            TxEvent::TransportError {
                tx: TxRef::Client(tx),
            } => {
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

    fn on_request(&mut self, tx: ServerTxId, req: Request, source: Peer, now: Instant) {
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

    fn on_new_invite(&mut self, tx: ServerTxId, req: Request, source: Peer, now: Instant) {
        if let Some(reply) = self.registry.check_local_caller(&req, &source, now) {
            self.send_guarded(tx, reply, &source, now);
            return;
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
        let user = req.uri.user_unescaped().unwrap_or_default();
        let Some(local_addr) = self.local_addr_for(&source) else {
            self.respond(
                tx,
                Response::for_request(&req, 500, reason_phrase(500)),
                now,
            );
            return;
        };
        if !self.registry.user_exists(&user) {
            info!(user, "call to unknown user");
            self.respond(
                tx,
                Response::for_request(&req, 404, reason_phrase(404)),
                now,
            );
            return;
        }
        let targets = self.targets_of(&user);
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
            let id = self
                .b2bua
                .on_invite(tx, req, source, local_addr, targets, None, now);
            if let Some(id) = id {
                self.busy_on_answer.insert(id, users);
            }
        }
    }

    /// A member's feature code: log in/out of every queue (`login`) or pause/resume. The
    /// caller is an authenticated local user (checked before). Returns the confirmation:
    /// rising beeps = now available, falling = logged out or paused, a low tone = refused.
    fn feature_code(&mut self, req: &Request, login: bool, now: Instant) -> Vec<Audio> {
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
    fn host_service(
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

    fn on_action(&mut self, action: Action<ServerTxId>, now: Instant) {
        match action {
            Action::Respond { stx, response } => self.respond(stx, response, now),
            Action::Request {
                token,
                request,
                peer,
            } => match self.tx.send_request(request, peer, now) {
                Ok(ctx) => {
                    self.by_client_tx.insert(ctx, token);
                    self.by_token.insert(token, ctx);
                }
                Err(e) => {
                    warn!(error = %e, "cannot send request");
                    self.b2bua.on_request_failed(token);
                }
            },
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
                    }
                    None => self.b2bua.drop_answered_transfer(call),
                }
            }
            Action::TransferFailed { call, status } if self.queues.is_offer(call) => {
                self.queues.failed(call, status, now);
            }
            Action::Answered { call, device_sdp } if self.transfers.contains_key(&call) => {
                self.mark_busy(call);
                // A transfer out of the IVR connected: the B2BUA owns the caller's dialog
                // from now on; the task hands its legs over (HostReq::Adopt).
                let call_id = self.transfers.remove(&call).unwrap_or_default();
                self.transfer_of.remove(&call_id);
                self.answered_transfers.insert(call, device_sdp);
                if let Some(hc) = self.host_calls.remove(&call_id) {
                    let _ = hc.control.try_send(HostMsg::TransferAnswered { call });
                }
            }
            Action::TransferFailed { call, status } => {
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

    /// The local users a call between users involves: the callee and a local caller.
    fn call_users(&self, req: &Request) -> Vec<String> {
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

    /// Users of an answered call are busy for the queues until it ends.
    fn mark_busy(&mut self, call: u64) {
        if let Some(users) = self.busy_on_answer.remove(&call) {
            let now = Instant::now();
            for u in &users {
                self.queues.acd().member_busy(u, now);
            }
            self.busy_until_end.insert(call, users);
        }
    }

    /// Carries out what the queues decided.
    fn on_queue_action(&mut self, action: QueueAction, now: Instant) {
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
                // The ACD times the ring (ring_timeout_ms) and cancels; this is a backstop.
                let id = self.b2bua.on_transfer(
                    a,
                    &from,
                    &NameAddr::new(to),
                    targets,
                    sdp.into(),
                    Duration::from_secs(600),
                    now,
                );
                // The queue counts its own calls: no busy/free report for this one.
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

    fn respond(&mut self, tx: ServerTxId, resp: Response, now: Instant) {
        if let Err(e) = self.tx.send_response(tx, resp, now) {
            debug!(error = %e, "response not sent");
        }
    }

    /// Sends (now or after the brute-force delay) or drops an authenticated request's answer.
    fn send_guarded(&mut self, tx: ServerTxId, reply: GuardedReply, source: &Peer, now: Instant) {
        match reply {
            GuardedReply::Now(resp) => self.respond(tx, resp, now),
            GuardedReply::After(wait, resp) => {
                let id = self.next_delay_id;
                self.next_delay_id += 1;
                self.delayed_bodies.insert(id, resp);
                self.delayed.push(Reverse((now + wait, id, tx)));
            }
            GuardedReply::Drop => debug!(peer = %source, "blocked source: request dropped"),
        }
    }

    fn release_delayed(&mut self, now: Instant) {
        while let Some(Reverse((at, id, tx))) = self.delayed.peek().copied() {
            if at > now {
                break;
            }
            self.delayed.pop();
            if let Some(resp) = self.delayed_bodies.remove(&id) {
                self.respond(tx, resp, now);
            }
        }
    }

    fn forget_client(&mut self, tx: ClientTxId) -> Option<ReqToken> {
        let token = self.by_client_tx.remove(&tx)?;
        self.by_token.remove(&token);
        Some(token)
    }

    /// Our address on a listener of the peer's transport and address family.
    fn local_addr_for(&self, peer: &Peer) -> Option<SocketAddr> {
        self.sender.local_addr_for(peer).or_else(|| {
            self.listeners
                .iter()
                .find(|l| l.local.is_ipv4() == peer.addr.is_ipv4())
                .map(|l| l.local)
        })
    }
}

/// Receives from an optional channel; pending forever when there is none.
async fn recv_opt<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// A feature code's confirmation: play it, then hang up.
async fn confirm(
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
