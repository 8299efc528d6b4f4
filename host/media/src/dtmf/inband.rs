//! In-band DTMF detection on 8 kHz linear PCM with the Goertzel algorithm.
//!
//! Audio is cut into blocks of [`BLOCK`] samples (12.75 ms, the block size
//! spandsp uses: short enough that a 40 ms tone always covers two whole
//! blocks, long enough to separate adjacent row tones by >20 dB). Each block
//! gets a candidate key only if all checks pass:
//!
//! 1. both the strongest row and column tone reach [`MIN_TONE_POWER`];
//! 2. twist: the column tone may be up to 10 dB stronger than the row tone
//!    ("normal" twist, spec 8 dB) and up to 6 dB weaker ("reverse", spec 4 dB);
//! 3. relative peak: each winner beats the other tones of its group by 6 dB;
//! 4. SNR: the two tones carry at least 80 % of the block's energy, which is
//!    what rejects speech and music (harmonics spread energy elsewhere). It
//!    also makes a block only count when the tone covers >= 80 % of it, so
//!    two confirming blocks need >= 164 samples: a 20 ms (160-sample) tone
//!    can never be detected, a 40 ms one always contains two whole blocks.
//!
//! A key is pressed when two consecutive blocks agree (>= 25.5 ms), and
//! released after two consecutive blocks without it. Each press is reported once.

/// Keys in row-major keypad order; the detector's key index points here.
const KEYPAD: [char; 16] = [
    '1', '2', '3', 'A', '4', '5', '6', 'B', '7', '8', '9', 'C', '*', '0', '#', 'D',
];

/// Samples per analysis block.
pub const BLOCK: usize = 102;
const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// Minimum per-tone power (mean square): a sine of amplitude 400, about -35 dBm0.
pub const MIN_TONE_POWER: f64 = 400.0 * 400.0 / 2.0;
const NORMAL_TWIST: f64 = 10.0; // 10 dB: column stronger
const REVERSE_TWIST: f64 = 3.98; // 6 dB: row stronger
const RELATIVE_PEAK: f64 = 3.98; // 6 dB
const MIN_SNR_FRACTION: f64 = 0.8;

/// A key change seen by the detector; `at_sample` counts samples since the detector started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InbandEvent {
    /// Key went down (reported once per press).
    Pressed {
        /// The key.
        digit: char,
        /// Sample index at the end of the confirming block.
        at_sample: u64,
    },
    /// Key went up.
    Released {
        /// The key.
        digit: char,
        /// Sample index at the end of the confirming block.
        at_sample: u64,
    },
}

/// Streaming DTMF detector for one direction of one call.
#[derive(Debug, Clone)]
pub struct InbandDetector {
    coeffs: [f64; 8],
    s1: [f64; 8],
    s2: [f64; 8],
    energy: f64,
    filled: usize,
    samples: u64,
    last_candidate: Option<u8>,
    key: Option<u8>,
    misses: u8,
}

impl Default for InbandDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl InbandDetector {
    /// New detector.
    pub fn new() -> Self {
        let mut coeffs = [0.0; 8];
        for (i, f) in ROWS.iter().chain(COLS.iter()).enumerate() {
            coeffs[i] = 2.0 * (2.0 * std::f64::consts::PI * f / 8000.0).cos();
        }
        InbandDetector {
            coeffs,
            s1: [0.0; 8],
            s2: [0.0; 8],
            energy: 0.0,
            filled: 0,
            samples: 0,
            last_candidate: None,
            key: None,
            misses: 0,
        }
    }

    /// Key currently held down, if any.
    pub fn key_down(&self) -> Option<char> {
        self.key.map(|k| KEYPAD[k as usize])
    }

    /// Feed samples (any length; 160 per 20 ms frame is typical). Events are appended to `out`.
    pub fn process(&mut self, pcm: &[i16], out: &mut Vec<InbandEvent>) {
        for &x in pcm {
            let x = x as f64;
            self.energy += x * x;
            for k in 0..8 {
                let s0 = x + self.coeffs[k] * self.s1[k] - self.s2[k];
                self.s2[k] = self.s1[k];
                self.s1[k] = s0;
            }
            self.filled += 1;
            self.samples += 1;
            if self.filled == BLOCK {
                let cand = self.classify();
                self.decide(cand, out);
                self.s1 = [0.0; 8];
                self.s2 = [0.0; 8];
                self.energy = 0.0;
                self.filled = 0;
            }
        }
    }

