//! RTP fixed header, CSRC list, header extension and padding (RFC 3550 §5.1).

/// Why a datagram is not an acceptable RTP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtpError {
    /// Shorter than the 12-byte fixed header.
    #[error("packet too short for an RTP header: {0} bytes")]
    TooShort(usize),
    /// Version field is not 2.
    #[error("unsupported RTP version {0}")]
    BadVersion(u8),
    /// The CSRC count claims more identifiers than the packet holds.
    #[error("CSRC list truncated")]
    CsrcTruncated,
    /// The X bit is set but the extension header or its body is cut short.
    #[error("header extension truncated")]
    ExtensionTruncated,
    /// The P bit is set but the padding count is 0 or exceeds the payload.
    #[error("invalid padding length {0}")]
    BadPadding(u8),
    /// Building: more than 15 CSRCs, an extension longer than 65535 words, or too much padding.
    #[error("header field out of range: {0}")]
    OutOfRange(&'static str),
}

/// RTP header extension (RFC 3550 §5.3.1): profile-defined id and body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RtpExtension {
    /// "defined by profile" 16-bit field (0xBEDE for RFC 8285 one-byte headers).
    pub profile: u16,
    /// Extension body; its length is a multiple of 4 on the wire.
    pub data: Vec<u8>,
}

/// The RTP header fields we read and write.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RtpHeader {
    /// M bit: start of a talkspurt for audio, start of an event for RFC 4733.
    pub marker: bool,
    /// 7-bit payload type.
    pub payload_type: u8,
    /// 16-bit sequence number.
    pub sequence: u16,
    /// Media timestamp (8000 Hz for G.711 and telephone-event).
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Contributing sources (empty in practice; never allocates when empty).
    pub csrc: Vec<u32>,
    /// Optional header extension.
    pub extension: Option<RtpExtension>,
}

/// A parsed RTP packet borrowing its payload from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// Header fields.
    pub header: RtpHeader,
    /// Payload with padding removed.
    pub payload: &'a [u8],
    /// Number of padding bytes that followed the payload (0 if P was clear).
    pub padding: u8,
}

/// Size of the fixed header.
pub const FIXED_HEADER_LEN: usize = 12;

/// True if the datagram looks like RTCP rather than RTP (RFC 5761 §4:
/// second byte 192..=223 is an RTCP packet type when multiplexed).
pub fn looks_like_rtcp(buf: &[u8]) -> bool {
    buf.len() >= 2 && buf[0] >> 6 == 2 && (192..=223).contains(&buf[1])
}

impl<'a> RtpPacket<'a> {
    /// Parse a datagram. Never panics; every malformed input is an [`RtpError`].
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        if buf.len() < FIXED_HEADER_LEN {
            return Err(RtpError::TooShort(buf.len()));
        }
        let version = buf[0] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let has_padding = buf[0] & 0x20 != 0;
        let has_ext = buf[0] & 0x10 != 0;
        let cc = (buf[0] & 0x0F) as usize;
        let marker = buf[1] & 0x80 != 0;
        let payload_type = buf[1] & 0x7F;
        let sequence = u16::from_be_bytes([buf[2], buf[3]]);
        let timestamp = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);

        let mut pos = FIXED_HEADER_LEN;
        let csrc_end = pos + 4 * cc;
        if buf.len() < csrc_end {
            return Err(RtpError::CsrcTruncated);
        }
        let csrc = buf[pos..csrc_end]
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        pos = csrc_end;

        let extension = if has_ext {
            if buf.len() < pos + 4 {
                return Err(RtpError::ExtensionTruncated);
            }
            let profile = u16::from_be_bytes([buf[pos], buf[pos + 1]]);
            let words = u16::from_be_bytes([buf[pos + 2], buf[pos + 3]]) as usize;
            let end = pos + 4 + 4 * words;
            if buf.len() < end {
                return Err(RtpError::ExtensionTruncated);
            }
            let data = buf[pos + 4..end].to_vec();
            pos = end;
            Some(RtpExtension { profile, data })
        } else {
            None
        };

        let mut end = buf.len();
        let mut padding = 0u8;
        if has_padding {
            // `end > pos` is not guaranteed: a header-only packet with P set is garbage.
            let count = buf[end - 1];
            if count == 0 || (count as usize) > end - pos {
                return Err(RtpError::BadPadding(count));
            }
            padding = count;
            end -= count as usize;
        }
        Ok(RtpPacket {
            header: RtpHeader {
                marker,
                payload_type,
                sequence,
                timestamp,
                ssrc,
                csrc,
                extension,
            },
            payload: &buf[pos..end],
            padding,
        })
    }
}

