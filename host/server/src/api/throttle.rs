//! Login throttling per source address (sans-IO: fed the time in ms).
//!
//! The first failures cost nothing; from the [`SLOW_AFTER`]th failure within
//! [`WINDOW_MS`] each attempt from that source is delayed (1 s, 2 s, 4 s, capped at 8 s);
//! at [`LOCK_AFTER`] failures the source is locked out for [`LOCK_MS`]. A success clears
//! the source. The table is bounded: when full, the stalest entries go.

use std::collections::HashMap;

pub const WINDOW_MS: u64 = 15 * 60 * 1000;
pub const SLOW_AFTER: u32 = 5;
pub const LOCK_AFTER: u32 = 10;
pub const LOCK_MS: u64 = 15 * 60 * 1000;
const MAX_DELAY_MS: u64 = 8_000;
const MAX_SOURCES: usize = 10_000;

#[derive(Debug, Clone, Copy, Default)]
struct Failures {
    count: u32,
    first_ms: u64,
    locked_until_ms: u64,
}

/// Failed logins by source.
#[derive(Debug, Default)]
pub struct Throttle {
    sources: HashMap<String, Failures>,
}

/// What to do with a login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead after waiting this many ms (0: at once).
    Proceed { delay_ms: u64 },
    /// Refuse: the source is locked for this many more seconds.
    Locked { retry_after_s: u64 },
}

impl Throttle {
    fn current(&mut self, source: &str, now: u64) -> Failures {
        let f = self.sources.get(source).copied().unwrap_or_default();
        if f.locked_until_ms <= now && now.saturating_sub(f.first_ms) > WINDOW_MS {
            self.sources.remove(source);
            return Failures::default();
        }
        f
    }

    /// Whether an attempt from `source` may go ahead now.
    pub fn check(&mut self, source: &str, now: u64) -> Verdict {
        let f = self.current(source, now);
        if f.locked_until_ms > now {
            return Verdict::Locked {
                retry_after_s: (f.locked_until_ms - now).div_ceil(1000),
            };
        }
        let delay_ms = if f.count + 1 >= SLOW_AFTER {
            let steps = (f.count + 1 - SLOW_AFTER).min(10);
            (1000u64 << steps).min(MAX_DELAY_MS)
        } else {
            0
        };
        Verdict::Proceed { delay_ms }
    }

    /// A failed attempt; true when it locked the source.
    pub fn failed(&mut self, source: &str, now: u64) -> bool {
        let mut f = self.current(source, now);
        if f.count == 0 {
            f.first_ms = now;
        }
        f.count += 1;
        let locked = f.count >= LOCK_AFTER;
        if locked {
            f.locked_until_ms = now + LOCK_MS;
            f.count = 0;
            f.first_ms = now;
        }
        if self.sources.len() >= MAX_SOURCES && !self.sources.contains_key(source) {
            self.evict(now);
        }
        self.sources.insert(source.to_string(), f);
        locked
    }

    /// A successful login clears the source's failures.
    pub fn succeeded(&mut self, source: &str) {
        self.sources.remove(source);
    }

    fn evict(&mut self, now: u64) {
        self.sources
            .retain(|_, f| f.locked_until_ms > now || now.saturating_sub(f.first_ms) <= WINDOW_MS);
        if self.sources.len() >= MAX_SOURCES {
            // Still full of live entries: drop the oldest half rather than grow.
            let mut firsts: Vec<u64> = self.sources.values().map(|f| f.first_ms).collect();
            firsts.sort_unstable();
            let cut = firsts[firsts.len() / 2];
            self.sources
                .retain(|_, f| f.first_ms > cut || f.locked_until_ms > now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slows_then_locks_then_forgives() {
        let mut t = Throttle::default();
        let src = "192.0.2.7";
        let mut now = 1_000_000;
        let mut delays = Vec::new();
        for i in 0..LOCK_AFTER {
            match t.check(src, now) {
                Verdict::Proceed { delay_ms } => delays.push(delay_ms),
                v => panic!("attempt {i}: {v:?}"),
            }
            let locked = t.failed(src, now);
            assert_eq!(locked, i + 1 == LOCK_AFTER);
            now += 1000;
        }
        assert_eq!(delays, [0, 0, 0, 0, 1000, 2000, 4000, 8000, 8000, 8000]);
        // Locked, even with the right password: the attempt is refused before it is tried.
        assert_eq!(
            t.check(src, now),
            Verdict::Locked {
                retry_after_s: (LOCK_MS - 1000) / 1000
            }
        );
        // Another source is not affected.
        assert_eq!(t.check("192.0.2.8", now), Verdict::Proceed { delay_ms: 0 });
        now += LOCK_MS;
        assert_eq!(t.check(src, now), Verdict::Proceed { delay_ms: 0 });
        // Failures far apart never add up.
        for _ in 0..20 {
            now += WINDOW_MS + 1;
            t.failed(src, now);
            assert_eq!(t.check(src, now), Verdict::Proceed { delay_ms: 0 });
        }
        t.failed(src, now);
        t.succeeded(src);
        assert_eq!(t.check(src, now), Verdict::Proceed { delay_ms: 0 });
    }

    #[test]
    fn the_table_is_bounded() {
        let mut t = Throttle::default();
        for i in 0..(MAX_SOURCES as u64 * 2) {
            t.failed(&format!("10.0.{}.{}", i / 256, i % 256), 1000 + i);
        }
        assert!(t.sources.len() <= MAX_SOURCES);
    }
}
