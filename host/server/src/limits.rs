//! `[limits]` (issue 14): every resource a caller can make the server spend is bounded by a
//! config key with a safe default, and each limit logs (rate-limited) when it acts.
//!
//! - calls: `max_calls`, `max_calls_per_source`, `calls_per_second_per_source` (503 with
//!   `Retry-After`; see `core::admission`);
//! - SIP over TCP/WS: `max_connections`, `max_connections_per_source`, `header_timeout_ms`
//!   (a message must be complete this long after its first byte), `idle_timeout_ms` (a
//!   connection that sends nothing is closed), `max_message_bytes`;
//! - descriptors: the soft `RLIMIT_NOFILE` is raised to the hard limit at start, and
//!   `max_calls` is lowered if the descriptors could not hold that many calls with headroom,
//!   so a full table refuses new calls before an existing one loses a socket or its file.

use serde::Deserialize;
use tracing::{info, warn};

use crate::core::admission::CallLimits;

/// `[limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    pub max_calls: usize,
    pub max_calls_per_source: usize,
    pub calls_per_second_per_source: u32,
    pub max_connections: usize,
    pub max_connections_per_source: usize,
    pub header_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    pub max_message_bytes: usize,
}

impl Default for LimitsSection {
    fn default() -> Self {
        let c = CallLimits::default();
        LimitsSection {
            max_calls: c.max_calls,
            max_calls_per_source: c.max_calls_per_source,
            calls_per_second_per_source: c.calls_per_second_per_source,
            max_connections: 4_096,
            max_connections_per_source: 64,
            header_timeout_ms: 10_000,
            idle_timeout_ms: 300_000,
            max_message_bytes: 65_535,
        }
    }
}

/// Descriptors one live call may hold: caller and device legs (RTP + RTCP sockets each),
/// the recording file, and a TCP connection per side; plus slack.
pub const FDS_PER_CALL: u64 = 8;
/// Descriptors kept for everything else (listeners, the store, plugins, the admin API).
pub const FD_HEADROOM: u64 = 512;

impl LimitsSection {
    /// Raises the descriptor limit and fits `max_calls` (and connections) under it.
    pub fn apply_descriptor_limit(&mut self) {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let lim = getrlimit(Resource::Nofile);
        let hard = lim.maximum.unwrap_or(1 << 20);
        let soft = lim.current.unwrap_or(hard);
        let mut have = soft;
        if soft < hard {
            match setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(hard),
                    maximum: lim.maximum,
                },
            ) {
                Ok(()) => have = hard,
                Err(e) => warn!(error = %e, soft, hard, "cannot raise the descriptor limit"),
            }
        }
        let budget = have.saturating_sub(FD_HEADROOM);
        let fit = (budget.saturating_sub(self.max_connections as u64 / 2) / FDS_PER_CALL) as usize;
        if self.max_calls > fit {
            warn!(
                descriptors = have,
                max_calls = self.max_calls,
                fit,
                "limits.max_calls lowered to fit the descriptor limit"
            );
            self.max_calls = fit.max(1);
        }
        info!(
            descriptors = have,
            max_calls = self.max_calls,
            "descriptor budget"
        );
    }

    pub fn call_limits(&self) -> CallLimits {
        CallLimits {
            max_calls: self.max_calls,
            max_calls_per_source: self.max_calls_per_source,
            calls_per_second_per_source: self.calls_per_second_per_source,
        }
    }
}
