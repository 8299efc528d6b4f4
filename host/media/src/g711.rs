//! ITU-T G.711 μ-law (PCMU, PT 0) and A-law (PCMA, PT 8).
//!
//! Decoding and PCMU<->PCMA transcoding use 256-entry tables built at
//! compile time; encoding is a handful of integer operations (a 64 Ki
//! table would cost more cache than it saves).

/// A G.711 companding law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Law {
    /// μ-law, RTP payload type 0 ("PCMU").
    Ulaw,
    /// A-law, RTP payload type 8 ("PCMA").
    Alaw,
}

impl Law {
    /// Static RTP payload type of this law.
    pub fn payload_type(self) -> u8 {
        match self {
            Law::Ulaw => 0,
            Law::Alaw => 8,
        }
    }

    /// Encoding name used in SDP `a=rtpmap`.
    pub fn encoding_name(self) -> &'static str {
        match self {
            Law::Ulaw => "PCMU",
            Law::Alaw => "PCMA",
        }
    }

    /// Encode one sample.
    #[inline]
    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Law::Ulaw => linear_to_ulaw(sample),
            Law::Alaw => linear_to_alaw(sample),
        }
    }

    /// Decode one code word.
    #[inline]
    pub fn decode(self, code: u8) -> i16 {
        match self {
            Law::Ulaw => ULAW_TO_LINEAR[code as usize],
            Law::Alaw => ALAW_TO_LINEAR[code as usize],
        }
    }

    /// Encode `pcm` into `out` (cleared first).
    pub fn encode_into(self, pcm: &[i16], out: &mut Vec<u8>) {
        out.clear();
        out.extend(pcm.iter().map(|&s| self.encode(s)));
    }

    /// Decode `codes` into `out` (cleared first).
    pub fn decode_into(self, codes: &[u8], out: &mut Vec<i16>) {
        out.clear();
        let table = match self {
            Law::Ulaw => &ULAW_TO_LINEAR,
            Law::Alaw => &ALAW_TO_LINEAR,
        };
        out.extend(codes.iter().map(|&c| table[c as usize]));
    }
}

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 32635;

/// Encode a linear sample to μ-law (G.711 table 2a, with the usual 0x84 bias).
#[inline]
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let mut pcm = sample as i32;
    let sign = if pcm < 0 {
        pcm = -pcm;
        0x80
    } else {
        0
    };
    pcm = pcm.min(ULAW_CLIP) + ULAW_BIAS;
    // pcm >> 7 is in 1..=255, so the exponent is its bit length minus one (0..=7).
    let exponent = 31 - ((pcm >> 7) as u32).leading_zeros() as i32;
    let mantissa = (pcm >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// Decode a μ-law code word.
pub const fn ulaw_to_linear(code: u8) -> i16 {
    let u = !code;
    let exponent = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if u & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Encode a linear sample to A-law (G.711 table 1a; even bits inverted).
#[inline]
pub fn linear_to_alaw(sample: i16) -> u8 {
    // A-law works on 13-bit magnitudes.
    let mut pcm = (sample as i32) >> 3;
    let mask: i32 = if pcm >= 0 {
        0xD5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    // Segment = bit length of (pcm >> 5), i.e. 0 for pcm < 32, up to 7 for pcm < 4096.
    let seg = 32 - ((pcm >> 5) as u32).leading_zeros() as i32;
    let aval = if seg >= 8 {
        0x7F
    } else if seg < 2 {
        (seg << 4) | ((pcm >> 1) & 0x0F)
    } else {
        (seg << 4) | ((pcm >> seg) & 0x0F)
    };
    (aval ^ mask) as u8
}

/// Decode an A-law code word.
pub const fn alaw_to_linear(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mut t = ((a & 0x0F) as i32) << 4;
    let seg = ((a & 0x70) >> 4) as i32;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    if a & 0x80 != 0 {
        t as i16
    } else {
        -t as i16
    }
}

const fn build_ulaw_table() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ulaw_to_linear(i as u8);
        i += 1;
    }
    t
}

const fn build_alaw_table() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_to_linear(i as u8);
        i += 1;
    }
    t
}