impl RtpHeader {
    /// Serialise header + payload (+ `padding` bytes, 0 for none) into `out` (cleared first).
    pub fn write(&self, payload: &[u8], padding: u8, out: &mut Vec<u8>) -> Result<(), RtpError> {
        if self.csrc.len() > 15 {
            return Err(RtpError::OutOfRange("more than 15 CSRCs"));
        }
        if self.payload_type > 127 {
            return Err(RtpError::OutOfRange("payload type above 127"));
        }
        out.clear();
        let mut b0 = 0x80 | self.csrc.len() as u8;
        if padding > 0 {
            b0 |= 0x20;
        }
        if self.extension.is_some() {
            b0 |= 0x10;
        }
        out.push(b0);
        out.push(((self.marker as u8) << 7) | self.payload_type);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        for c in &self.csrc {
            out.extend_from_slice(&c.to_be_bytes());
        }
        if let Some(ext) = &self.extension {
            let words = ext.data.len().div_ceil(4);
            let words16 =
                u16::try_from(words).map_err(|_| RtpError::OutOfRange("extension too long"))?;
            out.extend_from_slice(&ext.profile.to_be_bytes());
            out.extend_from_slice(&words16.to_be_bytes());
            out.extend_from_slice(&ext.data);
            out.resize(out.len() + words * 4 - ext.data.len(), 0);
        }
        out.extend_from_slice(payload);
        if padding > 0 {
            out.resize(out.len() + padding as usize - 1, 0);
            out.push(padding);
        }
        Ok(())
    }

    /// Convenience: serialise into a new vector.
    pub fn to_vec(&self, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(FIXED_HEADER_LEN + payload.len());
        // Only fails for >15 CSRCs / PT > 127, which callers of this helper never set.
        if self.write(payload, 0, &mut v).is_err() {
            v.clear();
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_header() -> RtpHeader {
        RtpHeader {
            marker: true,
            payload_type: 8,
            sequence: 0xFFFE,
            timestamp: 0xDEAD_BEEF,
            ssrc: 0x1234_5678,
            csrc: vec![],
            extension: None,
        }
    }

    #[test]
    fn round_trip_plain() {
        let h = sample_header();
        let bytes = h.to_vec(&[1, 2, 3]);
        assert_eq!(bytes.len(), 15);
        assert_eq!(&bytes[..2], &[0x80, 0x88]);
        let p = RtpPacket::parse(&bytes).unwrap();
        assert_eq!(p.header, h);
        assert_eq!(p.payload, &[1, 2, 3]);
        assert_eq!(p.padding, 0);
    }

    #[test]
    fn round_trip_csrc_extension_padding() {
        let mut h = sample_header();
        h.csrc = vec![1, 2, 3];
        h.extension = Some(RtpExtension {
            profile: 0xBEDE,
            data: vec![0x10, 0xAA, 0, 0],
        });
        let mut bytes = Vec::new();
        h.write(&[9; 160], 4, &mut bytes).unwrap();
        assert_eq!(bytes.len(), 12 + 12 + 8 + 160 + 4);
        let p = RtpPacket::parse(&bytes).unwrap();
        assert_eq!(p.header, h);
        assert_eq!(p.payload.len(), 160);
        assert_eq!(p.padding, 4);
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert_eq!(RtpPacket::parse(&[]), Err(RtpError::TooShort(0)));
        assert_eq!(RtpPacket::parse(&[0x80; 11]), Err(RtpError::TooShort(11)));
        let mut v1 = sample_header().to_vec(&[0; 4]);
        v1[0] = 0x40;
        assert_eq!(RtpPacket::parse(&v1), Err(RtpError::BadVersion(1)));
        let mut cc = sample_header().to_vec(&[0; 4]);
        cc[0] |= 0x03; // claims 3 CSRCs = 12 bytes, only 4 present
        assert_eq!(RtpPacket::parse(&cc), Err(RtpError::CsrcTruncated));
        let mut ext = sample_header().to_vec(&[0, 0, 0, 9]);
        ext[0] |= 0x10; // extension header says 9 words
        assert_eq!(RtpPacket::parse(&ext), Err(RtpError::ExtensionTruncated));
        let mut pad = sample_header().to_vec(&[0, 0, 200]);
        pad[0] |= 0x20;
        assert_eq!(RtpPacket::parse(&pad), Err(RtpError::BadPadding(200)));
        let mut pad0 = sample_header().to_vec(&[0, 0, 0]);
        pad0[0] |= 0x20;
        assert_eq!(RtpPacket::parse(&pad0), Err(RtpError::BadPadding(0)));
    }

    #[test]
    fn every_truncation_and_random_bytes_are_handled() {
        let mut h = sample_header();
        h.csrc = vec![7];
        h.extension = Some(RtpExtension {
            profile: 1,
            data: vec![1, 2, 3, 4, 5, 6, 7, 8],
        });
        let mut full = Vec::new();
        h.write(&[5; 20], 3, &mut full).unwrap();
        for n in 0..full.len() {
            // Must not panic; most prefixes are errors, some parse as shorter packets.
            let _ = RtpPacket::parse(&full[..n]);
        }
        let mut x: u32 = 0x9E37_79B9;
        for _ in 0..20_000 {
            let len = (x % 64) as usize;
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            if let Ok(p) = RtpPacket::parse(&buf) {
                assert!(p.payload.len() <= buf.len());
            }
        }
    }

    #[test]
    fn rtcp_demux() {
        assert!(looks_like_rtcp(&[0x80, 200, 0, 6]));
        assert!(!looks_like_rtcp(&[0x80, 0, 0, 6]));
        assert!(!looks_like_rtcp(&[0x80, 0x80 | 8]));
    }
}
