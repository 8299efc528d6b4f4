//! Relaying RTP between two bridged legs (caller <-> staff).
//!
//! Each direction gets a [`Relay`]. It rewrites SSRC, sequence number and
//! timestamp into the outgoing leg's own numbering (offset mapping, so the
//! far end still sees the sender's loss, reordering and timing), transcodes
//! PCMU <-> PCMA through a 256-entry table when the legs differ, and passes
//! RFC 4733 events across under the outgoing leg's telephone-event payload
//! type. When the incoming source changes (new SSRC, or a timestamp or
//! sequence jump from a re-INVITE or transfer), the mapping is re-based so
//! the outgoing stream continues seamlessly, and the marker bit flags the
//! discontinuity.

use crate::g711::{Law, Transcoder};
use crate::rtp::{RtpHeader, RtpPacket};
use crate::sdp::Negotiated;

/// Media format of one leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegFormat {
    /// Codec.
    pub codec: Law,
    /// Payload type for the codec.
    pub pt: u8,
    /// Telephone-event payload type, if negotiated.
    pub dtmf_pt: Option<u8>,
}

impl From<&Negotiated> for LegFormat {
    fn from(n: &Negotiated) -> Self {
        LegFormat {
            codec: n.codec,
            pt: n.pt,
            dtmf_pt: n.dtmf_pt,
        }
    }
}

/// Counters for the call record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RelayStats {
    /// Audio packets relayed.
    pub audio: u64,
    /// Of which transcoded.
    pub transcoded: u64,
    /// Telephone-event packets relayed.
    pub dtmf: u64,
    /// Telephone-event packets dropped (outgoing leg has no RFC 4733).
    pub dtmf_dropped: u64,
    /// Packets with another payload type, dropped.
    pub other_dropped: u64,
    /// Re-bases after a source change or jump.
    pub rebases: u64,
}

/// Timestamp jump (in either direction) that counts as a new source: 10 s.
const MAX_TS_JUMP: u32 = 80_000;
/// Sequence jump that counts as a new source.
const MAX_SEQ_JUMP: u16 = 3000;

/// One direction of a bridge: packets from leg `from` out to leg `to`.
#[derive(Debug, Clone)]
pub struct Relay {
    from: LegFormat,
    to: LegFormat,
    transcoder: Option<Transcoder>,
    ssrc: u32,
    ts_offset: u32,
    seq_offset: u16,
    source: Option<(u32, u32, u16)>,
    last_out: (u32, u16),
    stats: RelayStats,
}

impl Relay {
    /// Relay with a random outgoing SSRC / sequence / timestamp base.
    pub fn new(from: LegFormat, to: LegFormat) -> Self {
        Self::with_ssrc(from, to, rand::random(), rand::random(), rand::random())
    }

