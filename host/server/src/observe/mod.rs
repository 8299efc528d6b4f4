//! What an operator needs to find a fault: metrics (`/metrics`), health and readiness
//! (`/health`, `/ready`), a bounded SIP trace per call, and times shown in Japan time.

pub mod health;
pub mod metrics;
pub mod sip_tap;
pub mod time;
pub mod trace;

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

/// `[observe]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObserveSection {
    /// A second address serving only `/health`, `/ready` and `/metrics` (no token), e.g.
    /// for a load balancer on another network than the admin API. They are always on the
    /// admin HTTP port too.
    pub health_http: Option<SocketAddr>,
    /// `/ready` fails when the recordings' file system has this little free (MiB).
    pub min_free_disk_mb: u64,
    /// How long a call's SIP trace is kept after its last message.
    pub trace_keep_minutes: u64,
    /// Memory for all SIP traces together (MiB); the oldest calls go first.
    pub trace_max_mib: u64,
    /// Messages kept per call (its first 20 always stay).
    pub trace_max_messages: usize,
}

impl Default for ObserveSection {
    fn default() -> Self {
        ObserveSection {
            health_http: None,
            min_free_disk_mb: 100,
            trace_keep_minutes: 24 * 60,
            trace_max_mib: 64,
            trace_max_messages: 400,
        }
    }
}

impl ObserveSection {
    pub fn trace_limits(&self) -> trace::TraceLimits {
        trace::TraceLimits {
            keep: Duration::from_secs(self.trace_keep_minutes.saturating_mul(60)),
            max_bytes: usize::try_from(self.trace_max_mib.saturating_mul(1024 * 1024))
                .unwrap_or(usize::MAX),
            max_messages: self.trace_max_messages.max(trace::KEEP_FIRST + 1),
        }
    }
}
