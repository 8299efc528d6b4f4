//! Wall-clock time for the records the stores write (who did what, when).
//! Injected so tests control it and the store logic never reads a clock itself.

use std::time::{SystemTime, UNIX_EPOCH};

/// Source of "now" in Unix seconds.
pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch.
    fn now_unix(&self) -> u64;
}

/// The system clock (a clock before 1970 reads as 0).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}
