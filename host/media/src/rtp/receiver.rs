//! Incoming RTP for one leg: source tracking, sequence/loss/jitter
//! statistics (RFC 3550 A.1, A.3, A.8), payload-type filtering and the
//! reception report we send back.

use super::packet::{looks_like_rtcp, RtpError, RtpPacket};
use super::rtcp::{self, ReportBlock, RtcpPacket, SenderInfo};
use serde::Serialize;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A jump forward by more than this many sequence numbers is suspicious (RFC 3550 A.1).
const MAX_DROPOUT: i64 = 3000;
/// A packet more than this far behind the highest one is not "reordered" but suspicious.
const MAX_MISORDER: i64 = 100;
/// Offset so that extended sequence numbers of early reordered packets stay positive.
const EXT_BASE: u64 = 1 << 16;

/// Which payload types this leg accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// Negotiated audio payload type.
    pub audio_pt: u8,
    /// Negotiated telephone-event payload type, if any.
    pub dtmf_pt: Option<u8>,
    /// RTP clock rate (8000 for G.711).
    pub clock_rate: u32,
}

/// Why a datagram was not passed on. Every reason is counted in [`LegStats`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    /// Not parseable as RTP.
    Malformed(RtpError),
    /// An RTCP packet arrived on the RTP port (rtcp-mux); hand it to [`RtpReceiver::on_rtcp`].
    Rtcp,
    /// Same sequence number already received.
    Duplicate,
    /// Payload type not negotiated (comfort noise, garbage, a wrong codec).
    WrongPayloadType(u8),
    /// A straggler from the source that was replaced by a new SSRC.
    StaleSource,
    /// A sequence jump that needs a second packet to confirm (RFC 3550 A.1 probation).
    SequenceJump,
}

/// What happened to one received datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received<'a> {
    /// Accepted media; decode/feed it to the jitter buffer or DTMF receiver.
    Media {
        /// The parsed packet.
        packet: RtpPacket<'a>,
        /// True for the first packet of a new SSRC (including the very first).
        new_source: bool,
        /// True if it is a telephone-event packet (payload type == dtmf_pt).
        dtmf: bool,
        /// Arrived after a later sequence number.
        reordered: bool,
    },
    /// Dropped and counted.
    Dropped(DropReason),
}

/// Per-leg media statistics for the call record.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LegStats {
    /// Datagrams seen on the RTP socket, valid or not.
    pub datagrams: u64,
    /// Packets accepted (unique, right payload type).
    pub packets: u64,
    /// Payload bytes of accepted packets.
    pub payload_bytes: u64,
    /// Expected minus received over all sources (never negative).
    pub lost: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Packets that arrived after a later one (accepted).
    pub reordered: u64,
    /// Unparseable datagrams dropped.
    pub malformed: u64,
    /// Packets with a payload type we did not negotiate.
    pub wrong_payload_type: u64,
    /// Stragglers from a replaced SSRC and unconfirmed sequence jumps.
    pub other_dropped: u64,
    /// RTCP packets received.
    pub rtcp_packets: u64,
    /// SSRC changes after the first source (re-INVITE, transfer, SBC failover).
    pub ssrc_changes: u32,
    /// Current interarrival jitter in milliseconds.
    pub jitter_ms: f64,
    /// Maximum interarrival jitter seen, in milliseconds.
    pub max_jitter_ms: f64,
    /// Fraction (0..=1) the peer last reported losing of what we send.
    pub peer_fraction_lost: Option<f64>,
    /// Jitter the peer last reported on what we send, in milliseconds.
    pub peer_jitter_ms: Option<f64>,
    /// Round-trip time from the peer's report on our last SR.
    pub rtt_ms: Option<f64>,
}

#[derive(Debug, Clone)]
struct Source {
    ssrc: u32,
    base_ext: u64,
    max_ext: u64,
    received: u64,
    /// Bit i set = max_ext - i received (i < 128).
    seen: u128,
    bad_seq: Option<u16>,
    /// Expected/received folded in from before a resync.
    expected_before: u64,
    expected_prior: u64,
    received_prior: u64,
    last_transit: Option<i32>,
    jitter: f64,
}

impl Source {
    fn new(ssrc: u32, seq: u16) -> Self {
        let ext = EXT_BASE + seq as u64;
        Source {
            ssrc,
            base_ext: ext,
            max_ext: ext,
            received: 1,
            seen: 1,
            bad_seq: None,
            expected_before: 0,
            expected_prior: 0,
            received_prior: 0,
            last_transit: None,
            jitter: 0.0,
        }
    }

