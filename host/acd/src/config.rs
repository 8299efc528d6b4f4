//! A queue's configuration as the admin API and the settings store hold it, and the checks
//! that refuse a bad one before it goes live (R-PBX-6: settings change at run time, so a typo
//! must be caught when it is saved, not when a caller is waiting).

use serde::{Deserialize, Serialize};

/// Upper bound for every duration in a queue's configuration: one day. Larger values are
/// almost certainly a unit mistake (seconds typed as milliseconds × 1000) and would only
/// delay a caller's fallback forever.
pub const MAX_DURATION_MS: u64 = 86_400_000;

/// The shortest ring timeout accepted: a member is offered at most one call per ring
/// timeout after a failure, so this bounds how often a broken device is retried.
pub const MIN_RING_TIMEOUT_MS: u64 = 1_000;

/// Which free member(s) a waiting caller is offered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Every free member at once; the first to answer takes the call.
    RingAll,
    /// The free member whose last call ended longest ago (fairest load for a help desk).
    #[default]
    LongestIdle,
    /// Free members in configured order, continuing after the last one offered.
    RoundRobin,
}

/// One queue (a transfer target such as the city hall My Number section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// The queue's name, as routes and the API refer to it.
    pub name: String,
    /// Member user IDs, in the order round-robin walks them.
    pub members: Vec<String>,
    #[serde(default)]
    pub strategy: Strategy,
    /// How long an offer rings before the member counts as not answering.
    #[serde(default = "default_ring_timeout_ms")]
    pub ring_timeout_ms: u64,
    /// Time after a queue call during which the member gets no new offer.
    #[serde(default = "default_wrap_up_ms")]
    pub wrap_up_ms: u64,
    /// Longest a caller waits before going to `fallback`; 0 = no limit.
    #[serde(default = "default_max_wait_ms")]
    pub max_wait_ms: u64,
    /// Interval of the periodic announcement; 0 = only the one at entry.
    #[serde(default = "default_announce_every_ms")]
    pub announce_every_ms: u64,
    /// Whether announcements tell the caller their position.
    #[serde(default = "default_true")]
    pub announce_position: bool,
    /// Accept callers while no member is logged in (they wait for someone to log in).
    #[serde(default)]
    pub join_empty: bool,
    /// Send the waiting callers to `fallback` when the last logged-in member logs out.
    #[serde(default = "default_true")]
    pub leave_when_empty: bool,
    /// Consecutive missed offers after which a member is paused with reason "no answer";
    /// 0 = never.
    #[serde(default = "default_misses")]
    pub auto_pause_after_misses: u32,
    /// Answer within this counts towards the service level.
    #[serde(default = "default_service_level_ms")]
    pub service_level_ms: u64,
    /// Route name (resolved by the host) for callers the queue cannot serve.
    pub fallback: String,
}

fn default_ring_timeout_ms() -> u64 {
    20_000
}
fn default_wrap_up_ms() -> u64 {
    10_000
}
fn default_max_wait_ms() -> u64 {
    300_000
}
fn default_announce_every_ms() -> u64 {
    30_000
}
fn default_true() -> bool {
    true
}
fn default_misses() -> u32 {
    3
}
fn default_service_level_ms() -> u64 {
    20_000
}

impl QueueConfig {
    /// A queue with the given members and fallback and every other field at its default.
    pub fn new(name: &str, members: &[&str], fallback: &str) -> Self {
        QueueConfig {
            name: name.to_string(),
            members: members.iter().map(|m| m.to_string()).collect(),
            strategy: Strategy::default(),
            ring_timeout_ms: default_ring_timeout_ms(),
            wrap_up_ms: default_wrap_up_ms(),
            max_wait_ms: default_max_wait_ms(),
            announce_every_ms: default_announce_every_ms(),
            announce_position: true,
            join_empty: false,
            leave_when_empty: true,
            auto_pause_after_misses: default_misses(),
            service_level_ms: default_service_level_ms(),
            fallback: fallback.to_string(),
        }
    }

    /// Checks the queue against the directory: every problem found, one message each,
    /// naming the queue and the member or field. `user_exists` and `route_exists` answer
    /// from the host's user directory and route table.
    pub fn validate(
        &self,
        user_exists: &dyn Fn(&str) -> bool,
        route_exists: &dyn Fn(&str) -> bool,
    ) -> Result<(), Vec<String>> {
        let mut errs = Vec::new();
        let q = &self.name;
        if q.trim().is_empty() {
            errs.push("queue name is empty".to_string());
        } else if q.len() > 64
            || !q
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            // The name is in API paths and storage keys.
            errs.push(format!(
                "queue {q:?}: the name may only use letters, digits, '-' and '_' (at most 64)"
            ));
        }
        if self.members.is_empty() {
            errs.push(format!("queue {q:?}: has no members"));
        }
        for (i, m) in self.members.iter().enumerate() {
            if m.trim().is_empty() {
                errs.push(format!(
                    "queue {q:?}: member #{} is an empty user ID",
                    i + 1
                ));
            } else if self.members[..i].contains(m) {
                errs.push(format!("queue {q:?}: member {m:?} is listed twice"));
            } else if !user_exists(m) {
                errs.push(format!("queue {q:?}: member {m:?} is not a known user"));
            }
        }
        if self.fallback.trim().is_empty() {
            errs.push(format!("queue {q:?}: fallback is empty"));
        } else if !route_exists(&self.fallback) {
            errs.push(format!(
                "queue {q:?}: fallback route {:?} does not resolve",
                self.fallback
            ));
        }
        if self.ring_timeout_ms < MIN_RING_TIMEOUT_MS {
            errs.push(format!(
                "queue {q:?}: ring_timeout_ms must be at least {MIN_RING_TIMEOUT_MS}"
            ));
        }
        if self.announce_every_ms != 0 && self.announce_every_ms < 5_000 {
            errs.push(format!(
                "queue {q:?}: announce_every_ms must be 0 (entry only) or at least 5000"
            ));
        }
        for (field, v) in [
            ("ring_timeout_ms", self.ring_timeout_ms),
            ("wrap_up_ms", self.wrap_up_ms),
            ("max_wait_ms", self.max_wait_ms),
            ("announce_every_ms", self.announce_every_ms),
            ("service_level_ms", self.service_level_ms),
        ] {
            if v > MAX_DURATION_MS {
                errs.push(format!(
                    "queue {q:?}: {field} is {v}, more than one day ({MAX_DURATION_MS})"
                ));
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs)
        }
    }
}
