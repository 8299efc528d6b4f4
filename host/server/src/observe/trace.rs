//! A bounded SIP trace per call: every message in and out (REGISTER and OPTIONS aside),
//! grouped under the caller's Call-ID, kept for a configurable time and within a memory
//! budget, read by `GET /api/v1/calls/{call_id}/sip`.
//!
//! The device legs of a call have Call-IDs of their own; the core links them to the
//! caller's with [`SipTrace::link`] when it sends their INVITE, so one call's trace shows
//! every leg. Bounds:
//! - a message's text is cut at [`MAX_TEXT`] bytes;
//! - a call keeps at most `max_messages` messages: past that, the first [`KEEP_FIRST`] (the
//!   set-up) stay and the oldest of the rest make room, and the trace says `truncated`;
//! - calls older than `keep` (from their last message) are dropped, and when the whole
//!   trace passes `max_bytes` the calls with the oldest last message go first.
//!
//! It lives in memory: a restart starts an empty trace (the call records stay in the store).

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};

use super::sip_tap::Summary;

/// The longest message text kept.
pub const MAX_TEXT: usize = 8192;
/// Messages at the start of a call that are never dropped for newer ones.
pub const KEEP_FIRST: usize = 20;

/// In or out of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// One message of a trace.
#[derive(Debug, Clone)]
pub struct TracedMessage {
    pub at_ms: u64,
    pub dir: Direction,
    pub transport: String,
    pub remote: SocketAddr,
    /// The message's own Call-ID (its leg).
    pub leg: String,
    pub summary: Summary,
    pub text: String,
}

impl TracedMessage {
    /// A message seen now.
    pub fn new(
        dir: Direction,
        transport: &str,
        remote: SocketAddr,
        leg: String,
        summary: Summary,
        bytes: &[u8],
    ) -> TracedMessage {
        let cut = &bytes[..bytes.len().min(MAX_TEXT)];
        TracedMessage {
            at_ms: crate::core::unix_now_ms(),
            dir,
            transport: transport.to_ascii_lowercase(),
            remote,
            leg,
            summary,
            text: String::from_utf8_lossy(cut).into_owned(),
        }
    }

    fn size(&self) -> usize {
        self.text.len() + self.leg.len() + self.summary.line.len() + 96
    }

    fn to_json(&self) -> Value {
        json!({
            "at": crate::observe::time::rfc3339_jst_ms(self.at_ms),
            "at_ms": self.at_ms,
            "dir": self.dir.as_str(),
            "transport": self.transport,
            "remote": self.remote.to_string(),
            "leg": self.leg,
            "kind": if self.summary.status.is_some() { "response" } else { "request" },
            "method": self.summary.method,
            "status": self.summary.status,
            "summary": self.summary.line,
            "text": self.text,
        })
    }
}

/// Limits of a [`SipTrace`].
#[derive(Debug, Clone, Copy)]
pub struct TraceLimits {
    pub keep: Duration,
    pub max_bytes: usize,
    pub max_messages: usize,
}

impl Default for TraceLimits {
    fn default() -> Self {
        TraceLimits {
            keep: Duration::from_secs(24 * 3600),
            max_bytes: 64 * 1024 * 1024,
            max_messages: 400,
        }
    }
}

#[derive(Debug, Default)]
struct CallTrace {
    messages: Vec<TracedMessage>,
    bytes: usize,
    last_ms: u64,
    truncated: bool,
}

#[derive(Debug, Default)]
struct Inner {
    calls: HashMap<String, CallTrace>,
    /// (last message ms, call) for eviction by age.
    by_age: BTreeSet<(u64, String)>,
    /// Device-leg Call-ID → the call's (caller's) Call-ID.
    legs: HashMap<String, String>,
    bytes: usize,
}

/// See the module docs. `Sync`: the transports and the core record, the API reads.
#[derive(Debug)]
pub struct SipTrace {
    limits: TraceLimits,
    inner: Mutex<Inner>,
}

