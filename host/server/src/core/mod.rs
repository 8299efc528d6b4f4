//! The SIP core: the engine loop and the call-control and registration logic it drives.

pub mod admission;
pub mod b2bua;
pub mod call_log;
pub mod challenge_watch;
pub mod dialog;
pub mod engine;
pub mod host_call;
pub mod ids;
pub mod line_test;
pub mod media;
pub mod queue_history;
pub mod queues;
pub mod registry;
pub mod srtp_rules;

/// Seconds since the Unix epoch (wall clock, for expiries and call records).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch (call records).
pub fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