    /// Feed G.711-encoded audio (decoded internally, no allocation).
    pub fn process_g711(
        &mut self,
        law: crate::g711::Law,
        codes: &[u8],
        out: &mut Vec<InbandEvent>,
    ) {
        let mut buf = [0i16; 160];
        for chunk in codes.chunks(160) {
            for (d, &c) in buf.iter_mut().zip(chunk) {
                *d = law.decode(c);
            }
            self.process(&buf[..chunk.len()], out);
        }
    }

    fn classify(&self) -> Option<u8> {
        let n2 = (BLOCK * BLOCK) as f64;
        let mut p = [0.0f64; 8];
        for (k, pk) in p.iter_mut().enumerate() {
            let (a, b) = (self.s1[k], self.s2[k]);
            // |X|^2 scaled so that a sine of amplitude A gives A^2/2 (its mean square).
            *pk = 2.0 * (a * a + b * b - self.coeffs[k] * a * b) / n2;
        }
        let best = |g: &[f64]| -> usize {
            let mut i = 0;
            for j in 1..4 {
                if g[j] > g[i] {
                    i = j;
                }
            }
            i
        };
        let (r, c) = (best(&p[..4]), best(&p[4..]));
        let (pr, pc) = (p[r], p[4 + c]);
        if pr < MIN_TONE_POWER || pc < MIN_TONE_POWER {
            return None;
        }
        if pc > pr * NORMAL_TWIST || pr > pc * REVERSE_TWIST {
            return None;
        }
        for j in 0..4 {
            if (j != r && p[j] * RELATIVE_PEAK > pr) || (j != c && p[4 + j] * RELATIVE_PEAK > pc) {
                return None;
            }
        }
        let mean_square = self.energy / BLOCK as f64;
        if pr + pc < MIN_SNR_FRACTION * mean_square {
            return None;
        }
        Some((r * 4 + c) as u8)
    }

    fn decide(&mut self, cand: Option<u8>, out: &mut Vec<InbandEvent>) {
        let at_sample = self.samples;
        if cand.is_some() && cand == self.key {
            self.misses = 0;
        } else if let Some(k) = self.key {
            self.misses += 1;
            if self.misses >= 2 {
                out.push(InbandEvent::Released {
                    digit: KEYPAD[k as usize],
                    at_sample,
                });
                self.key = None;
                self.misses = 0;
            }
        }
        if self.key.is_none() {
            if let Some(c) = cand {
                if self.last_candidate == Some(c) {
                    self.key = Some(c);
                    self.misses = 0;
                    out.push(InbandEvent::Pressed {
                        digit: KEYPAD[c as usize],
                        at_sample,
                    });
                }
            }
        }
        self.last_candidate = cand;
    }
}

/// Generate a DTMF key as 8 kHz PCM, e.g. to relay a digit in-band to a
/// leg without RFC 4733. `amplitude` is per tone (about -10 dBm0 at 5000).
pub fn generate_tone(digit: char, ms: u32, amplitude: i16) -> Option<Vec<i16>> {
    let (r, c) = key_frequencies(digit)?;
    let a = amplitude.clamp(0, i16::MAX / 2) as f64;
    Some(
        (0..ms as usize * 8)
            .map(|n| {
                let t = n as f64 / 8000.0;
                (a * ((2.0 * std::f64::consts::PI * r * t).sin()
                    + (2.0 * std::f64::consts::PI * c * t).sin())) as i16
            })
            .collect(),
    )
}

/// Keypad layout: key -> (row Hz, column Hz).
pub fn key_frequencies(digit: char) -> Option<(f64, f64)> {
    const LAYOUT: [&str; 4] = ["123A", "456B", "789C", "*0#D"];
    let d = digit.to_ascii_uppercase();
    LAYOUT
        .iter()
        .enumerate()
        .find_map(|(r, row)| row.chars().position(|c| c == d).map(|c| (ROWS[r], COLS[c])))
}
