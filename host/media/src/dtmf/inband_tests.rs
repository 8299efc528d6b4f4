//! Detector tests with generated signals: every key, noise, twist, timing,
//! and signals that must NOT produce digits (speech-like vowels, noise, chords).

use super::inband::{key_frequencies, InbandDetector, InbandEvent};
use super::DIGITS;
use std::f64::consts::PI;

struct Rng(u64);
impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Approximately Gaussian, unit variance.
    fn gauss(&mut self) -> f64 {
        (0..12).map(|_| self.uniform()).sum::<f64>() - 6.0
    }
}

fn tone(out: &mut Vec<f64>, digit: char, ms: usize, amp_row: f64, amp_col: f64) {
    let (fr, fc) = key_frequencies(digit).unwrap();
    let start = out.len();
    for n in 0..ms * 8 {
        let t = (start + n) as f64 / 8000.0;
        out.push(amp_row * (2.0 * PI * fr * t).sin() + amp_col * (2.0 * PI * fc * t + 0.3).sin());
    }
}

fn silence(out: &mut Vec<f64>, ms: usize) {
    out.extend(std::iter::repeat_n(0.0, ms * 8));
}

fn add_noise(sig: &mut [f64], rms: f64, seed: u64) {
    let mut r = Rng(seed);
    for s in sig {
        *s += rms * r.gauss();
    }
}

