//! Phones that never answer the digest challenge they were sent.
//!
//! A UAC that cannot use any of the challenges in a 401 usually says nothing: baresip 1.0
//! (libre 1.1) fails the whole 401 with ENOSYS as soon as one challenge names SHA-256, sipp
//! answers only the first challenge and only MD5. Without a line in the log the operator
//! sees a phone that "does not register". This watch remembers each challenge by Call-ID
//! for a short while; a challenge that is not followed by a request with credentials on the
//! same Call-ID within [`ANSWER_WITHIN`] is reported once per source address and
//! User-Agent per [`WARN_EVERY`]. Sans-IO: the caller passes the time. Bounded: at most
//! [`MAX_PENDING`] challenges and [`MAX_WARNED`] sources are remembered (beyond that, new
//! ones are not watched, so a flood cannot grow memory).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long a phone has to answer a challenge (they answer within milliseconds).
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// One warning per source and User-Agent this often.
pub const WARN_EVERY: Duration = Duration::from_secs(600);
pub const MAX_PENDING: usize = 4096;
pub const MAX_WARNED: usize = 1024;

/// A challenge that was never answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unanswered {
    pub source: SocketAddr,
    pub method: String,
    pub user: String,
    pub user_agent: String,
    /// The algorithms offered, in order (`"SHA-256, MD5"`).
    pub offered: String,
}

#[derive(Debug)]
struct Pending {
    at: Instant,
    what: Unanswered,
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct ChallengeWatch {
    pending: HashMap<String, Pending>,
    warned: HashMap<(std::net::IpAddr, String), Instant>,
}

impl ChallengeWatch {
    /// A 401/407 was sent for this Call-ID.
    pub fn challenged(&mut self, call_id: &str, what: Unanswered, now: Instant) {
        if self.pending.len() >= MAX_PENDING && !self.pending.contains_key(call_id) {
            return;
        }
        self.pending
            .insert(call_id.to_string(), Pending { at: now, what });
    }

    /// A request with credentials arrived on this Call-ID (whatever their verdict).
    pub fn answered(&mut self, call_id: &str) {
        self.pending.remove(call_id);
    }

    /// The challenges left unanswered for [`ANSWER_WITHIN`], minus those whose source and
    /// User-Agent were reported less than [`WARN_EVERY`] ago: each is to be logged once.
    pub fn sweep(&mut self, now: Instant) -> Vec<Unanswered> {
        let mut expired = Vec::new();
        self.pending.retain(|_, p| {
            if now.saturating_duration_since(p.at) >= ANSWER_WITHIN {
                expired.push(p.what.clone());
                false
            } else {
                true
            }
        });
        self.warned
            .retain(|_, at| now.saturating_duration_since(*at) < WARN_EVERY);
        let mut report = Vec::new();
        for u in expired {
            let key = (u.source.ip(), u.user_agent.clone());
            if self.warned.contains_key(&key) || self.warned.len() >= MAX_WARNED {
                continue;
            }
            self.warned.insert(key, now);
            report.push(u);
        }
        report
    }

    /// Whether a warning about this source and agent may be logged now (for answers with an
    /// algorithm we did not offer, logged at once); records it if so.
    pub fn may_warn(&mut self, source: SocketAddr, user_agent: &str, now: Instant) -> bool {
        let key = (source.ip(), format!("unoffered:{user_agent}"));
        match self.warned.get(&key) {
            Some(at) if now.saturating_duration_since(*at) < WARN_EVERY => false,
            _ if self.warned.len() >= MAX_WARNED => false,
            _ => {
                self.warned.insert(key, now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn what(port: u16, agent: &str) -> Unanswered {
        Unanswered {
            source: SocketAddr::from(([127, 0, 0, 1], port)),
            method: "REGISTER".into(),
            user: "1002".into(),
            user_agent: agent.into(),
            offered: "SHA-256, MD5".into(),
        }
    }

    #[test]
    fn an_answered_challenge_is_not_reported() {
        let t0 = Instant::now();
        let mut w = ChallengeWatch::default();
        w.challenged("a", what(5060, "baresip"), t0);
        w.answered("a");
        assert!(w.sweep(t0 + ANSWER_WITHIN * 2).is_empty());
    }

    #[test]
    fn an_unanswered_challenge_is_reported_once_per_source_and_agent() {
        let t0 = Instant::now();
        let mut w = ChallengeWatch::default();
        w.challenged("a", what(5060, "baresip"), t0);
        assert!(w.sweep(t0 + Duration::from_secs(1)).is_empty(), "too early");
        let r = w.sweep(t0 + ANSWER_WITHIN);
        assert_eq!(r, vec![what(5060, "baresip")]);
        // The phone retries every 30 s: no new line for WARN_EVERY.
        let t1 = t0 + Duration::from_secs(30);
        w.challenged("b", what(5061, "baresip"), t1);
        assert!(w.sweep(t1 + ANSWER_WITHIN).is_empty());
        // Another phone model on the same host is reported.
        w.challenged("c", what(5062, "Linphone"), t1);
        assert_eq!(w.sweep(t1 + ANSWER_WITHIN).len(), 1);
        // After WARN_EVERY the first one is reported again.
        let t2 = t0 + WARN_EVERY + Duration::from_secs(1);
        w.challenged("d", what(5060, "baresip"), t2);
        assert_eq!(w.sweep(t2 + ANSWER_WITHIN).len(), 1);
    }

    #[test]
    fn memory_is_bounded() {
        let t0 = Instant::now();
        let mut w = ChallengeWatch::default();
        for i in 0..(MAX_PENDING + 100) {
            w.challenged(&i.to_string(), what(5060, "x"), t0);
        }
        assert_eq!(w.pending.len(), MAX_PENDING);
        assert_eq!(
            w.sweep(t0 + ANSWER_WITHIN).len(),
            1,
            "one source, one agent"
        );
        for i in 0..(MAX_WARNED + 100) {
            w.challenged(&format!("w{i}"), what(5060, &i.to_string()), t0);
        }
        w.sweep(t0 + ANSWER_WITHIN);
        assert!(w.warned.len() <= MAX_WARNED);
        assert!(w.pending.is_empty());
    }

    #[test]
    fn unoffered_answers_warn_once_per_period() {
        let t0 = Instant::now();
        let mut w = ChallengeWatch::default();
        let src = SocketAddr::from(([127, 0, 0, 1], 5060));
        assert!(w.may_warn(src, "phone", t0));
        assert!(!w.may_warn(src, "phone", t0 + Duration::from_secs(5)));
        assert!(w.may_warn(src, "phone", t0 + WARN_EVERY));
    }
}
