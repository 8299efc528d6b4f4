//! Drift-free packet pacing for outgoing media.
//!
//! Packet `n` is due at `start + n * period`, computed by multiplication,
//! never by adding to the previous send time, so timer slop never
//! accumulates: after 1,000 s the 50,000th packet is due at exactly +1,000 s.
//!
//! Catch-up policy (when the driver wakes late, e.g. the runtime stalled):
//! overdue packets are sent immediately, back to back, but at most
//! `max_burst` of them per wake-up; older ones are skipped (reported in
//! [`Tick::Send::skipped`]) so the receiver's jitter buffer is not flooded
//! and the stream stays on its schedule. The driver must advance the RTP
//! timestamp and the prompt position for skipped packets too
//! ([`crate::rtp::RtpSender::skip`], [`crate::prompt::PromptPlayer::skip_frames`]).

use std::time::{Duration, Instant};

/// What the driver should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// Send packet `index` now, then poll again.
    Send {
        /// Packet number since start.
        index: u64,
        /// How late this send is relative to its due time.
        late: Duration,
        /// Packets skipped just before this one (catch-up limit).
        skipped: u64,
    },
    /// Nothing due; sleep until this instant.
    Wait(Instant),
}

/// Histogram of send lateness (0.1 ms buckets up to 50 ms, then "over").
#[derive(Debug, Clone)]
pub struct LatenessStats {
    buckets: Vec<u32>,
    over: u64,
    count: u64,
    max: Duration,
}

const BUCKET_US: u64 = 100;
const BUCKETS: usize = 500;

impl Default for LatenessStats {
    fn default() -> Self {
        LatenessStats {
            buckets: vec![0; BUCKETS],
            over: 0,
            count: 0,
            max: Duration::ZERO,
        }
    }
}

impl LatenessStats {
    /// Record one send.
    pub fn record(&mut self, late: Duration) {
        let b = (late.as_micros() as u64 / BUCKET_US) as usize;
        match self.buckets.get_mut(b) {
            Some(x) => *x = x.saturating_add(1),
            None => self.over += 1,
        }
        self.count += 1;
        self.max = self.max.max(late);
    }

    /// Sends recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Largest lateness seen.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// Upper bound of the bucket holding quantile `q` (0..=1), e.g. 0.5, 0.99.
    /// Quantiles falling beyond 50 ms report the maximum.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let target = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n as u64;
            if seen >= target {
                return Duration::from_micros((i as u64 + 1) * BUCKET_US).min(self.max);
            }
        }
        self.max
    }
}

/// Schedules packet `n` at `start + n * period`.
#[derive(Debug, Clone)]
pub struct Pacer {
    start: Instant,
    period: Duration,
    max_burst: u32,
    next: u64,
    burst: u32,
    burst_wake: Option<Instant>,
    skipped_total: u64,
    stats: LatenessStats,
}

impl Pacer {
    /// `period` is the ptime (20 ms); `max_burst` >= 1 bounds catch-up sends per wake-up.
    pub fn new(start: Instant, period: Duration, max_burst: u32) -> Self {
        Pacer {
            start,
            period,
            max_burst: max_burst.max(1),
            next: 0,
            burst: 0,
            burst_wake: None,
            skipped_total: 0,
            stats: LatenessStats::default(),
        }
    }

    fn due(&self, n: u64) -> Instant {
        let nanos = self.period.as_nanos() as u64 * n;
        self.start + Duration::from_nanos(nanos)
    }

    /// Due time of the next packet.
    pub fn next_due(&self) -> Instant {
        self.due(self.next)
    }

    /// Index of the next packet.
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// Total packets skipped by the catch-up limit.
    pub fn skipped(&self) -> u64 {
        self.skipped_total
    }

    /// Lateness histogram (p50/p99 for the call record).
    pub fn stats(&self) -> &LatenessStats {
        &self.stats
    }