fn to_pcm(sig: &[f64]) -> Vec<i16> {
    sig.iter()
        .map(|&x| x.round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// Feeds in 20 ms frames, returns presses and releases.
fn run(pcm: &[i16]) -> (Vec<char>, usize) {
    let mut d = InbandDetector::new();
    let mut ev = Vec::new();
    for f in pcm.chunks(160) {
        d.process(f, &mut ev);
    }
    let presses = ev
        .iter()
        .filter_map(|e| match e {
            InbandEvent::Pressed { digit, .. } => Some(*digit),
            _ => None,
        })
        .collect();
    let releases = ev
        .iter()
        .filter(|e| matches!(e, InbandEvent::Released { .. }))
        .count();
    (presses, releases)
}

fn sequence(amp_row: f64, amp_col: f64, tone_ms: usize, gap_ms: usize) -> Vec<f64> {
    let mut s = Vec::new();
    silence(&mut s, 30);
    for d in DIGITS {
        tone(&mut s, d, tone_ms, amp_row, amp_col);
        silence(&mut s, gap_ms);
    }
    s
}

#[test]
fn all_16_keys_clean_and_noisy() {
    let clean = sequence(4000.0, 4000.0, 70, 60);
    assert_eq!(run(&to_pcm(&clean)), (DIGITS.to_vec(), 16));
    // Noise 20 dB below the combined tone power.
    let mut noisy = clean.clone();
    add_noise(&mut noisy, 400.0, 7);
    assert_eq!(run(&to_pcm(&noisy)).0, DIGITS.to_vec());
    // Quiet tones (about -25 dBm0 per tone) in noise.
    let mut quiet = sequence(1200.0, 1200.0, 70, 60);
    add_noise(&mut quiet, 120.0, 8);
    assert_eq!(run(&to_pcm(&quiet)).0, DIGITS.to_vec());
}

#[test]
fn generated_tones_are_detected() {
    let mut pcm = Vec::new();
    for d in DIGITS {
        pcm.extend(super::inband::generate_tone(d, 60, 5000).unwrap());
        pcm.extend(std::iter::repeat_n(0, 400));
    }
    assert_eq!(run(&pcm), (DIGITS.to_vec(), 16));
    assert!(super::inband::generate_tone('x', 60, 5000).is_none());
}

#[test]
fn through_g711() {
    for law in [crate::g711::Law::Ulaw, crate::g711::Law::Alaw] {
        let pcm = to_pcm(&sequence(3000.0, 3000.0, 60, 60));
        let codes: Vec<u8> = pcm.iter().map(|&s| law.encode(s)).collect();
        let mut d = InbandDetector::new();
        let mut ev = Vec::new();
        d.process_g711(law, &codes, &mut ev);
        let got: Vec<char> = ev
            .iter()
            .filter_map(|e| match e {
                InbandEvent::Pressed { digit, .. } => Some(*digit),
                _ => None,
            })
            .collect();
        assert_eq!(got, DIGITS.to_vec(), "{law:?}");
    }
}

#[test]
fn twist_within_spec_is_accepted() {
    let db = |x: f64| 10f64.powf(x / 20.0);
    // Reverse twist: row (low group) 4 dB stronger.
    let mut rev = sequence(3000.0 * db(4.0), 3000.0, 70, 60);
    add_noise(&mut rev, 200.0, 1);
    assert_eq!(run(&to_pcm(&rev)).0, DIGITS.to_vec());
    // Normal twist: row 8 dB weaker than column.
    let mut norm = sequence(3000.0 * db(-8.0), 3000.0, 70, 60);
    add_noise(&mut norm, 100.0, 2);
    assert_eq!(run(&to_pcm(&norm)).0, DIGITS.to_vec());
    // Far outside: 14 dB either way is rejected.
    assert!(run(&to_pcm(&sequence(3000.0 * db(14.0), 3000.0, 70, 60)))
        .0
        .is_empty());
    assert!(run(&to_pcm(&sequence(3000.0 * db(-14.0), 3000.0, 70, 60)))
        .0
        .is_empty());
}

#[test]
fn minimum_duration_and_alignment() {
    for offset in [0usize, 17, 50, 90, 101] {
        let mut s = Vec::new();
        silence(&mut s, 0);
        s.extend(std::iter::repeat_n(0.0, offset));
        tone(&mut s, '5', 40, 4000.0, 4000.0);
        silence(&mut s, 60);
        assert_eq!(
            run(&to_pcm(&s)).0,
            vec!['5'],
            "40 ms tone at offset {offset}"
        );
        let mut short = Vec::new();
        short.extend(std::iter::repeat_n(0.0, offset));
        tone(&mut short, '5', 20, 4000.0, 4000.0);
        silence(&mut short, 60);
        assert!(
            run(&to_pcm(&short)).0.is_empty(),
            "20 ms tone at offset {offset}"
        );
    }
}

#[test]
fn repeated_key_with_short_pause_and_long_press() {
    let mut s = Vec::new();
    for _ in 0..3 {
        tone(&mut s, '#', 50, 4000.0, 4000.0);
        silence(&mut s, 45);
    }
    tone(&mut s, '0', 2000, 4000.0, 4000.0);
    silence(&mut s, 50);
    assert_eq!(run(&to_pcm(&s)), (vec!['#', '#', '#', '0'], 4));
}

#[test]
fn frequency_deviation_of_1_5_percent_is_accepted() {
    for dev in [0.985, 1.015] {
        let mut s = Vec::new();
        for d in DIGITS {
            let (fr, fc) = key_frequencies(d).unwrap();
            let start = s.len();
            for n in 0..560 {
                let t = (start + n) as f64 / 8000.0;
                s.push(
                    3000.0 * (2.0 * PI * fr * dev * t).sin()
                        + 3000.0 * (2.0 * PI * fc * dev * t).sin(),
                );
            }
            silence(&mut s, 60);
        }
        assert_eq!(run(&to_pcm(&s)).0, DIGITS.to_vec(), "dev {dev}");
    }
}

/// Vowel-like signal: harmonics of a gliding f0 shaped by two formant resonances.
fn vowel(out: &mut Vec<f64>, f0_start: f64, f0_end: f64, f1: f64, f2: f64, ms: usize, amp: f64) {
    let n_samples = ms * 8;
    let mut phase = 0.0f64;
    for n in 0..n_samples {
        let frac = n as f64 / n_samples as f64;
        let f0 = f0_start
            + (f0_end - f0_start) * frac
            + 3.0 * (2.0 * PI * 5.0 * n as f64 / 8000.0).sin();
        phase += 2.0 * PI * f0 / 8000.0;
        let mut x = 0.0;
        let mut h = 1.0;
        while h * f0 < 3800.0 {
            let f = h * f0;
            let g = |fc: f64, bw: f64| 1.0 / (1.0 + ((f - fc) / bw).powi(2));
            let gain = (g(f1, 90.0) + 0.7 * g(f2, 110.0) + 0.05) / h.sqrt();
            x += gain * (h * phase).sin();
            h += 1.0;
        }
        out.push(amp * x);
    }
}

#[test]
fn no_false_digits_on_vowels() {
    let formants = [
        (730.0, 1090.0),
        (270.0, 2290.0),
        (300.0, 870.0),
        (530.0, 1840.0),
        (570.0, 840.0),
        (660.0, 1720.0),
        (850.0, 1220.0),
        (700.0, 1400.0),
    ];
    let mut s = Vec::new();
    let mut f0 = 85.0;
    while f0 < 320.0 {
        for &(f1, f2) in &formants {
            vowel(&mut s, f0, f0 * 1.08, f1, f2, 250, 2500.0);
        }
        f0 += 6.5;
    }
    let mut noisy = s.clone();
    add_noise(&mut noisy, 50.0, 3);
    assert!(s.len() > 8000 * 60, "at least a minute of vowels");
    assert_eq!(run(&to_pcm(&s)).0, Vec::<char>::new());
    assert_eq!(run(&to_pcm(&noisy)).0, Vec::<char>::new());
}

#[test]
fn no_false_digits_on_noise() {
    for (seed, rms) in [(11u64, 30.0), (12, 1000.0), (13, 8000.0)] {
        let mut s = vec![0.0; 8000 * 20];
        add_noise(&mut s, rms, seed);
        assert!(run(&to_pcm(&s)).0.is_empty(), "rms {rms}");
    }
}

#[test]
fn no_false_digits_on_chords() {
    // Triads and seventh chords on every semitone over three octaves, each
    // note with decaying harmonics like a plucked or bowed instrument.
    let mut s = Vec::new();
    let shapes: [&[i32]; 4] = [&[0, 4, 7], &[0, 3, 7], &[0, 4, 7, 10], &[0, 3, 7, 11]];
    for root in 45..81 {
        for shape in shapes {
            let start = s.len();
            for n in 0..(300 * 8) {
                let t = (start + n) as f64 / 8000.0;
                let env = (-(n as f64) / 4000.0).exp();
                let mut x = 0.0;
                for &iv in shape {
                    let f = 440.0 * 2f64.powf((root + iv - 69) as f64 / 12.0);
                    for h in 1..=4 {
                        if f * h as f64 <= 3900.0 {
                            x += (2.0 * PI * f * h as f64 * t).sin() / (h * h) as f64;
                        }
                    }
                }
                s.push(3000.0 * env * x);
            }
        }
    }
    assert_eq!(run(&to_pcm(&s)).0, Vec::<char>::new());
}
