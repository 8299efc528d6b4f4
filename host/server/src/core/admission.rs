//! Admission of new calls (issue 14), sans-IO: time is an input, liveness a question the
//! caller answers. Three limits, each from `[limits]`:
//!
//! - concurrent calls in total (`max_calls`),
//! - concurrent calls per source address (`max_calls_per_source`),
//! - new calls per second per source (`calls_per_second_per_source`, a token bucket with a
//!   burst of twice the rate, like Kamailio's pike).
//!
//! A refused call gets 503 with `Retry-After` (RFC 3261 §21.5.4). One source's flood meets
//! its own limits long before the total, so other callers keep getting through; the total
//! keeps the process inside its descriptor budget so existing calls never lose theirs.
//! Each limit that acts logs once per source per minute ([`Admission::take_log`]).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// The limits. Defaults suit the 2-core reference machine with the default descriptor limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallLimits {
    pub max_calls: usize,
    pub max_calls_per_source: usize,
    pub calls_per_second_per_source: u32,
}

impl Default for CallLimits {
    fn default() -> Self {
        CallLimits {
            max_calls: 2_000,
            max_calls_per_source: 500,
            calls_per_second_per_source: 100,
        }
    }
}

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Total,
    PerSource,
    Rate,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Total => "max_calls",
            Refusal::PerSource => "max_calls_per_source",
            Refusal::Rate => "calls_per_second_per_source",
        }
    }

    /// Seconds to put in `Retry-After`.
    pub fn retry_after_s(self) -> u32 {
        match self {
            Refusal::Rate => 1,
            Refusal::PerSource | Refusal::Total => 5,
        }
    }
}

#[derive(Debug)]
struct Source {
    calls: HashSet<String>,
    tokens: f64,
    refill_ms: u64,
    logged_ms: Option<u64>,
}

/// Live calls by source, and the rate buckets.
#[derive(Debug)]
pub struct Admission {
    limits: CallLimits,
    sources: HashMap<IpAddr, Source>,
    total: usize,
    /// The last full sweep (at most one per 100 ms under a flood).
    swept_ms: u64,
    /// Refusals counted since the start, by limit (for /metrics and the log).
    pub refused: [u64; 3],
    log: Vec<(IpAddr, Refusal)>,
}

impl Admission {
    pub fn new(limits: CallLimits) -> Admission {
        Admission {
            limits,
            sources: HashMap::new(),
            total: 0,
            swept_ms: 0,
            refused: [0; 3],
            log: Vec::new(),
        }
    }

    /// A new call `call_id` from `ip`. `live(call_id)` says whether a call admitted earlier
    /// is still going (the engine's tables are the truth; entries are dropped lazily).
    pub fn admit(
        &mut self,
        ip: IpAddr,
        call_id: &str,
        now_ms: u64,
        live: impl Fn(&str) -> bool,
    ) -> Result<(), Refusal> {
        let rate = f64::from(self.limits.calls_per_second_per_source.max(1));
        let burst = rate * 2.0;
        let src = self.sources.entry(ip).or_insert_with(|| Source {
            calls: HashSet::new(),
            tokens: burst,
            refill_ms: now_ms,
            logged_ms: None,
        });
        // Refill.
        let elapsed = now_ms.saturating_sub(src.refill_ms);
        src.tokens = (src.tokens + rate * elapsed as f64 / 1000.0).min(burst);
        src.refill_ms = now_ms;
        if src.tokens < 1.0 {
            return Err(self.refuse(ip, Refusal::Rate, now_ms));
        }
        if src.calls.len() >= self.limits.max_calls_per_source {
            let before = src.calls.len();
            src.calls.retain(|c| live(c));
            self.total -= before - src.calls.len();
            if src.calls.len() >= self.limits.max_calls_per_source {
                return Err(self.refuse(ip, Refusal::PerSource, now_ms));
            }
        }
        if self.total >= self.limits.max_calls {
            if now_ms.saturating_sub(self.swept_ms) >= 100 || self.swept_ms == 0 {
                self.swept_ms = now_ms.max(1);
                self.sweep(now_ms, &live);
            }
            if self.total >= self.limits.max_calls {
                return Err(self.refuse(ip, Refusal::Total, now_ms));
            }
        }
        let src = self.sources.get_mut(&ip).expect("present");
        src.tokens -= 1.0;
        if src.calls.insert(call_id.to_string()) {
            self.total += 1;
        }
        Ok(())
    }

