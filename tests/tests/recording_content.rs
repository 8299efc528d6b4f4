//! A bridged call's recording holds what each side sent (R-REC-1): the caller plays a
//! 440 Hz tone, the staff device a 1000 Hz tone (as RTP from pcaps, played by sipp); in the
//! stereo WAV the left channel (caller) must be dominated by 440 Hz and the right channel
//! (what the caller heard: the device) by 1000 Hz.

use std::f64::consts::PI;
use std::path::Path;

use madoguchi_tests::audio::{channels, finished_recordings, power};
use madoguchi_tests::sipp::{Device, Sipp};
use madoguchi_tests::{Server, ServerOptions};

/// G.711 µ-law encoding of one sample (ITU-T G.711).
fn ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    let mut s = sample as i32;
    let sign = if s < 0 { 0x80 } else { 0 };
    if s < 0 {
        s = -s;
    }
    s = (s + BIAS).min(32635 + BIAS);
    let mut exp = 7;
    while exp > 0 && s & (0x4000 >> (7 - exp)) == 0 {
        exp -= 1;
    }
    let mantissa = (s >> (exp + 3)) & 0x0f;
    !(sign | (exp << 4) | mantissa) as u8
}

/// Writes a pcap (Ethernet/IPv4/UDP/RTP) of `seconds` of a µ-law tone at 20 ms packets;
/// sipp's `play_pcap_audio` replays its RTP to the call's negotiated media address.
fn write_tone_pcap(path: &Path, freq: f64, seconds: u32, ssrc: u32) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    let packets = seconds * 50;
    for n in 0..packets {
        let mut rtp = vec![0x80, if n == 0 { 0x80 } else { 0x00 }];
        rtp.extend_from_slice(&(n as u16).to_be_bytes());
        rtp.extend_from_slice(&(n * 160).to_be_bytes());
        rtp.extend_from_slice(&ssrc.to_be_bytes());
        for i in 0..160 {
            let t = (n * 160 + i) as f64 / 8000.0;
            rtp.push(ulaw((8000.0 * (2.0 * PI * freq * t).sin()) as i16));
        }
        let udp_len = 8 + rtp.len();
        let ip_len = 20 + udp_len;
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(&[
            0x45,
            0,
            (ip_len >> 8) as u8,
            ip_len as u8,
            0,
            0,
            0x40,
            0,
            64,
            17,
            0,
            0,
        ]);
        frame.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
        frame.extend_from_slice(&[
            0x9c,
            0x40,
            0x9c,
            0x42,
            (udp_len >> 8) as u8,
            udp_len as u8,
            0,
            0,
        ]);
        frame.extend_from_slice(&rtp);
        let usec = n as u64 * 20_000;
        out.extend_from_slice(&((usec / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((usec % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&frame);
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn each_channel_of_the_recording_holds_what_that_side_sent() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    write_tone_pcap(&work.path().join("caller-tone.pcap"), 440.0, 2, 0x1111_1111);
    write_tone_pcap(
        &work.path().join("device-tone.pcap"),
        1000.0,
        2,
        0x2222_2222,
    );
    let server = Server::start(ServerOptions {
        data: Some(data.path().to_path_buf()),
        ..ServerOptions::default()
    })
    .unwrap();
    let desk = Device::start(
        server.sip,
        "1001",
        "zama1001",
        Sipp::new("device_tone.xml", server.sip)
            .set("answer_ms", "0")
            .cwd(work.path()),
    )
    .unwrap();
    Sipp::new("caller_tone.xml", server.sip)
        .service("1001")
        .set("hold_ms", "3000")
        .cwd(work.path())
        .run()
        .unwrap();
    desk.finish().unwrap();
    let file = finished_recordings(&data.path().join("recordings"), 1).remove(0);
    let (left, right) = channels(&file);
    let (l440, l1000) = (power(&left, 440.0), power(&left, 1000.0));
    let (r440, r1000) = (power(&right, 440.0), power(&right, 1000.0));
    println!("left: 440 Hz {l440:.3e}, 1000 Hz {l1000:.3e}; right: 440 Hz {r440:.3e}, 1000 Hz {r1000:.3e}");
    assert!(
        l440 > 20.0 * l1000,
        "left channel (caller) should carry the 440 Hz tone"
    );
    assert!(
        r1000 > 20.0 * r440,
        "right channel (staff side) should carry the 1000 Hz tone"
    );
    assert!(
        l440 > 20.0 * r440,
        "the caller's tone must not leak into the right channel"
    );
    assert!(
        r1000 > 20.0 * l1000,
        "the staff tone must not leak into the left channel"
    );
}
