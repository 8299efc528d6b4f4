//! Reading what the server recorded: finished WAV files and the power of a tone in a channel.

use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Waits (up to 30 s, for a loaded host) until `dir` holds at least `count` finished
/// recordings (`*.wav`, not `*.wav.part`) and returns them sorted.
pub fn finished_recordings(dir: &Path, count: usize) -> Vec<PathBuf> {
    let t0 = Instant::now();
    loop {
        let mut wavs: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        wavs.retain(|p| p.extension().is_some_and(|x| x == "wav"));
        if wavs.len() >= count {
            wavs.sort();
            return wavs;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "{count} recordings not finished in {}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The WAV bytes of a finished recording in `DATA/recordings/`: a sealed one is decrypted
/// (and authenticated) with the recordings key derived from `DATA/master.key`, the way the
/// server and `madoguchi recording export` read it.
pub fn recording_wav(path: &Path) -> Vec<u8> {
    try_recording_wav(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// As [`recording_wav`], with the refusal (tampered, wrong key) as an error.
pub fn try_recording_wav(path: &Path) -> Result<Vec<u8>, String> {
    use madoguchi_media::recording::{open_recording, RecordingKey};
    let dir = path.parent().expect("a file in the recordings directory");
    let data = dir
        .parent()
        .expect("the recordings directory in the data directory");
    let key = madoguchi_store::MasterKey::read_file(&data.join("master.key"))
        .ok()
        .map(|k| RecordingKey::new(k.derive("recordings")));
    let cap = cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority())
        .map_err(|e| e.to_string())?;
    let name = path.file_name().unwrap().to_string_lossy();
    open_recording(&cap, &name, key.as_ref())
        .map_err(|e| e.to_string())?
        .read_all()
        .map_err(|e| e.to_string())
}

/// The left and right channels of a recording (8 kHz 16-bit stereo WAV, sealed or not).
pub fn channels(path: &Path) -> (Vec<f64>, Vec<f64>) {
    let b = recording_wav(path);
    let data = b.windows(4).position(|w| w == b"data").expect("data chunk") + 8;
    let (mut l, mut r) = (Vec::new(), Vec::new());
    for f in b[data..].chunks_exact(4) {
        l.push(i16::from_le_bytes([f[0], f[1]]) as f64);
        r.push(i16::from_le_bytes([f[2], f[3]]) as f64);
    }
    (l, r)
}

/// Power of one frequency in an 8 kHz signal (single-bin DFT).
pub fn power(samples: &[f64], freq: f64) -> f64 {
    let (mut re, mut im) = (0.0, 0.0);
    for (i, s) in samples.iter().enumerate() {
        let w = 2.0 * PI * freq * i as f64 / 8000.0;
        re += s * w.cos();
        im += s * w.sin();
    }
    (re * re + im * im) / samples.len().max(1) as f64
}

/// A sine tone as an 8 kHz mono 16-bit PCM WAV file (prompts for test scenarios).
pub fn tone_wav(freq: f64, ms: u32) -> Vec<u8> {
    let samples: Vec<i16> = (0..ms as usize * 8)
        .map(|i| (6000.0 * (i as f64 * 2.0 * std::f64::consts::PI * freq / 8000.0).sin()) as i16)
        .collect();
    let len = (samples.len() * 2) as u32;
    let mut w = Vec::with_capacity(44 + len as usize);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + len).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes()); // PCM
    w.extend_from_slice(&1u16.to_le_bytes()); // mono
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&16000u32.to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&len.to_le_bytes());
    for s in samples {
        w.extend_from_slice(&s.to_le_bytes());
    }
    w
}

/// G.711 µ-law decoding of one byte (ITU-T G.711), the inverse of [`ulaw`]. Written here
/// rather than taken from `madoguchi_media::g711`: what the host sent is checked with
/// code that is not the host's own (so is `rtp_sink::parse_rtp`).
pub fn ulaw_to_linear(byte: u8) -> i16 {
    let b = !byte;
    let exp = (b >> 4) & 0x07;
    let mantissa = i32::from(b & 0x0f);
    let magnitude = (((mantissa << 3) + 0x84) << exp) - 0x84;
    if b & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// G.711 µ-law encoding of one sample (ITU-T G.711).
pub fn ulaw(sample: i16) -> u8 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_decodes_what_it_encodes_within_a_step() {
        for s in (-32000i32..32000).step_by(37) {
            let back = i32::from(ulaw_to_linear(ulaw(s as i16)));
            // µ-law steps grow with the magnitude: at most 1/16 of it, plus the bias.
            assert!(
                (back - s).abs() <= s.abs() / 16 + 8,
                "{s} came back as {back}"
            );
        }
        assert_eq!(ulaw_to_linear(0xff), 0);
        assert_eq!(ulaw_to_linear(0x7f), 0);
    }
}
