//! Test signals: pseudo-random noise, RTP pcaps for sipp, WAV files for Chromium's fake
//! microphone, and cross-correlation to find a signal in a recording.

use std::path::Path;

use crate::audio::ulaw;

/// `seconds` of pseudo-random noise (a 32-bit LCG from `seed`), loud enough to survive G.711.
pub fn noise(seed: u32, seconds: u32) -> Vec<i16> {
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
pub fn write_pcap(path: &Path, samples: &[i16], ssrc: u32) {
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
pub fn best_correlation(channel: &[f64], reference: &[f64]) -> (f64, usize) {
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

/// Writes `samples` as a mono 16-bit WAV at `rate` Hz (Chromium's `--use-file-for-fake-audio-capture`).
pub fn write_wav(path: &Path, samples: &[i16], rate: u32) {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, out).unwrap();
}
