//! What the host gives a plugin: the clock, logging, and (nodes only) named
//! schedules. There is nothing else: no files, no network, no environment.

use crate::bindings::base::madoguchi::ivr::{clock, log, schedules};
use crate::types::{LocalDatetime, ScheduleAnswer};

pub use log::Level;

/// Local date-time now, in the deployment's time zone (Asia/Tokyo by default).
pub fn now() -> LocalDatetime {
    clock::now()
}

/// Milliseconds since the Unix epoch.
pub fn now_unix_ms() -> u64 {
    clock::now_unix_ms()
}

/// Log a line; the host adds the plugin name and call id.
pub fn log(level: Level, message: &str) {
    log::log(level, message)
}
pub fn debug(message: &str) {
    log(Level::Debug, message)
}
pub fn info(message: &str) {
    log(Level::Info, message)
}
pub fn warn(message: &str) {
    log(Level::Warn, message)
}

/// Ask the deployment's schedule named `schedule` about `destination` now.
/// Only IVR nodes may call this (other kinds are refused at upload).
pub fn query_schedule(
    schedule: &str,
    destination: &str,
) -> Result<ScheduleAnswer, alloc::string::String> {
    schedules::query(schedule, destination)
}
