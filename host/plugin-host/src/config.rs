//! Runtime limits and settings, with the defaults the issue asks for.

use std::sync::Arc;
use std::time::Duration;

use crate::answer::AnswerLimits;
use crate::clock::{Clock, SystemClock, JST_OFFSET_SECS};

/// How a [`crate::Runtime`] runs plugins.
pub struct RuntimeConfig {
    /// Cap on each plugin instance's linear memory (default 16 MiB).
    pub memory_limit_bytes: usize,
    /// Wall-time budget of one call into a plugin (default 10 ms).
    pub call_deadline: Duration,
    /// Granularity of the deadline: the epoch ticker's period (default 1 ms).
    pub epoch_tick: Duration,
    /// Plugin instances alive at once (pooling allocator slots, default 256).
    pub max_instances: u32,
    /// Largest component accepted (default 8 MiB).
    pub max_component_bytes: usize,
    /// Where compiled artifacts are cached, keyed by the component's SHA-256.
    /// `None` compiles in memory every time. Only the host may write here:
    /// the files are native code.
    pub cache_dir: Option<cap_std::fs::Dir>,
    /// The clock plugins see (default: the system clock).
    pub clock: Arc<dyn Clock>,
    /// UTC offset of the local time plugins see, in seconds (default +09:00, Asia/Tokyo).
    pub utc_offset_secs: i32,
    /// What an answer may contain.
    pub answer_limits: AnswerLimits,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            memory_limit_bytes: 16 << 20,
            call_deadline: Duration::from_millis(10),
            epoch_tick: Duration::from_millis(1),
            max_instances: 256,
            max_component_bytes: 8 << 20,
            cache_dir: None,
            clock: Arc::new(SystemClock),
            utc_offset_secs: JST_OFFSET_SECS,
            answer_limits: AnswerLimits::default(),
        }
    }
}

impl std::fmt::Debug for RuntimeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeConfig")
            .field("memory_limit_bytes", &self.memory_limit_bytes)
            .field("call_deadline", &self.call_deadline)
            .field("epoch_tick", &self.epoch_tick)
            .field("max_instances", &self.max_instances)
            .field("max_component_bytes", &self.max_component_bytes)
            .field("cache_dir", &self.cache_dir.is_some())
            .field("utc_offset_secs", &self.utc_offset_secs)
            .finish_non_exhaustive()
    }
}
