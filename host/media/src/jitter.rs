//! A small jitter buffer for what we record and run DTMF detection on.
//!
//! Packets are ordered by RTP timestamp. A packet that is next in order is
//! released at once; a missing one is declared lost (a [`FrameKind::Gap`])
//! only when its playout deadline (`nominal arrival + depth`) has passed AND
//! a later packet is already buffered, so a stream that pauses (silence
//! suppression, hold) produces no gap spam and a late-but-not-too-late
//! packet is still used. Packets older than what was already released are
//! dropped and counted; two such late packets in a row mean the sender's
//! clock or the path delay moved, and the schedule is re-anchored.
//! An SSRC change or a timestamp jump of more than `max_jump` flushes what
//! is buffered (in order) and re-anchors on the new stream.
//!
//! Each frame carries `at`: its nominal capture instant on our clock
//! (anchor arrival + media time), which the recorder turns into a position
//! in the file.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// How long a missing packet is waited for (60 ms by default).
    pub depth: Duration,
    /// RTP clock rate.
    pub clock_rate: u32,
    /// Samples per gap frame (160 = 20 ms).
    pub frame_samples: u32,
    /// Timestamp jumps larger than this re-anchor the buffer.
    pub max_jump: Duration,
    /// Maximum packets held (protects memory against a flood).
    pub max_packets: usize,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            depth: Duration::from_millis(60),
            clock_rate: 8000,
            frame_samples: 160,
            max_jump: Duration::from_secs(2),
            max_packets: 64,
        }
    }
}

/// Audio or a hole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameKind<T> {
    /// A received payload.
    Audio(T),
    /// Lost audio: fill with silence (or conceal).
    Gap,
}

/// One frame out of the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<T> {
    /// Audio or gap.
    pub kind: FrameKind<T>,
    /// RTP timestamp of the first sample.
    pub timestamp: u32,
    /// Samples covered.
    pub samples: u32,
    /// Nominal capture instant on our clock.
    pub at: Instant,
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// Stored for playout.
    Buffered,
    /// Its slot was already played out or declared lost.
    Late,
    /// Same timestamp already buffered.
    Duplicate,
    /// Buffer full.
    Overflow,
}

/// Counters for the call record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct JitterStats {
    /// Audio frames released.
    pub frames: u64,
    /// Gap frames released.
    pub gaps: u64,
    /// Late packets dropped.
    pub late: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Packets dropped because the buffer was full.
    pub overflow: u64,
    /// Re-anchors (SSRC change, timestamp jump, persistent lateness).
    pub resets: u64,
}

#[derive(Debug, Clone, Copy)]
struct Anchor {
    ssrc: u32,
    base_ts: i64,
    base_time: Instant,
}

/// Reorders packets of one incoming stream into in-order frames with gap markers.
#[derive(Debug)]
pub struct JitterBuffer<T> {
    cfg: JitterConfig,
    anchor: Option<Anchor>,
    next_ts: i64,
    buf: BTreeMap<i64, (T, u32)>,
    out: VecDeque<Frame<T>>,
    consecutive_late: u32,
    stats: JitterStats,
}