    /// Relay continuing an existing outgoing stream (e.g. the leg's
    /// [`crate::rtp::RtpSender`] that played prompts before the bridge).
    pub fn with_ssrc(
        from: LegFormat,
        to: LegFormat,
        ssrc: u32,
        next_seq: u16,
        next_ts: u32,
    ) -> Self {
        Relay {
            from,
            to,
            transcoder: (from.codec != to.codec).then(|| Transcoder::new(from.codec, to.codec)),
            ssrc,
            ts_offset: 0,
            seq_offset: 0,
            source: None,
            last_out: (next_ts.wrapping_sub(160), next_seq.wrapping_sub(1)),
            stats: RelayStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> RelayStats {
        self.stats
    }

    /// Outgoing SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    fn is_jump(&self, p: &RtpHeader) -> bool {
        let Some((ssrc, ts, seq)) = self.source else {
            return true;
        };
        if ssrc != p.ssrc {
            return true;
        }
        let dts = p.timestamp.wrapping_sub(ts);
        let dseq = p.sequence.wrapping_sub(seq);
        (dts > MAX_TS_JUMP && dts < u32::MAX - MAX_TS_JUMP)
            || (dseq > MAX_SEQ_JUMP && dseq < u16::MAX - MAX_SEQ_JUMP)
    }

    /// Translate one packet received on `from`. Returns true if `out` now
    /// holds a packet to send on `to`.
    pub fn relay(&mut self, packet: &RtpPacket<'_>, out: &mut Vec<u8>) -> bool {
        let h = &packet.header;
        let is_audio = h.payload_type == self.from.pt;
        let is_dtmf = Some(h.payload_type) == self.from.dtmf_pt;
        let out_pt = if is_audio {
            self.to.pt
        } else if is_dtmf {
            match self.to.dtmf_pt {
                Some(pt) => pt,
                None => {
                    self.stats.dtmf_dropped += 1;
                    return false;
                }
            }
        } else {
            self.stats.other_dropped += 1;
            return false;
        };
        let mut marker = h.marker;
        if self.is_jump(h) {
            if self.source.is_some() {
                self.stats.rebases += 1;
            }
            // Continue our numbering right after the last packet we sent.
            self.ts_offset = self.last_out.0.wrapping_add(160).wrapping_sub(h.timestamp);
            self.seq_offset = self.last_out.1.wrapping_add(1).wrapping_sub(h.sequence);
            marker = true;
        }
        self.source = Some((h.ssrc, h.timestamp, h.sequence));
        let header = RtpHeader {
            marker,
            payload_type: out_pt,
            sequence: h.sequence.wrapping_add(self.seq_offset),
            timestamp: h.timestamp.wrapping_add(self.ts_offset),
            ssrc: self.ssrc,
            csrc: Vec::new(),
            extension: None,
        };
        // Only newer packets advance the continuation point.
        if header.sequence.wrapping_sub(self.last_out.1) < 0x8000 {
            self.last_out = (header.timestamp, header.sequence);
        }
        let ok = match (&self.transcoder, is_audio) {
            (Some(t), true) => {
                let mut payload = packet.payload.to_vec();
                t.apply(&mut payload);
                self.stats.transcoded += 1;
                header.write(&payload, 0, out).is_ok()
            }
            _ => header.write(packet.payload, 0, out).is_ok(),
        };
        if is_audio {
            self.stats.audio += 1;
        } else {
            self.stats.dtmf += 1;
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::g711::{linear_to_alaw, ulaw_to_linear};

    const U: LegFormat = LegFormat {
        codec: Law::Ulaw,
        pt: 0,
        dtmf_pt: Some(101),
    };
    const A: LegFormat = LegFormat {
        codec: Law::Alaw,
        pt: 8,
        dtmf_pt: Some(96),
    };

    fn pkt(ssrc: u32, seq: u16, ts: u32, pt: u8, payload: &[u8]) -> Vec<u8> {
        RtpHeader {
            payload_type: pt,
            sequence: seq,
            timestamp: ts,
            ssrc,
            ..Default::default()
        }
        .to_vec(payload)
    }

    fn relay(r: &mut Relay, bytes: &[u8]) -> Option<RtpPacket<'static>> {
        let p = RtpPacket::parse(bytes).unwrap();
        let mut out = Vec::new();
        if !r.relay(&p, &mut out) {
            return None;
        }
        let leaked: &'static [u8] = Box::leak(out.into_boxed_slice());
        Some(RtpPacket::parse(leaked).unwrap())
    }

    #[test]
    fn transcodes_and_restamps() {
        let mut r = Relay::with_ssrc(U, A, 0xAB, 1000, 50_000);
        let payload: Vec<u8> = (0..160).map(|i| i as u8).collect();
        let o = relay(&mut r, &pkt(7, 65_535, 4_000_000_000, 0, &payload)).unwrap();
        assert_eq!(
            (
                o.header.ssrc,
                o.header.sequence,
                o.header.timestamp,
                o.header.payload_type
            ),
            (0xAB, 1000, 50_000, 8)
        );
        assert!(o.header.marker);
        let expect: Vec<u8> = payload
            .iter()
            .map(|&c| linear_to_alaw(ulaw_to_linear(c)))
            .collect();
        assert_eq!(o.payload, &expect[..]);
        // Loss of one packet is preserved in the outgoing numbering; seq wraps.
        let o = relay(&mut r, &pkt(7, 1, 4_000_000_320, 0, &payload)).unwrap();
        assert_eq!((o.header.sequence, o.header.timestamp), (1002, 50_320));
        assert!(!o.header.marker);
        assert_eq!(r.stats().transcoded, 2);
    }

    #[test]
    fn source_change_continues_outgoing_stream() {
        let mut r = Relay::with_ssrc(A, A, 1, 10, 1000);
        relay(&mut r, &pkt(5, 100, 0, 8, &[0xD5; 160])).unwrap();
        relay(&mut r, &pkt(5, 101, 160, 8, &[0xD5; 160])).unwrap();
        let o = relay(&mut r, &pkt(6, 9000, 777_777, 8, &[0xD5; 160])).unwrap();
        assert_eq!(
            (o.header.sequence, o.header.timestamp, o.header.ssrc),
            (12, 1320, 1)
        );
        assert!(o.header.marker);
        // A big timestamp jump on the same SSRC also re-bases.
        let o = relay(&mut r, &pkt(6, 9001, 9_000_000, 8, &[0xD5; 160])).unwrap();
        assert_eq!((o.header.sequence, o.header.timestamp), (13, 1480));
        assert_eq!(r.stats().rebases, 2);
        assert_eq!(r.stats().transcoded, 0);
    }

    #[test]
    fn dtmf_is_passed_with_target_pt_or_dropped() {
        let mut r = Relay::with_ssrc(U, A, 1, 0, 0);
        relay(&mut r, &pkt(5, 1, 160, 0, &[0xFF; 160])).unwrap();
        let o = relay(&mut r, &pkt(5, 2, 320, 101, &[5, 10, 0, 160])).unwrap();
        assert_eq!((o.header.payload_type, o.header.timestamp), (96, 160));
        assert_eq!(o.payload, &[5, 10, 0, 160]);
        let no_dtmf = LegFormat { dtmf_pt: None, ..A };
        let mut r2 = Relay::with_ssrc(U, no_dtmf, 1, 0, 0);
        assert!(relay(&mut r2, &pkt(5, 2, 320, 101, &[5, 10, 0, 160])).is_none());
        assert!(relay(&mut r2, &pkt(5, 3, 480, 13, &[0])).is_none());
        assert_eq!((r2.stats().dtmf_dropped, r2.stats().other_dropped), (1, 1));
    }
}
