//! RTCP sender and receiver reports (RFC 3550 §6.4) plus the SDES CNAME that
//! every compound packet must carry. Other packet types are skipped.

/// Why a datagram is not a valid RTCP compound packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtcpError {
    /// Shorter than one 4-byte RTCP header, or a length field points past the end.
    #[error("RTCP packet truncated")]
    Truncated,
    /// Version field is not 2.
    #[error("unsupported RTCP version {0}")]
    BadVersion(u8),
    /// An SR/RR claims more report blocks than its length holds.
    #[error("report count {0} does not fit the packet length")]
    BadReportCount(u8),
}

/// One reception report block (24 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// SSRC of the source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed on the wire).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles << 16 | seq).
    pub highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received (0 if none).
    pub lsr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub dlsr: u32,
}

/// Sender information of an SR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// 64-bit NTP timestamp (seconds since 1900 << 32 | fraction).
    pub ntp: u64,
    /// RTP timestamp corresponding to `ntp`.
    pub rtp_timestamp: u32,
    /// Packets sent.
    pub packet_count: u32,
    /// Payload octets sent.
    pub octet_count: u32,
}

/// One packet of a compound RTCP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket {
    /// SR (PT 200).
    SenderReport {
        /// Sender SSRC.
        ssrc: u32,
        /// Sender information.
        info: SenderInfo,
        /// Reception reports.
        reports: Vec<ReportBlock>,
    },
    /// RR (PT 201).
    ReceiverReport {
        /// Reporter SSRC.
        ssrc: u32,
        /// Reception reports.
        reports: Vec<ReportBlock>,
    },
    /// SDES, BYE, APP, feedback...: recognised and skipped.
    Other {
        /// RTCP packet type.
        packet_type: u8,
    },
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn parse_block(b: &[u8]) -> ReportBlock {
    // 24-bit signed cumulative loss: shift into the top of an i32 and back.
    let lost = ((be32(&b[4..8]) << 8) as i32) >> 8;
    ReportBlock {
        ssrc: be32(&b[0..4]),
        fraction_lost: b[4],
        cumulative_lost: lost,
        highest_seq: be32(&b[8..12]),
        jitter: be32(&b[12..16]),
        lsr: be32(&b[16..20]),
        dlsr: be32(&b[20..24]),
    }
}

fn parse_blocks(body: &[u8], count: u8) -> Result<Vec<ReportBlock>, RtcpError> {
    let need = count as usize * 24;
    if body.len() < need {
        return Err(RtcpError::BadReportCount(count));
    }
    Ok(body[..need].chunks_exact(24).map(parse_block).collect())
}

/// Parse a compound RTCP datagram. Never panics.
pub fn parse_compound(buf: &[u8]) -> Result<Vec<RtcpPacket>, RtcpError> {
    let mut out = Vec::new();
    let mut rest = buf;
    if rest.is_empty() {
        return Err(RtcpError::Truncated);
    }
    while !rest.is_empty() {
        if rest.len() < 4 {
            return Err(RtcpError::Truncated);
        }
        let version = rest[0] >> 6;
        if version != 2 {
            return Err(RtcpError::BadVersion(version));
        }
        let count = rest[0] & 0x1F;
        let pt = rest[1];
        let len = (u16::from_be_bytes([rest[2], rest[3]]) as usize + 1) * 4;
        if rest.len() < len {
            return Err(RtcpError::Truncated);
        }
        let pkt = &rest[..len];
        match pt {
            200 => {
                if pkt.len() < 28 {
                    return Err(RtcpError::Truncated);
                }
                let info = SenderInfo {
                    ntp: ((be32(&pkt[8..12]) as u64) << 32) | be32(&pkt[12..16]) as u64,
                    rtp_timestamp: be32(&pkt[16..20]),
                    packet_count: be32(&pkt[20..24]),
                    octet_count: be32(&pkt[24..28]),
                };
                out.push(RtcpPacket::SenderReport {
                    ssrc: be32(&pkt[4..8]),
                    info,
                    reports: parse_blocks(&pkt[28..], count)?,
                });
            }
            201 => {
                if pkt.len() < 8 {
                    return Err(RtcpError::Truncated);
                }
                out.push(RtcpPacket::ReceiverReport {
                    ssrc: be32(&pkt[4..8]),
                    reports: parse_blocks(&pkt[8..], count)?,
                });
            }
            other => out.push(RtcpPacket::Other { packet_type: other }),
        }
        rest = &rest[len..];
    }
    Ok(out)
}

