//! One-off sample-rate conversion of prompts to 8 kHz.
//!
//! Chosen method: for input above 8 kHz, a Hamming-windowed sinc low-pass
//! FIR at the input rate (cutoff 4 kHz, transition 3.4-4.6 kHz, ~-50 dB
//! stop band; aliases of what survives land above 3.4 kHz, outside the
//! telephone band), evaluated only at the two input positions around each
//! output sample, followed by linear interpolation between them. Input at
//! or below 8 kHz is linearly interpolated (no aliasing possible when
//! upsampling; the cost is a gentle high-frequency droop, -0.8 dB at 1 kHz
//! from 6 kHz, acceptable for the rare low-rate prompt). Cost is ~2 x taps multiply-adds per output sample, paid
//! once when a prompt is added, never per call.

use std::f64::consts::PI;

/// Output rate.
pub const TARGET_RATE: u32 = 8000;

fn design_lowpass(in_rate: u32) -> Vec<f64> {
    let cutoff = 4000.0 / in_rate as f64; // cycles per sample
    let transition = 1200.0 / in_rate as f64;
    let mut taps = (3.3 / transition).ceil() as usize | 1;
    taps = taps.clamp(15, 1023);
    let mid = (taps / 2) as f64;
    let mut h: Vec<f64> = (0..taps)
        .map(|i| {
            let x = i as f64 - mid;
            let sinc = if x == 0.0 {
                2.0 * cutoff
            } else {
                (2.0 * PI * cutoff * x).sin() / (PI * x)
            };
            let w = 0.54 - 0.46 * (2.0 * PI * i as f64 / (taps - 1) as f64).cos();
            sinc * w
        })
        .collect();
    let sum: f64 = h.iter().sum();
    for v in &mut h {
        *v /= sum;
    }
    h
}

/// Convert mono `input` at `in_rate` Hz to 8 kHz.
pub fn to_8k(input: &[i16], in_rate: u32) -> Vec<i16> {
    if in_rate == TARGET_RATE || input.is_empty() || in_rate == 0 {
        return input.to_vec();
    }
    let out_len = ((input.len() as u64 * TARGET_RATE as u64) / in_rate as u64).max(1) as usize;
    let step = in_rate as f64 / TARGET_RATE as f64;
    let filter = (in_rate > TARGET_RATE).then(|| design_lowpass(in_rate));
    let at = |i: isize| -> f64 {
        match &filter {
            None => input[i.clamp(0, input.len() as isize - 1) as usize] as f64,
            Some(h) => {
                let half = (h.len() / 2) as isize;
                let mut acc = 0.0;
                for (k, &c) in h.iter().enumerate() {
                    let j = i + k as isize - half;
                    if j >= 0 && (j as usize) < input.len() {
                        acc += c * input[j as usize] as f64;
                    }
                }
                acc
            }
        }
    };
    (0..out_len)
        .map(|n| {
            let p = n as f64 * step;
            let i = p.floor() as isize;
            let frac = p - i as f64;
            let v = at(i) * (1.0 - frac) + at(i + 1) * frac;
            v.round().clamp(i16::MIN as f64, i16::MAX as f64) as i16
        })
        .collect()
}

/// Average interleaved channels into mono.
pub fn downmix(interleaved: &[i16], channels: u16) -> Vec<i16> {
    let c = channels.max(1) as usize;
    interleaved
        .chunks_exact(c)
        .map(|f| (f.iter().map(|&s| s as i32).sum::<i32>() / c as i32) as i16)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, f: f64, secs: f64, amp: f64) -> Vec<i16> {
        (0..(rate as f64 * secs) as usize)
            .map(|n| (amp * (2.0 * PI * f * n as f64 / rate as f64).sin()) as i16)
            .collect()
    }

    fn rms(x: &[i16]) -> f64 {
        (x.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    /// Goertzel power of `f` in 8 kHz signal, as amplitude.
    fn amplitude_at(x: &[i16], f: f64) -> f64 {
        let w = 2.0 * PI * f / 8000.0;
        let (mut re, mut im) = (0.0, 0.0);
        for (n, &s) in x.iter().enumerate() {
            re += s as f64 * (w * n as f64).cos();
            im += s as f64 * (w * n as f64).sin();
        }
        2.0 * (re * re + im * im).sqrt() / x.len() as f64
    }

    #[test]
    fn passband_tone_survives_all_common_rates() {
        for rate in [11_025, 16_000, 22_050, 44_100, 48_000, 6_000] {
            let out = to_8k(&sine(rate, 1000.0, 1.0, 10_000.0), rate);
            assert!(
                (out.len() as i64 - 8000).abs() <= 1,
                "{rate}: {}",
                out.len()
            );
            let a = amplitude_at(&out[200..7800], 1000.0);
            // Linear interpolation (upsampling) droops by sinc^2(f/fs): -0.8 dB at 1 kHz from 6 kHz.
            let tolerance = if rate < 8000 { 1_200.0 } else { 600.0 };
            assert!((a - 10_000.0).abs() < tolerance, "{rate}: amplitude {a}");
        }
    }

    #[test]
    fn out_of_band_tone_is_suppressed_not_aliased() {
        // 6 kHz at 48 kHz would alias to 2 kHz with naive decimation.
        let out = to_8k(&sine(48_000, 6000.0, 1.0, 10_000.0), 48_000);
        let alias = amplitude_at(&out[200..7800], 2000.0);
        assert!(alias < 50.0, "alias amplitude {alias}");
        assert!(rms(&out[200..7800]) < 60.0);
    }

    #[test]
    fn downmix_averages() {
        assert_eq!(downmix(&[100, 300, -10, 10], 2), vec![200, 0]);
    }
}
