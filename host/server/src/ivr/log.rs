//! The per-call event log and call record: what the console, the analytics and the tests
//! read about a call that went through the IVR (node entered, prompt played, digit, timeout,
//! branch taken, transfer result, recording start/stop, with times).

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// The store table of [`CallRecord`]s, keyed `{started_unix_ms:016}-{call_id}` so that a
/// range scan lists calls in time order.
pub const CALLS_TABLE: &str = "ivr.calls";
/// Call-ID → the record's key in [`CALLS_TABLE`] (the newest record of that Call-ID).
pub const CALLS_BY_ID_TABLE: &str = "ivr.calls_by_id";

/// One thing that happened in a call.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogEntry {
    /// Milliseconds since the call was answered.
    pub t_ms: u64,
    /// `version`, `node`, `play`, `digit`, `input`, `no-input`, `branch`, `transfer`,
    /// `transfer-failed`, `transfer-connected`, `recording-start`, `recording-stop`, `error`,
    /// `apology`, `hangup`, `caller-hangup`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
}

/// A call's events, timed from its answer.
#[derive(Debug, Clone)]
pub struct EventLog {
    started: Instant,
    entries: Vec<LogEntry>,
}

/// A call that never ends must not grow its log without bound.
const MAX_ENTRIES: usize = 2000;

impl EventLog {
    pub fn new(started: Instant) -> Self {
        EventLog {
            started,
            entries: Vec::new(),
        }
    }

    pub fn push(
        &mut self,
        now: Instant,
        kind: &str,
        node: Option<&str>,
        detail: serde_json::Value,
    ) {
        if self.entries.len() >= MAX_ENTRIES {
            return;
        }
        let detail = match detail {
            serde_json::Value::Object(m) if m.is_empty() => serde_json::Value::Null,
            other => other,
        };
        self.entries.push(LogEntry {
            t_ms: now.saturating_duration_since(self.started).as_millis() as u64,
            kind: kind.to_string(),
            node: node.map(str::to_string),
            detail,
        });
    }

    pub fn entries(&self) -> &[LogEntry] {
        &self.entries
    }
}

/// What is kept about a call that went through a scenario.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CallRecord {
    pub call_id: String,
    pub caller: String,
    pub did: String,
    pub scenario: String,
    pub scenario_version: u32,
    pub started_unix_ms: u64,
    pub ended_unix_ms: u64,
    /// `transferred:user:1001`, `hangup`, `apology`, `caller-hangup`.
    pub outcome: String,
    /// The recording's file name, when the call was recorded.
    #[serde(default)]
    pub recording: Option<String>,
    /// The caller's RTP leg over the IVR part (received: loss, jitter, duplicates, bad
    /// packets; sent: packets and pacing), recorded or not.
    #[serde(default)]
    pub caller_leg: serde_json::Value,
    pub events: Vec<LogEntry>,
}

impl CallRecord {
    /// The store key: time-ordered.
    pub fn key(&self) -> String {
        format!("{:016}-{}", self.started_unix_ms, self.call_id)
    }
}