    /// Drops calls that ended, and sources with nothing left to remember (no live call, a
    /// full bucket by now, no recent log line).
    pub fn sweep(&mut self, now_ms: u64, live: &impl Fn(&str) -> bool) {
        let mut total = 0;
        self.sources.retain(|_, s| {
            s.calls.retain(|c| live(c));
            total += s.calls.len();
            if s.logged_ms
                .is_some_and(|t| now_ms.saturating_sub(t) >= 60_000)
            {
                s.logged_ms = None;
            }
            !s.calls.is_empty()
                || s.logged_ms.is_some()
                || now_ms.saturating_sub(s.refill_ms) < 5_000
        });
        self.total = total;
    }

    fn refuse(&mut self, ip: IpAddr, why: Refusal, now_ms: u64) -> Refusal {
        self.refused[why as usize] += 1;
        if let Some(s) = self.sources.get_mut(&ip) {
            if s.logged_ms
                .is_none_or(|t| now_ms.saturating_sub(t) >= 60_000)
            {
                s.logged_ms = Some(now_ms);
                self.log.push((ip, why));
            }
        }
        why
    }

    /// Refusals to log now (at most one per source per minute).
    pub fn take_log(&mut self) -> Vec<(IpAddr, Refusal)> {
        std::mem::take(&mut self.log)
    }

    /// Calls admitted and not yet known to have ended.
    pub fn live(&self) -> usize {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_flood_from_one_source_meets_its_rate_not_the_others_calls() {
        let mut a = Admission::new(CallLimits {
            max_calls: 100,
            max_calls_per_source: 50,
            calls_per_second_per_source: 10,
        });
        let live = |_: &str| true;
        let flood = ip("127.0.0.2");
        let mut ok = 0;
        // 3,000 INVITEs in one second from one source.
        for i in 0..3000u64 {
            if a.admit(flood, &format!("f{i}"), i / 3, live).is_ok() {
                ok += 1;
            }
        }
        assert!(ok <= 30, "burst 20 + 10/s: {ok}");
        assert_eq!(a.take_log(), vec![(flood, Refusal::Rate)], "logged once");
        // Another source is untouched.
        for i in 0..20u64 {
            assert!(a
                .admit(ip("127.0.0.3"), &format!("g{i}"), 1000 + i, live)
                .is_ok());
        }
    }

    #[test]
    fn concurrency_per_source_and_in_total_counts_only_live_calls() {
        let ended: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
        let live = |c: &str| !ended.borrow().contains(c);
        let mut a = Admission::new(CallLimits {
            max_calls: 5,
            max_calls_per_source: 3,
            calls_per_second_per_source: 1000,
        });
        let (x, y) = (ip("10.0.0.1"), ip("10.0.0.2"));
        for i in 0..3 {
            a.admit(x, &format!("x{i}"), 0, live).unwrap();
        }
        assert_eq!(a.admit(x, "x3", 0, live), Err(Refusal::PerSource));
        a.admit(y, "y0", 0, live).unwrap();
        a.admit(y, "y1", 0, live).unwrap();
        assert_eq!(a.admit(y, "y2", 200, live), Err(Refusal::Total));
        // One of x's calls ends: x may call again, and the total has room.
        ended.borrow_mut().insert("x0".into());
        a.admit(x, "x4", 400, live).unwrap();
        assert_eq!(a.live(), 5);
        ended
            .borrow_mut()
            .extend(["x1".to_string(), "y0".to_string()]);
        a.admit(y, "y3", 600, live).unwrap();
        assert_eq!(a.refused, [1, 1, 0]);
        assert_eq!(Refusal::Rate.retry_after_s(), 1);
    }

    #[test]
    fn the_rate_refills_over_time() {
        let mut a = Admission::new(CallLimits {
            calls_per_second_per_source: 2,
            ..CallLimits::default()
        });
        let live = |_: &str| true;
        let s = ip("192.0.2.1");
        for i in 0..4 {
            a.admit(s, &format!("c{i}"), 0, live).unwrap();
        }
        assert_eq!(a.admit(s, "c4", 0, live), Err(Refusal::Rate));
        assert!(a.admit(s, "c5", 500, live).is_ok(), "one token per 500 ms");
        assert_eq!(a.admit(s, "c6", 600, live), Err(Refusal::Rate));
    }
}