/// μ-law code -> linear sample.
pub static ULAW_TO_LINEAR: [i16; 256] = build_ulaw_table();
/// A-law code -> linear sample.
pub static ALAW_TO_LINEAR: [i16; 256] = build_alaw_table();

fn build_transcode(from: Law, to: Law) -> [u8; 256] {
    let mut t = [0u8; 256];
    for (i, slot) in t.iter_mut().enumerate() {
        *slot = to.encode(from.decode(i as u8));
    }
    t
}

/// Transcodes G.711 payloads between laws through a 256-entry table.
#[derive(Clone)]
pub struct Transcoder {
    table: [u8; 256],
}

impl std::fmt::Debug for Transcoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Transcoder")
    }
}

impl Transcoder {
    /// Table for `from` -> `to` (identity when equal).
    pub fn new(from: Law, to: Law) -> Self {
        Transcoder {
            table: build_transcode(from, to),
        }
    }

    /// Translate one code word.
    #[inline]
    pub fn map(&self, code: u8) -> u8 {
        self.table[code as usize]
    }

    /// Translate a payload in place.
    pub fn apply(&self, payload: &mut [u8]) {
        for b in payload {
            *b = self.table[*b as usize];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
    }

    #[test]
    fn every_code_round_trips() {
        for c in 0..=255u8 {
            assert_eq!(linear_to_alaw(alaw_to_linear(c)), c, "alaw {c:#x}");
            let back = linear_to_ulaw(ulaw_to_linear(c));
            // 0x7F is "negative zero" and re-encodes as positive zero.
            if c == 0x7F {
                assert_eq!(back, 0xFF);
            } else {
                assert_eq!(back, c, "ulaw {c:#x}");
            }
        }
    }

    #[test]
    fn encoding_is_monotonic_and_close() {
        let mut prev_u = i16::MIN;
        let mut prev_a = i16::MIN;
        for s in i16::MIN..=i16::MAX {
            let u = ulaw_to_linear(linear_to_ulaw(s));
            let a = alaw_to_linear(linear_to_alaw(s));
            assert!(u >= prev_u && a >= prev_a, "non-monotonic at {s}");
            prev_u = u;
            prev_a = a;
            // Quantisation error is bounded by half the largest step (1024 / 2 for both laws).
            assert!((u as i32 - s as i32).abs() <= 1100, "ulaw err at {s}");
            assert!((a as i32 - s as i32).abs() <= 1100, "alaw err at {s}");
        }
    }

    #[test]
    fn sine_snr_is_about_38_db() {
        for law in [Law::Ulaw, Law::Alaw] {
            let (mut sig, mut err) = (0f64, 0f64);
            for n in 0..8000 {
                let x = (10000.0 * (2.0 * std::f64::consts::PI * 1004.0 * n as f64 / 8000.0).sin())
                    as i16;
                let y = law.decode(law.encode(x));
                sig += (x as f64).powi(2);
                err += (x as f64 - y as f64).powi(2);
            }
            let snr = 10.0 * (sig / err).log10();
            assert!(snr > 33.0, "{law:?} snr {snr}");
        }
    }

    #[test]
    fn transcoding_matches_decode_encode() {
        let u2a = Transcoder::new(Law::Ulaw, Law::Alaw);
        let a2u = Transcoder::new(Law::Alaw, Law::Ulaw);
        for c in 0..=255u8 {
            assert_eq!(u2a.map(c), linear_to_alaw(ulaw_to_linear(c)));
            assert_eq!(a2u.map(c), linear_to_ulaw(alaw_to_linear(c)));
        }
        let same = Transcoder::new(Law::Alaw, Law::Alaw);
        let mut p: Vec<u8> = (0..=255).collect();
        same.apply(&mut p);
        assert_eq!(p, (0..=255).collect::<Vec<u8>>());
    }
}