fn push_block(out: &mut Vec<u8>, b: &ReportBlock) {
    out.extend_from_slice(&b.ssrc.to_be_bytes());
    let lost = (b.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32) & 0x00FF_FFFF;
    out.extend_from_slice(&((b.fraction_lost as u32) << 24 | lost).to_be_bytes());
    out.extend_from_slice(&b.highest_seq.to_be_bytes());
    out.extend_from_slice(&b.jitter.to_be_bytes());
    out.extend_from_slice(&b.lsr.to_be_bytes());
    out.extend_from_slice(&b.dlsr.to_be_bytes());
}

/// Build a compound report: SR (if `sender` is given) or RR, followed by
/// SDES with our CNAME. At most 31 blocks are used.
pub fn build_report(
    ssrc: u32,
    sender: Option<SenderInfo>,
    blocks: &[ReportBlock],
    cname: &str,
) -> Vec<u8> {
    let blocks = &blocks[..blocks.len().min(31)];
    let mut out = Vec::with_capacity(64 + 24 * blocks.len());
    let words = if sender.is_some() { 6 } else { 1 } + 6 * blocks.len();
    out.push(0x80 | blocks.len() as u8);
    out.push(if sender.is_some() { 200 } else { 201 });
    out.extend_from_slice(&(words as u16).to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    if let Some(s) = sender {
        out.extend_from_slice(&s.ntp.to_be_bytes());
        out.extend_from_slice(&s.rtp_timestamp.to_be_bytes());
        out.extend_from_slice(&s.packet_count.to_be_bytes());
        out.extend_from_slice(&s.octet_count.to_be_bytes());
    }
    for b in blocks {
        push_block(&mut out, b);
    }
    // SDES: one chunk, CNAME item, terminated and padded to 32 bits.
    let cname = &cname.as_bytes()[..cname.len().min(255)];
    let chunk_len = 4 + 2 + cname.len() + 1;
    let padded = chunk_len.div_ceil(4) * 4;
    out.push(0x81);
    out.push(202);
    out.extend_from_slice(&((padded / 4) as u16).to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.push(1);
    out.push(cname.len() as u8);
    out.extend_from_slice(cname);
    out.resize(out.len() + padded - chunk_len + 1, 0);
    out
}

/// Middle 32 bits of an NTP timestamp (the LSR value).
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sr_round_trip_with_sdes() {
        let block = ReportBlock {
            ssrc: 9,
            fraction_lost: 25,
            cumulative_lost: -3,
            highest_seq: 0x0001_0005,
            jitter: 77,
            lsr: 0xABCD_0000,
            dlsr: 65536,
        };
        let info = SenderInfo {
            ntp: 0x1122_3344_5566_7788,
            rtp_timestamp: 1234,
            packet_count: 50,
            octet_count: 8000,
        };
        let buf = build_report(7, Some(info), &[block], "madoguchi@example");
        assert_eq!(buf.len() % 4, 0);
        let pkts = parse_compound(&buf).unwrap();
        assert_eq!(
            pkts,
            vec![
                RtcpPacket::SenderReport {
                    ssrc: 7,
                    info,
                    reports: vec![block]
                },
                RtcpPacket::Other { packet_type: 202 }
            ]
        );
    }

    #[test]
    fn rr_round_trip_and_lost_clamp() {
        let block = ReportBlock {
            cumulative_lost: 50_000_000,
            ..Default::default()
        };
        let buf = build_report(1, None, &[block, block], "x");
        match &parse_compound(&buf).unwrap()[0] {
            RtcpPacket::ReceiverReport { ssrc, reports } => {
                assert_eq!(*ssrc, 1);
                assert_eq!(reports.len(), 2);
                assert_eq!(reports[0].cumulative_lost, 0x7F_FFFF);
            }
            p => panic!("unexpected {p:?}"),
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let good = build_report(
            1,
            Some(SenderInfo::default()),
            &[ReportBlock::default()],
            "cn",
        );
        for n in 0..good.len() {
            let r = parse_compound(&good[..n]);
            assert!(r.is_err() || n % 4 == 0, "prefix {n}");
        }
        let mut bad_count = good.clone();
        bad_count[0] = 0x80 | 5;
        assert_eq!(
            parse_compound(&bad_count),
            Err(RtcpError::BadReportCount(5))
        );
        assert_eq!(
            parse_compound(&[0x40, 200, 0, 0]),
            Err(RtcpError::BadVersion(1))
        );
    }

    #[test]
    fn mutated_reports_never_panic() {
        let good = build_report(
            1,
            Some(SenderInfo::default()),
            &[ReportBlock::default(); 3],
            "cname",
        );
        let mut x: u32 = 0xDEAD_BEEF;
        for _ in 0..20_000 {
            let mut m = good.clone();
            for _ in 0..(x % 4 + 1) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let i = x as usize % m.len();
                m[i] = (x >> 8) as u8;
            }
            let cut = (x >> 3) as usize % (m.len() + 1);
            let _ = parse_compound(&m[..cut]);
        }
    }
}
