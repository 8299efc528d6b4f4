//! The task that drives one leg: one tokio task owns the leg's two sockets
//! and all its sans-IO state, and sleeps until the earliest of: a datagram,
//! a command, a packet from a bridged leg, or the next deadline (pacer,
//! jitter buffer, RFC 4733 end timeout, recording flush, RTCP, RTP timeout).

mod inbound;
mod outbound;
pub(crate) mod rec;
mod wire;

use crate::config::LegConfig;
use crate::events::{LegEvent, LegStats, PlayId};
use crate::latch::SourceFilter;
use madoguchi_media::bridge::{LegFormat, Relay, RelayStats};
use madoguchi_media::dtmf::stream::CROSS_SOURCE_WINDOW;
use madoguchi_media::dtmf::{DigitSource, DigitStream, EventReceiver, InbandDetector, InbandEvent};
use madoguchi_media::jitter::JitterBuffer;
use madoguchi_media::pacing::{LatenessStats, Pacer};
use madoguchi_media::prompt::{PlayRequest, Prompt, PromptPlayer};
use madoguchi_media::rtp::{ReceiverConfig, RtpReceiver, RtpSender};
use madoguchi_media::sdp::Negotiated;
use rec::{RecStart, RecState};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

/// Accepted digits remembered for cross-source de-duplication.
const RECENT_DIGITS: usize = 4;

/// Datagrams read per wake-up before the timers get their turn (bounds a flood's grip).
const MAX_DRAIN: usize = 64;

/// Control messages from the handles ([`crate::Leg`], [`crate::Bridge`], [`crate::Recording`]).
#[derive(Debug)]
pub(crate) enum Cmd {
    /// New or changed negotiation; `moved` = the peer's address changed (reset the latch).
    Media {
        neg: Negotiated,
        moved: bool,
    },
    Play {
        id: PlayId,
        prompts: Vec<Prompt>,
        barge_in: bool,
        looped: bool,
        replace: bool,
    },
    StopPlayback,
    InfoDigit {
        digit: char,
        at: Instant,
    },
    BridgeStart {
        id: u64,
        peer: mpsc::Sender<Forward>,
    },
    BridgeStop {
        id: u64,
    },
    /// The leg talks to a browser: its port carries ICE, DTLS and SRTP through this session.
    WebRtc(std::sync::Arc<std::sync::Mutex<crate::webrtc::WebRtc>>),
    RecordStart(Box<RecStart>),
    RecordStop {
        id: u64,
    },
    Stats(oneshot::Sender<LegStats>),
    Close,
}

/// A packet received on one bridged leg, on its way out of the other.
#[derive(Debug)]
pub(crate) struct Forward {
    pub bridge: u64,
    pub format: LegFormat,
    pub at: Instant,
    pub data: Vec<u8>,
}

/// Everything a leg task is given at start.
pub(crate) struct Spawn {
    pub call_id: Arc<str>,
    pub cfg: Arc<LegConfig>,
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
    /// Non-blocking clones of the two sockets, for sending.
    pub rtp_tx: std::net::UdpSocket,
    pub rtcp_tx: std::net::UdpSocket,
    pub lease: crate::ports::PortLease,
    pub cmds: mpsc::UnboundedReceiver<Cmd>,
    pub fwd: mpsc::Receiver<Forward>,
    pub events: mpsc::Sender<LegEvent>,
}

struct Media {
    neg: Negotiated,
    /// Where our RTP goes: the SDP address until a packet latches another.
    dest: SocketAddr,
}

struct BridgeState {
    id: u64,
    peer: mpsc::Sender<Forward>,
    relay: Option<(LegFormat, LegFormat, Relay)>,
    /// Sequence and timestamp the next relayed packet would carry (stream continuity after un-bridging).
    next_out: Option<(u16, u32)>,
}

enum Wake {
    Cmd(Option<Cmd>),
    Rtp(std::io::Result<(usize, SocketAddr)>),
    Rtcp(std::io::Result<(usize, SocketAddr)>),
    Fwd(Option<Forward>),
    Timer,
}