impl<T> JitterBuffer<T> {
    /// Empty buffer.
    pub fn new(cfg: JitterConfig) -> Self {
        JitterBuffer {
            cfg,
            anchor: None,
            next_ts: 0,
            buf: BTreeMap::new(),
            out: VecDeque::new(),
            consecutive_late: 0,
            stats: JitterStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    fn media_offset(&self, a: &Anchor, ts: i64) -> Duration {
        let units = (ts - a.base_ts).max(0) as u64;
        Duration::from_nanos(units * 1_000_000_000 / self.cfg.clock_rate as u64)
    }

    fn at(&self, ts: i64) -> Option<Instant> {
        self.anchor.map(|a| a.base_time + self.media_offset(&a, ts))
    }

    fn ts_of(&self, ext: i64) -> u32 {
        ext as u32
    }

    /// Move everything buffered to the output queue, in order, with gaps.
    fn flush(&mut self) {
        let buffered = std::mem::take(&mut self.buf);
        for (ts, (payload, samples)) in buffered {
            while self.next_ts < ts {
                let n = ((ts - self.next_ts) as u32).min(self.cfg.frame_samples);
                self.emit_gap(n);
            }
            self.emit_audio(ts, payload, samples);
        }
    }

    fn emit_gap(&mut self, samples: u32) {
        let ts = self.next_ts;
        if let Some(at) = self.at(ts) {
            self.out.push_back(Frame {
                kind: FrameKind::Gap,
                timestamp: self.ts_of(ts),
                samples,
                at,
            });
        }
        self.stats.gaps += 1;
        self.next_ts += samples as i64;
    }

    fn emit_audio(&mut self, ts: i64, payload: T, samples: u32) {
        if let Some(at) = self.at(ts) {
            self.out.push_back(Frame {
                kind: FrameKind::Audio(payload),
                timestamp: self.ts_of(ts),
                samples,
                at,
            });
        }
        self.stats.frames += 1;
        self.next_ts = ts + samples.max(1) as i64;
    }

    fn reanchor(&mut self, ssrc: u32, ts: u32, now: Instant) {
        if self.anchor.is_some() {
            self.flush();
            self.stats.resets += 1;
        }
        // Keep extended timestamps far from 0 so unwrapping never goes negative.
        let base = (1i64 << 32) + ts as i64;
        self.anchor = Some(Anchor {
            ssrc,
            base_ts: base,
            base_time: now,
        });
        self.next_ts = base;
        self.consecutive_late = 0;
    }

    /// Add a packet that arrived at `now`; `samples` is its duration in
    /// timestamp units (payload length for G.711).
    pub fn push(
        &mut self,
        ssrc: u32,
        timestamp: u32,
        samples: u32,
        payload: T,
        now: Instant,
    ) -> Push {
        let max_jump = self.cfg.max_jump.as_millis() as i64 * self.cfg.clock_rate as i64 / 1000;
        let delta = timestamp.wrapping_sub(self.next_ts as u32) as i32 as i64;
        match self.anchor {
            Some(a) if a.ssrc == ssrc && delta.abs() <= max_jump => {}
            _ => self.reanchor(ssrc, timestamp, now),
        }
        let delta = timestamp.wrapping_sub(self.next_ts as u32) as i32 as i64;
        let ext = self.next_ts + delta;
        if ext < self.next_ts {
            self.stats.late += 1;
            self.consecutive_late += 1;
            if self.consecutive_late >= 2 {
                // Path delay grew or the sender's clock is slow: move the schedule later.
                if let Some(at) = self.at(ext) {
                    let lateness = now.saturating_duration_since(at + self.cfg.depth);
                    if let Some(a) = self.anchor.as_mut() {
                        a.base_time += lateness;
                    }
                    self.stats.resets += 1;
                }
                self.consecutive_late = 0;
            }
            return Push::Late;
        }
        self.consecutive_late = 0;
        if self.buf.contains_key(&ext) {
            self.stats.duplicates += 1;
            return Push::Duplicate;
        }
        if self.buf.len() >= self.cfg.max_packets {
            self.stats.overflow += 1;
            return Push::Overflow;
        }
        self.buf.insert(ext, (payload, samples));
        Push::Buffered
    }

    /// Next frame, if one is ready at `now`. Call until `None` after every
    /// push and whenever [`JitterBuffer::next_deadline`] passes.
    pub fn poll(&mut self, now: Instant) -> Option<Frame<T>> {
        if let Some(f) = self.out.pop_front() {
            return Some(f);
        }
        let (&first, _) = self.buf.iter().next()?;
        if first <= self.next_ts {
            let (ts, (payload, samples)) = self.buf.pop_first()?;
            self.emit_audio(ts, payload, samples);
        } else if now >= self.at(self.next_ts)? + self.cfg.depth {
            let n = ((first - self.next_ts) as u32).min(self.cfg.frame_samples);
            self.emit_gap(n);
        }
        self.out.pop_front()
    }

    /// When a gap may next be declared (`None` while nothing is buffered).
    pub fn next_deadline(&self) -> Option<Instant> {
        if !self.out.is_empty() {
            return self.at(self.next_ts);
        }
        self.buf.keys().next()?;
        Some(self.at(self.next_ts)? + self.cfg.depth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(t0: Instant, m: u64) -> Instant {
        t0 + Duration::from_millis(m)
    }

    /// Drain everything available at `now` as (timestamp, Some(payload) | None for gap).
    fn drain(jb: &mut JitterBuffer<u32>, now: Instant) -> Vec<(u32, Option<u32>)> {
        let mut v = Vec::new();
        while let Some(f) = jb.poll(now) {
            v.push((
                f.timestamp,
                match f.kind {
                    FrameKind::Audio(p) => Some(p),
                    FrameKind::Gap => None,
                },
            ));
        }
        v
    }

    #[test]
    fn in_order_is_released_immediately() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        for i in 0..5u32 {
            assert_eq!(
                jb.push(1, i * 160, 160, i, ms(t0, i as u64 * 20)),
                Push::Buffered
            );
            let got = drain(&mut jb, ms(t0, i as u64 * 20));
            assert_eq!(got, vec![(i * 160, Some(i))]);
        }
        assert_eq!(jb.next_deadline(), None);
    }

    #[test]
    fn reordering_within_window() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        jb.push(1, 0, 160, 0, ms(t0, 0));
        assert_eq!(drain(&mut jb, ms(t0, 0)).len(), 1);
        // 2 arrives before 1.
        jb.push(1, 320, 160, 2, ms(t0, 40));
        assert!(drain(&mut jb, ms(t0, 40)).is_empty());
        assert_eq!(jb.next_deadline(), Some(ms(t0, 80)));
        jb.push(1, 160, 160, 1, ms(t0, 55));
        assert_eq!(
            drain(&mut jb, ms(t0, 55)),
            vec![(160, Some(1)), (320, Some(2))]
        );
        assert_eq!(jb.stats().gaps, 0);
    }

    #[test]
    fn loss_becomes_gap_at_deadline_and_late_packet_is_dropped() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        jb.push(1, 0, 160, 0, ms(t0, 0));
        drain(&mut jb, ms(t0, 0));
        // 1 and 2 lost, 3 arrives.
        jb.push(1, 480, 160, 3, ms(t0, 60));
        assert!(drain(&mut jb, ms(t0, 79)).is_empty());
        assert_eq!(drain(&mut jb, ms(t0, 80)), vec![(160, None)]);
        assert_eq!(
            drain(&mut jb, ms(t0, 100)),
            vec![(320, None), (480, Some(3))]
        );
        assert_eq!(jb.push(1, 160, 160, 1, ms(t0, 101)), Push::Late);
        let s = jb.stats();
        assert_eq!((s.frames, s.gaps, s.late), (2, 2, 1));
    }

    #[test]
    fn duplicates_are_dropped() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        jb.push(1, 0, 160, 0, t0);
        jb.push(1, 320, 160, 2, t0);
        assert_eq!(jb.push(1, 320, 160, 2, t0), Push::Duplicate);
        drain(&mut jb, t0);
        assert_eq!(jb.push(1, 0, 160, 0, t0), Push::Late);
        assert_eq!(jb.stats().duplicates, 1);
    }

