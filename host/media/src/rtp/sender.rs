//! Outgoing RTP stream state for one leg: SSRC, sequence, timestamp, marker.

use super::packet::RtpHeader;
use rand::Rng;

/// Builds the RTP packets of one outgoing stream.
///
/// SSRC, first sequence number and first timestamp are random (RFC 3550
/// §5.1, makes known-plaintext attacks and cross-call confusion harder).
/// The marker bit is set on the first audio packet after the stream starts
/// and after every [`RtpSender::skip`] (talkspurt start, RFC 3551 §4.1).
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    seq: u16,
    timestamp: u32,
    payload_type: u8,
    talkspurt_start: bool,
    packets: u32,
    octets: u32,
}

impl RtpSender {
    /// New stream with random SSRC, sequence and timestamp.
    pub fn new(payload_type: u8) -> Self {
        let mut rng = rand::thread_rng();
        Self::with_initial(payload_type, rng.gen(), rng.gen(), rng.gen())
    }

    /// New stream with given initial values (tests, or to continue a stream).
    pub fn with_initial(payload_type: u8, ssrc: u32, seq: u16, timestamp: u32) -> Self {
        RtpSender {
            ssrc,
            seq,
            timestamp,
            payload_type,
            talkspurt_start: true,
            packets: 0,
            octets: 0,
        }
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Timestamp the next audio packet will carry.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    /// Sequence number the next packet will carry.
    pub fn sequence(&self) -> u16 {
        self.seq
    }

    /// Packets sent so far (for the RTCP sender report).
    pub fn packet_count(&self) -> u32 {
        self.packets
    }

    /// Payload octets sent so far (for the RTCP sender report).
    pub fn octet_count(&self) -> u32 {
        self.octets
    }

    /// Build the next audio packet of `samples` samples into `out`, advancing
    /// sequence and timestamp.
    pub fn audio(&mut self, payload: &[u8], samples: u32, out: &mut Vec<u8>) {
        let marker = std::mem::replace(&mut self.talkspurt_start, false);
        let (pt, ts) = (self.payload_type, self.timestamp);
        self.raw(pt, ts, marker, payload, out);
        self.timestamp = self.timestamp.wrapping_add(samples);
    }

    /// Advance the timestamp without sending (silence suppression, paced
    /// packets skipped after a late wake-up, or time covered by DTMF events).
    /// The next audio packet gets the marker bit.
    pub fn skip(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
        self.talkspurt_start = true;
    }

    /// Build a packet with explicit payload type, timestamp and marker (RFC
    /// 4733 events reuse the event's start timestamp). Sequence advances;
    /// the audio timestamp does not.
    pub fn raw(
        &mut self,
        payload_type: u8,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) {
        let header = RtpHeader {
            marker,
            payload_type: payload_type & 0x7F,
            sequence: self.seq,
            timestamp,
            ssrc: self.ssrc,
            csrc: Vec::new(),
            extension: None,
        };
        // Cannot fail: no CSRCs, PT masked to 7 bits, no padding.
        let _ = header.write(payload, 0, out);
        self.seq = self.seq.wrapping_add(1);
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload.len() as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::RtpPacket;

    #[test]
    fn marker_on_talkspurt_start_and_wrapping() {
        let mut s = RtpSender::with_initial(0, 42, 0xFFFF, u32::MAX - 100);
        let mut out = Vec::new();
        s.audio(&[0xFF; 160], 160, &mut out);
        let p = RtpPacket::parse(&out).unwrap();
        assert!(p.header.marker);
        assert_eq!(
            (p.header.sequence, p.header.timestamp, p.header.ssrc),
            (0xFFFF, u32::MAX - 100, 42)
        );
        s.audio(&[0xFF; 160], 160, &mut out);
        let p = RtpPacket::parse(&out).unwrap();
        assert!(!p.header.marker);
        assert_eq!((p.header.sequence, p.header.timestamp), (0, 59));
        s.skip(320);
        s.audio(&[0xFF; 160], 160, &mut out);
        let p = RtpPacket::parse(&out).unwrap();
        assert!(p.header.marker);
        assert_eq!((p.header.sequence, p.header.timestamp), (1, 59 + 160 + 320));
        assert_eq!((s.packet_count(), s.octet_count()), (3, 480));
    }

    #[test]
    fn random_start_differs() {
        let a = RtpSender::new(0);
        let b = RtpSender::new(0);
        assert!(
            a.ssrc() != b.ssrc() || a.timestamp() != b.timestamp() || a.sequence() != b.sequence()
        );
    }
}