pub(crate) struct LegTask {
    call_id: Arc<str>,
    cfg: Arc<LegConfig>,
    // Sockets before the lease: fields drop in order, so the port is free when it is re-queued.
    rtp: UdpSocket,
    rtcp: UdpSocket,
    rtp_tx: std::net::UdpSocket,
    rtcp_tx: std::net::UdpSocket,
    _lease: crate::ports::PortLease,
    cmds: mpsc::UnboundedReceiver<Cmd>,
    fwd: mpsc::Receiver<Forward>,
    events: mpsc::Sender<LegEvent>,

    media: Option<Media>,
    start: Option<Instant>,
    filter: SourceFilter,
    receiver: Option<RtpReceiver>,
    jitter: JitterBuffer<Vec<u8>>,
    dtmf_rx: EventReceiver,
    inband: InbandDetector,
    inband_events: Vec<InbandEvent>,
    digits: Option<DigitStream>,
    rfc4733_seen: bool,
    recent_digits: VecDeque<(char, Instant, DigitSource)>,

    sender: Option<(RtpSender, u8)>,
    player: PromptPlayer,
    plays: HashMap<u64, PlayId>,
    play_left: HashMap<PlayId, usize>,
    next_req: u64,
    pacer: Option<Pacer>,
    pacing: bool,
    last_sent_at: Option<Instant>,
    lateness: LatenessStats,

    bridge: Option<BridgeState>,
    relay_total: RelayStats,
    /// Set for a WebRTC leg (see `wire.rs`).
    webrtc: Option<std::sync::Arc<std::sync::Mutex<crate::webrtc::WebRtc>>>,
    webrtc_due: Option<Instant>,
    webrtc_out: Vec<crate::webrtc::WebRtcOut>,
    rec: Option<RecState>,
    /// SDES-SRTP contexts when the SDP negotiated keys.
    srtp: Option<crate::srtp::SrtpSession>,

    last_rx: Instant,
    timed_out: bool,
    next_rtcp: Instant,
    rtcp_dest: Option<SocketAddr>,
    stats: LegStats,

    rbuf: Vec<u8>,
    cbuf: Vec<u8>,
    pcm: Vec<i16>,
    frame: Vec<i16>,
    payload: Vec<u8>,
    packet: Vec<u8>,
    /// The encrypted copy of `packet` on SRTP legs.
    sbuf: Vec<u8>,
}

impl LegTask {
    pub(crate) fn new(s: Spawn) -> Self {
        let now = Instant::now();
        LegTask {
            player: PromptPlayer::new(s.cfg.idle_fill),
            filter: SourceFilter::new(s.cfg.source_filter),
            jitter: JitterBuffer::new(s.cfg.jitter),
            call_id: s.call_id,
            cfg: s.cfg,
            rtp: s.rtp,
            rtcp: s.rtcp,
            rtp_tx: s.rtp_tx,
            rtcp_tx: s.rtcp_tx,
            _lease: s.lease,
            cmds: s.cmds,
            fwd: s.fwd,
            events: s.events,
            media: None,
            start: None,
            receiver: None,
            dtmf_rx: EventReceiver::new(),
            inband: InbandDetector::new(),
            inband_events: Vec::new(),
            digits: None,
            rfc4733_seen: false,
            recent_digits: VecDeque::with_capacity(RECENT_DIGITS),
            sender: None,
            plays: HashMap::new(),
            play_left: HashMap::new(),
            next_req: 1,
            pacer: None,
            pacing: false,
            last_sent_at: None,
            lateness: LatenessStats::default(),
            bridge: None,
            relay_total: RelayStats::default(),
            webrtc: None,
            webrtc_due: None,
            webrtc_out: Vec::new(),
            rec: None,
            srtp: None,
            last_rx: now,
            timed_out: false,
            next_rtcp: now,
            rtcp_dest: None,
            stats: LegStats::default(),
            rbuf: vec![0; 2048],
            cbuf: vec![0; 1500],
            pcm: Vec::with_capacity(480),
            frame: vec![0; 480],
            payload: Vec::with_capacity(480),
            packet: Vec::with_capacity(512),
            sbuf: Vec::with_capacity(512),
        }
    }