    fn expected(&self) -> u64 {
        self.expected_before + (self.max_ext - self.base_ext + 1)
    }

    fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.received)
    }
}

enum SeqVerdict {
    InOrder,
    Reordered,
    Duplicate,
    Jump,
}

/// Receive-side state of one call leg. Feed every datagram from the RTP socket.
#[derive(Debug)]
pub struct RtpReceiver {
    config: ReceiverConfig,
    epoch: Option<Instant>,
    source: Option<Source>,
    previous_ssrc: Option<u32>,
    /// Lost/received of sources that were replaced.
    lost_retired: u64,
    stats: LegStats,
    last_sr: Option<(u32, u32, Instant)>,
    sent_srs: VecDeque<(u32, Instant)>,
}

impl RtpReceiver {
    /// New receiver for a leg with the negotiated payload types.
    pub fn new(config: ReceiverConfig) -> Self {
        RtpReceiver {
            config,
            epoch: None,
            source: None,
            previous_ssrc: None,
            lost_retired: 0,
            stats: LegStats::default(),
            last_sr: None,
            sent_srs: VecDeque::new(),
        }
    }

    /// Change accepted payload types (re-INVITE).
    pub fn set_config(&mut self, config: ReceiverConfig) {
        self.config = config;
    }

    /// Current SSRC of the remote source.
    pub fn ssrc(&self) -> Option<u32> {
        self.source.as_ref().map(|s| s.ssrc)
    }

