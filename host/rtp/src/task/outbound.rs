//! What the leg sends: paced prompts / idle fill, packets relayed from a
//! bridged leg, and RTCP reports.

use super::{add_relay, Forward, LegTask};
use crate::events::{LegEvent, LegStats};
use crate::srtp::SrtpSession;
use madoguchi_media::bridge::{LegFormat, Relay};
use madoguchi_media::pacing::{Pacer, Tick};
use madoguchi_media::recording::Channel;
use madoguchi_media::rtp::rtcp::SenderInfo;
use madoguchi_media::rtp::{RtpPacket, RtpSender};
use std::net::SocketAddr;
use std::net::UdpSocket as StdUdpSocket;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Catch-up sends per wake-up after a stall (the rest is skipped, see `Pacer`).
const MAX_BURST: u32 = 3;
/// A packet may leave this much before its due time. tokio's timers round a
/// deadline UP to the next millisecond, so without this every packet would
/// leave 0-1 ms late (p50 ~1.1 ms measured); with it the error is centred
/// on the schedule. Receivers' jitter buffers do not notice 1 ms.
pub(super) const EARLY: Duration = Duration::from_millis(1);

/// Sends go through a plain non-blocking clone of the socket: tokio's
/// `try_send_to` reports WouldBlock until the reactor has seen the socket
/// writable once, and a media send must never wait for readiness anyway.
/// On an SDES-SRTP leg the packet is encrypted into `scratch` first.
fn send(
    sock: &StdUdpSocket,
    stats: &mut LegStats,
    srtp: &mut Option<SrtpSession>,
    scratch: &mut Vec<u8>,
    buf: &[u8],
    dest: SocketAddr,
) {
    if dest == crate::webrtc::WEBRTC_REMOTE {
        return; // a WebRTC leg sends through its session (`wire.rs`)
    }
    let wire = match srtp.as_mut() {
        Some(s) => {
            if !s.protect_rtp(buf, scratch) {
                stats.send_errors += 1;
                return;
            }
            &scratch[..]
        }
        None => buf,
    };
    match sock.send_to(wire, dest) {
        Ok(_) => stats.sent += 1,
        Err(_) => stats.send_errors += 1,
    }
}

fn ntp_now() -> u64 {
    const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    ((d.as_secs() + NTP_UNIX_OFFSET) << 32) | (((d.subsec_nanos() as u64) << 32) / 1_000_000_000)
}

impl LegTask {
    /// We send our own stream (prompts or idle fill) when media is
    /// negotiated, our direction sends, and no bridge feeds the leg.
    pub(super) fn should_pace(&self) -> bool {
        self.bridge.is_none()
            && self
                .media
                .as_ref()
                .is_some_and(|m| m.neg.direction.sends() && m.dest.port() != 0)
    }

    /// (Re)start the pacer on the leg's own 20 ms grid (`start + k * ptime`),
    /// so pauses (hold, bridge) never shift the schedule; the RTP timestamp
    /// jumps over the pause.
    fn regrid(&mut self, now: Instant) {
        let (Some(start), Some(m)) = (self.start, &self.media) else {
            return;
        };
        let period = Duration::from_millis(m.neg.ptime.clamp(10, 60) as u64);
        let p = period.as_nanos();
        let k = now.saturating_duration_since(start).as_nanos().div_ceil(p);
        let grid = start + Duration::from_nanos((k * p) as u64);
        if let (Some(last), Some((sender, _))) = (self.last_sent_at, self.sender.as_mut()) {
            let gap = grid.saturating_duration_since(last).saturating_sub(period);
            sender.skip((gap.as_nanos() * 8000 / 1_000_000_000) as u32);
        }
        self.pacer = Some(Pacer::new(grid, period, MAX_BURST));
        self.pacing = true;
    }

    pub(super) fn pace(&mut self, now: Instant) {
        if !self.should_pace() {
            self.pacing = false;
            return;
        }
        if !self.pacing {
            self.regrid(now);
        }
        let Some(m) = &self.media else { return };
        let (law, dest) = (m.neg.codec, m.dest);
        let samples = (m.neg.ptime.clamp(10, 60) * 8) as usize;
        let (Some(pacer), Some((sender, _))) = (self.pacer.as_mut(), self.sender.as_mut()) else {
            return;
        };
        for _ in 0..MAX_BURST + 1 {
            // Ask as if it were EARLY later; `late` is then relative to that instant.
            let Tick::Send { late, skipped, .. } = pacer.poll(now + EARLY) else {
                break;
            };
            // Send-time error against the schedule, early or late.
            self.lateness.record(late.abs_diff(EARLY));
            if skipped > 0 {
                self.stats.pace_skipped += skipped;
                sender.skip((samples as u64 * skipped) as u32);
                for _ in 0..skipped.min(3000) {
                    self.player.fill(&mut self.frame[..samples]);
                }
            }
            let frame = &mut self.frame[..samples];
            self.player.fill(frame);
            law.encode_into(frame, &mut self.payload);
            sender.audio(&self.payload, samples as u32, &mut self.packet);
            send(
                &self.rtp_tx,
                &mut self.stats,
                &mut self.srtp,
                &mut self.sbuf,
                &self.packet,
                dest,
            );
            super::wire::send_rtp(
                self.webrtc.as_deref(),
                &self.rtp_tx,
                &mut self.stats,
                &mut self.webrtc_out,
                &self.packet,
                now,
            );
            let due = (now + EARLY).checked_sub(late).unwrap_or(now);
            self.last_sent_at = Some(due);
            if let Some(rec) = self.rec.as_mut() {
                rec.push(Channel::Other, due, frame);
            }
        }
    }