impl SipTrace {
    pub fn new(limits: TraceLimits) -> SipTrace {
        SipTrace {
            limits,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Files messages of the leg `leg` under the call `call` (also those already traced).
    pub fn link(&self, leg: &str, call: &str) {
        if leg == call {
            return;
        }
        let mut g = self.lock();
        let inner = &mut *g;
        let call = inner
            .legs
            .get(call)
            .cloned()
            .unwrap_or_else(|| call.to_string());
        if inner.legs.len() >= 1_000_000 {
            return;
        }
        inner.legs.insert(leg.to_string(), call.clone());
        // Messages recorded before the link move over.
        if let Some(early) = inner.calls.remove(leg) {
            inner.by_age.remove(&(early.last_ms, leg.to_string()));
            inner.bytes -= early.bytes;
            for m in early.messages {
                Self::push(inner, &self.limits, &call, m);
            }
        }
    }

    /// Records one message.
    pub fn record(&self, msg: TracedMessage) {
        let mut g = self.lock();
        let inner = &mut *g;
        let call = inner
            .legs
            .get(&msg.leg)
            .cloned()
            .unwrap_or_else(|| msg.leg.clone());
        let now = msg.at_ms;
        Self::push(inner, &self.limits, &call, msg);
        Self::evict(inner, &self.limits, now);
    }

    fn push(inner: &mut Inner, limits: &TraceLimits, call: &str, msg: TracedMessage) {
        let size = msg.size();
        let at = msg.at_ms;
        let t = inner.calls.entry(call.to_string()).or_default();
        if t.last_ms != 0 {
            inner.by_age.remove(&(t.last_ms, call.to_string()));
        }
        if t.messages.len() >= limits.max_messages.max(KEEP_FIRST + 1) {
            let dropped = t.messages.remove(KEEP_FIRST);
            t.bytes -= dropped.size();
            inner.bytes -= dropped.size();
            t.truncated = true;
        }
        // Keep time order even if two threads raced (the transports and the core).
        let pos = t
            .messages
            .iter()
            .rposition(|m| m.at_ms <= at)
            .map_or(0, |i| i + 1);
        t.messages.insert(pos, msg);
        t.bytes += size;
        t.last_ms = t.last_ms.max(at);
        inner.bytes += size;
        inner.by_age.insert((t.last_ms, call.to_string()));
    }

    fn evict(inner: &mut Inner, limits: &TraceLimits, now_ms: u64) {
        let keep_ms = limits.keep.as_millis() as u64;
        while let Some((last, call)) = inner.by_age.first().cloned() {
            let expired = now_ms.saturating_sub(last) > keep_ms;
            if !expired && inner.bytes <= limits.max_bytes {
                break;
            }
            inner.by_age.pop_first();
            if let Some(t) = inner.calls.remove(&call) {
                inner.bytes -= t.bytes;
            }
            inner.legs.retain(|_, c| c != &call);
        }
    }

    /// Drops what has expired (call it now and then: recording does it too).
    pub fn sweep(&self, now_ms: u64) {
        let mut g = self.lock();
        Self::evict(&mut g, &self.limits, now_ms);
    }

    /// The trace of a call, by its Call-ID or one of its legs'.
    pub fn get(&self, call_id: &str) -> Option<Value> {
        let g = self.lock();
        let call = g.legs.get(call_id).map_or(call_id, String::as_str);
        let t = g.calls.get(call)?;
        Some(json!({
            "call_id": call,
            "truncated": t.truncated,
            "messages": t.messages.iter().map(TracedMessage::to_json).collect::<Vec<_>>(),
        }))
    }

    /// Bytes held (for tests and metrics).
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::sip_tap::summarize;

    fn msg(at_ms: u64, leg: &str, text: &str) -> TracedMessage {
        let summary = summarize(text.as_bytes()).unwrap();
        TracedMessage {
            at_ms,
            dir: Direction::In,
            transport: "udp".into(),
            remote: SocketAddr::from(([127, 0, 0, 1], 5060)),
            leg: leg.into(),
            summary,
            text: text.into(),
        }
    }

    fn invite(cid: &str) -> String {
        format!("INVITE sip:1002@h SIP/2.0\r\nCall-ID: {cid}\r\nCSeq: 1 INVITE\r\n\r\n")
    }

    #[test]
    fn legs_are_filed_under_the_call_and_in_time_order() {
        let t = SipTrace::new(TraceLimits::default());
        t.record(msg(1000, "a", &invite("a")));
        t.record(msg(1005, "b1", &invite("b1")));
        t.link("b1", "a");
        t.record(msg(
            1010,
            "b1",
            "SIP/2.0 486 Busy Here\r\nCall-ID: b1\r\nCSeq: 1 INVITE\r\n\r\n",
        ));
        let v = t.get("a").unwrap();
        let m = v["messages"].as_array().unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[2]["status"], 486);
        assert_eq!(m[2]["leg"], "b1");
        assert_eq!(m[1]["summary"], "INVITE sip:1002@h");
        // Asked by the leg's id, the whole call answers.
        assert_eq!(t.get("b1").unwrap()["call_id"], "a");
        assert!(t.get("zzz").is_none());
    }

    #[test]
    fn a_long_call_keeps_its_setup_and_its_newest_messages() {
        let t = SipTrace::new(TraceLimits {
            max_messages: 30,
            ..TraceLimits::default()
        });
        for i in 0..100u64 {
            t.record(msg(i, "a", &invite("a")));
        }
        let v = t.get("a").unwrap();
        let m = v["messages"].as_array().unwrap();
        assert_eq!(m.len(), 30);
        assert_eq!(v["truncated"], true);
        assert_eq!(m[0]["at_ms"], 0);
        assert_eq!(m[KEEP_FIRST - 1]["at_ms"], (KEEP_FIRST - 1) as u64);
        assert_eq!(m[29]["at_ms"], 99);
    }

    #[test]
    fn old_calls_expire_and_memory_stays_bounded() {
        let t = SipTrace::new(TraceLimits {
            keep: Duration::from_secs(60),
            max_bytes: 20_000,
            max_messages: 400,
        });
        t.record(msg(0, "old", &invite("old")));
        t.record(msg(61_000, "new", &invite("new")));
        assert!(t.get("old").is_none(), "expired after a minute");
        assert!(t.get("new").is_some());
        for i in 0..1000u64 {
            let cid = format!("c{i}");
            t.record(msg(61_000 + i, &cid, &invite(&cid)));
        }
        assert!(t.bytes() <= 20_000, "{}", t.bytes());
        assert!(t.get("c999").is_some(), "the newest stay");
        assert!(t.get("c0").is_none(), "the oldest went first");
    }
}
