//! Time-aligned stereo framing: caller on the left, everything the caller
//! hears (prompts, then staff) on the right.
//!
//! Audio is placed by its media position (sample offset from the recording
//! start), never by arrival order, so minute 3 of the file is minute 3 of the
//! call: holes become silence, overlapping audio on one channel is summed
//! (prompt + staff briefly together) with saturation.

use std::collections::VecDeque;

/// Which side of the stereo file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Channel {
    /// The caller (left).
    Caller,
    /// What the caller hears: prompts, music, staff (right).
    Other,
}

/// Interleaved 16-bit little-endian stereo PCM starting at `start_frame`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Position of the first sample frame (8000 per second).
    pub start_frame: u64,
    /// 4 bytes per frame: left i16 LE, right i16 LE.
    pub data: Vec<u8>,
}

impl Chunk {
    /// Frames in the chunk.
    pub fn frames(&self) -> u64 {
        self.data.len() as u64 / 4
    }
}

/// Counters for the recording summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MixerStats {
    /// Samples that arrived after their position had been emitted.
    pub late_samples: u64,
    /// Samples too far ahead of the emitted position.
    pub ahead_samples: u64,
}

/// Places `(channel, position, samples)` onto a timeline and emits it in order.
#[derive(Debug)]
pub struct StereoMixer {
    base: u64,
    pending: VecDeque<[i32; 2]>,
    max_ahead: u64,
    stats: MixerStats,
}

impl StereoMixer {
    /// `max_ahead_ms` bounds how far beyond the emitted position audio may be
    /// buffered (memory bound against a bogus timestamp), e.g. 10,000.
    pub fn new(max_ahead_ms: u64) -> Self {
        StereoMixer {
            base: 0,
            pending: VecDeque::new(),
            max_ahead: max_ahead_ms * 8,
            stats: MixerStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> MixerStats {
        self.stats
    }

    /// Frames emitted so far.
    pub fn emitted_frames(&self) -> u64 {
        self.base
    }

    /// Place samples at `at_ms` milliseconds after the recording start.
    pub fn push(&mut self, channel: Channel, at_ms: u64, samples: &[i16]) {
        self.push_at_sample(channel, at_ms.saturating_mul(8), samples);
    }

    /// Place samples at an exact sample position.
    pub fn push_at_sample(&mut self, channel: Channel, at: u64, samples: &[i16]) {
        let ch = match channel {
            Channel::Caller => 0,
            Channel::Other => 1,
        };
        let mut samples = samples;
        let mut at = at;
        if at < self.base {
            let skip = ((self.base - at) as usize).min(samples.len());
            self.stats.late_samples += skip as u64;
            samples = &samples[skip..];
            at = self.base;
        }
        if samples.is_empty() {
            return;
        }
        let offset = at - self.base;
        let end = offset + samples.len() as u64;
        let allowed = end.min(self.max_ahead);
        if allowed <= offset {
            self.stats.ahead_samples += samples.len() as u64;
            return;
        }
        let keep = (allowed - offset) as usize;
        self.stats.ahead_samples += (samples.len() - keep) as u64;
        if self.pending.len() < allowed as usize {
            self.pending.resize(allowed as usize, [0, 0]);
        }
        let slots = self
            .pending
            .range_mut(offset as usize..offset as usize + keep);
        for (slot, &s) in slots.zip(&samples[..keep]) {
            slot[ch] += s as i32;
        }
    }

    /// Emit everything before `until_ms` (silence where nothing was pushed).
    /// The driver calls this periodically with `now - latency`, the latency
    /// covering the jitter buffer so late frames still land in place.
    pub fn take_until_ms(&mut self, until_ms: u64) -> Option<Chunk> {
        self.take_until_sample(until_ms.saturating_mul(8))
    }

    /// Emit everything before sample position `until`.
    pub fn take_until_sample(&mut self, until: u64) -> Option<Chunk> {
        if until <= self.base {
            return None;
        }
        let n = (until - self.base) as usize;
        let mut data = Vec::with_capacity(n * 4);
        let available = n.min(self.pending.len());
        let sat = |v: i32| (v.clamp(i16::MIN as i32, i16::MAX as i32) as i16).to_le_bytes();
        for [l, r] in self.pending.drain(..available) {
            let (l, r) = (sat(l), sat(r));
            data.extend_from_slice(&[l[0], l[1], r[0], r[1]]);
        }
        data.resize(n * 4, 0);
        let chunk = Chunk {
            start_frame: self.base,
            data,
        };
        self.base = until;
        Some(chunk)
    }

    /// Emit everything pushed so far (end of call).
    pub fn finish(&mut self) -> Option<Chunk> {
        let end = self.base + self.pending.len() as u64;
        self.take_until_sample(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(c: &Chunk) -> Vec<(i16, i16)> {
        c.data
            .chunks_exact(4)
            .map(|f| {
                (
                    i16::from_le_bytes([f[0], f[1]]),
                    i16::from_le_bytes([f[2], f[3]]),
                )
            })
            .collect()
    }

    #[test]
    fn aligned_by_time_not_arrival() {
        let mut m = StereoMixer::new(10_000);
        // Right channel (prompt) from 0 ms; caller frame for 20-40 ms arrives before 0-20 ms.
        m.push(Channel::Other, 0, &[7; 320]);
        m.push(Channel::Caller, 20, &[2; 160]);
        m.push(Channel::Caller, 0, &[1; 160]);
        let c = m.take_until_ms(40).unwrap();
        assert_eq!(c.start_frame, 0);
        let f = frames(&c);
        assert_eq!(f.len(), 320);
        assert_eq!(f[0], (1, 7));
        assert_eq!(f[159], (1, 7));
        assert_eq!(f[160], (2, 7));
        assert_eq!(m.take_until_ms(40), None);
    }

    #[test]
    fn gaps_are_silence_and_positions_are_exact() {
        let mut m = StereoMixer::new(10_000);
        m.push(Channel::Caller, 0, &[5; 160]);
        let mut all = Vec::new();
        let mut t = 0;
        while t < 180_020 {
            t += 1000;
            if t == 175_000 {
                // 3 minutes in, with nothing in between.
                m.push(Channel::Caller, 180_000, &[9; 160]);
            }
            if let Some(c) = m.take_until_ms(t.min(180_020)) {
                assert_eq!(c.start_frame, all.len() as u64);
                all.extend(frames(&c));
            }
        }
        assert_eq!(all.len(), 180_020 * 8);
        assert_eq!(all[159], (5, 0));
        assert_eq!(all[160], (0, 0));
        assert_eq!(all[180_000 * 8], (9, 0));
        assert_eq!(all[180_000 * 8 - 1], (0, 0));
    }

    #[test]
    fn late_ahead_and_overlap() {
        let mut m = StereoMixer::new(100);
        m.take_until_ms(20);
        m.push(Channel::Caller, 10, &[1; 160]); // half late
        m.push(Channel::Other, 20, &[30_000; 8]);
        m.push(Channel::Other, 20, &[30_000; 8]); // overlap saturates
        m.push(Channel::Caller, 500, &[1; 8]); // beyond 100 ms ahead
        let c = m.finish().unwrap();
        assert_eq!(c.start_frame, 160);
        let f = frames(&c);
        assert_eq!(f.len(), 80);
        assert_eq!(f[0], (1, i16::MAX));
        assert_eq!(
            m.stats(),
            MixerStats {
                late_samples: 80,
                ahead_samples: 8
            }
        );
    }
}