    /// A packet the bridged leg received: re-stamp into our stream,
    /// transcode if the codecs differ, send; its audio is what our caller
    /// hears, so it goes on the recording's right channel.
    pub(super) fn on_forward(&mut self, f: Forward, now: Instant) {
        let Some(b) = self.bridge.as_mut() else {
            return;
        };
        let (Some(m), Some((sender, _))) = (&self.media, self.sender.as_ref()) else {
            return;
        };
        if f.bridge != b.id || !m.neg.direction.sends() {
            return;
        }
        let to = LegFormat::from(&m.neg);
        let dest = m.dest;
        let fresh = !matches!(&b.relay, Some((from, t, _)) if *from == f.format && *t == to);
        if fresh {
            let (seq, ts) = b
                .next_out
                .unwrap_or((sender.sequence(), sender.timestamp()));
            if let Some((_, _, old)) = b.relay.take() {
                add_relay(&mut self.relay_total, &old.stats());
            }
            b.relay = Some((
                f.format,
                to,
                Relay::with_ssrc(f.format, to, sender.ssrc(), seq, ts),
            ));
        }
        let Some((_, _, relay)) = b.relay.as_mut() else {
            return;
        };
        let Ok(pkt) = RtpPacket::parse(&f.data) else {
            return;
        };
        if !relay.relay(&pkt, &mut self.packet) {
            return;
        }
        send(
            &self.rtp_tx,
            &mut self.stats,
            &mut self.srtp,
            &mut self.sbuf,
            &self.packet,
            dest,
        );
        super::wire::send_rtp(
            self.webrtc.as_deref(),
            &self.rtp_tx,
            &mut self.stats,
            &mut self.webrtc_out,
            &self.packet,
            now,
        );
        self.last_sent_at = Some(now);
        let out = &self.packet;
        let seq = u16::from_be_bytes([out[2], out[3]]);
        let ts = u32::from_be_bytes([out[4], out[5], out[6], out[7]]);
        let audio = pkt.header.payload_type == f.format.pt;
        let next_ts = match (audio, b.next_out) {
            (true, _) => ts.wrapping_add(pkt.payload.len() as u32),
            (false, Some((_, t))) => t,
            (false, None) => sender.timestamp(),
        };
        b.next_out = Some((seq.wrapping_add(1), next_ts));
        if audio {
            if let Some(rec) = self.rec.as_mut() {
                let at = rec.relay_instant(pkt.header.ssrc, pkt.header.timestamp, f.at);
                f.format.codec.decode_into(pkt.payload, &mut self.pcm);
                rec.push(Channel::Other, at, &self.pcm);
            }
        }
    }

    /// Leave the bridge: our own stream continues where the relayed one stopped.
    pub(super) fn end_bridge(&mut self, _now: Instant) {
        let Some(b) = self.bridge.take() else { return };
        if let Some((_, _, r)) = &b.relay {
            add_relay(&mut self.relay_total, &r.stats());
        }
        if let (Some((next_seq, next_ts)), Some((sender, pt))) = (b.next_out, self.sender.as_mut())
        {
            *sender = RtpSender::with_initial(*pt, sender.ssrc(), next_seq, next_ts);
        }
        self.pacing = false;
    }

    pub(super) fn check_bridge_peer(&mut self, now: Instant) {
        if self.bridge.as_ref().is_some_and(|b| b.peer.is_closed()) {
            self.end_bridge(now);
            self.emit(LegEvent::BridgePeerGone);
        }
    }

    pub(super) fn rtcp_tick(&mut self, now: Instant) {
        if now < self.next_rtcp {
            return;
        }
        self.next_rtcp = now + self.cfg.rtcp_interval;
        let (Some(m), Some(rx), Some((sender, _))) =
            (&self.media, self.receiver.as_mut(), self.sender.as_ref())
        else {
            return;
        };
        let dest = self
            .rtcp_dest
            .unwrap_or_else(|| SocketAddr::new(m.dest.ip(), m.dest.port().wrapping_add(1)));
        if m.dest.port() == 0 || m.dest.ip().is_unspecified() {
            return;
        }
        let info = (sender.packet_count() > 0).then(|| SenderInfo {
            ntp: ntp_now(),
            rtp_timestamp: sender.timestamp(),
            packet_count: sender.packet_count(),
            octet_count: sender.octet_count(),
        });
        let report = rx.build_report(now, sender.ssrc(), info, &self.call_id);
        let report = match self.srtp.as_mut() {
            Some(s) => match s.protect_rtcp(&report) {
                Some(r) => r,
                None => return,
            },
            None => report,
        };
        let _ = self.rtcp_tx.send_to(&report, dest);
    }
}
