//! Caller (PCMU, telephone-event 101) bridged to staff (PCMA, telephone-event 96):
//! what the staff phone receives is one clean stream, even when the caller's
//! side changes SSRC mid-call, and a key press arrives exactly once.

use madoguchi_media::bridge::{LegFormat, Relay};
use madoguchi_media::dtmf::{encode_digit, EventReceiver};
use madoguchi_media::g711::Law;
use madoguchi_media::rtp::{Received, ReceiverConfig, RtpReceiver, RtpSender};
use std::time::{Duration, Instant};

#[test]
fn caller_to_staff_relay() {
    let caller = LegFormat {
        codec: Law::Ulaw,
        pt: 0,
        dtmf_pt: Some(101),
    };
    let staff = LegFormat {
        codec: Law::Alaw,
        pt: 8,
        dtmf_pt: Some(96),
    };
    let mut relay = Relay::new(caller, staff);
    let mut staff_rx = RtpReceiver::new(ReceiverConfig {
        audio_pt: 8,
        dtmf_pt: Some(96),
        clock_rate: 8000,
    });
    let mut staff_events = EventReceiver::new();
    let t0 = Instant::now();
    let tone: Vec<i16> = (0..160)
        .map(|n| (8000.0 * (n as f64 * 0.3).sin()) as i16)
        .collect();
    let ulaw: Vec<u8> = tone.iter().map(|&s| Law::Ulaw.encode(s)).collect();

    let mut phone = RtpSender::with_initial(0, 1, 100, 1000);
    let mut digits = Vec::new();
    let mut out = Vec::new();
    for tick in 0..200u64 {
        if tick == 100 {
            // Caller's SBC fails over: new SSRC, sequence and timestamp base.
            phone = RtpSender::with_initial(0, 2, 40_000, 9_999_999);
        }
        let now = t0 + Duration::from_millis(tick * 20);
        let mut datagrams = Vec::new();
        if (50..55).contains(&tick) {
            // Key '7' as RFC 4733 during ticks 50..55 (audio suppressed meanwhile).
            let start_ts = phone.timestamp();
            if tick == 50 {
                for p in encode_digit('7', start_ts, 100, 20, 10).unwrap() {
                    let mut b = Vec::new();
                    phone.raw(101, p.timestamp, p.marker, &p.event.to_bytes(), &mut b);
                    datagrams.push(b);
                }
            }
            phone.skip(160);
        } else {
            let mut b = Vec::new();
            phone.audio(&ulaw, 160, &mut b);
            datagrams.push(b);
        }
        for d in datagrams {
            let p = madoguchi_media::rtp::RtpPacket::parse(&d).unwrap();
            if !relay.relay(&p, &mut out) {
                continue;
            }
            match staff_rx.on_packet(&out, now) {
                Received::Media {
                    packet, dtmf: true, ..
                } => {
                    if let Some(e) =
                        staff_events.on_packet(packet.header.timestamp, packet.payload, now)
                    {
                        digits.push(e.digit);
                    }
                }
                Received::Media { packet, .. } => {
                    assert_eq!(packet.header.ssrc, relay.ssrc());
                    for (&a, &orig) in packet.payload.iter().zip(&tone) {
                        let decoded = Law::Alaw.decode(a) as i32;
                        assert!((decoded - orig as i32).abs() <= 600, "{decoded} vs {orig}");
                    }
                }
                Received::Dropped(r) => panic!("staff side dropped a relayed packet: {r:?}"),
            }
        }
    }
    assert_eq!(digits, vec!['7']);
    let s = staff_rx.stats();
    assert_eq!(
        (s.ssrc_changes, s.lost, s.duplicates, s.other_dropped),
        (0, 0, 0, 0)
    );
    assert_eq!(relay.stats().rebases, 1);
    assert_eq!(relay.stats().dtmf, 7);
}
