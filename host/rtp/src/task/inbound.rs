//! What arrives on the leg's sockets: source filtering (symmetric RTP),
//! receiver statistics, forwarding to a bridged leg, RFC 4733 and in-band
//! DTMF, and the caller's audio for the recording.

use super::{Forward, LegTask};
use crate::events::LegEvent;
use crate::latch::Verdict;
use madoguchi_media::bridge::LegFormat;
use madoguchi_media::dtmf::{DigitSource, InbandEvent};
use madoguchi_media::jitter::FrameKind;
use madoguchi_media::recording::Channel;
use madoguchi_media::rtp::{looks_like_rtcp, Received, FIXED_HEADER_LEN};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::TrySendError;

/// Frames released from the jitter buffer per wake-up at most.
const MAX_FRAMES: usize = 256;
/// In-band detection confirms a key about this long after it went down.
const INBAND_DELAY: Duration = Duration::from_millis(40);

impl LegTask {
    pub(super) fn on_rtp_datagram(&mut self, n: usize, from: SocketAddr, now: Instant) {
        let buf = std::mem::take(&mut self.rbuf);
        let data = &buf[..n.min(buf.len())];
        match self.media.as_ref().and_then(|m| m.neg.srtp) {
            // SRTP: only what authenticates goes further (rtcp-mux packets too).
            Some(_) => {
                let plain = match self.srtp.as_mut() {
                    Some(s) if looks_like_rtcp(data) => s.unprotect_rtcp(data),
                    Some(s) => s.unprotect_rtp(data),
                    None => None,
                };
                match plain {
                    Some(p) => self.on_rtp(&p, from, now),
                    None => self.stats.srtp_failed += 1,
                }
            }
            None => self.on_rtp(data, from, now),
        }
        self.rbuf = buf;
    }

    fn on_rtp(&mut self, buf: &[u8], from: SocketAddr, now: Instant) {
        let Some(m) = &self.media else {
            self.stats.early += 1;
            return;
        };
        let neg = m.neg;
        if looks_like_rtcp(buf) {
            // rtcp-mux: only from the peer we latched onto.
            if self.filter.latched() == Some(from) {
                self.feed_rtcp(buf, now);
            }
            return;
        }
        // Cheap checks before anything can latch: version 2, a negotiated payload type.
        if buf.len() < FIXED_HEADER_LEN || buf[0] >> 6 != 2 {
            self.stats.malformed += 1;
            return;
        }
        let pt = buf[1] & 0x7F;
        if pt != neg.pt && Some(pt) != neg.dtmf_pt {
            self.stats.wrong_payload_type += 1;
            return;
        }
        let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
        match self.filter.check(from, ssrc, now) {
            Verdict::Accept { latched } => {
                if latched {
                    if let Some(m) = self.media.as_mut() {
                        m.dest = from;
                    }
                    self.emit(LegEvent::RemoteLatched(from));
                }
            }
            Verdict::UnexpectedSource => {
                self.stats.unexpected_source += 1;
                return;
            }
            Verdict::ForeignSsrc => {
                self.stats.foreign_ssrc += 1;
                return;
            }
        }
        let Some(receiver) = self.receiver.as_mut() else {
            return;
        };
        let (ssrc, ts, dtmf, payload) = match receiver.on_packet(buf, now) {
            Received::Media { packet, dtmf, .. } => (
                packet.header.ssrc,
                packet.header.timestamp,
                dtmf,
                packet.payload,
            ),
            Received::Dropped(_) => return,
        };
        self.last_rx = now;
        if self.timed_out {
            self.timed_out = false;
            self.emit(LegEvent::RtpResumed);
        }
        if let Some(b) = &self.bridge {
            let f = Forward {
                bridge: b.id,
                format: LegFormat::from(&neg),
                at: now,
                data: buf.to_vec(),
            };
            match b.peer.try_send(f) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => self.stats.bridge_dropped += 1,
                Err(TrySendError::Closed(_)) => {} // noticed by check_bridge_peer
            }
        }
        if dtmf {
            if let Some(e) = self.dtmf_rx.on_packet(ts, payload, now) {
                self.offer_digit(e.digit, DigitSource::Rfc4733, e.started);
            }
        } else {
            self.jitter
                .push(ssrc, ts, payload.len() as u32, payload.to_vec(), now);
            // Release audio now, in packet order with the telephone-events
            // around it, so a burst (after a stall) is analysed in order.
            self.poll_jitter(now);
        }
    }

    pub(super) fn on_rtcp_datagram(&mut self, n: usize, from: SocketAddr, now: Instant) {
        // Only from the peer's host; its RTCP port is learnt from what arrives.
        let peer_ip = self.filter.latched().map(|a| a.ip());
        if peer_ip != Some(from.ip()) {
            self.stats.unexpected_source += 1;
            return;
        }
        let buf = std::mem::take(&mut self.cbuf);
        let data = &buf[..n.min(buf.len())];
        match self.srtp.as_mut() {
            Some(s) => match s.unprotect_rtcp(data) {
                Some(p) => {
                    self.rtcp_dest = Some(from);
                    self.feed_rtcp(&p, now);
                }
                None => self.stats.srtp_failed += 1,
            },
            None => {
                self.rtcp_dest = Some(from);
                self.feed_rtcp(data, now);
            }
        }
        self.cbuf = buf;
    }

    fn feed_rtcp(&mut self, buf: &[u8], now: Instant) {
        let our_ssrc = self.sender.as_ref().map_or(0, |(s, _)| s.ssrc());
        if let Some(r) = self.receiver.as_mut() {
            let _ = r.on_rtcp(buf, now, our_ssrc);
        }
    }

    /// Released caller audio: decode, in-band DTMF (until the phone proves it
    /// sends RFC 4733), left channel of the recording.
    pub(super) fn poll_jitter(&mut self, now: Instant) {
        let Some(law) = self.media.as_ref().map(|m| m.neg.codec) else {
            return;
        };
        let mut pressed: Vec<(char, Instant)> = Vec::new();
        for _ in 0..MAX_FRAMES {
            let Some(f) = self.jitter.poll(now) else {
                break;
            };
            match f.kind {
                FrameKind::Audio(p) => law.decode_into(&p, &mut self.pcm),
                FrameKind::Gap => {
                    self.pcm.clear();
                    self.pcm.resize(f.samples.min(4096) as usize, 0);
                }
            }
            if !self.rfc4733_seen {
                self.inband.process(&self.pcm, &mut self.inband_events);
                for e in self.inband_events.drain(..) {
                    if let InbandEvent::Pressed { digit, .. } = e {
                        // Key-down on the same clock as RFC 4733 (`started` = arrival) and INFO.
                        pressed.push((digit, now.checked_sub(INBAND_DELAY).unwrap_or(now)));
                    }
                }
            }
            if let Some(rec) = self.rec.as_mut() {
                rec.push(Channel::Caller, f.at, &self.pcm);
            }
        }
        for (digit, at) in pressed {
            self.offer_digit(digit, DigitSource::Inband, at);
        }
    }
}