    /// The leg's life. Returns its final statistics.
    pub(crate) async fn run(self) -> LegStats {
        // Counted in the server's /metrics (a no-op without a recorder).
        metrics::gauge!("madoguchi_rtp_legs").increment(1.0);
        let stats = self.run_loop().await;
        metrics::gauge!("madoguchi_rtp_legs").decrement(1.0);
        metrics::counter!("madoguchi_rtp_packets_received_total").increment(stats.rtp.packets);
        metrics::counter!("madoguchi_rtp_packets_lost_total").increment(stats.rtp.lost);
        if stats.rtp.packets > 0 {
            metrics::histogram!("madoguchi_rtp_jitter_seconds")
                .record(stats.rtp.jitter_ms / 1000.0);
        }
        stats
    }

    async fn run_loop(mut self) -> LegStats {
        let sleep = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(sleep);
        let mut armed: Option<Instant> = None;
        loop {
            let deadline = self.next_deadline();
            if armed != Some(deadline) {
                sleep
                    .as_mut()
                    .reset(tokio::time::Instant::from_std(deadline));
                armed = Some(deadline);
            }
            let bridged = self.bridge.is_some();
            let wake = tokio::select! {
                biased;
                c = self.cmds.recv() => Wake::Cmd(c),
                r = self.rtp.recv_from(&mut self.rbuf) => Wake::Rtp(r),
                // Only while bridged (a stale packet left in the queue is dropped by its bridge id).
                f = self.fwd.recv(), if bridged => Wake::Fwd(f),
                r = self.rtcp.recv_from(&mut self.cbuf) => Wake::Rtcp(r),
                // The bridged leg's task ended: wake to fall back to our own stream.
                _ = async {
                    match &self.bridge {
                        Some(b) => b.peer.closed().await,
                        None => std::future::pending().await,
                    }
                } => Wake::Timer,
                _ = &mut sleep => Wake::Timer,
            };
            let now = Instant::now();
            match wake {
                Wake::Cmd(None) | Wake::Cmd(Some(Cmd::Close)) => break,
                Wake::Cmd(Some(c)) => self.on_cmd(c, now),
                Wake::Rtp(r) => {
                    if let Ok((n, from)) = r {
                        self.on_datagram(n, from, now);
                    }
                    // Drain what else is queued, bounded, then let the timers run.
                    for _ in 1..MAX_DRAIN {
                        match self.rtp.try_recv_from(&mut self.rbuf) {
                            Ok((n, from)) => self.on_datagram(n, from, now),
                            Err(_) => break,
                        }
                    }
                }
                Wake::Rtcp(r) => {
                    if let Ok((n, from)) = r {
                        self.on_rtcp_datagram(n, from, now);
                    }
                }
                Wake::Fwd(Some(f)) => {
                    self.on_forward(f, now);
                    for _ in 1..MAX_DRAIN {
                        match self.fwd.try_recv() {
                            Ok(f) => self.on_forward(f, now),
                            Err(_) => break,
                        }
                    }
                }
                Wake::Fwd(None) | Wake::Timer => {}
            }
            self.on_timers(now);
        }
        self.shutdown()
    }

    fn shutdown(mut self) -> LegStats {
        if let Some(rec) = self.rec.take() {
            rec.finish(&self.call_id);
        }
        self.snapshot()
    }

    fn next_deadline(&self) -> Instant {
        let now = Instant::now();
        let mut d = now + Duration::from_secs(3600);
        let mut at = |t: Option<Instant>| {
            if let Some(t) = t {
                d = d.min(t);
            }
        };
        if self.should_pace() {
            at(Some(match (&self.pacer, self.pacing) {
                (Some(p), true) => p.next_due().checked_sub(outbound::EARLY).unwrap_or(now),
                _ => now,
            }));
        }
        at(self.jitter.next_deadline());
        at(self.dtmf_rx.next_deadline());
        at(self.rec.as_ref().map(RecState::next_flush));
        at(self.webrtc_due);
        if let Some(m) = &self.media {
            at(Some(self.next_rtcp));
            if m.neg.direction.receives() && !self.timed_out {
                at(Some(self.last_rx + self.cfg.rtp_timeout));
            }
        }
        d
    }

