//! A bridged call's recording holds what each side sent (R-REC-1): the caller and the staff
//! device each send their own pseudo-random noise (as RTP from pcaps, played by sipp). In the
//! stereo WAV, the left channel (caller) must cross-correlate with the caller's signal and
//! the right channel (what the caller heard: the device) with the device's, each close to 1,
//! and neither with the other's.

use std::path::Path;

use madoguchi_tests::audio::{channels, finished_recordings, ulaw};
use madoguchi_tests::sipp::{Device, Sipp};
use madoguchi_tests::{Server, ServerOptions};

/// `seconds` of pseudo-random noise (a 32-bit LCG from `seed`), loud enough to survive G.711.
fn noise(seed: u32, seconds: u32) -> Vec<i16> {
    let mut x = seed;
    (0..seconds * 8000)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((x >> 16) as i16) / 4
        })
        .collect()
}

/// Writes a pcap (Ethernet/IPv4/UDP/RTP) of `samples` as µ-law at 20 ms packets; sipp's
/// `play_pcap_audio` replays its RTP to the call's negotiated media address.
fn write_pcap(path: &Path, samples: &[i16], ssrc: u32) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    for (n, frame) in samples.chunks_exact(160).enumerate() {
        let n = n as u32;
        let mut rtp = vec![0x80, if n == 0 { 0x80 } else { 0x00 }];
        rtp.extend_from_slice(&(n as u16).to_be_bytes());
        rtp.extend_from_slice(&(n * 160).to_be_bytes());
        rtp.extend_from_slice(&ssrc.to_be_bytes());
        rtp.extend(frame.iter().map(|&x| ulaw(x)));
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

/// The highest normalised cross-correlation of `reference` with `channel` over every lag.
fn best_correlation(channel: &[f64], reference: &[f64]) -> (f64, usize) {
    let n = reference.len();
    if channel.len() < n {
        return (0.0, 0);
    }
    let r_energy: f64 = reference.iter().map(|v| v * v).sum();
    // The window's energy, kept as a running sum.
    let mut w_energy: f64 = channel[..n].iter().map(|v| v * v).sum();
    let mut best = (0.0, 0);
    for lag in 0..=channel.len() - n {
        if lag > 0 {
            w_energy += channel[lag + n - 1].powi(2) - channel[lag - 1].powi(2);
        }
        let window = &channel[lag..lag + n];
        if w_energy <= 1e-9 {
            continue;
        }
        let dot: f64 = window.iter().zip(reference).map(|(a, b)| a * b).sum();
        let c = dot / (r_energy * w_energy).sqrt();
        if c > best.0 {
            best = (c, lag);
        }
    }
    best
}

#[test]
fn each_channel_of_the_recording_holds_what_that_side_sent() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let caller_sent = noise(0x1111, 2);
    let device_sent = noise(0x2222, 2);
    write_pcap(
        &work.path().join("caller-tone.pcap"),
        &caller_sent,
        0x1111_1111,
    );
    write_pcap(
        &work.path().join("device-tone.pcap"),
        &device_sent,
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
    // Half a second from the middle of what each side sent, searched for in each channel.
    let part = |x: &[i16]| -> Vec<f64> { x[4000..8000].iter().map(|&v| v as f64).collect() };
    let (caller_ref, device_ref) = (part(&caller_sent), part(&device_sent));
    let (left_caller, lag_l) = best_correlation(&left, &caller_ref);
    let (right_device, lag_r) = best_correlation(&right, &device_ref);
    let (left_device, _) = best_correlation(&left, &device_ref);
    let (right_caller, _) = best_correlation(&right, &caller_ref);
    println!(
        "left~caller {left_caller:.3} at {} ms, right~device {right_device:.3} at {} ms; \
         left~device {left_device:.3}, right~caller {right_caller:.3}",
        lag_l / 8,
        lag_r / 8
    );
    assert!(
        left_caller > 0.95,
        "left channel (caller): {left_caller:.3}"
    );
    assert!(
        right_device > 0.95,
        "right channel (staff side): {right_device:.3}"
    );
    assert!(
        left_device < 0.2,
        "the staff side leaked into the left channel"
    );
    assert!(
        right_caller < 0.2,
        "the caller leaked into the right channel"
    );
    // Both sides started sending at the answer: their audio sits at the same place in the
    // file (a timeline, not two streams appended), within 100 ms.
    assert!(
        lag_l.abs_diff(lag_r) < 800,
        "channels out of step: {} ms apart",
        lag_l.abs_diff(lag_r) / 8
    );
}
