//! Real captures shipped by SIPp (`apt-get install sip-tester`):
//! `g711a.pcap` is speech/audio in A-law and must yield NO in-band digits;
//! `dtmf_2833_*.pcap` are RFC 2833/4733 key presses and must yield exactly
//! their digit. Skipped (with a message) when the package is not installed.

use madoguchi_media::dtmf::{EventReceiver, InbandDetector, InbandEvent};
use madoguchi_media::g711::Law;
use madoguchi_media::rtp::RtpPacket;
use std::path::Path;
use std::time::{Duration, Instant};

const DIR: &str = "/usr/share/sip-tester";

/// UDP payloads of a classic pcap file (Ethernet, Linux SLL, raw or null link types; IPv4/IPv6).
fn udp_payloads(data: &[u8]) -> Vec<(u64, Vec<u8>)> {
    assert!(data.len() >= 24, "pcap too short");
    let le = match &data[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        m => panic!("not a pcap: {m:?}"),
    };
    let u32_at = |b: &[u8], i: usize| {
        let a = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let linktype = u32_at(data, 20);
    let mut out = Vec::new();
    let mut pos = 24;
    while pos + 16 <= data.len() {
        let usec = u32_at(data, pos) as u64 * 1_000_000 + u32_at(data, pos + 4) as u64;
        let incl = u32_at(data, pos + 8) as usize;
        pos += 16;
        if pos + incl > data.len() {
            break;
        }
        let frame = &data[pos..pos + incl];
        pos += incl;
        let l3 = match linktype {
            1 if frame.len() > 14 => {
                let et = u16::from_be_bytes([frame[12], frame[13]]);
                if et == 0x8100 {
                    &frame[18..]
                } else {
                    &frame[14..]
                }
            }
            113 if frame.len() > 16 => &frame[16..],
            0 if frame.len() > 4 => &frame[4..],
            101 => frame,
            _ => continue,
        };
        let (proto, l4) = match l3.first().map(|b| b >> 4) {
            Some(4) if l3.len() >= 20 => {
                let ihl = (l3[0] & 0x0F) as usize * 4;
                (l3[9], l3.get(ihl..).unwrap_or(&[]))
            }
            Some(6) if l3.len() >= 40 => (l3[6], &l3[40..]),
            _ => continue,
        };
        if proto != 17 || l4.len() < 8 {
            continue;
        }
        let ulen = u16::from_be_bytes([l4[4], l4[5]]) as usize;
        let end = ulen.clamp(8, l4.len());
        out.push((usec, l4[8..end].to_vec()));
    }
    out
}

fn read(name: &str) -> Option<Vec<u8>> {
    let p = Path::new(DIR).join(name);
    match std::fs::read(&p) {
        Ok(d) => Some(d),
        Err(_) => {
            eprintln!(
                "SKIPPED: {} not found (apt-get install -y sip-tester)",
                p.display()
            );
            None
        }
    }
}

#[test]
fn g711a_capture_yields_no_inband_digits() {
    let Some(data) = read("g711a.pcap") else {
        return;
    };
    let mut det = InbandDetector::new();
    let mut events = Vec::new();
    let mut samples = 0usize;
    for (_, udp) in udp_payloads(&data) {
        let Ok(p) = RtpPacket::parse(&udp) else {
            continue;
        };
        if p.header.payload_type != 8 {
            continue;
        }
        samples += p.payload.len();
        det.process_g711(Law::Alaw, p.payload, &mut events);
    }
    assert!(
        samples > 8000 * 5,
        "expected several seconds of audio, got {samples} samples"
    );
    assert_eq!(events, Vec::<InbandEvent>::new());
    eprintln!(
        "g711a.pcap: {:.1} s of A-law audio, no digits",
        samples as f64 / 8000.0
    );
}

#[test]
fn rfc2833_captures_yield_their_digit_once() {
    let cases = [
        ("0", '0'),
        ("1", '1'),
        ("2", '2'),
        ("3", '3'),
        ("4", '4'),
        ("5", '5'),
        ("6", '6'),
        ("7", '7'),
        ("8", '8'),
        ("9", '9'),
        ("pound", '#'),
        ("star", '*'),
    ];
    let t0 = Instant::now();
    for (name, want) in cases {
        let Some(data) = read(&format!("dtmf_2833_{name}.pcap")) else {
            return;
        };
        let pkts = udp_payloads(&data);
        let first = pkts.first().map_or(0, |p| p.0);
        let mut rx = EventReceiver::new();
        let mut got = Vec::new();
        let mut last = t0;
        for (usec, udp) in &pkts {
            let Ok(p) = RtpPacket::parse(udp) else {
                continue;
            };
            last = t0 + Duration::from_micros(usec - first);
            if let Some(e) = rx.on_packet(p.header.timestamp, p.payload, last) {
                got.push(e.digit);
            }
        }
        if let Some(e) = rx.poll(last + Duration::from_secs(1)) {
            got.push(e.digit);
        }
        assert_eq!(
            got,
            vec![want],
            "dtmf_2833_{name}.pcap ({} packets)",
            pkts.len()
        );
    }
}