    fn on_timers(&mut self, now: Instant) {
        for _ in 0..4 {
            match self.dtmf_rx.poll(now) {
                Some(e) => self.offer_digit(e.digit, DigitSource::Rfc4733, e.started),
                None => break,
            }
        }
        self.webrtc_timers(now);
        self.poll_jitter(now);
        self.pace(now);
        self.player_events();
        self.check_bridge_peer(now);
        if let Some(rec) = self.rec.as_mut() {
            rec.flush(now);
        }
        self.rtcp_tick(now);
        if let Some(m) = &self.media {
            if m.neg.direction.receives()
                && !self.timed_out
                && now.saturating_duration_since(self.last_rx) >= self.cfg.rtp_timeout
            {
                self.timed_out = true;
                tracing::info!(call_id = %self.call_id, "RTP timeout");
                self.emit(LegEvent::RtpTimeout);
            }
        }
    }

    fn emit(&mut self, e: LegEvent) {
        if let Err(mpsc::error::TrySendError::Full(e)) = self.events.try_send(e) {
            self.stats.events_dropped += 1;
            tracing::warn!(call_id = %self.call_id, event = ?e, "leg event queue full, event dropped");
        }
    }

    fn on_cmd(&mut self, c: Cmd, now: Instant) {
        match c {
            Cmd::Media { neg, moved } => self.on_media(neg, moved, now),
            Cmd::Play {
                id,
                prompts,
                barge_in,
                looped,
                replace,
            } => {
                if replace {
                    self.player.stop();
                }
                if prompts.is_empty() {
                    self.emit(LegEvent::PlayFinished(id));
                    return;
                }
                self.play_left.insert(id, prompts.len());
                for prompt in prompts {
                    let req = self.next_req;
                    self.next_req += 1;
                    self.plays.insert(req, id);
                    self.player.enqueue(PlayRequest {
                        id: req,
                        prompt,
                        stop_on_digit: barge_in,
                        looped,
                    });
                }
            }
            Cmd::StopPlayback => self.player.stop(),
            Cmd::InfoDigit { digit, at } => self.offer_digit(digit, DigitSource::SipInfo, at),
            Cmd::BridgeStart { id, peer } => {
                self.end_bridge(now);
                self.player.stop();
                self.bridge = Some(BridgeState {
                    id,
                    peer,
                    relay: None,
                    next_out: None,
                });
            }
            Cmd::BridgeStop { id } => {
                if self.bridge.as_ref().is_some_and(|b| b.id == id) {
                    self.end_bridge(now);
                }
            }
            Cmd::WebRtc(session) => {
                self.webrtc = Some(session);
                self.webrtc_timers(now);
            }
            Cmd::RecordStart(s) => {
                if let Some(old) = self.rec.take() {
                    old.finish(&self.call_id);
                }
                self.rec = Some(RecState::new(*s, self.cfg.recording_latency));
            }
            Cmd::RecordStop { id } => {
                if self.rec.as_ref().is_some_and(|r| r.id == id) {
                    if let Some(rec) = self.rec.take() {
                        rec.finish(&self.call_id);
                    }
                }
            }
            Cmd::Stats(reply) => {
                let _ = reply.send(self.snapshot());
            }
            Cmd::Close => {}
        }
    }

    fn on_media(&mut self, neg: Negotiated, moved: bool, now: Instant) {
        if neg.srtp != self.srtp.as_ref().map(|s| s.params()) {
            self.srtp = neg.srtp.and_then(crate::srtp::SrtpSession::new);
            if neg.srtp.is_some() && self.srtp.is_none() {
                tracing::warn!(call_id = %self.call_id, "SRTP keys unusable; the leg's media is dropped");
            }
        }
        self.stats.srtp = neg.srtp.is_some();
        let rcfg = ReceiverConfig {
            audio_pt: neg.pt,
            dtmf_pt: neg.dtmf_pt,
            clock_rate: 8000,
        };
        let first = self.media.is_none();
        if first {
            self.start = Some(now);
            self.digits = Some(DigitStream::new(now));
            self.next_rtcp = now + self.cfg.rtcp_interval;
            self.receiver = Some(RtpReceiver::new(rcfg));
            self.sender = Some((RtpSender::new(neg.pt), neg.pt));
        } else {
            if let Some(r) = self.receiver.as_mut() {
                r.set_config(rcfg);
            }
            if let Some((s, pt)) = self.sender.as_mut() {
                if *pt != neg.pt {
                    *s = RtpSender::with_initial(neg.pt, s.ssrc(), s.sequence(), s.timestamp());
                    *pt = neg.pt;
                }
            }
            if self.media.as_ref().map(|m| m.neg.ptime) != Some(neg.ptime) {
                self.pacing = false; // re-grid with the new period
            }
        }
        let dest = match (&self.media, moved || first) {
            (Some(m), false) => m.dest,
            _ => {
                self.filter.reset();
                self.rtcp_dest = None;
                neg.remote
            }
        };
        self.last_rx = now;
        self.timed_out = false;
        self.media = Some(Media { neg, dest });
    }