    /// Process one datagram that arrived at `now`.
    pub fn on_packet<'a>(&mut self, buf: &'a [u8], now: Instant) -> Received<'a> {
        self.stats.datagrams += 1;
        if looks_like_rtcp(buf) {
            return Received::Dropped(DropReason::Rtcp);
        }
        let packet = match RtpPacket::parse(buf) {
            Ok(p) => p,
            Err(e) => {
                self.stats.malformed += 1;
                return Received::Dropped(DropReason::Malformed(e));
            }
        };
        let h = &packet.header;
        let pt_ok =
            h.payload_type == self.config.audio_pt || Some(h.payload_type) == self.config.dtmf_pt;

        // Source handling.
        let mut new_source = false;
        match &self.source {
            Some(s) if s.ssrc == h.ssrc => {}
            Some(_) if Some(h.ssrc) == self.previous_ssrc => {
                self.stats.other_dropped += 1;
                return Received::Dropped(DropReason::StaleSource);
            }
            _ if !pt_ok => {
                // Do not let a garbage packet replace a good source.
                self.stats.wrong_payload_type += 1;
                return Received::Dropped(DropReason::WrongPayloadType(h.payload_type));
            }
            Some(old) => {
                self.lost_retired += old.lost();
                self.previous_ssrc = Some(old.ssrc);
                self.stats.ssrc_changes += 1;
                self.source = Some(Source::new(h.ssrc, h.sequence));
                new_source = true;
            }
            None => {
                self.source = Some(Source::new(h.ssrc, h.sequence));
                new_source = true;
            }
        }
        let Some(src) = self.source.as_mut() else {
            return Received::Dropped(DropReason::StaleSource);
        };

        let verdict = if new_source {
            SeqVerdict::InOrder
        } else {
            let delta = h.sequence.wrapping_sub(src.max_ext as u16) as i16 as i64;
            if delta == 0 {
                SeqVerdict::Duplicate
            } else if delta > 0 && delta <= MAX_DROPOUT {
                src.seen = if delta >= 128 { 0 } else { src.seen << delta };
                src.seen |= 1;
                src.max_ext += delta as u64;
                src.received += 1;
                src.bad_seq = None;
                SeqVerdict::InOrder
            } else if (-MAX_MISORDER..0).contains(&delta) {
                let back = (-delta) as u32;
                if src.seen & (1u128 << back) != 0 {
                    SeqVerdict::Duplicate
                } else {
                    src.seen |= 1u128 << back;
                    let ext = src.max_ext - back as u64;
                    if ext < src.base_ext {
                        src.base_ext = ext;
                    }
                    src.received += 1;
                    SeqVerdict::Reordered
                }
            } else if src.bad_seq == Some(h.sequence) {
                // Two sequential packets after a jump: the sender restarted (RFC 3550 A.1).
                src.expected_before = src.expected();
                let ext = (src.max_ext & !0xFFFF) + 2 * EXT_BASE + h.sequence as u64;
                src.base_ext = ext;
                src.max_ext = ext;
                src.seen = 1;
                src.received += 1;
                src.bad_seq = None;
                src.last_transit = None;
                SeqVerdict::InOrder
            } else {
                src.bad_seq = Some(h.sequence.wrapping_add(1));
                SeqVerdict::Jump
            }
        };
        match verdict {
            SeqVerdict::Duplicate => {
                self.stats.duplicates += 1;
                return Received::Dropped(DropReason::Duplicate);
            }
            SeqVerdict::Jump => {
                self.stats.other_dropped += 1;
                return Received::Dropped(DropReason::SequenceJump);
            }
            SeqVerdict::InOrder | SeqVerdict::Reordered => {}
        }
        if !pt_ok {
            self.stats.wrong_payload_type += 1;
            return Received::Dropped(DropReason::WrongPayloadType(h.payload_type));
        }
        let reordered = matches!(verdict, SeqVerdict::Reordered);
        if reordered {
            self.stats.reordered += 1;
        }
        let dtmf = Some(h.payload_type) == self.config.dtmf_pt;
        if !dtmf {
            // RFC 3550 A.8; telephone-event packets repeat timestamps and would distort it.
            let epoch = *self.epoch.get_or_insert(now);
            let arrival = (now.saturating_duration_since(epoch).as_nanos()
                * self.config.clock_rate as u128
                / 1_000_000_000) as u32;
            let transit = arrival.wrapping_sub(h.timestamp) as i32;
            if let Some(last) = src.last_transit {
                let d = transit.wrapping_sub(last).unsigned_abs() as f64;
                src.jitter += (d - src.jitter) / 16.0;
            }
            src.last_transit = Some(transit);
            let ms = src.jitter * 1000.0 / self.config.clock_rate as f64;
            self.stats.jitter_ms = ms;
            if ms > self.stats.max_jitter_ms {
                self.stats.max_jitter_ms = ms;
            }
        }
        self.stats.packets += 1;
        self.stats.payload_bytes += packet.payload.len() as u64;
        Received::Media {
            packet,
            new_source,
            dtmf,
            reordered,
        }
    }

    /// Snapshot of the statistics.
    pub fn stats(&self) -> LegStats {
        let mut s = self.stats.clone();
        s.lost = self.lost_retired + self.source.as_ref().map_or(0, Source::lost);
        s
    }

    /// Reception report block about the current source, updating the
    /// "since last report" counters (call once per RTCP interval).
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let src = self.source.as_mut()?;
        let expected = src.expected();
        let expected_interval = expected - src.expected_prior;
        let received_interval = src.received.saturating_sub(src.received_prior);
        src.expected_prior = expected;
        src.received_prior = src.received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        let fraction_lost = (lost_interval << 8)
            .checked_div(expected_interval)
            .map_or(0, |f| f.min(255) as u8);
        let (lsr, dlsr) = match self.last_sr {
            Some((ssrc, lsr, at)) if ssrc == src.ssrc => {
                let d = now.saturating_duration_since(at);
                (
                    lsr,
                    (d.as_micros() * 65536 / 1_000_000).min(u32::MAX as u128) as u32,
                )
            }
            _ => (0, 0),
        };
        Some(ReportBlock {
            ssrc: src.ssrc,
            fraction_lost,
            cumulative_lost: src.lost().min(0x7F_FFFF) as i32,
            highest_seq: (src.max_ext - EXT_BASE) as u32,
            jitter: src.jitter as u32,
            lsr,
            dlsr,
        })
    }

    /// Build our periodic RTCP report: an SR if `sender` is given (we send
    /// media; `ntp` is the wall clock as NTP, `rtp_timestamp` the matching
    /// media time), otherwise an RR.
    pub fn build_report(
        &mut self,
        now: Instant,
        our_ssrc: u32,
        sender: Option<SenderInfo>,
        cname: &str,
    ) -> Vec<u8> {
        let blocks: Vec<ReportBlock> = self.report_block(now).into_iter().collect();
        if let Some(info) = sender {
            self.sent_srs.push_back((rtcp::ntp_middle(info.ntp), now));
            if self.sent_srs.len() > 8 {
                self.sent_srs.pop_front();
            }
        }
        rtcp::build_report(our_ssrc, sender, &blocks, cname)
    }

    /// Process an RTCP datagram from the peer (`our_ssrc` = the SSRC we send with).
    pub fn on_rtcp(
        &mut self,
        buf: &[u8],
        now: Instant,
        our_ssrc: u32,
    ) -> Result<(), rtcp::RtcpError> {
        self.stats.rtcp_packets += 1;
        let packets = match rtcp::parse_compound(buf) {
            Ok(p) => p,
            Err(e) => {
                self.stats.malformed += 1;
                return Err(e);
            }
        };
        for p in packets {
            let reports = match p {
                RtcpPacket::SenderReport {
                    ssrc,
                    info,
                    reports,
                } => {
                    self.last_sr = Some((ssrc, rtcp::ntp_middle(info.ntp), now));
                    reports
                }
                RtcpPacket::ReceiverReport { reports, .. } => reports,
                RtcpPacket::Other { .. } => continue,
            };
            for b in reports.iter().filter(|b| b.ssrc == our_ssrc) {
                self.stats.peer_fraction_lost = Some(b.fraction_lost as f64 / 256.0);
                self.stats.peer_jitter_ms =
                    Some(b.jitter as f64 * 1000.0 / self.config.clock_rate as f64);
                if b.lsr != 0 {
                    if let Some(&(_, sent)) = self.sent_srs.iter().find(|(mid, _)| *mid == b.lsr) {
                        let dlsr = Duration::from_micros(b.dlsr as u64 * 1_000_000 / 65536);
                        let rtt = now.saturating_duration_since(sent).saturating_sub(dlsr);
                        self.stats.rtt_ms = Some(rtt.as_secs_f64() * 1000.0);
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::{RtpHeader, RtpSender};

    const CFG: ReceiverConfig = ReceiverConfig {
        audio_pt: 0,
        dtmf_pt: Some(101),
        clock_rate: 8000,
    };

    fn pkt(ssrc: u32, seq: u16, ts: u32, pt: u8) -> Vec<u8> {
        RtpHeader {
            payload_type: pt,
            sequence: seq,
            timestamp: ts,
            ssrc,
            ..Default::default()
        }
        .to_vec(&[0xFF; 160])
    }

    fn feed(r: &mut RtpReceiver, t0: Instant, ms: u64, buf: &[u8]) -> bool {
        matches!(
            r.on_packet(buf, t0 + Duration::from_millis(ms)),
            Received::Media { .. }
        )
    }

    #[test]
    fn in_order_stream_across_seq_wrap() {
        let t0 = Instant::now();
        let mut r = RtpReceiver::new(CFG);
        for i in 0..200u32 {
            let seq = (65_500u32 + i) as u16;
            assert!(feed(&mut r, t0, i as u64 * 20, &pkt(1, seq, i * 160, 0)));
        }
        let s = r.stats();
        assert_eq!(
            (s.packets, s.lost, s.duplicates, s.reordered),
            (200, 0, 0, 0)
        );
        assert!(s.jitter_ms < 0.01);
        let rb = r.report_block(t0).unwrap();
        assert_eq!(rb.highest_seq, (1 << 16) | ((65_500 + 199) as u16 as u32));
        assert_eq!(rb.fraction_lost, 0);
    }

    #[test]
    fn loss_duplicates_reordering() {
        let t0 = Instant::now();
        let mut r = RtpReceiver::new(CFG);
        let order = [0u16, 1, 3, 2, 2, 5, 6, 6, 9, 4];
        let accepted: Vec<bool> = order
            .iter()
            .enumerate()
            .map(|(i, &s)| feed(&mut r, t0, i as u64 * 20, &pkt(7, s, s as u32 * 160, 0)))
            .collect();
        assert_eq!(
            accepted,
            [true, true, true, true, false, true, true, false, true, true]
        );
        let s = r.stats();
        // Expected 0..=9 (10), received 8 unique: 7 and 8 lost.
        assert_eq!((s.packets, s.lost, s.duplicates, s.reordered), (8, 2, 2, 2));
        let rb = r.report_block(t0).unwrap();
        assert_eq!(rb.cumulative_lost, 2);
        assert_eq!(rb.fraction_lost, (2 * 256 / 10) as u8);
        // Next interval: nothing new -> 0.
        assert_eq!(r.report_block(t0).unwrap().fraction_lost, 0);
    }

    #[test]
    fn wrong_pt_garbage_and_rtcp_are_dropped_and_counted() {
        let t0 = Instant::now();
        let mut r = RtpReceiver::new(CFG);
        assert!(feed(&mut r, t0, 0, &pkt(1, 10, 0, 0)));
        assert_eq!(
            r.on_packet(&pkt(1, 11, 160, 13), t0),
            Received::Dropped(DropReason::WrongPayloadType(13))
        );
        assert!(feed(&mut r, t0, 40, &pkt(1, 12, 320, 0)));
        assert!(matches!(
            r.on_packet(&[1, 2, 3], t0),
            Received::Dropped(DropReason::Malformed(_))
        ));
        assert_eq!(
            r.on_packet(&[0x81, 201, 0, 1, 0, 0, 0, 1], t0),
            Received::Dropped(DropReason::Rtcp)
        );
        // A garbage-PT packet with a new SSRC must not hijack the leg.
        assert!(!feed(&mut r, t0, 60, &pkt(99, 1, 0, 34)));
        assert_eq!(r.ssrc(), Some(1));
        let s = r.stats();
        assert_eq!(
            (s.packets, s.wrong_payload_type, s.malformed, s.lost),
            (2, 2, 1, 0)
        );
        assert!(matches!(
            r.on_packet(&pkt(1, 13, 480, 101), t0),
            Received::Media { dtmf: true, .. }
        ));
    }

    #[test]
    fn ssrc_change_is_a_new_source() {
        let t0 = Instant::now();
        let mut r = RtpReceiver::new(CFG);
        for i in 0..10u16 {
            assert!(feed(
                &mut r,
                t0,
                i as u64 * 20,
                &pkt(1, i, i as u32 * 160, 0)
            ));
        }
        assert!(feed(&mut r, t0, 200, &pkt(2, 5000, 77, 0)));
        assert!(matches!(
            r.on_packet(&pkt(2, 5001, 237, 0), t0),
            Received::Media {
                new_source: false,
                ..
            }
        ));
        // Straggler from the old source.
        assert_eq!(
            r.on_packet(&pkt(1, 10, 1600, 0), t0),
            Received::Dropped(DropReason::StaleSource)
        );
        let s = r.stats();
        assert_eq!((s.ssrc_changes, s.packets, s.lost), (1, 12, 0));
    }

    #[test]
    fn sequence_jump_needs_confirmation() {
        let t0 = Instant::now();
        let mut r = RtpReceiver::new(CFG);
        assert!(feed(&mut r, t0, 0, &pkt(1, 100, 0, 0)));
        assert!(!feed(&mut r, t0, 20, &pkt(1, 30_000, 160, 0)));
        assert!(feed(&mut r, t0, 40, &pkt(1, 30_001, 320, 0)));
        assert!(feed(&mut r, t0, 60, &pkt(1, 30_002, 480, 0)));
        let s = r.stats();
        assert_eq!((s.packets, s.lost, s.other_dropped), (3, 0, 1));
    }

    #[test]
    fn jitter_follows_rfc3550() {
        let t0 = Instant::now();
        let mut r = RtpReceiver::new(CFG);
        // Alternate 0 and +10 ms arrival offsets: |D| = 80 units each step -> J -> 80 = 10 ms.
        for i in 0..500u32 {
            let extra = if i % 2 == 0 { 0 } else { 10 };
            feed(
                &mut r,
                t0,
                i as u64 * 20 + extra,
                &pkt(1, i as u16, i * 160, 0),
            );
        }
        let s = r.stats();
        assert!((s.jitter_ms - 10.0).abs() < 0.2, "{}", s.jitter_ms);
        assert!(s.max_jitter_ms >= s.jitter_ms);
    }

    #[test]
    fn rtt_from_peer_report_on_our_sr() {
        let t0 = Instant::now();
        let mut a = RtpReceiver::new(CFG);
        let mut b = RtpReceiver::new(CFG);
        let sa = RtpSender::with_initial(0, 0xA, 0, 0);
        let info = SenderInfo {
            ntp: 0x0000_1234_5678_0000,
            ..Default::default()
        };
        let sr = a.build_report(t0, sa.ssrc(), Some(info), "a");
        // b receives a packet from a and the SR 30 ms later (one-way 30 ms).
        b.on_packet(&pkt(0xA, 1, 0, 0), t0);
        b.on_rtcp(&sr, t0 + Duration::from_millis(30), 0xB).unwrap();
        // b answers 500 ms after receiving it; arrives at a 30 ms later.
        let rr = b.build_report(t0 + Duration::from_millis(530), 0xB, None, "b");
        a.on_rtcp(&rr, t0 + Duration::from_millis(560), 0xA)
            .unwrap();
        let rtt = a.stats().rtt_ms.unwrap();
        assert!((rtt - 60.0).abs() < 1.0, "{rtt}");
        assert_eq!(a.stats().peer_fraction_lost, Some(0.0));
    }

    #[test]
    fn serializes() {
        let r = RtpReceiver::new(CFG);
        let _ = format!("{:?}", r.stats());
    }
}
