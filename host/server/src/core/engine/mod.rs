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

use super::b2bua::{Action, AnchoredMedia, B2bua, DeviceOffer, ReqToken, Target, ALLOW};
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

mod dispatch;
mod host_calls;
mod transfer;
mod trunks;

/// Listener facts the core needs: our own address on each.
#[derive(Debug, Clone)]
pub struct ListenerInfo {
    pub local: SocketAddr,
}

/// The core's state.
pub struct Engine {
    /// New calls: total, per source, per second per source (`[limits]`).
    admission: super::admission::Admission,
    /// Origin of the admission clock.
    started: Instant,
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
    queue_sdp: HashMap<String, DeviceOffer>,
    /// Users a call makes busy once answered (queue members on direct calls), by B2BUA id.
    busy_on_answer: HashMap<u64, Vec<String>>,
    /// Users busy until the call ends.
    busy_until_end: HashMap<u64, Vec<String>>,
    /// SIP trunks (registration, keepalive, call-center routes), when configured.
    trunks: Option<trunks::Trunks>,
    /// A record for every call, and the calls in progress.
    call_log: super::call_log::CallLog,
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
        call_log: super::call_log::CallLog,
    ) -> Engine {
        let (host_tx, host_rx) = mpsc::channel(1024);
        Engine {
            admission: super::admission::Admission::new(Default::default()),
            started: Instant::now(),
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
            trunks: None,
            call_log,
        }
    }

    /// Runs until the transports go away.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Inbound>) {
        let mut housekeeping = tokio::time::interval(Duration::from_secs(5));
        let mut host_reqs = self.host_rx.take();
        let kick = self.queue_kick.clone();
        let trunk_kick = self
            .trunks
            .as_ref()
            .map(|t| t.handle.kick.clone())
            .unwrap_or_default();
        loop {
            let deadline = [
                self.tx.poll_timeout(),
                self.b2bua.poll_timeout(),
                self.delayed.peek().map(|Reverse((at, _, _))| *at),
                self.queues.poll_timeout(),
                self.trunk_timeout(),
                self.callcenter_timeout(),
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
                    self.callcenter_silence(now);
                }
                _ = kick.notified() => {}
                _ = trunk_kick.notified() => {}
                _ = housekeeping.tick() => {
                    self.registry.housekeeping();
                    self.end_calls_of_vanished_browsers();
                    let now_ms = self.started.elapsed().as_millis() as u64;
                    let (host_calls, b2bua) = (&self.host_calls, &self.b2bua);
                    self.admission.sweep(now_ms, &|c: &str| {
                        host_calls.contains_key(c) || b2bua.has_call_id(c)
                    });
                    if let Some(tap) = self.sender.tap() {
                        tap.trace.sweep(crate::core::unix_now_ms());
                        metrics::gauge!("madoguchi_sip_trace_bytes").set(tap.trace.bytes() as f64);
                    }
                    metrics::gauge!("madoguchi_sip_transactions").set(self.tx.len() as f64);
                }
                Some(req) = recv_opt(&mut host_reqs) => self.on_host_request(req, Instant::now()),
            }
            self.poll_trunks(Instant::now());
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

    /// The limits on new calls (`[limits]`).
    pub fn set_call_limits(&mut self, limits: super::admission::CallLimits) {
        self.admission = super::admission::Admission::new(limits);
    }

    fn on_inbound(&mut self, inbound: Inbound, now: Instant) {
        // A source the guard blocked gets no answer at all, to any method (nor is it parsed).
        if !self.registry.admits(inbound.peer.addr.ip(), now) {
            return;
        }
        if let Some(tap) = self.sender.tap() {
            tap.seen(
                crate::observe::trace::Direction::In,
                inbound.peer.transport.as_str(),
                inbound.peer.addr,
                &inbound.data,
            );
        }
        match parse_datagram(&inbound.data, &self.limits) {
            Ok(msg) => {
                if let Err(e) = self.tx.handle_incoming(msg, inbound.peer, now) {
                    debug!(error = %e, "message not accepted by the transaction layer");
                }
            }
            Err(rejected) => {
                metrics::counter!("madoguchi_sip_rejected_total").increment(1);
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

    fn respond(&mut self, tx: ServerTxId, resp: Response, now: Instant) {
        if resp.status >= 300
            && resp
                .headers
                .get(HeaderName::CSEQ)
                .is_some_and(|c| c.trim_end().ends_with("INVITE"))
        {
            if let Some(call_id) = resp.headers.get(HeaderName::CALL_ID) {
                let call_id = call_id.trim().to_string();
                self.call_log
                    .final_status(&call_id, resp.status, || super::call_log::Parties {
                        caller: resp
                            .from_hdr()
                            .ok()
                            .and_then(|f| f.uri.user_unescaped())
                            .unwrap_or_default(),
                        callee: resp
                            .to_hdr()
                            .ok()
                            .and_then(|t| t.uri.user_unescaped())
                            .unwrap_or_default(),
                        ..Default::default()
                    });
            }
        }
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

    /// Calls whose browser leg stopped sending for the RTP timeout (30 s, checked every 5 s)
    /// are hung up on both sides; their recording is finished as for any other end.
    fn end_calls_of_vanished_browsers(&mut self) {
        let Some(m) = self.media.as_mut() else {
            return;
        };
        let gone: Vec<u64> = m
            .calls
            .iter_mut()
            .filter_map(|(id, cm)| cm.browser_gone().then_some(*id))
            .collect();
        for id in gone {
            warn!(
                call = id,
                "browser media gone (no RTP for the timeout): hanging up"
            );
            self.b2bua.hang_up(id, "browser media gone");
        }
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