    /// One digit from any source into the de-duplicated stream. Besides
    /// [`DigitStream`]'s rules (it compares with the LAST accepted digit), a
    /// digit equal to any of the last few accepted ones from another source
    /// within the window is the same press: after a stall the sources'
    /// reports of two presses can interleave ("4" INFO, "3" 4733, "4" 4733).
    fn offer_digit(&mut self, digit: char, source: DigitSource, key_down: Instant) {
        if source == DigitSource::Rfc4733 {
            self.rfc4733_seen = true;
        }
        let echo = self.recent_digits.iter().any(|&(d, t, s)| {
            let apart = if t > key_down {
                t - key_down
            } else {
                key_down - t
            };
            d == digit && s != source && apart < CROSS_SOURCE_WINDOW
        });
        if echo {
            self.stats.digits_suppressed += 1;
            return;
        }
        let start = self.start.unwrap_or(key_down);
        let stream = self.digits.get_or_insert_with(|| DigitStream::new(start));
        if let Some(ev) = stream.on_digit(digit, source, key_down) {
            if self.recent_digits.len() == RECENT_DIGITS {
                self.recent_digits.pop_front();
            }
            self.recent_digits.push_back((digit, key_down, source));
            self.player.on_digit();
            self.emit(LegEvent::Digit(ev));
        }
    }

    fn player_events(&mut self) {
        for _ in 0..1024 {
            let Some(e) = self.player.poll_event() else {
                break;
            };
            use madoguchi_media::prompt::PlayerEvent as P;
            let (req, finished) = match e {
                P::Finished(r) => (r, None),
                P::Interrupted(r) => (r, Some(true)),
                P::Stopped(r) => (r, Some(false)),
            };
            let Some(play) = self.plays.remove(&req) else {
                continue;
            };
            match finished {
                None => {
                    let done = match self.play_left.get_mut(&play) {
                        Some(left) => {
                            *left -= 1;
                            *left == 0
                        }
                        None => false,
                    };
                    if done {
                        self.play_left.remove(&play);
                        self.emit(LegEvent::PlayFinished(play));
                    }
                }
                Some(interrupted) => {
                    if self.play_left.remove(&play).is_some() {
                        self.emit(if interrupted {
                            LegEvent::PlayInterrupted(play)
                        } else {
                            LegEvent::PlayStopped(play)
                        });
                    }
                }
            }
        }
    }

    fn snapshot(&self) -> LegStats {
        let mut s = self.stats.clone();
        if let Some(r) = &self.receiver {
            s.rtp = r.stats();
        }
        s.jitter = self.jitter.stats();
        s.remote = self.media.as_ref().map(|m| m.dest);
        s.paced = self.lateness.count();
        s.pace_p50_us = self.lateness.quantile(0.5).as_micros() as u64;
        s.pace_p99_us = self.lateness.quantile(0.99).as_micros() as u64;
        s.pace_max_us = self.lateness.max().as_micros() as u64;
        s.digits_suppressed += self.digits.as_ref().map_or(0, |d| d.suppressed);
        let mut relay = self.relay_total;
        if let Some((_, _, r)) = self.bridge.as_ref().and_then(|b| b.relay.as_ref()) {
            add_relay(&mut relay, &r.stats());
        }
        s.relay = relay;
        s
    }
}

fn add_relay(total: &mut RelayStats, r: &RelayStats) {
    total.audio += r.audio;
    total.transcoded += r.transcoded;
    total.dtmf += r.dtmf;
    total.dtmf_dropped += r.dtmf_dropped;
    total.other_dropped += r.other_dropped;
    total.rebases += r.rebases;
}