    #[test]
    fn ssrc_change_flushes_old_and_reanchors() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        jb.push(1, 1000, 160, 10, ms(t0, 0));
        drain(&mut jb, ms(t0, 0));
        jb.push(1, 1320, 160, 12, ms(t0, 40)); // 1160 missing
        jb.push(2, 90_000, 160, 20, ms(t0, 60));
        let got = drain(&mut jb, ms(t0, 60));
        assert_eq!(
            got,
            vec![(1160, None), (1320, Some(12)), (90_000, Some(20))]
        );
        assert_eq!(jb.stats().resets, 1);
        jb.push(2, 90_160, 160, 21, ms(t0, 80));
        let f = jb.poll(ms(t0, 80)).unwrap();
        assert_eq!(f.at, ms(t0, 80));
    }

    #[test]
    fn timestamp_jump_and_wrap() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let start = u32::MAX - 159;
        jb.push(1, start, 160, 0, t0);
        jb.push(1, start.wrapping_add(160), 160, 1, ms(t0, 20));
        assert_eq!(
            drain(&mut jb, ms(t0, 20)),
            vec![(start, Some(0)), (0, Some(1))]
        );
        // Jump by an hour of timestamps: re-anchor, not 180,000 gaps.
        jb.push(1, 8000 * 3600, 160, 2, ms(t0, 40));
        assert_eq!(drain(&mut jb, ms(t0, 40)), vec![(8000 * 3600, Some(2))]);
        assert_eq!(jb.stats().resets, 1);
        // Small forward jump (silence suppression, 200 ms) is filled with gaps once the packet is due.
        jb.push(1, 8000 * 3600 + 160 + 1600, 160, 3, ms(t0, 260));
        let got = drain(&mut jb, ms(t0, 400));
        assert_eq!(got.iter().filter(|g| g.1.is_none()).count(), 10);
        assert_eq!(got.last(), Some(&(8000 * 3600 + 1760, Some(3))));
    }

    #[test]
    fn persistent_lateness_reanchors() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        jb.push(1, 0, 160, 0, t0);
        drain(&mut jb, t0);
        jb.push(1, 480, 160, 3, ms(t0, 60));
        drain(&mut jb, ms(t0, 200));
        assert_eq!(jb.push(1, 160, 160, 1, ms(t0, 200)), Push::Late);
        assert_eq!(jb.push(1, 320, 160, 2, ms(t0, 200)), Push::Late);
        assert_eq!(jb.stats().resets, 1);
    }
}