    /// Ask what to do at `now`. Call repeatedly until it returns [`Tick::Wait`].
    pub fn poll(&mut self, now: Instant) -> Tick {
        let due = self.next_due();
        if now < due {
            self.burst_wake = None;
            return Tick::Wait(due);
        }
        // A new wake-up is any poll at a different instant from the burst in progress.
        if self.burst_wake != Some(now) {
            self.burst_wake = Some(now);
            self.burst = 0;
        }
        let overdue = (now - due).as_nanos() as u64 / self.period.as_nanos().max(1) as u64 + 1;
        let allowed = (self.max_burst - self.burst.min(self.max_burst)) as u64;
        let mut skipped = 0;
        if overdue > allowed.max(1) {
            skipped = overdue - allowed.max(1);
            self.next += skipped;
            self.skipped_total += skipped;
        }
        let index = self.next;
        let late = now - self.due(index);
        self.next += 1;
        self.burst += 1;
        self.stats.record(late);
        Tick::Send {
            index,
            late,
            skipped,
        }
    }

    /// Convenience for drivers that only need the next index: same as a
    /// [`Pacer::poll`] that is known to be due.
    pub fn advance(&mut self, now: Instant) -> Option<(u64, Duration)> {
        match self.poll(now) {
            Tick::Send { index, late, .. } => Some((index, late)),
            Tick::Wait(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Duration = Duration::from_millis(20);

    #[test]
    fn thousand_seconds_no_drift_with_jittery_wakeups() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0, P, 3);
        let mut now = t0;
        let mut sent = 0u64;
        let mut x: u32 = 12345;
        while sent < 50_000 {
            match p.poll(now) {
                Tick::Send {
                    index,
                    late,
                    skipped,
                } => {
                    assert_eq!(index, sent);
                    assert_eq!(skipped, 0);
                    assert!(late < Duration::from_millis(3));
                    sent += 1;
                }
                Tick::Wait(until) => {
                    // Timer fires 0..2.5 ms late.
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    now = until + Duration::from_micros((x % 2500) as u64);
                }
            }
        }
        assert_eq!(p.next_due(), t0 + Duration::from_secs(1000));
        assert_eq!(p.stats().count(), 50_000);
        assert!(p.stats().quantile(0.5) <= Duration::from_micros(1400));
        assert!(p.stats().quantile(0.99) <= Duration::from_micros(2500));
        assert!(p.stats().quantile(0.5) >= Duration::from_micros(1000));
    }

    #[test]
    fn late_wakeup_bursts_at_most_n_and_keeps_schedule() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0, P, 3);
        assert!(matches!(p.poll(t0), Tick::Send { index: 0, .. }));
        // Stall for 205 ms: packets 1..=10 are due.
        let now = t0 + Duration::from_millis(205);
        let mut sends = Vec::new();
        loop {
            match p.poll(now) {
                Tick::Send {
                    index,
                    skipped,
                    late,
                } => sends.push((index, skipped, late)),
                Tick::Wait(until) => {
                    assert_eq!(until, t0 + Duration::from_millis(220));
                    break;
                }
            }
        }
        assert_eq!(sends.len(), 3);
        assert_eq!(sends[0].0, 8);
        assert_eq!(sends[0].1, 7);
        assert_eq!(sends.iter().map(|s| s.0).collect::<Vec<_>>(), [8, 9, 10]);
        assert_eq!(sends[2].2, Duration::from_millis(5));
        assert_eq!(p.skipped(), 7);
        // Schedule continues without drift.
        for n in 11..50_000u64 {
            let due = t0 + P * n as u32;
            assert_eq!(
                p.poll(due),
                Tick::Send {
                    index: n,
                    late: Duration::ZERO,
                    skipped: 0
                }
            );
        }
        assert_eq!(p.next_due(), t0 + Duration::from_secs(1000));
    }

    #[test]
    fn small_lateness_sends_everything() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0, P, 3);
        // Wake 45 ms late: packets 0,1,2 overdue -> all three sent, none skipped.
        let now = t0 + Duration::from_millis(45);
        let got: Vec<Tick> = (0..4).map(|_| p.poll(now)).collect();
        assert!(matches!(
            got[0],
            Tick::Send {
                index: 0,
                skipped: 0,
                ..
            }
        ));
        assert!(matches!(
            got[2],
            Tick::Send {
                index: 2,
                skipped: 0,
                ..
            }
        ));
        assert_eq!(got[3], Tick::Wait(t0 + Duration::from_millis(60)));
        assert_eq!(
            p.advance(t0 + Duration::from_millis(60)),
            Some((3, Duration::ZERO))
        );
    }
}
